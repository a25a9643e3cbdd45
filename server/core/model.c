#include "core/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
model_profile_init(struct model_profile *p)
{
	memset(p, 0, sizeof(*p));
}

/*
 * CUSTOM is not an engagement: clm cannot tell what an event it has no
 * name for means, so it never moves a stage. It is the customer's own
 * doing all the same, so it counts in first_seen and last_seen (and so in
 * health) like every type but MESSAGE_SENT (docs/api.md "The lifecycle
 * model").
 */
bool
model_is_engagement(int type)
{
	switch (type) {
	case MODEL_T_SITE_VISIT:
	case MODEL_T_PAGE_VIEW:
	case MODEL_T_CONTENT_VIEW:
	case MODEL_T_EMAIL_OPEN:
	case MODEL_T_EMAIL_CLICK:
	case MODEL_T_APP_OPEN:
	case MODEL_T_SUPPORT_TICKET:
	case MODEL_T_FEEDBACK:
	case MODEL_T_REVIEW:
	case MODEL_T_ONBOARDING_COMPLETED:
		return true;
	default:
		return false;
	}
}

/* Whether (at, seq) comes before (cur_at, cur_seq); cur_at 0 = unset. */
static bool
model_earlier(int64_t at, uint64_t seq, int64_t cur_at, uint64_t cur_seq)
{
	return cur_at == 0 || at < cur_at || (at == cur_at && seq < cur_seq);
}

static int64_t
model_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t
model_min_set(int64_t a, int64_t b)
{
	/* Minimum of two optional times (0 = unset). */
	if (a == 0) {
		return b;
	}
	if (b == 0) {
		return a;
	}
	return a < b ? a : b;
}

void
model_note_engagement(struct model_profile *p, int64_t at_ms)
{
	if (p->first_purchase_ms != 0 && at_ms > p->first_purchase_ms) {
		p->engaged_after_purchase_ms
		        = model_min_set(p->engaged_after_purchase_ms, at_ms);
	}
}

/*
 * Whether e is in the cart, as model_cart judges it: added after its last
 * removal and after the cart was last cleared (at equal times a removal
 * wins).
 */
static bool
model_cart_live(
        const struct model_profile *p, const struct model_cart_entry *e)
{
	return e->added_ms > e->removed_ms && e->added_ms > p->cart_cleared_ms;
}

/*
 * Whether a is a better entry to forget than b: one no longer in the cart
 * before one still in it, then the oldest last event, then the smaller
 * item id (so the choice never depends on the entries' positions).
 */
static bool
model_cart_evicts_first(const struct model_profile *p,
        const struct model_cart_entry *a, const struct model_cart_entry *b)
{
	bool a_live = model_cart_live(p, a), b_live = model_cart_live(p, b);
	if (a_live != b_live) {
		return !a_live;
	}
	int64_t a_at = model_max(a->added_ms, a->removed_ms);
	int64_t b_at = model_max(b->added_ms, b->removed_ms);
	if (a_at != b_at) {
		return a_at < b_at;
	}
	return strcmp(a->item_id, b->item_id) < 0;
}

static struct model_cart_entry *
model_cart_slot(struct model_profile *p, const char *item)
{
	/* Entries keep an id's first MODEL_ITEM_MAX bytes; so does the match.
	 */
	for (size_t i = 0; i < p->n_cart; i++) {
		if (strncmp(p->cart[i].item_id, item, MODEL_ITEM_MAX) == 0) {
			return &p->cart[i];
		}
	}
	if (p->n_cart == MODEL_CART_MAX) {
		/*
		 * Full: forget an entry no longer in the cart, the one whose
		 * last event is oldest, and only when every entry is still
		 * in the cart the oldest of those. A purchase of many items
		 * (each one removed) so never pushes out an item the customer
		 * still has in the cart. A late event for a forgotten entry
		 * is judged without its history, a bounded inaccuracy for
		 * carts of more than 64 items.
		 */
		size_t old = 0;
		for (size_t i = 1; i < p->n_cart; i++) {
			if (model_cart_evicts_first(
			            p, &p->cart[i], &p->cart[old])) {
				old = i;
			}
		}
		p->cart[old] = p->cart[--p->n_cart];
	}
	struct model_cart_entry *e = &p->cart[p->n_cart++];
	memset(e, 0, sizeof(*e));
	strncpy(e->item_id, item, MODEL_ITEM_MAX);
	return e;
}

static void
model_apply_purchase(struct model_profile *p, const struct model_touch *t,
        struct model_rescan *rescan)
{
	p->purchases++;
	p->purchase_micros += t->value_micros;
	p->last_purchase_ms = model_max(p->last_purchase_ms, t->at_ms);

	int64_t old_first = p->first_purchase_ms;
	if (model_earlier(t->at_ms, t->seq, p->first_purchase_ms,
	            p->first_purchase_seq)) {
		/* The old first purchase (if any) becomes a candidate second.
		 */
		p->second_purchase_ms
		        = model_min_set(p->second_purchase_ms, old_first);
		p->first_purchase_ms = t->at_ms;
		p->first_purchase_seq = t->seq;
		p->conversion_channel = t->channel;
	} else {
		p->second_purchase_ms
		        = model_min_set(p->second_purchase_ms, t->at_ms);
	}

	if (p->first_purchase_ms != old_first) {
		/*
		 * The first purchase moved earlier. Engagements after the old
		 * one are still after the new one, and engaged_after_purchase
		 * already holds the first of them; those in (new, old] must be
		 * looked up by the caller. With no earlier purchase, every
		 * engagement after the new one counts.
		 */
		if (old_first == 0 || p->first_purchase_ms < old_first) {
			rescan->active = true;
			rescan->after_ms = p->first_purchase_ms;
			rescan->upto_ms
			        = old_first == 0 ? INT64_MAX : old_first;
		}
	}
	if (t->item_id[0] != '\0') {
		struct model_cart_entry *e = model_cart_slot(p, t->item_id);
		e->removed_ms = model_max(e->removed_ms, t->at_ms);
	} else {
		p->cart_cleared_ms = model_max(p->cart_cleared_ms, t->at_ms);
	}
	/* An order of several items takes each of them out of the cart. */
	for (size_t i = 0; i < t->n_order_items; i++) {
		if (t->order_items[i][0] != '\0') {
			struct model_cart_entry *e
			        = model_cart_slot(p, t->order_items[i]);
			e->removed_ms = model_max(e->removed_ms, t->at_ms);
		}
	}
}

/*
 * Keeps the latest MODEL_TICKETS_MAX ticket times, latest first: the set
 * does not depend on the order they arrive in.
 */
static void
model_keep_latest(int64_t *v, size_t *count, size_t max, int64_t at)
{
	size_t n = *count;
	if (n == max) {
		if (at <= v[n - 1]) {
			return;
		}
		n--;
	}
	size_t i = n;
	while (i > 0 && v[i - 1] < at) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = at;
	*count = n + 1;
}

bool
model_opened_between(const struct model_profile *p, int64_t from, int64_t to)
{
	for (size_t i = 0; i < p->n_email_opens; i++) {
		if (p->email_open_ms[i] >= from && p->email_open_ms[i] <= to) {
			return true;
		}
	}
	return p->n_email_opens == MODEL_OPENS_MAX
	        && p->email_open_ms[MODEL_OPENS_MAX - 1] > to;
}

/* Whether sentiment a is later than b (event time, then arrival). */
static bool
model_sentiment_later(
        const struct model_sentiment *a, const struct model_sentiment *b)
{
	return a->at_ms > b->at_ms
	        || (a->at_ms == b->at_ms && a->seq > b->seq);
}

/* Keeps the latest MODEL_SENTIMENTS_MAX sentiments, latest first. */
static void
model_keep_sentiment(struct model_profile *p, const struct model_touch *t)
{
	struct model_sentiment s = { t->at_ms, t->seq, t->sentiment };
	size_t n = p->n_sentiments;
	if (n == MODEL_SENTIMENTS_MAX) {
		if (!model_sentiment_later(&s, &p->sentiments[n - 1])) {
			return;
		}
		n--;
	}
	size_t i = n;
	while (i > 0 && model_sentiment_later(&s, &p->sentiments[i - 1])) {
		p->sentiments[i] = p->sentiments[i - 1];
		i--;
	}
	p->sentiments[i] = s;
	p->n_sentiments = n + 1;
}

/* Keeps the latest MODEL_MSG_PER_CHANNEL messages of the channel. */
static void
model_keep_message(struct model_profile *p, const struct model_touch *t)
{
	if (t->channel < 0 || t->channel >= MODEL_N_CHANNELS) {
		return;
	}
	struct model_message *m = p->messages[t->channel];
	size_t n = p->n_messages[t->channel];
	struct model_message msg = { t->at_ms, t->seq, t->kind };
	if (n == MODEL_MSG_PER_CHANNEL) {
		if (msg.at_ms < m[n - 1].at_ms
		        || (msg.at_ms == m[n - 1].at_ms
		                && msg.seq < m[n - 1].seq)) {
			return;
		}
		n--;
	}
	size_t i = n;
	while (i > 0
	        && (m[i - 1].at_ms < msg.at_ms
	                || (m[i - 1].at_ms == msg.at_ms
	                        && m[i - 1].seq < msg.seq))) {
		m[i] = m[i - 1];
		i--;
	}
	m[i] = msg;
	p->n_messages[t->channel] = n + 1;
}

void
model_apply(struct model_profile *p, const struct model_touch *t,
        struct model_rescan *rescan)
{
	rescan->active = false;
	if (t->type > 0 && t->type < MODEL_N_TYPES) {
		p->touch_counts[t->type]++;
	}
	if (t->type != MODEL_T_MESSAGE_SENT) {
		if (model_earlier(t->at_ms, t->seq, p->first_seen_ms,
		            p->first_seen_seq)) {
			p->first_seen_ms = t->at_ms;
			p->first_seen_seq = t->seq;
			p->acquisition_channel = t->channel;
		}
		p->last_seen_ms = model_max(p->last_seen_ms, t->at_ms);
	}
	if (model_is_engagement(t->type)) {
		p->last_engaged_ms = model_max(p->last_engaged_ms, t->at_ms);
		model_note_engagement(p, t->at_ms);
	}
	switch (t->type) {
	case MODEL_T_PURCHASE:
		model_apply_purchase(p, t, rescan);
		break;
	case MODEL_T_REFUND:
		p->refunds++;
		p->refund_micros += t->value_micros;
		p->last_refund_ms = model_max(p->last_refund_ms, t->at_ms);
		break;
	case MODEL_T_BILLING_ISSUE:
		p->last_billing_issue_ms
		        = model_max(p->last_billing_issue_ms, t->at_ms);
		break;
	case MODEL_T_CANCELLATION:
		p->last_cancellation_ms
		        = model_max(p->last_cancellation_ms, t->at_ms);
		break;
	case MODEL_T_SIGNUP:
		p->first_signup_ms
		        = model_min_set(p->first_signup_ms, t->at_ms);
		break;
	case MODEL_T_ONBOARDING_COMPLETED:
		p->first_onboarding_ms
		        = model_min_set(p->first_onboarding_ms, t->at_ms);
		break;
	case MODEL_T_REFERRAL:
		p->referrals++;
		p->first_referral_ms
		        = model_min_set(p->first_referral_ms, t->at_ms);
		break;
	case MODEL_T_ADD_TO_CART:
		p->last_add_to_cart_ms
		        = model_max(p->last_add_to_cart_ms, t->at_ms);
		if (t->item_id[0] != '\0') {
			struct model_cart_entry *e
			        = model_cart_slot(p, t->item_id);
			e->added_ms = model_max(e->added_ms, t->at_ms);
		}
		break;
	case MODEL_T_REMOVE_FROM_CART:
		if (t->item_id[0] != '\0') {
			struct model_cart_entry *e
			        = model_cart_slot(p, t->item_id);
			e->removed_ms = model_max(e->removed_ms, t->at_ms);
		}
		break;
	default:
		break;
	}
	if (t->type == MODEL_T_SUPPORT_TICKET) {
		model_keep_latest(p->ticket_ms, &p->n_tickets,
		        MODEL_TICKETS_MAX, t->at_ms);
	}
	switch (t->type) {
	case MODEL_T_USAGE_LIMIT_REACHED:
		p->last_usage_limit_ms
		        = model_max(p->last_usage_limit_ms, t->at_ms);
		break;
	case MODEL_T_FEEDBACK:
		p->last_feedback_ms = model_max(p->last_feedback_ms, t->at_ms);
		break;
	case MODEL_T_EMAIL_OPEN:
		p->last_email_open_ms
		        = model_max(p->last_email_open_ms, t->at_ms);
		model_keep_latest(p->email_open_ms, &p->n_email_opens,
		        MODEL_OPENS_MAX, t->at_ms);
		break;
	case MODEL_T_MESSAGE_SENT:
		model_keep_message(p, t);
		break;
	case MODEL_T_PURCHASE:
		if (t->item_id[0] != '\0'
		        && (p->last_item_ms == 0 || t->at_ms > p->last_item_ms
		                || (t->at_ms == p->last_item_ms
		                        && t->seq > p->last_item_seq))) {
			strncpy(p->last_item, t->item_id, MODEL_ITEM_MAX);
			p->last_item[MODEL_ITEM_MAX] = '\0';
			p->last_item_ms = t->at_ms;
			p->last_item_seq = t->seq;
		}
		break;
	default:
		break;
	}
	if (t->type == MODEL_T_SOCIAL_MENTION || t->type == MODEL_T_REVIEW
	        || t->type == MODEL_T_FEEDBACK) {
		model_keep_sentiment(p, t);
	}
}

int
model_stage(const struct model_profile *p)
{
	if (p->purchases >= 1 && p->referrals >= 1) {
		return MODEL_ADVOCACY;
	}
	if (p->purchases >= 2) {
		return MODEL_RETENTION;
	}
	if (p->purchases == 1) {
		return p->last_engaged_ms > p->first_purchase_ms
		        ? MODEL_NURTURE
		        : MODEL_ACQUISITION;
	}
	return p->first_seen_ms != 0 ? MODEL_REACH : MODEL_STAGE_NONE;
}

int
model_funnel(const struct model_profile *p)
{
	if (p->purchases >= 1) {
		return MODEL_BOTTOM;
	}
	static const int middle[]
	        = { MODEL_T_SIGNUP, MODEL_T_PRICING_VIEW, MODEL_T_DEMO_REQUEST,
		          MODEL_T_ADD_TO_CART, MODEL_T_CHECKOUT_STARTED };
	for (size_t i = 0; i < sizeof(middle) / sizeof(middle[0]); i++) {
		if (p->touch_counts[middle[i]] > 0) {
			return MODEL_MIDDLE;
		}
	}
	return p->first_seen_ms != 0 ? MODEL_TOP : MODEL_FUNNEL_NONE;
}

void
model_reached_at(const struct model_profile *p, int64_t at[MODEL_N_STAGES])
{
	memset(at, 0, sizeof(int64_t) * MODEL_N_STAGES);
	at[MODEL_REACH] = p->first_seen_ms;
	if (p->purchases == 0) {
		return;
	}
	/* Closed form: docs/api.md "The lifecycle model", stage history. */
	at[MODEL_ACQUISITION] = p->first_purchase_ms;
	if (p->referrals > 0) {
		at[MODEL_ADVOCACY] = model_max(
		        p->first_purchase_ms, p->first_referral_ms);
	}
	at[MODEL_RETENTION]
	        = model_min_set(p->second_purchase_ms, at[MODEL_ADVOCACY]);
	at[MODEL_NURTURE] = model_min_set(
	        p->engaged_after_purchase_ms, at[MODEL_RETENTION]);
}

size_t
model_history(const struct model_profile *p, struct model_stage_entry *out)
{
	int64_t at[MODEL_N_STAGES];
	model_reached_at(p, at);
	size_t n = 0;
	for (int s = MODEL_REACH; s < MODEL_N_STAGES; s++) {
		if (at[s] == 0) {
			break;
		}
		bool last = s + 1 == MODEL_N_STAGES || at[s + 1] == 0;
		if (last || at[s] < at[s + 1]) {
			out[n].stage = s;
			out[n].entered_ms = at[s];
			n++;
		}
	}
	return n;
}

size_t
model_cart(const struct model_profile *p, size_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_cart; i++) {
		const struct model_cart_entry *e = &p->cart[i];
		/* At equal times a removal wins, so the answer is order-free.
		 */
		if (model_cart_live(p, e)) {
			out[n++] = i;
		}
	}
	/* Insertion sort: newest first, then by item id (n ≤ 64). */
	for (size_t i = 1; i < n; i++) {
		size_t v = out[i];
		size_t j = i;
		while (j > 0) {
			const struct model_cart_entry *a
			        = &p->cart[out[j - 1]];
			const struct model_cart_entry *b = &p->cart[v];
			bool before = b->added_ms > a->added_ms
			        || (b->added_ms == a->added_ms
			                && strcmp(b->item_id, a->item_id) < 0);
			if (!before) {
				break;
			}
			out[j] = out[j - 1];
			j--;
		}
		out[j] = v;
	}
	return n;
}

void
model_params_default(struct model_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->at_risk_ms = 30 * MODEL_DAY_MS;
	mp->churn_ms = 90 * MODEL_DAY_MS;
	mp->billing_issue_ms = 60 * MODEL_DAY_MS;
	mp->support_ticket_ms = 30 * MODEL_DAY_MS;
	mp->support_tickets = 3;
	mp->sentiment_window = 5;
	mp->negative_sentiment = -0.3;
	mp->refund_ms = 30 * MODEL_DAY_MS;
	mp->weight[MODEL_INACTIVE] = 0.5;
	mp->weight[MODEL_RECENT_BILLING_ISSUE] = 0.4;
	mp->weight[MODEL_SUPPORT_TICKETS] = 0.3;
	mp->weight[MODEL_NEGATIVE_SENTIMENT] = 0.3;
	mp->weight[MODEL_RECENT_REFUND] = 0.2;
	mp->weight[MODEL_SLOW_ONBOARDING] = 0.3;
	mp->weight[MODEL_SUBSCRIPTION_CANCELLED] = 1.0;
}

int64_t
model_micros(double value)
{
	return (int64_t) llround(value * 1e6);
}

double
model_money(int64_t micros)
{
	return (double) micros / 1e6;
}

bool
model_cancelled(const struct model_profile *p)
{
	return p->last_cancellation_ms != 0
	        && p->last_cancellation_ms > p->last_purchase_ms;
}
