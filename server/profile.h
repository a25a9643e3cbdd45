/*
 * profile: a customer's stored record together with its model profile, and
 * the one place where a changed profile is written back, so every
 * aggregate derived from it (the onboarding median today) follows: the old
 * contribution goes out, the new one comes in.
 */
#ifndef CLM_PROFILE_H
#define CLM_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "clm/error.h"
#include "model.h"
#include "store.h"

struct profile {
	Clm__V1__CustomerRecord *rec; /* identity and stored form */
	struct model_profile p;       /* the facts, as the model sees them */
	bool is_new;                  /* not stored yet */
	bool had_onboarding;          /* as loaded */
	int64_t old_onboarding_ms;
	/* Distinct items bought, as loaded (rec->purchased_items is now). */
	char **old_items;
	size_t n_old_items;
};

/* Distinct purchased items remembered per customer (co-purchase basis). */
#define PROFILE_ITEMS_MAX 256

/*
 * profile_load reads the profile of id (anonymous: of an anonymous id) into
 * *out (arena memory). With create, a missing profile is started empty
 * with a new cid (is_new); without, a missing one is NOT_FOUND.
 */
clm_err profile_load(store_txn *txn, const char *id, bool anonymous,
        bool create, arena *a, struct profile **out);

/* profile_save writes pr back, updating the aggregates derived from it. */
clm_err profile_save(store_txn *txn, struct profile *pr, arena *a);

/*
 * profile_drop deletes pr's record and takes it out of the aggregates (its
 * touchpoints are the caller's business).
 */
clm_err profile_drop(store_txn *txn, struct profile *pr);

/*
 * profile_replay recomputes pr->p from the touchpoints stored under
 * pr->rec->cid, as if each had just been tracked in arrival order.
 */
clm_err profile_replay(store_txn *txn, struct profile *pr, arena *a);

/*
 * profile_note_purchase adds item to the customer's distinct purchased
 * items (up to PROFILE_ITEMS_MAX); profile_save then updates the
 * co-purchase counts.
 */
clm_err profile_note_purchase(struct profile *pr, const char *item, arena *a);

/* profile_touch converts a stored touchpoint for model_apply. */

void profile_touch(const Clm__V1__Touchpoint *tp, int64_t at_ms, uint64_t seq,
        struct model_touch *t);

#endif /* CLM_PROFILE_H */
