/*
 * Unit tests of the schema version store_open checks and writes
 * (server/store/store.c, STORE_SCHEMA_VERSION): a new store is written at
 * the current version, an older one (1) is upgraded at open, a newer one is
 * refused with a message naming the versions.
 *
 * lmdb.h is included only to read and write "meta" behind the store's back,
 * which the store API has no way to do.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/store.h"
#include "testdir.h"

static struct store_opts
store_schema_test_opts(const char *dir)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true, /* tests need no fsync */
		.map_bytes = 1 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	return o;
}

static void
store_schema_test_open_close(const struct store_opts *o)
{
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	store_close(s);
}

/* Reads meta "schema" (v = 0 when absent), or writes it when put. */
static uint64_t
store_schema_test_meta(const char *dir, bool put, uint64_t v)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, 1 << 20), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi;
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	MDB_val k = { 6, "schema" }, val;
	unsigned char buf[8];
	uint64_t got = 0;
	if (put) {
		for (int i = 7; i >= 0; i--) {
			buf[i] = (unsigned char) (v & 0xff);
			v >>= 8;
		}
		val = (MDB_val) { 8, buf };
		cr_assert_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
	} else {
		if (mdb_get(txn, dbi, &k, &val) == 0) {
			cr_assert_eq(val.mv_size, 8);
			const unsigned char *p = val.mv_data;
			for (int i = 0; i < 8; i++) {
				got = got << 8 | p[i];
			}
		}
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return got;
}

Test(store_schema, new_store_is_written_at_version_2)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "store-schema");
	struct store_opts o = store_schema_test_opts(dir);
	store_schema_test_open_close(&o);
	cr_assert_eq(STORE_SCHEMA_VERSION, 2);
	cr_assert_eq(store_schema_test_meta(dir, false, 0), 2);
	testdir_remove(dir);
}

Test(store_schema, version_1_is_upgraded_at_open)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "store-schema");
	struct store_opts o = store_schema_test_opts(dir);
	store_schema_test_open_close(&o);
	store_schema_test_meta(dir, true, 1);
	cr_assert_eq(store_schema_test_meta(dir, false, 0), 1);
	store_schema_test_open_close(&o);
	cr_assert_eq(store_schema_test_meta(dir, false, 0), 2,
	        "a version-1 store is version 2 after one open");
	store_schema_test_open_close(&o); /* and opens again as 2 */
	testdir_remove(dir);
}

Test(store_schema, version_3_is_refused)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "store-schema");
	struct store_opts o = store_schema_test_opts(dir);
	store_schema_test_open_close(&o);
	store_schema_test_meta(dir, true, 3);
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_neq(e, CLM_OK);
	cr_assert_null(s);
	cr_assert_not_null(
	        strstr(err, "has schema version 3, newer than this clmd's 2"),
	        "message: %s", err);
	cr_assert_eq(store_schema_test_meta(dir, false, 0), 3,
	        "refusing leaves the version as it was");
	testdir_remove(dir);
}
