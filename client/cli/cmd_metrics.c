/*
 * clm metrics [--from T] [--to T] [--channel CH] [--window-days N]: the
 * funnel and every other figure of MetricsReply (docs/metrics.md), as
 * tables, or the reply as one JSON line with --json.
 */
#include <unistd.h>

#include "args.h"
#include "cli.h"

#define CMD_METRICS_DAY_MS 86400000LL
#define CMD_METRICS_BAR    20

/* The window the server will use (docs/metrics.md), for the header. */
static void
cmd_metrics_window(
        const Clm__V1__MetricsRequest *q, int64_t *from, int64_t *to)
{
	*to = q->to_ms != 0 ? cli_day_floor(q->to_ms)
	                    : cli_day_floor(cli_now_ms()) + CMD_METRICS_DAY_MS;
	*from = q->from_ms != 0 ? cli_day_floor(q->from_ms)
	                        : *to - 30 * CMD_METRICS_DAY_MS;
}

static double
cmd_metrics_pct(double rate)
{
	return rate * 100.0;
}

static const char *
cmd_metrics_stage(Clm__V1__Stage s)
{
	return cli_enum_name(&clm__v1__stage__descriptor, (int) s);
}

static void
cmd_metrics_funnel(const Clm__V1__MetricsReply *r, bool unicode)
{
	uint64_t max = 0;
	for (size_t i = 0; i < r->n_stages; i++) {
		if (r->stages[i]->current > max) {
			max = r->stages[i]->current;
		}
	}
	printf("%-11s %9s  %-*s %9s %9s %9s %9s\n", "funnel", "current",
	        CMD_METRICS_BAR, "", "entered", "at risk", "churned",
	        "drop-off");
	for (size_t i = 0; i < r->n_stages; i++) {
		const Clm__V1__StageMetric *s = r->stages[i];
		printf("%-11s %9llu  ", cmd_metrics_stage(s->stage),
		        (unsigned long long) s->current);
		cli_bar(stdout, max ? (double) s->current / (double) max : 0,
		        CMD_METRICS_BAR, unicode);
		printf(" %9llu %9llu %9llu %8.1f%%\n",
		        (unsigned long long) s->entered,
		        (unsigned long long) s->at_risk,
		        (unsigned long long) s->churned,
		        cmd_metrics_pct(s->drop_off_rate));
	}
}

static void
cmd_metrics_conversions(const Clm__V1__MetricsReply *r, uint32_t days)
{
	char head[64];
	snprintf(head, sizeof(head), "conversions (within %u days)", days);
	printf("\n%-28s %9s %10s %8s\n", head, "cohort", "converted", "rate");
	for (size_t i = 0; i < r->n_conversions; i++) {
		const Clm__V1__Conversion *c = r->conversions[i];
		char pair[64];
		snprintf(pair, sizeof(pair), "%s -> %s",
		        cmd_metrics_stage(c->from_stage),
		        cmd_metrics_stage(c->to_stage));
		printf("%-28s %9llu %10llu %7.1f%%\n", pair,
		        (unsigned long long) c->cohort,
		        (unsigned long long) c->converted,
		        cmd_metrics_pct(c->rate));
	}
}

/* One "  label   value" line of a section. */
static void
cmd_metrics_u64(const char *label, uint64_t v)
{
	printf("  %-18s %llu\n", label, (unsigned long long) v);
}

static void
cmd_metrics_money(const char *label, double v)
{
	printf("  %-18s %.2f\n", label, v);
}

static void
cmd_metrics_rate(const char *label, double v)
{
	printf("  %-18s %.2f%%\n", label, cmd_metrics_pct(v));
}

static void
cmd_metrics_channels(const Clm__V1__MetricsReply *r)
{
	printf("\n");
	if (r->n_channels == 0) {
		printf("channels: nothing in this window\n");
		return;
	}
	printf("%-16s %10s %9s %10s %10s %9s %12s\n", "channel", "spend",
	        "visitors", "cust 1st", "cust last", "CAC", "per visitor");
	for (size_t i = 0; i < r->n_channels; i++) {
		const Clm__V1__ChannelMetric *c = r->channels[i];
		printf("%-16s %10.2f %9llu %10llu %10llu %9.2f %12.2f\n",
		        c->channel == CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED
		                ? "(no channel)"
		                : cli_enum_name(&clm__v1__channel__descriptor,
		                        (int) c->channel),
		        c->spend, (unsigned long long) c->new_visitors,
		        (unsigned long long) c->new_customers_first_touch,
		        (unsigned long long) c->new_customers_last_touch,
		        c->cac, c->cost_per_visitor);
	}
	printf("(visitors: new visitors; cust 1st/last: new customers by first/last touch)\n");
}

static void
cmd_metrics_print(
        const Clm__V1__MetricsRequest *q, const Clm__V1__MetricsReply *r)
{
	int64_t from, to;
	cmd_metrics_window(q, &from, &to);
	char d1[32], d2[32];
	cli_fmt_date(from, d1);
	cli_fmt_date(to - CMD_METRICS_DAY_MS, d2);
	long long days = (long long) ((to - from) / CMD_METRICS_DAY_MS);
	printf("window  %s to %s (%lld day%s, UTC)", d1, d2, days,
	        days == 1 ? "" : "s");
	if (q->channel != CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED) {
		printf(", channel %s (touchpoint figures only)",
		        cli_enum_name(&clm__v1__channel__descriptor,
		                (int) q->channel));
	}
	printf("\n\n");
	cmd_metrics_funnel(r, cli_utf8_tty(STDOUT_FILENO));
	uint32_t wd
	        = q->conversion_window_days ? q->conversion_window_days : 30;
	cmd_metrics_conversions(r, wd);

	printf("\nrates\n");
	cmd_metrics_rate("retention", r->retention_rate);
	cmd_metrics_rate("repeat customers", r->repeat_customer_rate);
	cmd_metrics_rate("referral", r->referral_rate);
	cmd_metrics_rate("churn", r->churn_rate);

	printf("\nmoney\n");
	cmd_metrics_money("revenue", r->revenue);
	cmd_metrics_u64("orders", r->orders);
	cmd_metrics_money("avg order value", r->average_order_value);
	cmd_metrics_money("refunds", r->refunds_value);
	cmd_metrics_money("LTV", r->ltv);

	printf("\nads and site\n");
	cmd_metrics_u64("ad impressions", r->ad_impressions);
	cmd_metrics_u64("ad clicks", r->ad_clicks);
	cmd_metrics_rate("click-through", r->click_through_rate);
	cmd_metrics_u64("site visits", r->site_visits);
	cmd_metrics_u64("unique visitors", r->unique_visitors);
	cmd_metrics_u64("page views", r->page_views);
	printf("  %-18s %.2f\n", "pages per visitor",
	        r->page_views_per_visitor);
	printf("  %-18s %.1f s\n", "avg time on site", r->avg_time_on_site_s);

	cmd_metrics_channels(r);

	const Clm__V1__SentimentMetric *s = r->sentiment;
	printf("\nsentiment\n");
	cmd_metrics_u64("positive", s ? s->positive : 0);
	cmd_metrics_u64("neutral", s ? s->neutral : 0);
	cmd_metrics_u64("negative", s ? s->negative : 0);
	cmd_metrics_rate("negative share", s ? s->negative_share : 0);

	printf("\nsupport\n");
	cmd_metrics_u64("tickets", r->support_tickets);
	cmd_metrics_u64("billing issues", r->billing_issues);

	printf("\n%-20s %llu\n", "customers",
	        (unsigned long long) r->customers);
}

int
cmd_metrics(struct cli *cli, int argc, char **argv)
{
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, NULL, NULL) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__MetricsRequest q = CLM__V1__METRICS_REQUEST__INIT;
	q.from_ms = args_get(&a, "--from")->n;
	q.to_ms = args_get(&a, "--to")->n;
	q.channel = (Clm__V1__Channel) args_get(&a, "--channel")->n;
	q.conversion_window_days = (uint32_t) args_get(&a, "--window-days")->n;
	int rc = cli_window_check(q.from_ms, q.to_ms);
	if (rc != CLI_OK) {
		return rc;
	}
	rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_metrics(cli->conn, &q, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->metrics != NULL) {
		if (cli->json) {
			cli_print_json(
			        (const ProtobufCMessage *) resp->metrics);
		} else {
			cmd_metrics_print(&q, resp->metrics);
		}
	}
	clm_response_free(resp);
	return rc;
}
