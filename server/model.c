#include "model.h"

#include <stdlib.h>
#include <string.h>

void
model_profile_init(struct model_profile *p)
{
	memset(p, 0, sizeof(*p));
}

bool
model_is_engagement(int type)
{
	switch (type) {
	case MODEL_T_SITE_VISIT:
	case MODEL_T_PAGE_VIEW:
	case MODEL_T_CONTENT_VIEW:
	case MODEL_T_EMAIL_OPEN:
	case MODEL_T_EMAIL_CLICK:
	case MODEL_T_APP_OPEN:
	case MODEL_T_SUPPORT_TICKET:
	case MODEL_T_FEEDBACK:
	case MODEL_T_REVIEW:
	case MODEL_T_ONBOARDING_COMPLETED:
		return true;
	default:
		return false;
	}
}

/* Whether (at, seq) comes before (cur_at, cur_seq); cur_at 0 = unset. */
static bool
model_earlier(int64_t at, uint64_t seq, int64_t cur_at, uint64_t cur_seq)
{
	return cur_at == 0 || at < cur_at || (at == cur_at && seq < cur_seq);
}

static int64_t
model_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t
model_min_set(int64_t a, int64_t b)
{
	/* Minimum of two optional times (0 = unset). */
	if (a == 0) {
		return b;
	}
	if (b == 0) {
		return a;
	}
	return a < b ? a : b;
}

void
model_note_engagement(struct model_profile *p, int64_t at_ms)
{
	if (p->first_purchase_ms != 0 && at_ms > p->first_purchase_ms) {
		p->engaged_after_purchase_ms
		        = model_min_set(p->engaged_after_purchase_ms, at_ms);
	}
}

static struct model_cart_entry *
model_cart_slot(struct model_profile *p, const char *item)
{
	for (size_t i = 0; i < p->n_cart; i++) {
		if (strcmp(p->cart[i].item_id, item) == 0) {
			return &p->cart[i];
		}
	}
	if (p->n_cart == MODEL_CART_MAX) {
		/*
		 * Full: forget the entry whose last event is oldest. A late
		 * event for it would then be judged without its history, a
		 * bounded inaccuracy for carts of more than 64 items.
		 */
		size_t old = 0;
		int64_t old_at = INT64_MAX;
		for (size_t i = 0; i < p->n_cart; i++) {
			int64_t at = model_max(
			        p->cart[i].added_ms, p->cart[i].removed_ms);
			if (at < old_at) {
				old_at = at;
				old = i;
			}
		}
		p->cart[old] = p->cart[--p->n_cart];
	}
	struct model_cart_entry *e = &p->cart[p->n_cart++];
	memset(e, 0, sizeof(*e));
	strncpy(e->item_id, item, MODEL_ITEM_MAX);
	return e;
}

static void
model_apply_purchase(struct model_profile *p, const struct model_touch *t,
        struct model_rescan *rescan)
{
	p->purchases++;
	p->purchase_micros += t->value_micros;
	p->last_purchase_ms = model_max(p->last_purchase_ms, t->at_ms);

	int64_t old_first = p->first_purchase_ms;
	if (model_earlier(t->at_ms, t->seq, p->first_purchase_ms,
	            p->first_purchase_seq)) {
		/* The old first purchase (if any) becomes a candidate second.
		 */
		p->second_purchase_ms
		        = model_min_set(p->second_purchase_ms, old_first);
		p->first_purchase_ms = t->at_ms;
		p->first_purchase_seq = t->seq;
		p->conversion_channel = t->channel;
	} else {
		p->second_purchase_ms
		        = model_min_set(p->second_purchase_ms, t->at_ms);
	}

	if (p->first_purchase_ms != old_first) {
		/*
		 * The first purchase moved earlier. Engagements after the old
		 * one are still after the new one, and engaged_after_purchase
		 * already holds the first of them; those in (new, old] must be
		 * looked up by the caller. With no earlier purchase, every
		 * engagement after the new one counts.
		 */
		if (old_first == 0 || p->first_purchase_ms < old_first) {
			rescan->active = true;
			rescan->after_ms = p->first_purchase_ms;
			rescan->upto_ms
			        = old_first == 0 ? INT64_MAX : old_first;
		}
	}
	if (t->item_id[0] != '\0') {
		struct model_cart_entry *e = model_cart_slot(p, t->item_id);
		e->removed_ms = model_max(e->removed_ms, t->at_ms);
	} else {
		p->cart_cleared_ms = model_max(p->cart_cleared_ms, t->at_ms);
	}
}

void
model_apply(struct model_profile *p, const struct model_touch *t,
        struct model_rescan *rescan)
{
	rescan->active = false;
	if (t->type > 0 && t->type < MODEL_N_TYPES) {
		p->touch_counts[t->type]++;
	}
	if (t->type != MODEL_T_MESSAGE_SENT) {
		if (model_earlier(t->at_ms, t->seq, p->first_seen_ms,
		            p->first_seen_seq)) {
			p->first_seen_ms = t->at_ms;
			p->first_seen_seq = t->seq;
			p->acquisition_channel = t->channel;
		}
		p->last_seen_ms = model_max(p->last_seen_ms, t->at_ms);
	}
	if (model_is_engagement(t->type)) {
		p->last_engaged_ms = model_max(p->last_engaged_ms, t->at_ms);
		model_note_engagement(p, t->at_ms);
	}
	switch (t->type) {
	case MODEL_T_PURCHASE:
		model_apply_purchase(p, t, rescan);
		break;
	case MODEL_T_REFUND:
		p->refunds++;
		p->refund_micros += t->value_micros;
		break;
	case MODEL_T_REFERRAL:
		p->referrals++;
		p->first_referral_ms
		        = model_min_set(p->first_referral_ms, t->at_ms);
		break;
	case MODEL_T_ADD_TO_CART:
		p->last_add_to_cart_ms
		        = model_max(p->last_add_to_cart_ms, t->at_ms);
		if (t->item_id[0] != '\0') {
			struct model_cart_entry *e
			        = model_cart_slot(p, t->item_id);
			e->added_ms = model_max(e->added_ms, t->at_ms);
		}
		break;
	case MODEL_T_REMOVE_FROM_CART:
		if (t->item_id[0] != '\0') {
			struct model_cart_entry *e
			        = model_cart_slot(p, t->item_id);
			e->removed_ms = model_max(e->removed_ms, t->at_ms);
		}
		break;
	default:
		break;
	}
}

int
model_stage(const struct model_profile *p)
{
	if (p->purchases >= 1 && p->referrals >= 1) {
		return MODEL_ADVOCACY;
	}
	if (p->purchases >= 2) {
		return MODEL_RETENTION;
	}
	if (p->purchases == 1) {
		return p->last_engaged_ms > p->first_purchase_ms
		        ? MODEL_NURTURE
		        : MODEL_ACQUISITION;
	}
	return p->first_seen_ms != 0 ? MODEL_REACH : MODEL_STAGE_NONE;
}

int
model_funnel(const struct model_profile *p)
{
	if (p->purchases >= 1) {
		return MODEL_BOTTOM;
	}
	static const int middle[]
	        = { MODEL_T_SIGNUP, MODEL_T_PRICING_VIEW, MODEL_T_DEMO_REQUEST,
		          MODEL_T_ADD_TO_CART, MODEL_T_CHECKOUT_STARTED };
	for (size_t i = 0; i < sizeof(middle) / sizeof(middle[0]); i++) {
		if (p->touch_counts[middle[i]] > 0) {
			return MODEL_MIDDLE;
		}
	}
	return p->first_seen_ms != 0 ? MODEL_TOP : MODEL_FUNNEL_NONE;
}

void
model_reached_at(const struct model_profile *p, int64_t at[MODEL_N_STAGES])
{
	memset(at, 0, sizeof(int64_t) * MODEL_N_STAGES);
	at[MODEL_REACH] = p->first_seen_ms;
	if (p->purchases == 0) {
		return;
	}
	/* Closed form of DESIGN.md §3. */
	at[MODEL_ACQUISITION] = p->first_purchase_ms;
	if (p->referrals > 0) {
		at[MODEL_ADVOCACY] = model_max(
		        p->first_purchase_ms, p->first_referral_ms);
	}
	at[MODEL_RETENTION]
	        = model_min_set(p->second_purchase_ms, at[MODEL_ADVOCACY]);
	at[MODEL_NURTURE] = model_min_set(
	        p->engaged_after_purchase_ms, at[MODEL_RETENTION]);
}

size_t
model_history(const struct model_profile *p, struct model_stage_entry *out)
{
	int64_t at[MODEL_N_STAGES];
	model_reached_at(p, at);
	size_t n = 0;
	for (int s = MODEL_REACH; s < MODEL_N_STAGES; s++) {
		if (at[s] == 0) {
			break;
		}
		bool last = s + 1 == MODEL_N_STAGES || at[s + 1] == 0;
		if (last || at[s] < at[s + 1]) {
			out[n].stage = s;
			out[n].entered_ms = at[s];
			n++;
		}
	}
	return n;
}

size_t
model_cart(const struct model_profile *p, size_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_cart; i++) {
		const struct model_cart_entry *e = &p->cart[i];
		/* At equal times a removal wins, so the answer is order-free.
		 */
		if (e->added_ms > e->removed_ms
		        && e->added_ms > p->cart_cleared_ms) {
			out[n++] = i;
		}
	}
	/* Insertion sort: newest first, then by item id (n ≤ 64). */
	for (size_t i = 1; i < n; i++) {
		size_t v = out[i];
		size_t j = i;
		while (j > 0) {
			const struct model_cart_entry *a
			        = &p->cart[out[j - 1]];
			const struct model_cart_entry *b = &p->cart[v];
			bool before = b->added_ms > a->added_ms
			        || (b->added_ms == a->added_ms
			                && strcmp(b->item_id, a->item_id) < 0);
			if (!before) {
				break;
			}
			out[j] = out[j - 1];
			j--;
		}
		out[j] = v;
	}
	return n;
}
