/*
 * The clm CLI against a real clmd (docs/operations.md "The clm command line"):
 * track by flags and as NDJSON, customer as a table and as JSON, status, and
 * the exit codes 0 ok, 1 server error, 2 usage error, 3 cannot connect.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

/* 2026-01-02T03:04:05Z */
#define AT_MS 1767323045000LL

static struct clmd_proc srv;

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

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

static void
start_server(void)
{
	int rc = clmd_start(&srv, NULL, NULL);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

static Clm__V1__Response *
get_customer(const char *id)
{
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 5000, &c), CLM_OK, "%s", clm_open_error());
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_assert_eq(e, CLM_OK, "get_customer %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	clm_close(c);
	return resp;
}

static uint64_t
touch_count(const Clm__V1__Customer *cu, Clm__V1__TouchpointType type)
{
	for (size_t i = 0; i < cu->n_touch_counts; i++) {
		if (cu->touch_counts[i]->type == type) {
			return cu->touch_counts[i]->count;
		}
	}
	return 0;
}

static size_t
count_char(const char *s, char ch)
{
	size_t n = 0;
	for (; *s != '\0'; s++) {
		n += *s == ch;
	}
	return n;
}

/* The value after "label" and spaces at the start of a line, or -1. */
static long long
table_value(const char *text, const char *label)
{
	size_t n = strlen(label);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, label, n) == 0 && p[n] == ' ') {
			return strtoll(p + n, NULL, 10);
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

Test(cli, track_by_flags_then_customer)
{
	start_server();
	static const char *const track[] = { "track", "--customer", "c1",
		"--type", "AD_CLICK", "--channel", "PAID_ADS", "--at",
		"2026-01-02T03:04:05Z", "--event-id", "cli-ev-1", NULL };
	struct cli_output o = cli_run(track, NULL);
	cr_expect_eq(o.rc, 0, "track: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "recorded") != NULL, "stdout '%s'", o.out);
	cli_output_free(&o);

	/* The same event id again: a duplicate, still exit 0. */
	o = cli_run(track, NULL);
	cr_expect_eq(o.rc, 0, "repeat: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "duplicate") != NULL, "stdout '%s'", o.out);
	cli_output_free(&o);

	/* It landed with the given time and channel. */
	Clm__V1__Response *resp = get_customer("c1");
	cr_expect_eq(resp->customer->first_seen_ms, AT_MS);
	cr_expect_eq(resp->customer->acquisition_channel,
	        CLM__V1__CHANNEL__PAID_ADS);
	cr_expect_eq(touch_count(resp->customer,
	                     CLM__V1__TOUCHPOINT_TYPE__AD_CLICK),
	        1);
	clm_response_free(resp);

	static const char *const customer[] = { "customer", "c1", NULL };
	o = cli_run(customer, NULL);
	cr_expect_eq(o.rc, 0, "customer: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "c1") != NULL, "stdout '%s'", o.out);
	cr_expect(strstr(o.out, "REACH") != NULL, "stdout '%s'", o.out);
	cr_expect(strstr(o.out, "2026-01-02T03:04:05") != NULL,
	        "no first-seen time in '%s'", o.out);
	cli_output_free(&o);

	static const char *const json[] = { "--json", "customer", "c1", NULL };
	o = cli_run(json, NULL);
	cr_expect_eq(
	        o.rc, 0, "--json customer: exit %d, stderr '%s'", o.rc, o.err);
	size_t len = strlen(o.out);
	cr_expect(len > 2 && o.out[0] == '{' && o.out[len - 1] == '\n'
	                && o.out[len - 2] == '}',
	        "not one JSON object: '%s'", o.out);
	cr_expect_eq(count_char(o.out, '\n'), 1, "not one line: '%s'", o.out);
	cr_expect(strstr(o.out, "\"stage\":\"REACH\"") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"customerId\":\"c1\"") != NULL, "'%s'", o.out);
	/* proto3 JSON: int64 as a string, enums by name. */
	cr_expect(strstr(o.out, "\"firstSeenMs\":\"1767323045000\"") != NULL,
	        "'%s'", o.out);
	cr_expect(strstr(o.out, "\"acquisitionChannel\":\"PAID_ADS\"") != NULL,
	        "'%s'", o.out);
	cr_expect(strstr(o.out, "customer_id") == NULL,
	        "proto field names instead of lowerCamelCase: '%s'", o.out);
	cli_output_free(&o);
}

Test(cli, ndjson_on_stdin)
{
	start_server();
	static const char input[]
	        = "{\"eventId\":\"n1\",\"customerId\":\"nd\",\"type\":\"SITE_VISIT\",\"channel\":\"ORGANIC_SEARCH\",\"occurredAtMs\":\"1767323045000\",\"durationS\":30}\n"
	          "{\"event_id\":\"n2\",\"customer_id\":\"nd\",\"type\":\"PURCHASE\",\"channel\":\"EMAIL\",\"occurred_at_ms\":1767409445000,\"value\":12.5,\"itemId\":\"sku-1\"}\n"
	          "{this is not json\n"
	          "{\"eventId\":\"n3\",\"customerId\":\"nd\",\"type\":\"TELEPATHY\",\"occurredAtMs\":\"1767409446000\"}\n"
	          "\n"
	          "{\"eventId\":\"n4\",\"customerId\":\"nd2\",\"type\":\"PAGE_VIEW\",\"occurredAtMs\":\"1767323045000\"}\n";
	static const char *const track[] = { "track", NULL };
	struct cli_output o = cli_run(track, input);
	cr_expect_eq(o.rc, 2, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.err,
	                "accepted 3, duplicates 0, rejected 0, unreadable lines 2")
	                != NULL,
	        "summary: '%s'", o.err);
	cr_expect(strstr(o.err, "line 3:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 4:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "TELEPATHY") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	Clm__V1__Response *resp = get_customer("nd");
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(
	        cu->stage, CLM__V1__STAGE__ACQUISITION, "stage %d", cu->stage);
	cr_expect_eq(cu->purchases, 1);
	cr_expect_eq(cu->first_seen_ms, AT_MS);
	cr_expect_eq(cu->last_seen_ms, 1767409445000LL);
	cr_expect_eq(
	        cu->acquisition_channel, CLM__V1__CHANNEL__ORGANIC_SEARCH);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect_eq(cu->n_touch_counts, 2, "%zu types", cu->n_touch_counts);
	clm_response_free(resp);
	resp = get_customer("nd2");
	cr_expect_eq(resp->customer->stage, CLM__V1__STAGE__REACH);
	clm_response_free(resp);

	/* Again: the good lines are duplicates now. */
	o = cli_run(track, input);
	cr_expect_eq(o.rc, 2, "exit %d", o.rc);
	cr_expect(strstr(o.err, "accepted 0, duplicates 3") != NULL,
	        "summary: '%s'", o.err);
	cli_output_free(&o);
}

Test(cli, ndjson_rejected_by_the_server)
{
	start_server();
	/* Readable, but the server rejects line 2 (year 1999). */
	static const char input[]
	        = "{\"customerId\":\"rj\",\"type\":\"PAGE_VIEW\",\"occurredAtMs\":\"1767323045000\",\"eventId\":\"r1\"}\n"
	          "{\"customerId\":\"rj\",\"type\":\"PAGE_VIEW\",\"occurredAtMs\":\"915148800000\",\"eventId\":\"r2\"}\n";
	static const char *const track[] = { "track", NULL };
	struct cli_output o = cli_run(track, input);
	cr_expect_eq(o.rc, 1, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.err,
	                "accepted 1, duplicates 0, rejected 1, unreadable lines 0")
	                != NULL,
	        "summary: '%s'", o.err);
	cr_expect(strstr(o.err, "line 2") != NULL, "stderr '%s'", o.err);
	cr_expect(
	        strstr(o.err, "occurred_at_ms") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);
	Clm__V1__Response *resp = get_customer("rj");
	cr_expect_eq(touch_count(resp->customer,
	                     CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW),
	        1);
	clm_response_free(resp);

	/* Every line rejected: a server error too. */
	static const char bad[] = "{\"customerId\":\"rj\",\"type\":0}\n";
	o = cli_run(track, bad);
	cr_expect_eq(o.rc, 1, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "type") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);
}

Test(cli, unknown_customer_exits_1)
{
	start_server();
	static const char *const argv[] = { "customer", "nobody", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 1, "exit %d", o.rc);
	cr_expect(strstr(o.err, "NOT_FOUND") != NULL, "stderr '%s'", o.err);
	cr_expect_str_eq(o.out, "", "stdout '%s'", o.out);
	cli_output_free(&o);

	static const char *const json[]
	        = { "--json", "customer", "nobody", NULL };
	o = cli_run(json, NULL);
	cr_expect_eq(o.rc, 1, "--json: exit %d", o.rc);
	cr_expect(strstr(o.err, "NOT_FOUND") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);
}

Test(cli, cannot_connect_exits_3)
{
	static const char *const argv[]
	        = { "--url", "tcp://127.0.0.1:1", "status", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 3, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "tcp://127.0.0.1:1") != NULL, "stderr '%s'",
	        o.err);
	cli_output_free(&o);

	static const char *const track[] = { "--url", "tcp://127.0.0.1:1",
		"track", "--customer", "x", "--type", "PAGE_VIEW", NULL };
	o = cli_run(track, NULL);
	cr_expect_eq(o.rc, 3, "track: exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);
}

Test(cli, usage_errors_exit_2)
{
	start_server();
	static const char *const cases[][8] = {
		{ "bogus", NULL },
		{ NULL },
		{ "--frobnicate", "status", NULL },
		{ "status", "extra", NULL },
		{ "customer", NULL },
		{ "customer", "a", "b", NULL },
		{ "track", "--customer", "x", "--type", "NOT_A_TYPE", NULL },
		{ "track", "--customer", "x", "--type", "PAGE_VIEW", "--at",
		        "yesterday", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_output o = cli_run(cases[i], NULL);
		cr_expect_eq(o.rc, 2, "case %zu (%s): exit %d, stderr '%s'", i,
		        cases[i][0] ? cases[i][0] : "(none)", o.rc, o.err);
		cr_expect_neq(
		        o.err[0], '\0', "case %zu: nothing on stderr", i);
		cli_output_free(&o);
	}
	/* Nothing was written by any of them. */
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	cr_expect_eq(resp->server_status->touchpoints, 0);
	clm_response_free(resp);
	clm_close(c);
}

Test(cli, status_prints_counts)
{
	start_server();
	static const char *const t1[] = { "track", "--customer", "s1",
		"--type", "SITE_VISIT", "--at", "2026-01-02T03:04:05Z", NULL };
	static const char *const t2[] = { "track", "--customer", "s1",
		"--type", "PURCHASE", "--value", "9.99", "--at",
		"2026-01-03T00:00:00Z", NULL };
	static const char *const t3[] = { "track", "--customer", "s2",
		"--type", "PAGE_VIEW", "--at", "1767323045000", NULL };
	const char *const *tracks[] = { t1, t2, t3 };
	for (size_t i = 0; i < 3; i++) {
		struct cli_output o = cli_run(tracks[i], NULL);
		cr_expect_eq(o.rc, 0, "track %zu: exit %d, stderr '%s'", i,
		        o.rc, o.err);
		cli_output_free(&o);
	}
	static const char *const status[] = { "status", NULL };
	struct cli_output o = cli_run(status, NULL);
	cr_expect_eq(o.rc, 0, "status: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect_eq(table_value(o.out, "customers"), 2, "stdout '%s'", o.out);
	cr_expect_eq(
	        table_value(o.out, "touchpoints"), 3, "stdout '%s'", o.out);
	cr_expect(
	        strstr(o.out, "full") != NULL, "no durability in '%s'", o.out);
	cli_output_free(&o);

	static const char *const json[] = { "--json", "status", NULL };
	o = cli_run(json, NULL);
	cr_expect_eq(o.rc, 0, "--json status: exit %d", o.rc);
	cr_expect(strstr(o.out, "\"customers\":\"2\"") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"touchpoints\":\"3\"") != NULL, "'%s'", o.out);
	cr_expect_eq(count_char(o.out, '\n'), 1, "not one line: '%s'", o.out);
	cli_output_free(&o);

	/* The customer table shows the purchase. */
	static const char *const cust[] = { "customer", "s1", NULL };
	o = cli_run(cust, NULL);
	cr_expect_eq(o.rc, 0);
	cr_expect(strstr(o.out, "ACQUISITION") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "9.99") != NULL, "'%s'", o.out);
	cli_output_free(&o);
}

/*
 * `clm export ID | clm track` (docs/api.md: export is ready for track):
 * the customer line is skipped, the touchpoints go back in.
 */
Test(cli, export_output_tracks_again)
{
	start_server();
	static const char *const t1[] = { "track", "--customer", "rt",
		"--type", "SIGNUP", "--event-id", "rt-1", "--at",
		"2026-01-02T03:04:05Z", NULL };
	static const char *const t2[] = { "track", "--customer", "rt",
		"--type", "PURCHASE", "--value", "12.5", "--event-id", "rt-2",
		"--at", "2026-01-03T00:00:00Z", NULL };
	const char *const *tracks[] = { t1, t2 };
	for (size_t i = 0; i < 2; i++) {
		struct cli_output o = cli_run(tracks[i], NULL);
		cr_assert_eq(o.rc, 0, "track %zu: exit %d, stderr '%s'", i,
		        o.rc, o.err);
		cli_output_free(&o);
	}
	static const char *const exp[] = { "export", "rt", NULL };
	struct cli_output x = cli_run(exp, NULL);
	cr_assert_eq(x.rc, 0, "export: exit %d, stderr '%s'", x.rc, x.err);
	cr_expect_eq(count_char(x.out, '\n'), 3, "'%s'", x.out);
	static const char *const forget[] = { "forget", "rt", NULL };
	struct cli_output o = cli_run(forget, NULL);
	cr_assert_eq(o.rc, 0, "forget: exit %d", o.rc);
	cli_output_free(&o);

	static const char *const track[] = { "track", NULL };
	o = cli_run(track, x.out);
	cr_expect_eq(
	        o.rc, 0, "track < export: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.err,
	                "accepted 2, duplicates 0, rejected 0, unreadable lines 0, customer lines skipped 1")
	                != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
	Clm__V1__Response *resp = get_customer("rt");
	cr_expect_eq(resp->customer->stage, CLM__V1__STAGE__ACQUISITION);
	cr_expect_eq(resp->customer->purchases, 1);
	clm_response_free(resp);

	/* Again: both are duplicates now, and the exit code says ok. */
	o = cli_run(track, x.out);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "accepted 0, duplicates 2") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);

	/* clm import reads the same lines, the customer line skipped too. */
	o = cli_run(forget, NULL);
	cr_assert_eq(o.rc, 0, "forget: exit %d", o.rc);
	cli_output_free(&o);
	static const char *const import[]
	        = { "import", "-", "--format", "ndjson", NULL };
	o = cli_run(import, x.out);
	cr_expect_eq(
	        o.rc, 0, "import < export: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.out,
	                "accepted 2, duplicates 0, rejected 0, customer lines skipped 1")
	                != NULL,
	        "stdout '%s', stderr '%s'", o.out, o.err);
	cli_output_free(&o);
	cli_output_free(&x);
}

/* Counts the occurrences of needle in s. */
static int
count_str(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(s, needle); p != NULL;
	        p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

/* A violation is printed once, also when the message repeats it. */
Test(cli, violations_printed_once)
{
	start_server();
	static const char *const spend[] = { "spend", "--channel", "email",
		"--day", "2026-01-01", "--amount", "-5", NULL };
	struct cli_output o = cli_run(spend, NULL);
	cr_expect_eq(o.rc, 1, "spend: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect_eq(count_str(o.err, "must be a finite number"), 1,
	        "stderr '%s'", o.err);
	cli_output_free(&o);

	static const char *const track[] = { "--json", "track", "--type",
		"purchase", "--value", "-5", NULL };
	o = cli_run(track, NULL);
	cr_expect_eq(o.rc, 1, "track: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect_eq(count_str(o.err, "customer_id or anonymous_id"), 1,
	        "stderr '%s'", o.err);
	cr_expect_eq(count_str(o.err, "must not be negative"), 1,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

/* Usage errors exit 2, not 3: an unknown flag, a URL of no transport. */
Test(cli, unknown_flag_and_http_url_are_usage_errors)
{
	static const char *const bogus[] = { "metrics", "--bogus", NULL };
	struct cli_output o = cli_run(bogus, NULL);
	cr_expect_eq(o.rc, 2, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "unknown flag '--bogus'") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);

	static const char *const http[]
	        = { "--url", "http://127.0.0.1:7452", "status", NULL };
	o = cli_run(http, NULL);
	cr_expect_eq(o.rc, 2, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.err, "invalid --url 'http://127.0.0.1:7452'") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);

	/*
	 * A host that does not resolve is no usage error: nng says
	 * EADDRINVAL for it too, but the URL's form is right, so it is
	 * "cannot connect" (exit 3) with nng's reason.
	 */
	static const char *const nohost[]
	        = { "--url", "tcp://nosuchhost.invalid:7450", "status", NULL };
	o = cli_run(nohost, NULL);
	cr_expect_eq(o.rc, 3, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "cannot connect to 'tcp://nosuchhost.invalid")
	                != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

/* clm track of a CUSTOM event (--event-name) and of an order of three
 * items (--item, --order-item twice): one purchase, every item bought
 * together, both kept through export and a kill -9 (journal replay). */
Test(cli, custom_event_and_order_items)
{
	start_server();
	static const char *const order[] = { "track", "--customer", "o1",
		"--type", "purchase", "--item", "phone", "--order-item",
		"case", "--order-item", "cable", "--value", "530", "--at",
		"2026-01-02T03:04:05Z", "--event-id", "o1-1", NULL };
	struct cli_output o = cli_run(order, NULL);
	cr_expect_eq(o.rc, 0, "order: exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);
	static const char *const custom[] = { "track", "--customer", "o1",
		"--type", "custom", "--event-name", "Video Played", "--at",
		"2026-01-03T00:00:00Z", "--event-id", "o1-2", NULL };
	o = cli_run(custom, NULL);
	cr_expect_eq(o.rc, 0, "custom: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "recorded") != NULL, "stdout '%s'", o.out);
	cr_expect(strstr(o.out, "->") == NULL, "a stage moved: '%s'", o.out);
	cli_output_free(&o);
	static const char *const other[] = { "track", "--customer", "o2",
		"--type", "purchase", "--item", "phone", "--value", "500",
		"--at", "2026-01-02T03:04:05Z", NULL };
	o = cli_run(other, NULL);
	cr_expect_eq(o.rc, 0, "other: exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);

	Clm__V1__Response *resp = get_customer("o1");
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(
	        cu->purchases, 1, "one order, %u purchases", cu->purchases);
	cr_expect(cu->revenue > 529.99 && cu->revenue < 530.01, "revenue %f",
	        cu->revenue);
	cr_expect_eq(
	        cu->stage, CLM__V1__STAGE__ACQUISITION, "stage %d", cu->stage);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__CUSTOM), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 1);
	cr_expect_eq(cu->last_seen_ms, 1767398400000LL, "last seen %lld",
	        (long long) cu->last_seen_ms);
	clm_response_free(resp);

	/* o2 bought the phone: the order's other items are bought with it. */
	static const char *const rec[] = { "--json", "recommend", "o2", NULL };
	o = cli_run(rec, NULL);
	cr_expect_eq(o.rc, 0, "recommend: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "\"itemId\":\"case\"") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"itemId\":\"cable\"") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "popular_item") == NULL,
	        "popular instead of bought together: '%s'", o.out);
	cli_output_free(&o);
	/* Every pair of the order, not only those with item_id. */
	static const char *const buy_case[] = { "track", "--customer", "o3",
		"--type", "purchase", "--item", "case", "--value", "20",
		"--at", "2026-01-02T03:04:05Z", NULL };
	o = cli_run(buy_case, NULL);
	cr_expect_eq(o.rc, 0, "o3: exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);
	static const char *const rec3[]
	        = { "--json", "recommend", "o3", NULL };
	o = cli_run(rec3, NULL);
	cr_expect_eq(o.rc, 0, "recommend: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.out, "\"itemId\":\"cable\"") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"itemId\":\"phone\"") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "popular_item") == NULL,
	        "popular instead of bought together: '%s'", o.out);
	cli_output_free(&o);

	static const char *const exp[] = { "export", "o1", NULL };
	o = cli_run(exp, NULL);
	cr_expect_eq(o.rc, 0, "export: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "\"eventName\":\"Video Played\"") != NULL,
	        "'%s'", o.out);
	cr_expect(strstr(o.out, "\"orderItems\":[\"case\",\"cable\"]") != NULL,
	        "'%s'", o.out);
	/* The touchpoint lines (the customer's holds the clock, as_of). */
	const char *lines = strchr(o.out, '\n');
	cr_assert_not_null(lines);
	char *before = strdup(lines);
	cr_assert_not_null(before);
	cli_output_free(&o);

	/* What the journal replays after a kill -9 is the same. */
	clmd_kill9(&srv);
	cr_assert_eq(clmd_start(&srv, srv.data_dir, NULL), 0,
	        "clmd did not restart (log %s)", srv.log_path);
	o = cli_run(exp, NULL);
	cr_expect_eq(o.rc, 0, "export: exit %d, stderr '%s'", o.rc, o.err);
	lines = strchr(o.out, '\n');
	cr_assert_not_null(lines);
	cr_expect_str_eq(lines, before);
	cli_output_free(&o);
	free(before);

	/* The server's checks, with the field they name. */
	static const char *const nameless[]
	        = { "track", "--customer", "o1", "--type", "custom", NULL };
	o = cli_run(nameless, NULL);
	cr_expect_eq(o.rc, 1, "nameless: exit %d", o.rc);
	cr_expect(strstr(o.err, "touchpoints[0].event_name") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
	static const char *const itemless[] = { "track", "--customer", "o1",
		"--type", "purchase", "--order-item", "case", NULL };
	o = cli_run(itemless, NULL);
	cr_expect_eq(o.rc, 1, "itemless: exit %d", o.rc);
	cr_expect(strstr(o.err, "touchpoints[0].item_id") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

/* clm import of CSV: the event_name column makes a CUSTOM event whole. */
Test(cli, csv_event_name_column)
{
	start_server();
	char dir[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/custom.csv", dir);
	cr_assert_eq(
	        harness_write_file(path,
	                "event_id,customer_id,type,occurred_at,event_name\n"
	                "e1,cv,custom,2026-01-02T03:04:05Z,Coupon Copied\n"
	                "e2,cv,page_view,2026-01-02T03:04:06Z,\n"),
	        0);
	static const char *imp[] = { "import", NULL, NULL };
	imp[1] = path;
	struct cli_output o = cli_run(imp, NULL);
	cr_expect_eq(o.rc, 0, "import: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "accepted 2") != NULL, "'%s'", o.out);
	cli_output_free(&o);
	static const char *const exp[] = { "export", "cv", NULL };
	o = cli_run(exp, NULL);
	cr_expect_eq(o.rc, 0, "export: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(
	        strstr(o.out,
	                "\"type\":\"CUSTOM\",\"occurredAtMs\":\"1767323045000\","
	                "\"eventName\":\"Coupon Copied\"")
	                != NULL,
	        "'%s'", o.out);
	cr_expect(strstr(o.out,
	                  "\"type\":\"PAGE_VIEW\",\"occurredAtMs\":"
	                  "\"1767323046000\"}")
	                != NULL,
	        "'%s'", o.out);
	cli_output_free(&o);
}
