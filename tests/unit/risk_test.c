/*
 * Unit tests of health and churn risk (server/core/model.c, docs/api.md
 * "Health and churn risk"): every threshold one millisecond each side, with
 * the default parameters and with a non-default set, the score 1 - prod(1 - w)
 * and the order of the reasons. The property test (random journeys in
 * several arrival orders) is in risk_property_test.c; both share
 * risk_fixture.[ch].
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
