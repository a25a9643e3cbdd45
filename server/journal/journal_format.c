/*
 * journal_format: the journal's bytes on disk (the format is described at
 * the top of journal.c) and its files: encoding, checksums, checking a
 * segment header or a batch, mapping a segment, names, errors.
 */
#include "journal/journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void
journal_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char) (v >> (8 * i));
	}
}

void
journal_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char) (v >> (8 * i));
	}
}

uint32_t
journal_get32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
	        | (uint32_t) p[3] << 24;
}

uint64_t
journal_get64(const unsigned char *p)
{
	return (uint64_t) journal_get32(p)
	        | (uint64_t) journal_get32(p + 4) << 32;
}

uint32_t
journal_crc(const void *p, size_t n)
{
	return (uint32_t) crc32_z(0, p, n);
}

/* crc32 of the 4 bytes of key, then n bytes at p. */
static uint32_t
journal_crc_key(uint32_t key, const void *p, size_t n)
{
	unsigned char b[4];
	journal_put32(b, key);
	return (uint32_t) crc32_z(crc32_z(0, b, sizeof(b)), p, n);
}

uint32_t
journal_batch_hcrc(uint64_t inc, const unsigned char *h)
{
	return journal_crc_key((uint32_t) inc, h, 28);
}

uint32_t
journal_batch_bcrc(uint64_t inc, const void *p, size_t n)
{
	return journal_crc_key((uint32_t) (inc >> 32), p, n);
}

int
journal_incarnation(uint64_t *inc)
{
	unsigned char b[8];
	ssize_t n;
	while ((n = getrandom(b, sizeof(b), 0)) < 0 && errno == EINTR) {
	}
	if (n != (ssize_t) sizeof(b)) {
		return n < 0 ? errno : EIO;
	}
	*inc = journal_get64(b);
	return 0;
}

uint64_t
journal_pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t) 7;
}

/* Writes DIR/FIRST.EXT into path. */
void
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

clm_err
journal_fail(
        int e, char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "cannot %s journal '%s': %s%s", what, path,
	        strerror(e),
	        journal_errno(e) == CLM_RESOURCE_EXHAUSTED ? " (disk full)"
	                                                   : "");
	return journal_errno(e);
}

clm_err
journal_sync_dir(journal *j, char *err, size_t errlen)
{
	j->dir_dirty = true;
	if (fsync(j->dirfd) != 0) {
		return journal_fail(errno, err, errlen, "sync", j->dir);
	}
	j->dir_dirty = false;
	return CLM_OK;
}

/* Writes all of buf at off, retrying short writes; 0 or an errno. */
int
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

void
journal_seg_header(
        unsigned char *h, uint64_t first, uint32_t flags, uint64_t inc)
{
	memset(h, 0, JOURNAL_HDR);
	journal_put32(h, JOURNAL_SEG_MAGIC);
	journal_put32(h + 4, JOURNAL_VERSION);
	journal_put64(h + 8, first);
	journal_put32(h + 16, flags);
	journal_put64(h + 20, inc);
	journal_put32(h + 28, journal_crc(h, 28));
}

/* Checks a segment header; its first position into *first. */
bool
journal_seg_check(const unsigned char *h, uint64_t size, uint64_t *first,
        uint32_t *flags, uint64_t *inc)
{
	if (size < JOURNAL_HDR || journal_get32(h) != JOURNAL_SEG_MAGIC
	        || journal_get32(h + 4) != JOURNAL_VERSION
	        || journal_get32(h + 28) != journal_crc(h, 28)) {
		return false;
	}
	*first = journal_get64(h + 8);
	*flags = journal_get32(h + 16);
	*inc = journal_get64(h + 20);
	/* Positions start at 1 and stay below UINT64_MAX. */
	return *first > 0 && *first < UINT64_MAX;
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
enum journal_found
journal_batch_at(const unsigned char *p, uint64_t size, uint64_t off,
        uint64_t inc, struct journal_batch *b)
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
	        || journal_get32(h + 28) != journal_batch_hcrc(inc, h)) {
		return JOURNAL_BAD;
	}
	uint64_t len = journal_get32(h + 20);
	if (len > size - off - JOURNAL_HDR
	        || journal_get32(h + 24)
	                != journal_batch_bcrc(inc, h + JOURNAL_HDR, len)) {
		return JOURNAL_BAD;
	}
	b->flags = journal_get32(h + 4);
	b->first = journal_get64(h + 8);
	b->count = journal_get32(h + 16);
	b->size = JOURNAL_HDR + journal_pad8(len);
	/* The position after it must be at most UINT64_MAX - 1: no wrap. */
	if (b->first == 0 || b->first > UINT64_MAX - 1 - b->count) {
		return JOURNAL_BAD;
	}
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

clm_err
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

void
journal_map_close(struct journal_map *m)
{
	if (m->p != NULL) {
		munmap((void *) m->p, m->size);
	}
	close(m->fd);
}

clm_err
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
	j->segs[j->nsegs++] = (struct journal_seg) { first, end, 0 };
	return CLM_OK;
}

/*
 * Drops segment i (not the one written to): with keep, renamed to a spare
 * while there are fewer than JOURNAL_SPARES; else deleted. The caller
 * syncs the directory.
 */
clm_err
journal_drop(journal *j, size_t i, bool keep, char *err, size_t errlen)
{
	char path[4096], spare[4096];
	uint64_t first = j->segs[i].first;
	journal_path(j, first, "jnl", path, sizeof(path));
	if (keep && j->nspares < JOURNAL_SPARES) {
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

clm_err
journal_loss(const char *path, uint64_t off, uint64_t expected,
        const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen,
	        "journal '%s' is corrupt at offset %" PRIu64
	        ": %s (position %" PRIu64
	        " on is lost); restore the data directory from a backup",
	        path, off, what, expected);
	return CLM_DATA_LOSS;
}
