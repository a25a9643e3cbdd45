/*
 * clm segment against a real clmd (docs/segments.md, "The command line"):
 * define waits for the backfill and prints the count, count, members over
 * several pages, show, list, delete, --as-of, --json (one object a line;
 * members: one GetSegmentReply a page), a bad expression's byte offset on
 * stderr (exit 1), an unknown segment (exit 1) and usage errors (exit 2).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(cli_segment, 120);

/* Three customers, all last seen on 2026-01-02: two bought. */
static const char journeys[]
        = "{\"eventId\":\"a1\",\"customerId\":\"ann\",\"type\":\"PURCHASE\",\"value\":10,\"occurredAtMs\":\"1767323045000\"}\n"
          "{\"eventId\":\"b1\",\"customerId\":\"bob\",\"type\":\"PURCHASE\",\"value\":20,\"occurredAtMs\":\"1767323045000\"}\n"
          "{\"eventId\":\"c1\",\"customerId\":\"cid\",\"type\":\"SIGNUP\",\"occurredAtMs\":\"1767323045000\"}\n";

/* Runs clm with argv; asserts its exit code is rc; returns its output. */
static struct cli_output
clm(int rc, const char *const *argv)
{
	struct cli_output o = cli_run(argv, NULL);
	cr_assert_eq(o.rc, rc,
	        "clm %s %s: exit %d, want %d\nstdout '%s'\nstderr '%s'",
	        argv[0], argv[1] ? argv[1] : "", o.rc, rc, o.out, o.err);
	return o;
}

/* Whether every line of err is a progress line of define. */
static bool
only_progress(const char *err)
{
	for (const char *p = err; *p != '\0';) {
		size_t n = strcspn(p, "\n");
		if (n == 0 || strncmp(p, "backfill ", 9) != 0
		        || p[n - 1] != ')') {
			return false;
		}
		p += n + (p[n] == '\n');
	}
	return true;
}

static void
start(void)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	static const char *const track[] = { "track", NULL };
	struct cli_output o = cli_run(track, journeys);
	cr_assert_eq(o.rc, 0, "%s", o.err);
	cli_output_free(&o);
}

Test(cli_segment, define_count_members_show_list_delete)
{
	start();
	struct cli_output o = clm(0,
	        (const char *const[]) { "segment", "define", "buyers",
	                "purchases >= 1", NULL });
	cr_expect_str_eq(o.out, "buyers: 2 customers\n");
	cr_expect(only_progress(o.err), "stderr '%s'", o.err);
	cli_output_free(&o);

	o = clm(0,
	        (const char *const[]) { "segment", "count", "buyers", NULL });
	cr_expect_str_eq(o.out, "2\n");
	cli_output_free(&o);

	/* Every page, one id a page. */
	o = clm(0,
	        (const char *const[]) { "segment", "members", "buyers",
	                "--page-size", "1", NULL });
	cr_expect_str_eq(o.out, "ann\nbob\n");
	cli_output_free(&o);

	o = clm(0,
	        (const char *const[]) { "segment", "show", "buyers", NULL });
	cr_expect_not_null(
	        strstr(o.out, "segment      buyers\n"), "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, "expression   purchases >= 1\n"), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "members      2\n"), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "backfill     done\n"), "%s", o.out);
	cr_expect_null(strstr(o.out, "defined at   -\n"), "%s", o.out);
	cli_output_free(&o);

	o = clm(0, (const char *const[]) { "segment", "list", NULL });
	cr_expect(strncmp(o.out, "name ", 5) == 0, "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\nbuyers "), "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, " 2     done  purchases >= 1\n"), "%s", o.out);
	cli_output_free(&o);

	o = clm(0,
	        (const char *const[]) { "segment", "delete", "buyers", NULL });
	cr_expect_str_eq(o.out, "deleted segment 'buyers'\n");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "segment", "delete", "buyers", NULL });
	cr_expect_str_eq(o.out, "no segment 'buyers': nothing to delete\n");
	cli_output_free(&o);
	o = clm(1,
	        (const char *const[]) { "segment", "count", "buyers", NULL });
	cr_expect_not_null(strstr(o.err, "NOT_FOUND"), "%s", o.err);
	cli_output_free(&o);
	o = clm(0, (const char *const[]) { "segment", "list", NULL });
	cr_expect_str_eq(o.out, "no segments\n");
	cli_output_free(&o);
}

Test(cli_segment, as_of_and_json)
{
	start();
	/* Quiet now (last seen in January), not on 2026-01-10. */
	struct cli_output o = clm(0,
	        (const char *const[]) { "segment", "define", "quiet",
	                "since(last_seen) > 30d", "--json", NULL });
	cr_expect(strncmp(o.out, "{\"position\":\"", 13) == 0, "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\"name\":\"quiet\""), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\"count\":\"3\""), "%s", o.out);
	cr_expect_eq(
	        strchr(o.out, '\n'), o.out + strlen(o.out) - 1, "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "segment", "count", "quiet", "--as-of",
	                "2026-01-10", NULL });
	cr_expect_str_eq(o.out, "0\n");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "segment", "members", "quiet",
	                "--as-of", "2026-03-01", "--page-size", "2", NULL });
	cr_expect_str_eq(o.out, "ann\nbob\ncid\n");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "segment", "show", "quiet", "--as-of",
	                "1768003200000", NULL });
	cr_expect_not_null(strstr(o.out, "members      0\n"), "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, "as of        2026-01-10T00:00:00.000Z\n"), "%s",
	        o.out);
	cli_output_free(&o);

	/* --json members: one GetSegmentReply a page. */
	o = clm(0,
	        (const char *const[]) { "--json", "segment", "members",
	                "quiet", "--page-size", "2", NULL });
	cr_expect(strncmp(o.out, "{\"segment\":{\"name\":\"quiet\"", 26) == 0,
	        "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, "\"members\":[\"ann\",\"bob\"]"), "%s", o.out);
	const char *second = strchr(o.out, '\n');
	cr_assert_not_null(second);
	cr_expect_not_null(
	        strstr(second, "\"members\":[\"cid\"]"), "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "segment", "count", "quiet", "--json", NULL });
	cr_expect_not_null(strstr(o.out, "\"count\":\"3\""), "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "--json", "segment", "list", NULL });
	cr_expect(
	        strncmp(o.out, "{\"segments\":[{\"name\":\"quiet\"", 28) == 0,
	        "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "--json", "segment", "delete", "quiet", NULL });
	cr_expect(strncmp(o.out, "{\"position\":\"", 13) == 0, "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\"existed\":true}"), "%s", o.out);
	cli_output_free(&o);
}

Test(cli_segment, errors)
{
	start();
	/* The parser's byte offset, as a violation on expression. */
	struct cli_output o = clm(1,
	        (const char *const[]) {
	                "segment", "define", "bad", "purchases >=", NULL });
	cr_expect_not_null(strstr(o.err, "INVALID_ARGUMENT"), "%s", o.err);
	cr_expect_not_null(strstr(o.err, "at byte"), "%s", o.err);
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);
	o = clm(1,
	        (const char *const[]) {
	                "segment", "define", "Bad!", "purchases >= 1", NULL });
	cr_expect_not_null(strstr(o.err, "INVALID_ARGUMENT"), "%s", o.err);
	cli_output_free(&o);
	o = clm(1, (const char *const[]) { "segment", "show", "nope", NULL });
	cr_expect_not_null(strstr(o.err, "NOT_FOUND"), "%s", o.err);
	cli_output_free(&o);
	o = clm(1,
	        (const char *const[]) { "segment", "members", "nope", NULL });
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);

	static const char *const usage[][6] = {
		{ "segment", NULL },
		{ "segment", "frob", NULL },
		{ "segment", "define", "x", NULL },
		{ "segment", "define", "x", "purchases >= 1", "extra", NULL },
		{ "segment", "count", NULL },
		{ "segment", "count", "x", "--page-size", "2", NULL },
		{ "segment", "members", "x", "--page-size", "0", NULL },
		{ "segment", "members", "x", "--as-of", "soon", NULL },
		{ "segment", "list", "x", NULL },
		{ "segment", "delete", "x", "--no-wait", NULL },
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		o = cli_run(usage[i], NULL);
		cr_expect_eq(o.rc, 2, "clm %s %s: exit %d (%s)", usage[i][0],
		        usage[i][1] ? usage[i][1] : "", o.rc, o.err);
		cli_output_free(&o);
	}
}
