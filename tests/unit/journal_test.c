/*
 * Unit tests of server/journal/journal.c: appending, group commit, reading
 * back, segments, the view's base, truncation, and recovery from torn,
 * unsynced, stale and corrupt content.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "journal/journal_internal.h"
#include "testdir.h"

#define SEG1 "00000000000000000001.jnl"

/* The entries journal_read handed out, copied. */
struct seen {
	size_t n;
	uint64_t pos[4096];
	uint32_t type[4096];
	char data[4096][64];
	size_t stop_after; /* 0: never stop */
};

static int
seen_add(void *arg, const struct journal_entry *e)
{
	struct seen *s = arg;
	cr_assert_lt(s->n, 4096);
	cr_assert_lt(e->len, 64);
	s->pos[s->n] = e->position;
	s->type[s->n] = e->type;
	memcpy(s->data[s->n], e->data, e->len);
	s->data[s->n][e->len] = '\0';
	s->n++;
	return s->stop_after != 0 && s->n == s->stop_after;
}

static journal *
jopen(const char *dir, uint64_t base, bool sync, uint64_t segment_bytes)
{
	struct journal_opts o = { .dir = dir,
		.segment_bytes = segment_bytes,
		.sync = sync,
		.base = base };
	journal *j = NULL;
	char err[512] = "";
	clm_err rc = journal_open(&o, &j, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_open: %s: %s", clm_errname(rc), err);
	return j;
}

/* Opens and expects failure rc; returns its message in err. */
static void
jopen_fails(const char *dir, uint64_t base, bool sync, clm_err want, char *err,
        size_t errlen)
{
	struct journal_opts o = { .dir = dir, .sync = sync, .base = base };
	journal *j = NULL;
	clm_err rc = journal_open(&o, &j, err, errlen);
	cr_assert_eq(rc, want, "journal_open gave %s (%s), want %s",
	        clm_errname(rc), err, clm_errname(want));
	cr_assert_null(j);
}

/* Appends n entries "e<pos>" of type pos % 7 and commits them. */
static void
jbatch(journal *j, int n)
{
	char err[512] = "";
	for (int i = 0; i < n; i++) {
		uint64_t want = journal_position(j) + 1 + (uint64_t) i, pos;
		char data[64];
		int len = snprintf(data, sizeof(data), "e%llu",
		        (unsigned long long) want);
		cr_assert_eq(journal_append(j, (uint32_t) (want % 7), data,
		                     (size_t) len, &pos),
		        CLM_OK);
		cr_assert_eq(pos, want);
	}
	clm_err rc = journal_commit(j, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_commit: %s", err);
}

/* Reads from from on, and checks the entries are from..to as jbatch
 * wrote them. */
static void
jexpect(journal *j, uint64_t from, uint64_t to)
{
	static struct seen s;
	char err[512] = "";
	memset(&s, 0, sizeof(s));
	clm_err rc = journal_read(j, from, seen_add, &s, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_read: %s", err);
	cr_assert_eq(s.n, to + 1 - from, "read %zu entries, want %llu", s.n,
	        (unsigned long long) (to + 1 - from));
	for (size_t i = 0; i < s.n; i++) {
		char want[64];
		snprintf(want, sizeof(want), "e%llu",
		        (unsigned long long) (from + i));
		cr_assert_eq(s.pos[i], from + i);
		cr_assert_eq(s.type[i], (from + i) % 7);
		cr_assert_str_eq(s.data[i], want);
	}
}

static off_t
fsize(const char *dir, const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(stat(path, &st), 0, "stat %s", path);
	return st.st_size;
}

/* Counts the files in dir whose name ends in ext. */
static int
count_files(const char *dir, const char *ext)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), el = strlen(ext);
		n += l > el && strcmp(e->d_name + l - el, ext) == 0;
	}
	closedir(d);
	return n;
}

static void
file_exists(const char *dir, const char *name, bool want)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(access(path, F_OK) == 0, want, "%s %s", path,
	        want ? "missing" : "still there");
}

/* Overwrites one byte at off of dir/name with its complement. */
static void
flip(const char *dir, const char *name, off_t off)
{
	char path[256];
	unsigned char c;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, off), 1);
	c = (unsigned char) ~c;
	cr_assert_eq(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void
cut_at(const char *dir, const char *name, off_t off)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(truncate(path, off), 0);
}

Test(journal, round_trip_and_reopen)
{
	char dir[64], sub[128];
	testdir_make(dir, sizeof(dir), "journal");
	snprintf(sub, sizeof(sub), "%s/j", dir);
	journal *j = jopen(sub, 0, true, 0);
	struct stat st;
	cr_assert_eq(stat(sub, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0700);
	cr_expect_eq(journal_position(j), 0);
	jexpect(j, 1, 0);
	jbatch(j, 3);
	cr_expect_eq(journal_position(j), 3);
	jbatch(j, 2);
	cr_expect_eq(journal_position(j), 5);
	jexpect(j, 1, 5);
	jexpect(j, 4, 5);
	jexpect(j, 9, 8); /* past the end: nothing */

	/* fn stops the read. */
	static struct seen s;
	char err[512];
	s.stop_after = 2;
	cr_assert_eq(
	        journal_read(j, 2, seen_add, &s, err, sizeof(err)), CLM_OK);
	cr_expect_eq(s.n, 2);
	cr_expect_eq(s.pos[1], 3);

	/* An empty commit writes nothing. */
	off_t size = fsize(sub, SEG1);
	cr_assert_eq(journal_commit(j, err, sizeof(err)), CLM_OK);
	cr_expect_eq(fsize(sub, SEG1), size);
	journal_close(j);

	j = jopen(sub, 0, true, 0);
	cr_expect_eq(journal_position(j), 5);
	jexpect(j, 1, 5);
	jbatch(j, 1);
	jexpect(j, 1, 6);
	journal_close(j);
	journal_close(NULL);
	testdir_remove(dir);
}

Test(journal, abandon_gives_positions_back)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 0);
	jbatch(j, 2);
	uint64_t pos;
	cr_assert_eq(journal_append(j, 1, "x", 1, &pos), CLM_OK);
	cr_assert_eq(pos, 3);
	cr_expect_eq(journal_read(j, 1, seen_add, NULL, err, sizeof(err)),
	        CLM_FAILED_PRECONDITION);
	journal_abandon(j);
	cr_expect_eq(journal_position(j), 2);
	jbatch(j, 1); /* gets position 3 again */
	journal_close(j);
	j = jopen(dir, 0, true, 0);
	jexpect(j, 1, 3);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, positions_continue_across_segments)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 1024);
	for (int i = 0; i < 40; i++) {
		jbatch(j, 1 + i % 5);
	}
	uint64_t last = journal_position(j);
	cr_assert_eq(last, 8 * 15);
	cr_expect_gt(count_files(dir, ".jnl"), 3);
	jexpect(j, 1, last);
	jexpect(j, 77, last);
	journal_close(j);

	j = jopen(dir, 0, false, 1024);
	cr_expect_eq(journal_position(j), last);
	jbatch(j, 4);
	jexpect(j, 1, last + 4);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, base_and_truncate_before)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	/* An empty journal continues after the view. */
	journal *j = jopen(dir, 10, true, 512);
	cr_expect_eq(journal_position(j), 10);
	jbatch(j, 5);
	file_exists(dir, "00000000000000000011.jnl", true);
	for (int i = 0; i < 30; i++) {
		jbatch(j, 3);
	}
	uint64_t last = journal_position(j);
	cr_assert_eq(last, 10 + 5 + 90);
	int before = count_files(dir, ".jnl");
	cr_assert_gt(before, 4);

	cr_assert_eq(journal_truncate_before(j, 60, err, sizeof(err)), CLM_OK);
	int after = count_files(dir, ".jnl");
	cr_expect_lt(after, before);
	cr_expect_eq(count_files(dir, ".spare"), 2);
	file_exists(dir, "00000000000000000011.jnl", false);
	/* Truncated entries are gone; everything from 60 on is there. */
	cr_expect_eq(journal_read(j, 11, seen_add, NULL, err, sizeof(err)),
	        CLM_OUT_OF_RANGE);
	cr_expect(strstr(err, "was truncated") != NULL, "%s", err);
	jexpect(j, 60, last);
	jbatch(j, 2);
	journal_close(j);

	/* Reopened with the view at 59: positions go on, entries <= base
	 * are skipped. */
	j = jopen(dir, 59, true, 512);
	cr_expect_eq(journal_position(j), last + 2);
	jexpect(j, 60, last + 2);
	/* From 1 means from base + 1. */
	static struct seen s;
	cr_assert_eq(
	        journal_read(j, 1, seen_add, &s, err, sizeof(err)), CLM_OK);
	cr_expect_eq(s.n, last + 2 - 59);
	cr_expect_eq(s.pos[0], 60);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, read_skips_entries_up_to_base)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 0);
	jbatch(j, 8);
	journal_close(j);
	j = jopen(dir, 5, true, 0);
	cr_expect_eq(journal_position(j), 8);
	static struct seen s;
	char err[512];
	cr_assert_eq(
	        journal_read(j, 1, seen_add, &s, err, sizeof(err)), CLM_OK);
	cr_assert_eq(s.n, 3);
	cr_expect_eq(s.pos[0], 6);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, view_ahead_of_the_journal)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, false, 0);
	jbatch(j, 4);
	journal_close(j);
	/* Everything checkpointed, and more (an os-mode tail lost): the
	 * next position follows the view, and a reopen finds no gap. */
	j = jopen(dir, 9, true, 0);
	cr_expect_eq(journal_position(j), 9);
	cr_expect_eq(count_files(dir, ".jnl"), 0);
	jbatch(j, 2);
	journal_close(j);
	j = jopen(dir, 9, true, 0);
	cr_expect_eq(journal_position(j), 11);
	jexpect(j, 10, 11);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, journal_starting_after_the_view_is_data_loss)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 20, true, 0);
	jbatch(j, 3);
	journal_close(j);
	jopen_fails(dir, 7, true, CLM_DATA_LOSS, err, sizeof(err));
	cr_expect(
	        strstr(err, "journal starts at 21, the view is at 7") != NULL,
	        "%s", err);
	testdir_remove(dir);
}

/*
 * Three batches of 4 entries in one segment; ends[i] is the offset where
 * batch i ends (ends[0]: the segment header's end). 32 zero bytes follow
 * the last batch.
 */
static void
three_batches(const char *dir, bool sync, off_t ends[4])
{
	journal *j = jopen(dir, 0, sync, 0);
	ends[0] = 32;
	for (int i = 1; i <= 3; i++) {
		jbatch(j, 4);
		ends[i] = fsize(dir, SEG1) - 32; /* the zero header after */
	}
	journal_close(j);
}

/* Checks the journal recovered exactly the first two batches, and the
 * next commit reuses the cut positions. */
static void
expect_two_batches(const char *dir, off_t ends[4])
{
	journal *j = jopen(dir, 0, true, 0);
	cr_expect_eq(journal_position(j), 8);
	cr_expect_eq(fsize(dir, SEG1), ends[2]);
	jexpect(j, 1, 8);
	jbatch(j, 1);
	cr_expect_eq(journal_position(j), 9);
	journal_close(j);
	j = jopen(dir, 0, true, 0);
	jexpect(j, 1, 9);
	journal_close(j);
}

Test(journal, torn_tail_is_cut)
{
	char dir[64];
	off_t ends[4];
	/* The last batch cut short. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	cut_at(dir, SEG1, ends[2] + (ends[3] - ends[2]) / 2);
	expect_two_batches(dir, ends);
	testdir_remove(dir);
	/* A byte of the last batch's body, then of its header. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	flip(dir, SEG1, ends[3] - 12);
	expect_two_batches(dir, ends);
	testdir_remove(dir);
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	flip(dir, SEG1, ends[2] + 9);
	expect_two_batches(dir, ends);
	testdir_remove(dir);
	/* Garbage after the last batch (where the next would go): all three
	 * stay. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, SEG1);
	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	const char *junk = "CMJB this is not a batch at all, just bytes";
	cr_assert_eq(pwrite(fd, junk, strlen(junk), ends[3]),
	        (ssize_t) strlen(junk));
	close(fd);
	journal *j = jopen(dir, 0, true, 0);
	cr_expect_eq(journal_position(j), 12);
	cr_expect_eq(fsize(dir, SEG1), ends[3]);
	jexpect(j, 1, 12);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, corruption_before_synced_data_is_data_loss)
{
	char dir[64], err[512], want[128];
	off_t ends[4];
	/* In the second batch's body. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	flip(dir, SEG1, ends[1] + 40);
	jopen_fails(dir, 0, true, CLM_DATA_LOSS, err, sizeof(err));
	snprintf(want, sizeof(want), "%s' is corrupt at offset %lld", SEG1,
	        (long long) ends[1]);
	cr_expect(strstr(err, want) != NULL, "%s", err);
	cr_expect(strstr(err, "position 5 on is lost") != NULL, "%s", err);
	/* Nothing was cut: the evidence stays for a person to look at. */
	cr_expect_eq(fsize(dir, SEG1), ends[3] + 32);
	/* Opening without sync does not change the verdict: the batches
	 * say how they were written. */
	jopen_fails(dir, 0, false, CLM_DATA_LOSS, err, sizeof(err));
	testdir_remove(dir);
	/* In the first batch's header. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	flip(dir, SEG1, ends[0] + 3);
	jopen_fails(dir, 0, true, CLM_DATA_LOSS, err, sizeof(err));
	snprintf(want, sizeof(want), "%s' is corrupt at offset 32", SEG1);
	cr_expect(strstr(err, want) != NULL, "%s", err);
	testdir_remove(dir);
	/* The segment header. */
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	flip(dir, SEG1, 9);
	jopen_fails(dir, 0, true, CLM_DATA_LOSS, err, sizeof(err));
	testdir_remove(dir);
}

Test(journal, unsynced_corruption_is_a_tail_cut)
{
	char dir[64];
	off_t ends[4];
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, false, ends);
	flip(dir, SEG1, ends[1] + 40);
	/* Opened in either mode: batch 2 and everything after it is an
	 * unsynced tail, lost as a power loss may lose it. */
	journal *j = jopen(dir, 0, true, 0);
	cr_expect_eq(journal_position(j), 4);
	cr_expect_eq(fsize(dir, SEG1), ends[1]);
	jexpect(j, 1, 4);
	jbatch(j, 2);
	journal_close(j);
	j = jopen(dir, 0, false, 0);
	jexpect(j, 1, 6);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, unsynced_gap_before_a_later_segment_is_a_tail_cut)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, false, 200);
	for (int i = 0; i < 6; i++) {
		jbatch(j, 3);
	}
	journal_close(j);
	int segs = count_files(dir, ".jnl");
	cr_assert_gt(segs, 2);
	/* The first segment lost its last batch (unsynced, os mode): the
	 * segments after it are cut. */
	off_t size = fsize(dir, SEG1);
	cut_at(dir, SEG1, size - 32 - 8);
	j = jopen(dir, 0, false, 200);
	cr_expect_lt(journal_position(j), 18);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	jexpect(j, 1, journal_position(j));
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, synced_gap_before_a_later_segment_is_data_loss)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 200);
	for (int i = 0; i < 6; i++) {
		jbatch(j, 3);
	}
	journal_close(j);
	cut_at(dir, SEG1, fsize(dir, SEG1) - 32 - 8);
	jopen_fails(dir, 0, true, CLM_DATA_LOSS, err, sizeof(err));
	cr_expect(strstr(err, SEG1) != NULL, "%s", err);
	testdir_remove(dir);
}

Test(journal, recycled_segments_replay_no_stale_entries)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 600);
	for (int i = 0; i < 20; i++) {
		jbatch(j, 6);
	}
	cr_assert_eq(journal_truncate_before(
	                     j, journal_position(j) + 1, err, sizeof(err)),
	        CLM_OK);
	cr_assert_eq(count_files(dir, ".spare"), 2);
	cr_assert_eq(count_files(dir, ".jnl"), 1);
	/* The view is at first - 1 from now on. */
	uint64_t first = journal_position(j) + 1;
	/* Fill the last segment, then switch into a spare with one small
	 * batch: the rest of the spare is stale batches. */
	while (count_files(dir, ".spare") == 2) {
		jbatch(j, 1);
	}
	cr_expect_eq(count_files(dir, ".spare"), 1);
	uint64_t last = journal_position(j);
	char name[64];
	snprintf(name, sizeof(name), "%020llu.jnl", (unsigned long long) last);
	off_t size = fsize(dir, name); /* the recycled one, with stale bytes */
	journal_close(j);
	j = jopen(dir, first - 1, true, 600);
	cr_expect_eq(journal_position(j), last);
	jexpect(j, first, last);
	cr_expect_eq(fsize(dir, name), size); /* no cut, still recycled */
	/* Writing on over the stale content, and reopening again. */
	for (int i = 0; i < 30; i++) {
		jbatch(j, 2);
	}
	last = journal_position(j);
	cr_expect_eq(count_files(dir, ".spare"), 0);
	journal_close(j);
	j = jopen(dir, first - 1, true, 600);
	cr_expect_eq(journal_position(j), last);
	jexpect(j, first, last);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal, leftover_tmp_and_extra_spares_are_removed)
{
	char dir[64], path[256];
	testdir_make(dir, sizeof(dir), "journal");
	const char *names[] = { "00000000000000000007.tmp",
		"00000000000000000001.spare", "00000000000000000002.spare",
		"00000000000000000003.spare", "unrelated.txt" };
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fclose(f);
	}
	journal *j = jopen(dir, 0, true, 0);
	cr_expect_eq(count_files(dir, ".tmp"), 0);
	cr_expect_eq(count_files(dir, ".spare"), 2);
	file_exists(dir, "unrelated.txt", true);
	journal_close(j);
	testdir_remove(dir);
}

/*
 * A write that fails half way: RLIMIT_FSIZE makes the kernel write part of
 * the batch and then refuse (EFBIG), as a full disk does with ENOSPC.
 * Criterion runs each test in its own process, so the limit stays here.
 */
Test(journal, failed_commit_counts_for_nothing)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, true, 0);
	jbatch(j, 2);
	off_t size = fsize(dir, SEG1);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t) size + 100;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

	char big[60];
	memset(big, 'b', sizeof(big));
	uint64_t pos;
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(
		        journal_append(j, 1, big, sizeof(big), &pos), CLM_OK);
	}
	cr_assert_eq(pos, 7);
	clm_err rc = journal_commit(j, err, sizeof(err));
	cr_expect_eq(rc, CLM_RESOURCE_EXHAUSTED, "%s", clm_errname(rc));
	cr_expect(strstr(err, "disk full") != NULL, "%s", err);
	cr_expect(strstr(err, SEG1) != NULL, "%s", err);
	cr_expect_eq(fsize(dir, SEG1), size - 32); /* back to the end */
	cr_expect_eq(journal_position(j), 2);

	/* Space returns: the positions are reused, and the batch counts. */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	jbatch(j, 3);
	cr_expect_eq(journal_position(j), 5);
	journal_close(j);
	j = jopen(dir, 0, true, 0);
	jexpect(j, 1, 5);
	journal_close(j);
	testdir_remove(dir);
}

/* Copies bytes [from, to) of src/name to dst/dname at off. */
static void
copy_range(const char *src, const char *name, off_t from, off_t to,
        const char *dst, const char *dname, off_t off)
{
	char path[256], buf[4096];
	cr_assert_leq(to - from, (off_t) sizeof(buf));
	snprintf(path, sizeof(path), "%s/%s", src, name);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, (size_t) (to - from), from), to - from);
	close(fd);
	snprintf(path, sizeof(path), "%s/%s", dst, dname);
	fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, buf, (size_t) (to - from), off), to - from);
	close(fd);
}

/*
 * Synced batches of an older incarnation right after the end of the log (a
 * recycled segment whose zero header did not reach the disk) end the log:
 * not replayed, not data loss; they fail the checksums of this incarnation,
 * so the segment is cut there like a torn batch.
 */
Test(journal, stale_batches_after_the_end_are_not_replayed)
{
	char a[64], b[64];
	off_t ends[4];
	const char *seg13 = "00000000000000000013.jnl";
	testdir_make(a, sizeof(a), "journal");
	testdir_make(b, sizeof(b), "journal");
	three_batches(a, true, ends); /* positions 1 .. 12 */
	journal *j = jopen(b, 12, true, 0);
	jbatch(j, 4); /* 13 .. 16 */
	journal_close(j);
	off_t end = fsize(b, seg13) - 32;
	copy_range(a, SEG1, ends[1], ends[3], b, seg13, end);
	off_t size = fsize(b, seg13);
	cr_assert_gt(size, end + 32);

	j = jopen(b, 12, true, 0);
	cr_expect_eq(journal_position(j), 16);
	jexpect(j, 13, 16);
	cr_expect_eq(fsize(b, seg13), end);
	jbatch(j, 1);
	journal_close(j);
	j = jopen(b, 12, true, 0);
	jexpect(j, 13, 17);
	journal_close(j);
	testdir_remove(a);
	testdir_remove(b);
}

Test(journal, newer_format_version_is_refused)
{
	char dir[64], err[512];
	off_t ends[4];
	testdir_make(dir, sizeof(dir), "journal");
	three_batches(dir, true, ends);
	/* Version 2, header checksum and all: a later clmd's journal. */
	char path[256];
	unsigned char h[32];
	snprintf(path, sizeof(path), "%s/%s", dir, SEG1);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, h, sizeof(h), 0), 32);
	h[4] = 2;
	cr_assert_eq(pwrite(fd, h, sizeof(h), 0), 32);
	close(fd);
	jopen_fails(dir, 0, true, CLM_FAILED_PRECONDITION, err, sizeof(err));
	cr_expect(strstr(err, "format version 2") != NULL, "%s", err);
	testdir_remove(dir);
}

/* Counts what journal_read hands out. */
static int
count_entry(void *arg, const struct journal_entry *e)
{
	(void) e;
	(*(uint64_t *) arg)++;
	return 0;
}

/*
 * A client's entries that carry whole batch headers, checksummed as the
 * format says but without the segment's incarnation (which a client cannot
 * know), with a position far past the log and the flag flags. Once such
 * entries lie in the stale tail of a recycled segment, past where the log
 * stops, recovery must not take them for later data: neither data loss
 * (flag synced) nor a cut that deletes the later segments (no flag).
 */
Test(journal, forged_batches_in_entry_data_are_not_later_data)
{
	for (uint32_t flags = 0; flags <= JOURNAL_SYNCED; flags++) {
		char dir[64], err[512];
		testdir_make(dir, sizeof(dir), "journal");
		unsigned char forged[48] = { 0 };
		journal_put32(forged, JOURNAL_BATCH_MAGIC);
		journal_put32(forged + 4, flags);
		journal_put64(forged + 8, 1ull << 40);
		journal_put32(forged + 16, 1);
		journal_put32(forged + 20, 16);
		journal_put64(
		        forged + 40, 1ull << 40); /* the entry's position */
		journal_put32(forged + 24, journal_crc(forged + 32, 16));
		journal_put32(forged + 28, journal_crc(forged, 28));
		static unsigned char data[16000];
		memset(data, 'x', sizeof(data));
		/* At every offset modulo 8 across the entries. */
		for (size_t k = 0; (k + 1) * 49 <= sizeof(data); k++) {
			memcpy(data + k * 49, forged, sizeof(forged));
		}
		journal *j = jopen(dir, 0, true, 4096);
		uint64_t pos;
		for (int i = 0; i < 6; i++) {
			cr_assert_eq(
			        journal_append(j, 1, data, sizeof(data), &pos),
			        CLM_OK);
			cr_assert_eq(journal_commit(j, err, sizeof(err)),
			        CLM_OK, "%s", err);
		}
		cr_assert_eq(journal_truncate_before(
		                     j, journal_position(j), err, sizeof(err)),
		        CLM_OK);
		/* Small entries into the recycled segments, past the first. */
		for (int i = 0; i < 100; i++) {
			cr_assert_eq(journal_append(j, 2, "small", 5, &pos),
			        CLM_OK);
			cr_assert_eq(journal_commit(j, err, sizeof(err)),
			        CLM_OK, "%s", err);
		}
		uint64_t last = journal_position(j);
		int segs = count_files(dir, ".jnl");
		cr_assert_gt(segs, 2);
		journal_close(j);

		struct journal_opts o = { .dir = dir,
			.segment_bytes = 4096,
			.sync = true,
			.base = 5 };
		j = NULL;
		clm_err rc = journal_open(&o, &j, err, sizeof(err));
		cr_assert_eq(rc, CLM_OK, "flags %u: %s: %s", flags,
		        clm_errname(rc), err);
		cr_expect_eq(journal_position(j), last, "flags %u", flags);
		cr_expect_eq(
		        count_files(dir, ".jnl"), segs, "flags %u", flags);
		uint64_t n = 0;
		cr_assert_eq(
		        journal_read(j, 1, count_entry, &n, err, sizeof(err)),
		        CLM_OK, "%s", err);
		cr_expect_eq(n, last - 5, "flags %u", flags);
		journal_close(j);
		testdir_remove(dir);
	}
}

/*
 * Written with sync false into two segments, then with sync true: an open
 * with sync syncs every segment, so a power loss can no longer shorten the
 * first. If it does anyway (simulated here), the later segments hold synced
 * batches: recovery must refuse (data loss) rather than cut the first
 * segment and delete them with acknowledged entries.
 */
Test(journal, os_then_full_lost_os_tail_before_synced_batches_is_data_loss)
{
	char dir[64], err[512];
	char d[200];
	memset(d, 'a', sizeof(d));
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, 0, false, 1024);
	uint64_t pos;
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(journal_append(j, 1, d, sizeof(d), &pos), CLM_OK);
		cr_assert_eq(journal_commit(j, err, sizeof(err)), CLM_OK);
	}
	journal_close(j);
	cr_assert_eq(count_files(dir, ".jnl"), 2);
	j = jopen(dir, 0, true, 1024);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(journal_append(j, 1, d, sizeof(d), &pos), CLM_OK);
		cr_assert_eq(journal_commit(j, err, sizeof(err)), CLM_OK);
	}
	journal_close(j);
	int segs = count_files(dir, ".jnl");
	cr_assert_geq(segs, 2);
	/* The first segment's last (os) batch is lost. */
	off_t batch = 32 + 16 + 200;
	cut_at(dir, SEG1, 32 + 3 * batch);
	jopen_fails(dir, 0, true, CLM_DATA_LOSS, err, sizeof(err));
	cr_expect(strstr(err, SEG1) != NULL, "%s", err);
	cr_expect(strstr(err, "position 4 on is lost") != NULL, "%s", err);
	/* Nothing deleted or cut: the evidence stays. */
	cr_expect_eq(count_files(dir, ".jnl"), segs);
	cr_expect_eq(fsize(dir, SEG1), 32 + 3 * batch);
	testdir_remove(dir);
}

/* Positions never wrap: the writer stops short of UINT64_MAX - 1. */
Test(journal, positions_stop_before_the_top)
{
	char dir[64], err[512];
	testdir_make(dir, sizeof(dir), "journal");
	journal *j = jopen(dir, UINT64_MAX - 3, true, 0);
	uint64_t pos;
	cr_assert_eq(journal_append(j, 1, "a", 1, &pos), CLM_OK);
	cr_expect_eq(pos, UINT64_MAX - 2);
	cr_expect_eq(journal_append(j, 1, "b", 1, &pos), CLM_OUT_OF_RANGE);
	cr_assert_eq(journal_commit(j, err, sizeof(err)), CLM_OK, "%s", err);
	cr_expect_eq(journal_position(j), UINT64_MAX - 2);
	journal_close(j);
	j = jopen(dir, UINT64_MAX - 3, true, 0);
	cr_expect_eq(journal_position(j), UINT64_MAX - 2);
	journal_close(j);
	testdir_remove(dir);
}

/*
 * A batch read from disk whose positions run past UINT64_MAX - 1 (here
 * wrapping to 0) is invalid: cut as a torn batch, not taken as a journal
 * that wrapped behind the view (whose segments would be dropped).
 */
Test(journal, wrapping_positions_on_disk_are_invalid)
{
	char dir[64], path[256];
	testdir_make(dir, sizeof(dir), "journal");
	const uint64_t first = UINT64_MAX - 1, inc = 0x0123456789abcdefull;
	unsigned char f[32 + 32 + 2 * 16 + 32] = { 0 };
	journal_seg_header(f, first, JOURNAL_SYNCED, inc);
	unsigned char *h = f + 32, *body = h + 32;
	journal_put64(body + 8, first);
	journal_put64(body + 16 + 8, first + 1);
	journal_put32(h, JOURNAL_BATCH_MAGIC);
	journal_put32(h + 4, JOURNAL_SYNCED);
	journal_put64(h + 8, first);
	journal_put32(h + 16, 2);
	journal_put32(h + 20, 32);
	journal_put32(h + 24, journal_batch_bcrc(inc, body, 32));
	journal_put32(h + 28, journal_batch_hcrc(inc, h));
	char name[64];
	snprintf(
	        name, sizeof(name), "%020llu.jnl", (unsigned long long) first);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, f, sizeof(f)), (ssize_t) sizeof(f));
	close(fd);
	journal *j = jopen(dir, UINT64_MAX - 2, true, 0);
	cr_expect_eq(journal_position(j), UINT64_MAX - 2);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	cr_expect_eq(fsize(dir, name), 32);
	journal_close(j);
	testdir_remove(dir);
}
