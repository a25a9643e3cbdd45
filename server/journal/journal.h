/*
 * journal: an append-only log of numbered entries in segment files, the
 * point of acknowledgement of a write (issue 14). Each entry gets the next
 * position (1, 2, 3, ...); entries are buffered by journal_append and made
 * durable together, as one batch, by journal_commit (group commit). A
 * reader replays them with journal_read from a position; the caller, once
 * its view reflects a position durably, drops what lies before it with
 * journal_truncate_before, or with journal_purge_before when no byte of it
 * may stay on disk.
 *
 * The operations are those a replicated stream (a NATS JetStream stream)
 * can also provide: append, position, read from a position, truncate
 * before. The on-disk format and the recovery rules are described at the
 * top of journal.c and in docs/architecture.md, "The journal".
 *
 * Threads: a journal is used by one thread at a time (the writer's);
 * nothing in it is locked. journal_read is meant for start-up replay,
 * between journal_open and the first journal_append; it must not be called
 * while entries are buffered.
 */
#ifndef CLM_JOURNAL_JOURNAL_H
#define CLM_JOURNAL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

typedef struct journal journal;

struct journal_opts {
	/* Directory of the segment files; created 0700 when absent. */
	const char *dir;
	/* A new segment is started by the first commit past this many bytes
	 * in the current one; 0: 64 MiB. */
	uint64_t segment_bytes;
	/* true: journal_commit fdatasyncs the batch before it returns
	 * (durability full); false: the kernel writes it back when it likes
	 * (durability os). */
	bool sync;
	/* The position the caller's view already reflects (0: none). */
	uint64_t base;
};

/* One entry, as journal_read hands it out. */
struct journal_entry {
	uint64_t position;
	uint32_t type; /* the caller's tag, as appended */
	const void *data;
	size_t len;
};

/*
 * journal_open opens the journal in o->dir, creating the directory (mode
 * 0700) when it is absent and fsyncing its parent, and recovers it:
 * every segment is checked, a torn or unsynced tail is cut (the file is
 * truncated where it stops being valid and a warning names the file and
 * offset), stale content of a recycled segment is ignored, and leftovers
 * of an interrupted segment switch are removed. When o->sync is true,
 * every segment is fdatasynced before anything new is written (segments
 * written with sync false may still hold unwritten pages).
 *
 * The next position is one past the last entry, or o->base + 1 when the
 * journal ends before that (all of it checkpointed, or empty): a journal
 * entirely behind the view has its segments recycled.
 *
 * On success *out is the journal (free it with journal_close) and
 * CLM_OK is returned. Errors, with the reason in err (errlen bytes,
 * always terminated):
 * - CLM_DATA_LOSS: content that was synced is corrupt (an invalid batch
 *   or segment header followed by valid synced data, or positions that
 *   are not continuous, or a tail that would be cut holds synced
 *   batches); err names the file and the offset. Also when the
 *   oldest segment starts after o->base + 1 ("journal starts at X, the
 *   view is at Y").
 * - CLM_FAILED_PRECONDITION: a segment has a newer format version.
 * - CLM_INVALID_ARGUMENT: o->dir is NULL or empty.
 * - CLM_RESOURCE_EXHAUSTED: the disk is full while cutting a tail.
 * - CLM_UNAVAILABLE: the directory or a file cannot be made, read or
 *   synced (permissions, I/O errors), or memory ran out.
 * o->dir is copied; o need not outlive the call.
 */
clm_err journal_open(
        const struct journal_opts *o, journal **out, char *err, size_t errlen);

/*
 * journal_append buffers one entry: type is the caller's tag, data/len its
 * bytes (copied; data may be NULL when len is 0). *pos is set to the
 * entry's position, the next after every committed and buffered entry.
 * Nothing is written to disk: the entry is not durable, and must not be
 * acknowledged, until journal_commit returns CLM_OK. Returns CLM_OK,
 * CLM_RESOURCE_EXHAUSTED when memory runs out or the batch would pass
 * JOURNAL_BATCH_MAX bytes (commit first), or CLM_OUT_OF_RANGE when the
 * position would pass UINT64_MAX - 2 (positions never wrap); then nothing
 * is buffered.
 */
clm_err journal_append(journal *j, uint32_t type, const void *data, size_t len,
        uint64_t *pos);

/* The largest batch, in bytes of entries (each costs 16 + its length). */
#define JOURNAL_BATCH_MAX (1u << 30)

/*
 * journal_commit writes every buffered entry as one batch — one write, then
 * (with opts.sync) one fdatasync — and returns CLM_OK once it is durable;
 * with nothing buffered it returns CLM_OK at once. Past
 * opts.segment_bytes it first starts a new segment (recycling one that
 * journal_truncate_before freed, when there is one).
 *
 * On failure nothing of the batch counts: the file is cut back to where
 * the batch started (when the cut fails, the batch's header is zeroed;
 * when that fails too, every later commit retries it first and fails
 * while it does), the buffered entries are dropped and their positions
 * given back (the next journal_append gets the first of them again), and
 * the caller must not acknowledge them. A later commit may succeed (when
 * space returns). Errors, with the reason in err:
 * - CLM_RESOURCE_EXHAUSTED: "disk full" (ENOSPC, EDQUOT, EFBIG).
 * - CLM_UNAVAILABLE: any other write, sync or file error (EIO, ...).
 */
clm_err journal_commit(journal *j, char *err, size_t errlen);

/*
 * journal_abandon drops the buffered, uncommitted entries; their
 * positions are given back.
 */
void journal_abandon(journal *j);

/*
 * journal_position returns the last committed position, or opts.base when
 * that is greater (nothing committed past the view).
 */
uint64_t journal_position(const journal *j);

/*
 * journal_first returns the position of the oldest entry a segment file
 * may still hold: the first position of the oldest segment, or the next
 * position when there is none. Every entry below it is gone from the
 * directory (journal_truncate_before, journal_purge_before).
 */
uint64_t journal_first(const journal *j);

/*
 * journal_roll_next makes the next journal_commit start a new segment
 * (unless the current one holds no entry yet), so that every entry
 * committed before the call sits in segments that journal_truncate_before
 * and journal_purge_before can drop whole once the caller's view covers
 * them, even while new entries are committed after them. The caller
 * calls it where it fixes the position a checkpoint will cover (a purge
 * after a ForgetCustomer, issue 14).
 */
void journal_roll_next(journal *j);

/*
 * journal_read calls fn(arg, e) for every committed entry whose position
 * is >= from and > opts.base, in order of position, until fn returns
 * nonzero (then journal_read returns CLM_OK at once) or the entries end.
 * e and the bytes at e->data are valid only during the call. Segments are
 * read one at a time (mapped), so memory does not grow with the journal.
 *
 * Returns CLM_OK; CLM_OUT_OF_RANGE when entries at from were dropped by
 * journal_truncate_before (the journal starts after it); CLM_DATA_LOSS when
 * a segment no longer checks out (changed since journal_open);
 * CLM_FAILED_PRECONDITION when entries are buffered; CLM_UNAVAILABLE when
 * a segment cannot be read. The reason is in err.
 */
clm_err journal_read(journal *j, uint64_t from,
        int (*fn)(void *arg, const struct journal_entry *e), void *arg,
        char *err, size_t errlen);

/*
 * journal_truncate_before drops every segment whose entries are all below
 * position (the caller's view reflects them durably). The segment being
 * written to is never dropped, so some entries below position may remain;
 * journal_read still returns them. Up to two dropped segments are kept as
 * spares that the next segment switches reuse (their blocks are already
 * allocated, so fdatasync has no file size to write); the others are
 * deleted. The directory is fsynced after. Returns CLM_OK, or
 * CLM_UNAVAILABLE with the reason in err when a file cannot be renamed or
 * deleted or the directory synced (what was done stays done, and the
 * directory is synced before the next commit writes).
 */
clm_err journal_truncate_before(
        journal *j, uint64_t position, char *err, size_t errlen);

/*
 * journal_purge_before is journal_truncate_before for a forgotten
 * customer (issue 14): the caller's view reflects every entry below
 * position durably, and when it returns CLM_OK no file in the directory
 * holds an entry below position, nor stale bytes of one, except in the
 * case below. Every segment whose entries are all below position is
 * deleted, not kept as a spare, and so is every existing spare. When
 * every committed entry of the segment being written to is below
 * position (the normal case when the caller checkpointed its last
 * position), that segment is replaced by a fresh one that starts at the
 * next position (a header and no batch, created like any new segment:
 * written and fdatasynced as a .tmp, renamed into place) and then
 * deleted; the next commit writes there. A segment being written to that
 * holds entries at or after position stays, and so do the entries below
 * position in it (journal_read returns them): the caller purges again at
 * its next checkpoint. Only the stale tail of a recycled spare past its
 * log is cut from it (ftruncate, fdatasync). The directory is fsynced
 * before CLM_OK is returned, so the deletions are durable.
 *
 * Deleted rather than zeroed: zeroing a spare writes and fdatasyncs up to
 * segment_bytes per file for blocks that only save the next segment
 * switches a metadata write; the next switches after a purge create new
 * files. Call it when something must go (a ForgetCustomer since the last
 * purge), journal_truncate_before otherwise.
 *
 * Positions go on: the next append gets the position it would have got,
 * and everything else (commit, read from position on, truncate) works as
 * before. A crash at any point leaves a journal that journal_open
 * recovers, with every entry at or after position (entries below it may
 * survive; the view has them).
 *
 * Returns CLM_OK; on failure what was done stays done, the journal keeps
 * working (the segment written to is the old one when the fresh one was
 * not made), the directory is synced before the next commit writes, and
 * the purge may be repeated. Errors, with the reason in err:
 * - CLM_RESOURCE_EXHAUSTED: the disk is full while the fresh segment is
 *   written ("disk full": ENOSPC, EDQUOT, EFBIG).
 * - CLM_UNAVAILABLE: a file cannot be made, written, cut, renamed or
 *   deleted, or the directory synced (EIO, ...), or memory ran out.
 */
clm_err journal_purge_before(
        journal *j, uint64_t position, char *err, size_t errlen);

/*
 * journal_close drops buffered entries and frees j; NULL is a no-op. It
 * does not sync: what was committed already is.
 */
void journal_close(journal *j);

#endif /* CLM_JOURNAL_JOURNAL_H */
