/*
 * powercut_probe: runs one scripted sequence of file operations under
 * tests/reliability/powercut.c, for powercut_test.c. Usage:
 * powercut_probe SCENARIO ROOT NOW. It works in ROOT, then creates the
 * file NOW and makes one more operation in ROOT, where the library cuts
 * the power; exit 0 means no cut came (a failure of the library).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_PAGE 4096

/* Exits 2 with a message when ok is false. */
static void
probe_check(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		exit(2);
	}
}

/* Opens ROOT/name with flags (mode 0640). */
static int
probe_open(const char *root, const char *name, int flags)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	int fd = open(path, flags | O_CLOEXEC, 0640);
	probe_check(fd >= 0, path);
	return fd;
}

static void
probe_put(int fd, const char *text)
{
	size_t n = strlen(text);
	probe_check(write(fd, text, n) == (ssize_t) n, "write");
}

static void
probe_fsync_path(const char *root, const char *name)
{
	int fd = probe_open(root, name, O_RDONLY);
	probe_check(fsync(fd) == 0, "fsync");
	close(fd);
}

/* A new file ROOT/name holding text, the file fsync'd (its name not). */
static void
probe_file(const char *root, const char *name, const char *text)
{
	int fd = probe_open(root, name, O_WRONLY | O_CREAT | O_TRUNC);
	probe_put(fd, text);
	probe_check(fsync(fd) == 0, "fsync");
	close(fd);
}

static void
probe_run(const char *s, const char *root)
{
	char path[512], to[512];
	if (strcmp(s, "unsynced_name") == 0) {
		probe_file(root, "a", "hello");
	} else if (strcmp(s, "synced_name") == 0) {
		probe_file(root, "a", "hello");
		probe_fsync_path(root, ".");
	} else if (strcmp(s, "unsynced_data") == 0) {
		int fd = probe_open(root, "a", O_WRONLY | O_CREAT);
		probe_fsync_path(root, ".");
		probe_put(fd, "hello");
		close(fd);
	} else if (strcmp(s, "rename") == 0
	        || strcmp(s, "rename_synced") == 0) {
		probe_file(root, "tmp", "v2");
		snprintf(path, sizeof(path), "%s/tmp", root);
		snprintf(to, sizeof(to), "%s/old", root);
		probe_check(rename(path, to) == 0, "rename");
		if (strcmp(s, "rename_synced") == 0) {
			probe_fsync_path(root, ".");
		}
	} else if (strcmp(s, "unlink") == 0) {
		snprintf(path, sizeof(path), "%s/old", root);
		probe_check(unlink(path) == 0, "unlink");
	} else if (strcmp(s, "dsync") == 0) {
		close(probe_open(root, "a", O_WRONLY | O_CREAT));
		probe_fsync_path(root, ".");
		int fd = probe_open(root, "a", O_WRONLY | O_DSYNC);
		probe_check(pwrite(fd, "meta", 4, 0) == 4, "pwrite");
		close(fd);
	} else if (strcmp(s, "write_only_fd") == 0) {
		int fd = probe_open(root, "a", O_WRONLY | O_CREAT | O_APPEND);
		probe_put(fd, "abc");
		probe_put(fd, "def");
		probe_check(fdatasync(fd) == 0, "fdatasync");
		close(fd);
		probe_fsync_path(root, ".");
	} else if (strcmp(s, "new_subdir") == 0) {
		snprintf(path, sizeof(path), "%s/sub", root);
		probe_check(mkdir(path, 0750) == 0, "mkdir");
		probe_file(root, "sub/f", "x");
		probe_fsync_path(root, "sub");
	} else if (strcmp(s, "mmap") == 0) {
		int fd = probe_open(root, "a", O_RDWR | O_CREAT);
		probe_check(ftruncate(fd, PROBE_PAGE) == 0, "ftruncate");
		probe_fsync_path(root, ".");
		char *m = mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE,
		        MAP_SHARED, fd, 0);
		probe_check(m != MAP_FAILED, "mmap");
		memcpy(m, "mapped", 6);
		probe_check(fdatasync(fd) == 0, "fdatasync");
		munmap(m, PROBE_PAGE);
		close(fd);
	} else if (strcmp(s, "torn") == 0) {
		char page[PROBE_PAGE];
		int fd = probe_open(root, "a", O_WRONLY | O_CREAT);
		memset(page, 's', sizeof(page));
		for (int i = 0; i < 8; i++) {
			probe_check(
			        write(fd, page, sizeof(page)) == PROBE_PAGE,
			        "write");
		}
		probe_check(fsync(fd) == 0, "fsync");
		probe_fsync_path(root, ".");
		memset(page, 'u', sizeof(page));
		for (int i = 0; i < 16; i++) {
			probe_check(
			        write(fd, page, sizeof(page)) == PROBE_PAGE,
			        "write");
		}
		close(fd);
	} else if (strcmp(s, "new_root") == 0
	        || strcmp(s, "new_root_synced") == 0) {
		probe_check(mkdir(root, 0750) == 0, "mkdir");
		probe_file(root, "a", "hello");
		probe_fsync_path(root, ".");
		if (strcmp(s, "new_root_synced") == 0) {
			probe_fsync_path(root, "..");
		}
	} else {
		fprintf(stderr, "powercut_probe: unknown scenario '%s'\n", s);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: powercut_probe SCENARIO ROOT NOW\n");
		return 2;
	}
	probe_run(argv[1], argv[2]);
	FILE *f = fopen(argv[3], "w");
	probe_check(f != NULL, argv[3]);
	fclose(f);
	/* The cut comes at this operation. */
	close(probe_open(argv[2], "last", O_WRONLY | O_CREAT));
	return 0;
}
