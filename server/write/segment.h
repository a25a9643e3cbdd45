/*
 * segment: segment membership kept by the writer (docs/segments.md,
 * docs/architecture.md "Segments").
 *
 * The writer holds a segw: every defined segment's program, compiled once
 * per definition (not per evaluation) and keyed by the definition's id. A
 * write that saves a known customer's profile calls segw_customer in its
 * transaction, which evaluates every segment for that customer at the
 * batch's instant, moves the members, counts and time index, and adds an
 * entry or exit event to the job for every change. Between batches the
 * writer calls segw_step, which applies what time alone changed (the time
 * index), runs backfills, and drops the members of deleted definitions,
 * each in bounded chunks.
 *
 * All on the writer thread.
 */
#ifndef CLM_WRITE_SEGMENT_H
#define CLM_WRITE_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "clm/error.h"
#include "core/model.h"
#include "store/store.h"
#include "write/writer.h"

struct segw;

/*
 * segw_new returns an empty cache that evaluates with the thresholds mp
 * (copied), or NULL when memory is exhausted. segw_free releases it (NULL
 * is a no-op).
 */
struct segw *segw_new(const struct model_params *mp);
void segw_free(struct segw *w);

/*
 * segw_invalidate makes w load the definitions again from the next
 * transaction that uses it: DefineSegment and DeleteSegment call it when
 * they apply, and the writer after a transaction it aborted.
 */
void segw_invalidate(struct segw *w);

/*
 * segw_customer evaluates every segment for the known customer of rec
 * (its model profile p, as saved) at b->now_ms, in b->txn: members and
 * counts move, the time index follows, and rec's segment_ids and
 * segment_due_ms are updated (arena a), *dirty telling whether rec changed
 * and must be written. job gets an event per entry and exit (at_ms the
 * batch's instant; NULL: none), except for segments whose backfill has not
 * reached the customer, which change silently. When rec's time index
 * entry is overdue (before b->now_ms, no background step ran yet), the
 * missed instants are walked first with the customer as stored in b->txn,
 * their events dated when they happened. An anonymous rec is left alone.
 * Returns CLM_OK or a storage error.
 */
clm_err segw_customer(struct segw *w, struct writer_batch *b, writer_job *job,
        Clm__V1__CustomerRecord *rec, const struct model_profile *p, arena *a,
        bool *dirty);

/*
 * segw_forget takes the customer of rec out of every segment and the time
 * index (ForgetCustomer, before the record is deleted), with an exit
 * event in job for each segment it was in.
 */
clm_err segw_forget(struct segw *w, struct writer_batch *b, writer_job *job,
        const Clm__V1__CustomerRecord *rec);

/*
 * segw_step does one bounded chunk of background work in b->txn at
 * b->now_ms: the time index's entries due by then (re-evaluating those
 * customers, events in job with at_ms the entry's instant), else a chunk
 * of a backfill (silent), else a chunk of a dropped definition's members.
 * *more tells whether work is left, *did whether it wrote anything.
 * Returns CLM_OK or a storage error (abort the transaction,
 * segw_invalidate, try later).
 */
clm_err segw_step(struct segw *w, struct writer_batch *b, writer_job *job,
        bool *more, bool *did);

/* Where a backfill stands (segw_backfill): one segment's name and count. */
struct segw_progress {
	char name[128];
	uint64_t done, total; /* customers evaluated, and at the start */
};

/*
 * segw_backfill does one chunk of the backfills alone, as segw_step
 * would (*more: work is left; nothing done when none backfills), and
 * tells in *pg where the first backfilling segment stands (pg->name
 * empty: none). The writer finishes the backfills this way after its
 * start-up replay, before it serves: a replayed DefineSegment starts its
 * backfill again, and a write must not find it unfinished.
 */
clm_err segw_backfill(struct segw *w, struct writer_batch *b, bool *more,
        struct segw_progress *pg);

/*
 * segw_backfill_ended tells whether the last segw_step did the chunk that
 * ended the last backfill (the writer then checkpoints soon, so that a
 * crash does not make it start over).
 */
bool segw_backfill_ended(const struct segw *w);

#endif /* CLM_WRITE_SEGMENT_H */
