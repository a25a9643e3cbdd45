'use strict';
/*
 * The Node.js client (client/node) as a package: `npm pack` makes a
 * tarball that installs offline into an empty application, whose ES module
 * (named imports, the same names as the CommonJS entry) and CommonJS
 * script then call a real clmd; and lib/index.d.ts is up to date with
 * clm.proto.
 *
 * Shared helpers: node_fixture.js, clmd_proc.js.
 */
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { SOURCE_DIR, NODE_CLIENT, T0, UUID_V4, tmpDir, openClmd, closeClmd } = require('./node_fixture');

let srv;
let c;

before(async () => {
  ({ srv, c } = await openClmd());
});

after(() => closeClmd(srv, c));

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
