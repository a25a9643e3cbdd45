/*
 * powercut: an LD_PRELOAD library that simulates a power cut (reliability
 * tests: tests/reliability/powerloss_test.c, tools/powerloss-soak.sh).
 *
 * kill -9 cannot show power loss: the page cache outlives the process. This
 * library keeps, for the directory named by $CLM_POWERCUT_DIR (the watched
 * root, typically a data directory) and everything under it, a shadow of
 * what a disk would still hold after the power went off, in the strict
 * POSIX model (no ext4 data=ordered favours):
 *
 *   - a file's data and size are durable as of its last fsync or
 *     fdatasync (or sync_file_range with SYNC_FILE_RANGE_WAIT_AFTER, for
 *     the pages in its range and within the durable size), and the bytes
 *     of a write through an O_DSYNC or O_SYNC descriptor are durable when
 *     the write returns (LMDB writes its meta pages that way);
 *   - a directory's entries (what a create, rename, unlink, link or mkdir
 *     did to it) are durable as of its last fsync: the fsync takes the
 *     directory's current listing as the durable one. The root itself, when
 *     the process creates it, is durable once its parent is fsync'd.
 *
 * Files and directories present at the first wrapped call are durable as
 * they are (a snapshot then: nothing the library sees has changed them
 * yet; there is no constructor, so nothing runs before a sanitizer's
 * runtime). Nodes are kept by inode; an unlinked file keeps its durable
 * bytes for as long as a durable entry still names it.
 *
 * The cut comes right after the N-th durability-relevant operation on the
 * watched tree, counted across all threads, with $CLM_POWERCUT_AFTER=N
 * (the operation done and in the model, inside the call, before it
 * returns), or before the first such operation once the file
 * $CLM_POWERCUT_NOW exists. Operations: open that creates or truncates,
 * write, pwrite(64), writev, pwritev(64), ftruncate, fallocate, fsync,
 * fdatasync, sync_file_range, msync of a file mapping, rename(at/at2),
 * link(at), unlink(at), mkdir(at), rmdir. At the cut the library writes the
 * durable tree to the directory $CLM_POWERCUT_OUT (created; when the root
 * itself is not durable, nothing is created: the whole directory is gone),
 * writes "cut OP REASON\n" to $CLM_POWERCUT_OUT.report, and kills the process
 * with SIGKILL from inside the wrapped call, so no reply that depends on the
 * operation can leave. With $CLM_POWERCUT_TORN=1 each page written since
 * the file's last sync is kept from the page cache with probability 1/2
 * (seeded by $CLM_POWERCUT_SEED), growing the file to cover it: torn,
 * unsynced writes (to read them after the program closed the file, torn
 * mode keeps a read-only descriptor of each file with unsynced pages
 * until its next sync; closing it would drop the process's fcntl locks on
 * that file, so do not use torn mode on files locked that way). When the
 * process exits without a cut, the report says "ops N\n": how many operations
 * a whole run made.
 *
 * Threads and memory: one mutex guards the model and is held across each
 * wrapped write, so the dirty-page bitmap always covers what reached the
 * page cache. The shadow bytes live in anonymous mappings (mmap, mremap),
 * and every table is static: nothing calls malloc inside a wrapped call.
 * The real functions are resolved once (pthread_once). The library itself
 * calls only unwrapped functions (pread, fstat, lseek, fcntl, readlink,
 * getdents64) or the real ones through its table. The wrapped calls are
 * in powercut_wrap.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powercut.h"

/*
 * The model and the settings: globals, because an LD_PRELOAD library has
 * no context to pass; those shared with powercut_wrap.c are hidden in the
 * library (powercut.h). Everything below pc_lock is guarded by it; the
 * settings are written once by pc_setup.
 */
static pthread_once_t pc_once = PTHREAD_ONCE_INIT;
pthread_mutex_t pc_lock = PTHREAD_MUTEX_INITIALIZER;
struct pc_cfg pc_cfg;
struct pc_real pc_real;
struct pc_node pc_nodes[PC_MAX_NODES];
static struct pc_ent pc_ents[PC_MAX_ENTS];
static int pc_free_ent = -1; /* free list of pc_ents */
int pc_root = -1;            /* node of the root, or -1 */
bool pc_root_durable;
static unsigned long long pc_ops;
static bool pc_full; /* a table ran out: the model is no longer exact */

static void
pc_sym(void *fnp, size_t size, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (p == NULL) {
		abort(); /* no real call to forward to */
	}
	memcpy(fnp, &p, size);
}

/* Writes a message to stderr without stdio (no allocation). */
static void
pc_say(const char *msg)
{
	size_t n = strlen(msg);
	while (n > 0) {
		ssize_t w = pc_real.write(2, msg, n);
		if (w <= 0) {
			return;
		}
		msg += w;
		n -= (size_t) w;
	}
}

/* Grows the anonymous mapping *p of *cap bytes to hold need bytes. */
static bool
pc_grow(void *pp, size_t *cap, size_t need)
{
	unsigned char **p = pp;
	if (need <= *cap) {
		return true;
	}
	size_t nc = *cap ? *cap : 16 * PC_PAGE;
	while (nc < need) {
		nc *= 2;
	}
	void *q = *cap == 0 ? mmap(NULL, nc, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
	                    : mremap(*p, *cap, nc, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		pc_full = true;
		return false;
	}
	*p = q;
	*cap = nc;
	return true;
}

int
pc_node_new(dev_t dev, ino_t ino, bool dir)
{
	for (int i = 0; i < PC_MAX_NODES; i++) {
		if (pc_nodes[i].used && pc_nodes[i].live
		        && pc_nodes[i].dev == dev && pc_nodes[i].ino == ino) {
			pc_nodes[i].live = false; /* the inode was reused */
		}
	}
	for (int i = 0; i < PC_MAX_NODES; i++) {
		struct pc_node *n = &pc_nodes[i];
		if (!n->used) {
			memset(n, 0, sizeof(*n));
			n->used = n->live = true;
			n->dir = dir;
			n->dev = dev;
			n->ino = ino;
			n->trunc_to = -1;
			n->keep_fd = -1;
			n->ents = -1;
			return i;
		}
	}
	pc_full = true;
	return -1;
}

int
pc_node_find(dev_t dev, ino_t ino)
{
	for (int i = 0; i < PC_MAX_NODES; i++) {
		if (pc_nodes[i].used && pc_nodes[i].live
		        && pc_nodes[i].dev == dev && pc_nodes[i].ino == ino) {
			return i;
		}
	}
	return -1;
}

void
pc_mark(struct pc_node *n, off_t off, size_t len)
{
	if (len == 0 || off < 0) {
		return;
	}
	size_t first = (size_t) off / PC_PAGE;
	size_t last = ((size_t) off + len - 1) / PC_PAGE;
	if (!pc_grow(&n->dirty, &n->dirty_cap, last / 8 + 1)) {
		return;
	}
	for (size_t p = first; p <= last; p++) {
		n->dirty[p / 8] |= (uint8_t) (1u << (p % 8));
	}
}

bool
pc_is_dirty(const struct pc_node *n, size_t page)
{
	return page / 8 < n->dirty_cap
	        && (n->dirty[page / 8] & (1u << (page % 8))) != 0;
}

/* Sets the durable size; bytes beyond it read as zero. */
static void
pc_set_size(struct pc_node *n, off_t size)
{
	if (!pc_grow(&n->img, &n->img_cap, (size_t) size)) {
		return;
	}
	if (size < n->dsize) {
		memset(n->img + size, 0, (size_t) (n->dsize - size));
	}
	n->dsize = size;
}

/* Copies page p of the file open as fd into the image (up to size). */
void
pc_copy_page(struct pc_node *n, int fd, size_t p, off_t size)
{
	off_t off = (off_t) p * PC_PAGE;
	if (off >= size
	        || !pc_grow(&n->img, &n->img_cap, (size_t) off + PC_PAGE)) {
		return;
	}
	size_t want = (size_t) (size - off < PC_PAGE ? size - off : PC_PAGE);
	ssize_t got = pread(fd, n->img + off, want, off);
	if (got < (ssize_t) want) {
		memset(n->img + off + (got > 0 ? got : 0), 0,
		        want - (size_t) (got > 0 ? got : 0));
	}
}

int
pc_reader(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_WRONLY) {
		return fd;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rfd = pc_real.open(path, O_RDONLY | O_CLOEXEC);
	return rfd >= 0 ? rfd : fd;
}

/*
 * Whether a shared writable mapping of (dev, ino) exists in this process:
 * its stores bypass the wrapped writes, and an fsync flushes them too.
 */
static bool
pc_shared_writable(dev_t dev, ino_t ino)
{
	int fd = pc_real.open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char buf[8192];
	size_t have = 0;
	bool hit = false;
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
			char perms[8];
			unsigned maj, min;
			unsigned long long lino;
			hit = sscanf(line, "%*x-%*x %7s %*x %x:%x %llu", perms,
			              &maj, &min, &lino)
			                == 4
			        && perms[1] == 'w' && perms[3] == 's'
			        && lino == (unsigned long long) ino
			        && makedev(maj, min) == dev;
			line = nl + 1;
		}
		have = strlen(line);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1) {
			have = 0; /* an absurdly long line: skip it */
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return hit;
}

/*
 * fsync of the file fd: the current size and every page written (or cut
 * off) since the last sync become durable; all pages when the file is
 * mapped shared and writable (its stores were not seen).
 */
void
pc_sync_file(struct pc_node *n, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		return;
	}
	off_t size = st.st_size;
	size_t pages = (size_t) (size + PC_PAGE - 1) / PC_PAGE;
	size_t from = n->all_dirty || pc_shared_writable(n->dev, n->ino) ? 0
	        : n->trunc_to >= 0 ? (size_t) n->trunc_to / PC_PAGE
	                           : pages;
	pc_set_size(n, size);
	int rfd = pc_reader(fd);
	for (size_t p = 0; p < pages; p++) {
		if (p >= from || pc_is_dirty(n, p)) {
			pc_copy_page(n, rfd, p, size);
		}
	}
	if (rfd != fd) {
		close(rfd);
	}
	if (n->dirty_cap > 0) {
		memset(n->dirty, 0, n->dirty_cap);
	}
	if (n->keep_fd >= 0) {
		close(n->keep_fd); /* nothing unsynced to tear any more */
		n->keep_fd = -1;
	}
	n->trunc_to = -1;
	n->all_dirty = false;
}

/* The bytes of a write through an O_DSYNC descriptor are durable now. */
static void
pc_apply(struct pc_node *n, off_t off, const struct iovec *iov, int cnt,
        size_t len)
{
	off_t end = off + (off_t) len;
	if (!pc_grow(&n->img, &n->img_cap, (size_t) end)) {
		return;
	}
	if (end > n->dsize) {
		n->dsize = end; /* the gap was zero already */
	}
	for (int i = 0; i < cnt && len > 0; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
		memcpy(n->img + off, iov[i].iov_base, k);
		off += (off_t) k;
		len -= k;
	}
}

static void
pc_ent_free_list(int e)
{
	while (e >= 0) {
		int next = pc_ents[e].next;
		pc_ents[e].next = pc_free_ent;
		pc_free_ent = e;
		e = next;
	}
}

static int
pc_ent_new(void)
{
	int e = pc_free_ent;
	if (e < 0) {
		pc_full = true;
		return -1;
	}
	pc_free_ent = pc_ents[e].next;
	return e;
}

/*
 * fsync of the directory fd (node n): its current listing becomes the
 * durable one. With snapshot (at load), each file's current bytes are
 * durable too, and subdirectories are snapshot the same way.
 */
void
pc_sync_dir(struct pc_node *n, int fd, bool snapshot)
{
	int old = n->ents;
	n->ents = -1;
	char buf[4096];
	off_t pos = lseek(fd, 0, SEEK_CUR);
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (got <= 0) {
			break;
		}
		for (long at = 0; at < got;) {
			struct dirent64 *d = (struct dirent64 *) (buf + at);
			at += d->d_reclen;
			if (strcmp(d->d_name, ".") == 0
			        || strcmp(d->d_name, "..") == 0) {
				continue;
			}
			int child = pc_node_for(fd, d->d_name, snapshot);
			int e = child >= 0 ? pc_ent_new() : -1;
			if (e < 0) {
				continue;
			}
			pc_ents[e].node = child;
			snprintf(pc_ents[e].name, sizeof(pc_ents[e].name),
			        "%s", d->d_name);
			pc_ents[e].next = n->ents;
			n->ents = e;
		}
	}
	lseek(fd, pos, SEEK_SET);
	pc_ent_free_list(old);
}

/*
 * The live node of name in the directory dirfd, made when missing: a file
 * found this way was not opened through the wrapper, so its next sync
 * copies it whole (at load it is taken as durable at once).
 */
int
pc_node_for(int dirfd, const char *name, bool snapshot)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
	        || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		return -1;
	}
	int i = pc_node_find(st.st_dev, st.st_ino);
	if (i >= 0) {
		return i;
	}
	i = pc_node_new(st.st_dev, st.st_ino, S_ISDIR(st.st_mode));
	if (i < 0) {
		return -1;
	}
	int fd = pc_real.openat(dirfd, name,
	        (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC
	                | O_NOFOLLOW);
	if (fd < 0) {
		return i;
	}
	if (S_ISDIR(st.st_mode) && snapshot) {
		pc_sync_dir(&pc_nodes[i], fd, true);
	} else if (!S_ISDIR(st.st_mode)) {
		pc_nodes[i].all_dirty = true;
		if (snapshot) {
			pc_sync_file(&pc_nodes[i], fd);
		}
	}
	close(fd);
	return i;
}

/* Splits $CLM_POWERCUT_DIR into parent and name, then snapshots it. */
static void
pc_setup(void)
{
#define PC_SYM(f) pc_sym(&pc_real.f, sizeof(pc_real.f), #f)
	PC_SYM(open);
	PC_SYM(open64);
	PC_SYM(openat);
	PC_SYM(openat64);
	PC_SYM(creat);
	PC_SYM(creat64);
	PC_SYM(write);
	PC_SYM(pwrite);
	PC_SYM(pwrite64);
	PC_SYM(writev);
	PC_SYM(pwritev);
	PC_SYM(pwritev64);
	PC_SYM(ftruncate);
	PC_SYM(ftruncate64);
	PC_SYM(fallocate);
	PC_SYM(fallocate64);
	PC_SYM(fsync);
	PC_SYM(fdatasync);
	PC_SYM(sync_file_range);
	PC_SYM(msync);
	PC_SYM(unlink);
	PC_SYM(rmdir);
	PC_SYM(rename);
	PC_SYM(link);
	PC_SYM(unlinkat);
	PC_SYM(renameat);
	PC_SYM(renameat2);
	PC_SYM(linkat);
	PC_SYM(mkdir);
	PC_SYM(mkdirat);
#undef PC_SYM
	for (int i = PC_MAX_ENTS - 1; i >= 0; i--) {
		pc_ents[i].next = pc_free_ent;
		pc_free_ent = i;
	}
	const char *dir = getenv("CLM_POWERCUT_DIR");
	const char *out = getenv("CLM_POWERCUT_OUT");
	if (dir == NULL || dir[0] != '/' || out == NULL || out[0] == '\0') {
		return; /* off: every call passes straight through */
	}
	snprintf(pc_cfg.root, sizeof(pc_cfg.root), "%s", dir);
	size_t len = strlen(pc_cfg.root);
	while (len > 1 && pc_cfg.root[len - 1] == '/') {
		pc_cfg.root[--len] = '\0';
	}
	snprintf(pc_cfg.parent, sizeof(pc_cfg.parent), "%s", pc_cfg.root);
	char *slash = strrchr(pc_cfg.parent, '/');
	*slash = '\0';
	if (slash == pc_cfg.parent) {
		snprintf(pc_cfg.parent, sizeof(pc_cfg.parent), "/");
	}
	pc_cfg.name = strrchr(pc_cfg.root, '/') + 1;
	snprintf(pc_cfg.out, sizeof(pc_cfg.out), "%s", out);
	const char *now = getenv("CLM_POWERCUT_NOW");
	snprintf(pc_cfg.now, sizeof(pc_cfg.now), "%s", now ? now : "");
	const char *after = getenv("CLM_POWERCUT_AFTER");
	pc_cfg.after = after ? strtoull(after, NULL, 10) : 0;
	const char *torn = getenv("CLM_POWERCUT_TORN");
	pc_cfg.torn = torn != NULL && strcmp(torn, "1") == 0;
	const char *seed = getenv("CLM_POWERCUT_SEED");
	pc_cfg.seed = seed ? strtoull(seed, NULL, 0) : 1;
	pc_cfg.on = true;
	int pfd = pc_real.open(
	        pc_cfg.parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		pc_root = pc_node_for(pfd, pc_cfg.name, true);
		pc_root_durable = pc_root >= 0;
		close(pfd);
	}
}

void
pc_init(void)
{
	pthread_once(&pc_once, pc_setup);
}

/* splitmix64, for the torn pages. */
static uint64_t
pc_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Writes len bytes at p to fd; false on a short write. */
static bool
pc_put(int fd, const void *p, size_t len)
{
	const unsigned char *b = p;
	while (len > 0) {
		ssize_t w = pc_real.write(fd, b, len);
		if (w <= 0) {
			return false;
		}
		b += w;
		len -= (size_t) w;
	}
	return true;
}

/*
 * The durable bytes of n into path; with torn pages, some pages written
 * since the last sync come from the page cache instead.
 */
static void
pc_dump_file(struct pc_node *n, const char *path, uint64_t *rng)
{
	int fd = pc_real.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0) {
		return;
	}
	pc_put(fd, n->img, (size_t) n->dsize);
	struct stat st;
	if (pc_cfg.torn && n->keep_fd >= 0 && fstat(n->keep_fd, &st) == 0) {
		unsigned char page[PC_PAGE];
		size_t pages = (size_t) (st.st_size + PC_PAGE - 1) / PC_PAGE;
		for (size_t p = 0; p < pages; p++) {
			if (!pc_is_dirty(n, p) || pc_rand(rng) % 2 == 0) {
				continue;
			}
			off_t off = (off_t) p * PC_PAGE;
			ssize_t got = pread(n->keep_fd, page, PC_PAGE, off);
			if (got > 0) {
				pc_real.pwrite(fd, page, (size_t) got, off);
			}
		}
	}
	close(fd);
}

static void
pc_dump_dir(struct pc_node *n, const char *path, int depth, uint64_t *rng)
{
	if (depth > 16 || pc_real.mkdir(path, 0750) != 0) {
		return;
	}
	for (int e = n->ents; e >= 0; e = pc_ents[e].next) {
		char child[PATH_MAX];
		snprintf(child, sizeof(child), "%s/%s", path, pc_ents[e].name);
		struct pc_node *c = &pc_nodes[pc_ents[e].node];
		if (c->dir) {
			pc_dump_dir(c, child, depth + 1, rng);
		} else {
			pc_dump_file(c, child, rng);
		}
	}
}

/* Writes "<what> N REASON\n" to $CLM_POWERCUT_OUT.report. */
static void
pc_report(const char *what, unsigned long long n, const char *reason)
{
	char path[PATH_MAX + 16], line[128];
	snprintf(path, sizeof(path), "%s.report", pc_cfg.out);
	int len = snprintf(line, sizeof(line), "%s %llu %s%s\n", what, n,
	        reason, pc_full ? " (model overflow: not exact)" : "");
	int fd = pc_real.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd >= 0) {
		pc_put(fd, line, (size_t) len);
		close(fd);
	}
}

/*
 * The cut: the durable tree to $CLM_POWERCUT_OUT, then SIGKILL. Called
 * with pc_lock held, which it never releases: every other thread stops at
 * its next wrapped operation.
 */
static void
pc_cut(const char *reason)
{
	uint64_t rng = pc_cfg.seed;
	if (pc_root >= 0 && pc_root_durable) {
		pc_dump_dir(&pc_nodes[pc_root], pc_cfg.out, 0, &rng);
	}
	pc_report("cut", pc_ops, reason);
	char msg[128];
	snprintf(msg, sizeof(msg),
	        "powercut: power cut at operation %llu (%s)\n", pc_ops,
	        reason);
	pc_say(msg);
	kill(getpid(), SIGKILL);
	for (;;) {
		pause();
	}
}

/*
 * Counts one operation (pc_lock held). Cuts at once when $CLM_POWERCUT_NOW
 * exists or another thread's cut is due; returns true when the cut comes
 * right after this operation (the caller performs it, updates the model,
 * then calls pc_cut_after before returning).
 */
bool
pc_op(void)
{
	pc_ops++;
	if (pc_cfg.now[0] != '\0' && access(pc_cfg.now, F_OK) == 0) {
		pc_cut("CLM_POWERCUT_NOW");
	}
	if (pc_cfg.after > 0 && pc_ops > pc_cfg.after) {
		pc_cut("CLM_POWERCUT_AFTER");
	}
	return pc_cfg.after > 0 && pc_ops == pc_cfg.after;
}

/* The cut after the operation pc_op returned cut for (pc_lock held). */
void
pc_cut_after(bool cut)
{
	if (cut) {
		pc_cut("CLM_POWERCUT_AFTER");
	}
}

/* Report the operation count of a whole run. */
__attribute__((destructor)) static void
pc_destructor(void)
{
	if (pc_cfg.on) {
		pthread_mutex_lock(&pc_lock);
		pc_report("ops", pc_ops, "exit");
		pthread_mutex_unlock(&pc_lock);
	}
}

/* Whether path (absolute, or relative to dirfd) is the root or under it. */
bool
pc_path_in(int dirfd, const char *path)
{
	char full[PATH_MAX * 2];
	if (path == NULL) {
		return false;
	}
	if (path[0] == '/') {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			if (getcwd(base, sizeof(base)) == NULL) {
				return false;
			}
		} else {
			char link[64];
			snprintf(
			        link, sizeof(link), "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, base, sizeof(base) - 1);
			if (n <= 0) {
				return false;
			}
			base[n] = '\0';
		}
		snprintf(full, sizeof(full), "%s/%s", base, path);
	}
	size_t len = strlen(pc_cfg.root);
	return strncmp(full, pc_cfg.root, len) == 0
	        && (full[len] == '\0' || full[len] == '/');
}

/*
 * The node of the regular file or directory open as fd (pc_lock held), or
 * -1 when it is not in the watched tree. A file of the tree opened without
 * the wrapper gets its node here.
 */
int
pc_fd_node(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0
	        || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		return -1;
	}
	int i = pc_node_find(st.st_dev, st.st_ino);
	if (i < 0) {
		char link[64], path[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, path, sizeof(path) - 1);
		if (n <= 0) {
			return -1;
		}
		path[n] = '\0';
		if (!pc_path_in(AT_FDCWD, path)) {
			return -1;
		}
		i = pc_node_new(st.st_dev, st.st_ino, S_ISDIR(st.st_mode));
		if (i >= 0 && !S_ISDIR(st.st_mode)) {
			pc_nodes[i].all_dirty = true;
		}
		if (i >= 0 && strcmp(path, pc_cfg.root) == 0) {
			pc_root = i;
		}
	}
	return i;
}

/* Locks and returns the node of fd, or unlocks and returns -1. */
int
pc_enter_fd(int fd)
{
	pc_init();
	if (!pc_cfg.on) {
		return -1;
	}
	struct stat st;
	/* Sockets and pipes pass without the lock. */
	if (fstat(fd, &st) != 0
	        || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		return -1;
	}
	pthread_mutex_lock(&pc_lock);
	int i = pc_fd_node(fd);
	if (i < 0) {
		pthread_mutex_unlock(&pc_lock);
	}
	return i;
}

/* The offset a write or writev on fd goes to (pc_lock held). */
off_t
pc_pos(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;
	if (fl >= 0 && (fl & O_APPEND) != 0 && fstat(fd, &st) == 0) {
		return st.st_size;
	}
	return lseek(fd, 0, SEEK_CUR);
}

/* After a write of got bytes at off on fd (node i, pc_lock held). */
void
pc_wrote(int i, int fd, off_t off, const struct iovec *iov, int cnt,
        ssize_t got)
{
	if (got <= 0 || off < 0) {
		return;
	}
	struct pc_node *n = &pc_nodes[i];
	pc_mark(n, off, (size_t) got);
	if (pc_cfg.torn && n->keep_fd < 0) {
		/*
		 * A descriptor of our own, so the unsynced pages can still be
		 * read at the cut after the program closed the file (a new
		 * open file description: it shares no flock with the program).
		 */
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n->keep_fd = pc_real.open(path, O_RDONLY | O_CLOEXEC);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & (O_DSYNC | O_SYNC)) != 0) {
		pc_apply(n, off, iov, cnt, (size_t) got);
	}
}
