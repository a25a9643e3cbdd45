/*
 * model: the lifecycle model of docs/api.md ("The lifecycle model", "Health
 * and churn risk"), as pure functions over a plain profile struct. No I/O,
 * no allocation, no clock: callers pass the time.
 *
 * A profile accumulates facts from touchpoints in any order; every function
 * here gives the same answer whatever order the same touchpoints were applied
 * in (with one documented exception: equal event times are broken by arrival
 * seq, as docs/metrics.md "Words" says under Ties).
 *
 * Stage values and touchpoint types are the wire enum numbers
 * (clm.v1.Stage, clm.v1.TouchpointType, clm.v1.Channel).
 */
#ifndef CLM_MODEL_H
#define CLM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MODEL_STAGE_NONE = 0,
	MODEL_REACH = 1,
	MODEL_ACQUISITION = 2,
	MODEL_NURTURE = 3,
	MODEL_RETENTION = 4,
	MODEL_ADVOCACY = 5,
	MODEL_N_STAGES = 6,
};

enum {
	MODEL_FUNNEL_NONE = 0,
	MODEL_TOP = 1,
	MODEL_MIDDLE = 2,
	MODEL_BOTTOM = 3,
};

/* Touchpoint type numbers the model looks at (clm.v1.TouchpointType). */
enum {
	MODEL_T_SITE_VISIT = 3,
	MODEL_T_PAGE_VIEW = 4,
	MODEL_T_CONTENT_VIEW = 5,
	MODEL_T_SIGNUP = 7,
	MODEL_T_PRICING_VIEW = 8,
	MODEL_T_DEMO_REQUEST = 9,
	MODEL_T_ADD_TO_CART = 10,
	MODEL_T_REMOVE_FROM_CART = 11,
	MODEL_T_CHECKOUT_STARTED = 12,
	MODEL_T_PURCHASE = 13,
	MODEL_T_REFUND = 14,
	MODEL_T_REFERRAL = 15,
	MODEL_T_REVIEW = 16,
	MODEL_T_EMAIL_OPEN = 17,
	MODEL_T_EMAIL_CLICK = 18,
	MODEL_T_APP_OPEN = 19,
	MODEL_T_MESSAGE_SENT = 20,
	MODEL_T_SOCIAL_MENTION = 6,
	MODEL_T_SUPPORT_TICKET = 21,
	MODEL_T_BILLING_ISSUE = 22,
	MODEL_T_ONBOARDING_COMPLETED = 23,
	MODEL_T_USAGE_LIMIT_REACHED = 24,
	MODEL_T_CANCELLATION = 26,
	MODEL_T_FEEDBACK = 27,
	MODEL_T_CUSTOM = 28, /* its own name in event_name */
	MODEL_N_TYPES = 29,  /* one past the largest type number */
};

enum {
	MODEL_HEALTH_NONE = 0,
	MODEL_ACTIVE = 1,
	MODEL_AT_RISK = 2,
	MODEL_CHURNED = 3,
};

/* Risk reasons (clm.v1.RiskReason). */
enum {
	MODEL_RISK_NONE = 0,
	MODEL_INACTIVE = 1,
	MODEL_RECENT_BILLING_ISSUE = 2,
	MODEL_SUPPORT_TICKETS = 3,
	MODEL_NEGATIVE_SENTIMENT = 4,
	MODEL_RECENT_REFUND = 5,
	MODEL_SLOW_ONBOARDING = 6,
	MODEL_SUBSCRIPTION_CANCELLED = 7,
	MODEL_N_REASONS = 8,
};

#define MODEL_ITEM_MAX        128 /* bytes of an item id */
#define MODEL_CART_MAX        64  /* distinct items remembered per cart */
#define MODEL_TICKETS_MAX     16  /* latest support tickets remembered */
#define MODEL_SENTIMENTS_MAX  16  /* latest sentiments remembered */
#define MODEL_OPENS_MAX       16  /* latest EMAIL_OPENs remembered */
#define MODEL_DAY_MS          86400000LL
#define MODEL_N_CHANNELS      13 /* one past the largest clm.v1.Channel */
#define MODEL_MSG_PER_CHANNEL 8  /* latest messages remembered per channel */

/* One outbound message (MESSAGE_SENT), for frequency capping. */
struct model_message {
	int64_t at_ms;
	uint64_t seq;
	int kind; /* clm.v1.RecommendationKind, 0 if not said */
};

/*
 * Thresholds and weights of health and churn risk (docs/api.md "Health and
 * churn risk"), from clmd.conf. "Within N days" means a lag of at most
 * N x 86,400,000 ms.
 */
struct model_params {
	int64_t at_risk_ms;        /* inactivity before AT_RISK (30 d) */
	int64_t churn_ms;          /* inactivity before CHURNED (90 d) */
	int64_t billing_issue_ms;  /* RECENT_BILLING_ISSUE window (60 d) */
	int64_t support_ticket_ms; /* SUPPORT_TICKETS window (30 d) */
	unsigned support_tickets;  /* tickets in that window (3) */
	unsigned sentiment_window; /* latest sentiments averaged (5) */
	double negative_sentiment; /* mean below this is negative (-0.3) */
	int64_t refund_ms;         /* RECENT_REFUND window (30 d) */
	double weight[MODEL_N_REASONS]; /* by reason */
};

/* One remembered sentiment (SOCIAL_MENTION, REVIEW, FEEDBACK). */
struct model_sentiment {
	int64_t at_ms;
	uint64_t seq;
	float value;
};

struct model_cart_entry {
	char item_id[MODEL_ITEM_MAX + 1];
	int64_t added_ms;   /* last ADD_TO_CART, 0 = never */
	int64_t removed_ms; /* last removal or purchase of the item, 0 = never
	                     */
};

/*
 * The accumulated facts of one customer. Times are unix ms in event time,
 * 0 = never (valid event times are after 2000-01-01). Money is in micro-units.
 */
struct model_profile {
	uint32_t purchases, refunds, referrals;
	int64_t purchase_micros, refund_micros;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t first_seen_seq;
	int64_t first_purchase_ms;
	uint64_t first_purchase_seq;
	int64_t second_purchase_ms;
	int64_t last_purchase_ms;
	int64_t first_referral_ms;
	int64_t last_engaged_ms;
	int64_t engaged_after_purchase_ms; /* first engagement > first purchase
	                                    */
	int acquisition_channel; /* channel of the first touchpoint */
	int conversion_channel;  /* channel of the first PURCHASE */
	uint64_t touch_counts[MODEL_N_TYPES];
	struct model_cart_entry cart[MODEL_CART_MAX];
	size_t n_cart;
	int64_t cart_cleared_ms; /* last PURCHASE without an item */
	int64_t last_add_to_cart_ms;
	int64_t last_billing_issue_ms;
	int64_t ticket_ms[MODEL_TICKETS_MAX]; /* latest first */
	size_t n_tickets;
	struct model_sentiment sentiments[MODEL_SENTIMENTS_MAX]; /* latest
	                                                            first */
	size_t n_sentiments;
	int64_t last_refund_ms;
	int64_t last_cancellation_ms;
	int64_t first_signup_ms;
	int64_t first_onboarding_ms;        /* first ONBOARDING_COMPLETED */
	char last_item[MODEL_ITEM_MAX + 1]; /* of the latest PURCHASE */
	int64_t last_item_ms;
	uint64_t last_item_seq;
	int64_t last_usage_limit_ms;
	int64_t last_feedback_ms;
	int64_t last_email_open_ms;
	int64_t email_open_ms[MODEL_OPENS_MAX]; /* latest EMAIL_OPENs first */
	size_t n_email_opens;
	/* Latest messages per channel, latest first. */
	struct model_message messages[MODEL_N_CHANNELS][MODEL_MSG_PER_CHANNEL];
	size_t n_messages[MODEL_N_CHANNELS];
};

/* One touchpoint as the model sees it. */
struct model_touch {
	int type;
	int channel;
	int64_t at_ms;       /* event time, already defaulted to "now" */
	uint64_t seq;        /* arrival order, increasing */
	const char *item_id; /* "" = none */
	/* PURCHASE and REFUND: the order's other items (docs/api.md "Orders
	 * of several items"); borrowed, n_order_items of them. */
	char *const *order_items;
	size_t n_order_items;
	int64_t value_micros;
	float sentiment; /* SOCIAL_MENTION, REVIEW, FEEDBACK */
	int kind;        /* MESSAGE_SENT: clm.v1.RecommendationKind */
};

/*
 * A window (after_ms, upto_ms] of stored touchpoints the caller must scan
 * for engagements after model_apply moved the first purchase earlier:
 * feed each engagement found to model_note_engagement. upto_ms = INT64_MAX
 * means "to the end". active = false: nothing to scan.
 */
struct model_rescan {
	bool active;
	int64_t after_ms;
	int64_t upto_ms;
};

/*
 * Money: values are kept in integer micro-units so sums are exact and
 * order-free. model_micros rounds a value to them (half away from zero);
 * model_money turns micro-units back into a value.
 */
int64_t model_micros(double value);
double model_money(int64_t micros);

/* model_profile_init clears p to the empty profile (no touchpoints). */
void model_profile_init(struct model_profile *p);

/*
 * model_apply adds one touchpoint to p. *rescan tells the caller whether
 * stored touchpoints must be scanned to keep engaged_after_purchase_ms exact
 * (only when this touchpoint is a purchase earlier than every other).
 */
void model_apply(struct model_profile *p, const struct model_touch *t,
        struct model_rescan *rescan);

/* model_is_engagement tells whether a touchpoint type counts as engagement. */
bool model_is_engagement(int type);

/*
 * model_note_engagement records an engagement at at_ms found by a rescan
 * (it updates engaged_after_purchase_ms only).
 */
void model_note_engagement(struct model_profile *p, int64_t at_ms);

/*
 * model_stage returns the current stage (the first rule of docs/api.md "The
 * lifecycle model" that holds).
 */
int model_stage(const struct model_profile *p);

/* model_funnel returns TOP, MIDDLE or BOTTOM (NONE for an empty profile). */
int model_funnel(const struct model_profile *p);

/*
 * model_reached_at fills at[S] for S in REACH..ADVOCACY with the first event
 * time at which stage(t) >= S, or 0 when S was never reached; at[0] = 0.
 */
void model_reached_at(
        const struct model_profile *p, int64_t at[MODEL_N_STAGES]);

struct model_stage_entry {
	int stage;
	int64_t entered_ms;
};

/*
 * model_history writes the stages stage(t) actually took, oldest first, each
 * with the first t it held, into out (room for MODEL_N_STAGES - 1 entries)
 * and returns their number. A skipped stage, or one reached at the same
 * instant as the next, has no entry.
 */
size_t model_history(
        const struct model_profile *p, struct model_stage_entry *out);

/*
 * model_cart lists the items in the cart, most recently added first (ties by
 * item id), as indexes into p->cart; returns how many (≤ MODEL_CART_MAX).
 */
size_t model_cart(const struct model_profile *p, size_t *out);

/*
 * model_opened_between tells whether an EMAIL_OPEN happened in [from, to].
 * Exact while fewer than MODEL_OPENS_MAX opens came after `from`; past
 * that the answer is "opened" (the customer clearly reads their email).
 */
bool model_opened_between(
        const struct model_profile *p, int64_t from, int64_t to);

/*
 * model_params_default fills the defaults of docs/api.md "Health and churn
 * risk".
 */
void model_params_default(struct model_params *mp);

/* model_cancelled: a CANCELLATION later than the last PURCHASE (or none). */
bool model_cancelled(const struct model_profile *p);

#endif /* CLM_MODEL_H */
