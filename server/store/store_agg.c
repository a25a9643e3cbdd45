/* Aggregates, spend and experiment definitions in LMDB. */
#include <stdlib.h>
#include <string.h>

#include "core/agg.h"

#include "store/store_internal.h"
#include "util/log.h"

#define STORE_AGG_MAX 64 /* counters in one value */

void
store_agg_counters(const void *val, size_t vlen, int64_t *out, size_t n)
{
	size_t have = vlen / sizeof(int64_t);
	/* LMDB values are only 2-byte aligned: copy, never cast. */
	memcpy(out, val, (have < n ? have : n) * sizeof(int64_t));
	for (size_t i = have; i < n; i++) {
		out[i] = 0;
	}
}

clm_err
store_agg_get(
        store_txn *t, const void *key, size_t klen, int64_t *out, size_t n)
{
	clm_err fe = store_agg_flush(t);
	if (fe != CLM_OK) {
		return fe;
	}
	MDB_val k = { klen, (void *) key }, v;
	int rc = kv_get(t, STORE_DB_AGG, &k, &v);
	if (rc == MDB_NOTFOUND) {
		memset(out, 0, n * sizeof(*out));
		return CLM_OK;
	}
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read aggregate");
	}
	store_agg_counters(v.mv_data, v.mv_size, out, n);
	return CLM_OK;
}

/*
 * A write transaction's aggregate deltas, summed by key in memory and
 * written at store_agg_flush: a batch of touchpoints adds to the same few
 * TOUCH and lifecycle keys again and again, and each store_agg_add on
 * LMDB is a lookup in both levels and a put (issue 14: aggregate deltas
 * summed per batch). Open addressing over AGG_PEND_SLOTS slots; past
 * AGG_PEND_FILL keys the table is written out early. The final state is
 * that of adding each delta in turn: a key whose counters sum to zero is
 * deleted either way, and one whose deltas cancel is left as it was.
 */
#define AGG_PEND_SLOTS 1024 /* a power of two */
#define AGG_PEND_FILL  768

struct agg_pend_slot {
	uint8_t klen; /* 0: free */
	uint8_t n;    /* counters in d */
	unsigned char key[AGG_KEY_MAX];
	int64_t d[STORE_AGG_MAX];
};

struct store_agg_pend {
	struct agg_pend_slot slot[AGG_PEND_SLOTS];
	uint16_t used[AGG_PEND_FILL]; /* slots in use, in order of use */
	size_t n_used;
};

static clm_err store_agg_apply(store_txn *t, const void *key, size_t klen,
        const int64_t *delta, size_t n);

void
store_agg_pend_clear(store *s)
{
	struct store_agg_pend *p = s->agg_pend;
	if (p == NULL) {
		return;
	}
	for (size_t i = 0; i < p->n_used; i++) {
		p->slot[p->used[i]].klen = 0;
	}
	p->n_used = 0;
}

void
store_agg_pend_free(store *s)
{
	free(s->agg_pend);
	s->agg_pend = NULL;
}

clm_err
store_agg_flush(store_txn *t)
{
	/* Only the writer's transaction has a table (readers share s). */
	struct store_agg_pend *p = t->write ? t->s->agg_pend : NULL;
	if (p == NULL || p->n_used == 0) {
		return CLM_OK;
	}
	clm_err e = CLM_OK;
	for (size_t i = 0; i < p->n_used && e == CLM_OK; i++) {
		struct agg_pend_slot *sl = &p->slot[p->used[i]];
		size_t n = sl->n;
		while (n > 0 && sl->d[n - 1] == 0) {
			n--;
		}
		if (n > 0) {
			e = store_agg_apply(t, sl->key, sl->klen, sl->d, n);
		}
	}
	/* On failure the transaction is aborted: nothing is left to add. */
	store_agg_pend_clear(t->s);
	return e;
}

static uint32_t
store_agg_hash(const unsigned char *key, size_t klen)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < klen; i++) {
		h = (h ^ key[i]) * 16777619u;
	}
	return h;
}

/* Adds to the pending table; CLM_NOT_FOUND when it has no room for it. */
static clm_err
store_agg_pend_add(store_txn *t, const void *key, size_t klen,
        const int64_t *delta, size_t n)
{
	struct store_agg_pend *p = t->s->agg_pend;
	if (p == NULL) {
		p = t->s->agg_pend = calloc(1, sizeof(*p));
		if (p == NULL) {
			return CLM_NOT_FOUND;
		}
	}
	if (klen == 0 || klen > AGG_KEY_MAX) {
		return CLM_NOT_FOUND;
	}
	uint32_t at = store_agg_hash(key, klen) & (AGG_PEND_SLOTS - 1);
	struct agg_pend_slot *sl;
	for (;; at = (at + 1) & (AGG_PEND_SLOTS - 1)) {
		sl = &p->slot[at];
		if (sl->klen == 0) {
			if (p->n_used == AGG_PEND_FILL) {
				return CLM_NOT_FOUND;
			}
			sl->klen = (uint8_t) klen;
			sl->n = 0;
			memcpy(sl->key, key, klen);
			p->used[p->n_used++] = (uint16_t) at;
			break;
		}
		if (sl->klen == klen && memcmp(sl->key, key, klen) == 0) {
			break;
		}
	}
	for (size_t i = sl->n; i < n; i++) {
		sl->d[i] = 0;
	}
	if (n > sl->n) {
		sl->n = (uint8_t) n;
	}
	for (size_t i = 0; i < n; i++) {
		sl->d[i] += delta[i];
	}
	return CLM_OK;
}

clm_err
store_agg_add(store_txn *t, const void *key, size_t klen, const int64_t *delta,
        size_t n)
{
	if (n > STORE_AGG_MAX) {
		return CLM_INTERNAL;
	}
	if (!t->write) {
		return store_agg_apply(t, key, klen, delta, n);
	}
	clm_err e = store_agg_pend_add(t, key, klen, delta, n);
	if (e != CLM_NOT_FOUND) {
		return e;
	}
	/* The table is full (or could not be had): write it out first. */
	e = store_agg_flush(t);
	if (e == CLM_OK) {
		e = store_agg_pend_add(t, key, klen, delta, n);
	}
	return e != CLM_NOT_FOUND ? e
	                          : store_agg_apply(t, key, klen, delta, n);
}

/* Adds delta[0..n) to key's counters in LMDB (both levels). */
static clm_err
store_agg_apply(store_txn *t, const void *key, size_t klen,
        const int64_t *delta, size_t n)
{
	MDB_val k = { klen, (void *) key }, v;
	int64_t cur[STORE_AGG_MAX];
	size_t have = 0;
	int rc = kv_get(t, STORE_DB_AGG, &k, &v);
	if (rc == 0) {
		have = v.mv_size / sizeof(int64_t);
		if (have > STORE_AGG_MAX) {
			log_error("aggregate value of %zu bytes", v.mv_size);
			return CLM_DATA_LOSS;
		}
		store_agg_counters(v.mv_data, v.mv_size, cur, have);
	} else if (rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot read aggregate");
	}
	size_t len = have > n ? have : n;
	bool zero = true;
	for (size_t i = 0; i < len; i++) {
		int64_t c = i < have ? cur[i] : 0;
		cur[i] = c + (i < n ? delta[i] : 0);
		zero = zero && cur[i] == 0;
	}
	if (zero) {
		if (have == 0) {
			return CLM_OK;
		}
		rc = kv_del(t, STORE_DB_AGG, &k);
		return store_err(t->s, rc, "cannot write aggregate");
	}
	/* Trailing zeros need no room: a missing counter reads as 0. */
	while (len > 0 && cur[len - 1] == 0) {
		len--;
	}
	v.mv_size = len * sizeof(int64_t);
	v.mv_data = cur;
	rc = kv_put(t, STORE_DB_AGG, &k, &v, 0);
	return store_err(t->s, rc, "cannot write aggregate");
}

clm_err
store_agg_scan(store_txn *t, const void *from, size_t flen, const void *to,
        size_t tlen, store_agg_fn fn, void *arg)
{
	clm_err fe = store_agg_flush(t);
	if (fe != CLM_OK) {
		return fe;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_AGG, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k = { flen, (void *) from }, v;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		size_t m = k.mv_size < tlen ? k.mv_size : tlen;
		int c = memcmp(k.mv_data, to, m);
		if (c > 0 || (c == 0 && k.mv_size >= tlen)) {
			break; /* at or past `to` */
		}
		if (fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan aggregates");
	}
	return CLM_OK;
}

clm_err
store_agg_blob_get(store_txn *t, const void *key, size_t klen,
        const void **val, size_t *vlen)
{
	clm_err fe = store_agg_flush(t);
	if (fe != CLM_OK) {
		return fe;
	}
	MDB_val k = { klen, (void *) key }, v;
	int rc = kv_get(t, STORE_DB_AGG, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read sketch");
	}
	*val = v.mv_data;
	*vlen = v.mv_size;
	return CLM_OK;
}

clm_err
store_agg_blob_put(store_txn *t, const void *key, size_t klen, const void *val,
        size_t vlen)
{
	clm_err fe = store_agg_flush(t);
	if (fe != CLM_OK) {
		return fe;
	}
	MDB_val k = { klen, (void *) key }, v = { vlen, (void *) val };
	int rc = kv_put(t, STORE_DB_AGG, &k, &v, 0);
	return store_err(t->s, rc, "cannot write sketch");
}

clm_err
store_spend_set(store_txn *t, int channel, uint32_t day, const char *campaign,
        int64_t micros, int64_t *old)
{
	unsigned char key[STORE_KEY_MAX];
	size_t n = strlen(campaign);
	if (n > STORE_KEY_MAX - 5) {
		n = STORE_KEY_MAX - 5; /* validation keeps campaigns short */
	}
	key[0] = (unsigned char) channel;
	key[1] = (unsigned char) (day >> 24);
	key[2] = (unsigned char) (day >> 16);
	key[3] = (unsigned char) (day >> 8);
	key[4] = (unsigned char) day;
	memcpy(key + 5, campaign, n);
	MDB_val k = { 5 + n, key }, v;
	*old = 0;
	int rc = kv_get(t, STORE_DB_SPEND, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(int64_t)) {
		memcpy(old, v.mv_data, sizeof(*old));
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot read spend");
	}
	v.mv_size = sizeof(micros);
	v.mv_data = &micros;
	rc = kv_put(t, STORE_DB_SPEND, &k, &v, 0);
	return store_err(t->s, rc, "cannot write spend");
}

clm_err
store_experiment_get(store_txn *t, const char *id, arena *a,
        Clm__V1__ExperimentRecord **out)
{
	void *m;
	clm_err e = store_get_msg(t, STORE_DB_EXPERIMENTS, id,
	        &clm__v1__experiment_record__descriptor, a, "experiment", &m);
	if (e == CLM_OK) {
		*out = m;
	}
	return e;
}

clm_err
store_experiment_put(store_txn *t, const Clm__V1__ExperimentRecord *rec)
{
	MDB_val k = { strlen(rec->experiment_id), rec->experiment_id };
	return store_put_msg(t, STORE_DB_EXPERIMENTS, &k,
	        (const ProtobufCMessage *) rec, "cannot write experiment");
}

struct store_each_experiment {
	store_experiment_fn fn;
	void *arg;
};

static int
store_each_experiment_fn(void *arg, void *msg)
{
	struct store_each_experiment *x = arg;
	return x->fn(x->arg, msg);
}

clm_err
store_experiments_each(
        store_txn *t, arena *a, store_experiment_fn fn, void *arg)
{
	struct store_each_experiment x = { fn, arg };
	return store_each_msg(t, STORE_DB_EXPERIMENTS,
	        &clm__v1__experiment_record__descriptor, a, "experiment",
	        store_each_experiment_fn, &x);
}

/* The two parts of the aggregates, each with its version in `meta`. */
static const char *
store_agg_meta(bool touch)
{
	return touch ? "agg_touch_version" : "agg_version";
}

clm_err
store_agg_version(store_txn *t, bool touch, uint64_t *v)
{
	return store_meta_get(t, store_agg_meta(touch), v);
}

clm_err
store_agg_set_version(store_txn *t, bool touch, uint64_t v)
{
	return store_meta_put(t, store_agg_meta(touch), v);
}

clm_err
store_agg_reset(store_txn *t, unsigned char lo, unsigned char hi, bool touch)
{
	clm_err fe = store_agg_flush(t);
	if (fe != CLM_OK) {
		return fe;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_AGG, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	/* Seek afresh after each delete: never step a cursor past one. */
	for (;;) {
		MDB_val k = { 1, &lo }, v;
		rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || ((const unsigned char *) k.mv_data)[0] >= hi) {
			break;
		}
		rc = kv_cursor_del(cur);
		if (rc != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot clear the aggregates");
	}
	return store_agg_set_version(t, touch, 0);
}

clm_err
store_spend_each(store_txn *t, store_spend_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_SPEND, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = k.mv_data;
		int64_t micros;
		if (k.mv_size < 5 || v.mv_size != sizeof(micros)) {
			continue;
		}
		memcpy(&micros, v.mv_data, sizeof(micros));
		uint32_t day = (uint32_t) p[1] << 24 | (uint32_t) p[2] << 16
		        | (uint32_t) p[3] << 8 | p[4];
		if (fn(arg, p[0], day, micros) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan spend");
	}
	return CLM_OK;
}

clm_err
store_customers_after(store_txn *t, const char *after, bool after_anon,
        size_t max, store_id_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_CUSTOMERS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	/* Keys: the id, or 0x01 and the anonymous id (see store.h). */
	unsigned char key[STORE_KEY_MAX + 1];
	size_t n = 0;
	if (after != NULL) {
		if (after_anon) {
			key[n++] = 0x01;
		}
		size_t len = strlen(after);
		if (len > STORE_KEY_MAX - n) {
			kv_cursor_close(cur);
			return CLM_INVALID_ARGUMENT; /* no key is that long */
		}
		memcpy(key + n, after, len);
		n += len;
	}
	MDB_val k = { n, key }, v;
	rc = kv_cursor_get(cur, &k, &v, after ? MDB_SET_RANGE : MDB_FIRST);
	size_t seen = 0;
	char id[STORE_KEY_MAX + 1];
	for (; rc == 0 && seen < max;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (after != NULL && k.mv_size == n
		        && memcmp(k.mv_data, key, n) == 0) {
			continue; /* `after` itself */
		}
		const unsigned char *p = k.mv_data;
		bool anon = k.mv_size > 0 && p[0] == 0x01;
		size_t len = k.mv_size - anon;
		memcpy(id, p + anon, len);
		id[len] = '\0';
		seen++;
		if (fn(arg, id, anon) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan customers");
	}
	return CLM_OK;
}
