'use strict';
/*
 * The SP (scalability protocols: nanomsg / NNG) wire format, over TCP, TLS
 * and IPC (Unix sockets), written with node's net and tls.
 *
 * A connection starts with an 8-byte header each way: "\0SP\0", the
 * sender's protocol as a 16-bit big-endian number (REQ 0x30, REP 0x31,
 * SUB 0x21, PUB 0x20) and two zero bytes; each side checks that the other
 * speaks the protocol it pairs with. Then every message is a 64-bit
 * big-endian length and that many bytes. Over IPC each message has one
 * more byte in front, its type, which is always 1 (that is how NNG's and
 * nanomsg's ipc transports frame it). Over TLS the framing is TCP's, inside
 * the TLS stream.
 *
 * SpPipe is one such connection: it parses frames from whatever chunks the
 * socket delivers (a frame may arrive one byte at a time, or many in one
 * chunk) and emits 'message' (Buffer) per frame and 'close' (Error or null)
 * once.
 */
const net = require('net');
const tls = require('tls');
const { EventEmitter } = require('events');
const { ClmConnectionError, ClmTimeoutError } = require('./errors');

const PROTO = Object.freeze({ REQ: 0x30, REP: 0x31, SUB: 0x21, PUB: 0x20 });
const PROTO_NAME = { 0x30: 'REQ', 0x31: 'REP', 0x21: 'SUB', 0x20: 'PUB', 0x10: 'PAIR', 0x11: 'PAIR1' };
const PEER = { [PROTO.REQ]: PROTO.REP, [PROTO.SUB]: PROTO.PUB };

/**
 * Parses an SP URL: tcp://HOST:PORT, tls+tcp://HOST:PORT ([v6 address]
 * in brackets) or ipc://PATH (ipc:///tmp/clmd.sock is /tmp/clmd.sock).
 */
function parseUrl(url) {
  if (typeof url !== 'string') throw new TypeError(`url must be a string, not ${typeof url}`);
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(url);
  if (!m) throw new TypeError(`bad url '${url}': want tcp://HOST:PORT or ipc://PATH`);
  const scheme = m[1].toLowerCase();
  const rest = m[2];
  if (scheme === 'ipc') {
    if (rest === '') throw new TypeError(`bad url '${url}': no socket path`);
    return { kind: 'ipc', path: rest, url };
  }
  if (scheme === 'tcp' || scheme === 'tcp4' || scheme === 'tcp6' || scheme === 'tls+tcp') {
    const hm = /^(?:\[([^\]]+)\]|([^:/[\]]*)):(\d+)$/.exec(rest);
    if (!hm) throw new TypeError(`bad url '${url}': want ${scheme}://HOST:PORT`);
    const port = Number(hm[3]);
    if (port < 1 || port > 65535) throw new TypeError(`bad url '${url}': port out of range`);
    const host = hm[1] || hm[2] || '127.0.0.1';
    return { kind: scheme === 'tls+tcp' ? 'tls' : 'tcp', host, port, url };
  }
  throw new TypeError(`unsupported url '${url}': clm-client speaks tcp://, ipc:// and tls+tcp://`);
}

function header(proto) {
  return Buffer.from([0x00, 0x53, 0x50, 0x00, (proto >> 8) & 0xff, proto & 0xff, 0x00, 0x00]);
}

/* Node's socket error, as a ClmConnectionError naming the URL. */
function connError(url, err, what = 'cannot connect to') {
  if (err instanceof ClmConnectionError) return err;
  const reason = err && err.code ? `${err.code}${err.message ? ` (${err.message})` : ''}` : String(err && err.message);
  return new ClmConnectionError(`${what} '${url}': ${reason}`, { url, cause: err, code: err && err.code });
}

class SpPipe extends EventEmitter {
  /**
   * Connects to target (from parseUrl) as protocol proto and completes the
   * SP handshake by deadline (a Date.now() value).
   * @param {object} opts {deadline, tls (tls.connect options), maxMessageBytes}
   * @returns {Promise<SpPipe>}
   */
  static open(target, proto, opts = {}) {
    return new Promise((resolve, reject) => {
      const pipe = new SpPipe(target, proto, opts);
      pipe._start(resolve, reject);
    });
  }

  constructor(target, proto, opts) {
    super();
    this.target = target;
    this.url = target.url;
    this.proto = proto;
    this.peer = PEER[proto];
    this.ipc = target.kind === 'ipc';
    this.maxMessageBytes = opts.maxMessageBytes || 0;
    this.deadline = opts.deadline || Date.now() + 10000;
    this.tlsOptions = opts.tls || {};
    this.socket = null;
    this.closed = false;
    this.handshaken = false;
    // Received bytes not parsed yet: a list of chunks and their total.
    this._chunks = [];
    this._have = 0;
    // The frame being read: its header length, then its body length.
    this._need = 8; // the handshake first
    this._inBody = false;
    // After the handshake nothing is emitted until start(): the owner
    // attaches its listeners first.
    this._held = true;
    this._pendingClose = undefined;
  }

  /** Starts emitting 'message' and 'close' (call once listeners are on). */
  start() {
    if (!this._held) return;
    this._held = false;
    if (this._pendingClose !== undefined) {
      const err = this._pendingClose;
      this._pendingClose = undefined;
      this.emit('close', err);
      return;
    }
    this._onData(null);
  }

  _start(resolve, reject) {
    const t = this.target;
    let settled = false;
    const done = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        this._destroy();
        reject(err);
      } else {
        resolve(this);
      }
    };
    const left = Math.max(1, this.deadline - Date.now());
    const timer = setTimeout(
      () => done(new ClmTimeoutError(`cannot connect to '${this.url}': no SP handshake within ${left} ms`, { url: this.url })),
      left
    );
    let sock;
    if (t.kind === 'ipc') {
      sock = net.connect({ path: t.path });
    } else if (t.kind === 'tls') {
      sock = tls.connect({ host: t.host, port: t.port, servername: net.isIP(t.host) ? undefined : t.host, ...this.tlsOptions });
    } else {
      sock = net.connect({ host: t.host, port: t.port });
    }
    this.socket = sock;
    sock.setNoDelay && sock.setNoDelay(true);
    const onConnect = () => sock.write(header(this.proto));
    sock.once(t.kind === 'tls' ? 'secureConnect' : 'connect', onConnect);
    sock.on('data', (chunk) => this._onData(chunk));
    sock.on('error', (err) => {
      if (!this.handshaken) done(connError(this.url, err));
      else this._close(connError(this.url, err, 'connection to'));
    });
    sock.on('close', () => {
      if (!this.handshaken) done(new ClmConnectionError(`cannot connect to '${this.url}': the peer closed the connection during the SP handshake`, { url: this.url, code: 'ECONNRESET' }));
      else this._close(new ClmConnectionError(`connection to '${this.url}' closed by the peer`, { url: this.url, code: 'ECONNRESET' }));
    });
    this._handshakeDone = done;
  }

  _onData(chunk) {
    if (this.closed) return;
    if (chunk) {
      this._chunks.push(chunk);
      this._have += chunk.length;
    }
    while (this._have >= this._need && !this.closed && !(this.handshaken && this._held)) {
      const buf = this._take(this._need);
      if (!this.handshaken) {
        this._checkHandshake(buf);
        continue;
      }
      if (!this._inBody) {
        if (this.ipc && buf[0] !== 1) {
          this._close(new ClmConnectionError(`protocol error on '${this.url}': ipc message type ${buf[0]}`, { url: this.url, code: 'EPROTO' }));
          return;
        }
        const len = buf.readBigUInt64BE(this.ipc ? 1 : 0);
        if ((this.maxMessageBytes && len > BigInt(this.maxMessageBytes)) || len > BigInt(0x7fffffff)) {
          this._close(new ClmConnectionError(`message of ${len} bytes from '${this.url}' is over the limit of ${this.maxMessageBytes} bytes`, { url: this.url, code: 'EMSGSIZE' }));
          return;
        }
        this._need = Number(len);
        this._inBody = true;
        if (this._need === 0) this._frame(Buffer.alloc(0));
      } else {
        this._frame(buf);
      }
    }
  }

  _frame(body) {
    this._inBody = false;
    this._need = this.ipc ? 9 : 8;
    this.emit('message', body);
  }

  /* The next n received bytes, as one Buffer. */
  _take(n) {
    if (n === 0) return Buffer.alloc(0);
    let out;
    if (this._chunks[0].length >= n) {
      const first = this._chunks[0];
      out = first.subarray(0, n);
      if (first.length === n) this._chunks.shift();
      else this._chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this._chunks[0];
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this._chunks.shift();
        else this._chunks[0] = c.subarray(k);
      }
    }
    this._have -= n;
    return out;
  }

  _checkHandshake(h) {
    const done = this._handshakeDone;
    if (h[0] !== 0 || h[1] !== 0x53 || h[2] !== 0x50 || h[3] !== 0) {
      done(new ClmConnectionError(`'${this.url}' does not speak SP (nanomsg/NNG): bad handshake ${h.toString('hex')}`, { url: this.url, code: 'EPROTO' }));
      return;
    }
    const peer = h.readUInt16BE(4);
    if (peer !== this.peer) {
      const name = (p) => `${PROTO_NAME[p] || 'unknown'} (0x${p.toString(16).padStart(4, '0')})`;
      let hint = '';
      if (peer === PROTO.PUB) hint = ': is this the events (PUB/SUB) URL?';
      if (peer === PROTO.REP) hint = ': is this the request/reply URL?';
      done(new ClmConnectionError(`'${this.url}' speaks SP protocol ${name(peer)}, not ${name(this.peer)}${hint}`, { url: this.url, code: 'EPROTO' }));
      return;
    }
    this.handshaken = true;
    this._need = this.ipc ? 9 : 8;
    done(null);
  }

  /** Sends one message made of the given buffers. */
  send(parts) {
    if (this.closed) throw new ClmConnectionError(`connection to '${this.url}' is closed`, { url: this.url, code: 'ECLOSED' });
    let len = 0;
    for (const p of parts) len += p.length;
    const hdr = Buffer.alloc(this.ipc ? 9 : 8);
    if (this.ipc) hdr[0] = 1;
    hdr.writeBigUInt64BE(BigInt(len), this.ipc ? 1 : 0);
    this.socket.cork();
    this.socket.write(hdr);
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  pause() {
    if (this.socket) this.socket.pause();
  }

  resume() {
    if (this.socket) this.socket.resume();
  }

  ref() {
    if (this.socket) this.socket.ref();
  }

  unref() {
    if (this.socket) this.socket.unref();
  }

  _destroy() {
    this.closed = true;
    if (this.socket) this.socket.destroy();
  }

  _close(err) {
    if (this.closed) return;
    this._destroy();
    if (this._held) this._pendingClose = err;
    else this.emit('close', err);
  }

  /** Closes the connection; emits 'close' with null. */
  close() {
    this._close(null);
  }
}

module.exports = { SpPipe, parseUrl, PROTO };
