'use strict';
/*
 * What each tracking SDK does with the answers a server may give: for
 * each status below, a local server on 127.0.0.1 answers it to the
 * first request and 200 to every later one; the SDK sends one track
 * event and flushes, with 2 retries allowed and short delays. Printed:
 * how many requests arrived (1 = no retry) and whether the SDK reported
 * the event as failed. Also a 200 whose body is not what the service
 * sends, to show whether the SDKs read it at all.
 *
 *   node probe.js       (the table of tests/data/sdk/README.md)
 */
const http = require('node:http');
const path = require('node:path');

const load = (name) => require(path.join(__dirname, 'node_modules', name));

const CASES = [
  [200, '{"success":true}'],
  [200, 'not json'],
  [400, '{"error":"bad"}'],
  [401, '{"error":"unauthorized"}'],
  [404, 'not found'],
  [408, ''],
  [413, ''],
  [429, ''],
  [500, ''],
  [501, ''],
  [503, ''],
];

/* Send one event with sdk to host; resolves with whether it failed. */
async function sendOne(sdk, host) {
  if (sdk === 'segment') {
    const { Analytics } = load('@segment/analytics-node');
    const a = new Analytics({ writeKey: 'wk', host, maxRetries: 2, flushInterval: 60000 });
    let failed = false;
    a.on('error', () => {
      failed = true;
    });
    a.track({ userId: 'u1', event: 'Probe', messageId: 'p1' });
    await a.closeAndFlush({ timeout: 30000 });
    return failed;
  }
  if (sdk === 'rudder') {
    const Analytics = load('@rudderstack/rudder-sdk-node');
    const c = new Analytics('wk', {
      dataPlaneUrl: host,
      retryCount: 2,
      flushInterval: 60000,
      logLevel: 'off',
      axiosRetryConfig: { retryDelay: () => 50 },
    });
    let failed = false;
    await new Promise((resolve) => {
      c.track({ userId: 'u1', event: 'Probe', messageId: 'p1' }, (err) => {
        failed = Boolean(err);
        resolve();
      });
      c.flush().catch(() => {});
    });
    return failed;
  }
  const { PostHog } = load('posthog-node');
  const p = new PostHog('phc', { host, flushAt: 100, flushInterval: 0, fetchRetryCount: 2, fetchRetryDelay: 50 });
  let failed = false;
  p.on('error', () => {
    failed = true;
  });
  p.capture({ distinctId: 'u1', event: 'Probe', uuid: '01941a2b-3c4d-7e5f-8000-000000000001' });
  await p.shutdown(30000).catch(() => {
    failed = true;
  });
  return failed;
}

async function probe(sdk, status, body) {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n += 1;
      const s = n === 1 ? status : 200;
      res.writeHead(s, { 'Content-Type': 'application/json' });
      res.end(n === 1 ? body : '{"success":true}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const host = `http://127.0.0.1:${server.address().port}`;
  const failed = await sendOne(sdk, host);
  await new Promise((r) => server.close(r));
  return { requests: n, failed };
}

async function main() {
  // The SDKs log what fails; the table says it.
  console.error = () => {};
  console.warn = () => {};
  const sdks = ['segment', 'rudder', 'posthog'];
  console.log(`| first answer | ${sdks.join(' | ')} |`);
  console.log(`|---|${sdks.map(() => '---').join('|')}|`);
  for (const [status, body] of CASES) {
    const cells = [];
    for (const sdk of sdks) {
      const r = await probe(sdk, status, body);
      cells.push(`${r.requests} request${r.requests > 1 ? 's' : ''}${r.failed ? ', failed' : ''}`);
    }
    const label = body && status === 200 ? `${status} \`${body}\`` : `${status}`;
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
