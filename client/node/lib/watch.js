'use strict';
/*
 * watch(): the stage-change stream as an async iterator.
 *
 * A SUB connection to clmd's PUB socket. Each message is an ASCII topic
 * (stage/RETENTION, risk/RECENT_REFUND), a NUL byte and a serialized
 * clm.v1.LifecycleEvent; filtering by topic prefix happens here, on the
 * subscriber's side, as SP's SUB does. When the connection breaks the
 * watcher reconnects (backoff up to 2 s) until closed; PUB sends nothing to
 * a subscriber that is not connected, and drops messages for one that does
 * not keep up, so a gap in `event.seq` means events were missed (GetCustomer
 * gives the current truth). When more than `highWaterMark` events wait to be
 * read the socket stops reading, which is what makes PUB drop.
 */
const { SpPipe, parseUrl, PROTO } = require('./sp');
const proto = require('./proto');
const { ClmConnectionError, ClmTimeoutError } = require('./errors');

const DEFAULT_EVENTS_URL = 'tcp://127.0.0.1:7451';
const LifecycleEvent = proto.type('LifecycleEvent');

class Watcher {
  /**
   * @param {string} url
   * @param {string|string[]} prefix topic prefixes ('' = every event)
   * @param {object} opts {reconnect (true), enums ('name'), highWaterMark
   *   (1000), tls, maxMessageBytes, connectTimeoutMs (5000)}
   */
  constructor(url = DEFAULT_EVENTS_URL, prefix = '', opts = {}) {
    this.url = url;
    this._target = parseUrl(url);
    this.prefixes = (Array.isArray(prefix) ? prefix : [prefix]).map(String);
    this.reconnect = opts.reconnect !== false;
    this.enums = opts.enums === 'number' ? 'number' : 'name';
    this.highWaterMark = opts.highWaterMark || 1000;
    this.connectTimeoutMs = opts.connectTimeoutMs || 5000;
    this._tls = opts.tls;
    this._maxMessageBytes = opts.maxMessageBytes || 16 * 1024 * 1024;
    this._buf = [];
    this._waiters = [];
    this._error = null;
    this._closed = false;
    this._pipe = null;
    this._paused = false;
    this._retryTimer = null;
    this._delay = 50;
    this.connected = false;
    /** How many times the stream (re)connected. */
    this.connections = 0;
    this._readyWaiters = [];
    this._dial();
  }

  _dial() {
    if (this._closed) return;
    SpPipe.open(this._target, PROTO.SUB, {
      deadline: Date.now() + this.connectTimeoutMs,
      tls: this._tls,
      maxMessageBytes: this._maxMessageBytes,
    }).then(
      (pipe) => {
        if (this._closed) {
          pipe.close();
          return;
        }
        this._pipe = pipe;
        this._paused = false;
        this.connected = true;
        this.connections += 1;
        this._delay = 50;
        pipe.on('message', (msg) => this._onMessage(msg));
        pipe.on('close', (err) => this._onClose(pipe, err));
        pipe.start();
        for (const w of this._readyWaiters.splice(0)) w.resolve();
      },
      (err) => this._retry(err)
    );
  }

  _retry(err) {
    if (this._closed) return;
    if (!this.reconnect || err.code === 'EPROTO') {
      this._fail(err);
      return;
    }
    this._lastError = err;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._dial();
    }, this._delay);
    this._delay = Math.min(this._delay * 2, 2000);
  }

  _onClose(pipe, err) {
    if (this._pipe !== pipe) return;
    this._pipe = null;
    this.connected = false;
    if (this._closed) return;
    this._retry(err || new ClmConnectionError(`event stream '${this.url}' closed`, { url: this.url, code: 'ECONNRESET' }));
  }

  _onMessage(msg) {
    const nul = msg.indexOf(0);
    if (nul < 0) return; // not a clm event
    const topic = msg.toString('latin1', 0, nul);
    if (!this.prefixes.some((p) => topic.startsWith(p))) return;
    let event;
    try {
      event = proto.decode(LifecycleEvent, msg.subarray(nul + 1), this.enums);
    } catch (err) {
      return; // not a LifecycleEvent: skip it, as a SUB skips noise
    }
    const item = { topic, event };
    const w = this._waiters.shift();
    if (w) {
      w.resolve({ value: item, done: false });
      return;
    }
    this._buf.push(item);
    if (this._buf.length >= this.highWaterMark && this._pipe && !this._paused) {
      this._paused = true;
      this._pipe.pause();
    }
  }

  _fail(err) {
    this._error = err;
    for (const w of this._waiters.splice(0)) w.reject(err);
    for (const w of this._readyWaiters.splice(0)) w.reject(err);
    this._closeNow();
  }

  /**
   * Resolves once the stream is connected (the first time), or rejects after
   * timeoutMs (default connectTimeoutMs). Events published before a
   * subscriber is connected are not delivered to it.
   */
  ready(timeoutMs = this.connectTimeoutMs) {
    if (this.connected) return Promise.resolve();
    if (this._error) return Promise.reject(this._error);
    if (this._closed) return Promise.reject(new ClmConnectionError('watcher is closed', { url: this.url, code: 'ECLOSED' }));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this._readyWaiters.indexOf(w);
        if (i >= 0) this._readyWaiters.splice(i, 1);
        const why = this._lastError ? `: ${this._lastError.message}` : '';
        reject(new ClmTimeoutError(`event stream '${this.url}' not connected within ${timeoutMs} ms${why}`, { url: this.url }));
      }, timeoutMs);
      this._readyWaiters.push(w);
    });
  }

  /** The next {topic, event}; {done: true} once closed. */
  next() {
    if (this._buf.length > 0) {
      const value = this._buf.shift();
      if (this._paused && this._buf.length <= this.highWaterMark / 2 && this._pipe) {
        this._paused = false;
        this._pipe.resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this._error) return Promise.reject(this._error);
    if (this._closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  /**
   * The next event, or null if none arrives within timeoutMs (the stream
   * stays open; a handy poll for tests and scripts).
   */
  async nextWithin(timeoutMs) {
    if (this._buf.length > 0 || this._error || this._closed) {
      const r = await this.next();
      return r.done ? null : r.value;
    }
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r.done ? null : r.value);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this._waiters.indexOf(w);
        if (i >= 0) this._waiters.splice(i, 1);
        resolve(null);
      }, timeoutMs);
      this._waiters.push(w);
    });
  }

  /** Called by for await ... of when the loop ends early: closes. */
  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  _closeNow() {
    this._closed = true;
    this.connected = false;
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this._pipe) {
      const p = this._pipe;
      this._pipe = null;
      p.close();
    }
  }

  /** Stops the stream: pending next() calls resolve {done: true}. */
  close() {
    if (this._closed) return;
    this._closeNow();
    this._buf = [];
    for (const w of this._waiters.splice(0)) w.resolve({ value: undefined, done: true });
    const err = new ClmConnectionError('watcher is closed', { url: this.url, code: 'ECLOSED' });
    for (const w of this._readyWaiters.splice(0)) w.reject(err);
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Watcher.prototype[Symbol.asyncDispose] = async function dispose() {
    this.close();
  };
}

/**
 * Subscribes to clmd's stage-change stream.
 *   for await (const { topic, event } of watch('tcp://127.0.0.1:7451', 'stage/')) ...
 */
function watch(url = DEFAULT_EVENTS_URL, prefix = '', opts = {}) {
  return new Watcher(url, prefix, opts);
}

module.exports = { watch, Watcher, DEFAULT_EVENTS_URL };
