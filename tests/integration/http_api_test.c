/*
 * The HTTP API's customer routes and /api/track (docs/api.md, "HTTP
 * API"), against a real clmd with --http, over plain sockets (rawhttp.h):
 *
 *   - POST /api/track in its three body forms (one object, an array,
 *     NDJSON) and gzipped: a rejected item is named by its index, a
 *     repeat is counted as duplicates, unreadable JSON is a 400 naming
 *     the line, and nothing of it is recorded;
 *   - GET /api/customers/ID for ids with '/', '%', a space and UTF-8
 *     (percent-encoded in the raw target), 404 for an unknown one, 400
 *     for %00 and invalid escapes, as_of;
 *   - GET .../recommendations with Recommend's parameters; unknown,
 *     repeated and bad parameters are 400s naming them;
 *   - POST .../recommendations?claim=1: the same Idempotency-Key twice
 *     gets the same recommendations and records one MESSAGE_SENT, a
 *     second claim within the quiet hours records none;
 *   - tokens: Bearer required on every route, Basic refused, and a
 *     cross-origin POST refused;
 *   - a client that goes away while its write is deferred (the journal's
 *     sync held): the write is still applied, clmd keeps serving and
 *     stops cleanly.
 *
 * Every wait is bounded (rawhttp.h, harness.h); nothing sleeps a fixed
 * time.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "clm/client.h"
#include "harness.h"
#include "rawhttp.h"

#define HA_TOKEN "tok_http_api_5b1d"

HARNESS_SUITE(http_api, 240);

static int http_port;
static char ha_dir[32];
static char ha_flag[64];

/* Starts clmd with --http (and extra, may be NULL); faulty: faultfs. */
static void
start_clmd(const char *const *extra, bool faulty)
{
	http_port = rawhttp_start_clmd(&srv, ha_dir, ha_flag, extra, faulty);
}

static struct rawhttp_res res;

/* GET target with the header lines hdr; the response is in res. */
static struct rawhttp_res *
get(const char *target, const char *hdr)
{
	rawhttp_request(http_port, "GET", target, hdr, NULL, 0, &res);
	return &res;
}

/* POST body (NUL-terminated) to target; the response is in res. */
static struct rawhttp_res *
post(const char *target, const char *hdr, const char *body)
{
	rawhttp_request(http_port, "POST", target, hdr, body,
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

/* How many touchpoints of type the customer id has (GetCustomer). */
static uint64_t
touches(const char *id, Clm__V1__TouchpointType type, const char *token)
{
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	clm_close(c);
	uint64_t n = 0;
	if (e == CLM_NOT_FOUND) {
		clm_response_free(resp);
		return 0;
	}
	cr_assert_eq(e, CLM_OK, "GetCustomer '%s': %s", id, clm_errname(e));
	for (size_t i = 0; i < resp->customer->n_touch_counts; i++) {
		if (resp->customer->touch_counts[i]->type == type) {
			n = resp->customer->touch_counts[i]->count;
		}
	}
	clm_response_free(resp);
	return n;
}

/* The server still answers (after bad input). */
static void
expect_serving(void)
{
	expect(get("/api/status", ""), 200, "\"version\"");
}

static const char ndjson[]
        = "{\"eventId\":\"t-1\",\"customerId\":\"a/b\",\"type\":\"SIGNUP\","
          "\"channel\":\"EMAIL\"}\n"
          "\n"
          "{\"eventId\":\"t-2\",\"customerId\":\"50%\",\"type\":\"SIGNUP\"}\n"
          "{\"eventId\":\"t-3\",\"type\":\"PURCHASE\"}\n"
          "{\"eventId\":\"t-4\",\"customerId\":\"with space\","
          "\"type\":\"SIGNUP\"}\r\n"
          "{\"eventId\":\"t-5\",\"customerId\":\"zo\xc3\xab\","
          "\"type\":\"PURCHASE\",\"value\":12.5}\n";

Test(http_api, track_in_every_body_form)
{
	start_clmd(NULL, false);
	/* NDJSON: the item without a customer is rejected by its index. */
	struct rawhttp_res *r = post("/api/track", "", ndjson);
	expect(r, 200, "\"accepted\":4");
	cr_assert_not_null(strstr(r->body, "\"index\":2"), "%s", r->body);
	cr_assert_not_null(strstr(r->body, "touchpoints[2].customer_id"));
	cr_assert_not_null(strstr(r->body, "\"position\":\""));
	/* Again: duplicates, nothing new. */
	r = post("/api/track", "", ndjson);
	expect(r, 200, "\"duplicates\":4");
	cr_assert_null(strstr(r->body, "\"accepted\""), "%s", r->body);

	/* One object over several lines. */
	expect(post("/api/track", "",
	               "  {\"eventId\":\"o-1\",\n\"customerId\":\"obj\",\n"
	               "\"type\":\"SIGNUP\"}\n"),
	        200, "\"accepted\":1");
	/* An array, its second item rejected. */
	r = post("/api/track", "",
	        "[{\"eventId\":\"r-1\",\"customerId\":\"arr\",\"type\":"
	        "\"SIGNUP\"},{\"eventId\":\"r-2\",\"customerId\":\"arr\"}]");
	expect(r, 200, "\"accepted\":1");
	cr_assert_not_null(strstr(r->body, "\"index\":1"), "%s", r->body);
	/* gzip. */
	static const char gz_src[]
	        = "{\"eventId\":\"g-1\",\"customerId\":\"gz\",\"type\":"
	          "\"SIGNUP\"}";
	uint8_t gz[256];
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
	                     Z_DEFAULT_STRATEGY),
	        Z_OK);
	z.next_in = (Bytef *) gz_src;
	z.avail_in = (uInt) strlen(gz_src);
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t gz_len = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	rawhttp_request(http_port, "POST", "/api/track",
	        "Content-Encoding: gzip\r\n", gz, gz_len, &res);
	expect(&res, 200, "\"accepted\":1");

	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL), 1);
	cr_assert_eq(touches("zo\xc3\xab", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
	                     NULL),
	        1);
	cr_assert_eq(
	        touches("obj", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL), 1);
	cr_assert_eq(
	        touches("arr", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL), 1);
	cr_assert_eq(touches("gz", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL), 1);

	/* Unreadable bodies: 400 naming the problem, nothing recorded. */
	expect(post("/api/track", "",
	               "{\"eventId\":\"x-1\",\"customerId\":\"x\",\"type\":"
	               "\"SIGNUP\"}\n{\"eventId\":\"x-2\",\"type\":\"NOPE\"}\n"),
	        400, "line 2: field 'type'");
	expect(post("/api/track", "", "[{\"customerId\":\"x\",\"bogus\":1}]"),
	        400, "bogus");
	expect(post("/api/track", "", "customer=x"), 400, "NDJSON");
	expect(post("/api/track", "", ""), 400, "empty body");
	expect(post("/api/track?x=1", "", ndjson), 400,
	        "unknown parameter 'x'");
	cr_assert_eq(touches("x", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL), 0);

	/* Past max_touchpoints (10,000): 413, nothing recorded. */
	char *many = NULL;
	size_t many_len = 0;
	FILE *f = open_memstream(&many, &many_len);
	cr_assert_not_null(f);
	for (int i = 0; i < 10001; i++) {
		fprintf(f,
		        "{\"eventId\":\"m-%d\",\"customerId\":\"many\","
		        "\"type\":\"PAGE_VIEW\"}\n",
		        i);
	}
	fclose(f);
	expect(post("/api/track", "", many), 413, "at most 10000");
	free(many);
	cr_assert_eq(
	        touches("many", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW, NULL), 0);
	/* Past max_message_bytes (4 MiB): 413 before the body is read. */
	int fd = rawhttp_connect(http_port);
	rawhttp_send(fd, http_port, "POST", "/api/track",
	        "Content-Length: 4194305\r\n", NULL, 0);
	rawhttp_response(fd, &res);
	close(fd);
	cr_assert_eq(res.status, 413, "%s", res.body);
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_api, customers_by_raw_id)
{
	start_clmd(NULL, false);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	expect(get("/api/customers/a%2Fb", ""), 200, "\"customerId\":\"a/b\"");
	cr_assert_not_null(strstr(res.body, "\"stage\":\"REACH\""));
	cr_assert_not_null(
	        strstr(res.body, "\"acquisitionChannel\":\"EMAIL\""));
	expect(get("/api/customers/50%25", ""), 200, "\"customerId\":\"50%\"");
	expect(get("/api/customers/with%20space", ""), 200,
	        "\"customerId\":\"with space\"");
	expect(get("/api/customers/zo%C3%ab", ""), 200,
	        "\"customerId\":\"zo\xc3\xab\"");
	/* '+' is not a space in a path. */
	expect(get("/api/customers/with+space", ""), 404, "NOT_FOUND");
	/* as_of before she was seen: still her record, as of then. */
	expect(get("/api/customers/a%2Fb?as_of=2020-01-01", ""), 200,
	        "\"asOfMs\":\"1577836800000\"");
	expect(get("/api/customers/a%2Fb?as_of=1577836800000", ""), 200,
	        "\"asOfMs\":\"1577836800000\"");
	expect(get("/api/customers/a%2Fb?as_of=yesterday", ""), 400,
	        "\"field\":\"as_of\"");
	expect(get("/api/customers/a%2Fb?limit=1", ""), 400,
	        "unknown parameter 'limit'");

	expect(get("/api/customers/nobody", ""), 404,
	        "\"code\":\"NOT_FOUND\"");
	expect(get("/api/customers/a%00b", ""), 400, "NUL (%00)");
	expect(get("/api/customers/a%2", ""), 400, "invalid percent escape");
	expect(get("/api/customers/a%zzb", ""), 400, "invalid percent escape");
	/* A literal '/' is a path separator, not part of the id. */
	expect(get("/api/customers/a/b", ""), 404, "%2F");
	expect(get("/api/customers/", ""), 404, "no customer id");
	expect(get("/api/customers", ""), 404, "no customer id");
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_api, recommendations_and_their_parameters)
{
	start_clmd(NULL, false);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	struct rawhttp_res *r
	        = get("/api/customers/a%2Fb/recommendations", "");
	expect(r, 200, "\"recommendations\":[");
	cr_assert_not_null(strstr(r->body, "\"stage\":\"REACH\""));
	expect(get("/api/customers/a%2Fb/recommendations?limit=1&channel=email"
	           "&lat=52.52&lon=13.4&cart=sku-1,sku-2&now=2026-01-02"
	           "&include_suppressed=true",
	               ""),
	        200, "\"stage\"");

	static const struct {
		const char *query, *want;
	} bad[] = {
		{ "?kinds=x", "unknown parameter 'kinds'" },
		{ "?limit=1&limit=2", "parameter 'limit' given twice" },
		{ "?limit=-1", "\"field\":\"limit\"" },
		{ "?limit=1000000", "\"field\":\"limit\"" },
		{ "?lat=1", "lat and lon go together" },
		{ "?lat=91&lon=0", "\"field\":\"lat\"" },
		{ "?lat=1&lon=x", "\"field\":\"lon\"" },
		{ "?channel=pigeon", "\"field\":\"channel\"" },
		{ "?now=soon", "\"field\":\"now\"" },
		{ "?include_suppressed=maybe",
		        "\"field\":\"include_suppressed\"" },
		{ "?claim=1", "send it as POST" },
		{ "?limit=%00", "NUL" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char target[128];
		snprintf(target, sizeof(target),
		        "/api/customers/a%%2Fb/recommendations%s",
		        bad[i].query);
		expect(get(target, ""), 400, bad[i].want);
	}
	expect(get("/api/customers/nobody/recommendations", ""), 404,
	        "NOT_FOUND");
	expect(get("/api/customers/a%2Fb/recommendation", ""), 404,
	        "NOT_FOUND");
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/* The body of a claim's reply without its position (first member). */
static const char *
after_position(const char *body)
{
	const char *p = strstr(body, "\",");
	cr_assert(strncmp(body, "{\"position\":\"", 13) == 0 && p != NULL,
	        "%s", body);
	return p + 2;
}

Test(http_api, claims_are_idempotent_and_capped)
{
	start_clmd(NULL, false);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	const char *target = "/api/customers/a%2Fb/recommendations?claim=1";
	struct rawhttp_res *r = post(target, "Idempotency-Key: k-1\r\n", NULL);
	expect(r, 200, "\"recommendations\":[");
	cr_assert_not_null(strstr(r->body, "\"channel\":\"EMAIL\""));
	char first[4096];
	snprintf(first, sizeof(first), "%s", after_position(r->body));
	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL),
	        1);
	/* The same key again: the same reply, nothing recorded again. */
	r = post(target, "Idempotency-Key: k-1\r\n", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(after_position(r->body), first);
	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL),
	        1);
	/* Another key within the quiet hours: the cap holds, none sent. */
	r = post("/api/customers/a%2Fb/recommendations?claim=1&request_id=k-2",
	        "", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(
	        strstr(r->body, "\"channel\":\"EMAIL\""), "%s", r->body);
	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL),
	        1);

	/*
	 * A long key once overflowed the claim's LMDB key buffer and killed
	 * clmd: it is an id, at most max_id_bytes (128) of printable UTF-8.
	 */
	static char hdr[2100], long_target[700];
	char *k = hdr + snprintf(hdr, sizeof(hdr), "Idempotency-Key: ");
	memset(k, 'k', 2000);
	snprintf(k + 2000, sizeof(hdr) - (size_t) (k + 2000 - hdr), "\r\n");
	expect(post(target, hdr, NULL), 400, "\"field\":\"Idempotency-Key\"");
	char *q = long_target
	        + snprintf(long_target, sizeof(long_target),
	                "%s&request_id=", target);
	memset(q, 'k', 520);
	q[520] = '\0';
	expect(post(long_target, "", NULL), 400, "\"field\":\"request_id\"");
	expect(post(target, "Idempotency-Key: caf\x01\r\n", NULL), 400,
	        "printable");
	expect_serving();
	expect(post(target, "", NULL), 400, "Idempotency-Key");
	expect(post("/api/customers/a%2Fb/recommendations?claim=1&request_id=a",
	               "Idempotency-Key: b\r\n", NULL),
	        400, "once");
	expect(post("/api/customers/a%2Fb/recommendations?claim=0",
	               "Idempotency-Key: k-3\r\n", NULL),
	        400, "add claim=1");
	expect(post("/api/customers/a%2Fb/recommendations",
	               "Idempotency-Key: k-3\r\n", NULL),
	        400, "add claim=1");
	expect(post("/api/customers/a%2Fb?claim=1", "Idempotency-Key: k-3\r\n",
	               NULL),
	        404, "recommendations?claim=1");
	expect(post("/api/customers/a%2Fb/recommendations?claim=1&limit=x",
	               "Idempotency-Key: k-3\r\n", NULL),
	        400, "\"field\":\"limit\"");
	expect(post("/api/customers/a%00/recommendations?claim=1",
	               "Idempotency-Key: k-3\r\n", NULL),
	        400, "NUL");
	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL),
	        1);
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_api, tokens_and_origins_guard_the_routes)
{
	cr_assert_eq(harness_tmpdir(ha_dir), 0);
	char tokens[64];
	snprintf(tokens, sizeof(tokens), "%s/tokens", ha_dir);
	cr_assert_eq(harness_write_file(tokens, HA_TOKEN "\n"), 0);
	const char *args[] = { "--auth-token-file", tokens, NULL };
	start_clmd(args, false);
	static const char bearer[] = "Authorization: Bearer " HA_TOKEN "\r\n";
	/* base64("tok_http_api_5b1d:"): Basic is not taken here. */
	static const char basic[]
	        = "Authorization: Basic dG9rX2h0dHBfYXBpXzViMWQ6\r\n";
	static const char one[]
	        = "{\"eventId\":\"k-1\",\"customerId\":\"kim\",\"type\":"
	          "\"SIGNUP\"}";
	const char *no[] = { "", basic, "Authorization: Bearer wrong\r\n" };
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct rawhttp_res *r = post("/api/track", no[i], one);
		expect(r, 401, "UNAUTHENTICATED");
		cr_assert_not_null(
		        strstr(r->head, "WWW-Authenticate: Bearer"));
		expect(get("/api/customers/kim", no[i]), 401,
		        "UNAUTHENTICATED");
		expect(get("/api/customers/kim/recommendations", no[i]), 401,
		        "UNAUTHENTICATED");
		char hdr[128];
		snprintf(
		        hdr, sizeof(hdr), "%sIdempotency-Key: c-1\r\n", no[i]);
		expect(post("/api/customers/kim/recommendations?claim=1", hdr,
		               NULL),
		        401, "UNAUTHENTICATED");
	}
	cr_assert_eq(
	        touches("kim", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, HA_TOKEN), 0);
	/* A page of another origin may not write, even with the token. */
	char cross[256];
	snprintf(cross, sizeof(cross), "%sOrigin: http://evil.example\r\n",
	        bearer);
	cr_assert_eq(post("/api/track", cross, one)->status, 403);
	cr_assert_eq(
	        touches("kim", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, HA_TOKEN), 0);

	expect(post("/api/track", bearer, one), 200, "\"accepted\":1");
	expect(get("/api/customers/kim", bearer), 200,
	        "\"customerId\":\"kim\"");
	expect(get("/api/customers/kim/recommendations", bearer), 200,
	        "\"stage\"");
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "%sIdempotency-Key: c-1\r\n", bearer);
	expect(post("/api/customers/kim/recommendations?claim=1", hdr, NULL),
	        200, "\"position\"");
	cr_assert_eq(
	        touches("kim", CLM__V1__TOUCHPOINT_TYPE__SIGNUP, HA_TOKEN), 1);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * With the journal's sync held, a track and a claim are deferred; their
 * clients go away. Once the hold is released the writes are applied all
 * the same, clmd goes on serving, and it stops cleanly (no use after
 * free under ASan).
 */
Test(http_api, a_client_gone_while_its_write_waits)
{
	start_clmd(NULL, true);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	char held[96];
	snprintf(held, sizeof(held), "%s.held", ha_flag);
	cr_assert_eq(harness_write_file(ha_flag, "HOLD"), 0);
	static const char late[]
	        = "{\"eventId\":\"late-1\",\"customerId\":\"late\",\"type\":"
	          "\"SIGNUP\"}";
	int t = rawhttp_connect(http_port);
	rawhttp_send(
	        t, http_port, "POST", "/api/track", "", late, strlen(late));
	int c = rawhttp_connect(http_port);
	rawhttp_send(c, http_port, "POST",
	        "/api/customers/a%2Fb/recommendations?claim=1",
	        "Idempotency-Key: gone-1\r\n", NULL, 0);
	/* A bounded poll (30 s at most), not a fixed wait. */
	for (int i = 0; i < 3000 && access(held, F_OK) != 0; i++) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(access(held, F_OK), 0, "no sync was held");
	/* Nothing came back while the write waits. */
	char buf[256];
	cr_assert_eq(rawhttp_read(t, buf, sizeof(buf), 0), -1, "%s", buf);
	close(t);
	close(c);
	cr_assert_eq(unlink(ha_flag), 0);
	/* Once the writer goes on, the writes are applied (bounded poll). */
	for (int i = 0;
	        i < 3000 && get("/api/customers/late", "")->status == 404;
	        i++) {
		harness_sleep_ms(10);
	}
	expect(&res, 200, "\"customerId\":\"late\"");
	for (int i = 0; i < 3000
	        && touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL)
	                == 0;
	        i++) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(
	        touches("a/b", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT, NULL),
	        1);
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * Only two /api/track requests hold a parsed body at once (docs/api.md):
 * with the writer held, the third gets 503 at once instead of waiting.
 */
Test(http_api, track_requests_beyond_two_get_503)
{
	start_clmd(NULL, true);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	char held[96];
	snprintf(held, sizeof(held), "%s.held", ha_flag);
	cr_assert_eq(harness_write_file(ha_flag, "HOLD"), 0);
	static const char one[]
	        = "{\"eventId\":\"slot-1\",\"customerId\":\"slot\",\"type\":"
	          "\"SIGNUP\"}";
	int fd[4];
	int n = 0;
	fd[n] = rawhttp_connect(http_port);
	rawhttp_send(fd[n++], http_port, "POST", "/api/track", "", one,
	        strlen(one));
	/* A bounded poll (30 s at most), not a fixed wait. */
	for (int i = 0; i < 3000 && access(held, F_OK) != 0; i++) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(access(held, F_OK), 0, "no sync was held");
	/*
	 * The requests after it: the first holds the second slot, the next
	 * one is refused. One that got a slot waits for the writer, so its
	 * bounded read times out and the next is tried.
	 */
	char buf[1024];
	ssize_t k = -1;
	while (k < 0 && n < 4) {
		fd[n] = rawhttp_connect(http_port);
		rawhttp_send(fd[n], http_port, "POST", "/api/track", "", one,
		        strlen(one));
		k = rawhttp_read(fd[n++], buf, sizeof(buf), 3000);
	}
	cr_assert_gt(k, 0, "no request was refused");
	cr_assert_not_null(strstr(buf, " 503 "), "%s", buf);
	cr_assert_not_null(strstr(buf, "RESOURCE_EXHAUSTED"), "%s", buf);
	cr_assert_eq(unlink(ha_flag), 0);
	for (int i = 0; i < n; i++) {
		close(fd[i]);
	}
	/* Once the writer goes on, the slots are given back (bounded). */
	for (int i = 0; i < 3000 && post("/api/track", "", one)->status != 200;
	        i++) {
		harness_sleep_ms(10);
	}
	expect(&res, 200, "\"duplicates\":1");
	expect_serving();
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/* clmd's peak resident set (VmHWM) in bytes. */
static size_t
clmd_hwm(void)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) srv.pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	size_t kb = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmHWM: %zu kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	cr_assert_gt(kb, 0);
	return kb * 1024;
}

/*
 * Regression: POST /api/track parsed every touchpoint of a body before
 * counting them, about 60 bytes of memory per byte of `{}` lines (100
 * per byte as an array): 4 MiB took clmd from 5 MB to 250-460 MB. Such a
 * body is refused (413) before it is parsed, and clmd grows by a small
 * multiple of it.
 */
Test(http_api, track_counts_before_it_parses)
{
	start_clmd(NULL, false);
	expect_serving();
	size_t before = clmd_hwm();
	size_t len = 4 * 1024 * 1024 - 4096;
	char *body = malloc(len + 1);
	cr_assert_not_null(body);
	for (size_t i = 0; i + 3 <= len; i += 3) {
		memcpy(body + i, "{}\n", 3);
	}
	body[len - len % 3] = '\0';
	expect(post("/api/track", "", body), 413, "max_touchpoints");
	expect_serving();
	/* The array form: [{},{},...]. */
	body[0] = '[';
	for (size_t i = 1; i + 3 <= len; i += 3) {
		memcpy(body + i, "{},", 3);
	}
	size_t end = 1 + (len - 2) / 3 * 3;
	body[end - 1] = ']';
	body[end] = '\0';
	expect(post("/api/track", "", body), 413, "max_touchpoints");
	expect_serving();
	/* One touchpoint whose array would take more than the budget. */
	size_t n = (size_t) snprintf(body, len, "{\"orderItems\":[\"\"");
	while (n + 8 < len) {
		memcpy(body + n, ",\"\"", 3);
		n += 3;
	}
	snprintf(body + n, len - n, "]}");
	expect(post("/api/track", "", body), 413, "bytes to read");
	expect_serving();
	free(body);
	size_t after = clmd_hwm();
	cr_expect_lt(after - before, (size_t) 64 << 20,
	        "VmHWM grew from %zu to %zu bytes", before, after);
	expect(post("/api/track", "", ndjson), 200, "\"accepted\":4");
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
