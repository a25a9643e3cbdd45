/*
 * Metrics, Cohorts, RecordSpend and experiments against real clmd
 * processes (docs/metrics.md is the contract; every expected number below
 * is worked out by hand from it, the arithmetic in the comments):
 *
 *   - late arrival: touchpoints that arrive out of event-time order give
 *     the same packed MetricsReply and CohortReply as a second clmd that
 *     received them in event-time order, and the cohorts move;
 *   - Identify: merging an anonymous profile moves customers, stages and
 *     the first touch exactly as if everything had been tracked under the
 *     customer (unique_visitors aside, which the docs allow to differ);
 *   - ForgetCustomer: customer-level figures lose the customer, touchpoint
 *     sums stay;
 *   - RecordSpend: set, not added; spend, cac, cost_per_visitor; invalid
 *     entries refused with nothing recorded;
 *   - experiments: definition, sticky and deterministic assignment,
 *     results and statistics, forget;
 *   - rebuild: with agg_version deleted, clmd rebuilds the aggregates at
 *     start and every figure is byte-identical to before (unique_visitors
 *     may count a merged anonymous visitor once instead of twice, as the
 *     docs allow), also when a customer was forgotten before;
 *   - request errors.
 *
 * Requests are built by hand and sent with clm_call.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MIN_MS  (60000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
/* 00:00 UTC of 2026-01-DD; DD may run past 31 (2026 is not a leap year). */
#define JAN(d) (1767225600000LL + ((d) -1) * DAY_MS)
#define FEB(d) JAN(31 + (d))
#define MAR(d) JAN(59 + (d))
#define APR(d) JAN(90 + (d))
/* 1999-12-31T00:00:00Z: before the 2000-01-01 limit. */
#define Y1999 946598400000LL

#define TP(x) CLM__V1__TOUCHPOINT_TYPE__##x
#define CH(x) CLM__V1__CHANNEL__##x

enum { REACH = 1, ACQUISITION, NURTURE, RETENTION, ADVOCACY };

static struct clmd_proc srv_a, srv_b;

static void
setup(void)
{
	memset(&srv_a, 0, sizeof(srv_a));
	memset(&srv_b, 0, sizeof(srv_b));
}

static void
teardown(void)
{
	clmd_cleanup(&srv_a);
	clmd_cleanup(&srv_b);
	harness_fini();
}

TestSuite(metrics_flow, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

static void
start(struct clmd_proc *p, const char *dir, const char *const *extra)
{
	int rc = clmd_start(p, dir, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", p->log_path);
}

static clm_conn *
connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 10000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

/* Sends req; asserts a reply came (whatever its status). */
static Clm__V1__Response *
call(clm_conn *c, const Clm__V1__Request *req)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_call(c, req, &resp);
	cr_assert_eq(e, CLM_OK, "transport: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	return resp;
}

static clm_err
status_of(const Clm__V1__Response *r)
{
	return r->status == NULL ? CLM_OK : (clm_err) r->status->code;
}

static const char *
message_of(const Clm__V1__Response *r)
{
	return r->status == NULL || r->status->message == NULL
	        ? ""
	        : r->status->message;
}

static void
expect_ok(const Clm__V1__Response *r, const char *what)
{
	cr_assert_eq(status_of(r), CLM_OK, "%s: %s (%s)", what,
	        clm_errname(status_of(r)), message_of(r));
}

/* INVALID_ARGUMENT with a violation naming field; releases r. */
static void
expect_invalid(Clm__V1__Response *r, const char *field, const char *what)
{
	cr_expect_eq(status_of(r), CLM_INVALID_ARGUMENT,
	        "%s: %s, want INVALID_ARGUMENT (%s)", what,
	        clm_errname(status_of(r)), message_of(r));
	bool named = false;
	if (r->status != NULL) {
		for (size_t i = 0; i < r->status->n_violations; i++) {
			named |= strcmp(r->status->violations[i]->field, field)
			        == 0;
		}
	}
	cr_expect(named, "%s: no violation names '%s' (message: %s)", what,
	        field, message_of(r));
	clm_response_free(r);
}

/* A touchpoint to track. */
struct tp {
	const char *customer; /* NULL: none */
	const char *anon;     /* NULL: none */
	const char *eid;
	Clm__V1__TouchpointType type;
	Clm__V1__Channel channel;
	int64_t at; /* 0: now */
	double value;
	uint32_t duration_s;
	float sentiment;
};

/* Tracks n touchpoints in one call; asserts every one is accepted. */
static void
track(clm_conn *c, const struct tp *t, size_t n)
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
	Clm__V1__Response *r = call(c, &req);
	expect_ok(r, "track");
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
static void
track_in_event_order(clm_conn *c, const struct tp *t, size_t n)
{
	struct tp *s = malloc(n * sizeof(*s));
	cr_assert_not_null(s);
	memcpy(s, t, n * sizeof(*s));
	for (size_t i = 1; i < n; i++) {
		struct tp x = s[i];
		size_t k = i;
		for (; k > 0 && s[k - 1].at > x.at; k--) {
			s[k] = s[k - 1];
		}
		s[k] = x;
	}
	for (size_t i = 0; i < n; i++) {
		track(c, &s[i], 1);
	}
	free(s);
}

static Clm__V1__Response *
metrics_call(clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel)
{
	Clm__V1__MetricsRequest q = CLM__V1__METRICS_REQUEST__INIT;
	q.from_ms = from;
	q.to_ms = to;
	q.conversion_window_days = conv;
	q.channel = (Clm__V1__Channel) channel;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_METRICS;
	req.metrics = &q;
	return call(c, &req);
}

static Clm__V1__Response *
metrics(clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel)
{
	Clm__V1__Response *r = metrics_call(c, from, to, conv, channel);
	expect_ok(r, "metrics");
	cr_assert_not_null(r->metrics);
	return r;
}

static Clm__V1__Response *
cohorts_call(clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods)
{
	Clm__V1__CohortRequest q = CLM__V1__COHORT_REQUEST__INIT;
	q.from_ms = from;
	q.to_ms = to;
	q.granularity = (Clm__V1__Granularity) gran;
	q.periods = periods;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_COHORTS;
	req.cohorts = &q;
	return call(c, &req);
}

static Clm__V1__Response *
cohorts(clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods)
{
	Clm__V1__Response *r = cohorts_call(c, from, to, gran, periods);
	expect_ok(r, "cohorts");
	cr_assert_not_null(r->cohorts);
	return r;
}

static Clm__V1__Response *
forget(clm_conn *c, const char *id)
{
	Clm__V1__ForgetCustomerRequest q
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	q.customer_id = (char *) id;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &q;
	Clm__V1__Response *r = call(c, &req);
	expect_ok(r, "forget");
	cr_assert_not_null(r->forget_customer);
	return r;
}

static void
identify(clm_conn *c, const char *anon, const char *customer, bool merged)
{
	Clm__V1__IdentifyRequest q = CLM__V1__IDENTIFY_REQUEST__INIT;
	q.anonymous_id = (char *) anon;
	q.customer_id = (char *) customer;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	req.identify = &q;
	Clm__V1__Response *r = call(c, &req);
	expect_ok(r, "identify");
	cr_assert_not_null(r->identify);
	cr_expect_eq(r->identify->merged, merged, "identify: merged %d",
	        r->identify->merged);
	clm_response_free(r);
}

/* One spend entry. */
struct sp {
	int channel;
	int64_t day;
	double amount;
	const char *campaign;
};

static Clm__V1__Response *
record_spend_call(clm_conn *c, const struct sp *s, size_t n)
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
	Clm__V1__Response *r = call(c, &req);
	free(ptr);
	free(sp);
	return r;
}

static void
record_spend(clm_conn *c, const struct sp *s, size_t n)
{
	Clm__V1__Response *r = record_spend_call(c, s, n);
	expect_ok(r, "record_spend");
	cr_assert_not_null(r->record_spend);
	cr_expect_eq(r->record_spend->accepted, n,
	        "record_spend: accepted %u, want %zu",
	        r->record_spend->accepted, n);
	clm_response_free(r);
}

struct variant {
	const char *name;
	uint32_t weight;
};

static Clm__V1__Response *
define_call(clm_conn *c, const char *id, const struct variant *v, size_t n,
        int goal)
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
	return call(c, &req);
}

static Clm__V1__Response *
assign_call(clm_conn *c, const char *exp, const char *customer)
{
	Clm__V1__AssignRequest q = CLM__V1__ASSIGN_REQUEST__INIT;
	q.experiment_id = (char *) exp;
	q.customer_id = (char *) customer;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_ASSIGN;
	req.assign = &q;
	return call(c, &req);
}

static Clm__V1__Response *
results_call(clm_conn *c, const char *exp)
{
	Clm__V1__ExperimentResultsRequest q
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	q.experiment_id = (char *) exp;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS;
	req.experiment_results = &q;
	return call(c, &req);
}

/* ---------------------------------------------------------------------- */
/* Comparing replies                                                      */

/* A readable digest of a MetricsReply, for failure messages. */
static void
metrics_digest(const Clm__V1__MetricsReply *m, char *buf, size_t n)
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

static void
cohort_digest(const Clm__V1__CohortReply *r, char *buf, size_t n)
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
pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	cr_assert_not_null(b);
	protobuf_c_message_pack(m, b);
	return b;
}

static bool
same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t na, nb;
	uint8_t *ba = pack(a, &na), *bb = pack(b, &nb);
	bool same = na == nb && memcmp(ba, bb, na) == 0;
	free(ba);
	free(bb);
	return same;
}

/*
 * A MetricsReply packed, with unique_visitors (and page_views_per_visitor,
 * which divides by it) zeroed when mask_visitors.
 */
static bool
same_metrics(const Clm__V1__MetricsReply *a, const Clm__V1__MetricsReply *b,
        bool mask_visitors)
{
	Clm__V1__MetricsReply ca = *a, cb = *b;
	if (mask_visitors) {
		ca.unique_visitors = cb.unique_visitors = 0;
		ca.page_views_per_visitor = cb.page_views_per_visitor = 0;
	}
	return same_bytes(&ca.base, &cb.base);
}

/* A Metrics request. */
struct win {
	int64_t from, to;
	uint32_t conv;
	int channel;
};

static void
expect_same_metrics(clm_conn *ca, clm_conn *cb, const struct win *w,
        bool mask_visitors, const char *what)
{
	Clm__V1__Response *ra
	        = metrics(ca, w->from, w->to, w->conv, w->channel);
	Clm__V1__Response *rb
	        = metrics(cb, w->from, w->to, w->conv, w->channel);
	if (!same_metrics(ra->metrics, rb->metrics, mask_visitors)) {
		char da[2048], db[2048];
		metrics_digest(ra->metrics, da, sizeof(da));
		metrics_digest(rb->metrics, db, sizeof(db));
		cr_expect_fail("%s: metrics [day %lld, day %lld) conv %u "
		               "channel %d differ\n  %s\n  %s",
		        what, (long long) (w->from / DAY_MS),
		        (long long) (w->to / DAY_MS), w->conv, w->channel, da,
		        db);
	}
	clm_response_free(ra);
	clm_response_free(rb);
}

/* A Cohorts request. */
struct cwin {
	int64_t from, to;
	int gran;
	uint32_t periods;
};

static void
expect_same_cohorts(
        clm_conn *ca, clm_conn *cb, const struct cwin *w, const char *what)
{
	Clm__V1__Response *ra
	        = cohorts(ca, w->from, w->to, w->gran, w->periods);
	Clm__V1__Response *rb
	        = cohorts(cb, w->from, w->to, w->gran, w->periods);
	if (!same_bytes(&ra->cohorts->base, &rb->cohorts->base)) {
		char da[2048], db[2048];
		cohort_digest(ra->cohorts, da, sizeof(da));
		cohort_digest(rb->cohorts, db, sizeof(db));
		cr_expect_fail("%s: cohorts gran %d from day %lld differ\n  "
		               "%s\n  %s",
		        what, w->gran, (long long) (w->from / DAY_MS), da, db);
	}
	clm_response_free(ra);
	clm_response_free(rb);
}

/* ---------------------------------------------------------------------- */
/* Expected figures                                                       */

static bool
near(double got, double want)
{
	return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want));
}

static double
ratio(double num, double den)
{
	return den == 0 ? 0 : num / den;
}

#define EXPECT_DBL(got, want, what, field)                                   \
	cr_expect(near((got), (want)), "%s: %s = %.12g, want %.12g", (what), \
	        (field), (double) (got), (double) (want))
#define EXPECT_U64(got, want, what, field)                   \
	cr_expect_eq((uint64_t) (got), (uint64_t) (want),    \
	        "%s: %s = %llu, want %llu", (what), (field), \
	        (unsigned long long) (got), (unsigned long long) (want))

struct want_channel {
	int ch;
	double spend;
	uint64_t nv, ft, lt;
};

/*
 * A whole MetricsReply by hand; what is not set is 0. Stages and
 * conversions are indexed 0..4 (REACH..ADVOCACY; the five conversions in
 * MetricsReply order).
 */
struct want {
	uint64_t current[5], entered[5], at_risk[5], churned[5];
	uint64_t cohort[5], converted[5];
	double retention_rate, repeat_rate, referral_rate, churn_rate;
	double revenue, refunds, ltv;
	uint64_t orders;
	uint64_t impressions, clicks, site_visits, page_views;
	uint64_t unique_visitors;
	bool any_visitors; /* unique_visitors not checked */
	double visit_seconds;
	struct want_channel ch[8];
	size_t n_ch;
	uint64_t positive, neutral, negative, tickets, billing;
	uint64_t customers;
};

static void
expect_metrics(
        const Clm__V1__MetricsReply *m, const struct want *w, const char *what)
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
		        ratio((double) (w->at_risk[i] + w->churned[i]),
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
		        ratio((double) w->converted[i], (double) w->cohort[i]),
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
	        ratio(w->revenue + w->refunds, (double) w->orders), what,
	        "average_order_value");
	EXPECT_DBL(m->refunds_value, w->refunds, what, "refunds_value");
	EXPECT_DBL(m->ltv, w->ltv, what, "ltv");
	EXPECT_U64(m->ad_impressions, w->impressions, what, "ad_impressions");
	EXPECT_U64(m->ad_clicks, w->clicks, what, "ad_clicks");
	EXPECT_DBL(m->click_through_rate,
	        ratio((double) w->clicks, (double) w->impressions), what,
	        "click_through_rate");
	EXPECT_U64(m->site_visits, w->site_visits, what, "site_visits");
	EXPECT_U64(m->page_views, w->page_views, what, "page_views");
	if (!w->any_visitors) {
		EXPECT_U64(m->unique_visitors, w->unique_visitors, what,
		        "unique_visitors");
		EXPECT_DBL(m->page_views_per_visitor,
		        ratio((double) w->page_views,
		                (double) w->unique_visitors),
		        what, "page_views_per_visitor");
	}
	EXPECT_DBL(m->avg_time_on_site_s,
	        ratio(w->visit_seconds, (double) w->site_visits), what,
	        "avg_time_on_site_s");

	cr_expect_eq(m->n_channels, w->n_ch, "%s: %zu channel rows, want %zu",
	        what, m->n_channels, w->n_ch);
	for (size_t i = 0; i < m->n_channels && i < w->n_ch; i++) {
		const Clm__V1__ChannelMetric *c = m->channels[i];
		const struct want_channel *x = &w->ch[i];
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
		EXPECT_DBL(c->cac, ratio(x->spend, (double) x->ft), what, f);
		snprintf(f, sizeof(f), "channel %d cost_per_visitor", x->ch);
		EXPECT_DBL(c->cost_per_visitor,
		        ratio(x->spend, (double) x->nv), what, f);
	}
	cr_assert_not_null(m->sentiment, "%s: no sentiment", what);
	EXPECT_U64(m->sentiment->positive, w->positive, what, "positive");
	EXPECT_U64(m->sentiment->neutral, w->neutral, what, "neutral");
	EXPECT_U64(m->sentiment->negative, w->negative, what, "negative");
	EXPECT_DBL(m->sentiment->negative_share,
	        ratio((double) w->negative,
	                (double) (w->positive + w->neutral + w->negative)),
	        what, "negative_share");
	EXPECT_U64(m->support_tickets, w->tickets, what, "support_tickets");
	EXPECT_U64(m->billing_issues, w->billing, what, "billing_issues");
	EXPECT_U64(m->customers, w->customers, what, "customers");
}

static void
check_metrics(clm_conn *c, const struct win *q, const struct want *w,
        const char *what)
{
	Clm__V1__Response *r = metrics(c, q->from, q->to, q->conv, q->channel);
	expect_metrics(r->metrics, w, what);
	clm_response_free(r);
}

/* Checks one cohort row: size and retained[0..n-1] (the rest 0). */
static void
expect_row(const Clm__V1__CohortReply *r, size_t i, int64_t start,
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
		cr_expect(near(row->retained[k], want),
		        "%s: rows[%zu].retained[%zu] = %g, want %g", what, i,
		        k, row->retained[k], want);
	}
}

/* ---------------------------------------------------------------------- */
/* Data sets                                                              */

/*
 * Late arrival. C's purchase of Jan 10 arrives first; its purchase of
 * Jan 5 and visit of Jan 7 arrive in a later call. D is on time.
 */
static const struct tp late_first[] = {
	{ "cust-c", NULL, "c-p10", TP(PURCHASE), CH(EMAIL),
	        JAN(10) + 12 * HOUR_MS, 30, 0, 0 },
	{ "cust-d", NULL, "d-sv3", TP(SITE_VISIT), CH(ORGANIC_SEARCH),
	        JAN(3) + 12 * HOUR_MS, 0, 120, 0 },
	{ "cust-d", NULL, "d-p10", TP(PURCHASE), CH(PAID_ADS),
	        JAN(10) + 15 * HOUR_MS, 50, 0, 0 },
};
static const struct tp late_second[] = {
	{ "cust-c", NULL, "c-p5", TP(PURCHASE), CH(PAID_ADS),
	        JAN(5) + 12 * HOUR_MS, 20, 0, 0 },
	{ "cust-c", NULL, "c-sv7", TP(SITE_VISIT), CH(ORGANIC_SEARCH),
	        JAN(7) + 12 * HOUR_MS, 0, 60, 0 },
};

/*
 * Identify. An anonymous visitor (two visits and a cart add on
 * ORGANIC_SOCIAL), a known customer (a DIRECT visit, then a purchase by
 * EMAIL); after Identify, a page view carrying only the anonymous id.
 */
#define ANON  "anon-v1"
#define KNOWN "known-k"
static const struct tp anon_visits[] = {
	{ NULL, ANON, "a-sv3", TP(SITE_VISIT), CH(ORGANIC_SOCIAL),
	        JAN(3) + 10 * HOUR_MS, 0, 30, 0 },
	{ NULL, ANON, "a-sv4", TP(SITE_VISIT), CH(ORGANIC_SOCIAL),
	        JAN(4) + 10 * HOUR_MS, 0, 45, 0 },
	{ NULL, ANON, "a-atc4", TP(ADD_TO_CART), CH(ORGANIC_SOCIAL),
	        JAN(4) + 10 * HOUR_MS + 5 * MIN_MS, 0, 0, 0 },
};
static const struct tp known_own[] = {
	{ KNOWN, NULL, "k-sv6", TP(SITE_VISIT), CH(DIRECT),
	        JAN(6) + 11 * HOUR_MS, 0, 10, 0 },
	{ KNOWN, NULL, "k-p6", TP(PURCHASE), CH(EMAIL), JAN(6) + 12 * HOUR_MS,
	        40, 0, 0 },
};
static const struct tp anon_after[] = {
	{ NULL, ANON, "a-pv8", TP(PAGE_VIEW), CH(ORGANIC_SOCIAL),
	        JAN(8) + 9 * HOUR_MS, 0, 0, 0 },
};

/* Forget: fx (advocate), fy (nurture), fz (reach). */
static const struct tp forget_tps[] = {
	{ "fx", NULL, "fx-p5", TP(PURCHASE), CH(EMAIL), JAN(5) + 10 * HOUR_MS,
	        25, 0, 0 },
	{ "fx", NULL, "fx-r6", TP(REFERRAL), CH(EMAIL), JAN(6) + 10 * HOUR_MS,
	        0, 0, 0 },
	{ "fx", NULL, "fx-sv6", TP(SITE_VISIT), CH(DIRECT),
	        JAN(6) + 11 * HOUR_MS, 0, 20, 0 },
	{ "fy", NULL, "fy-p5", TP(PURCHASE), CH(EMAIL), JAN(5) + 12 * HOUR_MS,
	        15, 0, 0 },
	{ "fy", NULL, "fy-sv7", TP(SITE_VISIT), CH(DIRECT),
	        JAN(7) + 12 * HOUR_MS, 0, 40, 0 },
	{ "fz", NULL, "fz-sv4", TP(SITE_VISIT), CH(DIRECT),
	        JAN(4) + 12 * HOUR_MS, 0, 60, 0 },
};

/*
 * Spend: sp1 first touched by PAID_ADS, buys by EMAIL; sp2 a PAID_ADS
 * visitor; sp3 first touched by ORGANIC_SEARCH, buys by PAID_ADS.
 */
static const struct tp spend_tps[] = {
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
static const struct sp spend_first[] = {
	{ CH(PAID_ADS), JAN(5), 100, "a" },
	{ CH(PAID_ADS), JAN(5) + 5 * HOUR_MS, 50, "b" }, /* same day */
	{ CH(PAID_ADS), JAN(6), 70, "a" },
	{ CH(PAID_ADS), JAN(7) + 15 * HOUR_MS, 30, "" },
	{ CH(EMAIL), JAN(20), 12.5, "news" },
};
/* Jan 6 "a" again, 90 instead of 70. */
static const struct sp spend_again[] = {
	{ CH(PAID_ADS), JAN(6) + HOUR_MS, 90, "a" },
};

/* Everything else a figure is made of (used by the rebuild tests). */
static const struct tp misc_tps[] = {
	{ "m1", NULL, "m1-ai2", TP(AD_IMPRESSION), CH(PAID_ADS),
	        JAN(2) + 8 * HOUR_MS, 0, 0, 0 },
	{ "m1", NULL, "m1-ac2", TP(AD_CLICK), CH(PAID_ADS),
	        JAN(2) + 9 * HOUR_MS, 0, 0, 0 },
	{ "m1", NULL, "m1-p3", TP(PURCHASE), CH(PAID_ADS),
	        JAN(3) + 9 * HOUR_MS, 80, 0, 0 },
	{ "m1", NULL, "m1-rf4", TP(REFUND), CH(PAID_ADS), JAN(4) + 9 * HOUR_MS,
	        30, 0, 0 },
	{ "m1", NULL, "m1-rv5", TP(REVIEW), CH(EMAIL), JAN(5) + 9 * HOUR_MS, 0,
	        0, -0.8f },
	{ "m1", NULL, "m1-cx6", TP(CANCELLATION), CH(EMAIL),
	        JAN(6) + 9 * HOUR_MS, 0, 0, 0 },
	{ "m2", NULL, "m2-pv2", TP(PAGE_VIEW), CH(DIRECT),
	        JAN(2) + 9 * HOUR_MS, 0, 0, 0 },
	{ "m2", NULL, "m2-st3", TP(SUPPORT_TICKET), CH(SUPPORT),
	        JAN(3) + 9 * HOUR_MS, 0, 0, 0 },
	{ "m2", NULL, "m2-bi3", TP(BILLING_ISSUE), CH(SUPPORT),
	        JAN(3) + 10 * HOUR_MS, 0, 0, 0 },
	{ "m2", NULL, "m2-p20", TP(PURCHASE), CH(DIRECT),
	        JAN(20) + 9 * HOUR_MS, 15, 0, 0 },
	{ "m2", NULL, "m2-fb21", TP(FEEDBACK), CH(EMAIL),
	        JAN(21) + 9 * HOUR_MS, 0, 0, 0.6f },
	{ "m2", NULL, "m2-p40", TP(PURCHASE), CH(DIRECT), FEB(9) + 9 * HOUR_MS,
	        15, 0, 0 },
	{ "m3", NULL, "m3-sm9", TP(SOCIAL_MENTION), CH(ORGANIC_SOCIAL),
	        JAN(9) + 9 * HOUR_MS, 0, 0, 0.1f },
	{ "m3", NULL, "m3-p9", TP(PURCHASE), CH(ORGANIC_SOCIAL),
	        JAN(9) + 10 * HOUR_MS, 22.75, 0, 0 },
	{ "m3", NULL, "m3-p16", TP(PURCHASE), CH(ORGANIC_SOCIAL),
	        JAN(16) + 10 * HOUR_MS, 22.75, 0, 0 },
	{ "m3", NULL, "m3-rl17", TP(REFERRAL), CH(REFERRAL_LINK),
	        JAN(17) + 10 * HOUR_MS, 0, 0, 0 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Windows compared between two servers, or before and after a restart. */
static const struct win compare_windows[] = {
	{ JAN(1), JAN(8), 0, 0 },
	{ JAN(8), JAN(15), 0, 0 },
	{ JAN(1), FEB(1), 0, 0 },
	{ JAN(1), FEB(1), 3, 0 },
	{ JAN(1), FEB(1), 1, 0 },
	{ JAN(5), JAN(6), 0, 0 },
	{ JAN(3), JAN(5), 0, 0 },
	{ JAN(6), JAN(7), 0, 0 },
	{ FEB(15), MAR(1), 0, 0 },
	{ APR(10), APR(20), 0, 0 },
	{ JAN(1), FEB(1), 0, CH(PAID_ADS) },
	{ JAN(1), FEB(1), 0, CH(ORGANIC_SEARCH) },
	{ JAN(1), FEB(1), 0, CH(ORGANIC_SOCIAL) },
	{ JAN(1), FEB(1), 0, CH(EMAIL) },
	{ JAN(1) - 400 * DAY_MS, MAR(1), 45, 0 },
};
/* Which of them hold visits of ANON, later merged into KNOWN. */
static const bool compare_merged[N(compare_windows)]
        = { true, false, true, true, true, false, true, false, false, false,
	          false, false, true, false, true };
static const struct cwin compare_cohorts[] = {
	{ JAN(1), JAN(15), CLM__V1__GRANULARITY__DAY, 10 },
	{ JAN(1), FEB(15), CLM__V1__GRANULARITY__DAY, 60 },
	{ JAN(1), FEB(15), CLM__V1__GRANULARITY__WEEK, 8 },
	{ JAN(1) - 30 * DAY_MS, APR(1), CLM__V1__GRANULARITY__MONTH, 4 },
	{ JAN(1), MAR(1), CLM__V1__GRANULARITY__GRANULARITY_UNSPECIFIED, 0 },
};

/* ---------------------------------------------------------------------- */
/* 1. Late arrival                                                        */

Test(metrics_flow, late_arrival_equals_event_order)
{
	start(&srv_a, NULL, NULL);
	start(&srv_b, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	clm_conn *b = connect_to(&srv_b);

	track(a, late_first, N(late_first));

	/*
	 * Before the late touchpoints, on A. C: one purchase, Jan 10 12:00,
	 * EMAIL: ACQUISITION at Jan 10 (REACH at the same instant: no
	 * history entry). D: visit Jan 3 12:00 (ORGANIC_SEARCH, 120 s),
	 * purchase Jan 10 15:00 (PAID_ADS, 50): history REACH Jan 3,
	 * ACQUISITION Jan 10. Both ACQUISITION now.
	 */
	{
		/* [Jan 1, Jan 8): D's REACH entry only; REACH->ACQUISITION
		 * cohort {D}, lag 7 d 3 h <= 30 d: converted. No purchase
		 * before Jan 8: the four rates 0. D's visit: 1 visit, 120 s.
		 * D's first touch on ORGANIC_SEARCH: a new visitor. */
		struct want w = {
			.current = { 0, 2, 0, 0, 0 },
			.entered = { 1, 0, 0, 0, 0 },
			.cohort = { 1, 0, 0, 0, 1 },
			.converted = { 1, 0, 0, 0, 0 },
			.ltv = (30.0 + 50.0) / 2, /* all-time / buyers */
			.site_visits = 1,
			.unique_visitors = 1,
			.visit_seconds = 120,
			.ch = { { CH(ORGANIC_SEARCH), 0, 1, 0, 0 } },
			.n_ch = 1,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { JAN(1), JAN(8), 0, 0 }, &w,
		        "A before, [Jan 1, Jan 8)");
	}
	{
		/* [Jan 8, Jan 15): ACQUISITION entered by C and D (Jan 10);
		 * REACH->ACQ cohort {C} (reached REACH Jan 10), lag 0;
		 * ACQ->NURTURE cohort {C, D}, none converted; REACH->ADV
		 * cohort {C}; ACQ->RETENTION cohort {C, D}: 0. Buyers before
		 * Jan 15: 2, none repeats. Orders: 30 + 50. Channels: C first
		 * touch and first purchase EMAIL (nv, ft, lt); D first
		 * touch ORGANIC_SEARCH (ft), first purchase PAID_ADS (lt). */
		struct want w = {
			.current = { 0, 2, 0, 0, 0 },
			.entered = { 0, 2, 0, 0, 0 },
			.cohort = { 1, 2, 0, 0, 1 },
			.converted = { 1, 0, 0, 0, 0 },
			.revenue = 80,
			.orders = 2,
			.ltv = 40,
			.ch = { { CH(PAID_ADS), 0, 0, 0, 1 },
			        { CH(ORGANIC_SEARCH), 0, 0, 1, 0 },
			        { CH(EMAIL), 0, 1, 1, 1 } },
			.n_ch = 3,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { JAN(8), JAN(15), 0, 0 }, &w,
		        "A before, [Jan 8, Jan 15)");
	}
	{
		/* Day cohorts from Jan 1, 10 periods: 14 rows; Jan 10 holds
		 * C and D (index 9), Jan 5 (index 4) is empty. */
		Clm__V1__Response *r = cohorts(
		        a, JAN(1), JAN(15), CLM__V1__GRANULARITY__DAY, 10);
		cr_expect_eq(r->cohorts->n_rows, 14);
		static const double one[] = { 1 };
		expect_row(r->cohorts, 4, JAN(5), 0, NULL, 0, "A before");
		expect_row(r->cohorts, 9, JAN(10), 2, one, 1, "A before");
		clm_response_free(r);
	}

	track(a, late_second, N(late_second));

	/* B gets the same five touchpoints one by one in event order. */
	struct tp all[N(late_first) + N(late_second)];
	memcpy(all, late_first, sizeof(late_first));
	memcpy(all + N(late_first), late_second, sizeof(late_second));
	track_in_event_order(b, all, N(all));

	for (size_t i = 0; i < N(compare_windows); i++) {
		expect_same_metrics(
		        a, b, &compare_windows[i], false, "late vs in order");
	}
	for (size_t i = 0; i < N(compare_cohorts); i++) {
		expect_same_cohorts(
		        a, b, &compare_cohorts[i], "late vs in order");
	}

	/*
	 * After, on A. C: purchase Jan 5 12:00 (PAID_ADS, 20), visit Jan 7
	 * 12:00 (ORGANIC_SEARCH, 60 s), purchase Jan 10 12:00 (EMAIL, 30).
	 * first_seen Jan 5 12:00, first touch and first purchase PAID_ADS.
	 * reached_at: REACH = ACQUISITION = Jan 5 12:00; NURTURE = first
	 * engagement after the first purchase = Jan 7 12:00; RETENTION =
	 * second purchase = Jan 10 12:00; no ADVOCACY. History: ACQUISITION
	 * Jan 5, NURTURE Jan 7, RETENTION Jan 10. C is RETENTION, D
	 * ACQUISITION. All-time revenue 20 + 30 + 50 = 100 over 2 buyers:
	 * ltv 50.
	 */
	{
		/* [Jan 1, Jan 8), as of Jan 8: entered REACH (D Jan 3),
		 * ACQUISITION (C Jan 5), NURTURE (C Jan 7).
		 * REACH->ACQ: {C, D}, lags 0 and 7 d 3 h: 2 of 2.
		 * ACQ->NURTURE: {C}, lag 2 d. NURTURE->RETENTION: {C}, lag
		 * 3 d. RETENTION->ADVOCACY: nobody. REACH->ADV: {C, D}, 0.
		 * ACQ->RETENTION: {C}, lag 5 d: 1.0. Buyers before Jan 8:
		 * C (1 purchase): repeat 0. Money: C's 20. Visits: D 120 s,
		 * C 60 s. Channels: C new visitor, first and last touch on
		 * PAID_ADS; D new visitor on ORGANIC_SEARCH. */
		struct want w = {
			.current = { 0, 1, 0, 1, 0 },
			.entered = { 1, 1, 1, 0, 0 },
			.cohort = { 2, 1, 1, 0, 2 },
			.converted = { 2, 1, 1, 0, 0 },
			.retention_rate = 1,
			.revenue = 20,
			.orders = 1,
			.ltv = 50,
			.site_visits = 2,
			.unique_visitors = 2,
			.visit_seconds = 180,
			.ch = { { CH(PAID_ADS), 0, 1, 1, 1 },
			        { CH(ORGANIC_SEARCH), 0, 1, 0, 0 } },
			.n_ch = 2,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { JAN(1), JAN(8), 0, 0 }, &w,
		        "A after, [Jan 1, Jan 8)");
		/* Conversion window 3 days: D's lag 7 d 3 h > 3 d is out;
		 * NURTURE->RETENTION lag exactly 3 d is in ("at most");
		 * ACQ->RETENTION lag 5 d is out. */
		w.converted[0] = 1;
		w.retention_rate = 0;
		check_metrics(a, &(struct win) { JAN(1), JAN(8), 3, 0 }, &w,
		        "A after, [Jan 1, Jan 8), 3 days");
	}
	{
		/* [Jan 8, Jan 15), as of Jan 15: entered ACQUISITION (D Jan
		 * 10), RETENTION (C Jan 10). REACH->ACQ: nobody reached REACH
		 * here. ACQ->NURTURE: {D}, 0. RETENTION->ADVOCACY: {C}, 0.
		 * ACQ->RETENTION: {D}, 0. Buyers before Jan 15: C, D; C has 2
		 * purchases: repeat 1/2. Money: 30 + 50. Channels: D's first
		 * purchase (Jan 10) first touch ORGANIC_SEARCH, last touch
		 * PAID_ADS; C's first purchase is now Jan 5, outside. */
		struct want w = {
			.current = { 0, 1, 0, 1, 0 },
			.entered = { 0, 1, 0, 1, 0 },
			.cohort = { 0, 1, 0, 1, 0 },
			.converted = { 0, 0, 0, 0, 0 },
			.repeat_rate = 0.5,
			.revenue = 80,
			.orders = 2,
			.ltv = 50,
			.ch = { { CH(PAID_ADS), 0, 0, 0, 1 },
			        { CH(ORGANIC_SEARCH), 0, 0, 1, 0 } },
			.n_ch = 2,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { JAN(8), JAN(15), 0, 0 }, &w,
		        "A after, [Jan 8, Jan 15)");
	}
	{
		/* [Jan 1, Feb 1), as of Feb 1 (last seen Jan 10: 21.5 days,
		 * ACTIVE). Entered: REACH 1, ACQ 2, NURTURE 1, RETENTION 1.
		 * REACH->ACQ {C, D} 2; ACQ->NURTURE {C, D} 1; NURTURE->RET
		 * {C} 1; RET->ADV {C} 0; REACH->ADV {C, D} 0; ACQ->RET {C, D}
		 * 1: 0.5. Repeat 1/2. Money 20 + 30 + 50 = 100, 3 orders.
		 * Channels: PAID_ADS nv C, ft C, lt C and D; ORGANIC_SEARCH
		 * nv D, ft D. */
		struct want w = {
			.current = { 0, 1, 0, 1, 0 },
			.entered = { 1, 2, 1, 1, 0 },
			.cohort = { 2, 2, 1, 1, 2 },
			.converted = { 2, 1, 1, 0, 0 },
			.retention_rate = 0.5,
			.repeat_rate = 0.5,
			.revenue = 100,
			.orders = 3,
			.ltv = 50,
			.site_visits = 2,
			.unique_visitors = 2,
			.visit_seconds = 180,
			.ch = { { CH(PAID_ADS), 0, 1, 1, 2 },
			        { CH(ORGANIC_SEARCH), 0, 1, 1, 0 } },
			.n_ch = 2,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { JAN(1), FEB(1), 0, 0 }, &w,
		        "A after, [Jan 1, Feb 1)");
		/* Channel PAID_ADS: touchpoint figures of PAID_ADS only (C's
		 * 20 and D's 50; both visits were ORGANIC_SEARCH), and only
		 * its channel row; customer-level figures unchanged. */
		w.revenue = 70;
		w.orders = 2;
		w.site_visits = 0;
		w.unique_visitors = 0;
		w.visit_seconds = 0;
		w.n_ch = 1;
		check_metrics(a,
		        &(struct win) { JAN(1), FEB(1), 0, CH(PAID_ADS) }, &w,
		        "A after, [Jan 1, Feb 1), PAID_ADS");
	}
	{
		/* [Feb 15, Mar 1), as of Mar 1: C last seen Jan 10 12:00
		 * (49.5 days), D Jan 10 15:00 (49.4 days): > 30, <= 90:
		 * AT_RISK both. Nothing entered or reached; no money. */
		struct want w = {
			.current = { 0, 1, 0, 1, 0 },
			.at_risk = { 0, 1, 0, 1, 0 },
			.repeat_rate = 0.5,
			.ltv = 50,
			.customers = 2,
		};
		check_metrics(a, &(struct win) { FEB(15), MAR(1), 0, 0 }, &w,
		        "A after, [Feb 15, Mar 1)");
		/* [Apr 10, Apr 20), as of Apr 20: 99.5 and 99.4 days > 90:
		 * CHURNED; churn_rate 2 / 2. */
		memset(w.at_risk, 0, sizeof(w.at_risk));
		w.churned[ACQUISITION - 1] = 1;
		w.churned[RETENTION - 1] = 1;
		w.churn_rate = 1;
		check_metrics(a, &(struct win) { APR(10), APR(20), 0, 0 }, &w,
		        "A after, [Apr 10, Apr 20)");
	}
	{
		/* Day cohorts: C's cohort is Jan 5 now, with a purchase 5
		 * days later (Jan 10); D alone on Jan 10. */
		Clm__V1__Response *r = cohorts(
		        a, JAN(1), JAN(15), CLM__V1__GRANULARITY__DAY, 10);
		cr_expect_eq(r->cohorts->n_rows, 14);
		static const double c_ret[] = { 1, 0, 0, 0, 0, 1 };
		static const double one[] = { 1 };
		expect_row(r->cohorts, 4, JAN(5), 1, c_ret, 6, "A after");
		expect_row(r->cohorts, 9, JAN(10), 1, one, 1, "A after");
		for (size_t i = 0; i < r->cohorts->n_rows; i++) {
			if (i != 4 && i != 9) {
				EXPECT_U64(r->cohorts->rows[i]->size, 0,
				        "A after", "other row size");
			}
		}
		clm_response_free(r);
		/* Weeks: Jan 5 2026 is a Monday; C (Jan 5, Jan 10) and D
		 * (Jan 10) are in its week, k = 0 only. */
		r = cohorts(a, JAN(1), FEB(1), CLM__V1__GRANULARITY__WEEK, 4);
		cr_expect_eq(r->cohorts->n_rows, 4); /* Jan 5, 12, 19, 26 */
		expect_row(r->cohorts, 0, JAN(5), 2, one, 1, "A after, weeks");
		clm_response_free(r);
	}
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* 2. Identify                                                            */

/* The touchpoints of tps as the known customer's own. */
static void
track_as_known(clm_conn *c, const struct tp *tps, size_t n)
{
	struct tp *t = malloc(n * sizeof(*t));
	cr_assert_not_null(t);
	for (size_t i = 0; i < n; i++) {
		t[i] = tps[i];
		t[i].customer = KNOWN;
		t[i].anon = NULL;
	}
	track(c, t, n);
	free(t);
}

Test(metrics_flow, identify_merge)
{
	start(&srv_a, NULL, NULL);
	start(&srv_b, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	clm_conn *b = connect_to(&srv_b);

	track(a, anon_visits, N(anon_visits));
	track(a, known_own, N(known_own));
	const struct win all = { JAN(1), JAN(15), 0, 0 };
	{
		/* Before Identify, two customers. The anonymous profile:
		 * REACH Jan 3, first touch ORGANIC_SOCIAL. K: visit Jan 6
		 * 11:00 (DIRECT), purchase 12:00 (EMAIL), no engagement after
		 * it: ACQUISITION; history REACH Jan 6 11:00, ACQUISITION
		 * 12:00. REACH->ACQ cohort {anon, K}, K converted (lag 1 h);
		 * ACQ->NURTURE {K} 0; REACH->ADV {anon, K} 0; ACQ->RET {K} 0.
		 * Visits 30 + 45 + 10 s by 2 visitors. */
		struct want w = {
			.current = { 1, 1, 0, 0, 0 },
			.entered = { 2, 1, 0, 0, 0 },
			.cohort = { 2, 1, 0, 0, 2 },
			.converted = { 1, 0, 0, 0, 0 },
			.revenue = 40,
			.orders = 1,
			.ltv = 40,
			.site_visits = 3,
			.unique_visitors = 2,
			.visit_seconds = 85,
			.ch = { { CH(DIRECT), 0, 1, 1, 0 },
			        { CH(ORGANIC_SOCIAL), 0, 1, 0, 0 },
			        { CH(EMAIL), 0, 0, 0, 1 } },
			.n_ch = 3,
			.customers = 2,
		};
		check_metrics(a, &all, &w, "before identify");
	}

	identify(a, ANON, KNOWN, true);
	{
		/* One customer: first_seen Jan 3 10:00 on ORGANIC_SOCIAL
		 * (the merged profile's first touch), purchase Jan 6 12:00
		 * by EMAIL; the last engagement (Jan 6 11:00) is before it:
		 * ACQUISITION. History REACH Jan 3, ACQUISITION Jan 6.
		 * REACH->ACQ {K}, lag 3 d 2 h: 1 of 1. DIRECT loses its new
		 * visitor and first touch; ORGANIC_SOCIAL gains the first
		 * touch. Touchpoint sums are the same; unique_visitors may
		 * count the anonymous id and K both (docs). */
		struct want w = {
			.current = { 0, 1, 0, 0, 0 },
			.entered = { 1, 1, 0, 0, 0 },
			.cohort = { 1, 1, 0, 0, 1 },
			.converted = { 1, 0, 0, 0, 0 },
			.revenue = 40,
			.orders = 1,
			.ltv = 40,
			.site_visits = 3,
			.any_visitors = true,
			.visit_seconds = 85,
			.ch = { { CH(ORGANIC_SOCIAL), 0, 1, 1, 0 },
			        { CH(EMAIL), 0, 0, 0, 1 } },
			.n_ch = 2,
			.customers = 1,
		};
		check_metrics(a, &all, &w, "after identify");
		Clm__V1__Response *r = metrics(a, all.from, all.to, 0, 0);
		cr_expect(r->metrics->unique_visitors == 1
		                || r->metrics->unique_visitors == 2,
		        "after identify: unique_visitors %llu",
		        (unsigned long long) r->metrics->unique_visitors);
		clm_response_free(r);
		/* [Jan 6, Jan 7): no new visitor any more (first touch is
		 * Jan 3); K's first purchase is counted under
		 * ORGANIC_SOCIAL (first touch) and EMAIL (last touch). */
		struct want d6 = {
			.current = { 0, 1, 0, 0, 0 },
			.entered = { 0, 1, 0, 0, 0 },
			.cohort = { 0, 1, 0, 0, 0 },
			.revenue = 40,
			.orders = 1,
			.ltv = 40,
			.site_visits = 1,
			.any_visitors = true,
			.visit_seconds = 10,
			.ch = { { CH(ORGANIC_SOCIAL), 0, 0, 1, 0 },
			        { CH(EMAIL), 0, 0, 0, 1 } },
			.n_ch = 2,
			.customers = 1,
		};
		check_metrics(a, &(struct win) { JAN(6), JAN(7), 0, 0 }, &d6,
		        "after identify, [Jan 6, Jan 7)");
	}

	/* The anonymous id now stands for K: a page view on Jan 8 is an
	 * engagement after the first purchase: NURTURE (Jan 8). */
	track(a, anon_after, N(anon_after));
	{
		struct want w = {
			.current = { 0, 0, 1, 0, 0 },
			.entered = { 1, 1, 1, 0, 0 },
			/* ACQ->NURTURE {K}, lag 1 d 21 h. */
			.cohort = { 1, 1, 1, 0, 1 },
			.converted = { 1, 1, 0, 0, 0 },
			.revenue = 40,
			.orders = 1,
			.ltv = 40,
			.site_visits = 3,
			.page_views = 1,
			.any_visitors = true,
			.visit_seconds = 85,
			.ch = { { CH(ORGANIC_SOCIAL), 0, 1, 1, 0 },
			        { CH(EMAIL), 0, 0, 0, 1 } },
			.n_ch = 2,
			.customers = 1,
		};
		check_metrics(a, &all, &w, "after the aliased page view");
	}

	/* B: the same touchpoints, in the same order, under K directly. */
	track_as_known(b, anon_visits, N(anon_visits));
	track(b, known_own, N(known_own));
	track_as_known(b, anon_after, N(anon_after));
	for (size_t i = 0; i < N(compare_windows); i++) {
		expect_same_metrics(
		        a, b, &compare_windows[i], true, "merged vs direct");
	}
	for (size_t i = 0; i < N(compare_cohorts); i++) {
		expect_same_cohorts(
		        a, b, &compare_cohorts[i], "merged vs direct");
	}
	/* B saw one visitor id only. */
	Clm__V1__Response *r = metrics(b, all.from, all.to, 0, 0);
	EXPECT_U64(
	        r->metrics->unique_visitors, 1, "direct", "unique_visitors");
	clm_response_free(r);
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* 3. Forget                                                              */

Test(metrics_flow, forget_keeps_touchpoint_sums)
{
	start(&srv_a, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	track(a, forget_tps, N(forget_tps));
	const struct win all = { JAN(1), JAN(15), 0, 0 };
	/*
	 * fx: purchase Jan 5 10:00 (EMAIL, 25), referral Jan 6 10:00,
	 * visit Jan 6 11:00 (DIRECT, 20 s): ADVOCACY. reached_at: REACH =
	 * ACQ = Jan 5 10:00; ADVOCACY = max(first purchase, first
	 * referral) = Jan 6 10:00; RETENTION = min(no second purchase,
	 * ADVOCACY) = Jan 6 10:00; NURTURE = min(visit Jan 6 11:00,
	 * RETENTION) = Jan 6 10:00. History: ACQUISITION Jan 5, ADVOCACY
	 * Jan 6 (NURTURE and RETENTION at the same instant: no entries).
	 * fy: purchase Jan 5 12:00 (EMAIL, 15), visit Jan 7 (DIRECT, 40 s):
	 * NURTURE; history ACQUISITION Jan 5, NURTURE Jan 7.
	 * fz: visit Jan 4 (DIRECT, 60 s): REACH Jan 4.
	 */
	struct want before = {
		.current = { 1, 0, 1, 0, 1 },
		.entered = { 1, 2, 1, 0, 1 },
		/* REACH->ACQ {fx, fy, fz}: fx, fy (lag 0). ACQ->NURTURE
		 * {fx, fy}: both (1 d, 2 d). NURTURE->RET {fx, fy}: fx (0).
		 * RET->ADV {fx}: 1. REACH->ADV {fx, fy, fz}: fx (1 d).
		 * ACQ->RET {fx, fy}: fx: 0.5. */
		.cohort = { 3, 2, 2, 1, 3 },
		.converted = { 2, 2, 1, 1, 1 },
		.retention_rate = 0.5,
		/* Buyers fx, fy; no second purchase; fx referred: 1/2. */
		.referral_rate = 0.5,
		.revenue = 40,
		.orders = 2,
		.ltv = 20, /* 40 / 2 */
		.site_visits = 3,
		.unique_visitors = 3,
		.visit_seconds = 120,
		.ch
		= { { CH(DIRECT), 0, 1, 0, 0 }, { CH(EMAIL), 0, 2, 2, 2 } },
		.n_ch = 2,
		.customers = 3,
	};
	check_metrics(a, &all, &before, "before forget");
	Clm__V1__Response *r
	        = cohorts(a, JAN(1), JAN(15), CLM__V1__GRANULARITY__DAY, 8);
	static const double one[] = { 1 };
	expect_row(r->cohorts, 4, JAN(5), 2, one, 1, "before forget");
	clm_response_free(r);

	r = forget(a, "fx");
	cr_expect(r->forget_customer->existed);
	EXPECT_U64(r->forget_customer->touchpoints_deleted, 3, "forget",
	        "touchpoints_deleted");
	clm_response_free(r);

	/*
	 * fx leaves every customer-level figure: ADVOCACY current and
	 * entered, one ACQUISITION entry, the cohorts and conversions it
	 * was in, the buyers (referral rate 0 / 1). The touchpoint counts
	 * and sums stay: 2 orders, 40 revenue, 3 visits, 3 visitors. ltv
	 * divides the all-time revenue (a touchpoint sum: 40, it stays) by
	 * the buyers that exist now (fy): 40.
	 */
	struct want after = {
		.current = { 1, 0, 1, 0, 0 },
		.entered = { 1, 1, 1, 0, 0 },
		/* REACH->ACQ {fy, fz}: fy. ACQ->NURTURE {fy}: 1.
		 * NURTURE->RET {fy}: 0. REACH->ADV {fy, fz}: 0. ACQ->RET
		 * {fy}: 0. */
		.cohort = { 2, 1, 1, 0, 2 },
		.converted = { 1, 1, 0, 0, 0 },
		.revenue = 40,
		.orders = 2,
		.ltv = 40,
		.site_visits = 3,
		.unique_visitors = 3,
		.visit_seconds = 120,
		.ch
		= { { CH(DIRECT), 0, 1, 0, 0 }, { CH(EMAIL), 0, 1, 1, 1 } },
		.n_ch = 2,
		.customers = 2,
	};
	check_metrics(a, &all, &after, "after forget");
	r = cohorts(a, JAN(1), JAN(15), CLM__V1__GRANULARITY__DAY, 8);
	expect_row(r->cohorts, 4, JAN(5), 1, one, 1, "after forget");
	clm_response_free(r);

	/* Forgetting again changes nothing. */
	r = forget(a, "fx");
	cr_expect(!r->forget_customer->existed);
	clm_response_free(r);
	check_metrics(a, &all, &after, "after the second forget");
	clm_close(a);
}

/* ---------------------------------------------------------------------- */
/* 4. RecordSpend                                                         */

Test(metrics_flow, record_spend)
{
	start(&srv_a, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	track(a, spend_tps, N(spend_tps));
	record_spend(a, spend_first, N(spend_first));
	record_spend(a, spend_again, N(spend_again));
	/* A retry of the first call: set, not added. */
	record_spend(a, spend_first, 2);

	/*
	 * PAID_ADS spend: Jan 5: 100 ("a") + 50 ("b"); Jan 6: 90 ("a",
	 * replaced 70); Jan 7: 30 (15:00 rounds down to the day). EMAIL:
	 * Jan 20: 12.5.
	 * sp1: first touch Jan 5 PAID_ADS, first purchase Jan 6 EMAIL.
	 * sp2: first touch Jan 6 PAID_ADS, no purchase.
	 * sp3: first touch Jan 5 ORGANIC_SEARCH, first purchase Jan 7
	 * PAID_ADS.
	 * Customer-level figures of the 3: sp1 and sp3 ACQUISITION
	 * (nothing engaged after their purchase), sp2 REACH.
	 */
	struct want w = {
		.current = { 1, 2, 0, 0, 0 },
		/* REACH entries: sp2 (Jan 6), sp1 (Jan 5), sp3 (Jan 5). */
		.entered = { 3, 2, 0, 0, 0 },
		.cohort = { 3, 2, 0, 0, 3 },
		.converted = { 2, 0, 0, 0, 0 },
		.revenue = 95,
		.orders = 2,
		.ltv = 47.5, /* 95 / 2 */
		.clicks = 1,
		.site_visits = 2,
		.unique_visitors = 2,
		.visit_seconds = 40,
		/*
		 * PAID_ADS: 270 = 100 + 50 + 90 + 30; new visitors sp1 and
		 * sp2; first touch sp1; last touch sp3: cac 270 / 1,
		 * cost_per_visitor 270 / 2 = 135. ORGANIC_SEARCH: sp3 new
		 * visitor and first touch. EMAIL: sp1's last touch.
		 */
		.ch = { { CH(PAID_ADS), 270, 2, 1, 1 },
		        { CH(ORGANIC_SEARCH), 0, 1, 1, 0 },
		        { CH(EMAIL), 0, 0, 0, 1 } },
		.n_ch = 3,
		.customers = 3,
	};
	check_metrics(a, &(struct win) { JAN(5), JAN(8), 0, 0 }, &w,
	        "[Jan 5, Jan 8)");

	/* [Jan 6, Jan 7): PAID_ADS 90; sp2 new visitor; sp1's first
	 * purchase (first touch PAID_ADS): cac 90, per visitor 90. */
	Clm__V1__Response *r = metrics(a, JAN(6), JAN(7), 0, 0);
	cr_assert_eq(r->metrics->n_channels, 2);
	const Clm__V1__ChannelMetric *pa = r->metrics->channels[0];
	cr_expect_eq(pa->channel, CH(PAID_ADS));
	EXPECT_DBL(pa->spend, 90, "[Jan 6, Jan 7)", "spend");
	EXPECT_U64(pa->new_visitors, 1, "[Jan 6, Jan 7)", "new_visitors");
	EXPECT_U64(pa->new_customers_first_touch, 1, "[Jan 6, Jan 7)", "ft");
	EXPECT_DBL(pa->cac, 90, "[Jan 6, Jan 7)", "cac");
	EXPECT_DBL(pa->cost_per_visitor, 90, "[Jan 6, Jan 7)", "cpv");
	cr_expect_eq(r->metrics->channels[1]->channel, CH(EMAIL));
	clm_response_free(r);

	/* [Jan 5, Jan 6): PAID_ADS 150, sp1 new visitor, no first
	 * purchase: cac = 150 / 0 = 0, per visitor 150. */
	r = metrics(a, JAN(5), JAN(6), 0, 0);
	cr_assert_eq(r->metrics->n_channels, 2);
	pa = r->metrics->channels[0];
	cr_expect_eq(pa->channel, CH(PAID_ADS));
	EXPECT_DBL(pa->spend, 150, "[Jan 5, Jan 6)", "spend");
	EXPECT_U64(pa->new_visitors, 1, "[Jan 5, Jan 6)", "new_visitors");
	EXPECT_U64(pa->new_customers_first_touch, 0, "[Jan 5, Jan 6)", "ft");
	EXPECT_DBL(pa->cac, 0, "[Jan 5, Jan 6)", "cac");
	EXPECT_DBL(pa->cost_per_visitor, 150, "[Jan 5, Jan 6)", "cpv");
	cr_expect_eq(r->metrics->channels[1]->channel, CH(ORGANIC_SEARCH));
	clm_response_free(r);

	/* [Jan 20, Jan 21): a row for EMAIL's spend alone. */
	r = metrics(a, JAN(20), JAN(21), 0, 0);
	cr_assert_eq(r->metrics->n_channels, 1);
	cr_expect_eq(r->metrics->channels[0]->channel, CH(EMAIL));
	EXPECT_DBL(r->metrics->channels[0]->spend, 12.5, "Jan 20", "spend");
	EXPECT_DBL(r->metrics->channels[0]->cac, 0, "Jan 20", "cac");
	EXPECT_DBL(r->metrics->channels[0]->cost_per_visitor, 0, "Jan 20",
	        "cost_per_visitor");
	clm_response_free(r);

	/* Channel PAID_ADS, all of January: its row only. */
	r = metrics(a, JAN(1), FEB(1), 0, CH(PAID_ADS));
	cr_assert_eq(r->metrics->n_channels, 1);
	cr_expect_eq(r->metrics->channels[0]->channel, CH(PAID_ADS));
	EXPECT_DBL(r->metrics->channels[0]->spend, 270, "PAID_ADS", "spend");
	clm_response_free(r);

	/* Invalid entries: refused whole, naming the field. */
	static const struct sp bad_channel[] = {
		{ CH(PAID_ADS), JAN(8), 999, "x" },
		{ CH(CHANNEL_UNSPECIFIED), JAN(8), 5, "x" },
	};
	expect_invalid(record_spend_call(a, bad_channel, N(bad_channel)),
	        "record_spend.spend[1].channel", "CHANNEL_UNSPECIFIED");
	static const struct sp unknown_channel[] = { { 99, JAN(8), 5, "x" } };
	expect_invalid(record_spend_call(a, unknown_channel, 1),
	        "record_spend.spend[0].channel", "channel 99");
	static const struct sp negative[] = {
		{ CH(PAID_ADS), JAN(8), -1, "x" },
		{ CH(PAID_ADS), JAN(9), 1, "x" },
	};
	expect_invalid(record_spend_call(a, negative, N(negative)),
	        "record_spend.spend[0].amount", "negative amount");
	static const struct sp old_day[] = {
		{ CH(PAID_ADS), JAN(9), 7, "x" },
		{ CH(PAID_ADS), Y1999, 5, "x" },
	};
	expect_invalid(record_spend_call(a, old_day, N(old_day)),
	        "record_spend.spend[1].day_ms", "day before 2000");
	expect_invalid(record_spend_call(a, NULL, 0), "record_spend.spend",
	        "no entries");

	/* Nothing of those was recorded. */
	r = metrics(a, JAN(8), JAN(10), 0, 0);
	cr_expect_eq(r->metrics->n_channels, 0,
	        "[Jan 8, Jan 10): %zu channel rows after refused calls",
	        r->metrics->n_channels);
	clm_response_free(r);
	check_metrics(a, &(struct win) { JAN(5), JAN(8), 0, 0 }, &w,
	        "[Jan 5, Jan 8) after refused calls");
	clm_close(a);
}

/* ---------------------------------------------------------------------- */
/* 5. Experiments                                                         */

#define EXP        "exp-checkout"
#define EXP_N      300
#define EXP_PAST_I 7 /* i % 10: a purchase before the exposure */
#define EXP_LATE_I 9 /* i % 10: a late purchase dated before it */

static const struct variant exp_variants[]
        = { { "control", 1 }, { "blue", 1 }, { "green", 2 } };

/* The assignment by docs/metrics.md: FNV-1a-64 of (experiment id, 0x00,
 * customer id), splitmix64's finalizer, mod the weights' sum, walked. */
static size_t
expected_variant(const char *exp, const char *customer,
        const struct variant *v, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[2] = { exp, customer };
	for (int p = 0; p < 2; p++) {
		size_t len = strlen(parts[p]) + (p == 0); /* the 0x00 */
		for (size_t i = 0; i < len; i++) {
			h ^= (unsigned char) parts[p][i];
			h *= 0x100000001b3ULL;
		}
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += v[i].weight;
	}
	uint64_t pick = h % total;
	for (size_t i = 0; i < n; i++) {
		if (pick < v[i].weight) {
			return i;
		}
		pick -= v[i].weight;
	}
	return n;
}

/* Whether customer i of variant v buys after the exposure. */
static bool
exp_converts(int i, size_t v)
{
	return (v == 0 && i % 4 == 0) || (v == 1 && i % 3 == 0)
	        || (v == 2 && i % 2 == 0);
}

/* ExperimentResults as docs/metrics.md computes them. */
static void
expect_results(clm_conn *c, const char *exp, const struct variant *vs,
        size_t nv, const uint64_t *exposed, const uint64_t *converted,
        const char *what)
{
	Clm__V1__Response *r = results_call(c, exp);
	expect_ok(r, what);
	const Clm__V1__ExperimentResultsReply *x = r->experiment_results;
	cr_assert_not_null(x);
	cr_expect_str_eq(x->experiment_id, exp);
	cr_assert_eq(
	        x->n_variants, nv, "%s: %zu variants", what, x->n_variants);
	double na = (double) exposed[0], ra = ratio((double) converted[0], na);
	for (size_t i = 0; i < nv; i++) {
		const Clm__V1__VariantResult *v = x->variants[i];
		char f[64];
		cr_expect_str_eq(
		        v->name, vs[i].name, "%s: variants[%zu]", what, i);
		snprintf(f, sizeof(f), "%s exposed", vs[i].name);
		EXPECT_U64(v->exposed, exposed[i], what, f);
		snprintf(f, sizeof(f), "%s converted", vs[i].name);
		EXPECT_U64(v->converted, converted[i], what, f);
		double n = (double) exposed[i], xr = (double) converted[i];
		double rate = ratio(xr, n);
		snprintf(f, sizeof(f), "%s rate", vs[i].name);
		EXPECT_DBL(v->rate, rate, what, f);
		double lift = 0, p = 1, lo = 0, hi = 0;
		if (i > 0) {
			lift = ra > 0 ? rate / ra - 1 : 0;
			double pool = (xr + (double) converted[0]) / (n + na);
			double se = sqrt(pool * (1 - pool) * (1 / n + 1 / na));
			double z = (rate - ra) / se;
			/* Two-sided: 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2). */
			p = se == 0 ? 1 : erfc(fabs(z) / sqrt(2.0));
			double sd = sqrt(
			        rate * (1 - rate) / n + ra * (1 - ra) / na);
			lo = rate - ra - 1.959964 * sd;
			hi = rate - ra + 1.959964 * sd;
		}
		/* rate_A = 0: rate / 0 is "0" by the docs' rule, but
		 * whether lift is then -1 or 0 they leave open. */
		if (ra > 0) {
			snprintf(f, sizeof(f), "%s lift", vs[i].name);
			EXPECT_DBL(v->lift, lift, what, f);
		}
		snprintf(f, sizeof(f), "%s p_value", vs[i].name);
		EXPECT_DBL(v->p_value, p, what, f);
		/* 1.959964 vs the exact quantile: < 1e-7 apart. */
		cr_expect(fabs(v->ci_low - lo) < 1e-6,
		        "%s: %s ci_low %.9f, want %.9f", what, vs[i].name,
		        v->ci_low, lo);
		cr_expect(fabs(v->ci_high - hi) < 1e-6,
		        "%s: %s ci_high %.9f, want %.9f", what, vs[i].name,
		        v->ci_high, hi);
	}
	clm_response_free(r);
}

Test(metrics_flow, experiments)
{
	start(&srv_a, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	const size_t nv = N(exp_variants);

	Clm__V1__Response *r
	        = define_call(a, EXP, exp_variants, nv, TP(PURCHASE));
	expect_ok(r, "define");
	cr_assert_not_null(r->define_experiment);
	cr_expect_str_eq(r->define_experiment->experiment_id, EXP);
	clm_response_free(r);
	r = define_call(a, EXP, exp_variants, nv, TP(PURCHASE));
	expect_ok(r, "define again");
	clm_response_free(r);
	static const struct variant other_weights[]
	        = { { "control", 1 }, { "blue", 1 }, { "green", 1 } };
	r = define_call(a, EXP, other_weights, 3, TP(PURCHASE));
	cr_expect_eq(status_of(r), CLM_ALREADY_EXISTS, "other weights: %s",
	        clm_errname(status_of(r)));
	clm_response_free(r);
	r = define_call(a, EXP, exp_variants, nv, TP(SIGNUP));
	cr_expect_eq(status_of(r), CLM_ALREADY_EXISTS, "other goal: %s",
	        clm_errname(status_of(r)));
	clm_response_free(r);
	r = define_call(a, EXP, exp_variants, 2, TP(PURCHASE));
	cr_expect_eq(status_of(r), CLM_ALREADY_EXISTS, "fewer variants: %s",
	        clm_errname(status_of(r)));
	clm_response_free(r);

	static char ids[EXP_N][16];
	struct tp *tps = calloc(2 * EXP_N, sizeof(*tps));
	static char eids[2 * EXP_N][24];
	cr_assert_not_null(tps);
	size_t nt = 0;
	/* Some customers bought on Jan 10, before any exposure. */
	for (int i = 0; i < EXP_N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "xc-%03d", i);
		if (i % 10 == EXP_PAST_I) {
			snprintf(
			        eids[nt], sizeof(eids[nt]), "xc-past-%03d", i);
			tps[nt] = (struct tp) { ids[i], NULL, eids[nt],
				TP(PURCHASE), CH(EMAIL), JAN(10), 10, 0, 0 };
			nt++;
		}
	}
	track(a, tps, nt);

	/* Assign: deterministic (docs' hash) and first. */
	size_t variant[EXP_N];
	uint64_t exposed[3] = { 0 }, converted[3] = { 0 };
	for (int i = 0; i < EXP_N; i++) {
		size_t want = expected_variant(EXP, ids[i], exp_variants, nv);
		cr_assert_lt(want, nv);
		r = assign_call(a, EXP, ids[i]);
		expect_ok(r, "assign");
		cr_assert_not_null(r->assign);
		cr_expect(r->assign->first_exposure, "'%s' not first", ids[i]);
		cr_expect_str_eq(r->assign->variant, exp_variants[want].name,
		        "'%s' got '%s', the hash says '%s'", ids[i],
		        r->assign->variant, exp_variants[want].name);
		variant[i] = want;
		exposed[want]++;
		clm_response_free(r);
	}
	/* Sticky: the same answer, not first. */
	for (int i = 0; i < EXP_N; i++) {
		r = assign_call(a, EXP, ids[i]);
		expect_ok(r, "assign again");
		cr_expect(!r->assign->first_exposure, "'%s' first again",
		        ids[i]);
		cr_expect_str_eq(r->assign->variant,
		        exp_variants[variant[i]].name, "'%s' moved", ids[i]);
		clm_response_free(r);
	}
	/* Weights 1:1:2 of 300: 75, 75, 150; binomial sd about 7.5, 7.5,
	 * 8.7; allow 4 sd. */
	cr_expect(labs((long) exposed[0] - 75) <= 30, "control %llu",
	        (unsigned long long) exposed[0]);
	cr_expect(labs((long) exposed[1] - 75) <= 30, "blue %llu",
	        (unsigned long long) exposed[1]);
	cr_expect(labs((long) exposed[2] - 150) <= 35, "green %llu",
	        (unsigned long long) exposed[2]);
	/* Nobody bought after the exposure yet. */
	uint64_t none[3] = { 0 };
	expect_results(
	        a, EXP, exp_variants, nv, exposed, none, "before conversions");

	/*
	 * After the exposure: buyers by exp_converts (event time now);
	 * others of i % 5 == 1 only visit; i % 10 == 9 also get a purchase
	 * dated Jan 10 that arrives now (before the exposure in event
	 * time: no conversion).
	 */
	nt = 0;
	int with_touch = 0, first_buyer = -1, idle = -1;
	for (int i = 0; i < EXP_N; i++) {
		bool conv = exp_converts(i, variant[i]);
		bool any = i % 10 == EXP_PAST_I;
		if (conv) {
			tps[nt++] = (struct tp) { ids[i], NULL, NULL,
				TP(PURCHASE), CH(EMAIL), 0, 10, 0, 0 };
			converted[variant[i]]++;
			any = true;
			if (first_buyer < 0 && i % 10 != EXP_PAST_I) {
				first_buyer = i;
			}
		} else if (i % 5 == 1) {
			tps[nt++] = (struct tp) { ids[i], NULL, NULL,
				TP(SITE_VISIT), CH(DIRECT), 0, 0, 5, 0 };
			any = true;
		}
		if (i % 10 == EXP_LATE_I) {
			snprintf(
			        eids[nt], sizeof(eids[nt]), "xc-late-%03d", i);
			tps[nt] = (struct tp) { ids[i], NULL, eids[nt],
				TP(PURCHASE), CH(EMAIL), JAN(10), 10, 0, 0 };
			nt++;
			any = true;
		}
		with_touch += any;
		if (!any && idle < 0) {
			idle = i;
		}
	}
	track(a, tps, nt);
	free(tps);
	cr_assert(first_buyer >= 0 && idle >= 0);
	expect_results(a, EXP, exp_variants, nv, exposed, converted,
	        "after conversions");
	/* Assign made profiles without touchpoints: not customers. */
	r = metrics(a, 0, 0, 0, 0);
	EXPECT_U64(
	        r->metrics->customers, with_touch, "experiments", "customers");
	clm_response_free(r);

	/* Unknown experiment, invalid requests. */
	r = assign_call(a, "exp-nope", ids[0]);
	cr_expect_eq(status_of(r), CLM_NOT_FOUND, "assign unknown: %s",
	        clm_errname(status_of(r)));
	clm_response_free(r);
	r = results_call(a, "exp-nope");
	cr_expect_eq(status_of(r), CLM_NOT_FOUND, "results unknown: %s",
	        clm_errname(status_of(r)));
	clm_response_free(r);
	expect_invalid(
	        define_call(a, "exp-one", exp_variants, 1, TP(PURCHASE)),
	        "define_experiment.variants", "one variant");
	static const struct variant dup[] = { { "a", 1 }, { "a", 1 } };
	expect_invalid(define_call(a, "exp-dup", dup, 2, TP(PURCHASE)),
	        "define_experiment.variants[1].name", "same names");
	static const struct variant zero[] = { { "a", 0 }, { "b", 0 } };
	expect_invalid(define_call(a, "exp-zero", zero, 2, TP(PURCHASE)),
	        "define_experiment.variants", "weights 0");
	static const struct variant noname[] = { { "a", 1 }, { "", 1 } };
	expect_invalid(define_call(a, "exp-noname", noname, 2, TP(PURCHASE)),
	        "define_experiment.variants[1].name", "empty name");
	expect_invalid(define_call(a, "exp-nogoal", exp_variants, nv, 0),
	        "define_experiment.goal", "no goal");
	expect_invalid(define_call(a, "", exp_variants, nv, TP(PURCHASE)),
	        "define_experiment.experiment_id", "empty id");
	expect_invalid(assign_call(a, EXP, ""), "assign.customer_id",
	        "assign without customer");
	expect_invalid(assign_call(a, "", ids[0]), "assign.experiment_id",
	        "assign without experiment");
	expect_invalid(results_call(a, ""), "experiment_results.experiment_id",
	        "results without experiment");
	/* None of them defined anything. */
	r = results_call(a, "exp-zero");
	cr_expect_eq(status_of(r), CLM_NOT_FOUND);
	clm_response_free(r);

	/* Forget a converted customer, and one that was only assigned. */
	r = forget(a, ids[first_buyer]);
	cr_expect(r->forget_customer->existed);
	clm_response_free(r);
	exposed[variant[first_buyer]]--;
	converted[variant[first_buyer]]--;
	r = forget(a, ids[idle]);
	cr_expect(r->forget_customer->existed, "'%s' (assigned only)",
	        ids[idle]);
	clm_response_free(r);
	exposed[variant[idle]]--;
	expect_results(
	        a, EXP, exp_variants, nv, exposed, converted, "after forget");
	clm_close(a);
}

/* ---------------------------------------------------------------------- */
/* 6. Rebuild                                                             */

/* Everything above, on one server; forget_one: also forget fy. */
static void
load_everything(clm_conn *c, bool forget_one)
{
	track(c, late_first, N(late_first));
	track(c, anon_visits, N(anon_visits));
	track(c, known_own, N(known_own));
	track(c, forget_tps, N(forget_tps));
	track(c, spend_tps, N(spend_tps));
	track(c, misc_tps, N(misc_tps));
	track(c, late_second, N(late_second));
	identify(c, ANON, KNOWN, true);
	track(c, anon_after, N(anon_after));
	record_spend(c, spend_first, N(spend_first));
	record_spend(c, spend_again, N(spend_again));

	static const struct variant v[] = { { "a", 3 }, { "b", 1 } };
	Clm__V1__Response *r = define_call(c, "exp-rb", v, 2, TP(PURCHASE));
	expect_ok(r, "define");
	clm_response_free(r);
	static const char *const who[]
	        = { "cust-c", "cust-d", KNOWN, "fx", "fy", "fz", "sp1", "sp2",
		          "sp3", "m1", "m2", "m3", "new-1", "new-2", "new-3" };
	for (size_t i = 0; i < N(who); i++) {
		r = assign_call(c, "exp-rb", who[i]);
		expect_ok(r, "assign");
		clm_response_free(r);
	}
	static const struct tp after[] = {
		{ "cust-d", NULL, "rb-1", TP(PURCHASE), CH(EMAIL), 0, 5, 0,
		        0 },
		{ "sp2", NULL, "rb-2", TP(PURCHASE), CH(EMAIL), 0, 5, 0, 0 },
		{ "new-1", NULL, "rb-3", TP(PURCHASE), CH(EMAIL), 0, 5, 0, 0 },
		{ "new-2", NULL, "rb-4", TP(SITE_VISIT), CH(DIRECT), 0, 0, 9,
		        0 },
		{ "fy", NULL, "rb-5", TP(PURCHASE), CH(EMAIL), 0, 5, 0, 0 },
	};
	track(c, after, N(after));
	if (forget_one) {
		r = forget(c, "fy");
		cr_expect(r->forget_customer->existed);
		clm_response_free(r);
	}
}

/* Replies to compare across the restart. */
struct snapshot {
	Clm__V1__Response *m[N(compare_windows) + 1];
	Clm__V1__Response *co[N(compare_cohorts)];
	Clm__V1__Response *exp;
};

static void
snapshot_take(clm_conn *c, struct snapshot *s)
{
	for (size_t i = 0; i < N(compare_windows); i++) {
		const struct win *w = &compare_windows[i];
		s->m[i] = metrics(c, w->from, w->to, w->conv, w->channel);
	}
	/* The default window: the last 30 days, today's purchases. */
	s->m[N(compare_windows)] = metrics(c, 0, 0, 0, 0);
	for (size_t i = 0; i < N(compare_cohorts); i++) {
		const struct cwin *w = &compare_cohorts[i];
		s->co[i] = cohorts(c, w->from, w->to, w->gran, w->periods);
	}
	s->exp = results_call(c, "exp-rb");
	expect_ok(s->exp, "results");
}

static void
snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < N(s->m); i++) {
		clm_response_free(s->m[i]);
	}
	for (size_t i = 0; i < N(s->co); i++) {
		clm_response_free(s->co[i]);
	}
	clm_response_free(s->exp);
}

static void
snapshot_compare(
        const struct snapshot *x, const struct snapshot *y, const char *what)
{
	for (size_t i = 0; i < N(x->m); i++) {
		/*
		 * unique_visitors apart: a day's sketch holds the id a visit
		 * was tracked under, and the rebuild replays a merged
		 * profile's touchpoints under the customer's id, so ANON's
		 * entries become KNOWN's. The docs allow a merged visitor to
		 * be counted under both ids or one: a window with ANON's
		 * visits may count one fewer after; any other, the same.
		 */
		uint64_t ub = x->m[i]->metrics->unique_visitors;
		uint64_t ua = y->m[i]->metrics->unique_visitors;
		bool merged = i < N(compare_windows) && compare_merged[i];
		cr_expect(ua == ub || (merged && ua + 1 == ub),
		        "%s: window %zu: unique_visitors %llu before, %llu "
		        "after",
		        what, i, (unsigned long long) ub,
		        (unsigned long long) ua);
		if (same_metrics(x->m[i]->metrics, y->m[i]->metrics, true)) {
			continue;
		}
		char da[2048], db[2048];
		metrics_digest(x->m[i]->metrics, da, sizeof(da));
		metrics_digest(y->m[i]->metrics, db, sizeof(db));
		const struct win *w = i < N(compare_windows)
		        ? &compare_windows[i]
		        : &(struct win) { 0, 0, 0, 0 };
		cr_expect_fail("%s: metrics [day %lld, day %lld) conv %u "
		               "channel %d differ\n  before %s\n  after  %s",
		        what, (long long) (w->from / DAY_MS),
		        (long long) (w->to / DAY_MS), w->conv, w->channel, da,
		        db);
	}
	for (size_t i = 0; i < N(x->co); i++) {
		if (same_bytes(&x->co[i]->cohorts->base,
		            &y->co[i]->cohorts->base)) {
			continue;
		}
		char da[2048], db[2048];
		cohort_digest(x->co[i]->cohorts, da, sizeof(da));
		cohort_digest(y->co[i]->cohorts, db, sizeof(db));
		cr_expect_fail("%s: cohorts %zu (granularity %d) differ\n  "
		               "before %s\n  after  %s",
		        what, i, compare_cohorts[i].gran, da, db);
	}
	cr_expect(same_bytes(&x->exp->experiment_results->base,
	                  &y->exp->experiment_results->base),
	        "%s: experiment results differ", what);
}

/* Deletes meta "agg_version" from the stopped server's data dir. */
static void
reset_agg_version(const char *dir)
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

static void
rebuild_and_compare(bool forget_one)
{
	start(&srv_a, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	load_everything(a, forget_one);
	struct snapshot before;
	snapshot_take(a, &before);
	clm_close(a);

	int st = clmd_stop(&srv_a);
	cr_assert_eq(
	        st, 0, "clmd exit status %d (log %s)", st, srv_a.log_path);
	reset_agg_version(srv_a.data_dir);
	static const char *const info[] = { "--log-level", "info", NULL };
	start(&srv_a, srv_a.data_dir, info);
	char *log = harness_read_file(srv_a.log_path);
	cr_assert_not_null(log);
	cr_expect(strstr(log, "rebuilt the aggregates") != NULL,
	        "clmd did not log a rebuild (log %s)", srv_a.log_path);
	free(log);

	a = connect_to(&srv_a);
	struct snapshot after;
	snapshot_take(a, &after);
	snapshot_compare(&before, &after,
	        forget_one ? "rebuild after forget" : "rebuild");
	snapshot_free(&before);
	snapshot_free(&after);
	clm_close(a);
}

Test(metrics_flow, rebuild_is_identical)
{
	rebuild_and_compare(false);
}

/* The same with a forgotten customer: its touchpoint sums stay (docs),
 * also through a rebuild. */
Test(metrics_flow, rebuild_after_forget_is_identical)
{
	rebuild_and_compare(true);
}

/* ---------------------------------------------------------------------- */
/* 7. Errors                                                              */

Test(metrics_flow, request_errors)
{
	start(&srv_a, NULL, NULL);
	clm_conn *a = connect_to(&srv_a);
	track(a, late_first, N(late_first));

	/* Both round down to Jan 5 00:00: from == to. */
	expect_invalid(metrics_call(a, JAN(5) + 3 * HOUR_MS,
	                       JAN(5) + 20 * HOUR_MS, 0, 0),
	        "metrics.from_ms", "same day");
	expect_invalid(metrics_call(a, JAN(6), JAN(5), 0, 0),
	        "metrics.from_ms", "from after to");
	expect_invalid(metrics_call(a, JAN(1), JAN(2), 0, 99),
	        "metrics.channel", "channel 99");
	expect_invalid(metrics_call(a, JAN(1), JAN(2), 3651, 0),
	        "metrics.conversion_window_days", "3651 days");
	expect_invalid(metrics_call(a, JAN(1) - 3661 * DAY_MS, JAN(1), 0, 0),
	        "metrics.from_ms", "3661-day window");
	expect_invalid(metrics_call(a, -1, JAN(1), 0, 0), "metrics.from_ms",
	        "negative from");
	expect_invalid(cohorts_call(a, JAN(1), FEB(1),
	                       CLM__V1__GRANULARITY__DAY, 121),
	        "cohorts.periods", "121 periods");
	expect_invalid(cohorts_call(a, JAN(1), FEB(1), 4, 8),
	        "cohorts.granularity", "granularity 4");
	expect_invalid(
	        cohorts_call(a, FEB(1), JAN(1), CLM__V1__GRANULARITY__DAY, 8),
	        "cohorts.from_ms", "cohorts from after to");

	/* The limits themselves are fine. */
	Clm__V1__Response *r
	        = metrics(a, JAN(1) - 3660 * DAY_MS, JAN(1), 3650, CH(SMS));
	clm_response_free(r);
	r = cohorts(a, JAN(1), FEB(1), CLM__V1__GRANULARITY__DAY, 120);
	cr_expect_eq(r->cohorts->n_rows, 31);
	cr_expect_eq(r->cohorts->rows[0]->n_retained, 120);
	clm_response_free(r);

	/* Still serving, writes included. */
	static const struct tp more[] = {
		{ "cust-e", NULL, "e-p12", TP(PURCHASE), CH(DIRECT),
		        JAN(12) + 9 * HOUR_MS, 10, 0, 0 },
	};
	track(a, more, N(more));
	r = metrics(a, JAN(8), JAN(15), 0, 0);
	EXPECT_U64(r->metrics->orders, 3, "after errors", "orders");
	EXPECT_U64(r->metrics->customers, 3, "after errors", "customers");
	clm_response_free(r);
	Clm__V1__StatusRequest sq = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &sq;
	r = call(a, &req);
	expect_ok(r, "status");
	clm_response_free(r);
	clm_close(a);
}
