#include "store/profile.h"

#include <string.h>

#include "core/risk.h"
#include "store/agg_write.h"
#include "store/record.h"

void
profile_touch(const Clm__V1__Touchpoint *tp, int64_t at_ms, uint64_t seq,
        struct model_touch *t)
{
	t->type = (int) tp->type;
	t->channel = (int) tp->channel;
	t->at_ms = at_ms;
	t->seq = seq;
	t->item_id = tp->item_id;
	t->order_items = tp->order_items;
	t->n_order_items = tp->n_order_items;
	/* Validation bounds |value| by 1e12, so this cannot overflow. */
	t->value_micros = model_micros(tp->value);
	t->sentiment = tp->sentiment;
	t->kind = 0;
	if (tp->type == CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT) {
		for (size_t i = 0; i < tp->n_properties; i++) {
			if (strcmp(tp->properties[i]->key, "kind") != 0) {
				continue;
			}
			const ProtobufCEnumValue *v
			        = protobuf_c_enum_descriptor_get_value_by_name(
			                &clm__v1__recommendation_kind__descriptor,
			                tp->properties[i]->value);
			t->kind = v ? v->value : 0;
		}
	}
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
	pr->seg_pending = false;
	pr->jny_pending = NULL;
	pr->n_jny_pending = 0;
	pr->cap_jny_pending = 0;
	pr->jny_ev_from = 0;
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
	        = risk_onboarding_ms(&pr->p, &pr->old_onboarding_ms);
	pr->old_items = pr->rec->purchased_items;
	pr->n_old_items = pr->rec->n_purchased_items;
	if (agg_customer_part(&pr->p, pr->rec, false, a, &pr->old_agg) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	pr->old_days = pr->rec->purchase_days;
	pr->n_old_days = pr->rec->n_purchase_days;
	*out = pr;
	return CLM_OK;
}

static bool
profile_has(char *const *items, size_t n, const char *item)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], item) == 0) {
			return true;
		}
	}
	return false;
}

static clm_err
profile_note_item(struct profile *pr, const char *item, arena *a)
{
	Clm__V1__CustomerRecord *r = pr->rec;
	if (item[0] == '\0'
	        || profile_has(r->purchased_items, r->n_purchased_items, item)
	        || r->n_purchased_items >= PROFILE_ITEMS_MAX) {
		return CLM_OK;
	}
	char **items
	        = arena_alloc(a, (r->n_purchased_items + 1) * sizeof(*items));
	char *copy = arena_strdup(a, item);
	if (items == NULL || copy == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (r->n_purchased_items > 0) {
		memcpy(items, r->purchased_items,
		        r->n_purchased_items * sizeof(*items));
	}
	items[r->n_purchased_items++] = copy;
	r->purchased_items = items;
	return CLM_OK;
}

/* Adds day to the ascending distinct purchase days (a new array). */
static clm_err
profile_note_day(struct profile *pr, uint32_t day, arena *a)
{
	Clm__V1__CustomerRecord *r = pr->rec;
	size_t n = r->n_purchase_days, at = n;
	for (size_t i = 0; i < n; i++) {
		if (r->purchase_days[i] == day) {
			return CLM_OK;
		}
		if (r->purchase_days[i] > day) {
			at = i;
			break;
		}
	}
	uint32_t *days = arena_alloc(a, (n + 1) * sizeof(*days));
	if (days == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (at > 0) {
		memcpy(days, r->purchase_days, at * sizeof(*days));
	}
	days[at] = day;
	if (n > at) {
		memcpy(days + at + 1, r->purchase_days + at,
		        (n - at) * sizeof(*days));
	}
	r->purchase_days = days;
	r->n_purchase_days = n + 1;
	return CLM_OK;
}

clm_err
profile_note(struct profile *pr, const Clm__V1__Touchpoint *tp, int64_t at_ms,
        arena *a)
{
	Clm__V1__CustomerRecord *r = pr->rec;
	for (size_t i = 0; i < r->n_experiments; i++) {
		Clm__V1__ExperimentEntry *x = r->experiments[i];
		if (x->goal == tp->type && at_ms >= x->exposed_ms
		        && (x->converted_ms == 0 || at_ms < x->converted_ms)) {
			x->converted_ms = at_ms;
		}
	}
	if (tp->type != CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
		return CLM_OK;
	}
	/*
	 * One order, however many items: each of them joins the item set,
	 * so profile_save's diff feeds every pair to the co-purchase counts
	 * (docs/api.md "Orders of several items").
	 */
	clm_err e = profile_note_item(pr, tp->item_id, a);
	for (size_t i = 0; e == CLM_OK && i < tp->n_order_items; i++) {
		e = profile_note_item(pr, tp->order_items[i], a);
	}
	return e != CLM_OK ? e : profile_note_day(pr, agg_day(at_ms), a);
}

clm_err
profile_adopt_experiments(
        struct profile *into, const struct profile *from, arena *a)
{
	Clm__V1__CustomerRecord *r = into->rec;
	const Clm__V1__CustomerRecord *f = from->rec;
	if (f->n_experiments == 0) {
		return CLM_OK;
	}
	Clm__V1__ExperimentEntry **v = arena_alloc(
	        a, (r->n_experiments + f->n_experiments) * sizeof(*v));
	if (v == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t n = r->n_experiments;
	if (n > 0) {
		memcpy(v, r->experiments, n * sizeof(*v));
	}
	for (size_t i = 0; i < f->n_experiments; i++) {
		bool have = false;
		for (size_t k = 0; k < r->n_experiments && !have; k++) {
			have = strcmp(r->experiments[k]->experiment_id,
			               f->experiments[i]->experiment_id)
			        == 0;
		}
		if (!have) {
			v[n++] = f->experiments[i];
		}
	}
	r->experiments = v;
	r->n_experiments = n;
	return CLM_OK;
}

/*
 * Moves the co-purchase counts from one item set to another: an item in
 * `to` only adds a customer to its popularity and to every pair it forms
 * with the rest of `to`; an item in `from` only takes them away from the
 * pairs it formed in `from`. Pairs of two kept items do not change.
 */
static clm_err
profile_copurchase(store_txn *txn, char *const *from, size_t nf,
        char *const *to, size_t nt)
{
	clm_err e = CLM_OK;
	for (int pass = 0; pass < 2 && e == CLM_OK; pass++) {
		/* pass 0: removed items (in from, not in to); 1: added. */
		char *const *set = pass ? to : from;
		size_t n = pass ? nt : nf;
		char *const *other = pass ? from : to;
		size_t no = pass ? nf : nt;
		int delta = pass ? 1 : -1;
		for (size_t i = 0; i < n && e == CLM_OK; i++) {
			if (profile_has(other, no, set[i])) {
				continue;
			}
			e = store_pop_add(txn, set[i], delta);
			for (size_t k = 0; k < n && e == CLM_OK; k++) {
				bool k_changed
				        = !profile_has(other, no, set[k]);
				/* A pair of two changed items counts once. */
				if (k == i || (k_changed && k < i)) {
					continue;
				}
				e = store_co_add(txn, set[i], set[k], delta);
			}
		}
	}
	return e;
}

/*
 * Moves pr's contributions from what was last stored to what it holds now
 * (gone: to nothing). The cohort cells only when the purchase days changed
 * (their arrays are replaced, never edited, so a pointer tells).
 */
static clm_err
profile_aggregate(store_txn *txn, struct profile *pr, bool gone, arena *a)
{
	struct agg_list now = { NULL, 0, 0 };
	if (!gone && agg_customer_part(&pr->p, pr->rec, false, a, &now) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm_err e = agg_write_diff(txn, &pr->old_agg, &now);
	if (e != CLM_OK) {
		return e;
	}
	pr->old_agg = now;
	const uint32_t *days = gone ? NULL : pr->rec->purchase_days;
	size_t n_days = gone ? 0 : pr->rec->n_purchase_days;
	if (days == pr->old_days && n_days == pr->n_old_days) {
		return CLM_OK;
	}
	struct agg_list from, to = { NULL, 0, 0 };
	if (agg_cohort_cells(pr->old_days, pr->n_old_days, a, &from) != 0
	        || (!gone && agg_cohort_cells(days, n_days, a, &to) != 0)) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = agg_write_diff(txn, &from, &to);
	if (e == CLM_OK) {
		pr->old_days = days;
		pr->n_old_days = n_days;
	}
	return e;
}

clm_err
profile_unaggregate(store_txn *txn, struct profile *pr, arena *a)
{
	return profile_aggregate(txn, pr, true, a);
}

void
profile_aggregates_reset(struct profile *pr)
{
	pr->old_agg = (struct agg_list) { NULL, 0, 0 };
	pr->old_days = NULL;
	pr->n_old_days = 0;
}

clm_err
profile_save(store_txn *txn, struct profile *pr, arena *a)
{
	clm_err ce = profile_copurchase(txn, pr->old_items, pr->n_old_items,
	        pr->rec->purchased_items, pr->rec->n_purchased_items);
	if (ce != CLM_OK) {
		return ce;
	}
	pr->old_items = pr->rec->purchased_items;
	pr->n_old_items = pr->rec->n_purchased_items;
	int64_t now_ms;
	bool has = risk_onboarding_ms(&pr->p, &now_ms);
	clm_err e = store_onboarding_update(txn, pr->rec->cid,
	        pr->had_onboarding ? &pr->old_onboarding_ms : NULL,
	        has ? &now_ms : NULL);
	if (e != CLM_OK) {
		return e;
	}
	pr->had_onboarding = has;
	pr->old_onboarding_ms = now_ms;
	e = profile_aggregate(txn, pr, false, a);
	if (e != CLM_OK) {
		return e;
	}
	if (record_from_profile(&pr->p, pr->rec, a) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = store_customer_put(txn, pr->rec, !pr->is_new);
	if (e == CLM_OK) {
		pr->is_new = false;
	}
	return e;
}

clm_err
profile_drop(store_txn *txn, struct profile *pr, arena *a)
{
	clm_err e = profile_copurchase(
	        txn, pr->old_items, pr->n_old_items, NULL, 0);
	if (e == CLM_OK) {
		e = profile_aggregate(txn, pr, true, a);
	}
	if (e == CLM_OK) {
		e = store_onboarding_update(txn, pr->rec->cid,
		        pr->had_onboarding ? &pr->old_onboarding_ms : NULL,
		        NULL);
	}
	if (e != CLM_OK || pr->is_new) {
		return e;
	}
	return store_customer_del(
	        txn, pr->rec->customer_id, pr->rec->anonymous);
}

struct profile_replay {
	struct profile *pr;
	arena *a;
	clm_err err;
};

static int
profile_replay_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	struct profile_replay *rp = arg;
	struct model_profile *p = &rp->pr->p;
	rp->err = profile_note(rp->pr, tp, at_ms, rp->a);
	if (rp->err != CLM_OK) {
		return 1;
	}
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
profile_replay(store_txn *txn, struct profile *pr, arena *a)
{
	model_profile_init(&pr->p);
	pr->rec->n_purchased_items = 0;
	pr->rec->purchased_items = NULL;
	pr->rec->n_purchase_days = 0;
	pr->rec->purchase_days = NULL;
	for (size_t i = 0; i < pr->rec->n_experiments; i++) {
		pr->rec->experiments[i]->converted_ms = 0;
	}
	struct profile_replay rp = { pr, a, CLM_OK };
	clm_err e = store_touchpoints_scan(
	        txn, pr->rec->cid, -1, INT64_MAX, profile_replay_fn, &rp);
	return e != CLM_OK ? e : rp.err;
}
