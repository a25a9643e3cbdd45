/*
 * risk: a customer's health and churn risk (docs/api.md "Health and churn
 * risk"), and the risk signals a touchpoint raises on the stream, as pure
 * functions over the model's profile. No I/O, no clock: callers pass the
 * time.
 */
#ifndef CLM_CORE_RISK_H
#define CLM_CORE_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

/*
 * risk_health returns ACTIVE, AT_RISK or CHURNED as of now_ms (NONE for a
 * profile without touchpoints): CHURNED after a CANCELLATION later than the
 * last PURCHASE, or after churn_ms of inactivity; AT_RISK after at_risk_ms.
 */
int risk_health(const struct model_profile *p, const struct model_params *mp,
        int64_t now_ms);

/*
 * risk_onboarding_ms gives how long SIGNUP -> ONBOARDING_COMPLETED took
 * (first of each; 0 if completed before signing up). Returns false when the
 * profile has no such pair.
 */
bool risk_onboarding_ms(const struct model_profile *p, int64_t *out);

/*
 * The median onboarding time over all customers, as twice its value so it
 * stays an exact integer (the mean of the two middle values when the count
 * is even). known = false when no customer has onboarded.
 */
struct risk_onboarding {
	bool known;
	int64_t twice_median_ms;
};

/*
 * risk_score computes the churn risk as of now_ms: the reasons that hold,
 * most heavily weighted first (ties by reason number), written to reasons
 * (room for MODEL_N_REASONS) with their count in *n, and the score
 * 1 - prod(1 - w) returned.
 */
double risk_score(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now_ms, int *reasons,
        size_t *n);

/*
 * risk_sentiment_negative tells whether the mean of the latest sentiments
 * is below the threshold (compared at float precision, as sentiments are
 * floats on the wire).
 */
bool risk_sentiment_negative(
        const struct model_profile *p, const struct model_params *mp);

/* risk_sentiment_mean averages the latest sentiment_window sentiments. */

bool risk_sentiment_mean(const struct model_profile *p,
        const struct model_params *mp, double *mean);

/*
 * risk_signal returns the risk reason one touchpoint t raises, now that it
 * is in p, for the stream's risk/<REASON> topic, or MODEL_RISK_NONE: a
 * recent billing issue or refund (within its risk window of now_ms), a
 * cancellation (within churn_ms of now_ms) that is now the customer's
 * latest word, and the moment the mean sentiment turns negative
 * (neg_before: risk_sentiment_negative before t). Old history being
 * imported raises none.
 */
int risk_signal(const struct model_params *mp, const struct model_touch *t,
        bool neg_before, const struct model_profile *p, int64_t now_ms);

#endif /* CLM_CORE_RISK_H */
