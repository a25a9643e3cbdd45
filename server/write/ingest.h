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
 * before it returns. mp holds the health and risk thresholds. Returns
 * CLM_OK (*res written) or the storage error that fails the batch.
 */
clm_err ingest_touchpoint(struct writer_batch *b, writer_job *job,
        const struct model_params *mp, Clm__V1__Touchpoint *tp,
        struct ingest_result *res);

#endif /* CLM_WRITE_INGEST_H */
