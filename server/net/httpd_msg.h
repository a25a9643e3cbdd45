/*
 * httpd_msg: the pure parts of httpd (httpd.h): a request head parsed in
 * place, its path decoded, list headers read, reason phrases. No I/O and
 * no nng, so they are unit-tested alone (tests/unit/httpd_msg_test.c).
 */
#ifndef CLM_HTTPD_MSG_H
#define CLM_HTTPD_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "net/httpd.h"

/*
 * httpd_msg_parse_head parses the request head buf[0, n), which ends in
 * the blank line's "\r\n\r\n", in place (it writes NUL bytes into buf):
 * req's method, target, http10 and headers point into buf afterwards, and
 * *body_len is the Content-Length (0 without one). Returns 0, or the HTTP
 * status of the refusal with a static lowercase message in *why:
 *
 *   400  a malformed request line or header line, a NUL, a bare CR or LF,
 *        a malformed or repeated Content-Length
 *   411  Transfer-Encoding (a body needs Content-Length)
 *   431  more than HTTPD_MAX_HEADERS header lines
 *   505  an HTTP version other than 1.0 and 1.1
 *
 * req and *body_len are undefined after a refusal. The caller bounds n
 * (the head's size) and *body_len.
 */
int httpd_msg_parse_head(char *buf, size_t n, struct httpd_req *req,
        size_t *body_len, const char **why);

/*
 * httpd_msg_path writes target's path into out, which must have room for
 * strlen(target) + 2 bytes, and returns its length: the query is cut, an
 * absolute target ("http://host/p") keeps its path ("/" when it has none),
 * and valid %XX escapes are decoded (an invalid one is kept as it is).
 * %00 gives a NUL byte inside the length, which the caller must look for;
 * out is NUL-terminated after it as well.
 */
size_t httpd_msg_path(const char *target, char *out);

/*
 * httpd_msg_expect tells what req's Expect header asks: 0 when there is
 * none (or the request is HTTP/1.0, whose Expect is ignored, RFC 9110
 * 10.1.1), 100 for "100-continue" (any case; the server answers
 * "100 Continue" before reading the body), or 417 for any other
 * expectation, or more than one Expect line.
 */
int httpd_msg_expect(const struct httpd_req *req);

/*
 * httpd_msg_has_token tells whether the comma-separated header value
 * holds token, in any case ("keep-alive, Close" holds "close").
 */
bool httpd_msg_has_token(const char *value, const char *token);

/*
 * httpd_msg_reason returns the reason phrase of status ("Not Found"), or
 * "Unknown" for a status httpd does not send.
 */
const char *httpd_msg_reason(int status);

#endif /* CLM_HTTPD_MSG_H */
