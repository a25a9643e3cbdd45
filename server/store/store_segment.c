/* Segments in LMDB: definitions, members with their counts, the time index. */
#include "store/segment.h"
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

clm_err
store_segment_get(
        store_txn *t, const char *name, arena *a, Clm__V1__SegmentRecord **out)
{
	void *m;
	clm_err e = store_get_msg(t, STORE_DB_SEGMENTS, name,
	        &clm__v1__segment_record__descriptor, a, "segment", &m);
	if (e == CLM_OK) {
		*out = m;
	}
	return e;
}

clm_err
store_segment_put(store_txn *t, const Clm__V1__SegmentRecord *rec)
{
	MDB_val k = { strlen(rec->name), rec->name };
	return store_put_msg(t, STORE_DB_SEGMENTS, &k,
	        (const ProtobufCMessage *) rec, "cannot write segment");
}

clm_err
store_segment_del(store_txn *t, const char *name)
{
	MDB_val k = { strlen(name), (void *) name };
	return store_err(t->s, kv_del(t, STORE_DB_SEGMENTS, &k),
	        "cannot delete segment");
}

struct store_each_segment {
	store_segment_fn fn;
	void *arg;
};

static int
store_each_segment_fn(void *arg, void *msg)
{
	struct store_each_segment *x = arg;
	return x->fn(x->arg, msg);
}

clm_err
store_segments_each(store_txn *t, arena *a, store_segment_fn fn, void *arg)
{
	struct store_each_segment x = { fn, arg };
	return store_each_msg(t, STORE_DB_SEGMENTS,
	        &clm__v1__segment_record__descriptor, a, "segment",
	        store_each_segment_fn, &x);
}

clm_err
store_segment_new_id(store_txn *t, uint32_t *id)
{
	return store_def_new_id(t, "seg_next_id", id);
}

/* A member's key: the segment id, then the customer id; 0 if too long. */
static size_t
store_member_key(unsigned char *buf, uint32_t seg, const char *id)
{
	size_t n = strlen(id);
	if (n > STORE_KEY_MAX - 4) {
		return 0;
	}
	store_u32_be(buf, seg);
	memcpy(buf + 4, id, n);
	return 4 + n;
}

clm_err
store_member_count(store_txn *t, uint32_t seg, uint64_t *n)
{
	unsigned char key[4];
	store_u32_be(key, seg);
	MDB_val k = { 4, key }, v;
	int rc = kv_get(t, STORE_DB_SEG_MEMBERS, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*n = 0;
		return CLM_OK;
	}
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read a segment's count");
	}
	if (v.mv_size != 8) {
		log_error("segment %u's count has %zu bytes, expected 8",
		        (unsigned) seg, v.mv_size);
		return CLM_DATA_LOSS;
	}
	*n = store_be_u64(v.mv_data);
	return CLM_OK;
}

static clm_err
store_member_count_add(store_txn *t, uint32_t seg, int delta)
{
	uint64_t n;
	clm_err e = store_member_count(t, seg, &n);
	if (e != CLM_OK) {
		return e;
	}
	n = delta < 0 && n == 0 ? 0 : n + (uint64_t) (int64_t) delta;
	unsigned char key[4], val[8];
	store_u32_be(key, seg);
	MDB_val k = { 4, key };
	int rc;
	if (n == 0) {
		rc = kv_del(t, STORE_DB_SEG_MEMBERS, &k);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	} else {
		store_u64_be(val, n);
		MDB_val v = { 8, val };
		rc = kv_put(t, STORE_DB_SEG_MEMBERS, &k, &v, 0);
	}
	return store_err(t->s, rc, "cannot write a segment's count");
}

clm_err
store_member_has(store_txn *t, uint32_t seg, const char *id, bool *is)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_member_key(key, seg, id), key }, v;
	if (k.mv_size == 0) {
		*is = false;
		return CLM_OK;
	}
	int rc = kv_get(t, STORE_DB_SEG_MEMBERS, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot read a segment's member");
	}
	*is = rc == 0;
	return CLM_OK;
}

clm_err
store_member_set(
        store_txn *t, uint32_t seg, const char *id, bool member, bool *changed)
{
	bool is;
	clm_err e = store_member_has(t, seg, id, &is);
	if (e != CLM_OK) {
		return e;
	}
	if (changed != NULL) {
		*changed = is != member;
	}
	if (is == member) {
		return CLM_OK;
	}
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_member_key(key, seg, id), key }, v = { 0, "" };
	if (k.mv_size == 0) {
		return CLM_INVALID_ARGUMENT; /* no stored id is that long */
	}
	int rc = member ? kv_put(t, STORE_DB_SEG_MEMBERS, &k, &v, 0)
	                : kv_del(t, STORE_DB_SEG_MEMBERS, &k);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot write a segment's member");
	}
	return store_member_count_add(t, seg, member ? 1 : -1);
}

clm_err
store_members_after(store_txn *t, uint32_t seg, const char *after, size_t max,
        store_member_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_SEG_MEMBERS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char key[STORE_KEY_MAX];
	size_t n = 4;
	store_u32_be(key, seg);
	if (after != NULL) {
		n = store_member_key(key, seg, after);
		if (n == 0) {
			kv_cursor_close(cur);
			return CLM_INVALID_ARGUMENT;
		}
	}
	MDB_val k = { n, key }, v;
	char id[STORE_KEY_MAX + 1];
	size_t seen = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	        rc == 0 && seen < max;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = k.mv_data;
		if (k.mv_size < 4 || store_be_u32(p) != seg) {
			break;
		}
		if (k.mv_size == 4
		        || (after != NULL && k.mv_size == n
		                && memcmp(p, key, n) == 0)) {
			continue; /* the count, or `after` itself */
		}
		memcpy(id, p + 4, k.mv_size - 4);
		id[k.mv_size - 4] = '\0';
		seen++;
		if (fn(arg, id) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan a segment's members");
	}
	return CLM_OK;
}

/* A segment's keys: its members (id, then customer id) and its count. */
static const struct store_def_keys store_member_keys = {
	.db = STORE_DB_SEG_MEMBERS,
	.min_len = 4,
	.max_len = STORE_KEY_MAX,
	.scan_what = "cannot scan a segment's members",
	.del_what = "cannot delete a segment's member",
};

clm_err
store_members_drop(store_txn *t, uint32_t seg, size_t max, bool *left)
{
	return store_def_keys_drop(t, &store_member_keys, seg, max, left);
}

clm_err
store_members_first_seg(
        store_txn *t, uint32_t from, uint32_t *seg, bool *found)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_SEG_MEMBERS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start[4];
	store_u32_be(start, from);
	MDB_val k = { 4, start }, v;
	rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	*found = rc == 0 && k.mv_size >= 4;
	if (*found) {
		*seg = store_be_u32(k.mv_data);
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan segments' members");
	}
	return CLM_OK;
}

/* A time index key: the instant (8, big-endian), then the customer id. */
static size_t
store_due_key(unsigned char *buf, int64_t at_ms, const char *id)
{
	size_t n = strlen(id);
	if (n > STORE_KEY_MAX - 8 || at_ms < 0) {
		return 0;
	}
	store_u64_be(buf, (uint64_t) at_ms);
	memcpy(buf + 8, id, n);
	return 8 + n;
}

clm_err
store_due_put(store_txn *t, int64_t at_ms, const char *id)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_due_key(key, at_ms, id), key }, v = { 0, "" };
	if (k.mv_size == 0) {
		return CLM_INVALID_ARGUMENT;
	}
	return store_err(t->s, kv_put(t, STORE_DB_SEG_DUE, &k, &v, 0),
	        "cannot write the time index");
}

clm_err
store_due_del(store_txn *t, int64_t at_ms, const char *id)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_due_key(key, at_ms, id), key };
	if (k.mv_size == 0) {
		return CLM_OK;
	}
	int rc = kv_del(t, STORE_DB_SEG_DUE, &k);
	return store_err(t->s, rc == MDB_NOTFOUND ? 0 : rc,
	        "cannot write the time index");
}

clm_err
store_due_each(
        store_txn *t, int64_t upto_ms, size_t max, store_due_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_SEG_DUE, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	char id[STORE_KEY_MAX + 1];
	size_t seen = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && seen < max;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 8) {
			continue;
		}
		int64_t at = (int64_t) store_be_u64(k.mv_data);
		if (at > upto_ms) {
			break;
		}
		memcpy(id, (const char *) k.mv_data + 8, k.mv_size - 8);
		id[k.mv_size - 8] = '\0';
		seen++;
		if (fn(arg, at, id) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan the time index");
	}
	return CLM_OK;
}
