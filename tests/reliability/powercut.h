/*
 * powercut: the model shared by powercut.c (the durable shadow, the
 * snapshot, the cut) and powercut_wrap.c (the wrapped calls). See the top
 * of powercut.c. Everything here is hidden inside the library.
 */
#ifndef CLM_POWERCUT_H
#define CLM_POWERCUT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PC_HIDDEN __attribute__((visibility("hidden")))

#define PC_PAGE      4096
#define PC_MAX_NODES 2048
#define PC_MAX_ENTS  8192

/* A file or directory of the watched tree, by inode. */
struct pc_node {
	bool used;
	bool live; /* (dev, ino) still names this node */
	bool dir;
	bool all_dirty; /* found late: the next sync copies the whole file */
	dev_t dev;
	ino_t ino;
	unsigned char *img; /* durable bytes; zero beyond dsize */
	size_t img_cap;
	off_t dsize;
	uint8_t *dirty; /* a bit per page written since the last sync */
	size_t dirty_cap;
	off_t trunc_to; /* lowest size set since the last sync, or -1 */
	int keep_fd;    /* torn mode: read-only, while pages are unsynced */
	int ents;       /* dir: first durable entry, or -1 */
};

/* A durable directory entry. */
struct pc_ent {
	int next; /* next entry of the same directory, or -1 */
	int node;
	char name[NAME_MAX + 1];
};

typedef int (*pc_open_fn)(const char *, int, ...);
typedef int (*pc_openat_fn)(int, const char *, int, ...);
typedef int (*pc_creat_fn)(const char *, mode_t);
typedef ssize_t (*pc_write_fn)(int, const void *, size_t);
typedef ssize_t (*pc_pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pc_writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pc_pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*pc_ftruncate_fn)(int, off_t);
typedef int (*pc_fallocate_fn)(int, int, off_t, off_t);
typedef int (*pc_sync_fn)(int);
typedef int (*pc_sfr_fn)(int, off64_t, off64_t, unsigned int);
typedef int (*pc_msync_fn)(void *, size_t, int);
typedef int (*pc_path_fn)(const char *);
typedef int (*pc_path2_fn)(const char *, const char *);
typedef int (*pc_at_fn)(int, const char *, int);
typedef int (*pc_at2_fn)(int, const char *, int, const char *);
typedef int (*pc_at2f_fn)(int, const char *, int, const char *, unsigned);
typedef int (*pc_linkat_fn)(int, const char *, int, const char *, int);
typedef int (*pc_mkdir_fn)(const char *, mode_t);
typedef int (*pc_mkdirat_fn)(int, const char *, mode_t);

/* The real functions (next in the lookup order); written once. */
struct pc_real {
	pc_open_fn open, open64;
	pc_openat_fn openat, openat64;
	pc_creat_fn creat, creat64;
	pc_write_fn write;
	pc_pwrite_fn pwrite, pwrite64;
	pc_writev_fn writev;
	pc_pwritev_fn pwritev, pwritev64;
	pc_ftruncate_fn ftruncate, ftruncate64;
	pc_fallocate_fn fallocate, fallocate64;
	pc_sync_fn fsync, fdatasync;
	pc_sfr_fn sync_file_range;
	pc_msync_fn msync;
	pc_path_fn unlink, rmdir;
	pc_path2_fn rename, link;
	pc_at_fn unlinkat;
	pc_at2_fn renameat;
	pc_at2f_fn renameat2;
	pc_linkat_fn linkat;
	pc_mkdir_fn mkdir;
	pc_mkdirat_fn mkdirat;
};

/* The settings, from the environment; written once by pc_setup. */
struct pc_cfg {
	bool on; /* $CLM_POWERCUT_DIR is set */
	char root[PATH_MAX];
	char parent[PATH_MAX]; /* the root's parent directory */
	const char *name;      /* the root's name in parent */
	char out[PATH_MAX];
	char now[PATH_MAX];
	unsigned long long after;
	bool torn;
	uint64_t seed;
};

/* The real functions, the settings and the model (pc_lock guards it). */
PC_HIDDEN extern struct pc_real pc_real;
PC_HIDDEN extern struct pc_cfg pc_cfg;
PC_HIDDEN extern pthread_mutex_t pc_lock;
PC_HIDDEN extern struct pc_node pc_nodes[PC_MAX_NODES];
PC_HIDDEN extern int pc_root;
PC_HIDDEN extern bool pc_root_durable;

/* pc_init resolves the real functions and snapshots the tree, once. */
PC_HIDDEN void pc_init(void);

/*
 * pc_op counts one operation (pc_lock held); it cuts at once when
 * $CLM_POWERCUT_NOW exists or a cut is overdue, and returns true when the
 * cut is due right after this operation: the caller performs it, updates
 * the model, then calls pc_cut_after(true), which never returns.
 */
PC_HIDDEN bool pc_op(void);
PC_HIDDEN void pc_cut_after(bool cut);

/*
 * pc_enter_fd locks pc_lock and returns the node of the file or directory
 * open as fd, or returns -1 unlocked when fd is not in the watched tree.
 */
PC_HIDDEN int pc_enter_fd(int fd);

/* pc_fd_node: the same with pc_lock held, making the node when needed. */
PC_HIDDEN int pc_fd_node(int fd);

/* pc_pos returns the offset a write or writev on fd goes to. */
PC_HIDDEN off_t pc_pos(int fd);

/*
 * pc_wrote records a write of got bytes at off through fd on node i (data
 * in iov[0..cnt)): its pages are dirty, and durable at once through an
 * O_DSYNC or O_SYNC descriptor.
 */
PC_HIDDEN void pc_wrote(int i, int fd, off_t off, const struct iovec *iov,
        int cnt, ssize_t got);

/* pc_mark marks the pages of [off, off + len) of n written. */
PC_HIDDEN void pc_mark(struct pc_node *n, off_t off, size_t len);

/* pc_is_dirty says whether page was written since n's last sync. */
PC_HIDDEN bool pc_is_dirty(const struct pc_node *n, size_t page);

/* pc_copy_page copies page p of the file fd (below size) into n's image. */
PC_HIDDEN void pc_copy_page(struct pc_node *n, int fd, size_t p, off_t size);

/*
 * pc_reader returns fd when it can be read, else a new read-only
 * descriptor of the same file (close it), or fd when none can be had.
 */
PC_HIDDEN int pc_reader(int fd);

/* pc_sync_file: fsync of the file fd (node n) in the model. */
PC_HIDDEN void pc_sync_file(struct pc_node *n, int fd);

/*
 * pc_sync_dir: fsync of the directory fd (node n) in the model; with
 * snapshot, the tree below is taken as durable as it is.
 */
PC_HIDDEN void pc_sync_dir(struct pc_node *n, int fd, bool snapshot);

/* pc_node_for returns the node of name in the directory dirfd, or -1. */
PC_HIDDEN int pc_node_for(int dirfd, const char *name, bool snapshot);

/* pc_node_find returns the live node of (dev, ino), or -1. */
PC_HIDDEN int pc_node_find(dev_t dev, ino_t ino);

/* pc_node_new makes a node for (dev, ino), retiring an older one. */
PC_HIDDEN int pc_node_new(dev_t dev, ino_t ino, bool dir);

/* pc_path_in says whether path (relative to dirfd) is in the tree. */
PC_HIDDEN bool pc_path_in(int dirfd, const char *path);

#endif /* CLM_POWERCUT_H */
