/*
 * The HTTP API's segment routes (docs/api.md, "HTTP API";
 * docs/segments.md), against a real clmd with --http, over plain sockets
 * (rawhttp.h):
 *
 *   - PUT /api/segments/NAME defines a segment (its reply has the write's
 *     position), GET /api/segments/NAME gives its count once the backfill
 *     is done, GET /api/segments lists it, ?members=1 pages through its
 *     members with page_size and page_token, a later write is counted at
 *     once (read-your-writes), PUT again replaces it, DELETE removes it
 *     and GET is then a 404;
 *   - bad requests are 400s naming the field: a bad expression (with the
 *     byte offset), a bad name, an empty or unreadable body, a body
 *     naming another segment, unknown or malformed parameters; 405 for
 *     another method, with Allow;
 *   - tokens: Bearer required on every method, and a cross-origin PUT is
 *     refused.
 *
 * Every wait is bounded (rawhttp.h, harness.h); nothing sleeps a fixed
 * time and hopes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rawhttp.h"

#define HS_TOKEN   "tok_http_segments_7c2e"
#define HS_WAIT_MS 30000

HARNESS_SUITE(http_segments, 240);

static int http_port;
static char hs_dir[32];
static char hs_flag[64];
static struct rawhttp_res res;

/* method target with the header lines hdr and body (NULL: none). */
static struct rawhttp_res *
req(const char *method, const char *target, const char *hdr, const char *body)
{
	rawhttp_request(http_port, method, target, hdr, body,
	        body != NULL ? strlen(body) : 0, &res);
	return &res;
}

/* Asserts r has status and its body holds want. */
static void
expect(const struct rawhttp_res *r, int status, const char *want)
{
	cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status,
	        status, r->body);
	cr_assert_not_null(
	        strstr(r->body, want), "no '%s' in %s", want, r->body);
}

/* Tracks NDJSON touchpoints through POST /api/track (hdr: its auth). */
static void
track(const char *ndjson, const char *hdr)
{
	expect(req("POST", "/api/track", hdr, ndjson), 200, "\"accepted\"");
}

/*
 * GETs /api/segments/NAME until it is no longer backfilling (bounded);
 * the last reply is in res.
 */
static void
wait_backfilled(const char *name, const char *hdr)
{
	char target[128];
	snprintf(target, sizeof(target), "/api/segments/%s", name);
	for (int waited = 0;; waited += 20) {
		struct rawhttp_res *r = req("GET", target, hdr, NULL);
		cr_assert_eq(r->status, 200, "%s: %s", target, r->body);
		if (strstr(r->body, "\"backfilling\":true") == NULL) {
			return;
		}
		cr_assert_lt(waited, HS_WAIT_MS, "%s still backfilling: %s",
		        target, r->body);
		harness_sleep_ms(20);
	}
}

/* Percent-encodes s (all but unreserved bytes) into out. */
static void
escape(const char *s, char *out, size_t cap)
{
	size_t k = 0;
	for (; *s != '\0' && k + 4 < cap; s++) {
		unsigned char c = (unsigned char) *s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		        || (c >= '0' && c <= '9') || c == '-' || c == '_'
		        || c == '.' || c == '~') {
			out[k++] = (char) c;
		} else {
			k += (size_t) snprintf(out + k, cap - k, "%%%02X", c);
		}
	}
	cr_assert_eq(*s, '\0', "token too long to escape");
	out[k] = '\0';
}

/* The string value of "key":"..." in json into out ("" when absent). */
static void
json_str(const char *json, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	out[0] = '\0';
	const char *p = strstr(json, pat);
	if (p == NULL) {
		return;
	}
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	cr_assert_lt(n, cap);
	memcpy(out, p, n);
	out[n] = '\0';
}

static const char journeys[]
        = "{\"eventId\":\"b1-1\",\"customerId\":\"b1\",\"type\":\"PURCHASE\",\"value\":10}\n"
          "{\"eventId\":\"b2-1\",\"customerId\":\"b2\",\"type\":\"PURCHASE\",\"value\":20}\n"
          "{\"eventId\":\"b3-1\",\"customerId\":\"b3\",\"type\":\"PURCHASE\",\"value\":30}\n"
          "{\"eventId\":\"s1-1\",\"customerId\":\"s1\",\"type\":\"SIGNUP\"}\n"
          "{\"eventId\":\"s2-1\",\"customerId\":\"s2\",\"type\":\"SIGNUP\"}\n";

Test(http_segments, define_count_list_page_replace_delete)
{
	http_port = rawhttp_start_clmd(&srv, hs_dir, hs_flag, NULL, false);
	track(journeys, "");

	expect(req("PUT", "/api/segments/buyers", "",
	               "{\"expression\": \"purchases >= 1\"}"),
	        200, "\"position\":\"");
	cr_assert_not_null(
	        strstr(res.body, "\"name\":\"buyers\""), "%s", res.body);
	cr_assert_null(strstr(res.body, "\"replaced\":true"), "%s", res.body);
	wait_backfilled("buyers", "");
	cr_assert_not_null(
	        strstr(res.body, "\"count\":\"3\""), "%s", res.body);
	cr_assert_not_null(
	        strstr(res.body, "\"expression\":\"purchases >= 1\""), "%s",
	        res.body);

	expect(req("GET", "/api/segments", "", NULL), 200,
	        "{\"segments\":[{\"name\":\"buyers\"");
	cr_assert_not_null(
	        strstr(res.body, "\"count\":\"3\""), "%s", res.body);

	/* Two pages of two, then one, by the token. */
	expect(req("GET", "/api/segments/buyers?members=1&page_size=2", "",
	               NULL),
	        200, "\"members\":[\"b1\",\"b2\"]");
	char token[512], esc[1600], target[1700];
	json_str(res.body, "nextPageToken", token, sizeof(token));
	cr_assert_neq(token[0], '\0', "no nextPageToken: %s", res.body);
	escape(token, esc, sizeof(esc));
	snprintf(target, sizeof(target),
	        "/api/segments/buyers?members=true&page_size=2&page_token=%s",
	        esc);
	expect(req("GET", target, "", NULL), 200, "\"members\":[\"b3\"]");
	cr_assert_null(strstr(res.body, "nextPageToken"), "%s", res.body);

	/* A write is counted at once: s1 buys. */
	track("{\"eventId\":\"s1-2\",\"customerId\":\"s1\",\"type\":\"PURCHASE\",\"value\":5}",
	        "");
	expect(req("GET", "/api/segments/buyers", "", NULL), 200,
	        "\"count\":\"4\"");

	/* Replaced by another condition: the big buyers. */
	expect(req("PUT", "/api/segments/buyers", "",
	               "{\"name\":\"buyers\",\"expression\":\"revenue > 15\"}"),
	        200, "\"replaced\":true");
	wait_backfilled("buyers", "");
	cr_assert_not_null(
	        strstr(res.body, "\"count\":\"2\""), "%s", res.body);

	expect(req("DELETE", "/api/segments/buyers", "", NULL), 200,
	        "\"existed\":true");
	expect(req("GET", "/api/segments/buyers", "", NULL), 404,
	        "\"code\":\"NOT_FOUND\"");
	expect(req("DELETE", "/api/segments/buyers", "", NULL), 200,
	        "\"position\"");
	cr_assert_null(strstr(res.body, "\"existed\":true"), "%s", res.body);
	expect(req("GET", "/api/segments", "", NULL), 200, "{");
	cr_assert_null(strstr(res.body, "buyers"), "%s", res.body);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_segments, bad_requests_name_the_field)
{
	http_port = rawhttp_start_clmd(&srv, hs_dir, hs_flag, NULL, false);
	/* The parser's byte offset reaches the client. */
	expect(req("PUT", "/api/segments/x", "",
	               "{\"expression\":\"purchases >= \"}"),
	        400, "\"field\":\"expression\"");
	cr_assert_not_null(strstr(res.body, "at byte"), "%s", res.body);
	expect(req("PUT", "/api/segments/Bad", "",
	               "{\"expression\":\"purchases >= 1\"}"),
	        400, "\"field\":\"name\"");
	expect(req("PUT", "/api/segments/x", "", ""), 400,
	        "\"code\":\"INVALID_ARGUMENT\"");
	expect(req("PUT", "/api/segments/x", "", "expression=1"), 400,
	        "\"code\":\"INVALID_ARGUMENT\"");
	expect(req("PUT", "/api/segments/x", "",
	               "{\"name\":\"y\",\"expression\":\"purchases >= 1\"}"),
	        400, "\"field\":\"name\"");
	expect(req("PUT", "/api/segments/x?force=1", "",
	               "{\"expression\":\"purchases >= 1\"}"),
	        400, "\"field\":\"force\"");
	expect(req("GET", "/api/segments", "", NULL), 200, "{");
	cr_assert_null(strstr(res.body, "\"name\""), "nothing was defined: %s",
	        res.body);

	expect(req("GET", "/api/segments/nope", "", NULL), 404, "NOT_FOUND");
	expect(req("GET", "/api/segments/nope?members=maybe", "", NULL), 400,
	        "\"field\":\"members\"");
	expect(req("GET", "/api/segments/nope?as_of=yesterday", "", NULL), 400,
	        "\"field\":\"as_of\"");
	/* Past int64: a 400, not a scan at the largest instant. */
	expect(req("GET", "/api/segments/nope?as_of=99999999999999999999", "",
	               NULL),
	        400, "\"field\":\"as_of\"");
	expect(req("GET", "/api/segments/nope?page_size=-1", "", NULL), 400,
	        "\"field\":\"page_size\"");
	expect(req("GET", "/api/segments/nope?limit=1", "", NULL), 400,
	        "\"field\":\"limit\"");
	expect(req("GET", "/api/segments?members=1", "", NULL), 400,
	        "\"field\":\"members\"");
	expect(req("GET", "/api/segments/a/b", "", NULL), 404, "NOT_FOUND");

	expect(req("POST", "/api/segments/x", "", "{}"), 405, "UNIMPLEMENTED");
	cr_assert_not_null(strstr(res.head, "Allow: GET, HEAD, PUT, DELETE"),
	        "%s", res.head);
	expect(req("PUT", "/api/segments", "", "{\"expression\":\"x\"}"), 405,
	        "/api/segments/NAME");
	expect(req("DELETE", "/api/segments", "", NULL), 405,
	        "/api/segments/NAME");
	/* Still serving. */
	expect(req("GET", "/api/status", "", NULL), 200, "\"version\"");
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_segments, tokens_and_origins_guard_the_routes)
{
	cr_assert_eq(harness_tmpdir(hs_dir), 0);
	char tokens[64];
	snprintf(tokens, sizeof(tokens), "%s/tokens", hs_dir);
	cr_assert_eq(harness_write_file(tokens, HS_TOKEN "\n"), 0);
	const char *args[] = { "--auth-token-file", tokens, NULL };
	http_port = rawhttp_start_clmd(&srv, hs_dir, hs_flag, args, false);
	static const char bearer[] = "Authorization: Bearer " HS_TOKEN "\r\n";
	static const char def[] = "{\"expression\":\"purchases >= 1\"}";
	const char *no[] = { "", "Authorization: Bearer wrong\r\n" };
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		expect(req("PUT", "/api/segments/g", no[i], def), 401,
		        "UNAUTHENTICATED");
		cr_assert_not_null(
		        strstr(res.head, "WWW-Authenticate: Bearer"));
		expect(req("DELETE", "/api/segments/g", no[i], NULL), 401,
		        "UNAUTHENTICATED");
		expect(req("GET", "/api/segments", no[i], NULL), 401,
		        "UNAUTHENTICATED");
		expect(req("GET", "/api/segments/g", no[i], NULL), 401,
		        "UNAUTHENTICATED");
	}
	char cross[256];
	snprintf(cross, sizeof(cross), "%sOrigin: http://evil.example\r\n",
	        bearer);
	cr_assert_eq(req("PUT", "/api/segments/g", cross, def)->status, 403);
	cr_assert_eq(
	        req("DELETE", "/api/segments/g", cross, NULL)->status, 403);
	expect(req("GET", "/api/segments/g", bearer, NULL), 404, "NOT_FOUND");

	track("{\"eventId\":\"k-1\",\"customerId\":\"kim\",\"type\":\"PURCHASE\",\"value\":1}",
	        bearer);
	expect(req("PUT", "/api/segments/g", bearer, def), 200,
	        "\"name\":\"g\"");
	wait_backfilled("g", bearer);
	cr_assert_not_null(
	        strstr(res.body, "\"count\":\"1\""), "%s", res.body);
	expect(req("DELETE", "/api/segments/g", bearer, NULL), 200,
	        "\"existed\":true");
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
