/*
 * Unit tests of server/store/dirlock.c: the data directory's lock, and
 * finding its holder in /proc/locks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/dirlock.h"
#include "testdir.h"

/* Returns the holder dirlock_holder finds for dev:ino in text. */
static long
holder_in(const char *text, dev_t dev, ino_t ino)
{
	FILE *f = fmemopen((void *) text, strlen(text), "r");
	cr_assert_not_null(f);
	long pid = dirlock_holder(f, dev, ino);
	fclose(f);
	return pid;
}

Test(dirlock, holder_from_proc_locks)
{
	dev_t dev = makedev(0xfd, 0x01);
	const char *locks
	        = "1: POSIX  ADVISORY  WRITE 11 fd:01:5678 0 EOF\n"
	          "2: FLOCK  ADVISORY  READ 12 fd:01:5678 0 EOF\n"
	          "3: FLOCK  ADVISORY  WRITE 13 fd:02:5678 0 EOF\n"
	          "4: FLOCK  ADVISORY  WRITE 14 fd:01:56789 0 EOF\n"
	          "5: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF\n"
	          "5: -> FLOCK  ADVISORY  WRITE 15 fd:01:5678 0 EOF\n";
	cr_expect_eq(holder_in(locks, dev, 5678), 1234);
	/* A waiter, other inodes, other devices, other kinds: none. */
	cr_expect_eq(holder_in("5: -> FLOCK  ADVISORY  WRITE 15 fd:01:5678 0 "
	                       "EOF\n",
	                     dev, 5678),
	        0);
	cr_expect_eq(holder_in(locks, dev, 567), 0);
	cr_expect_eq(holder_in(locks, makedev(0xfd, 0x03), 5678), 0);
	cr_expect_eq(holder_in("", dev, 5678), 0);
	/* Devices are hex, with more digits than two when they need them. */
	cr_expect_eq(
	        holder_in("7: FLOCK  ADVISORY  WRITE 77 103:1a:42 0 EOF\n",
	                makedev(0x103, 0x1a), 42),
	        77);
	/* A holder in a pid namespace we cannot see is listed as 0 or -1. */
	cr_expect_eq(
	        holder_in("8: FLOCK  ADVISORY  WRITE 0 fd:01:5678 0 EOF\n",
	                dev, 5678),
	        0);
}

Test(dirlock, second_lock_is_refused_and_names_the_holder)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "dirlock-test");
	char sub[96];
	snprintf(sub, sizeof(sub), "%s/data", dir);
	char err[256] = "";
	int fd = dirlock_open(sub, err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	struct stat st;
	cr_assert_eq(stat(sub, &st), 0, "the directory was made");
	cr_assert(S_ISDIR(st.st_mode));

	cr_assert_eq(dirlock_open(sub, err, sizeof(err)), -1);
	char want[160];
	snprintf(want, sizeof(want),
	        "data dir '%s' is in use by another clmd (pid %ld)", sub,
	        (long) getpid());
	cr_expect_str_eq(err, want);

	/* Closing the descriptor releases the lock. */
	close(fd);
	fd = dirlock_open(sub, err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	close(fd);
	testdir_remove(dir);
}

Test(dirlock, a_file_is_not_a_data_dir)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "dirlock-test");
	char file[96];
	snprintf(file, sizeof(file), "%s/plain", dir);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	char err[256] = "";
	cr_assert_eq(dirlock_open(file, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not a directory") != NULL, "%s", err);
	testdir_remove(dir);
}
