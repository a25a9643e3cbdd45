/*
 * Unit tests of net/webhook.c, the delivery thread, on a temp store with a
 * bare writer (no writer thread: the test applies the reports with
 * writer_hooks, as the writer does between batches) and an HTTP receiver
 * on 127.0.0.1 (tests/integration/hookrecv.h). The store holds what the
 * writer's journeys would have put there: a journey's record, a message
 * in the feed, its waiting delivery and the pending counter.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/journey.h"
#include "hookrecv.h"
#include "net/webhook.h"
#include "net/webhook_msg.h"
#include "store/journey.h"
#include "testdir.h"
#include "util/clock.h"
#include "write/writer_internal.h"

static char wdt_dir[256];
static store *wdt_st;
static struct writer wdt_w;

static void
wdt_setup(void)
{
	testdir_make(wdt_dir, sizeof(wdt_dir), "webhook_deliver");
	struct store_opts o = {
		.dir = wdt_dir,
		.nosync = true,
		.map_bytes = 64 << 20,
		.max_db_bytes = 1 << 30,
		.max_readers = 16,
	};
	char err[256] = "";
	cr_assert_eq(
	        store_open(&o, &wdt_st, err, sizeof(err)), CLM_OK, "%s", err);
	memset(&wdt_w, 0, sizeof(wdt_w));
	wdt_w.st = wdt_st;
	pthread_mutex_init(&wdt_w.mu, NULL);
	pthread_cond_init(&wdt_w.cv, NULL);
	wdt_w.hooks = writer_hooks_new();
	cr_assert_not_null(wdt_w.hooks);
}

static void
wdt_teardown(void)
{
	writer_hooks_free(wdt_w.hooks);
	pthread_cond_destroy(&wdt_w.cv);
	pthread_mutex_destroy(&wdt_w.mu);
	store_close(wdt_st);
	testdir_remove(wdt_dir);
}

TestSuite(webhook_deliver, .init = wdt_setup, .fini = wdt_teardown,
        .timeout = 60);

/*
 * Stores journey `name` (id) with a webhook to url (NULL: none) and one
 * message of customer c1 waiting for it; returns its feed position.
 */
static uint64_t
wdt_put(const char *name, uint32_t id, const char *url, int max_attempts)
{
	char json[1024];
	int n = snprintf(json, sizeof(json),
	        "{\"name\": \"%s\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"steps\": [{\"wait\": \"0s\", \"send\": {\"kind\": "
	        "\"WIN_BACK\", \"action\": \"we_miss_you\", \"channel\": "
	        "\"SMS\"}}]",
	        name);
	if (url != NULL) {
		n += snprintf(json + n, sizeof(json) - (size_t) n,
		        ", \"webhook\": {\"url\": \"%s\", \"secret\": "
		        "\"k3y\", \"max_attempts\": %d}",
		        url, max_attempts);
	}
	snprintf(json + n, sizeof(json) - (size_t) n, "}");
	struct jny_def *d;
	struct jny_error jerr;
	cr_assert_eq(jny_parse(json, strlen(json), &d, &jerr), CLM_OK,
	        "%s: %s", json, jerr.msg);
	store_txn *txn;
	cr_assert_eq(store_write_begin(wdt_st, &txn), CLM_OK);
	Clm__V1__JourneyRecord rec = CLM__V1__JOURNEY_RECORD__INIT;
	rec.name = (char *) name;
	rec.id = id;
	rec.definition = d->json;
	rec.defined_at_ms = 1000;
	rec.created_at_ms = 1000;
	cr_assert_eq(store_journey_put(txn, &rec), CLM_OK);
	jny_free(d);
	char mid[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(id, "c1", 5000, 0, mid);
	Clm__V1__LifecycleEvent ev = CLM__V1__LIFECYCLE_EVENT__INIT;
	ev.kind = CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE;
	ev.customer_id = "c1";
	ev.at_ms = 5000;
	ev.event_id = "jny:x";
	ev.journey = (char *) name;
	ev.recommendation_kind = CLM__V1__RECOMMENDATION_KIND__WIN_BACK;
	ev.action = "we_miss_you";
	ev.channel = CLM__V1__CHANNEL__SMS;
	ev.item = "";
	ev.message_id = mid;
	cr_assert_eq(store_jmsg_append(txn, &ev), CLM_OK);
	Clm__V1__JourneyHook h = CLM__V1__JOURNEY_HOOK__INIT;
	h.journey = id;
	h.next_ms = 5000;
	cr_assert_eq(store_jhook_put(txn, ev.position, &h), CLM_OK);
	cr_assert_eq(store_jstat_add(txn, id, STORE_JSTAT_HOOK_PENDING, 0, 1),
	        CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	return ev.position;
}

struct wdt_stats {
	uint64_t delivered, pending, retries, dead;
	bool waiting; /* the delivery is still in jny_hooks */
};

/*
 * Journey id's counters, and whether its delivery at position waits;
 * when it does and err is not NULL, its last error in err (errlen bytes).
 */
static struct wdt_stats
wdt_read(uint32_t id, uint64_t position, char *err, size_t errlen)
{
	struct wdt_stats s = { 0 };
	store_reader *rd;
	store_txn *txn;
	cr_assert_eq(store_reader_new(wdt_st, &rd), CLM_OK);
	cr_assert_eq(store_read_begin(rd, &txn), CLM_OK);
	arena a;
	arena_init(&a);
	Clm__V1__JourneyStats *st;
	cr_assert_eq(store_jstats_get(txn, id, 1, &a, &st), CLM_OK);
	s = (struct wdt_stats) { st->webhook_delivered, st->webhook_pending,
		st->webhook_retries, st->webhook_dead, false };
	Clm__V1__JourneyHook *h;
	s.waiting = store_jhook_get(txn, position, &a, &h) == CLM_OK;
	if (s.waiting && err != NULL) {
		snprintf(err, errlen, "%s", h->last_error);
	}
	arena_fini(&a);
	store_read_end(txn);
	store_reader_free(rd);
	return s;
}

/*
 * Applies reports every 20 ms for up to ms until journey id's counters
 * are want (and the delivery gone unless want.waiting); asserts.
 */
static void
wdt_expect(uint32_t id, uint64_t position, struct wdt_stats want, int ms)
{
	struct wdt_stats got = { 0 };
	for (int i = 0; i <= ms / 20; i++) {
		writer_hooks(&wdt_w);
		got = wdt_read(id, position, NULL, 0);
		/* Field by field: the struct's padding is not compared. */
		if (got.delivered == want.delivered
		        && got.pending == want.pending
		        && got.retries == want.retries && got.dead == want.dead
		        && got.waiting == want.waiting) {
			return;
		}
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_fail("journey %u: delivered %llu pending %llu retries %llu "
	               "dead %llu waiting %d, want %llu %llu %llu %llu %d",
	        id, (unsigned long long) got.delivered,
	        (unsigned long long) got.pending,
	        (unsigned long long) got.retries,
	        (unsigned long long) got.dead, got.waiting,
	        (unsigned long long) want.delivered,
	        (unsigned long long) want.pending,
	        (unsigned long long) want.retries,
	        (unsigned long long) want.dead, want.waiting);
}

static struct webhook *
wdt_open(void)
{
	struct webhook *wh;
	char err[128];
	cr_assert_eq(
	        webhook_open(wdt_st, &wdt_w, 5, NULL, &wh, err, sizeof(err)),
	        CLM_OK, "%s", err);
	return wh;
}

Test(webhook_deliver, posts_body_headers_signature)
{
	struct recv rv;
	recv_start(&rv, NULL, 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/in?a=b", rv.port);
	uint64_t pos = wdt_put("wb", 3, url, 10);
	int64_t before = clock_now_ms() / 1000;
	struct webhook *wh = wdt_open();
	cr_assert_eq(recv_wait(&rv, 1, 10000), 1, "no POST in 10 s");
	int64_t after = clock_now_ms() / 1000;
	wdt_expect(3, pos, (struct wdt_stats) { 1, 0, 0, 0, false }, 10000);
	webhook_close(wh);
	recv_stop(&rv);

	struct recv_req *r = &rv.req[0];
	cr_expect_str_eq(r->line, "POST /in?a=b HTTP/1.1");
	cr_expect_str_eq(r->ctype, "application/json");
	char mid[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(3, "c1", 5000, 0, mid);
	cr_expect_str_eq(r->message_id, mid);
	char want[512];
	snprintf(want, sizeof(want),
	        "{\"message_id\": \"%s\", \"journey\": \"wb\", \"step\": 0, "
	        "\"customer_id\": \"c1\", \"recommendation_kind\": "
	        "\"WIN_BACK\", \"action\": \"we_miss_you\", \"channel\": "
	        "\"SMS\", \"item\": \"\", \"at_ms\": 5000, \"position\": %llu}",
	        mid, (unsigned long long) pos);
	cr_expect_str_eq(r->body, want);
	long long ts = atoll(r->ts);
	cr_expect(ts >= before && ts <= after, "timestamp %s", r->ts);
	recv_check_sig(r, "k3y");
	cr_expect_eq(rv.n, 1, "delivered more than once");
}

Test(webhook_deliver, retried_after_500)
{
	int script[] = { 500 };
	struct recv rv;
	recv_start(&rv, script, 1);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	uint64_t pos = wdt_put("wr", 4, url, 10);
	struct webhook *wh = wdt_open();
	wdt_expect(4, pos, (struct wdt_stats) { 1, 0, 1, 0, false }, 15000);
	webhook_close(wh);
	recv_stop(&rv);
	cr_expect_eq(rv.n, 2);
	int64_t gap_ms = (rv.req[1].at_ns - rv.req[0].at_ns) / 1000000;
	cr_expect_geq(
	        gap_ms, 900, "retried after %lld ms", (long long) gap_ms);
	cr_expect_str_eq(rv.req[1].body, rv.req[0].body);
}

Test(webhook_deliver, refused_until_dead)
{
	/* Nobody listens: a port bound and closed again. */
	struct recv rv;
	recv_start(&rv, NULL, 0);
	recv_stop(&rv);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	uint64_t pos = wdt_put("wd", 5, url, 2);
	struct webhook *wh = wdt_open();
	wdt_expect(5, pos, (struct wdt_stats) { 0, 0, 1, 1, false }, 15000);
	webhook_close(wh);
}

Test(webhook_deliver, no_answer_within_timeout_is_a_failure)
{
	/* A listener that never accepts: the connection hangs in its queue. */
	struct recv rv;
	recv_start(&rv, NULL, 0);
	pthread_mutex_lock(&rv.mu);
	rv.stop = true;
	pthread_mutex_unlock(&rv.mu);
	pthread_join(rv.thread, NULL);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	uint64_t pos = wdt_put("wt", 6, url, 1);
	struct webhook *wh;
	char err[128];
	cr_assert_eq(
	        webhook_open(wdt_st, &wdt_w, 1, NULL, &wh, err, sizeof(err)),
	        CLM_OK);
	int64_t t0 = recv_mono_ns();
	wdt_expect(6, pos, (struct wdt_stats) { 0, 0, 0, 1, false }, 15000);
	cr_expect_geq((recv_mono_ns() - t0) / 1000000, 900);
	webhook_close(wh);
	close(rv.fd);
}

Test(webhook_deliver, deleted_journey_dropped_without_a_try)
{
	struct recv rv;
	recv_start(&rv, NULL, 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	uint64_t pos = wdt_put("wx", 7, url, 10);
	/* Deleted and defined again: the same name, a new id. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(wdt_st, &txn), CLM_OK);
	arena a;
	arena_init(&a);
	Clm__V1__JourneyRecord *rec;
	cr_assert_eq(store_journey_get(txn, "wx", &a, &rec), CLM_OK);
	rec->id = 8;
	cr_assert_eq(store_journey_put(txn, rec), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_fini(&a);
	struct webhook *wh = wdt_open();
	/* Gone, and journey 7's counters left as they were. */
	wdt_expect(7, pos, (struct wdt_stats) { 0, 1, 0, 0, false }, 10000);
	webhook_close(wh);
	recv_stop(&rv);
	cr_expect_eq(rv.n, 0);
}

Test(webhook_deliver, webhook_removed_is_a_dead_letter)
{
	struct recv rv;
	recv_start(&rv, NULL, 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	uint64_t pos = wdt_put("wn", 9, url, 10);
	/* Redefined without the webhook (the same id, a later definition). */
	const char *json
	        = "{\"name\": \"wn\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	          "\"steps\": [{\"wait\": \"0s\", \"send\": {\"kind\": "
	          "\"WIN_BACK\", \"action\": \"a\", \"channel\": \"SMS\"}}]}";
	struct jny_def *d;
	struct jny_error jerr;
	cr_assert_eq(jny_parse(json, strlen(json), &d, &jerr), CLM_OK, "%s",
	        jerr.msg);
	store_txn *txn;
	cr_assert_eq(store_write_begin(wdt_st, &txn), CLM_OK);
	Clm__V1__JourneyRecord rec = CLM__V1__JOURNEY_RECORD__INIT;
	rec.name = "wn";
	rec.id = 9;
	rec.definition = d->json;
	rec.defined_at_ms = 2000;
	rec.created_at_ms = 1000;
	cr_assert_eq(store_journey_put(txn, &rec), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	jny_free(d);
	struct webhook *wh = wdt_open();
	wdt_expect(9, pos, (struct wdt_stats) { 0, 0, 0, 1, false }, 10000);
	webhook_close(wh);
	recv_stop(&rv);
	cr_expect_eq(rv.n, 0);
}

/*
 * Applies reports every 20 ms for up to ms until rv has n requests;
 * returns how many it has.
 */
static int
wdt_pump(struct recv *rv, int n, int ms)
{
	for (int i = 0; i <= ms / 20 && recv_count(rv) < n; i++) {
		writer_hooks(&wdt_w);
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	return recv_count(rv);
}

Test(webhook_deliver, failing_webhook_holds_back_its_other_messages)
{
	/* Every answer a 500: the first requests fail together, then the
	 * journey is held back 1 s, then 2 s, one request at a time. */
	int script[RECV_MAX];
	for (int i = 0; i < RECV_MAX; i++) {
		script[i] = 500;
	}
	struct recv rv;
	recv_start(&rv, script, RECV_MAX);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	for (int i = 0; i < 6; i++) {
		wdt_put("wh", 13, url, 10);
	}
	struct webhook *wh = wdt_open();
	int got = wdt_pump(&rv, 6, 30000);
	webhook_close(wh);
	recv_stop(&rv);
	cr_assert_geq(got, 6, "%d requests in 30 s", got);
	/* At most WEBHOOK_PER_JOURNEY at first, all before any answer. */
	int64_t ms4 = (rv.req[4].at_ns - rv.req[0].at_ns) / 1000000;
	cr_expect_geq(ms4, 900, "the 5th request %lld ms after the 1st",
	        (long long) ms4);
	int64_t ms5 = (rv.req[5].at_ns - rv.req[4].at_ns) / 1000000;
	cr_expect_geq(ms5, 1900, "the 6th request %lld ms after the 5th",
	        (long long) ms5);
}

Test(webhook_deliver, slow_webhook_does_not_hold_up_another_journey)
{
	/* Journey ws's receiver never answers (a listener that never
	 * accepts), within a 30 s timeout; wf's answers at once. */
	struct recv slow, fast;
	recv_start(&slow, NULL, 0);
	pthread_mutex_lock(&slow.mu);
	slow.stop = true;
	pthread_mutex_unlock(&slow.mu);
	pthread_join(slow.thread, NULL);
	recv_start(&fast, NULL, 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", slow.port);
	uint64_t first = 0;
	for (int i = 0; i < 6; i++) {
		uint64_t pos = wdt_put("ws", 14, url, 10);
		first = first == 0 ? pos : first;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fast.port);
	uint64_t last = 0;
	for (int i = 0; i < 3; i++) {
		last = wdt_put("wf", 15, url, 10);
	}
	struct webhook *wh;
	char err[128];
	cr_assert_eq(
	        webhook_open(wdt_st, &wdt_w, 30, NULL, &wh, err, sizeof(err)),
	        CLM_OK);
	cr_expect_eq(wdt_pump(&fast, 3, 10000), 3,
	        "wf's messages waited for ws's receiver");
	wdt_expect(15, last, (struct wdt_stats) { 3, 0, 0, 0, false }, 10000);
	/* ws's requests still hang: nothing recorded of them. */
	struct wdt_stats s = wdt_read(14, first, NULL, 0);
	cr_expect(s.pending == 6 && s.retries == 0 && s.dead == 0 && s.waiting,
	        "ws: pending %llu retries %llu dead %llu",
	        (unsigned long long) s.pending, (unsigned long long) s.retries,
	        (unsigned long long) s.dead);
	webhook_close(wh);
	recv_stop(&fast);
	close(slow.fd);
}

/*
 * An https:// delivery with a CA file that cannot be read fails before
 * any connection, and its delivery keeps why (JourneyHook.last_error).
 */
Test(webhook_deliver, unreadable_ca_file_is_a_failed_try)
{
	char ca[300];
	snprintf(ca, sizeof(ca), "%s/no-such-ca.pem", wdt_dir);
	/* Port 1: a connection would be refused, a different error. */
	uint64_t pos = wdt_put("wc", 9, "https://localhost:1/h", 2);
	struct webhook *wh;
	char err[128];
	cr_assert_eq(
	        webhook_open(wdt_st, &wdt_w, 5, ca, &wh, err, sizeof(err)),
	        CLM_OK, "%s", err);
	wdt_expect(9, pos, (struct wdt_stats) { 0, 1, 1, 0, true }, 10000);
	webhook_close(wh);
	char last_error[256] = "";
	(void) wdt_read(9, pos, last_error, sizeof(last_error));
	char want[400];
	snprintf(want, sizeof(want),
	        "cannot read the CA file '%s': No such file or directory", ca);
	/* The reason is cut to WEBHOOK_ERROR bytes: compare what is kept. */
	cr_expect(strlen(last_error) > 30
	                && strncmp(last_error, want, strlen(last_error)) == 0,
	        "last_error '%s', want '%s'", last_error, want);
}

/*
 * https:// with real TLS: a receiver whose certificate (for localhost) the
 * CA file's CA signed gets the POST. The CA file is read once per host:
 * removed after the first delivery, a second journey's message to the
 * same host still goes (the host's TLS config was kept), and one to
 * another host fails reading it.
 */
Test(webhook_deliver, https_ca_file_read_once_per_host)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	        "cd '%s' && { openssl req -x509 -newkey rsa:2048 -nodes "
	        "-keyout ca.key -out ca.pem -days 2 -subj /CN=wdt-ca && "
	        "openssl req -newkey rsa:2048 -nodes -keyout s.key -out s.csr "
	        "-subj /CN=localhost && printf "
	        "'subjectAltName=DNS:localhost\\n' > s.ext && openssl x509 "
	        "-req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	        "-out s.crt -days 2 -extfile s.ext && cat s.crt s.key > "
	        "s.pem; } 2>/dev/null",
	        wdt_dir);
	cr_assert_eq(system(cmd), 0, "openssl failed: %s", cmd);
	char ca[300], cert[300];
	snprintf(ca, sizeof(ca), "%s/ca.pem", wdt_dir);
	snprintf(cert, sizeof(cert), "%s/s.pem", wdt_dir);
	struct recv rv;
	recv_start_tls(&rv, cert, NULL, 0);
	char url[128];
	snprintf(url, sizeof(url), "https://localhost:%d/in", rv.port);
	uint64_t pos1 = wdt_put("w1", 10, url, 10);
	struct webhook *wh;
	char err[128];
	cr_assert_eq(
	        webhook_open(wdt_st, &wdt_w, 5, ca, &wh, err, sizeof(err)),
	        CLM_OK, "%s", err);
	cr_assert_eq(recv_wait(&rv, 1, 10000), 1, "no POST in 10 s");
	wdt_expect(10, pos1, (struct wdt_stats) { 1, 0, 0, 0, false }, 10000);
	cr_expect_str_eq(rv.req[0].line, "POST /in HTTP/1.1");
	recv_check_sig(&rv.req[0], "k3y");

	cr_assert_eq(unlink(ca), 0);
	uint64_t pos2 = wdt_put("w2", 11, url, 10);
	cr_assert_eq(recv_wait(&rv, 2, 10000), 2, "no second POST in 10 s");
	wdt_expect(11, pos2, (struct wdt_stats) { 1, 0, 0, 0, false }, 10000);
	recv_check_sig(&rv.req[1], "k3y");

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/in", rv.port);
	uint64_t pos3 = wdt_put("w3", 12, url, 1);
	wdt_expect(12, pos3, (struct wdt_stats) { 0, 0, 0, 1, false }, 10000);
	webhook_close(wh);
	recv_stop(&rv);
	cr_expect_eq(rv.n, 2);
}
