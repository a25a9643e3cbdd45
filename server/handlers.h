/*
 * handlers: one function per call, the rows of dispatch's table. Each lives
 * in the .c file of its concept (track.c, customer.c, status.c).
 */
#ifndef CLM_HANDLERS_H
#define CLM_HANDLERS_H

#include <stdbool.h>

#include "dispatch.h"

/* Track (track.c): validates, then the writer applies. */
bool track_prepare(struct dispatch_req *r);

/* GetCustomer (customer.c). */
void customer_get(struct dispatch_req *r, store_txn *txn);

/* Identify (identity.c). */
bool identity_prepare(struct dispatch_req *r);

/* ForgetCustomer and ExportCustomer (privacy.c). */
bool privacy_forget_prepare(struct dispatch_req *r);
void privacy_export(struct dispatch_req *r, store_txn *txn);

/* ServerStatus (status.c). */
void status_get(struct dispatch_req *r, store_txn *txn);

#endif /* CLM_HANDLERS_H */
