'use strict';
/*
 * Record what the real tracking SDKs send: a local HTTP server on
 * 127.0.0.1 (a free port) stands in for their service, each SDK is pointed
 * at it through its host setting alone, sends the journey of journey.js,
 * and every request that arrives is written to OUTDIR as
 *
 *   <name>-<n>.req.json   method, path and query, every header as sent
 *                         (raw names, in order), the body's size and
 *                         sha256, and what the server answered
 *   <name>-<n>.body       the body's bytes exactly as they arrived
 *   <name>-<n>.inflated.json
 *                         the same body inflated, when it came gzipped
 *
 * where <name> is the SDK, with "-plain" for the runs with compression off
 * (the SDKs compress by default where they can). The server answers what
 * the real services answer to a good batch: 200 {"success":true} on
 * Segment's and RudderStack's routes, 200 {"status":1} on PostHog's.
 *
 *   node capture.js OUTDIR       (npm run capture, from this directory)
 *
 * Bodies hold sentAt / sent_at (the send time) and the ids and times the
 * SDKs make up themselves (see journey.js), so they differ from run to
 * run there and nowhere else.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');

const { journeyIds, send } = require('./journey');

const WRITE_KEY = 'wk_test_4f2c9a';
const POSTHOG_KEY = 'phc_test_8e1b77';

/* The runs: which SDK, with which options, recorded under which name. */
const RUNS = [
  { name: 'segment', sdk: 'segment', key: WRITE_KEY, opts: {} },
  { name: 'rudder', sdk: 'rudder', key: WRITE_KEY, opts: {} },
  { name: 'rudder-plain', sdk: 'rudder', key: WRITE_KEY, opts: { gzip: false } },
  { name: 'posthog', sdk: 'posthog', key: POSTHOG_KEY, opts: {} },
  { name: 'posthog-plain', sdk: 'posthog', key: POSTHOG_KEY, opts: { gzip: false } },
];

function answer(url) {
  if (url.startsWith('/v1/')) return { status: 200, body: '{"success":true}' };
  if (/^\/(batch|capture|e|i\/v0\/e)\/?(\?|$)/.test(url)) return { status: 200, body: '{"status":1}' };
  return { status: 404, body: '{"error":"not found"}' };
}

/* JSON, indented, with each header pair on a line of its own. */
function format(rec) {
  const text = JSON.stringify(rec, null, 2);
  return (
    text.replace(/"headers": \[[\s\S]*?\n  \]/, () => {
      const lines = rec.headers.map((h) => `    ${JSON.stringify(h)}`);
      return `"headers": [\n${lines.join(',\n')}\n  ]`;
    }) + '\n'
  );
}

function isGzip(buf) {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

async function main() {
  const outDir = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'data', 'sdk'));
  fs.mkdirSync(outDir, { recursive: true });

  let current = null; // the run whose requests are arriving
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const ans = answer(req.url);
      const n = current.requests.length + 1;
      const base = `${current.name}-${n}`;
      const rec = {
        sdk: current.sdk,
        version: current.version,
        node: process.version,
        method: req.method,
        path: req.url,
        httpVersion: req.httpVersion,
        // [name, value] as sent: case and order kept, repeats kept.
        headers: [],
        body: {
          file: `${base}.body`,
          bytes: body.length,
          sha256: crypto.createHash('sha256').update(body).digest('hex'),
          gzip: isGzip(body),
        },
        response: { status: ans.status, contentType: 'application/json', body: ans.body },
      };
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        rec.headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      fs.writeFileSync(path.join(outDir, `${base}.body`), body);
      if (rec.body.gzip) {
        const inflated = zlib.gunzipSync(body);
        rec.body.inflated = { file: `${base}.inflated.json`, bytes: inflated.length };
        fs.writeFileSync(path.join(outDir, `${base}.inflated.json`), inflated);
      }
      fs.writeFileSync(path.join(outDir, `${base}.req.json`), format(rec));
      current.requests.push(rec);
      res.writeHead(ans.status, { 'Content-Type': 'application/json' });
      res.end(ans.body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const host = `http://127.0.0.1:${server.address().port}`;

  // Older recordings of a run go first, so none is left over from them.
  for (const f of fs.readdirSync(outDir)) {
    if (RUNS.some((r) => f.startsWith(`${r.name}-`) && /^[a-z-]+-\d+\./.test(f))) {
      const stem = f.replace(/-\d+\..*$/, '');
      if (RUNS.some((r) => r.name === stem)) fs.unlinkSync(path.join(outDir, f));
    }
  }

  const pkgs = {
    segment: '@segment/analytics-node',
    rudder: '@rudderstack/rudder-sdk-node',
    posthog: 'posthog-node',
  };
  let failed = false;
  for (const run of RUNS) {
    const pkg = require(path.join(__dirname, 'node_modules', pkgs[run.sdk], 'package.json'));
    current = { name: run.name, sdk: pkgs[run.sdk], version: pkg.version, requests: [] };
    const errors = await send[run.sdk](host, run.key, journeyIds(run.sdk), run.opts);
    const sizes = current.requests.map((r) => `${r.method} ${r.path} ${r.body.bytes} B`).join(', ');
    console.log(`${run.name} (${pkg.name} ${pkg.version}): ${current.requests.length} requests: ${sizes}`);
    if (errors.length) {
      failed = true;
      for (const e of errors) console.error(`${run.name}: delivery error: ${e && (e.message || e.code || e)}`);
    }
  }
  await new Promise((resolve) => server.close(resolve));
  if (failed) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
