/*
 * segment_clock: segments that change with time alone, on clmd's test
 * clock (test_clock_file): moving it past `since(last_seen) < 30d`'s
 * bound takes the quiet customers out and `health = AT_RISK` in, GetSegment
 * is exact right after the move, and the exit and entry events arrive, each
 * with at_ms the instant it happened (docs/segments.md "Exact at every
 * instant"), and nothing else.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "harness.h"
#include "segflow.h"

HARNESS_SUITE(segment_clock, 240);

#define SITE_VISIT CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT
#define ENTERED    3
#define EXITED     4
#define N_QUIET    9

/* The customers and their last_seen: q0-q4 1 day ago, q5-q7 10 days ago,
 * q8 40 days ago. */
struct segment_clock_cust {
	char id[8];
	int64_t last_seen;
	bool in_since, in_risk;    /* expected now */
	bool exited, entered;      /* events seen */
	int64_t exit_at, enter_at; /* their at_ms */
};

/* The days ago of customer i. */
static int
segment_clock_days_ago(int i)
{
	return i < 5 ? 1 : i < 8 ? 10 : 40;
}

/*
 * Reads events until every customer whose in_since (in_risk) changed from
 * was_since (was_risk) has its exit (entry), up to 30 s; expects no other
 * event and each at the right instant.
 */
static void
segment_clock_expect_events(clm_watch *w, struct segment_clock_cust *q,
        const bool *was_since, const bool *was_risk, const char *what)
{
	int want = 0;
	for (int i = 0; i < N_QUIET; i++) {
		want += was_since[i] && !q[i].in_since;
		want += !was_risk[i] && q[i].in_risk;
	}
	int got = 0;
	int64_t deadline = segflow_now_ms() + 30000;
	while (got < want && segflow_now_ms() < deadline) {
		struct segflow_event ev;
		if (!segflow_next(w, 1000, &ev)) {
			continue;
		}
		int i = -1;
		for (int k = 0; k < N_QUIET; k++) {
			if (strcmp(q[k].id, ev.customer) == 0) {
				i = k;
			}
		}
		cr_assert(i >= 0, "%s: an event for '%s' (%s)", what,
		        ev.customer, ev.segment);
		if (strcmp(ev.segment, "quiet") == 0) {
			cr_expect(ev.kind == EXITED && was_since[i]
			                && !q[i].in_since && !q[i].exited,
			        "%s: unexpected %s of %s from quiet", what,
			        ev.kind == ENTERED ? "entry" : "exit",
			        q[i].id);
			q[i].exited = true;
			/* since(last_seen) < 30d ends at last_seen + 30 d. */
			cr_expect_eq(ev.at_ms, q[i].last_seen + 30 * DAY_MS,
			        "%s: %s left quiet at %lld, want %lld", what,
			        q[i].id, (long long) ev.at_ms,
			        (long long) (q[i].last_seen + 30 * DAY_MS));
		} else {
			cr_expect_str_eq(ev.segment, "at-risk");
			cr_expect(ev.kind == ENTERED && !was_risk[i]
			                && q[i].in_risk && !q[i].entered,
			        "%s: unexpected %s of %s from at-risk", what,
			        ev.kind == ENTERED ? "entry" : "exit",
			        q[i].id);
			q[i].entered = true;
			/* AT_RISK once T - last_seen > 30 d: 1 ms later. */
			int64_t want_at = q[i].last_seen + 30 * DAY_MS + 1;
			cr_expect_eq(ev.at_ms, want_at,
			        "%s: %s entered at-risk at %lld, want %lld",
			        what, q[i].id, (long long) ev.at_ms,
			        (long long) want_at);
		}
		got++;
	}
	cr_expect_eq(
	        got, want, "%s: %d of %d events within 30 s", what, got, want);
}

Test(segment_clock, quiet_customers_leave_as_the_clock_moves)
{
	char dir[32], clock[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(clock, sizeof(clock), "%s/clock", dir);
	segflow_clock_set(clock, 0);
	const char *args[] = { "--test-clock-file", clock, NULL };
	flow_start(&srv, NULL, args);
	clm_conn *c = flow_connect_to(&srv);

	struct segment_clock_cust q[N_QUIET];
	memset(q, 0, sizeof(q));
	int64_t now = segflow_now_ms();
	struct segflow_tp t[N_QUIET];
	char eid[N_QUIET][16];
	for (int i = 0; i < N_QUIET; i++) {
		snprintf(q[i].id, sizeof(q[i].id), "q%d", i);
		snprintf(eid[i], sizeof(eid[i]), "q-e%d", i);
		q[i].last_seen = now - segment_clock_days_ago(i) * DAY_MS + i;
		q[i].in_since = segment_clock_days_ago(i) < 30;
		q[i].in_risk = !q[i].in_since;
		t[i] = (struct segflow_tp) { q[i].id, eid[i], SITE_VISIT,
			q[i].last_seen, NULL, 0 };
	}
	clm_response_free(segflow_track(c, t, N_QUIET));
	clm_response_free(
	        segflow_define(c, "quiet", "since(last_seen) < 30d"));
	clm_response_free(segflow_define(c, "at-risk", "health = AT_RISK"));
	segflow_wait_backfill(c, "quiet", 30000);
	segflow_wait_backfill(c, "at-risk", 30000);
	cr_expect_eq(segflow_count(c, "quiet"), 8);
	cr_expect_eq(segflow_count(c, "at-risk"), 1);
	clm_watch *w = segflow_watch(&srv);

	/* +25 d: the three of 10 days ago are 35 days quiet. */
	bool was_since[N_QUIET], was_risk[N_QUIET];
	for (int i = 0; i < N_QUIET; i++) {
		was_since[i] = q[i].in_since;
		was_risk[i] = q[i].in_risk;
		int quiet_days = segment_clock_days_ago(i) + 25;
		q[i].in_since = quiet_days < 30;
		q[i].in_risk = quiet_days > 30 && quiet_days <= 90;
	}
	segflow_clock_set(clock, 25 * DAY_MS);
	cr_expect_eq(segflow_count(c, "quiet"), 5, "+25 d, at once");
	cr_expect_eq(segflow_count(c, "at-risk"), 4, "+25 d, at once");
	segment_clock_expect_events(w, q, was_since, was_risk, "+25 d");
	cr_expect_not(segflow_in_customer(c, "q5", "quiet", 0));
	cr_expect(segflow_in_customer(c, "q5", "at-risk", 0));
	cr_expect(segflow_in_customer(c, "q0", "quiet", 0));

	/* +31 d: everyone is 32 days quiet or more. */
	for (int i = 0; i < N_QUIET; i++) {
		was_since[i] = q[i].in_since;
		was_risk[i] = q[i].in_risk;
		int quiet_days = segment_clock_days_ago(i) + 31;
		q[i].in_since = quiet_days < 30;
		q[i].in_risk = quiet_days > 30 && quiet_days <= 90;
	}
	segflow_clock_set(clock, 31 * DAY_MS);
	cr_expect_eq(segflow_count(c, "quiet"), 0, "+31 d, at once");
	cr_expect_eq(segflow_count(c, "at-risk"), 9, "+31 d, at once");
	segment_clock_expect_events(w, q, was_since, was_risk, "+31 d");
	for (int i = 0; i < N_QUIET; i++) {
		cr_expect_eq(q[i].exited, i < 8, "%s: exited %d", q[i].id,
		        q[i].exited);
		cr_expect_eq(q[i].entered, i < 8, "%s: entered %d", q[i].id,
		        q[i].entered);
	}
	/* The past is answered by a scan: as of now (real), q0 was quiet. */
	cr_expect(segflow_in_customer(c, "q0", "quiet", now));
	Clm__V1__Response *r = segflow_get_call(c, "quiet", 0, NULL, now);
	flow_expect_ok(r, "quiet as of the start");
	cr_expect_eq(r->get_segment->segment->count, 8, "as of the start");
	cr_expect_eq(r->get_segment->as_of_ms, now);
	clm_response_free(r);

	/*
	 * Nothing else came: a new customer's entry is the next event (it
	 * proves whatever was published before it was delivered).
	 */
	struct segflow_tp fresh
	        = { "q-new", "q-enew", SITE_VISIT, 0, NULL, 0 };
	Clm__V1__Response *tr = segflow_track(c, &fresh, 1);
	cr_expect_eq(segflow_changes(tr, ENTERED, "q-new", "quiet"), 1);
	clm_response_free(tr);
	struct segflow_event ev;
	cr_assert(segflow_next(w, 30000, &ev), "no event for q-new");
	cr_expect(ev.kind == ENTERED && strcmp(ev.customer, "q-new") == 0,
	        "next event: kind %d %s %s", ev.kind, ev.customer, ev.segment);
	cr_expect_eq(segflow_count(c, "quiet"), 1);
	clm_watch_close(w);
	clm_close(c);
}
