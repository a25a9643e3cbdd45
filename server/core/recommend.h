/*
 * recommend: the rules of docs/api.md "Recommend" as a pure function. The
 * caller (the Recommend handler) gathers what needs I/O — the catalog's
 * upgrade of the last purchased item, the stores, the cross-sell candidates
 * already scored — and gets back the ranked recommendations with frequency
 * capping applied. No allocation; text goes into each result's own buffers.
 */
#ifndef CLM_RECOMMEND_H
#define CLM_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

/* Recommendation kinds (clm.v1.RecommendationKind). */
enum {
	REC_NEXT_BEST_ACTION = 1,
	REC_CROSS_SELL = 2,
	REC_UPSELL = 3,
	REC_CART_REMINDER = 4,
	REC_WIN_BACK = 5,
	REC_GEO_OFFER = 6,
	REC_FEEDBACK_REQUEST = 7,
	REC_LOYALTY_REWARD = 8,
	REC_REFERRAL_INCENTIVE = 9,
};

/* Channels the rules name (clm.v1.Channel). */
enum {
	REC_CH_EMAIL = 5,
	REC_CH_APP_NOTIFICATION = 6,
};

#define REC_ID_MAX   129
#define REC_TEXT_MAX 192
#define REC_MAX      128 /* candidates considered per call */
#define REC_GEO_MAX  8   /* nearest stores offered */

struct recommend_params {
	unsigned cap_messages; /* per channel within cap_ms (3) */
	int64_t cap_ms;        /* 7 days */
	int64_t quiet_ms;      /* no second message within (24 h) */
	int64_t cart_idle_ms;  /* cart untouched this long: remind (60 min) */
	int64_t cart_followup_ms; /* unopened reminder: remind again (24 h) */
	unsigned loyalty_purchases; /* LOYALTY_REWARD from (5) */
	int64_t usage_limit_ms;     /* USAGE_LIMIT_REACHED this recent (7 d) */
	double win_back_risk; /* churn risk that calls for WIN_BACK (0.5) */
};

/* A store of the catalog. */
struct recommend_store {
	const char *store_id;
	double lat, lon, radius_m, discount_pct;
};

/* A cross-sell candidate scored by the caller, best first. */
struct recommend_item {
	const char *item_id;
	double similarity; /* cosine in [0, 1]; popular fallback: share */
	bool popular;      /* cold start: no co-purchase, a popular item */
};

struct recommend_input {
	const struct model_profile *p;
	int stage, funnel, health;
	double churn_risk;
	const int *reasons; /* heaviest first */
	size_t n_reasons;
	int64_t now_ms;
	int channel; /* the request's (0 = the rule's default) */
	bool has_location;
	double lat, lon;
	const struct recommend_store *stores;
	size_t n_stores;
	const char *upgrade_to; /* of the last purchased item, "" if none */
	const struct recommend_item *cross;
	size_t n_cross;
};

struct recommendation {
	int kind;
	char action[48];
	int channel;
	char item_id[REC_ID_MAX];
	double score;
	char reason[REC_TEXT_MAX];
	bool suppressed;
	char suppressed_reason[REC_TEXT_MAX];
	double discount_pct;
	char store_id[REC_ID_MAX];
};

/*
 * recommend_params_default fills the defaults of docs/api.md "Recommend"
 * (its table and "Frequency capping").
 */
void recommend_params_default(struct recommend_params *rp);

/*
 * recommend_build applies every rule to in, ranks the candidates by score
 * (ties: kind, then item, then store) and applies frequency capping to
 * each in that order: against the messages the customer already got, and
 * with claim also against those this call keeps (as if each were sent
 * now), so a claimed list never holds more than the cap allows. Writes at
 * most limit recommendations to out (room for REC_MAX) — suppressed ones
 * too when include_suppressed — and returns their number.
 */
size_t recommend_build(const struct recommend_input *in,
        const struct recommend_params *rp, size_t limit,
        bool include_suppressed, bool claim, struct recommendation *out);

/*
 * recommend_cap_check applies Recommend's frequency caps (rp's
 * cap_messages, cap_ms, quiet_ms; docs/api.md "Frequency capping") to one
 * message on channel ch at now_ms for the customer of p, the same rule
 * recommend_build applies (messages after now_ms count too): returns true
 * when it is capped, with why (n bytes) as recommend_build's
 * suppressed_reason and *free_ms the earliest instant after now_ms at
 * which a message on ch would not be capped, were nothing else sent;
 * false (why and *free_ms untouched) when it may be sent. Journeys' steps
 * (docs/journeys.md "How steps run") use it.
 */
bool recommend_cap_check(const struct model_profile *p,
        const struct recommend_params *rp, int ch, int64_t now_ms,
        int64_t *free_ms, char *why, size_t n);

/* recommend_distance_m is the great-circle distance in metres. */
double recommend_distance_m(
        double lat1, double lon1, double lat2, double lon2);

#endif /* CLM_RECOMMEND_H */
