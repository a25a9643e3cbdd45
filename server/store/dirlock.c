/*
 * dirlock: the single-instance lock on a data directory.
 *
 * Why the directory and why flock: the lock used to be a flock on
 * DATA/clmd.pid, and after `rm DATA/clmd.pid` a second clmd created a new
 * file, locked that, and opened the same LMDB environment: two processes
 * each counting from their own copy of the counters. Deleting or replacing
 * a file in the directory does not touch a lock on the directory itself.
 * A POSIX (fcntl) lock on data.mdb would not do: it belongs to the process
 * and is dropped when LMDB closes any descriptor of that file. A flock
 * belongs to the open file description, which only the descriptor
 * dirlock_open returns refers to (close-on-exec, never dup'd).
 *
 * The pid in the refusal comes from /proc/locks, which lists every flock
 * with its holder and the locked inode, so it does not depend on clmd.pid
 * either.
 */
#include "store/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/fsdir.h"
#include "util/log.h"

/*
 * One line of /proc/locks: "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
 * (a waiter has "->" after the number). The device is major:minor in hex,
 * the inode in decimal. Returns the pid when the line is a flock write lock
 * on major:minor:ino, else 0.
 */
static long
dirlock_line_holder(
        const char *line, unsigned maj, unsigned min, unsigned long long ino)
{
	char kind[16], mode[16], access[16];
	long pid;
	unsigned lmaj, lmin;
	unsigned long long lino;
	if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", kind, mode,
	            access, &pid, &lmaj, &lmin, &lino)
	        != 7) {
		return 0; /* a waiter ("->" shifts the fields), or no lock */
	}
	if (strcmp(kind, "FLOCK") != 0 || strcmp(access, "WRITE") != 0
	        || lmaj != maj || lmin != min || lino != ino || pid <= 0) {
		return 0;
	}
	return pid;
}

long
dirlock_holder(FILE *locks, dev_t dev, ino_t ino)
{
	char line[256];
	long pid = 0;
	while (pid == 0 && fgets(line, sizeof(line), locks) != NULL) {
		pid = dirlock_line_holder(line, major(dev), minor(dev),
		        (unsigned long long) ino);
		/* A line longer than the buffer: skip the rest of it. */
		while (strchr(line, '\n') == NULL && !feof(locks)
		        && fgets(line, sizeof(line), locks) != NULL) {
		}
	}
	return pid;
}

/* Writes the in-use refusal for dir, whose lock fd could not take. */
static void
dirlock_in_use(const char *dir, int fd, char *err, size_t errlen)
{
	struct stat st;
	long pid = 0;
	FILE *locks = fopen("/proc/locks", "r");
	if (locks != NULL && fstat(fd, &st) == 0) {
		pid = dirlock_holder(locks, st.st_dev, st.st_ino);
	}
	if (locks != NULL) {
		fclose(locks);
	}
	if (pid > 0) {
		snprintf(err, errlen,
		        "data dir '%s' is in use by another clmd (pid %ld)",
		        dir, pid);
	} else {
		snprintf(err, errlen,
		        "data dir '%s' is in use by another clmd", dir);
	}
}

int
dirlock_open(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0750) != 0) {
			snprintf(err, errlen,
			        "cannot create data dir '%s': %s", dir,
			        strerror(errno));
			return -1;
		}
		/* The new directory's name survives a power loss. */
		if (fsdir_sync_parent(dir) != 0) {
			snprintf(err, errlen,
			        "cannot sync the parent of data dir '%s': %s",
			        dir, strerror(errno));
			return -1;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data dir '%s' is not a directory", dir);
		return -1;
	} else if (fsdir_sync_parent(dir) != 0) {
		/*
		 * An existing directory may have been made by a clmd killed
		 * before it synced the parent: sync it again on every start.
		 * A parent this user may not read is the operator's (made
		 * durably by whoever made it), so only say so.
		 */
		log_warn("cannot sync the parent of data dir '%s': %s", dir,
		        strerror(errno));
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open data dir '%s': %s", dir,
		        strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			dirlock_in_use(dir, fd, err, errlen);
		} else {
			snprintf(err, errlen, "cannot lock data dir '%s': %s",
			        dir, strerror(errno));
		}
		close(fd);
		return -1;
	}
	return fd;
}
