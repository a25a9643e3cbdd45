/*
 * clm journey against a real clmd (docs/journeys.md, "CLI"): define from
 * a file and from stdin (defined, then replaced), status (the counts, a
 * row per step, the webhook's line only with a webhook, its secret
 * hidden), list, delete, messages (one a line, --after, --limit,
 * --journey, --json), messages --follow until SIGTERM or SIGINT (exit 0),
 * clm watch journey/ printing a message and segment/ a segment entry,
 * a bad definition's JSON path on stderr (exit 1), an unknown journey
 * (exit 1) and usage errors (exit 2).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(cli_journey, 120);

/* A cart reminder at once, an SMS an hour later. */
static const char cart[]
        = "{\"name\": \"cart\", \"trigger\": {\"event\": \"ADD_TO_CART\"},\n"
          " \"steps\": [\n"
          "  {\"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"cart_reminder\", \"channel\": \"EMAIL\"}},\n"
          "  {\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"cart_followup\", \"channel\": \"SMS\"}}]}\n";

/* A thank-you on PURCHASE, with a webhook nothing answers. */
static const char thanks[]
        = "{\"name\": \"thanks\", \"trigger\": {\"event\": \"PURCHASE\"},"
          " \"webhook\": {\"url\": \"http://127.0.0.1:9/hook\", \"secret\": \"s3cr3t\"},"
          " \"steps\": [{\"send\": {\"kind\": \"LOYALTY_REWARD\", \"action\": \"thank_you\", \"channel\": \"EMAIL\"}}]}";

/* Runs clm with argv and stdin in; asserts its exit code is rc. */
static struct cli_output
clm_in(int rc, const char *const *argv, const char *in)
{
	struct cli_output o = cli_run(argv, in);
	cr_assert_eq(o.rc, rc,
	        "clm %s %s: exit %d, want %d\nstdout '%s'\nstderr '%s'",
	        argv[0], argv[1] ? argv[1] : "", o.rc, rc, o.out, o.err);
	return o;
}

static struct cli_output
clm(int rc, const char *const *argv)
{
	return clm_in(rc, argv, NULL);
}

/* The number of lines of s. */
static size_t
lines(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++) {
		n += *s == '\n';
	}
	return n;
}

/*
 * Runs `clm journey messages` (with the extra args, NULL-terminated) until
 * it prints want lines, for up to 30 s; returns its last output.
 */
static struct cli_output
messages_until(size_t want, const char *const *extra)
{
	const char *argv[16] = { "journey", "messages" };
	size_t n = 2;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++) {
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	struct cli_output o = { 0 };
	for (int i = 0; i < 600; i++) {
		cli_output_free(&o);
		o = clm(0, argv);
		if (lines(o.out) >= want) {
			break;
		}
		harness_sleep_ms(50);
	}
	cr_assert_eq(lines(o.out), want, "after 30 s: '%s'", o.out);
	return o;
}

/* Adds a product to customer's cart now (event eid, item sku-1). */
static void
add_to_cart(const char *customer, const char *eid)
{
	struct cli_output o = clm(0,
	        (const char *const[]) { "track", "--customer", customer,
	                "--type", "add_to_cart", "--event-id", eid, "--item",
	                "sku-1", NULL });
	cli_output_free(&o);
}

static void
start(void)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
}

/* The value of the line "KEY   VALUE" of clm journey status's out. */
static long long
status_value(const char *out, const char *key)
{
	char want[32];
	snprintf(want, sizeof(want), "\n%-12s ", key);
	const char *p = strstr(out, want);
	cr_assert_not_null(p, "no %s in '%s'", key, out);
	return strtoll(p + strlen(want), NULL, 10);
}

/*
 * Expects the row of clm journey status's step table for step to hold the
 * numbers want (sent, condition, capped, late, waiting).
 */
static void
expect_step(const char *out, unsigned step, const long long want[5])
{
	const char *table = strstr(out, "\nstep ");
	cr_assert_not_null(table, "%s", out);
	char head[16];
	snprintf(head, sizeof(head), "\n%u ", step);
	const char *row = strstr(table, head);
	cr_assert_not_null(row, "no step %u: %s", step, out);
	long long v[5];
	cr_assert_eq(sscanf(row + strlen(head), "%lld %lld %lld %lld %lld",
	                     &v[0], &v[1], &v[2], &v[3], &v[4]),
	        5, "%s", row);
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(
		        v[i], want[i], "step %u column %d: %s", step, i, out);
	}
}

Test(cli_journey, define_status_list_delete)
{
	start();
	const char *path = test_file(srv.base_dir, "cart.json", cart);
	struct cli_output o = clm(
	        0, (const char *const[]) { "journey", "define", path, NULL });
	cr_expect_str_eq(o.out, "cart: defined\n");
	cr_expect_str_eq(o.err, "");
	cli_output_free(&o);
	/* From stdin: the same name replaces it. */
	o = clm_in(0, (const char *const[]) { "journey", "define", "-", NULL },
	        cart);
	cr_expect_str_eq(o.out, "cart: replaced\n");
	cli_output_free(&o);

	o = clm(0,
	        (const char *const[]) { "journey", "status", "cart", NULL });
	cr_expect(strncmp(o.out, "journey      cart\n", 18) == 0, "%s", o.out);
	cr_expect_eq(status_value(o.out, "entered"), 0);
	cr_expect_eq(status_value(o.out, "active"), 0);
	cr_expect_eq(status_value(o.out, "exited"), 0);
	cr_expect_eq(status_value(o.out, "completed"), 0);
	cr_expect_eq(status_value(o.out, "removed"), 0);
	cr_expect_null(strstr(o.out, "defined at   -\n"), "%s", o.out);
	cr_expect_null(strstr(o.out, "\nwebhook "), "%s", o.out);
	cr_expect_not_null(strstr(o.out,
	                           "\nstep       sent  condition     capped "
	                           "      late    waiting\n"),
	        "%s", o.out);
	expect_step(o.out, 0, (const long long[]) { 0, 0, 0, 0, 0 });
	expect_step(o.out, 1, (const long long[]) { 0, 0, 0, 0, 0 });
	cr_expect_null(strstr(o.out, "\n2 "), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\ndefinition   {\"name\": \"cart\""),
	        "%s", o.out);
	cli_output_free(&o);

	/* With a webhook: its line, and the secret hidden. */
	path = test_file(srv.base_dir, "thanks.json", thanks);
	o = clm(0, (const char *const[]) { "journey", "define", path, NULL });
	cr_expect_str_eq(o.out, "thanks: defined\n");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "journey", "status", "thanks", NULL });
	cr_expect_not_null(strstr(o.out,
	                           "\nwebhook      delivered 0, pending 0, "
	                           "retries 0, dead 0\n"),
	        "%s", o.out);
	cr_expect_null(strstr(o.out, "s3cr3t"), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\"***\""), "%s", o.out);
	cli_output_free(&o);

	o = clm(0, (const char *const[]) { "journey", "list", NULL });
	cr_expect(strncmp(o.out, "name ", 5) == 0, "%s", o.out);
	const char *c = strstr(o.out, "\ncart ");
	const char *t = strstr(o.out, "\nthanks ");
	cr_expect(c != NULL && t != NULL && c < t, "by name: %s", o.out);
	cr_expect_eq(lines(o.out), 3, "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "--json", "journey", "list", NULL });
	cr_expect(strncmp(o.out, "{\"journeys\":[{\"name\":\"cart\"", 27) == 0,
	        "%s", o.out);
	cr_expect_null(strstr(o.out, "s3cr3t"), "%s", o.out);
	cli_output_free(&o);

	o = clm(0,
	        (const char *const[]) { "journey", "delete", "cart", NULL });
	cr_expect_str_eq(o.out, "deleted journey 'cart'\n");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) { "journey", "delete", "cart", NULL });
	cr_expect_str_eq(o.out, "no journey 'cart': nothing to delete\n");
	cli_output_free(&o);
	o = clm(1,
	        (const char *const[]) { "journey", "status", "cart", NULL });
	cr_expect_not_null(strstr(o.err, "NOT_FOUND"), "%s", o.err);
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "journey", "delete", "thanks", "--json", NULL });
	cr_expect(strncmp(o.out, "{\"position\":\"", 13) == 0, "%s", o.out);
	cr_expect_not_null(strstr(o.out, "\"existed\":true}"), "%s", o.out);
	cli_output_free(&o);
	o = clm(0, (const char *const[]) { "journey", "list", NULL });
	cr_expect_str_eq(o.out, "no journeys\n");
	cli_output_free(&o);
}

/* Checks one text line of messages: the fields of docs/journeys.md. */
static void
expect_line(const char *line, long long pos, const char *customer)
{
	char id[64], journey[32], cust[32], kind[32], action[32], channel[16],
	        item[16], at[40];
	long long p;
	unsigned step;
	int n = sscanf(line, "%lld %63s %31s %u %31s %31s %31s %15s %15s %39s",
	        &p, id, journey, &step, cust, kind, action, channel, item, at);
	cr_assert_eq(n, 10, "'%s'", line);
	cr_expect_eq(p, pos, "'%s'", line);
	cr_expect(
	        strncmp(id, "jm_", 3) == 0 && strlen(id) == 35, "'%s'", line);
	cr_expect_str_eq(journey, "cart");
	cr_expect_eq(step, 0);
	cr_expect_str_eq(cust, customer);
	cr_expect_str_eq(kind, "CART_REMINDER");
	cr_expect_str_eq(action, "cart_reminder");
	cr_expect_str_eq(channel, "EMAIL");
	cr_expect_str_eq(item, "sku-1");
	cr_expect(strncmp(at, "20", 2) == 0 && at[strlen(at) - 1] == 'Z',
	        "'%s'", line);
}

Test(cli_journey, messages)
{
	start();
	const char *path = test_file(srv.base_dir, "cart.json", cart);
	struct cli_output o = clm(
	        0, (const char *const[]) { "journey", "define", path, NULL });
	cli_output_free(&o);
	o = clm(0, (const char *const[]) { "journey", "messages", NULL });
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);
	add_to_cart("ann", "a1");
	o = messages_until(1, NULL);
	char *first = strdup(o.out);
	cli_output_free(&o);
	add_to_cart("bob", "b1");
	o = messages_until(2, NULL);
	cr_assert_not_null(first);
	cr_expect(strncmp(o.out, first, strlen(first)) == 0, "%s", o.out);
	long long p1 = strtoll(o.out, NULL, 10);
	const char *second = strchr(o.out, '\n') + 1;
	long long p2 = strtoll(second, NULL, 10);
	cr_expect(p1 > 0 && p2 > p1, "%s", o.out);
	expect_line(o.out, p1, "ann");
	expect_line(second, p2, "bob");
	char *both = strdup(o.out);
	cr_assert_not_null(both);
	size_t at2 = (size_t) (second - o.out);
	cli_output_free(&o);
	free(first);

	/* --after, --limit, --journey. */
	char after[32];
	snprintf(after, sizeof(after), "%lld", p1);
	o = clm(0,
	        (const char *const[]) {
	                "journey", "messages", "--after", after, NULL });
	cr_expect_str_eq(o.out, both + at2);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "journey", "messages", "--limit", "1", NULL });
	cr_expect_eq(lines(o.out), 1, "%s", o.out);
	cr_expect(strncmp(o.out, both, strlen(o.out)) == 0, "%s", o.out);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "journey", "messages", "--journey", "cart", NULL });
	cr_expect_str_eq(o.out, both);
	cli_output_free(&o);
	o = clm(0,
	        (const char *const[]) {
	                "journey", "messages", "--journey", "other", NULL });
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);
	free(both);

	/* --json: one LifecycleEvent a line. */
	o = clm(0,
	        (const char *const[]) {
	                "journey", "messages", "--json", NULL });
	cr_expect_eq(lines(o.out), 2, "%s", o.out);
	cr_expect(strncmp(o.out, "{\"kind\":\"JOURNEY_MESSAGE\"", 25) == 0,
	        "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, "\"customerId\":\"bob\""), "%s", o.out);
	cr_expect_not_null(
	        strstr(o.out, "\"eventId\":\"jny:jm_"), "%s", o.out);
	cli_output_free(&o);

	/* Both sent step 0 and wait for step 1, an hour away. */
	o = clm(0,
	        (const char *const[]) { "journey", "status", "cart", NULL });
	cr_expect_eq(status_value(o.out, "entered"), 2, "%s", o.out);
	cr_expect_eq(status_value(o.out, "active"), 2, "%s", o.out);
	expect_step(o.out, 0, (const long long[]) { 2, 0, 0, 0, 0 });
	expect_step(o.out, 1, (const long long[]) { 0, 0, 0, 0, 2 });
	cli_output_free(&o);
	/* list: entered, active, exited, completed, sent. */
	o = clm(0, (const char *const[]) { "journey", "list", NULL });
	const char *row = strstr(o.out, "\ncart ");
	cr_assert_not_null(row, "%s", o.out);
	long long v[5];
	cr_assert_eq(sscanf(row + 6, "%lld %lld %lld %lld %lld", &v[0], &v[1],
	                     &v[2], &v[3], &v[4]),
	        5, "%s", o.out);
	cr_expect(
	        v[0] == 2 && v[1] == 2 && v[2] == 0 && v[3] == 0 && v[4] == 2,
	        "%s", o.out);
	cli_output_free(&o);
}

/*
 * Starts `clm journey messages --follow` with stdout to the file out;
 * returns its pid.
 */
static pid_t
follow_start(const char *out)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0 || dup2(fd, 1) < 0
		        || dup2(null, 0) < 0) {
			_exit(126);
		}
		execl(CLM_BIN, CLM_BIN, "--url", srv.url, "journey",
		        "messages", "--follow", (char *) NULL);
		_exit(127);
	}
	return pid;
}

/* Waits up to 30 s until the file path holds want lines; returns them. */
static char *
file_lines(const char *path, size_t want)
{
	char *text = NULL;
	for (int i = 0; i < 600; i++) {
		free(text);
		text = harness_read_file(path);
		if (text != NULL && lines(text) >= want) {
			break;
		}
		harness_sleep_ms(50);
	}
	cr_assert_not_null(text);
	cr_assert_eq(lines(text), want, "after 30 s: '%s'", text);
	return text;
}

/* Sends sig to pid and waits up to 10 s for it to exit; its status. */
static int
follow_stop(pid_t pid, int sig)
{
	kill(pid, sig);
	for (int i = 0; i < 1000; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			return st;
		}
		harness_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_fail("clm --follow did not exit on signal %d", sig);
	return -1;
}

Test(cli_journey, follow_until_a_signal)
{
	start();
	const char *path = test_file(srv.base_dir, "cart.json", cart);
	struct cli_output o = clm(
	        0, (const char *const[]) { "journey", "define", path, NULL });
	cli_output_free(&o);
	add_to_cart("ann", "a1");
	o = messages_until(1, NULL);
	cli_output_free(&o);

	/* It prints what is there, then what comes, until SIGTERM. */
	char out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/follow.txt", srv.base_dir);
	pid_t pid = follow_start(out);
	char *text = file_lines(out, 1);
	cr_expect_not_null(strstr(text, " ann "), "%s", text);
	free(text);
	add_to_cart("bob", "b1");
	text = file_lines(out, 2);
	cr_expect_not_null(strstr(text, " bob "), "%s", text);
	free(text);
	int st = follow_stop(pid, SIGTERM);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	/* SIGINT too, while it waits for more (a new file: no old lines). */
	snprintf(out, sizeof(out), "%s/follow2.txt", srv.base_dir);
	pid = follow_start(out);
	text = file_lines(out, 2);
	free(text);
	st = follow_stop(pid, SIGINT);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

Test(cli_journey, errors)
{
	start();
	/* The JSON path of the fault, as a violation on the definition. */
	const char *bad = test_file(srv.base_dir, "bad.json",
	        "{\"name\": \"bad\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"steps\": [{\"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"x\", \"channel\": \"FAX\"}}]}");
	struct cli_output o = clm(
	        1, (const char *const[]) { "journey", "define", bad, NULL });
	cr_expect_not_null(strstr(o.err, "INVALID_ARGUMENT"), "%s", o.err);
	cr_expect_not_null(
	        strstr(o.err, "steps[0].send.channel"), "%s", o.err);
	cr_expect_str_eq(o.out, "");
	cli_output_free(&o);
	o = clm_in(1, (const char *const[]) { "journey", "define", "-", NULL },
	        "not json");
	cr_expect_not_null(strstr(o.err, "INVALID_ARGUMENT"), "%s", o.err);
	cli_output_free(&o);
	o = clm(1,
	        (const char *const[]) { "journey", "status", "nope", NULL });
	cr_expect_not_null(strstr(o.err, "NOT_FOUND"), "%s", o.err);
	cli_output_free(&o);

	static const char *const usage[][6] = {
		{ "journey", NULL },
		{ "journey", "frob", NULL },
		{ "journey", "define", NULL },
		{ "journey", "define", "/nonexistent/j.json", NULL },
		{ "journey", "status", NULL },
		{ "journey", "status", "a", "b", NULL },
		{ "journey", "list", "--follow", NULL },
		{ "journey", "delete", "a", "--after", "3", NULL },
		{ "journey", "messages", "x", NULL },
		{ "journey", "messages", "--limit", "0", NULL },
		{ "journey", "messages", "--after", "-1", NULL },
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		o = cli_run(usage[i], NULL);
		cr_expect_eq(o.rc, 2, "%s %s: exit %d, stderr '%s'",
		        usage[i][1] ? usage[i][1] : "",
		        usage[i][1] && usage[i][2] ? usage[i][2] : "", o.rc,
		        o.err);
		cr_expect(strncmp(o.err, "clm: ", 5) == 0, "'%s'", o.err);
		cr_expect_str_eq(o.out, "");
		cli_output_free(&o);
	}
}

/* The monotonic clock in milliseconds. */
static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Starts `clm watch PREFIX --count 1` with stdout to the file out and
 * stderr to err; returns its pid.
 */
static pid_t
watch_start(const char *prefix, const char *out, const char *err)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || efd < 0 || null < 0 || dup2(fd, 1) < 0
		        || dup2(efd, 2) < 0 || dup2(null, 0) < 0) {
			_exit(126);
		}
		execl(CLM_BIN, CLM_BIN, "watch", prefix, "--count", "1",
		        "--events", srv.events_url, (char *) NULL);
		_exit(127);
	}
	return pid;
}

/*
 * Runs `clm watch PREFIX --count 1` and returns what it printed (malloc'd).
 * The watcher subscribes at a moment this side cannot see: poke(i) makes
 * a new event every 200 ms until one reaches it. It has 30 s in all; then
 * it is killed by its pid and the test fails.
 */
static char *
watch_one(const char *prefix, void (*poke)(int i))
{
	char out[PATH_MAX], err[PATH_MAX];
	snprintf(out, sizeof(out), "%s/watch.txt", srv.base_dir);
	snprintf(err, sizeof(err), "%s/watch.err", srv.base_dir);
	pid_t pid = watch_start(prefix, out, err);
	int st = 0;
	bool exited = false;
	int64_t deadline = mono_ms() + 30000;
	for (int i = 0; mono_ms() < deadline; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			exited = true;
			break;
		}
		if (i < 90) {
			poke(i);
		}
		harness_sleep_ms(200);
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("clm watch %s printed nothing in 30 s", prefix);
	}
	char *text = harness_read_file(out);
	char *etext = harness_read_file(err);
	cr_assert_not_null(text);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	        "watch: status %d, stderr '%s'", st, etext ? etext : "");
	free(etext);
	return text;
}

/* A new customer w<i> fills a cart. */
static void
poke_cart(int i)
{
	char id[32], eid[32];
	snprintf(id, sizeof(id), "w%d", i);
	snprintf(eid, sizeof(eid), "w%d-cart", i);
	add_to_cart(id, eid);
}

Test(cli_journey, watch_prints_a_message)
{
	start();
	const char *path = test_file(srv.base_dir, "cart.json", cart);
	struct cli_output o = clm(
	        0, (const char *const[]) { "journey", "define", path, NULL });
	cli_output_free(&o);
	char *text = watch_one("journey/", poke_cart);
	unsigned long long seq;
	char topic[64], customer[32], at[40];
	unsigned step;
	char rest[128];
	cr_assert_eq(sscanf(text, "%llu %63s %31s step %u %127[^\n]", &seq,
	                     topic, customer, &step, rest),
	        5, "'%s'", text);
	cr_expect_str_eq(topic, "journey/cart");
	cr_expect(customer[0] == 'w', "'%s'", text);
	cr_expect_eq(step, 0);
	cr_expect(strncmp(rest, "CART_REMINDER cart_reminder EMAIL sku-1 at ",
	                  43)
	                == 0,
	        "'%s'", text);
	cr_expect_eq(sscanf(rest + 43, "%39s", at), 1, "'%s'", text);
	free(text);
}

/*
 * clm watch segment/: a segment entry (the event a segment-triggered
 * journey starts from) prints its seq, its topic and the customer, and
 * no stage change.
 */
Test(cli_journey, watch_prints_a_segment_entry)
{
	start();
	struct cli_output o = clm(0,
	        (const char *const[]) { "segment", "define", "carts",
	                "count(ADD_TO_CART, 30d) >= 1", NULL });
	cli_output_free(&o);
	char *text = watch_one("segment/", poke_cart);
	unsigned long long seq;
	char topic[64], customer[32], at[8], when[40];
	int n = -1;
	cr_assert_eq(sscanf(text, "%llu %63s %31s %7s %39s%n", &seq, topic,
	                     customer, at, when, &n),
	        5, "'%s'", text);
	cr_expect_str_eq(topic, "segment/enter/carts");
	cr_expect(customer[0] == 'w', "'%s'", text);
	cr_expect_str_eq(at, "at");
	cr_expect(text[n] == '\n' && text[n + 1] == '\0', "'%s'", text);
	cr_expect_null(strstr(text, "->"), "'%s'", text);
	free(text);
}
