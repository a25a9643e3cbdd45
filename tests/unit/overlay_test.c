/*
 * A differential test of the store's overlay (server/store/store_kv.c,
 * store_overlay.c). Two stores get the same random write transactions
 * through the public store.h API: A without an overlay, B with one, and B
 * checkpointed at random points. Everything a reader can observe is dumped
 * as text (ovl_dump, overlay_fixture.c) and the two dumps must be equal,
 * inside each write transaction and in a fresh reader after each commit.
 * Then: B reopened after a checkpoint, and readers across checkpoints (by
 * hand, and reader threads against a checkpointing writer).
 * overlay_ckpt_test.c has the checkpoint at its limits.
 *
 * The bugs these tests found (stats in a write transaction and across a
 * checkpoint, a full overlay taken for a full map, the overlay's size
 * after a checkpoint, memcpy from NULL for empty values under UBSan) each
 * keep a test here or in overlay_ckpt_test.c.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overlay_fixture.h"

TestSuite(overlay, .init = ovl_setup, .fini = ovl_teardown, .timeout = 90);

static void
run_differential(uint64_t seed, int txns)
{
	struct ovl_pair p;
	ovl_pair_open(&p, seed, 64 * MIB);
	for (int step = 0; step < txns; step++) {
		ovl_pair_txn(&p, step, true);
	}
	ovl_pair_checkpoint(&p);
	ovl_compare_committed(p.a, p.b, true, "final checkpoint", txns);
	store_close(p.a);
	store_close(p.b);
}

Test(overlay, differential_seed_1)
{
	run_differential(1, 800);
}

Test(overlay, differential_seed_2)
{
	run_differential(0xc0ffee, 800);
}

Test(overlay, differential_seed_3)
{
	run_differential(20261206, 800);
}

/* ---------------------------------------------------------------------- */
/* Reopening, and readers across checkpoints                              */

/* The counters a write transaction of s would hand out next. */
static void
next_counters(store *s, uint64_t out[3])
{
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	out[0] = store_next_cid(t);
	out[1] = store_next_seq(t);
	out[2] = store_next_event_seq(t);
	store_write_abort(t);
}

Test(overlay, reopen_keeps_the_checkpoint_only)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 77, 64 * MIB);
	for (int step = 0; step < 150; step++) {
		ovl_pair_txn(&p, step, true);
	}
	ovl_pair_checkpoint(&p);
	uint64_t at = p.pos;
	char *want = ovl_dump_committed(p.a, true);
	uint64_t want_next[3], got_next[3];
	next_counters(p.a, want_next);
	/* More on both, but never checkpointed: lost with the overlay. */
	for (int step = 150; step < 250; step++) {
		ovl_pair_txn(&p, step, false);
	}
	char *later = ovl_dump_committed(p.b, true);
	cr_assert_str_neq(want, later, "the writes after it changed nothing");
	free(later);
	uint64_t closed_next[3];
	next_counters(p.b, closed_next);
	store_close(p.b);
	p.b = ovl_open(ovl_dir_b, 256 * MIB, 64 * MIB);
	cr_assert_eq(store_position(p.b), at, "position %llu after reopening",
	        (unsigned long long) store_position(p.b));
	char *got = ovl_dump_committed(p.b, true);
	ovl_expect_same(want, got, "reopened", 0);
	next_counters(p.b, got_next);
	/*
	 * Except the event seq: never given twice (store_event_seq), it
	 * goes on where B's close left it.
	 */
	want_next[2] = closed_next[2];
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(got_next[i], want_next[i],
		        "counter %d: %llu, want %llu", i,
		        (unsigned long long) got_next[i],
		        (unsigned long long) want_next[i]);
	}
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}

Test(overlay, reader_keeps_its_snapshot_across_checkpoints)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 4242, 64 * MIB);
	for (int step = 0; step < 60; step++) {
		ovl_pair_txn(&p, step, false);
	}
	store_reader *r1, *r2;
	cr_assert_eq(store_reader_new(p.b, &r1), CLM_OK);
	cr_assert_eq(store_reader_new(p.b, &r2), CLM_OK);
	store_txn *t1, *t2;
	cr_assert_eq(store_read_begin(r1, &t1), CLM_OK);
	char *before = ovl_dump(t1, true);
	char *want = ovl_dump_committed(p.a, true);
	ovl_expect_same(want, before, "reader before checkpoints", 0);
	/* Two checkpoints with writes between and after them. */
	for (int round = 0; round < 2; round++) {
		ovl_pair_checkpoint(&p);
		for (int step = 0; step < 40; step++) {
			ovl_pair_txn(&p, 100 * (round + 1) + step, false);
		}
		char *again = ovl_dump(t1, true);
		ovl_expect_same(before, again, "old reader", round);
		free(again);
	}
	cr_assert_eq(store_read_begin(r2, &t2), CLM_OK);
	char *now = ovl_dump(t2, true);
	char *want_now = ovl_dump_committed(p.a, true);
	ovl_expect_same(want_now, now, "new reader", 0);
	cr_assert_str_neq(before, now, "nothing was written");
	store_read_end(t1);
	store_read_end(t2);
	store_reader_free(r1);
	store_reader_free(r2);
	free(before);
	free(want);
	free(now);
	free(want_now);
	store_close(p.a);
	store_close(p.b);
}

/*
 * Under an overlay, store_stats in a write transaction counts the
 * transaction's own profiles and touchpoints (t->delta_*) as LMDB does
 * without one.
 */
Test(overlay, stats_in_a_write_txn_count_its_own_changes)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 1, 64 * MIB);
	store_txn *t[2];
	cr_assert_eq(store_write_begin(p.a, &t[0]), CLM_OK);
	cr_assert_eq(store_write_begin(p.b, &t[1]), CLM_OK);
	for (int i = 0; i < 2; i++) {
		Clm__V1__CustomerRecord rec = CLM__V1__CUSTOMER_RECORD__INIT;
		rec.customer_id = "k1";
		cr_assert_eq(store_customer_put(t[i], &rec, false), CLM_OK);
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		cr_assert_eq(
		        store_touchpoint_put(t[i], 1, 1000, 1, &tp), CLM_OK);
	}
	ovl_compare_txns(t[0], t[1], true, "stats in write txn", 0);
	store_write_abort(t[0]);
	store_write_abort(t[1]);
	store_close(p.a);
	store_close(p.b);
}

/* ---------------------------------------------------------------------- */
/* Reader threads while the writer commits and checkpoints                */

#define INV_KEY "\x01inv"

struct inv_reader {
	store *s;
	int done; /* set (atomically) by the writer when it finishes */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* reads moved */
	uint64_t reads, kv_bad, stats_bad;
	char first_bad[200];
};

static int
inv_count_fn(void *arg, const char *id, bool anonymous)
{
	(void) id;
	(void) anonymous;
	(*(uint64_t *) arg)++;
	return 0;
}

static int
inv_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) at_ms;
	(void) seq;
	(void) tp;
	(*(uint64_t *) arg)++;
	return 0;
}

/*
 * The invariant the writer keeps in every transaction: counter 0 of
 * INV_KEY is the number of profiles, counter 1 of touchpoints (of cids
 * 1..N_CID). Checked by listing them (the merged cursors) and by
 * store_stats.
 */
static void
inv_check(struct inv_reader *x, store_txn *t)
{
	int64_t c[2];
	uint64_t n = 0, tps = 0;
	clm_err e = store_agg_get(t, INV_KEY, 4, c, 2);
	if (e == CLM_OK) {
		e = store_customers_after(
		        t, NULL, false, 100000, inv_count_fn, &n);
	}
	for (uint64_t cid = 1; e == CLM_OK && cid <= N_CID; cid++) {
		e = store_touchpoints_scan(
		        t, cid, -1, INT64_MAX, inv_touch_fn, &tps);
	}
	struct store_stats st = { 0 };
	if (e == CLM_OK) {
		e = store_stats(t, &st);
	}
	pthread_mutex_lock(&x->mu);
	x->reads++;
	pthread_cond_broadcast(&x->cv);
	bool kv_ok
	        = e == CLM_OK && (int64_t) n == c[0] && (int64_t) tps == c[1];
	bool st_ok = e == CLM_OK && st.customers == n && st.touchpoints == tps;
	if ((!kv_ok || !st_ok) && x->first_bad[0] == '\0') {
		snprintf(x->first_bad, sizeof(x->first_bad),
		        "%s: counters %lld %lld, listed %llu %llu, stats %llu %llu",
		        clm_errname(e), (long long) c[0], (long long) c[1],
		        (unsigned long long) n, (unsigned long long) tps,
		        (unsigned long long) st.customers,
		        (unsigned long long) st.touchpoints);
	}
	x->kv_bad += !kv_ok;
	x->stats_bad += !st_ok;
	pthread_mutex_unlock(&x->mu);
}

static void *
inv_reader_main(void *arg)
{
	struct inv_reader *x = arg;
	store_reader *r;
	if (store_reader_new(x->s, &r) != CLM_OK) {
		return NULL;
	}
	/* Bounded: the writer's end stops it long before. */
	for (int i = 0; i < 10000000; i++) {
		if (__atomic_load_n(&x->done, __ATOMIC_SEQ_CST)) {
			break;
		}
		store_txn *t;
		if (store_read_begin(r, &t) != CLM_OK) {
			pthread_mutex_lock(&x->mu);
			x->kv_bad++;
			pthread_mutex_unlock(&x->mu);
			break;
		}
		inv_check(x, t);
		store_read_end(t);
	}
	store_reader_free(r);
	return NULL;
}

/* One writer transaction keeping the invariant; returns nothing. */
static void
inv_write(store *s, uint64_t *rng, int step, int *next_id)
{
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	int64_t d[2] = { 0, 0 };
	unsigned n = 1 + ovl_rng_below(rng, 4);
	char id[32];
	for (unsigned i = 0; i < n; i++) {
		if (ovl_rng_below(rng, 3) == 0 && *next_id > 0) {
			snprintf(id, sizeof(id), "c%u",
			        ovl_rng_below(rng, *next_id));
			clm_err e = store_customer_del(t, id, false);
			cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
			d[0] -= e == CLM_OK;
		} else {
			Clm__V1__CustomerRecord rec
			        = CLM__V1__CUSTOMER_RECORD__INIT;
			snprintf(id, sizeof(id), "c%d", (*next_id)++);
			rec.customer_id = id;
			cr_assert_eq(
			        store_customer_put(t, &rec, false), CLM_OK);
			d[0]++;
		}
		uint64_t cid = 1 + ovl_rng_below(rng, N_CID);
		int64_t at = 1000 * (int64_t) ovl_rng_below(rng, 10);
		uint64_t seq = 1 + ovl_rng_below(rng, 3);
		if (ovl_rng_below(rng, 3) == 0) {
			clm_err e = store_touchpoint_del(t, cid, at, seq);
			cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
			d[1] -= e == CLM_OK;
		} else {
			Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
			/* A put over an existing key adds nothing. */
			uint64_t before = 0, after = 0;
			store_touchpoints_scan(
			        t, cid, at - 1, at, inv_touch_fn, &before);
			cr_assert_eq(
			        store_touchpoint_put(t, cid, at, seq, &tp),
			        CLM_OK);
			store_touchpoints_scan(
			        t, cid, at - 1, at, inv_touch_fn, &after);
			d[1] += (int64_t) (after - before);
		}
	}
	cr_assert_eq(
	        store_agg_add(t, INV_KEY, 4, d, 2), CLM_OK, "step %d", step);
	cr_assert_eq(store_write_commit(t), CLM_OK);
}

/*
 * The writer commits and checkpoints 600 times while two reader threads
 * check the invariant and store_stats (a checkpoint met by chance; the
 * forced case is stats_of_a_reader_meeting_a_checkpoint).
 */
static void
inv_run(void)
{
	store *s = ovl_open(ovl_dir_b, 256 * MIB, 64 * MIB);
	struct inv_reader x = { .s = s };
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		        pthread_create(&th[i], NULL, inv_reader_main, &x), 0);
	}
	uint64_t rng = 99, pos = 0;
	int next_id = 0;
	for (int step = 0; step < 600; step++) {
		inv_write(s, &rng, step, &next_id);
		if (step % 3 == 2) {
			struct store_ckpt_stats st;
			cr_assert_eq(store_checkpoint(s, ++pos, &st), CLM_OK);
		}
		/*
		 * Let the readers in (two cores, shared): wait, at most 10 s,
		 * until they have read twice since the last round.
		 */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		pthread_mutex_lock(&x.mu);
		uint64_t want = x.reads + 2;
		while (x.reads < want
		        && pthread_cond_timedwait(&x.cv, &x.mu, &ts) == 0) {
		}
		pthread_mutex_unlock(&x.mu);
	}
	__atomic_store_n(&x.done, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	/* And once more after everything, so there is at least one read. */
	x.done = 0;
	store_reader *r;
	store_txn *t;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	inv_check(&x, t);
	store_read_end(t);
	store_reader_free(r);
	cr_log_info(
	        "%llu reads, %llu kv mismatches, %llu stats mismatches%s%s",
	        (unsigned long long) x.reads, (unsigned long long) x.kv_bad,
	        (unsigned long long) x.stats_bad, x.first_bad[0] ? ": " : "",
	        x.first_bad);
	cr_assert_geq(x.reads, 600, "the readers hardly read");
	cr_assert_eq(x.kv_bad, 0, "%llu of %llu reads broke the invariant: %s",
	        (unsigned long long) x.kv_bad, (unsigned long long) x.reads,
	        x.first_bad);
	cr_assert_eq(x.stats_bad, 0, "%llu of %llu reads counted wrong: %s",
	        (unsigned long long) x.stats_bad, (unsigned long long) x.reads,
	        x.first_bad);
	pthread_mutex_destroy(&x.mu);
	pthread_cond_destroy(&x.cv);
	store_close(s);
}

Test(overlay, reader_threads_see_whole_transactions)
{
	inv_run();
}
