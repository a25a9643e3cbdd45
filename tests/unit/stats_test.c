/*
 * Unit tests of server/core/stats.c against docs/metrics.md "Experiments": the
 * pooled two-proportion z-test and the 95 % interval of the difference on
 * two worked examples (the arithmetic is written out; every figure was
 * checked with python3), zero denominators, the normal tail, and
 * stats_assign against an independent implementation of its formula and
 * against values computed outside C.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/stats.h"

#define EPS 1e-6

/* ---------------------------------------------------------------------- */
/* stats_compare                                                          */

/*
 * A: 1,000 exposed, 100 converted; B: 1,000 exposed, 130 converted.
 *
 *   rate_A = 100 / 1000 = 0.10, rate_B = 130 / 1000 = 0.13
 *   lift   = 0.13 / 0.10 - 1 = 0.30
 *   pooled p = (130 + 100) / (1000 + 1000) = 0.115
 *   SE0 = sqrt(0.115 * 0.885 * (1/1000 + 1/1000))
 *       = sqrt(0.101775 * 0.002) = sqrt(0.00020355) = 0.01426710
 *   z   = (0.13 - 0.10) / 0.01426710 = 2.102741
 *   p   = 2 * P(Z > 2.102741) = 0.0354885
 *   SE1 = sqrt(0.10 * 0.90 / 1000 + 0.13 * 0.87 / 1000)
 *       = sqrt(0.00009 + 0.0001131) = sqrt(0.0002031) = 0.01425132
 *   CI  = 0.03 -/+ 1.959964 * 0.01425132 = 0.03 -/+ 0.0279321
 *       = [0.0020679, 0.0579321]
 */
Test(stats, textbook_1000_vs_1000)
{
	struct stats_vs v;
	stats_compare(1000, 130, 1000, 100, &v);
	cr_assert_float_eq(v.rate, 0.13, 1e-12);
	cr_assert_float_eq(v.lift, 0.30, 1e-12);
	cr_assert_float_eq(v.p_value, 0.0354885, EPS, "p %.7f", v.p_value);
	cr_assert_float_eq(v.ci_low, 0.0020679, EPS, "low %.7f", v.ci_low);
	cr_assert_float_eq(v.ci_high, 0.0579321, EPS, "high %.7f", v.ci_high);

	/* The other way round: same p, the interval negated. */
	stats_compare(1000, 100, 1000, 130, &v);
	cr_assert_float_eq(v.rate, 0.10, 1e-12);
	cr_assert_float_eq(v.lift, 0.10 / 0.13 - 1, 1e-12); /* -0.230769 */
	cr_assert_float_eq(v.p_value, 0.0354885, EPS);
	cr_assert_float_eq(v.ci_low, -0.0579321, EPS);
	cr_assert_float_eq(v.ci_high, -0.0020679, EPS);
}

/*
 * The Physicians' Health Study (Agresti, An Introduction to Categorical
 * Data Analysis, 2nd ed., Table 2.1 and §2.2): myocardial infarction in
 * 189 of 11,034 on placebo and 104 of 11,037 on aspirin. Printed: sample
 * proportions 0.0171 and 0.0094, difference 0.0077 with SE 0.0015, 95 %
 * interval (0.005, 0.011), relative risk 1.82, Pearson X^2 = 25.01 (for a
 * 2x2 table X^2 is the square of the pooled z).
 *
 * With placebo as the variant and aspirin as A:
 *   rate = 189 / 11034 = 0.0171289, rate_A = 104 / 11037 = 0.0094229
 *   SE1  = sqrt(0.0171289 * 0.9828711 / 11034
 *               + 0.0094229 * 0.9905771 / 11037) = 0.0015400
 *   CI   = 0.0077060 -/+ 1.959964 * 0.0015400 = [0.0046878, 0.0107243]
 *   z^2  = 25.0139, p = 2 * P(Z > 5.001388) = 5.6919e-7
 * The assertions use the printed figures with their printed precision.
 */
Test(stats, textbook_aspirin)
{
	struct stats_vs v;
	stats_compare(11034, 189, 11037, 104, &v);
	cr_assert_float_eq(v.rate, 0.0171, 0.00005);
	double ra = 104.0 / 11037.0;
	cr_assert_float_eq(ra, 0.0094, 0.00005);
	cr_assert_float_eq(v.rate - ra, 0.0077, 0.00005);
	cr_assert_float_eq(v.lift + 1, 1.82, 0.005, "relative risk");
	double se = (v.ci_high - v.ci_low) / (2 * STATS_Z95);
	cr_assert_float_eq(se, 0.0015, 0.00005, "SE %.6f", se);
	cr_assert_float_eq(v.ci_low, 0.005, 0.0005, "low %.6f", v.ci_low);
	cr_assert_float_eq(v.ci_high, 0.011, 0.0005, "high %.6f", v.ci_high);
	/* X^2 = 25.01 printed to 0.005: z within 0.0005 of sqrt(25.01), so
	 * the p-value within 0.3 % (d ln p / dz = about z). */
	double want = 2 * stats_normal_sf(sqrt(25.01));
	cr_assert(fabs(v.p_value - want) <= 0.003 * want, "p %.4e, want %.4e",
	        v.p_value, want);
	/* And to full precision, as python3 computes it. */
	cr_assert_float_eq(v.p_value, 5.691897e-7, 1e-12);
	cr_assert_float_eq(v.ci_low, 0.0046878, EPS);
	cr_assert_float_eq(v.ci_high, 0.0107243, EPS);
}

static void
check_nothing(const struct stats_vs *v, double rate, const char *what)
{
	cr_expect_float_eq(v->rate, rate, 1e-12, "%s: rate", what);
	cr_expect_eq(v->lift, 0, "%s: lift %g", what, v->lift);
	cr_expect_eq(v->p_value, 1, "%s: p %g", what, v->p_value);
	cr_expect_eq(v->ci_low, 0, "%s: low %g", what, v->ci_low);
	cr_expect_eq(v->ci_high, 0, "%s: high %g", what, v->ci_high);
}

Test(stats, zero_denominators)
{
	struct stats_vs v;
	memset(&v, 0xff, sizeof(v)); /* every field must be written */
	stats_compare(0, 0, 0, 0, &v);
	check_nothing(&v, 0, "nobody exposed");

	memset(&v, 0xff, sizeof(v));
	stats_compare(100, 10, 0, 0, &v);
	check_nothing(&v, 0.1, "A has nobody");
}

/*
 * stats.h: "Zero denominators give 0 (rates, lift, interval) and p-value
 * 1." A variant nobody was exposed to has no rate, so no lift either; it
 * must not report -100 % against an A with conversions.
 */
Test(stats, zero_denominator_variant_has_no_lift)
{
	struct stats_vs v;
	memset(&v, 0xff, sizeof(v));
	stats_compare(0, 0, 1000, 100, &v);
	check_nothing(&v, 0, "the variant has nobody");
}

Test(stats, zero_rate_of_a)
{
	/*
	 * A: 0 of 100, B: 10 of 100. lift's denominator is 0: lift 0. The
	 * test still runs: p = 10/200 = 0.05, SE0 = sqrt(0.05 * 0.95 * 0.02)
	 * = 0.0308221, z = 0.1 / 0.0308221 = 3.244428, p = 0.00117687;
	 * SE1 = sqrt(0.1 * 0.9 / 100) = 0.03, CI = 0.1 -/+ 0.0587989.
	 */
	struct stats_vs v;
	stats_compare(100, 10, 100, 0, &v);
	cr_assert_float_eq(v.rate, 0.1, 1e-12);
	cr_assert_eq(v.lift, 0);
	cr_assert_float_eq(v.p_value, 0.00117687, 1e-8, "p %.8f", v.p_value);
	cr_assert_float_eq(v.ci_low, 0.1 - 0.0587989, EPS);
	cr_assert_float_eq(v.ci_high, 0.1 + 0.0587989, EPS);
}

Test(stats, zero_standard_error)
{
	struct stats_vs v;
	/* Nobody converted anywhere: pooled p = 0. */
	stats_compare(100, 0, 200, 0, &v);
	check_nothing(&v, 0, "0 of 100 vs 0 of 200");
	/* Everybody converted: pooled p = 1; lift 1/1 - 1 = 0. */
	stats_compare(100, 100, 200, 200, &v);
	check_nothing(&v, 1, "100 of 100 vs 200 of 200");
}

Test(stats, same_rates)
{
	/* z = 0: p = 2 * P(Z > 0) = 1; the interval straddles 0. */
	struct stats_vs v;
	stats_compare(200, 20, 100, 10, &v);
	cr_assert_float_eq(v.lift, 0, 1e-12);
	cr_assert_float_eq(v.p_value, 1, 1e-12);
	cr_assert_float_eq(v.ci_low, -v.ci_high, 1e-12);
	cr_assert_gt(v.ci_high, 0);
}

/* ---------------------------------------------------------------------- */
/* stats_normal_sf                                                        */

Test(stats, normal_sf)
{
	cr_assert_float_eq(stats_normal_sf(0), 0.5, 1e-15);
	/* 1 - Phi(1.96) = 0.0249979 (python3: 0.5 * erfc(1.96 / sqrt 2)). */
	cr_assert_float_eq(stats_normal_sf(1.96), 0.024997895, 1e-9);
	cr_assert_float_eq(stats_normal_sf(-1.96), 1 - 0.024997895, 1e-9);
	cr_assert_float_eq(stats_normal_sf(STATS_Z95), 0.025, 1e-12);
	/* 1 - Phi(1) = 0.158655254 */
	cr_assert_float_eq(stats_normal_sf(1), 0.158655254, 1e-9);
	for (double z = -6; z <= 6; z += 0.25) {
		cr_assert_float_eq(
		        stats_normal_sf(z) + stats_normal_sf(-z), 1, 1e-15);
	}
	/* Far tails: positive, not rounded to 0 by 1 - Phi. */
	cr_assert_gt(stats_normal_sf(10), 0);
	cr_assert_lt(stats_normal_sf(10), 1e-22);
}

/* ---------------------------------------------------------------------- */
/* stats_assign                                                           */

/* docs/metrics.md, written out again: FNV-1a 64 over experiment id, one
 * 0 byte, customer id; the splitmix64 finalizer; mod the sum of weights;
 * walk the weights in order. */
static size_t
ref_assign(const char *exp, const char *cust, const uint32_t *w, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV offset basis */
	size_t le = strlen(exp), lc = strlen(cust);
	for (size_t i = 0; i < le + 1 + lc; i++) {
		unsigned char c = i < le ? (unsigned char) exp[i]
		        : i == le        ? 0
		                         : (unsigned char) cust[i - le - 1];
		h = (h ^ c) * 1099511628211ULL; /* FNV prime */
	}
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += w[i];
	}
	uint64_t pick = h % total;
	size_t i = 0;
	while (pick >= w[i]) {
		pick -= w[i++];
	}
	return i;
}

Test(stats, assign_known_values)
{
	/* Computed with python3 from the documented formula. */
	static const uint32_t w1234[] = { 1, 2, 3, 4 };
	cr_assert_eq(stats_assign("exp-1", "customer-42", w1234, 4), 3);
	cr_assert_eq(stats_assign("exp-1", "customer-43", w1234, 4), 1);
	cr_assert_eq(stats_assign("exp-1", "customer-44", w1234, 4), 3);
	static const uint32_t half[] = { 50, 50 };
	cr_assert_eq(stats_assign("checkout-button", "alice", half, 2), 1);
	cr_assert_eq(stats_assign("checkout-button", "bob", half, 2), 0);
	cr_assert_eq(stats_assign("checkout-button", "carol", half, 2), 0);
	static const uint32_t ones[16]
	        = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	cr_assert_eq(stats_assign("pricing", "", ones, 16), 7);
	static const uint32_t skew[] = { 999999, 1 };
	cr_assert_eq(stats_assign("", "x", skew, 2), 0);
}

Test(stats, assign_matches_the_formula)
{
	static const uint32_t ws[][5] = {
		{ 1, 3 },
		{ 5, 0, 5 },
		{ 1, 1, 1, 1, 1 },
		{ 7, 11, 13, 0, 17 },
		{ 500000, 499999, 1 },
	};
	static const size_t ns[] = { 2, 3, 5, 5, 3 };
	char id[32];
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		for (int i = 0; i < 2000; i++) {
			snprintf(id, sizeof(id), "c%d", i);
			size_t got = stats_assign("exp-x", id, ws[k], ns[k]);
			cr_assert_eq(got,
			        ref_assign("exp-x", id, ws[k], ns[k]),
			        "weights #%zu, id %s", k, id);
			cr_assert_lt(got, ns[k]);
			cr_assert_eq(got,
			        stats_assign("exp-x", id, ws[k], ns[k]),
			        "deterministic");
		}
	}
}

Test(stats, assign_separator_matters)
{
	/* "ab" + 0 + "c" and "a" + 0 + "bc" hash differently: over many ids
	 * at least one of the pairs must land in different variants. */
	static const uint32_t w[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	int differ = 0;
	char e1[32], c1[32], e2[32], c2[32];
	for (int i = 0; i < 100; i++) {
		snprintf(e1, sizeof(e1), "exp%d", i);
		snprintf(c1, sizeof(c1), "x");
		snprintf(e2, sizeof(e2), "exp");
		snprintf(c2, sizeof(c2), "%dx", i);
		differ += stats_assign(e1, c1, w, 8)
		        != stats_assign(e2, c2, w, 8);
	}
	cr_assert_gt(differ, 50, "%d of 100 differ", differ);
}

Test(stats, assign_respects_weights)
{
	/* 1:3 over 100,000 ids: variant 0 gets 25 % within 1 point. */
	static const uint32_t w[] = { 1, 3 };
	char id[32];
	long count[2] = { 0, 0 };
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "customer-%d", i);
		count[stats_assign("exp-weights", id, w, 2)]++;
	}
	double share = (double) count[0] / 100000;
	cr_assert(fabs(share - 0.25) <= 0.01, "share of A %.4f", share);

	/* 2:3:5 over 100,000 ids. */
	static const uint32_t w3[] = { 2, 3, 5 };
	long c3[3] = { 0, 0, 0 };
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		c3[stats_assign("exp-three", id, w3, 3)]++;
	}
	cr_assert(fabs(c3[0] / 1e5 - 0.2) <= 0.01, "%ld", c3[0]);
	cr_assert(fabs(c3[1] / 1e5 - 0.3) <= 0.01, "%ld", c3[1]);
	cr_assert(fabs(c3[2] / 1e5 - 0.5) <= 0.01, "%ld", c3[2]);
}

Test(stats, assign_zero_weight_never_chosen)
{
	static const uint32_t w[] = { 0, 1, 0, 1, 0 };
	static const uint32_t first[] = { 1, 0 };
	static const uint32_t last[] = { 0, 0, 5 };
	char id[32];
	long seen[5] = { 0 };
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "z%d", i);
		size_t v = stats_assign("exp-zero", id, w, 5);
		cr_assert(v == 1 || v == 3, "id %s got variant %zu", id, v);
		seen[v]++;
		cr_assert_eq(stats_assign("exp-zero", id, first, 2), 0);
		cr_assert_eq(stats_assign("exp-zero", id, last, 3), 2);
	}
	cr_assert_gt(seen[1], 9000);
	cr_assert_gt(seen[3], 9000);
}
