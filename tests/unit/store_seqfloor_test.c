/*
 * The event seq's floor (store.h, store_event_seq): seqs taken in the
 * overlay and lost with it in a crash are not given again after it, and a
 * clean close leaves no gap.
 *
 * The store is opened inside each test (and the crash in a child of its
 * own): Criterion forks, and LMDB must not be open before the fork.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clm/error.h"
#include "store/store.h"
#include "testdir.h"

static char dir[64];

static void
setup(void)
{
	testdir_make(dir, sizeof(dir), "seqfloor");
}

static void
teardown(void)
{
	testdir_remove(dir);
}

TestSuite(store_seqfloor, .init = setup, .fini = teardown, .timeout = 60);

/* A store on dir with an overlay (map_bytes each), as clmd opens it. */
static store *
open_store(void)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true,
		.map_bytes = 4 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	e = store_overlay_open(s, 4 << 20, err, sizeof(err));
	cr_assert_eq(
	        e, CLM_OK, "store_overlay_open: %s (%s)", clm_errname(e), err);
	return s;
}

/* Takes n event seqs in one committed transaction; returns the last. */
static uint64_t
take_seqs(store *s, int n)
{
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	uint64_t last = 0;
	for (int i = 0; i < n; i++) {
		last = store_next_event_seq(t);
	}
	cr_assert_eq(store_write_commit(t), CLM_OK);
	return last;
}

Test(store_seqfloor, a_crash_never_repeats_a_seq)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* Seqs taken in the overlay, then a crash: no close. */
		close(fds[0]);
		store *s = open_store();
		uint64_t last = take_seqs(s, 3);
		last = take_seqs(s, 5);
		ssize_t w = write(fds[1], &last, sizeof(last));
		_exit(w == sizeof(last) ? 0 : 1);
	}
	close(fds[1]);
	uint64_t last = 0;
	ssize_t r = read(fds[0], &last, sizeof(last));
	close(fds[0]);
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(r, (ssize_t) sizeof(last));
	cr_assert_eq(last, 8, "the child took seqs 1..8, got %llu",
	        (unsigned long long) last);

	store *s = open_store();
	uint64_t next = store_event_seq(s);
	cr_expect_gt(next, last, "seq %llu given again after the crash",
	        (unsigned long long) next);
	uint64_t first = take_seqs(s, 1);
	cr_expect_eq(first, next);
	store_close(s);
}

Test(store_seqfloor, a_clean_close_leaves_no_gap)
{
	store *s = open_store();
	uint64_t last = take_seqs(s, 4);
	cr_assert_eq(last, 4);
	store_close(s);
	s = open_store();
	cr_expect_eq(store_event_seq(s), 5);
	cr_expect_eq(take_seqs(s, 1), 5);
	store_close(s);
}

Test(store_seqfloor, a_floor_that_is_not_a_number_fails_the_open)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/event_seq", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("garbage\n", f);
	fclose(f);
	struct store_opts o = {
		.dir = dir,
		.nosync = true,
		.map_bytes = 4 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	store *s = NULL;
	char err[256] = "";
	cr_expect_neq(store_open(&o, &s, err, sizeof(err)), CLM_OK);
	cr_expect(strstr(err, "event_seq") != NULL, "err: %s", err);
}
