/*
 * stages_durable: the lifecycle stages' journey (stages.h) survives a clean
 * restart and kill -9 with its idempotency keys and internal counters;
 * concurrent writers are counted exactly; a SIGTERM under load keeps every
 * acknowledged write.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "stages.h"

HARNESS_SUITE(stages_durable, 60);

static void
stages_durable_restart(void)
{
	int rc = clmd_start(&srv, srv.data_dir, NULL);
	cr_assert_eq(rc, 0, "clmd did not restart (log %s)", srv.log_path);
}

Test(stages_durable, restart_and_kill9_lose_nothing)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	stages_track_in_order(c, "alice");
	Clm__V1__Response *r0 = stages_get_customer(c, "alice", 0);
	Clm__V1__StatusReply s0 = stages_status(c);
	cr_expect_eq(s0.customers, 1);
	cr_expect_eq(s0.touchpoints, STAGES_N_STEPS);
	clm_close(c);

	/* Clean stop, restart on the same data dir. */
	int st = clmd_stop(&srv);
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
	stages_durable_restart();
	c = stages_connect(&srv);
	Clm__V1__Response *r1 = stages_get_customer(c, "alice", 0);
	stages_check_journey_customer(r1->customer);
	cr_expect(stages_same_customer(r0->customer, r1->customer),
	        "customer changed across a restart");
	Clm__V1__StatusReply s1 = stages_status(c);
	cr_expect_eq(s1.customers, s0.customers);
	cr_expect_eq(s1.touchpoints, s0.touchpoints);

	/* The idempotency keys survived too. */
	struct stages_tps t;
	stages_make_journey(&t, "alice");
	Clm__V1__Response *resp = stages_track(c, t.ptr, STAGES_N_STEPS);
	cr_expect_eq(resp->track->accepted, 0);
	cr_expect_eq(resp->track->duplicates, STAGES_N_STEPS);
	clm_response_free(resp);

	/* An acknowledged write, then kill -9: it is still there. */
	struct stages_step extra = { "e7", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		CLM__V1__CHANNEL__DIRECT, STAGES_T0 + 25 * STAGES_DAY_MS, 0,
		0 };
	struct stages_tps t7;
	stages_make_tp(&t7, 0, "alice", &extra);
	resp = stages_track(c, t7.ptr, 1);
	cr_expect_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	clm_close(c);
	clmd_kill9(&srv);
	stages_durable_restart();

	c = stages_connect(&srv);
	Clm__V1__Response *r2 = stages_get_customer(c, "alice", 0);
	const Clm__V1__Customer *cu = r2->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW),
	        1);
	cr_expect_eq(cu->last_seen_ms, STAGES_T0 + 25 * STAGES_DAY_MS);
	cr_expect_eq(cu->n_stage_history, 5);
	Clm__V1__StatusReply s2 = stages_status(c);
	cr_expect_eq(s2.customers, 1);
	cr_expect_eq(s2.touchpoints, STAGES_N_STEPS + 1);
	resp = stages_track(c, t7.ptr, 1);
	cr_expect_eq(resp->track->duplicates, 1, "e7 not deduped after kill");
	clm_response_free(resp);

	clm_response_free(r0);
	clm_response_free(r1);
	clm_response_free(r2);
	clm_close(c);
	st = clmd_stop(&srv);
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
}

/*
 * A customer whose first purchase arrives after its second: the late one
 * makes clmd look up the engagements between them in the customer's stored
 * touchpoints. There are none, so NURTURE and REACH share their instants
 * with the next stage: history = ACQUISITION at T0+1d, RETENTION at
 * T0+15d. Were its internal id reused from another customer (counters lost
 * in a restart), that customer's engagements would show up as NURTURE.
 */
static void
stages_durable_check_fresh_customer(clm_conn *c, const char *id)
{
	static const struct stages_step s[] = {
		{ "f1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT,
		        STAGES_T0 + 15 * STAGES_DAY_MS, 1, 0 },
		{ "f2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + STAGES_DAY_MS, 1,
		        0 },
	};
	struct stages_tps t;
	stages_make_tp(&t, 0, id, &s[0]);
	stages_make_tp(&t, 1, id, &s[1]);
	clm_response_free(stages_track(c, &t.ptr[0], 1));
	clm_response_free(stages_track(c, &t.ptr[1], 1));
	Clm__V1__Response *resp = stages_get_customer(c, id, 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(cu->n_touch_counts, 1, "%s: %zu touchpoint types", id,
	        cu->n_touch_counts);
	cr_assert_eq(cu->n_stage_history, 2, "%s: %zu history entries", id,
	        cu->n_stage_history);
	cr_expect_eq(cu->stage_history[0]->stage, CLM__V1__STAGE__ACQUISITION);
	cr_expect_eq(cu->stage_history[0]->entered_at_ms,
	        STAGES_T0 + STAGES_DAY_MS);
	cr_expect_eq(cu->stage_history[1]->stage, CLM__V1__STAGE__RETENTION);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms,
	        STAGES_T0 + 15 * STAGES_DAY_MS);
	clm_response_free(resp);
}

/* Tracks one new customer's first touchpoint; returns its event's seq. */
static uint64_t
stages_durable_new_customer_seq(clm_conn *c, const char *id)
{
	struct stages_step s = { "n1", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		CLM__V1__CHANNEL__DIRECT, STAGES_T0, 0, 0 };
	struct stages_tps t;
	stages_make_tp(&t, 0, id, &s);
	Clm__V1__Response *resp = stages_track(c, t.ptr, 1);
	cr_assert_eq(resp->track->n_changes, 1);
	uint64_t seq = resp->track->changes[0]->seq;
	clm_response_free(resp);
	return seq;
}

/* Internal counters (customer ids, event seq) survive restarts. */
Test(stages_durable, counters_survive_restarts)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	stages_track_in_order(c, "alice");
	uint64_t s0 = stages_durable_new_customer_seq(c, "seq-0");
	cr_expect_eq(
	        s0, 6, "seq %llu after 5 changes", (unsigned long long) s0);
	clm_close(c);

	cr_expect_eq(clmd_stop(&srv), 0);
	stages_durable_restart();
	c = stages_connect(&srv);
	stages_durable_check_fresh_customer(c, "fresh-1");
	uint64_t s1 = stages_durable_new_customer_seq(c, "seq-1");
	/* fresh-1 changed stage once (to ACQUISITION then RETENTION: 2). */
	cr_expect_eq(s1, s0 + 3, "seq %llu after restart, before %llu",
	        (unsigned long long) s1, (unsigned long long) s0);
	clm_close(c);

	clmd_kill9(&srv);
	stages_durable_restart();
	c = stages_connect(&srv);
	stages_durable_check_fresh_customer(c, "fresh-2");
	uint64_t s2 = stages_durable_new_customer_seq(c, "seq-2");
	/* A crash may make the seqs jump (the seq floor, api.md), never go
	 * back. */
	cr_expect_geq(s2, s1 + 3, "seq %llu after kill -9, before %llu",
	        (unsigned long long) s2, (unsigned long long) s1);
	clm_close(c);
}

struct writer_arg {
	const char *url;
	int id;
	int n;            /* calls to make (0: until an error) */
	atomic_int acked; /* calls answered OK (read while it runs) */
	int duplicates;   /* touchpoints answered as duplicates */
	atomic_bool done; /* the writer has returned */
};

/*
 * Tracks PURCHASEs for customer "w<id>", one per call; the event ids of
 * even calls are shared by all writers ("shared-<i>", customer "shared").
 *
 * A writer of n calls must have every one answered: it waits up to 10 s
 * for a reply, a bound a loaded machine does not reach. A writer until an
 * error ends when clmd is gone, with its last call's wait: 2 s.
 */
static void *
stages_durable_writer_main(void *p)
{
	struct writer_arg *a = p;
	clm_conn *c;
	if (clm_open(a->url, a->n != 0 ? 10000 : 2000, &c) != CLM_OK) {
		atomic_store(&a->done, true);
		return NULL;
	}
	char cust[32];
	snprintf(cust, sizeof(cust), "w%d", a->id);
	for (int i = 0; a->n == 0 || i < a->n; i++) {
		char ev[64];
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
		tp.channel = CLM__V1__CHANNEL__DIRECT;
		tp.occurred_at_ms = STAGES_T0 + i * STAGES_MIN_MS;
		tp.value = 1;
		if (a->n != 0 && i % 2 == 0) {
			snprintf(ev, sizeof(ev), "shared-%d", i);
			tp.customer_id = "shared";
		} else {
			snprintf(ev, sizeof(ev), "w%d-%d", a->id, i);
			tp.customer_id = cust;
		}
		tp.event_id = ev;
		Clm__V1__Touchpoint *ptr = &tp;
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_track(c, &ptr, 1, &resp);
		if (e != CLM_OK || resp == NULL || resp->track == NULL) {
			clm_response_free(resp);
			break;
		}
		a->acked++;
		a->duplicates += (int) resp->track->duplicates;
		clm_response_free(resp);
	}
	clm_close(c);
	atomic_store(&a->done, true);
	return NULL;
}

/* The monotonic clock in ms. */
static int64_t
stages_durable_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits, polling every 10 ms for up to ms, until each of the n writers has
 * had acks calls answered or has returned.
 */
static void
stages_durable_wait_busy(struct writer_arg *args, int n, int acks, int ms)
{
	int64_t deadline = stages_durable_mono_ms() + ms;
	for (;;) {
		int busy = 0;
		for (int i = 0; i < n; i++) {
			busy += atomic_load(&args[i].acked) >= acks
			        || atomic_load(&args[i].done);
		}
		if (busy == n || stages_durable_mono_ms() >= deadline) {
			return;
		}
		harness_sleep_ms(10);
	}
}

/* Concurrent writers: group commit loses and doubles nothing. */
Test(stages_durable, concurrent_writers_count_exactly)
{
	stages_start(&srv);
	enum { W = 6, N = 60 };
	struct writer_arg args[W];
	pthread_t th[W];
	for (int i = 0; i < W; i++) {
		args[i] = (struct writer_arg) { srv.url, i, N, 0, 0, false };
		cr_assert_eq(pthread_create(&th[i], NULL,
		                     stages_durable_writer_main, &args[i]),
		        0);
	}
	int dups = 0;
	for (int i = 0; i < W; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(args[i].acked, N, "writer %d: %d acked", i,
		        args[i].acked);
		dups += args[i].duplicates;
	}
	/* Each shared event id was applied once, by whichever came first. */
	cr_expect_eq(dups, (W - 1) * (N / 2), "%d duplicates", dups);
	clm_conn *c = stages_connect(&srv);
	Clm__V1__Response *resp = stages_get_customer(c, "shared", 0);
	cr_expect_eq(resp->customer->purchases, N / 2);
	cr_expect(fabs(resp->customer->revenue - N / 2) < 1e-9);
	clm_response_free(resp);
	for (int i = 0; i < W; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		resp = stages_get_customer(c, id, 0);
		cr_expect_eq(resp->customer->purchases, N / 2, "%s: %u", id,
		        resp->customer->purchases);
		cr_expect_eq(resp->customer->stage, CLM__V1__STAGE__RETENTION);
		clm_response_free(resp);
	}
	Clm__V1__StatusReply st = stages_status(c);
	cr_expect_eq(st.customers, W + 1);
	cr_expect_eq(st.touchpoints, W * (N / 2) + N / 2);
	clm_close(c);
}

/* SIGTERM while writers are busy: every acknowledged write is kept. */
Test(stages_durable, sigterm_under_load_keeps_every_ack)
{
	stages_start(&srv);
	enum { W = 4, BUSY = 20 };
	struct writer_arg args[W];
	pthread_t th[W];
	for (int i = 0; i < W; i++) {
		args[i] = (struct writer_arg) { srv.url, i, 0, 0, 0, false };
		cr_assert_eq(pthread_create(&th[i], NULL,
		                     stages_durable_writer_main, &args[i]),
		        0);
	}
	/*
	 * The SIGTERM comes once every writer is busy: each has had BUSY
	 * calls answered (and has more under way). A fixed sleep here would
	 * on a loaded machine let some writer not even have connected.
	 */
	stages_durable_wait_busy(args, W, BUSY, 20000);
	int st = clmd_stop(&srv);
	for (int i = 0; i < W; i++) {
		pthread_join(th[i], NULL);
	}
	/*
	 * nng 1.5.2's nng_close can wedge with busy clients (nng issues 1543
	 * and 1813); clmd then exits without waiting for it (rpc_close), so
	 * it must always exit 0 in time, every acknowledged write kept.
	 */
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);

	stages_durable_restart();
	clm_conn *c = stages_connect(&srv);
	for (int i = 0; i < W; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		cr_expect_gt(args[i].acked, 0, "writer %d got no ack", i);
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_get_customer(c, id, 0, &resp);
		cr_assert_eq(e, CLM_OK, "%s: %s", id, clm_errname(e));
		/* At most one more: committed, but its reply was lost. */
		int stored = (int) resp->customer->purchases;
		cr_expect(
		        stored >= args[i].acked && stored <= args[i].acked + 1,
		        "%s: %d acked, %d stored", id, args[i].acked, stored);
		clm_response_free(resp);
	}
	clm_close(c);
}
