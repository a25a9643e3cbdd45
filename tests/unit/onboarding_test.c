/*
 * Unit tests of the exact onboarding median kept incrementally by
 * server/store/store_onboarding.c (store_onboarding_update,
 * store_onboarding_median), against a brute force: a model array of every
 * customer's current duration, sorted after each step. Random inserts,
 * removals and changes, committed in batches or aborted (the model then goes
 * back to what was committed), with duplicate durations and zeros.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "testdir.h"

#define N_CIDS 257
#define NONE   (-1) /* no onboarding time */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static char tmp_path[64]; /* this test process's data dir */

static void
setup(void)
{
	testdir_make(tmp_path, sizeof(tmp_path), "onb-test");
}

static void
teardown(void)
{
	testdir_remove(tmp_path);
}

TestSuite(onboarding, .init = setup, .fini = teardown, .timeout = 60);

static store *
open_store(void)
{
	struct store_opts o = {
		.dir = tmp_path,
		.nosync = true,
		.map_bytes = 4 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 8,
	};
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	return s;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return (x > y) - (x < y);
}

/* The brute force: sort the current durations, take the middle. */
static void
brute_median(const int64_t *cur, bool *known, int64_t *twice)
{
	int64_t v[N_CIDS];
	size_t n = 0;
	for (size_t i = 0; i < N_CIDS; i++) {
		if (cur[i] != NONE) {
			v[n++] = cur[i];
		}
	}
	qsort(v, n, sizeof(v[0]), cmp_i64);
	*known = n > 0;
	*twice = n == 0      ? 0
	        : n % 2 == 1 ? 2 * v[n / 2]
	                     : v[n / 2 - 1] + v[n / 2];
}

static size_t
count_of(const int64_t *cur)
{
	size_t n = 0;
	for (size_t i = 0; i < N_CIDS; i++) {
		n += cur[i] != NONE;
	}
	return n;
}

/* Asserts the store's median in txn is the brute force's over cur. */
static void
check_median(store_txn *txn, const int64_t *cur, const char *ctx, int step)
{
	bool known = true, want_known;
	int64_t twice = -7, want_twice;
	clm_err e = store_onboarding_median(txn, &known, &twice);
	cr_assert_eq(e, CLM_OK, "%s step %d: store_onboarding_median: %s", ctx,
	        step, clm_errname(e));
	brute_median(cur, &want_known, &want_twice);
	cr_assert_eq(known, want_known, "%s step %d: known %d with %zu values",
	        ctx, step, known, count_of(cur));
	if (want_known) {
		cr_assert_eq(twice, want_twice,
		        "%s step %d: twice the median %lld, brute force %lld (%zu values)",
		        ctx, step, (long long) twice, (long long) want_twice,
		        count_of(cur));
	}
}

/* Checks the committed state through a fresh read transaction. */
static void
check_committed(store *s, const int64_t *cur, const char *ctx, int step)
{
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	check_median(rt, cur, ctx, step);
	store_read_end(rt);
	store_reader_free(r);
}

/* Applies one update to the store and to the model; asserts CLM_OK. */
static void
update(store_txn *txn, int64_t *cur, uint64_t cid, int64_t new_ms)
{
	int64_t old = cur[cid];
	clm_err e = store_onboarding_update(txn, cid,
	        old == NONE ? NULL : &old, new_ms == NONE ? NULL : &new_ms);
	cr_assert_eq(e, CLM_OK, "update cid %llu %lld -> %lld: %s",
	        (unsigned long long) cid, (long long) old, (long long) new_ms,
	        clm_errname(e));
	cur[cid] = new_ms;
}

/* splitmix64: a small deterministic generator. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* A duration: mostly from a small pool (duplicates, zeros), or random. */
static int64_t
random_duration(uint64_t *rng)
{
	static const int64_t pool[] = { 0, 0, 1, 2, 5, 5, 5, 10, 1000, 60000,
		3600000, 86400000, 86400001, 604800000 };
	if (rng_below(rng, 4) == 0) {
		return (int64_t) rng_below(rng, 1000000000000ULL);
	}
	return pool[rng_below(rng, sizeof(pool) / sizeof(pool[0]))];
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

Test(onboarding, empty_store_has_no_median)
{
	store *s = open_store();
	int64_t cur[N_CIDS];
	for (size_t i = 0; i < N_CIDS; i++) {
		cur[i] = NONE;
	}
	check_committed(s, cur, "empty", 0);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	/* No old and no new value: nothing happens. */
	cr_assert_eq(store_onboarding_update(txn, 1, NULL, NULL), CLM_OK);
	check_median(txn, cur, "no-op", 0);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	check_committed(s, cur, "no-op", 0);
	store_close(s);
}

Test(onboarding, small_sequence_by_hand)
{
	store *s = open_store();
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	int64_t cur[N_CIDS];
	for (size_t i = 0; i < N_CIDS; i++) {
		cur[i] = NONE;
	}
	static const struct {
		uint64_t cid;
		int64_t to;    /* NONE = remove */
		int64_t twice; /* want; -1 = unknown */
	} steps[] = {
		{ 1, 10, 20 },    /* {10} */
		{ 2, 30, 40 },    /* {10, 30} */
		{ 3, 0, 20 },     /* {0, 10, 30} */
		{ 4, 10, 20 },    /* {0, 10, 10, 30} */
		{ 1, NONE, 20 },  /* {0, 10, 30} */
		{ 3, 50, 60 },    /* {10, 30, 50} */
		{ 4, 30, 60 },    /* {30, 30, 50} */
		{ 2, NONE, 80 },  /* {30, 50} */
		{ 4, NONE, 100 }, /* {50} */
		{ 3, NONE, -1 },  /* {} */
		{ 5, 0, 0 },      /* {0} */
		{ 6, 0, 0 },      /* {0, 0} */
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		update(txn, cur, steps[i].cid, steps[i].to);
		bool known;
		int64_t twice;
		cr_assert_eq(
		        store_onboarding_median(txn, &known, &twice), CLM_OK);
		cr_assert_eq(known, steps[i].twice >= 0, "step %zu: known", i);
		if (steps[i].twice >= 0) {
			cr_assert_eq(twice, steps[i].twice,
			        "step %zu: twice the median %lld, want %lld",
			        i, (long long) twice,
			        (long long) steps[i].twice);
		}
		check_median(txn, cur, "by hand", (int) i);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	check_committed(s, cur, "by hand, committed", 0);
	store_close(s);
}

/*
 * The random walk: each step inserts (a customer without a time gets
 * one), removes, changes, or re-sets the same value, for a random cid;
 * every 1-40 steps the transaction is committed (85 %) or aborted, after
 * which the model goes back to the last committed state. Few customers
 * (n_cids) keep the count small, crossing 0, 1 and 2 often; many make it
 * large. The median is
 * checked after every step in the write transaction, and after every
 * commit or abort in a fresh read transaction; at the end, after a reopen.
 */
static void
random_walk(uint64_t seed, int steps, size_t n_cids)
{
	cr_assert(n_cids >= 2 && n_cids <= N_CIDS);
	uint64_t rng = seed;
	store *s = open_store();
	int64_t cur[N_CIDS], committed[N_CIDS];
	for (size_t i = 0; i < N_CIDS; i++) {
		cur[i] = committed[i] = NONE;
	}
	/* Cids from 1; a few large ones test the key order beyond a byte. */
	static const uint64_t big = 0x0102030405060708ULL;
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	int until = 1 + (int) rng_below(&rng, 40);
	int inserts = 0, removes = 0, changes = 0, aborts = 0;
	for (int step = 1; step <= steps; step++) {
		size_t idx = 1 + (size_t) rng_below(&rng, n_cids - 1);
		uint64_t cid = idx % 16 == 0 ? big + idx : idx;
		/* The model is indexed by idx; the store sees cid. */
		int64_t old = cur[idx];
		int64_t new_ms;
		uint64_t r = rng_below(&rng, 10);
		if (old == NONE) {
			new_ms = r < 8 ? random_duration(&rng) : NONE;
			inserts += new_ms != NONE;
		} else if (r < 4) {
			new_ms = NONE;
			removes++;
		} else if (r < 9) {
			new_ms = random_duration(&rng);
			changes++;
		} else {
			new_ms = old;
		}
		clm_err e = store_onboarding_update(txn, cid,
		        old == NONE ? NULL : &old,
		        new_ms == NONE ? NULL : &new_ms);
		cr_assert_eq(e, CLM_OK,
		        "seed %llu step %d: update %lld -> %lld: %s",
		        (unsigned long long) seed, step, (long long) old,
		        (long long) new_ms, clm_errname(e));
		cur[idx] = new_ms;
		check_median(txn, cur, "in transaction", step);

		if (step == until || step == steps) {
			if (rng_below(&rng, 100) < 85 || step == steps) {
				e = store_write_commit(txn);
				cr_assert_eq(e, CLM_OK, "step %d: commit: %s",
				        step, clm_errname(e));
				memcpy(committed, cur, sizeof(cur));
			} else {
				store_write_abort(txn);
				memcpy(cur, committed, sizeof(cur));
				aborts++;
			}
			check_committed(s, cur, "after commit/abort", step);
			until = step + 1 + (int) rng_below(&rng, 40);
			if (step < steps) {
				cr_assert_eq(
				        store_write_begin(s, &txn), CLM_OK);
				check_median(
				        txn, cur, "new transaction", step);
			}
		}
	}
	cr_assert_gt(inserts, steps / 10);
	cr_assert_gt(removes, steps / 20);
	cr_assert_gt(changes, steps / 20);
	cr_assert_gt(aborts, 0);
	store_close(s);
	s = open_store();
	check_committed(s, committed, "after reopen", steps);
	store_close(s);
}

Test(onboarding, random_walk_two_customers)
{
	random_walk(1, 3000, 3);
}

Test(onboarding, random_walk_five_customers)
{
	random_walk(2, 3000, 6);
}

Test(onboarding, random_walk_some_customers)
{
	random_walk(3, 4000, 17);
}

Test(onboarding, random_walk_many_customers)
{
	random_walk(0xfeedface, 4000, N_CIDS);
}

/* Many customers with the same duration: only the cid tells them apart. */
Test(onboarding, all_durations_equal)
{
	store *s = open_store();
	int64_t cur[N_CIDS];
	for (size_t i = 0; i < N_CIDS; i++) {
		cur[i] = NONE;
	}
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	for (uint64_t cid = 1; cid < 60; cid++) {
		update(txn, cur, cid, 5);
		check_median(txn, cur, "equal", (int) cid);
	}
	/* Remove from both ends and the middle. */
	static const uint64_t order[] = { 1, 59, 30, 2, 58, 31, 29, 3 };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		update(txn, cur, order[i], NONE);
		check_median(txn, cur, "equal, removed", (int) i);
	}
	/* One outlier each side moves nothing. */
	update(txn, cur, 100, 0);
	check_median(txn, cur, "zero outlier", 0);
	update(txn, cur, 101, 1000000);
	check_median(txn, cur, "large outlier", 0);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	check_committed(s, cur, "equal, committed", 0);
	store_close(s);
}
