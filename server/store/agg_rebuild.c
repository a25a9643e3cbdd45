/*
 * agg_rebuild: recomputes aggregates from the stored profiles, touchpoints
 * and spend, for a data dir whose aggregates are older than this clmd (or
 * were reset). It runs at start, before clmd serves, in transactions of
 * AGG_REBUILD_CHUNK profiles, and marks the aggregates current last, so an
 * interrupted rebuild starts over at the next start.
 *
 * The two parts have their own versions. The customers' contributions can
 * always be recomputed from the profiles. The touchpoints' counters are
 * only recomputed when they are missing or of an older layout: recounting
 * them would lose what forgotten customers' touchpoints added (ForgetCustomer
 * leaves those counts, docs/metrics.md "Late touchpoints, identity,
 * forgetting").
 */
#include "store/agg_rebuild.h"

#include <stdlib.h>
#include <string.h>

#include "store/agg_write.h"
#include "store/profile.h"
#include "util/log.h"

#define AGG_REBUILD_CHUNK 256

struct rebuild_ids {
	arena *a;
	struct agg_visits *visits; /* the chunk's, folded before its commit */
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

struct rebuild_part {
	bool customers, touch;
};

struct rebuild_touch {
	store_txn *txn;
	struct agg_visits *visits;
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
	t->err = agg_write_touch(t->txn, t->visits, tp, at_ms, t->id, t->anon);
	return t->err != CLM_OK;
}

/* One customer: its touchpoints' counters, then its own contributions. */
static clm_err
rebuild_one(store_txn *txn, struct agg_visits *visits, const char *id,
        bool anon, const struct rebuild_part *part, arena *a)
{
	struct profile *pr;
	clm_err e = profile_load(txn, id, anon, false, a, &pr);
	if (e != CLM_OK) {
		return e;
	}
	/* The customers' part of `agg` is empty now. */
	profile_aggregates_reset(pr);
	struct rebuild_touch t = { txn, visits, id, anon, CLM_OK };
	if (part->touch) {
		e = store_touchpoints_scan(txn, pr->rec->cid, -1, INT64_MAX,
		        rebuild_touch_fn, &t);
		if (e == CLM_OK) {
			e = t.err;
		}
	}
	if (e != CLM_OK || !part->customers) {
		return e;
	}
	e = profile_replay(txn, pr, a);
	return e != CLM_OK ? e : profile_save(txn, pr, a);
}

/* One chunk after `after`: *done when no profile was left. */
static int
rebuild_spend_fn(void *arg, int channel, uint32_t day, int64_t micros)
{
	struct rebuild_touch *t = arg;
	unsigned char key[6];
	key[0] = AGG_SPEND;
	key[1] = (unsigned char) channel;
	agg_put_u32(key + 2, day);
	t->err = store_agg_add(t->txn, key, sizeof(key), &micros, 1);
	return t->err != CLM_OK;
}

/* After the last profile: spend totals, then the versions. */
static clm_err
rebuild_finish(store_txn *txn, const struct rebuild_part *part)
{
	clm_err e = CLM_OK;
	if (part->touch) {
		struct rebuild_touch t = { txn, NULL, NULL, false, CLM_OK };
		e = store_spend_each(txn, rebuild_spend_fn, &t);
		if (e == CLM_OK) {
			e = t.err;
		}
		if (e == CLM_OK) {
			e = store_agg_set_version(
			        txn, true, AGG_TOUCH_VERSION);
		}
	}
	if (e == CLM_OK && part->customers) {
		e = store_agg_set_version(txn, false, AGG_VERSION);
	}
	return e;
}

static clm_err
rebuild_chunk(store *s, const struct rebuild_part *part,
        struct rebuild_ids *ids, char **after, bool *after_anon, size_t *count,
        bool *done)
{
	store_txn *txn;
	clm_err e = store_write_begin(s, &txn);
	if (e != CLM_OK) {
		return e;
	}
	arena_reset(ids->a);
	agg_visits_clear(ids->visits); /* left by a failed attempt */
	ids->n = 0;
	e = store_customers_after(txn, *after, *after_anon, AGG_REBUILD_CHUNK,
	        rebuild_id_fn, ids);
	for (size_t i = 0; i < ids->n && e == CLM_OK; i++) {
		e = rebuild_one(txn, ids->visits, ids->id[i], ids->anon[i],
		        part, ids->a);
	}
	*done = ids->n == 0;
	if (e == CLM_OK && *done) {
		e = rebuild_finish(txn, part);
	}
	if (e == CLM_OK) {
		e = agg_visits_fold(txn, ids->visits);
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
	/* Allocated first: nothing may fail between the reset and the work. */
	struct agg_visits *visits = agg_visits_new();
	if (visits == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	store_txn *txn;
	clm_err e = store_write_begin(s, &txn);
	if (e != CLM_OK) {
		agg_visits_free(visits);
		return e;
	}
	uint64_t vc, vt;
	e = store_agg_version(txn, false, &vc);
	if (e == CLM_OK) {
		e = store_agg_version(txn, true, &vt);
	}
	struct rebuild_part part = { force || vc != AGG_VERSION,
		force || vt != AGG_TOUCH_VERSION };
	if (e == CLM_OK && part.customers) {
		e = store_agg_reset(txn, 1, AGG_TOUCH, false);
	}
	if (e == CLM_OK && part.touch) {
		e = store_agg_reset(txn, AGG_TOUCH, 255, true);
	}
	if (e != CLM_OK || (!part.customers && !part.touch)) {
		store_write_abort(txn);
		agg_visits_free(visits);
		return e;
	}
	if ((e = store_write_commit(txn)) != CLM_OK) {
		agg_visits_free(visits);
		return e;
	}
	arena a;
	arena_init(&a);
	struct rebuild_ids ids = { .a = &a, .visits = visits };
	char *after = NULL;
	bool after_anon = false, done = false;
	while (!done) {
		e = rebuild_chunk(
		        s, &part, &ids, &after, &after_anon, customers, &done);
		if (e == CLM_RESOURCE_EXHAUSTED && store_map_full(s)) {
			e = store_grow(s);
		}
		if (e != CLM_OK) {
			break;
		}
	}
	free(after);
	agg_visits_free(ids.visits);
	arena_fini(&a);
	return e;
}
