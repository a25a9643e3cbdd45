'use strict';
/*
 * The Node.js client (client/node) against a real clmd: the journey of
 * tests/integration/journey_test.c through five stages with fixed event
 * times, duplicates on event_id, rejected items and their field violations
 * (ClmError INVALID_ARGUMENT), NOT_FOUND, an Identify merge, Recommend with
 * an idempotent claim, Metrics, RecordSpend and Cohorts for that journey, an
 * experiment, the stage-change stream through watch(), the same answers over
 * ipc://, an auth token, and the transport itself (queued concurrent calls,
 * partial frames, stale replies, timeouts, reconnects, a clmd restart) with a
 * hand-made SP peer where a real clmd cannot be made to misbehave.
 *
 * Env: CLMD_BIN (else $CLM_BUILD_DIR/bin/clmd, else build/bin/clmd).
 * Every clmd started here is killed when the test ends, whatever happens.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const SOURCE_DIR = process.env.CLM_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const NODE_CLIENT = path.join(SOURCE_DIR, 'client', 'node');
if (!fs.existsSync(path.join(NODE_CLIENT, 'node_modules', 'protobufjs'))) {
  console.error(
    `node_test: protobufjs is not installed in ${NODE_CLIENT}: run tools/install-deps.sh ` +
      '(or npm ci there)'
  );
  process.exit(1);
}
const clm = require(NODE_CLIENT);
const clmdProc = require('./clmd_proc');
const { freePort, sleep, ClmdProcess } = clmdProc;
const { Client, watch, ClmError, ClmConnectionError, ClmTimeoutError } = clm;

const CLMD_BIN =
  process.env.CLMD_BIN ||
  (process.env.CLM_BUILD_DIR && path.join(process.env.CLM_BUILD_DIR, 'bin', 'clmd')) ||
  path.join(SOURCE_DIR, 'build', 'bin', 'clmd');
if (!fs.existsSync(CLMD_BIN)) {
  console.error(`node_test: no clmd at '${CLMD_BIN}' (set CLMD_BIN)`);
  process.exit(1);
}

const MIN = 60000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = 1768003200000; // 2026-01-10T00:00:00Z, a Saturday
const Y2K = 946684800000;

/* ------------------------------------------------------------------ */
/* clmd processes (clmd_proc.js)                                        */

const tmpDir = () => clmdProc.tmpDir('clm-node-');

class Clmd extends ClmdProcess {
  /** A clmd on a new temp dir, free ports and an ipc socket. */
  static async create(extra = []) {
    const dir = tmpDir();
    const p = new Clmd(CLMD_BIN, path.join(dir, 'clmd.log'));
    p.dir = dir;
    p.dataDir = path.join(p.dir, 'data');
    p.port = await freePort();
    do p.eventsPort = await freePort();
    while (p.eventsPort === p.port);
    p.url = `tcp://127.0.0.1:${p.port}`;
    p.eventsUrl = `tcp://127.0.0.1:${p.eventsPort}`;
    p.ipcUrl = `ipc://${path.join(p.dir, 'clmd.sock')}`;
    p.extra = extra;
    await p.start();
    return p;
  }

  async start() {
    const args = ['--data', this.dataDir, '--listen', this.url, '--listen', this.ipcUrl];
    // The opt-in keeps the tcp:// events port with --auth-token-file.
    args.push('--events', this.eventsUrl, '--events-unauthenticated', 'true',
      '--log-level', 'warn', ...this.extra);
    this.spawn(args);
    // Serving once ServerStatus gets any answer (UNAUTHENTICATED too);
    // failed if clmd exits first. A Client's first connect fails at once
    // while nothing listens: probe with a new one until a generous bound.
    const deadline = Date.now() + 20000;
    for (;;) {
      const probe = new Client(this.url, { timeoutMs: 5000 });
      try {
        await probe.status();
        return;
      } catch (e) {
        if (e instanceof ClmError) return;
        const exit = this.exitStatus();
        if (exit !== null) throw new Error(`clmd (${CLMD_BIN}) exited at start: ${exit}\n${this.logText()}`);
        if (Date.now() > deadline) throw new Error(`clmd did not start: ${e.message}\n${this.logText()}`);
      } finally {
        await probe.close();
      }
      await sleep(20);
    }
  }
}

/* ------------------------------------------------------------------ */
/* The journey of journey_test.c                                        */

const journey = [
  { id: 'e1', type: 'AD_CLICK', channel: 'PAID_ADS', at: T0 },
  { id: 'e2', type: 'SITE_VISIT', channel: 'ORGANIC_SEARCH', at: T0 + HOUR, durationS: 120 },
  { id: 'e3', type: 'PURCHASE', channel: 'EMAIL', at: T0 + DAY, value: 49.5 },
  { id: 'e4', type: 'CONTENT_VIEW', channel: 'DIRECT', at: T0 + 2 * DAY },
  // By number: PURCHASE = 13, DIRECT = 1.
  { id: 'e5', type: 13, channel: 1, at: T0 + 10 * DAY, value: 20.25 },
  { id: 'e6', type: 'REFERRAL', channel: 'REFERRAL_LINK', at: T0 + 20 * DAY },
];

const inOrderChanges = [
  ['STAGE_UNSPECIFIED', 'REACH'],
  null,
  ['REACH', 'ACQUISITION'],
  ['ACQUISITION', 'NURTURE'],
  ['NURTURE', 'RETENTION'],
  ['RETENTION', 'ADVOCACY'],
];

function touchpoint(customer, s) {
  const tp = {
    eventId: `${customer}-${s.id}`,
    customerId: customer,
    type: s.type,
    channel: s.channel,
    occurredAtMs: s.at,
  };
  if (s.value) tp.value = s.value;
  if (s.durationS) tp.durationS = s.durationS;
  if (s.type === 'PURCHASE' || s.type === 13) tp.currency = 'EUR';
  return tp;
}

function checkChange(ev, customer, eventId, from, to, at) {
  assert.equal(ev.kind, 'STAGE_CHANGED');
  assert.equal(ev.customerId, customer);
  assert.equal(ev.fromStage, from, `from_stage of ${eventId}`);
  assert.equal(ev.toStage, to, `to_stage of ${eventId}`);
  assert.equal(ev.atMs, at, `at_ms of ${eventId}`);
  assert.equal(ev.eventId, eventId);
  assert.ok(ev.seq > 0);
}

async function trackInOrder(c, customer) {
  const changes = [];
  for (let i = 0; i < journey.length; i++) {
    const r = await c.track(touchpoint(customer, journey[i]));
    assert.equal(r.accepted, 1, `step ${i}: accepted`);
    assert.equal(r.duplicates, 0, `step ${i}: duplicates`);
    assert.deepEqual(r.rejected, []);
    const want = inOrderChanges[i];
    if (!want) {
      assert.equal(r.changes.length, 0, `step ${i}: changes`);
    } else {
      assert.equal(r.changes.length, 1, `step ${i}: changes`);
      checkChange(r.changes[0], customer, `${customer}-${journey[i].id}`, want[0], want[1], journey[i].at);
    }
    changes.push(r.changes);
  }
  return changes;
}

const touchCount = (cu, type) => (cu.touchCounts.find((t) => t.type === type) || { count: 0 }).count;

/* The finished journey's Customer, per docs/api.md "The lifecycle model" (stage history). */
function checkJourneyCustomer(cu) {
  assert.equal(cu.stage, 'ADVOCACY');
  assert.equal(cu.funnel, 'BOTTOM');
  assert.deepEqual(cu.stageHistory, [
    { stage: 'REACH', enteredAtMs: T0 },
    { stage: 'ACQUISITION', enteredAtMs: T0 + DAY },
    { stage: 'NURTURE', enteredAtMs: T0 + 2 * DAY },
    { stage: 'RETENTION', enteredAtMs: T0 + 10 * DAY },
    { stage: 'ADVOCACY', enteredAtMs: T0 + 20 * DAY },
  ]);
  assert.equal(cu.purchases, 2);
  assert.equal(cu.refunds, 0);
  assert.equal(cu.referrals, 1);
  assert.ok(Math.abs(cu.revenue - 69.75) < 1e-9, `revenue ${cu.revenue}`);
  assert.equal(cu.firstSeenMs, T0);
  assert.equal(cu.lastSeenMs, T0 + 20 * DAY);
  assert.equal(cu.acquisitionChannel, 'PAID_ADS');
  assert.equal(cu.conversionChannel, 'EMAIL');
  assert.equal(cu.touchCounts.length, 5);
  assert.equal(touchCount(cu, 'AD_CLICK'), 1);
  assert.equal(touchCount(cu, 'SITE_VISIT'), 1);
  assert.equal(touchCount(cu, 'PURCHASE'), 2);
  assert.equal(touchCount(cu, 'CONTENT_VIEW'), 1);
  assert.equal(touchCount(cu, 'REFERRAL'), 1);
  assert.deepEqual(cu.cartItems, []);
  assert.deepEqual(cu.anonymousIds, []);
}

/* A Customer without the fields that name it or depend on the clock. */
const sameButName = (cu) => ({ ...cu, customerId: '', asOfMs: 0 });

/** Asserts that promise rejects with a ClmError of the given code name. */
async function rejectsWith(promise, codeName, check) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ClmError, `not a ClmError: ${err && err.stack}`);
    assert.equal(err.codeName, codeName, `code ${err.codeName} (${err.message})`);
    assert.equal(err.code, clm.Code[codeName]);
    if (check) check(err);
    return true;
  });
}

/* ------------------------------------------------------------------ */
/* The tests                                                            */

let srv;
let c;
const ALICE_AS_OF = T0 + 21 * DAY;

before(async () => {
  srv = await Clmd.create();
  c = new Client(srv.url, { timeoutMs: 5000 });
});

after(async () => {
  if (c) await c.close();
  if (srv) {
    const st = await srv.stop();
    assert.equal(st, 0, `clmd exit status ${st}\n${srv.logText()}`);
  }
});

test('journey: five stages in order, duplicates, status, health as of', async () => {
  await trackInOrder(c, 'alice');
  const before = Date.now();
  const cu = await c.customer('alice');
  const afterMs = Date.now();
  checkJourneyCustomer(cu);
  assert.ok(cu.asOfMs >= before - 1000 && cu.asOfMs <= afterMs + 1000, `as_of ${cu.asOfMs} is not now`);

  // The same batch again: every touchpoint a duplicate, nothing changes.
  const fixed = await c.customer('alice', { asOfMs: ALICE_AS_OF });
  const r = await c.track(journey.map((s) => touchpoint('alice', s)));
  assert.equal(r.accepted, 0);
  assert.equal(r.duplicates, journey.length);
  assert.deepEqual(r.changes, []);
  assert.deepEqual(await c.customer('alice', { asOfMs: ALICE_AS_OF }), fixed);

  const st = await c.status();
  assert.equal(st.customers, 1);
  assert.equal(st.touchpoints, journey.length);
  assert.equal(typeof st.version, 'string');
  assert.ok(st.version.length > 0);

  // Health and churn risk as of a time (docs/api.md "Health and churn risk").
  const last = T0 + 20 * DAY;
  for (const [after, health, risk] of [
    [DAY, 'ACTIVE', 0],
    [31 * DAY, 'AT_RISK', 0.5],
    [91 * DAY, 'CHURNED', 0.5],
  ]) {
    const x = await c.customer('alice', { asOfMs: last + after });
    assert.equal(x.asOfMs, last + after);
    assert.equal(x.health, health, `health as of last+${after / DAY}d`);
    assert.ok(Math.abs(x.churnRisk - risk) < 1e-9, `churn_risk ${x.churnRisk}`);
    assert.deepEqual(x.riskReasons, risk > 0 ? ['INACTIVE'] : []);
  }

  // Enums as numbers, on request.
  const n = new Client(srv.url, { timeoutMs: 5000, enums: 'number' });
  const xn = await n.customer('alice', { asOfMs: ALICE_AS_OF });
  await n.close();
  assert.equal(xn.stage, clm.Stage.ADVOCACY);
  assert.equal(xn.stageHistory[0].stage, 1);
  assert.equal(xn.acquisitionChannel, clm.Channel.PAID_ADS);
});

test('reversed arrival gives the same customer', async () => {
  // bob: the journey newest first, one per call (snake_case field names).
  for (let k = 0; k < journey.length; k++) {
    const i = journey.length - 1 - k;
    const tp = touchpoint('bob', journey[i]);
    const snake = {
      event_id: tp.eventId,
      customer_id: tp.customerId,
      type: tp.type,
      channel: tp.channel,
      occurred_at_ms: tp.occurredAtMs,
      value: tp.value,
      duration_s: tp.durationS,
      currency: tp.currency,
    };
    const r = await c.track([snake]);
    assert.equal(r.accepted, 1);
    if (k === 0) {
      assert.equal(r.changes.length, 1);
      checkChange(r.changes[0], 'bob', 'bob-e6', 'STAGE_UNSPECIFIED', 'REACH', T0 + 20 * DAY);
    } else if (k === 1) {
      // A purchase and a referral: ADVOCACY at max(purchase, referral).
      assert.equal(r.changes.length, 1);
      checkChange(r.changes[0], 'bob', 'bob-e5', 'REACH', 'ADVOCACY', T0 + 20 * DAY);
    } else {
      assert.equal(r.changes.length, 0, `call ${k}`);
    }
  }
  const a = await c.customer('alice', { asOfMs: ALICE_AS_OF });
  const b = await c.customer('bob', { asOfMs: ALICE_AS_OF });
  checkJourneyCustomer(b);
  assert.deepEqual(sameButName(b), sameButName(a));
});

test('rejected items name their fields; errors are ClmError', async () => {
  // Partly invalid: the valid one lands, the others are listed.
  const r = await c.track([
    { event_id: 'partial-ok', customer_id: 'partial', type: 'PAGE_VIEW', occurred_at_ms: T0 },
    { customerId: 'partial', type: 'TOUCHPOINT_TYPE_UNSPECIFIED', occurredAtMs: T0 },
    { customerId: 'partial', type: 'PAGE_VIEW', occurredAtMs: Y2K - 1 },
  ]);
  assert.equal(r.accepted, 1);
  assert.equal(r.duplicates, 0);
  assert.equal(r.rejected.length, 2);
  const want = ['touchpoints[1].type', 'touchpoints[2].occurred_at_ms'];
  r.rejected.forEach((ie, i) => {
    assert.equal(ie.index, i + 1);
    assert.equal(ie.status.code, 'INVALID_ARGUMENT');
    const fields = ie.status.violations.map((v) => v.field);
    assert.ok(fields.includes(want[i]), `rejected[${i}]: ${fields}`);
    for (const v of ie.status.violations) assert.ok(v.description.length > 0);
  });
  const p = await c.customer('partial');
  assert.equal(p.stage, 'REACH');
  assert.deepEqual(p.touchCounts, [{ type: 'PAGE_VIEW', count: 1 }]);

  // All invalid: the call fails, with every violation.
  await rejectsWith(
    c.track([
      { customerId: '', type: 'PURCHASE', occurredAtMs: T0 },
      { customerId: 'all-bad', type: 'PURCHASE', channel: 99, occurredAtMs: T0 },
    ]),
    'INVALID_ARGUMENT',
    (err) => {
      const fields = err.violations.map((v) => v.field);
      assert.ok(fields.includes('touchpoints[0].customer_id'), fields.join(' '));
      assert.ok(fields.includes('touchpoints[1].channel'), fields.join(' '));
      assert.ok(err.requestId.length > 0, 'the request id is echoed');
    }
  );
  await rejectsWith(c.customer('all-bad'), 'NOT_FOUND');
  await rejectsWith(c.track([]), 'INVALID_ARGUMENT', (err) => {
    assert.ok(err.violations.some((v) => v.field === 'track.touchpoints'));
  });
  await rejectsWith(c.customer('nobody'), 'NOT_FOUND', (err) => {
    assert.match(err.message, /nobody/);
    assert.deepEqual(err.violations, []);
  });
  await rejectsWith(c.customer(''), 'INVALID_ARGUMENT');

  // Mistakes the client catches before sending anything.
  await assert.rejects(c.track({ customerId: 'x', type: 'PURCHASED' }), TypeError);
  await assert.rejects(c.track({ customerID: 'x', type: 'PURCHASE' }), TypeError);
  await assert.rejects(c.track({ customerId: 'x', type: 'PURCHASE', occurredAtMs: 1.5 }), TypeError);
  const st = await c.status();
  assert.equal(st.customers, 3, 'alice, bob, partial');
  assert.equal(st.touchpoints, 2 * journey.length + 1);
});

test('identify merges an anonymous profile into a customer', async () => {
  const r = await c.track([
    { anonymousId: 'anon-web-1', eventId: 'a1-e1', type: 'AD_CLICK', channel: 'PAID_ADS', occurredAtMs: T0 },
    { anonymousId: 'anon-web-1', eventId: 'a1-e2', type: 'PAGE_VIEW', occurredAtMs: T0 + HOUR },
    { anonymousId: 'anon-web-1', eventId: 'a1-e3', type: 'ADD_TO_CART', itemId: 'sku-1', occurredAtMs: T0 + 2 * HOUR },
  ]);
  assert.equal(r.accepted, 3);
  assert.deepEqual(r.changes, [], 'an anonymous profile reports no stage change');
  await rejectsWith(c.customer('cust-1'), 'NOT_FOUND');

  const m = await c.identify('anon-web-1', 'cust-1', { plan: 'pro', seats: 3 });
  assert.equal(m.merged, true);
  const cu = m.customer;
  assert.equal(cu.customerId, 'cust-1');
  assert.equal(cu.stage, 'REACH');
  assert.equal(cu.funnel, 'MIDDLE');
  assert.equal(cu.firstSeenMs, T0);
  assert.equal(cu.lastSeenMs, T0 + 2 * HOUR);
  assert.equal(cu.acquisitionChannel, 'PAID_ADS');
  assert.deepEqual(cu.stageHistory, [{ stage: 'REACH', enteredAtMs: T0 }]);
  assert.deepEqual(cu.cartItems, ['sku-1']);
  assert.deepEqual(cu.anonymousIds, ['anon-web-1']);
  assert.deepEqual(cu.traits, { plan: 'pro', seats: '3' });
  assert.equal(touchCount(cu, 'AD_CLICK'), 1);
  assert.equal(touchCount(cu, 'PAGE_VIEW'), 1);
  assert.equal(touchCount(cu, 'ADD_TO_CART'), 1);

  // Again: nothing to merge. Another customer: refused.
  assert.equal((await c.identify('anon-web-1', 'cust-1')).merged, false);
  await rejectsWith(c.identify('anon-web-1', 'cust-2'), 'FAILED_PRECONDITION');

  // Later touchpoints with only the anonymous id go to the customer.
  await c.track({ anonymousId: 'anon-web-1', eventId: 'a1-e4', type: 'PAGE_VIEW', occurredAtMs: T0 + 3 * HOUR });
  const after = await c.customer('cust-1');
  assert.equal(touchCount(after, 'PAGE_VIEW'), 2);
  assert.equal(after.lastSeenMs, T0 + 3 * HOUR);
  assert.equal((await c.status()).customers, 4, 'the anonymous profile is gone');
});

test('recommend, and a claim that is idempotent on request_id', async () => {
  // cust-1: sku-1 in the cart since T0+2h, no purchase yet.
  const r = await c.recommend('cust-1', { nowMs: T0 + 4 * HOUR, limit: 10 });
  assert.equal(r.stage, 'REACH');
  assert.equal(r.health, 'ACTIVE');
  const first = r.recommendations[0];
  assert.equal(first.kind, 'CART_REMINDER');
  assert.equal(first.action, 'cart_reminder');
  assert.equal(first.itemId, 'sku-1');
  assert.equal(first.channel, 'EMAIL');
  assert.ok(Math.abs(first.score - 0.95) < 1e-9);
  const nba = r.recommendations.find((x) => x.kind === 'NEXT_BEST_ACTION');
  assert.ok(nba, 'no NEXT_BEST_ACTION');
  assert.equal(nba.action, 'first_purchase_incentive');
  assert.ok(Math.abs(nba.score - 0.3) < 1e-9);
  for (let i = 1; i < r.recommendations.length; i++) {
    assert.ok(r.recommendations[i - 1].score >= r.recommendations[i].score, 'best first');
  }
  // The request's channel.
  const sms = await c.recommend('cust-1', { nowMs: T0 + 4 * HOUR, channel: 'SMS' });
  assert.equal(sms.recommendations.find((x) => x.kind === 'NEXT_BEST_ACTION').channel, 'SMS');
  await rejectsWith(c.recommend('nobody'), 'NOT_FOUND');

  // A claim records MESSAGE_SENT touchpoints; its retry records nothing.
  const req = { requestId: 'node-claim-1', recommend: { customerId: 'cust-1', claim: true, limit: 10 } };
  const r1 = await c.call(req);
  assert.equal(r1.requestId, 'node-claim-1');
  assert.equal(r1.result, 'recommend');
  assert.equal(r1.status.code, 'OK');
  const live = r1.recommend.recommendations.filter((x) => !x.suppressed).length;
  assert.ok(live >= 1, 'nothing claimed');
  const sent = async () => touchCount(await c.customer('cust-1'), 'MESSAGE_SENT');
  assert.equal(await sent(), live);
  const r2 = await c.call(req);
  assert.deepEqual(r2.recommend, r1.recommend, 'the retry got another reply');
  assert.equal(await sent(), live, 'the retry recorded again');
});

test('metrics, spend and cohorts of the journey', async () => {
  // alice and bob: PURCHASE 49.5 (EMAIL, T0+1d) and 20.25 (DIRECT, T0+10d).
  const win = { fromMs: T0, toMs: T0 + 30 * DAY };
  const m = await c.metrics(win);
  assert.equal(m.orders, 4);
  assert.ok(Math.abs(m.revenue - 139.5) < 1e-9, `revenue ${m.revenue}`);
  assert.ok(Math.abs(m.averageOrderValue - 34.875) < 1e-9);
  assert.equal(m.refundsValue, 0);
  assert.ok(Math.abs(m.ltv - 69.75) < 1e-9, `ltv ${m.ltv}`);
  assert.equal(m.repeatCustomerRate, 1);
  assert.equal(m.referralRate, 1);
  assert.equal(m.adClicks, 3, 'alice, bob and the merged anonymous click');
  assert.equal(m.customers, 4);
  assert.deepEqual(
    m.stages.map((s) => s.stage),
    ['REACH', 'ACQUISITION', 'NURTURE', 'RETENTION', 'ADVOCACY']
  );
  const adv = m.stages[4];
  assert.equal(adv.current, 2);
  assert.equal(adv.entered, 2);
  assert.equal(m.stages[0].current, 2, 'partial and cust-1');
  assert.equal(m.conversions.length, 5);
  assert.equal(m.conversions[0].fromStage, 'REACH');
  assert.equal(m.conversions[0].toStage, 'ACQUISITION');

  // One channel: the EMAIL purchases.
  const e = await c.metrics({ ...win, channel: 'EMAIL' });
  assert.equal(e.orders, 2);
  assert.ok(Math.abs(e.revenue - 99) < 1e-9);
  // Nothing in a window before the journey.
  const none = await c.metrics({ fromMs: T0 - 30 * DAY, toMs: T0 });
  assert.equal(none.orders, 0);
  assert.equal(none.revenue, 0);

  // Spend: set, then set again (replaces).
  assert.deepEqual(await c.recordSpend({ channel: 'PAID_ADS', dayMs: T0, amount: 100 }), { accepted: 1 });
  assert.deepEqual(await c.recordSpend([{ channel: 'PAID_ADS', dayMs: T0, amount: 120 }]), { accepted: 1 });
  const s = await c.metrics(win);
  const paid = s.channels.find((x) => x.channel === 'PAID_ADS');
  assert.ok(paid, 'no PAID_ADS row');
  assert.equal(paid.spend, 120);
  assert.equal(paid.newCustomersFirstTouch, 2);
  assert.equal(paid.cac, 60);
  const email = s.channels.find((x) => x.channel === 'EMAIL');
  assert.equal(email.newCustomersLastTouch, 2);
  await rejectsWith(c.recordSpend({ channel: 'PAID_ADS', dayMs: T0, amount: -1 }), 'INVALID_ARGUMENT');

  // Weekly cohorts from Monday 2026-01-05: the first purchases (Sun 01-11)
  // fall in the first week, the second ones (Tue 01-20) two weeks later.
  const co = await c.cohorts({ fromMs: T0 - 5 * DAY, toMs: T0 + 16 * DAY, granularity: 'WEEK', periods: 4 });
  assert.equal(co.granularity, 'WEEK');
  assert.deepEqual(co.rows, [
    { cohortStartMs: T0 - 5 * DAY, size: 2, retained: [1, 0, 1, 0] },
    { cohortStartMs: T0 + 2 * DAY, size: 0, retained: [0, 0, 0, 0] },
    { cohortStartMs: T0 + 9 * DAY, size: 0, retained: [0, 0, 0, 0] },
  ]);
  const daily = await c.cohorts({ fromMs: T0 + DAY, toMs: T0 + 2 * DAY, granularity: clm.Granularity.DAY, periods: 10 });
  assert.deepEqual(daily.rows, [{ cohortStartMs: T0 + DAY, size: 2, retained: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1] }]);
});

test('an experiment: define, assign, results', async () => {
  assert.deepEqual(await c.defineExperiment('node-exp', { A: 1, B: 1 }, 'PURCHASE'), { experimentId: 'node-exp' });
  // The same definition again is fine; another one is not.
  await c.defineExperiment('node-exp', [{ name: 'A', weight: 1 }, { name: 'B', weight: 1 }], 'PURCHASE');
  await rejectsWith(c.defineExperiment('node-exp', { A: 2, B: 1 }, 'PURCHASE'), 'ALREADY_EXISTS');
  await rejectsWith(c.assign('no-such-exp', 'x0'), 'NOT_FOUND');

  const N = 24;
  const variant = {};
  for (let i = 0; i < N; i++) {
    const a = await c.assign('node-exp', `x${i}`);
    assert.ok(a.variant === 'A' || a.variant === 'B', a.variant);
    assert.equal(a.firstExposure, true);
    variant[`x${i}`] = a.variant;
  }
  const again = await c.assign('node-exp', 'x0');
  assert.deepEqual(again, { variant: variant.x0, firstExposure: false });
  // Every third customer buys (now, after exposure).
  const buyers = Object.keys(variant).filter((_, i) => i % 3 === 0);
  await c.track(buyers.map((id) => ({ customerId: id, eventId: `${id}-buy`, type: 'PURCHASE', value: 5 })));

  const res = await c.experimentResults('node-exp');
  assert.equal(res.experimentId, 'node-exp');
  assert.deepEqual(res.variants.map((v) => v.name), ['A', 'B']);
  for (const v of res.variants) {
    const ids = Object.keys(variant).filter((id) => variant[id] === v.name);
    assert.equal(v.exposed, ids.length, `${v.name} exposed`);
    assert.equal(v.converted, ids.filter((id) => buyers.includes(id)).length, `${v.name} converted`);
    assert.ok(Math.abs(v.rate - (v.exposed ? v.converted / v.exposed : 0)) < 1e-12);
  }
  const [a, b] = res.variants;
  assert.equal(a.lift, 0);
  assert.equal(a.pValue, 1);
  assert.equal(a.ciLow, 0);
  assert.equal(a.ciHigh, 0);
  if (a.rate > 0) assert.ok(Math.abs(b.lift - (b.rate / a.rate - 1)) < 1e-9);
  assert.ok(b.pValue >= 0 && b.pValue <= 1);
  assert.ok(b.ciLow <= b.rate - a.rate && b.rate - a.rate <= b.ciHigh);
});

test('a segment: define, backfill, count, members over pages, delete', async () => {
  // Three buyers of an item no other customer bought (docs/segments.md).
  await c.track([0, 1, 2].map((i) => ({ customerId: `nseg${i}`, eventId: `nseg${i}-buy`, type: 'PURCHASE', itemId: 'node-seg-sku', value: 5 })));
  const d = await c.defineSegment('node-buyers', 'bought "node-seg-sku"');
  assert.equal(d.segment.name, 'node-buyers');
  assert.equal(d.segment.expression, 'bought "node-seg-sku"');
  assert.equal(d.replaced, false);
  const deadline = Date.now() + 30000;
  let g = await c.getSegment('node-buyers');
  while (g.segment.backfilling && Date.now() < deadline) {
    await sleep(20);
    g = await c.getSegment('node-buyers');
  }
  assert.equal(g.segment.backfilling, false, 'still backfilling after 30 s');
  assert.equal(Number(g.segment.count), 3);
  const ids = [];
  for await (const id of c.segmentMembers('node-buyers', { pageSize: 2 })) ids.push(id);
  assert.deepEqual(ids, ['nseg0', 'nseg1', 'nseg2']);
  const first = await c.getSegment('node-buyers', { members: true, pageSize: 2 });
  assert.deepEqual(first.members, ['nseg0', 'nseg1']);
  assert.ok(first.nextPageToken, 'no nextPageToken');
  const list = await c.listSegments();
  assert.ok(list.segments.some((s) => s.name === 'node-buyers'), 'not listed');
  await c.track({ customerId: 'nseg3', eventId: 'nseg3-buy', type: 'PURCHASE', itemId: 'node-seg-sku', value: 5 });
  assert.equal(Number((await c.getSegment('node-buyers')).segment.count), 4, 'count after a write');
  await rejectsWith(c.defineSegment('node-bad', 'purchases >='), 'INVALID_ARGUMENT', (err) => {
    assert.ok(err.violations.some((v) => v.field === 'define_segment.expression' && /at byte/.test(v.description)), JSON.stringify(err.violations));
  });
  await rejectsWith(c.getSegment('node-nope'), 'NOT_FOUND');
  assert.equal((await c.deleteSegment('node-buyers')).existed, true);
  assert.equal((await c.deleteSegment('node-buyers')).existed, false);
  await rejectsWith(c.getSegment('node-buyers'), 'NOT_FOUND');
});

test('a journey: define, its messages in the feed page by page, statistics, delete', async () => {
  // A one-step journey on PURCHASE: two buyers (now) each get its message
  // within seconds (docs/journeys.md).
  const def = {
    name: 'node-thanks', trigger: { event: 'PURCHASE' },
    steps: [{ send: { kind: 'LOYALTY_REWARD', action: 'thank_you', channel: 'EMAIL' } }],
  };
  const d = await c.defineJourney(def);
  assert.equal(d.journey.name, 'node-thanks');
  assert.equal(d.replaced, false);
  await c.track([0, 1].map((i) => ({ customerId: `njny${i}`, eventId: `njny${i}-buy`, type: 'PURCHASE', itemId: 'node-jny-sku', value: 5 })));
  const deadline = Date.now() + 30000;
  let page = await c.journeyMessages({ journey: 'node-thanks' });
  while ((page.messages || []).length < 2 && Date.now() < deadline) {
    await sleep(50);
    page = await c.journeyMessages({ journey: 'node-thanks' });
  }
  const msgs = page.messages || [];
  assert.deepEqual(msgs.map((m) => m.customerId).sort(), ['njny0', 'njny1'], 'messages after 30 s');
  for (const m of msgs) {
    assert.equal(m.kind, 'JOURNEY_MESSAGE');
    assert.equal(m.journey, 'node-thanks');
    assert.equal(m.step, 0);
    assert.equal(m.recommendationKind, 'LOYALTY_REWARD');
    assert.equal(m.action, 'thank_you');
    assert.equal(m.channel, 'EMAIL');
    assert.equal(m.item, 'node-jny-sku');
    assert.match(m.messageId, /^jm_[0-9a-f]{32}$/);
    assert.equal(m.eventId, `jny:${m.messageId}`);
  }
  const pos = msgs.map((m) => Number(m.position));
  assert.ok(pos[0] > 0 && pos[0] < pos[1], `positions ${pos}`);
  assert.equal(Number(page.nextAfter), pos[1]);
  const seen = [];
  for await (const m of c.iterJourneyMessages({ after: pos[0] - 1, journey: 'node-thanks', pageSize: 1 })) seen.push(m.messageId);
  assert.deepEqual(seen, msgs.map((m) => m.messageId), 'the iterator, one a page');
  const one = await c.journeyMessages({ after: pos[0], limit: 1, journey: 'node-thanks' });
  assert.deepEqual((one.messages || []).map((m) => Number(m.position)), [pos[1]]);
  const end = await c.journeyMessages({ after: pos[1], journey: 'node-thanks' });
  assert.equal((end.messages || []).length, 0);
  assert.equal(Number(end.nextAfter), pos[1]);

  const g = (await c.getJourney('node-thanks')).journey;
  assert.equal(Number(g.stats.entered), 2);
  assert.equal(Number(g.stats.active), 0);
  assert.equal(Number(g.stats.completed), 2);
  assert.equal(g.stats.steps.length, 1);
  assert.equal(Number(g.stats.steps[0].sent), 2);
  assert.ok(g.definition.includes('"node-thanks"'), g.definition);
  assert.ok((await c.listJourneys()).journeys.some((j) => j.name === 'node-thanks'), 'not listed');
  assert.equal((await c.defineJourney(JSON.stringify(def))).replaced, true);
  const bad = { ...def, steps: [{ send: { kind: 'LOYALTY_REWARD', action: 'x', channel: 'FAX' } }] };
  await rejectsWith(c.defineJourney(bad), 'INVALID_ARGUMENT', (err) => {
    assert.ok(err.violations.some((v) => v.field === 'define_journey.definition' && v.description.startsWith('steps[0].send.channel')), JSON.stringify(err.violations));
  });
  await rejectsWith(c.getJourney('node-nope'), 'NOT_FOUND');
  assert.equal((await c.deleteJourney('node-thanks')).existed, true);
  assert.equal((await c.deleteJourney('node-thanks')).existed, false);
  await rejectsWith(c.getJourney('node-thanks'), 'NOT_FOUND');
});

test('positions: lastPosition, minPosition per call, readYourWrites', async () => {
  const p = new Client(srv.url, { timeoutMs: 10000 });
  try {
    assert.equal(p.lastPosition, 0);
    const resp = await p.call({ track: { touchpoints: [{ customerId: 'pos-a', type: 'SIGNUP', eventId: 'pos-a-1' }] } });
    const at = Number(resp.position);
    assert.ok(at > 0, `a write's position ${resp.position}`);
    assert.equal(p.lastPosition, at);
    // At or below the view's position: answered at once.
    assert.equal((await p.customer('pos-a', { minPosition: at })).customerId, 'pos-a');
    await p.status();
    assert.ok(p.lastPosition >= at, 'a read lowered lastPosition');
    // Beyond it: UNAVAILABLE "not caught up", after deadlineMs.
    const far = at + 1000000;
    const t0 = Date.now();
    await rejectsWith(p.customer('pos-a', { minPosition: far, deadlineMs: 300 }), 'UNAVAILABLE', (err) => {
      assert.match(err.message, /not caught up/);
      assert.match(err.message, new RegExp(String(far)));
    });
    assert.ok(Date.now() - t0 >= 300, `answered after ${Date.now() - t0} ms, before deadlineMs`);
  } finally {
    await p.close();
  }
  // readYourWrites sends lastPosition on every call that has none.
  const ryw = new Client(srv.url, { timeoutMs: 10000, readYourWrites: true, deadlineMs: 200 });
  try {
    assert.equal((await ryw.track({ customerId: 'pos-b', type: 'SIGNUP', eventId: 'pos-b-1' })).accepted, 1);
    assert.ok(ryw.lastPosition > 0);
    assert.equal((await ryw.customer('pos-b')).customerId, 'pos-b');
    ryw.lastPosition += 1000000; // as if it had written through another node
    await rejectsWith(ryw.customer('pos-b'), 'UNAVAILABLE', (err) => {
      assert.match(err.message, new RegExp(`needs ${ryw.lastPosition}`));
    });
  } finally {
    await ryw.close();
  }
});

test('watch: stage changes and risk signals on the stream', { timeout: 20000 }, async () => {
  const stages = watch(srv.eventsUrl, 'stage/');
  const risks = watch(srv.eventsUrl, ['risk/']);
  await Promise.all([stages.ready(), risks.ready()]);
  // PUB drops what it sends before the subscription is up: probe until an
  // event arrives, then drain.
  let up = false;
  for (let k = 0; k < 100 && !up; k++) {
    await c.track({ customerId: `probe-${k}`, eventId: `probe-${k}`, type: 'PAGE_VIEW', occurredAtMs: T0 });
    up = (await stages.nextWithin(100)) !== null;
  }
  assert.ok(up, `no event arrived on ${srv.eventsUrl}`);
  while ((await stages.nextWithin(100)) !== null);

  const replies = await trackInOrder(c, 'wendy');
  let last = 0;
  let got = 0;
  for (let i = 0; i < journey.length; i++) {
    for (const want of replies[i]) {
      const item = await stages.nextWithin(3000);
      assert.ok(item, `step ${i}: no event`);
      assert.equal(item.topic, `stage/${want.toStage}`);
      assert.deepEqual(item.event, want, 'the published event is the replied one');
      if (got > 0) assert.equal(item.event.seq, last + 1);
      last = item.event.seq;
      got++;
    }
  }
  assert.equal(got, 5);

  // A refund now is a risk signal, on risk/ only.
  await c.track({ customerId: 'wendy', eventId: 'wendy-refund', type: 'REFUND', value: 5 });
  let risk = null;
  const timer = setTimeout(() => risks.close(), 3000);
  for await (const item of risks) {
    risk = item;
    break; // ends the loop and closes the watcher
  }
  clearTimeout(timer);
  assert.ok(risk, 'no risk event');
  assert.equal(risk.topic, 'risk/RECENT_REFUND');
  assert.equal(risk.event.kind, 'RISK_SIGNAL');
  assert.equal(risk.event.customerId, 'wendy');
  assert.equal(risk.event.reason, 'RECENT_REFUND');
  assert.equal(risk.event.seq, last + 1);
  assert.equal(risks.connected, false, 'break closed it');
  assert.equal(await stages.nextWithin(200), null, 'a risk signal on stage/');
  stages.close();
  assert.deepEqual(await stages.next(), { value: undefined, done: true });
});

test('ipc:// gives the same answers; big replies in many chunks', async () => {
  const ci = new Client(srv.ipcUrl, { timeoutMs: 5000 });
  try {
    const tcp = await c.customer('alice', { asOfMs: ALICE_AS_OF });
    const ipc = await ci.customer('alice', { asOfMs: ALICE_AS_OF });
    assert.deepEqual(ipc, tcp);
    const d = await ci.track(touchpoint('alice', journey[0]));
    assert.equal(d.duplicates, 1);
    await rejectsWith(ci.customer('nobody'), 'NOT_FOUND');
    assert.deepEqual(await ci.status().then((s) => s.touchpoints), await c.status().then((s) => s.touchpoints));

    // ~2,000 touchpoints with properties: a reply of several hundred KiB.
    const many = [];
    for (let i = 0; i < 2000; i++) {
      many.push({
        customerId: 'big',
        eventId: `big-${i}`,
        type: 'CONTENT_VIEW',
        occurredAtMs: T0 + i * MIN,
        properties: { page: `/docs/${i}`, pad: 'x'.repeat(200) },
      });
    }
    assert.equal((await ci.track(many)).accepted, 2000);
    const ex1 = await ci.export('big');
    const ex2 = await c.export('big');
    assert.equal(ex1.touchpoints.length, 2000);
    assert.deepEqual(ex1.touchpoints[1999].properties, { page: '/docs/1999', pad: 'x'.repeat(200) });
    assert.equal(ex1.touchpoints[0].occurredAtMs, T0);
    assert.deepEqual(ex2.touchpoints, ex1.touchpoints);
    assert.deepEqual({ ...ex2.customer, asOfMs: 0 }, { ...ex1.customer, asOfMs: 0 });
    const f = await ci.forget('big');
    assert.deepEqual(f, { touchpointsDeleted: 2000, existed: true });
    await rejectsWith(c.customer('big'), 'NOT_FOUND');
    assert.equal((await c.forget('big')).existed, false);
  } finally {
    await ci.close();
  }
});

test('transport: concurrent calls queue on one connection', async () => {
  const ids = ['alice', 'bob', 'partial', 'cust-1', 'nobody'];
  const calls = [];
  for (let i = 0; i < 60; i++) calls.push(c.customer(ids[i % ids.length], { asOfMs: ALICE_AS_OF }));
  const res = await Promise.allSettled(calls);
  res.forEach((r, i) => {
    const id = ids[i % ids.length];
    if (id === 'nobody') {
      assert.equal(r.status, 'rejected');
      assert.equal(r.reason.codeName, 'NOT_FOUND');
    } else {
      assert.equal(r.status, 'fulfilled', String(r.reason));
      assert.equal(r.value.customerId, id);
    }
  });
});

/*
 * A hand-made SP REP peer: handshake, then frames; onRequest(conn, id,
 * request) decides what to answer. Written here independently of the
 * client's framing code.
 */
async function fakeRep(onRequest) {
  const conns = [];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const conn = { sock, n: conns.length, requests: [] };
    conns.push(conn);
    sock.write(Buffer.from([0, 0x53, 0x50, 0, 0x00, 0x31, 0, 0]));
    let buf = Buffer.alloc(0);
    let hs = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!hs) {
        if (buf.length < 8) return;
        assert.deepEqual([...buf.subarray(0, 8)], [0, 0x53, 0x50, 0, 0x00, 0x30, 0, 0], 'REQ handshake');
        buf = buf.subarray(8);
        hs = true;
      }
      while (buf.length >= 8) {
        const n = Number(buf.readBigUInt64BE(0));
        if (buf.length < 8 + n) break;
        const body = buf.subarray(8, 8 + n);
        buf = buf.subarray(8 + n);
        const id = Buffer.from(body.subarray(0, 4));
        assert.ok(id[0] & 0x80, 'request id without its top bit');
        const req = clm.decode('Request', body.subarray(4));
        conn.requests.push({ id, req });
        onRequest(conn, id, req);
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `tcp://127.0.0.1:${server.address().port}`,
    conns,
    close: () => {
      for (const cn of conns) cn.sock.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

function replyFrame(id, req, version) {
  const payload = Buffer.concat([
    id,
    clm.encode('Response', { requestId: req.requestId, status: { code: 'OK' }, serverStatus: { version } }),
  ]);
  const hdr = Buffer.alloc(8);
  hdr.writeBigUInt64BE(BigInt(payload.length));
  return Buffer.concat([hdr, payload]);
}

async function dribble(sock, bytes) {
  for (const b of bytes) {
    if (sock.destroyed) return;
    sock.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
}

test('transport: partial frames, stale replies, timeouts, broken connections', async () => {
  let mode = 'dribble';
  const late = [];
  const fake = await fakeRep(async (conn, id, req) => {
    const m = mode;
    if (m === 'dribble') {
      // A stale id first (must be skipped), then the reply byte by byte.
      const stale = Buffer.from(id);
      stale.writeUInt32BE(((id.readUInt32BE(0) + 7) | 0x80000000) >>> 0);
      await dribble(conn.sock, Buffer.concat([replyFrame(stale, req, 'stale'), replyFrame(id, req, 'fake-1')]));
    } else if (m === 'silent') {
      late.push(() => conn.sock.write(replyFrame(id, req, 'too-late')));
    } else if (m === 'break-once') {
      mode = 'answer';
      conn.sock.destroy();
    } else if (m === 'break') {
      conn.sock.destroy();
    } else {
      conn.sock.write(replyFrame(id, req, `answer-${conn.n}`));
    }
  });
  const f = new Client(fake.url, { timeoutMs: 2000 });
  try {
    assert.equal((await f.status()).version, 'fake-1');
    assert.equal((await f.status()).version, 'fake-1');

    // No reply: ClmTimeoutError; the late reply is ignored afterwards.
    mode = 'silent';
    const t0 = Date.now();
    await assert.rejects(f.status({ timeoutMs: 200 }), (err) => {
      assert.ok(err instanceof ClmTimeoutError);
      assert.ok(err instanceof ClmConnectionError);
      assert.equal(err.code, 'ETIMEDOUT');
      return true;
    });
    assert.ok(Date.now() - t0 < 1500);
    mode = 'answer';
    late.forEach((fn) => fn());
    assert.equal((await f.status()).version, 'answer-0', 'a stale reply was taken for a new call');

    // The connection breaks under a call: sent again on a new one, with
    // the same request_id.
    mode = 'break-once';
    assert.equal((await f.status()).version, 'answer-1');
    assert.equal(fake.conns.length, 2);
    const lastOf = (cn) => cn.requests[cn.requests.length - 1].req.requestId;
    assert.equal(lastOf(fake.conns[0]), lastOf(fake.conns[1]));

    // retry: false gives the broken connection to the caller.
    const nr = new Client(fake.url, { timeoutMs: 2000, retry: false });
    mode = 'break';
    await assert.rejects(nr.status(), (err) => {
      assert.ok(err instanceof ClmConnectionError && !(err instanceof ClmTimeoutError), String(err));
      assert.equal(err.code, 'ECONNRESET');
      return true;
    });
    mode = 'answer';
    assert.match((await nr.status()).version, /^answer-/, 'no reconnect after a break');
    await nr.close();

    // close(): the queued calls and later ones fail with ECLOSED.
    mode = 'silent';
    const pending = [f.status(), f.status()];
    await f.close();
    for (const p of pending) {
      await assert.rejects(p, (err) => err instanceof ClmConnectionError && err.code === 'ECLOSED');
    }
    await assert.rejects(f.status(), (err) => err.code === 'ECLOSED');
  } finally {
    await f.close();
    await fake.close();
  }
});

test('transport: refused, missing socket, wrong protocol, bad url', async () => {
  const port = await freePort();
  const t0 = Date.now();
  await assert.rejects(new Client(`tcp://127.0.0.1:${port}`, { timeoutMs: 300 }).status(), (err) => {
    assert.ok(err instanceof ClmConnectionError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
    return true;
  });
  assert.ok(Date.now() - t0 < 2000);
  await assert.rejects(
    new Client(`ipc://${path.join(tmpDir(), 'none.sock')}`, { timeoutMs: 300 }).status(),
    (err) => err instanceof ClmConnectionError && err.code === 'ENOENT'
  );
  // The events port speaks PUB, not REP: refused at once.
  const t1 = Date.now();
  await assert.rejects(new Client(srv.eventsUrl, { timeoutMs: 3000 }).status(), (err) => {
    assert.ok(err instanceof ClmConnectionError);
    assert.equal(err.code, 'EPROTO');
    assert.match(err.message, /PUB/);
    return true;
  });
  assert.ok(Date.now() - t1 < 1000);
  assert.throws(() => new Client('http://127.0.0.1:7450'), TypeError);
  assert.throws(() => new Client('tcp://127.0.0.1'), TypeError);
});

test('nothing listens: the first call fails at once, not at its timeout', async () => {
  // As the Python client: a first connect that fails will not be cured by
  // waiting. Generous timeout; the call must end well within a third of it.
  const TIMEOUT_MS = 30000;
  const port = await freePort();
  for (const url of [`tcp://127.0.0.1:${port}`, `ipc://${path.join(tmpDir(), 'none.sock')}`]) {
    const cl = new Client(url, { timeoutMs: TIMEOUT_MS });
    const t0 = Date.now();
    await assert.rejects(cl.status(), (err) => {
      assert.ok(err instanceof ClmConnectionError && !(err instanceof ClmTimeoutError), String(err));
      assert.ok(['ECONNREFUSED', 'ENOENT'].includes(err.code), err.code);
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took < TIMEOUT_MS / 3, `${url}: failed after ${took} ms (timeout ${TIMEOUT_MS} ms)`);
    await cl.close();
  }
});

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('track gives a touchpoint without an event_id a UUID, the same when resent', async () => {
  let mode = 'answer';
  const fake = await fakeRep((conn, id, req) => {
    if (mode === 'break-once') {
      mode = 'answer';
      conn.sock.destroy();
      return;
    }
    conn.sock.write(replyFrame(id, req, 'fake'));
  });
  const sent = () => fake.conns.flatMap((cn) => cn.requests.map((r) => r.req));
  const f = new Client(fake.url, { timeoutMs: 5000 });
  const off = new Client(fake.url, { timeoutMs: 5000, autoEventId: false });
  try {
    const Touchpoint = clm.root.lookupType('clm.v1.Touchpoint');
    const input = { customerId: 'a', type: 'PAGE_VIEW' };
    await f.track([
      input,
      { customerId: 'a', eventId: 'mine', type: 'SIGNUP' },
      { customer_id: 'a', event_id: 'mine-2', type: 'SIGNUP' },
      Touchpoint.create({ customerId: 'a', type: 4 }),
    ]);
    const tps = sent()[0].track.touchpoints;
    assert.match(tps[0].eventId, UUID_V4);
    assert.equal(tps[1].eventId, 'mine');
    assert.equal(tps[2].eventId, 'mine-2');
    assert.match(tps[3].eventId, UUID_V4);
    assert.equal(tps[3].type, 'PAGE_VIEW');
    assert.notEqual(tps[0].eventId, tps[3].eventId);
    assert.equal(input.eventId, undefined, "the caller's object was changed");

    // Each call its own ids.
    await f.track(input);
    const [a, b] = sent().slice(-2).map((r) => r.track.touchpoints[0].eventId);
    assert.match(b, UUID_V4);
    assert.notEqual(a, b);

    // Sent again after a broken connection: the same request, ids included.
    mode = 'break-once';
    await f.track(input);
    const [first, again] = sent().slice(-2);
    assert.equal(fake.conns.length, 2);
    assert.equal(again.requestId, first.requestId);
    assert.match(first.track.touchpoints[0].eventId, UUID_V4);
    assert.equal(again.track.touchpoints[0].eventId, first.track.touchpoints[0].eventId);

    // autoEventId: false sends none.
    await off.track(input);
    assert.equal(sent().slice(-1)[0].track.touchpoints[0].eventId, '');
  } finally {
    await f.close();
    await off.close();
    await fake.close();
  }

  // clmd stores the generated id: a second send of the same touchpoint
  // object is another touchpoint (another id), as in the Python client.
  const r = await c.track({ customerId: 'auto-id', type: 'PAGE_VIEW', channel: 'DIRECT', occurredAtMs: T0 });
  assert.equal(r.accepted, 1);
  assert.match(r.changes[0].eventId, UUID_V4);
  const ex = await c.export('auto-id');
  assert.deepEqual(ex.touchpoints.map((t) => t.eventId), [r.changes[0].eventId]);
});

test('CUSTOM with its eventName, and one order of several items, round trip', async () => {
  assert.equal(clm.TouchpointType.CUSTOM, 28);
  const r = await c.track([
    { eventId: 'cu-1', customerId: 'carla', type: 'PURCHASE', itemId: 'phone',
      orderItems: ['case', 'cable'], value: 530, occurredAtMs: T0 },
    { eventId: 'cu-2', customerId: 'carla', type: 'CUSTOM', eventName: 'Video Played',
      occurredAtMs: T0 + HOUR },
    { event_id: 'cu-3', customer_id: 'carla', type: 28, occurred_at_ms: T0 },
  ]);
  assert.equal(r.accepted, 2);
  assert.equal(r.rejected.length, 1);
  assert.deepEqual(r.rejected[0].status.violations.map((v) => v.field), ['touchpoints[2].event_name']);
  const cu = await c.customer('carla');
  assert.equal(cu.purchases, 1, 'one order');
  assert.equal(cu.revenue, 530);
  assert.equal(cu.stage, 'ACQUISITION', 'CUSTOM moves no stage');
  assert.equal(cu.lastSeenMs, T0 + HOUR, 'CUSTOM is activity');
  assert.deepEqual(cu.touchCounts, [{ type: 'PURCHASE', count: 1 }, { type: 'CUSTOM', count: 1 }]);
  const ex = await c.export('carla');
  assert.deepEqual(
    ex.touchpoints.map((t) => [t.type, t.eventName, t.orderItems]),
    [['PURCHASE', '', ['case', 'cable']], ['CUSTOM', 'Video Played', []]]
  );
});

test('a clmd restart: the same client reconnects; data and dedupe survive', { timeout: 30000 }, async () => {
  const w = watch(srv.eventsUrl, 'stage/');
  await w.ready();
  assert.equal(await srv.stop(), 0, srv.logText());
  // A call made while clmd is down waits for it (within its timeout).
  const pending = c.customer('alice', { asOfMs: ALICE_AS_OF });
  await srv.start();
  const cu = await pending;
  checkJourneyCustomer(cu);
  const d = await c.track(journey.map((s) => touchpoint('alice', s)));
  assert.equal(d.duplicates, journey.length);
  // The watcher reconnects by itself.
  let seen = null;
  for (let k = 0; k < 100 && !seen; k++) {
    await c.track({ customerId: `again-${k}`, eventId: `again-${k}`, type: 'PAGE_VIEW', occurredAtMs: T0 });
    seen = await w.nextWithin(100);
  }
  assert.ok(seen, 'the watcher did not reconnect');
  assert.ok(w.connections >= 2);
  w.close();
});

test('auth tokens', async () => {
  const dir = tmpDir();
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, '# node test\nsekrit-1\n', { mode: 0o600 });
  const guarded = await Clmd.create(['--auth-token-file', tokens]);
  try {
    const none = new Client(guarded.url, { timeoutMs: 3000 });
    await rejectsWith(none.status(), 'UNAUTHENTICATED');
    await none.close();
    const bad = new Client(guarded.url, { timeoutMs: 3000, token: 'sekrit-2' });
    await rejectsWith(bad.track({ customerId: 'g', type: 'SITE_VISIT' }), 'UNAUTHENTICATED');
    await bad.close();
    const good = new Client(guarded.ipcUrl, { timeoutMs: 3000, token: 'sekrit-1' });
    assert.equal((await good.track({ customerId: 'g', eventId: 'g1', type: 'SITE_VISIT' })).accepted, 1);
    assert.equal((await good.status()).touchpoints, 1);
    await good.close();
  } finally {
    assert.equal(await guarded.stop(), 0, guarded.logText());
  }
});

test('tls+tcp:// with client certificates', { timeout: 30000 }, async (t) => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch (e) {
    t.skip('no openssl');
    return;
  }
  const dir = tmpDir();
  const sh = (cmd) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  sh(`openssl req -x509 ${ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=clm-node-ca`);
  for (const n of ['server', 'client']) {
    sh(`openssl req ${ec} -keyout ${n}.key -out ${n}.csr -subj /CN=localhost`);
    sh(
      `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${n}.ext && ` +
        `openssl x509 -req -in ${n}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${n}.crt -days 2 -extfile ${n}.ext`
    );
    sh(`cat ${n}.crt ${n}.key > ${n}.pem`);
  }
  const port = await freePort();
  const url = `tls+tcp://127.0.0.1:${port}`;
  const tlsSrv = await Clmd.create([
    '--listen', url,
    '--tls-cert-file', path.join(dir, 'server.pem'),
    '--tls-ca-file', path.join(dir, 'ca.pem'),
  ]);
  try {
    const read = (f) => fs.readFileSync(path.join(dir, f));
    const tc = new Client(`tls+tcp://localhost:${port}`, {
      timeoutMs: 5000,
      tls: { ca: read('ca.pem'), cert: read('client.crt'), key: read('client.key') },
    });
    assert.equal((await tc.track({ customerId: 'tls', eventId: 't1', type: 'SIGNUP' })).accepted, 1);
    assert.equal((await tc.customer('tls')).funnel, 'MIDDLE');
    await tc.close();
    // Without a client certificate: no connection.
    const anon = new Client(`tls+tcp://localhost:${port}`, { timeoutMs: 1000, retry: false, tls: { ca: read('ca.pem') } });
    await assert.rejects(anon.status(), ClmConnectionError);
    await anon.close();
  } finally {
    assert.equal(await tlsSrv.stop(), 0, tlsSrv.logText());
  }
});

test('npm pack: the tarball installs offline; ESM named imports and require both work', { timeout: 120000 }, async () => {
  // Pack a copy of client/node (beside a copy of proto/, as in the tree),
  // so that the source tree is left as it is.
  const dir = tmpDir();
  const src = path.join(dir, 'src', 'client', 'node');
  const skip = new Set(['node_modules', 'proto'].map((n) => path.join(NODE_CLIENT, n)));
  fs.cpSync(NODE_CLIENT, src, { recursive: true, filter: (f) => !skip.has(f) && !f.endsWith('.tgz') });
  fs.cpSync(path.join(SOURCE_DIR, 'proto'), path.join(dir, 'src', 'proto'), { recursive: true });
  const npmBin = [path.join(path.dirname(process.execPath), 'npm')].find((p) => fs.existsSync(p)) || 'npm';
  const npm = (args, cwd) => {
    try {
      return execFileSync(npmBin, [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd,
        encoding: 'utf8',
        timeout: 90000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      assert.fail(`npm ${args.join(' ')}: ${e.message}\n${e.stdout}\n${e.stderr}`);
    }
  };
  npm(['pack', '--pack-destination', dir], src);
  const tgz = path.join(dir, `clm-client-${require(path.join(NODE_CLIENT, 'package.json')).version}.tgz`);
  assert.ok(fs.existsSync(tgz), 'npm pack made no tarball');
  assert.ok(!fs.existsSync(path.join(src, 'proto')), 'postpack left proto/ behind');

  // An application that depends on the tarball; protobufjs comes from the
  // copy client/node has (no registry needed).
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name": "app", "version": "1.0.0", "private": true}\n');
  fs.cpSync(path.join(NODE_CLIENT, 'node_modules'), path.join(app, 'node_modules'), { recursive: true });
  npm(['install', '--offline', tgz], app);
  const installed = path.join(app, 'node_modules', 'clm-client');
  assert.ok(fs.existsSync(path.join(installed, 'lib', 'index.mjs')));

  const esm = `
import { Client, Stage, ClmError, watch } from 'clm-client';
import clm from 'clm-client';
import * as ns from 'clm-client';
const c = new Client(process.argv[2], { timeoutMs: 10000 });
const r = await c.track({ customerId: 'esm', type: 'PAGE_VIEW', occurredAtMs: ${T0} });
const cu = await c.customer('esm');
let notFound = '';
try { await c.customer('nobody-esm'); } catch (e) { if (e instanceof ClmError) notFound = e.codeName; }
await c.close();
console.log(JSON.stringify({
  named: Object.keys(ns).filter((k) => k !== 'default').sort(),
  cjs: Object.keys(clm).sort(),
  same: Object.keys(clm).every((k) => ns[k] === clm[k]),
  retention: Stage.RETENTION, watch: typeof watch, protoPath: clm.protoPath,
  accepted: r.accepted, generatedId: r.changes[0].eventId, stage: cu.stage, notFound,
}));
`;
  const cjs = `
const { Client, Stage } = require('clm-client');
(async () => {
  const c = new Client(process.argv[2], { timeoutMs: 10000 });
  const r = await c.track({ customerId: 'cjs', type: 'PAGE_VIEW', occurredAtMs: ${T0} });
  await c.close();
  console.log(JSON.stringify({ retention: Stage.RETENTION, stage4: Stage[4], accepted: r.accepted,
    resolved: require.resolve('clm-client'), protoPath: require('clm-client').protoPath }));
})();
`;
  fs.writeFileSync(path.join(app, 'main.mjs'), esm);
  fs.writeFileSync(path.join(app, 'main.cjs'), cjs);
  const env = { ...process.env };
  delete env.CLM_PROTO;
  delete env.CLM_SOURCE_DIR;
  const runApp = (file) => {
    try {
      return JSON.parse(execFileSync(process.execPath, [file, srv.url], { cwd: app, env, encoding: 'utf8', timeout: 60000 }));
    } catch (e) {
      assert.fail(`${file}: ${e.message}\n${e.stdout || ''}\n${e.stderr || ''}`);
    }
  };
  const packedProto = path.join(installed, 'proto', 'clm', 'v1', 'clm.proto');

  const m = runApp('main.mjs');
  assert.deepEqual(m.named, m.cjs, 'the ES module and the CommonJS one export different names');
  assert.ok(m.named.includes('Stage') && m.named.includes('Client'));
  assert.ok(m.same, 'an ESM export is not the CommonJS object');
  assert.equal(m.retention, 4);
  assert.equal(m.watch, 'function');
  assert.equal(fs.realpathSync(m.protoPath), fs.realpathSync(packedProto));
  assert.equal(m.accepted, 1);
  assert.match(m.generatedId, UUID_V4);
  assert.equal(m.stage, 'REACH');
  assert.equal(m.notFound, 'NOT_FOUND');

  const j = runApp('main.cjs');
  assert.equal(j.retention, 4);
  assert.equal(j.stage4, 'RETENTION');
  assert.equal(j.accepted, 1);
  assert.equal(fs.realpathSync(j.resolved), fs.realpathSync(path.join(installed, 'lib', 'index.js')));
  assert.equal(fs.realpathSync(j.protoPath), fs.realpathSync(packedProto));
});

test('lib/index.d.ts is up to date with clm.proto', () => {
  const gen = path.join(NODE_CLIENT, 'scripts', 'gen-types.js');
  try {
    execFileSync(process.execPath, [gen, '--check'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    assert.fail(String(e.stderr || e.message));
  }
});
