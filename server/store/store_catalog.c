/* Catalog, co-purchase counts and claims in LMDB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/log.h"

clm_err
store_item_put(store_txn *t, const Clm__V1__Item *item)
{
	MDB_val k = { strlen(item->item_id), item->item_id };
	return store_put_msg(t, STORE_DB_ITEMS, &k,
	        (const ProtobufCMessage *) item, "cannot write item");
}

clm_err
store_item_get(
        store_txn *t, const char *item_id, arena *a, Clm__V1__Item **out)
{
	void *m;
	clm_err e = store_get_msg(t, STORE_DB_ITEMS, item_id,
	        &clm__v1__item__descriptor, a, "item", &m);
	if (e == CLM_OK) {
		*out = m;
	}
	return e;
}

clm_err
store_store_put(store_txn *t, const Clm__V1__Store *st)
{
	MDB_val k = { strlen(st->store_id), st->store_id };
	return store_put_msg(t, STORE_DB_STORES, &k,
	        (const ProtobufCMessage *) st, "cannot write store");
}

struct store_each_store {
	store_store_fn fn;
	void *arg;
};

static int
store_each_store_fn(void *arg, void *msg)
{
	struct store_each_store *x = arg;
	return x->fn(x->arg, msg);
}

clm_err
store_stores_each(store_txn *t, arena *a, store_store_fn fn, void *arg)
{
	struct store_each_store x = { fn, arg };
	return store_each_msg(t, STORE_DB_STORES, &clm__v1__store__descriptor,
	        a, "store", store_each_store_fn, &x);
}

/*
 * Co-purchase counts live in `cooccur` under three key shapes:
 *   'p' item              -> u64 customers who bought the item
 *   'r' ~count(8) item    -> empty: the items by popularity, most first
 *   'c' a 0x00 b          -> u64 customers who bought both a and b
 *                           (stored for both orders, so a prefix scan on
 *                           'c' a 0x00 lists a's neighbours)
 */
/*
 * Builds tag a [0x00 b] into key[STORE_KEY_MAX], returning its length, or
 * 0 (no key has length 0) when it would not fit. The callers' validation
 * keeps ids far shorter; this is the last line against a caller that
 * skipped it, which would otherwise write past the stack buffer.
 */
static size_t
store_co_key(unsigned char *key, char tag, const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = b != NULL ? strlen(b) : 0;
	if (la > STORE_KEY_MAX - 1
	        || (b != NULL && lb > STORE_KEY_MAX - 2 - la)) {
		return 0;
	}
	size_t n = 0;
	key[n++] = (unsigned char) tag;
	memcpy(key + n, a, la);
	n += la;
	if (b != NULL) {
		key[n++] = 0;
		memcpy(key + n, b, lb);
		n += lb;
	}
	return n;
}

/* The error for a key store_co_key refused, logged once here. */
static clm_err
store_key_too_long(const char *what)
{
	log_error("cannot build the %s key: longer than %d bytes", what,
	        STORE_KEY_MAX);
	return CLM_INVALID_ARGUMENT;
}

static clm_err
store_u64_get(store_txn *t, enum store_db db, MDB_val *k, uint64_t *out)
{
	MDB_val v;
	int rc = kv_get(t, db, k, &v);
	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return CLM_OK;
	}
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read counter");
	}
	if (v.mv_size != 8) {
		return CLM_DATA_LOSS;
	}
	*out = store_be_u64(v.mv_data);
	return CLM_OK;
}

/* Sets a counter; 0 deletes it. */
static clm_err
store_u64_set(store_txn *t, enum store_db db, MDB_val *k, uint64_t val)
{
	int rc;
	if (val == 0) {
		rc = kv_del(t, db, k);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
		}
	} else {
		unsigned char buf[8];
		store_u64_be(buf, val);
		MDB_val v = { 8, buf };
		rc = kv_put(t, db, k, &v, 0);
	}
	return store_err(t->s, rc, "cannot write counter");
}

static clm_err
store_rank_key(store_txn *t, const char *item, uint64_t count, bool put)
{
	unsigned char key[STORE_KEY_MAX];
	size_t n = strlen(item);
	if (n > STORE_KEY_MAX - 9) {
		return store_key_too_long("popularity");
	}
	key[0] = 'r';
	store_u64_be(key + 1, UINT64_MAX - count);
	memcpy(key + 9, item, n);
	MDB_val k = { 9 + n, key }, v = { 0, NULL };
	int rc = put ? kv_put(t, STORE_DB_COOCCUR, &k, &v, 0)
	             : kv_del(t, STORE_DB_COOCCUR, &k);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	return store_err(t->s, rc, "cannot index popularity");
}

/*
 * Adds delta to the counter at k in `cooccur` (not below 0; a counter at 0
 * is deleted), giving its values before and after.
 */
static clm_err
store_co_count_add(
        store_txn *t, MDB_val *k, int delta, uint64_t *old, uint64_t *now)
{
	clm_err e = store_u64_get(t, STORE_DB_COOCCUR, k, old);
	if (e != CLM_OK) {
		return e;
	}
	*now = delta < 0 && *old < (uint64_t) -delta
	        ? 0
	        : (uint64_t) ((int64_t) *old + delta);
	return *now == *old ? CLM_OK
	                    : store_u64_set(t, STORE_DB_COOCCUR, k, *now);
}

clm_err
store_pop_add(store_txn *t, const char *item, int delta)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_co_key(key, 'p', item, NULL), key };
	if (k.mv_size == 0) {
		return store_key_too_long("popularity");
	}
	uint64_t old, now;
	clm_err e = store_co_count_add(t, &k, delta, &old, &now);
	if (e != CLM_OK || now == old) {
		return e;
	}
	if (old > 0) {
		e = store_rank_key(t, item, old, false);
	}
	if (e == CLM_OK && now > 0) {
		e = store_rank_key(t, item, now, true);
	}
	return e;
}

clm_err
store_pop_get(store_txn *t, const char *item, uint64_t *count)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_co_key(key, 'p', item, NULL), key };
	if (k.mv_size == 0) {
		return store_key_too_long("popularity");
	}
	return store_u64_get(t, STORE_DB_COOCCUR, &k, count);
}

clm_err
store_pop_top(store_txn *t, store_count_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_COOCCUR, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start = 'r';
	MDB_val k = { 1, &start }, v;
	char item[STORE_KEY_MAX];
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *kp = k.mv_data;
		if (k.mv_size < 10 || kp[0] != 'r') {
			break;
		}
		size_t n = k.mv_size - 9;
		memcpy(item, kp + 9, n);
		item[n] = '\0';
		if (fn(arg, item, UINT64_MAX - store_be_u64(kp + 1)) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND
	        ? CLM_OK
	        : store_err(t->s, rc, "cannot scan popularity");
}

clm_err
store_co_add(store_txn *t, const char *a, const char *b, int delta)
{
	for (int dir = 0; dir < 2; dir++) {
		unsigned char key[STORE_KEY_MAX];
		MDB_val k = { store_co_key(key, 'c', dir ? b : a, dir ? a : b),
			key };
		if (k.mv_size == 0) {
			return store_key_too_long("co-purchase");
		}
		uint64_t old, now;
		clm_err e = store_co_count_add(t, &k, delta, &old, &now);
		if (e != CLM_OK) {
			return e;
		}
	}
	return CLM_OK;
}

clm_err
store_co_each(store_txn *t, const char *a, store_count_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_COOCCUR, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char key[STORE_KEY_MAX];
	size_t plen = store_co_key(key, 'c', a, "");
	if (plen == 0) {
		kv_cursor_close(cur);
		return store_key_too_long("co-purchase");
	}
	MDB_val k = { plen, key }, v;
	char item[STORE_KEY_MAX];
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= plen || memcmp(k.mv_data, key, plen) != 0) {
			break;
		}
		if (v.mv_size != 8) {
			continue;
		}
		size_t n = k.mv_size - plen;
		memcpy(item, (const char *) k.mv_data + plen, n);
		item[n] = '\0';
		if (fn(arg, item, store_be_u64(v.mv_data)) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND
	        ? CLM_OK
	        : store_err(t->s, rc, "cannot scan co-purchases");
}

static size_t
store_claim_key(
        unsigned char *key, const char *customer_id, const char *request_id)
{
	return store_co_key(key, 'q', customer_id, request_id);
}

clm_err
store_claim_get(store_txn *t, const char *customer_id, const char *request_id,
        arena *a, Clm__V1__RecommendReply **out)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_claim_key(key, customer_id, request_id), key }, v;
	if (k.mv_size == 0) {
		return store_key_too_long("claim");
	}
	int rc = kv_get(t, STORE_DB_CLAIMS, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read claim");
	}
	Clm__V1__RecommendReply *r = clm__v1__recommend_reply__unpack(
	        arena_pb(a), v.mv_size, v.mv_data);
	if (r == NULL) {
		return CLM_DATA_LOSS;
	}
	*out = r;
	return CLM_OK;
}

clm_err
store_claim_put(store_txn *t, const char *customer_id, const char *request_id,
        const Clm__V1__RecommendReply *reply)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_claim_key(key, customer_id, request_id), key };
	if (k.mv_size == 0) {
		return store_key_too_long("claim");
	}
	return store_put_msg(t, STORE_DB_CLAIMS, &k,
	        (const ProtobufCMessage *) reply, "cannot write claim");
}

clm_err
store_claims_del(store_txn *t, const char *customer_id)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_CLAIMS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char key[STORE_KEY_MAX];
	size_t plen = store_claim_key(key, customer_id, "");
	if (plen == 0) {
		kv_cursor_close(cur);
		return store_key_too_long("claim");
	}
	MDB_val k = { plen, key }, v;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
		if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0) {
			break;
		}
		rc = kv_cursor_del(cur);
		if (rc != 0) {
			break;
		}
		k.mv_size = plen;
		k.mv_data = key;
	}
	kv_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND
	        ? CLM_OK
	        : store_err(t->s, rc, "cannot delete claims");
}
