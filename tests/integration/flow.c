/*
 * Helpers of the Metrics flow tests (see flow.h): requests built by hand
 * and sent with clm_call, reply comparisons, the expected-MetricsReply
 * checker, the spend data set and the LMDB meta reset.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/*
 * Spend: sp1 first touched by PAID_ADS, buys by EMAIL; sp2 a PAID_ADS
 * visitor; sp3 first touched by ORGANIC_SEARCH, buys by PAID_ADS.
 */
const struct flow_tp flow_spend_tps[5] = {
	{ "sp1", NULL, "sp1-ac5", TP(AD_CLICK), CH(PAID_ADS),
	        JAN(5) + 9 * HOUR_MS, 0, 0, 0 },
	{ "sp1", NULL, "sp1-p6", TP(PURCHASE), CH(EMAIL),
	        JAN(6) + 10 * HOUR_MS, 60, 0, 0 },
	{ "sp2", NULL, "sp2-sv6", TP(SITE_VISIT), CH(PAID_ADS),
	        JAN(6) + 9 * HOUR_MS, 0, 15, 0 },
	{ "sp3", NULL, "sp3-sv5", TP(SITE_VISIT), CH(ORGANIC_SEARCH),
	        JAN(5) + 8 * HOUR_MS, 0, 25, 0 },
	{ "sp3", NULL, "sp3-p7", TP(PURCHASE), CH(PAID_ADS),
	        JAN(7) + 10 * HOUR_MS, 35, 0, 0 },
};
const struct flow_sp flow_spend_first[5] = {
	{ CH(PAID_ADS), JAN(5), 100, "a" },
	{ CH(PAID_ADS), JAN(5) + 5 * HOUR_MS, 50, "b" }, /* same day */
	{ CH(PAID_ADS), JAN(6), 70, "a" },
	{ CH(PAID_ADS), JAN(7) + 15 * HOUR_MS, 30, "" },
	{ CH(EMAIL), JAN(20), 12.5, "news" },
};
/* Jan 6 "a" again, 90 instead of 70. */
const struct flow_sp flow_spend_again[1] = {
	{ CH(PAID_ADS), JAN(6) + HOUR_MS, 90, "a" },
};

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

void
flow_start(struct clmd_proc *p, const char *dir, const char *const *extra)
{
	int rc = clmd_start(p, dir, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", p->log_path);
}

clm_conn *
flow_connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 10000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

/* Sends req; asserts a reply came (whatever its status). */
Clm__V1__Response *
flow_call(clm_conn *c, const Clm__V1__Request *req)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_call(c, req, &resp);
	cr_assert_eq(e, CLM_OK, "transport: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	return resp;
}

uint64_t
flow_touchpoints(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	uint64_t n = resp->server_status->touchpoints;
	clm_response_free(resp);
	return n;
}

uint64_t
flow_customer_touches(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	if (e == CLM_NOT_FOUND) {
		clm_response_free(resp);
		return 0;
	}
	cr_assert_eq(e, CLM_OK, "get_customer '%s': %s (%s)", id,
	        clm_errname(e), clm_last_error(c));
	uint64_t n = 0;
	for (size_t i = 0; i < resp->customer->n_touch_counts; i++) {
		n += resp->customer->touch_counts[i]->count;
	}
	clm_response_free(resp);
	return n;
}

clm_err
flow_status_of(const Clm__V1__Response *r)
{
	return r->status == NULL ? CLM_OK : (clm_err) r->status->code;
}

const char *
flow_message_of(const Clm__V1__Response *r)
{
	return r->status == NULL || r->status->message == NULL
	        ? ""
	        : r->status->message;
}

void
flow_expect_ok(const Clm__V1__Response *r, const char *what)
{
	cr_assert_eq(flow_status_of(r), CLM_OK, "%s: %s (%s)", what,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
}

/* INVALID_ARGUMENT with a violation naming field; releases r. */
void
flow_expect_invalid(Clm__V1__Response *r, const char *field, const char *what)
{
	cr_expect_eq(flow_status_of(r), CLM_INVALID_ARGUMENT,
	        "%s: %s, want INVALID_ARGUMENT (%s)", what,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	bool named = false;
	if (r->status != NULL) {
		for (size_t i = 0; i < r->status->n_violations; i++) {
			named |= strcmp(r->status->violations[i]->field, field)
			        == 0;
		}
	}
	cr_expect(named, "%s: no violation names '%s' (message: %s)", what,
	        field, flow_message_of(r));
	clm_response_free(r);
}

/* Tracks n touchpoints in one call; asserts every one is accepted. */
void
flow_track(clm_conn *c, const struct flow_tp *t, size_t n)
{
	Clm__V1__Touchpoint *tps = calloc(n, sizeof(*tps));
	Clm__V1__Touchpoint **ptr = calloc(n, sizeof(*ptr));
	cr_assert(tps != NULL && ptr != NULL);
	for (size_t i = 0; i < n; i++) {
		Clm__V1__Touchpoint *x = &tps[i];
		clm__v1__touchpoint__init(x);
		if (t[i].customer != NULL) {
			x->customer_id = (char *) t[i].customer;
		}
		if (t[i].anon != NULL) {
			x->anonymous_id = (char *) t[i].anon;
		}
		if (t[i].eid != NULL) {
			x->event_id = (char *) t[i].eid;
		}
		x->type = t[i].type;
		x->channel = t[i].channel;
		x->occurred_at_ms = t[i].at;
		x->value = t[i].value;
		x->duration_s = t[i].duration_s;
		x->sentiment = t[i].sentiment;
		if (t[i].type == TP(PURCHASE) || t[i].type == TP(REFUND)) {
			x->currency = "EUR";
			x->item_id = "sku-1";
		}
		if (t[i].type == TP(ADD_TO_CART)) {
			x->item_id = "sku-1";
		}
		ptr[i] = x;
	}
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.touchpoints = ptr;
	tr.n_touchpoints = n;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &tr;
	Clm__V1__Response *r = flow_call(c, &req);
	flow_expect_ok(r, "track");
	cr_assert_not_null(r->track);
	cr_assert_eq(r->track->n_rejected, 0, "track: %zu rejected",
	        r->track->n_rejected);
	cr_assert_eq(r->track->accepted, n, "track: %u of %zu accepted",
	        r->track->accepted, n);
	clm_response_free(r);
	free(ptr);
	free(tps);
}

/* Tracks them one call each, in event-time order (stable). */
void
flow_track_in_event_order(clm_conn *c, const struct flow_tp *t, size_t n)
{
	struct flow_tp *s = malloc(n * sizeof(*s));
	cr_assert_not_null(s);
	memcpy(s, t, n * sizeof(*s));
	for (size_t i = 1; i < n; i++) {
		struct flow_tp x = s[i];
		size_t k = i;
		for (; k > 0 && s[k - 1].at > x.at; k--) {
			s[k] = s[k - 1];
		}
		s[k] = x;
	}
	for (size_t i = 0; i < n; i++) {
		flow_track(c, &s[i], 1);
	}
	free(s);
}

Clm__V1__Response *
flow_metrics_call(
        clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel)
{
	Clm__V1__MetricsRequest q = CLM__V1__METRICS_REQUEST__INIT;
	q.from_ms = from;
	q.to_ms = to;
	q.conversion_window_days = conv;
	q.channel = (Clm__V1__Channel) channel;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_METRICS;
	req.metrics = &q;
	return flow_call(c, &req);
}

Clm__V1__Response *
flow_metrics(clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel)
{
	Clm__V1__Response *r = flow_metrics_call(c, from, to, conv, channel);
	flow_expect_ok(r, "metrics");
	cr_assert_not_null(r->metrics);
	return r;
}

Clm__V1__Response *
flow_cohorts_call(
        clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods)
{
	Clm__V1__CohortRequest q = CLM__V1__COHORT_REQUEST__INIT;
	q.from_ms = from;
	q.to_ms = to;
	q.granularity = (Clm__V1__Granularity) gran;
	q.periods = periods;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_COHORTS;
	req.cohorts = &q;
	return flow_call(c, &req);
}

Clm__V1__Response *
flow_cohorts(clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods)
{
	Clm__V1__Response *r = flow_cohorts_call(c, from, to, gran, periods);
	flow_expect_ok(r, "cohorts");
	cr_assert_not_null(r->cohorts);
	return r;
}

Clm__V1__Response *
flow_forget(clm_conn *c, const char *id)
{
	Clm__V1__ForgetCustomerRequest q
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	q.customer_id = (char *) id;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &q;
	Clm__V1__Response *r = flow_call(c, &req);
	flow_expect_ok(r, "forget");
	cr_assert_not_null(r->forget_customer);
	return r;
}

void
flow_identify(clm_conn *c, const char *anon, const char *customer, bool merged)
{
	Clm__V1__IdentifyRequest q = CLM__V1__IDENTIFY_REQUEST__INIT;
	q.anonymous_id = (char *) anon;
	q.customer_id = (char *) customer;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	req.identify = &q;
	Clm__V1__Response *r = flow_call(c, &req);
	flow_expect_ok(r, "identify");
	cr_assert_not_null(r->identify);
	cr_expect_eq(r->identify->merged, merged, "identify: merged %d",
	        r->identify->merged);
	clm_response_free(r);
}

Clm__V1__Response *
flow_record_spend_call(clm_conn *c, const struct flow_sp *s, size_t n)
{
	Clm__V1__Spend *sp = calloc(n + 1, sizeof(*sp));
	Clm__V1__Spend **ptr = calloc(n + 1, sizeof(*ptr));
	cr_assert(sp != NULL && ptr != NULL);
	for (size_t i = 0; i < n; i++) {
		clm__v1__spend__init(&sp[i]);
		sp[i].channel = (Clm__V1__Channel) s[i].channel;
		sp[i].day_ms = s[i].day;
		sp[i].amount = s[i].amount;
		sp[i].currency = "EUR";
		sp[i].campaign = (char *) s[i].campaign;
		ptr[i] = &sp[i];
	}
	Clm__V1__RecordSpendRequest q = CLM__V1__RECORD_SPEND_REQUEST__INIT;
	q.spend = ptr;
	q.n_spend = n;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_RECORD_SPEND;
	req.record_spend = &q;
	Clm__V1__Response *r = flow_call(c, &req);
	free(ptr);
	free(sp);
	return r;
}

void
flow_record_spend(clm_conn *c, const struct flow_sp *s, size_t n)
{
	Clm__V1__Response *r = flow_record_spend_call(c, s, n);
	flow_expect_ok(r, "record_spend");
	cr_assert_not_null(r->record_spend);
	cr_expect_eq(r->record_spend->accepted, n,
	        "record_spend: accepted %u, want %zu",
	        r->record_spend->accepted, n);
	clm_response_free(r);
}

Clm__V1__Response *
flow_define_call(clm_conn *c, const char *id, const struct flow_variant *v,
        size_t n, int goal)
{
	Clm__V1__Variant vs[16];
	Clm__V1__Variant *ptr[16];
	cr_assert_leq(n, 16);
	for (size_t i = 0; i < n; i++) {
		clm__v1__variant__init(&vs[i]);
		vs[i].name = (char *) v[i].name;
		vs[i].weight = v[i].weight;
		ptr[i] = &vs[i];
	}
	Clm__V1__DefineExperimentRequest q
	        = CLM__V1__DEFINE_EXPERIMENT_REQUEST__INIT;
	q.experiment_id = (char *) id;
	q.variants = ptr;
	q.n_variants = n;
	q.goal = (Clm__V1__TouchpointType) goal;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT;
	req.define_experiment = &q;
	return flow_call(c, &req);
}

Clm__V1__Response *
flow_assign_call(clm_conn *c, const char *exp, const char *customer)
{
	Clm__V1__AssignRequest q = CLM__V1__ASSIGN_REQUEST__INIT;
	q.experiment_id = (char *) exp;
	q.customer_id = (char *) customer;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_ASSIGN;
	req.assign = &q;
	return flow_call(c, &req);
}

Clm__V1__Response *
flow_results_call(clm_conn *c, const char *exp)
{
	Clm__V1__ExperimentResultsRequest q
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	q.experiment_id = (char *) exp;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS;
	req.experiment_results = &q;
	return flow_call(c, &req);
}

/* ---------------------------------------------------------------------- */
/* Comparing replies                                                      */

/* A readable digest of a MetricsReply, for failure messages. */
void
flow_metrics_digest(const Clm__V1__MetricsReply *m, char *buf, size_t n)
{
	size_t k = 0;
#define DIGEST(...)                                                          \
	do {                                                                 \
		if (k < n) {                                                 \
			k += (size_t) snprintf(buf + k, n - k, __VA_ARGS__); \
		}                                                            \
	} while (0)
	DIGEST("stages(cur/ent/risk/churn)");
	for (size_t i = 0; i < m->n_stages; i++) {
		const Clm__V1__StageMetric *s = m->stages[i];
		DIGEST(" %d:%llu/%llu/%llu/%llu", s->stage,
		        (unsigned long long) s->current,
		        (unsigned long long) s->entered,
		        (unsigned long long) s->at_risk,
		        (unsigned long long) s->churned);
	}
	DIGEST(" conv");
	for (size_t i = 0; i < m->n_conversions; i++) {
		DIGEST(" %llu/%llu",
		        (unsigned long long) m->conversions[i]->cohort,
		        (unsigned long long) m->conversions[i]->converted);
	}
	DIGEST(" rates %g/%g/%g/%g revenue %g orders %llu refunds %g ltv %g",
	        m->retention_rate, m->repeat_customer_rate, m->referral_rate,
	        m->churn_rate, m->revenue, (unsigned long long) m->orders,
	        m->refunds_value, m->ltv);
	DIGEST(" ads %llu/%llu visits %llu uv %llu pv %llu time %g",
	        (unsigned long long) m->ad_impressions,
	        (unsigned long long) m->ad_clicks,
	        (unsigned long long) m->site_visits,
	        (unsigned long long) m->unique_visitors,
	        (unsigned long long) m->page_views, m->avg_time_on_site_s);
	DIGEST(" channels(spend/nv/ft/lt)");
	for (size_t i = 0; i < m->n_channels; i++) {
		const Clm__V1__ChannelMetric *c = m->channels[i];
		DIGEST(" %d:%g/%llu/%llu/%llu", c->channel, c->spend,
		        (unsigned long long) c->new_visitors,
		        (unsigned long long) c->new_customers_first_touch,
		        (unsigned long long) c->new_customers_last_touch);
	}
	if (m->sentiment != NULL) {
		DIGEST(" sentiment %llu/%llu/%llu",
		        (unsigned long long) m->sentiment->positive,
		        (unsigned long long) m->sentiment->neutral,
		        (unsigned long long) m->sentiment->negative);
	}
	DIGEST(" tickets %llu billing %llu customers %llu",
	        (unsigned long long) m->support_tickets,
	        (unsigned long long) m->billing_issues,
	        (unsigned long long) m->customers);
#undef DIGEST
}

void
flow_cohort_digest(const Clm__V1__CohortReply *r, char *buf, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n_rows && k < n; i++) {
		const Clm__V1__CohortRow *row = r->rows[i];
		if (row->size == 0) {
			continue;
		}
		k += (size_t) snprintf(buf + k, n - k, " [%lld n=%llu",
		        (long long) (row->cohort_start_ms / DAY_MS),
		        (unsigned long long) row->size);
		for (size_t j = 0; j < row->n_retained && k < n; j++) {
			k += (size_t) snprintf(
			        buf + k, n - k, " %g", row->retained[j]);
		}
		if (k < n) {
			k += (size_t) snprintf(buf + k, n - k, "]");
		}
	}
	if (k == 0 && n > 0) {
		snprintf(buf, n, "(no customers, %zu rows)", r->n_rows);
	}
}

/* Packs any message into a malloc'd buffer. */
static uint8_t *
flow_pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	cr_assert_not_null(b);
	protobuf_c_message_pack(m, b);
	return b;
}

bool
flow_same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t na, nb;
	uint8_t *ba = flow_pack(a, &na), *bb = flow_pack(b, &nb);
	bool same = na == nb && memcmp(ba, bb, na) == 0;
	free(ba);
	free(bb);
	return same;
}

/*
 * A MetricsReply packed, with unique_visitors (and page_views_per_visitor,
 * which divides by it) zeroed when mask_visitors.
 */
bool
flow_same_metrics(const Clm__V1__MetricsReply *a,
        const Clm__V1__MetricsReply *b, bool mask_visitors)
{
	Clm__V1__MetricsReply ca = *a, cb = *b;
	if (mask_visitors) {
		ca.unique_visitors = cb.unique_visitors = 0;
		ca.page_views_per_visitor = cb.page_views_per_visitor = 0;
	}
	return flow_same_bytes(&ca.base, &cb.base);
}

void
flow_expect_same_metrics(clm_conn *ca, clm_conn *cb, const struct flow_win *w,
        bool mask_visitors, const char *what)
{
	Clm__V1__Response *ra
	        = flow_metrics(ca, w->from, w->to, w->conv, w->channel);
	Clm__V1__Response *rb
	        = flow_metrics(cb, w->from, w->to, w->conv, w->channel);
	if (!flow_same_metrics(ra->metrics, rb->metrics, mask_visitors)) {
		char da[2048], db[2048];
		flow_metrics_digest(ra->metrics, da, sizeof(da));
		flow_metrics_digest(rb->metrics, db, sizeof(db));
		cr_expect_fail(
		        "%s: metrics [day %lld, day %lld) conv %u channel %d differ\n  %s\n  %s",
		        what, (long long) (w->from / DAY_MS),
		        (long long) (w->to / DAY_MS), w->conv, w->channel, da,
		        db);
	}
	clm_response_free(ra);
	clm_response_free(rb);
}

void
flow_expect_same_cohorts(clm_conn *ca, clm_conn *cb, const struct flow_cwin *w,
        const char *what)
{
	Clm__V1__Response *ra
	        = flow_cohorts(ca, w->from, w->to, w->gran, w->periods);
	Clm__V1__Response *rb
	        = flow_cohorts(cb, w->from, w->to, w->gran, w->periods);
	if (!flow_same_bytes(&ra->cohorts->base, &rb->cohorts->base)) {
		char da[2048], db[2048];
		flow_cohort_digest(ra->cohorts, da, sizeof(da));
		flow_cohort_digest(rb->cohorts, db, sizeof(db));
		cr_expect_fail(
		        "%s: cohorts gran %d from day %lld differ\n  %s\n  %s",
		        what, w->gran, (long long) (w->from / DAY_MS), da, db);
	}
	clm_response_free(ra);
	clm_response_free(rb);
}

/* ---------------------------------------------------------------------- */
/* Expected figures                                                       */

bool
flow_near(double got, double want)
{
	return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want));
}

double
flow_ratio(double num, double den)
{
	return den == 0 ? 0 : num / den;
}

void
flow_expect_metrics(const Clm__V1__MetricsReply *m, const struct flow_want *w,
        const char *what)
{
	char f[64];
	cr_assert_eq(m->n_stages, 5, "%s: %zu stages", what, m->n_stages);
	for (int i = 0; i < 5; i++) {
		const Clm__V1__StageMetric *s = m->stages[i];
		cr_expect_eq(s->stage, i + 1, "%s: stages[%d] is %d", what, i,
		        s->stage);
		snprintf(f, sizeof(f), "stages[%d].current", i + 1);
		EXPECT_U64(s->current, w->current[i], what, f);
		snprintf(f, sizeof(f), "stages[%d].entered", i + 1);
		EXPECT_U64(s->entered, w->entered[i], what, f);
		snprintf(f, sizeof(f), "stages[%d].at_risk", i + 1);
		EXPECT_U64(s->at_risk, w->at_risk[i], what, f);
		snprintf(f, sizeof(f), "stages[%d].churned", i + 1);
		EXPECT_U64(s->churned, w->churned[i], what, f);
		snprintf(f, sizeof(f), "stages[%d].drop_off_rate", i + 1);
		EXPECT_DBL(s->drop_off_rate,
		        flow_ratio((double) (w->at_risk[i] + w->churned[i]),
		                (double) w->current[i]),
		        what, f);
	}
	static const int pairs[5][2] = { { REACH, ACQUISITION },
		{ ACQUISITION, NURTURE }, { NURTURE, RETENTION },
		{ RETENTION, ADVOCACY }, { REACH, ADVOCACY } };
	cr_assert_eq(m->n_conversions, 5, "%s: %zu conversions", what,
	        m->n_conversions);
	for (int i = 0; i < 5; i++) {
		const Clm__V1__Conversion *c = m->conversions[i];
		cr_expect((int) c->from_stage == pairs[i][0]
		                && (int) c->to_stage == pairs[i][1],
		        "%s: conversions[%d] is %d->%d", what, i,
		        c->from_stage, c->to_stage);
		snprintf(f, sizeof(f), "conversions[%d->%d].cohort",
		        pairs[i][0], pairs[i][1]);
		EXPECT_U64(c->cohort, w->cohort[i], what, f);
		snprintf(f, sizeof(f), "conversions[%d->%d].converted",
		        pairs[i][0], pairs[i][1]);
		EXPECT_U64(c->converted, w->converted[i], what, f);
		snprintf(f, sizeof(f), "conversions[%d->%d].rate", pairs[i][0],
		        pairs[i][1]);
		EXPECT_DBL(c->rate,
		        flow_ratio((double) w->converted[i],
		                (double) w->cohort[i]),
		        what, f);
	}
	EXPECT_DBL(
	        m->retention_rate, w->retention_rate, what, "retention_rate");
	EXPECT_DBL(m->repeat_customer_rate, w->repeat_rate, what,
	        "repeat_customer_rate");
	EXPECT_DBL(m->referral_rate, w->referral_rate, what, "referral_rate");
	EXPECT_DBL(m->churn_rate, w->churn_rate, what, "churn_rate");
	EXPECT_DBL(m->revenue, w->revenue, what, "revenue");
	EXPECT_U64(m->orders, w->orders, what, "orders");
	/* Purchase value = revenue + refunds in the window. */
	EXPECT_DBL(m->average_order_value,
	        flow_ratio(w->revenue + w->refunds, (double) w->orders), what,
	        "average_order_value");
	EXPECT_DBL(m->refunds_value, w->refunds, what, "refunds_value");
	EXPECT_DBL(m->ltv, w->ltv, what, "ltv");
	EXPECT_U64(m->ad_impressions, w->impressions, what, "ad_impressions");
	EXPECT_U64(m->ad_clicks, w->clicks, what, "ad_clicks");
	EXPECT_DBL(m->click_through_rate,
	        flow_ratio((double) w->clicks, (double) w->impressions), what,
	        "click_through_rate");
	EXPECT_U64(m->site_visits, w->site_visits, what, "site_visits");
	EXPECT_U64(m->page_views, w->page_views, what, "page_views");
	if (!w->any_visitors) {
		EXPECT_U64(m->unique_visitors, w->unique_visitors, what,
		        "unique_visitors");
		EXPECT_DBL(m->page_views_per_visitor,
		        flow_ratio((double) w->page_views,
		                (double) w->unique_visitors),
		        what, "page_views_per_visitor");
	}
	EXPECT_DBL(m->avg_time_on_site_s,
	        flow_ratio(w->visit_seconds, (double) w->site_visits), what,
	        "avg_time_on_site_s");

	cr_expect_eq(m->n_channels, w->n_ch, "%s: %zu channel rows, want %zu",
	        what, m->n_channels, w->n_ch);
	for (size_t i = 0; i < m->n_channels && i < w->n_ch; i++) {
		const Clm__V1__ChannelMetric *c = m->channels[i];
		const struct flow_want_channel *x = &w->ch[i];
		cr_expect_eq(c->channel, x->ch,
		        "%s: channels[%zu] is %d, want %d", what, i,
		        c->channel, x->ch);
		snprintf(f, sizeof(f), "channel %d spend", x->ch);
		EXPECT_DBL(c->spend, x->spend, what, f);
		snprintf(f, sizeof(f), "channel %d new_visitors", x->ch);
		EXPECT_U64(c->new_visitors, x->nv, what, f);
		snprintf(f, sizeof(f), "channel %d new_customers_first_touch",
		        x->ch);
		EXPECT_U64(c->new_customers_first_touch, x->ft, what, f);
		snprintf(f, sizeof(f), "channel %d new_customers_last_touch",
		        x->ch);
		EXPECT_U64(c->new_customers_last_touch, x->lt, what, f);
		snprintf(f, sizeof(f), "channel %d cac", x->ch);
		EXPECT_DBL(
		        c->cac, flow_ratio(x->spend, (double) x->ft), what, f);
		snprintf(f, sizeof(f), "channel %d cost_per_visitor", x->ch);
		EXPECT_DBL(c->cost_per_visitor,
		        flow_ratio(x->spend, (double) x->nv), what, f);
	}
	cr_assert_not_null(m->sentiment, "%s: no sentiment", what);
	EXPECT_U64(m->sentiment->positive, w->positive, what, "positive");
	EXPECT_U64(m->sentiment->neutral, w->neutral, what, "neutral");
	EXPECT_U64(m->sentiment->negative, w->negative, what, "negative");
	EXPECT_DBL(m->sentiment->negative_share,
	        flow_ratio((double) w->negative,
	                (double) (w->positive + w->neutral + w->negative)),
	        what, "negative_share");
	EXPECT_U64(m->support_tickets, w->tickets, what, "support_tickets");
	EXPECT_U64(m->billing_issues, w->billing, what, "billing_issues");
	EXPECT_U64(m->customers, w->customers, what, "customers");
}

void
flow_check_metrics(clm_conn *c, const struct flow_win *q,
        const struct flow_want *w, const char *what)
{
	Clm__V1__Response *r
	        = flow_metrics(c, q->from, q->to, q->conv, q->channel);
	flow_expect_metrics(r->metrics, w, what);
	clm_response_free(r);
}

/* Checks one cohort row: size and retained[0..n-1] (the rest 0). */
void
flow_expect_row(const Clm__V1__CohortReply *r, size_t i, int64_t start,
        uint64_t size, const double *retained, size_t n, const char *what)
{
	cr_assert_lt(i, r->n_rows, "%s: %zu rows", what, r->n_rows);
	const Clm__V1__CohortRow *row = r->rows[i];
	cr_expect_eq(row->cohort_start_ms, start,
	        "%s: rows[%zu] starts at %lld, want %lld", what, i,
	        (long long) row->cohort_start_ms, (long long) start);
	EXPECT_U64(row->size, size, what, "size");
	for (size_t k = 0; k < row->n_retained; k++) {
		double want = k < n ? retained[k] : 0;
		cr_expect(flow_near(row->retained[k], want),
		        "%s: rows[%zu].retained[%zu] = %g, want %g", what, i,
		        k, row->retained[k], want);
	}
}

/* ---------------------------------------------------------------------- */
/* Data dir                                                               */

/* Deletes meta "agg_version" from the stopped server's data dir. */
void
flow_reset_agg_version(const char *dir)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
	int rc = mdb_env_open(env, dir, 0, 0644);
	cr_assert_eq(rc, 0, "mdb_env_open '%s': %s", dir, mdb_strerror(rc));
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi meta;
	rc = mdb_dbi_open(txn, "meta", 0, &meta);
	cr_assert_eq(rc, 0, "open 'meta': %s", mdb_strerror(rc));
	MDB_val k = { strlen("agg_version"), "agg_version" };
	rc = mdb_del(txn, meta, &k, NULL);
	cr_assert_eq(rc, 0, "delete agg_version: %s", mdb_strerror(rc));
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}
