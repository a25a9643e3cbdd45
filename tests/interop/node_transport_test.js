'use strict';
/*
 * The Node.js client's transport (client/node) against a real clmd and a
 * hand-made SP peer where a real clmd cannot be made to misbehave: the
 * same answers over ipc:// and big replies in many chunks, concurrent
 * calls queued on one connection, partial frames, stale replies, timeouts,
 * broken connections and reconnects, failing fast when nothing listens,
 * generated event ids that stay the same when a call is sent again, and a
 * clmd restart under a client and a watcher.
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const net = require('node:net');
const path = require('node:path');
const { freePort } = require('./clmd_proc');
const {
  clm,
  MIN,
  HOUR,
  T0,
  ALICE_AS_OF,
  UUID_V4,
  tmpDir,
  openClmd,
  closeClmd,
  journey,
  touchpoint,
  trackInOrder,
  checkJourneyCustomer,
  rejectsWith,
} = require('./node_fixture');

const { Client, watch, ClmConnectionError, ClmTimeoutError } = clm;

let srv;
let c;

before(async () => {
  ({ srv, c } = await openClmd());
  // The customers the calls below ask for, as the calls of
  // node_calls_test.js leave them: alice and bob through the whole
  // journey, partial with one touchpoint, cust-1 an identified anonymous
  // profile.
  await trackInOrder(c, 'alice');
  await trackInOrder(c, 'bob');
  await c.track({ eventId: 'partial-ok', customerId: 'partial', type: 'PAGE_VIEW', occurredAtMs: T0 });
  await c.track([
    { anonymousId: 'anon-web-1', eventId: 'a1-e1', type: 'AD_CLICK', channel: 'PAID_ADS', occurredAtMs: T0 },
    { anonymousId: 'anon-web-1', eventId: 'a1-e2', type: 'PAGE_VIEW', occurredAtMs: T0 + HOUR },
    { anonymousId: 'anon-web-1', eventId: 'a1-e3', type: 'ADD_TO_CART', itemId: 'sku-1', occurredAtMs: T0 + 2 * HOUR },
  ]);
  assert.equal((await c.identify('anon-web-1', 'cust-1', { plan: 'pro', seats: 3 })).merged, true);
});

after(() => closeClmd(srv, c));

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
