/*
 * Unit tests of journal_purge_before (server/journal/journal.c, issue 14):
 * afterwards no file of the journal holds an entry below the position nor
 * stale bytes of one (every byte of every file is scanned for the
 * entries' pattern), the journal goes on (positions, commits, reads,
 * truncation, reopening), and a crash at every step of a purge, or a
 * failing disk at every call, leaves a journal that opens with every
 * entry at or after the position.
 *
 * Crashes and faults come from the test's own interposers (the journal is
 * linked into this program, as in journal_faults_test.c): each file call
 * the journal makes counts down crash_steps and kills the process at 0;
 * fail_name's calls fail with fail_errno after fail_skip of them worked.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/journal.h"
#include "journal/journal_internal.h"
#include "testdir.h"

#define PATTERN "PURGE"
#define SEG     1024u /* segment_bytes: a few batches a segment */

static int crash_steps = -1; /* calls before a SIGKILL; -1: never */
static const char *fail_name;
static int fail_skip;
static int fail_errno;
static int fail_hits; /* calls failed so far */

/* Counts one call of name: kills the process when crash_steps reaches 0;
 * true when the call must fail (errno set). */
static bool
step(const char *name)
{
	if (crash_steps == 0) {
		kill(getpid(), SIGKILL);
	}
	if (crash_steps > 0) {
		crash_steps--;
	}
	if (fail_name != NULL && strcmp(fail_name, name) == 0) {
		if (fail_skip == 0) {
			fail_hits++;
			errno = fail_errno;
			return true;
		}
		fail_skip--;
	}
	return false;
}

/* The next definition of name (libc's, or a sanitizer's). */
static void *
next_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f == NULL) {
		abort();
	}
	return f;
}

int
rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *);
	if (step("rename")) {
		return -1;
	}
	void *f = next_fn("rename");
	memcpy(&real, &f, sizeof(real));
	return real(from, to);
}

int
unlink(const char *path)
{
	int (*real)(const char *);
	if (step("unlink")) {
		return -1;
	}
	void *f = next_fn("unlink");
	memcpy(&real, &f, sizeof(real));
	return real(path);
}

int
fsync(int fd)
{
	int (*real)(int);
	if (step("fsync")) {
		return -1;
	}
	void *f = next_fn("fsync");
	memcpy(&real, &f, sizeof(real));
	return real(fd);
}

int
fdatasync(int fd)
{
	int (*real)(int);
	if (step("fdatasync")) {
		return -1;
	}
	void *f = next_fn("fdatasync");
	memcpy(&real, &f, sizeof(real));
	return real(fd);
}

int
ftruncate(int fd, off_t len)
{
	int (*real)(int, off_t);
	if (step("ftruncate")) {
		return -1;
	}
	void *f = next_fn("ftruncate");
	memcpy(&real, &f, sizeof(real));
	return real(fd, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t (*real)(int, const void *, size_t, off_t);
	if (step("pwrite")) {
		return -1;
	}
	void *f = next_fn("pwrite");
	memcpy(&real, &f, sizeof(real));
	return real(fd, buf, n, off);
}

static journal *
jopen(const char *dir, uint64_t base, bool sync)
{
	struct journal_opts o = {
		.dir = dir, .segment_bytes = SEG, .sync = sync, .base = base
	};
	journal *j = NULL;
	char err[512] = "";
	clm_err rc = journal_open(&o, &j, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_open: %s: %s", clm_errname(rc), err);
	return j;
}

/* Commits n entries "PURGE<position>" in batches of 4. */
static void
put(journal *j, int n)
{
	char err[512] = "";
	uint64_t next = journal_position(j) + 1;
	for (int i = 0; i < n; i++) {
		char data[32];
		uint64_t want = next + (uint64_t) i, pos;
		int len = snprintf(data, sizeof(data), PATTERN "%012llu",
		        (unsigned long long) want);
		cr_assert_eq(journal_append(j, 1, data, (size_t) len, &pos),
		        CLM_OK);
		cr_assert_eq(pos, want);
		if (i % 4 == 3 || i == n - 1) {
			clm_err rc = journal_commit(j, err, sizeof(err));
			cr_assert_eq(rc, CLM_OK, "journal_commit: %s", err);
		}
	}
}

struct readback {
	uint64_t next;
};

static int
readback_entry(void *arg, const struct journal_entry *e)
{
	struct readback *r = arg;
	char want[32];
	int len = snprintf(want, sizeof(want), PATTERN "%012llu",
	        (unsigned long long) e->position);
	cr_assert_eq(e->position, r->next);
	cr_assert_eq(e->len, (size_t) len);
	cr_assert_eq(memcmp(e->data, want, e->len), 0);
	r->next++;
	return 0;
}

/* Reads from from on and checks the entries are exactly from..to. */
static void
expect(journal *j, uint64_t from, uint64_t to)
{
	struct readback r = { from };
	char err[512] = "";
	clm_err rc
	        = journal_read(j, from, readback_entry, &r, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_read: %s", err);
	cr_assert_eq(r.next, to + 1, "read up to %llu, want %llu",
	        (unsigned long long) r.next - 1, (unsigned long long) to);
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

/* The lowest position of an entry pattern in every byte of the file path
 * (UINT64_MAX: none). */
static uint64_t
scan_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	static unsigned char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	cr_assert_eq(fgetc(f), EOF, "%s: larger than the scan", path);
	fclose(f);
	uint64_t lowest = UINT64_MAX;
	size_t pl = strlen(PATTERN);
	for (size_t i = 0; i + pl <= n; i++) {
		if (memcmp(buf + i, PATTERN, pl) != 0) {
			continue;
		}
		uint64_t p = 0;
		for (size_t k = i + pl; k < n && k < i + pl + 12; k++) {
			p = p * 10 + (uint64_t) (buf[k] - '0');
		}
		lowest = p < lowest ? p : lowest;
	}
	return lowest;
}

/* The lowest position of an entry pattern in any file of dir. */
static uint64_t
scan_dir(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	struct dirent *e;
	uint64_t lowest = UINT64_MAX;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cr_assert_eq(stat(path, &st), 0, "%s", path);
		if (S_ISREG(st.st_mode)) {
			uint64_t p = scan_file(path);
			lowest = p < lowest ? p : lowest;
		}
	}
	closedir(d);
	return lowest;
}

/* The path of the segment j writes to. */
static void
current_path(journal *j, char *path, size_t n)
{
	cr_assert_gt(j->nsegs, 0);
	journal_path(j, j->segs[j->nsegs - 1].first, "jnl", path, n);
}

/*
 * Fills a new journal in dir (written without sync, then reopened with
 * sync as asked): several segments, spares from truncations, and a
 * segment written to that is a recycled spare whose stale tail holds
 * older entries. *last is its last position.
 */
static journal *
fill(const char *dir, bool sync, uint64_t *last)
{
	char err[512] = "";
	journal *j = jopen(dir, 0, false);
	put(j, 60);
	cr_assert_eq(journal_truncate_before(
	                     j, journal_position(j), err, sizeof(err)),
	        CLM_OK, "%s", err);
	put(j, 70);
	uint64_t view = journal_position(j) - 1; /* checkpointed */
	cr_assert_eq(journal_truncate_before(j, view + 1, err, sizeof(err)),
	        CLM_OK, "%s", err);
	cr_assert_eq(count_files(dir, ".spare"), 2);
	/* Into a spare, a few batches only. */
	uint64_t first = j->segs[j->nsegs - 1].first;
	while (j->segs[j->nsegs - 1].first == first) {
		put(j, 4);
	}
	put(j, 8);
	*last = journal_position(j);
	journal_close(j);
	j = jopen(dir, view, sync);
	cr_assert_eq(journal_position(j), *last);
	cr_assert_gt(j->nsegs, 1);
	cr_assert_eq(count_files(dir, ".spare"), 1);
	char path[256];
	current_path(j, path, sizeof(path));
	cr_assert_lt(scan_file(path), j->segs[j->nsegs - 1].first,
	        "the segment written to holds no stale entries");
	return j;
}

/* Every entry committed: nothing of them is left, and the journal goes on
 * at the next position, across a reopen. */
static void
purge_all(bool sync)
{
	char dir[64], err[512] = "";
	testdir_make(dir, sizeof(dir), "jpurge");
	uint64_t last;
	journal *j = fill(dir, sync, &last);
	clm_err rc = journal_purge_before(j, last + 1, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_purge_before: %s", err);
	cr_expect_eq(scan_dir(dir), UINT64_MAX, "an entry is left");
	cr_expect_eq(count_files(dir, ".spare"), 0);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	cr_expect_eq(journal_position(j), last);
	put(j, 30); /* past a segment switch */
	expect(j, last + 1, last + 30);
	journal_close(j);
	j = jopen(dir, last, sync);
	cr_expect_eq(journal_position(j), last + 30);
	expect(j, last + 1, last + 30);
	cr_assert_eq(journal_truncate_before(j, last + 30, err, sizeof(err)),
	        CLM_OK);
	put(j, 5);
	expect(j, last + 30, last + 35);
	/* Again, now with entries everywhere: nothing is left. */
	rc = journal_purge_before(j, last + 36, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_purge_before: %s", err);
	cr_expect_eq(scan_dir(dir), UINT64_MAX);
	journal_close(j);
	j = jopen(dir, last + 35, sync);
	cr_expect_eq(journal_position(j), last + 35);
	put(j, 3);
	journal_close(j);
	j = jopen(dir, last + 35, sync);
	expect(j, last + 36, last + 38);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal_purge, nothing_left_with_sync)
{
	purge_all(true);
}

Test(journal_purge, nothing_left_without_sync)
{
	purge_all(false);
}

/* Entries at or after the position in the segment written to stay, and
 * so does that segment: its stale tail is cut, older segments go. */
static void
purge_keep(bool sync)
{
	char dir[64], err[512] = "";
	testdir_make(dir, sizeof(dir), "jpurge");
	uint64_t last;
	journal *j = fill(dir, sync, &last);
	uint64_t first = j->segs[j->nsegs - 1].first, p = last - 5;
	cr_assert_gt(p, first);
	clm_err rc = journal_purge_before(j, p, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_purge_before: %s", err);
	/* Only the entries of the segment kept, none of a stale tail. */
	cr_expect_eq(scan_dir(dir), first);
	cr_expect_eq(count_files(dir, ".spare"), 0);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	expect(j, first, last);
	put(j, 3);
	journal_close(j);
	j = jopen(dir, p - 1, sync);
	cr_expect_eq(journal_position(j), last + 3);
	expect(j, p, last + 3);
	/* At the next checkpoint, the rest goes. */
	rc = journal_purge_before(j, last + 4, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_purge_before: %s", err);
	cr_expect_eq(scan_dir(dir), UINT64_MAX);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal_purge, entries_at_or_after_position_stay_with_sync)
{
	purge_keep(true);
}

Test(journal_purge, entries_at_or_after_position_stay_without_sync)
{
	purge_keep(false);
}

/*
 * journal_roll_next at a checkpoint's position p: the entries committed
 * after it go to a new segment, so a purge before p + 1 leaves no entry
 * at or below p in any file while the later ones stay (writer_purge
 * counts on it, with journal_first, after a ForgetCustomer); without the
 * roll the segment written to keeps them. A roll on a segment that holds
 * no entry yet starts none, and positions stay continuous across a
 * reopen.
 */
static void
purge_after_roll(bool roll)
{
	char dir[64], err[512] = "";
	testdir_make(dir, sizeof(dir), "jpurge");
	journal *j = jopen(dir, 0, true);
	cr_expect_eq(journal_first(j), 1);
	put(j, 3);
	cr_expect_eq(journal_first(j), 1);
	uint64_t p = journal_position(j);
	if (roll) {
		journal_roll_next(j);
	}
	put(j, 2);
	cr_assert_eq(journal_purge_before(j, p + 1, err, sizeof(err)), CLM_OK,
	        "%s", err);
	if (roll) {
		cr_expect_eq(journal_first(j), p + 1);
		cr_expect_eq(scan_dir(dir), p + 1);
		cr_expect_eq(count_files(dir, ".jnl"), 1);
	} else {
		cr_expect_eq(journal_first(j), 1);
		cr_expect_eq(scan_dir(dir), 1);
	}
	expect(j, p + 1, p + 2);
	journal_close(j);
	j = jopen(dir, p, true);
	cr_expect_eq(journal_position(j), p + 2);
	expect(j, p + 1, p + 2);
	journal_close(j);
	testdir_remove(dir);
}

Test(journal_purge, roll_next_puts_later_entries_in_a_new_segment)
{
	purge_after_roll(true);
}

Test(journal_purge, without_roll_next_the_segment_keeps_older_entries)
{
	purge_after_roll(false);
}

Test(journal_purge, roll_next_on_a_fresh_segment_starts_none)
{
	char dir[64], err[512] = "";
	testdir_make(dir, sizeof(dir), "jpurge");
	journal *j = jopen(dir, 0, true);
	put(j, 2);
	/* All of it below 3: the segment is replaced by a fresh one. */
	cr_assert_eq(journal_purge_before(j, 3, err, sizeof(err)), CLM_OK,
	        "%s", err);
	cr_expect_eq(journal_first(j), 3);
	journal_roll_next(j);
	put(j, 2);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	cr_expect_eq(journal_first(j), 3);
	/* The flag is spent: the next commits stay in that segment. */
	put(j, 1);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	expect(j, 3, 5);
	journal_close(j);
	testdir_remove(dir);
}

/* An empty journal, a purge right after a purge (the fresh segment is
 * replaced in place), and a purge with entries buffered. */
Test(journal_purge, empty_and_repeated)
{
	char dir[64], err[512] = "";
	testdir_make(dir, sizeof(dir), "jpurge");
	journal *j = jopen(dir, 0, true);
	cr_assert_eq(journal_purge_before(j, 1, err, sizeof(err)), CLM_OK);
	cr_expect_eq(count_files(dir, ".jnl"), 0);
	put(j, 6);
	cr_assert_eq(journal_purge_before(j, 7, err, sizeof(err)), CLM_OK);
	cr_assert_eq(journal_purge_before(j, 7, err, sizeof(err)), CLM_OK,
	        "%s", err);
	cr_expect_eq(count_files(dir, ".jnl"), 1);
	cr_expect_eq(scan_dir(dir), UINT64_MAX);
	uint64_t pos;
	cr_assert_eq(journal_append(j, 1, PATTERN "000000000007", 17, &pos),
	        CLM_OK);
	cr_assert_eq(pos, 7);
	cr_assert_eq(journal_purge_before(j, 7, err, sizeof(err)), CLM_OK);
	cr_assert_eq(journal_commit(j, err, sizeof(err)), CLM_OK, "%s", err);
	journal_close(j);
	j = jopen(dir, 6, true);
	cr_expect_eq(journal_position(j), 7);
	expect(j, 7, 7);
	journal_close(j);
	testdir_remove(dir);
}

/*
 * Kills a child at its k-th file call inside journal_purge_before(p), for
 * k = 0, 1, ... until a child finishes, then checks each time that the
 * journal opens (no DATA_LOSS) with every entry at or after p, and that a
 * purge and appends work after.
 */
static void
purge_crash(bool sync, bool keep)
{
	int crashes = 0;
	for (int k = 0; k < 200; k++) {
		char dir[64], err[512] = "";
		testdir_make(dir, sizeof(dir), "jpurge");
		uint64_t last;
		journal *j = fill(dir, sync, &last);
		uint64_t p = keep ? last - 5 : last + 1;
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			crash_steps = k;
			clm_err rc
			        = journal_purge_before(j, p, err, sizeof(err));
			_exit(rc == CLM_OK ? 0 : 1);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		journal_close(j);
		bool crashed = WIFSIGNALED(status);
		cr_assert(crashed
		                || (WIFEXITED(status)
		                        && WEXITSTATUS(status) == 0),
		        "step %d: the purge failed", k);
		j = jopen(dir, p - 1, sync);
		cr_assert_eq(journal_position(j), last, "step %d", k);
		if (keep) {
			expect(j, p, last);
		}
		cr_assert_eq(
		        journal_purge_before(j, last + 1, err, sizeof(err)),
		        CLM_OK, "step %d: %s", k, err);
		cr_assert_eq(scan_dir(dir), UINT64_MAX, "step %d", k);
		put(j, 2);
		journal_close(j);
		j = jopen(dir, last, sync);
		expect(j, last + 1, last + 2);
		journal_close(j);
		testdir_remove(dir);
		if (!crashed) {
			cr_assert_gt(crashes, 4, "too few steps");
			return;
		}
		crashes++;
	}
	cr_assert_fail("the purge never finished");
}

Test(journal_purge, crash_at_every_step_with_sync)
{
	purge_crash(true, false);
}

Test(journal_purge, crash_at_every_step_without_sync)
{
	purge_crash(false, false);
}

Test(journal_purge, crash_at_every_step_keeping_entries)
{
	purge_crash(true, true);
}

/*
 * Makes every call of name fail with e from its skip-th on inside
 * journal_purge_before(p), for skip = 0, 1, ... until the purge succeeds:
 * each time it returns the error, and once the fault clears, commits work
 * at the next position, the journal reopens with every entry at or after
 * p, and a purge leaves nothing.
 */
static void
purge_fault(const char *name, int e, clm_err want, bool keep)
{
	for (int skip = 0; skip < 50; skip++) {
		char dir[64], err[512] = "";
		testdir_make(dir, sizeof(dir), "jpurge");
		uint64_t last;
		journal *j = fill(dir, true, &last);
		uint64_t p = keep ? last - 5 : last + 1;
		fail_name = name;
		fail_skip = skip;
		fail_hits = 0;
		fail_errno = e;
		clm_err rc = journal_purge_before(j, p, err, sizeof(err));
		bool hit = fail_hits > 0;
		fail_name = NULL;
		if (rc == CLM_OK) {
			cr_assert_not(
			        hit, "%s %d: failed, yet CLM_OK", name, skip);
			testdir_remove(dir);
			journal_close(j);
			return;
		}
		cr_assert_eq(rc, want, "%s %d: %s: %s", name, skip,
		        clm_errname(rc), err);
		cr_assert_neq(err[0], '\0');
		cr_assert_eq(journal_position(j), last);
		put(j, 3);
		expect(j, p, last + 3);
		journal_close(j);
		j = jopen(dir, p - 1, true);
		cr_assert_eq(journal_position(j), last + 3);
		expect(j, p, last + 3);
		rc = journal_purge_before(j, last + 4, err, sizeof(err));
		cr_assert_eq(rc, CLM_OK, "%s %d: %s", name, skip, err);
		cr_assert_eq(scan_dir(dir), UINT64_MAX, "%s %d", name, skip);
		journal_close(j);
		testdir_remove(dir);
	}
	cr_assert_fail("%s: the purge never succeeded", name);
}

Test(journal_purge, disk_full_writing_the_fresh_segment)
{
	purge_fault("pwrite", ENOSPC, CLM_RESOURCE_EXHAUSTED, false);
}

Test(journal_purge, io_errors_at_every_call)
{
	static const char *names[]
	        = { "fdatasync", "rename", "unlink", "fsync", "ftruncate" };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		purge_fault(names[i], EIO, CLM_UNAVAILABLE, false);
		purge_fault(names[i], EIO, CLM_UNAVAILABLE, true);
	}
}
