/*
 * calls: one handler per call, the rows of dispatch's table, each in the
 * file named after its call (docs/api.md "Calls available now"). A read
 * handler fills the reply inside a read transaction; a write's prepare
 * step validates on the calling thread and sets the job the writer
 * applies.
 */
#ifndef CLM_CALLS_H
#define CLM_CALLS_H

#include <stdbool.h>

#include "calls/call.h"

/*
 * Each write call has a prepare step (call_prepare_fn), which checks the
 * request, writes its journal entry (calls/replay.h) and then runs the
 * call's build (call_build_fn), which calls/replay.c also runs for the
 * entry at start-up.
 */

/*
 * Track (track.c): validates, then the writer applies. The entry holds
 * only the valid touchpoints, each with its event time.
 */
bool track_prepare(struct call_req *r);
clm_err track_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

/*
 * track_rejected_status sets resp->status to that of a Track whose every
 * touchpoint was rejected (resp->track->rejected, at least one): code,
 * every violation of the rejected ones, the message quoting the first.
 * Cluster mode (calls/cluster.h) folds the parts of a Track with it.
 */
void track_rejected_status(Clm__V1__Response *resp, arena *a, clm_err code);

/* PutCatalog (catalog.c). */
bool catalog_prepare(struct call_req *r);
clm_err catalog_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

/*
 * Recommend (recommend.c): a read, or with claim a write, whose entry
 * keeps the request_id (a claim is stored under it).
 */
void recommend_get(struct call_req *r, store_txn *txn);
bool recommend_claim_prepare(struct call_req *r);
clm_err recommend_claim_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

/* GetCustomer (customer.c). */
void customer_get(struct call_req *r, store_txn *txn);

/* Identify (identify.c). */
bool identify_prepare(struct call_req *r);
clm_err identify_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

/* ForgetCustomer (forget.c) and ExportCustomer (export.c). */
bool forget_prepare(struct call_req *r);
clm_err forget_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
void export_get(struct call_req *r, store_txn *txn);

/*
 * forget_job_customer returns the customer_id a job readied by
 * forget_build forgets (valid while the job is), or NULL when job is
 * another call's.
 */
const char *forget_job_customer(const writer_job *job);

/* Metrics (metrics.c) and Cohorts (cohorts.c). */
void metrics_get(struct call_req *r, store_txn *txn);
void cohorts_get(struct call_req *r, store_txn *txn);

/* RecordSpend (spend.c). */
bool spend_prepare(struct call_req *r);
clm_err spend_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

/* DefineExperiment, Assign, ExperimentResults (experiments.c). */
bool exp_define_prepare(struct call_req *r);
bool exp_assign_prepare(struct call_req *r);
clm_err exp_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
clm_err exp_assign_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
void exp_results_get(struct call_req *r, store_txn *txn);

/*
 * DefineSegment, DeleteSegment (writes), GetSegment, ListSegments (reads)
 * (segment.c, docs/segments.md).
 */
bool seg_define_prepare(struct call_req *r);
bool seg_delete_prepare(struct call_req *r);
clm_err seg_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
clm_err seg_delete_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
void seg_get(struct call_req *r, store_txn *txn);
void seg_list(struct call_req *r, store_txn *txn);

/*
 * DefineJourney, DeleteJourney (writes), ListJourneys, GetJourney and
 * JourneyMessages (reads) (journey.c, docs/journeys.md).
 */
bool jny_define_prepare(struct call_req *r);
bool jny_delete_prepare(struct call_req *r);
clm_err jny_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
clm_err jny_delete_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);
void jny_list(struct call_req *r, store_txn *txn);
void jny_get(struct call_req *r, store_txn *txn);
void jny_messages(struct call_req *r, store_txn *txn);

/*
 * Journey fires (journey_fire.c): journey_fire_job is the writer's
 * writer_opts.fire_job (arg: the struct server); journey_fire_build
 * rebuilds the job from its entry (call_replay, for
 * CALL_ENTRY_JOURNEY_FIRE: data and len after the policy).
 */
clm_err journey_fire_job(
        void *srv, writer_job *job, const Clm__V1__JourneyFire *f);
clm_err journey_fire_build(const struct server *srv, writer_job *job,
        const void *data, size_t len, const struct call_policy *pol);

/*
 * journey_fire_split is cluster mode's split of a fire job's entry
 * (calls/cluster.c, write/writer.h's writer_cluster_ops.split): one part
 * per customer, each the entry's policy and that customer's items, its
 * subject the customer's and its Nats-Msg-Id "jf-" and the hex of a
 * BLAKE2b-128 of its items. Returns CLM_OK, DATA_LOSS (not a fire
 * entry), INVALID_ARGUMENT (a customer's items over max_bytes) or
 * RESOURCE_EXHAUSTED.
 */
clm_err journey_fire_split(writer_job *job, size_t max_bytes,
        struct writer_part **parts, size_t *n);

/* ServerStatus (status.c). */
void status_get(struct call_req *r, store_txn *txn);

#endif /* CLM_CALLS_H */
