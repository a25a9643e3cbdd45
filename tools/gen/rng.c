/*
 * rng: clm-gen's random numbers. Every random choice comes from a
 * splitmix64 stream keyed by (seed, purpose, index), and the distributions
 * use only +, -, *, / and the exact frexp, ldexp and floor, with a
 * logarithm and an exponential of our own, so the same arguments give the
 * same bytes on every IEEE-754 machine.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "gen.h"

/* The splitmix64 finalizer: a bijective 64-bit mix. */
static uint64_t
gen_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
gen_rng_init(struct gen_rng *r, uint64_t seed, enum gen_stream stream,
        uint64_t index)
{
	r->s = gen_mix(gen_mix(seed ^ 0x636c6d2d67656e31ULL)
	        ^ gen_mix(((uint64_t) stream << 56) + index));
}

static uint64_t
gen_rng_next(struct gen_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return gen_mix(r->s);
}

/* A double in [0, 1). */
double
gen_unit(struct gen_rng *r)
{
	return (double) (gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* An integer in [0, n), n < 2^32 (Lemire's multiply; the bias is < 2^-32). */
uint32_t
gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t) (((gen_rng_next(r) >> 32) * n) >> 32);
}

/* An integer in [lo, hi]. */
int64_t
gen_range(struct gen_rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t) gen_below(r, (uint32_t) (hi - lo + 1));
}

bool
gen_chance(struct gen_rng *r, double p)
{
	return gen_unit(r) < p;
}

/* How many of up to max trials in a row succeed with probability p. */
int
gen_run(struct gen_rng *r, double p, int max)
{
	int n = 0;
	while (n < max && gen_chance(r, p)) {
		n++;
	}
	return n;
}

/* Picks an index by integer weights. */
int
gen_pick(struct gen_rng *r, const int *weight, int n)
{
	int total = 0;
	for (int i = 0; i < n; i++) {
		total += weight[i];
	}
	int x = (int) gen_below(r, (uint32_t) total);
	for (int i = 0; i < n; i++) {
		if (x < weight[i]) {
			return i;
		}
		x -= weight[i];
	}
	return n - 1;
}

/*
 * Natural logarithm for x > 0, with basic arithmetic only (libm's log may
 * differ in the last bit between platforms, and one bit can move an event
 * by a millisecond): x = m 2^e with m in [0.707, 1.414), then
 * ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, summed to 1e-19.
 */
static double
gen_ln(double x)
{
	int e;
	double m = frexp(x, &e);
	if (m < 0.70710678118654752) {
		m *= 2;
		e--;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k < 26; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * 0.69314718055994531;
}

/* e^x for |x| < 700, like gen_ln: x = k ln 2 + r, |r| <= 0.35, Taylor. */
static double
gen_exp(double x)
{
	double k = floor(x / 0.69314718055994531 + 0.5);
	double r = x - k * 0.69314718055994531, term = 1, sum = 1;
	for (int i = 1; i < 20; i++) {
		term *= r / i;
		sum += term;
	}
	return ldexp(sum, (int) k);
}

/* An exponential variate with the given mean. */
double
gen_expo(struct gen_rng *r, double mean)
{
	return -gen_ln(1 - gen_unit(r)) * mean;
}

/* An approximately standard normal variate (Irwin-Hall, 12 uniforms). */
static double
gen_normal(struct gen_rng *r)
{
	double s = 0;
	for (int i = 0; i < 12; i++) {
		s += gen_unit(r);
	}
	return s - 6;
}

/* A lognormal variate with the given median. */
double
gen_lognormal(struct gen_rng *r, double median, double sigma)
{
	return median * gen_exp(sigma * gen_normal(r));
}

/* x^u for x >= 1: log-uniform between 1 and x. */
double
gen_loguniform(struct gen_rng *r, double x)
{
	return gen_exp(gen_unit(r) * gen_ln(x));
}
