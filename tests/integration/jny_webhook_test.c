/*
 * jny_webhook: journeys' webhooks end to end (docs/journeys.md
 * "Webhooks"): a receiver on 127.0.0.1 in the test gets the POST of a
 * message with its body, headers and signature (checked with `openssl
 * dgst -hmac`); failed tries are retried with the doubling delay and
 * counted; max_attempts against a port nobody listens on ends in a dead
 * letter; and a delivery pending when clmd is killed -9 is made after the
 * restart. An https:// receiver (nng's HTTP server over TLS, with
 * certificates the test makes with `openssl`) gets the same POST when
 * its certificate verifies against --webhook-ca-file for the URL's host,
 * and nothing when it does not (another CA, another name) or the CA file
 * cannot be read. The expected body is built by the test from the feed's
 * message (JourneyMessages), not by the server's code.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hookrecv.h"
#include "segflow.h"

HARNESS_SUITE(jny_webhook, 240);

#define PURCHASE CLM__V1__TOUCHPOINT_TYPE__PURCHASE
/*
 * Defines a journey triggered by PURCHASE, sending on channel at once, to
 * url. (A customer gets one message a channel within quiet_hours: two
 * journeys one PURCHASE enters send on two channels.)
 */
static void
jwh_define_on(clm_conn *c, const char *name, const char *url, int max_attempts,
        const char *channel)
{
	char def[1024];
	snprintf(def, sizeof(def),
	        "{\"name\": \"%s\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"steps\": [{\"wait\": \"0s\", \"send\": {\"kind\": "
	        "\"CART_REMINDER\", \"action\": \"cart_reminder\", "
	        "\"channel\": \"%s\"}}], "
	        "\"webhook\": {\"url\": \"%s\", \"secret\": \"t0p-s3cret\", "
	        "\"max_attempts\": %d}}",
	        name, channel, url, max_attempts);
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__DefineJourneyRequest dj
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	dj.definition = def;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	req.define_journey = &dj;
	Clm__V1__Response *r = NULL;
	clm_err e = clm_call(c, &req, &r);
	cr_assert_eq(e, CLM_OK, "define: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert(r->status == NULL || r->status->code == 0, "define %s: %s",
	        name, r->status != NULL ? r->status->message : "");
	clm_response_free(r);
}

/* jwh_define_on on EMAIL. */
static void
jwh_define(clm_conn *c, const char *name, const char *url, int max_attempts)
{
	jwh_define_on(c, name, url, max_attempts, "EMAIL");
}

/* GetJourney's statistics of name (the caller frees the reply). */
static Clm__V1__Response *
jwh_get(clm_conn *c, const char *name, const Clm__V1__JourneyStats **st)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__GetJourneyRequest gj = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	gj.name = (char *) name;
	req.call_case = CLM__V1__REQUEST__CALL_GET_JOURNEY;
	req.get_journey = &gj;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK, "get %s", name);
	cr_assert(r->status == NULL || r->status->code == 0, "get %s: %s",
	        name, r->status != NULL ? r->status->message : "");
	cr_assert(r->get_journey != NULL && r->get_journey->journey != NULL
	        && r->get_journey->journey->stats != NULL);
	*st = r->get_journey->journey->stats;
	return r;
}

struct jwh_stats {
	uint64_t delivered, pending, retries, dead;
};

/*
 * Polls GetJourney every 50 ms for up to ms until its webhook counters
 * are want; asserts they got there.
 */
static void
jwh_expect_stats(clm_conn *c, const char *name, struct jwh_stats want, int ms)
{
	struct jwh_stats got = { 0 };
	for (int i = 0; i <= ms / 50; i++) {
		const Clm__V1__JourneyStats *st;
		Clm__V1__Response *r = jwh_get(c, name, &st);
		got = (struct jwh_stats) { st->webhook_delivered,
			st->webhook_pending, st->webhook_retries,
			st->webhook_dead };
		clm_response_free(r);
		if (memcmp(&got, &want, sizeof(got)) == 0) {
			return;
		}
		harness_sleep_ms(50);
	}
	cr_assert_fail("%s: webhook delivered %llu pending %llu retries %llu "
	               "dead %llu, want %llu %llu %llu %llu",
	        name, (unsigned long long) got.delivered,
	        (unsigned long long) got.pending,
	        (unsigned long long) got.retries,
	        (unsigned long long) got.dead,
	        (unsigned long long) want.delivered,
	        (unsigned long long) want.pending,
	        (unsigned long long) want.retries,
	        (unsigned long long) want.dead);
}

/* The feed's messages of journey name (asserts OK; caller frees). */
static Clm__V1__Response *
jwh_messages(clm_conn *c, const char *name)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__JourneyMessagesRequest jm
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	jm.journey = (char *) name;
	req.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req.journey_messages = &jm;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK, "messages %s", name);
	cr_assert(r->status == NULL || r->status->code == 0);
	cr_assert_not_null(r->journey_messages);
	return r;
}

/* The body docs/journeys.md gives for message ev (plain ids: no escapes). */
static void
jwh_body(const Clm__V1__LifecycleEvent *ev, char *out, size_t cap)
{
	snprintf(out, cap,
	        "{\"message_id\": \"%s\", \"journey\": \"%s\", \"step\": %u, "
	        "\"customer_id\": \"%s\", \"recommendation_kind\": "
	        "\"CART_REMINDER\", \"action\": \"%s\", \"channel\": "
	        "\"EMAIL\", \"item\": \"%s\", \"at_ms\": %lld, "
	        "\"position\": %llu}",
	        ev->message_id, ev->journey, ev->step, ev->customer_id,
	        ev->action, ev->item, (long long) ev->at_ms,
	        (unsigned long long) ev->position);
}

static clm_conn *
jwh_start_with(const char *const *args)
{
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "clmd did not start");
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 10000, &c), CLM_OK, "%s", clm_open_error());
	return c;
}

static clm_conn *
jwh_start(void)
{
	return jwh_start_with(NULL);
}

/*
 * Counts the requests of rv that carry message id mid (a copy taken under
 * the receiver's lock is not needed: requests are only appended).
 */
static int
jwh_count_of(struct recv *rv, const char *mid)
{
	int n = recv_count(rv), k = 0;
	for (int i = 0; i < n; i++) {
		k += strcmp(rv->req[i].message_id, mid) == 0;
	}
	return k;
}

static void
jwh_purchase(clm_conn *c, const char *customer, const char *eid)
{
	struct segflow_tp t = { customer, eid, PURCHASE, 0, "sku-1", 9.5 };
	clm_response_free(segflow_track(c, &t, 1));
}

/*
 * A PURCHASE of customer (its event id "e" + customer) enters the
 * journey, whose message is the first request rv gets, within 20 s: its
 * request line is line, and its body, message id, timestamp and
 * signature are the feed's message's.
 */
static void
jwh_expect_first(clm_conn *c, struct recv *rv, const char *journey,
        const char *customer, const char *line)
{
	char eid[64];
	snprintf(eid, sizeof(eid), "e%s", customer);
	time_t before = time(NULL);
	jwh_purchase(c, customer, eid);
	cr_assert_eq(recv_wait(rv, 1, 20000), 1, "no POST within 20 s");
	time_t after = time(NULL);
	const struct recv_req *r = &rv->req[0];
	cr_expect_str_eq(r->line, line);
	cr_expect_str_eq(r->ctype, "application/json");

	Clm__V1__Response *m = jwh_messages(c, journey);
	cr_assert_eq(m->journey_messages->n_messages, 1);
	const Clm__V1__LifecycleEvent *ev = m->journey_messages->messages[0];
	cr_expect_str_eq(ev->customer_id, customer);
	cr_expect_str_eq(ev->item, "sku-1");
	char want[2048];
	jwh_body(ev, want, sizeof(want));
	cr_expect_str_eq(r->body, want);
	cr_expect_str_eq(r->message_id, ev->message_id);
	cr_expect_eq(strlen(r->message_id), 35);
	clm_response_free(m);

	long long ts = atoll(r->ts);
	cr_expect(ts >= (long long) before - 1 && ts <= (long long) after + 1,
	        "timestamp %s not within [%lld, %lld]", r->ts,
	        (long long) before, (long long) after);
	recv_check_sig(r, "t0p-s3cret");
}

Test(jny_webhook, delivered_with_body_headers_and_signature)
{
	struct recv rv;
	recv_start(&rv, NULL, 0);
	clm_conn *c = jwh_start();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/clm?src=test",
	        rv.port);
	jwh_define(c, "wh-basic", url, 10);
	jwh_expect_first(
	        c, &rv, "wh-basic", "c1", "POST /hooks/clm?src=test HTTP/1.1");
	struct recv_req *r = &rv.req[0];

	jwh_expect_stats(
	        c, "wh-basic", (struct jwh_stats) { 1, 0, 0, 0 }, 10000);
	/*
	 * Delivered once: its delivery row is gone (pending 0), and a second
	 * customer's message, delivered to the same receiver afterwards, is
	 * the barrier: c1's message came once before it.
	 */
	char mid[64];
	snprintf(mid, sizeof(mid), "%s", r->message_id);
	jwh_purchase(c, "c1b", "e1b");
	cr_assert_eq(recv_wait(&rv, 2, 20000), 2, "no second POST in 20 s");
	jwh_expect_stats(
	        c, "wh-basic", (struct jwh_stats) { 2, 0, 0, 0 }, 10000);
	cr_expect_str_neq(rv.req[1].message_id, mid);
	cr_expect_eq(jwh_count_of(&rv, mid), 1, "delivered again");
	cr_expect_eq(recv_count(&rv), 2);
	clm_close(c);
	recv_stop(&rv);
}

Test(jny_webhook, retried_after_errors_then_delivered)
{
	int script[] = { 500, 503, 200 };
	struct recv rv;
	recv_start(&rv, script, 3);
	clm_conn *c = jwh_start();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", rv.port);
	jwh_define(c, "wh-retry", url, 10);
	jwh_purchase(c, "c2", "e2");
	cr_assert_eq(recv_wait(&rv, 3, 30000), 3, "3 tries within 30 s");
	/* The same message each time; 1 s, then 2 s between the tries. */
	cr_expect_str_eq(rv.req[1].message_id, rv.req[0].message_id);
	cr_expect_str_eq(rv.req[2].message_id, rv.req[0].message_id);
	cr_expect_str_eq(rv.req[2].body, rv.req[0].body);
	int64_t gap1 = (rv.req[1].at_ns - rv.req[0].at_ns) / 1000000;
	int64_t gap2 = (rv.req[2].at_ns - rv.req[1].at_ns) / 1000000;
	cr_expect_geq(
	        gap1, 900, "first retry after %lld ms", (long long) gap1);
	cr_expect_geq(
	        gap2, 1900, "second retry after %lld ms", (long long) gap2);
	recv_check_sig(&rv.req[2], "t0p-s3cret");
	jwh_expect_stats(
	        c, "wh-retry", (struct jwh_stats) { 1, 0, 2, 0 }, 10000);
	/* The barrier: a second customer's message, answered 200 at once. */
	char mid[64];
	snprintf(mid, sizeof(mid), "%s", rv.req[0].message_id);
	jwh_purchase(c, "c2b", "e2b");
	cr_assert_eq(recv_wait(&rv, 4, 20000), 4, "no fourth POST in 20 s");
	jwh_expect_stats(
	        c, "wh-retry", (struct jwh_stats) { 2, 0, 2, 0 }, 10000);
	cr_expect_str_neq(rv.req[3].message_id, mid);
	cr_expect_eq(
	        jwh_count_of(&rv, mid), 3, "tried after it was delivered");
	cr_expect_eq(recv_count(&rv), 4);
	clm_close(c);
	recv_stop(&rv);
}

Test(jny_webhook, dead_letter_after_max_attempts)
{
	int http_port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", http_port);
	const char *args[] = { "--http", http, NULL };
	clm_conn *c = jwh_start_with(args);
	char url[128];
	/* A port nobody listens on: every try is refused. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/h",
	        harness_free_port());
	jwh_define(c, "wh-dead", url, 2);
	jwh_purchase(c, "c3", "e3");
	/* One retry (after 1 s), then the second try is the last. */
	jwh_expect_stats(
	        c, "wh-dead", (struct jwh_stats) { 0, 0, 1, 1 }, 20000);
	/* The dead letter stays in the feed. */
	Clm__V1__Response *m = jwh_messages(c, "wh-dead");
	cr_expect_eq(m->journey_messages->n_messages, 1);
	clm_response_free(m);
	/* /metrics says the same (docs/journeys.md "Metrics"). */
	char *metrics = harness_metrics(http_port);
	cr_assert_not_null(metrics, "no /metrics on port %d", http_port);
	cr_expect_not_null(strstr(metrics,
	                           "\nclm_journey_webhook_dead_total{journey="
	                           "\"wh-dead\"} 1\n"),
	        "%s", metrics);
	cr_expect_not_null(strstr(metrics,
	                           "\nclm_journey_webhook_pending{journey="
	                           "\"wh-dead\"} 0\n"),
	        "%s", metrics);
	cr_expect_not_null(strstr(metrics,
	                           "\nclm_journey_sent_total{journey="
	                           "\"wh-dead\",step=\"0\"} 1\n"),
	        "%s", metrics);
	free(metrics);
	clm_close(c);
}

Test(jny_webhook, pending_delivery_survives_kill9)
{
	int script[] = { 500 };
	struct recv rv;
	recv_start(&rv, script, 1);
	clm_conn *c = jwh_start();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", rv.port);
	jwh_define(c, "wh-crash", url, 10);
	jwh_purchase(c, "c4", "e4");
	cr_assert_eq(recv_wait(&rv, 1, 20000), 1, "no POST within 20 s");
	/* Killed before its retry (1 s after the 500). */
	clm_close(c);
	clmd_kill9(&srv);
	cr_expect_eq(recv_count(&rv), 1);
	cr_assert_eq(clmd_start(&srv, srv.data_dir, NULL), 0, "no restart");
	cr_assert_eq(
	        clm_open(srv.url, 10000, &c), CLM_OK, "%s", clm_open_error());
	cr_assert_eq(
	        recv_wait(&rv, 2, 30000), 2, "not delivered after restart");
	cr_expect_str_eq(rv.req[1].message_id, rv.req[0].message_id);
	cr_expect_str_eq(rv.req[1].body, rv.req[0].body);
	/*
	 * Delivered once now; the retry the crash may have lost is not
	 * asserted (its record lives in the overlay until a checkpoint).
	 */
	const Clm__V1__JourneyStats *st;
	for (int i = 0; i < 200; i++) {
		Clm__V1__Response *r = jwh_get(c, "wh-crash", &st);
		bool done = st->webhook_delivered == 1
		        && st->webhook_pending == 0;
		clm_response_free(r);
		if (done) {
			break;
		}
		harness_sleep_ms(50);
	}
	Clm__V1__Response *r = jwh_get(c, "wh-crash", &st);
	cr_expect_eq(st->webhook_delivered, 1);
	cr_expect_eq(st->webhook_pending, 0);
	cr_expect_eq(st->webhook_dead, 0);
	clm_response_free(r);
	/* The barrier: a second customer's message, delivered after. */
	char mid[64];
	snprintf(mid, sizeof(mid), "%s", rv.req[0].message_id);
	jwh_purchase(c, "c4b", "e4b");
	cr_assert_eq(recv_wait(&rv, 3, 20000), 3, "no third POST in 20 s");
	for (int i = 0; i < 200; i++) {
		Clm__V1__Response *r2 = jwh_get(c, "wh-crash", &st);
		bool done = st->webhook_delivered == 2
		        && st->webhook_pending == 0;
		clm_response_free(r2);
		if (done) {
			break;
		}
		harness_sleep_ms(50);
	}
	r = jwh_get(c, "wh-crash", &st);
	cr_expect_eq(st->webhook_delivered, 2);
	cr_expect_eq(st->webhook_pending, 0);
	clm_response_free(r);
	cr_expect_str_neq(rv.req[2].message_id, mid);
	cr_expect_eq(jwh_count_of(&rv, mid), 2, "delivered again");
	cr_expect_eq(recv_count(&rv), 3);
	clm_close(c);
	recv_stop(&rv);
}

/* ---------------------------------------------------------------------- */
/* https:// receivers: real TLS, verified against --webhook-ca-file.      */

/*
 * Makes, in a new temp dir (its path in dir, 32 bytes), with the openssl
 * command: ca.pem, the CA clmd is told to trust; server.pem, a
 * certificate for localhost (and 127.0.0.1) it signed, with its key;
 * rogue.pem, one for localhost signed by another CA; and other.pem, one
 * the trusted CA signed for another name. The URLs name localhost (what
 * the certificates are verified for), which must resolve to 127.0.0.1,
 * where the receivers listen (as access_test's tls+tcp://localhost).
 */
static void
jwh_certs(char *dir)
{
	cr_assert_eq(harness_tmpdir(dir), 0);
	static const char script[]
	        = "set -e; "
	          "ca() { openssl req -x509 -newkey rsa:2048 -nodes "
	          "-keyout $1.key -out $1.pem -days 2 -subj /CN=$1; }; "
	          "leaf() { printf 'subjectAltName=%s\\n' \"$4\" > $1.ext; "
	          "openssl req -newkey rsa:2048 -nodes -keyout $1.key "
	          "-out $1.csr -subj /CN=$3; "
	          "openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key "
	          "-CAcreateserial -out $1.crt -days 2 -extfile $1.ext; "
	          "cat $1.crt $1.key > $1.pem; }; "
	          "ca ca; ca ca2; "
	          "leaf server ca localhost DNS:localhost,IP:127.0.0.1; "
	          "leaf rogue ca2 localhost DNS:localhost,IP:127.0.0.1; "
	          "leaf other ca other.example DNS:other.example";
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "cd '%s' && { %s; } 2>/dev/null", dir,
	        script);
	const char *argv[] = { "sh", "-c", cmd, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd("/bin/sh", argv, NULL, 60000, &out, &err);
	cr_assert_eq(rc, 0, "openssl failed: %s", err);
	free(out);
	free(err);
}

/*
 * clmd trusting the CAs of the PEM file dir/ca only, logging each failed
 * try (at info).
 */
static clm_conn *
jwh_start_ca(const char *dir, const char *ca)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/%s", dir, ca);
	const char *args[]
	        = { "--webhook-ca-file", path, "--log-level", "info", NULL };
	return jwh_start_with(args);
}

/* An https:// receiver presenting dir/pem (jwh_certs's). */
static void
jwh_recv_tls(struct recv *rv, const char *dir, const char *pem)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/%s", dir, pem);
	recv_start_tls(rv, path, NULL, 0);
}

/*
 * Asserts that clmd's log holds want. No wait is needed: clmd logs a
 * failed try before it reports it (so before GetJourney counts it), and
 * its start-up warnings before it serves.
 */
static void
jwh_expect_log(const char *want)
{
	char *log = harness_read_file(srv.log_path);
	cr_expect(log != NULL && strstr(log, want) != NULL,
	        "'%s' not in clmd's log:\n%s", want, log ? log : "");
	free(log);
}

Test(jny_webhook, https_delivered_verified_against_the_ca_file)
{
	char dir[32];
	jwh_certs(dir);
	struct recv rv;
	jwh_recv_tls(&rv, dir, "server.pem");
	clm_conn *c = jwh_start_ca(dir, "ca.pem");
	char url[128];
	snprintf(url, sizeof(url), "https://localhost:%d/hooks/clm?src=tls",
	        rv.port);
	jwh_define(c, "wh-tls", url, 10);
	jwh_expect_first(
	        c, &rv, "wh-tls", "c5", "POST /hooks/clm?src=tls HTTP/1.1");
	jwh_expect_stats(
	        c, "wh-tls", (struct jwh_stats) { 1, 0, 0, 0 }, 10000);
	/* A second message to the same host (its TLS config kept). */
	jwh_purchase(c, "c5b", "e5b");
	cr_assert_eq(recv_wait(&rv, 2, 20000), 2, "no second POST in 20 s");
	cr_expect_str_neq(rv.req[1].message_id, rv.req[0].message_id);
	recv_check_sig(&rv.req[1], "t0p-s3cret");
	jwh_expect_stats(
	        c, "wh-tls", (struct jwh_stats) { 2, 0, 0, 0 }, 10000);
	cr_expect_eq(recv_count(&rv), 2);
	clm_close(c);
	recv_stop(&rv);
}

/*
 * A receiver whose certificate another CA signed, and one whose
 * certificate names another host, are never sent a request: each try
 * fails the TLS handshake, is retried and ends a dead letter.
 */
Test(jny_webhook, https_receiver_not_verified_gets_nothing)
{
	char dir[32];
	jwh_certs(dir);
	struct recv rv_rogue, rv_other;
	jwh_recv_tls(&rv_rogue, dir, "rogue.pem");
	jwh_recv_tls(&rv_other, dir, "other.pem");
	clm_conn *c = jwh_start_ca(dir, "ca.pem");
	char url[128];
	snprintf(url, sizeof(url), "https://localhost:%d/h", rv_rogue.port);
	jwh_define(c, "wh-rogue", url, 2);
	snprintf(url, sizeof(url), "https://localhost:%d/h", rv_other.port);
	jwh_define_on(c, "wh-other", url, 2, "SMS");
	jwh_purchase(c, "c6", "e6");
	/* Two tries each, 1 s apart: one retry, then a dead letter. */
	jwh_expect_stats(
	        c, "wh-rogue", (struct jwh_stats) { 0, 0, 1, 1 }, 30000);
	jwh_expect_stats(
	        c, "wh-other", (struct jwh_stats) { 0, 0, 1, 1 }, 30000);
	/* Both tries of each are over: a request would have come by now. */
	cr_expect_eq(recv_count(&rv_rogue), 0, "the rogue receiver got %s",
	        rv_rogue.req[0].line);
	cr_expect_eq(recv_count(&rv_other), 0, "the misnamed receiver got %s",
	        rv_other.req[0].line);
	/* And the log says why. */
	char want[160];
	snprintf(want, sizeof(want),
	        "'https://localhost:%d/h' failed (TLS handshake failed (",
	        rv_rogue.port);
	jwh_expect_log(want);
	snprintf(want, sizeof(want),
	        "'https://localhost:%d/h' failed (TLS handshake failed (",
	        rv_other.port);
	jwh_expect_log(want);
	clm_close(c);
	recv_stop(&rv_rogue);
	recv_stop(&rv_other);
}

/*
 * A CA file that cannot be read: clmd starts with a warning, and each
 * https:// try fails saying why, up to a dead letter.
 */
Test(jny_webhook, https_with_an_unreadable_ca_file_fails_each_try)
{
	char dir[32], ca[64];
	jwh_certs(dir);
	snprintf(ca, sizeof(ca), "%s/missing.pem", dir);
	struct recv rv;
	jwh_recv_tls(&rv, dir, "server.pem");
	clm_conn *c = jwh_start_ca(dir, "missing.pem");
	char want[160];
	snprintf(want, sizeof(want), "cannot read the CA file '%s'", ca);
	jwh_expect_log(want);
	char url[128];
	snprintf(url, sizeof(url), "https://localhost:%d/h", rv.port);
	jwh_define(c, "wh-noca", url, 2);
	jwh_purchase(c, "c7", "e7");
	jwh_expect_stats(
	        c, "wh-noca", (struct jwh_stats) { 0, 0, 1, 1 }, 30000);
	snprintf(want, sizeof(want),
	        "failed (cannot read the CA file '%s': No such file or "
	        "directory): a dead letter",
	        ca);
	jwh_expect_log(want);
	cr_expect_eq(recv_count(&rv), 0);
	clm_close(c);
	recv_stop(&rv);
}
