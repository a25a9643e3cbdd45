/*
 * Group commit (docs/architecture.md "A request's life"): ServerStatus counts
 * the write transactions and the write calls they carried (docs/api.md
 * "ServerStatus"), and batch_max_touchpoints keeps calls whose touchpoints
 * would pass it out of one transaction.
 *
 * Deterministic whatever the schedule: with --batch-max-touchpoints 150,
 * two calls of 100 touchpoints never share a transaction, so concurrent
 * callers must end up with exactly one transaction per call; and a single
 * call larger than the cap still commits, whole.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define GC_T0      1704067200000LL /* 2024-01-01, in the past on any clock */
#define GC_THREADS 6
#define GC_CALLS   10
#define GC_BATCH   100

static struct clmd_proc srv;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

static void
status(clm_conn *c, uint64_t *tx, uint64_t *rq, uint64_t *tps)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s", clm_last_error(c));
	cr_assert_not_null(resp->server_status);
	*tx = resp->server_status->write_transactions;
	*rq = resp->server_status->write_requests;
	*tps = resp->server_status->touchpoints;
	clm_response_free(resp);
}

/*
 * Tracks n touchpoints for customers "gc-<who>-<k>" in one call; returns
 * NULL, or what went wrong (no asserts: it also runs on other threads).
 */
static const char *
track(clm_conn *c, int who, int call, size_t n)
{
	struct tp_batch b;
	if (!tp_batch_init(&b, n)) {
		tp_batch_fini(&b);
		return "out of memory";
	}
	for (size_t i = 0; i < n; i++) {
		Clm__V1__Touchpoint *tp = &b.tp[i];
		clm__v1__touchpoint__init(tp);
		snprintf(b.cid[i], sizeof(b.cid[i]), "gc-%d-%zu", who, i % 7);
		snprintf(b.eid[i], sizeof(b.eid[i]), "gc-%d-%d-%zu", who, call,
		        i);
		tp->customer_id = b.cid[i];
		tp->event_id = b.eid[i];
		tp->type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
		tp->channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		tp->occurred_at_ms
		        = GC_T0 + (int64_t) call * 1000 + (int64_t) i;
		b.ptr[i] = tp;
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b.ptr, n, &resp);
	const char *err = e != CLM_OK ? "track failed"
	        : resp->track == NULL || resp->track->accepted != n
	        ? "not every touchpoint accepted"
	        : NULL;
	clm_response_free(resp);
	tp_batch_fini(&b);
	return err;
}

struct gc_thread {
	pthread_t thread;
	int who;
	const char *err;
};

static void *
gc_main(void *arg)
{
	struct gc_thread *t = arg;
	clm_conn *c;
	if (clm_open(srv.url, 30000, &c) != CLM_OK) {
		t->err = "cannot connect";
		return NULL;
	}
	for (int k = 0; k < GC_CALLS && t->err == NULL; k++) {
		t->err = track(c, t->who, k, GC_BATCH);
	}
	clm_close(c);
	return NULL;
}

TestSuite(group_commit, .init = setup, .fini = teardown, .timeout = 120);

Test(group_commit, status_counts_and_touchpoint_cap)
{
	static const char *const args[]
	        = { "--batch-max-touchpoints", "150", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 30000, &c), CLM_OK);
	uint64_t tx0, rq0, tp0;
	status(c, &tx0, &rq0, &tp0);

	struct gc_thread th[GC_THREADS];
	for (int i = 0; i < GC_THREADS; i++) {
		th[i].who = i;
		th[i].err = NULL;
		cr_assert_eq(
		        pthread_create(&th[i].thread, NULL, gc_main, &th[i]),
		        0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		pthread_join(th[i].thread, NULL);
		cr_assert_null(th[i].err, "caller %d: %s", i, th[i].err);
	}
	uint64_t tx1, rq1, tp1;
	status(c, &tx1, &rq1, &tp1);
	cr_assert_eq(rq1 - rq0, GC_THREADS * GC_CALLS, "every call counted");
	cr_assert_eq(tx1 - tx0, rq1 - rq0,
	        "two calls of %d touchpoints never share a transaction under a cap of 150",
	        GC_BATCH);
	cr_assert_eq(tp1 - tp0, GC_THREADS * GC_CALLS * GC_BATCH);

	/* One call past the cap still commits, whole and alone. */
	const char *err = track(c, 99, 0, 400);
	cr_assert_null(err, "%s", err);
	uint64_t tx2, rq2, tp2;
	status(c, &tx2, &rq2, &tp2);
	cr_assert_eq(tx2 - tx1, 1);
	cr_assert_eq(rq2 - rq1, 1);
	cr_assert_eq(tp2 - tp1, 400);
	clm_close(c);
}
