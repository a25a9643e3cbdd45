/*
 * stages_health: a customer's health, churn risk and risk reasons as of a
 * given time (docs/api.md "Health and churn risk"), after the lifecycle
 * stages' journey (stages.h) and after a risky one.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stages.h"

HARNESS_SUITE(stages_health, 60);

/*
 * Health and churn risk as of a given time (docs/api.md "Health and churn
 * risk": ACTIVE, AT_RISK after at_risk_days = 30 without a touchpoint,
 * CHURNED after churn_days = 90; INACTIVE risk reason with weight 0.5).
 */
Test(stages_health, health_as_of)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	stages_track_in_order(c, "alice");
	const int64_t last = STAGES_T0 + 20 * STAGES_DAY_MS;
	static const struct {
		int64_t after_last;
		Clm__V1__Health health;
		double risk;
	} cases[] = {
		{ STAGES_DAY_MS, CLM__V1__HEALTH__ACTIVE, 0.0 },
		{ 31 * STAGES_DAY_MS, CLM__V1__HEALTH__AT_RISK, 0.5 },
		{ 91 * STAGES_DAY_MS, CLM__V1__HEALTH__CHURNED, 0.5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t as_of = last + cases[i].after_last;
		Clm__V1__Response *resp
		        = stages_get_customer(c, "alice", as_of);
		const Clm__V1__Customer *cu = resp->customer;
		cr_expect_eq(cu->as_of_ms, as_of);
		cr_expect_eq(cu->health, cases[i].health,
		        "as of last+%lld d: health %d, want %d",
		        (long long) (cases[i].after_last / STAGES_DAY_MS),
		        cu->health, cases[i].health);
		cr_expect(fabs(cu->churn_risk - cases[i].risk) < 1e-9,
		        "as of last+%lld d: churn_risk %f, want %f",
		        (long long) (cases[i].after_last / STAGES_DAY_MS),
		        cu->churn_risk, cases[i].risk);
		bool inactive = false;
		for (size_t k = 0; k < cu->n_risk_reasons; k++) {
			inactive |= cu->risk_reasons[k]
			        == CLM__V1__RISK_REASON__INACTIVE;
		}
		cr_expect_eq(inactive, cases[i].risk > 0,
		        "as of last+%lld d: INACTIVE reason %d",
		        (long long) (cases[i].after_last / STAGES_DAY_MS),
		        inactive);
		clm_response_free(resp);
	}
	clm_close(c);
}

static bool
stages_health_has_reason(const Clm__V1__Customer *cu, Clm__V1__RiskReason r)
{
	for (size_t k = 0; k < cu->n_risk_reasons; k++) {
		if (cu->risk_reasons[k] == r) {
			return true;
		}
	}
	return false;
}

/* Checks health, churn risk and exactly the given reasons as of as_of. */
static void
stages_health_check_risk(clm_conn *c, const char *id, int64_t as_of,
        Clm__V1__Health h, double risk, const Clm__V1__RiskReason *reasons,
        size_t n)
{
	Clm__V1__Response *resp = stages_get_customer(c, id, as_of);
	const Clm__V1__Customer *cu = resp->customer;
	long long d = (long long) ((as_of - STAGES_T0) / STAGES_HOUR_MS);
	cr_expect_eq(cu->health, h, "T0+%lldh: health %d, want %d", d,
	        cu->health, h);
	cr_expect(fabs(cu->churn_risk - risk) < 1e-6,
	        "T0+%lldh: churn_risk %.6f, want %.6f", d, cu->churn_risk,
	        risk);
	cr_expect_eq(cu->n_risk_reasons, n, "T0+%lldh: %zu reasons, want %zu",
	        d, cu->n_risk_reasons, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect(stages_health_has_reason(cu, reasons[i]),
		        "T0+%lldh: no reason %d", d, reasons[i]);
	}
	clm_response_free(resp);
}

/*
 * The risk reasons of docs/api.md "Health and churn risk" and their
 * weights.
 */
Test(stages_health, churn_risk_reasons_as_of)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	static const struct stages_step s[] = {
		{ "k1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, STAGES_T0, 50, 0 },
		{ "k2", CLM__V1__TOUCHPOINT_TYPE__REFUND,
		        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + STAGES_DAY_MS,
		        10, 0 },
		{ "k3", CLM__V1__TOUCHPOINT_TYPE__BILLING_ISSUE,
		        CLM__V1__CHANNEL__EMAIL, STAGES_T0 + 2 * STAGES_DAY_MS,
		        0, 0 },
		{ "k4", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT,
		        STAGES_T0 + 3 * STAGES_DAY_MS, 0, 0 },
		{ "k5", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT,
		        STAGES_T0 + 3 * STAGES_DAY_MS + STAGES_HOUR_MS, 0, 0 },
		{ "k6", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT,
		        STAGES_T0 + 3 * STAGES_DAY_MS + 2 * STAGES_HOUR_MS, 0,
		        0 },
		{ "k7", CLM__V1__TOUCHPOINT_TYPE__REVIEW,
		        CLM__V1__CHANNEL__DIRECT,
		        STAGES_T0 + 4 * STAGES_DAY_MS, 0, 0 },
		{ "k8", CLM__V1__TOUCHPOINT_TYPE__FEEDBACK,
		        CLM__V1__CHANNEL__EMAIL,
		        STAGES_T0 + 4 * STAGES_DAY_MS + STAGES_HOUR_MS, 0, 0 },
	};
	static const float sentiment[] = { 0, 0, 0, 0, 0, 0, -0.8f, -0.6f };
	enum { N = sizeof(s) / sizeof(s[0]) };
	struct stages_tps t;
	for (size_t i = 0; i < N; i++) {
		stages_make_tp(&t, i, "risky", &s[i]);
		t.tp[i].sentiment = sentiment[i];
	}
	clm_response_free(stages_track(c, t.ptr, N));

	/*
	 * T0+5d: a billing issue in the last 60 days (0.4), 3 tickets in the
	 * last 30 days (0.3), mean sentiment -0.7 (0.3), a refund in the last
	 * 30 days (0.2); active 1 day ago.
	 */
	static const Clm__V1__RiskReason r1[] = {
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__SUPPORT_TICKETS,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__RECENT_REFUND,
	};
	stages_health_check_risk(c, "risky", STAGES_T0 + 5 * STAGES_DAY_MS,
	        CLM__V1__HEALTH__ACTIVE, 1 - 0.6 * 0.7 * 0.7 * 0.8, r1, 4);

	/* A CANCELLATION after the last purchase: CHURNED, risk 1. */
	struct stages_step cancel = { "k9",
		CLM__V1__TOUCHPOINT_TYPE__CANCELLATION,
		CLM__V1__CHANNEL__DIRECT,
		STAGES_T0 + 4 * STAGES_DAY_MS + 2 * STAGES_HOUR_MS, 0, 0 };
	struct stages_tps tc;
	stages_make_tp(&tc, 0, "risky", &cancel);
	clm_response_free(stages_track(c, tc.ptr, 1));
	static const Clm__V1__RiskReason r2[] = {
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__SUPPORT_TICKETS,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__RECENT_REFUND,
		CLM__V1__RISK_REASON__SUBSCRIPTION_CANCELLED,
	};
	stages_health_check_risk(c, "risky", STAGES_T0 + 5 * STAGES_DAY_MS,
	        CLM__V1__HEALTH__CHURNED, 1.0, r2, 5);

	/*
	 * T0+70d: inactive 65 days; the billing issue (68 d), tickets and
	 * refund are too old; the last sentiments are still negative.
	 */
	static const Clm__V1__RiskReason r3[] = {
		CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__SUBSCRIPTION_CANCELLED,
	};
	stages_health_check_risk(c, "risky", STAGES_T0 + 70 * STAGES_DAY_MS,
	        CLM__V1__HEALTH__CHURNED, 1.0, r3, 3);

	/* A new PURCHASE after the cancellation: no longer cancelled. */
	struct stages_step again = { "k10", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		CLM__V1__CHANNEL__DIRECT, STAGES_T0 + 6 * STAGES_DAY_MS, 20,
		0 };
	stages_make_tp(&tc, 1, "risky", &again);
	clm_response_free(stages_track(c, &tc.ptr[1], 1));
	/*
	 * T0+46d: inactive 40 days (> 30, < 90): AT_RISK; the billing issue
	 * is 44 days old (< 60); tickets (43 d) and refund (45 d) are not
	 * recent.
	 */
	static const Clm__V1__RiskReason r4[] = {
		CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
	};
	stages_health_check_risk(c, "risky", STAGES_T0 + 46 * STAGES_DAY_MS,
	        CLM__V1__HEALTH__AT_RISK, 1 - 0.5 * 0.6 * 0.7, r4, 3);
	clm_close(c);
}
