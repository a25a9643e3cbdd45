'use strict';
/*
 * The Node.js client (client/node) against a real clmd, call by call: the
 * journey of tests/integration/stages.c through five stages with
 * fixed event times, duplicates on event_id, health as of a time, the same
 * customer from reversed arrival, rejected items and their field
 * violations (ClmError INVALID_ARGUMENT), NOT_FOUND, an Identify merge,
 * Recommend with an idempotent claim, Metrics, RecordSpend and Cohorts for
 * that journey, an experiment, positions (minPosition, readYourWrites), and
 * CUSTOM events and orders of several items. The tests run in order on one
 * clmd: each builds on the customers the ones before it left.
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const {
  clm,
  HOUR,
  DAY,
  T0,
  Y2K,
  ALICE_AS_OF,
  openClmd,
  closeClmd,
  journey,
  touchpoint,
  checkChange,
  trackInOrder,
  touchCount,
  checkJourneyCustomer,
  sameButName,
  rejectsWith,
} = require('./node_fixture');

const { Client } = clm;

let srv;
let c;

before(async () => {
  ({ srv, c } = await openClmd());
});

after(() => closeClmd(srv, c));

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
