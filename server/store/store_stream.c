/*
 * The cluster mode's mark (issue 16, docs/cluster.md): what a node must
 * know of the last stream entry its view applied, besides its position,
 * to apply the next ones as every other node does and to notice a stream
 * that no longer holds that entry. The writer puts it in every batch's
 * transaction, so a checkpoint carries it into the base with the batch's
 * position (meta "journal_pos").
 */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

clm_err
store_stream_mark_get(store_txn *t, struct store_stream_mark *m)
{
	uint64_t now, a, b;
	clm_err e = store_meta_get(t, "stream_now_ms", &now);
	if (e == CLM_OK) {
		e = store_meta_get(t, "stream_hash_a", &a);
	}
	if (e == CLM_OK) {
		e = store_meta_get(t, "stream_hash_b", &b);
	}
	if (e != CLM_OK) {
		return e;
	}
	m->now_ms = (int64_t) now;
	store_u64_be(m->hash, a);
	store_u64_be(m->hash + 8, b);
	return CLM_OK;
}

clm_err
store_stream_mark_put(store_txn *t, const struct store_stream_mark *m)
{
	clm_err e = store_meta_put(t, "stream_now_ms", (uint64_t) m->now_ms);
	if (e == CLM_OK) {
		e = store_meta_put(t, "stream_hash_a", store_be_u64(m->hash));
	}
	if (e == CLM_OK) {
		e = store_meta_put(
		        t, "stream_hash_b", store_be_u64(m->hash + 8));
	}
	return e;
}

/*
 * Pending purges: meta "stream_purge.<key>" = the Forget's position, put
 * in the Forget's own transaction so that no checkpoint past the Forget
 * can lose one, deleted once the stream was purged (at different times
 * on different nodes: the only meta keys that differ between views).
 */
#define STORE_PURGE_PREFIX "stream_purge."

static void
store_stream_purge_name(char *name, size_t n, const char key[33])
{
	snprintf(name, n, STORE_PURGE_PREFIX "%.32s", key);
}

clm_err
store_stream_purge_put(store_txn *t, const char key[33], uint64_t before)
{
	char name[64];
	uint64_t had;
	store_stream_purge_name(name, sizeof(name), key);
	clm_err e = store_meta_get(t, name, &had);
	if (e != CLM_OK || had >= before) {
		return e;
	}
	return store_meta_put(t, name, before);
}

clm_err
store_stream_purge_del(store_txn *t, const char key[33], uint64_t before)
{
	char name[64];
	uint64_t had;
	store_stream_purge_name(name, sizeof(name), key);
	clm_err e = store_meta_get(t, name, &had);
	if (e != CLM_OK || had == 0 || had > before) {
		return e;
	}
	MDB_val k = { strlen(name), name };
	int rc = kv_del(t, STORE_DB_META, &k);
	if (rc == MDB_NOTFOUND) {
		return CLM_OK;
	}
	return store_err(t->s, rc, "cannot delete a pending purge");
}

clm_err
store_stream_purges_each(store_txn *t, store_stream_purge_fn fn, void *arg)
{
	kv_cursor *c;
	int rc = kv_cursor_open(t, STORE_DB_META, &c);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read pending purges");
	}
	size_t plen = strlen(STORE_PURGE_PREFIX);
	MDB_val k = { plen, (void *) STORE_PURGE_PREFIX }, v;
	rc = kv_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == plen + 32
	        && memcmp(k.mv_data, STORE_PURGE_PREFIX, plen) == 0) {
		if (v.mv_size == 8) {
			char key[33];
			memcpy(key, (const char *) k.mv_data + plen, 32);
			key[32] = '\0';
			fn(arg, key, store_be_u64(v.mv_data));
		}
		rc = kv_cursor_get(c, &k, &v, MDB_NEXT);
	}
	kv_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot read pending purges");
	}
	return CLM_OK;
}
