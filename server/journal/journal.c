/*
 * journal: segment files of checksummed, numbered batches.
 *
 * On disk (every integer little-endian; checksums are zlib's crc32):
 *
 *   DIR/00000000000000000001.jnl   a segment, named by its first position
 *   DIR/00000000000000000001.spare a segment freed by truncate, for reuse
 *                                  (a purge deletes them)
 *   DIR/00000000000000000001.tmp   a segment being created (removed at open)
 *
 *   segment header, 32 bytes:
 *     magic u32 "CMJS" | version u32 (1) | first position u64 |
 *     flags u32 | incarnation u64 | crc32 of the 28 bytes before it u32
 *   then batches, each at an offset that is a multiple of 8:
 *     magic u32 "CMJB" | flags u32 | first position u64 | entry count u32 |
 *     body length u32 | crc32 of the incarnation's high half and the
 *     body u32 | crc32 of the incarnation's low half and the 28 bytes
 *     before it u32
 *     body: entries, each: length u32 | type u32 | position u64 | data
 *     zero padding to a multiple of 8 (not in the body length)
 *   after the last batch: 32 zero bytes, written with it (the next batch
 *   overwrites them), so the log ends in zeros even in a recycled segment
 *
 * The incarnation is a random 64-bit number drawn each time a segment
 * header is written (a new segment, or a spare recycled). A batch's two
 * checksums start with it (crc32 over its low 4 bytes then the header, and
 * over its high 4 bytes then the body), so a batch is valid only in the
 * incarnation that wrote it. That
 * matters past the point where the log stops, where recovery scans every
 * offset for later batches (evidence of lost synced data): the stale tail
 * of a recycled segment holds whole batches of an older incarnation, and
 * entries hold caller data that may look like a batch. Neither counts:
 * old batches fail the checksums, and caller data cannot carry them
 * because the incarnation never leaves the segment header (no interface
 * returns it), so a forged header passes both 32-bit checksums by chance
 * only: each half is a separate 32-bit secret (a crc32 over 4 bytes is a
 * bijection), 2^-64 an offset. One crc32 keyed with all 8 bytes would
 * hide 32 bits only, its state's width. Positions never wrap: a batch whose
 * last position is not below UINT64_MAX - 1 is invalid.
 *
 * Flag JOURNAL_SYNCED on a batch says its writer fdatasynced every batch
 * before it (durability full, or an open with sync that fdatasynced every
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
 * ends the log and the rest is cut, unless a later segment to be deleted
 * holds a synced batch or is flagged synced (CLM_DATA_LOSS again). An open
 * with sync fdatasyncs every segment before it writes a synced batch, so
 * what a run without sync wrote is on disk before anything says synced.
 * Positions are continuous: a valid batch below the expected position is
 * stale content of a recycled segment, and zeros are unwritten space;
 * both end the segment, never replayed (a stale batch of an older
 * incarnation reads as invalid: the segment is cut there). A commit whose
 * write or fdatasync failed is cut off the file, or its header zeroed, so
 * its given-back positions are never replayed. Segment headers are
 * written and fdatasynced under a name recovery ignores (.tmp or .spare)
 * and only then renamed into place, and the directory is fsynced after
 * every create, rename and delete, so a .jnl file always has a valid
 * header; a bad one is data loss.
 *
 * A purge (journal_purge_before) deletes instead of recycling: the spares
 * first, then, when every committed entry of the segment written to is
 * below the purge position, a fresh segment starting at the next position
 * is made as any other (header fdatasynced as .tmp, renamed into place,
 * directory fsynced), then the older segments are deleted, oldest first,
 * and the directory fsynced. A segment with a header and no batch is a
 * valid, empty segment to recovery (its log ends in the zeros at offset
 * 32, the end of the file), exactly as after a segment switch that no
 * commit followed. So a crash at any point leaves one of: spares missing
 * (nothing depends on them); a .tmp (removed at open); the old segment
 * followed by the fresh one at the position where its log ends (a
 * continuous journal; the old one is dropped at open, since the fresh one
 * starts at or before base + 1, and kept as a spare until the next
 * purge); older segments deleted oldest first (a journal that starts
 * later, at or before base + 1). Without sync, a power loss may also
 * lose the old segment's unsynced tail: the fresh segment's header is
 * then not flagged synced, so recovery cuts it as an unsynced tail, as
 * after any segment switch; those entries are below the purge position,
 * which the view has.
 *
 * Why recycle: a file whose size grows makes each fdatasync also write the
 * inode (a filesystem journal commit), and fallocate'd space on ext4 is
 * "unwritten" until written, which again changes metadata. A recycled
 * segment's blocks are written and its size large enough, so a steady
 * state fdatasync writes the batch's data only. Numbers: docs/architecture.md.
 */
#include "journal/journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

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
	} else {
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
	uint64_t p = j->next + j->count;
	if (p > UINT64_MAX - 2) {
		return CLM_OUT_OF_RANGE; /* the position after must fit too */
	}
	unsigned char *e = j->buf + j->len;
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
	uint64_t first = j->next, inc;
	journal_path(j, first, "jnl", path, sizeof(path));
	int e = journal_incarnation(&inc);
	if (e != 0) {
		return journal_fail(e, err, errlen, "create", path);
	}
	journal_seg_header(h, first, JOURNAL_SYNCED * j->sync, inc);
	clm_err rc = journal_segs_push(j, first, JOURNAL_HDR);
	if (rc != CLM_OK) {
		snprintf(err, errlen,
		        "cannot create journal '%s': out of memory", path);
		return rc;
	}
	j->segs[j->nsegs - 1].inc = inc;
	int fd;
	if (j->nspares > 0) {
		journal_path(j, j->spares[j->nspares - 1], "spare", side,
		        sizeof(side));
		fd = open(side, O_RDWR | O_CLOEXEC);
	} else {
		journal_path(j, first, "tmp", side, sizeof(side));
		fd = open(side, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	e = fd < 0 ? errno : journal_pwrite(fd, h, sizeof(h), 0);
	if (e == 0 && fdatasync(fd) != 0) {
		e = errno;
	}
	if (e == 0 && rename(side, path) != 0) {
		e = errno;
	}
	if (e != 0) {
		j->nsegs--;
		if (fd >= 0) {
			close(fd);
		}
		if (j->nspares == 0) {
			/* A half-made .tmp (journal_open removes it too). */
			unlink(side);
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
	j->roll = false;
	/* If this fails, the next commit syncs the directory first. */
	return journal_sync_dir(j, err, errlen);
}

/*
 * Removes a failed batch from the end of segment s (j->tail_dirty): cut
 * off, or when the cut fails its header zeroed, so no restart replays it.
 * Clears j->tail_dirty on success; else journal_fail's errors.
 */
static clm_err
journal_cut_tail(
        journal *j, const struct journal_seg *s, char *err, size_t errlen)
{
	static const unsigned char zeros[JOURNAL_HDR];
	if (s == NULL || j->fd < 0) {
		j->tail_dirty = false;
		return CLM_OK;
	}
	if (ftruncate(j->fd, (off_t) s->end) != 0) {
		int e = journal_pwrite(j->fd, zeros, sizeof(zeros), s->end);
		if (e == 0 && j->sync && fdatasync(j->fd) != 0) {
			e = errno;
		}
		if (e != 0) {
			char path[4096];
			journal_path(j, s->first, "jnl", path, sizeof(path));
			return journal_fail(e, err, errlen,
			        "cut a failed batch from", path);
		}
	}
	j->tail_dirty = false;
	return CLM_OK;
}

clm_err
journal_commit(journal *j, char *err, size_t errlen)
{
	if (j->count == 0) {
		return CLM_OK;
	}
	clm_err rc = CLM_OK;
	/* A segment's name must be durable before entries in it are. */
	if (j->dir_dirty
	        && (rc = journal_sync_dir(j, err, errlen)) != CLM_OK) {
		journal_abandon(j);
		return rc;
	}
	struct journal_seg *s = j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
	if (j->tail_dirty
	        && (rc = journal_cut_tail(j, s, err, errlen)) != CLM_OK) {
		journal_abandon(j);
		return rc;
	}
	/* A segment that holds no entry yet is as good as a new one. */
	if (s == NULL || s->end >= j->segment_bytes
	        || (j->roll && s->first < j->next)) {
		if ((rc = journal_roll(j, err, errlen)) != CLM_OK) {
			journal_abandon(j);
			return rc;
		}
		s = &j->segs[j->nsegs - 1];
	}
	j->roll = false;
	uint32_t len = (uint32_t) (j->len - JOURNAL_HDR);
	unsigned char *h = j->buf;
	journal_put32(h, JOURNAL_BATCH_MAGIC);
	journal_put32(h + 4, JOURNAL_SYNCED * j->sync);
	journal_put64(h + 8, j->next);
	journal_put32(h + 16, j->count);
	journal_put32(h + 20, len);
	journal_put32(
	        h + 24, journal_batch_bcrc(s->inc, h + JOURNAL_HDR, len));
	journal_put32(h + 28, journal_batch_hcrc(s->inc, h));
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
		char path[4096], cut[512];
		journal_path(j, s->first, "jnl", path, sizeof(path));
		rc = journal_fail(e, err, errlen, "write", path);
		/* Nothing of the batch counts: its positions are given back,
		 * so it must not be replayed after a restart either. */
		j->tail_dirty = true;
		if (journal_cut_tail(j, s, cut, sizeof(cut)) != CLM_OK) {
			log_warn("%s", cut);
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

uint64_t
journal_first(const journal *j)
{
	return j->nsegs > 0 ? j->segs[0].first : j->next;
}

void
journal_roll_next(journal *j)
{
	j->roll = true;
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
		        || journal_batch_at(m.p, end, off, j->segs[i].inc, &b)
		                != JOURNAL_VALID
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
		clm_err rc = journal_drop(j, 0, true, err, errlen);
		if (rc != CLM_OK) {
			/* Sync the renames before the next write. */
			j->dir_dirty |= dropped;
			return rc;
		}
		dropped = true;
	}
	return dropped ? journal_sync_dir(j, err, errlen) : CLM_OK;
}

/* Deletes every spare: their stale bytes are entries of old segments. */
static clm_err
journal_delete_spares(journal *j, char *err, size_t errlen)
{
	while (j->nspares > 0) {
		char path[4096];
		journal_path(j, j->spares[j->nspares - 1], "spare", path,
		        sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT) {
			return journal_fail(
			        errno, err, errlen, "delete", path);
		}
		j->nspares--;
		j->dir_dirty = true;
	}
	return CLM_OK;
}

/*
 * Replaces the segment written to, all of whose entries are below the
 * purge position, by a fresh one that starts at j->next (journal_roll,
 * with no spare left to recycle). The old one stays in j->segs, before
 * the fresh one, for the caller to delete; when it started at j->next
 * already (it holds no entry), the fresh one's rename replaced it.
 */
static clm_err
journal_replace_current(journal *j, char *err, size_t errlen)
{
	size_t n = j->nsegs;
	uint64_t old = j->segs[n - 1].first;
	clm_err rc = journal_roll(j, err, errlen);
	if (j->nsegs == n) {
		return rc; /* not renamed: the old one is still written to */
	}
	j->tail_dirty = false;
	if (old == j->segs[n].first) {
		j->segs[n - 1] = j->segs[n];
		j->nsegs--;
	}
	return rc;
}

/*
 * Cuts the segment written to where its log ends, when bytes lie past the
 * zero header there (the stale tail of a recycled spare) or a failed batch
 * may: ftruncate, then fdatasync.
 */
static clm_err
journal_cut_stale(journal *j, char *err, size_t errlen)
{
	struct journal_seg *s = &j->segs[j->nsegs - 1];
	char path[4096];
	struct stat st;
	journal_path(j, s->first, "jnl", path, sizeof(path));
	if (fstat(j->fd, &st) != 0) {
		return journal_fail(errno, err, errlen, "cut", path);
	}
	if ((uint64_t) st.st_size <= s->end + JOURNAL_HDR && !j->tail_dirty) {
		return CLM_OK;
	}
	if (ftruncate(j->fd, (off_t) s->end) != 0 || fdatasync(j->fd) != 0) {
		return journal_fail(errno, err, errlen, "cut", path);
	}
	j->tail_dirty = false;
	return CLM_OK;
}

clm_err
journal_purge_before(journal *j, uint64_t position, char *err, size_t errlen)
{
	clm_err rc = journal_delete_spares(j, err, errlen);
	if (rc == CLM_OK && j->nsegs > 0 && j->next <= position) {
		/* A failed batch of the old segment must not replay into the
		 * fresh one's positions. */
		if (j->tail_dirty) {
			rc = journal_cut_tail(
			        j, &j->segs[j->nsegs - 1], err, errlen);
		}
		if (rc == CLM_OK) {
			rc = journal_replace_current(j, err, errlen);
		}
	} else if (rc == CLM_OK && j->nsegs > 0) {
		rc = journal_cut_stale(j, err, errlen);
	}
	/* Oldest first: what a crash leaves is a journal that starts later,
	 * never one with a hole. */
	while (rc == CLM_OK && j->nsegs > 1 && j->segs[1].first <= position) {
		if ((rc = journal_drop(j, 0, false, err, errlen)) == CLM_OK) {
			j->dir_dirty = true;
		}
	}
	if (rc != CLM_OK) {
		return rc; /* j->dir_dirty: the next commit syncs first */
	}
	return journal_sync_dir(j, err, errlen);
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
