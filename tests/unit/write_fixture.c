/*
 * write_fixture: see write_fixture.h. lmdb.h is included only to read
 * every database of two closed stores, which the store API has no call
 * for.
 */
#include "write_fixture.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "store/agg_write.h"

Clm__V1__Request *
wfx_request(arena *a, const char *json)
{
	ProtobufCMessage *m;
	char err[256];
	cr_assert_eq(
	        pbjson_parse(json, strlen(json), &clm__v1__request__descriptor,
	                &m, err, sizeof(err)),
	        0, "%s: %s", json, err);
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	protobuf_c_message_pack(m, buf);
	protobuf_c_message_free_unpacked(m, NULL);
	Clm__V1__Request *req = clm__v1__request__unpack(arena_pb(a), n, buf);
	free(buf);
	cr_assert_not_null(req);
	return req;
}

store *
wfx_store_open(const char *dir, size_t max_db)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true, /* tests need no fsync */
		.map_bytes = 64 << 20,
		.max_db_bytes = max_db,
		.max_readers = 16,
	};
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	return s;
}

static MDB_env *
wfx_env_open_ro(const char *dir)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0, "%s", dir);
	return env;
}

/*
 * Whether k is one of skip (NULL-terminated; NULL: none); a name ending
 * in '*' stands for every key it begins.
 */
static bool
wfx_is_key(const MDB_val *k, const char *const *skip)
{
	for (size_t i = 0; skip != NULL && skip[i] != NULL; i++) {
		size_t n = strlen(skip[i]);
		bool prefix = n > 0 && skip[i][n - 1] == '*';
		if (prefix && k->mv_size >= n - 1
		        && memcmp(k->mv_data, skip[i], n - 1) == 0) {
			return true;
		}
		if (k->mv_size == n
		        && memcmp(k->mv_data, skip[i], k->mv_size) == 0) {
			return true;
		}
	}
	return false;
}

/* Asserts a and b hold the same records but skip; returns how many. */
static size_t
wfx_db_compare(MDB_txn *ta, MDB_dbi a, MDB_txn *tb, MDB_dbi b,
        const char *name, bool values, const char *const *skip)
{
	MDB_cursor *ca, *cb;
	cr_assert_eq(mdb_cursor_open(ta, a, &ca), 0);
	cr_assert_eq(mdb_cursor_open(tb, b, &cb), 0);
	MDB_val ka, va, kb, vb;
	size_t n = 0;
	int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
	int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
	for (;;) {
		while (ra == 0 && wfx_is_key(&ka, skip)) {
			ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
		}
		while (rb == 0 && wfx_is_key(&kb, skip)) {
			rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
		}
		if (ra != 0 || rb != 0) {
			break;
		}
		cr_assert(ka.mv_size == kb.mv_size
		                && memcmp(ka.mv_data, kb.mv_data, ka.mv_size)
		                        == 0,
		        "database '%s': record %zu has another key", name, n);
		if (values) {
			cr_assert(va.mv_size == vb.mv_size
			                && memcmp(va.mv_data, vb.mv_data,
			                           va.mv_size)
			                        == 0,
			        "database '%s': record %zu has another value",
			        name, n);
		}
		n++;
		ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
		rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
	}
	cr_assert(ra == MDB_NOTFOUND && rb == MDB_NOTFOUND,
	        "database '%s': one store has more than %zu records", name, n);
	mdb_cursor_close(ca);
	mdb_cursor_close(cb);
	return n;
}

size_t
wfx_stores_compare(
        const char *dir_a, const char *dir_b, const char *const *skip_meta)
{
	MDB_env *ea = wfx_env_open_ro(dir_a), *eb = wfx_env_open_ro(dir_b);
	MDB_txn *ta, *tb;
	cr_assert_eq(mdb_txn_begin(ea, NULL, MDB_RDONLY, &ta), 0);
	cr_assert_eq(mdb_txn_begin(eb, NULL, MDB_RDONLY, &tb), 0);
	MDB_dbi ma, mb;
	cr_assert_eq(mdb_dbi_open(ta, NULL, 0, &ma), 0);
	cr_assert_eq(mdb_dbi_open(tb, NULL, 0, &mb), 0);
	/* The main database names the others; its values are page numbers. */
	size_t n = wfx_db_compare(ta, ma, tb, mb, "(main)", false, NULL);
	MDB_cursor *c;
	cr_assert_eq(mdb_cursor_open(ta, ma, &c), 0);
	MDB_val k, v;
	size_t total = 0, dbs = 0;
	for (int r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0;
	        r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char name[128];
		cr_assert_lt(k.mv_size, sizeof(name));
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		MDB_dbi da, db;
		cr_assert_eq(mdb_dbi_open(ta, name, 0, &da), 0, "%s", name);
		cr_assert_eq(mdb_dbi_open(tb, name, 0, &db), 0, "%s", name);
		const char *const *skip
		        = strcmp(name, "meta") == 0 ? skip_meta : NULL;
		total += wfx_db_compare(ta, da, tb, db, name, true, skip);
		dbs++;
	}
	cr_assert_eq(dbs, n);
	mdb_cursor_close(c);
	mdb_txn_abort(ta);
	mdb_txn_abort(tb);
	mdb_env_close(ea);
	mdb_env_close(eb);
	return total;
}

void
wfx_apply_job(store *st, writer_job *job, int64_t now_ms)
{
	struct agg_visits *v = agg_visits_new();
	cr_assert_not_null(v);
	arena scratch;
	arena_init(&scratch);
	store_txn *txn;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	struct writer_batch b = {
		.txn = txn, .now_ms = now_ms, .scratch = &scratch, .visits = v
	};
	job->n_events = 0;
	cr_assert_eq(job->apply(&b, job), CLM_OK);
	cr_assert_eq(agg_visits_fold(txn, v), CLM_OK);
	for (size_t k = 0; k < job->n_events; k++) {
		job->events[k]->seq = store_next_event_seq(txn);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_fini(&scratch);
	agg_visits_free(v);
}
