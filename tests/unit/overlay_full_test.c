/*
 * A checkpoint must work when the active overlay cannot take a single
 * page more: that is when the writer needs one most (the overlay is full,
 * store_overlay_full). Found with clm-bench at a million customers: the
 * freeze wrote its counters' stamp into the overlay it froze, that put
 * failed with MDB_MAP_FULL, the checkpoint failed, and the writer, whose
 * batch was journaled already, had to exit. A hook (RTLD_NEXT) makes
 * every put into the first overlay (a.mdb) fail that way once armed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <lmdb.h>
#include <stdbool.h>
#include <string.h>

#include "overlay_fixture.h"

TestSuite(
        overlay_full, .init = ovl_setup, .fini = ovl_teardown, .timeout = 60);

static bool full_armed;

/* Whether txn belongs to the overlay in a file named a.mdb. */
static bool
full_is_a(MDB_txn *txn)
{
	const char *path = NULL;
	if (mdb_env_get_path(mdb_txn_env(txn), &path) != 0 || path == NULL) {
		return false;
	}
	size_t n = strlen(path);
	return n >= 6 && strcmp(path + n - 6, "/a.mdb") == 0;
}

int
mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data,
        unsigned int flags)
{
	static int (*real)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_put");
	}
	if (full_armed && full_is_a(txn)) {
		return MDB_MAP_FULL;
	}
	return real(txn, dbi, key, data, flags);
}

Test(overlay_full, checkpoint_of_an_overlay_full_to_the_last_page)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 31, 64 * MIB);
	for (int step = 0; step < 40; step++) {
		ovl_pair_txn(&p, step, false);
	}
	/* a.mdb is still the active overlay: no checkpoint ran. */
	full_armed = true;
	store_txn *t;
	cr_assert_eq(store_write_begin(p.b, &t), CLM_OK);
	unsigned char key[4] = { 9, 'f', 0, 1 }, val[8] = { 0 };
	clm_err e = store_agg_blob_put(t, key, sizeof(key), val, sizeof(val));
	store_write_abort(t);
	cr_assert_eq(
	        e, CLM_RESOURCE_EXHAUSTED, "the hook: %s", clm_errname(e));
	cr_assert(store_overlay_full(p.b));
	ovl_pair_checkpoint(&p);
	full_armed = false;
	ovl_compare_committed(p.a, p.b, true, "after", 0);
	/* Writes go on, into the other overlay, then into a.mdb again. */
	for (int step = 100; step < 140; step++) {
		ovl_pair_txn(&p, step, step % 10 == 0);
	}
	ovl_pair_checkpoint(&p);
	ovl_compare_committed(p.a, p.b, true, "end", 1);
	store_close(p.a);
	store_close(p.b);
}

/*
 * Full for real, to the last page: emptying the frozen overlay (mdb_drop)
 * then needs pages for its freelist that it does not have, and must get
 * them (the map grows) rather than fail for good.
 */
Test(overlay_full, emptying_an_overlay_full_to_the_last_page)
{
	store *a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	store *b = ovl_open(ovl_dir_b, 256 * MIB, 16 * MIB);
	unsigned i = 0;
	for (size_t vlen = 3000; vlen >= 1; vlen /= 3) {
		for (unsigned n = 0; n < 100000; n++, i++) {
			if (ovl_fill(b, i, vlen) != CLM_OK) {
				cr_assert(store_overlay_full(b));
				break;
			}
			cr_assert_eq(ovl_fill_grow(a, i, vlen), CLM_OK);
		}
	}
	ovl_compare_committed(a, b, true, "full", (int) i);
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(b, 1, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
	cr_assert_not(store_ckpt_frozen(b));
	ovl_compare_committed(a, b, true, "after", (int) i);
	/* Both overlays take writes again. */
	for (unsigned n = 0; n < 2000; n++, i++) {
		cr_assert_eq(ovl_fill(b, i, 100), CLM_OK, "write %u", n);
		cr_assert_eq(ovl_fill_grow(a, i, 100), CLM_OK);
		if (n == 1000) {
			cr_assert_eq(store_checkpoint(b, 2, &st), CLM_OK);
		}
	}
	ovl_compare_committed(a, b, true, "end", (int) i);
	store_close(a);
	store_close(b);
}
