/*
 * Unit tests of segments in the store (server/store/store_segment.c:
 * members with their counts, pages, chunked drops, the time index) against
 * a model, and of the writer's membership (server/write/segment.c): entries
 * and exits with their events, the time index's exits at the due instant,
 * and a backfill in chunks that publishes nothing.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/profile.h"
#include "store/segment.h"
#include "testdir.h"
#include "write/segment.h"
#include "write_fixture.h"

#define T0     1768003200000LL /* 2026-01-10T00:00:00Z */
#define HOUR   3600000LL
#define N_CUST 300

static char tmp_path[64];

static void
setup(void)
{
	testdir_make(tmp_path, sizeof(tmp_path), "seg-store-test");
}

static void
teardown(void)
{
	testdir_remove(tmp_path);
}

TestSuite(segment_store, .init = setup, .fini = teardown, .timeout = 60);

static void
cust_id(char *buf, size_t n, int i)
{
	snprintf(buf, n, "cust-%04d", i);
}

struct listing {
	char ids[N_CUST + 1][32];
	size_t n;
};

static int
listing_fn(void *arg, const char *id)
{
	struct listing *l = arg;
	cr_assert_lt(l->n, N_CUST + 1);
	snprintf(l->ids[l->n++], sizeof(l->ids[0]), "%s", id);
	return 0;
}

/* Checks seg's count and members (paged by 7) against model[]. */
static void
check_members(store *st, uint32_t seg, const bool *model)
{
	store_reader *rd;
	store_txn *txn;
	cr_assert_eq(store_reader_new(st, &rd), CLM_OK);
	cr_assert_eq(store_read_begin(rd, &txn), CLM_OK);
	uint64_t want = 0, n;
	for (int i = 0; i < N_CUST; i++) {
		want += model[i];
	}
	cr_assert_eq(store_member_count(txn, seg, &n), CLM_OK);
	cr_assert_eq(n, want, "segment %u: count %llu, model %llu",
	        (unsigned) seg, (unsigned long long) n,
	        (unsigned long long) want);
	struct listing all = { .n = 0 };
	char after[32] = "";
	for (;;) {
		struct listing page = { .n = 0 };
		cr_assert_eq(
		        store_members_after(txn, seg, after[0] ? after : NULL,
		                7, listing_fn, &page),
		        CLM_OK);
		for (size_t i = 0; i < page.n; i++) {
			memcpy(all.ids[all.n++], page.ids[i],
			        sizeof(page.ids[i]));
		}
		if (page.n < 7) {
			break;
		}
		snprintf(after, sizeof(after), "%s", page.ids[page.n - 1]);
	}
	size_t k = 0;
	for (int i = 0; i < N_CUST; i++) {
		char id[32];
		cust_id(id, sizeof(id), i);
		bool is;
		cr_assert_eq(store_member_has(txn, seg, id, &is), CLM_OK);
		cr_assert_eq(is, model[i], "%s in %u", id, (unsigned) seg);
		if (model[i]) {
			cr_assert_lt(k, all.n);
			cr_assert_str_eq(all.ids[k], id);
			k++;
		}
	}
	cr_assert_eq(k, all.n);
	store_reader_free(rd);
}

Test(segment_store, members_counts_pages_and_drops)
{
	store *st = wfx_store_open(tmp_path, 256u << 20);
	static bool model[3][N_CUST];
	uint32_t ids[3];
	srand(19);
	store_txn *txn;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	for (int s = 0; s < 3; s++) {
		cr_assert_eq(store_segment_new_id(txn, &ids[s]), CLM_OK);
		cr_assert_eq(ids[s], (uint32_t) s + 1);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	for (int round = 0; round < 8; round++) {
		/* Each round one transaction, committed or (odd) aborted. */
		static bool next[3][N_CUST];
		memcpy(next, model, sizeof(next));
		cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
		for (int op = 0; op < 400; op++) {
			int s = rand() % 3, i = rand() % N_CUST;
			bool want = rand() % 3 != 0;
			char id[32];
			cust_id(id, sizeof(id), i);
			bool changed;
			cr_assert_eq(store_member_set(
			                     txn, ids[s], id, want, &changed),
			        CLM_OK);
			cr_assert_eq(changed, next[s][i] != want);
			next[s][i] = want;
		}
		if (round % 2 == 1) {
			store_write_abort(txn);
		} else {
			cr_assert_eq(store_write_commit(txn), CLM_OK);
			memcpy(model, next, sizeof(model));
		}
		for (int s = 0; s < 3; s++) {
			check_members(st, ids[s], model[s]);
		}
	}
	/* Segment 2 dropped in chunks of 50: the others are untouched. */
	bool left = true;
	for (int chunk = 0; left; chunk++) {
		cr_assert_lt(chunk, N_CUST / 50 + 3);
		cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
		cr_assert_eq(
		        store_members_drop(txn, ids[1], 50, &left), CLM_OK);
		cr_assert_eq(store_write_commit(txn), CLM_OK);
	}
	memset(model[1], 0, sizeof(model[1]));
	for (int s = 0; s < 3; s++) {
		check_members(st, ids[s], model[s]);
	}
	uint32_t first;
	bool found;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_members_first_seg(txn, 2, &first, &found), CLM_OK);
	cr_assert(found);
	cr_assert_eq(first, 3);
	store_write_abort(txn);
	store_close(st);
}

struct due_list {
	int64_t at[16];
	char id[16][32];
	size_t n;
};

static int
due_fn(void *arg, int64_t at_ms, const char *id)
{
	struct due_list *d = arg;
	cr_assert_lt(d->n, 16);
	d->at[d->n] = at_ms;
	snprintf(d->id[d->n++], sizeof(d->id[0]), "%s", id);
	return 0;
}

Test(segment_store, time_index)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_due_put(txn, T0 + 5, "b"), CLM_OK);
	cr_assert_eq(store_due_put(txn, T0 + 5, "a"), CLM_OK);
	cr_assert_eq(store_due_put(txn, T0 + 1, "z"), CLM_OK);
	cr_assert_eq(store_due_put(txn, T0 + 9, "c"), CLM_OK);
	cr_assert_eq(store_due_del(txn, T0 + 9, "nobody"), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	struct due_list d = { .n = 0 };
	cr_assert_eq(store_due_each(txn, T0 + 5, 10, due_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 3); /* earliest first, ties by id, not past T0+5 */
	cr_assert_eq(d.at[0], T0 + 1);
	cr_assert_str_eq(d.id[0], "z");
	cr_assert_str_eq(d.id[1], "a");
	cr_assert_str_eq(d.id[2], "b");
	d.n = 0;
	cr_assert_eq(store_due_each(txn, T0 + 100, 2, due_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 2); /* bounded */
	cr_assert_eq(store_due_del(txn, T0 + 1, "z"), CLM_OK);
	d.n = 0;
	cr_assert_eq(store_due_each(txn, T0 + 100, 10, due_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 3);
	cr_assert_str_eq(d.id[2], "c");
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	store_close(st);
}

/* ---------------------------------------------------------------------- */
/* The writer's membership                                                */

struct seg_env {
	store *st;
	struct segw *w;
	struct model_params mp;
	arena a;
	writer_job job;
	Clm__V1__Response resp;
};

static void
env_open(struct seg_env *e)
{
	memset(e, 0, sizeof(*e));
	e->st = wfx_store_open(tmp_path, 256u << 20);
	model_params_default(&e->mp);
	e->w = segw_new(&e->mp);
	cr_assert_not_null(e->w);
	arena_init(&e->a);
}

static void
env_close(struct seg_env *e)
{
	segw_free(e->w);
	arena_fini(&e->a);
	store_close(e->st);
}

/* Defines name as expr (a new id, backfilling as DefineSegment does). */
static uint32_t
env_define(
        struct seg_env *e, const char *name, const char *expr, bool backfill)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(e->st, &txn), CLM_OK);
	Clm__V1__SegmentRecord rec = CLM__V1__SEGMENT_RECORD__INIT;
	rec.name = (char *) name;
	rec.expression = (char *) expr;
	rec.backfilling = backfill;
	rec.backfill_after = "";
	cr_assert_eq(store_segment_new_id(txn, &rec.id), CLM_OK);
	cr_assert_eq(store_segment_put(txn, &rec), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	segw_invalidate(e->w);
	return rec.id;
}

/* Stores customer id with purchases and last_seen, as a Track would. */
static void
env_customer(struct seg_env *e, store_txn *txn, const char *id,
        uint32_t purchases, int64_t last_seen_ms)
{
	struct profile *pr;
	cr_assert_eq(profile_load(txn, id, false, true, &e->a, &pr), CLM_OK);
	pr->p.purchases = purchases;
	pr->p.first_seen_ms = last_seen_ms;
	pr->p.last_seen_ms = last_seen_ms;
	cr_assert_eq(profile_save(txn, pr, &e->a), CLM_OK);
}

/* Saves id with purchases and evaluates it as a write does, at now. */
static void
env_write(struct seg_env *e, const char *id, uint32_t purchases,
        int64_t last_seen_ms, int64_t now)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(e->st, &txn), CLM_OK);
	env_customer(e, txn, id, purchases, last_seen_ms);
	struct profile *pr;
	cr_assert_eq(profile_load(txn, id, false, false, &e->a, &pr), CLM_OK);
	struct writer_batch b = { .txn = txn, .now_ms = now, .segs = e->w };
	bool dirty;
	cr_assert_eq(segw_customer(e->w, &b, &e->job, pr->rec, &pr->p, &e->a,
	                     &dirty),
	        CLM_OK);
	if (dirty) {
		cr_assert_eq(store_customer_put(txn, pr->rec, true), CLM_OK);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

static void
env_job(struct seg_env *e)
{
	arena_reset(&e->a);
	clm__v1__response__init(&e->resp);
	writer_job_init(&e->job, &e->a, &e->resp, NULL, NULL);
}

static uint64_t
env_count(struct seg_env *e, uint32_t id)
{
	store_txn *txn;
	uint64_t n;
	cr_assert_eq(store_write_begin(e->st, &txn), CLM_OK);
	cr_assert_eq(store_member_count(txn, id, &n), CLM_OK);
	store_write_abort(txn);
	return n;
}

/* Runs background steps until none is left; whether any published. */
static size_t
env_steps(struct seg_env *e, int64_t now)
{
	size_t events = 0;
	bool more = true;
	for (int i = 0; more; i++) {
		cr_assert_lt(i, 1000);
		env_job(e);
		store_txn *txn;
		cr_assert_eq(store_write_begin(e->st, &txn), CLM_OK);
		struct writer_batch b
		        = { .txn = txn, .now_ms = now, .segs = e->w };
		bool did;
		cr_assert_eq(
		        segw_step(e->w, &b, &e->job, &more, &did), CLM_OK);
		cr_assert_eq(store_write_commit(txn), CLM_OK);
		events += e->job.n_events;
	}
	return events;
}

Test(segment_store, writes_enter_and_exit_with_events)
{
	struct seg_env e;
	env_open(&e);
	uint32_t id = env_define(&e, "buyers", "purchases >= 2", false);
	env_job(&e);
	env_write(&e, "c1", 1, T0, T0);
	cr_assert_eq(e.job.n_events, 0);
	cr_assert_eq(env_count(&e, id), 0);
	env_job(&e);
	env_write(&e, "c1", 2, T0, T0);
	cr_assert_eq(e.job.n_events, 1);
	cr_assert_eq(e.job.events[0]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED);
	cr_assert_str_eq(e.job.events[0]->segment, "buyers");
	cr_assert_str_eq(e.job.events[0]->customer_id, "c1");
	cr_assert_eq(e.job.events[0]->at_ms, T0);
	cr_assert_eq(env_count(&e, id), 1);
	env_job(&e);
	env_write(&e, "c1", 3, T0, T0); /* still in: nothing */
	cr_assert_eq(e.job.n_events, 0);
	env_job(&e);
	env_write(&e, "c1", 0, T0, T0 + 1);
	cr_assert_eq(e.job.n_events, 1);
	cr_assert_eq(e.job.events[0]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED);
	cr_assert_eq(env_count(&e, id), 0);
	env_close(&e);
}

Test(segment_store, time_index_exit_at_its_instant)
{
	struct seg_env e;
	env_open(&e);
	uint32_t id = env_define(&e, "recent", "since(last_seen) < 1d", false);
	env_job(&e);
	env_write(&e, "c1", 0, T0, T0 + HOUR);
	cr_assert_eq(e.job.n_events, 1);
	cr_assert_eq(env_count(&e, id), 1);
	/* Before the due instant nothing happens. */
	cr_assert_eq(env_steps(&e, T0 + 23 * HOUR), 0);
	cr_assert_eq(env_count(&e, id), 1);
	/* After it, the exit, dated when it happened. */
	env_job(&e);
	store_txn *txn;
	cr_assert_eq(store_write_begin(e.st, &txn), CLM_OK);
	struct writer_batch b
	        = { .txn = txn, .now_ms = T0 + 30 * HOUR, .segs = e.w };
	bool more, did;
	cr_assert_eq(segw_step(e.w, &b, &e.job, &more, &did), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	cr_assert(did);
	cr_assert_eq(e.job.n_events, 1);
	cr_assert_eq(e.job.events[0]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED);
	cr_assert_eq(e.job.events[0]->at_ms, T0 + 24 * HOUR);
	cr_assert_eq(env_count(&e, id), 0);
	cr_assert_eq(env_steps(&e, T0 + 40 * HOUR), 0);
	env_close(&e);
}

Test(segment_store, backfill_in_chunks_is_silent)
{
	struct seg_env e;
	env_open(&e);
	/* 5,000 customers, more than two chunks; every third a buyer. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(e.st, &txn), CLM_OK);
	for (int i = 0; i < 5000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "c%05d", i);
		env_customer(&e, txn, id, i % 3 == 0 ? 2 : 0, T0);
		if (i % 500 == 0) {
			arena_reset(&e.a);
		}
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	uint32_t id = env_define(&e, "buyers", "purchases >= 1", true);
	cr_assert_eq(env_steps(&e, T0 + HOUR), 0);
	cr_assert_eq(env_count(&e, id), 1667);
	arena_reset(&e.a);
	cr_assert_eq(store_write_begin(e.st, &txn), CLM_OK);
	Clm__V1__SegmentRecord *rec;
	cr_assert_eq(store_segment_get(txn, "buyers", &e.a, &rec), CLM_OK);
	cr_assert_not(rec->backfilling);
	cr_assert_eq(rec->backfill_done, 5000);
	store_write_abort(txn);
	/* Redefined: the old id's members are dropped, the new one filled. */
	uint32_t id2 = env_define(&e, "buyers", "purchases >= 100", true);
	cr_assert_eq(store_write_begin(e.st, &txn), CLM_OK);
	cr_assert_eq(store_segment_del(txn, "buyers"), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	segw_invalidate(e.w);
	cr_assert_eq(env_steps(&e, T0 + HOUR), 0);
	cr_assert_eq(env_count(&e, id), 0);
	cr_assert_eq(env_count(&e, id2), 0);
	env_close(&e);
}

Test(segment_store, time_changes_dated_when_they_happen)
{
	struct seg_env e;
	env_open(&e);
	/* In for 1 d < age < 2 d: an entry and an exit a jump passes over. */
	uint32_t id = env_define(&e, "middle",
	        "since(first_seen) > 1d and since(last_seen) < 2d", false);
	env_job(&e);
	env_write(&e, "c1", 0, T0, T0 + HOUR);
	cr_assert_eq(e.job.n_events, 0);
	env_job(&e);
	store_txn *txn;
	cr_assert_eq(store_write_begin(e.st, &txn), CLM_OK);
	struct writer_batch b
	        = { .txn = txn, .now_ms = T0 + 72 * HOUR, .segs = e.w };
	bool more, did;
	cr_assert_eq(segw_step(e.w, &b, &e.job, &more, &did), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	cr_assert_eq(e.job.n_events, 2);
	cr_assert_eq(e.job.events[0]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED);
	cr_assert_eq(e.job.events[0]->at_ms, T0 + 24 * HOUR + 1);
	cr_assert_eq(e.job.events[1]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED);
	cr_assert_eq(e.job.events[1]->at_ms, T0 + 48 * HOUR);
	cr_assert_eq(env_count(&e, id), 0);
	env_close(&e);
}
