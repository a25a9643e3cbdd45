/*
 * clm cohorts [--from T] [--to T] [--by day|week|month] [--periods N]: the
 * retention matrix of purchase cohorts (docs/metrics.md, Cohorts): one row
 * per cohort, its start and size, then the share of it that bought again
 * in each period after.
 */
#include <time.h>

#include "args.h"
#include "civil.h"
#include "cli.h"

#define CMD_COHORTS_DAY_MS 86400000LL

/* The start of the k-th period after the one starting at start (UTC). */
static int64_t
cmd_cohorts_period(int64_t start, Clm__V1__Granularity g, unsigned k)
{
	if (g == CLM__V1__GRANULARITY__DAY) {
		return start + (int64_t) k * CMD_COHORTS_DAY_MS;
	}
	if (g != CLM__V1__GRANULARITY__MONTH) {
		return start + (int64_t) k * 7 * CMD_COHORTS_DAY_MS;
	}
	time_t s = (time_t) (start / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	int64_t months = (int64_t) tm.tm_year * 12 + tm.tm_mon + k;
	int64_t y = 1900 + months / 12;
	return civil_to_days(y, (int) (months % 12) + 1, 1)
	        * CMD_COHORTS_DAY_MS;
}

static void
cmd_cohorts_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__CohortReply *r = (const Clm__V1__CohortReply *) m;
	Clm__V1__Granularity g = r->granularity;
	const char *by = g == CLM__V1__GRANULARITY__DAY ? "day"
	        : g == CLM__V1__GRANULARITY__MONTH      ? "calendar month"
	                                                : "ISO week";
	size_t periods = 0;
	for (size_t i = 0; i < r->n_rows; i++) {
		if (r->rows[i]->n_retained > periods) {
			periods = r->rows[i]->n_retained;
		}
	}
	printf("cohorts by first purchase, by %s (UTC); cells: share with a purchase\nin period k after the cohort's\n\n",
	        by);
	if (r->n_rows == 0) {
		printf("no cohorts in this window\n");
		return;
	}
	printf("%-10s %7s", "cohort", "size");
	for (size_t k = 0; k < periods; k++) {
		printf(" %6zu", k);
	}
	printf("\n");
	int64_t now = cli_now_ms();
	for (size_t i = 0; i < r->n_rows; i++) {
		const Clm__V1__CohortRow *row = r->rows[i];
		char date[32];
		cli_fmt_date(row->cohort_start_ms, date);
		if (g == CLM__V1__GRANULARITY__MONTH) {
			date[7] = '\0'; /* 2026-01 */
		}
		printf("%-10s %7llu", date, (unsigned long long) row->size);
		for (size_t k = 0; k < row->n_retained; k++) {
			if (cmd_cohorts_period(
			            row->cohort_start_ms, g, (unsigned) k)
			        > now) {
				break; /* that period has not begun */
			}
			if (row->size == 0) {
				printf(" %6s", "-");
			} else {
				printf(" %5.1f%%", row->retained[k] * 100.0);
			}
		}
		printf("\n");
	}
}

int
cmd_cohorts(struct cli *cli, int argc, char **argv)
{
	/* The periods of --by, in the order of its words. */
	static const Clm__V1__Granularity by[] = { CLM__V1__GRANULARITY__DAY,
		CLM__V1__GRANULARITY__WEEK, CLM__V1__GRANULARITY__MONTH };
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, NULL, NULL) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__CohortRequest q = CLM__V1__COHORT_REQUEST__INIT;
	if (args_window(&a, &q.from_ms, &q.to_ms) != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (args_get(&a, "--by")->set) {
		q.granularity = by[args_get(&a, "--by")->n];
	}
	q.periods = (uint32_t) args_get(&a, "--periods")->n;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_cohorts(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_cohorts_print, NULL);
}
