/*
 * Helpers of the Metrics/Cohorts/RecordSpend/experiment flow tests
 * (metrics_flow_test.c, spend_experiments_test.c): requests built by hand
 * and sent with clm_call, the expected-MetricsReply checker, the reply
 * comparisons, the LMDB meta reset of the rebuild tests, and the data set
 * both files track (the spend touchpoints and entries).
 *
 * Every function asserts with Criterion (cr_assert: the test stops) unless
 * it says it only expects (cr_expect: the test goes on, marked failed); call
 * them from inside a test, never before the fork. Replies returned are the
 * caller's: free them with clm_response_free.
 */
#ifndef CLM_IT_FLOW_H
#define CLM_IT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The number of elements of an array (not a pointer). */
#define N(a) (sizeof(a) / sizeof((a)[0]))

enum { REACH = 1, ACQUISITION, NURTURE, RETENTION, ADVOCACY };

/* cr_expect that got is want within 1e-9 (relative, see flow_near). */
#define EXPECT_DBL(got, want, what, field)                                \
	cr_expect(flow_near((got), (want)), "%s: %s = %.12g, want %.12g", \
	        (what), (field), (double) (got), (double) (want))
/* cr_expect that got == want, both as uint64_t. */
#define EXPECT_U64(got, want, what, field)                   \
	cr_expect_eq((uint64_t) (got), (uint64_t) (want),    \
	        "%s: %s = %llu, want %llu", (what), (field), \
	        (unsigned long long) (got), (unsigned long long) (want))

/* A touchpoint to track. */
struct flow_tp {
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

/* One spend entry. */
struct flow_sp {
	int channel;
	int64_t day;
	double amount;
	const char *campaign;
};

/* One variant of an experiment. */
struct flow_variant {
	const char *name;
	uint32_t weight;
};

/* A Metrics request. */
struct flow_win {
	int64_t from, to;
	uint32_t conv;
	int channel;
};

/* A Cohorts request. */
struct flow_cwin {
	int64_t from, to;
	int gran;
	uint32_t periods;
};

/* One expected channel row: channel, spend, new visitors, first and last
 * touch new customers. */
struct flow_want_channel {
	int ch;
	double spend;
	uint64_t nv, ft, lt;
};

/*
 * A whole MetricsReply by hand; what is not set is 0. Stages and
 * conversions are indexed 0..4 (REACH..ADVOCACY; the five conversions in
 * MetricsReply order).
 */
struct flow_want {
	uint64_t current[5], entered[5], at_risk[5], churned[5];
	uint64_t cohort[5], converted[5];
	double retention_rate, repeat_rate, referral_rate, churn_rate;
	double revenue, refunds, ltv;
	uint64_t orders;
	uint64_t impressions, clicks, site_visits, page_views;
	uint64_t unique_visitors;
	bool any_visitors; /* unique_visitors not checked */
	double visit_seconds;
	struct flow_want_channel ch[8];
	size_t n_ch;
	uint64_t positive, neutral, negative, tickets, billing;
	uint64_t customers;
};

/*
 * The spend data set (record_spend test, and the rebuild tests' load): sp1
 * first touched by PAID_ADS, buys by EMAIL; sp2 a PAID_ADS visitor; sp3
 * first touched by ORGANIC_SEARCH, buys by PAID_ADS. flow_spend_first is
 * the first RecordSpend call; flow_spend_again sets Jan 6 "a" again, 90
 * instead of 70.
 */
extern const struct flow_tp flow_spend_tps[5];
extern const struct flow_sp flow_spend_first[5];
extern const struct flow_sp flow_spend_again[1];

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

/* flow_start starts clmd as clmd_start does; asserts it started. */
void flow_start(
        struct clmd_proc *p, const char *dir, const char *const *extra);

/* flow_connect_to opens a connection to p; asserts it opened. The caller
 * closes it with clm_close. */
clm_conn *flow_connect_to(const struct clmd_proc *p);

/* flow_call sends req and returns the reply, whatever its status; asserts a
 * reply came. */
Clm__V1__Response *flow_call(clm_conn *c, const Clm__V1__Request *req);

/* flow_touchpoints is ServerStatus's count of stored touchpoints. */
uint64_t flow_touchpoints(clm_conn *c);

/* flow_customer_touches is GetCustomer's count of id's touchpoints (0 for
 * an unknown customer). */
uint64_t flow_customer_touches(clm_conn *c, const char *id);

/* flow_status_of returns the status code of r (CLM_OK when it has none). */
clm_err flow_status_of(const Clm__V1__Response *r);

/* flow_message_of returns the status message of r, "" when none; valid as
 * long as r. */
const char *flow_message_of(const Clm__V1__Response *r);

/* flow_expect_ok asserts r's status is OK; what names the call. */
void flow_expect_ok(const Clm__V1__Response *r, const char *what);

/* flow_expect_invalid expects r's status INVALID_ARGUMENT with a violation
 * naming field. Takes ownership of r (frees it). */
void flow_expect_invalid(
        Clm__V1__Response *r, const char *field, const char *what);

/* flow_track tracks the n touchpoints t in one call; asserts every one is
 * accepted. */
void flow_track(clm_conn *c, const struct flow_tp *t, size_t n);

/* flow_track_in_event_order tracks them one call each, in event-time order
 * (a stable sort of a copy; t is not changed). */
void flow_track_in_event_order(clm_conn *c, const struct flow_tp *t, size_t n);

/* flow_metrics_call sends a Metrics request and returns the reply, whatever
 * its status. */
Clm__V1__Response *flow_metrics_call(
        clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel);

/* flow_metrics is flow_metrics_call asserting an OK reply with metrics. */
Clm__V1__Response *flow_metrics(
        clm_conn *c, int64_t from, int64_t to, uint32_t conv, int channel);

/* flow_cohorts_call sends a Cohorts request and returns the reply, whatever
 * its status. */
Clm__V1__Response *flow_cohorts_call(
        clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods);

/* flow_cohorts is flow_cohorts_call asserting an OK reply with cohorts. */
Clm__V1__Response *flow_cohorts(
        clm_conn *c, int64_t from, int64_t to, int gran, uint32_t periods);

/* flow_forget sends ForgetCustomer for id; asserts an OK reply with
 * forget_customer, and returns it. */
Clm__V1__Response *flow_forget(clm_conn *c, const char *id);

/* flow_identify merges anon into customer; asserts OK and expects the
 * reply's merged to be merged. */
void flow_identify(
        clm_conn *c, const char *anon, const char *customer, bool merged);

/* flow_record_spend_call sends the n entries s (currency EUR) in one
 * RecordSpend and returns the reply, whatever its status. */
Clm__V1__Response *flow_record_spend_call(
        clm_conn *c, const struct flow_sp *s, size_t n);

/* flow_record_spend is flow_record_spend_call asserting OK and expecting
 * all n accepted. */
void flow_record_spend(clm_conn *c, const struct flow_sp *s, size_t n);

/* flow_define_call sends DefineExperiment id with the n (at most 16)
 * variants v and the goal touchpoint type; returns the reply, whatever its
 * status. */
Clm__V1__Response *flow_define_call(clm_conn *c, const char *id,
        const struct flow_variant *v, size_t n, int goal);

/* flow_assign_call sends Assign and returns the reply, whatever its
 * status. */
Clm__V1__Response *flow_assign_call(
        clm_conn *c, const char *exp, const char *customer);

/* flow_results_call sends ExperimentResults and returns the reply,
 * whatever its status. */
Clm__V1__Response *flow_results_call(clm_conn *c, const char *exp);

/* ---------------------------------------------------------------------- */
/* Comparing replies                                                      */

/* flow_metrics_digest writes a readable digest of m, for failure messages,
 * into buf of n bytes (truncated to fit). */
void flow_metrics_digest(const Clm__V1__MetricsReply *m, char *buf, size_t n);

/* flow_cohort_digest writes a readable digest of r's non-empty rows into
 * buf of n bytes (truncated to fit). */
void flow_cohort_digest(const Clm__V1__CohortReply *r, char *buf, size_t n);

/* flow_same_bytes returns whether a and b pack to the same bytes. */
bool flow_same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* flow_same_metrics returns whether a and b pack to the same bytes, with
 * unique_visitors (and page_views_per_visitor, which divides by it) zeroed
 * when mask_visitors. */
bool flow_same_metrics(const Clm__V1__MetricsReply *a,
        const Clm__V1__MetricsReply *b, bool mask_visitors);

/* flow_expect_same_metrics asks ca and cb for the metrics of w and expects
 * the same bytes (see flow_same_metrics), with digests on failure. */
void flow_expect_same_metrics(clm_conn *ca, clm_conn *cb,
        const struct flow_win *w, bool mask_visitors, const char *what);

/* flow_expect_same_cohorts asks ca and cb for the cohorts of w and expects
 * the same bytes, with digests on failure. */
void flow_expect_same_cohorts(clm_conn *ca, clm_conn *cb,
        const struct flow_cwin *w, const char *what);

/* ---------------------------------------------------------------------- */
/* Expected figures                                                       */

/* flow_near returns whether got is want within 1e-9 (relative, absolute
 * below 1). */
bool flow_near(double got, double want);

/* flow_ratio returns num / den, 0 when den is 0 (the docs' rule). */
double flow_ratio(double num, double den);

/* flow_expect_metrics expects m to be w in every field (rates and ratios
 * derived from w as the docs define them); asserts the stage, conversion
 * and sentiment parts exist. */
void flow_expect_metrics(const Clm__V1__MetricsReply *m,
        const struct flow_want *w, const char *what);

/* flow_check_metrics asks c for the metrics of q and expects w. */
void flow_check_metrics(clm_conn *c, const struct flow_win *q,
        const struct flow_want *w, const char *what);

/* flow_expect_row expects cohort row i of r to start at start, hold size
 * customers and retained[0..n-1] (the rest 0); asserts the row exists. */
void flow_expect_row(const Clm__V1__CohortReply *r, size_t i, int64_t start,
        uint64_t size, const double *retained, size_t n, const char *what);

/* ---------------------------------------------------------------------- */
/* Data dir                                                               */

/* flow_reset_agg_version deletes meta "agg_version" from the data dir dir
 * of a stopped clmd, so that the next start rebuilds the aggregates. */
void flow_reset_agg_version(const char *dir);

#endif /* CLM_IT_FLOW_H */
