/*
 * store_overlay_reserve (store/store.h): the writer grows the map of the
 * overlay taking the writes when checkpoint_bytes = auto grows with the
 * view. The grown overlay takes what the old map could not, its file is
 * allocated in full (a full disk is an error there, never a fault through
 * the map), everything in it reaches the base, and a reserve the file
 * cannot have leaves the overlay as it was, still working.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "overlay_fixture.h"

TestSuite(overlay_reserve, .init = ovl_setup, .fini = ovl_teardown,
        .timeout = 60);

#define BLOB 32768

/* The blob stored under key i: its bytes say which it is. */
static void
blob_key(int i, unsigned char key[5])
{
	key[0] = 9;
	key[1] = 'r';
	key[2] = (unsigned char) (i >> 16);
	key[3] = (unsigned char) (i >> 8);
	key[4] = (unsigned char) i;
}

static void
blob_val(int i, unsigned char *val)
{
	for (int k = 0; k < BLOB; k++) {
		val[k] = (unsigned char) (i * 31 + k);
	}
}

/*
 * Puts blobs first..first+n-1 in t; returns how many went in before one
 * failed (RESOURCE_EXHAUSTED, the overlay full), n when all did.
 */
static int
blob_fill(store_txn *t, int first, int n)
{
	static unsigned char val[BLOB];
	for (int i = first; i < first + n; i++) {
		unsigned char key[5];
		blob_key(i, key);
		blob_val(i, val);
		clm_err e = store_agg_blob_put(t, key, sizeof(key), val, BLOB);
		if (e != CLM_OK) {
			cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED, "blob %d: %s",
			        i, clm_errname(e));
			return i - first;
		}
	}
	return n;
}

/* Every blob 0..n-1 reads back as it was put. */
static void
blob_check(store *s, int n, const char *ctx)
{
	static unsigned char want[BLOB];
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *t;
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	for (int i = 0; i < n; i++) {
		unsigned char key[5];
		blob_key(i, key);
		blob_val(i, want);
		const void *val;
		size_t vlen;
		clm_err e
		        = store_agg_blob_get(t, key, sizeof(key), &val, &vlen);
		cr_assert_eq(
		        e, CLM_OK, "%s: blob %d: %s", ctx, i, clm_errname(e));
		cr_assert(vlen == BLOB && memcmp(val, want, BLOB) == 0,
		        "%s: blob %d differs", ctx, i);
	}
	store_read_end(t);
	store_reader_free(r);
}

/* The active overlay's file: its size and the bytes allocated to it. */
static void
overlay_file(const char *name, off_t *size, off_t *allocated)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/overlay/%s", ovl_dir_b, name);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	*size = st.st_size;
	*allocated = (off_t) st.st_blocks * 512;
}

Test(overlay_reserve, a_grown_overlay_takes_what_did_not_fit)
{
	const uint64_t small = 12 * MIB, big = 40 * MIB;
	store *s = ovl_open(ovl_dir_b, 512 * MIB, small);
	cr_assert_eq(store_overlay_map(s), small);

	/* The small map fills up. */
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	int fit = blob_fill(t, 0, 1000);
	cr_assert(fit > 0 && fit < 1000, "%d blobs of 32 KiB in 12 MiB", fit);
	cr_assert(store_overlay_full(s));
	store_write_abort(t);

	/* Grown, it takes twice as much; its file is allocated. */
	cr_assert_eq(store_overlay_reserve(s, big), 0);
	cr_assert_eq(store_overlay_map(s), big);
	off_t size, allocated;
	overlay_file("a.mdb", &size, &allocated);
	cr_assert_geq(size, (off_t) big);
	cr_assert_geq(allocated, (off_t) big);
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	cr_assert_eq(blob_fill(t, 0, 2 * fit), 2 * fit);
	cr_assert_eq(store_write_commit(t), CLM_OK);
	blob_check(s, 2 * fit, "in the grown overlay");

	/* Never shrinks. */
	cr_assert_eq(store_overlay_reserve(s, small), 0);
	cr_assert_eq(store_overlay_map(s), big);

	/*
	 * A background checkpoint: the other overlay takes the writes, with
	 * its own map, grown in its turn while the first is moved.
	 */
	cr_assert_eq(store_ckpt_freeze(s, 1), CLM_OK);
	cr_assert_eq(store_overlay_map(s), small);
	cr_assert_eq(store_overlay_reserve(s, big), 0);
	cr_assert_eq(store_overlay_map(s), big);
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	cr_assert_eq(blob_fill(t, 2 * fit, 2 * fit), 2 * fit);
	cr_assert_eq(store_write_commit(t), CLM_OK);
	struct store_ckpt_stats st;
	cr_assert_eq(store_ckpt_run(s, true, &st), 0);
	cr_assert_eq(store_ckpt_release(s), 0);
	blob_check(s, 4 * fit, "after the background checkpoint");
	struct store_ckpt_stats st2;
	cr_assert_eq(store_checkpoint(s, 2, &st2), CLM_OK);
	store_close(s);

	/* All of it is in the base. */
	s = ovl_open(ovl_dir_b, 512 * MIB, small);
	blob_check(s, 4 * fit, "after a reopen");
	store_close(s);
}

Test(overlay_reserve, a_reserve_the_file_cannot_have_changes_nothing)
{
	const uint64_t small = 12 * MIB;
	store *s = ovl_open(ovl_dir_b, 512 * MIB, small);
	/* Files of this process may not grow past 20 MiB. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit was, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	lim = was;
	lim.rlim_cur = 20 * MIB;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = store_overlay_reserve(s, 40 * MIB);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	cr_assert_neq(rc, 0, "the file could not be allocated");
	cr_assert_eq(store_overlay_map(s), small);
	off_t size, allocated;
	overlay_file("a.mdb", &size, &allocated);
	cr_assert_eq(size, (off_t) small, "cut back to its map");
	/* The overlay works as before. */
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	cr_assert_eq(blob_fill(t, 0, 8), 8);
	cr_assert_eq(store_write_commit(t), CLM_OK);
	blob_check(s, 8, "after the failed reserve");
	store_close(s);
}
