'use strict';
/*
 * The real tracking SDKs against a real clmd (issue 17): Segment's
 * @segment/analytics-node, RudderStack's @rudderstack/rudder-sdk-node and
 * posthog-node, at the versions pinned in tests/interop/sdk/, each pointed
 * at clmd's --http port by its host setting alone, send the journey of
 * tests/interop/sdk/journey.js (an anonymous page view, an identify with
 * nested traits, an "Order Completed" with revenue and two products, an
 * alias of the visitor into the customer, a group, an event no table
 * maps, a track with context.campaign). Then, through clm's own Node
 * client:
 *
 *   - the customer has the purchase (purchases 1, the revenue), the
 *     traits (nested ones flattened to dotted keys), the page view the
 *     visitor made before the alias, and the visitor's id among its
 *     anonymous ids; the visitor is no customer of its own;
 *   - the unmapped event is a CUSTOM touchpoint with its name in
 *     event_name (ExportCustomer), under the event's messageId / uuid;
 *   - everything sent again changes nothing: once more through the SDK
 *     (same messageIds / uuids where the SDK takes them), and once as the
 *     very bytes the SDK sent the first time (what an SDK's own retry
 *     sends);
 *   - with auth tokens, a write key (Segment, RudderStack: the Basic user;
 *     PostHog: api_key) that is not a token is refused and stores
 *     nothing, and one that is gets everything in.
 *
 * The SDKs talk to clmd through a recording pass-through (127.0.0.1, a
 * free port) so that the test sees clmd's answers (the SDKs do not read
 * them) and can replay the exact requests.
 *
 * Not registered yet: the .pending suffix keeps tests/CMakeLists.txt's
 * interop/*_test.js glob off it until the ingest routes of issue 17 are
 * in. Then: `git mv tests/interop/sdk_test.js.pending
 * tests/interop/sdk_test.js`, configure again (`cmake -S . -B build`, or
 * `make test`, which does), and it runs as interop/sdk_test
 * (`cd build && ctest -R interop/sdk_test --output-on-failure`).
 *
 * Env: CLMD_BIN (else $CLM_BUILD_DIR/bin/clmd, else build/bin/clmd).
 * Every clmd started here is killed when the test ends, whatever happens.
 */
const assert = require('node:assert/strict');
const { test } = require('node:test');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const SOURCE_DIR = process.env.CLM_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const NODE_CLIENT = path.join(SOURCE_DIR, 'client', 'node');
const SDK_DIR = path.join(__dirname, 'sdk');
for (const [dir, mod] of [
  [NODE_CLIENT, 'protobufjs'],
  [SDK_DIR, '@segment/analytics-node'],
  [SDK_DIR, '@rudderstack/rudder-sdk-node'],
  [SDK_DIR, 'posthog-node'],
]) {
  if (!fs.existsSync(path.join(dir, 'node_modules', mod))) {
    console.error(`sdk_test: ${mod} is not installed in ${dir}: run tools/install-deps.sh test`);
    process.exit(1);
  }
}
const { Client, ClmError } = require(NODE_CLIENT);
const clmdProc = require('./clmd_proc');
const { freePort, sleep, ClmdProcess } = clmdProc;
const { SDKS, journeyIds, send, TRAITS, ORDER } = require(path.join(SDK_DIR, 'journey'));

const CLMD_BIN =
  process.env.CLMD_BIN ||
  (process.env.CLM_BUILD_DIR && path.join(process.env.CLM_BUILD_DIR, 'bin', 'clmd')) ||
  path.join(SOURCE_DIR, 'build', 'bin', 'clmd');
if (!fs.existsSync(CLMD_BIN)) {
  console.error(`sdk_test: no clmd at '${CLMD_BIN}' (set CLMD_BIN)`);
  process.exit(1);
}

const WRITE_KEY = 'wk_interop_5d1e';
const POSTHOG_KEY = 'phc_interop_93c0';
const KEYS = { segment: WRITE_KEY, rudder: WRITE_KEY, posthog: POSTHOG_KEY };
// A name no table maps (the journey's default, "Pricing Viewed", is close
// to clm's own PRICING_VIEW, so a table might map it one day).
const CUSTOM_EVENT = 'Tea Tasting Booked';
// Generous: a sanitized clmd on a loaded 2-core machine.
const WAIT_MS = 30000;

/* ------------------------------------------------------------------ */
/* clmd processes (clmd_proc.js)                                        */

const tmpDir = () => clmdProc.tmpDir('clm-sdk-');

/* One HTTP request; resolves with {status, headers, body (Buffer)}. */
function httpRequest(opts, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ timeout: WAIT_MS, ...opts }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method || 'GET'} ${opts.path}: no answer in ${WAIT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

class Clmd extends ClmdProcess {
  /** A clmd on a new temp dir, a free rpc port and a free --http port. */
  static async create(extra = []) {
    const dir = tmpDir();
    const p = new Clmd(CLMD_BIN, path.join(dir, 'clmd.log'));
    p.dir = dir;
    p.dataDir = path.join(p.dir, 'data');
    const pick = async () => {
      p.port = await freePort();
      do p.httpPort = await freePort();
      while (p.httpPort === p.port);
      p.url = `tcp://127.0.0.1:${p.port}`;
      p.httpHost = `http://127.0.0.1:${p.httpPort}`;
    };
    await pick();
    p.extra = extra;
    await p.startOnFreePorts(() => [p.url, `127.0.0.1:${p.httpPort}`], pick);
    return p;
  }

  async start() {
    this.spawn(['--data', this.dataDir, '--listen', this.url, '--events', 'none',
      '--http', `127.0.0.1:${this.httpPort}`, '--log-level', 'warn', ...this.extra]);
    // Serving once ServerStatus gets any answer (UNAUTHENTICATED too) and
    // the HTTP port answers anything at all; failed if clmd exits first.
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const probe = new Client(this.url, { timeoutMs: 5000 });
      let rpc = false;
      let why = '';
      try {
        await probe.status();
        rpc = true;
      } catch (e) {
        if (e instanceof ClmError) rpc = true;
        else why = e.message;
      } finally {
        await probe.close();
      }
      if (rpc) {
        try {
          await httpRequest({ host: '127.0.0.1', port: this.httpPort, path: '/metrics', agent: false, timeout: 5000 });
          return;
        } catch (e) {
          why = `--http: ${e.message}`;
        }
      }
      const exit = this.exitStatus();
      if (exit !== null) throw new Error(`clmd (${CLMD_BIN}) exited at start: ${exit}\n${this.logText()}`);
      if (Date.now() > deadline) throw new Error(`clmd did not start: ${why}\n${this.logText()}`);
      await sleep(20);
    }
  }
}

/* ------------------------------------------------------------------ */
/* The pass-through between the SDKs and clmd                           */

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

/*
 * An HTTP server on 127.0.0.1 that sends every request on to clmd's
 * --http port unchanged (method, path, headers but the hop-by-hop ones,
 * body bytes) and answers what clmd answered. `exchanges` holds each
 * request and clmd's answer, in arrival order.
 */
class Relay {
  static async create(target) {
    const r = new Relay();
    r.target = target;
    r.exchanges = [];
    r.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    r.server = http.createServer((req, res) => r.handle(req, res));
    await new Promise((resolve, reject) => {
      r.server.once('error', reject);
      r.server.listen(0, '127.0.0.1', resolve);
    });
    r.host = `http://127.0.0.1:${r.server.address().port}`;
    return r;
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const headers = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name] = req.rawHeaders[i + 1];
      }
      const ex = { method: req.method, path: req.url, headers, body };
      this.exchanges.push(ex);
      try {
        const ans = await relayTo(this.target, ex, this.agent);
        ex.status = ans.status;
        ex.answer = ans.body.toString('utf8');
        const out = { 'Content-Type': ans.headers['content-type'] || 'text/plain' };
        if (ans.headers['retry-after']) out['Retry-After'] = ans.headers['retry-after'];
        res.writeHead(ans.status, out);
        res.end(ans.body);
      } catch (e) {
        // clmd gave no answer: the SDK sees a dropped connection.
        ex.status = 0;
        ex.answer = e.message;
        res.destroy();
      }
    });
  }

  async close() {
    await new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.agent.destroy();
  }
}

/* Send one recorded request to clmd (http://127.0.0.1:PORT) as it was. */
function relayTo(target, ex, agent) {
  const u = new URL(target);
  return httpRequest(
    {
      host: u.hostname,
      port: u.port,
      method: ex.method,
      path: ex.path,
      headers: { ...ex.headers, 'Content-Length': String(ex.body.length) },
      agent,
    },
    ex.body
  );
}

/*
 * Waits, within a bound, until clmd has answered every one of exchanges:
 * an SDK may resolve its flush while a request of its is still being
 * relayed (posthog-node's queue sends late captures on its own).
 */
async function answered(sdk, exchanges, what) {
  await eventually(() => {
    for (const ex of exchanges) {
      if (ex.status === undefined) throw new Error(`${sdk} ${what}: ${ex.method} ${ex.path} not answered yet`);
    }
  });
}

/*
 * What clmd answered to exchanges: each one 200 with the body the SDK's
 * service sends on success (Segment/RudderStack {"success":true}, PostHog
 * {"status":1}), and no per-item error.
 */
async function checkAnswers(sdk, exchanges, what) {
  assert.ok(exchanges.length > 0, `${sdk} ${what}: no request reached clmd`);
  await answered(sdk, exchanges, what);
  for (const ex of exchanges) {
    const where = `${sdk} ${what}: ${ex.method} ${ex.path} answered ${ex.status} ${ex.answer}`;
    assert.equal(ex.status, 200, where);
    let j;
    try {
      j = JSON.parse(ex.answer);
    } catch (e) {
      assert.fail(`${where}: not JSON`);
    }
    if (sdk === 'posthog') assert.equal(j.status, 1, where);
    else assert.equal(j.success, true, where);
    if (j.errors !== undefined) assert.deepEqual(j.errors, [], where);
  }
}

/* ------------------------------------------------------------------ */
/* What the customer looks like                                         */

/* Poll fn until it returns without throwing, for at most WAIT_MS. */
async function eventually(fn) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(50);
  }
}

const touchCount = (cu, type) => (cu.touchCounts.find((t) => t.type === type) || { count: 0 }).count;

/*
 * The journey's customer as clmd shows it, with what the issue says:
 * the purchase, the traits, the merged page view, the CUSTOM event.
 * Returns what must not change when the journey is sent again.
 */
async function checkCustomer(c, sdk, ids) {
  const who = `${sdk} customer '${ids.user}'`;
  const cu = await c.customer(ids.user);
  assert.equal(cu.purchases, 1, `${who}: purchases (one order of two products)`);
  assert.ok(Math.abs(cu.revenue - ORDER.revenue) < 1e-6, `${who}: revenue ${cu.revenue}, not ${ORDER.revenue}`);
  assert.equal(cu.traits.email, TRAITS.email, `${who}: traits ${JSON.stringify(cu.traits)}`);
  assert.equal(cu.traits.name, TRAITS.name, `${who}: traits`);
  assert.equal(cu.traits.plan, TRAITS.plan, `${who}: traits`);
  assert.equal(cu.traits['address.city'], TRAITS.address.city, `${who}: nested traits, flattened`);
  assert.equal(cu.traits['address.country'], TRAITS.address.country, `${who}: nested traits, flattened`);
  assert.equal(touchCount(cu, 'PURCHASE'), 1, `${who}: touch counts ${JSON.stringify(cu.touchCounts)}`);
  assert.equal(touchCount(cu, 'PAGE_VIEW'), 1, `${who}: the visitor's page view is not on the customer`);
  assert.equal(touchCount(cu, 'CUSTOM'), 1, `${who}: touch counts ${JSON.stringify(cu.touchCounts)}`);
  assert.ok(cu.anonymousIds.includes(ids.anon), `${who}: anonymous ids ${JSON.stringify(cu.anonymousIds)}`);

  // The visitor was never a customer of its own.
  await assert.rejects(c.customer(ids.anon), (e) => e instanceof ClmError && e.codeName === 'NOT_FOUND',
    `${sdk}: the visitor '${ids.anon}' became a customer`);

  const ex = await c.export(ids.user);
  const byId = new Map(ex.touchpoints.map((t) => [t.eventId, t]));
  const page = byId.get(ids.page);
  assert.ok(page, `${who}: no touchpoint with the page view's id ${ids.page}: ${JSON.stringify([...byId.keys()])}`);
  assert.equal(page.type, 'PAGE_VIEW');
  const order = byId.get(ids.order);
  assert.ok(order, `${who}: no touchpoint with the order's id ${ids.order}`);
  assert.equal(order.type, 'PURCHASE');
  assert.ok(Math.abs(order.value - ORDER.revenue) < 1e-6, `${who}: the order's value ${order.value}`);
  // docs/ingest.md "Clock correction": the time moves by receive time -
  // sentAt, the delivery delay here (same clock), so a little later.
  const at = Date.UTC(2026, 0, 10, 0, 2);
  assert.ok(order.occurredAtMs >= at && order.occurredAtMs <= at + 120000,
    `${who}: the order's time ${order.occurredAtMs} is not its timestamp ${at} plus the delivery delay`);
  const custom = byId.get(ids.custom);
  assert.ok(custom, `${who}: no touchpoint with the unmapped event's id ${ids.custom}`);
  assert.equal(custom.type, 'CUSTOM');
  assert.equal(custom.eventName, CUSTOM_EVENT);
  if (sdk !== 'posthog') {
    // context.campaign.medium "email" (PostHog has no context).
    const signup = byId.get(ids.campaign);
    assert.ok(signup, `${who}: no touchpoint with the campaign track's id ${ids.campaign}`);
    assert.equal(signup.channel, 'EMAIL', `${who}: utm medium 'email' is not Channel EMAIL`);
  }
  return {
    customer: {
      purchases: cu.purchases,
      refunds: cu.refunds,
      revenue: cu.revenue,
      stage: cu.stage,
      stageHistory: cu.stageHistory,
      firstSeenMs: cu.firstSeenMs,
      lastSeenMs: cu.lastSeenMs,
      acquisitionChannel: cu.acquisitionChannel,
      conversionChannel: cu.conversionChannel,
      touchCounts: [...cu.touchCounts].sort((a, b) => String(a.type).localeCompare(String(b.type))),
      anonymousIds: [...cu.anonymousIds].sort(),
      traits: cu.traits,
    },
    touchpoints: [...ex.touchpoints].sort((a, b) => a.eventId.localeCompare(b.eventId)),
  };
}

/*
 * One SDK's journey through relay to clmd: sent, checked, sent again by
 * the SDK, the first requests replayed as they were; nothing may change.
 */
async function journeyTwice(srv, relay, c, sdk) {
  const ids = journeyIds(sdk);
  const opts = { customEvent: CUSTOM_EVENT };

  let from = relay.exchanges.length;
  const errors = await send[sdk](relay.host, KEYS[sdk], ids, opts);
  const first = relay.exchanges.slice(from);
  assert.deepEqual(describe(errors), [], `${sdk}: the SDK reported delivery errors\n${srv.logText()}`);
  await checkAnswers(sdk, first, 'first send');
  // Answered means committed; polled all the same, within a bound.
  const before = await eventually(() => checkCustomer(c, sdk, ids));

  from = relay.exchanges.length;
  const again = await send[sdk](relay.host, KEYS[sdk], ids, opts);
  assert.deepEqual(describe(again), [], `${sdk}: the SDK reported delivery errors the second time`);
  await checkAnswers(sdk, relay.exchanges.slice(from), 'second send');
  assert.deepEqual(await checkCustomer(c, sdk, ids), before, `${sdk}: sending the journey again changed the customer`);

  const replayAgent = new http.Agent({ keepAlive: true });
  try {
    const replayed = [];
    for (const ex of first) {
      const ans = await relayTo(srv.httpHost, ex, replayAgent);
      replayed.push({ ...ex, status: ans.status, answer: ans.body.toString('utf8') });
    }
    await checkAnswers(sdk, replayed, 'replay of the first requests');
  } finally {
    replayAgent.destroy();
  }
  assert.deepEqual(await checkCustomer(c, sdk, ids), before, `${sdk}: replaying the SDK's requests changed the customer`);
}

/*
 * Run fn, then stop srv whatever happened (a live child would keep this
 * process from ending); a clean exit is checked when fn passed.
 */
async function stopping(srv, fn) {
  let passed = false;
  try {
    await fn();
    passed = true;
  } finally {
    const st = await srv.stop();
    if (passed) assert.equal(st, 0, `clmd's exit\n${srv.logText()}`);
  }
}

/*
 * The journey with a key that is no token: every request refused with
 * 401 (which no SDK takes for success), nothing stored, its event ids
 * included (the right key then gets everything in: journeyTwice).
 */
async function refusedKey(relay, c, sdk) {
  const ids = journeyIds(sdk);
  const from = relay.exchanges.length;
  const opts = { customEvent: CUSTOM_EVENT, maxRetries: 1 };
  const refused = await send[sdk](relay.host, 'not-a-token', ids, opts);
  assert.ok(refused.length > 0, `${sdk}: a wrong write key was not reported as a delivery error`);
  const tries = relay.exchanges.slice(from);
  assert.ok(tries.length > 0, `${sdk}: nothing reached clmd`);
  await answered(sdk, tries, 'with a wrong key');
  for (const ex of tries) {
    assert.equal(ex.status, 401, `${sdk}: ${ex.method} ${ex.path} with a wrong key: ${ex.status} ${ex.answer}`);
  }
  await assert.rejects(c.customer(ids.user), (e) => e instanceof ClmError && e.codeName === 'NOT_FOUND',
    `${sdk}: a refused request stored the customer`);
}

/* What an SDK reported as not delivered, readable. */
function describe(errors) {
  return errors.map((e) => {
    if (e instanceof Error) return e.message;
    // Segment: {code: 'delivery_failure', reason, ctx}
    if (e && e.code) return `${e.code}: ${e.reason && e.reason.message ? e.reason.message : e.reason}`;
    return String(e);
  });
}

/* ------------------------------------------------------------------ */

test('the SDKs against clmd --http, without tokens', { timeout: 140000 }, async () => {
  const srv = await Clmd.create();
  const relay = await Relay.create(srv.httpHost);
  const c = new Client(srv.url, { timeoutMs: 10000 });
  await stopping(srv, async () => {
    try {
      for (const sdk of SDKS) await journeyTwice(srv, relay, c, sdk);
    } finally {
      await c.close();
      await relay.close();
    }
  });
});

test('the SDKs against clmd --http, with tokens', { timeout: 140000 }, async () => {
  const dir = tmpDir();
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `# sdk_test\n${WRITE_KEY}\n${POSTHOG_KEY}\n`, { mode: 0o600 });
  const srv = await Clmd.create(['--auth-token-file', tokens]);
  const relay = await Relay.create(srv.httpHost);
  const c = new Client(srv.url, { timeoutMs: 10000, token: WRITE_KEY });
  await stopping(srv, async () => {
    try {
      for (const sdk of SDKS) {
        await refusedKey(relay, c, sdk);
        await journeyTwice(srv, relay, c, sdk);
      }
    } finally {
      await c.close();
      await relay.close();
    }
  });
});
