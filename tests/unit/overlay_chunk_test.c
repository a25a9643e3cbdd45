/*
 * Chunked checkpoints (store_ckpt.c; overlay_fixture.h has the stores and
 * their comparison): the same state and counts as the store without an
 * overlay with 1 to 7 keys per chunk, readers between chunks included; a
 * crash after chunk k completed from the image at the next open; a
 * failed checkpoint retried over a half applied base; a corrupt or
 * missing image while a checkpoint is half applied; a leftover image.
 */
#define _GNU_SOURCE /* dlsym(RTLD_NEXT) */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay_fixture.h"

TestSuite(overlay, .init = ovl_setup, .fini = ovl_teardown, .timeout = 120);

/*
 * The test's hook into LMDB: this executable's mdb_txn_commit wraps
 * LMDB's (RTLD_NEXT). Armed, it
 * counts the commits of the base (the environment without MDB_WRITEMAP)
 * and either compares fresh readers of both stores after each one
 * (compare), or makes commit number fail_at fail with EIO after aborting
 * it, as if the process had died there. File-private statics: the hook
 * has no argument to carry them.
 */
static struct {
	bool armed, compare, inside;
	int commits, fail_at;
	store *a, *b;
} hook;

int
mdb_txn_commit(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_commit");
	}
	unsigned flags = 0;
	mdb_env_get_flags(mdb_txn_env(txn), &flags);
	if (!hook.armed || hook.inside || (flags & MDB_WRITEMAP)) {
		return real(txn);
	}
	hook.commits++;
	if (hook.commits == hook.fail_at) {
		mdb_txn_abort(txn);
		return EIO;
	}
	int rc = real(txn);
	if (rc == 0 && hook.compare) {
		hook.inside = true;
		ovl_compare_committed(
		        hook.a, hook.b, true, "between chunks", hook.commits);
		hook.inside = false;
	}
	return rc;
}

/* Opens dir's store with an overlay and chunk keys; the error in err. */
static clm_err
chunk_open(
        const char *dir, uint64_t keys, store **out, char *err, size_t errlen)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true,
		.map_bytes = 4 * MIB,
		.max_db_bytes = 256 * MIB,
		.max_readers = 16,
	};
	*out = NULL;
	clm_err e = store_open(&o, out, err, errlen);
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	store_set_chunk_keys(*out, keys);
	e = store_overlay_open(*out, 64 * MIB, err, errlen);
	if (e != CLM_OK) {
		store_close(*out);
		*out = NULL;
	}
	return e;
}

static void
chunk_reopen(struct ovl_pair *p, uint64_t keys)
{
	store_close(p->b);
	char err[256] = "";
	clm_err e = chunk_open(ovl_dir_b, keys, &p->b, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "reopen: %s (%s)", clm_errname(e), err);
}

static uint64_t
chunk_overlay_keys(store *s)
{
	uint64_t bytes, keys;
	store_overlay_size(s, &bytes, &keys);
	return keys;
}

static bool
chunk_image_exists(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", ovl_dir_b, name);
	return access(path, F_OK) == 0;
}

/* Checkpoints B with commit number fail_at failing; asserts it failed. */
static void
chunk_fail_at(struct ovl_pair *p, int fail_at)
{
	hook = (__typeof__(hook)) { .armed = true, .fail_at = fail_at };
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(p->b, p->pos + 1, &st);
	hook.armed = false;
	cr_assert_neq(e, CLM_OK, "the checkpoint did not fail at commit %d",
	        fail_at);
	cr_assert_eq(store_position(p->b), p->pos);
}

Test(overlay, chunked_checkpoints_match_the_plain_store)
{
	for (uint64_t keys = 1; keys <= 7; keys++) {
		struct ovl_pair p;
		ovl_pair_open(&p, 100 + keys, 64 * MIB);
		store_set_chunk_keys(p.b, keys);
		for (int step = 0; step < 120; step++) {
			ovl_pair_txn(&p, step, true);
		}
		/* Readers between the chunks of a large one. */
		for (int step = 0; step < 30; step++) {
			ovl_pair_txn(&p, 1000 + step, false);
		}
		/* A background one the steps left half way goes first. */
		while (store_ckpt_frozen(p.b)) {
			ovl_pair_stage(&p);
		}
		uint64_t okeys = chunk_overlay_keys(p.b);
		cr_assert_gt(okeys, 2 * keys, "only %llu keys",
		        (unsigned long long) okeys);
		hook = (__typeof__(hook)) {
			.armed = true, .compare = true, .a = p.a, .b = p.b
		};
		ovl_pair_checkpoint(&p);
		int commits = hook.commits;
		hook.armed = false;
		cr_assert_eq((uint64_t) commits, (okeys + keys - 1) / keys,
		        "%d commits for %llu keys by %llu", commits,
		        (unsigned long long) okeys, (unsigned long long) keys);
		cr_assert(!chunk_image_exists("checkpoint.img"));
		ovl_compare_committed(p.a, p.b, true, "after", (int) keys);
		chunk_reopen(&p, keys);
		cr_assert_eq(store_position(p.b), p.pos);
		ovl_compare_committed(p.a, p.b, true, "reopened", (int) keys);
		store_close(p.a);
		store_close(p.b);
	}
}

/*
 * A checkpoint that dies after chunk k (its next commit fails, which
 * leaves the files as a crash there would): readers are still right; a
 * retry, or the next open, completes it.
 */
Test(overlay, chunked_checkpoint_cut_after_chunk_k)
{
	const uint64_t keys = 3;
	struct ovl_pair p;
	ovl_pair_open(&p, 77, 64 * MIB);
	store_set_chunk_keys(p.b, keys);
	for (int round = 0; round < 12; round++) {
		for (int step = 0; step < 15; step++) {
			ovl_pair_txn(&p, round * 100 + step, false);
		}
		uint64_t chunks = (chunk_overlay_keys(p.b) + keys - 1) / keys;
		cr_assert_geq(chunks, 2);
		int k = 1 + (int) ovl_rng_below(&p.rng, (unsigned) chunks - 1);
		if (round == 0) {
			k = (int) chunks
			        - 1; /* every key moved but the last */
		}
		chunk_fail_at(&p, k + 1);
		cr_assert(chunk_image_exists("checkpoint.img"));
		ovl_compare_committed(p.a, p.b, true, "half applied", round);
		if (round % 3 == 1) {
			/* Failing again elsewhere, then retried. */
			chunk_fail_at(&p, 1 + (round % 2));
			ovl_compare_committed(
			        p.a, p.b, true, "failed twice", round);
		}
		if (round % 2 == 0) {
			/* The crash: the next open completes it. */
			chunk_reopen(&p, 1 + (uint64_t) round % 5);
			p.pos++;
			store_set_chunk_keys(p.b, keys);
		} else {
			ovl_pair_checkpoint(&p);
		}
		cr_assert_eq(store_position(p.b), p.pos, "round %d", round);
		cr_assert(!chunk_image_exists("checkpoint.img"));
		ovl_compare_committed(p.a, p.b, true, "completed", round);
	}
	store_close(p.a);
	store_close(p.b);
}

/* Leaves B with a checkpoint half applied (chunk 1 of 2 or more). */
static void
chunk_half_applied(struct ovl_pair *p)
{
	ovl_pair_open(p, 9, 64 * MIB);
	store_set_chunk_keys(p->b, 2);
	for (int step = 0; step < 20; step++) {
		ovl_pair_txn(p, step, false);
	}
	cr_assert_gt(chunk_overlay_keys(p->b), 4);
	chunk_fail_at(p, 2);
	store_close(p->b);
	p->b = NULL;
}

static void
chunk_expect_data_loss(void)
{
	store *b;
	char err[256] = "";
	clm_err e = chunk_open(ovl_dir_b, 2, &b, err, sizeof(err));
	cr_assert_eq(e, CLM_DATA_LOSS, "open: %s (%s)", clm_errname(e), err);
	cr_assert(strstr(err, "checkpoint.img") != NULL, "err: %s", err);
}

Test(overlay, chunked_checkpoint_corrupt_image_is_data_loss)
{
	struct ovl_pair p;
	chunk_half_applied(&p);
	char path[128];
	snprintf(path, sizeof(path), "%s/checkpoint.img", ovl_dir_b);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	unsigned char c;
	off_t at = st.st_size / 2;
	cr_assert_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x40;
	cr_assert_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
	chunk_expect_data_loss();
	cr_assert_eq(truncate(path, st.st_size - 9), 0);
	chunk_expect_data_loss();
	cr_assert_eq(unlink(path), 0);
	chunk_expect_data_loss();
	store_close(p.a);
}

Test(overlay, leftover_checkpoint_image_is_removed)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 11, 64 * MIB);
	store_set_chunk_keys(p.b, 2);
	for (int step = 0; step < 20; step++) {
		ovl_pair_txn(&p, step, false);
	}
	ovl_pair_checkpoint(&p);
	char *want = ovl_dump_committed(p.b, true);
	for (int step = 20; step < 40; step++) {
		ovl_pair_txn(&p, step, false);
	}
	/* The image is written, chunk 1 never commits. */
	chunk_fail_at(&p, 1);
	cr_assert(chunk_image_exists("checkpoint.img"));
	char path[128];
	snprintf(path, sizeof(path), "%s/checkpoint.img.tmp", ovl_dir_b);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("torn", f);
	fclose(f);
	chunk_reopen(&p, 2);
	cr_assert(!chunk_image_exists("checkpoint.img"));
	cr_assert(!chunk_image_exists("checkpoint.img.tmp"));
	cr_assert_eq(store_position(p.b), p.pos);
	char *got = ovl_dump_committed(p.b, true);
	ovl_expect_same(want, got, "the base as of the last checkpoint", 0);
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}
