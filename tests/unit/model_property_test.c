/*
 * The lifecycle model's property test (server/core/model.c, docs/api.md
 * "The lifecycle model"): random journeys applied in many orders are
 * compared with each other, with an independent reference computed from
 * the touchpoint list, and with a brute-force stage(t) for the stage
 * history.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "core/model.h"
#include "model_fixture.h"

/* Property test: order independence, reference facts, brute-force history. */

/* splitmix64: a small deterministic generator. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static const char *const item_pool[]
        = { NULL, "sku-a", "sku-b", "sku-c", "sku-d" };

/*
 * A random journey: 1-40 touchpoints, times on a grid so that instants are
 * shared (ties between purchase, engagement, cart events), one channel per
 * instant (the model breaks equal times by arrival seq, so two touchpoints
 * at one instant with different channels would legitimately depend on
 * order).
 */
static size_t
journey_make(uint64_t *rng, struct spec *out)
{
	size_t n = 1 + (size_t) rng_below(rng, 40);
	uint64_t slots = 1 + rng_below(rng, n + 1);
	int slot_channel[48];
	for (size_t i = 0; i < sizeof(slot_channel) / sizeof(int); i++) {
		slot_channel[i] = (int) rng_below(rng, 13);
	}
	static const int hot[] = { MODEL_T_PURCHASE, MODEL_T_PURCHASE,
		MODEL_T_REFERRAL, MODEL_T_REFUND, MODEL_T_MESSAGE_SENT,
		MODEL_T_ADD_TO_CART, MODEL_T_ADD_TO_CART,
		MODEL_T_REMOVE_FROM_CART, MODEL_T_SITE_VISIT,
		MODEL_T_EMAIL_OPEN };
	for (size_t i = 0; i < n; i++) {
		struct spec *s = &out[i];
		uint64_t r = rng_below(rng, 10);
		if (r < 5) {
			s->type = hot[rng_below(
			        rng, sizeof(hot) / sizeof(int))];
		} else {
			s->type = 1 + (int) rng_below(rng, MODEL_N_TYPES - 1);
		}
		uint64_t slot = rng_below(rng, slots);
		s->at = (int64_t) slot * 60000;
		s->channel = slot_channel[slot];
		s->item = item_pool[rng_below(rng, 5)];
		s->micros = (s->type == MODEL_T_PURCHASE
		                    || s->type == MODEL_T_REFUND)
		        ? (int64_t) rng_below(rng, 1000000000)
		        : 0;
	}
	return n;
}

/*
 * The facts of docs/api.md "The lifecycle model" computed directly from the
 * touchpoint list.
 */
struct reference {
	uint32_t purchases, refunds, referrals;
	int64_t purchase_micros, refund_micros;
	int64_t first_seen, last_seen, first_purchase, second_purchase,
	        last_purchase, first_referral, last_engaged, engaged_after;
	int acquisition_channel, conversion_channel;
	uint64_t counts[MODEL_N_TYPES];
	int64_t cart_cleared, last_add;
	const char *cart[8];
	size_t n_cart;
};

static int64_t
ref_min(int64_t a, int64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

static int64_t
ref_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static void
reference_compute(const struct spec *js, size_t n, struct reference *r)
{
	memset(r, 0, sizeof(*r));
	int64_t ptimes[MAX_TOUCHES];
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		const struct spec *s = &js[i];
		int64_t at = T0 + s->at;
		r->counts[s->type]++;
		if (s->type != MODEL_T_MESSAGE_SENT) {
			if (r->first_seen == 0 || at < r->first_seen) {
				r->first_seen = at;
				r->acquisition_channel = s->channel;
			}
			r->last_seen = ref_max(r->last_seen, at);
		}
		if (model_is_engagement(s->type)) {
			r->last_engaged = ref_max(r->last_engaged, at);
		}
		switch (s->type) {
		case MODEL_T_PURCHASE:
			r->purchases++;
			r->purchase_micros += s->micros;
			if (r->first_purchase == 0 || at < r->first_purchase) {
				r->first_purchase = at;
				r->conversion_channel = s->channel;
			}
			r->last_purchase = ref_max(r->last_purchase, at);
			ptimes[np++] = at;
			if (s->item == NULL) {
				r->cart_cleared = ref_max(r->cart_cleared, at);
			}
			break;
		case MODEL_T_REFUND:
			r->refunds++;
			r->refund_micros += s->micros;
			break;
		case MODEL_T_REFERRAL:
			r->referrals++;
			r->first_referral = ref_min(r->first_referral, at);
			break;
		case MODEL_T_ADD_TO_CART:
			r->last_add = ref_max(r->last_add, at);
			break;
		default:
			break;
		}
	}
	/* Second purchase: the second smallest purchase time. */
	if (np >= 2) {
		int64_t a = INT64_MAX, b = INT64_MAX;
		for (size_t i = 0; i < np; i++) {
			if (ptimes[i] < a) {
				b = a;
				a = ptimes[i];
			} else if (ptimes[i] < b) {
				b = ptimes[i];
			}
		}
		r->second_purchase = b;
	}
	for (size_t i = 0; i < n && r->first_purchase != 0; i++) {
		int64_t at = T0 + js[i].at;
		if (model_is_engagement(js[i].type)
		        && at > r->first_purchase) {
			r->engaged_after = ref_min(r->engaged_after, at);
		}
	}
	/* The cart, item by item. */
	int64_t added[5] = { 0 }, removed[5] = { 0 };
	for (size_t i = 0; i < n; i++) {
		const struct spec *s = &js[i];
		if (s->item == NULL) {
			continue;
		}
		size_t k = 1;
		while (strcmp(item_pool[k], s->item) != 0) {
			k++;
		}
		int64_t at = T0 + s->at;
		if (s->type == MODEL_T_ADD_TO_CART) {
			added[k] = ref_max(added[k], at);
		} else if (s->type == MODEL_T_REMOVE_FROM_CART
		        || s->type == MODEL_T_PURCHASE) {
			removed[k] = ref_max(removed[k], at);
		}
	}
	for (size_t k = 1; k < 5; k++) {
		if (added[k] > removed[k] && added[k] > r->cart_cleared) {
			/* Insert newest first, then by id. */
			size_t j = r->n_cart++;
			while (j > 0) {
				size_t pk = 1;
				while (item_pool[pk] != r->cart[j - 1]) {
					pk++;
				}
				bool before = added[k] > added[pk]
				        || (added[k] == added[pk]
				                && strcmp(item_pool[k],
				                           item_pool[pk])
				                        < 0);
				if (!before) {
					break;
				}
				r->cart[j] = r->cart[j - 1];
				j--;
			}
			r->cart[j] = item_pool[k];
		}
	}
}

/*
 * Stage at time t by the rules of docs/api.md "The lifecycle model", over the
 * touchpoints at or before t.
 */
static int
reference_stage_at(const struct spec *js, size_t n, int64_t t)
{
	uint32_t purchases = 0, referrals = 0;
	int64_t first_purchase = 0, last_engaged = 0;
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		int64_t at = T0 + js[i].at;
		if (at > t) {
			continue;
		}
		seen = seen || js[i].type != MODEL_T_MESSAGE_SENT;
		if (js[i].type == MODEL_T_PURCHASE) {
			purchases++;
			first_purchase = ref_min(first_purchase, at);
		} else if (js[i].type == MODEL_T_REFERRAL) {
			referrals++;
		} else if (model_is_engagement(js[i].type)) {
			last_engaged = ref_max(last_engaged, at);
		}
	}
	if (purchases >= 1 && referrals >= 1) {
		return MODEL_ADVOCACY;
	}
	if (purchases >= 2) {
		return MODEL_RETENTION;
	}
	if (purchases == 1) {
		return last_engaged > first_purchase ? MODEL_NURTURE
		                                     : MODEL_ACQUISITION;
	}
	return seen ? MODEL_REACH : MODEL_STAGE_NONE;
}

static void
check_against_reference(const struct model_profile *p,
        const struct reference *r, const char *ctx)
{
	cr_assert_eq(p->purchases, r->purchases, "%s: purchases", ctx);
	cr_assert_eq(p->refunds, r->refunds, "%s: refunds", ctx);
	cr_assert_eq(p->referrals, r->referrals, "%s: referrals", ctx);
	cr_assert_eq(p->purchase_micros, r->purchase_micros,
	        "%s: purchase_micros", ctx);
	cr_assert_eq(
	        p->refund_micros, r->refund_micros, "%s: refund_micros", ctx);
	cr_assert_eq(p->first_seen_ms, r->first_seen, "%s: first_seen", ctx);
	cr_assert_eq(p->last_seen_ms, r->last_seen, "%s: last_seen", ctx);
	cr_assert_eq(p->first_purchase_ms, r->first_purchase,
	        "%s: first_purchase", ctx);
	cr_assert_eq(p->second_purchase_ms, r->second_purchase,
	        "%s: second_purchase", ctx);
	cr_assert_eq(p->last_purchase_ms, r->last_purchase,
	        "%s: last_purchase", ctx);
	cr_assert_eq(p->first_referral_ms, r->first_referral,
	        "%s: first_referral", ctx);
	cr_assert_eq(
	        p->last_engaged_ms, r->last_engaged, "%s: last_engaged", ctx);
	cr_assert_eq(p->engaged_after_purchase_ms, r->engaged_after,
	        "%s: engaged_after_purchase", ctx);
	cr_assert_eq(p->acquisition_channel, r->acquisition_channel,
	        "%s: acquisition_channel", ctx);
	cr_assert_eq(p->conversion_channel, r->conversion_channel,
	        "%s: conversion_channel", ctx);
	for (int t = 0; t < MODEL_N_TYPES; t++) {
		cr_assert_eq(p->touch_counts[t], r->counts[t],
		        "%s: touch_counts[%d]", ctx, t);
	}
	cr_assert_eq(
	        p->cart_cleared_ms, r->cart_cleared, "%s: cart_cleared", ctx);
	cr_assert_eq(p->last_add_to_cart_ms, r->last_add, "%s: last_add", ctx);
	const char *got[MODEL_CART_MAX];
	size_t n = cart_ids(p, got);
	cr_assert_eq(n, r->n_cart, "%s: cart size %zu, want %zu", ctx, n,
	        r->n_cart);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(got[i], r->cart[i], "%s: cart[%zu]", ctx, i);
	}
}

/* Everything public except the seq tie-breakers and the cart slot order. */
static void
check_same_profile(const struct model_profile *a,
        const struct model_profile *b, const char *ctx)
{
	cr_assert_eq(model_stage(a), model_stage(b), "%s: stage", ctx);
	cr_assert_eq(model_funnel(a), model_funnel(b), "%s: funnel", ctx);
	int64_t ra[MODEL_N_STAGES], rb[MODEL_N_STAGES];
	model_reached_at(a, ra);
	model_reached_at(b, rb);
	for (int s = 0; s < MODEL_N_STAGES; s++) {
		cr_assert_eq(ra[s], rb[s], "%s: reached_at[%d]", ctx, s);
	}
	struct model_stage_entry ha[MODEL_N_STAGES - 1],
	        hb[MODEL_N_STAGES - 1];
	size_t na = model_history(a, ha), nb = model_history(b, hb);
	cr_assert_eq(na, nb, "%s: history length", ctx);
	for (size_t i = 0; i < na; i++) {
		cr_assert_eq(
		        ha[i].stage, hb[i].stage, "%s: history[%zu]", ctx, i);
		cr_assert_eq(ha[i].entered_ms, hb[i].entered_ms,
		        "%s: history[%zu] time", ctx, i);
	}
	const char *ca[MODEL_CART_MAX], *cb[MODEL_CART_MAX];
	size_t nca = cart_ids(a, ca), ncb = cart_ids(b, cb);
	cr_assert_eq(nca, ncb, "%s: cart size", ctx);
	for (size_t i = 0; i < nca; i++) {
		cr_assert_str_eq(ca[i], cb[i], "%s: cart[%zu]", ctx, i);
	}
	/* The cart slots as a set. */
	cr_assert_eq(a->n_cart, b->n_cart, "%s: cart slots", ctx);
	for (size_t i = 0; i < a->n_cart; i++) {
		size_t j = 0;
		while (j < b->n_cart
		        && strcmp(a->cart[i].item_id, b->cart[j].item_id)
		                != 0) {
			j++;
		}
		cr_assert_lt(j, b->n_cart, "%s: cart slot '%s' missing", ctx,
		        a->cart[i].item_id);
		cr_assert_eq(a->cart[i].added_ms, b->cart[j].added_ms,
		        "%s: cart '%s' added", ctx, a->cart[i].item_id);
		cr_assert_eq(a->cart[i].removed_ms, b->cart[j].removed_ms,
		        "%s: cart '%s' removed", ctx, a->cart[i].item_id);
	}
	cr_assert_eq(a->purchases, b->purchases, "%s: purchases", ctx);
	cr_assert_eq(a->refunds, b->refunds, "%s: refunds", ctx);
	cr_assert_eq(a->referrals, b->referrals, "%s: referrals", ctx);
	cr_assert_eq(a->purchase_micros, b->purchase_micros, "%s: pm", ctx);
	cr_assert_eq(a->refund_micros, b->refund_micros, "%s: rm", ctx);
	cr_assert_eq(a->first_seen_ms, b->first_seen_ms, "%s: fs", ctx);
	cr_assert_eq(a->last_seen_ms, b->last_seen_ms, "%s: ls", ctx);
	cr_assert_eq(
	        a->first_purchase_ms, b->first_purchase_ms, "%s: fp", ctx);
	cr_assert_eq(
	        a->second_purchase_ms, b->second_purchase_ms, "%s: sp", ctx);
	cr_assert_eq(a->last_purchase_ms, b->last_purchase_ms, "%s: lp", ctx);
	cr_assert_eq(
	        a->first_referral_ms, b->first_referral_ms, "%s: fr", ctx);
	cr_assert_eq(a->last_engaged_ms, b->last_engaged_ms, "%s: le", ctx);
	cr_assert_eq(a->engaged_after_purchase_ms,
	        b->engaged_after_purchase_ms, "%s: eap", ctx);
	cr_assert_eq(a->acquisition_channel, b->acquisition_channel,
	        "%s: acquisition_channel", ctx);
	cr_assert_eq(a->conversion_channel, b->conversion_channel,
	        "%s: conversion_channel", ctx);
	for (int t = 0; t < MODEL_N_TYPES; t++) {
		cr_assert_eq(a->touch_counts[t], b->touch_counts[t],
		        "%s: touch_counts[%d]", ctx, t);
	}
	cr_assert_eq(
	        a->cart_cleared_ms, b->cart_cleared_ms, "%s: cleared", ctx);
	cr_assert_eq(a->last_add_to_cart_ms, b->last_add_to_cart_ms,
	        "%s: last_add", ctx);
}

/*
 * Brute force: for each distinct event time t, the stage of a fresh profile
 * fed only the touchpoints at or before t (through the model, cross-checked
 * with the reference rules); the history is where that stage changes.
 */
static void
check_history_brute_force(const struct spec *js, size_t n,
        const struct model_profile *p, const char *ctx)
{
	int64_t times[MAX_TOUCHES];
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t at = T0 + js[i].at;
		size_t j = 0;
		while (j < nt && times[j] != at) {
			j++;
		}
		if (j == nt) {
			size_t k = nt++;
			while (k > 0 && times[k - 1] > at) {
				times[k] = times[k - 1];
				k--;
			}
			times[k] = at;
		}
	}
	struct model_stage_entry want[MODEL_N_STAGES];
	size_t nw = 0;
	int64_t reached[MODEL_N_STAGES] = { 0 };
	int prev = MODEL_STAGE_NONE;
	for (size_t i = 0; i < nt; i++) {
		struct applier pre;
		applier_init(&pre, false);
		for (size_t k = 0; k < n; k++) {
			if (T0 + js[k].at <= times[i]) {
				applier_apply(&pre, &js[k]);
			}
		}
		int st = model_stage(&pre.p);
		cr_assert_eq(st, reference_stage_at(js, n, times[i]),
		        "%s: stage of the prefix at %lld", ctx,
		        (long long) times[i]);
		cr_assert_geq(st, prev, "%s: stage(t) moved backwards", ctx);
		if (st != prev) {
			cr_assert_lt(nw, (size_t) MODEL_N_STAGES - 1);
			want[nw].stage = st;
			want[nw].entered_ms = times[i];
			nw++;
			for (int s = prev + 1; s <= st; s++) {
				reached[s] = times[i];
			}
			prev = st;
		}
	}
	cr_assert_eq(model_stage(p), prev, "%s: final stage", ctx);
	struct model_stage_entry got[MODEL_N_STAGES - 1];
	size_t ng = model_history(p, got);
	cr_assert_eq(ng, nw, "%s: history has %zu entries, brute force %zu",
	        ctx, ng, nw);
	for (size_t i = 0; i < ng; i++) {
		cr_assert_eq(got[i].stage, want[i].stage,
		        "%s: history[%zu].stage %d, brute force %d", ctx, i,
		        got[i].stage, want[i].stage);
		cr_assert_eq(got[i].entered_ms, want[i].entered_ms,
		        "%s: history[%zu].entered_ms", ctx, i);
	}
	int64_t at[MODEL_N_STAGES];
	model_reached_at(p, at);
	for (int s = 0; s < MODEL_N_STAGES; s++) {
		cr_assert_eq(at[s], reached[s],
		        "%s: reached_at[%d] = %lld, brute force %lld", ctx, s,
		        (long long) at[s], (long long) reached[s]);
	}
}

static void
property_run(uint64_t seed, int journeys)
{
	uint64_t rng = seed;
	for (int j = 0; j < journeys; j++) {
		struct spec js[MAX_TOUCHES];
		size_t n = journey_make(&rng, js);
		char ctx[96];
		snprintf(ctx, sizeof(ctx),
		        "seed %llu journey %d (%zu touches)",
		        (unsigned long long) seed, j, n);

		struct applier base;
		applier_init(&base, false);
		applier_run(&base, js, n);

		struct reference ref;
		reference_compute(js, n, &ref);
		check_against_reference(&base.p, &ref, ctx);
		check_history_brute_force(js, n, &base.p, ctx);

		/* Reversed, then shuffled orders; half the runs stop each
		 * rescan at the first engagement as track.c does. */
		for (int o = 0; o < 8; o++) {
			struct spec order[MAX_TOUCHES];
			if (o == 0) {
				for (size_t i = 0; i < n; i++) {
					order[i] = js[n - 1 - i];
				}
			} else {
				memcpy(order, js, n * sizeof(js[0]));
				for (size_t i = n; i > 1; i--) {
					size_t k = (size_t) rng_below(&rng, i);
					struct spec tmp = order[i - 1];
					order[i - 1] = order[k];
					order[k] = tmp;
				}
			}
			struct applier other;
			applier_init(&other, o % 2 == 1);
			applier_run(&other, order, n);
			char octx[128];
			snprintf(octx, sizeof(octx), "%s, order %d", ctx, o);
			check_same_profile(&base.p, &other.p, octx);
			check_against_reference(&other.p, &ref, octx);
		}
	}
}

Test(model_property, order_independence_seed_1)
{
	property_run(1, 125);
}

Test(model_property, order_independence_seed_2)
{
	property_run(2, 125);
}

Test(model_property, order_independence_seed_3)
{
	property_run(3, 125);
}

Test(model_property, order_independence_seed_4)
{
	property_run(0x5eed, 125);
}
