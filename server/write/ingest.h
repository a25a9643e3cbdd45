/*
 * ingest: one touchpoint applied in the writer's transaction.
 */
#ifndef CLM_WRITE_INGEST_H
#define CLM_WRITE_INGEST_H

#include <stdbool.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "core/model.h"
#include "write/writer.h"

/* What ingest_touchpoint did with a touchpoint. */
struct ingest_result {
	bool duplicate; /* its event_id was stored before: nothing done */
	/*
	 * Non-NULL: refused, nothing done. The touchpoint's customer_id is
	 * an anonymous id that Identify linked to this other customer (job's
	 * arena), and one id never names two people (docs/api.md "Track").
	 */
	const char *linked_to;
};

/*
 * ingest_touchpoint applies one valid touchpoint (occurred_at_ms set) in
 * b's transaction: dedupe on event_id (res->duplicate, nothing else done),
 * refuse a customer_id that is another customer's anonymous id
 * (res->linked_to, nothing done), else update the customer's profile
 * through the model and every aggregate, store the touchpoint and its
 * idempotency key, and add the stage changes and risk signals it causes to
 * job's events (job's arena). Intermediate work goes in b->scratch, reset
 * before it returns (with b->cache: in the cache's arena). mp holds the health
 * and risk thresholds. Returns CLM_OK (*res written) or the storage error that
 * fails the batch.
 */
clm_err ingest_touchpoint(struct writer_batch *b, writer_job *job,
        const struct model_params *mp, Clm__V1__Touchpoint *tp,
        struct ingest_result *res);

/*
 * The profiles loaded by a run of Track jobs in one batch (issue 14: one
 * profile load and save per run of a customer's touchpoints, not per
 * touchpoint).
 * While writer_batch.cache is set, ingest_touchpoint keeps each profile it
 * loads in the cache, applies later touchpoints of the same customer to
 * it, and leaves the saving (record, aggregates, co-purchases, onboarding
 * index) to ingest_cache_flush: the stored state is the same as saving
 * after every touchpoint, since a save writes the profile's whole record
 * and the difference of its contributions. Nothing in a Track reads
 * another profile or an aggregate, so only other jobs need the flush
 * first: the writer flushes before any job that is not a Track, and before
 * the batch's journal entries. The cache flushes itself at
 * INGEST_CACHE_MAX (4) profiles or past INGEST_CACHE_BYTES (1.5 MiB) of
 * memory (ingest.c says why so few).
 *
 * ingest_cache_flush saves every cached profile in b->txn in the order
 * they were loaded and empties the cache (also on error, which fails the
 * batch). ingest_cache_drop empties it without saving (the transaction
 * was aborted).
 */
struct ingest_cache;
struct ingest_cache *ingest_cache_new(void);
/*
 * ingest_settle evaluates the segments (write/segment.h) of the known
 * customers the current job changed in the cache, adding its entry and
 * exit events to that job: a Track calls it when its touchpoints are
 * applied, so that its reply lists them, and ingest_cache_flush calls it
 * first. Without b->cache (each touchpoint saves its profile at once)
 * ingest_touchpoint evaluates them before the save.
 */
clm_err ingest_settle(struct writer_batch *b);
void ingest_cache_free(struct ingest_cache *c);
clm_err ingest_cache_flush(struct writer_batch *b);
void ingest_cache_drop(struct ingest_cache *c);

/* Profiles c loaded from the store since it was made (for tests). */
uint64_t ingest_cache_loads(const struct ingest_cache *c);

#endif /* CLM_WRITE_INGEST_H */
