/*
 * RecordSpend and experiments against real clmd processes
 * (docs/metrics.md is the contract; every expected number below is worked
 * out by hand from it, the arithmetic in the comments):
 *
 *   - RecordSpend: set, not added; spend, cac, cost_per_visitor; invalid
 *     entries refused with nothing recorded;
 *   - experiments: definition, sticky and deterministic assignment,
 *     results and statistics, forget.
 *
 * Requests are built by hand and sent with clm_call (flow.c).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

static struct clmd_proc srv_a;

static void
setup(void)
{
	memset(&srv_a, 0, sizeof(srv_a));
}

static void
teardown(void)
{
	clmd_cleanup(&srv_a);
	harness_fini();
}

TestSuite(spend_experiments, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------------- */
/* 1. RecordSpend                                                         */

Test(spend_experiments, record_spend)
{
	flow_start(&srv_a, NULL, NULL);
	clm_conn *a = flow_connect_to(&srv_a);
	flow_track(a, flow_spend_tps, N(flow_spend_tps));
	flow_record_spend(a, flow_spend_first, N(flow_spend_first));
	flow_record_spend(a, flow_spend_again, N(flow_spend_again));
	/* A retry of the first call: set, not added. */
	flow_record_spend(a, flow_spend_first, 2);

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
	struct flow_want w = {
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
	flow_check_metrics(a, &(struct flow_win) { JAN(5), JAN(8), 0, 0 }, &w,
	        "[Jan 5, Jan 8)");

	/* [Jan 6, Jan 7): PAID_ADS 90; sp2 new visitor; sp1's first
	 * purchase (first touch PAID_ADS): cac 90, per visitor 90. */
	Clm__V1__Response *r = flow_metrics(a, JAN(6), JAN(7), 0, 0);
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
	r = flow_metrics(a, JAN(5), JAN(6), 0, 0);
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
	r = flow_metrics(a, JAN(20), JAN(21), 0, 0);
	cr_assert_eq(r->metrics->n_channels, 1);
	cr_expect_eq(r->metrics->channels[0]->channel, CH(EMAIL));
	EXPECT_DBL(r->metrics->channels[0]->spend, 12.5, "Jan 20", "spend");
	EXPECT_DBL(r->metrics->channels[0]->cac, 0, "Jan 20", "cac");
	EXPECT_DBL(r->metrics->channels[0]->cost_per_visitor, 0, "Jan 20",
	        "cost_per_visitor");
	clm_response_free(r);

	/* Channel PAID_ADS, all of January: its row only. */
	r = flow_metrics(a, JAN(1), FEB(1), 0, CH(PAID_ADS));
	cr_assert_eq(r->metrics->n_channels, 1);
	cr_expect_eq(r->metrics->channels[0]->channel, CH(PAID_ADS));
	EXPECT_DBL(r->metrics->channels[0]->spend, 270, "PAID_ADS", "spend");
	clm_response_free(r);

	/* Invalid entries: refused whole, naming the field. */
	static const struct flow_sp bad_channel[] = {
		{ CH(PAID_ADS), JAN(8), 999, "x" },
		{ CH(CHANNEL_UNSPECIFIED), JAN(8), 5, "x" },
	};
	flow_expect_invalid(
	        flow_record_spend_call(a, bad_channel, N(bad_channel)),
	        "record_spend.spend[1].channel", "CHANNEL_UNSPECIFIED");
	static const struct flow_sp unknown_channel[]
	        = { { 99, JAN(8), 5, "x" } };
	flow_expect_invalid(flow_record_spend_call(a, unknown_channel, 1),
	        "record_spend.spend[0].channel", "channel 99");
	static const struct flow_sp negative[] = {
		{ CH(PAID_ADS), JAN(8), -1, "x" },
		{ CH(PAID_ADS), JAN(9), 1, "x" },
	};
	flow_expect_invalid(flow_record_spend_call(a, negative, N(negative)),
	        "record_spend.spend[0].amount", "negative amount");
	static const struct flow_sp old_day[] = {
		{ CH(PAID_ADS), JAN(9), 7, "x" },
		{ CH(PAID_ADS), Y1999, 5, "x" },
	};
	flow_expect_invalid(flow_record_spend_call(a, old_day, N(old_day)),
	        "record_spend.spend[1].day_ms", "day before 2000");
	flow_expect_invalid(flow_record_spend_call(a, NULL, 0),
	        "record_spend.spend", "no entries");

	/* Nothing of those was recorded. */
	r = flow_metrics(a, JAN(8), JAN(10), 0, 0);
	cr_expect_eq(r->metrics->n_channels, 0,
	        "[Jan 8, Jan 10): %zu channel rows after refused calls",
	        r->metrics->n_channels);
	clm_response_free(r);
	flow_check_metrics(a, &(struct flow_win) { JAN(5), JAN(8), 0, 0 }, &w,
	        "[Jan 5, Jan 8) after refused calls");
	clm_close(a);
}

/* ---------------------------------------------------------------------- */
/* 2. Experiments                                                         */

#define EXP        "exp-checkout"
#define EXP_N      300
#define EXP_PAST_I 7 /* i % 10: a purchase before the exposure */
#define EXP_LATE_I 9 /* i % 10: a late purchase dated before it */

static const struct flow_variant exp_variants[]
        = { { "control", 1 }, { "blue", 1 }, { "green", 2 } };

/* The assignment by docs/metrics.md: FNV-1a-64 of (experiment id, 0x00,
 * customer id), splitmix64's finalizer, mod the weights' sum, walked. */
static size_t
expected_variant(const char *exp, const char *customer,
        const struct flow_variant *v, size_t n)
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
expect_results(clm_conn *c, const char *exp, const struct flow_variant *vs,
        size_t nv, const uint64_t *exposed, const uint64_t *converted,
        const char *what)
{
	Clm__V1__Response *r = flow_results_call(c, exp);
	flow_expect_ok(r, what);
	const Clm__V1__ExperimentResultsReply *x = r->experiment_results;
	cr_assert_not_null(x);
	cr_expect_str_eq(x->experiment_id, exp);
	cr_assert_eq(
	        x->n_variants, nv, "%s: %zu variants", what, x->n_variants);
	double na = (double) exposed[0],
	       ra = flow_ratio((double) converted[0], na);
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
		double rate = flow_ratio(xr, n);
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

Test(spend_experiments, experiments)
{
	flow_start(&srv_a, NULL, NULL);
	clm_conn *a = flow_connect_to(&srv_a);
	const size_t nv = N(exp_variants);

	Clm__V1__Response *r
	        = flow_define_call(a, EXP, exp_variants, nv, TP(PURCHASE));
	flow_expect_ok(r, "define");
	cr_assert_not_null(r->define_experiment);
	cr_expect_str_eq(r->define_experiment->experiment_id, EXP);
	clm_response_free(r);
	r = flow_define_call(a, EXP, exp_variants, nv, TP(PURCHASE));
	flow_expect_ok(r, "define again");
	clm_response_free(r);
	static const struct flow_variant other_weights[]
	        = { { "control", 1 }, { "blue", 1 }, { "green", 1 } };
	r = flow_define_call(a, EXP, other_weights, 3, TP(PURCHASE));
	cr_expect_eq(flow_status_of(r), CLM_ALREADY_EXISTS,
	        "other weights: %s", clm_errname(flow_status_of(r)));
	clm_response_free(r);
	r = flow_define_call(a, EXP, exp_variants, nv, TP(SIGNUP));
	cr_expect_eq(flow_status_of(r), CLM_ALREADY_EXISTS, "other goal: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	r = flow_define_call(a, EXP, exp_variants, 2, TP(PURCHASE));
	cr_expect_eq(flow_status_of(r), CLM_ALREADY_EXISTS,
	        "fewer variants: %s", clm_errname(flow_status_of(r)));
	clm_response_free(r);

	static char ids[EXP_N][16];
	struct flow_tp *tps = calloc(2 * EXP_N, sizeof(*tps));
	static char eids[2 * EXP_N][24];
	cr_assert_not_null(tps);
	size_t nt = 0;
	/* Some customers bought on Jan 10, before any exposure. */
	for (int i = 0; i < EXP_N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "xc-%03d", i);
		if (i % 10 == EXP_PAST_I) {
			snprintf(
			        eids[nt], sizeof(eids[nt]), "xc-past-%03d", i);
			tps[nt] = (struct flow_tp) { ids[i], NULL, eids[nt],
				TP(PURCHASE), CH(EMAIL), JAN(10), 10, 0, 0 };
			nt++;
		}
	}
	flow_track(a, tps, nt);

	/* Assign: deterministic (docs' hash) and first. */
	size_t variant[EXP_N];
	uint64_t exposed[3] = { 0 }, converted[3] = { 0 };
	for (int i = 0; i < EXP_N; i++) {
		size_t want = expected_variant(EXP, ids[i], exp_variants, nv);
		cr_assert_lt(want, nv);
		r = flow_assign_call(a, EXP, ids[i]);
		flow_expect_ok(r, "assign");
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
		r = flow_assign_call(a, EXP, ids[i]);
		flow_expect_ok(r, "assign again");
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
			tps[nt++] = (struct flow_tp) { ids[i], NULL, NULL,
				TP(PURCHASE), CH(EMAIL), 0, 10, 0, 0 };
			converted[variant[i]]++;
			any = true;
			if (first_buyer < 0 && i % 10 != EXP_PAST_I) {
				first_buyer = i;
			}
		} else if (i % 5 == 1) {
			tps[nt++] = (struct flow_tp) { ids[i], NULL, NULL,
				TP(SITE_VISIT), CH(DIRECT), 0, 0, 5, 0 };
			any = true;
		}
		if (i % 10 == EXP_LATE_I) {
			snprintf(
			        eids[nt], sizeof(eids[nt]), "xc-late-%03d", i);
			tps[nt] = (struct flow_tp) { ids[i], NULL, eids[nt],
				TP(PURCHASE), CH(EMAIL), JAN(10), 10, 0, 0 };
			nt++;
			any = true;
		}
		with_touch += any;
		if (!any && idle < 0) {
			idle = i;
		}
	}
	flow_track(a, tps, nt);
	free(tps);
	cr_assert(first_buyer >= 0 && idle >= 0);
	expect_results(a, EXP, exp_variants, nv, exposed, converted,
	        "after conversions");
	/* Assign made profiles without touchpoints: not customers. */
	r = flow_metrics(a, 0, 0, 0, 0);
	EXPECT_U64(
	        r->metrics->customers, with_touch, "experiments", "customers");
	clm_response_free(r);

	/* Unknown experiment, invalid requests. */
	r = flow_assign_call(a, "exp-nope", ids[0]);
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "assign unknown: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	r = flow_results_call(a, "exp-nope");
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "results unknown: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	flow_expect_invalid(
	        flow_define_call(a, "exp-one", exp_variants, 1, TP(PURCHASE)),
	        "define_experiment.variants", "one variant");
	static const struct flow_variant dup[] = { { "a", 1 }, { "a", 1 } };
	flow_expect_invalid(
	        flow_define_call(a, "exp-dup", dup, 2, TP(PURCHASE)),
	        "define_experiment.variants[1].name", "same names");
	static const struct flow_variant zero[] = { { "a", 0 }, { "b", 0 } };
	flow_expect_invalid(
	        flow_define_call(a, "exp-zero", zero, 2, TP(PURCHASE)),
	        "define_experiment.variants", "weights 0");
	static const struct flow_variant noname[] = { { "a", 1 }, { "", 1 } };
	flow_expect_invalid(
	        flow_define_call(a, "exp-noname", noname, 2, TP(PURCHASE)),
	        "define_experiment.variants[1].name", "empty name");
	flow_expect_invalid(
	        flow_define_call(a, "exp-nogoal", exp_variants, nv, 0),
	        "define_experiment.goal", "no goal");
	flow_expect_invalid(
	        flow_define_call(a, "", exp_variants, nv, TP(PURCHASE)),
	        "define_experiment.experiment_id", "empty id");
	flow_expect_invalid(flow_assign_call(a, EXP, ""), "assign.customer_id",
	        "assign without customer");
	flow_expect_invalid(flow_assign_call(a, "", ids[0]),
	        "assign.experiment_id", "assign without experiment");
	flow_expect_invalid(flow_results_call(a, ""),
	        "experiment_results.experiment_id",
	        "results without experiment");
	/* None of them defined anything. */
	r = flow_results_call(a, "exp-zero");
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND);
	clm_response_free(r);

	/* Forget a converted customer, and one that was only assigned. */
	r = flow_forget(a, ids[first_buyer]);
	cr_expect(r->forget_customer->existed);
	clm_response_free(r);
	exposed[variant[first_buyer]]--;
	converted[variant[first_buyer]]--;
	r = flow_forget(a, ids[idle]);
	cr_expect(r->forget_customer->existed, "'%s' (assigned only)",
	        ids[idle]);
	clm_response_free(r);
	exposed[variant[idle]]--;
	expect_results(
	        a, EXP, exp_variants, nv, exposed, converted, "after forget");
	clm_close(a);
}
