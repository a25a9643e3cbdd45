/* The exact onboarding median, kept incrementally (see below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/log.h"

/*
 * The onboarding median.
 *
 * `onboarding` holds one empty value per customer that has onboarded, keyed
 * duration (8, BE) | cid (8, BE), so keys are unique and sorted by
 * duration. meta keeps the count n and the key of the lower median, the
 * element of rank (n - 1) / 2. Adding or removing one element moves that
 * rank by at most one place, so each change costs a cursor step, and meta
 * also keeps twice the median (the sum of the two middle durations, or
 * twice the middle one), an exact integer that readers get in one lookup.
 */
static void
store_onb_key(unsigned char key[16], int64_t dur, uint64_t cid)
{
	store_u64_be(key, (uint64_t) dur);
	store_u64_be(key + 8, cid);
}

/* Moves key to its neighbour (next or previous) in `onboarding`. */
static clm_err
store_onb_step(store_txn *t, unsigned char key[16], bool next)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_ONBOARDING, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k = { 16, key }, v;
	rc = kv_cursor_get(cur, &k, &v, MDB_SET);
	if (rc == 0) {
		rc = kv_cursor_get(cur, &k, &v, next ? MDB_NEXT : MDB_PREV);
	}
	if (rc == 0 && k.mv_size == 16) {
		memcpy(key, k.mv_data, 16);
	}
	kv_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		log_error("onboarding median lost its neighbour");
		return CLM_DATA_LOSS;
	}
	return store_err(t->s, rc, "cannot step onboarding");
}

struct store_onb {
	uint64_t n;
	unsigned char lower[16];
};

static clm_err
store_onb_load(store_txn *t, struct store_onb *o)
{
	uint64_t dur = 0, cid = 0;
	clm_err e = store_meta_get(t, "onb_count", &o->n);
	if (e == CLM_OK) {
		e = store_meta_get(t, "onb_lower_ms", &dur);
	}
	if (e == CLM_OK) {
		e = store_meta_get(t, "onb_lower_cid", &cid);
	}
	store_onb_key(o->lower, (int64_t) dur, cid);
	return e;
}

static clm_err
store_onb_save(store_txn *t, const struct store_onb *o)
{
	uint64_t twice = 0;
	if (o->n > 0) {
		uint64_t low = store_be_u64(o->lower);
		twice = 2 * low;
		if (o->n % 2 == 0) {
			unsigned char up[16];
			memcpy(up, o->lower, 16);
			clm_err e = store_onb_step(t, up, true);
			if (e != CLM_OK) {
				return e;
			}
			twice = low + store_be_u64(up);
		}
	}
	clm_err e = store_meta_put(t, "onb_count", o->n);
	if (e == CLM_OK) {
		e = store_meta_put(t, "onb_lower_ms", store_be_u64(o->lower));
	}
	if (e == CLM_OK) {
		e = store_meta_put(
		        t, "onb_lower_cid", store_be_u64(o->lower + 8));
	}
	if (e == CLM_OK) {
		e = store_meta_put(t, "onb_twice_median_ms", twice);
	}
	return e;
}

static clm_err
store_onb_insert(store_txn *t, struct store_onb *o, const unsigned char k[16])
{
	MDB_val key = { 16, (void *) k }, v = { 0, NULL };
	int rc = kv_put(t, STORE_DB_ONBOARDING, &key, &v, 0);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot write onboarding");
	}
	clm_err e = CLM_OK;
	if (o->n == 0) {
		memcpy(o->lower, k, 16);
	} else if (memcmp(k, o->lower, 16) < 0) {
		if (o->n % 2 == 1) {
			e = store_onb_step(t, o->lower, false);
		}
	} else if (o->n % 2 == 0) {
		e = store_onb_step(t, o->lower, true);
	}
	o->n++;
	return e;
}

static clm_err
store_onb_remove(store_txn *t, struct store_onb *o, const unsigned char k[16])
{
	if (o->n == 0) {
		return CLM_OK;
	}
	clm_err e = CLM_OK;
	int c = memcmp(k, o->lower, 16);
	if (o->n == 1) {
		memset(o->lower, 0, 16);
	} else if (c == 0) {
		e = store_onb_step(t, o->lower, o->n % 2 == 0);
	} else if (c < 0) {
		if (o->n % 2 == 0) {
			e = store_onb_step(t, o->lower, true);
		}
	} else if (o->n % 2 == 1) {
		e = store_onb_step(t, o->lower, false);
	}
	if (e != CLM_OK) {
		return e;
	}
	MDB_val key = { 16, (void *) k };
	int rc = kv_del(t, STORE_DB_ONBOARDING, &key);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot delete onboarding");
	}
	o->n--;
	return CLM_OK;
}

clm_err
store_onboarding_update(store_txn *t, uint64_t cid, const int64_t *old_ms,
        const int64_t *new_ms)
{
	if (old_ms == NULL && new_ms == NULL) {
		return CLM_OK;
	}
	if (old_ms != NULL && new_ms != NULL && *old_ms == *new_ms) {
		return CLM_OK;
	}
	struct store_onb o;
	clm_err e = store_onb_load(t, &o);
	unsigned char k[16];
	if (e == CLM_OK && old_ms != NULL) {
		store_onb_key(k, *old_ms, cid);
		e = store_onb_remove(t, &o, k);
	}
	if (e == CLM_OK && new_ms != NULL) {
		store_onb_key(k, *new_ms, cid);
		e = store_onb_insert(t, &o, k);
	}
	if (e == CLM_OK) {
		e = store_onb_save(t, &o);
	}
	return e;
}

clm_err
store_onboarding_median(store_txn *t, bool *known, int64_t *twice_median_ms)
{
	uint64_t n, twice;
	clm_err e = store_meta_get(t, "onb_count", &n);
	if (e == CLM_OK) {
		e = store_meta_get(t, "onb_twice_median_ms", &twice);
	}
	if (e != CLM_OK) {
		return e;
	}
	*known = n > 0;
	*twice_median_ms = (int64_t) twice;
	return CLM_OK;
}
