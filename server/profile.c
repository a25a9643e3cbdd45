#include "profile.h"

#include <math.h>

#include "record.h"

void
profile_touch(const Clm__V1__Touchpoint *tp, int64_t at_ms, uint64_t seq,
        struct model_touch *t)
{
	t->type = (int) tp->type;
	t->channel = (int) tp->channel;
	t->at_ms = at_ms;
	t->seq = seq;
	t->item_id = tp->item_id;
	/* Validation bounds |value| by 1e12, so this cannot overflow. */
	t->value_micros = (int64_t) llround(tp->value * 1e6);
	t->sentiment = tp->sentiment;
}

clm_err
profile_load(store_txn *txn, const char *id, bool anonymous, bool create,
        arena *a, struct profile **out)
{
	struct profile *pr = arena_alloc(a, sizeof(*pr));
	if (pr == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	pr->is_new = false;
	clm_err e = store_customer_get(txn, id, anonymous, a, &pr->rec);
	if (e == CLM_NOT_FOUND && create) {
		pr->rec = arena_alloc(a, sizeof(*pr->rec));
		if (pr->rec == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		clm__v1__customer_record__init(pr->rec);
		pr->rec->customer_id = arena_strdup(a, id);
		if (pr->rec->customer_id == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		pr->rec->anonymous = anonymous;
		pr->rec->cid = store_next_cid(txn);
		pr->is_new = true;
	} else if (e != CLM_OK) {
		return e;
	}
	record_to_profile(pr->rec, &pr->p);
	pr->had_onboarding
	        = model_onboarding_ms(&pr->p, &pr->old_onboarding_ms);
	*out = pr;
	return CLM_OK;
}

clm_err
profile_save(store_txn *txn, struct profile *pr, arena *a)
{
	int64_t now_ms;
	bool has = model_onboarding_ms(&pr->p, &now_ms);
	clm_err e = store_onboarding_update(txn, pr->rec->cid,
	        pr->had_onboarding ? &pr->old_onboarding_ms : NULL,
	        has ? &now_ms : NULL);
	if (e != CLM_OK) {
		return e;
	}
	pr->had_onboarding = has;
	pr->old_onboarding_ms = now_ms;
	if (record_from_profile(&pr->p, pr->rec, a) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = store_customer_put(txn, pr->rec);
	if (e == CLM_OK) {
		pr->is_new = false;
	}
	return e;
}

clm_err
profile_drop(store_txn *txn, struct profile *pr)
{
	clm_err e = store_onboarding_update(txn, pr->rec->cid,
	        pr->had_onboarding ? &pr->old_onboarding_ms : NULL, NULL);
	if (e != CLM_OK || pr->is_new) {
		return e;
	}
	return store_customer_del(
	        txn, pr->rec->customer_id, pr->rec->anonymous);
}

static int
profile_replay_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	struct model_profile *p = arg;
	struct model_touch t;
	profile_touch(tp, at_ms, seq, &t);
	/*
	 * Touchpoints come in event-time order, so a purchase never moves
	 * the first purchase earlier than one already applied and the rescan
	 * window is always empty: engagements after it are still to come.
	 */
	struct model_rescan rescan;
	model_apply(p, &t, &rescan);
	return 0;
}

clm_err
profile_replay(store_txn *txn, struct profile *pr)
{
	model_profile_init(&pr->p);
	return store_touchpoints_scan(
	        txn, pr->rec->cid, -1, INT64_MAX, profile_replay_fn, &pr->p);
}
