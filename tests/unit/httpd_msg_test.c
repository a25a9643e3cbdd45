/*
 * Unit tests of server/net/httpd_msg.c: a request head parsed in place
 * (what httpd refuses, and with which status), the decoded path, list
 * headers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net/httpd_msg.h"

static struct httpd_req req;
static size_t body_len;
static const char *why;
static char buf[8192];

/* Parses text (a head ending in the blank line); its status. */
static int
parse(const char *text)
{
	size_t n = strlen(text);
	cr_assert_lt(n, sizeof(buf));
	memcpy(buf, text, n);
	memset(&req, 0, sizeof(req));
	body_len = 0;
	why = NULL;
	int st = httpd_msg_parse_head(buf, n, &req, &body_len, &why);
	cr_assert(st == 0 || why != NULL, "status %d without a reason", st);
	return st;
}

Test(httpd_msg, request_line_and_headers)
{
	cr_assert_eq(parse("GET /api/status?x=1 HTTP/1.1\r\n"
	                   "Host:  127.0.0.1:7452 \r\n"
	                   "content-length: 5\r\n"
	                   "X-Empty:\r\n\r\n"),
	        0, "%s", why);
	cr_expect_str_eq(req.method, "GET");
	cr_expect_str_eq(req.target, "/api/status?x=1");
	cr_expect_not(req.http10);
	cr_expect_eq(req.n_headers, 3);
	cr_expect_str_eq(httpd_req_header(&req, "HOST"), "127.0.0.1:7452");
	cr_expect_str_eq(httpd_req_header(&req, "x-empty"), "");
	cr_expect_null(httpd_req_header(&req, "Origin"));
	cr_expect_eq(body_len, 5);
	cr_expect_eq(parse("HEAD / HTTP/1.0\r\n\r\n"), 0);
	cr_expect(req.http10);
	cr_expect_eq(req.n_headers, 0);
	cr_expect_eq(body_len, 0);
}

Test(httpd_msg, refusals)
{
	/* Malformed: 400. */
	cr_expect_eq(parse("GET /\r\n\r\n"), 400);
	cr_expect_eq(parse("GET  / HTTP/1.1\r\n\r\n"), 400, "two spaces");
	cr_expect_eq(parse("GET / HTTP/1.1 x\r\n\r\n"), 400);
	cr_expect_eq(parse("G(T / HTTP/1.1\r\n\r\n"), 400, "not a token");
	cr_expect_eq(parse("GET / HTTQ/1.1\r\n\r\n"), 400);
	cr_expect_eq(parse("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
	cr_expect_eq(parse("GET / HTTP/1.1\r\nBad name: x\r\n\r\n"), 400);
	cr_expect_eq(parse("GET / HTTP/1.1\r\n: x\r\n\r\n"), 400);
	cr_expect_eq(
	        parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), 400, "bare CR");
	cr_expect_eq(parse("GET / HTTP/1.1\nHost: x\r\n\r\n"), 400, "bare LF");
	cr_expect_eq(parse("GET / HTTP/1.1\r\n folded\r\n\r\n"), 400);
	cr_expect_eq(
	        parse("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"), 400);
	cr_expect_eq(
	        parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
	cr_expect_eq(parse("GET / HTTP/1.1\r\nContent-Length: "
	                   "99999999999999999999999\r\n\r\n"),
	        400, "overflow");
	cr_expect_eq(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
	                   "Content-Length: 1\r\n\r\n"),
	        400, "repeated");
	static const char nul[] = "GET / HTTP/1.1\r\nA: \0\r\n\r\n";
	memcpy(buf, nul, sizeof(nul) - 1);
	cr_expect_eq(httpd_msg_parse_head(
	                     buf, sizeof(nul) - 1, &req, &body_len, &why),
	        400, "NUL");
	/* Versions, chunked bodies, too many lines. */
	cr_expect_eq(parse("GET / HTTP/2.0\r\n\r\n"), 505);
	cr_expect_eq(parse("GET / HTTP/0.9\r\n\r\n"), 505);
	cr_expect_eq(parse("POST / HTTP/1.1\r\n"
	                   "Transfer-Encoding: chunked\r\n\r\n"),
	        411);
	char many[4096] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i <= HTTPD_MAX_HEADERS; i++) {
		char line[32];
		snprintf(line, sizeof(line), "X-%d: y\r\n", i);
		strcat(many, line);
	}
	strcat(many, "\r\n");
	cr_expect_eq(parse(many), 431);
}

/* The decoded path of target and its length. */
static size_t
path(const char *target, char *out)
{
	return httpd_msg_path(target, out);
}

Test(httpd_msg, path)
{
	char out[128];
	cr_expect_eq(path("/api/status?x=%00", out), 11);
	cr_expect_str_eq(out, "/api/status");
	cr_expect_eq(path("/api/experiments/a%2Fb%zz%4", out), 25);
	cr_expect_str_eq(out, "/api/experiments/a/b%zz%4");
	cr_expect_eq(path("/metrics%00x", out), 10);
	cr_expect_eq(memcmp(out, "/metrics\0x", 10), 0, "a NUL inside");
	cr_expect_eq(path("http://host:1/metrics?a", out), 8);
	cr_expect_str_eq(out, "/metrics");
	cr_expect_eq(path("HTTPS://host", out), 1);
	cr_expect_str_eq(out, "/");
}

Test(httpd_msg, tokens_and_reasons)
{
	cr_expect(httpd_msg_has_token("close", "close"));
	cr_expect(httpd_msg_has_token("keep-alive, Close ", "close"));
	cr_expect_not(httpd_msg_has_token("closed", "close"));
	cr_expect_not(httpd_msg_has_token("", "close"));
	cr_expect_str_eq(
	        httpd_msg_reason(431), "Request Header Fields Too Large");
	cr_expect_str_eq(httpd_msg_reason(299), "Unknown");
}

/* Expect: 100-continue (any case), ignored for HTTP/1.0; else 417. */
Test(httpd_msg, expect)
{
	cr_assert_eq(parse("POST /v1/batch HTTP/1.1\r\nContent-Length: 9\r\n"
	                   "\r\n"),
	        0);
	cr_expect_eq(httpd_msg_expect(&req), 0);
	cr_assert_eq(parse("POST /v1/batch HTTP/1.1\r\n"
	                   "Expect: 100-Continue\r\n\r\n"),
	        0);
	cr_expect_eq(httpd_msg_expect(&req), 100);
	cr_assert_eq(parse("POST /v1/batch HTTP/1.0\r\n"
	                   "Expect: 100-continue\r\n\r\n"),
	        0);
	cr_expect_eq(httpd_msg_expect(&req), 0, "HTTP/1.0 ignores it");
	cr_assert_eq(parse("POST /v1/batch HTTP/1.1\r\n"
	                   "Expect: 200-ok\r\n\r\n"),
	        0);
	cr_expect_eq(httpd_msg_expect(&req), 417);
	cr_assert_eq(parse("POST /v1/batch HTTP/1.1\r\n"
	                   "Expect: 100-continue\r\n"
	                   "Expect: 100-continue\r\n\r\n"),
	        0);
	cr_expect_eq(httpd_msg_expect(&req), 417, "two lines");
	cr_expect_str_eq(httpd_msg_reason(100), "Continue");
	cr_expect_str_eq(httpd_msg_reason(417), "Expectation Failed");
}
