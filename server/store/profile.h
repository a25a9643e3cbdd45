/*
 * profile: a customer's stored record together with its model profile, and
 * the one place where a changed profile is written back, so every
 * aggregate derived from it (the onboarding median today) follows: the old
 * contribution goes out, the new one comes in.
 */
#ifndef CLM_PROFILE_H
#define CLM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "core/agg.h"
#include "core/model.h"
#include "store/store.h"
#include "util/arena.h"

struct profile {
	Clm__V1__CustomerRecord *rec; /* identity and stored form */
	struct model_profile p;       /* the facts, as the model sees them */
	bool is_new;                  /* not stored yet */
	bool had_onboarding;          /* as loaded */
	int64_t old_onboarding_ms;
	/* Distinct items bought, as loaded (rec->purchased_items is now). */
	char **old_items;
	size_t n_old_items;
	/*
	 * Contributions to the aggregates as last stored (agg.h): all but
	 * the cohort cells, and the purchase days those came from.
	 */
	struct agg_list old_agg;
	const uint32_t *old_days;
	size_t n_old_days;
	/*
	 * The writer's: changed by a job whose segments are not evaluated
	 * yet (write/ingest.c's cache).
	 */
	bool seg_pending;
	/*
	 * The writer's journeys (write/journey.h): the triggers jw_note
	 * found in this write's touchpoints, not yet consumed by
	 * jw_customer (arena memory), and the job's event count when the
	 * write of this customer began.
	 */
	struct profile_trigger *jny_pending;
	size_t n_jny_pending, cap_jny_pending;
	size_t jny_ev_from;
};

/* A touchpoint that may enter the customer into a journey (jw_note). */
struct profile_trigger {
	uint32_t journey; /* JourneyRecord.id */
	int64_t at_ms;    /* the touchpoint's event time */
	const char *item; /* its item_id ("" = none) */
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
clm_err profile_drop(store_txn *txn, struct profile *pr, arena *a);

/*
 * profile_unaggregate takes pr's contributions out of the aggregates (the
 * customer is going away); profile_aggregates_reset forgets them without
 * writing (the aggregates were emptied: agg_rebuild).
 */
clm_err profile_unaggregate(store_txn *txn, struct profile *pr, arena *a);
void profile_aggregates_reset(struct profile *pr);

/*
 * profile_replay recomputes pr->p from the touchpoints stored under
 * pr->rec->cid, as if each had just been tracked in arrival order.
 */
clm_err profile_replay(store_txn *txn, struct profile *pr, arena *a);

/*
 * profile_note records what the stored record keeps of a touchpoint
 * besides the model's facts: for a PURCHASE its items, item_id and every
 * order_items entry (distinct purchased items, up to PROFILE_ITEMS_MAX:
 * the co-purchase basis; a REFUND changes none) and the day (for
 * cohorts); for an experiment's goal type, a conversion of every
 * assignment exposed at or before at_ms. profile_save then moves the
 * aggregates.
 */
clm_err profile_note(struct profile *pr, const Clm__V1__Touchpoint *tp,
        int64_t at_ms, arena *a);

/*
 * profile_adopt_experiments gives `into` the assignments of `from` to
 * experiments it has none in (a merge: the known customer's own win).
 * Conversions are recomputed by the profile_replay that follows.
 */
clm_err profile_adopt_experiments(
        struct profile *into, const struct profile *from, arena *a);

/*
 * profile_touch converts a stored touchpoint for model_apply; t borrows
 * tp's strings (item_id, order_items), valid while tp is.
 */
void profile_touch(const Clm__V1__Touchpoint *tp, int64_t at_ms, uint64_t seq,
        struct model_touch *t);

#endif /* CLM_PROFILE_H */
