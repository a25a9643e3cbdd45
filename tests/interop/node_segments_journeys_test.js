'use strict';
/*
 * The Node.js client (client/node) against a real clmd: segments
 * (docs/segments.md: define, backfill, count, members page by page,
 * delete, a bad expression) and journeys (docs/journeys.md: define, the
 * messages in the feed page by page, statistics, replace, a bad
 * definition, delete).
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { sleep } = require('./clmd_proc');
const { openClmd, closeClmd, rejectsWith } = require('./node_fixture');

let srv;
let c;

before(async () => {
  ({ srv, c } = await openClmd());
});

after(() => closeClmd(srv, c));

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
