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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "testdir.h"

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
jopen(uint64_t segment_bytes)
{
	struct journal_opts o = {
		.dir = jdir, .segment_bytes = segment_bytes, .sync = true
	};
	journal *j = NULL;
	char err[512] = "";
	clm_err rc = journal_open(&o, &j, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "journal_open: %s", err);
	return j;
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
