/*
 * clm-segx-bench: what evaluating a segment expression costs (issue 19's
 * target: at most 1 us per defined segment, for GetCustomer's list).
 *
 *   clm-segx-bench [evaluations]
 *
 * One realistic profile (a year of touchpoints: visits, views, purchases,
 * a refund, tickets, a cart, traits), 20 expressions of varied shape, each
 * compiled once and evaluated `evaluations` times (default 200,000) at
 * instants a millisecond apart, seven runs. Prints, per expression, the
 * median nanoseconds per evaluation, and the median over all of them.
 *
 * The count callback answers from sorted arrays of event times by binary
 * search, so its cost stands for a cheap index; a real store lookup costs
 * what the store costs, on top.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/segexpr.h"

#define SBENCH_DAY   86400000LL
#define SBENCH_NOW   1796577558300LL
#define SBENCH_RUNS  7
#define SBENCH_TIMES 512

/* The stored touchpoints of one type, in time order. */
struct sbench_times {
	int64_t at[SBENCH_TIMES];
	size_t n;
};

static struct {
	struct model_profile p;
	struct model_params mp;
	struct risk_onboarding onb;
	struct sbench_times by_type[MODEL_N_TYPES];
	uint64_t seq;
} sb;

static const char *const sbench_exprs[] = {
	"stage = RETENTION",
	"health = AT_RISK",
	"stage = RETENTION and since(last_seen) > 30d",
	"purchases >= 2 and referrals = 0",
	"acquisition_channel = PAID_ADS and revenue > 100",
	"churn_risk > 0.3",
	"risk has SUPPORT_TICKETS or risk has RECENT_BILLING_ISSUE",
	"cart has \"sku-7\" and not bought \"sku-7\"",
	"count(PAGE_VIEW, 30d) >= 5",
	"count(PURCHASE, 90d) >= 2 and health = ACTIVE",
	"trait.plan = \"pro\" and trait.seats >= 10",
	"since(first_seen) > 365d or funnel = TOP",
	"not (stage = REACH or stage = ACQUISITION) and health != CHURNED",
	"count(SITE_VISIT, 7d) = 0 and since(last_seen) <= 90d",
	"stage >= NURTURE and (health = AT_RISK or churn_risk >= 0.5) and "
	"purchases > 0",
	"conversion_channel = EMAIL or conversion_channel = SMS or "
	"acquisition_channel = ORGANIC_SEARCH",
	"count(CUSTOM where name = \"played\", 1d) > 3 or "
	"count(PAGE_VIEW, 1d) > 10",
	"first_seen < \"2026-01-01\" and last_seen >= \"2026-11-01\"",
	"risk has INACTIVE and not risk has SUBSCRIPTION_CANCELLED and "
	"refunds = 0",
	"(stage = RETENTION and purchases >= 3) or (stage = ADVOCACY) or "
	"(trait.vip = \"yes\" and revenue > 1000)",
};

static int64_t
sbench_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
sbench_touch(int type, int64_t at, const char *item)
{
	struct model_touch t = {
		.type = type,
		.channel = 2,
		.at_ms = at,
		.seq = ++sb.seq,
		.item_id = item,
		.value_micros = type == MODEL_T_PURCHASE ? 49000000 : 0,
	};
	struct model_rescan r = { .active = false };
	model_apply(&sb.p, &t, &r);
	struct sbench_times *bt = &sb.by_type[type];
	if (bt->n < SBENCH_TIMES) {
		bt->at[bt->n++] = at;
	}
}

/* A year of a regular customer, oldest first. */
static void
sbench_profile(void)
{
	model_profile_init(&sb.p);
	model_params_default(&sb.mp);
	sb.onb.known = true;
	sb.onb.twice_median_ms = 4 * SBENCH_DAY;
	int64_t t = SBENCH_NOW - 365 * SBENCH_DAY;
	sbench_touch(MODEL_T_SITE_VISIT, t, "");
	sbench_touch(MODEL_T_SIGNUP, t + 1000, "");
	sbench_touch(MODEL_T_ONBOARDING_COMPLETED, t + 3 * SBENCH_DAY, "");
	for (int d = 4; d < 360; d += 2) {
		int64_t at = t + d * SBENCH_DAY;
		sbench_touch(MODEL_T_SITE_VISIT, at, "");
		sbench_touch(MODEL_T_PAGE_VIEW, at + 1000, "");
		if (d % 30 == 0) {
			char item[16];
			snprintf(item, sizeof(item), "sku-%d", d % 9);
			sbench_touch(MODEL_T_PURCHASE, at + 2000, item);
		}
		if (d % 50 == 0) {
			sbench_touch(MODEL_T_SUPPORT_TICKET, at + 3000, "");
		}
	}
	sbench_touch(MODEL_T_REFUND, SBENCH_NOW - 20 * SBENCH_DAY, "sku-3");
	sbench_touch(
	        MODEL_T_ADD_TO_CART, SBENCH_NOW - 6 * SBENCH_DAY, "sku-7");
}

static bool
sbench_trait(void *arg, const char *name, size_t name_len, const char **val,
        size_t *val_len)
{
	(void) arg;
	if (name_len == 4 && memcmp(name, "plan", 4) == 0) {
		*val = "pro";
	} else if (name_len == 5 && memcmp(name, "seats", 5) == 0) {
		*val = "25";
	} else {
		return false;
	}
	*val_len = strlen(*val);
	return true;
}

static bool
sbench_bought(void *arg, const char *item, size_t item_len)
{
	(void) arg;
	return item_len == 5 && memcmp(item, "sku-3", 5) == 0;
}

/* The index of the first time in bt after t. */
static size_t
sbench_after(const struct sbench_times *bt, int64_t t)
{
	size_t lo = 0, hi = bt->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (bt->at[mid] <= t) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static clm_err
sbench_count(void *arg, const struct segx_count *c, int64_t to_ms, uint64_t *n,
        int64_t *change_ms)
{
	(void) arg;
	const struct sbench_times *bt = &sb.by_type[c->type];
	if (c->item != NULL || c->name != NULL) {
		*n = 0;
		*change_ms = INT64_MAX;
		return CLM_OK;
	}
	size_t lo = sbench_after(bt, to_ms - c->window_ms);
	size_t hi = sbench_after(bt, to_ms);
	*n = hi - lo;
	*change_ms = hi < bt->n ? bt->at[hi] : INT64_MAX;
	if (lo < hi && bt->at[lo] + c->window_ms < *change_ms) {
		*change_ms = bt->at[lo] + c->window_ms;
	}
	return CLM_OK;
}

static int
sbench_cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return x < y ? -1 : (x > y ? 1 : 0);
}

int
main(int argc, char **argv)
{
	long evals = argc > 1 ? atol(argv[1]) : 200000;
	if (evals <= 0) {
		fprintf(stderr, "usage: clm-segx-bench [evaluations]\n");
		return 2;
	}
	sbench_profile();
	struct segx_subject s = {
		.p = &sb.p,
		.mp = &sb.mp,
		.onb = &sb.onb,
		.trait = sbench_trait,
		.bought = sbench_bought,
		.count = sbench_count,
	};
	size_t ne = sizeof(sbench_exprs) / sizeof(sbench_exprs[0]);
	double medians[sizeof(sbench_exprs) / sizeof(sbench_exprs[0])];
	uint64_t members = 0;
	printf("%-8s %8s  %s\n", "ns/eval", "member", "expression");
	for (size_t i = 0; i < ne; i++) {
		segx *x;
		struct segx_error err;
		const char *src = sbench_exprs[i];
		if (segx_parse(src, strlen(src), &x, &err) != CLM_OK) {
			fprintf(stderr,
			        "clm-segx-bench: '%s': at byte %zu: %s\n", src,
			        err.pos, err.msg);
			return 1;
		}
		double runs[SBENCH_RUNS];
		bool member = false;
		for (int r = 0; r < SBENCH_RUNS; r++) {
			int64_t start = sbench_ns();
			for (long k = 0; k < evals; k++) {
				int64_t next;
				if (segx_eval(x, &s, SBENCH_NOW + k, &member,
				            &next)
				        != CLM_OK) {
					return 1;
				}
				members += member;
			}
			runs[r] = (double) (sbench_ns() - start)
			        / (double) evals;
		}
		qsort(runs, SBENCH_RUNS, sizeof(runs[0]), sbench_cmp);
		medians[i] = runs[SBENCH_RUNS / 2];
		printf("%8.1f %8s  %s\n", medians[i], member ? "yes" : "no",
		        src);
		segx_free(x);
	}
	double all[sizeof(medians) / sizeof(medians[0])];
	memcpy(all, medians, sizeof(all));
	qsort(all, ne, sizeof(all[0]), sbench_cmp);
	printf("median over %zu expressions: %.1f ns per evaluation, worst "
	       "%.1f ns (%" PRIu64 " member answers)\n",
	        ne, all[ne / 2], all[ne - 1], members);
	return 0;
}
