'use strict';
/*
 * The Node.js client (client/node) against a real clmd: the events stream
 * through watch(), the stage changes of the journey of
 * tests/integration/stages.c as published (the replied events, seq
 * by seq) and a risk signal on its own topic.
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { clm, openClmd, closeClmd, journey, trackInOrder, trackNew, waitLive } = require('./node_fixture');

const { watch } = clm;

let srv;
let c;

before(async () => {
  ({ srv, c } = await openClmd());
});

after(() => closeClmd(srv, c));

test('watch: stage changes and risk signals on the stream', { timeout: 60000 }, async () => {
  const stages = watch(srv.eventsUrl, 'stage/');
  const risks = watch(srv.eventsUrl, ['risk/']);
  await Promise.all([stages.ready(), risks.ready()]);
  // PUB drops what it sends before the subscription is up: probe until an
  // event arrives, then drain to a marker (node_fixture.js).
  await waitLive(c, stages, 'probe');

  const replies = await trackInOrder(c, 'wendy');
  let last = 0;
  let got = 0;
  for (let i = 0; i < journey.length; i++) {
    for (const want of replies[i]) {
      const item = await stages.nextWithin(10000);
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
  const timer = setTimeout(() => risks.close(), 10000);
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
  // Nothing came on stage/ for the refund: the next stage/ event is that
  // of a customer tracked after it (one writer publishes in order), and
  // nothing at all was published in between.
  const change = await trackNew(c, 'after-refund');
  const item = await stages.nextWithin(10000);
  assert.ok(item, 'no event of after-refund');
  assert.equal(item.event.customerId, 'after-refund', 'a risk signal on stage/');
  assert.equal(item.topic, 'stage/REACH');
  assert.deepEqual(item.event, change, 'the published event is the replied one');
  assert.equal(item.event.seq, risk.event.seq + 1);
  stages.close();
  assert.deepEqual(await stages.next(), { value: undefined, done: true });
});
