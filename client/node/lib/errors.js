'use strict';
/*
 * The two kinds of failure a call can end in:
 *
 * - ClmError: clmd answered, with a Status other than OK. It carries the
 *   gRPC-style code (number and name), the server's message and the field
 *   violations (`touchpoints[2].occurred_at_ms`: why).
 * - ClmConnectionError: no answer — the URL could not be reached, the peer is
 *   not a clmd REP socket, the connection broke, or the call timed out
 *   (ClmTimeoutError, a ClmConnectionError). `code` is a Node-style string:
 *   ECONNREFUSED, ENOENT, ETIMEDOUT, EPROTO, ECLOSED, EMSGSIZE, ...
 */

class ClmError extends Error {
  /**
   * @param {object} status  a clm.v1.Status as a plain object
   * @param {object} [extra] {codeName, requestId, response}
   */
  constructor(status, extra = {}) {
    const code = typeof status.code === 'number' ? status.code : 2;
    const codeName = extra.codeName || String(code);
    super(status.message || codeName);
    this.name = 'ClmError';
    this.code = code;
    this.codeName = codeName;
    this.violations = (status.violations || []).map((v) => ({
      field: v.field || '',
      description: v.description || '',
    }));
    this.requestId = extra.requestId || '';
    // The whole Response (e.g. a TrackReply is never sent with an error,
    // but the request id and status are there).
    Object.defineProperty(this, 'response', {
      value: extra.response || null,
      enumerable: false,
      writable: true,
    });
  }

  toString() {
    let s = `ClmError: ${this.codeName}: ${this.message}`;
    for (const v of this.violations) s += `\n  ${v.field}: ${v.description}`;
    return s;
  }
}

class ClmConnectionError extends Error {
  /**
   * @param {string} message
   * @param {object} [opts] {code, url, cause}
   */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'ClmConnectionError';
    this.code = opts.code || (opts.cause && opts.cause.code) || 'ECONNECTION';
    this.url = opts.url || '';
  }
}

class ClmTimeoutError extends ClmConnectionError {
  constructor(message, opts = {}) {
    super(message, { code: 'ETIMEDOUT', ...opts });
    this.name = 'ClmTimeoutError';
  }
}

module.exports = { ClmError, ClmConnectionError, ClmTimeoutError };
