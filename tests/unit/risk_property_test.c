/*
 * The property test of health and churn risk (server/core/model.c,
 * docs/api.md "Health and churn risk"): random journeys applied in several
 * arrival orders give the same health, score, reasons and sentiment mean as
 * each other and as a reference computed from the touchpoint list. The
 * rule tables are in risk_test.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/risk.h"
#include "risk_fixture.h"

/* ---------------------------------------------------------------------- */
/* Property: arrival order changes nothing; a reference from the list.    */

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

/* One touchpoint of a random journey, absolute time. */
struct jtouch {
	int type;
	int64_t at;
	float sentiment;
};

static bool
is_sentiment_type(int type)
{
	return type == MODEL_T_SOCIAL_MENTION || type == MODEL_T_REVIEW
	        || type == MODEL_T_FEEDBACK;
}

/*
 * A random journey of 1-48 touchpoints over about 100 days. Times are on
 * a grid of hours, so ties are frequent, except sentiment-carrying ones,
 * which get distinct milliseconds (the model breaks equal times of two
 * sentiments by arrival, which legitimately depends on order).
 */
static size_t
journey_make(uint64_t *rng, struct jtouch *out)
{
	static const int pool[] = { MODEL_T_BILLING_ISSUE,
		MODEL_T_SUPPORT_TICKET, MODEL_T_SUPPORT_TICKET,
		MODEL_T_SUPPORT_TICKET, MODEL_T_CANCELLATION, MODEL_T_REFUND,
		MODEL_T_SIGNUP, MODEL_T_ONBOARDING_COMPLETED, MODEL_T_PURCHASE,
		MODEL_T_PURCHASE, MODEL_T_SOCIAL_MENTION, MODEL_T_REVIEW,
		MODEL_T_FEEDBACK, MODEL_T_SOCIAL_MENTION, MODEL_T_REVIEW,
		MODEL_T_FEEDBACK, MODEL_T_SITE_VISIT, MODEL_T_MESSAGE_SENT };
	static const float sentiments[]
	        = { -1.0f, -0.5f, -0.3f, 0.0f, 0.3f, 1.0f };
	size_t n = 1 + (size_t) rng_below(rng, 48);
	int64_t span = (int64_t) (1 + rng_below(rng, 100 * 24)); /* hours */
	for (size_t i = 0; i < n; i++) {
		struct jtouch *t = &out[i];
		t->type = pool[rng_below(rng, sizeof(pool) / sizeof(pool[0]))];
		t->at = T0 + (int64_t) rng_below(rng, (uint64_t) span) * H;
		t->sentiment = 0;
		if (is_sentiment_type(t->type)) {
			t->at += 1 + (int64_t) i; /* unique */
			if (rng_below(rng, 2) == 0) {
				t->sentiment = sentiments[rng_below(rng, 6)];
			} else {
				t->sentiment = (float) ((double) rng_below(
				                                rng, 2000001)
				                / 1e6
				        - 1.0);
			}
		} else if (rng_below(rng, 2) == 0) {
			/* Other types carry a sentiment the model ignores. */
			t->sentiment = -1.0f;
		}
	}
	return n;
}

/* Health, reasons and mean, computed directly from the list. */
struct ref_risk {
	int health;
	unsigned mask;
	bool has_mean;
	double mean;
};

static void
ref_eval(const struct jtouch *j, size_t n, const struct pset *ps, int64_t T,
        struct ref_risk *r)
{
	const struct model_params *mp = &ps->mp;
	bool seen = false;
	int64_t last_seen = 0, last_purchase = 0, last_cancel = 0;
	int64_t signup = 0, onboarded = 0;
	bool billing = false, refund = false;
	unsigned tickets = 0;
	struct jtouch sent[MAX_TOUCHES];
	size_t ns = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jtouch *t = &j[i];
		if (t->type != MODEL_T_MESSAGE_SENT) {
			seen = true;
			last_seen = t->at > last_seen ? t->at : last_seen;
		}
		switch (t->type) {
		case MODEL_T_PURCHASE:
			if (t->at > last_purchase) {
				last_purchase = t->at;
			}
			break;
		case MODEL_T_CANCELLATION:
			if (t->at > last_cancel) {
				last_cancel = t->at;
			}
			break;
		case MODEL_T_SIGNUP:
			if (signup == 0 || t->at < signup) {
				signup = t->at;
			}
			break;
		case MODEL_T_ONBOARDING_COMPLETED:
			if (onboarded == 0 || t->at < onboarded) {
				onboarded = t->at;
			}
			break;
		case MODEL_T_BILLING_ISSUE:
			billing = billing || T - t->at <= mp->billing_issue_ms;
			break;
		case MODEL_T_REFUND:
			refund = refund || T - t->at <= mp->refund_ms;
			break;
		case MODEL_T_SUPPORT_TICKET:
			tickets += T - t->at <= mp->support_ticket_ms;
			break;
		default:
			break;
		}
		if (is_sentiment_type(t->type)) {
			/* Insert, latest first (times are distinct). */
			size_t k = ns++;
			while (k > 0 && sent[k - 1].at < t->at) {
				sent[k] = sent[k - 1];
				k--;
			}
			sent[k] = *t;
		}
	}
	memset(r, 0, sizeof(*r));
	bool cancelled = last_cancel != 0 && last_cancel > last_purchase;
	if (!seen) {
		r->health = MODEL_HEALTH_NONE;
	} else if (cancelled || T - last_seen > mp->churn_ms) {
		r->health = MODEL_CHURNED;
	} else if (T - last_seen > mp->at_risk_ms) {
		r->health = MODEL_AT_RISK;
	} else {
		r->health = MODEL_ACTIVE;
	}
	size_t w = ns < mp->sentiment_window ? ns : mp->sentiment_window;
	if (w > 0) {
		double sum = 0;
		for (size_t i = 0; i < w; i++) {
			sum += sent[i].sentiment;
		}
		r->has_mean = true;
		r->mean = sum / (double) w;
	}
	if (seen && T - last_seen > mp->at_risk_ms) {
		r->mask |= R(MODEL_INACTIVE);
	}
	if (billing) {
		r->mask |= R(MODEL_RECENT_BILLING_ISSUE);
	}
	if (mp->support_tickets > 0 && tickets >= mp->support_tickets) {
		r->mask |= R(MODEL_SUPPORT_TICKETS);
	}
	/* Compared at the precision of the sentiments (floats). */
	if (r->has_mean && (float) r->mean < (float) mp->negative_sentiment) {
		r->mask |= R(MODEL_NEGATIVE_SENTIMENT);
	}
	if (refund) {
		r->mask |= R(MODEL_RECENT_REFUND);
	}
	if (ps->onb.known && signup != 0) {
		bool slow;
		if (onboarded != 0) {
			int64_t took
			        = onboarded > signup ? onboarded - signup : 0;
			slow = took > ps->onb.twice_median_ms;
		} else {
			slow = T - signup > ps->onb.twice_median_ms;
		}
		if (slow) {
			r->mask |= R(MODEL_SLOW_ONBOARDING);
		}
	}
	if (cancelled) {
		r->mask |= R(MODEL_SUBSCRIPTION_CANCELLED);
	}
}

/* What the model says as of T. */
struct got_risk {
	int health;
	double score;
	int reasons[MODEL_N_REASONS];
	size_t n;
	bool has_mean;
	double mean;
};

static void
got_eval(const struct model_profile *p, const struct pset *ps, int64_t T,
        struct got_risk *g)
{
	memset(g, 0, sizeof(*g));
	g->health = risk_health(p, &ps->mp, T);
	g->score = risk_score(p, &ps->mp, &ps->onb, T, g->reasons, &g->n);
	g->has_mean = risk_sentiment_mean(p, &ps->mp, &g->mean);
}

/* As-of times: a spread over the journey and each threshold's edges. */
static size_t
as_of_times(
        const struct jtouch *j, size_t n, const struct pset *ps, int64_t *out)
{
	int64_t last = T0, signup = 0;
	for (size_t i = 0; i < n; i++) {
		if (j[i].type != MODEL_T_MESSAGE_SENT && j[i].at > last) {
			last = j[i].at;
		}
		if (j[i].type == MODEL_T_SIGNUP
		        && (signup == 0 || j[i].at < signup)) {
			signup = j[i].at;
		}
	}
	size_t k = 0;
	for (int d = -5; d <= 130; d += 9) {
		out[k++] = T0 + d * D;
	}
	const int64_t edges[] = { 0, ps->mp.at_risk_ms, ps->mp.churn_ms,
		ps->mp.billing_issue_ms, ps->mp.refund_ms,
		ps->mp.support_ticket_ms };
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
		for (int64_t delta = -1; delta <= 1; delta++) {
			out[k++] = last + edges[e] + delta;
		}
	}
	if (signup != 0) {
		out[k++] = signup + ps->onb.twice_median_ms;
		out[k++] = signup + ps->onb.twice_median_ms + 1;
	}
	return k;
}

static void
check_same(const struct got_risk *a, const struct got_risk *b, const char *ctx)
{
	cr_assert_eq(a->health, b->health, "%s: health %d vs %d", ctx,
	        a->health, b->health);
	cr_assert(a->score == b->score, "%s: score %.17g vs %.17g", ctx,
	        a->score, b->score);
	cr_assert_eq(a->n, b->n, "%s: %zu reasons vs %zu", ctx, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_eq(a->reasons[i], b->reasons[i],
		        "%s: reasons[%zu] %d vs %d", ctx, i, a->reasons[i],
		        b->reasons[i]);
	}
	cr_assert_eq(a->has_mean, b->has_mean, "%s: has mean", ctx);
	cr_assert(!a->has_mean || a->mean == b->mean,
	        "%s: mean %.17g vs %.17g", ctx, a->mean, b->mean);
}

static void
check_reference(const struct got_risk *g, const struct ref_risk *r,
        const struct pset *ps, const char *ctx)
{
	cr_assert_eq(g->health, r->health, "%s: health %d, reference %d", ctx,
	        g->health, r->health);
	unsigned mask = 0;
	for (size_t i = 0; i < g->n; i++) {
		mask |= R(g->reasons[i]);
	}
	char gs[160], rs[160];
	mask_str(mask, gs, sizeof(gs));
	mask_str(r->mask, rs, sizeof(rs));
	cr_assert_eq(mask, r->mask, "%s: reasons {%s}, reference {%s}", ctx,
	        gs, rs);
	int want[MODEL_N_REASONS];
	size_t nw = expected_order(&ps->mp, r->mask, want);
	cr_assert_eq(g->n, nw, "%s: reason count", ctx);
	for (size_t i = 0; i < nw; i++) {
		cr_assert_eq(
		        g->reasons[i], want[i], "%s: reasons[%zu]", ctx, i);
	}
	double ws = expected_score(&ps->mp, r->mask);
	cr_assert(fabs(g->score - ws) <= 1e-12, "%s: score %.17g, want %.17g",
	        ctx, g->score, ws);
	cr_assert_eq(g->has_mean, r->has_mean, "%s: has mean", ctx);
	cr_assert(!g->has_mean || fabs(g->mean - r->mean) <= 1e-12,
	        "%s: mean %.17g, reference %.17g", ctx, g->mean, r->mean);
}

static void
applier_journey(struct applier *a, const struct jtouch *j, size_t n)
{
	applier_init(a);
	for (size_t i = 0; i < n; i++) {
		applier_touch(a, j[i].type, j[i].at, j[i].sentiment);
	}
}

static void
risk_property_run(uint64_t seed, int journeys)
{
	uint64_t rng = seed;
	struct pset sets[2];
	psets(sets);
	for (int jn = 0; jn < journeys; jn++) {
		struct jtouch js[MAX_TOUCHES];
		size_t n = journey_make(&rng, js);
		struct pset ps = sets[jn % 2];
		/* Median: unknown, zero, the set's, or random. */
		switch (rng_below(&rng, 4)) {
		case 0:
			ps.onb.known = false;
			ps.onb.twice_median_ms = 0;
			break;
		case 1:
			ps.onb.twice_median_ms = 0;
			break;
		case 2:
			break;
		default:
			ps.onb.twice_median_ms
			        = (int64_t) rng_below(&rng, 40 * D);
			break;
		}
		struct applier base;
		applier_journey(&base, js, n);

		struct model_profile orders[8];
		for (int o = 0; o < 8; o++) {
			struct jtouch order[MAX_TOUCHES];
			if (o == 0) {
				for (size_t i = 0; i < n; i++) {
					order[i] = js[n - 1 - i];
				}
			} else {
				memcpy(order, js, n * sizeof(js[0]));
				for (size_t i = n; i > 1; i--) {
					size_t k = (size_t) rng_below(&rng, i);
					struct jtouch tmp = order[i - 1];
					order[i - 1] = order[k];
					order[k] = tmp;
				}
			}
			struct applier other;
			applier_journey(&other, order, n);
			orders[o] = other.p;
		}

		int64_t times[64];
		size_t nt = as_of_times(js, n, &ps, times);
		for (size_t ti = 0; ti < nt; ti++) {
			char ctx[160];
			snprintf(ctx, sizeof(ctx),
			        "seed %llu journey %d (%zu touches, %s) as of T0%+lld ms",
			        (unsigned long long) seed, jn, n, ps.name,
			        (long long) (times[ti] - T0));
			struct got_risk g;
			got_eval(&base.p, &ps, times[ti], &g);
			struct ref_risk r;
			ref_eval(js, n, &ps, times[ti], &r);
			check_reference(&g, &r, &ps, ctx);
			for (int o = 0; o < 8; o++) {
				char octx[192];
				snprintf(octx, sizeof(octx), "%s, order %d",
				        ctx, o);
				struct got_risk go;
				got_eval(&orders[o], &ps, times[ti], &go);
				check_same(&g, &go, octx);
			}
		}
	}
}

Test(risk_property, order_independence_seed_1)
{
	risk_property_run(1, 100);
}

Test(risk_property, order_independence_seed_2)
{
	risk_property_run(2, 100);
}

Test(risk_property, order_independence_seed_3)
{
	risk_property_run(0xc0ffee, 100);
}

Test(risk_property, order_independence_seed_4)
{
	risk_property_run(0x5eed5eed, 100);
}
