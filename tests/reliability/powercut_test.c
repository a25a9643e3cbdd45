/*
 * The power-cut simulator itself (tests/reliability/powercut.c): what it
 * keeps at a cut is what the strict POSIX model says survives a power
 * loss, no more, no less. Each test runs tests/reliability/powercut_probe.c
 * under the library on a fresh tree and reads the tree it wrote out:
 * names need their directory's fsync, data its file's fsync (or an O_DSYNC
 * write), a rename or unlink not followed by the directory's fsync is
 * undone, a new root needs its parent's fsync, and torn pages come only
 * from what was written since the last sync. powerloss_test.c relies on
 * all of it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#ifndef POWERCUT_LIB
#error "POWERCUT_LIB must be defined (absolute path of libclm_powercut.so)"
#endif
#ifndef POWERCUT_PROBE
#error "POWERCUT_PROBE must be defined (absolute path of powercut_probe)"
#endif

#define PROBE_PAGE 4096

HARNESS_SUITE(powercut, 60);

/* The test's tree: base (a temp dir), root = base/root, out = base/out. */
static char pc_base[32], pc_root[64], pc_out[64];

static void
pc_tree(bool make_root)
{
	cr_assert_eq(harness_tmpdir(pc_base), 0);
	snprintf(pc_root, sizeof(pc_root), "%s/root", pc_base);
	snprintf(pc_out, sizeof(pc_out), "%s/out", pc_base);
	if (make_root) {
		cr_assert_eq(mkdir(pc_root, 0750), 0);
	}
}

/* Writes text to root/name before the probe starts (durable then). */
static void
pc_existing(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", pc_root, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs the probe's scenario under the library; asserts it was cut. */
static void
pc_probe(const char *scenario, bool torn)
{
	char now[64];
	snprintf(now, sizeof(now), "%s/now", pc_base);
	setenv("CLM_POWERCUT_DIR", pc_root, 1);
	setenv("CLM_POWERCUT_OUT", pc_out, 1);
	setenv("CLM_POWERCUT_NOW", now, 1);
	setenv("CLM_POWERCUT_TORN", torn ? "1" : "0", 1);
	setenv("CLM_POWERCUT_SEED", "7", 1);
	setenv("LD_PRELOAD", POWERCUT_LIB, 1);
	const char *argv[]
	        = { "powercut_probe", scenario, pc_root, now, NULL };
	char *err = NULL;
	int rc = run_cmd(POWERCUT_PROBE, argv, NULL, 20000, NULL, &err);
	unsetenv("LD_PRELOAD");
	cr_assert_eq(rc, 128 + 9, "probe %s: exit %d, not the cut: %s",
	        scenario, rc, err ? err : "");
	free(err);
}

/* The contents of out/name, or NULL when the cut left no such file. */
static char *
pc_kept(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", pc_out, name);
	return harness_read_file(path);
}

static bool
pc_exists(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", pc_out, name);
	return stat(path, &st) == 0;
}

static void
pc_expect(const char *name, const char *want)
{
	char *got = pc_kept(name);
	if (want == NULL) {
		cr_expect_null(got, "%s survived: '%s'", name, got);
	} else {
		cr_expect_not_null(got, "%s is gone", name);
		cr_expect_str_eq(got ? got : "", want, "%s", name);
	}
	free(got);
}

Test(powercut, a_new_name_needs_its_directory_synced)
{
	pc_tree(true);
	pc_probe("unsynced_name", false);
	cr_assert(pc_exists(""), "the existing root is kept");
	pc_expect("a", NULL);
	pc_expect("last", NULL);
}

Test(powercut, a_synced_file_in_a_synced_directory_survives)
{
	pc_tree(true);
	pc_probe("synced_name", false);
	pc_expect("a", "hello");
}

Test(powercut, unsynced_data_is_lost)
{
	pc_tree(true);
	pc_probe("unsynced_data", false);
	pc_expect("a", "");
}

Test(powercut, a_rename_needs_the_directory_synced)
{
	pc_tree(true);
	pc_existing("old", "v1");
	pc_probe("rename", false);
	pc_expect("old", "v1");
	pc_expect("tmp", NULL);
}

Test(powercut, a_synced_rename_survives)
{
	pc_tree(true);
	pc_existing("old", "v1");
	pc_probe("rename_synced", false);
	pc_expect("old", "v2");
	pc_expect("tmp", NULL);
}

Test(powercut, an_unsynced_unlink_is_undone)
{
	pc_tree(true);
	pc_existing("old", "v1");
	pc_probe("unlink", false);
	pc_expect("old", "v1");
}

Test(powercut, an_o_dsync_write_is_durable_when_it_returns)
{
	pc_tree(true);
	pc_probe("dsync", false);
	pc_expect("a", "meta");
}

Test(powercut, fdatasync_through_a_write_only_append_descriptor)
{
	pc_tree(true);
	pc_probe("write_only_fd", false);
	pc_expect("a", "abcdef");
}

Test(powercut, a_new_subdirectory_needs_its_parent_synced)
{
	pc_tree(true);
	pc_probe("new_subdir", false);
	cr_expect(
	        !pc_exists("sub"), "sub survived its parent's missing fsync");
}

Test(powercut, fdatasync_covers_stores_to_a_shared_mapping)
{
	pc_tree(true);
	pc_probe("mmap", false);
	char *got = pc_kept("a");
	cr_assert_not_null(got);
	cr_expect_eq(memcmp(got, "mapped", 6), 0, "the mapped bytes");
	free(got);
}

Test(powercut, a_new_root_needs_its_parent_synced)
{
	pc_tree(false);
	pc_probe("new_root", false);
	cr_expect(!pc_exists(""),
	        "the new root survived without its parent's fsync");
}

Test(powercut, a_new_root_with_its_parent_synced_survives)
{
	pc_tree(false);
	pc_probe("new_root_synced", false);
	pc_expect("a", "hello");
}

Test(powercut, torn_pages_come_only_from_unsynced_writes)
{
	pc_tree(true);
	pc_probe("torn", true);
	char path[128];
	snprintf(path, sizeof(path), "%s/a", pc_out);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_geq(st.st_size, 8 * PROBE_PAGE, "synced pages lost");
	cr_assert_leq(st.st_size, 24 * PROBE_PAGE);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	unsigned char page[PROBE_PAGE];
	unsigned unsynced_kept = 0;
	for (long p = 0; p < st.st_size / PROBE_PAGE; p++) {
		cr_assert_eq(fread(page, 1, sizeof(page), f), sizeof(page));
		unsigned char want = p < 8 ? 's' : page[0];
		cr_assert(want == 's' || want == 'u' || want == 0,
		        "page %ld holds byte %d", p, page[0]);
		for (size_t i = 0; i < sizeof(page); i++) {
			cr_assert_eq(page[i], want, "page %ld is mixed", p);
		}
		unsynced_kept += p >= 8 && want == 'u';
	}
	fclose(f);
	/* Seed 7 keeps some of the 16 unsynced pages, not all. */
	cr_expect(unsynced_kept > 0 && unsynced_kept < 16,
	        "%u unsynced pages kept", unsynced_kept);
}
