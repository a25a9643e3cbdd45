#include "core/risk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
risk_health(const struct model_profile *p, const struct model_params *mp,
        int64_t now_ms)
{
	if (p->first_seen_ms == 0) {
		return MODEL_HEALTH_NONE;
	}
	if (model_cancelled(p)) {
		return MODEL_CHURNED;
	}
	int64_t idle = now_ms - p->last_seen_ms;
	if (idle > mp->churn_ms) {
		return MODEL_CHURNED;
	}
	return idle > mp->at_risk_ms ? MODEL_AT_RISK : MODEL_ACTIVE;
}

bool
risk_onboarding_ms(const struct model_profile *p, int64_t *out)
{
	if (p->first_signup_ms == 0 || p->first_onboarding_ms == 0) {
		return false;
	}
	int64_t d = p->first_onboarding_ms - p->first_signup_ms;
	*out = d > 0 ? d : 0;
	return true;
}

bool
risk_sentiment_mean(const struct model_profile *p,
        const struct model_params *mp, double *mean)
{
	size_t n = p->n_sentiments;
	if (n > mp->sentiment_window) {
		n = mp->sentiment_window;
	}
	if (n == 0) {
		return false;
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += p->sentiments[i].value;
	}
	*mean = sum / (double) n;
	return true;
}

bool
risk_sentiment_negative(
        const struct model_profile *p, const struct model_params *mp)
{
	double mean;
	/*
	 * Sentiments travel as floats: compare at float precision, so that
	 * five reviews of exactly -0.3 sit on the threshold, not below it.
	 */
	return risk_sentiment_mean(p, mp, &mean)
	        && (float) mean < (float) mp->negative_sentiment;
}

/* Whether an event at at_ms (0 = never) lies within window of now. */

static bool
risk_within(int64_t at_ms, int64_t now_ms, int64_t window)
{
	return at_ms != 0 && now_ms - at_ms <= window;
}

static bool
risk_reason_holds(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now_ms, int reason)
{
	int64_t took;
	switch (reason) {
	case MODEL_INACTIVE:
		return p->first_seen_ms != 0
		        && now_ms - p->last_seen_ms > mp->at_risk_ms;
	case MODEL_RECENT_BILLING_ISSUE:
		return risk_within(p->last_billing_issue_ms, now_ms,
		        mp->billing_issue_ms);
	case MODEL_SUPPORT_TICKETS:
		return mp->support_tickets > 0
		        && p->n_tickets >= mp->support_tickets
		        && risk_within(p->ticket_ms[mp->support_tickets - 1],
		                now_ms, mp->support_ticket_ms);
	case MODEL_NEGATIVE_SENTIMENT:
		return risk_sentiment_negative(p, mp);
	case MODEL_RECENT_REFUND:
		return risk_within(p->last_refund_ms, now_ms, mp->refund_ms);
	case MODEL_SLOW_ONBOARDING:
		if (onb == NULL || !onb->known || p->first_signup_ms == 0) {
			return false;
		}
		if (risk_onboarding_ms(p, &took)) {
			return took > onb->twice_median_ms;
		}
		return now_ms - p->first_signup_ms > onb->twice_median_ms;
	case MODEL_SUBSCRIPTION_CANCELLED:
		return model_cancelled(p);
	default:
		return false;
	}
}

double
risk_score(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now_ms, int *reasons,
        size_t *n)
{
	double keep = 1.0;
	*n = 0;
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		if (!risk_reason_holds(p, mp, onb, now_ms, r)) {
			continue;
		}
		keep *= 1.0 - mp->weight[r];
		/* Insert by weight, heaviest first; equal weights by number.
		 */
		size_t i = *n;
		while (i > 0 && mp->weight[reasons[i - 1]] < mp->weight[r]) {
			reasons[i] = reasons[i - 1];
			i--;
		}
		reasons[i] = r;
		(*n)++;
	}
	return 1.0 - keep;
}

int
risk_signal(const struct model_params *mp, const struct model_touch *t,
        bool neg_before, const struct model_profile *p, int64_t now_ms)
{
	bool neg_after;
	switch (t->type) {
	case MODEL_T_BILLING_ISSUE:
		return now_ms - t->at_ms <= mp->billing_issue_ms
		        ? MODEL_RECENT_BILLING_ISSUE
		        : MODEL_RISK_NONE;
	case MODEL_T_REFUND:
		return now_ms - t->at_ms <= mp->refund_ms ? MODEL_RECENT_REFUND
		                                          : MODEL_RISK_NONE;
	case MODEL_T_CANCELLATION:
		return now_ms - t->at_ms <= mp->churn_ms
		                && p->last_cancellation_ms == t->at_ms

		                && p->last_cancellation_ms
		                        > p->last_purchase_ms
		        ? MODEL_SUBSCRIPTION_CANCELLED
		        : MODEL_RISK_NONE;
	case MODEL_T_SOCIAL_MENTION:
	case MODEL_T_REVIEW:
	case MODEL_T_FEEDBACK:
		neg_after = risk_sentiment_negative(p, mp);

		return !neg_before && neg_after ? MODEL_NEGATIVE_SENTIMENT
		                                : MODEL_RISK_NONE;
	default:
		return MODEL_RISK_NONE;
	}
}
