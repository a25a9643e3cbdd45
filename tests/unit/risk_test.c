/*
 * Unit tests of health and churn risk (server/core/model.c, docs/api.md
 * "Health and churn risk"): every threshold one millisecond each side, with
 * the default parameters and with a non-default set, the score 1 - prod(1 - w)
 * and the order of the reasons, then a property test: random journeys applied
 * in several arrival orders give the same health, score, reasons and sentiment
 * mean as each other and as a reference computed from the touchpoint list.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/risk.h"

#define T0          1700000000000LL /* a base event time (2023-11-14) */
#define H           3600000LL
#define D           MODEL_DAY_MS
#define MAX_TOUCHES 64
#define ALL_REASONS 0xfeu /* bits 1..7 */

/*
 * Symbolic lengths of time, so one table serves both parameter sets: a
 * time is T0 + len(win) + off.
 */
enum {
	W0,        /* zero */
	W_AT_RISK, /* at_risk_ms */
	W_CHURN,   /* churn_ms */
	W_BILLING, /* billing_issue_ms */
	W_TICKET,  /* support_ticket_ms */
	W_REFUND,  /* refund_ms */
	W_ONB,     /* twice the median onboarding time */
};

/* A parameter set with the onboarding median it is tested with. */
struct pset {
	const char *name;
	struct model_params mp;
	struct risk_onboarding onb;
};

/*
 * The non-default set: every window different, the SUPPORT_TICKETS window
 * longer than the inactivity threshold (so all seven reasons can hold at
 * once), 2 tickets, 3 sentiments, threshold -0.5, and weights that are
 * binary fractions, so every product is exact whatever its order.
 */
static void
pset_custom(struct pset *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->name = "custom";
	ps->mp = (struct model_params) {
		.at_risk_ms = 7 * D,
		.churn_ms = 21 * D,
		.billing_issue_ms = 14 * D,
		.support_ticket_ms = 10 * D,
		.support_tickets = 2,
		.sentiment_window = 3,
		.negative_sentiment = -0.5,
		.refund_ms = 10 * D,
		.weight = {
			[MODEL_INACTIVE] = 0.25,
			[MODEL_RECENT_BILLING_ISSUE] = 0.125,
			[MODEL_SUPPORT_TICKETS] = 0.5,
			[MODEL_NEGATIVE_SENTIMENT] = 0.5,
			[MODEL_RECENT_REFUND] = 0.75,
			[MODEL_SLOW_ONBOARDING] = 0.5,
			[MODEL_SUBSCRIPTION_CANCELLED] = 0.875,
		},
	};
	ps->onb = (struct risk_onboarding) { .known = true,
		.twice_median_ms = 7 * H };
}

static void
pset_default(struct pset *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->name = "default";
	model_params_default(&ps->mp);
	ps->onb = (struct risk_onboarding) { .known = true,
		.twice_median_ms = 4 * D };
}

/* Both sets: [0] default, [1] custom. */
static void
psets(struct pset ps[2])
{
	pset_default(&ps[0]);
	pset_custom(&ps[1]);
}

static int64_t
len_of(const struct pset *ps, int win)
{
	switch (win) {
	case W_AT_RISK:
		return ps->mp.at_risk_ms;
	case W_CHURN:
		return ps->mp.churn_ms;
	case W_BILLING:
		return ps->mp.billing_issue_ms;
	case W_TICKET:
		return ps->mp.support_ticket_ms;
	case W_REFUND:
		return ps->mp.refund_ms;
	case W_ONB:
		return ps->onb.twice_median_ms;
	default:
		return 0;
	}
}

/* One touchpoint: at T0 + len(win) + off. */
struct spec {
	int type;
	int win;
	int64_t off;
	float sentiment;
};

#define S(t, w, o)                                                     \
	{                                                              \
		.type = (t), .win = (w), .off = (o), .sentiment = 0.0f \
	}
#define SS(t, w, o, v)                                                \
	{                                                             \
		.type = (t), .win = (w), .off = (o), .sentiment = (v) \
	}

/*
 * Applies touchpoints as the writer does: each through model_apply with
 * the next arrival seq and, when model_apply asks for a rescan, the first
 * engagement (by time, then seq) already applied with event time in
 * (after_ms, upto_ms] goes to model_note_engagement, as track.c's scan
 * in (time, seq) order that stops at the first one does.
 */
struct applier {
	struct model_profile p;
	struct model_touch log[MAX_TOUCHES];
	size_t n;
	uint64_t seq;
};

static void
applier_init(struct applier *a)
{
	memset(a, 0, sizeof(*a));
	model_profile_init(&a->p);
}

static void
applier_rescan(struct applier *a, const struct model_rescan *r)
{
	const struct model_touch *best = NULL;
	for (size_t i = 0; i < a->n; i++) {
		const struct model_touch *t = &a->log[i];
		if (t->at_ms <= r->after_ms || t->at_ms > r->upto_ms
		        || !model_is_engagement(t->type)) {
			continue;
		}
		if (best == NULL || t->at_ms < best->at_ms
		        || (t->at_ms == best->at_ms && t->seq < best->seq)) {
			best = t;
		}
	}
	if (best != NULL) {
		model_note_engagement(&a->p, best->at_ms);
	}
}

static void
applier_touch(struct applier *a, int type, int64_t at_ms, float sentiment)
{
	cr_assert_lt(a->n, MAX_TOUCHES);
	struct model_touch t = {
		.type = type,
		.channel = 1,
		.at_ms = at_ms,
		.seq = ++a->seq,
		.item_id = "",
		.value_micros = type == MODEL_T_PURCHASE ? 1000000 : 0,
		.sentiment = sentiment,
	};
	struct model_rescan r = { .active = false };
	model_apply(&a->p, &t, &r);
	if (r.active) {
		applier_rescan(a, &r);
	}
	a->log[a->n++] = t;
}

static void
applier_spec(struct applier *a, const struct pset *ps, const struct spec *s)
{
	applier_touch(
	        a, s->type, T0 + len_of(ps, s->win) + s->off, s->sentiment);
}

/* The reasons of mask, heaviest first, ties by number (independently). */
static size_t
expected_order(const struct model_params *mp, unsigned mask, int *out)
{
	size_t n = 0;
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		if (mask & (1u << r)) {
			out[n++] = r;
		}
	}
	/* Selection sort: a different algorithm from the model's. */
	for (size_t i = 0; i < n; i++) {
		size_t best = i;
		for (size_t j = i + 1; j < n; j++) {
			double wj = mp->weight[out[j]];
			double wb = mp->weight[out[best]];
			if (wj > wb || (wj == wb && out[j] < out[best])) {
				best = j;
			}
		}
		int tmp = out[i];
		out[i] = out[best];
		out[best] = tmp;
	}
	return n;
}

/* 1 - prod(1 - w) over mask, multiplied heaviest first. */
static double
expected_score(const struct model_params *mp, unsigned mask)
{
	int order[MODEL_N_REASONS];
	size_t n = expected_order(mp, mask, order);
	double keep = 1.0;
	for (size_t i = 0; i < n; i++) {
		keep *= 1.0 - mp->weight[order[i]];
	}
	return 1.0 - keep;
}

static const char *const reason_names[MODEL_N_REASONS] = { "NONE", "INACTIVE",
	"RECENT_BILLING_ISSUE", "SUPPORT_TICKETS", "NEGATIVE_SENTIMENT",
	"RECENT_REFUND", "SLOW_ONBOARDING", "SUBSCRIPTION_CANCELLED" };

static void
mask_str(unsigned mask, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		if ((mask & (1u << r)) && used < n) {
			int w = snprintf(buf + used, n - used, "%s%s",
			        used ? "," : "", reason_names[r]);
			used += w > 0 ? (size_t) w : 0;
		}
	}
}

/*
 * Asserts risk_score gives exactly the reasons of mask, in weight order,
 * and the score of those reasons (exactly when exact, else within 1e-12).
 */
static void
check_risk(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now, unsigned mask,
        bool exact, const char *ctx)
{
	int got[MODEL_N_REASONS];
	size_t n = 99;
	double score = risk_score(p, mp, onb, now, got, &n);
	unsigned got_mask = 0;
	for (size_t i = 0; i < n && i < MODEL_N_REASONS; i++) {
		got_mask |= 1u << got[i];
	}
	char gs[160], ws[160];
	mask_str(got_mask, gs, sizeof(gs));
	mask_str(mask, ws, sizeof(ws));
	cr_assert_eq(
	        got_mask, mask, "%s: reasons {%s}, want {%s}", ctx, gs, ws);
	int want[MODEL_N_REASONS];
	size_t nw = expected_order(mp, mask, want);
	cr_assert_eq(n, nw, "%s: %zu reasons, want %zu", ctx, n, nw);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(got[i], want[i], "%s: reasons[%zu] = %s, want %s",
		        ctx, i, reason_names[got[i]], reason_names[want[i]]);
	}
	double ws_score = expected_score(mp, mask);
	if (exact) {
		cr_assert(score == ws_score, "%s: score %.17g, want %.17g",
		        ctx, score, ws_score);
	} else {
		cr_assert(fabs(score - ws_score) <= 1e-12,
		        "%s: score %.17g, want %.17g", ctx, score, ws_score);
	}
}

#define R(x) (1u << (x))

/* ---------------------------------------------------------------------- */
/* Health and every reason at its boundary, for both parameter sets.      */

struct rcase {
	const char *name;
	struct spec t[10];
	size_t n;
	int win; /* as of T0 + len(win) + off */
	int64_t off;
	bool no_median; /* the median onboarding time is unknown */
	int health[2];  /* per set: default, custom */
	unsigned reasons[2];
};

#define BOTH(x)          \
	{                \
		(x), (x) \
	}
#define EITHER(a, b)     \
	{                \
		(a), (b) \
	}

static const struct rcase rcases[] = {
	/* Health. */
	{ "empty profile", { S(0, W0, 0) }, 0, W_CHURN, 1, false,
	        BOTH(MODEL_HEALTH_NONE), BOTH(0) },
	{ "only MESSAGE_SENT", { S(MODEL_T_MESSAGE_SENT, W0, 0) }, 1, W_CHURN,
	        1, false, BOTH(MODEL_HEALTH_NONE), BOTH(0) },
	{ "idle exactly at_risk", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1,
	        W_AT_RISK, 0, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "idle at_risk - 1 ms", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1,
	        W_AT_RISK, -1, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "idle at_risk + 1 ms", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1,
	        W_AT_RISK, 1, false, BOTH(MODEL_AT_RISK),
	        BOTH(R(MODEL_INACTIVE)) },
	{ "idle exactly churn", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1, W_CHURN,
	        0, false, BOTH(MODEL_AT_RISK), BOTH(R(MODEL_INACTIVE)) },
	{ "idle churn - 1 ms", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1, W_CHURN,
	        -1, false, BOTH(MODEL_AT_RISK), BOTH(R(MODEL_INACTIVE)) },
	{ "idle churn + 1 ms", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1, W_CHURN, 1,
	        false, BOTH(MODEL_CHURNED), BOTH(R(MODEL_INACTIVE)) },
	{ "as of the last touchpoint", { S(MODEL_T_SITE_VISIT, W0, 0) }, 1, W0,
	        0, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "as of before the last touchpoint",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_PAGE_VIEW, W0, 40 * D) },
	        2, W0, 20 * D, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "as of before every touchpoint",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_PAGE_VIEW, W0, 40 * D) },
	        2, W0, -1, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "last_seen is the latest touchpoint, exactly at_risk",
	        { S(MODEL_T_PAGE_VIEW, W0, 3 * H),
	                S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_REFERRAL, W0, H) },
	        3, W_AT_RISK, 3 * H, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "last_seen is the latest touchpoint, at_risk + 1 ms",
	        { S(MODEL_T_PAGE_VIEW, W0, 3 * H),
	                S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_REFERRAL, W0, H) },
	        3, W_AT_RISK, 3 * H + 1, false, BOTH(MODEL_AT_RISK),
	        BOTH(R(MODEL_INACTIVE)) },
	{ "MESSAGE_SENT is not activity",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_MESSAGE_SENT, W0, 5 * D) },
	        2, W_AT_RISK, 1, false, BOTH(MODEL_AT_RISK),
	        BOTH(R(MODEL_INACTIVE)) },
	{ "cancellation after the last purchase",
	        { S(MODEL_T_PURCHASE, W0, 0), S(MODEL_T_CANCELLATION, W0, H) },
	        2, W0, 2 * H, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SUBSCRIPTION_CANCELLED)) },
	{ "cancellation 1 ms after the purchase",
	        { S(MODEL_T_CANCELLATION, W0, H + 1),
	                S(MODEL_T_PURCHASE, W0, H) },
	        2, W0, H + 1, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SUBSCRIPTION_CANCELLED)) },
	{ "cancellation at the purchase instant",
	        { S(MODEL_T_PURCHASE, W0, H), S(MODEL_T_CANCELLATION, W0, H) },
	        2, W0, H, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "cancellation 1 ms before the purchase",
	        { S(MODEL_T_CANCELLATION, W0, H - 1),
	                S(MODEL_T_PURCHASE, W0, H) },
	        2, W0, H, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "purchase after the cancellation",
	        { S(MODEL_T_PURCHASE, W0, 0), S(MODEL_T_CANCELLATION, W0, H),
	                S(MODEL_T_PURCHASE, W0, 2 * H) },
	        3, W0, 3 * H, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "cancellation after both purchases",
	        { S(MODEL_T_CANCELLATION, W0, 2 * H),
	                S(MODEL_T_PURCHASE, W0, H),
	                S(MODEL_T_PURCHASE, W0, 0) },
	        3, W0, 3 * H, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SUBSCRIPTION_CANCELLED)) },
	{ "cancellation without any purchase",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_CANCELLATION, W0, H) },
	        2, W0, H, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SUBSCRIPTION_CANCELLED)) },
	{ "cancelled, as of before the cancellation",
	        { S(MODEL_T_PURCHASE, W0, 0),
	                S(MODEL_T_CANCELLATION, W0, 5 * D) },
	        2, W0, D, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SUBSCRIPTION_CANCELLED)) },
	{ "cancelled and idle past churn",
	        { S(MODEL_T_PURCHASE, W0, 0), S(MODEL_T_CANCELLATION, W0, H) },
	        2, W_CHURN, H + 1, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_INACTIVE) | R(MODEL_SUBSCRIPTION_CANCELLED)) },

	/* RECENT_BILLING_ISSUE (a visit at the as-of time keeps it active). */
	{ "billing issue exactly the window old",
	        { S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_BILLING, 0) },
	        2, W_BILLING, 0, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_BILLING_ISSUE)) },
	{ "billing issue the window + 1 ms old",
	        { S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_BILLING, 1) },
	        2, W_BILLING, 1, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "billing issue the window - 1 ms old",
	        { S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_BILLING, -1) },
	        2, W_BILLING, -1, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_BILLING_ISSUE)) },
	{ "the latest billing issue counts",
	        { S(MODEL_T_BILLING_ISSUE, W0, D),
	                S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_BILLING, D) },
	        3, W_BILLING, D, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_BILLING_ISSUE)) },
	{ "the latest billing issue + 1 ms",
	        { S(MODEL_T_BILLING_ISSUE, W0, D),
	                S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_BILLING, D + 1) },
	        3, W_BILLING, D + 1, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "billing issue after the as-of time",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_BILLING_ISSUE, W0, D) },
	        2, W0, 0, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_BILLING_ISSUE)) },

	/* RECENT_REFUND. */
	{ "refund exactly the window old",
	        { S(MODEL_T_REFUND, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_REFUND, 0) },
	        2, W_REFUND, 0, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_REFUND)) },
	{ "refund the window + 1 ms old",
	        { S(MODEL_T_REFUND, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_REFUND, 1) },
	        2, W_REFUND, 1, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "refund the window - 1 ms old",
	        { S(MODEL_T_REFUND, W0, 0),
	                S(MODEL_T_SITE_VISIT, W_REFUND, -1) },
	        2, W_REFUND, -1, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_REFUND)) },
	{ "the latest refund counts",
	        { S(MODEL_T_REFUND, W0, 0), S(MODEL_T_REFUND, W0, 2 * H),
	                S(MODEL_T_SITE_VISIT, W_REFUND, 2 * H) },
	        3, W_REFUND, 2 * H, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_REFUND)) },
	{ "the latest refund + 1 ms",
	        { S(MODEL_T_REFUND, W0, 0), S(MODEL_T_REFUND, W0, 2 * H),
	                S(MODEL_T_SITE_VISIT, W_REFUND, 2 * H + 1) },
	        3, W_REFUND, 2 * H + 1, false, BOTH(MODEL_ACTIVE), BOTH(0) },

	/* SLOW_ONBOARDING; twice the median is shorter than at_risk. */
	{ "onboarding took exactly twice the median",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 0) },
	        2, W_ONB, 0, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "onboarding took twice the median + 1 ms",
	        { S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 1),
	                S(MODEL_T_SIGNUP, W0, 0) },
	        2, W_ONB, 1, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_SLOW_ONBOARDING)) },
	{ "onboarding took twice the median - 1 ms",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, -1) },
	        2, W_ONB, 0, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "slow onboarding stays slow much later",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 1),
	                S(MODEL_T_SITE_VISIT, W_AT_RISK, 0) },
	        3, W_AT_RISK, 0, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_SLOW_ONBOARDING)) },
	{ "not completed, exactly twice the median after signup",
	        { S(MODEL_T_SIGNUP, W0, 0) }, 1, W_ONB, 0, false,
	        BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "not completed, twice the median + 1 ms after signup",
	        { S(MODEL_T_SIGNUP, W0, 0) }, 1, W_ONB, 1, false,
	        BOTH(MODEL_ACTIVE), BOTH(R(MODEL_SLOW_ONBOARDING)) },
	{ "measured from the first signup to the first completion",
	        { S(MODEL_T_SIGNUP, W0, 2 * H),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 3 * H),
	                S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 1) },
	        4, W_ONB, 3 * H, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_SLOW_ONBOARDING)) },
	{ "an early completion ends onboarding",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 5),
	                S(MODEL_T_ONBOARDING_COMPLETED, W0, 1) },
	        3, W_ONB, 5, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "completed before signing up",
	        { S(MODEL_T_SIGNUP, W0, H),
	                S(MODEL_T_ONBOARDING_COMPLETED, W0, 0) },
	        2, W_ONB, 2 * H, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "no median known: never slow (completed)",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, 1) },
	        2, W_ONB, 1, true, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "no median known: never slow (not completed)",
	        { S(MODEL_T_SIGNUP, W0, 0), S(MODEL_T_SITE_VISIT, W_ONB, D) },
	        2, W_ONB, D, true, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "no signup: never slow (completed)",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_ONBOARDING_COMPLETED, W_ONB, D) },
	        2, W_ONB, D, false, BOTH(MODEL_ACTIVE), BOTH(0) },
	{ "no signup: never slow (not completed)",
	        { S(MODEL_T_SITE_VISIT, W0, 0),
	                S(MODEL_T_PAGE_VIEW, W_ONB, D) },
	        2, W_ONB, D, false, BOTH(MODEL_ACTIVE), BOTH(0) },

	/* Combinations: the score and the order of the reasons. */
	{ "refund and billing issue",
	        { S(MODEL_T_REFUND, W0, 0), S(MODEL_T_BILLING_ISSUE, W0, H) },
	        2, W0, 2 * H, false, BOTH(MODEL_ACTIVE),
	        BOTH(R(MODEL_RECENT_REFUND) | R(MODEL_RECENT_BILLING_ISSUE)) },
	{ "inactive with a billing issue", { S(MODEL_T_BILLING_ISSUE, W0, 0) },
	        1, W_AT_RISK, 1, false, BOTH(MODEL_AT_RISK),
	        BOTH(R(MODEL_INACTIVE) | R(MODEL_RECENT_BILLING_ISSUE)) },
	{ "everything but inactivity",
	        { S(MODEL_T_SIGNUP, W0, 0), S(MODEL_T_BILLING_ISSUE, W0, 1),
	                S(MODEL_T_REFUND, W0, 2),
	                S(MODEL_T_SUPPORT_TICKET, W0, 3),
	                S(MODEL_T_SUPPORT_TICKET, W0, 4),
	                S(MODEL_T_SUPPORT_TICKET, W0, 5),
	                SS(MODEL_T_REVIEW, W0, 6, -1.0f),
	                SS(MODEL_T_FEEDBACK, W0, 7, -0.75f),
	                S(MODEL_T_CANCELLATION, W0, 8),
	                S(MODEL_T_SITE_VISIT, W_ONB, 1) },
	        10, W_ONB, 1, false, BOTH(MODEL_CHURNED),
	        BOTH(ALL_REASONS & ~R(MODEL_INACTIVE)) },
	/*
	 * Inactive by one millisecond: with the defaults, tickets and refund
	 * have left their 30-day windows; in the custom set (at_risk 7 d,
	 * tickets and refund 10 d) every reason holds.
	 */
	{ "inactive, everything else at time 0",
	        { S(MODEL_T_SIGNUP, W0, 0), S(MODEL_T_BILLING_ISSUE, W0, 0),
	                S(MODEL_T_REFUND, W0, 0),
	                S(MODEL_T_SUPPORT_TICKET, W0, 0),
	                S(MODEL_T_SUPPORT_TICKET, W0, 0),
	                S(MODEL_T_SUPPORT_TICKET, W0, 0),
	                SS(MODEL_T_REVIEW, W0, -2, -1.0f),
	                SS(MODEL_T_SOCIAL_MENTION, W0, -1, -1.0f),
	                SS(MODEL_T_FEEDBACK, W0, 0, -1.0f),
	                S(MODEL_T_CANCELLATION, W0, 0) },
	        10, W_AT_RISK, 1, false, BOTH(MODEL_CHURNED),
	        EITHER(ALL_REASONS & ~R(MODEL_SUPPORT_TICKETS)
	                        & ~R(MODEL_RECENT_REFUND),
	                ALL_REASONS) },
	{ "slow, inactive and negative",
	        { S(MODEL_T_SIGNUP, W0, 0),
	                SS(MODEL_T_SOCIAL_MENTION, W0, 1, -0.75f) },
	        2, W_CHURN, 2, false, BOTH(MODEL_CHURNED),
	        BOTH(R(MODEL_SLOW_ONBOARDING) | R(MODEL_INACTIVE)
	                | R(MODEL_NEGATIVE_SENTIMENT)) },
};

static void
run_rcase(const struct pset *ps, int k, const struct rcase *rc, bool rev)
{
	struct applier a;
	applier_init(&a);
	for (size_t i = 0; i < rc->n; i++) {
		applier_spec(&a, ps, &rc->t[rev ? rc->n - 1 - i : i]);
	}
	struct risk_onboarding none = { .known = false };
	const struct risk_onboarding *onb = rc->no_median ? &none : &ps->onb;
	int64_t now = T0 + len_of(ps, rc->win) + rc->off;
	char ctx[192];
	snprintf(ctx, sizeof(ctx), "%s [%s%s]", rc->name, ps->name,
	        rev ? ", reversed" : "");
	int h = risk_health(&a.p, &ps->mp, now);
	cr_assert_eq(h, rc->health[k], "%s: health %d, want %d", ctx, h,
	        rc->health[k]);
	/* The custom weights are binary fractions: the score is exact. */
	check_risk(&a.p, &ps->mp, onb, now, rc->reasons[k], k == 1, ctx);
}

Test(risk, boundaries_table)
{
	struct pset ps[2];
	psets(ps);
	for (int k = 0; k < 2; k++) {
		for (size_t c = 0; c < sizeof(rcases) / sizeof(rcases[0]);
		        c++) {
			run_rcase(&ps[k], k, &rcases[c], false);
			run_rcase(&ps[k], k, &rcases[c], true);
		}
	}
}

/* Some scores written out, not computed from the weights. */
Test(risk, score_literals)
{
	static const struct {
		const char *name;
		int set; /* 0 default, 1 custom */
		double score;
	} lit[] = {
		{ "refund and billing issue", 0, 1 - 0.8 * 0.6 },
		{ "inactive with a billing issue", 0, 0.7 },
		{ "slow, inactive and negative", 0, 1 - 0.7 * 0.5 * 0.7 },
		{ "everything but inactivity", 0, 1.0 },
		{ "cancelled and idle past churn", 0, 1.0 },
		{ "idle at_risk + 1 ms", 0, 0.5 },
		{ "refund and billing issue", 1, 1 - 0.25 * 0.875 },
		{ "slow, inactive and negative", 1, 1 - 0.5 * 0.75 * 0.5 },
		{ "cancelled and idle past churn", 1, 1 - 0.125 * 0.75 },
		/* 0.75 0.875 0.5 0.5 0.25 0.5 0.125 */
		{ "inactive, everything else at time 0", 1, 0.9974365234375 },
	};
	struct pset ps[2];
	psets(ps);
	for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		const struct rcase *rc = NULL;
		for (size_t c = 0; c < sizeof(rcases) / sizeof(rcases[0]);
		        c++) {
			if (strcmp(rcases[c].name, lit[i].name) == 0) {
				rc = &rcases[c];
			}
		}
		cr_assert_not_null(rc, "no case '%s'", lit[i].name);
		const struct pset *p = &ps[lit[i].set];
		struct applier a;
		applier_init(&a);
		for (size_t k = 0; k < rc->n; k++) {
			applier_spec(&a, p, &rc->t[k]);
		}
		int r[MODEL_N_REASONS];
		size_t n;
		double got = risk_score(&a.p, &p->mp, &p->onb,
		        T0 + len_of(p, rc->win) + rc->off, r, &n);
		cr_assert(fabs(got - lit[i].score) <= 1e-12,
		        "%s [%s]: score %.17g, want %.17g", lit[i].name,
		        p->name, got, lit[i].score);
		if (lit[i].set == 1) {
			cr_assert(got == lit[i].score, "%s [custom]: inexact",
			        lit[i].name);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* SUPPORT_TICKETS: k tickets in the window, k = support_tickets.         */

/*
 * tickets[] are offsets from T0; a visit at the as-of time keeps the
 * profile active. Returns whether SUPPORT_TICKETS holds.
 */
static bool
tickets_hold(const struct pset *ps, const int64_t *tickets, size_t n,
        int64_t now, bool rev)
{
	struct applier a;
	applier_init(&a);
	applier_touch(&a, MODEL_T_SITE_VISIT, now, 0);
	for (size_t i = 0; i < n; i++) {
		applier_touch(&a, MODEL_T_SUPPORT_TICKET,
		        T0 + tickets[rev ? n - 1 - i : i], 0);
	}
	int r[MODEL_N_REASONS];
	size_t nr;
	risk_score(&a.p, &ps->mp, &ps->onb, now, r, &nr);
	bool holds = false;
	for (size_t i = 0; i < nr; i++) {
		cr_assert_eq(r[i], MODEL_SUPPORT_TICKETS, "[%s] reason %s",
		        ps->name, reason_names[r[i]]);
		holds = true;
	}
	return holds;
}

Test(risk, support_tickets_boundary)
{
	struct pset ps[2];
	psets(ps);
	for (int k = 0; k < 2; k++) {
		const struct pset *p = &ps[k];
		size_t need = p->mp.support_tickets;
		int64_t win = p->mp.support_ticket_ms;
		cr_assert(need >= 2 && need <= 8);
		for (int rev = 0; rev < 2; rev++) {
			/* The k-th latest at 0, the others later. */
			int64_t t[24];
			for (size_t i = 0; i < need; i++) {
				t[i] = (int64_t) i * H;
			}
			cr_assert(tickets_hold(p, t, need, T0 + win, rev),
			        "[%s] the k-th latest exactly the window old",
			        p->name);
			cr_assert(!tickets_hold(p, t, need, T0 + win + 1, rev),
			        "[%s] the k-th latest 1 ms too old", p->name);
			cr_assert(tickets_hold(p, t, need, T0 + win - 1, rev),
			        "[%s] the k-th latest 1 ms younger", p->name);
			/* Older tickets do not help. */
			for (size_t i = need; i < need + 5; i++) {
				t[i] = -(int64_t) (i + 1) * D;
			}
			cr_assert(tickets_hold(p, t, need + 5, T0 + win, rev),
			        "[%s] older tickets, boundary", p->name);
			cr_assert(!tickets_hold(
			                  p, t, need + 5, T0 + win + 1, rev),
			        "[%s] older tickets do not count", p->name);
			/* One fewer: never, even all at the as-of time. */
			int64_t few[8];
			for (size_t i = 0; i + 1 < need; i++) {
				few[i] = 0;
			}
			cr_assert(!tickets_hold(p, few, need - 1, T0, rev),
			        "[%s] %zu tickets", p->name, need - 1);
			/* k tickets at one instant are k tickets. */
			for (size_t i = 0; i < need; i++) {
				few[i] = 0;
			}
			cr_assert(tickets_hold(p, few, need, T0 + win, rev),
			        "[%s] %zu tickets at one instant", p->name,
			        need);
			/* More than the model remembers (16): the latest. */
			for (size_t i = 0; i < 24; i++) {
				t[i] = (int64_t) (23 - i) * H;
			}
			/* The k-th latest of 24 is at (23 - (k - 1)) h. */
			int64_t kth_at = (int64_t) (23 - (need - 1)) * H;
			cr_assert(
			        tickets_hold(p, t, 24, T0 + kth_at + win, rev),
			        "[%s] 24 tickets, boundary", p->name);
			cr_assert(!tickets_hold(p, t, 24,
			                  T0 + kth_at + win + 1, rev),
			        "[%s] 24 tickets, 1 ms after", p->name);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* NEGATIVE_SENTIMENT: the mean of the latest sentiment_window sentiments. */

static const int sentiment_types[3]
        = { MODEL_T_SOCIAL_MENTION, MODEL_T_REVIEW, MODEL_T_FEEDBACK };

/*
 * Per set ([0] default: 5, -0.3; [1] custom: 3, -0.5), a full window whose
 * mean is exactly the threshold in double arithmetic (-1.5 / 5 and
 * -1.5 / 3 are the doubles nearest -0.3 and -0.5), and one just below it.
 */
static const float at_threshold[2][5] = {
	{ -0.5f, 0.0f, -0.5f, 0.0f, -0.5f },
	{ -0.5f, -0.5f, -0.5f },
};
static const float below_threshold[2][5] = {
	{ -0.5f, 0.0f, -0.5f, -0.00001f, -0.5f },
	{ -0.5f, -0.50001f, -0.5f },
};

/*
 * Builds a profile from sentiments v[0..n) at T0 + i minutes (so v[n-1] is
 * the latest), applied in arrival order `order` (0 oldest first, 1 latest
 * first, 2 odd ones first), with a visit at T0 for activity.
 */
static void
sentiment_profile(struct applier *a, const float *v, size_t n, int order)
{
	applier_init(a);
	applier_touch(a, MODEL_T_SITE_VISIT, T0, 0);
	for (size_t k = 0; k < n; k++) {
		size_t i = k;
		if (order == 1) {
			i = n - 1 - k;
		} else if (order == 2) {
			size_t odd = n / 2;
			i = k < odd ? 2 * k + 1 : 2 * (k - odd);
		}
		applier_touch(a, sentiment_types[i % 3],
		        T0 + (int64_t) i * 60000, v[i]);
	}
}

/* Whether NEGATIVE_SENTIMENT holds for the profile, as of T0 + 1 h. */
static bool
negative(const struct applier *a, const struct pset *ps)
{
	int r[MODEL_N_REASONS];
	size_t n;
	risk_score(&a->p, &ps->mp, &ps->onb, T0 + H, r, &n);
	bool neg = false;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(r[i], MODEL_NEGATIVE_SENTIMENT, "[%s] reason %s",
		        ps->name, reason_names[r[i]]);
		neg = true;
	}
	cr_assert_eq(risk_sentiment_negative(&a->p, &ps->mp), neg,
	        "[%s] risk_sentiment_negative disagrees with risk_score",
	        ps->name);
	return neg;
}

Test(risk, negative_sentiment_threshold)
{
	struct pset ps[2];
	psets(ps);
	for (int k = 0; k < 2; k++) {
		const struct pset *p = &ps[k];
		size_t w = p->mp.sentiment_window;
		for (int order = 0; order < 3; order++) {
			struct applier a;
			double mean = 0;
			sentiment_profile(&a, at_threshold[k], w, order);
			cr_assert(risk_sentiment_mean(&a.p, &p->mp, &mean));
			cr_assert(mean == p->mp.negative_sentiment,
			        "[%s] mean %.17g, want exactly %.17g", p->name,
			        mean, p->mp.negative_sentiment);
			cr_assert(!negative(&a, p),
			        "[%s] a mean equal to the threshold counted",
			        p->name);
			sentiment_profile(&a, below_threshold[k], w, order);
			cr_assert(risk_sentiment_mean(&a.p, &p->mp, &mean));
			cr_assert(mean < p->mp.negative_sentiment);
			cr_assert(negative(&a, p),
			        "[%s] a mean just below the threshold did not count",
			        p->name);
		}
	}
}

Test(risk, negative_sentiment_latest_window_by_event_time)
{
	struct pset ps[2];
	psets(ps);
	for (int k = 0; k < 2; k++) {
		const struct pset *p = &ps[k];
		size_t w = p->mp.sentiment_window;
		for (int order = 0; order < 3; order++) {
			/* Older -1s, then a window of zeros: not negative. */
			float v[24];
			for (size_t i = 0; i < 24; i++) {
				v[i] = i < 24 - w ? -1.0f : 0.0f;
			}
			struct applier a;
			double mean = 1;
			sentiment_profile(&a, v, 24, order);
			cr_assert(risk_sentiment_mean(&a.p, &p->mp, &mean));
			cr_assert(mean == 0.0, "[%s] mean %g", p->name, mean);
			cr_assert(!negative(&a, p), "[%s] older -1s count",
			        p->name);
			/* Older +1s, then a window of -1s: negative. */
			for (size_t i = 0; i < 24; i++) {
				v[i] = i < 24 - w ? 1.0f : -1.0f;
			}
			sentiment_profile(&a, v, 24, order);
			cr_assert(risk_sentiment_mean(&a.p, &p->mp, &mean));
			cr_assert(mean == -1.0, "[%s] mean %g", p->name, mean);
			cr_assert(negative(&a, p), "[%s] latest -1s", p->name);
			/* One older than the window that would tip it. */
			v[0] = -1.0f;
			for (size_t i = 0; i < w; i++) {
				v[i + 1] = at_threshold[k][i];
			}
			sentiment_profile(&a, v, w + 1, order);
			cr_assert(!negative(&a, p),
			        "[%s] the sentiment before the window counts",
			        p->name);
			v[0] = 1.0f;
			for (size_t i = 0; i < w; i++) {
				v[i + 1] = below_threshold[k][i];
			}
			sentiment_profile(&a, v, w + 1, order);
			cr_assert(negative(&a, p),
			        "[%s] the sentiment before the window counts",
			        p->name);
		}
	}
}

Test(risk, negative_sentiment_fewer_than_the_window)
{
	struct pset ps[2];
	psets(ps);
	/* Per set, two values whose mean is negative only if divided by 2. */
	static const float two[2][2]
	        = { { -0.5f, -0.25f }, { -0.75f, -0.5f } };
	for (int k = 0; k < 2; k++) {
		const struct pset *p = &ps[k];
		struct applier a;
		double mean = 0;
		sentiment_profile(&a, NULL, 0, 0);
		cr_assert(!risk_sentiment_mean(&a.p, &p->mp, &mean),
		        "[%s] a mean without sentiments", p->name);
		cr_assert(!negative(&a, p));
		for (int order = 0; order < 2; order++) {
			sentiment_profile(&a, two[k], 2, order);
			cr_assert(risk_sentiment_mean(&a.p, &p->mp, &mean));
			double want = ((double) two[k][0] + two[k][1]) / 2;
			cr_assert(mean == want, "[%s] mean %.17g, want %.17g",
			        p->name, mean, want);
			cr_assert(
			        negative(&a, p), "[%s] mean of two", p->name);
		}
		static const float one_neg = -0.75f;
		sentiment_profile(&a, &one_neg, 1, 0);
		cr_assert(negative(&a, p), "[%s] one -0.75", p->name);
		static const float one_zero = 0.0f;
		sentiment_profile(&a, &one_zero, 1, 0);
		cr_assert(!negative(&a, p), "[%s] one 0", p->name);
	}
	/* One sentiment exactly at the custom threshold (-0.5 is exact). */
	static const float half = -0.5f;
	struct applier a;
	sentiment_profile(&a, &half, 1, 0);
	cr_assert(!negative(&a, &ps[1]), "one -0.5 with threshold -0.5");
}

Test(risk, sentiment_only_from_mentions_reviews_feedback)
{
	struct pset ps[2];
	psets(ps);
	struct applier a;
	applier_init(&a);
	/* Touchpoints of other types carry no sentiment, whatever is set. */
	static const int others[] = { MODEL_T_SITE_VISIT, MODEL_T_PURCHASE,
		MODEL_T_SUPPORT_TICKET, MODEL_T_REFUND, MODEL_T_PAGE_VIEW,
		MODEL_T_MESSAGE_SENT };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		applier_touch(&a, others[i], T0 + (int64_t) i, -1.0f);
	}
	double mean = 0;
	cr_assert(!risk_sentiment_mean(&a.p, &ps[0].mp, &mean));
	applier_touch(&a, MODEL_T_REVIEW, T0 + 100, 0.25f);
	cr_assert(risk_sentiment_mean(&a.p, &ps[0].mp, &mean));
	cr_assert(mean == 0.25, "mean %g", mean);
	for (size_t i = 0; i < 3; i++) {
		applier_touch(
		        &a, sentiment_types[i], T0 + 200 + (int64_t) i, -1.0f);
	}
	cr_assert(risk_sentiment_mean(&a.p, &ps[0].mp, &mean));
	cr_assert(mean == (0.25 - 3.0) / 4, "mean %g", mean);
}

/*
 * Sentiment is a float on the wire, so a client that reports -0.3 five
 * times (the threshold itself) sends -0.3f = -0.30000001192..., whose
 * double mean is below the double -0.3: the mean is compared at float
 * precision (risk_sentiment_negative), so it sits on the threshold and
 * does not count, as docs/api.md "Health and churn risk" (mean below -0.3)
 * means. A mean one float step below it does.
 */
Test(risk, negative_sentiment_at_the_float_threshold)
{
	struct pset ps;
	pset_default(&ps);
	float v[5] = { -0.3f, -0.3f, -0.3f, -0.3f, -0.3f };
	struct applier a;
	sentiment_profile(&a, v, 5, 0);
	double mean = 0;
	cr_assert(risk_sentiment_mean(&a.p, &ps.mp, &mean));
	cr_expect(!risk_sentiment_negative(&a.p, &ps.mp));
	cr_expect(!negative(&a, &ps),
	        "five sentiments of -0.3 (mean %.17g) give NEGATIVE_SENTIMENT with threshold -0.3",
	        mean);
	/* -0.3f is 0xbe99999a; one float step more negative: 0xbe99999b. */
	for (size_t i = 0; i < 5; i++) {
		v[i] = -0.30000004f;
	}
	cr_assert((double) v[0] < (double) -0.3f);
	for (int order = 0; order < 3; order++) {
		sentiment_profile(&a, v, 5, order);
		cr_expect(risk_sentiment_negative(&a.p, &ps.mp));
		cr_expect(negative(&a, &ps),
		        "a mean one float step below -0.3 did not count");
	}
}

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

/*
 * A CUSTOM touchpoint is the customer's own activity: it moves last_seen,
 * so it keeps a customer ACTIVE and not INACTIVE (docs/api.md "Health
 * and churn risk"), where our own MESSAGE_SENT does not.
 */
Test(risk, custom_is_activity_for_health)
{
	struct model_params mp;
	model_params_default(&mp);
	const int64_t now = T0 + 100 * D;
	struct applier quiet, busy, sent;
	applier_init(&quiet);
	applier_init(&busy);
	applier_init(&sent);
	applier_touch(&quiet, MODEL_T_PURCHASE, T0, 0);
	applier_touch(&busy, MODEL_T_PURCHASE, T0, 0);
	applier_touch(&sent, MODEL_T_PURCHASE, T0, 0);
	applier_touch(&busy, MODEL_T_CUSTOM, now - 2 * D, 0);
	applier_touch(&sent, MODEL_T_MESSAGE_SENT, now - 2 * D, 0);
	cr_assert_eq(risk_health(&quiet.p, &mp, now), MODEL_CHURNED);
	cr_assert_eq(risk_health(&sent.p, &mp, now), MODEL_CHURNED);
	cr_assert_eq(risk_health(&busy.p, &mp, now), MODEL_ACTIVE);
	cr_assert_eq(risk_health(&busy.p, &mp, now + 31 * D), MODEL_AT_RISK);
	struct risk_onboarding onb = { false, 0 };
	int reasons[MODEL_N_REASONS];
	size_t n = 0;
	cr_assert_float_eq(
	        risk_score(&busy.p, &mp, &onb, now, reasons, &n), 0.0, 1e-12);
	cr_assert_eq(n, 0);
	cr_assert_eq(model_stage(&busy.p), MODEL_ACQUISITION);
}
