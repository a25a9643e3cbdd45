/*
 * The SDK ingest routes of --http (docs/ingest.md "Endpoints"), against a
 * real clmd over plain sockets:
 *
 *   - the bodies the real SDKs sent (tests/data/sdk: Segment plain,
 *     RudderStack gzipped as x-www-form-urlencoded, PostHog gzipped to
 *     /batch/ with a query) get 200 and the SDK's success body;
 *   - a Segment batch is recorded (GetCustomer: the page view merged by
 *     the alias, the cart, the purchase, the traits), its bad item is
 *     named in the body, and sending it twice changes nothing;
 *   - with tokens: the Basic user, a Bearer token or PostHog's api_key
 *     must be one of them (401 otherwise, and nothing recorded);
 *   - bad JSON and corrupt gzip get 400 naming the problem, and the
 *     server keeps serving; a gzip bomb gets 413 and clmd's RSS stays
 *     bounded; Expect: 100-continue works on a real batch;
 *   - a write the disk refuses gets 503 (the SDKs retry), then 200 once
 *     the disk takes writes again;
 *   - a batch near the limit of small items is recorded whole; writes
 *     held past http_request_timeout get 503 DEADLINE_EXCEEDED;
 *   - requests deferred while the journal's sync is held survive their
 *     client going away and a SIGTERM: clmd exits 0, and promptly (run
 *     under ASan too);
 *   - an anonymous PostHog $set is refused by itself and the $identify
 *     after it merges the device's page view;
 *   - the errors of Track and Identify name their items' indices, with
 *     max_touchpoints cutting a run of tracks into several jobs.
 *
 * Every wait is a poll with a generous bound.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "clm/client.h"
#include "harness.h"
#include "rawhttp.h"

#ifndef CLM_SDK_DATA
#error "CLM_SDK_DATA must be defined (tests/data/sdk)"
#endif
#define HI_WAIT_MS 30000             /* generous: a loaded machine */
#define HI_KEY     "wk_test_4f2c9a"  /* the recorded Segment/Rudder key */
#define HI_PH_KEY  "phc_test_8e1b77" /* the recorded PostHog api_key */
/* base64("wk_test_4f2c9a:"), as the SDKs send it */
#define HI_BASIC "Basic d2tfdGVzdF80ZjJjOWE6"

HARNESS_SUITE(http_ingest, 240);

static int http_port;
static char hi_dir[32];
static char hi_flag[64];

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- plain HTTP over a socket (rawhttp.h) ---- */

static int
http_connect(void)
{
	return rawhttp_connect(http_port);
}

/* Reads one whole response (head, then Content-Length bytes). */
static struct rawhttp_res
http_response(int fd)
{
	struct rawhttp_res r;
	rawhttp_response(fd, &r);
	return r;
}

/* Sends POST target with the extra header lines hdr and body, no more. */
static void
http_post_send(int fd, const char *target, const char *hdr, const void *body,
        size_t len)
{
	rawhttp_send(fd, http_port, "POST", target, hdr, body, len);
}

/* POSTs body to target on a new connection; returns the response. */
static struct rawhttp_res
http_post(const char *target, const char *hdr, const void *body, size_t len)
{
	struct rawhttp_res r;
	rawhttp_request(http_port, "POST", target, hdr, body, len, &r);
	return r;
}

/* ---- bodies ---- */

/* gzip of in, malloc'd. */
static uint8_t *
gzip_buf(const void *in, size_t len, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
	                     Z_DEFAULT_STRATEGY),
	        Z_OK);
	size_t cap = deflateBound(&z, (uLong) len) + 64;
	uint8_t *out = malloc(cap);
	cr_assert_not_null(out);
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) len;
	z.next_out = out;
	z.avail_out = (uInt) cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* A recorded body of tests/data/sdk, malloc'd. */
static char *
sdk_body(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", CLM_SDK_DATA, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open '%s'", path);
	char *b = malloc(1 << 20);
	cr_assert_not_null(b);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

/*
 * A Segment batch: kim's anonymous page view, her identify with nested
 * traits, a cart add, the alias of her visitor id, an item with a bad
 * timestamp (index 4) and an order.
 */
static const char seg_batch[]
        = "{\"batch\":["
          "{\"type\":\"page\",\"anonymousId\":\"anon-1\",\"messageId\":\"m-page\","
          "\"timestamp\":\"2026-01-10T00:00:00.000Z\",\"name\":\"Teas\","
          "\"properties\":{\"path\":\"/teas\"}},"
          "{\"type\":\"identify\",\"userId\":\"kim\",\"messageId\":\"m-id\","
          "\"timestamp\":\"2026-01-10T00:01:00.000Z\","
          "\"traits\":{\"plan\":\"pro\",\"address\":{\"city\":\"Lyon\"}}},"
          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"Product Added\","
          "\"messageId\":\"m-add\",\"timestamp\":\"2026-01-10T00:02:00.000Z\","
          "\"properties\":{\"product_id\":\"sku-42\"}},"
          "{\"type\":\"alias\",\"userId\":\"kim\",\"previousId\":\"anon-1\","
          "\"messageId\":\"m-alias\",\"timestamp\":\"2026-01-10T00:03:00.000Z\"},"
          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"Signed Up\","
          "\"messageId\":\"m-bad\",\"timestamp\":\"yesterday\"},"
          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"Order Completed\","
          "\"messageId\":\"m-order\",\"timestamp\":\"2026-01-10T00:04:00.000Z\","
          "\"properties\":{\"revenue\":20,\"currency\":\"EUR\"}}"
          "],\"sentAt\":\"2026-01-10T00:05:00.000Z\"}";

/* ---- clmd ---- */

/*
 * Starts clmd with --http (and extra, NULL-terminated, may be NULL); with
 * faulty, behind the faultfs shim and its flag hi_flag.
 */
static void
start_clmd(const char *const *extra, bool faulty)
{
	http_port = rawhttp_start_clmd(&srv, hi_dir, hi_flag, extra, faulty);
}

/* kim as GetCustomer sees her (token: NULL for none). */
static Clm__V1__Response *
get_customer(const char *id, const char *token)
{
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	clm_close(c);
	cr_assert_eq(e, CLM_OK, "GetCustomer '%s': %s", id, clm_errname(e));
	cr_assert_not_null(resp->customer);
	return resp;
}

static uint64_t
touch_count(const Clm__V1__Customer *cu, Clm__V1__TouchpointType type)
{
	for (size_t i = 0; i < cu->n_touch_counts; i++) {
		if (cu->touch_counts[i]->type == type) {
			return cu->touch_counts[i]->count;
		}
	}
	return 0;
}

static const char *
trait(const Clm__V1__Customer *cu, const char *key)
{
	for (size_t i = 0; i < cu->n_traits; i++) {
		if (strcmp(cu->traits[i]->key, key) == 0) {
			return cu->traits[i]->value;
		}
	}
	return NULL;
}

/* Checks kim holds exactly what seg_batch records, once. */
static void
assert_kim(const char *token)
{
	Clm__V1__Response *resp = get_customer("kim", token);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(cu->purchases, 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW), 1,
	        "the anonymous page view, merged by the alias");
	cr_expect_eq(
	        touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__SIGNUP), 0,
	        "the bad item was recorded");
	const char *plan = trait(cu, "plan");
	cr_expect(plan != NULL && strcmp(plan, "pro") == 0);
	const char *city = trait(cu, "address.city");
	cr_expect(city != NULL && strcmp(city, "Lyon") == 0);
	bool anon = false;
	for (size_t i = 0; i < cu->n_anonymous_ids; i++) {
		anon = anon || strcmp(cu->anonymous_ids[i], "anon-1") == 0;
	}
	cr_expect(anon, "anon-1 is not kim's");
	clm_response_free(resp);
}

/* VmRSS of pid, in KiB. */
static long
rss_kib(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	char *s = harness_read_file(path);
	cr_assert_not_null(s);
	const char *v = strstr(s, "VmRSS:");
	cr_assert_not_null(v);
	long kib = strtol(v + 6, NULL, 10);
	free(s);
	return kib;
}

/* ---- tests ---- */

Test(http_ingest, recorded_sdk_bodies_are_answered_as_the_sdks_expect)
{
	start_clmd(NULL, false);
	size_t n;
	char *b = sdk_body("segment-1.body", &n);
	struct rawhttp_res r = http_post("/v1/batch",
	        "Content-Type: application/json\r\n"
	        "Authorization: " HI_BASIC "\r\n",
	        b, n);
	free(b);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(
	        strncmp(r.body, "{\"success\":true", 15), 0, "%s", r.body);

	b = sdk_body("rudder-2.body", &n);
	r = http_post("/v1/batch",
	        "Content-Type: application/x-www-form-urlencoded\r\n"
	        "Content-Encoding: gzip\r\n"
	        "Authorization: " HI_BASIC "\r\n",
	        b, n);
	free(b);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(
	        strncmp(r.body, "{\"success\":true", 15), 0, "%s", r.body);

	/* PostHog: gzipped, trailing slash, a query as its browser SDK. */
	b = sdk_body("posthog-2.body", &n);
	r = http_post("/batch/?ip=1&_=1767225600000&ver=5.7.0",
	        "Content-Type: application/json\r\n"
	        "Content-Encoding: gzip\r\n",
	        b, n);
	free(b);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(strncmp(r.body, "{\"status\":1", 11), 0, "%s", r.body);
	b = sdk_body("posthog-plain-1.body", &n);
	r = http_post("/capture", "Content-Type: application/json\r\n", b, n);
	free(b);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(strncmp(r.body, "{\"status\":1", 11), 0, "%s", r.body);

	/* Counted per route. */
	char *m = harness_metrics(http_port);
	cr_assert_not_null(m);
	cr_expect_not_null(strstr(m,
	        "clm_http_requests_total{handler=\"/v1/batch\",code=\"200\"} 2"));
	cr_expect_not_null(strstr(m,
	        "clm_http_requests_total{handler=\"/batch/\",code=\"200\"} 1"));
	free(m);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_ingest, batch_recorded_with_item_errors_and_twice_changes_nothing)
{
	start_clmd(NULL, false);
	for (int round = 0; round < 2; round++) {
		struct rawhttp_res r = http_post("/v1/batch",
		        "Content-Type: application/json\r\n", seg_batch,
		        strlen(seg_batch));
		cr_assert_eq(r.status, 200, "%s", r.body);
		cr_assert_eq(
		        strncmp(r.body, "{\"success\":true,\"errors\":[", 26),
		        0, "%s", r.body);
		cr_expect_not_null(
		        strstr(r.body, "{\"index\":4,"), "%s", r.body);
		cr_expect_not_null(strstr(r.body, "timestamp"), "%s", r.body);
		cr_expect_null(strstr(r.body, "\"index\":5"), "%s", r.body);
		assert_kim(NULL);
	}
	/* The same, gzipped, to the route with a trailing slash. */
	size_t n;
	uint8_t *z = gzip_buf(seg_batch, strlen(seg_batch), &n);
	struct rawhttp_res r
	        = http_post("/v1/batch/", "Content-Encoding: gzip\r\n", z, n);
	free(z);
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_kim(NULL);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_ingest, tokens_guard_the_routes)
{
	cr_assert_eq(harness_tmpdir(hi_dir), 0);
	char tokens[64];
	snprintf(tokens, sizeof(tokens), "%s/tokens", hi_dir);
	cr_assert_eq(
	        harness_write_file(tokens, HI_KEY "\n" HI_PH_KEY "\n"), 0);
	const char *args[] = { "--auth-token-file", tokens, NULL };
	start_clmd(args, false);

	const char *bad[] = {
		"",
		"Authorization: Basic d3Jvbmc6\r\n", /* "wrong:" */
		"Authorization: Bearer wk_test_4f2c9\r\n",
		"Authorization: Basic !!!\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rawhttp_res r = http_post(
		        "/v1/batch", bad[i], seg_batch, strlen(seg_batch));
		cr_assert_eq(r.status, 401, "%zu: %s", i, r.body);
		cr_expect_not_null(strstr(r.body, "UNAUTHENTICATED"));
	}
	/* Nothing was recorded. */
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	cr_assert_eq(clm_set_token(c, HI_KEY), CLM_OK);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_get_customer(c, "kim", 0, &resp), CLM_NOT_FOUND);
	clm_response_free(resp);
	clm_close(c);

	struct rawhttp_res r
	        = http_post("/v1/batch", "Authorization: " HI_BASIC "\r\n",
	                seg_batch, strlen(seg_batch));
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_kim(HI_KEY);
	r = http_post("/v1/batch", "Authorization: Bearer " HI_KEY "\r\n",
	        seg_batch, strlen(seg_batch));
	cr_assert_eq(r.status, 200, "%s", r.body);

	/* PostHog's key is in the body. */
	size_t n;
	char *b = sdk_body("posthog-plain-1.body", &n);
	r = http_post("/e/", "", b, n);
	cr_assert_eq(r.status, 200, "%s", r.body);
	char *k = strstr(b, HI_PH_KEY);
	cr_assert_not_null(k);
	k[0] = 'x';
	r = http_post("/e/", "", b, n);
	cr_assert_eq(r.status, 401, "%s", r.body);
	free(b);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_ingest, bad_bodies_get_400_and_the_server_goes_on)
{
	start_clmd(NULL, false);
	struct rawhttp_res r = http_post("/v1/batch", "", "{\"batch\":[{", 11);
	cr_assert_eq(r.status, 400, "%s", r.body);
	cr_expect_not_null(strstr(r.body, "JSON"), "%s", r.body);
	r = http_post("/v1/batch", "Content-Encoding: gzip\r\n",
	        "\x1f\x8b\x08\x00garbage", 12);
	cr_assert_eq(r.status, 400, "%s", r.body);
	cr_expect_not_null(strstr(r.body, "gzip"), "%s", r.body);
	r = http_post("/v1/batch", "Content-Encoding: br\r\n", "{}", 2);
	cr_assert_eq(r.status, 400, "%s", r.body);
	cr_expect_not_null(strstr(r.body, "Content-Encoding"), "%s", r.body);
	r = http_post("/v1/batch", "", "", 0);
	cr_assert_eq(r.status, 400, "%s", r.body);

	/* Expect: 100-continue on a real batch, then it goes on serving. */
	int fd = http_connect();
	char head[256];
	int n = snprintf(head, sizeof(head),
	        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	        "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	        http_port, strlen(seg_batch));
	rawhttp_send_all(fd, head, (size_t) n);
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char buf[64];
	size_t got = 0;
	while (got < strlen(cont)) {
		ssize_t k = rawhttp_read(
		        fd, buf + got, strlen(cont) - got + 1, HI_WAIT_MS);
		cr_assert_gt(k, 0, "no 100 Continue");
		got += (size_t) k;
	}
	cr_assert_eq(memcmp(buf, cont, strlen(cont)), 0);
	rawhttp_send_all(fd, seg_batch, strlen(seg_batch));
	r = http_response(fd);
	cr_assert_eq(r.status, 200, "%s", r.body);
	close(fd);
	assert_kim(NULL);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * A batch near the limit made of small items (8,800 page views of 97
 * customers, about 450 KiB) is recorded whole: several Track jobs (cut at
 * max_touchpoints), one after the other, within the parse's budget.
 */
Test(http_ingest, a_batch_at_the_limit_of_small_items_is_recorded)
{
	start_clmd(NULL, false);
	size_t cap = 512000;
	char *b = malloc(cap);
	cr_assert_not_null(b);
	size_t n = (size_t) snprintf(b, cap, "{\"batch\":[");
	for (int i = 0; i < 8800; i++) {
		n += (size_t) snprintf(b + n, cap - n,
		        "%s{\"type\":\"page\",\"userId\":\"u%d\","
		        "\"messageId\":\"m%d\"}",
		        i > 0 ? "," : "", i % 97, i);
		cr_assert_lt(n, cap - 8);
	}
	n += (size_t) snprintf(b + n, cap - n, "]}");
	struct rawhttp_res r = http_post("/v1/batch", "", b, n);
	free(b);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "{\"success\":true}");
	Clm__V1__Response *resp = get_customer("u5", NULL);
	cr_expect_eq(touch_count(resp->customer,
	                     CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW),
	        8800 / 97 + (5 < 8800 % 97));
	clm_response_free(resp);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * A gzip bomb (256 MiB of zeros in about 256 KiB) sent by 4 clients at
 * once, 3 times: 413 each time, and clmd's RSS grows by far less than
 * one bomb's plain size.
 */
Test(http_ingest, gzip_bomb_costs_bounded_memory)
{
	start_clmd(NULL, false);
	size_t chunk = 1 << 20;
	char *zeros = calloc(1, chunk);
	cr_assert_not_null(zeros);
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
	                     Z_DEFAULT_STRATEGY),
	        Z_OK);
	size_t cap = 1 << 20;
	uint8_t *bomb = malloc(cap);
	cr_assert_not_null(bomb);
	z.next_out = bomb;
	z.avail_out = (uInt) cap;
	for (int i = 0; i < 256; i++) {
		z.next_in = (Bytef *) zeros;
		z.avail_in = (uInt) chunk;
		cr_assert_eq(deflate(&z, i == 255 ? Z_FINISH : Z_NO_FLUSH),
		        i == 255 ? Z_STREAM_END : Z_OK);
	}
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	free(zeros);
	cr_assert_lt(n, 500 * 1024, "the bomb is %zu bytes", n);

	long before = rss_kib(srv.pid);
	long peak = before;
	for (int round = 0; round < 3; round++) {
		int fd[4];
		for (int i = 0; i < 4; i++) {
			fd[i] = http_connect();
			http_post_send(fd[i], "/v1/batch",
			        "Content-Encoding: gzip\r\n", bomb, n);
		}
		for (int i = 0; i < 4; i++) {
			struct rawhttp_res r = http_response(fd[i]);
			cr_assert_eq(r.status, 413, "%s", r.body);
			cr_expect_not_null(strstr(r.body, "inflates to more"));
			close(fd[i]);
		}
		long now = rss_kib(srv.pid);
		peak = now > peak ? now : peak;
	}
	free(bomb);
	fprintf(stderr,
	        "http_ingest: VmRSS %ld KiB before the bombs, %ld after\n",
	        before, peak);
	/* One bomb inflated would be 256 MiB; 4 at the cap, about 4 MiB. */
	cr_assert_lt(peak - before, 64 * 1024,
	        "VmRSS grew from %ld to %ld KiB", before, peak);
	struct rawhttp_res r
	        = http_post("/v1/batch", "", seg_batch, strlen(seg_batch));
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/* A journal the disk refuses: 503 (retried by the SDKs), then 200. */
Test(http_ingest, a_refused_write_is_503_not_success)
{
	start_clmd(NULL, true);
	cr_assert_eq(harness_write_file(hi_flag, "ENOSPC"), 0);
	struct rawhttp_res r
	        = http_post("/v1/batch", "", seg_batch, strlen(seg_batch));
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_expect_not_null(strstr(r.body, "retry"), "%s", r.body);
	cr_assert_eq(unlink(hi_flag), 0);
	/* The writer takes writes again once the disk does (bounded). */
	int64_t until = now_ms() + HI_WAIT_MS;
	do {
		r = http_post("/v1/batch", "", seg_batch, strlen(seg_batch));
		if (r.status == 200) {
			break;
		}
		cr_assert_eq(r.status, 503, "%s", r.body);
		harness_sleep_ms(100);
	} while (now_ms() < until);
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_kim(NULL);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * With the journal's sync held, requests are deferred: some clients go
 * away, others wait; SIGTERM comes, then the hold is released. clmd
 * exits 0 (no use after free under ASan), and each client that waited
 * gets its 200 or a closed connection, never a hang.
 */
Test(http_ingest, deferred_requests_survive_a_gone_client_and_a_stop)
{
	const char *args[] = { "--http-request-timeout", "60", NULL };
	start_clmd(args, true);
	char held[96];
	snprintf(held, sizeof(held), "%s.held", hi_flag);
	cr_assert_eq(harness_write_file(hi_flag, "HOLD"), 0);
	/* More than the 8 ingest states: some wait for one. */
	enum { STAY = 8, GONE = 4 };
	int stay[STAY], gone[GONE];
	for (int i = 0; i < STAY; i++) {
		stay[i] = http_connect();
		http_post_send(stay[i], "/v1/batch", "", seg_batch,
		        strlen(seg_batch));
	}
	for (int i = 0; i < GONE; i++) {
		gone[i] = http_connect();
		http_post_send(gone[i], "/v1/batch", "", seg_batch,
		        strlen(seg_batch));
	}
	int64_t until = now_ms() + HI_WAIT_MS;
	while (access(held, F_OK) != 0 && now_ms() < until) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(access(held, F_OK), 0, "no sync was held");
	for (int i = 0; i < GONE; i++) {
		close(gone[i]);
	}
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(unlink(hi_flag), 0);
	for (int i = 0; i < STAY; i++) {
		char buf[4096];
		ssize_t k
		        = rawhttp_read(stay[i], buf, sizeof(buf), HI_WAIT_MS);
		cr_assert_geq(k, 0, "waiting client %d hangs", i);
		cr_assert(k == 0 || strncmp(buf, "HTTP/1.1 200 ", 13) == 0,
		        "%s", buf);
		close(stay[i]);
	}
	/*
	 * Within HI_WAIT_MS, half of http_request_timeout: a reply to a
	 * stream httpd_close closed is not left queued until its timeout.
	 */
	cr_assert_eq(clmd_wait(&srv, HI_WAIT_MS), 0, "log %s", srv.log_path);
}

/*
 * A request waiting for the writer has no timer of its own: its writes
 * carry the deadline of http_request_timeout (2 s here). With the
 * journal's sync held past it, the request whose write was queued gets
 * 503 DEADLINE_EXCEEDED once the writer goes on, the one held gets 200
 * or 503, neither hangs, and clmd goes on serving.
 */
Test(http_ingest, writes_past_the_request_timeout_get_503)
{
	const char *args[] = { "--http-request-timeout", "2", NULL };
	start_clmd(args, true);
	char held[96];
	snprintf(held, sizeof(held), "%s.held", hi_flag);
	cr_assert_eq(harness_write_file(hi_flag, "HOLD"), 0);
	int first = http_connect();
	http_post_send(first, "/v1/batch", "", seg_batch, strlen(seg_batch));
	int64_t until = now_ms() + HI_WAIT_MS;
	while (access(held, F_OK) != 0 && now_ms() < until) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(access(held, F_OK), 0, "no sync was held");
	/* Queued behind the held batch. */
	int second = http_connect();
	static const char late[]
	        = "{\"userId\":\"late\",\"event\":"
	          "\"Product Added\",\"messageId\":\"m-late\"}";
	http_post_send(second, "/v1/track", "", late, strlen(late));
	/*
	 * Its write is queued (bounded poll) once it was handled, which
	 * started its 2 s deadline: from then on, 2 s on our clock is past
	 * it, however slowly clmd got there.
	 */
	until = now_ms() + HI_WAIT_MS;
	while (rawhttp_metric(http_port, "clm_write_queue_depth") == 0
	        && now_ms() < until) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(rawhttp_metric(http_port, "clm_write_queue_depth"), 1);
	int64_t past = now_ms() + 2000 + 100;
	while (now_ms() < past) {
		harness_sleep_ms(past - now_ms());
	}
	cr_assert_eq(unlink(hi_flag), 0);
	struct rawhttp_res r = http_response(second);
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_expect_not_null(strstr(r.body, "DEADLINE_EXCEEDED"), "%s", r.body);
	close(second);
	r = http_response(first);
	cr_assert(
	        r.status == 200 || r.status == 503, "%d %s", r.status, r.body);
	close(first);
	r = http_post("/v1/batch", "", seg_batch, strlen(seg_batch));
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_kim(NULL);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/* The number of errors in a 200's body. */
static int
error_count(const char *body)
{
	int n = 0;
	for (const char *p = strstr(body, "{\"index\":"); p != NULL;
	        p = strstr(p + 1, "{\"index\":")) {
		n++;
	}
	return n;
}

/*
 * posthog-js's setPersonProperties() before identify(): the anonymous
 * $set is refused by itself (clm keeps traits on known customers only),
 * so the device id stays anonymous and the $identify after it merges its
 * page view into alice.
 */
Test(http_ingest, an_anonymous_posthog_set_is_refused_and_identify_merges)
{
	start_clmd(NULL, false);
	static const char body[]
	        = "{\"api_key\":\"k\",\"batch\":["
	          "{\"event\":\"$set\",\"distinct_id\":\"dev-1\","
	          "\"uuid\":\"u-set\",\"properties\":{\"$device_id\":"
	          "\"dev-1\",\"$set\":{\"plan\":\"free\"}}},"
	          "{\"event\":\"$pageview\",\"distinct_id\":\"dev-1\","
	          "\"uuid\":\"u-pv\",\"properties\":{\"$device_id\":"
	          "\"dev-1\",\"$current_url\":\"https://x/\"}},"
	          "{\"event\":\"$identify\",\"distinct_id\":\"alice\","
	          "\"uuid\":\"u-id\",\"properties\":{\"$device_id\":"
	          "\"dev-1\",\"$anon_distinct_id\":\"dev-1\","
	          "\"$set\":{\"plan\":\"pro\"}}}]}";
	struct rawhttp_res r = http_post("/batch/", "", body, strlen(body));
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(error_count(r.body), 1, "%s", r.body);
	cr_expect_not_null(
	        strstr(r.body,
	                "{\"index\":0,\"code\":\"INVALID_ARGUMENT\","
	                "\"field\":\"batch[0].distinct_id\","
	                "\"message\":\"is anonymous: clm keeps "
	                "traits on known customers only\"}"),
	        "%s", r.body);
	Clm__V1__Response *resp = get_customer("alice", NULL);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW), 1);
	cr_expect(cu->n_anonymous_ids >= 1);
	bool dev = false;
	for (size_t i = 0; i < cu->n_anonymous_ids; i++) {
		dev = dev || strcmp(cu->anonymous_ids[i], "dev-1") == 0;
	}
	cr_expect(dev, "dev-1 is not alice's");
	const char *plan = trait(cu, "plan");
	cr_expect(plan != NULL && strcmp(plan, "pro") == 0);
	clm_response_free(resp);
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	resp = NULL;
	cr_expect_eq(clm_get_customer(c, "dev-1", 0, &resp), CLM_NOT_FOUND,
	        "dev-1 became a customer");
	clm_response_free(resp);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * The errors of the writes name the batch's items: with max_touchpoints
 * 2, the runs of track are cut into several Track jobs, each refusing
 * its second touchpoint (a customer id that is kim's anonymous id), and
 * an Identify is refused whole; each is reported at its own index, in
 * order with the mapper's.
 */
Test(http_ingest, write_errors_name_their_items)
{
	const char *args[] = { "--max-touchpoints", "2", NULL };
	start_clmd(args, false);
	static const char body[]
	        = "{\"batch\":["
	          "{\"type\":\"identify\",\"userId\":\"kim\","
	          "\"anonymousId\":\"anon1\"},"
	          "{\"type\":\"identify\",\"userId\":\"zed\"},"
	          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"x\","
	          "\"messageId\":\"m2\"},"
	          "{\"type\":\"track\",\"userId\":\"anon1\",\"event\":\"x\","
	          "\"messageId\":\"m3\"},"
	          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"x\","
	          "\"messageId\":\"m4\"},"
	          "{\"type\":\"track\",\"userId\":\"anon1\",\"event\":\"x\","
	          "\"messageId\":\"m5\"},"
	          "{\"type\":\"identify\",\"userId\":\"zed\","
	          "\"anonymousId\":\"anon1\"},"
	          "{\"type\":\"track\",\"userId\":\"zed\",\"event\":\"x\","
	          "\"messageId\":\"m7\"},"
	          "{\"type\":\"track\",\"userId\":\"kim\",\"event\":\"x\","
	          "\"messageId\":\"m8\",\"timestamp\":\"yesterday\"}]}";
	struct rawhttp_res r = http_post("/v1/batch", "", body, strlen(body));
	cr_assert_eq(r.status, 200, "%s", r.body);
	static const char *const want[] = {
		"{\"index\":3,\"code\":\"FAILED_PRECONDITION\","
		"\"field\":\"customer_id\",\"message\":\"'anon1' is already "
		"an anonymous id linked to customer 'kim'",
		"{\"index\":5,\"code\":\"FAILED_PRECONDITION\","
		"\"field\":\"customer_id\",\"message\":\"'anon1' is already "
		"an anonymous id linked to customer 'kim'",
		"{\"index\":6,\"code\":\"FAILED_PRECONDITION\","
		"\"field\":\"identify.anonymous_id\",\"message\":\"'anon1' is "
		"already linked to customer 'kim'",
		"{\"index\":8,\"code\":\"INVALID_ARGUMENT\","
		"\"field\":\"batch[8].timestamp\"",
	};
	cr_assert_eq(error_count(r.body), 4, "%s", r.body);
	const char *at = r.body;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *p = strstr(at, want[i]);
		cr_assert_not_null(
		        p, "no (or out of order) %s in %s", want[i], r.body);
		at = p + 1;
	}
	Clm__V1__Response *resp = get_customer("kim", NULL);
	cr_expect_eq(
	        touch_count(resp->customer, CLM__V1__TOUCHPOINT_TYPE__CUSTOM),
	        2);
	clm_response_free(resp);
	resp = get_customer("zed", NULL);
	cr_expect_eq(
	        touch_count(resp->customer, CLM__V1__TOUCHPOINT_TYPE__CUSTOM),
	        1);
	clm_response_free(resp);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
