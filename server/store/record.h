/*
 * record: converts between the stored CustomerRecord (protobuf) and the
 * model's plain profile struct.
 */
#ifndef CLM_RECORD_H
#define CLM_RECORD_H

#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "util/arena.h"

/* record_to_profile fills p from rec (unknown extra entries are ignored). */
void record_to_profile(
        const Clm__V1__CustomerRecord *rec, struct model_profile *p);

/*
 * record_from_profile writes p's facts into rec, leaving its identity
 * fields (customer_id, cid, anonymous, anonymous_ids) alone. Arrays come
 * from a. Returns 0, or -1 when memory is exhausted.
 */
int record_from_profile(
        const struct model_profile *p, Clm__V1__CustomerRecord *rec, arena *a);

#endif /* CLM_RECORD_H */
