/*
 * server/journal/journal.c when the disk fails: ENOSPC on the write, EIO
 * on the fdatasync, and a full disk while a new segment is made. The test
 * runs under the fault library tests/reliability/faultfs.c (LD_PRELOAD,
 * set by tests/CMakeLists.txt), which fails writes and syncs of files
 * whose path contains $CLM_FAULTFS_MATCH while the flag file holds the
 * error; without the library the tests are skipped.
 *
 * Each time: the failed commit returns the error, the file is back where
 * the batch started, the positions are given back, and after the fault
 * clears a commit succeeds and a reopened journal holds exactly the
 * committed entries.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "testdir.h"

/*
 * The test's own interposers, ahead of the fault library and libc (the
 * journal is linked into this program): ftruncate and rename fail with
 * EIO on demand, and fsync notes which directories it synced.
 */
static bool fail_ftruncate;
static int renames_left = -1; /* renames before one fails; -1: none fail */
static ino_t dirs_synced[64];
static size_t ndirs_synced;

/* The next definition of name (the fault library's, or libc's). */
static void *
next_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	cr_assert_not_null(f, "dlsym %s", name);
	return f;
}

int
ftruncate(int fd, off_t len)
{
	int (*real)(int, off_t);
	if (fail_ftruncate) {
		errno = EIO;
		return -1;
	}
	void *f = next_fn("ftruncate");
	memcpy(&real, &f, sizeof(real));
	return real(fd, len);
}

int
rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *);
	if (renames_left == 0) {
		errno = EIO;
		return -1;
	}
	if (renames_left > 0) {
		renames_left--;
	}
	void *f = next_fn("rename");
	memcpy(&real, &f, sizeof(real));
	return real(from, to);
}

int
fsync(int fd)
{
	int (*real)(int);
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)
	        && ndirs_synced < sizeof(dirs_synced) / sizeof(*dirs_synced)) {
		dirs_synced[ndirs_synced++] = st.st_ino;
	}
	void *f = next_fn("fsync");
	memcpy(&real, &f, sizeof(real));
	return real(fd);
}

/* Whether fsync synced the directory path since ndirs_synced was 0. */
static bool
dir_synced(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	for (size_t i = 0; i < ndirs_synced; i++) {
		if (dirs_synced[i] == st.st_ino) {
			return true;
		}
	}
	return false;
}

static char jdir[64];
static char flagdir[64];
static char flag[96];

static void
setup(void)
{
	const char *pre = getenv("LD_PRELOAD");
	if (pre == NULL || strstr(pre, "faultfs") == NULL) {
		cr_skip_test("not run under the fault library (LD_PRELOAD)");
	}
	testdir_make(jdir, sizeof(jdir), "jfault");
	testdir_make(flagdir, sizeof(flagdir), "jflag");
	snprintf(flag, sizeof(flag), "%s/flag", flagdir);
	/* Faults hit the journal's files and directory, never the flag. */
	cr_assert_eq(setenv("CLM_FAULTFS_MATCH", jdir, 1), 0);
	cr_assert_eq(setenv("CLM_FAULTFS_FLAG", flag, 1), 0);
}

static void
teardown(void)
{
	unsetenv("CLM_FAULTFS_FLAG");
	testdir_remove(jdir);
	testdir_remove(flagdir);
}

static void
fault(const char *what)
{
	FILE *f = fopen(flag, "w");
	cr_assert_not_null(f);
	fputs(what, f);
	fclose(f);
}

static void
no_fault(void)
{
	cr_assert_eq(unlink(flag), 0);
}

static journal *
jopen_sync(uint64_t segment_bytes, bool sync)
{
	struct journal_opts o = {
		.dir = jdir, .segment_bytes = segment_bytes, .sync = sync
	};
	journal *j = NULL;
	char err[512] = "";
	clm_err rc = journal_open(&o, &j, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_open: %s", err);
	return j;
}

static journal *
jopen(uint64_t segment_bytes)
{
	return jopen_sync(segment_bytes, true);
}

/* Appends n entries "e<pos>"; returns what journal_commit returned. */
static clm_err
jbatch(journal *j, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		uint64_t want = journal_position(j) + 1 + (uint64_t) i, pos;
		char data[32];
		int len = snprintf(data, sizeof(data), "e%llu",
		        (unsigned long long) want);
		cr_assert_eq(journal_append(j, 1, data, (size_t) len, &pos),
		        CLM_OK);
		cr_assert_eq(pos, want);
	}
	return journal_commit(j, err, errlen);
}

struct check {
	uint64_t next;
	bool bad;
};

static int
check_entry(void *arg, const struct journal_entry *e)
{
	struct check *c = arg;
	char want[32];
	int len = snprintf(
	        want, sizeof(want), "e%llu", (unsigned long long) c->next);
	c->bad |= e->position != c->next || e->len != (size_t) len
	        || memcmp(e->data, want, e->len) != 0;
	c->next++;
	return 0;
}

/* Reopens the journal and checks it holds exactly entries 1 .. last. */
static void
expect_entries(uint64_t last)
{
	journal *j = jopen(0);
	char err[512];
	struct check c = { 1, false };
	cr_assert_eq(journal_position(j), last);
	cr_assert_eq(journal_read(j, 1, check_entry, &c, err, sizeof(err)),
	        CLM_OK, "%s", err);
	cr_expect_not(c.bad);
	cr_expect_eq(c.next, last + 1);
	journal_close(j);
}

static off_t
seg_size(const char *name)
{
	char path[160];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", jdir, name);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return st.st_size;
}

TestSuite(journal_faults, .init = setup, .fini = teardown);

Test(journal_faults, disk_full_on_write)
{
	char err[512];
	journal *j = jopen(0);
	cr_assert_eq(jbatch(j, 2, err, sizeof(err)), CLM_OK, "%s", err);
	off_t size = seg_size("00000000000000000001.jnl");
	fault("ENOSPC");
	cr_expect_eq(jbatch(j, 3, err, sizeof(err)), CLM_RESOURCE_EXHAUSTED);
	cr_expect(strstr(err, "disk full") != NULL, "%s", err);
	cr_expect_eq(journal_position(j), 2);
	/* Still full: refused again, nothing counted. */
	cr_expect_eq(jbatch(j, 1, err, sizeof(err)), CLM_RESOURCE_EXHAUSTED);
	no_fault();
	cr_expect_eq(seg_size("00000000000000000001.jnl"), size - 32);
	cr_assert_eq(jbatch(j, 4, err, sizeof(err)), CLM_OK, "%s", err);
	cr_expect_eq(journal_position(j), 6);
	journal_close(j);
	expect_entries(6);
}

Test(journal_faults, io_error_on_fdatasync)
{
	char err[512];
	journal *j = jopen(0);
	cr_assert_eq(jbatch(j, 2, err, sizeof(err)), CLM_OK, "%s", err);
	off_t size = seg_size("00000000000000000001.jnl");
	/* The write reaches the page cache; the fdatasync fails. */
	fault("EIO sync");
	cr_expect_eq(jbatch(j, 3, err, sizeof(err)), CLM_UNAVAILABLE);
	cr_expect(strstr(err, "Input/output error") != NULL, "%s", err);
	cr_expect_eq(journal_position(j), 2);
	/* The batch that reached the file was cut back off it. */
	cr_expect_eq(seg_size("00000000000000000001.jnl"), size - 32);
	no_fault();
	cr_assert_eq(jbatch(j, 1, err, sizeof(err)), CLM_OK, "%s", err);
	journal_close(j);
	expect_entries(3);
}

Test(journal_faults, disk_full_while_making_a_segment)
{
	char err[512];
	journal *j = jopen(100);
	cr_assert_eq(jbatch(j, 8, err, sizeof(err)), CLM_OK, "%s", err);
	fault("ENOSPC");
	/* Past 100 bytes: this commit needs a new segment. */
	cr_expect_eq(jbatch(j, 2, err, sizeof(err)), CLM_RESOURCE_EXHAUSTED);
	cr_expect_eq(journal_position(j), 8);
	no_fault();
	DIR *d = opendir(jdir);
	cr_assert_not_null(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		files += e->d_name[0] != '.';
	}
	closedir(d);
	cr_expect_eq(files, 1, "only the first segment, no half-made one");
	cr_assert_eq(jbatch(j, 2, err, sizeof(err)), CLM_OK, "%s", err);
	/* Segment header, batch header, "e9" and "e10" (16 + 2, 16 + 3,
	 * padded to 40), and the zero header after. */
	cr_expect_eq(seg_size("00000000000000000009.jnl"), 32 + 32 + 40 + 32);
	journal_close(j);
	expect_entries(10);
}

/*
 * The fdatasync fails and so does the cut: the failed batch (its positions
 * given back) must not be replayed after a restart. Its header is zeroed.
 */
Test(journal_faults, failed_batch_that_cannot_be_cut_is_not_replayed)
{
	char err[512];
	journal *j = jopen(0);
	cr_assert_eq(jbatch(j, 2, err, sizeof(err)), CLM_OK, "%s", err);
	fault("EIO sync");
	fail_ftruncate = true;
	cr_expect_eq(jbatch(j, 3, err, sizeof(err)), CLM_UNAVAILABLE);
	cr_expect_eq(journal_position(j), 2);
	journal_close(j);
	no_fault();
	fail_ftruncate = false;
	expect_entries(2);
	/* Still no cut, but the zeros can be synced now: commits go on. */
	j = jopen(0);
	fault("EIO sync");
	fail_ftruncate = true;
	cr_expect_eq(jbatch(j, 3, err, sizeof(err)), CLM_UNAVAILABLE);
	no_fault();
	cr_assert_eq(jbatch(j, 1, err, sizeof(err)), CLM_OK, "%s", err);
	fail_ftruncate = false;
	journal_close(j);
	expect_entries(3);
}

/*
 * journal_truncate_before fails after it renamed a segment: the directory
 * is synced before the next commit writes (the rename must be durable).
 */
Test(journal_faults, failed_truncate_syncs_the_directory_before_writing)
{
	char err[512];
	journal *j = jopen(100);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(
		        jbatch(j, 8, err, sizeof(err)), CLM_OK, "%s", err);
	}
	journal_close(j);
	j = jopen(0); /* no new segment at the next commit */
	renames_left = 1;
	cr_expect_eq(journal_truncate_before(j, 25, err, sizeof(err)),
	        CLM_UNAVAILABLE);
	renames_left = -1;
	ndirs_synced = 0;
	cr_assert_eq(jbatch(j, 1, err, sizeof(err)), CLM_OK, "%s", err);
	cr_expect(dir_synced(jdir));
	journal_close(j);
}

/*
 * Segments written with sync false, then an open with sync: every segment
 * is fdatasynced (not only the last) before batches say synced. A failing
 * sync of the first segment fails the open.
 */
Test(journal_faults, open_with_sync_syncs_every_segment)
{
	char err[512], seg1[160];
	journal *j = jopen_sync(100, false);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(
		        jbatch(j, 8, err, sizeof(err)), CLM_OK, "%s", err);
	}
	journal_close(j);
	snprintf(seg1, sizeof(seg1), "%s/00000000000000000001.jnl", jdir);
	cr_assert_eq(setenv("CLM_FAULTFS_MATCH", seg1, 1), 0);
	fault("EIO sync");
	struct journal_opts o = { .dir = jdir, .sync = true };
	j = NULL;
	cr_expect_eq(journal_open(&o, &j, err, sizeof(err)), CLM_UNAVAILABLE);
	cr_expect(strstr(err, seg1) != NULL, "%s", err);
	journal_close(j);
	no_fault();
	cr_assert_eq(setenv("CLM_FAULTFS_MATCH", jdir, 1), 0);
	expect_entries(24);
}

/* The parent is synced on every open, also when the directory exists (an
 * earlier run may have died between its mkdir and the fsync). */
Test(journal_faults, open_syncs_the_parent_of_an_existing_directory)
{
	char sub[96];
	snprintf(sub, sizeof(sub), "%s/j", jdir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	ndirs_synced = 0;
	struct journal_opts o = { .dir = sub, .sync = true };
	journal *j = NULL;
	char err[512];
	cr_assert_eq(
	        journal_open(&o, &j, err, sizeof(err)), CLM_OK, "%s", err);
	cr_expect(dir_synced(jdir));
	journal_close(j);
}
