/*
 * clm-gen: a seeded generator of realistic customer journeys, for demos,
 * benchmarks and tests of clmd. It writes NDJSON, one clm.v1.Touchpoint per
 * line in proto3 JSON (what `clm track` and `clm import` read), and on
 * request the daily ad spend (clm.v1.Spend lines) and the product catalog
 * (clm.v1.Item lines, then the stores the STORE_VISITs name).
 *
 *   clm-gen [--seed N] [--customers N] [--days D] [--end DATE]
 *           [--out FILE] [--spend FILE] [--items N] [--catalog FILE]
 *           [--quiet]
 *
 * Why it is built this way:
 *
 * - The output is a pure function of the arguments. Every random choice
 *   comes from splitmix64 streams keyed by (seed, purpose, index): customer
 *   i, catalog item k and spend day d each have their own stream, so one
 *   customer's journey does not depend on how many came before, and the
 *   catalog and spend agree with the touchpoints that use them. The only
 *   floating-point operations are +, -, *, / and the exact frexp, ldexp and
 *   floor (logarithm and exponential are our own series), and every number
 *   printed is an integer count of cents, hundredths or 1e-5 degrees, so the
 *   bytes are the same on every IEEE-754 machine. The clock is read only for
 *   the --end default and to refuse an --end clmd would reject.
 *
 * - Memory is constant: a customer's touchpoints are built in one fixed
 *   array (GEN_MAX_EVENTS), sorted by time, written, and forgotten.
 *
 * - Every event time lies in [end - days, end). A journey is simulated
 *   forward from the customer's first-seen time and whatever would happen
 *   at or after `end` is dropped, as if the history were cut at `end`;
 *   since effects come strictly after their causes (a refund after its
 *   purchase), a dropped cause never leaves its effect behind. A customer's
 *   times are made distinct (to the ms) after sorting, so "first touchpoint"
 *   is never a tie.
 *
 * - The journey: an acquisition channel (paid ones start with ad
 *   impressions and maybe a click), browsing sessions (SITE_VISIT with
 *   PAGE_VIEWs, CONTENT_VIEWs, PRICING_VIEW, SIGNUP, DEMO_REQUEST, carts that
 *   are abandoned), for about a third of the customers a purchase session
 *   and for some repeat purchases, and around them the after-life:
 *   onboarding, newsletters, app use, store visits, support, billing
 *   issues, refunds, reviews, referrals, mentions, feedback and
 *   cancellations (some won back).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"
#include "gen.h"

#define GEN_MIN_MS 946684800000LL /* 2000-01-01, clmd's lower bound */

/* Exit codes. */
#define GEN_EXIT_OK    0
#define GEN_EXIT_IO    1
#define GEN_EXIT_USAGE 2

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static const char gen_usage_text[]
        = "usage: clm-gen [options]\n"
          "\n"
          "Writes realistic customer journeys as NDJSON, one clm.v1.Touchpoint per line\n"
          "(proto3 JSON, as `clm track` and `clm import` read). The output is a pure\n"
          "function of the options.\n"
          "\n"
          "  --seed N        random seed (default 1)\n"
          "  --customers N   customers to generate (default 1000)\n"
          "  --days D        span of history in days (default 90)\n"
          "  --end DATE      end of the history, exclusive: YYYY-MM-DD (00:00 UTC) or\n"
          "                  unix ms (default today 00:00 UTC); events lie in\n"
          "                  [end - days, end)\n"
          "  --out FILE      touchpoints to FILE (default standard output, also -)\n"
          "  --spend FILE    also write daily spend of PAID_ADS, ORGANIC_SOCIAL and EMAIL\n"
          "                  as NDJSON of clm.v1.Spend\n"
          "  --items N       catalog size (default 50)\n"
          "  --catalog FILE  also write the catalog as NDJSON of clm.v1.Item, then the\n"
          "                  clm.v1.Store lines the STORE_VISITs name\n"
          "  --quiet         no summary on standard error\n"
          "  --help          this text\n"
          "\n"
          "exit codes: 0 ok, 1 cannot write, 2 usage error\n";

enum gen_opt_kind { OPT_UINT, OPT_STR, OPT_FLAG, OPT_HELP };

/* The options, as data: one parser does every check. */
static const struct gen_opt {
	const char *name;
	enum gen_opt_kind kind;
	uint64_t min, max; /* OPT_UINT */
	size_t field;      /* offsetof in struct gen */
} gen_opts[] = {
	{ "seed", OPT_UINT, 0, UINT64_MAX, offsetof(struct gen, seed) },
	{ "customers", OPT_UINT, 1, 100000000,
	        offsetof(struct gen, customers) },
	{ "days", OPT_UINT, 1, 36500, offsetof(struct gen, days) },
	{ "items", OPT_UINT, 1, 1000000, offsetof(struct gen, items) },
	{ "end", OPT_STR, 0, 0, offsetof(struct gen, end_arg) },
	{ "out", OPT_STR, 0, 0, offsetof(struct gen, out_path) },
	{ "spend", OPT_STR, 0, 0, offsetof(struct gen, spend_path) },
	{ "catalog", OPT_STR, 0, 0, offsetof(struct gen, catalog_path) },
	{ "quiet", OPT_FLAG, 0, 0, offsetof(struct gen, quiet) },
	{ "help", OPT_HELP, 0, 0, 0 },
};

/* Says what is wrong with the command line; returns the exit code. */
static int gen_usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static int
gen_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("clm-gen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\ntry 'clm-gen --help'\n", stderr);
	va_end(ap);
	return GEN_EXIT_USAGE;
}

/* Digits only, no sign or spaces, no overflow. */
static bool
gen_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		unsigned d = (unsigned) (*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* YYYY-MM-DD (00:00 UTC) or unix ms. */
static bool
gen_parse_end(const char *s, int64_t *ms)
{
	uint64_t v;
	if (gen_parse_uint(s, &v)) {
		if (v > (uint64_t) INT64_MAX / 2) {
			return false;
		}
		*ms = (int64_t) v;
		return true;
	}
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-'
	        || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) {
		return false;
	}
	for (int i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
			return false;
		}
	}
	static const int mdays[12]
	        = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]
	        || (m == 2 && d == 29 && !leap)) {
		return false;
	}
	*ms = civil_to_days(y, m, d) * GEN_DAY_MS;
	return true;
}

/* Returns -1 to go on, or an exit code. */
static int
gen_parse_args(struct gen *g, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0) {
			a = "--help";
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			return gen_usage_error("unexpected argument '%s'", a);
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq != NULL ? (size_t) (eq - name) : strlen(name);
		const struct gen_opt *opt = NULL;
		for (size_t k = 0; k < sizeof(gen_opts) / sizeof(gen_opts[0]);
		        k++) {
			if (strlen(gen_opts[k].name) == len
			        && strncmp(gen_opts[k].name, name, len) == 0) {
				opt = &gen_opts[k];
			}
		}
		if (opt == NULL) {
			return gen_usage_error("unknown option '%s'", a);
		}
		char *field = (char *) g + opt->field;
		if (opt->kind == OPT_HELP || opt->kind == OPT_FLAG) {
			if (eq != NULL) {
				return gen_usage_error(
				        "option '--%s' takes no value",
				        opt->name);
			}
			if (opt->kind == OPT_HELP) {
				fputs(gen_usage_text, stdout);
				return GEN_EXIT_OK;
			}
			*(bool *) field = true;
			continue;
		}
		const char *value = eq != NULL ? eq + 1 : NULL;
		if (value == NULL) {
			if (i + 1 == argc) {
				return gen_usage_error(
				        "option '--%s' needs a value",
				        opt->name);
			}
			value = argv[++i];
		}
		if (opt->kind == OPT_STR) {
			if (*value == '\0') {
				return gen_usage_error(
				        "option '--%s' needs a value",
				        opt->name);
			}
			*(const char **) field = value;
			continue;
		}
		uint64_t v;
		if (!gen_parse_uint(value, &v) || v < opt->min
		        || v > opt->max) {
			return gen_usage_error(
			        "invalid --%s '%s': want a whole number from %llu to %llu",
			        opt->name, value,
			        (unsigned long long) opt->min,
			        (unsigned long long) opt->max);
		}
		*(uint64_t *) field = v;
	}

	/* The time window. */
	int64_t now_ms = (int64_t) time(NULL) * 1000;
	if (g->end_arg == NULL) {
		g->end_ms = gen_floor_div(now_ms, GEN_DAY_MS) * GEN_DAY_MS;
	} else if (!gen_parse_end(g->end_arg, &g->end_ms)) {
		return gen_usage_error(
		        "invalid --end '%s': want YYYY-MM-DD or unix milliseconds",
		        g->end_arg);
	}
	g->start_ms = g->end_ms - (int64_t) g->days * GEN_DAY_MS;
	if (g->start_ms < GEN_MIN_MS) {
		return gen_usage_error(
		        "--end minus --days is before 2000-01-01, which clmd rejects");
	}
	if (g->end_ms > now_ms + GEN_DAY_MS) {
		return gen_usage_error(
		        "--end '%s' is more than 24 h in the future, which clmd rejects",
		        g->end_arg);
	}
	return -1;
}

static void
gen_summary(const struct gen *g, double seconds)
{
	char from[32], to[32], first[32], last[32];
	gen_format_time(g->start_ms, from, sizeof(from));
	gen_format_time(g->end_ms, to, sizeof(to));
	gen_format_time(g->min_t, first, sizeof(first));
	gen_format_time(g->max_t, last, sizeof(last));
	fprintf(stderr,
	        "clm-gen: %llu customers, %llu touchpoints, %llu purchases by %llu customers (%.1f %%), window [%s, %s) %llu days, events %s .. %s, %.1f s\n",
	        (unsigned long long) g->customers,
	        (unsigned long long) g->counter,
	        (unsigned long long) g->type_count[PURCHASE],
	        (unsigned long long) g->buyers,
	        100.0 * (double) g->buyers / (double) g->customers, from, to,
	        (unsigned long long) g->days, first, last, seconds);
}

int
main(int argc, char **argv)
{
	struct gen g;
	memset(&g, 0, sizeof(g));
	g.seed = 1;
	g.customers = 1000;
	g.days = 90;
	g.items = 50;
	g.out_path = "-";
	int rc = gen_parse_args(&g, argc, argv);
	if (rc >= 0) {
		return rc;
	}
	g.first_day = gen_floor_div(g.start_ms, GEN_DAY_MS);
	g.last_day = gen_floor_div(g.end_ms - 1, GEN_DAY_MS);
	for (int64_t d = g.first_day; d <= g.last_day; d++) {
		double w = gen_day_weight(&g, d);
		g.weight_sum += w;
		if (w > g.weight_max) {
			g.weight_max = w;
		}
	}

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct gen_out out, spend, catalog;
	memset(&spend, 0, sizeof(spend));
	memset(&catalog, 0, sizeof(catalog));
	struct gen_cust *c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "clm-gen: out of memory\n");
		return GEN_EXIT_IO;
	}
	if (gen_out_open(&out, g.out_path) != 0) {
		free(c);
		return GEN_EXIT_IO;
	}
	rc = GEN_EXIT_OK;
	if (g.catalog_path != NULL) {
		if (gen_out_open(&catalog, g.catalog_path) != 0) {
			rc = GEN_EXIT_IO;
			goto done;
		}
		gen_write_catalog(&g, &catalog);
	}
	if (g.spend_path != NULL) {
		if (gen_out_open(&spend, g.spend_path) != 0) {
			rc = GEN_EXIT_IO;
			goto done;
		}
		gen_write_spend(&g, &spend);
	}
	for (uint64_t i = 1; i <= g.customers && out.err == 0; i++) {
		gen_customer(&g, c, i, &out);
	}
done:
	/* Close all three, whichever fails. */
	if (gen_out_close(&out) != 0) {
		rc = GEN_EXIT_IO;
	}
	if (gen_out_close(&spend) != 0) {
		rc = GEN_EXIT_IO;
	}
	if (gen_out_close(&catalog) != 0) {
		rc = GEN_EXIT_IO;
	}
	free(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == GEN_EXIT_OK && !g.quiet) {
		gen_summary(&g,
		        (double) (t1.tv_sec - t0.tv_sec)
		                + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	return rc;
}
