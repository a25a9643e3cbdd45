/*
 * The reporting side of the clm CLI against a real clmd: `import` (NDJSON
 * and CSV, with duplicates and rejected lines), `spend` (flags, CSV and
 * NDJSON), `metrics` and `cohorts` (their JSON decoded and checked against
 * figures worked out by hand for a small journey), `experiment
 * define|assign|results`, and the exit codes of usage and server errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"
#include "pbjson.h"

/* 00:00 UTC of 2026-01-DD. */
#define JAN(d)  (1767225600000LL + ((d) -1) * 86400000LL)
#define HOUR_MS 3600000LL

static struct clmd_proc srv;
static char dir[64];

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	harness_cli_url(NULL);
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(cli_metrics, .init = setup, .fini = teardown, .timeout = 90);

static void
start_server(const char *const *extra)
{
	cr_assert_eq(harness_tmpdir(dir), 0);
	int rc = clmd_start(&srv, NULL, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

/* Runs clm and expects exit code rc; returns the output. */
static struct cli_output
cli_expect(int rc, const char *const argv[], const char *in)
{
	struct cli_output o = cli_run(argv, in);
	cr_expect_eq(o.rc, rc,
	        "clm %s %s: exit %d (want %d)\nstdout: %s\n"
	        "stderr: %s",
	        argv[0], argv[1] ? argv[1] : "", o.rc, rc, o.out, o.err);
	return o;
}

/* Appends a formatted line to a growing text. */
static void
addf(char **text, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t have = *text ? strlen(*text) : 0;
	char *t = realloc(*text, have + strlen(line) + 2);
	cr_assert_not_null(t);
	strcpy(t + have, line);
	strcat(t + have, "\n");
	*text = t;
}

/* One NDJSON touchpoint line. */
static void
add_tp(char **text, const char *ev, const char *cust, const char *type,
        const char *channel, long long at, const char *extra)
{
	addf(text,
	        "{\"eventId\":\"%s\",\"customerId\":\"%s\",\"type\":\"%s\",\"channel\":\"%s\",\"occurredAtMs\":\"%lld\"%s%s}",
	        ev, cust, type, channel, at, extra[0] ? "," : "", extra);
}

/* The value after "label" and blanks on a line of text (indent skipped). */
static double
line_value(const char *text, const char *label)
{
	size_t n = strlen(label);
	for (const char *p = text; p != NULL && *p != '\0';) {
		while (*p == ' ') {
			p++;
		}
		if (strncmp(p, label, n) == 0 && p[n] == ' ') {
			return strtod(p + n, NULL);
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

/*
 * Parses one line of proto3 JSON output into a message of type d (a write
 * command's position first taken off: it is not the message's).
 */
static ProtobufCMessage *
decode(char *text, const ProtobufCMessageDescriptor *d)
{
	cli_json_unposition(text);
	size_t len = strlen(text);
	cr_assert(len > 1 && text[len - 1] == '\n', "not a line: '%s'", text);
	cr_assert_null(
	        memchr(text, '\n', len - 1), "not one line: '%s'", text);
	ProtobufCMessage *m = NULL;
	char err[256];
	int rv = pbjson_parse(text, len, d, &m, err, sizeof(err));
	cr_assert_eq(
	        rv, 0, "does not decode as %s: %s: '%s'", d->name, err, text);
	return m;
}

static bool
near(double a, double b)
{
	return fabs(a - b) < 1e-9 * (fabs(b) + 1);
}

/*
 * The journey. NDJSON: alice (visit, two purchases, a referral), bob (an
 * ad, a page view, a purchase and a refund), carol (a page view and a bad
 * review), with an unreadable line 11 and a line 14 the server rejects.
 */
static char *
journey_ndjson(void)
{
	char *t = NULL;
	add_tp(&t, "a1", "alice", "SITE_VISIT", "ORGANIC_SEARCH",
	        JAN(5) + 10 * HOUR_MS, "\"durationS\":120");
	add_tp(&t, "a2", "alice", "PURCHASE", "EMAIL", JAN(6),
	        "\"value\":30,\"itemId\":\"sku-1\"");
	add_tp(&t, "a3", "alice", "PURCHASE", "EMAIL", JAN(10),
	        "\"value\":20");
	add_tp(&t, "a4", "alice", "REFERRAL", "REFERRAL_LINK", JAN(12), "");
	add_tp(&t, "b1", "bob", "AD_IMPRESSION", "PAID_ADS",
	        JAN(5) + 9 * HOUR_MS, "");
	add_tp(&t, "b2", "bob", "AD_CLICK", "PAID_ADS",
	        JAN(5) + 9 * HOUR_MS + 60000, "");
	add_tp(&t, "b3", "bob", "PAGE_VIEW", "PAID_ADS",
	        JAN(5) + 9 * HOUR_MS + 120000, "");
	add_tp(&t, "b4", "bob", "PURCHASE", "PAID_ADS", JAN(7),
	        "\"value\":50");
	add_tp(&t, "b5", "bob", "REFUND", "PAID_ADS", JAN(8), "\"value\":10");
	addf(&t, "%s", "");
	addf(&t, "%s", "{\"eventId\":\"oops\", this is not json");
	add_tp(&t, "c1", "carol", "PAGE_VIEW", "DIRECT", JAN(9), "");
	add_tp(&t, "c2", "carol", "REVIEW", "DIRECT", JAN(9) + 1000,
	        "\"sentiment\":-0.8");
	add_tp(&t, "x1", "carol", "TOUCHPOINT_TYPE_UNSPECIFIED", "DIRECT",
	        JAN(9), "");
	return t;
}

/*
 * CSV: dave (a visit, a purchase with a property, a support ticket), an
 * unknown type on line 4, and alice's first visit again on line 6.
 */
static const char journey_csv[]
        = "event_id,customerId,type,channel,occurred_at,value,duration_s,prop.plan\n"
          "d1,dave,SITE_VISIT,ORGANIC_SOCIAL,2026-01-15T08:00:00Z,,60,\n"
          "d2,dave,purchase,organic-social,2026-01-16T08:00:00Z,40,,pro\n"
          "d3,dave,TELEPATHY,,2026-01-16T09:00:00Z,,,\n"
          "d4,dave,SUPPORT_TICKET,SUPPORT,2026-01-17,,,\n"
          "a1,alice,SITE_VISIT,ORGANIC_SEARCH,2026-01-05T10:00:00Z,,120,\n";

static void
import_journey(void)
{
	char *nd = journey_ndjson();
	const char *nd_path = test_file(dir, "journey.ndjson", nd);
	const char *csv_path = test_file(dir, "dave.csv", journey_csv);
	free(nd);

	const char *const imp1[] = { "import", nd_path, NULL };
	struct cli_output o = cli_expect(0, imp1, NULL);
	cr_expect(
	        strstr(o.out, "accepted 11, duplicates 0, rejected 2") != NULL,
	        "summary: '%s'", o.out);
	cr_expect(strstr(o.err, "line 11:") != NULL, "stderr '%s'", o.err);
	cr_expect(
	        strstr(o.err, "line 14: type") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	const char *const imp2[]
	        = { "import", csv_path, "--batch", "2", NULL };
	o = cli_expect(0, imp2, NULL);
	cr_expect(
	        strstr(o.out, "accepted 3, duplicates 1, rejected 1") != NULL,
	        "summary: '%s'", o.out);
	cr_expect(strstr(o.err,
	                  "line 4: type: unknown touchpoint type 'TELEPATHY'")
	                != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

/*
 * The journey imported again as JSON from stdin (argv: the command line):
 * all duplicates, rejected by line.
 */
static void
import_journey_again(const char *const *argv)
{
	char *nd = journey_ndjson();
	struct cli_output o = cli_expect(0, argv, nd);
	free(nd);
	Clm__V1__TrackReply *r = (Clm__V1__TrackReply *) decode(
	        o.out, &clm__v1__track_reply__descriptor);
	cr_expect_eq(r->accepted, 0);
	cr_expect_eq(r->duplicates, 11);
	cr_assert_eq(r->n_rejected, 2, "%zu rejected", r->n_rejected);
	cr_expect_eq(r->rejected[0]->index, 11);
	cr_expect_eq(r->rejected[1]->index, 14);
	cr_expect_eq(
	        r->rejected[1]->status->code, CLM__V1__CODE__INVALID_ARGUMENT);
	clm__v1__track_reply__free_unpacked(r, NULL);
	cli_output_free(&o);
}

Test(cli_metrics, import_counts_and_reports_lines)
{
	start_server(NULL);
	import_journey();
	const char *const imp[] = { "--json", "import", "-", NULL };
	import_journey_again(imp);
	/* The same in batches of 3, each read while the last is in flight. */
	const char *const imp3[]
	        = { "--json", "import", "-", "--batch", "3", NULL };
	import_journey_again(imp3);

	/* The CSV landed with its times, values and property. */
	const char *const exp[] = { "export", "dave", NULL };
	struct cli_output o = cli_expect(0, exp, NULL);
	cr_expect(strstr(o.out, "\"plan\":\"pro\"") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "\"occurredAtMs\":\"1768550400000\"") != NULL,
	        "no 2026-01-16T08:00Z purchase in '%s'", o.out);
	cr_expect(strstr(o.out, "\"durationS\":60") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	/* `clm track <` reads the same NDJSON and keeps its own summary. */
	char *nd = journey_ndjson();
	const char *const track[] = { "track", NULL };
	o = cli_run(track, nd);
	free(nd);
	cr_expect_eq(o.rc, 1, "track: exit %d", o.rc);
	cr_expect(
	        strstr(o.err,
	                "accepted 0, duplicates 11, rejected 1, unreadable lines 1")
	                != NULL,
	        "track summary: '%s'", o.err);
	cli_output_free(&o);
}

Test(cli_metrics, import_stops_at_server_errors)
{
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "s3cret\n");
	const char *extra[] = { "--auth-token-file", tokens, NULL };
	int rc = clmd_start(&srv, NULL, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
	const char *path = test_file(dir, "t.csv",
	        "customer_id,type,occurred_at\n"
	        "u1,PAGE_VIEW,2026-01-05\n");
	/* No token: UNAUTHENTICATED is a server error, exit 1. */
	const char *const imp[] = { "import", path, NULL };
	struct cli_output o = cli_expect(1, imp, NULL);
	cr_expect(strstr(o.err, "UNAUTHENTICATED") != NULL, "'%s'", o.err);
	cr_expect(strstr(o.err, "stopped at line 2") != NULL, "'%s'", o.err);
	cli_output_free(&o);
	/*
	 * In batches of 2, the next batch is read while the first is in
	 * flight: the first one's error stops the import, and is reported
	 * once, with the first line that may not be recorded.
	 */
	const char *five = test_file(dir, "five.csv",
	        "customer_id,type,occurred_at\n"
	        "u1,PAGE_VIEW,2026-01-05\n"
	        "u2,PAGE_VIEW,2026-01-05\n"
	        "u3,PAGE_VIEW,2026-01-05\n"
	        "u4,PAGE_VIEW,2026-01-05\n"
	        "u5,PAGE_VIEW,2026-01-05\n");
	const char *const imp2[] = { "import", five, "--batch", "2", NULL };
	o = cli_expect(1, imp2, NULL);
	cr_expect(strstr(o.err, "the batch from line 2 on may not be recorded")
	                != NULL,
	        "'%s'", o.err);
	const char *first = strstr(o.err, "UNAUTHENTICATED");
	cr_expect(
	        first != NULL && strstr(first + 1, "UNAUTHENTICATED") == NULL,
	        "one error, once: '%s'", o.err);
	cli_output_free(&o);
	const char *const ok[] = { "--token", "s3cret", "import", path, NULL };
	o = cli_expect(0, ok, NULL);
	cr_expect(strstr(o.out, "accepted 1,") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	/* Nobody listening: exit 3. */
	const char *const down[]
	        = { "--url", "tcp://127.0.0.1:1", "import", path, NULL };
	o = cli_expect(3, down, NULL);
	cli_output_free(&o);
}

static void
record_spend(void)
{
	const char *const one[] = { "spend", "--channel", "paid_ads", "--day",
		"2026-01-05", "--amount", "100", "--currency", "EUR",
		"--campaign", "winter", NULL };
	struct cli_output o = cli_expect(0, one, NULL);
	cr_expect(strstr(o.out, "accepted 1") != NULL, "'%s'", o.out);
	cli_output_free(&o);
	/* Recording the same (channel, day, campaign) replaces it. */
	o = cli_expect(0, one, NULL);
	cli_output_free(&o);

	const char *csv = test_file(dir, "spend.csv",
	        "channel,day,amount,currency,campaign\n"
	        "PAID_ADS,2026-01-06,50,EUR,winter\n"
	        "email,1767657600000,25,,\n");
	const char *const file[] = { "spend", csv, NULL };
	o = cli_expect(0, file, NULL);
	cr_expect(strstr(o.out, "accepted 2") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	const char *const in[] = { "--json", "spend", "-", NULL };
	o = cli_expect(0, in,
	        "{\"channel\":\"ORGANIC_SOCIAL\",\"dayMs\":\"1767744000000\",\"amount\":10}\n");
	Clm__V1__RecordSpendReply *r = (Clm__V1__RecordSpendReply *) decode(
	        o.out, &clm__v1__record_spend_reply__descriptor);
	cr_expect_eq(r->accepted, 1);
	clm__v1__record_spend_reply__free_unpacked(r, NULL);
	cli_output_free(&o);
}

static const Clm__V1__ChannelMetric *
channel_row(const Clm__V1__MetricsReply *m, Clm__V1__Channel ch)
{
	for (size_t i = 0; i < m->n_channels; i++) {
		if (m->channels[i]->channel == ch) {
			return m->channels[i];
		}
	}
	return NULL;
}

static const Clm__V1__StageMetric *
stage_row(const Clm__V1__MetricsReply *m, Clm__V1__Stage s)
{
	for (size_t i = 0; i < m->n_stages; i++) {
		if (m->stages[i]->stage == s) {
			return m->stages[i];
		}
	}
	cr_assert_fail("no stage %d", s);
	return NULL;
}

Test(cli_metrics, metrics_of_a_hand_made_journey)
{
	start_server(NULL);
	import_journey();
	record_spend();

	const char *const q[] = { "--json", "metrics", "--from", "2026-01-01",
		"--to", "2026-02-01", NULL };
	struct cli_output o = cli_expect(0, q, NULL);
	Clm__V1__MetricsReply *m = (Clm__V1__MetricsReply *) decode(
	        o.out, &clm__v1__metrics_reply__descriptor);
	cli_output_free(&o);

	/* Money: 30 + 20 + 50 + 40 bought, 10 refunded. */
	cr_expect_eq(
	        m->orders, 4, "orders %llu", (unsigned long long) m->orders);
	cr_expect(near(m->revenue, 130), "revenue %g", m->revenue);
	cr_expect(near(m->refunds_value, 10), "refunds %g", m->refunds_value);
	cr_expect(near(m->average_order_value, 35), "aov %g",
	        m->average_order_value);
	cr_expect(near(m->ltv, 130.0 / 3), "ltv %g", m->ltv);
	/* Ads and site. */
	cr_expect_eq(m->ad_impressions, 1);
	cr_expect_eq(m->ad_clicks, 1);
	cr_expect(near(m->click_through_rate, 1), "ctr %g",
	        m->click_through_rate);
	cr_expect_eq(m->site_visits, 2);
	cr_expect_eq(m->page_views, 2);
	cr_expect_eq(m->unique_visitors, 4);
	cr_expect(near(m->page_views_per_visitor, 0.5));
	cr_expect(near(m->avg_time_on_site_s, 90), "time %g",
	        m->avg_time_on_site_s);
	/* Sentiment, support, customers. */
	cr_assert_not_null(m->sentiment);
	cr_expect_eq(m->sentiment->negative, 1);
	cr_expect_eq(m->sentiment->positive, 0);
	cr_expect(near(m->sentiment->negative_share, 1));
	cr_expect_eq(m->support_tickets, 1);
	cr_expect_eq(m->billing_issues, 0);
	cr_expect_eq(m->customers, 4);
	/* Stages: carol REACH, bob ACQUISITION, dave NURTURE, alice
	 * ADVOCACY; all four reached REACH in January. */
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__REACH)->current, 1);
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__REACH)->entered, 4);
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__ACQUISITION)->current, 1);
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__NURTURE)->current, 1);
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__RETENTION)->current, 0);
	cr_expect_eq(stage_row(m, CLM__V1__STAGE__ADVOCACY)->current, 1);
	cr_assert_geq(m->n_conversions, 1);
	cr_expect_eq(m->conversions[0]->from_stage, CLM__V1__STAGE__REACH);
	cr_expect_eq(m->conversions[0]->to_stage, CLM__V1__STAGE__ACQUISITION);
	cr_expect_eq(m->conversions[0]->cohort, 4);
	cr_expect_eq(m->conversions[0]->converted, 3);
	cr_expect(near(m->repeat_customer_rate, 1.0 / 3));
	cr_expect(near(m->referral_rate, 1.0 / 3));
	cr_expect(near(m->churn_rate, 0));
	/* Channels: bob came and bought on PAID_ADS (spend 100 + 50). */
	const Clm__V1__ChannelMetric *paid
	        = channel_row(m, CLM__V1__CHANNEL__PAID_ADS);
	cr_assert_not_null(paid, "no PAID_ADS row");
	cr_expect(near(paid->spend, 150), "spend %g", paid->spend);
	cr_expect_eq(paid->new_visitors, 1);
	cr_expect_eq(paid->new_customers_first_touch, 1);
	cr_expect_eq(paid->new_customers_last_touch, 1);
	cr_expect(near(paid->cac, 150), "cac %g", paid->cac);
	const Clm__V1__ChannelMetric *email
	        = channel_row(m, CLM__V1__CHANNEL__EMAIL);
	cr_assert_not_null(email, "no EMAIL row");
	cr_expect(near(email->spend, 25));
	cr_expect_eq(email->new_customers_first_touch, 0);
	cr_expect_eq(email->new_customers_last_touch, 1); /* alice */
	const Clm__V1__ChannelMetric *social
	        = channel_row(m, CLM__V1__CHANNEL__ORGANIC_SOCIAL);
	cr_assert_not_null(social, "no ORGANIC_SOCIAL row");
	cr_expect(near(social->spend, 10));
	cr_expect_eq(social->new_customers_first_touch, 1); /* dave */
	clm__v1__metrics_reply__free_unpacked(m, NULL);

	/* A channel filter narrows the touchpoint counts. */
	const char *const qc[] = { "--json", "metrics", "--from", "2026-01-01",
		"--to", "2026-02-01", "--channel", "paid-ads", NULL };
	o = cli_expect(0, qc, NULL);
	m = (Clm__V1__MetricsReply *) decode(
	        o.out, &clm__v1__metrics_reply__descriptor);
	cr_expect_eq(m->orders, 1);
	cr_expect(near(m->revenue, 40), "paid revenue %g", m->revenue);
	cr_expect_eq(m->customers, 4);
	clm__v1__metrics_reply__free_unpacked(m, NULL);
	cli_output_free(&o);

	/* The tables. */
	const char *const h[] = { "metrics", "--from", "2026-01-01", "--to",
		"2026-02-01", "--window-days", "7", NULL };
	o = cli_expect(0, h, NULL);
	cr_expect(strstr(o.out, "2026-01-01 to 2026-01-31 (31 days") != NULL,
	        "no window in '%s'", o.out);
	cr_expect(line_value(o.out, "orders") == 4, "'%s'", o.out);
	cr_expect(line_value(o.out, "revenue") == 130, "'%s'", o.out);
	cr_expect(line_value(o.out, "customers") == 4, "'%s'", o.out);
	cr_expect(line_value(o.out, "PAID_ADS") == 150, "'%s'", o.out);
	cr_expect(strstr(o.out, "within 7 days") != NULL, "'%s'", o.out);
	/* Not a terminal: the funnel bars are '#'. */
	cr_expect(
	        strstr(o.out, "REACH ") != NULL && strstr(o.out, "#") != NULL,
	        "no funnel in '%s'", o.out);
	cli_output_free(&o);
}

Test(cli_metrics, cohorts_matrix)
{
	start_server(NULL);
	import_journey();
	/* alice's cohort is 2026-01-06; she bought again 4 days later. */
	const char *const q[]
	        = { "--json", "cohorts", "--by", "day", "--periods", "5",
		          "--from", "2026-01-06", "--to", "2026-01-07", NULL };
	struct cli_output o = cli_expect(0, q, NULL);
	Clm__V1__CohortReply *r = (Clm__V1__CohortReply *) decode(
	        o.out, &clm__v1__cohort_reply__descriptor);
	cli_output_free(&o);
	cr_expect_eq(r->granularity, CLM__V1__GRANULARITY__DAY);
	cr_assert_eq(r->n_rows, 1, "%zu rows", r->n_rows);
	cr_expect_eq(r->rows[0]->cohort_start_ms, JAN(6));
	cr_expect_eq(r->rows[0]->size, 1);
	cr_assert_eq(r->rows[0]->n_retained, 5);
	double want[5] = { 1, 0, 0, 0, 1 };
	for (size_t k = 0; k < 5; k++) {
		cr_expect(near(r->rows[0]->retained[k], want[k]),
		        "retained[%zu] = %g", k, r->rows[0]->retained[k]);
	}
	clm__v1__cohort_reply__free_unpacked(r, NULL);

	/* January by month: alice, bob and dave; nobody bought in Feb. */
	const char *const m[] = { "cohorts", "--by", "month", "--periods", "2",
		"--from", "2026-01-01", "--to", "2026-02-01", NULL };
	o = cli_expect(0, m, NULL);
	cr_expect(strstr(o.out, "2026-01") != NULL, "'%s'", o.out);
	cr_expect(line_value(o.out, "2026-01") == 3, "size in '%s'", o.out);
	cr_expect(strstr(o.out, "100.0%") != NULL, "'%s'", o.out);
	cli_output_free(&o);
}

Test(cli_metrics, experiments)
{
	start_server(NULL);
	const char *const def[] = { "experiment", "define", "checkout",
		"--goal", "purchase", "control", "treatment:1", NULL };
	struct cli_output o = cli_expect(0, def, NULL);
	cr_expect(strstr(o.out, "control (weight 1)") != NULL, "'%s'", o.out);
	cli_output_free(&o);
	/* The same definition again is fine; another one is not. */
	o = cli_expect(0, def, NULL);
	cli_output_free(&o);
	const char *const other[] = { "experiment", "define", "checkout",
		"--goal", "purchase", "control", "treatment:3", NULL };
	o = cli_expect(1, other, NULL);
	cr_expect(strstr(o.err, "ALREADY_EXISTS") != NULL, "'%s'", o.err);
	cli_output_free(&o);

	char first_variant[64] = "";
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "u%d", i);
		const char *const as[]
		        = { "experiment", "assign", "checkout", id, NULL };
		o = cli_expect(0, as, NULL);
		cr_expect(strstr(o.out, "(first exposure)") != NULL, "'%s'",
		        o.out);
		if (i == 0) {
			sscanf(o.out, "%63s", first_variant);
		}
		cli_output_free(&o);
	}
	/* Sticky: u0 again gets the same variant, as JSON too. */
	const char *const again[]
	        = { "--json", "experiment", "assign", "checkout", "u0", NULL };
	o = cli_expect(0, again, NULL);
	Clm__V1__AssignReply *a = (Clm__V1__AssignReply *) decode(
	        o.out, &clm__v1__assign_reply__descriptor);
	cr_expect_str_eq(a->variant, first_variant);
	cr_expect(!a->first_exposure);
	clm__v1__assign_reply__free_unpacked(a, NULL);
	cli_output_free(&o);

	/* u0 converts after its exposure. */
	const char *const buy[] = { "track", "--customer", "u0", "--type",
		"PURCHASE", "--value", "12", NULL };
	o = cli_expect(0, buy, NULL);
	cli_output_free(&o);

	const char *const res[]
	        = { "--json", "experiment", "results", "checkout", NULL };
	o = cli_expect(0, res, NULL);
	Clm__V1__ExperimentResultsReply *r
	        = (Clm__V1__ExperimentResultsReply *) decode(
	                o.out, &clm__v1__experiment_results_reply__descriptor);
	cli_output_free(&o);
	cr_assert_eq(r->n_variants, 2);
	cr_expect_str_eq(r->variants[0]->name, "control");
	cr_expect_str_eq(r->variants[1]->name, "treatment");
	cr_expect_eq(r->variants[0]->exposed + r->variants[1]->exposed, 20);
	for (size_t i = 0; i < 2; i++) {
		bool mine = strcmp(r->variants[i]->name, first_variant) == 0;
		cr_expect_eq(r->variants[i]->converted, mine ? 1 : 0,
		        "variant %s", r->variants[i]->name);
	}
	cr_expect(near(r->variants[0]->lift, 0));
	cr_expect(near(r->variants[0]->p_value, 1));
	clm__v1__experiment_results_reply__free_unpacked(r, NULL);

	const char *const table[]
	        = { "experiment", "results", "checkout", NULL };
	o = cli_expect(0, table, NULL);
	cr_expect(strstr(o.out, "(control)") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "treatment") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "p-value") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	const char *const none[] = { "experiment", "results", "nope", NULL };
	o = cli_expect(1, none, NULL);
	cr_expect(strstr(o.err, "NOT_FOUND") != NULL, "'%s'", o.err);
	cli_output_free(&o);
}

Test(cli_metrics, spend_errors)
{
	start_server(NULL);
	/* A negative amount: the server refuses the batch, naming the line. */
	const char *bad = test_file(dir, "bad.csv",
	        "channel,day,amount\nEMAIL,2026-01-02,5\nEMAIL,2026-01-03,-1\n");
	const char *const file[] = { "spend", bad, NULL };
	struct cli_output o = cli_expect(1, file, NULL);
	cr_expect(strstr(o.err, "line 3: amount") != NULL, "'%s'", o.err);
	cli_output_free(&o);
	/* An unreadable line: the others go in, exit 2. */
	const char *mixed = test_file(dir, "mixed.csv",
	        "channel,day,amount\nEMAIL,2026-01-02,5\nTV,2026-01-03,1\n");
	const char *const f2[] = { "spend", mixed, NULL };
	o = cli_expect(2, f2, NULL);
	cr_expect(strstr(o.out, "accepted 1") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.err, "line 3: channel") != NULL, "'%s'", o.err);
	cli_output_free(&o);
}

Test(cli_metrics, usage_errors_exit_2)
{
	start_server(NULL);
	const char *hdr
	        = test_file(dir, "hdr.csv", "customer_id,type,colour\n");
	static const char *const cases[][10] = {
		{ "metrics", "--from", "yesterday", NULL },
		{ "metrics", "--window-days", "0", NULL },
		{ "metrics", "--channel", "carrier-pigeon", NULL },
		{ "metrics", "--from", "2026-02-01", "--to", "2026-01-01",
		        NULL },
		{ "metrics", "extra", NULL },
		{ "cohorts", "--by", "year", NULL },
		{ "cohorts", "--periods", "0", NULL },
		{ "cohorts", "--periods", NULL },
		{ "spend", NULL },
		{ "spend", "--channel", "paid_ads", "--day", "2026-01-01",
		        NULL },
		{ "spend", "--channel", "paid_ads", "--day", "2026-01-01",
		        "--amount", "lots", NULL },
		{ "spend", "--channel", "tv", "--day", "2026-01-01",
		        "--amount", "1", NULL },
		{ "spend", "/nonexistent/spend.csv", NULL },
		{ "import", NULL },
		{ "import", "a", "b", NULL },
		{ "import", "-", "--batch", "0", NULL },
		{ "import", "-", "--batch", "10001", NULL },
		{ "import", "-", "--format", "xml", NULL },
		{ "import", "/nonexistent/t.ndjson", NULL },
		{ "experiment", NULL },
		{ "experiment", "frobnicate", NULL },
		{ "experiment", "define", "e", "--goal", "purchase", "only",
		        NULL },
		{ "experiment", "define", "e", "a", "b", NULL },
		{ "experiment", "define", "e", "--goal", "nope", "a", "b",
		        NULL },
		{ "experiment", "define", "e", "--goal", "purchase", "a:x",
		        "b", NULL },
		{ "experiment", "assign", "e", NULL },
		{ "experiment", "results", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_output o = cli_run(cases[i], NULL);
		cr_expect_eq(o.rc, 2, "case %zu (%s %s): exit %d, stderr '%s'",
		        i, cases[i][0], cases[i][1] ? cases[i][1] : "", o.rc,
		        o.err);
		cr_expect_neq(
		        o.err[0], '\0', "case %zu: nothing on stderr", i);
		cli_output_free(&o);
	}
	/* A CSV header naming no Touchpoint field. */
	const char *const h[] = { "import", hdr, NULL };
	struct cli_output o = cli_expect(2, h, NULL);
	cr_expect(strstr(o.err, "colour") != NULL, "'%s'", o.err);
	cli_output_free(&o);

	/* Nothing was written by any of them. */
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	cr_expect_eq(resp->server_status->touchpoints, 0);
	clm_response_free(resp);
	Clm__V1__ExperimentResultsRequest er
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	er.experiment_id = "e";
	cr_expect_eq(clm_experiment_results(c, &er, &resp), CLM_NOT_FOUND);
	clm_response_free(resp);
	clm_close(c);
}
