/*
 * The HTTP API's journey routes (docs/api.md, "HTTP API";
 * docs/journeys.md "Calls"), against a real clmd with --http, over plain
 * sockets (rawhttp.h):
 *
 *   - PUT /api/journeys/NAME defines a journey from the body, whose name
 *     may be absent (the path's is used) or the path's, with the write's
 *     position; again it replaces it; GET lists and reads it (the webhook
 *     secret hidden); DELETE removes it, and GET is then a 404;
 *   - bad requests are 400s naming the field: a bad definition (the JSON
 *     path of the fault), a body naming another journey, a bad name, bad
 *     parameters of /api/journey-messages; 405 for another method;
 *   - a message end to end: a journey entered by ADD_TO_CART with a step
 *     due at once claims a message, which GET /api/journey-messages pages
 *     (position, next_after, the journey filter) and GET /api/events
 *     carries with its journey fields.
 *
 * Every wait is bounded; nothing sleeps a fixed time and hopes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rawhttp.h"

#define HJ_WAIT_MS 30000

HARNESS_SUITE(http_journeys, 240);

static int http_port;
static char hj_dir[32];
static char hj_flag[64];
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

static const char cart_body[]
        = "{\"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"steps\": [{\"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
          "\"cart_reminder\", \"channel\": \"EMAIL\"}}],"
          " \"webhook\": {\"url\": \"http://127.0.0.1:9/h\", \"secret\": "
          "\"hush-hush\"}}";

Test(http_journeys, define_list_get_replace_delete)
{
	http_port = rawhttp_start_clmd(&srv, hj_dir, hj_flag, NULL, false);

	/* No name in the body: the path's. */
	expect(req("PUT", "/api/journeys/cart", "", cart_body), 200,
	        "\"position\":\"");
	cr_assert_not_null(
	        strstr(res.body, "\"name\":\"cart\""), "%s", res.body);
	cr_assert_null(strstr(res.body, "\"replaced\":true"), "%s", res.body);
	cr_assert_null(strstr(res.body, "hush-hush"), "%s", res.body);

	/* The path's name in the body: replaced. */
	expect(req("PUT", "/api/journeys/cart", "",
	               "{\"name\": \"cart\", \"trigger\": {\"event\": "
	               "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"1h\", "
	               "\"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
	               "\"later\", \"channel\": \"SMS\"}}]}"),
	        200, "\"replaced\":true");
	expect(req("PUT", "/api/journeys/a-first", "", cart_body), 200,
	        "\"name\":\"a-first\"");

	expect(req("GET", "/api/journeys", "", NULL), 200,
	        "{\"journeys\":[{\"name\":\"a-first\"");
	cr_assert_not_null(
	        strstr(res.body, "\"name\":\"cart\""), "%s", res.body);
	cr_assert_null(strstr(res.body, "hush-hush"), "%s", res.body);
	expect(req("GET", "/api/journeys/cart", "", NULL), 200,
	        "{\"journey\":{\"name\":\"cart\"");
	cr_assert_not_null(strstr(res.body, "later"), "%s", res.body);
	cr_assert_not_null(strstr(res.body, "\"stats\""), "%s", res.body);

	expect(req("DELETE", "/api/journeys/cart", "", NULL), 200,
	        "\"existed\":true");
	expect(req("GET", "/api/journeys/cart", "", NULL), 404,
	        "\"code\":\"NOT_FOUND\"");
	expect(req("DELETE", "/api/journeys/cart", "", NULL), 200,
	        "\"position\"");
	cr_assert_null(strstr(res.body, "\"existed\":true"), "%s", res.body);
	expect(req("GET", "/api/journeys", "", NULL), 200, "a-first");
	cr_assert_null(strstr(res.body, "\"cart\""), "%s", res.body);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(http_journeys, bad_requests_name_the_field)
{
	http_port = rawhttp_start_clmd(&srv, hj_dir, hj_flag, NULL, false);
	expect(req("PUT", "/api/journeys/x", "",
	               "{\"trigger\": {\"event\": \"PURCHASE\"}, \"steps\": "
	               "[{\"send\": {\"kind\": \"WIN_BACK\", \"action\": "
	               "\"a\", \"channel\": \"FAX\"}}]}"),
	        400, "\"field\":\"definition\"");
	cr_assert_not_null(
	        strstr(res.body, "steps[0].send.channel"), "%s", res.body);
	expect(req("PUT", "/api/journeys/x", "",
	               "{\"name\": \"y\", "
	               "\"trigger\": {\"event\": "
	               "\"PURCHASE\"}, \"steps\": "
	               "[{\"send\": {\"kind\": "
	               "\"WIN_BACK\", \"action\": "
	               "\"a\", \"channel\": "
	               "\"EMAIL\"}}]}"),
	        400, "\"field\":\"name\"");
	expect(req("PUT", "/api/journeys/Bad", "", cart_body), 400,
	        "\"field\":\"name\"");
	expect(req("PUT", "/api/journeys/x", "", ""), 400,
	        "\"code\":\"INVALID_ARGUMENT\"");
	expect(req("PUT", "/api/journeys/x", "", "not json"), 400,
	        "\"field\":\"definition\"");
	expect(req("PUT", "/api/journeys/x?force=1", "", cart_body), 400,
	        "\"field\":\"force\"");
	expect(req("GET", "/api/journeys", "", NULL), 200, "{");
	cr_assert_null(strstr(res.body, "\"name\""), "nothing was defined: %s",
	        res.body);

	expect(req("GET", "/api/journeys/nope", "", NULL), 404, "NOT_FOUND");
	expect(req("GET", "/api/journeys/BAD", "", NULL), 400,
	        "\"field\":\"name\"");
	expect(req("GET", "/api/journeys/a/b", "", NULL), 404, "NOT_FOUND");
	expect(req("GET", "/api/journey-messages?limit=1001", "", NULL), 400,
	        "\"field\":\"limit\"");
	expect(req("GET", "/api/journey-messages?after=x", "", NULL), 400,
	        "\"field\":\"after\"");
	expect(req("GET", "/api/journey-messages?after=-1", "", NULL), 400,
	        "\"field\":\"after\"");
	expect(req("GET", "/api/journey-messages?journey=No%20Way", "", NULL),
	        400, "\"field\":\"journey\"");
	expect(req("GET", "/api/journey-messages?page=2", "", NULL), 400,
	        "\"field\":\"page\"");
	expect(req("GET", "/api/journey-messages", "", NULL), 200, "{");

	expect(req("POST", "/api/journeys/x", "", "{}"), 405, "UNIMPLEMENTED");
	cr_assert_not_null(strstr(res.head, "Allow: GET, HEAD, PUT, DELETE"),
	        "%s", res.head);
	expect(req("PUT", "/api/journeys", "", cart_body), 405,
	        "/api/journeys/NAME");
	expect(req("DELETE", "/api/journeys", "", NULL), 405,
	        "/api/journeys/NAME");
	expect(req("POST", "/api/journey-messages", "", "{}"), 405,
	        "UNIMPLEMENTED");
	expect(req("GET", "/api/status", "", NULL), 200, "\"version\"");
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

/*
 * Reads the event stream on fd until it holds want (bounded); returns
 * the bytes read so far (static).
 */
static const char *
sse_until(int fd, const char *want)
{
	static char buf[65536];
	size_t len = 0;
	buf[0] = '\0';
	for (int waited = 0; strstr(buf, want) == NULL; waited += 200) {
		cr_assert_lt(waited, HJ_WAIT_MS, "no '%s' in the stream: %s",
		        want, buf);
		cr_assert_lt(len + 1, sizeof(buf));
		ssize_t n
		        = rawhttp_read(fd, buf + len, sizeof(buf) - len, 200);
		cr_assert_neq(n, 0, "the stream closed: %s", buf);
		if (n > 0) {
			len += (size_t) n;
		}
	}
	return buf;
}

Test(http_journeys, a_message_in_the_feed_and_the_stream)
{
	http_port = rawhttp_start_clmd(&srv, hj_dir, hj_flag, NULL, false);
	expect(req("PUT", "/api/journeys/cart", "",
	               "{\"trigger\": {\"event\": \"ADD_TO_CART\"}, "
	               "\"steps\": [{\"send\": {\"kind\": \"CART_REMINDER\", "
	               "\"action\": \"cart_reminder\", \"channel\": "
	               "\"EMAIL\"}}]}"),
	        200, "\"name\":\"cart\"");
	/*
	 * The stream of topic journey/cart, open (its head read) before
	 * anything happens: the SIGNUP's stage change is not in it.
	 */
	int fd = rawhttp_connect(http_port);
	rawhttp_send(fd, http_port, "GET", "/api/events?prefix=journey/cart",
	        "", NULL, 0);
	sse_until(fd, "text/event-stream");
	expect(req("POST", "/api/track", "",
	               "{\"eventId\":\"s-1\",\"customerId\":\"kim\","
	               "\"type\":\"SIGNUP\"}\n"
	               "{\"eventId\":\"c-1\",\"customerId\":\"kim\","
	               "\"type\":\"ADD_TO_CART\",\"itemId\":\"sku-1\"}\n"),
	        200, "\"accepted\"");

	/* The step is due at once: the writer claims it within a second. */
	for (int waited = 0;; waited += 50) {
		expect(req("GET", "/api/journey-messages", "", NULL), 200,
		        "{");
		if (strstr(res.body, "\"messages\"") != NULL) {
			break;
		}
		cr_assert_lt(waited, HJ_WAIT_MS, "no message: %s", res.body);
		harness_sleep_ms(50);
	}
	static const char *const want[] = { "\"kind\":\"JOURNEY_MESSAGE\"",
		"\"customerId\":\"kim\"", "\"journey\":\"cart\"",
		"\"recommendationKind\":\"CART_REMINDER\"",
		"\"action\":\"cart_reminder\"", "\"channel\":\"EMAIL\"",
		"\"item\":\"sku-1\"", "\"messageId\":\"jm_",
		"\"eventId\":\"jny:jm_", "\"position\":\"1\"",
		"\"nextAfter\":\"1\"", "\"oldest\":\"1\"", "\"last\":\"1\"" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_expect_not_null(strstr(res.body, want[i]), "no %s in %s",
		        want[i], res.body);
	}
	/* After it: nothing more; another journey's: nothing. */
	expect(req("GET", "/api/journey-messages?after=1&limit=5", "", NULL),
	        200, "\"nextAfter\":\"1\"");
	cr_assert_null(strstr(res.body, "\"messages\""), "%s", res.body);
	expect(req("GET", "/api/journey-messages?journey=other", "", NULL),
	        200, "\"last\":\"1\"");
	cr_assert_null(strstr(res.body, "\"messages\""), "%s", res.body);
	expect(req("GET", "/api/journey-messages?journey=cart&limit=1", "",
	               NULL),
	        200, "\"position\":\"1\"");
	expect(req("GET", "/api/journeys/cart", "", NULL), 200,
	        "\"sent\":\"1\"");

	/* The stream carried it live, with its journey's fields. */
	const char *s = sse_until(fd, "\"journey\":\"cart\"");
	cr_expect_not_null(strstr(s, "\"kind\":\"JOURNEY_MESSAGE\""), "%s", s);
	cr_expect_not_null(strstr(s, "\"messageId\":\"jm_"), "%s", s);
	cr_expect_not_null(strstr(s, "\"position\":\"1\""), "%s", s);
	cr_expect_null(strstr(s, "STAGE_CHANGED"), "%s", s);
	close(fd);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
