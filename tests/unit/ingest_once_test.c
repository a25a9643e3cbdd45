/*
 * A batch's consecutive touchpoints of a customer load its profile once
 * (server/write/ingest.c, the profile cache), and no more than its few
 * profiles are held: more customers in turn load at every touchpoint,
 * and every touchpoint lands either way.
 *
 * (That the cache flushes on the bytes it uses, not on its arena's chunks,
 * which once made it flush after every touchpoint, is arena_test's
 * used_counts_what_was_handed_out_not_the_chunks: with four profiles the
 * arena no longer reaches the size where the two differ.)
 *
 * The writer's steps are driven directly here, in one transaction of a
 * store with no journal, as writer_apply does for a batch of Tracks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "store/agg_write.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "write/ingest.h"
#include "write/writer.h"

/* 2026-11-01T10:00:00Z. */
#define T0 1793527200000LL

struct fx {
	char dir[64];
	store *st;
	arena job_arena, scratch;
	Clm__V1__Response resp;
	writer_job job;
	struct model_params mp;
	struct ingest_cache *cache;
	struct agg_visits *visits;
};

static void
fx_open(struct fx *f)
{
	testdir_make(f->dir, sizeof(f->dir), "ingest-once");
	struct store_opts o = { .dir = f->dir,
		.nosync = true,
		.map_bytes = 64u << 20,
		.max_db_bytes = 256u << 20,
		.max_readers = 16 };
	char err[256] = "";
	clm_err e = store_open(&o, &f->st, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	arena_init(&f->job_arena);
	arena_init(&f->scratch);
	clm__v1__response__init(&f->resp);
	writer_job_init(&f->job, &f->job_arena, &f->resp, NULL, NULL);
	model_params_default(&f->mp);
	f->cache = ingest_cache_new();
	f->visits = agg_visits_new();
	cr_assert(f->cache != NULL && f->visits != NULL);
}

static void
fx_close(struct fx *f)
{
	ingest_cache_free(f->cache);
	agg_visits_free(f->visits);
	arena_fini(&f->job_arena);
	arena_fini(&f->scratch);
	store_close(f->st);
	testdir_remove(f->dir);
}

/*
 * Applies n touchpoints, the i-th of customer "c<i % customers>", in one
 * transaction through the cache, and returns the profiles it loaded.
 */
static uint64_t
apply(struct fx *f, int n, int customers)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(f->st, &txn), CLM_OK);
	struct writer_batch b = { .txn = txn,
		.now_ms = T0 + 86400000LL,
		.scratch = &f->scratch,
		.visits = f->visits,
		.cache = f->cache };
	uint64_t loads = ingest_cache_loads(f->cache);
	for (int i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%d", i % customers);
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		tp.customer_id = id;
		tp.type = i % 2 ? CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
		                : CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
		tp.channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		tp.occurred_at_ms = T0 + i * 1000LL;
		struct ingest_result res;
		clm_err e = ingest_touchpoint(&b, &f->job, &f->mp, &tp, &res);
		cr_assert_eq(
		        e, CLM_OK, "touchpoint %d: %s", i, clm_errname(e));
		cr_assert(!res.duplicate && res.linked_to == NULL);
	}
	cr_assert_eq(ingest_cache_flush(&b), CLM_OK);
	cr_assert_eq(agg_visits_fold(txn, f->visits), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_reset(&f->job_arena);
	return ingest_cache_loads(f->cache) - loads;
}

/* The stored page views and visits of customer id. */
static uint64_t
touches_of(struct fx *f, const char *id)
{
	store_reader *r;
	store_txn *t;
	arena a;
	arena_init(&a);
	cr_assert_eq(store_reader_new(f->st, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	Clm__V1__CustomerRecord *rec;
	cr_assert_eq(store_customer_get(t, id, false, &a, &rec), CLM_OK);
	uint64_t n = 0;
	for (size_t k = 0; k < rec->n_touch_counts; k++) {
		n += rec->touch_counts[k];
	}
	store_read_end(t);
	store_reader_free(r);
	arena_fini(&a);
	return n;
}

/*
 * Three batches of n touchpoints of `customers` customers in turn each
 * load every profile once.
 */
static void
expect_loaded_once(int n, int customers)
{
	struct fx f;
	fx_open(&f);
	for (int round = 0; round < 3; round++) {
		uint64_t loads = apply(&f, n, customers);
		cr_assert_eq(loads, (uint64_t) customers,
		        "round %d: %d touchpoints of %d customers loaded %llu profiles",
		        round, n, customers, (unsigned long long) loads);
	}
	cr_assert_eq(touches_of(&f, "c0"), 3 * (uint64_t) (n / customers));
	fx_close(&f);
}

Test(ingest_once, one_customer_loaded_once_per_batch)
{
	expect_loaded_once(2000, 1);
}

Test(ingest_once, a_few_customers_interleaved)
{
	expect_loaded_once(999, 3);
}

/* More customers than it holds, in turn: each touchpoint loads again. */
Test(ingest_once, many_customers_in_turn)
{
	struct fx f;
	fx_open(&f);
	uint64_t loads = apply(&f, 400, 40);
	cr_assert_eq(loads, 400, "loaded %llu", (unsigned long long) loads);
	for (int i = 0; i < 40; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%d", i);
		cr_assert_eq(touches_of(&f, id), 10, "%s", id);
	}
	fx_close(&f);
}
