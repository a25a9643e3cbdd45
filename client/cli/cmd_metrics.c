/*
 * clm metrics [--from T] [--to T] [--channel CH] [--window-days N]: the
 * funnel and every other figure of MetricsReply (docs/metrics.md), as
 * tables, or the reply as one JSON line with --json.
 */
#include <stddef.h>
#include <string.h>
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

/* Prints the reply r (m) to the request q (arg). */
/* How a figure is printed after its label. */
enum cmd_metrics_fmt {
	CMD_METRICS_COUNT,    /* a uint64_t */
	CMD_METRICS_DECIMAL,  /* a double, with two decimals */
	CMD_METRICS_RATE,     /* a double fraction, as a percentage */
	CMD_METRICS_SECONDS,  /* a double number of seconds */
	CMD_METRICS_CHANNELS, /* not a figure: the table of channels */
};

/*
 * The figures printed as "  label   value" lines under the heading of
 * their section, in this order. A figure is the field at offset in the
 * MetricsReply (R), or, for sentiment, in its SentimentMetric (S; all 0
 * when there is none).
 */
#define R(field) false, offsetof(Clm__V1__MetricsReply, field)
#define S(field) true, offsetof(Clm__V1__SentimentMetric, field)
static const struct cmd_metrics_figure {
	const char *section, *label;
	enum cmd_metrics_fmt fmt;
	bool sentiment;
	size_t offset;
} cmd_metrics_table[] = {
	{ "rates", "retention", CMD_METRICS_RATE, R(retention_rate) },
	{ "rates", "repeat customers", CMD_METRICS_RATE,
	        R(repeat_customer_rate) },
	{ "rates", "referral", CMD_METRICS_RATE, R(referral_rate) },
	{ "rates", "churn", CMD_METRICS_RATE, R(churn_rate) },
	{ "money", "revenue", CMD_METRICS_DECIMAL, R(revenue) },
	{ "money", "orders", CMD_METRICS_COUNT, R(orders) },
	{ "money", "avg order value", CMD_METRICS_DECIMAL,
	        R(average_order_value) },
	{ "money", "refunds", CMD_METRICS_DECIMAL, R(refunds_value) },
	{ "money", "LTV", CMD_METRICS_DECIMAL, R(ltv) },
	{ "ads and site", "ad impressions", CMD_METRICS_COUNT,
	        R(ad_impressions) },
	{ "ads and site", "ad clicks", CMD_METRICS_COUNT, R(ad_clicks) },
	{ "ads and site", "click-through", CMD_METRICS_RATE,
	        R(click_through_rate) },
	{ "ads and site", "site visits", CMD_METRICS_COUNT, R(site_visits) },
	{ "ads and site", "unique visitors", CMD_METRICS_COUNT,
	        R(unique_visitors) },
	{ "ads and site", "page views", CMD_METRICS_COUNT, R(page_views) },
	{ "ads and site", "pages per visitor", CMD_METRICS_DECIMAL,
	        R(page_views_per_visitor) },
	{ "ads and site", "avg time on site", CMD_METRICS_SECONDS,
	        R(avg_time_on_site_s) },
	{ "channels", NULL, CMD_METRICS_CHANNELS, false, 0 },
	{ "sentiment", "positive", CMD_METRICS_COUNT, S(positive) },
	{ "sentiment", "neutral", CMD_METRICS_COUNT, S(neutral) },
	{ "sentiment", "negative", CMD_METRICS_COUNT, S(negative) },
	{ "sentiment", "negative share", CMD_METRICS_RATE, S(negative_share) },
	{ "support", "tickets", CMD_METRICS_COUNT, R(support_tickets) },
	{ "support", "billing issues", CMD_METRICS_COUNT, R(billing_issues) },
};
#undef R
#undef S

static void
cmd_metrics_figures(const Clm__V1__MetricsReply *r)
{
	static const Clm__V1__SentimentMetric none
	        = CLM__V1__SENTIMENT_METRIC__INIT;
	const char *section = "";
	for (size_t i = 0;
	        i < sizeof(cmd_metrics_table) / sizeof(cmd_metrics_table[0]);
	        i++) {
		const struct cmd_metrics_figure *f = &cmd_metrics_table[i];
		if (f->fmt == CMD_METRICS_CHANNELS) {
			cmd_metrics_channels(r);
			continue;
		}
		if (strcmp(f->section, section) != 0) {
			section = f->section;
			printf("\n%s\n", section);
		}
		const void *msg = !f->sentiment ? (const void *) r
		        : r->sentiment != NULL  ? (const void *) r->sentiment
		                                : (const void *) &none;
		const char *field = (const char *) msg + f->offset;
		uint64_t n;
		double d;
		printf("  %-18s ", f->label);
		if (f->fmt == CMD_METRICS_COUNT) {
			memcpy(&n, field, sizeof(n));
			printf("%llu\n", (unsigned long long) n);
			continue;
		}
		memcpy(&d, field, sizeof(d));
		if (f->fmt == CMD_METRICS_RATE) {
			printf("%.2f%%\n", cmd_metrics_pct(d));
		} else if (f->fmt == CMD_METRICS_SECONDS) {
			printf("%.1f s\n", d);
		} else {
			printf("%.2f\n", d);
		}
	}
}

static void
cmd_metrics_print(const ProtobufCMessage *m, const void *arg)
{
	const Clm__V1__MetricsReply *r = (const Clm__V1__MetricsReply *) m;
	const Clm__V1__MetricsRequest *q = arg;
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

	cmd_metrics_figures(r);
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
	if (args_window(&a, &q.from_ms, &q.to_ms) != CLI_OK) {
		return CLI_EUSAGE;
	}
	q.channel = (Clm__V1__Channel) args_get(&a, "--channel")->n;
	q.conversion_window_days = (uint32_t) args_get(&a, "--window-days")->n;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_metrics(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_metrics_print, &q);
}
