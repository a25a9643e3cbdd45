/*
 * powercut: the wrapped calls (see powercut.c). Each one that touches the
 * watched tree counts as an operation (pc_op), runs the real call, updates
 * the model and, when the cut is due right after it, cuts before
 * returning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powercut.h"

/* One wrapped write-class call: the operation, the call, the model. */
#define PC_WRITE(fd, off_expr, iov, cnt, call)                \
	do {                                                  \
		int pc_i = pc_enter_fd(fd);                   \
		if (pc_i < 0) {                               \
			return call;                          \
		}                                             \
		bool pc_c = pc_op();                          \
		off_t pc_off = (off_expr);                    \
		ssize_t pc_got = call;                        \
		int pc_errno = errno;                         \
		pc_wrote(pc_i, fd, pc_off, iov, cnt, pc_got); \
		pc_cut_after(pc_c);                           \
		pthread_mutex_unlock(&pc_lock);               \
		errno = pc_errno;                             \
		return pc_got;                                \
	} while (0)

ssize_t
write(int fd, const void *buf, size_t count)
{
	struct iovec v = { (void *) buf, count };
	PC_WRITE(fd, pc_pos(fd), &v, 1, pc_real.write(fd, buf, count));
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t off)
{
	struct iovec v = { (void *) buf, count };
	PC_WRITE(fd, off, &v, 1, pc_real.pwrite(fd, buf, count, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
	struct iovec v = { (void *) buf, count };
	PC_WRITE(fd, off, &v, 1, pc_real.pwrite64(fd, buf, count, off));
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	PC_WRITE(fd, pc_pos(fd), iov, cnt, pc_real.writev(fd, iov, cnt));
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	PC_WRITE(fd, off, iov, cnt, pc_real.pwritev(fd, iov, cnt, off));
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	PC_WRITE(fd, off, iov, cnt, pc_real.pwritev64(fd, iov, cnt, off));
}

/* ftruncate and friends: the cut pages are re-read at the next sync. */
static int
pc_truncate(int fd, off_t len, pc_ftruncate_fn real)
{
	int i = pc_enter_fd(fd);
	if (i < 0) {
		return real(fd, len);
	}
	bool cut = pc_op();
	int rc = real(fd, len);
	int err = errno;
	struct pc_node *n = &pc_nodes[i];
	if (rc == 0 && (n->trunc_to < 0 || len < n->trunc_to)) {
		n->trunc_to = len;
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return rc;
}

int
ftruncate(int fd, off_t len)
{
	pc_init();
	return pc_truncate(fd, len, pc_real.ftruncate);
}

int
ftruncate64(int fd, off64_t len)
{
	pc_init();
	return pc_truncate(fd, len, pc_real.ftruncate64);
}

/* A hole punched or zeroed is a write; a reservation changes no bytes. */
static int
pc_fallocate(int fd, int mode, off_t off, off_t len, pc_fallocate_fn real)
{
	int i = pc_enter_fd(fd);
	if (i < 0) {
		return real(fd, mode, off, len);
	}
	bool cut = pc_op();
	int rc = real(fd, mode, off, len);
	int err = errno;
	if (rc == 0
	        && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		pc_mark(&pc_nodes[i], off, (size_t) len);
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return rc;
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	pc_init();
	return pc_fallocate(fd, mode, off, len, pc_real.fallocate);
}

int
fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	pc_init();
	return pc_fallocate(fd, mode, off, len, pc_real.fallocate64);
}

/*
 * An fsync of the root's parent makes the root's entry durable (when the
 * process made the root). Returns true when fd is that parent.
 */
static bool
pc_parent_sync(int fd, pc_sync_fn real, int *rc)
{
	struct stat st, pst;
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)
	        || stat(pc_cfg.parent, &pst) != 0 || pst.st_dev != st.st_dev
	        || pst.st_ino != st.st_ino) {
		return false;
	}
	pthread_mutex_lock(&pc_lock);
	bool cut = pc_op();
	pthread_mutex_unlock(&pc_lock);
	*rc = real(fd);
	int err = errno;
	pthread_mutex_lock(&pc_lock);
	if (*rc == 0) {
		pc_root = pc_node_for(fd, pc_cfg.name, false);
		pc_root_durable = pc_root >= 0;
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return true;
}

/* fsync and fdatasync: file data and size, or a directory's entries. */
static int
pc_sync(int fd, pc_sync_fn real)
{
	pc_init();
	int rc;
	if (!pc_cfg.on || pc_parent_sync(fd, real, &rc)) {
		return pc_cfg.on ? rc : real(fd);
	}
	int i = pc_enter_fd(fd);
	if (i < 0) {
		return real(fd);
	}
	bool cut = pc_op();
	pthread_mutex_unlock(&pc_lock);
	/*
	 * The model is updated after the real sync: what the sync covered is
	 * at least what was written before it began. A write that lands while
	 * it runs may count as durable too, as it may on a disk.
	 */
	rc = real(fd);
	int err = errno;
	pthread_mutex_lock(&pc_lock);
	if (rc == 0) {
		struct pc_node *n = &pc_nodes[i];
		if (n->dir) {
			pc_sync_dir(n, fd, false);
		} else {
			pc_sync_file(n, fd);
		}
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return rc;
}

int
fsync(int fd)
{
	return pc_sync(fd, pc_real.fsync);
}

int
fdatasync(int fd)
{
	return pc_sync(fd, pc_real.fdatasync);
}

/*
 * sync_file_range waits for the data of its range with WAIT_AFTER; it
 * syncs no metadata, so only pages within the durable size count.
 */
int
sync_file_range(int fd, off64_t off, off64_t nbytes, unsigned int flags)
{
	int i = pc_enter_fd(fd);
	if (i < 0) {
		return pc_real.sync_file_range(fd, off, nbytes, flags);
	}
	bool cut = pc_op();
	pthread_mutex_unlock(&pc_lock);
	int rc = pc_real.sync_file_range(fd, off, nbytes, flags);
	int err = errno;
	pthread_mutex_lock(&pc_lock);
	struct pc_node *n = &pc_nodes[i];
	unsigned want = SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
	if (rc == 0 && (flags & want) == want && off >= 0) {
		off_t end = nbytes == 0 ? n->dsize : off + nbytes;
		end = end < n->dsize ? end : n->dsize;
		int rfd = pc_reader(fd);
		for (off_t p = off / PC_PAGE; p * PC_PAGE < end; p++) {
			if (pc_is_dirty(n, (size_t) p)) {
				pc_copy_page(n, rfd, (size_t) p, n->dsize);
				n->dirty[p / 8] &= (uint8_t) ~(1u << (p % 8));
			}
		}
		if (rfd != fd) {
			close(rfd);
		}
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return rc;
}

/*
 * The mapping of /proc/self/maps that holds addr, if it maps a file of the
 * tree: its start, file offset and node (pc_lock held), else -1.
 */
static int
pc_map_node(const void *addr, uintptr_t *lo_out, off_t *off_out)
{
	int fd = pc_real.open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char buf[8192];
	size_t have = 0;
	int found = -1;
	bool done = false;
	while (fd >= 0 && !done) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0) {
			break;
		}
		have += (size_t) n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while (!done && (nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			unsigned long long lo, hi, off;
			char perms[8];
			int at = 0;
			if (sscanf(line, "%llx-%llx %7s %llx %*s %*u %n", &lo,
			            &hi, perms, &off,
			            &at) >= 4
			        && (uintptr_t) addr >= lo
			        && (uintptr_t) addr < hi) {
				done = true;
				const char *path = at > 0 ? line + at : "";
				struct stat st;
				if (path[0] == '/'
				        && pc_path_in(AT_FDCWD, path)
				        && stat(path, &st) == 0) {
					found = pc_node_find(
					        st.st_dev, st.st_ino);
					*lo_out = (uintptr_t) lo;
					*off_out = (off_t) off;
				}
			}
			line = nl + 1;
		}
		have = strlen(line);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1) {
			have = 0;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return found;
}

/* msync with MS_SYNC of a shared file mapping: those bytes are durable. */
int
msync(void *addr, size_t len, int flags)
{
	pc_init();
	if (!pc_cfg.on || (flags & MS_SYNC) == 0) {
		return pc_real.msync(addr, len, flags);
	}
	pthread_mutex_lock(&pc_lock);
	uintptr_t lo = 0;
	off_t off = 0;
	int i = pc_map_node(addr, &lo, &off);
	if (i < 0) {
		pthread_mutex_unlock(&pc_lock);
		return pc_real.msync(addr, len, flags);
	}
	bool cut = pc_op();
	int rc = pc_real.msync(addr, len, flags);
	int err = errno;
	if (rc == 0) {
		struct pc_node *n = &pc_nodes[i];
		off_t at = off + (off_t) ((uintptr_t) addr - lo);
		size_t k = at < n->dsize ? (size_t) (n->dsize - at) : 0;
		k = k < len ? k : len;
		if (k > 0) {
			memcpy(n->img + at, addr, k);
		}
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return rc;
}

/*
 * An open that creates or truncates a file of the tree. A new file gets a
 * new node with nothing durable; its name is durable only when its
 * directory is fsync'd.
 */
static int
pc_open_at(int dirfd, const char *path, int flags, mode_t mode, int kind)
{
	pc_init();
	bool watch = pc_cfg.on && (flags & (O_CREAT | O_TRUNC)) != 0
	        && (flags & O_TMPFILE) != O_TMPFILE && pc_path_in(dirfd, path);
	struct stat st;
	bool existed = false, cut = false;
	if (watch) {
		pthread_mutex_lock(&pc_lock);
		existed = fstatat(dirfd, path, &st, 0) == 0;
		if (!existed || (flags & O_TRUNC) != 0) {
			cut = pc_op();
		}
	}
	int fd;
	switch (kind) {
	case 0:
		fd = pc_real.openat(dirfd, path, flags, mode);
		break;
	case 1:
		fd = pc_real.openat64(dirfd, path, flags, mode);
		break;
	case 2:
		fd = pc_real.open(path, flags, mode);
		break;
	default:
		fd = pc_real.open64(path, flags, mode);
		break;
	}
	if (!watch) {
		return fd;
	}
	int err = errno;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		int i = existed ? pc_node_find(st.st_dev, st.st_ino)
		                : pc_node_new(st.st_dev, st.st_ino, false);
		if (i < 0 && existed) {
			i = pc_fd_node(fd);
		}
		if (i >= 0 && (flags & O_TRUNC) != 0) {
			pc_nodes[i].trunc_to = 0;
		}
	}
	pc_cut_after(cut);
	pthread_mutex_unlock(&pc_lock);
	errno = err;
	return fd;
}

static mode_t
pc_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE
	        ? (mode_t) va_arg(ap, int)
	        : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = pc_mode(flags, ap);
	va_end(ap);
	return pc_open_at(AT_FDCWD, path, flags, mode, 2);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = pc_mode(flags, ap);
	va_end(ap);
	return pc_open_at(AT_FDCWD, path, flags, mode, 3);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = pc_mode(flags, ap);
	va_end(ap);
	return pc_open_at(dirfd, path, flags, mode, 0);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = pc_mode(flags, ap);
	va_end(ap);
	return pc_open_at(dirfd, path, flags, mode, 1);
}

int
creat(const char *path, mode_t mode)
{
	return pc_open_at(
	        AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, 2);
}

int
creat64(const char *path, mode_t mode)
{
	return pc_open_at(
	        AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, 3);
}

/*
 * A namespace change in the tree: counted (and maybe cut before); what it
 * did becomes durable at the directory's next fsync.
 */
#define PC_NAMESPACE(in, call)                  \
	do {                                    \
		pc_init();                      \
		if (!pc_cfg.on || !(in)) {      \
			return call;            \
		}                               \
		pthread_mutex_lock(&pc_lock);   \
		bool pc_c = pc_op();            \
		int pc_rc = call;               \
		int pc_errno = errno;           \
		pc_cut_after(pc_c);             \
		pthread_mutex_unlock(&pc_lock); \
		errno = pc_errno;               \
		return pc_rc;                   \
	} while (0)

int
rename(const char *from, const char *to)
{
	PC_NAMESPACE(pc_path_in(AT_FDCWD, from) || pc_path_in(AT_FDCWD, to),
	        pc_real.rename(from, to));
}

int
renameat(int fd1, const char *from, int fd2, const char *to)
{
	PC_NAMESPACE(pc_path_in(fd1, from) || pc_path_in(fd2, to),
	        pc_real.renameat(fd1, from, fd2, to));
}

int
renameat2(int fd1, const char *from, int fd2, const char *to, unsigned fl)
{
	PC_NAMESPACE(pc_path_in(fd1, from) || pc_path_in(fd2, to),
	        pc_real.renameat2(fd1, from, fd2, to, fl));
}

int
link(const char *from, const char *to)
{
	PC_NAMESPACE(pc_path_in(AT_FDCWD, to), pc_real.link(from, to));
}

int
linkat(int fd1, const char *from, int fd2, const char *to, int fl)
{
	PC_NAMESPACE(
	        pc_path_in(fd2, to), pc_real.linkat(fd1, from, fd2, to, fl));
}

int
unlink(const char *path)
{
	PC_NAMESPACE(pc_path_in(AT_FDCWD, path), pc_real.unlink(path));
}

int
unlinkat(int fd, const char *path, int fl)
{
	PC_NAMESPACE(pc_path_in(fd, path), pc_real.unlinkat(fd, path, fl));
}

int
rmdir(const char *path)
{
	PC_NAMESPACE(pc_path_in(AT_FDCWD, path), pc_real.rmdir(path));
}

int
mkdir(const char *path, mode_t mode)
{
	PC_NAMESPACE(pc_path_in(AT_FDCWD, path), pc_real.mkdir(path, mode));
}

int
mkdirat(int fd, const char *path, mode_t mode)
{
	PC_NAMESPACE(pc_path_in(fd, path), pc_real.mkdirat(fd, path, mode));
}
