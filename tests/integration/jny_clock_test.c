/*
 * jny_clock: every due decision of docs/journeys.md "How steps run"
 * proven on clmd's test clock (moved past the due instant, then
 * asserted; a step not yet due is proven unsent by another customer's
 * earlier step having run), max_lateness, the message ids (recomputed
 * here with libsodium's BLAKE2b over the documented bytes), the feed's
 * positions and JourneyMessages' paging, and the stream's
 * JOURNEY_MESSAGE fields.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "harness.h"
#include "jnyflow.h"
#include "segflow.h"

HARNESS_SUITE(jny_clock, 120);

#define SOON_MS 20000
#define RK(x)   CLM__V1__RECOMMENDATION_KIND__##x

static const char *const jny_clock_no_quiet[] = { "--quiet-hours", "0", NULL };

/* The at_ms of the message of customer's step in journey j; asserts it is
 * in m. */
static int64_t
jny_clock_at(const struct jnyflow_msg *m, size_t n, const char *j,
        const char *customer, int step)
{
	const struct jnyflow_msg *x = jnyflow_find(m, n, j, customer, step);
	cr_assert_not_null(x, "no step %d of %s for %s", step, j, customer);
	return x->at_ms;
}

/* Waits until customer's step of j is in the feed; returns its at_ms. */
static int64_t
jny_clock_wait_msg(clm_conn *c, const char *j, const char *customer, int step)
{
	int64_t deadline = segflow_now_ms() + SOON_MS;
	for (;;) {
		size_t n;
		struct jnyflow_msg *m = jnyflow_feed(c, j, &n);
		const struct jnyflow_msg *x
		        = jnyflow_find(m, n, j, customer, step);
		int64_t at = x != NULL ? x->at_ms : 0;
		free(m);
		if (at != 0) {
			return at;
		}
		cr_assert_lt(segflow_now_ms(), deadline,
		        "no step %d of %s for %s within %d ms", step, j,
		        customer, SOON_MS);
		harness_sleep_ms(50);
	}
}

/* Expects no message of customer's step of j in the feed. */
static void
jny_clock_expect_none(clm_conn *c, const char *j, const char *customer,
        int step, const char *what)
{
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, j, &n);
	cr_expect_eq(jnyflow_count(m, n, j, customer, step), 0,
	        "%s: step %d of %s sent to %s before it was due", what, step,
	        j, customer);
	free(m);
}

/*
 * e1 enters 10 minutes before t1 and t2, so each of its steps is due
 * just before theirs: when e1's has run and the clock is still before
 * theirs, theirs must not have. t2 opens an email, so its step 1 (if no
 * EMAIL_OPEN since the entry) is skipped at its due instant, and its
 * step 2 is due 3 d after that.
 */
Test(jny_clock, every_due_decision_on_the_test_clock)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	const char *j = "clk";
	jnyflow_define(c, j,
	        "{\"name\": \"clk\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": ["
	        "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"s0\", \"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"24h\", \"if\": \"count(EMAIL_OPEN, since_entry) "
	        "= 0\", \"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
	        "\"s1\", \"channel\": \"SMS\"}},"
	        "{\"wait\": \"3d\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"s2\", \"channel\": \"EMAIL\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "e1", "e1-cart", TP(ADD_TO_CART), t0 - 10 * MIN_MS,
	        NULL, NULL);
	jnyflow_track1(c, "t1", "t1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_track1(c, "t2", "t2-cart", TP(ADD_TO_CART), t0, NULL, NULL);

	/* Step 0: e1's due at t0 + 50 m, t1's and t2's at t0 + 1 h. */
	jnyflow_clock_to(&clk, 55 * MIN_MS);
	int64_t e1_0 = jny_clock_wait_msg(c, j, "e1", 0);
	cr_expect_geq(e1_0, t0 + 50 * MIN_MS, "e1's step 0 early");
	cr_assert_lt(jnyflow_now(&clk), t0 + HOUR_MS, "the machine is slow");
	jny_clock_expect_none(c, j, "t1", 0, "+55 m");
	jny_clock_expect_none(c, j, "t2", 0, "+55 m");
	jnyflow_clock_to(&clk, 65 * MIN_MS);
	int64_t t1_0 = jny_clock_wait_msg(c, j, "t1", 0);
	int64_t t2_0 = jny_clock_wait_msg(c, j, "t2", 0);
	cr_expect_geq(t1_0, t0 + HOUR_MS, "t1's step 0 at %lld, due %lld",
	        (long long) t1_0, (long long) (t0 + HOUR_MS));
	cr_expect_geq(t2_0, t0 + HOUR_MS, "t2's step 0 early");
	jnyflow_track1(c, "t2", "t2-open", TP(EMAIL_OPEN), jnyflow_now(&clk),
	        NULL, NULL);

	/* Step 1: due 24 h after each one's step 0 ran. */
	jnyflow_clock_to(&clk, 25 * HOUR_MS);
	int64_t e1_1 = jny_clock_wait_msg(c, j, "e1", 1);
	cr_expect_geq(e1_1, e1_0 + 24 * HOUR_MS, "e1's step 1 early");
	cr_assert_lt(jnyflow_now(&clk), t1_0 + 24 * HOUR_MS, "slow machine");
	cr_assert_lt(jnyflow_now(&clk), t2_0 + 24 * HOUR_MS, "slow machine");
	jny_clock_expect_none(c, j, "t1", 1, "+25 h");
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.step[1].skipped_condition, 0, "+25 h",
	        "steps[1].skipped_condition (t2's not due)");
	EXPECT_U64(s.step[1].waiting, 2, "+25 h", "steps[1].waiting");

	jnyflow_clock_to(&clk, 25 * HOUR_MS + 10 * MIN_MS);
	int64_t t1_1 = jny_clock_wait_msg(c, j, "t1", 1);
	cr_expect_geq(t1_1, t1_0 + 24 * HOUR_MS,
	        "t1's step 1 at %lld, due %lld", (long long) t1_1,
	        (long long) (t1_0 + 24 * HOUR_MS));
	jnyflow_expect_counter(
	        c, j, JC_SKIP_COND, 1, 1, SOON_MS, "t2's step 1 skipped");
	int64_t t2_skip = jnyflow_now(&clk);
	jny_clock_expect_none(c, j, "t2", 1, "t2 opened");

	/* Step 2: 3 d after step 1 ran (or was skipped). */
	jnyflow_clock_to(&clk, 4 * DAY_MS + HOUR_MS + 5 * MIN_MS);
	int64_t e1_2 = jny_clock_wait_msg(c, j, "e1", 2);
	cr_expect_geq(e1_2, e1_1 + 3 * DAY_MS, "e1's step 2 early");
	cr_assert_lt(jnyflow_now(&clk), t1_1 + 3 * DAY_MS, "slow machine");
	jny_clock_expect_none(c, j, "t1", 2, "+4 d 1 h 5 m");
	jny_clock_expect_none(c, j, "t2", 2, "+4 d 1 h 5 m");
	jnyflow_clock_to(&clk, 4 * DAY_MS + HOUR_MS + 20 * MIN_MS);
	int64_t t1_2 = jny_clock_wait_msg(c, j, "t1", 2);
	int64_t t2_2 = jny_clock_wait_msg(c, j, "t2", 2);
	cr_expect_geq(t1_2, t1_1 + 3 * DAY_MS, "t1's step 2 early");
	/* t2's step 1 was skipped at or after its due instant. */
	cr_expect_geq(t2_2, t2_0 + 24 * HOUR_MS + 3 * DAY_MS,
	        "t2's step 2 at %lld, before its step 0 + 24 h + 3 d",
	        (long long) t2_2);
	cr_expect_leq(t2_2, t2_skip + 3 * DAY_MS + 20 * MIN_MS,
	        "t2's step 2 at %lld, long after it was due",
	        (long long) t2_2);

	jnyflow_expect_counter(c, j, JC_COMPLETED, 0, 3, SOON_MS, "the end");
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.step[0].sent, 3, "the end", "steps[0].sent");
	EXPECT_U64(s.step[1].sent, 2, "the end", "steps[1].sent");
	EXPECT_U64(s.step[1].skipped_condition, 1, "the end",
	        "steps[1].skipped_condition");
	EXPECT_U64(s.step[2].sent, 3, "the end", "steps[2].sent");
	EXPECT_U64(s.active, 0, "the end", "active");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, j, &n);
	cr_expect_eq(n, 8, "%zu messages, want 8", n);
	const struct jnyflow_msg *x = jnyflow_find(m, n, j, "t1", 1);
	cr_assert_not_null(x);
	jnyflow_expect_send(x, RK(CART_REMINDER), "s1", CH(SMS), "");
	cr_expect_eq(jny_clock_at(m, n, j, "t2", 2), t2_2);
	free(m);
	clm_close(c);
}

/*
 * max_lateness "1h": the clock jumps 3 h, so "late"'s step 0 (due at
 * +10 m) runs 2 h 50 m late and is skipped, and its step 1 is due 10 m
 * after that; "punctual" (the default 1d) sends its step as late.
 */
Test(jny_clock, max_lateness_skips_a_late_step)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "late",
	        "{\"name\": \"late\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"max_lateness\": \"1h\", \"steps\": ["
	        "{\"wait\": \"10m\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"late0\", \"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"10m\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"late1\", \"channel\": \"SMS\"}}]}");
	jnyflow_define(c, "punctual",
	        "{\"name\": \"punctual\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"10m\", \"send\": "
	        "{\"kind\": \"CART_REMINDER\", \"action\": \"p0\", "
	        "\"channel\": \"APP_NOTIFICATION\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "l1", "l1-cart", TP(ADD_TO_CART), t0, NULL, NULL);

	jnyflow_clock_to(&clk, 3 * HOUR_MS);
	jnyflow_expect_counter(
	        c, "late", JC_SKIP_LATE, 0, 1, SOON_MS, "+3 h: late");
	jnyflow_expect_counter(
	        c, "punctual", JC_SENT, 0, 1, SOON_MS, "+3 h: punctual");
	struct jnyflow_stats s;
	jnyflow_stats(c, "late", &s);
	EXPECT_U64(s.step[0].sent, 0, "+3 h", "late steps[0].sent");
	EXPECT_U64(s.step[1].waiting, 1, "+3 h", "late steps[1].waiting");
	jny_clock_expect_none(c, "late", "l1", 0, "skipped late");

	jnyflow_clock_to(&clk, 3 * HOUR_MS + 15 * MIN_MS);
	jnyflow_expect_counter(c, "late", JC_SENT, 1, 1, SOON_MS, "+3 h 15 m");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, "late", &n);
	cr_expect_eq(n, 1, "%zu messages of late, want 1", n);
	int64_t at1 = jny_clock_at(m, n, "late", "l1", 1);
	cr_expect_geq(at1, t0 + 3 * HOUR_MS + 10 * MIN_MS,
	        "step 1 at %lld: not 10 m after the skip", (long long) at1);
	cr_expect_leq(at1, jnyflow_now(&clk), "step 1 at %lld, in the future",
	        (long long) at1);
	free(m);
	jnyflow_stats(c, "late", &s);
	EXPECT_U64(s.completed, 1, "the end", "completed");
	EXPECT_U64(s.step[0].skipped_late, 1, "the end", "skipped_late");
	EXPECT_U64(s.step[1].skipped_late, 0, "the end", "skipped_late");
	clm_close(c);
}

/* Expects id to be "jm_" and 32 lowercase hex digits. */
static void
jny_clock_expect_form(const char *id)
{
	bool ok = strlen(id) == 35 && strncmp(id, "jm_", 3) == 0;
	for (size_t i = 3; ok && i < 35; i++) {
		ok = isxdigit((unsigned char) id[i]) && !isupper(id[i]);
	}
	cr_expect(ok, "message id '%s' is not jm_ and 32 hex digits", id);
}

/*
 * ids-a (journey id 1, two steps) and ids-b (id 2) on a new server: every
 * message id is BLAKE2b-128 over (journey id, entry instant, step,
 * customer id), the event id "jny:" and it, the positions 1, 2, ...; a
 * second entry has new ids; a restart changes nothing.
 */
Test(jny_clock, message_ids_stable_and_documented)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "ids-a",
	        "{\"name\": \"ids-a\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": ["
	        "{\"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"a0\", "
	        "\"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"a1\", \"channel\": \"SMS\"}}]}");
	jnyflow_define(c, "ids-b",
	        "{\"name\": \"ids-b\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"0s\", \"send\": "
	        "{\"kind\": \"CROSS_SELL\", \"action\": \"b0\", \"channel\": "
	        "\"IN_APP\"}}]}");
	static const char *const cust[]
	        = { "m1", "m2", "customer-with-a-rather-long-id-0123456789" };
	int64_t t0 = jnyflow_now(&clk) - 5000;
	for (size_t i = 0; i < N(cust); i++) {
		char eid[64];
		snprintf(eid, sizeof(eid), "ids-%zu", i);
		jnyflow_track1(c, cust[i], eid, TP(ADD_TO_CART),
		        t0 + (int64_t) i, NULL, NULL);
	}
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, NULL, 6, SOON_MS, &n);
	cr_assert_eq(n, 6, "%zu messages, want 6", n);
	jnyflow_clock_to(&clk, 2 * HOUR_MS);
	free(m);
	m = jnyflow_wait_feed(c, NULL, 9, SOON_MS, &n);
	cr_assert_eq(n, 9, "+2 h: %zu messages, want 9", n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(m[i].position, i + 1, "message %zu at %llu", i,
		        (unsigned long long) m[i].position);
		jny_clock_expect_form(m[i].message_id);
		size_t k = 0;
		while (k < N(cust) && strcmp(cust[k], m[i].customer) != 0) {
			k++;
		}
		cr_assert_lt(k, N(cust), "a message for '%s'", m[i].customer);
		uint32_t jid = strcmp(m[i].journey, "ids-a") == 0 ? 1 : 2;
		char want[48];
		jnyflow_message_id(
		        jid, cust[k], t0 + (int64_t) k, m[i].step, want);
		cr_expect_str_eq(m[i].message_id, want,
		        "%s step %u of %s: id %s, want %s", m[i].customer,
		        m[i].step, m[i].journey, m[i].message_id, want);
		char eid[64];
		snprintf(eid, sizeof(eid), "jny:%s", want);
		cr_expect_str_eq(m[i].event_id, eid);
		for (size_t x = 0; x < i; x++) {
			cr_expect_str_neq(m[i].message_id, m[x].message_id,
			        "messages %zu and %zu share an id", x, i);
		}
	}

	/* m1 enters both again: a new entry instant, new ids. */
	int64_t t1 = jnyflow_now(&clk);
	jnyflow_track1(c, "m1", "ids-again", TP(ADD_TO_CART), t1, NULL, NULL);
	struct jnyflow_msg *m2 = jnyflow_wait_feed(c, "ids-b", 4, SOON_MS, &n);
	cr_assert_eq(n, 4, "ids-b: %zu messages, want 4", n);
	char want[48];
	jnyflow_message_id(2, "m1", t1, 0, want);
	cr_expect_str_eq(m2[3].message_id, want, "m1's second entry");
	cr_expect_gt(m2[3].position, 9);
	free(m2);
	m2 = jnyflow_wait_feed(c, NULL, 11, SOON_MS, &n);
	cr_expect_eq(n, 11, "%zu messages, want 11", n);
	jnyflow_message_id(1, "m1", t1, 0, want);
	const struct jnyflow_msg *again = NULL;
	for (size_t i = 9; i < n; i++) {
		cr_expect_eq(m2[i].position, i + 1);
		if (strcmp(m2[i].journey, "ids-a") == 0) {
			again = &m2[i];
		}
	}
	cr_assert_not_null(again, "m1 did not enter ids-a again");
	cr_expect_str_eq(again->message_id, want, "m1's second ids-a entry");
	free(m2);

	/* After a restart the feed is the same. */
	m2 = jnyflow_feed(c, NULL, &n);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "clmd did not stop cleanly");
	jnyflow_restart(&srv, &clk, jny_clock_no_quiet);
	c = flow_connect_to(&srv);
	size_t n2;
	struct jnyflow_msg *m3 = jnyflow_feed(c, NULL, &n2);
	cr_expect_eq(n2, n, "after the restart: %zu messages, was %zu", n2, n);
	for (size_t i = 0; i < n && i < n2; i++) {
		cr_expect_str_eq(m3[i].message_id, m2[i].message_id);
		cr_expect_eq(m3[i].position, m2[i].position);
		cr_expect_eq(m3[i].at_ms, m2[i].at_ms);
	}
	free(m);
	free(m2);
	free(m3);
	clm_close(c);
}

/* Expects the page r (OK) to hold positions from..to (to < from: none),
 * next_after next, oldest and last. */
static void
jny_clock_expect_page(Clm__V1__Response *r, uint64_t from, uint64_t to,
        uint64_t next, uint64_t oldest, uint64_t last, const char *what)
{
	cr_assert_eq(flow_status_of(r), CLM_OK, "%s: %s (%s)", what,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	const Clm__V1__JourneyMessagesReply *p = r->journey_messages;
	cr_assert_not_null(p);
	size_t want = to >= from ? (size_t) (to - from + 1) : 0;
	cr_expect_eq(p->n_messages, want, "%s: %zu messages, want %zu", what,
	        p->n_messages, want);
	for (size_t i = 0; i < p->n_messages && i < want; i++) {
		cr_expect_eq(p->messages[i]->position, from + i,
		        "%s: message %zu at %llu", what, i,
		        (unsigned long long) p->messages[i]->position);
	}
	EXPECT_U64(p->next_after, next, what, "next_after");
	EXPECT_U64(p->oldest, oldest, what, "oldest");
	EXPECT_U64(p->last, last, what, "last");
	clm_response_free(r);
}

Test(jny_clock, feed_positions_and_paging)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	/* An empty feed. */
	jny_clock_expect_page(
	        jnyflow_messages_call(c, 0, 0, NULL), 1, 0, 0, 0, 0, "empty");
	for (int k = 0; k < 2; k++) {
		char name[8], json[512];
		snprintf(name, sizeof(name), "pg-%c", 'a' + k);
		snprintf(json, sizeof(json),
		        "{\"name\": \"%s\", \"trigger\": {\"event\": "
		        "\"ADD_TO_CART\"}, \"steps\": [{\"send\": {\"kind\": "
		        "\"CART_REMINDER\", \"action\": \"pg\", \"channel\": "
		        "\"EMAIL\"}}]}",
		        name);
		jnyflow_define(c, name, json);
	}
	for (int i = 0; i < 25; i++) {
		char id[8], eid[16];
		snprintf(id, sizeof(id), "g%02d", i);
		snprintf(eid, sizeof(eid), "g%02d-cart", i);
		jnyflow_track1(c, id, eid, TP(ADD_TO_CART), 0, NULL, NULL);
	}
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, NULL, 50, SOON_MS, &n);
	cr_assert_eq(n, 50, "%zu messages, want 50", n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(m[i].position, i + 1, "message %zu at %llu", i,
		        (unsigned long long) m[i].position);
	}

	jny_clock_expect_page(jnyflow_messages_call(c, 0, 10, NULL), 1, 10, 10,
	        1, 50, "after 0 limit 10");
	jny_clock_expect_page(jnyflow_messages_call(c, 10, 10, NULL), 11, 20,
	        20, 1, 50, "after 10 limit 10");
	jny_clock_expect_page(jnyflow_messages_call(c, 0, 0, NULL), 1, 50, 50,
	        1, 50, "limit 0 (100)");
	jny_clock_expect_page(jnyflow_messages_call(c, 45, 0, NULL), 46, 50,
	        50, 1, 50, "after 45");
	jny_clock_expect_page(jnyflow_messages_call(c, 50, 10, NULL), 1, 0, 50,
	        1, 50, "after the last");
	jny_clock_expect_page(jnyflow_messages_call(c, 70, 10, NULL), 1, 0, 70,
	        1, 50, "after past the last");

	/* One journey's, page by page: exactly its messages, in order. */
	uint64_t after = 0, last_a = 0;
	size_t got = 0;
	for (int pages = 0; pages < 10; pages++) {
		Clm__V1__Response *r
		        = jnyflow_messages_call(c, after, 7, "pg-a");
		cr_assert_eq(flow_status_of(r), CLM_OK, "pg-a after %llu: %s",
		        (unsigned long long) after,
		        clm_errname(flow_status_of(r)));
		const Clm__V1__JourneyMessagesReply *p = r->journey_messages;
		cr_expect_leq(p->n_messages, 7);
		for (size_t i = 0; i < p->n_messages; i++) {
			const Clm__V1__LifecycleEvent *ev = p->messages[i];
			cr_expect_str_eq(ev->journey, "pg-a");
			cr_expect_gt(ev->position, after);
			cr_assert_lt(ev->position - 1, n);
			cr_expect_str_eq(m[ev->position - 1].journey, "pg-a");
			last_a = ev->position;
			got++;
		}
		/* next_after: past what was returned, at most the last. */
		cr_expect(p->next_after >= (p->n_messages > 0 ? last_a : after)
		                && p->next_after <= 50,
		        "pg-a after %llu: next_after %llu (last returned %llu)",
		        (unsigned long long) after,
		        (unsigned long long) p->next_after,
		        (unsigned long long) last_a);
		bool done = p->n_messages == 0 && p->next_after == after;
		after = p->next_after;
		clm_response_free(r);
		if (done) {
			break;
		}
	}
	cr_expect_eq(got, 25, "pg-a: %zu messages, want 25", got);
	cr_expect_eq(jnyflow_count(m, n, "pg-a", NULL, -1), 25);
	free(m);
	clm_close(c);
}

/* The stream carries every journey's messages under journey/NAME, with
 * every field set, the same as the feed's. */
Test(jny_clock, stream_message_fields)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "st-a",
	        "{\"name\": \"st-a\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"10m\", \"send\": "
	        "{\"kind\": \"CART_REMINDER\", \"action\": \"st_a\", "
	        "\"channel\": \"EMAIL\"}}]}");
	jnyflow_define(c, "st-b",
	        "{\"name\": \"st-b\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"10m\", \"send\": "
	        "{\"kind\": \"CROSS_SELL\", \"action\": \"st_b\", "
	        "\"channel\": \"SMS\", \"item\": \"gift-1\"}}]}");
	clm_watch *w = jnyflow_watch(&srv);
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(
	        c, "st1", "st1-cart", TP(ADD_TO_CART), t0, "sku-9", NULL);
	jnyflow_clock_to(&clk, 15 * MIN_MS);

	struct jnyflow_msg ev[2];
	for (int i = 0; i < 2; i++) {
		cr_assert(jnyflow_next(w, SOON_MS, &ev[i]),
		        "no message %d on the stream", i);
	}
	if (strcmp(ev[0].journey, "st-b") == 0) {
		struct jnyflow_msg x = ev[0];
		ev[0] = ev[1];
		ev[1] = x;
	}
	cr_expect_str_eq(ev[0].journey, "st-a");
	cr_expect_str_eq(ev[1].journey, "st-b");
	jnyflow_expect_send(
	        &ev[0], RK(CART_REMINDER), "st_a", CH(EMAIL), "sku-9");
	jnyflow_expect_send(&ev[1], RK(CROSS_SELL), "st_b", CH(SMS), "gift-1");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 2);
	for (int i = 0; i < 2; i++) {
		struct jnyflow_msg *e = &ev[i];
		char topic[96], want[48];
		snprintf(topic, sizeof(topic), "journey/%s", e->journey);
		cr_expect_str_eq(e->topic, topic);
		cr_expect_str_eq(e->customer, "st1");
		cr_expect_eq(e->step, 0);
		cr_expect_geq(e->at_ms, t0 + 10 * MIN_MS, "at_ms %lld early",
		        (long long) e->at_ms);
		cr_expect_leq(e->at_ms, jnyflow_now(&clk));
		cr_expect_gt(e->seq, 0, "%s: seq 0", e->journey);
		cr_expect_gt(e->position, 0, "%s: position 0", e->journey);
		jnyflow_message_id((uint32_t) i + 1, "st1", t0, 0, want);
		cr_expect_str_eq(
		        e->message_id, want, "%s: message id", e->journey);
		const struct jnyflow_msg *f
		        = jnyflow_find(m, n, e->journey, "st1", 0);
		cr_assert_not_null(f, "%s: not in the feed", e->journey);
		cr_expect_str_eq(f->message_id, e->message_id);
		cr_expect_eq(f->position, e->position);
		cr_expect_eq(f->at_ms, e->at_ms);
		cr_expect_str_eq(f->event_id, e->event_id);
		cr_expect_str_eq(f->action, e->action);
		cr_expect_str_eq(f->item, e->item);
		cr_expect_eq(f->channel, e->channel);
		cr_expect_eq(f->rkind, e->rkind);
	}
	cr_expect_neq(ev[0].seq, ev[1].seq);
	free(m);
	clm_watch_close(w);
	clm_close(c);
}

/*
 * Exits (docs/journeys.md "How steps run", "Entering"): an exit that
 * becomes true with time alone leaves at its own instant; an exit true at
 * a step's instant wins over the send; an exit already true at the entry
 * keeps the customer out. "bar" is the barrier: its one step, due after
 * every step these journeys could send, has run when it is in the feed,
 * so their timers up to then ran too.
 */
static void
jny_clock_bar(clm_conn *c, const char *wait)
{
	char def[512];
	snprintf(def, sizeof(def),
	        "{\"name\": \"bar\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"%s\", "
	        "\"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": "
	        "\"bar\", \"channel\": \"APP_NOTIFICATION\"}}]}",
	        wait);
	jnyflow_define(c, "bar", def);
}

Test(jny_clock, exit_with_time_alone_leaves_at_its_instant)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "idle",
	        "{\"name\": \"idle\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"exit\": \"since(last_seen) > 2d\", "
	        "\"steps\": [{\"wait\": \"3d\", \"send\": {\"kind\": "
	        "\"CART_REMINDER\", \"action\": \"idle0\", \"channel\": "
	        "\"EMAIL\"}}]}");
	jny_clock_bar(c, "73h");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "i1", "i1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	struct jnyflow_stats s;
	jnyflow_stats(c, "idle", &s);
	EXPECT_U64(s.entered, 1, "entry", "entered");
	EXPECT_U64(s.step[0].waiting, 1, "entry", "steps[0].waiting");

	/* Past 2 d, a day before the step: exited by the exit's timer. */
	jnyflow_clock_to(&clk, 2 * DAY_MS + HOUR_MS);
	jnyflow_expect_counter(
	        c, "idle", JC_EXITED, 0, 1, SOON_MS, "+2 d 1 h: exited");
	jnyflow_stats(c, "idle", &s);
	EXPECT_U64(s.active, 0, "+2 d 1 h", "active");
	EXPECT_U64(s.step[0].waiting, 0, "+2 d 1 h", "steps[0].waiting");
	EXPECT_U64(s.step[0].sent, 0, "+2 d 1 h", "steps[0].sent");

	/* Past the step's instant and the barrier's: the step never ran. */
	jnyflow_clock_to(&clk, 3 * DAY_MS + 2 * HOUR_MS);
	jnyflow_expect_counter(
	        c, "bar", JC_SENT, 0, 1, SOON_MS, "+3 d 2 h: barrier");
	jnyflow_stats(c, "idle", &s);
	EXPECT_U64(s.step[0].sent, 0, "+3 d 2 h", "steps[0].sent");
	EXPECT_U64(s.step[0].skipped_late, 0, "+3 d 2 h", "skipped_late");
	EXPECT_U64(s.exited, 1, "+3 d 2 h", "exited");
	EXPECT_U64(s.completed, 0, "+3 d 2 h", "completed");
	jny_clock_expect_none(c, "idle", "i1", 0, "exited");
	clm_close(c);
}

/*
 * The exit is checked when a step fires: since(last_seen) >= 1d holds
 * from the very instant the step is due, so the step's run finds it
 * true and exits instead of sending. The clock stops 10 minutes past
 * that instant (well within max_lateness, which is checked first), and
 * the barrier's step is due 5 minutes past it.
 */
Test(jny_clock, exit_true_at_the_step_instant_wins_over_the_send)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "same",
	        "{\"name\": \"same\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"exit\": \"since(last_seen) >= 1d\", "
	        "\"steps\": [{\"wait\": \"1d\", \"send\": {\"kind\": "
	        "\"CART_REMINDER\", \"action\": \"same0\", \"channel\": "
	        "\"EMAIL\"}}]}");
	jny_clock_bar(c, "1445m");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "s1", "s1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_clock_to(&clk, DAY_MS + 10 * MIN_MS);
	jnyflow_expect_counter(
	        c, "bar", JC_SENT, 0, 1, SOON_MS, "+1 d 10 m: barrier");
	struct jnyflow_stats s;
	jnyflow_stats(c, "same", &s);
	EXPECT_U64(s.entered, 1, "+1 d 10 m", "entered");
	EXPECT_U64(s.exited, 1, "+1 d 10 m", "exited");
	EXPECT_U64(s.active, 0, "+1 d 10 m", "active");
	EXPECT_U64(s.completed, 0, "+1 d 10 m", "completed");
	EXPECT_U64(s.step[0].sent, 0, "+1 d 10 m", "steps[0].sent");
	EXPECT_U64(s.step[0].skipped_late, 0, "+1 d 10 m", "skipped_late");
	jny_clock_expect_none(c, "same", "s1", 0, "exit at the step");
	clm_close(c);
}

/*
 * An exit already true when the customer would enter keeps it out: p1
 * bought before its cart, p2 (the control) did not. Writes are applied
 * in order, so once p2's cart is answered p1's was decided.
 */
Test(jny_clock, exit_true_at_entry_does_not_enter)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "buyers",
	        "{\"name\": \"buyers\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"exit\": \"purchases >= 1\", "
	        "\"steps\": [{\"wait\": \"0s\", \"send\": {\"kind\": "
	        "\"CART_REMINDER\", \"action\": \"buy0\", \"channel\": "
	        "\"EMAIL\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(
	        c, "p1", "p1-buy", TP(PURCHASE), t0 - 2000, "sku-1", NULL);
	jnyflow_track1(c, "p1", "p1-cart", TP(ADD_TO_CART), t0, "sku-2", NULL);
	struct jnyflow_stats s;
	jnyflow_stats(c, "buyers", &s);
	EXPECT_U64(s.entered, 0, "p1's cart", "entered");
	EXPECT_U64(s.exited, 0, "p1's cart", "exited");
	jnyflow_track1(c, "p2", "p2-cart", TP(ADD_TO_CART), t0, "sku-2", NULL);
	jnyflow_stats(c, "buyers", &s);
	EXPECT_U64(s.entered, 1, "p2's cart", "entered");
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, "buyers", 1, SOON_MS, &n);
	cr_expect_eq(n, 1, "%zu messages of buyers, want 1", n);
	cr_expect_eq(jnyflow_count(m, n, "buyers", "p2", 0), 1);
	cr_expect_eq(jnyflow_count(m, n, "buyers", "p1", -1), 0,
	        "p1 was sent a message");
	free(m);
	jnyflow_stats(c, "buyers", &s);
	EXPECT_U64(s.entered, 1, "the end", "entered");
	EXPECT_U64(s.exited, 0, "the end", "exited");
	EXPECT_U64(s.completed, 1, "the end", "completed");
	clm_close(c);
}

/* The journal position of a read (GetJourney name's reply). */
static uint64_t
jny_clock_position(clm_conn *c, const char *name)
{
	Clm__V1__Response *r = jnyflow_get_call(c, name);
	cr_assert(r->status == NULL || r->status->code == 0, "get %s: %s",
	        name, r->status != NULL ? r->status->message : "");
	uint64_t pos = r->position;
	clm_response_free(r);
	return pos;
}

/*
 * A time-driven exit with since_entry must not wake its customer over and
 * over while nothing is due: one EMAIL_OPEN 10 ms after the entry, an
 * exit at 3 opens and a step an hour away; over 3 s of real time the
 * journal position (each fire is a journaled entry) moves by at most 2.
 *
 * KNOWN FAILING until F1's fix of since_entry exit wake-ups lands: the
 * count's next change is taken as the open's time plus the window
 * (now - entry), 10 ms after now at every evaluation, so the customer's
 * timer fires again and again, each fire a journal entry.
 */
Test(jny_clock, since_entry_exit_does_not_wake_while_nothing_is_due)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_clock_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "opens",
	        "{\"name\": \"opens\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"exit\": \"count(EMAIL_OPEN, "
	        "since_entry) >= 3\", \"steps\": [{\"wait\": \"1h\", "
	        "\"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
	        "\"open0\", \"channel\": \"EMAIL\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(
	        c, "o1", "o1-cart", TP(ADD_TO_CART), t0 - 5000, NULL, NULL);
	jnyflow_track1(
	        c, "o1", "o1-open", TP(EMAIL_OPEN), t0 - 4990, NULL, NULL);
	struct jnyflow_stats s;
	jnyflow_stats(c, "opens", &s);
	EXPECT_U64(s.entered, 1, "entry", "entered");
	EXPECT_U64(s.active, 1, "entry", "active");
	uint64_t p0 = jny_clock_position(c, "opens");
	harness_sleep_ms(3000);
	uint64_t p1 = jny_clock_position(c, "opens");
	cr_log_info("journal position %llu, then %llu 3 s later",
	        (unsigned long long) p0, (unsigned long long) p1);
	cr_expect_leq(p1 - p0, 2,
	        "the journal moved from %llu to %llu in 3 s with nothing due",
	        (unsigned long long) p0, (unsigned long long) p1);
	jnyflow_stats(c, "opens", &s);
	EXPECT_U64(s.active, 1, "+3 s", "active");
	EXPECT_U64(s.exited, 0, "+3 s", "exited");
	EXPECT_U64(s.step[0].sent, 0, "+3 s", "steps[0].sent");
	clm_close(c);
}
