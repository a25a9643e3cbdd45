/*
 * Chunked checkpoints (store_ckpt.c; overlay_fixture.h has the stores and
 * their comparison): the same state and counts as the store without an
 * overlay with 1 to 7 keys per chunk, readers between chunks included; a
 * crash after chunk k completed from the image at the next open; a
 * failed checkpoint retried over a half applied base; a corrupt or
 * missing image while a checkpoint is half applied; a leftover image; a
 * base of many leaf pages, which the checkpoint's cursors walk.
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

/*
 * Checkpoints apply the overlay's keys, in order, through one cursor per
 * table (store_ckpt_cursor_apply), which looks in the leaf page it is on
 * before it descends from the root. Here the base holds enough customers
 * to span a few hundred leaf pages, and one transaction inserts between
 * them, deletes, rewrites records at the same and at a larger size, and
 * deletes keys it has just inserted (a tombstone the base has no key
 * for); checkpointed in chunks, then in one transaction, the base must
 * read as the store without an overlay.
 */
#define BIG_IDS 24000

/* Customer i as the big test writes it in round r. */
static void
big_record(Clm__V1__CustomerRecord *rec, char *id, size_t len, unsigned i,
        unsigned r, char **anon_ids, char *anon)
{
	clm__v1__customer_record__init(rec);
	snprintf(id, len, "m%06u", i);
	rec->customer_id = id;
	rec->cid = i + 1;
	rec->purchases = i % 97 + r;
	if ((i + r) % 3 == 0) {
		/* A larger record: re-inserted rather than copied over. */
		snprintf(anon, 40, "anonymous-visitor-%06u-%u", i, r);
		anon_ids[0] = anon;
		rec->anonymous_ids = anon_ids;
		rec->n_anonymous_ids = 1;
	}
}

/* One write transaction of round r in both stores (0: the base's keys). */
static void
big_round(struct ovl_pair *p, unsigned r)
{
	store_txn *ta, *tb;
	cr_assert_eq(store_write_begin(p->a, &ta), CLM_OK);
	cr_assert_eq(store_write_begin(p->b, &tb), CLM_OK);
	for (unsigned i = 0; i < BIG_IDS; i++) {
		Clm__V1__CustomerRecord rec;
		char id[16], anon[40], *anon_ids[1];
		big_record(&rec, id, sizeof(id), i, r, anon_ids, anon);
		unsigned m = (i + 5 * r) % 8;
		clm_err ea = CLM_OK, eb = CLM_OK;
		if (r == 0 ? i % 2 == 0 : m == 3 || m == 2 || m == 6) {
			ea = store_customer_put(ta, &rec, false);
			eb = store_customer_put(tb, &rec, false);
		} else if (r > 0 && (m == 0 || m == 5)) {
			/* Some of these are not there. */
			ea = store_customer_del(ta, id, false);
			eb = store_customer_del(tb, id, false);
		}
		cr_assert_eq(ea, eb,
		        "round %u, %s: %s without, %s with overlay", r, id,
		        clm_errname(ea), clm_errname(eb));
	}
	/*
	 * A third of the odd ids just put are deleted again: tombstones of
	 * keys that, in round 1, the base never held.
	 */
	for (unsigned i = 1; r > 0 && i < BIG_IDS; i += 2) {
		char id[16];
		snprintf(id, sizeof(id), "m%06u", i);
		unsigned m = (i + 5 * r) % 8;
		if ((m == 2 || m == 3 || m == 6) && i % 3 == 0) {
			cr_assert_eq(
			        store_customer_del(ta, id, false), CLM_OK);
			cr_assert_eq(
			        store_customer_del(tb, id, false), CLM_OK);
		}
	}
	cr_assert_eq(store_write_commit(ta), CLM_OK);
	cr_assert_eq(store_write_commit(tb), CLM_OK);
}

/* Every id reads the same from a and b (committed), as packed bytes. */
static void
big_compare(store *a, store *b, const char *ctx)
{
	store_reader *ra, *rb;
	store_txn *ta, *tb;
	cr_assert_eq(store_reader_new(a, &ra), CLM_OK);
	cr_assert_eq(store_reader_new(b, &rb), CLM_OK);
	cr_assert_eq(store_read_begin(ra, &ta), CLM_OK);
	cr_assert_eq(store_read_begin(rb, &tb), CLM_OK);
	arena ar;
	arena_init(&ar);
	unsigned found = 0;
	for (unsigned i = 0; i < BIG_IDS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "m%06u", i);
		Clm__V1__CustomerRecord *x = NULL, *y = NULL;
		clm_err ea = store_customer_get(ta, id, false, &ar, &x);
		clm_err eb = store_customer_get(tb, id, false, &ar, &y);
		cr_assert_eq(ea, eb, "%s: %s is %s without, %s with overlay",
		        ctx, id, clm_errname(ea), clm_errname(eb));
		if (ea == CLM_OK) {
			size_t nx
			        = clm__v1__customer_record__get_packed_size(x);
			size_t ny
			        = clm__v1__customer_record__get_packed_size(y);
			cr_assert_eq(
			        nx, ny, "%s: %s differs in size", ctx, id);
			unsigned char bx[256], by[256];
			cr_assert_leq(nx, sizeof(bx));
			clm__v1__customer_record__pack(x, bx);
			clm__v1__customer_record__pack(y, by);
			cr_assert_eq(memcmp(bx, by, nx), 0, "%s: %s differs",
			        ctx, id);
			found++;
		}
		arena_reset(&ar);
	}
	arena_fini(&ar);
	store_read_end(ta);
	store_read_end(tb);
	store_reader_free(ra);
	store_reader_free(rb);
	/* Neither all nor none: the rounds put and deleted both. */
	cr_assert_gt(found, BIG_IDS / 4, "%s: %u found", ctx, found);
	cr_assert_lt(found, BIG_IDS, "%s: %u found", ctx, found);
}

Test(overlay, checkpoint_over_many_leaves_matches_the_plain_store)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 12, 64 * MIB);
	big_round(&p, 0);
	ovl_pair_checkpoint(&p);
	big_compare(p.a, p.b, "the base");
	/* Chunks of 333 keys, then the whole overlay in one transaction. */
	store_set_chunk_keys(p.b, 333);
	big_round(&p, 1);
	cr_assert_gt(chunk_overlay_keys(p.b), 10 * 333);
	ovl_pair_checkpoint(&p);
	big_compare(p.a, p.b, "chunked");
	store_set_chunk_keys(p.b, 1u << 30);
	big_round(&p, 2);
	ovl_pair_checkpoint(&p);
	big_compare(p.a, p.b, "in one transaction");
	chunk_reopen(&p, 333);
	big_compare(p.a, p.b, "reopened");
	store_close(p.a);
	store_close(p.b);
}
