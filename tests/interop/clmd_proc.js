'use strict';
/*
 * clmd processes for the Node interop tests (node_*_test.js, sdk_test.js):
 * temp dirs and free loopback ports, a clmd spawned so that it dies with
 * the test even when the test is SIGKILLed, and stopped by its pid. Each
 * test waits for readiness its own way (what it needs to answer).
 */
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const children = new Set();
const tmpDirs = [];

// clmd dies with this process even if it is SIGKILLed (a ctest timeout):
// setpriv sets PR_SET_PDEATHSIG before exec, as the C harness does.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => {
  try {
    execFileSync(p, ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return false;
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => process.exit(128 + os.constants.signals[sig]));
}
process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch (e) {
      /* already gone */
    }
  }
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A new directory under the system's temp dir, removed at exit. */
function tmpDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

/*
 * Ports outside the ephemeral range (as tests/freeport.h): the kernel's pick
 * for listen(0) comes from the range every outbound connection takes its
 * local port from too, so another test's connection could take it before
 * clmd binds it ("Address in use"). Outside the range the kernel hands
 * out nothing by itself: at random, a port there (below it, or above it
 * when it starts low) that can be bound on every IPv4 address now; never
 * the same one twice in a process.
 */
const PORT_LOW = 10000; // ports below are left to system services
const givenPorts = new Set();

let saidRange = false;

/*
 * The ports to pick from, [lo, hi), as tests/freeport.c's freeport_range:
 * below the ephemeral range when there is room for 1,000 there, else
 * above it, else all (said once on stderr); the range's last port left
 * out.
 */
function portRange() {
  let low = 32768;
  let high = 60999; // Linux's default
  try {
    const [l, h] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (l >= 1 && l <= h && h <= 65535) [low, high] = [l, h];
  } catch (e) {
    /* not Linux: its default */
  }
  if (low > PORT_LOW + 1000) return [PORT_LOW, low - 1];
  if (high < 65535 - 1000) return [high + 1, 65535];
  if (!saidRange) {
    process.stderr.write(`freePort: the ephemeral ports are ${low}-${high}: a connection may take a test server's port\n`);
    saidRange = true;
  }
  return [PORT_LOW, 65535];
}

// Node's listen sets SO_REUSEADDR, so a port in TIME_WAIT counts as free
// here; clmd's (NNG's) listeners set it too, so they can bind it as well.
function bindable(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** A loopback TCP port nothing listens on now (see above). */
async function freePort() {
  const [lo, hi] = portRange();
  for (let i = 0; i < 4 * (hi - lo); i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo));
    if (givenPorts.has(port)) continue;
    givenPorts.add(port); // before the await: a concurrent call skips it
    if (await bindable(port)) return port;
    givenPorts.delete(port);
  }
  throw new Error(`freePort: no free port in ${lo}-${hi - 1}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * A clmd process: start() spawns bin with args, its output appended to
 * log; exited resolves with its exit code or "signal X" / "error E", and
 * exitStatus() says it (null while it runs).
 */
class ClmdProcess {
  constructor(bin, log) {
    this.bin = bin;
    this.log = log;
  }

  spawn(args) {
    const log = fs.openSync(this.log, 'a');
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', this.bin, ...args], { stdio: ['ignore', log, log] })
      : spawn(this.bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    this.exit = null;
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => resolve(`error ${err.code}`));
      child.on('exit', (code, sig) => resolve(sig ? `signal ${sig}` : code));
    });
    this.exited.then((st) => {
      children.delete(child);
      this.exit = st;
    });
    children.add(child);
  }

  exitStatus() {
    return this.exit;
  }

  logText() {
    try {
      return fs.readFileSync(this.log, 'utf8');
    } catch (e) {
      return '';
    }
  }

  /** The log's size in bytes now (0 before it exists). */
  logSize() {
    try {
      return fs.statSync(this.log).size;
    } catch (e) {
      return 0;
    }
  }

  /**
   * The first of urls that the log, from byte from on, says clmd could not
   * bind ("address in use": another process took the port after freePort
   * picked it), or null.
   */
  portTaken(from, urls) {
    let text = '';
    try {
      text = fs.readFileSync(this.log).subarray(from).toString('utf8').toLowerCase();
    } catch (e) {
      return null;
    }
    return urls.find((u) => text.includes(`'${u}': address in use`)) || null;
  }

  /**
   * Runs start(), and when clmd exits at start because one of the ports
   * ports() names was taken first, pickPorts() and start() again (up to 4
   * times in all).
   */
  async startOnFreePorts(ports, pickPorts) {
    for (let attempt = 1; ; attempt++) {
      const from = this.logSize();
      try {
        return await this.start();
      } catch (e) {
        const taken = this.exitStatus() !== null && this.portTaken(from, ports());
        if (!taken || attempt === 4) throw e;
        process.stderr.write(`clmd's port ${taken} was taken at start; again on new ports\n`);
        await pickPorts();
      }
    }
  }

  /** SIGTERM; its exit status (SIGKILL after 10 s). */
  async stop() {
    if (!children.has(this.child)) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    const st = await this.exited;
    clearTimeout(t);
    return st;
  }
}

module.exports = { tmpDir, freePort, sleep, ClmdProcess };
