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

/* Track (track.c): validates, then the writer applies. */
bool track_prepare(struct call_req *r);

/* PutCatalog (catalog.c). */
bool catalog_prepare(struct call_req *r);

/* Recommend (recommend.c): a read, or with claim a write. */
void recommend_get(struct call_req *r, store_txn *txn);
bool recommend_claim_prepare(struct call_req *r);

/* GetCustomer (customer.c). */
void customer_get(struct call_req *r, store_txn *txn);

/* Identify (identify.c). */
bool identify_prepare(struct call_req *r);

/* ForgetCustomer (forget.c) and ExportCustomer (export.c). */
bool forget_prepare(struct call_req *r);
void export_get(struct call_req *r, store_txn *txn);

/* Metrics (metrics.c) and Cohorts (cohorts.c). */
void metrics_get(struct call_req *r, store_txn *txn);
void cohorts_get(struct call_req *r, store_txn *txn);

/* RecordSpend (spend.c). */
bool spend_prepare(struct call_req *r);

/* DefineExperiment, Assign, ExperimentResults (experiments.c). */
bool exp_define_prepare(struct call_req *r);
bool exp_assign_prepare(struct call_req *r);
void exp_results_get(struct call_req *r, store_txn *txn);

/* ServerStatus (status.c). */
void status_get(struct call_req *r, store_txn *txn);

#endif /* CLM_CALLS_H */
