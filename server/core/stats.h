/*
 * stats: experiment statistics and assignment (pure functions).
 */
#ifndef CLM_STATS_H
#define CLM_STATS_H

#include <stddef.h>
#include <stdint.h>

/* A variant against the first one (A): docs/metrics.md "Experiments". */
struct stats_vs {
	double rate, lift, p_value, ci_low, ci_high;
};

/* The 97.5 % quantile of the standard normal distribution. */
#define STATS_Z95 1.959963984540054

/*
 * stats_compare fills *out for a variant with x conversions of n exposed
 * against A with xa of na: rate, lift, the two-sided p-value of the pooled
 * two-proportion z-test and the 95 % interval of the difference. Zero
 * denominators give 0 (rates, lift, interval) and p-value 1.
 */
void stats_compare(uint64_t n, uint64_t x, uint64_t na, uint64_t xa,
        struct stats_vs *out);

/* stats_normal_sf is P(Z > z) for a standard normal Z. */
double stats_normal_sf(double z);

/*
 * stats_assign picks a variant for (experiment, customer): FNV-1a-64 over
 * experiment id, one 0 byte and customer id, the splitmix64 finalizer,
 * modulo the sum of weights, walked through weights in order. The sum must
 * be at least 1.
 */
size_t stats_assign(const char *experiment_id, const char *customer_id,
        const uint32_t *weights, size_t n);

#endif /* CLM_STATS_H */
