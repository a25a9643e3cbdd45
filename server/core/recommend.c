#include "core/recommend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REC_HOUR_MS 3600000LL
#define REC_EARTH_M 6371008.8 /* mean Earth radius */

void
recommend_params_default(struct recommend_params *rp)
{
	rp->cap_messages = 3;
	rp->cap_ms = 7 * MODEL_DAY_MS;
	rp->quiet_ms = 24 * REC_HOUR_MS;
	rp->cart_idle_ms = REC_HOUR_MS;
	rp->cart_followup_ms = 24 * REC_HOUR_MS;
	rp->loyalty_purchases = 5;
	rp->usage_limit_ms = 7 * MODEL_DAY_MS;
	rp->win_back_risk = 0.5;
}

double
recommend_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	/* Haversine: accurate for any distance, stable for small ones. */
	const double rad = 3.14159265358979323846 / 180.0;
	double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
	double a = sin(dlat / 2) * sin(dlat / 2)
	        + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2)
	                * sin(dlon / 2);
	if (a > 1) {
		a = 1;
	}
	return 2 * REC_EARTH_M * atan2(sqrt(a), sqrt(1 - a));
}

struct rec_list {
	struct recommendation *r;
	size_t n;
};

static struct recommendation *
rec_add(struct rec_list *l, int kind, const char *action, int channel,
        double score)
{
	if (l->n == REC_MAX) {
		return NULL;
	}
	struct recommendation *r = &l->r[l->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->action, sizeof(r->action), "%s", action);
	r->channel = channel;
	r->score = score;
	return r;
}

static int
rec_channel(const struct recommend_input *in)
{
	return in->channel != 0 ? in->channel : REC_CH_EMAIL;
}

/* CART_REMINDER, with the follow-up rule. */
static void
rec_cart(const struct recommend_input *in, const struct recommend_params *rp,
        struct rec_list *l)
{
	const struct model_profile *p = in->p;
	size_t idx[MODEL_CART_MAX];
	size_t n = model_cart(p, idx);
	if (n == 0 || in->now_ms - p->last_add_to_cart_ms < rp->cart_idle_ms) {
		return;
	}
	/* Reminders sent since the cart last changed, latest first. */
	int64_t sent[2] = { 0, 0 };
	size_t ns = 0;
	for (int ch = 0; ch < MODEL_N_CHANNELS; ch++) {
		for (size_t i = 0; i < p->n_messages[ch]; i++) {
			const struct model_message *m = &p->messages[ch][i];
			if (m->kind != REC_CART_REMINDER
			        || m->at_ms < p->last_add_to_cart_ms) {
				continue;
			}
			if (ns < 2) {
				sent[ns++] = m->at_ms;
			} else {
				ns = 3;
			}
		}
	}
	const char *item = p->cart[idx[0]].item_id;
	struct recommendation *r;
	if (ns == 0) {
		r = rec_add(l, REC_CART_REMINDER, "cart_reminder",
		        REC_CH_EMAIL, 0.95);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "'%s' has waited in the cart for %lld min",
			        item,
			        (long long) ((in->now_ms
			                             - p->last_add_to_cart_ms)
			                / 60000));
		}
	} else if (ns == 1) {
		int64_t s = sent[0];
		bool opened
		        = model_opened_between(p, s, s + rp->cart_followup_ms);
		if (opened || in->now_ms - s < rp->cart_followup_ms) {
			return;
		}
		r = rec_add(l, REC_CART_REMINDER, "cart_reminder_followup",
		        REC_CH_EMAIL, 0.9);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "the reminder about '%s' was not opened within %lld h",
			        item,
			        (long long) (rp->cart_followup_ms
			                / REC_HOUR_MS));
		}
	} else {
		return; /* two reminders are enough */
	}
	if (r != NULL) {
		snprintf(r->item_id, sizeof(r->item_id), "%s", item);
	}
}

static const char *
rec_win_back_action(int reason)
{
	switch (reason) {
	case MODEL_RECENT_BILLING_ISSUE:
		return "billing_recovery";
	case MODEL_SLOW_ONBOARDING:
		return "onboarding_tutorials";
	case MODEL_SUPPORT_TICKETS:
	case MODEL_NEGATIVE_SENTIMENT:
	case MODEL_RECENT_REFUND:
		return "service_recovery";
	default:
		return "reengagement";
	}
}

static void
rec_geo(const struct recommend_input *in, struct rec_list *l)
{
	if (!in->has_location) {
		return;
	}
	/* The REC_GEO_MAX nearest stores in range, nearest first. */
	size_t near[REC_GEO_MAX];
	double dist[REC_GEO_MAX];
	size_t n = 0;
	for (size_t i = 0; i < in->n_stores; i++) {
		const struct recommend_store *s = &in->stores[i];
		double d = recommend_distance_m(
		        in->lat, in->lon, s->lat, s->lon);
		if (d > s->radius_m
		        || (n == REC_GEO_MAX && d >= dist[REC_GEO_MAX - 1])) {
			continue;
		}
		size_t j = n < REC_GEO_MAX ? n++ : REC_GEO_MAX - 1;
		while (j > 0 && dist[j - 1] > d) {
			near[j] = near[j - 1];
			dist[j] = dist[j - 1];
			j--;
		}
		near[j] = i;
		dist[j] = d;
	}
	for (size_t k = 0; k < n; k++) {
		const struct recommend_store *s = &in->stores[near[k]];
		double d = dist[k];
		/* Nearer stores rank higher: 0.85 at the door, 0.75 at the
		 * edge. */
		double closeness = s->radius_m > 0 ? d / s->radius_m : 0;
		struct recommendation *r = rec_add(l, REC_GEO_OFFER,
		        "store_discount", REC_CH_APP_NOTIFICATION,
		        0.85 - 0.1 * closeness);
		if (r == NULL) {
			return;
		}
		snprintf(r->store_id, sizeof(r->store_id), "%s", s->store_id);
		r->discount_pct = s->discount_pct;
		snprintf(r->reason, sizeof(r->reason),
		        "%.0f m from store '%s' (radius %.0f m)", d,
		        s->store_id, s->radius_m);
	}
}

static const char *
rec_next_best_action(int stage, int funnel)
{
	switch (stage) {
	case MODEL_ADVOCACY:
		return "advocate_thanks";
	case MODEL_RETENTION:
		return "loyalty_program";
	case MODEL_NURTURE:
		return "personalized_offer";
	case MODEL_ACQUISITION:
		return "onboarding_followup";
	default:
		return funnel == MODEL_MIDDLE ? "first_purchase_incentive"
		                              : "educational_content";
	}
}

static void
rec_candidates(const struct recommend_input *in,
        const struct recommend_params *rp, struct rec_list *l)
{
	const struct model_profile *p = in->p;
	struct recommendation *r;
	int ch = rec_channel(in);

	rec_cart(in, rp, l);
	if (p->last_refund_ms != 0
	        && p->last_refund_ms > p->last_feedback_ms) {
		r = rec_add(
		        l, REC_FEEDBACK_REQUEST, "feedback_request", ch, 0.85);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "a refund and no feedback since");
		}
	}
	if (in->health == MODEL_AT_RISK
	        || in->churn_risk >= rp->win_back_risk) {
		int top = in->n_reasons > 0 ? in->reasons[0] : MODEL_RISK_NONE;
		r = rec_add(l, REC_WIN_BACK, rec_win_back_action(top), ch,
		        0.5 + 0.4 * in->churn_risk);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "%s, churn risk %.2f",
			        in->health == MODEL_AT_RISK
			                ? "at risk"
			                : "likely to churn",
			        in->churn_risk);
		}
	}
	rec_geo(in, l);
	if (in->upgrade_to != NULL && in->upgrade_to[0] != '\0') {
		r = rec_add(l, REC_UPSELL, "item_upgrade", ch, 0.7);
		if (r != NULL) {
			snprintf(r->item_id, sizeof(r->item_id), "%s",
			        in->upgrade_to);
			snprintf(r->reason, sizeof(r->reason),
			        "'%s' is the upgrade of the last purchase '%s'",
			        in->upgrade_to, p->last_item);
		}
	}
	if (p->last_usage_limit_ms != 0
	        && in->now_ms - p->last_usage_limit_ms <= rp->usage_limit_ms) {
		r = rec_add(l, REC_UPSELL, "plan_upgrade", ch, 0.75);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "usage limit reached in the last %lld days",
			        (long long) (rp->usage_limit_ms
			                / MODEL_DAY_MS));
		}
	}
	for (size_t i = 0; i < in->n_cross; i++) {
		const struct recommend_item *c = &in->cross[i];
		r = rec_add(l, REC_CROSS_SELL,
		        c->popular ? "popular_item"
		                   : "frequently_bought_together",
		        ch,
		        c->popular ? 0.2 * c->similarity
		                   : 0.6 * c->similarity);
		if (r == NULL) {
			break;
		}
		snprintf(r->item_id, sizeof(r->item_id), "%s", c->item_id);
		if (c->popular) {
			snprintf(r->reason, sizeof(r->reason),
			        "popular with other customers");
		} else {
			snprintf(r->reason, sizeof(r->reason),
			        "bought together with your items (similarity %.3f)",
			        c->similarity);
		}
	}
	if (p->purchases >= rp->loyalty_purchases) {
		r = rec_add(
		        l, REC_LOYALTY_REWARD, "exclusive_discount", ch, 0.5);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason), "%u purchases",
			        p->purchases);
		}
	}
	if (in->stage == MODEL_RETENTION || in->stage == MODEL_ADVOCACY) {
		r = rec_add(l, REC_REFERRAL_INCENTIVE, "referral_reward", ch,
		        0.45);
		if (r != NULL) {
			snprintf(r->reason, sizeof(r->reason),
			        "a returning customer");
		}
	}
	r = rec_add(l, REC_NEXT_BEST_ACTION,
	        rec_next_best_action(in->stage, in->funnel), ch, 0.3);
	if (r != NULL) {
		static const char *const names[MODEL_N_STAGES]
		        = { "a new profile", "REACH", "ACQUISITION", "NURTURE",
			          "RETENTION", "ADVOCACY" };
		snprintf(r->reason, sizeof(r->reason), "next step in %s%s",
		        names[in->stage >= 0 && in->stage < MODEL_N_STAGES
		                        ? in->stage
		                        : 0],
		        in->funnel == MODEL_MIDDLE ? ", mid-funnel" : "");
	}
}

static bool
rec_before(const struct recommendation *a, const struct recommendation *b)
{
	if (a->score != b->score) {
		return a->score > b->score;
	}
	if (a->kind != b->kind) {
		return a->kind < b->kind;
	}
	int c = strcmp(a->item_id, b->item_id);
	if (c != 0) {
		return c < 0;
	}
	return strcmp(a->store_id, b->store_id) < 0;
}

/* a + b, saturating at the ends of int64_t. */
static int64_t
rec_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r)) {
		return b > 0 ? INT64_MAX : INT64_MIN;
	}
	return r;
}

/*
 * The k-th (from 1) latest of at[0..n) (sorted here, latest first) and
 * `extra` more instants at now; INT64_MIN when there are fewer than k.
 */
static int64_t
rec_kth(int64_t *at, size_t n, unsigned extra, int64_t now, unsigned k)
{
	for (size_t i = 1; i < n; i++) {
		int64_t v = at[i];
		size_t j = i;
		while (j > 0 && at[j - 1] < v) {
			at[j] = at[j - 1];
			j--;
		}
		at[j] = v;
	}
	unsigned seen = 0;
	size_t i = 0;
	for (; i < n && at[i] > now; i++) {
		if (++seen == k) {
			return at[i];
		}
	}
	if (extra >= k - seen) {
		return now;
	}
	seen += extra;
	for (; i < n; i++) {
		if (++seen == k) {
			return at[i];
		}
	}
	return INT64_MIN;
}

/*
 * Whether a message on channel ch at now would break the caps, given
 * what the customer of p got already and `extra` messages kept earlier
 * in this call (as if sent at now). When it would, why (n bytes) says
 * which, and *free_ms (when not NULL) the earliest instant after now at
 * which it would not, were nothing else sent: the cap allows a message
 * once the cap_messages-th latest one is more than cap_ms old, and quiet
 * hours once the latest one is quiet_ms old. recommend_build and
 * recommend_cap_check both use it, so the two can never differ.
 */
static bool
rec_cap(const struct model_profile *p, const struct recommend_params *rp,
        int ch, int64_t now, unsigned extra, int64_t *free_ms, char *why,
        size_t n)
{
	if (ch < 0 || ch >= MODEL_N_CHANNELS) {
		return false;
	}
	int64_t ats[MODEL_MSG_PER_CHANNEL];
	size_t nats = 0;
	unsigned recent = extra;
	int64_t last = extra > 0 ? now : 0;
	for (size_t i = 0; i < p->n_messages[ch]; i++) {
		int64_t at = p->messages[ch][i].at_ms;
		ats[nats++] = at;
		/*
		 * Messages after now count too: in cluster mode a
		 * customer's entries may apply at instants out of stream
		 * order (docs/cluster.md), and the cap must still hold.
		 */
		if (now - at <= rp->cap_ms) {
			recent++;
		}
		if (at > last) {
			last = at;
		}
	}
	bool capped = recent >= rp->cap_messages;
	bool quiet = last != 0 && now - last < rp->quiet_ms;
	if (capped) {
		snprintf(why, n,
		        "frequency cap: %u messages on this channel in %lld days",
		        recent, (long long) (rp->cap_ms / MODEL_DAY_MS));
	} else if (quiet) {
		snprintf(why, n,
		        "quiet hours: a message on this channel %lld min ago",
		        (long long) ((now - last) / 60000));
	} else {
		return false;
	}
	if (free_ms != NULL) {
		int64_t at = now == INT64_MAX ? INT64_MAX : now + 1;
		if (rp->cap_messages == 0) {
			at = INT64_MAX;
		} else {
			int64_t k = rec_kth(
			        ats, nats, extra, now, rp->cap_messages);
			if (k != INT64_MIN) {
				k = rec_add_sat(rec_add_sat(k, rp->cap_ms), 1);
				at = k > at ? k : at;
			}
		}
		if (last != 0) {
			int64_t q = rec_add_sat(last, rp->quiet_ms);
			at = q > at ? q : at;
		}
		*free_ms = at;
	}
	return true;
}

bool
recommend_cap_check(const struct model_profile *p,
        const struct recommend_params *rp, int ch, int64_t now_ms,
        int64_t *free_ms, char *why, size_t n)
{
	int64_t at;
	if (!rec_cap(p, rp, ch, now_ms, 0, &at, why, n)) {
		return false;
	}
	*free_ms = at;
	return true;
}

size_t
recommend_build(const struct recommend_input *in,
        const struct recommend_params *rp, size_t limit,
        bool include_suppressed, bool claim, struct recommendation *out)
{
	struct rec_list l = { out, 0 };
	rec_candidates(in, rp, &l);
	/* Insertion sort: at most REC_MAX candidates. */
	for (size_t i = 1; i < l.n; i++) {
		struct recommendation tmp = out[i];
		size_t j = i;
		while (j > 0 && rec_before(&tmp, &out[j - 1])) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = tmp;
	}
	unsigned extra[MODEL_N_CHANNELS] = { 0 };
	size_t n = 0;
	for (size_t i = 0; i < l.n && n < limit; i++) {
		struct recommendation *r = &out[i];
		r->suppressed = rec_cap(in->p, rp, r->channel, in->now_ms,
		        r->channel >= 0 && r->channel < MODEL_N_CHANNELS
		                ? extra[r->channel]
		                : 0,
		        NULL, r->suppressed_reason,
		        sizeof(r->suppressed_reason));
		if (r->suppressed && !include_suppressed) {
			continue;
		}
		if (claim && !r->suppressed && r->channel >= 0
		        && r->channel < MODEL_N_CHANNELS) {
			extra[r->channel]++;
		}
		if (n != i) {
			out[n] = *r;
		}
		n++;
	}
	return n;
}
