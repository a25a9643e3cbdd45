/*
 * What segments (store_segment.c) and journeys (store_journey.c) share as
 * named definitions: the ids they are given, and the tables whose keys
 * start with such an id (a segment's members, a journey's counters),
 * dropped a chunk at a time when the definition goes.
 */
#include "store/store_internal.h"

#include <string.h>

clm_err
store_def_new_id(store_txn *t, const char *counter, uint32_t *id)
{
	uint64_t next;
	clm_err e = store_meta_get(t, counter, &next);
	if (e != CLM_OK) {
		return e;
	}
	if (next == 0) {
		next = 1;
	}
	if (next > UINT32_MAX) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = store_meta_put(t, counter, next + 1);
	if (e == CLM_OK) {
		*id = (uint32_t) next;
	}
	return e;
}

clm_err
store_def_keys_drop(store_txn *t, const struct store_def_keys *dk, uint32_t id,
        size_t max, bool *left)
{
	/*
	 * Keys are collected first and deleted after: the cursor merges
	 * the overlay and the base, and must not see the overlay change
	 * under it.
	 */
	unsigned char *keys = NULL;
	size_t *lens = NULL;
	arena a;
	arena_init(&a);
	keys = arena_alloc(&a, (max + 1) * dk->max_len);
	lens = arena_alloc(&a, (max + 1) * sizeof(*lens));
	if (keys == NULL || lens == NULL) {
		arena_fini(&a);
		return CLM_RESOURCE_EXHAUSTED;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, dk->db, &cur);
	if (rc != 0) {
		arena_fini(&a);
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start[4];
	store_u32_be(start, id);
	MDB_val k = { 4, start }, v;
	size_t n = 0;
	*left = false;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < dk->min_len || k.mv_size > dk->max_len
		        || store_be_u32(k.mv_data) != id) {
			break;
		}
		if (n == max) {
			*left = true;
			break;
		}
		memcpy(keys + n * dk->max_len, k.mv_data, k.mv_size);
		lens[n++] = k.mv_size;
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		arena_fini(&a);
		return store_err(t->s, rc, dk->scan_what);
	}
	for (size_t i = 0; i < n; i++) {
		MDB_val del = { lens[i], keys + i * dk->max_len };
		rc = kv_del(t, dk->db, &del);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			arena_fini(&a);
			return store_err(t->s, rc, dk->del_what);
		}
	}
	arena_fini(&a);
	return CLM_OK;
}
