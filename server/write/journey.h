/*
 * journey: journeys run by the writer (docs/journeys.md "How steps run",
 * docs/architecture.md "Journeys").
 *
 * The writer holds a jw: every journey's definition, parsed once per
 * definition and keyed by the journey's id. A write that saves a known
 * customer calls jw_customer where it calls segw_customer (right after
 * it): the triggers the write caused enter the customer (its
 * CustomerRecord.journeys and a timer in `jny_due`), and the exit
 * conditions of the journeys it is in are checked. Between batches the
 * writer takes the due timers and journals them as one entry
 * (JourneyFire, calls/replay.h's CALL_ENTRY_JOURNEY_FIRE), whose apply,
 * jw_fire, runs the steps: that entry is what makes a claim exactly once,
 * across kill -9 and across the nodes of a cluster.
 *
 * All on the writer thread.
 */
#ifndef CLM_WRITE_JOURNEY_H
#define CLM_WRITE_JOURNEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "store/profile.h"
#include "store/store.h"
#include "write/writer.h"

struct jw;

/*
 * What a step's claim decides with, besides the customer: the model's
 * thresholds and Recommend's caps. A fire entry carries the accepting
 * node's (calls/replay.h's policy), so every node decides alike.
 */
struct jw_policy {
	struct model_params params;
	unsigned cap_messages;
	int64_t cap_ms;
	int64_t quiet_ms;
};

/*
 * jw_new returns an empty cache evaluating with the thresholds mp
 * (copied) for the conditions checked at writes, or NULL when memory is
 * exhausted. jw_free releases it (NULL is a no-op).
 */
struct jw *jw_new(const struct model_params *mp);
void jw_free(struct jw *w);

/*
 * jw_invalidate makes w load the definitions again from the next
 * transaction that uses it: DefineJourney and DeleteJourney call it when
 * they apply, and the writer after a transaction it aborted. NULL is a
 * no-op.
 */
void jw_invalidate(struct jw *w);

/*
 * jw_note, called by ingest for each touchpoint tp (event time at_ms) it
 * applies to the known customer of pr, remembers in pr the journeys whose
 * event trigger tp is (docs/journeys.md "Triggers": not more than their
 * max_lateness before b->now_ms), for jw_customer to enter (arena a). One
 * array check when no journey is triggered by tp's type. w NULL or an
 * anonymous pr: nothing. Returns CLM_OK or a storage error (loading the
 * definitions) or RESOURCE_EXHAUSTED.
 */
clm_err jw_note(struct jw *w, struct writer_batch *b, struct profile *pr,
        const Clm__V1__Touchpoint *tp, int64_t at_ms, arena *a);

/*
 * jw_customer, called right after segw_customer for the same customer
 * (pr: its record and model profile as saved, arena a) in the same place,
 * with ev_from the number of job's events before the write began for
 * this customer (so job->events[ev_from..] are the write's stage changes,
 * risk signals and segment entries of this customer, among others'):
 * enters the customer into the journeys those events and the touchpoints
 * noted with jw_note trigger (consuming pr's pending triggers), and takes
 * it out of those whose exit holds at b->now_ms. pr->rec's journeys are
 * updated (*dirty: rec changed and must be written), timers and counters
 * follow. An anonymous pr is left alone. w NULL: nothing. Returns CLM_OK
 * or a storage error.
 */
clm_err jw_customer(struct jw *w, struct writer_batch *b, writer_job *job,
        struct profile *pr, size_t ev_from, arena *a, bool *dirty);

/*
 * jw_segment_entries enters the customers of job->events[ev_from..]'s
 * SEGMENT_ENTERED events into the journeys those segments trigger, each
 * customer loaded, entered as jw_customer does (but without its exit
 * checks: exits are decided by journaled writes and fires, alike on every
 * node of a cluster) and saved when it changed: the writer's background
 * step of segments (write/writer_segment.c) calls it for the time-driven
 * entries it made. Returns CLM_OK or a storage error.
 */
clm_err jw_segment_entries(
        struct jw *w, struct writer_batch *b, writer_job *job, size_t ev_from);

/*
 * jw_take_next returns the earliest timer instant w set since the last
 * call (INT64_MAX: none), for the writer's idle wait; it may be one a
 * transaction that was aborted set (early, never late).
 */
int64_t jw_take_next(struct jw *w);

/*
 * jw_forget takes the customer of rec out of every journey (its timers,
 * feed messages and pending hooks; counters), before the record is
 * deleted (ForgetCustomer).
 */
clm_err jw_forget(struct jw *w, struct writer_batch *b,
        const Clm__V1__CustomerRecord *rec);

/*
 * jw_fire applies a fire entry: runs each item's step (docs/journeys.md
 * "How steps run") at b->now_ms with pol, when the customer's state still
 * has that entry at that step (else nothing: it ran already), recording
 * claims as MESSAGE_SENT touchpoints, appending the feed, queueing
 * webhooks and adding a JOURNEY_MESSAGE event per message to job.
 * Deterministic: the same entry on the same view gives the same result.
 * Returns CLM_OK or a storage error.
 */
clm_err jw_fire(struct jw *w, struct writer_batch *b, writer_job *job,
        const Clm__V1__JourneyFire *fire, const struct jw_policy *pol);

/*
 * jw_due collects up to max due timers (at or before b->now_ms) into
 * *out (arena a), without changing anything; *more: some due timers were
 * left. The writer journals what it collects as a fire entry.
 */
clm_err jw_due(struct jw *w, store_txn *txn, int64_t now_ms, size_t max,
        arena *a, Clm__V1__JourneyFire **out, bool *more);

/*
 * An item's step of JW_DROP: the timer is stale (its journey is gone, its
 * customer has no such state, or the state is due at another instant),
 * and jw_fire only deletes it.
 */
#define JW_DROP UINT32_MAX

#endif /* CLM_WRITE_JOURNEY_H */
