/*
 * journal: segment files of checksummed, numbered batches.
 *
 * On disk (every integer little-endian; checksums are zlib's crc32):
 *
 *   DIR/00000000000000000001.jnl   a segment, named by its first position
 *   DIR/00000000000000000001.spare a segment freed by truncate, for reuse
 *   DIR/00000000000000000001.tmp   a segment being created (removed at open)
 *
 *   segment header, 32 bytes:
 *     magic u32 "CMJS" | version u32 (1) | first position u64 |
 *     flags u32 | reserved u32 (0) | reserved u32 (0) | crc32 of the 28
 *     bytes before it u32
 *   then batches, each at an offset that is a multiple of 8:
 *     magic u32 "CMJB" | flags u32 | first position u64 | entry count u32 |
 *     body length u32 | crc32 of the body u32 | crc32 of the 28 bytes
 *     before it u32
 *     body: entries, each: length u32 | type u32 | position u64 | data
 *     zero padding to a multiple of 8 (not in the body length)
 *   after the last batch: 32 zero bytes, written with it (the next batch
 *   overwrites them), so the log ends in zeros even in a recycled segment
 *
 * Flag JOURNAL_SYNCED on a batch says its writer fdatasynced every batch
 * before it (durability full, or an open with sync that fdatasynced the
 * segment); on a segment header, that the previous segment was synced
 * before this one was made. Recovery reads the mode from these flags, not
 * from opts.sync, so a journal written with --durability os and opened
 * with full (or the reverse) is judged by how each part was written.
 *
 * Why the rules of journal_open are safe. A batch is one write at the end
 * of the valid data. With sync, the next batch is written only after the
 * fdatasync of this one returned, so at most the last batch can be torn
 * by a power loss; anything invalid followed by a valid synced batch (or a
 * synced segment) whose positions are past the expected one means synced
 * data went bad: CLM_DATA_LOSS, naming the file and offset. Without sync
 * any unsynced write may be lost in any order, so the first invalid batch
 * ends the log and the rest is cut. Positions are continuous: a valid
 * batch below the expected position is stale content of a recycled
 * segment, and zeros are unwritten space; both end the segment, never
 * replayed. Segment headers are written and fdatasynced under a name
 * recovery ignores (.tmp or .spare) and only then renamed into place, and
 * the directory is fsynced after every create, rename and delete, so a
 * .jnl file always has a valid header; a bad one is data loss.
 *
 * Why recycle: a file whose size grows makes each fdatasync also write the
 * inode (a filesystem journal commit), and fallocate'd space on ext4 is
 * "unwritten" until written, which again changes metadata. A recycled
 * segment's blocks are written and its size large enough, so a steady
 * state fdatasync writes the batch's data only. Numbers: docs/architecture.md.
 */
#include "journal/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/log.h"

#define JOURNAL_SEG_MAGIC   0x534a4d43u /* "CMJS" */
#define JOURNAL_BATCH_MAGIC 0x424a4d43u /* "CMJB" */
#define JOURNAL_VERSION     1u
#define JOURNAL_SYNCED      1u
#define JOURNAL_HDR         32u /* a segment header, and a batch header */
#define JOURNAL_ENTRY_HDR   16u
#define JOURNAL_SPARES      2u
#define JOURNAL_SEG_DEFAULT (64ull << 20)
/* A batch buffer larger than this is freed after its commit. */
#define JOURNAL_BUF_KEEP (8u << 20)

/* A segment: its first position and where its valid batches end. */
struct journal_seg {
	uint64_t first;
	uint64_t end;
};

struct journal {
	char *dir;
	int dirfd;
	uint64_t segment_bytes;
	bool sync;
	uint64_t base;
	struct journal_seg *segs; /* oldest first; the last is written to */
	size_t nsegs, segcap;
	uint64_t spares[JOURNAL_SPARES]; /* names of the .spare files */
	size_t nspares;
	int fd;        /* the last segment, or -1 when there is none */
	uint64_t next; /* the position the next committed entry gets */
	/* The batch being built: a header's room, then the entries. */
	unsigned char *buf;
	size_t len, cap;
	uint32_t count;
};

/* A batch found at an offset of a mapped segment. */
struct journal_batch {
	uint32_t flags;
	uint64_t first;
	uint32_t count;
	uint64_t size; /* header, body and padding */
};

enum journal_found {
	JOURNAL_VALID, /* a whole batch, checksums right */
	JOURNAL_ZEROS, /* unwritten space, or the end of the file */
	JOURNAL_BAD,   /* torn or corrupt */
};

static void
journal_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char) (v >> (8 * i));
	}
}

static void
journal_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char) (v >> (8 * i));
	}
}

static uint32_t
journal_get32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
	        | (uint32_t) p[3] << 24;
}

static uint64_t
journal_get64(const unsigned char *p)
{
	return (uint64_t) journal_get32(p)
	        | (uint64_t) journal_get32(p + 4) << 32;
}

static uint32_t
journal_crc(const void *p, size_t n)
{
	return (uint32_t) crc32_z(0, p, n);
}

static uint64_t
journal_pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t) 7;
}

/* Writes DIR/FIRST.EXT into path. */
static void
journal_path(const journal *j, uint64_t first, const char *ext, char *path,
        size_t n)
{
	snprintf(path, n, "%s/%020" PRIu64 ".%s", j->dir, first, ext);
}

/* Maps an errno of a write or sync to the journal's error. */
static clm_err
journal_errno(int e)
{
	if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	return CLM_UNAVAILABLE;
}

static clm_err
journal_fail(
        int e, char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "cannot %s journal '%s': %s%s", what, path,
	        strerror(e),
	        journal_errno(e) == CLM_RESOURCE_EXHAUSTED ? " (disk full)"
	                                                   : "");
	return journal_errno(e);
}

static clm_err
journal_sync_dir(journal *j, char *err, size_t errlen)
{
	if (fsync(j->dirfd) != 0) {
		return journal_fail(errno, err, errlen, "sync", j->dir);
	}
	return CLM_OK;
}

/* Writes all of buf at off, retrying short writes; 0 or an errno. */
static int
journal_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	const unsigned char *p = buf;
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t) off);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return errno;
		}
		p += w;
		n -= (size_t) w;
		off += (uint64_t) w;
	}
	return 0;
}

static void
journal_seg_header(unsigned char *h, uint64_t first, uint32_t flags)
{
	memset(h, 0, JOURNAL_HDR);
	journal_put32(h, JOURNAL_SEG_MAGIC);
	journal_put32(h + 4, JOURNAL_VERSION);
	journal_put64(h + 8, first);
	journal_put32(h + 16, flags);
	journal_put32(h + 28, journal_crc(h, 28));
}

/* Checks a segment header; its first position into *first. */
static bool
journal_seg_check(const unsigned char *h, uint64_t size, uint64_t *first,
        uint32_t *flags)
{
	if (size < JOURNAL_HDR || journal_get32(h) != JOURNAL_SEG_MAGIC
	        || journal_get32(h + 4) != JOURNAL_VERSION
	        || journal_get32(h + 28) != journal_crc(h, 28)) {
		return false;
	}
	*first = journal_get64(h + 8);
	*flags = journal_get32(h + 16);
	return true;
}

/* Whether n bytes at p are all zero. */
static bool
journal_zeros(const unsigned char *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/*
 * Looks at the batch at off of the mapping p (size bytes). A batch is valid
 * when both checksums are right and its entries are whole, numbered from
 * its first position on, and fill the body exactly.
 */
static enum journal_found
journal_batch_at(const unsigned char *p, uint64_t size, uint64_t off,
        struct journal_batch *b)
{
	if (off >= size) {
		return JOURNAL_ZEROS;
	}
	const unsigned char *h = p + off;
	if (size - off < JOURNAL_HDR) {
		return journal_zeros(h, size - off) ? JOURNAL_ZEROS
		                                    : JOURNAL_BAD;
	}
	if (journal_zeros(h, JOURNAL_HDR)) {
		return JOURNAL_ZEROS;
	}
	if (journal_get32(h) != JOURNAL_BATCH_MAGIC
	        || journal_get32(h + 28) != journal_crc(h, 28)) {
		return JOURNAL_BAD;
	}
	uint64_t len = journal_get32(h + 20);
	if (len > size - off - JOURNAL_HDR
	        || journal_get32(h + 24)
	                != journal_crc(h + JOURNAL_HDR, len)) {
		return JOURNAL_BAD;
	}
	b->flags = journal_get32(h + 4);
	b->first = journal_get64(h + 8);
	b->count = journal_get32(h + 16);
	b->size = JOURNAL_HDR + journal_pad8(len);
	const unsigned char *e = h + JOURNAL_HDR, *end = e + len;
	for (uint32_t i = 0; i < b->count; i++) {
		if ((uint64_t) (end - e) < JOURNAL_ENTRY_HDR
		        || journal_get32(e)
		                > (uint64_t) (end - e) - JOURNAL_ENTRY_HDR
		        || journal_get64(e + 8) != b->first + i) {
			return JOURNAL_BAD;
		}
		e += JOURNAL_ENTRY_HDR + journal_get32(e);
	}
	return e == end ? JOURNAL_VALID : JOURNAL_BAD;
}

/*
 * A mapped segment file. Empty files are not mapped (p NULL). The mapping
 * is read-only and private to one function; nothing else truncates the
 * file meanwhile (one writer thread).
 */
struct journal_map {
	int fd;
	const unsigned char *p;
	uint64_t size;
};

static clm_err
journal_map_open(
        const char *path, struct journal_map *m, char *err, size_t errlen)
{
	struct stat st;
	m->p = NULL;
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0 || fstat(m->fd, &st) != 0) {
		clm_err rc = journal_fail(errno, err, errlen, "read", path);
		if (m->fd >= 0) {
			close(m->fd);
		}
		return rc;
	}
	m->size = (uint64_t) st.st_size;
	if (m->size > 0) {
		void *p = mmap(NULL, m->size, PROT_READ, MAP_SHARED, m->fd, 0);
		if (p == MAP_FAILED) {
			clm_err rc = journal_fail(
			        errno, err, errlen, "map", path);
			close(m->fd);
			return rc;
		}
		m->p = p;
	}
	return CLM_OK;
}

static void
journal_map_close(struct journal_map *m)
{
	if (m->p != NULL) {
		munmap((void *) m->p, m->size);
	}
	close(m->fd);
}

/*
 * Looks past off (where the log stopped) in a mapping for a valid batch
 * whose first position is past expected: data written after what stopped
 * the log. Returns its flags | 0x100 when found, 0 when not.
 */
static uint32_t
journal_later_batch(
        const struct journal_map *m, uint64_t off, uint64_t expected)
{
	for (uint64_t o = off + 8; o + JOURNAL_HDR <= m->size; o += 8) {
		struct journal_batch b;
		const unsigned char *h = m->p + o;
		/* Header first: stale batches are skipped without reading
		 * their bodies. */
		if (journal_get32(h) == JOURNAL_BATCH_MAGIC
		        && journal_get32(h + 28) == journal_crc(h, 28)
		        && journal_get64(h + 8) > expected
		        && journal_batch_at(m->p, m->size, o, &b)
		                == JOURNAL_VALID
		        && b.first > expected) {
			return b.flags | 0x100;
		}
	}
	return 0;
}

static clm_err
journal_segs_push(journal *j, uint64_t first, uint64_t end)
{
	if (j->nsegs == j->segcap) {
		size_t cap = j->segcap ? 2 * j->segcap : 16;
		struct journal_seg *s = realloc(j->segs, cap * sizeof(*s));
		if (s == NULL) {
			return CLM_UNAVAILABLE;
		}
		j->segs = s;
		j->segcap = cap;
	}
	j->segs[j->nsegs++] = (struct journal_seg) { first, end };
	return CLM_OK;
}

/*
 * Drops segment i (not the one written to): renamed to a spare while there
 * are fewer than JOURNAL_SPARES, else deleted. The caller syncs the
 * directory.
 */
static clm_err
journal_drop(journal *j, size_t i, char *err, size_t errlen)
{
	char path[4096], spare[4096];
	uint64_t first = j->segs[i].first;
	journal_path(j, first, "jnl", path, sizeof(path));
	if (j->nspares < JOURNAL_SPARES) {
		journal_path(j, first, "spare", spare, sizeof(spare));
		if (rename(path, spare) != 0) {
			return journal_fail(
			        errno, err, errlen, "rename", path);
		}
		j->spares[j->nspares++] = first;
	} else if (unlink(path) != 0) {
		return journal_fail(errno, err, errlen, "delete", path);
	}
	memmove(j->segs + i, j->segs + i + 1,
	        (j->nsegs - i - 1) * sizeof(*j->segs));
	j->nsegs--;
	return CLM_OK;
}

/* Cuts segment i at off (a torn or unsynced tail): truncate and sync. */
static clm_err
journal_cut(journal *j, size_t i, uint64_t off, const char *why, char *err,
        size_t errlen)
{
	char path[4096];
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t) off) != 0 || fdatasync(fd) != 0) {
		clm_err rc = journal_fail(errno, err, errlen, "cut", path);
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	close(fd);
	log_warn("journal '%s': %s at offset %" PRIu64 ": cut there (position "
	         "%" PRIu64 " on was never acknowledged)",
	        path, why, off, j->next);
	j->segs[i].end = off;
	return CLM_OK;
}

/* Deletes the segments after i (an unsynced tail in os mode). */
static clm_err
journal_cut_after(journal *j, size_t i, char *err, size_t errlen)
{
	while (j->nsegs > i + 1) {
		char path[4096];
		journal_path(j, j->segs[j->nsegs - 1].first, "jnl", path,
		        sizeof(path));
		if (unlink(path) != 0) {
			return journal_fail(
			        errno, err, errlen, "delete", path);
		}
		log_warn("journal '%s': after the end of the log: deleted",
		        path);
		j->nsegs--;
	}
	return CLM_OK;
}

static clm_err
journal_loss(const char *path, uint64_t off, uint64_t expected,
        const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen,
	        "journal '%s' is corrupt at offset %" PRIu64
	        ": %s, but synced "
	        "entries follow (position %" PRIu64
	        " on is lost); restore the "
	        "data directory from a backup",
	        path, off, what, expected);
	return CLM_DATA_LOSS;
}

/*
 * Reads segment i from its header on: its valid batches set j->next and
 * segs[i].end; where they stop, the rules at the top of this file decide
 * between the end of the segment, a cut tail (*stop set: the log ends here)
 * and CLM_DATA_LOSS.
 */
static clm_err
journal_scan_seg(journal *j, size_t i, bool *stop, char *err, size_t errlen)
{
	char path[4096];
	struct journal_map m;
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	clm_err rc = journal_map_open(path, &m, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	uint64_t first;
	uint32_t flags;
	if (!journal_seg_check(m.p, m.size, &first, &flags)
	        || first != j->segs[i].first) {
		journal_map_close(&m);
		return journal_loss(path, 0, j->next,
		        "the segment header is invalid", err, errlen);
	}
	uint64_t off = JOURNAL_HDR;
	struct journal_batch b;
	enum journal_found f;
	while ((f = journal_batch_at(m.p, m.size, off, &b)) == JOURNAL_VALID
	        && b.first == j->next) {
		j->next += b.count;
		off += b.size;
	}
	j->segs[i].end = off;
	/* What stopped the log: a gap, or something after the stop. */
	uint32_t later = 0;
	if (f == JOURNAL_VALID && b.first > j->next) {
		later = b.flags | 0x100;
	} else {
		later = journal_later_batch(&m, off, j->next);
	}
	journal_map_close(&m);
	const char *what = f == JOURNAL_BAD ? "an invalid batch"
	        : f == JOURNAL_ZEROS        ? "unwritten space"
	                                    : "a gap in the positions";
	if (later == 0 && i + 1 < j->nsegs && j->segs[i + 1].first > j->next) {
		/* The next segment's header carries its writer's mode. */
		char next[4096];
		journal_path(
		        j, j->segs[i + 1].first, "jnl", next, sizeof(next));
		struct journal_map nm;
		if ((rc = journal_map_open(next, &nm, err, errlen))
		        != CLM_OK) {
			return rc;
		}
		uint64_t nfirst;
		uint32_t nflags = 0;
		if (!journal_seg_check(nm.p, nm.size, &nfirst, &nflags)) {
			nflags = JOURNAL_SYNCED; /* corrupt: judged there */
		}
		journal_map_close(&nm);
		later = nflags | 0x100;
	}
	if (later & JOURNAL_SYNCED) {
		return journal_loss(path, off, j->next, what, err, errlen);
	}
	if (later != 0) {
		*stop = true;
		if ((rc = journal_cut(j, i, off, what, err, errlen))
		        != CLM_OK) {
			return rc;
		}
		return journal_cut_after(j, i, err, errlen);
	}
	if (f == JOURNAL_BAD) {
		return journal_cut(j, i, off, "a torn batch", err, errlen);
	}
	return CLM_OK;
}

/* Lists DIR: segments into j->segs (sorted), spares; removes .tmp files. */
static clm_err
journal_list(journal *j, char *err, size_t errlen)
{
	DIR *d = opendir(j->dir);
	if (d == NULL) {
		return journal_fail(errno, err, errlen, "list", j->dir);
	}
	struct dirent *e;
	clm_err rc = CLM_OK;
	while (rc == CLM_OK && (e = readdir(d)) != NULL) {
		const char *ext = e->d_name + 20;
		uint64_t first = 0;
		size_t k = 0;
		for (; k < 20 && e->d_name[k] >= '0' && e->d_name[k] <= '9';
		        k++) {
			first = first * 10 + (uint64_t) (e->d_name[k] - '0');
		}
		if (k < 20 || *ext != '.') {
			continue; /* not ours */
		}
		ext++;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", j->dir, e->d_name);
		if (strcmp(ext, "jnl") == 0) {
			rc = journal_segs_push(j, first, 0);
		} else if (strcmp(ext, "spare") == 0
		        && j->nspares < JOURNAL_SPARES) {
			j->spares[j->nspares++] = first;
		} else if (strcmp(ext, "spare") == 0
		        || strcmp(ext, "tmp") == 0) {
			if (unlink(path) != 0) {
				rc = journal_fail(
				        errno, err, errlen, "delete", path);
			}
		}
	}
	closedir(d);
	if (rc != CLM_OK) {
		return rc;
	}
	/* Few segments (the journal is truncated behind checkpoints). */
	for (size_t a = 1; a < j->nsegs; a++) {
		struct journal_seg s = j->segs[a];
		size_t b = a;
		for (; b > 0 && j->segs[b - 1].first > s.first; b--) {
			j->segs[b] = j->segs[b - 1];
		}
		j->segs[b] = s;
	}
	return CLM_OK;
}

/* Creates DIR (0700) and fsyncs its parent, when DIR is absent. */
static clm_err
journal_mkdir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0) {
		if (errno == EEXIST) {
			return CLM_OK;
		}
		return journal_fail(errno, err, errlen, "create", dir);
	}
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash == NULL) {
		snprintf(parent, sizeof(parent), ".");
	} else if (slash == parent) {
		parent[1] = '\0';
	} else {
		*slash = '\0';
	}
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		clm_err rc = journal_fail(errno, err, errlen, "sync", parent);
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	close(fd);
	return CLM_OK;
}

/* Recovers the journal after listing it (the rules at the top). */
static clm_err
journal_recover(journal *j, char *err, size_t errlen)
{
	clm_err rc;
	bool dropped = false;
	/* Segments followed by one starting at or before base + 1 are
	 * checkpointed: a truncate the last run did not finish. */
	while (j->nsegs > 1 && j->segs[1].first <= j->base + 1) {
		if ((rc = journal_drop(j, 0, err, errlen)) != CLM_OK) {
			return rc;
		}
		dropped = true;
	}
	if (j->nsegs > 0 && j->segs[0].first > j->base + 1) {
		char path[4096];
		journal_path(j, j->segs[0].first, "jnl", path, sizeof(path));
		snprintf(err, errlen,
		        "journal starts at %" PRIu64
		        ", the view is at %" PRIu64
		        ": entries in between are lost ('%s')",
		        j->segs[0].first, j->base, path);
		return CLM_DATA_LOSS;
	}
	j->next = j->nsegs > 0 ? j->segs[0].first : j->base + 1;
	bool stop = false;
	for (size_t i = 0; i < j->nsegs && !stop; i++) {
		if (j->segs[i].first < j->next) {
			char path[4096];
			journal_path(j, j->segs[i].first, "jnl", path,
			        sizeof(path));
			return journal_loss(path, 0, j->next,
			        "its first position overlaps the segment "
			        "before",
			        err, errlen);
		}
		if ((rc = journal_scan_seg(j, i, &stop, err, errlen))
		        != CLM_OK) {
			return rc;
		}
	}
	if (j->next <= j->base) {
		/* Everything is checkpointed; keep no gap before base + 1. */
		while (j->nsegs > 0) {
			if ((rc = journal_drop(j, 0, err, errlen)) != CLM_OK) {
				return rc;
			}
			dropped = true;
		}
		j->next = j->base + 1;
	}
	if (dropped && (rc = journal_sync_dir(j, err, errlen)) != CLM_OK) {
		return rc;
	}
	if (j->nsegs > 0) {
		char path[4096];
		journal_path(j, j->segs[j->nsegs - 1].first, "jnl", path,
		        sizeof(path));
		j->fd = open(path, O_RDWR | O_CLOEXEC);
		if (j->fd < 0 || (j->sync && fdatasync(j->fd) != 0)) {
			return journal_fail(errno, err, errlen, "open", path);
		}
	}
	return journal_sync_dir(j, err, errlen);
}

clm_err
journal_open(
        const struct journal_opts *o, journal **out, char *err, size_t errlen)
{
	if (o->dir == NULL || o->dir[0] == '\0') {
		snprintf(err, errlen, "journal directory not set");
		return CLM_INVALID_ARGUMENT;
	}
	clm_err rc = journal_mkdir(o->dir, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	journal *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->dir = strdup(o->dir)) == NULL) {
		free(j);
		snprintf(err, errlen,
		        "cannot open journal '%s': out of memory", o->dir);
		return CLM_UNAVAILABLE;
	}
	j->fd = -1;
	j->segment_bytes
	        = o->segment_bytes ? o->segment_bytes : JOURNAL_SEG_DEFAULT;
	j->sync = o->sync;
	j->base = o->base;
	j->len = JOURNAL_HDR;
	j->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = journal_fail(errno, err, errlen, "open", o->dir);
	} else if ((rc = journal_list(j, err, errlen)) == CLM_OK) {
		rc = journal_recover(j, err, errlen);
	}
	if (rc != CLM_OK) {
		journal_close(j);
		return rc;
	}
	*out = j;
	return CLM_OK;
}

clm_err
journal_append(
        journal *j, uint32_t type, const void *data, size_t len, uint64_t *pos)
{
	if (len > JOURNAL_BATCH_MAX
	        || j->len - JOURNAL_HDR + JOURNAL_ENTRY_HDR + len
	                > JOURNAL_BATCH_MAX) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	/* Room for the padding and the zero header written after it. */
	size_t need = j->len + JOURNAL_ENTRY_HDR + len + 8 + JOURNAL_HDR;
	if (need > j->cap) {
		size_t cap = j->cap ? j->cap : 64 * 1024;
		while (cap < need) {
			cap *= 2;
		}
		unsigned char *b = realloc(j->buf, cap);
		if (b == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		j->buf = b;
		j->cap = cap;
	}
	unsigned char *e = j->buf + j->len;
	uint64_t p = j->next + j->count;
	journal_put32(e, (uint32_t) len);
	journal_put32(e + 4, type);
	journal_put64(e + 8, p);
	if (len > 0) {
		memcpy(e + JOURNAL_ENTRY_HDR, data, len);
	}
	j->len += JOURNAL_ENTRY_HDR + len;
	j->count++;
	*pos = p;
	return CLM_OK;
}

void
journal_abandon(journal *j)
{
	j->len = JOURNAL_HDR;
	j->count = 0;
	if (j->cap > JOURNAL_BUF_KEEP) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
}

/*
 * Starts the segment that begins at j->next: a spare's header rewritten,
 * or a new file, synced under its side name, then renamed into place and
 * the directory synced.
 */
static clm_err
journal_roll(journal *j, char *err, size_t errlen)
{
	char side[4096], path[4096];
	unsigned char h[JOURNAL_HDR];
	uint64_t first = j->next;
	journal_seg_header(h, first, JOURNAL_SYNCED * j->sync);
	journal_path(j, first, "jnl", path, sizeof(path));
	int fd;
	if (j->nspares > 0) {
		journal_path(j, j->spares[j->nspares - 1], "spare", side,
		        sizeof(side));
		fd = open(side, O_RDWR | O_CLOEXEC);
	} else {
		journal_path(j, first, "tmp", side, sizeof(side));
		fd = open(side, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	int e = fd < 0 ? errno : journal_pwrite(fd, h, sizeof(h), 0);
	if (e == 0 && fdatasync(fd) != 0) {
		e = errno;
	}
	if (e == 0 && rename(side, path) != 0) {
		e = errno;
	}
	if (e != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return journal_fail(e, err, errlen, "create", side);
	}
	if (j->nspares > 0) {
		j->nspares--;
	}
	if (j->fd >= 0) {
		close(j->fd);
	}
	j->fd = fd;
	clm_err rc = journal_segs_push(j, first, JOURNAL_HDR);
	if (rc != CLM_OK) {
		snprintf(err, errlen,
		        "cannot create journal '%s': out of memory", path);
		return rc;
	}
	return journal_sync_dir(j, err, errlen);
}

clm_err
journal_commit(journal *j, char *err, size_t errlen)
{
	if (j->count == 0) {
		return CLM_OK;
	}
	clm_err rc = CLM_OK;
	struct journal_seg *s = j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
	if (s == NULL || s->end >= j->segment_bytes) {
		if ((rc = journal_roll(j, err, errlen)) != CLM_OK) {
			journal_abandon(j);
			return rc;
		}
		s = &j->segs[j->nsegs - 1];
	}
	uint32_t len = (uint32_t) (j->len - JOURNAL_HDR);
	unsigned char *h = j->buf;
	journal_put32(h, JOURNAL_BATCH_MAGIC);
	journal_put32(h + 4, JOURNAL_SYNCED * j->sync);
	journal_put64(h + 8, j->next);
	journal_put32(h + 16, j->count);
	journal_put32(h + 20, len);
	journal_put32(h + 24, journal_crc(h + JOURNAL_HDR, len));
	journal_put32(h + 28, journal_crc(h, 28));
	/* The batch, its padding, and a zero header after it (overwritten by
	 * the next batch): the end of the log reads as zeros, not as the
	 * stale bytes of a recycled segment. */
	size_t total = (size_t) journal_pad8(j->len);
	memset(j->buf + j->len, 0, total + JOURNAL_HDR - j->len);
	int e = journal_pwrite(j->fd, j->buf, total + JOURNAL_HDR, s->end);
	if (e == 0 && j->sync && fdatasync(j->fd) != 0) {
		e = errno;
	}
	if (e != 0) {
		char path[4096];
		journal_path(j, s->first, "jnl", path, sizeof(path));
		rc = journal_fail(e, err, errlen, "write", path);
		/* Nothing of the batch counts; if the cut fails too, the next
		 * batch overwrites it at the same offset. */
		if (ftruncate(j->fd, (off_t) s->end) != 0) {
			log_warn("journal '%s': cannot cut a failed batch at "
			         "offset %" PRIu64 ": %s",
			        path, s->end, strerror(errno));
		}
		journal_abandon(j);
		return rc;
	}
	s->end += total;
	j->next += j->count;
	journal_abandon(j);
	return CLM_OK;
}

uint64_t
journal_position(const journal *j)
{
	return j->next - 1;
}

/* Calls fn for the entries of one segment from from on; *done on stop. */
static clm_err
journal_read_seg(journal *j, size_t i, uint64_t from,
        int (*fn)(void *arg, const struct journal_entry *e), void *arg,
        bool *done, char *err, size_t errlen)
{
	char path[4096];
	struct journal_map m;
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	clm_err rc = journal_map_open(path, &m, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	uint64_t end = j->segs[i].end < m.size ? j->segs[i].end : m.size;
	uint64_t off = JOURNAL_HDR, expected = j->segs[i].first;
	while (off < j->segs[i].end && !*done) {
		struct journal_batch b;
		if (off >= end
		        || journal_batch_at(m.p, end, off, &b) != JOURNAL_VALID
		        || b.first != expected) {
			journal_map_close(&m);
			return journal_loss(path, off, expected,
			        "it changed since the journal was opened", err,
			        errlen);
		}
		const unsigned char *e = m.p + off + JOURNAL_HDR;
		for (uint32_t k = 0; k < b.count && !*done; k++) {
			struct journal_entry ent = {
				.position = journal_get64(e + 8),
				.type = journal_get32(e + 4),
				.data = e + JOURNAL_ENTRY_HDR,
				.len = journal_get32(e),
			};
			if (ent.position >= from) {
				*done = fn(arg, &ent) != 0;
			}
			e += JOURNAL_ENTRY_HDR + ent.len;
		}
		expected += b.count;
		off += b.size;
	}
	journal_map_close(&m);
	return CLM_OK;
}

clm_err
journal_read(journal *j, uint64_t from,
        int (*fn)(void *arg, const struct journal_entry *e), void *arg,
        char *err, size_t errlen)
{
	if (j->count > 0) {
		snprintf(err, errlen,
		        "cannot read journal '%s' while entries are buffered",
		        j->dir);
		return CLM_FAILED_PRECONDITION;
	}
	if (from <= j->base) {
		from = j->base + 1;
	}
	uint64_t oldest = j->nsegs > 0 ? j->segs[0].first : j->next;
	if (from < oldest) {
		snprintf(err, errlen,
		        "journal '%s' starts at position %" PRIu64
		        ": position %" PRIu64 " was truncated",
		        j->dir, oldest, from);
		return CLM_OUT_OF_RANGE;
	}
	bool done = false;
	for (size_t i = 0; i < j->nsegs && !done; i++) {
		if (i + 1 < j->nsegs && j->segs[i + 1].first <= from) {
			continue; /* all of it before from */
		}
		clm_err rc = journal_read_seg(
		        j, i, from, fn, arg, &done, err, errlen);
		if (rc != CLM_OK) {
			return rc;
		}
	}
	return CLM_OK;
}

clm_err
journal_truncate_before(
        journal *j, uint64_t position, char *err, size_t errlen)
{
	bool dropped = false;
	while (j->nsegs > 1 && j->segs[1].first <= position) {
		clm_err rc = journal_drop(j, 0, err, errlen);
		if (rc != CLM_OK) {
			return rc;
		}
		dropped = true;
	}
	return dropped ? journal_sync_dir(j, err, errlen) : CLM_OK;
}

void
journal_close(journal *j)
{
	if (j == NULL) {
		return;
	}
	if (j->fd >= 0) {
		close(j->fd);
	}
	if (j->dirfd >= 0) {
		close(j->dirfd);
	}
	free(j->segs);
	free(j->buf);
	free(j->dir);
	free(j);
}
