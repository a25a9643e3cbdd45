#include "core/stats.h"

#include <math.h>
#include <string.h>

#include "core/hll.h"

double
stats_normal_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

void
stats_compare(
        uint64_t n, uint64_t x, uint64_t na, uint64_t xa, struct stats_vs *out)
{
	double r = n == 0 ? 0 : (double) x / (double) n;
	double ra = na == 0 ? 0 : (double) xa / (double) na;
	out->rate = r;
	out->lift = n == 0 || ra == 0 ? 0 : r / ra - 1;
	out->p_value = 1;
	out->ci_low = out->ci_high = 0;
	if (n == 0 || na == 0) {
		return;
	}
	double p = (double) (x + xa) / (double) (n + na);
	double se = sqrt(p * (1 - p) * (1.0 / (double) n + 1.0 / (double) na));
	if (se > 0) {
		double z = (r - ra) / se;
		out->p_value = 2 * stats_normal_sf(fabs(z));
		if (out->p_value > 1) {
			out->p_value = 1;
		}
	}
	double sd
	        = sqrt(r * (1 - r) / (double) n + ra * (1 - ra) / (double) na);
	out->ci_low = (r - ra) - STATS_Z95 * sd;
	out->ci_high = (r - ra) + STATS_Z95 * sd;
}

size_t
stats_assign(const char *experiment_id, const char *customer_id,
        const uint32_t *weights, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[2] = { experiment_id, customer_id };
	for (int k = 0; k < 2; k++) {
		size_t len = strlen(parts[k]) + (k == 0); /* the 0 byte */
		for (size_t i = 0; i < len; i++) {
			h ^= (unsigned char) parts[k][i];
			h *= 0x100000001b3ULL;
		}
	}
	h = hll_mix(h);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += weights[i];
	}
	uint64_t pick = h % total;
	for (size_t i = 0; i < n; i++) {
		if (pick < weights[i]) {
			return i;
		}
		pick -= weights[i];
	}
	return n - 1; /* not reached: pick < total */
}
