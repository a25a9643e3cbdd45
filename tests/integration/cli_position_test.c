/*
 * Positions in the clm CLI against a real clmd (docs/api.md "Positions",
 * docs/operations.md "The clm command line"): with --json every write
 * command prints its reply's position first, `clm status` shows the
 * applied position and the journal, and the global --min-position is sent
 * with the command's requests.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(cli_position, 120);

static void
start_server(void)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0,
	        "clmd did not start (log %s)", srv.log_path);
}

/* The "position" member a line of JSON starts with, or -1. */
static long long
json_position(const char *out)
{
	const char *key = "{\"position\":\"";
	if (strncmp(out, key, strlen(key)) != 0) {
		return -1;
	}
	return strtoll(out + strlen(key), NULL, 10);
}

/*
 * Runs a write command with --json; returns the position it printed,
 * which must be last + 1 (each write one journal entry).
 */
static long long
write_json(const char *const argv[], const char *in, long long last)
{
	const char *full[16] = { "--json" };
	size_t n = 1;
	for (; argv[n - 1] != NULL; n++) {
		cr_assert_lt(n, 15);
		full[n] = argv[n - 1];
	}
	full[n] = NULL;
	struct cli_output o = cli_run(full, in);
	cr_assert_eq(
	        o.rc, 0, "%s: exit %d, stderr '%s'", argv[0], o.rc, o.err);
	long long pos = json_position(o.out);
	cr_assert_eq(pos, last + 1, "%s: position %lld after %lld in '%s'",
	        argv[0], pos, last, o.out);
	cli_output_free(&o);
	return pos;
}

Test(cli_position, every_write_prints_its_position_with_json)
{
	start_server();
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	long long p = 0;
	static const char *const track[] = { "track", "--customer", "ann",
		"--type", "purchase", "--value", "5", "--item", "sku-1",
		"--event-id", "ann-1", NULL };
	p = write_json(track, NULL, p);
	/* NDJSON on stdin: one line per Track reply, each with its own. */
	static const char *const track_in[] = { "track", NULL };
	p = write_json(track_in,
	        "{\"customerId\":\"bob\",\"type\":\"SIGNUP\",\"eventId\":\"bob-1\"}\n",
	        p);
	static const char *const identify[]
	        = { "identify", "dev-1", "ann", NULL };
	p = write_json(identify, NULL, p);
	static const char *const spend[] = { "spend", "--channel", "paid_ads",
		"--day", "2026-01-02", "--amount", "10", NULL };
	p = write_json(spend, NULL, p);
	const char *cat = test_file(dir, "cat.ndjson",
	        "{\"itemId\":\"sku-1\",\"name\":\"one\"}\n");
	const char *const catalog[] = { "catalog", cat, NULL };
	p = write_json(catalog, NULL, p);
	const char *tps = test_file(dir, "tps.ndjson",
	        "{\"customerId\":\"cy\",\"type\":\"SIGNUP\",\"eventId\":\"cy-1\"}\n");
	const char *const import[] = { "import", tps, NULL };
	p = write_json(import, NULL, p);
	static const char *const define[] = { "experiment", "define", "exp",
		"--goal", "purchase", "a", "b", NULL };
	p = write_json(define, NULL, p);
	static const char *const assign[]
	        = { "experiment", "assign", "exp", "ann", NULL };
	p = write_json(assign, NULL, p);
	static const char *const claim[]
	        = { "recommend", "ann", "--claim", NULL };
	p = write_json(claim, NULL, p);
	static const char *const forget[] = { "forget", "bob", NULL };
	p = write_json(forget, NULL, p);

	/* A read's --json stays the reply message alone. */
	static const char *const cust[]
	        = { "--json", "customer", "ann", NULL };
	struct cli_output o = cli_run(cust, NULL);
	cr_assert_eq(o.rc, 0, "stderr '%s'", o.err);
	cr_assert_eq(json_position(o.out), -1, "'%s'", o.out);
	cli_output_free(&o);

	/* status: the applied position is the last write's. */
	static const char *const status[] = { "status", NULL };
	o = cli_run(status, NULL);
	cr_assert_eq(o.rc, 0, "stderr '%s'", o.err);
	char want[64];
	snprintf(want, sizeof(want), "\nposition     %lld (applied)\n", p);
	cr_assert(strstr(o.out, want) != NULL, "no '%s' in '%s'", want, o.out);
	cr_assert(strstr(o.out, "\njournal      local\n") != NULL, "'%s'",
	        o.out);
	cr_assert(strstr(o.out, "stream") == NULL,
	        "a stream line for a single node: '%s'", o.out);
	cli_output_free(&o);
	static const char *const status_json[] = { "--json", "status", NULL };
	o = cli_run(status_json, NULL);
	cr_assert_eq(o.rc, 0, "stderr '%s'", o.err);
	cr_assert_eq(json_position(o.out), p, "'%s'", o.out);
	cr_assert(
	        strstr(o.out, "\"journal\":\"local\"") != NULL, "'%s'", o.out);
	cr_assert(strstr(o.out, "\"lag\"") == NULL, "'%s'", o.out);
	cr_assert(o.out[strlen(o.out) - 2] == '}', "'%s'", o.out);
	cli_output_free(&o);
}

Test(cli_position, min_position_is_sent_with_the_command)
{
	start_server();
	static const char *const track[] = { "--json", "track", "--customer",
		"ann", "--type", "signup", "--event-id", "ann-1", NULL };
	struct cli_output o = cli_run(track, NULL);
	cr_assert_eq(o.rc, 0, "stderr '%s'", o.err);
	long long p = json_position(o.out);
	cr_assert_gt(p, 0, "'%s'", o.out);
	cli_output_free(&o);

	char at[32], beyond[32];
	snprintf(at, sizeof(at), "%lld", p);
	snprintf(beyond, sizeof(beyond), "%lld", p + 10);
	const char *const reached[]
	        = { "--min-position", at, "customer", "ann", NULL };
	o = cli_run(reached, NULL);
	cr_assert_eq(o.rc, 0, "stderr '%s'", o.err);
	cr_assert(strstr(o.out, "ann") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	/* Beyond: clmd waits 1 s (no deadline_ms), then UNAVAILABLE. */
	const char *const read[]
	        = { "--min-position", beyond, "customer", "ann", NULL };
	o = cli_run(read, NULL);
	cr_assert_eq(o.rc, 1, "exit %d, stderr '%s'", o.rc, o.err);
	char want[128];
	snprintf(want, sizeof(want),
	        "UNAVAILABLE: not caught up: this node has applied position %lld, the request needs %lld",
	        p, p + 10);
	cr_assert(strstr(o.err, want) != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	/* A write too: refused, and not applied. */
	const char *const write[] = { "--min-position", beyond, "track",
		"--customer", "bob", "--type", "signup", NULL };
	o = cli_run(write, NULL);
	cr_assert_eq(o.rc, 1, "exit %d, stderr '%s'", o.rc, o.err);
	cr_assert(strstr(o.err, "not caught up") != NULL, "'%s'", o.err);
	cli_output_free(&o);
	static const char *const bob[] = { "customer", "bob", NULL };
	o = cli_run(bob, NULL);
	cr_assert_eq(o.rc, 1, "bob was recorded: '%s'", o.out);
	cli_output_free(&o);

	static const char *const bad[][4] = {
		{ "--min-position", "x", "status", NULL },
		{ "--min-position", "-1", "status", NULL },
		{ "--min-position", "18446744073709551616", "status", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = cli_run(bad[i], NULL);
		cr_assert_eq(o.rc, 2, "'%s': exit %d", bad[i][1], o.rc);
		cr_assert(strstr(o.err, "invalid --min-position") != NULL,
		        "'%s'", o.err);
		cli_output_free(&o);
	}
}
