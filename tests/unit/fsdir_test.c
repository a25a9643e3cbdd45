/*
 * Unit tests of server/util/fsdir.c: which directory each call opens and
 * syncs, and its errors. (That the syncs make a new store survive a power
 * cut is tests/reliability/powerloss_test.c.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testdir.h"
#include "util/fsdir.h"

Test(fsdir, syncs_a_directory)
{
	char dir[64], path[128];
	testdir_make(dir, sizeof(dir), "fsdir");
	cr_assert_eq(fsdir_sync(dir), 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "%s/missing", dir);
	errno = 0;
	cr_assert_eq(fsdir_sync(path), -1);
	cr_assert_eq(errno, ENOENT);
	snprintf(path, sizeof(path), "%s/file", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	errno = 0;
	cr_assert_eq(fsdir_sync(path), -1, "a regular file is no directory");
	cr_assert_eq(errno, ENOTDIR);
	testdir_remove(dir);
}

Test(fsdir, syncs_the_parent_of_a_path)
{
	char dir[64], path[192];
	testdir_make(dir, sizeof(dir), "fsdir");
	/* The parent exists, the path need not (yet). */
	snprintf(path, sizeof(path), "%s/new", dir);
	cr_assert_eq(fsdir_sync_parent(path), 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "%s/new/", dir);
	cr_assert_eq(fsdir_sync_parent(path), 0, "a trailing slash");
	snprintf(path, sizeof(path), "%s/missing/new", dir);
	errno = 0;
	cr_assert_eq(fsdir_sync_parent(path), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(fsdir_sync_parent("/tmp"), 0, "the root as parent");
	cr_assert_eq(fsdir_sync_parent("relative"), 0, "the cwd as parent");
	testdir_remove(dir);
}

Test(fsdir, refuses_a_path_too_long)
{
	static char path[PATH_MAX + 16];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	errno = 0;
	cr_assert_eq(fsdir_sync_parent(path), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
}
