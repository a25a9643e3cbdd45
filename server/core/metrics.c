#include "core/metrics.h"

#include <string.h>

double
metrics_ratio(double num, double den)
{
	return den == 0 ? 0 : num / den;
}

const char *
metrics_window(const Clm__V1__MetricsRequest *q, int64_t now_ms,
        struct metrics_window *w, const char **field)
{
	if (q->to_ms < 0 || q->to_ms >= METRICS_MAX_TIME_MS) {
		*field = "metrics.to_ms";
		return "must be unix ms from 0 to 9999-12-31";
	}
	if (q->from_ms < 0 || q->from_ms >= METRICS_MAX_TIME_MS) {
		*field = "metrics.from_ms";
		return "must be unix ms from 0 to 9999-12-31";
	}
	int64_t to = q->to_ms == 0 ? agg_day(now_ms) + 1LL : agg_day(q->to_ms);
	int64_t from = q->from_ms == 0 ? to - METRICS_DEFAULT_DAYS
	                               : agg_day(q->from_ms);
	if (from < 0) {
		from = 0;
	}
	if (from >= to) {
		*field = "metrics.from_ms";
		return "must be before to_ms (both rounded down to 00:00 UTC)";
	}
	if (to - from > METRICS_MAX_WINDOW_DAYS) {
		*field = "metrics.from_ms";
		return "the window is longer than 3,660 days";
	}
	if (q->conversion_window_days > METRICS_MAX_CONVERSION_DAYS) {
		*field = "metrics.conversion_window_days";
		return "must be at most 3,650";
	}
	if ((int) q->channel < 0 || (int) q->channel >= MODEL_N_CHANNELS) {
		*field = "metrics.channel";
		return "is not a known Channel";
	}
	w->from = (uint32_t) from;
	w->to = (uint32_t) to;
	w->conversion_days = q->conversion_window_days == 0
	        ? METRICS_DEFAULT_DAYS
	        : q->conversion_window_days;
	w->channel = (int) q->channel;
	return NULL;
}

static int
metrics_stages(
        const struct metrics_sums *s, arena *a, Clm__V1__MetricsReply *out)
{
	size_t n = MODEL_N_STAGES - 1;
	out->stages = arena_alloc(a, n * sizeof(*out->stages));
	if (out->stages == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int st = (int) i + MODEL_REACH;
		Clm__V1__StageMetric *m = arena_alloc(a, sizeof(*m));
		if (m == NULL) {
			return -1;
		}
		clm__v1__stage_metric__init(m);
		m->stage = (Clm__V1__Stage) st;
		m->current = s->current[st];
		m->entered = s->entered[st];
		m->at_risk = s->at_risk[st];
		m->churned = s->churned[st];
		m->drop_off_rate
		        = metrics_ratio((double) (m->at_risk + m->churned),
		                (double) m->current);
		out->stages[i] = m;
	}
	out->n_stages = n;
	return 0;
}

static int
metrics_conversions(
        const struct metrics_sums *s, arena *a, Clm__V1__MetricsReply *out)
{
	out->conversions = arena_alloc(
	        a, AGG_N_LISTED_PAIRS * sizeof(*out->conversions));
	if (out->conversions == NULL) {
		return -1;
	}
	for (size_t i = 0; i < AGG_N_LISTED_PAIRS; i++) {
		Clm__V1__Conversion *c = arena_alloc(a, sizeof(*c));
		if (c == NULL) {
			return -1;
		}
		clm__v1__conversion__init(c);
		c->from_stage = (Clm__V1__Stage) agg_pairs[i][0];
		c->to_stage = (Clm__V1__Stage) agg_pairs[i][1];
		c->cohort = s->conv_cohort[i];
		c->converted = s->conv_converted[i];
		c->rate = metrics_ratio(
		        (double) c->converted, (double) c->cohort);
		out->conversions[i] = c;
	}
	out->n_conversions = AGG_N_LISTED_PAIRS;
	return 0;
}

static int
metrics_channels(const struct metrics_sums *s, const struct metrics_window *w,
        arena *a, Clm__V1__MetricsReply *out)
{
	out->channels = arena_alloc(a, MODEL_N_CHANNELS * sizeof(void *));
	if (out->channels == NULL) {
		return -1;
	}
	out->n_channels = 0;
	for (int ch = 0; ch < MODEL_N_CHANNELS; ch++) {
		const struct metrics_channel *c = &s->channel[ch];
		if ((w->channel != 0 && ch != w->channel)
		        || (c->spend_micros == 0 && c->new_visitors == 0
		                && c->first_touch == 0
		                && c->last_touch == 0)) {
			continue;
		}
		Clm__V1__ChannelMetric *m = arena_alloc(a, sizeof(*m));
		if (m == NULL) {
			return -1;
		}
		clm__v1__channel_metric__init(m);
		m->channel = (Clm__V1__Channel) ch;
		m->spend = model_money(c->spend_micros);
		m->new_visitors = c->new_visitors;
		m->new_customers_first_touch = c->first_touch;
		m->new_customers_last_touch = c->last_touch;
		m->cac = metrics_ratio(m->spend, (double) c->first_touch);
		m->cost_per_visitor
		        = metrics_ratio(m->spend, (double) c->new_visitors);
		out->channels[out->n_channels++] = m;
	}
	return 0;
}

int
metrics_compute(const struct metrics_sums *s, const struct metrics_window *w,
        arena *a, Clm__V1__MetricsReply *out)
{
	clm__v1__metrics_reply__init(out);
	if (metrics_stages(s, a, out) != 0
	        || metrics_conversions(s, a, out) != 0
	        || metrics_channels(s, w, a, out) != 0) {
		return -1;
	}
	/* The last pair is ACQUISITION -> RETENTION. */
	out->retention_rate
	        = metrics_ratio((double) s->conv_converted[AGG_N_PAIRS - 1],
	                (double) s->conv_cohort[AGG_N_PAIRS - 1]);
	out->repeat_customer_rate
	        = metrics_ratio((double) s->repeaters, (double) s->purchasers);
	out->referral_rate
	        = metrics_ratio((double) s->advocates, (double) s->purchasers);
	out->churn_rate = metrics_ratio(
	        (double) s->churned_purchasers, (double) s->purchasers);

	const int64_t *t = s->touch;
	int64_t orders = t[AGG_TOUCH_TYPES + MODEL_T_PURCHASE];
	out->revenue = model_money(
	        t[AGG_TOUCH_PURCHASE_MICROS] - t[AGG_TOUCH_REFUND_MICROS]);
	out->orders = (uint64_t) orders;
	out->average_order_value = metrics_ratio(
	        model_money(t[AGG_TOUCH_PURCHASE_MICROS]), (double) orders);
	out->refunds_value = model_money(t[AGG_TOUCH_REFUND_MICROS]);
	out->ltv = metrics_ratio(
	        model_money(s->all_purchase_micros - s->all_refund_micros),
	        (double) s->purchasers_now);

	enum { AD_IMPRESSION = 1, AD_CLICK = 2 };
	out->ad_impressions = (uint64_t) t[AGG_TOUCH_TYPES + AD_IMPRESSION];
	out->ad_clicks = (uint64_t) t[AGG_TOUCH_TYPES + AD_CLICK];
	out->click_through_rate = metrics_ratio(
	        (double) out->ad_clicks, (double) out->ad_impressions);
	out->site_visits = (uint64_t) t[AGG_TOUCH_TYPES + MODEL_T_SITE_VISIT];
	out->unique_visitors = s->unique_visitors;
	out->page_views = (uint64_t) t[AGG_TOUCH_TYPES + MODEL_T_PAGE_VIEW];
	out->page_views_per_visitor = metrics_ratio(
	        (double) out->page_views, (double) out->unique_visitors);
	out->avg_time_on_site_s
	        = metrics_ratio((double) t[AGG_TOUCH_VISIT_SECONDS],
	                (double) out->site_visits);

	Clm__V1__SentimentMetric *sm = arena_alloc(a, sizeof(*sm));
	if (sm == NULL) {
		return -1;
	}
	clm__v1__sentiment_metric__init(sm);
	sm->positive = (uint64_t) t[AGG_TOUCH_POSITIVE];
	sm->neutral = (uint64_t) t[AGG_TOUCH_NEUTRAL];
	sm->negative = (uint64_t) t[AGG_TOUCH_NEGATIVE];
	sm->negative_share = metrics_ratio((double) sm->negative,
	        (double) (sm->positive + sm->neutral + sm->negative));
	out->sentiment = sm;
	out->support_tickets
	        = (uint64_t) t[AGG_TOUCH_TYPES + MODEL_T_SUPPORT_TICKET];
	out->billing_issues
	        = (uint64_t) t[AGG_TOUCH_TYPES + MODEL_T_BILLING_ISSUE];
	uint64_t customers = 0;
	for (int st = MODEL_REACH; st < MODEL_N_STAGES; st++) {
		customers += s->current[st];
	}
	out->customers = customers;
	return 0;
}
