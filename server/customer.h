/*
 * customer: the Customer message of the API, built from a stored record
 * through the model.
 */
#ifndef CLM_CUSTOMER_H
#define CLM_CUSTOMER_H

#include <stdint.h>

#include "arena.h"
#include "clm/v1/store.pb-c.h"

/*
 * customer_build returns the Customer view of rec as of as_of_ms, in arena
 * memory (strings borrowed from rec), or NULL when memory is exhausted.
 */
Clm__V1__Customer *customer_build(
        const Clm__V1__CustomerRecord *rec, int64_t as_of_ms, arena *a);

#endif /* CLM_CUSTOMER_H */
