'use strict';
/*
 * Client: calls clmd over one SP REQ connection.
 *
 * One call at a time per connection, as NNG's REQ does: a call made while
 * another is in flight waits in a FIFO queue (run several Clients for
 * parallel calls). Each request carries a 4-byte SP request id (top bit
 * set) that the REP side echoes, so a reply that comes after its call timed
 * out is recognised and dropped. The connection is opened on the first
 * call. If that first connect fails, the call rejects at once (nothing
 * listens there: waiting would not help), as the Python client does. Once
 * a connection was made, a broken one is opened again by the next call (or
 * the one in flight, see `retry`), retrying with backoff until that call's
 * timeout: clmd restarts. Every clmd write is idempotent (Track dedupes on
 * event_id, which track() generates when a touchpoint has none; Recommend's
 * claim on request_id), so a request whose connection broke before the
 * reply is sent again on the new connection, with the same request_id; set
 * retry: false to get a ClmConnectionError instead.
 */
const crypto = require('crypto');
const proto = require('./proto');
const { SpPipe, parseUrl, PROTO } = require('./sp');
const { ClmError, ClmConnectionError, ClmTimeoutError } = require('./errors');

const DEFAULT_URL = 'tcp://127.0.0.1:7450';
const DEFAULT_TIMEOUT_MS = 10000;
const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

const Request = proto.type('Request');
const Touchpoint = proto.type('Touchpoint');
const Response = proto.type('Response');
const Code = proto.enumType('Code');

/* Errors a new connection attempt will not cure. */
const FATAL_CONNECT = new Set(['EPROTO', 'EMSGSIZE', 'ECLOSED']);

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/*
 * A touchpoint with an event_id: tp itself when it has one, else a copy
 * with a random UUID (the format of the Python client's), so that a Track
 * sent again after a broken connection is counted once.
 */
function withEventId(tp) {
  if (tp === null || typeof tp !== 'object' || tp.eventId || tp.event_id) return tp;
  const { event_id: _, ...rest } = tp instanceof Touchpoint.ctor ? Touchpoint.toObject(tp) : tp;
  return { ...rest, eventId: crypto.randomUUID() };
}

/* A list of objects from one object or an iterable of them. */
function list(x, what) {
  if (x === undefined || x === null) return [];
  if (Array.isArray(x)) return x;
  if (typeof x === 'object' && typeof x[Symbol.iterator] === 'function') return Array.from(x);
  if (typeof x === 'object') return [x];
  throw new TypeError(`${what}: expected an object or an array of objects`);
}

class Client {
  /**
   * @param {string} [url] tcp://HOST:PORT, ipc://PATH or tls+tcp://HOST:PORT
   * @param {object} [opts]
   *   timeoutMs: per call, queueing, connecting and retries included (10000)
   *   token: auth token sent with every request (clmd --auth-token-file)
   *   deadlineMs: Request.deadline_ms for every call (0 = none)
   *   retry: resend a request whose connection broke (true)
   *   autoEventId: give each touchpoint without an event_id a random one
   *     (true), so that a resent Track is counted once
   *   enums: 'name' (default) or 'number': how replies show enums
   *   tls: options for tls.connect (ca, cert, key, ...) for tls+tcp://
   *   maxMessageBytes: largest reply accepted (256 MiB)
   *   readYourWrites: send lastPosition as Request.min_position of every
   *     call that has none (false), so that a node answers only once it
   *     shows every write this client has seen (docs/api.md "Positions")
   */
  constructor(url = DEFAULT_URL, opts = {}) {
    if (url !== null && typeof url === 'object') {
      opts = url;
      url = opts.url || DEFAULT_URL;
    }
    this.url = url;
    this._target = parseUrl(url);
    this.timeoutMs = opts.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : opts.timeoutMs;
    if (!(this.timeoutMs > 0)) throw new TypeError('timeoutMs must be a positive number');
    this.token = opts.token || '';
    this.deadlineMs = opts.deadlineMs || 0;
    this.readYourWrites = opts.readYourWrites === true;
    // The largest Response.position of any reply so far (0: none).
    this.lastPosition = 0;
    this.retry = opts.retry !== false;
    this.autoEventId = opts.autoEventId !== false;
    this.enums = opts.enums === 'number' ? 'number' : 'name';
    this._tls = opts.tls;
    this._maxMessageBytes = opts.maxMessageBytes || DEFAULT_MAX_MESSAGE_BYTES;
    this._queue = [];
    this._current = null;
    this._pipe = null;
    this._connecting = null;
    this._closed = false;
    // A connection was made once: from then on a failed connect is retried
    // until the call's timeout (clmd restarting), before that it fails.
    this._connectedOnce = false;
    this._spId = crypto.randomBytes(4).readUInt32BE(0) & 0x7fffffff;
    this._ridPrefix = crypto.randomBytes(6).toString('hex');
    this._ridCount = 0;
  }

  /* ---------------------------------------------------------------- */
  /* The calls.                                                         */

  /**
   * Records touchpoints: one object or an array of them. Resolves to the
   * TrackReply {accepted, duplicates, rejected: [{index, status}], changes}.
   * Invalid touchpoints are listed in `rejected` unless all are invalid:
   * then the call rejects with ClmError INVALID_ARGUMENT. A touchpoint
   * without an eventId gets a random one (unless autoEventId is false).
   */
  async track(touchpoints, opts) {
    let tps = list(touchpoints, 'track');
    if (this.autoEventId) tps = tps.map(withEventId);
    return this._call('track', { touchpoints: tps }, opts);
  }

  /**
   * The Customer, as of asOfMs (default now: the clock for health and churn
   * risk); ClmError NOT_FOUND if there is none. opts: {asOfMs, timeoutMs}
   * or just asOfMs (a number or a Date).
   */
  async customer(customerId, opts = {}) {
    const o = typeof opts === 'number' || opts instanceof Date ? { asOfMs: opts } : opts || {};
    const { asOfMs = 0, ...rest } = o;
    return this._call('getCustomer', { customerId, asOfMs }, rest);
  }

  /** Links an anonymous id to a customer: {customer, merged}. */
  async identify(anonymousId, customerId, traits = {}, opts) {
    return this._call('identify', { anonymousId, customerId, traits }, opts);
  }

  /**
   * Recommendations: opts are RecommendRequest's fields (limit, location,
   * cartItems, channel, nowMs, includeSuppressed, claim) and requestId.
   */
  async recommend(customerId, opts = {}) {
    const { timeoutMs, requestId, deadlineMs, minPosition, ...req } = opts;
    return this._call('recommend', { ...req, customerId }, { timeoutMs, requestId, deadlineMs, minPosition });
  }

  /** The funnel: opts are fromMs, toMs, conversionWindowDays, channel. */
  async metrics(opts = {}) {
    const { timeoutMs, requestId, deadlineMs, minPosition, ...req } = opts;
    return this._call('metrics', req, { timeoutMs, requestId, deadlineMs, minPosition });
  }

  /** Cohorts: opts are fromMs, toMs, granularity, periods. */
  async cohorts(opts = {}) {
    const { timeoutMs, requestId, deadlineMs, minPosition, ...req } = opts;
    return this._call('cohorts', req, { timeoutMs, requestId, deadlineMs, minPosition });
  }

  /** Marketing spend, one Spend or an array: {accepted}. */
  async recordSpend(entries, opts) {
    return this._call('recordSpend', { spend: list(entries, 'recordSpend') }, opts);
  }

  /** Upserts catalog items and stores: {items, stores} counts. */
  async putCatalog({ items = [], stores = [] } = {}, opts) {
    return this._call('putCatalog', { items: list(items, 'items'), stores: list(stores, 'stores') }, opts);
  }

  /**
   * Defines an A/B test. variants: [{name, weight}] or {name: weight};
   * goal: a touchpoint type.
   */
  async defineExperiment(experimentId, variants, goal, opts) {
    let vs = variants;
    if (vs && !Array.isArray(vs) && typeof vs === 'object') {
      vs = Object.entries(vs).map(([name, weight]) => ({ name, weight }));
    }
    return this._call('defineExperiment', { experimentId, variants: vs, goal }, opts);
  }

  /** A customer's variant: {variant, firstExposure}. */
  async assign(experimentId, customerId, opts) {
    return this._call('assign', { experimentId, customerId }, opts);
  }

  /** Per-variant exposure, conversion, lift, p-value, interval. */
  async experimentResults(experimentId, opts) {
    return this._call('experimentResults', { experimentId }, opts);
  }

  /**
   * Defines a segment (docs/segments.md), replacing one of that name, and
   * starts its backfill: {segment, replaced}. A bad expression rejects
   * with ClmError INVALID_ARGUMENT, its violation on
   * `define_segment.expression` giving the byte offset.
   */
  async defineSegment(name, expression, opts) {
    return this._call('defineSegment', { name, expression }, opts);
  }

  /**
   * A segment: {segment (count, backfilling, backfillProgress, ...),
   * asOfMs} and, with members: true, one page of member ids (ascending)
   * from pageToken, with nextPageToken ('' after the last) and, with
   * includeCustomers, each member's Customer. opts: members, pageSize,
   * pageToken, includeCustomers, asOfMs (another instant: answered by a
   * scan), and the call options. ClmError NOT_FOUND for an unknown name.
   */
  async getSegment(name, opts = {}) {
    const { timeoutMs, requestId, deadlineMs, minPosition, ...req } = opts;
    return this._call('getSegment', { ...req, name }, { timeoutMs, requestId, deadlineMs, minPosition });
  }

  /**
   * Every member id of a segment, ascending, as an async iterator that
   * fetches a page (opts.pageSize, default 1000) at a time:
   *   for await (const id of clm.segmentMembers('slipping')) ...
   */
  async *segmentMembers(name, opts = {}) {
    let pageToken = '';
    for (;;) {
      const page = await this.getSegment(name, { ...opts, members: true, includeCustomers: false, pageToken });
      for (const id of page.members || []) yield id;
      const next = page.nextPageToken || '';
      // A token that does not move would never end the loop.
      if (next && (next === pageToken || !(page.members || []).length)) {
        throw new ClmConnectionError(`the server gave page token ${JSON.stringify(next)} again`,
          { code: 'EPROTO' });
      }
      pageToken = next;
      if (!pageToken) return;
    }
  }

  /** Every segment, by name: {segments}. */
  async listSegments(opts) {
    return this._call('listSegments', {}, opts);
  }

  /** Removes a segment and its membership: {existed}. */
  async deleteSegment(name, opts) {
    return this._call('deleteSegment', { name }, opts);
  }

  /**
   * Defines a journey (docs/journeys.md) from its definition: the JSON as
   * a string, or an object sent as JSON. It replaces the definition of a
   * journey of that name (its customers stay at their step):
   * {journey, replaced}. A bad definition rejects with ClmError
   * INVALID_ARGUMENT, its violation on `define_journey.definition`
   * starting with the JSON path of the fault.
   */
  async defineJourney(definition, opts) {
    if (typeof definition !== 'string') {
      if (definition === null || typeof definition !== 'object') {
        throw new TypeError('defineJourney: definition must be a string or an object');
      }
      definition = JSON.stringify(definition);
    }
    return this._call('defineJourney', { definition }, opts);
  }

  /** Every journey, by name, with its statistics: {journeys}. */
  async listJourneys(opts) {
    return this._call('listJourneys', {}, opts);
  }

  /**
   * A journey with its statistics, exact at the reply's position:
   * {journey: {name, definition (the webhook's secret as "***"),
   * definedAtMs, createdAtMs, stats}}. ClmError NOT_FOUND for an unknown
   * name.
   */
  async getJourney(name, opts) {
    return this._call('getJourney', { name }, opts);
  }

  /** Removes a journey and its statistics: {existed}. */
  async deleteJourney(name, opts) {
    return this._call('deleteJourney', { name }, opts);
  }

  /**
   * One page of the journeys' durable feed: {messages (LifecycleEvents of
   * kind JOURNEY_MESSAGE, position ascending), nextAfter, oldest, last}.
   * opts: after (the last position seen; 0: from the oldest kept), limit
   * (0: 100; at most 1000), journey ('' = every one), and the call
   * options.
   */
  async journeyMessages(opts = {}) {
    const { timeoutMs, requestId, deadlineMs, minPosition, ...req } = opts || {};
    return this._call('journeyMessages', req, { timeoutMs, requestId, deadlineMs, minPosition });
  }

  /**
   * Every message of the feed after opts.after (of opts.journey), oldest
   * first, as an async iterator that fetches a page (opts.pageSize,
   * default 100) at a time and ends at the newest:
   *   for await (const m of clm.iterJourneyMessages({ after })) ...
   */
  async *iterJourneyMessages(opts = {}) {
    const { after: from = 0, pageSize = 0, ...rest } = opts || {};
    let after = Number(from);
    for (;;) {
      const page = await this.journeyMessages({ ...rest, after, limit: pageSize });
      const messages = page.messages || [];
      for (const m of messages) yield m;
      const next = Number(page.nextAfter || 0);
      // A position that does not move would never end the loop.
      if (next < after || (messages.length && next === after)) {
        throw new ClmConnectionError(`the server's next position ${next} does not follow ${after}`,
          { code: 'EPROTO' });
      }
      if (!messages.length && next === after) return;
      after = next;
    }
  }

  /** Erases a customer: {touchpointsDeleted, existed}. */
  async forget(customerId, opts) {
    return this._call('forgetCustomer', { customerId }, opts);
  }

  /** A customer and every stored touchpoint: {customer, touchpoints}. */
  async export(customerId, opts) {
    return this._call('exportCustomer', { customerId }, opts);
  }

  /** Server version, uptime, counts, sizes, durability. */
  async status(opts) {
    return this._call('serverStatus', {}, opts);
  }

  /**
   * Sends a whole Request (any of its fields; requestId and authToken are
   * filled in when missing, and minPosition with readYourWrites) and resolves to the whole Response, whose
   * `result` names the reply field set. Rejects with ClmError when the
   * Status is not OK, unless check is false.
   * @param {object} request
   * @param {object} [opts] {timeoutMs, check (true)}
   */
  async call(request, opts = {}) {
    if (request === null || typeof request !== 'object') throw new TypeError('call: request must be an object');
    const req = { ...request };
    if (!req.requestId && !req.request_id) req.requestId = this._nextRequestId();
    if (!req.authToken && !req.auth_token && this.token) req.authToken = this.token;
    if (!req.deadlineMs && !req.deadline_ms && this.deadlineMs) req.deadlineMs = this.deadlineMs;
    if (!req.minPosition && !req.min_position && this.readYourWrites && this.lastPosition) {
      req.minPosition = this.lastPosition;
    }
    const bytes = proto.encode(Request, req);
    const resp = await this._roundTrip(bytes, opts.timeoutMs || this.timeoutMs);
    const position = Number(resp.position || 0);
    if (position > this.lastPosition) this.lastPosition = position;
    const st = resp.status || { code: 0, message: '', violations: [] };
    const code = typeof st.code === 'number' ? st.code : Code.values[st.code];
    if (code !== 0 && opts.check !== false) {
      throw new ClmError(
        { code, message: st.message, violations: st.violations },
        { codeName: Code.valuesById[code] || String(code), requestId: resp.requestId, response: resp }
      );
    }
    return resp;
  }

  /* One call: Request {[field]: body}, resolving to the reply's result. */
  async _call(field, body, opts = {}) {
    const o = opts || {};
    const request = { [field]: body };
    if (o.requestId) request.requestId = o.requestId;
    if (o.deadlineMs) request.deadlineMs = o.deadlineMs;
    if (o.minPosition) request.minPosition = o.minPosition;
    const resp = await this.call(request, { timeoutMs: o.timeoutMs });
    const result = resp[resultField(field)];
    return result === undefined ? null : result;
  }

  /** Closes the connection; pending and later calls reject (ECLOSED). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    const err = new ClmConnectionError(`client for '${this.url}' is closed`, { url: this.url, code: 'ECLOSED' });
    const jobs = this._queue.splice(0);
    if (this._current) jobs.unshift(this._current);
    this._current = null;
    for (const job of jobs) this._finish(job, err);
    if (this._pipe) {
      const pipe = this._pipe;
      this._pipe = null;
      pipe.close();
    }
  }

  /* ---------------------------------------------------------------- */
  /* The queue and the connection.                                      */

  _nextRequestId() {
    this._ridCount += 1;
    return `${this._ridPrefix}-${this._ridCount}`;
  }

  _nextSpId() {
    this._spId = (this._spId + 1) & 0x7fffffff;
    return (this._spId | 0x80000000) >>> 0;
  }

  _roundTrip(bytes, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (this._closed) {
        reject(new ClmConnectionError(`client for '${this.url}' is closed`, { url: this.url, code: 'ECLOSED' }));
        return;
      }
      const job = {
        bytes,
        resolve,
        reject,
        timeoutMs,
        deadline: Date.now() + timeoutMs,
        spId: 0,
        pipe: null,
        sent: false,
        resends: 0,
        done: false,
        lastError: null,
        timer: null,
      };
      job.timer = setTimeout(() => this._timedOut(job), timeoutMs);
      this._queue.push(job);
      this._pump();
    });
  }

  _pump() {
    if (this._current || this._closed) return;
    const job = this._queue.shift();
    if (!job) {
      if (this._pipe) this._pipe.unref();
      return;
    }
    this._current = job;
    if (this._pipe) this._pipe.ref();
    this._send(job);
  }

  async _send(job) {
    let pipe;
    try {
      pipe = await this._connect(job);
    } catch (err) {
      this._finish(job, err);
      return;
    }
    if (job.done || this._current !== job) return;
    job.spId = this._nextSpId();
    job.pipe = pipe;
    const id = Buffer.alloc(4);
    id.writeUInt32BE(job.spId, 0);
    job.sent = true;
    try {
      pipe.send([id, job.bytes]);
    } catch (err) {
      this._broken(pipe, err);
    }
  }

  /* The open pipe, or a new one: retried with backoff until job ends. */
  async _connect(job) {
    let delay = 20;
    for (;;) {
      if (this._closed) throw new ClmConnectionError(`client for '${this.url}' is closed`, { url: this.url, code: 'ECLOSED' });
      if (this._pipe) return this._pipe;
      if (job.done) return null;
      if (!this._connecting) {
        this._connecting = SpPipe.open(this._target, PROTO.REQ, {
          deadline: job.deadline,
          tls: this._tls,
          maxMessageBytes: this._maxMessageBytes,
        })
          .then((pipe) => this._attach(pipe))
          .finally(() => {
            this._connecting = null;
          });
      }
      try {
        return await this._connecting;
      } catch (err) {
        job.lastError = err;
        if (FATAL_CONNECT.has(err.code) || job.done || !this._connectedOnce) throw err;
        if (job.deadline - Date.now() <= delay) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  _attach(pipe) {
    if (this._closed) {
      pipe.close();
      throw new ClmConnectionError(`client for '${this.url}' is closed`, { url: this.url, code: 'ECLOSED' });
    }
    this._pipe = pipe;
    this._connectedOnce = true;
    pipe.on('message', (msg) => this._onMessage(pipe, msg));
    pipe.on('close', (err) => this._broken(pipe, err));
    pipe.start();
    if (!this._current) pipe.unref();
    return pipe;
  }

  _onMessage(pipe, msg) {
    const job = this._current;
    if (msg.length < 4) return;
    const id = msg.readUInt32BE(0);
    // A reply to a call that timed out, or to nothing: not ours.
    if (!job || !job.sent || job.spId !== id || pipe !== this._pipe) return;
    let resp;
    try {
      resp = proto.decode(Response, msg.subarray(4), this.enums);
    } catch (err) {
      this._finish(job, new ClmConnectionError(`reply from '${this.url}' is not a clm.v1.Response: ${err.message}`, { url: this.url, code: 'EPROTO', cause: err }));
      return;
    }
    this._finish(job, null, resp);
  }

  _broken(pipe, err) {
    if (this._pipe === pipe) this._pipe = null;
    const job = this._current;
    if (!job || job.done || !job.sent || job.pipe !== pipe) return;
    const e = err || new ClmConnectionError(`connection to '${this.url}' closed`, { url: this.url, code: 'ECONNRESET' });
    job.lastError = e;
    // A reply too big or not SP would come back the same way: no resend.
    if (!this.retry || this._closed || FATAL_CONNECT.has(e.code)) {
      this._finish(job, e);
      return;
    }
    // Send it again on a new connection (same request_id: idempotent),
    // after a pause that grows if the server keeps dropping it.
    job.sent = false;
    const pause = Math.min(10 * 2 ** job.resends, 500);
    job.resends += 1;
    setTimeout(() => {
      if (!job.done && this._current === job) this._send(job);
    }, job.resends === 1 ? 0 : pause);
  }

  _timedOut(job) {
    if (job.done) return;
    let err;
    if (!job.sent && job.lastError) {
      // Never got a connection: say why, not just "timeout".
      const Err = job.lastError.code === 'ETIMEDOUT' ? ClmTimeoutError : ClmConnectionError;
      err = new Err(`no connection to '${this.url}' within ${job.timeoutMs} ms: ${job.lastError.message}`, {
        url: this.url,
        cause: job.lastError,
        code: job.lastError.code,
      });
    } else {
      err = new ClmTimeoutError(`no reply from '${this.url}' within ${job.timeoutMs} ms`, { url: this.url });
    }
    const i = this._queue.indexOf(job);
    if (i >= 0) this._queue.splice(i, 1);
    this._finish(job, err);
  }

  _finish(job, err, resp) {
    if (job.done) return;
    job.done = true;
    clearTimeout(job.timer);
    if (this._current === job) {
      this._current = null;
      setImmediate(() => this._pump());
    }
    if (err) job.reject(err);
    else job.resolve(resp);
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Client.prototype[Symbol.asyncDispose] = function dispose() {
    return this.close();
  };
}

/* The Response field that answers Request field `call` (same number). */
const resultCache = new Map();
function resultField(call) {
  let name = resultCache.get(call);
  if (!name) {
    const f = Request.fields[call];
    name = Response.fieldsById[f.id].name;
    resultCache.set(call, name);
  }
  return name;
}

module.exports = { Client, DEFAULT_URL };
