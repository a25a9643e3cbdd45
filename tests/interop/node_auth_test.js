'use strict';
/*
 * The Node.js client (client/node) against a clmd that asks who calls:
 * auth tokens (none, a wrong one, the right one over ipc://) and
 * tls+tcp:// with client certificates (with one; without one, no
 * connection). Each test starts its own clmd.
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { freePort } = require('./clmd_proc');
const { clm, tmpDir, Clmd, rejectsWith } = require('./node_fixture');

const { Client, ClmConnectionError } = clm;

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
