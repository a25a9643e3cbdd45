/*
 * faultfs: an LD_PRELOAD library for the reliability tests.
 *
 * While the file named by $CLM_FAULTFS_FLAG exists and holds "ENOSPC" or
 * "EIO", write, pwrite, pwritev, writev, fsync, fdatasync and msync on
 * files whose path contains one of the '|'-separated parts of
 * $CLM_FAULTFS_MATCH (default "data.mdb|.jnl": LMDB's files and the
 * journal's segments) fail with that error, and nothing is written. When the
 * flag also holds "sync", only fsync, fdatasync and msync fail: the data
 * reaches the page cache, as when a disk fails at flush time.
 *
 * While the flag holds "HOLD", fsync, fdatasync and msync (only those) on
 * a matching file block instead, as a disk that takes its time to flush:
 * the call creates the file "<flag>.held" (so a test sees that something
 * is held), polls the flag every 10 ms until it no longer holds "HOLD"
 * (or 120 s have passed), and then goes on as without it: it fails if the
 * flag now asks for an error, else makes the real call. "<flag>.held" is
 * removed when the last call held leaves, so it exists exactly while at
 * least one call is held (several threads may be).
 *
 * The flag is read on every call, so a test turns faults on and off while
 * the process runs. Nothing is cached: the path of an fd is looked up
 * (readlink /proc/self/fd/N; for msync, the mapping in /proc/self/maps)
 * only while the flag is set, so a reused fd number is never mistaken for
 * an old file. The shared state is the table of real functions, filled
 * once under pthread_once, and the count of calls held, under a mutex;
 * everything else is on the stack, so any thread may call in at any time.
 * The shim itself only calls open, read, close, readlink, unlink,
 * nanosleep and clock_gettime, which it does not wrap.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FAULTFS_HOLD_POLL_MS 10
#define FAULTFS_HOLD_MAX_MS  120000

typedef ssize_t (*faultfs_write_fn)(int, const void *, size_t);
typedef ssize_t (*faultfs_pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*faultfs_pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*faultfs_writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*faultfs_pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*faultfs_pwritev64_fn)(
        int, const struct iovec *, int, off64_t);
typedef int (*faultfs_sync_fn)(int);
typedef int (*faultfs_msync_fn)(void *, size_t, int);

/* The real functions (next in the lookup order); written once. */
static struct {
	faultfs_write_fn write;
	faultfs_pwrite_fn pwrite;
	faultfs_pwrite64_fn pwrite64;
	faultfs_writev_fn writev;
	faultfs_pwritev_fn pwritev;
	faultfs_pwritev64_fn pwritev64;
	faultfs_sync_fn fsync;
	faultfs_sync_fn fdatasync;
	faultfs_msync_fn msync;
} faultfs_real;

static pthread_once_t faultfs_once = PTHREAD_ONCE_INIT;

/* The calls held now (HOLD): "<flag>.held" exists while it is not 0. */
static struct {
	pthread_mutex_t mu;
	int n;
} faultfs_held = { PTHREAD_MUTEX_INITIALIZER, 0 };

/* Copies dlsym's object pointer into the function pointer at fnp. */
static void
faultfs_sym(void *fnp, size_t size, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (p == NULL) {
		abort(); /* no real call to forward to */
	}
	memcpy(fnp, &p, size);
}

static void
faultfs_resolve(void)
{
#define FAULTFS_SYM(f) faultfs_sym(&faultfs_real.f, sizeof(faultfs_real.f), #f)
	FAULTFS_SYM(write);
	FAULTFS_SYM(pwrite);
	FAULTFS_SYM(pwrite64);
	FAULTFS_SYM(writev);
	FAULTFS_SYM(pwritev);
	FAULTFS_SYM(pwritev64);
	FAULTFS_SYM(fsync);
	FAULTFS_SYM(fdatasync);
	FAULTFS_SYM(msync);
#undef FAULTFS_SYM
}

static void
faultfs_init(void)
{
	pthread_once(&faultfs_once, faultfs_resolve);
}

/*
 * Reads the flag file into buf (size bytes, NUL-terminated). Returns false
 * when there is no flag or it is empty. Keeps the caller's errno.
 */
static bool
faultfs_flag_read(char *buf, size_t size)
{
	const char *flag = getenv("CLM_FAULTFS_FLAG");
	if (flag == NULL || flag[0] == '\0') {
		return false;
	}
	int saved = errno;
	ssize_t n = -1;
	int fd = open(flag, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	errno = saved;
	if (n <= 0) {
		return false;
	}
	buf[n] = '\0';
	return true;
}

/* Whether the flag holds "HOLD". */
static bool
faultfs_holding(void)
{
	char buf[64];
	return faultfs_flag_read(buf, sizeof(buf))
	        && strstr(buf, "HOLD") != NULL;
}

/*
 * The errno to fail a call with now (0 = none), for a sync when is_sync.
 * Keeps the caller's errno when it injects nothing.
 */
static int
faultfs_active(bool is_sync)
{
	char buf[64];
	if (!faultfs_flag_read(buf, sizeof(buf))) {
		return 0;
	}
	if (!is_sync && strstr(buf, "sync") != NULL) {
		return 0;
	}
	if (strstr(buf, "ENOSPC") != NULL) {
		return ENOSPC;
	}
	if (strstr(buf, "EIO") != NULL) {
		return EIO;
	}
	return 0;
}

static bool
faultfs_path_matches(const char *path)
{
	const char *match = getenv("CLM_FAULTFS_MATCH");
	if (match == NULL || match[0] == '\0') {
		match = "data.mdb|.jnl";
	}
	/* Any of the '|'-separated parts. */
	while (*match != '\0') {
		size_t n = strcspn(match, "|");
		char part[256];
		if (n > 0 && n < sizeof(part)) {
			memcpy(part, match, n);
			part[n] = '\0';
			if (strstr(path, part) != NULL) {
				return true;
			}
		}
		match += n + (match[n] == '|');
	}
	return false;
}

/* Whether fd is open on a matching file. Keeps the caller's errno. */
static bool
faultfs_fd_matches(int fd)
{
	if (fd < 0) {
		return false;
	}
	int saved = errno;
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	errno = saved;
	if (n <= 0) {
		return false;
	}
	path[n] = '\0';
	return faultfs_path_matches(path);
}

/* The errno to fail an operation on fd with, or 0. */
static int
faultfs_fd_error(int fd, bool is_sync)
{
	int err = faultfs_active(is_sync);
	if (err == 0) {
		return 0;
	}
	return faultfs_fd_matches(fd) ? err : 0;
}

/*
 * Whether the line of /proc/self/maps "LO-HI PERMS OFF DEV INODE PATH"
 * covers addr and names a matching file.
 */
static bool
faultfs_maps_line(const char *line, uintptr_t addr)
{
	char *end;
	unsigned long long lo = strtoull(line, &end, 16);
	if (*end != '-') {
		return false;
	}
	unsigned long long hi = strtoull(end + 1, &end, 16);
	if (addr < lo || addr >= hi) {
		return false;
	}
	const char *path = strchr(line, '/');
	return path != NULL && faultfs_path_matches(path);
}

/*
 * Whether addr lies in a mapping of a matching file. Keeps the caller's
 * errno.
 */
static bool
faultfs_map_matches(const void *addr)
{
	int saved = errno;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	bool hit = false;
	char buf[8192];
	size_t have = 0;
	while (fd >= 0 && !hit) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0) {
			break;
		}
		have += (size_t) n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while (!hit && (nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			hit = faultfs_maps_line(line, (uintptr_t) addr);
			line = nl + 1;
		}
		/* Keep the incomplete last line for the next read. */
		have = strlen(line);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1) {
			have = 0; /* an absurdly long line: skip it */
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	errno = saved;
	return hit;
}

/* The errno to fail an msync of addr with, or 0. */
static int
faultfs_map_error(const void *addr)
{
	int err = faultfs_active(true);
	if (err == 0) {
		return 0;
	}
	return faultfs_map_matches(addr) ? err : 0;
}

static int64_t
faultfs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Counts a call in (enter) or out of the calls held, creating
 * "<flag>.held" for the first one in and removing it after the last one
 * out. Under the mutex, so the file and the count always agree.
 */
static void
faultfs_hold_count(bool enter)
{
	const char *flag = getenv("CLM_FAULTFS_FLAG");
	char held[4096];
	if (flag == NULL
	        || (size_t) snprintf(held, sizeof(held), "%s.held", flag)
	                >= sizeof(held)) {
		return;
	}
	int saved = errno;
	pthread_mutex_lock(&faultfs_held.mu);
	if (enter && faultfs_held.n++ == 0) {
		int fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
		}
	} else if (!enter && --faultfs_held.n == 0) {
		unlink(held);
	}
	pthread_mutex_unlock(&faultfs_held.mu);
	errno = saved;
}

/*
 * Blocks a sync of a matching file while the flag holds "HOLD" (at most
 * FAULTFS_HOLD_MAX_MS), with "<flag>.held" there meanwhile. matches tells
 * whether the file matches; it is called only while holding.
 */
static void
faultfs_hold(bool (*matches)(int, const void *), int fd, const void *addr)
{
	if (!faultfs_holding() || !matches(fd, addr)) {
		return;
	}
	faultfs_hold_count(true);
	int64_t until = faultfs_now_ms() + FAULTFS_HOLD_MAX_MS;
	while (faultfs_holding() && faultfs_now_ms() < until) {
		struct timespec ts = { 0, FAULTFS_HOLD_POLL_MS * 1000000L };
		int saved = errno;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		}
		errno = saved;
	}
	faultfs_hold_count(false);
}

/* faultfs_hold's test for a sync of fd. */
static bool
faultfs_hold_fd(int fd, const void *addr)
{
	(void) addr;
	return faultfs_fd_matches(fd);
}

/* faultfs_hold's test for an msync of addr. */
static bool
faultfs_hold_map(int fd, const void *addr)
{
	(void) fd;
	return faultfs_map_matches(addr);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.write(fd, buf, count);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t off)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.pwrite(fd, buf, count, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.pwrite64(fd, buf, count, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.writev(fd, iov, iovcnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.pwritev(fd, iov, iovcnt, off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	faultfs_init();
	int err = faultfs_fd_error(fd, false);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.pwritev64(fd, iov, iovcnt, off);
}

int
fsync(int fd)
{
	faultfs_init();
	faultfs_hold(faultfs_hold_fd, fd, NULL);
	int err = faultfs_fd_error(fd, true);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.fsync(fd);
}

int
fdatasync(int fd)
{
	faultfs_init();
	faultfs_hold(faultfs_hold_fd, fd, NULL);
	int err = faultfs_fd_error(fd, true);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.fdatasync(fd);
}

int
msync(void *addr, size_t len, int flags)
{
	faultfs_init();
	faultfs_hold(faultfs_hold_map, -1, addr);
	int err = faultfs_map_error(addr);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return faultfs_real.msync(addr, len, flags);
}
