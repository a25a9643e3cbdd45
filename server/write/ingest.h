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

/*
 * ingest_touchpoint applies one valid touchpoint (occurred_at_ms set) in
 * b's transaction: dedupe on event_id (*duplicate, nothing else done),
 * else update the customer's profile through the model and every
 * aggregate, store the touchpoint and its idempotency key, and add the
 * stage changes and risk signals it causes to job's events (job's arena).
 * Intermediate work goes in b->scratch, reset before it returns. mp holds
 * the health and risk thresholds. Returns CLM_OK or the storage error
 * that fails the batch.
 */
clm_err ingest_touchpoint(struct writer_batch *b, writer_job *job,
        const struct model_params *mp, Clm__V1__Touchpoint *tp,
        bool *duplicate);

#endif /* CLM_WRITE_INGEST_H */
