/*
 * The layered key-value access of every table (store_internal.h, "kv_*").
 *
 * Under an overlay (store_overlay.c) a value in the overlay is one flag
 * byte followed by the table's own bytes: 1 = a value, 0 = a tombstone,
 * which hides the base's value of that key until the checkpoint deletes
 * it there. Reads look in the active overlay (t->otxn), then in the
 * frozen one that a checkpoint is moving into the base (t->ftxn, while
 * there is one), then in the base; writes go to the active overlay.
 * Without an overlay every call is the plain LMDB one on t->txn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define KV_VALUE     1
#define KV_TOMBSTONE 0

/* An overlay's counter keys (in its dbi[STORE_N_DBS]). */
static const char kv_count_customers[] = "customers";
static const char kv_count_touchpoints[] = "touchpoints";
/* The base's checkpoint count the deltas are relative to. */
static const char kv_count_checkpoints[] = "base_checkpoints";

/* Whether a put or delete in db changes what store_stats counts. */
static int64_t *
kv_delta(store_txn *t, enum store_db db)
{
	if (db == STORE_DB_CUSTOMERS) {
		return &t->delta_customers;
	}
	if (db == STORE_DB_TOUCHPOINTS) {
		return &t->delta_touchpoints;
	}
	return NULL;
}

/* Reads an overlay value: 0 with *v its bytes, MDB_NOTFOUND for a
 * tombstone, or -1 when the overlay does not hold the key. */
static int
kv_overlay_get(MDB_txn *otxn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
	int rc = mdb_get(otxn, dbi, k, v);
	if (rc == MDB_NOTFOUND) {
		return -1;
	}
	if (rc != 0) {
		return rc;
	}
	const unsigned char *p = v->mv_data;
	if (v->mv_size == 0 || p[0] != KV_VALUE) {
		return MDB_NOTFOUND;
	}
	v->mv_data = (void *) (p + 1);
	v->mv_size--;
	return 0;
}

int
kv_get(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v)
{
	if (t->otxn != NULL) {
		int rc = kv_overlay_get(t->otxn, t->odbi[db], k, v);
		if (rc != -1) {
			return rc;
		}
	}
	if (t->ftxn != NULL) {
		int rc = kv_overlay_get(t->ftxn, t->fdbi[db], k, v);
		if (rc != -1) {
			return rc;
		}
	}
	return mdb_get(t->txn, t->s->dbi[db], k, v);
}

/* Notes an overlay map that filled up (the writer then checkpoints). */
static int
kv_overlay_rc(store_txn *t, int rc)
{
	if (rc == MDB_MAP_FULL) {
		t->s->overlay_full = true;
	}
	return rc;
}

int
kv_put(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v, unsigned flags)
{
	return kv_put_known(t, db, k, v, flags, KV_MAYBE);
}

int
kv_put_known(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v,
        unsigned flags, enum kv_known known)
{
	if (t->otxn == NULL) {
		if (known == KV_NEW) {
			flags |= MDB_NOOVERWRITE;
		}
		return mdb_put(t->txn, t->s->dbi[db], k, v, flags);
	}
	int64_t *delta = kv_delta(t, db);
	unsigned oflags = MDB_RESERVE;
	bool counted = false; /* a new key: *delta went up for it */
	if (delta != NULL && known == KV_NEW) {
		/*
		 * The caller knows the key is in no level: no lookup to
		 * count it. The overlay still refuses to overwrite one, so a
		 * caller that was wrong gets MDB_KEYEXIST, not a wrong count.
		 */
		counted = true;
		oflags |= MDB_NOOVERWRITE;
	} else if (delta != NULL && known == KV_MAYBE) {
		MDB_val old;
		int rc = kv_get(t, db, k, &old);
		if (rc == MDB_NOTFOUND) {
			counted = true;
		} else if (rc != 0) {
			return rc;
		}
	}
	MDB_val ov = { v->mv_size + 1, NULL };
	int rc = mdb_put(t->otxn, t->odbi[db], k, &ov, oflags);
	if (rc != 0) {
		return kv_overlay_rc(t, rc);
	}
	if (counted) {
		(*delta)++;
	}
	unsigned char *p = ov.mv_data;
	p[0] = KV_VALUE;
	if (flags & MDB_RESERVE) {
		v->mv_data = p + 1;
	} else if (v->mv_size > 0) {
		memcpy(p + 1, v->mv_data, v->mv_size);
	}
	return 0;
}

int
kv_del(store_txn *t, enum store_db db, MDB_val *k)
{
	if (t->otxn == NULL) {
		return mdb_del(t->txn, t->s->dbi[db], k, NULL);
	}
	MDB_val old;
	int rc = kv_get(t, db, k, &old);
	if (rc != 0) {
		return rc;
	}
	unsigned char tomb = KV_TOMBSTONE;
	MDB_val tv = { 1, &tomb };
	rc = mdb_put(t->otxn, t->odbi[db], k, &tv, 0);
	if (rc != 0) {
		return kv_overlay_rc(t, rc);
	}
	int64_t *delta = kv_delta(t, db);
	if (delta != NULL) {
		(*delta)--;
	}
	return 0;
}

/*
 * The merged cursor over the levels (src[0] the active overlay, then the
 * frozen one, then the base: an earlier level wins a tie). Moving forward,
 * every level's cursor stands at its first key at or after the current
 * one (or is exhausted) and the current key is the smallest of them; a
 * tombstone is stepped over. MDB_PREV positions them all afresh below the
 * current key. In a write transaction the active overlay may change under
 * the cursor (a kv_cursor_del, a put by the caller), so the positions are
 * sought again from the current key rather than stepped.
 */
enum { KV_LEVELS = 3 };

struct kv_src {
	MDB_cursor *cur;
	bool overlay; /* values carry the flag byte */
	int rc;       /* 0: positioned; else exhausted or an error */
	MDB_val k, v;
};

struct kv_cursor {
	store_txn *t;
	enum store_db db;
	struct kv_src src[KV_LEVELS];
	int n;        /* levels; 1: no overlay, src[0] is the base */
	bool valid;   /* at a key */
	bool forward; /* the invariant above holds */
	unsigned char key[STORE_KEY_MAX];
	size_t klen;
};

int
kv_cursor_open(store_txn *t, enum store_db db, kv_cursor **out)
{
	kv_cursor *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return ENOMEM;
	}
	c->t = t;
	c->db = db;
	struct {
		MDB_txn *txn;
		MDB_dbi dbi;
		bool overlay;
	} lv[KV_LEVELS];
	int n = 0;
	if (t->otxn != NULL) {
		lv[n++] = (__typeof__(lv[0])) { t->otxn, t->odbi[db], true };
	}
	if (t->ftxn != NULL) {
		lv[n++] = (__typeof__(lv[0])) { t->ftxn, t->fdbi[db], true };
	}
	lv[n++] = (__typeof__(lv[0])) { t->txn, t->s->dbi[db], false };
	int rc = 0;
	for (; c->n < n; c->n++) {
		rc = mdb_cursor_open(
		        lv[c->n].txn, lv[c->n].dbi, &c->src[c->n].cur);
		if (rc != 0) {
			break;
		}
		c->src[c->n].overlay = lv[c->n].overlay;
	}
	if (rc != 0) {
		kv_cursor_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
kv_cursor_close(kv_cursor *c)
{
	if (c == NULL) {
		return;
	}
	for (int i = 0; i < c->n; i++) {
		mdb_cursor_close(c->src[i].cur);
	}
	free(c);
}

/* Positions one cursor at its first key > or >= key (NULL: the first). */
static int
kv_seek_one(MDB_cursor *cur, const unsigned char *key, size_t klen,
        bool strict, MDB_val *k, MDB_val *v)
{
	if (key == NULL) {
		return mdb_cursor_get(cur, k, v, MDB_FIRST);
	}
	k->mv_size = klen;
	k->mv_data = (void *) key;
	int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0 && strict && k->mv_size == klen
	        && memcmp(k->mv_data, key, klen) == 0) {
		rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
	}
	return rc;
}

/* Positions one cursor at its last key < key. */
static int
kv_seek_back_one(MDB_cursor *cur, const unsigned char *key, size_t klen,
        MDB_val *k, MDB_val *v)
{
	k->mv_size = klen;
	k->mv_data = (void *) key;
	int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0) {
		return mdb_cursor_get(cur, k, v, MDB_PREV);
	}
	if (rc == MDB_NOTFOUND) {
		return mdb_cursor_get(cur, k, v, MDB_LAST);
	}
	return rc;
}

/*
 * Makes the smallest (forward) or largest key of the positioned levels
 * current, the earliest level's on a tie. Returns 0, 1 when it is a
 * tombstone (the caller moves on), MDB_NOTFOUND when all are exhausted,
 * or an error.
 */
static int
kv_pick(kv_cursor *c, bool forward, MDB_val *k, MDB_val *v)
{
	int best = -1;
	for (int i = 0; i < c->n; i++) {
		if (c->src[i].rc != 0 && c->src[i].rc != MDB_NOTFOUND) {
			return c->src[i].rc;
		}
	}
	c->valid = false;
	MDB_txn *txn = c->t->txn;
	MDB_dbi dbi = c->t->s->dbi[c->db];
	for (int i = 0; i < c->n; i++) {
		if (c->src[i].rc != 0) {
			continue;
		}
		if (best < 0) {
			best = i;
			continue;
		}
		int cmp = mdb_cmp(txn, dbi, &c->src[i].k, &c->src[best].k);
		if (forward ? cmp < 0 : cmp > 0) {
			best = i;
		}
	}
	if (best < 0) {
		return MDB_NOTFOUND;
	}
	struct kv_src *b = &c->src[best];
	if (b->k.mv_size > sizeof(c->key)) {
		return MDB_BAD_VALSIZE;
	}
	memcpy(c->key, b->k.mv_data, b->k.mv_size);
	c->klen = b->k.mv_size;
	c->valid = true;
	if (b->overlay) {
		const unsigned char *p = b->v.mv_data;
		if (b->v.mv_size == 0 || p[0] != KV_VALUE) {
			return 1;
		}
		v->mv_data = (void *) (p + 1);
		v->mv_size = b->v.mv_size - 1;
	} else {
		*v = b->v;
	}
	*k = b->k;
	return 0;
}

/* Moves to the first live key > or >= key (NULL: the first). */
static int
kv_seek(kv_cursor *c, const unsigned char *key, size_t klen, bool strict,
        MDB_val *k, MDB_val *v)
{
	unsigned char from[STORE_KEY_MAX];
	if (key != NULL) {
		memcpy(from, key, klen); /* key may be c->key */
	}
	for (;;) {
		const unsigned char *f = key != NULL ? from : NULL;
		for (int i = 0; i < c->n; i++) {
			struct kv_src *sr = &c->src[i];
			sr->rc = kv_seek_one(
			        sr->cur, f, klen, strict, &sr->k, &sr->v);
		}
		c->forward = true;
		int rc = kv_pick(c, true, k, v);
		if (rc != 1) {
			return rc;
		}
		memcpy(from, c->key, c->klen); /* past the tombstone */
		klen = c->klen;
		key = from;
		strict = true;
	}
}

/* Moves to the last live key < the current one. */
static int
kv_seek_back(kv_cursor *c, MDB_val *k, MDB_val *v)
{
	unsigned char from[STORE_KEY_MAX];
	size_t klen = c->klen;
	memcpy(from, c->key, klen);
	for (;;) {
		for (int i = 0; i < c->n; i++) {
			struct kv_src *sr = &c->src[i];
			sr->rc = kv_seek_back_one(
			        sr->cur, from, klen, &sr->k, &sr->v);
		}
		c->forward = false;
		int rc = kv_pick(c, false, k, v);
		if (rc != 1) {
			return rc;
		}
		memcpy(from, c->key, c->klen);
		klen = c->klen;
	}
}

/* Steps forward from a valid current key, keeping the invariant. */
static int
kv_next(kv_cursor *c, MDB_val *k, MDB_val *v)
{
	if (!c->forward || c->t->write) {
		return kv_seek(c, c->key, c->klen, true, k, v);
	}
	for (;;) {
		MDB_val cur = { c->klen, c->key };
		MDB_dbi dbi = c->t->s->dbi[c->db];
		for (int i = 0; i < c->n; i++) {
			struct kv_src *sr = &c->src[i];
			if (sr->rc == 0
			        && mdb_cmp(c->t->txn, dbi, &sr->k, &cur)
			                == 0) {
				sr->rc = mdb_cursor_get(
				        sr->cur, &sr->k, &sr->v, MDB_NEXT);
			}
		}
		int rc = kv_pick(c, true, k, v);
		if (rc != 1) {
			return rc;
		}
	}
}

int
kv_cursor_get(kv_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	if (c->n == 1) {
		return mdb_cursor_get(c->src[0].cur, k, v, op);
	}
	int rc;
	switch (op) {
	case MDB_FIRST:
		return kv_seek(c, NULL, 0, false, k, v);
	case MDB_SET_RANGE:
	case MDB_SET:
		if (k->mv_size > STORE_KEY_MAX) {
			return MDB_BAD_VALSIZE;
		}
		unsigned char want[STORE_KEY_MAX];
		size_t wlen = k->mv_size;
		memcpy(want, k->mv_data, wlen);
		rc = kv_seek(c, want, wlen, false, k, v);
		if (rc == 0 && op == MDB_SET
		        && (k->mv_size != wlen
		                || memcmp(k->mv_data, want, wlen) != 0)) {
			c->valid = false;
			return MDB_NOTFOUND;
		}
		return rc;
	case MDB_NEXT:
		return c->valid ? kv_next(c, k, v) : EINVAL;
	case MDB_PREV:
		return c->valid ? kv_seek_back(c, k, v) : EINVAL;
	default:
		return EINVAL;
	}
}

int
kv_cursor_del(kv_cursor *c)
{
	if (c->n == 1) {
		return mdb_cursor_del(c->src[0].cur, 0);
	}
	if (!c->valid) {
		return EINVAL;
	}
	MDB_val k = { c->klen, c->key };
	int rc = kv_del(c->t, c->db, &k);
	c->forward = false; /* the overlay changed under the cursor */
	return rc;
}

/* Reads one counter of an overlay (0 when absent). */
static int
kv_count_get(
        MDB_txn *otxn, const MDB_dbi *odbi, const char *name, int64_t *out)
{
	MDB_val k = { strlen(name), (void *) name }, v;
	int rc = mdb_get(otxn, odbi[STORE_N_DBS], &k, &v);
	*out = 0;
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc == 0 && v.mv_size == sizeof(*out)) {
		memcpy(out, v.mv_data, sizeof(*out));
	}
	return rc;
}

/* Adds an overlay's two deltas to *customers and *touchpoints. */
static int
kv_count_deltas(MDB_txn *otxn, const MDB_dbi *odbi, int64_t *customers,
        int64_t *touchpoints)
{
	int64_t c, t;
	int rc = kv_count_get(otxn, odbi, kv_count_customers, &c);
	if (rc == 0) {
		rc = kv_count_get(otxn, odbi, kv_count_touchpoints, &t);
	}
	if (rc == 0) {
		*customers += c;
		*touchpoints += t;
	}
	return rc;
}

/*
 * A base between the chunks of a checkpoint (meta "ckpt_image",
 * store_ckpt.c) holds part of the frozen overlay, so its entry counts
 * moved while the overlay's deltas still count the same changes: the
 * deltas then go on the counts it had before the first chunk (meta), and
 * the difference to its entries now is added to them.
 */
static int
kv_counts_chunked(store_txn *t, int64_t *customers, int64_t *touchpoints)
{
	uint64_t flag, c0, t0;
	if (store_meta_get(t, "ckpt_image", &flag) != CLM_OK
	        || store_meta_get(t, "ckpt_customers", &c0) != CLM_OK
	        || store_meta_get(t, "ckpt_touchpoints", &t0) != CLM_OK) {
		return EIO;
	}
	if (flag == 0) {
		return 0;
	}
	MDB_stat mc, mt;
	int rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_CUSTOMERS], &mc);
	if (rc == 0) {
		rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_TOUCHPOINTS], &mt);
	}
	if (rc == 0) {
		*customers += (int64_t) c0 - (int64_t) mc.ms_entries;
		*touchpoints += (int64_t) t0 - (int64_t) mt.ms_entries;
	}
	return rc;
}

int
kv_counts(store_txn *t, int64_t *customers, int64_t *touchpoints)
{
	*customers = 0;
	*touchpoints = 0;
	if (t->otxn == NULL) {
		return 0;
	}
	/*
	 * The active overlay's deltas count from the base and the frozen
	 * overlay under it, always. The frozen one's count from the base it
	 * was frozen over (its "base_checkpoints"): once the base holds its
	 * checkpoint, they are counted there already.
	 */
	int rc = kv_count_deltas(t->otxn, t->odbi, customers, touchpoints);
	if (rc != 0 || t->ftxn == NULL) {
		return rc;
	}
	int64_t fckpt;
	rc = kv_count_get(t->ftxn, t->fdbi, kv_count_checkpoints, &fckpt);
	MDB_val k = { strlen("checkpoints"), "checkpoints" }, v;
	int brc = mdb_get(t->txn, t->s->dbi[STORE_DB_META], &k, &v);
	uint64_t bckpt = 0;
	if (brc == 0 && v.mv_size == 8) {
		bckpt = store_be_u64(v.mv_data);
	} else if (brc != MDB_NOTFOUND) {
		return brc;
	}
	if (rc != 0 || (uint64_t) fckpt != bckpt) {
		return rc;
	}
	rc = kv_count_deltas(t->ftxn, t->fdbi, customers, touchpoints);
	if (rc == 0) {
		rc = kv_counts_chunked(t, customers, touchpoints);
	}
	return rc;
}

int
kv_counts_reset(store_txn *t, uint64_t checkpoints)
{
	int64_t n = (int64_t) checkpoints;
	MDB_val k = { strlen(kv_count_checkpoints),
		(void *) kv_count_checkpoints },
	        v = { sizeof(n), &n };
	return mdb_put(t->otxn, t->odbi[STORE_N_DBS], &k, &v, 0);
}

/* Adds delta to one counter of the active overlay. */
static int
kv_count_add(store_txn *t, const char *name, int64_t delta)
{
	if (delta == 0) {
		return 0;
	}
	int64_t cur;
	int rc = kv_count_get(t->otxn, t->odbi, name, &cur);
	if (rc != 0) {
		return rc;
	}
	cur += delta;
	MDB_val k = { strlen(name), (void *) name }, v = { sizeof(cur), &cur };
	return kv_overlay_rc(
	        t, mdb_put(t->otxn, t->odbi[STORE_N_DBS], &k, &v, 0));
}

/* Folds a write transaction's counts into the overlay, before commit. */
int
kv_counts_save(store_txn *t)
{
	int rc = kv_count_add(t, kv_count_customers, t->delta_customers);
	if (rc == 0) {
		rc = kv_count_add(
		        t, kv_count_touchpoints, t->delta_touchpoints);
	}
	return rc;
}
