/*
 * journal_internal: what the journal's files share (journal.c, the
 * interface and the writing; journal_format.c, the bytes on disk and the
 * files; journal_recover.c, recovery at open). Not for other modules.
 */
#ifndef CLM_JOURNAL_INTERNAL_H
#define CLM_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

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

/* A segment: its first position, where its valid batches end, and its
 * incarnation (the random number its header was last written with). */
struct journal_seg {
	uint64_t first;
	uint64_t end;
	uint64_t inc;
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
	int fd;         /* the last segment, or -1 when there is none */
	bool dir_dirty; /* a directory fsync failed: retry before writing */
	/* A failed batch may still be at the end of the last segment:
	 * commits refuse until it is cut. */
	bool tail_dirty;
	/* journal_roll_next: the next commit starts a segment of its own. */
	bool roll;
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

/* journal_format.c. Little-endian integers at p. */
void journal_put32(unsigned char *p, uint32_t v);
void journal_put64(unsigned char *p, uint64_t v);
uint32_t journal_get32(const unsigned char *p);
uint64_t journal_get64(const unsigned char *p);

/* journal_crc is zlib's crc32 of n bytes at p. */
uint32_t journal_crc(const void *p, size_t n);

/*
 * A batch's checksums in a segment of incarnation inc: journal_batch_hcrc
 * is zlib's crc32 of inc's low 4 bytes (little-endian) then the header's
 * first 28 bytes at h; journal_batch_bcrc, of inc's high 4 bytes then the
 * n bytes of the body at p.
 */
uint32_t journal_batch_hcrc(uint64_t inc, const unsigned char *h);
uint32_t journal_batch_bcrc(uint64_t inc, const void *p, size_t n);

/* journal_incarnation draws a segment's incarnation (getrandom): 0 or an
 * errno. */
int journal_incarnation(uint64_t *inc);

/* journal_pad8 rounds n up to a multiple of 8. */
uint64_t journal_pad8(uint64_t n);

/* journal_path writes "DIR/FIRST.EXT" (FIRST in 20 digits) into path. */
void journal_path(const journal *j, uint64_t first, const char *ext,
        char *path, size_t n);

/*
 * journal_fail writes "cannot WHAT journal 'PATH': strerror(e)" into err,
 * with " (disk full)" for ENOSPC, EDQUOT and EFBIG, and returns
 * CLM_RESOURCE_EXHAUSTED for those, CLM_UNAVAILABLE for any other errno.
 */
clm_err journal_fail(
        int e, char *err, size_t errlen, const char *what, const char *path);

/*
 * journal_loss writes "journal 'PATH' is corrupt at offset OFF: WHAT
 * (position EXPECTED on is lost); ..." into err and returns CLM_DATA_LOSS.
 */
clm_err journal_loss(const char *path, uint64_t off, uint64_t expected,
        const char *what, char *err, size_t errlen);

/* journal_sync_dir fsyncs the journal's directory (journal_fail's errors);
 * j->dir_dirty stays set until one succeeds. */
clm_err journal_sync_dir(journal *j, char *err, size_t errlen);

/* journal_pwrite writes all n bytes at off, retrying short writes and
 * EINTR; returns 0 or the errno. */
int journal_pwrite(int fd, const void *buf, size_t n, uint64_t off);

/* journal_seg_header fills the 32-byte segment header h. */
void journal_seg_header(
        unsigned char *h, uint64_t first, uint32_t flags, uint64_t inc);

/*
 * journal_seg_check checks the segment header at h (size: the file's
 * size); true and *first, *flags, *inc set when it is valid.
 */
bool journal_seg_check(const unsigned char *h, uint64_t size, uint64_t *first,
        uint32_t *flags, uint64_t *inc);

/*
 * journal_batch_at looks at the batch at off of the mapping p (size bytes)
 * of a segment of incarnation inc: JOURNAL_VALID (and *b filled) when both
 * checksums are right for inc and its entries are whole, numbered from its
 * first position on (all of them below UINT64_MAX - 1) and fill the body
 * exactly; JOURNAL_ZEROS for a zero header or the end of the file;
 * JOURNAL_BAD otherwise (a batch of an older incarnation too).
 */
enum journal_found journal_batch_at(const unsigned char *p, uint64_t size,
        uint64_t off, uint64_t inc, struct journal_batch *b);

/*
 * journal_map_open opens and maps the file path read-only (an empty file
 * is not mapped); journal_map_close unmaps and closes it. Errors as
 * journal_fail.
 */
clm_err journal_map_open(
        const char *path, struct journal_map *m, char *err, size_t errlen);
void journal_map_close(struct journal_map *m);

/* journal_segs_push adds a segment at the end of j->segs; CLM_UNAVAILABLE
 * when memory runs out. */
clm_err journal_segs_push(journal *j, uint64_t first, uint64_t end);

/*
 * journal_drop drops segment i (not the one written to): with keep,
 * renamed to a .spare while there are fewer than JOURNAL_SPARES; else
 * (and always without keep) deleted. The caller fsyncs the directory.
 */
clm_err journal_drop(
        journal *j, size_t i, bool keep, char *err, size_t errlen);

/* journal_recover.c. journal_mkdir makes DIR (0700) when it is absent, and
 * fsyncs its parent (every time: a crash may have come between the mkdir
 * and the fsync of an earlier run). */
clm_err journal_mkdir(const char *dir, char *err, size_t errlen);

/*
 * journal_recover lists j->dir and recovers the journal (the rules at the
 * top of journal.c): j->segs, j->spares, j->next set, and j->fd open on
 * the last segment, or -1 when there is none. With j->sync every segment
 * is fdatasynced first (earlier ones may have been written without).
 */
clm_err journal_recover(journal *j, char *err, size_t errlen);

#endif /* CLM_JOURNAL_INTERNAL_H */
