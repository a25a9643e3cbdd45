'use strict';
/*
 * What the Node client's interop tests (tests/interop/node_*_test.js)
 * share beyond clmd_proc.js: the client (client/node) and the clmd binary
 * they drive, a Clmd on a temp dir with free ports and an ipc socket, the
 * journey of tests/integration/stages.c with its checks, waitLive() and
 * the other helpers of the event stream, and rejectsWith() for ClmErrors.
 *
 * Env: CLMD_BIN (else $CLM_BUILD_DIR/bin/clmd, else build/bin/clmd).
 * Every clmd started here is killed when the test ends, whatever happens.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

// The test file that runs, for the messages below.
const TEST_NAME = path.basename((require.main && require.main.filename) || 'node_fixture.js', '.js');

const SOURCE_DIR = process.env.CLM_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const NODE_CLIENT = path.join(SOURCE_DIR, 'client', 'node');
if (!fs.existsSync(path.join(NODE_CLIENT, 'node_modules', 'protobufjs'))) {
  console.error(
    `${TEST_NAME}: protobufjs is not installed in ${NODE_CLIENT}: run tools/install-deps.sh ` +
      '(or npm ci there)'
  );
  process.exit(1);
}
const clm = require(NODE_CLIENT);
const clmdProc = require('./clmd_proc');
const { freePort, sleep, ClmdProcess } = clmdProc;
const { Client, ClmError } = clm;

const CLMD_BIN =
  process.env.CLMD_BIN ||
  (process.env.CLM_BUILD_DIR && path.join(process.env.CLM_BUILD_DIR, 'bin', 'clmd')) ||
  path.join(SOURCE_DIR, 'build', 'bin', 'clmd');
if (!fs.existsSync(CLMD_BIN)) {
  console.error(`${TEST_NAME}: no clmd at '${CLMD_BIN}' (set CLMD_BIN)`);
  process.exit(1);
}

const MIN = 60000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = 1768003200000; // 2026-01-10T00:00:00Z, a Saturday
const Y2K = 946684800000;
const ALICE_AS_OF = T0 + 21 * DAY;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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
    const pick = async () => {
      p.port = await freePort();
      do p.eventsPort = await freePort();
      while (p.eventsPort === p.port);
      p.url = `tcp://127.0.0.1:${p.port}`;
      p.eventsUrl = `tcp://127.0.0.1:${p.eventsPort}`;
    };
    await pick();
    p.ipcUrl = `ipc://${path.join(p.dir, 'clmd.sock')}`;
    p.extra = extra;
    await p.startOnFreePorts(() => [p.url, p.eventsUrl], pick);
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

/** The clmd a test file shares, and a Client on it: its before hook. */
async function openClmd() {
  const srv = await Clmd.create();
  const c = new Client(srv.url, { timeoutMs: 5000 });
  return { srv, c };
}

/** Closes c and stops srv, which must exit with 0: the after hook. */
async function closeClmd(srv, c) {
  if (c) await c.close();
  if (srv) {
    const st = await srv.stop();
    assert.equal(st, 0, `clmd exit status ${st}\n${srv.logText()}`);
  }
}

/* ------------------------------------------------------------------ */
/* The journey of stages.c                                              */

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

/* ------------------------------------------------------------------ */
/* The event stream (watch())                                           */

/**
 * Tracks a PAGE_VIEW of customer, a new one: a stage change (to REACH, on
 * stage/REACH). Returns the replied change.
 */
async function trackNew(c, customer) {
  const r = await c.track({ customerId: customer, eventId: customer, type: 'PAGE_VIEW', occurredAtMs: T0 });
  assert.equal(r.changes.length, 1, `changes of ${customer}`);
  return r.changes[0];
}

/**
 * Reads w until an event of customer arrives and returns it, discarding
 * the events before it; null if it does not arrive within timeoutMs or
 * limit events.
 */
async function nextOf(w, customer, timeoutMs = 10000, limit = 500) {
  const deadline = Date.now() + timeoutMs;
  for (let n = 0; n < limit; n++) {
    const left = deadline - Date.now();
    if (left <= 0) return null;
    const item = await w.nextWithin(left);
    if (item === null) return null;
    if (item.event.customerId === customer) return item;
  }
  return null;
}

/**
 * PUB drops what it sends before the subscription is up: tracks new
 * customers (name-0, name-1, ...) until an event arrives on w (a stage/
 * watcher), then drains the probes' events still to come. Not by waiting
 * for silence, which proves nothing on a loaded machine: it tracks one
 * more new customer, the marker name-marker, and reads until its event.
 * clmd's single writer publishes in the order it writes, and one Client's
 * calls are written in the order they are made, so every probe's event
 * comes before the marker's.
 */
async function waitLive(c, w, name) {
  let up = false;
  for (let k = 0; k < 100 && !up; k++) {
    await c.track({ customerId: `${name}-${k}`, eventId: `${name}-${k}`, type: 'PAGE_VIEW', occurredAtMs: T0 });
    up = (await w.nextWithin(100)) !== null;
  }
  assert.ok(up, `no event arrived on ${w.url}`);
  const marker = await trackNew(c, `${name}-marker`);
  const item = await nextOf(w, marker.customerId);
  assert.ok(item, `no event of ${marker.customerId} on ${w.url}`);
  assert.deepEqual(item.event, marker, 'the marker\'s event is the replied one');
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

module.exports = {
  clm,
  SOURCE_DIR,
  NODE_CLIENT,
  CLMD_BIN,
  MIN,
  HOUR,
  DAY,
  T0,
  Y2K,
  ALICE_AS_OF,
  UUID_V4,
  tmpDir,
  Clmd,
  openClmd,
  closeClmd,
  journey,
  touchpoint,
  checkChange,
  trackInOrder,
  touchCount,
  checkJourneyCustomer,
  trackNew,
  nextOf,
  waitLive,
  sameButName,
  rejectsWith,
};
