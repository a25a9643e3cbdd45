/*
 * The cluster mode's mark (issue 16, docs/cluster.md): what a node must
 * know of the last stream entry its view applied, besides its position,
 * to apply the next ones as every other node does and to notice a stream
 * that no longer holds that entry. The writer puts it in every batch's
 * transaction, so a checkpoint carries it into the base with the batch's
 * position (meta "journal_pos").
 */
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
