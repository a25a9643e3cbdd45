/*
 * The overlay's checkpoints at their limits (overlay_fixture.h has the
 * stores and their comparison): a checkpoint forced between a reader's
 * two snapshot begins, a full overlay, a checkpoint refused at
 * max_db_bytes, one that grows the base.
 */
#define _GNU_SOURCE /* dlsym(RTLD_NEXT) */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "overlay_fixture.h"

TestSuite(overlay, .init = ovl_setup, .fini = ovl_teardown, .timeout = 90);

/* ---------------------------------------------------------------------- */
/* A checkpoint between a reader's two snapshots, forced                  */

/*
 * The test's hooks into LMDB, to put a checkpoint exactly where a reader
 * can meet it: this executable's mdb_txn_renew and mdb_drop wrap LMDB's
 * (RTLD_NEXT). Armed, a reader's renewal of its base transaction first
 * lets a checkpointer thread go and waits until it has committed the base
 * and stands before emptying the overlay (its first mdb_drop), which
 * waits in turn until the reader lets it go: the reader's base is after
 * the checkpoint, its overlay before the emptying. File-private statics: the
 * hooks have no argument to carry them. Unarmed they only pass the call on.
 */
static struct ovl_gate hook = OVL_GATE_INIT;

int
mdb_txn_renew(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_renew");
	}
	unsigned flags = 0;
	mdb_env_get_flags(mdb_txn_env(txn), &flags);
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 0 && !(flags & MDB_WRITEMAP)) {
		ovl_gate_set(&hook, 1);
		ovl_gate_wait(&hook, 2);
	}
	pthread_mutex_unlock(&hook.mu);
	return real(txn);
}

int
mdb_drop(MDB_txn *txn, MDB_dbi dbi, int del)
{
	static int (*real)(MDB_txn *, MDB_dbi, int);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_drop");
	}
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 1) {
		ovl_gate_set(&hook, 2);
		ovl_gate_wait(&hook, 3);
	}
	pthread_mutex_unlock(&hook.mu);
	return real(txn, dbi, del);
}

/*
 * A reader whose base transaction begins after a checkpoint committed and
 * whose overlay transaction begins before the checkpoint empties the
 * overlay: its values are right (the overlay holds post-images), and
 * store_stats must not add the old overlay's counters to a base that
 * already holds them (kv_counts compares the checkpoint counts).
 */
Test(overlay, stats_of_a_reader_meeting_a_checkpoint)
{
	ovl_race_reader(&hook, "reader across a checkpoint's commit");
}

Test(overlay, full_overlay_checkpoint_makes_room)
{
	store *a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	store *b = ovl_open(ovl_dir_b, 256 * MIB, 1 * MIB);
	unsigned full = ovl_fill_until_full(a, b);
	ovl_compare_committed(a, b, true, "full", (int) full);
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(b, 1, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
	cr_assert_geq(st.keys, full, "moved %llu keys",
	        (unsigned long long) st.keys);
	/*
	 * The write that failed, and as many again as before: the overlay
	 * is empty and its pages are reusable.
	 */
	unsigned i = full;
	for (; i < 2 * full + 2000; i++) {
		e = ovl_fill(b, i, 2000);
		if (e != CLM_OK) {
			break;
		}
		cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
	}
	cr_assert_eq(
	        e, CLM_RESOURCE_EXHAUSTED, "write %u: %s", i, clm_errname(e));
	cr_assert_geq(i - full, full * 9 / 10,
	        "%u writes fitted after the checkpoint, %u before", i - full,
	        full);
	ovl_compare_committed(a, b, true, "full again", (int) i);
	cr_assert_eq(store_checkpoint(b, 2, &st), CLM_OK);
	cr_assert_eq(ovl_fill(b, i, 2000), CLM_OK);
	cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
	ovl_compare_committed(
	        a, b, true, "after the second checkpoint", (int) i);
	store_close(a);
	store_close(b);
}

/*
 * A write that failed because the overlay is full sets store_overlay_full,
 * not store_map_full (which would have the writer grow the base, which
 * does not help, instead of checkpointing).
 */
Test(overlay, full_overlay_is_not_a_full_map)
{
	store *a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	store *b = ovl_open(ovl_dir_b, 256 * MIB, 1 * MIB);
	ovl_fill_until_full(a, b);
	cr_assert(store_overlay_full(b));
	cr_assert_not(store_map_full(b),
	        "store_map_full too: the writer would grow the base");
	store_close(a);
	store_close(b);
}

/*
 * The base at max_db_bytes (1 MiB) cannot take what the overlay (16 MiB)
 * holds: the checkpoint fails with RESOURCE_EXHAUSTED, the overlay keeps
 * serving everything and taking writes, the position stays, and a retry
 * fails the same way without losing anything. (Recovering needs a larger
 * max_db_bytes, which only store_open sets, and reopening drops the
 * overlay for the journal to rebuild: not testable here.)
 */
Test(overlay, checkpoint_at_max_db_bytes_keeps_the_overlay)
{
	store *a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	store *b = ovl_open(ovl_dir_b, 1 * MIB, 16 * MIB);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(ovl_fill(b, i, 2000), CLM_OK);
		cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
	}
	struct store_ckpt_stats st;
	cr_assert_eq(store_checkpoint(b, 1, &st), CLM_OK);
	for (unsigned i = 5; i < 800; i++) {
		cr_assert_eq(ovl_fill(b, i, 2000), CLM_OK, "write %u", i);
		cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
	}
	for (uint64_t pos = 2; pos < 4; pos++) {
		clm_err e = store_checkpoint(b, pos, &st);
		cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED,
		        "checkpoint of 1.6 MB into 1 MiB: %s", clm_errname(e));
		cr_assert_not(store_disk_full(b));
		cr_assert_eq(store_position(b), 1);
		ovl_compare_committed(
		        a, b, true, "after a failed checkpoint", (int) pos);
		for (unsigned i = 800 + 10 * (unsigned) pos;
		        i < 810 + 10 * pos; i++) {
			cr_assert_eq(
			        ovl_fill(b, i, 2000), CLM_OK, "write %u", i);
			cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
		}
		ovl_compare_committed(
		        a, b, true, "writes after it", (int) pos);
	}
	store_close(a);
	store_close(b);
}

/* A checkpoint larger than the base's map (4 MiB) grows it. */
Test(overlay, checkpoint_grows_the_base)
{
	store *a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	store *b = ovl_open(ovl_dir_b, 256 * MIB, 32 * MIB);
	for (unsigned i = 0; i < 2500; i++) {
		cr_assert_eq(ovl_fill(b, i, 3500), CLM_OK, "write %u", i);
		cr_assert_eq(ovl_fill_grow(a, i, 3500), CLM_OK);
	}
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(b, 7, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
	cr_assert_gt(st.base_bytes_after, 8 * MIB, "base %llu bytes",
	        (unsigned long long) st.base_bytes_after);
	ovl_compare_committed(a, b, true, "after growing", 0);
	store_close(b);
	b = ovl_open(ovl_dir_b, 256 * MIB, 32 * MIB);
	cr_assert_eq(store_position(b), 7);
	ovl_compare_committed(a, b, true, "reopened", 0);
	store_close(a);
	store_close(b);
}

/*
 * store_overlay_bytes (and the overlay_bytes a checkpoint reports) counts
 * the pages the overlay's tables hold, not its highest page ever used,
 * which an emptied overlay keeps: a writer that checkpoints past a
 * threshold of it would otherwise checkpoint after every batch.
 */
Test(overlay, overlay_bytes_drop_after_a_checkpoint)
{
	store *b = ovl_open(ovl_dir_b, 256 * MIB, 16 * MIB);
	uint64_t empty = store_overlay_bytes(b);
	for (unsigned i = 0; i < 1000; i++) {
		cr_assert_eq(ovl_fill(b, i, 2000), CLM_OK, "write %u", i);
	}
	uint64_t full = store_overlay_bytes(b);
	cr_assert_gt(full, empty + 1000 * 2000, "%llu bytes full, %llu empty",
	        (unsigned long long) full, (unsigned long long) empty);
	struct store_ckpt_stats st;
	cr_assert_eq(store_checkpoint(b, 1, &st), CLM_OK);
	uint64_t after = store_overlay_bytes(b);
	cr_assert_lt(after, full / 4,
	        "%llu bytes in use after the checkpoint emptied the overlay, "
	        "%llu before it, %llu when new",
	        (unsigned long long) after, (unsigned long long) full,
	        (unsigned long long) empty);
	store_close(b);
}
