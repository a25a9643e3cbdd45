/*
 * agg_rebuild: recomputes every aggregate from the stored profiles and
 * touchpoints, for a data dir whose aggregates are older than this clmd
 * (or were reset). It runs at start, before clmd serves, in transactions
 * of AGG_REBUILD_CHUNK profiles, and marks the aggregates current last, so
 * an interrupted rebuild starts over at the next start.
 */
#include "agg_rebuild.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "profile.h"

#define AGG_REBUILD_CHUNK 256

struct rebuild_ids {
	arena *a;
	char *id[AGG_REBUILD_CHUNK];
	bool anon[AGG_REBUILD_CHUNK];
	size_t n;
};

static int
rebuild_id_fn(void *arg, const char *id, bool anonymous)
{
	struct rebuild_ids *r = arg;
	r->id[r->n] = arena_strdup(r->a, id);
	r->anon[r->n] = anonymous;
	return r->id[r->n++] == NULL;
}

struct rebuild_touch {
	store_txn *txn;
	const char *id;
	bool anon;
	clm_err err;
};

static int
rebuild_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) seq;
	struct rebuild_touch *t = arg;
	t->err = agg_touch(t->txn, tp, at_ms, t->id, t->anon);
	return t->err != CLM_OK;
}

/* One customer: its touchpoints' counters, then its own contributions. */
static clm_err
rebuild_one(store_txn *txn, const char *id, bool anon, arena *a)
{
	struct profile *pr;
	clm_err e = profile_load(txn, id, anon, false, a, &pr);
	if (e != CLM_OK) {
		return e;
	}
	pr->old_agg = (struct agg_list) { NULL, 0, 0 }; /* `agg` is empty */
	e = profile_replay(txn, pr, a);
	struct rebuild_touch t = { txn, id, anon, CLM_OK };
	if (e == CLM_OK) {
		e = store_touchpoints_scan(txn, pr->rec->cid, -1, INT64_MAX,
		        rebuild_touch_fn, &t);
	}
	if (e == CLM_OK) {
		e = t.err;
	}
	return e != CLM_OK ? e : profile_save(txn, pr, a);
}

/* One chunk after `after`: *done when no profile was left. */
static clm_err
rebuild_chunk(store *s, struct rebuild_ids *ids, char **after,
        bool *after_anon, size_t *count, bool *done)
{
	store_txn *txn;
	clm_err e = store_write_begin(s, &txn);
	if (e != CLM_OK) {
		return e;
	}
	arena_reset(ids->a);
	ids->n = 0;
	e = store_customers_after(txn, *after, *after_anon, AGG_REBUILD_CHUNK,
	        rebuild_id_fn, ids);
	for (size_t i = 0; i < ids->n && e == CLM_OK; i++) {
		e = rebuild_one(txn, ids->id[i], ids->anon[i], ids->a);
	}
	*done = ids->n == 0;
	if (e == CLM_OK && *done) {
		e = store_agg_set_version(txn, AGG_VERSION);
	}
	if (e != CLM_OK) {
		store_write_abort(txn);
		return e;
	}
	e = store_write_commit(txn);
	if (e == CLM_OK && ids->n > 0) {
		free(*after);
		*after = strdup(ids->id[ids->n - 1]);
		*after_anon = ids->anon[ids->n - 1];
		*count += ids->n;
		if (*after == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	return e;
}

clm_err
agg_rebuild(store *s, bool force, size_t *customers)
{
	*customers = 0;
	store_txn *txn;
	clm_err e = store_write_begin(s, &txn);
	if (e != CLM_OK) {
		return e;
	}
	uint64_t v;
	e = store_agg_version(txn, &v);
	if (e != CLM_OK || (v == AGG_VERSION && !force)) {
		store_write_abort(txn);
		return e;
	}
	e = store_agg_reset(txn);
	if (e != CLM_OK) {
		store_write_abort(txn);
		return e;
	}
	if ((e = store_write_commit(txn)) != CLM_OK) {
		return e;
	}
	arena a;
	arena_init(&a);
	struct rebuild_ids ids = { .a = &a };
	char *after = NULL;
	bool after_anon = false, done = false;
	while (!done) {
		e = rebuild_chunk(
		        s, &ids, &after, &after_anon, customers, &done);
		if (e == CLM_RESOURCE_EXHAUSTED && store_map_full(s)) {
			e = store_grow(s);
		}
		if (e != CLM_OK) {
			break;
		}
	}
	free(after);
	arena_fini(&a);
	return e;
}
