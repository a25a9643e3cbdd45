/*
 * customer: the Customer message of the API, built from a stored record
 * through the model.
 */
#ifndef CLM_CUSTOMER_H
#define CLM_CUSTOMER_H

#include <stdint.h>

#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "core/risk.h"
#include "store/store.h"
#include "util/arena.h"

/*
 * customer_build returns the Customer view of rec as of as_of_ms (health
 * and churn risk by mp, with the onboarding median onb), in arena memory
 * (strings borrowed from rec), or NULL when memory is exhausted.
 */
Clm__V1__Customer *customer_build(const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, const struct model_params *mp,
        const struct risk_onboarding *onb, arena *a);

/*
 * customer_view reads what customer_build needs besides the record (the
 * onboarding median) and builds the view, with the segments the customer
 * is in at as_of_ms (calls/segment.h): one call for every handler that
 * returns a Customer.
 */
clm_err customer_view(store_txn *txn, const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, const struct model_params *mp, arena *a,
        Clm__V1__Customer **out);

#endif /* CLM_CUSTOMER_H */
