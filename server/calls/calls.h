/*
 * handlers: one function per call, the rows of dispatch's table. Each lives
 * in the .c file of its concept (track.c, customer.c, status.c).
 */
#ifndef CLM_HANDLERS_H
#define CLM_HANDLERS_H

#include <stdbool.h>

#include "calls/dispatch.h"

/* Track (track.c): validates, then the writer applies. */
bool track_prepare(struct dispatch_req *r);

/* PutCatalog (catalog.c). */
bool catalog_prepare(struct dispatch_req *r);

/* Recommend (offers.c): a read, or with claim a write. */
void recommend_get(struct dispatch_req *r, store_txn *txn);
bool recommend_claim_prepare(struct dispatch_req *r);

/* GetCustomer (customer.c). */
void customer_get(struct dispatch_req *r, store_txn *txn);

/* Identify (identity.c). */
bool identify_prepare(struct dispatch_req *r);

/* ForgetCustomer and ExportCustomer (privacy.c). */
bool forget_prepare(struct dispatch_req *r);
void export_get(struct dispatch_req *r, store_txn *txn);

/* Metrics and Cohorts (reports.c). */
void metrics_get(struct dispatch_req *r, store_txn *txn);
void cohorts_get(struct dispatch_req *r, store_txn *txn);

/* RecordSpend (spend.c). */
bool spend_prepare(struct dispatch_req *r);

/* DefineExperiment, Assign, ExperimentResults (experiments.c). */
bool exp_define_prepare(struct dispatch_req *r);
bool exp_assign_prepare(struct dispatch_req *r);
void exp_results_get(struct dispatch_req *r, store_txn *txn);

/* ServerStatus (status.c). */
void status_get(struct dispatch_req *r, store_txn *txn);

#endif /* CLM_HANDLERS_H */
