/*
 * jny_durable: docs/journeys.md "How steps run": "a crash or a kill -9 at
 * any moment neither loses a due step nor runs it twice, and a step due
 * while clmd was down runs after restart". kill -9 between an entry and
 * its due step, and kill -9 while 10,000 customers' steps, due at once,
 * are being run (between the writer's fire entries of up to 1,000 steps);
 * each message is then in the feed exactly once, with the id the contract
 * gives it, and the counters agree with the feed. A kill inside one fire
 * entry's journal-then-apply window is not aimed at here: the unit-level
 * replay tests cover it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "harness.h"
#include "jnyflow.h"
#include "segflow.h"

HARNESS_SUITE(jny_durable, 180);

#define SOON_MS 20000
#define N_BURST 10000
#define BATCH   1000

/* Quiet hours would hold back a customer's second message for 24 h. */
static const char *const jny_durable_no_quiet[]
        = { "--quiet-hours", "0", NULL };

/*
 * u1 enters "dur" (step 0 after 1 h, step 1 2 h later) and "dur-bar" (one
 * step after 3 h 35 m: the barrier on the stream, due after dur's step 1).
 * clmd is killed right after the entry; step 0 comes due while it is
 * down and runs after the restart; step 1 runs on the next clock move, is
 * seen once on the stream, and clmd is killed again at once.
 */
Test(jny_durable, kill9_between_entry_and_due_step)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_durable_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "dur",
	        "{\"name\": \"dur\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": ["
	        "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"d0\", \"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"2h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"d1\", \"channel\": \"SMS\"}}]}");
	jnyflow_define(c, "dur-bar",
	        "{\"name\": \"dur-bar\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"215m\", \"send\": "
	        "{\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"bar\", "
	        "\"channel\": \"APP_NOTIFICATION\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "u1", "u1-cart", TP(ADD_TO_CART), t0, "sku", NULL);
	clm_close(c);
	clmd_kill9(&srv);

	/* Step 0 comes due while clmd is down. */
	jnyflow_clock_to(&clk, HOUR_MS + 30 * MIN_MS);
	jnyflow_restart(&srv, &clk, jny_durable_no_quiet);
	c = flow_connect_to(&srv);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, "dur", 1, SOON_MS, &n);
	cr_assert_eq(n, 1, "after the restart: %zu messages, want 1", n);
	cr_expect_str_eq(m[0].customer, "u1");
	cr_expect_eq(m[0].step, 0);
	cr_expect_geq(m[0].at_ms, t0 + HOUR_MS);
	char want[48];
	jnyflow_message_id(1, "u1", t0, 0, want);
	cr_expect_str_eq(m[0].message_id, want);
	int64_t at0 = m[0].at_ms;
	free(m);

	/* Step 1 on the stream, exactly once before the barrier. */
	clm_watch *w = jnyflow_watch(&srv);
	jnyflow_clock_to(&clk, 3 * HOUR_MS + 40 * MIN_MS);
	cr_assert_lt(at0 + 2 * HOUR_MS, t0 + 215 * MIN_MS, "slow machine");
	int seen = 0, bar = 0;
	int64_t deadline = segflow_now_ms() + SOON_MS;
	while (bar == 0 && segflow_now_ms() < deadline) {
		struct jnyflow_msg e;
		if (!jnyflow_next(w, 1000, &e)) {
			continue;
		}
		cr_expect_str_eq(e.customer, "u1");
		if (strcmp(e.journey, "dur-bar") == 0) {
			bar++;
		} else {
			cr_expect_str_eq(e.journey, "dur");
			cr_expect_eq(
			        e.step, 1, "step %u on the stream", e.step);
			seen++;
		}
	}
	cr_expect_eq(bar, 1, "the barrier did not come");
	cr_expect_eq(seen, 1, "dur's step 1 on the stream %d times", seen);
	clm_watch_close(w);
	clm_close(c);
	clmd_kill9(&srv);

	jnyflow_restart(&srv, &clk, jny_durable_no_quiet);
	c = flow_connect_to(&srv);
	m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 3, "after the second kill: %zu messages, want 3", n);
	cr_expect_eq(jnyflow_count(m, n, "dur", "u1", 0), 1, "step 0");
	cr_expect_eq(jnyflow_count(m, n, "dur", "u1", 1), 1, "step 1");
	cr_expect_eq(jnyflow_count(m, n, "dur-bar", "u1", 0), 1, "barrier");
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(m[i].position, i + 1);
	}
	free(m);
	struct jnyflow_stats s;
	jnyflow_stats(c, "dur", &s);
	EXPECT_U64(s.step[0].sent, 1, "the end", "steps[0].sent");
	EXPECT_U64(s.step[1].sent, 1, "the end", "steps[1].sent");
	EXPECT_U64(s.completed, 1, "the end", "completed");
	EXPECT_U64(s.active, 0, "the end", "active");
	EXPECT_U64(s.entered, 1, "the end", "entered");
	clm_close(c);
}

/* Tracks the N_BURST carts of b00000.. at t0, BATCH a call. */
static void
jny_durable_load(clm_conn *c, int64_t t0)
{
	static struct segflow_tp t[BATCH];
	static char cid[BATCH][16], eid[BATCH][16];
	for (int b = 0; b < N_BURST; b += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			snprintf(cid[k], sizeof(cid[k]), "b%05d", b + k);
			snprintf(eid[k], sizeof(eid[k]), "be%05d", b + k);
			t[k] = (struct segflow_tp) { cid[k], eid[k],
				TP(ADD_TO_CART), t0, NULL, 0 };
		}
		clm_response_free(segflow_track(c, t, BATCH));
	}
}

/*
 * 10,000 steps due at once: the writer runs them as about ten fire
 * entries of up to 1,000 steps, one after another. clmd is killed as soon
 * as a reply shows some but not all of them sent (0 < sent < 10,000: the
 * kill lands between two fire entries, with entries still to run), then
 * four times at a random moment of the restart (0-200 ms after it
 * answered, and after reading the sent counter, which no kill may lower;
 * those kills may land after the rest ran: each round logs what it saw),
 * then left to finish: every customer has exactly one message, with its
 * documented id, at positions 1..10,000, and sent = the feed's count.
 * What is not exercised: a kill between one entry's journal write and
 * its apply (its window is far smaller than the polls can aim at); the
 * unit-level replay tests cover that one.
 */
Test(jny_durable, kill9_during_a_burst)
{
	unsigned seed = (unsigned) time(NULL);
	srand(seed);
	fprintf(stderr, "jny_durable: seed %u\n", seed);
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_durable_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "burst",
	        "{\"name\": \"burst\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"1h\", \"send\": "
	        "{\"kind\": \"CART_REMINDER\", \"action\": \"burst\", "
	        "\"channel\": \"EMAIL\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jny_durable_load(c, t0);
	jnyflow_expect_counter(
	        c, "burst", JC_ENTERED, 0, N_BURST, SOON_MS, "loaded");
	/*
	 * The clock moves while clmd runs: once some steps are counted and
	 * not all, the rest are still to run; kill it then (the polls ask
	 * back to back: each fire entry of 1,000 sends takes far longer
	 * than a GetJourney).
	 */
	jnyflow_clock_to(&clk, 2 * HOUR_MS);
	int64_t deadline = segflow_now_ms() + SOON_MS;
	struct jnyflow_stats s;
	do {
		jnyflow_stats(c, "burst", &s);
	} while (s.step[0].sent == 0 && segflow_now_ms() < deadline);
	clmd_kill9(&srv);
	clm_close(c);
	fprintf(stderr, "jny_durable: %llu sent at the first kill\n",
	        (unsigned long long) s.step[0].sent);
	cr_expect_gt(s.step[0].sent, 0, "nothing sent within %d ms", SOON_MS);
	cr_expect_lt(s.step[0].sent, N_BURST,
	        "the whole burst ran before the kill: it missed the burst");

	/* Then at random moments of the restarts. */
	uint64_t seen = s.step[0].sent;
	for (int round = 0; round < 4; round++) {
		jnyflow_restart(&srv, &clk, jny_durable_no_quiet);
		harness_sleep_ms(rand() % 200);
		/* What a reply showed was committed: a kill never undoes it.
		 */
		c = flow_connect_to(&srv);
		jnyflow_stats(c, "burst", &s);
		clm_close(c);
		clmd_kill9(&srv);
		fprintf(stderr,
		        "jny_durable: round %d: %llu sent at the kill\n",
		        round, (unsigned long long) s.step[0].sent);
		cr_expect_geq(s.step[0].sent, seen,
		        "round %d: sent %llu, was %llu before the kill", round,
		        (unsigned long long) s.step[0].sent,
		        (unsigned long long) seen);
		seen = s.step[0].sent;
	}
	jnyflow_restart(&srv, &clk, jny_durable_no_quiet);
	c = flow_connect_to(&srv);
	size_t n;
	struct jnyflow_msg *m
	        = jnyflow_wait_feed(c, "burst", N_BURST, 40000, &n);
	cr_expect_eq(n, N_BURST, "%zu messages, want %d", n, N_BURST);
	static bool got[N_BURST];
	memset(got, 0, sizeof(got));
	size_t dup = 0, bad_id = 0, bad_pos = 0;
	for (size_t i = 0; i < n; i++) {
		int k = atoi(m[i].customer + 1);
		cr_assert(m[i].customer[0] == 'b' && k >= 0 && k < N_BURST,
		        "a message for '%s'", m[i].customer);
		dup += got[k];
		got[k] = true;
		char want[48];
		jnyflow_message_id(1, m[i].customer, t0, 0, want);
		bad_id += strcmp(want, m[i].message_id) != 0;
		bad_pos += m[i].position != i + 1;
	}
	cr_expect_eq(dup, 0, "%zu customers got their message twice", dup);
	cr_expect_eq(bad_id, 0, "%zu message ids not as documented", bad_id);
	cr_expect_eq(bad_pos, 0, "%zu positions out of 1..%zu", bad_pos, n);
	free(m);

	jnyflow_stats(c, "burst", &s);
	EXPECT_U64(s.step[0].sent, n, "the end", "sent = the feed's count");
	EXPECT_U64(s.step[0].sent, N_BURST, "the end", "sent");
	EXPECT_U64(s.completed, N_BURST, "the end", "completed");
	EXPECT_U64(s.entered, N_BURST, "the end", "entered");
	EXPECT_U64(s.active, 0, "the end", "active");
	EXPECT_U64(s.step[0].waiting, 0, "the end", "waiting");
	EXPECT_U64(s.step[0].skipped_late + s.step[0].skipped_capped, 0,
	        "the end", "skipped");
	clm_close(c);
}
