/*
 * The help of the clm CLI, which comes from one command table: `clm help
 * COMMAND` prints exactly what `clm COMMAND --help` does, for every
 * command; the bash completion script is valid bash, names every command
 * and completes from the table; `clm help --man` is a man page groff
 * reads without a warning. And --json, checked on every command against a
 * real clmd: stdout is JSON objects, one a line.
 *
 * Also here, as it is generated from help text too: the clmd.conf example
 * of packaging/systemd names every setting of `clmd --help`, and clmd
 * starts with every one of them uncommented.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

/* Every command docs/operations.md "The clm command line" names. */
static const char *const commands[] = { "status", "track", "customer",
	"identify", "forget", "export", "watch", "recommend", "catalog",
	"import", "metrics", "cohorts", "spend", "experiment", "segment",
	"journey", "help", "completion", NULL };

static struct clmd_proc srv;
static char dir[32];

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	harness_cli_url(NULL);
	dir[0] = '\0';
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(cli_help, .init = setup, .fini = teardown, .timeout = 120);

/* Runs /bin/sh -c script with $1 = arg; returns the exit code. */
static int
sh(const char *script, const char *arg, char **out, char **err)
{
	const char *const argv[] = { "sh", "-c", script, "sh", arg, NULL };
	return run_cmd("/bin/sh", argv, NULL, 30000, out, err);
}

/* Writes text to a new file in the test's temp dir; returns its path. */
static const char *
write_file(const char *name, const char *text)
{
	if (dir[0] == '\0') {
		cr_assert_eq(harness_tmpdir(dir), 0);
	}
	return test_file(dir, name, text);
}

/*
 * The command names `clm --help` lists: the lines of its "commands:"
 * section that start with two spaces and a lowercase letter.
 */
static size_t
listed_commands(const char *usage, char names[][32], size_t max)
{
	const char *p = strstr(usage, "\ncommands:\n");
	cr_assert_not_null(p, "no commands: section in '%s'", usage);
	p += strlen("\ncommands:\n");
	size_t n = 0;
	while (*p == ' ') {
		if (p[1] == ' ' && p[2] >= 'a' && p[2] <= 'z' && n < max) {
			size_t len = strcspn(p + 2, " \n");
			cr_assert_lt(len, 32);
			memcpy(names[n], p + 2, len);
			names[n][len] = '\0';
			n++;
		}
		p = strchr(p, '\n');
		if (p == NULL) {
			break;
		}
		p++;
	}
	return n;
}

Test(cli_help, every_command_is_listed_and_help_equals_dash_dash_help)
{
	static const char *const usage[] = { "--help", NULL };
	struct cli_output u = cli_run(usage, NULL);
	cr_assert_eq(u.rc, 0);
	char names[64][32];
	size_t n = listed_commands(u.out, names, 64);
	for (size_t i = 0; commands[i] != NULL; i++) {
		bool found = false;
		for (size_t k = 0; k < n; k++) {
			found = found || strcmp(names[k], commands[i]) == 0;
		}
		cr_expect(found, "'%s' is not in clm --help", commands[i]);
	}
	cr_assert_geq(n, 16, "only %zu commands listed", n);
	for (size_t k = 0; k < n; k++) {
		const char *const h[] = { "help", names[k], NULL };
		const char *const d[] = { names[k], "--help", NULL };
		const char *const s[] = { names[k], "-h", NULL };
		struct cli_output a = cli_run(h, NULL), b = cli_run(d, NULL),
		                  c = cli_run(s, NULL);
		cr_expect_eq(a.rc, 0, "help %s: exit %d", names[k], a.rc);
		cr_expect_eq(b.rc, 0, "%s --help: exit %d", names[k], b.rc);
		cr_expect_str_eq(a.out, b.out, "help %s differs", names[k]);
		cr_expect_str_eq(b.out, c.out, "%s -h differs", names[k]);
		char want[64];
		snprintf(want, sizeof(want), "usage: clm %s", names[k]);
		cr_expect(strncmp(a.out, want, strlen(want)) == 0,
		        "help %s starts '%.40s'", names[k], a.out);
		cr_expect_str_empty(a.err, "help %s: '%s'", names[k], a.err);
		cli_output_free(&a);
		cli_output_free(&b);
		cli_output_free(&c);
	}
	/* `clm help` is `clm --help`; `clm` alone prints it on stderr. */
	static const char *const help[] = { "help", NULL };
	struct cli_output h = cli_run(help, NULL);
	cr_expect_eq(h.rc, 0);
	cr_expect_str_eq(h.out, u.out);
	cli_output_free(&h);
	static const char *const none[] = { NULL };
	h = cli_run(none, NULL);
	cr_expect_eq(h.rc, 2);
	cr_expect_str_eq(h.err, u.out);
	cli_output_free(&h);
	cli_output_free(&u);
}

Test(cli_help, help_text_fits_in_79_columns)
{
	for (size_t i = 0; commands[i] != NULL; i++) {
		const char *const h[] = { "help", commands[i], NULL };
		struct cli_output o = cli_run(h, NULL);
		const char *line = o.out;
		while (*line != '\0') {
			size_t len = strcspn(line, "\n");
			cr_expect_leq(len, 79, "%s: '%.*s'", commands[i],
			        (int) len, line);
			line += len + (line[len] == '\n');
		}
		cli_output_free(&o);
	}
}

Test(cli_help, help_usage_errors_exit_2)
{
	static const char *const cases[][4] = {
		{ "help", "nosuch", NULL },
		{ "help", "status", "track", NULL },
		{ "help", "--man", "status", NULL },
		{ "help", "--frobnicate", NULL },
		{ "nosuch", "--help", NULL },
		{ "completion", NULL },
		{ "completion", "zsh", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_output o = cli_run(cases[i], NULL);
		cr_expect_eq(o.rc, 2, "case %zu: exit %d", i, o.rc);
		cr_expect_neq(
		        o.err[0], '\0', "case %zu: nothing on stderr", i);
		cr_expect_str_empty(o.out, "case %zu: '%s'", i, o.out);
		cli_output_free(&o);
	}
}

Test(cli_help, completion_is_valid_bash_naming_every_command)
{
	static const char *const argv[] = { "completion", "bash", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_assert_eq(o.rc, 0, "%s", o.err);
	for (size_t i = 0; commands[i] != NULL; i++) {
		char arm[64];
		snprintf(arm, sizeof(arm), "\n\t%s)\n", commands[i]);
		cr_expect(strstr(o.out, arm) != NULL,
		        "no case for '%s' in the script", commands[i]);
	}
	cr_expect(strstr(o.out, "complete -F _clm clm") != NULL);
	const char *path = write_file("clm.bash", o.out);
	char *out = NULL, *err = NULL;
	int rc = sh("bash -n \"$1\"", path, &out, &err);
	cr_expect_eq(rc, 0, "bash -n: %s", err);
	free(out);
	free(err);
	cli_output_free(&o);
}

/* Completes the words (the last one at the cursor) with the script. */
static char *
complete_words(const char *script, const char *words)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	        "source \"$1\"; COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _clm; printf '%%s\\n' \"${COMPREPLY[*]}\"",
	        words);
	const char *const argv[] = { "bash", "-c", cmd, "bash", script, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd("/bin/bash", argv, NULL, 30000, &out, &err);
	cr_assert_eq(rc, 0, "completing %s: %s", words, err);
	free(err);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

Test(cli_help, completion_completes_from_the_table)
{
	static const char *const argv[] = { "completion", "bash", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_assert_eq(o.rc, 0);
	const char *script = write_file("clm.bash", o.out);
	write_file("journey.ndjson", "{}\n");
	static const struct {
		const char *words, *want;
	} cases[] = {
		{ "clm met", "metrics" },
		{ "clm --url tcp://h:1 --json cu", "customer" },
		{ "clm metrics --channel pa", "paid_ads" },
		{ "clm metrics --w", "--window-days" },
		{ "clm cohorts --by mo", "month" },
		{ "clm track --type purch", "purchase" },
		{ "clm experiment ''", "define assign results" },
		{ "clm experiment define e --goal sign", "signup" },
		{ "clm segment ''", "define count members show list delete" },
		{ "clm segment members s --page", "--page-size" },
		{ "clm journey ''", "define status list delete messages" },
		{ "clm journey messages --fol", "--follow" },
		{ "clm import x --format ''", "csv ndjson" },
		{ "clm completion ''", "bash" },
		{ "clm help coh", "cohorts" },
		{ "clm status --", "--json --help" },
		{ "clm --ver", "--version" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = complete_words(script, cases[i].words);
		cr_expect_str_eq(
		        got, cases[i].want, "completing '%s'", cases[i].words);
		free(got);
	}
	/* A file operand completes file names. */
	char words[128];
	snprintf(words, sizeof(words), "clm import %s/journey.nd", dir);
	char *got = complete_words(script, words);
	cr_expect(strstr(got, "journey.ndjson") != NULL, "'%s'", got);
	free(got);
	cli_output_free(&o);
}

Test(cli_help, man_page_has_every_command_and_reads_cleanly)
{
	static const char *const argv[] = { "help", "--man", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_assert_eq(o.rc, 0, "%s", o.err);
	cr_expect(strstr(o.out, "\n.TH CLM 1 ") != NULL, "no .TH");
	cr_expect(strstr(o.out, "\n.SH NAME\n") != NULL);
	cr_expect(strstr(o.out, "\n.SH EXIT STATUS\n") != NULL);
	for (size_t i = 0; commands[i] != NULL; i++) {
		char ss[64];
		snprintf(ss, sizeof(ss), "\n.SS %s\n", commands[i]);
		cr_expect(strstr(o.out, ss) != NULL, "no section for '%s'",
		        commands[i]);
	}
	/* Every flag of every command is in it (as \-\-name). */
	for (size_t i = 0; commands[i] != NULL; i++) {
		const char *const h[] = { "help", commands[i], NULL };
		struct cli_output c = cli_run(h, NULL);
		const char *p = c.out;
		while ((p = strstr(p, "\n  --")) != NULL) {
			p += 5;
			size_t len = strcspn(p, " \n");
			char flag[80] = "\\-\\-";
			for (size_t k = 0; k < len && k < 30; k++) {
				size_t at = strlen(flag);
				if (p[k] == '-') {
					strcat(flag, "\\-");
				} else {
					flag[at] = p[k];
					flag[at + 1] = '\0';
				}
			}
			cr_expect(strstr(o.out, flag) != NULL,
			        "%s: '%s' not in the man page", commands[i],
			        flag);
		}
		cli_output_free(&c);
	}
	const char *path = write_file("clm.1", o.out);
	char *out = NULL, *err = NULL;
	int rc = sh(
	        "command -v groff >/dev/null || exit 77; groff -man -Tutf8 -ww -z \"$1\"",
	        path, &out, &err);
	if (rc != 77) {
		cr_expect_eq(rc, 0, "groff: exit %d", rc);
		cr_expect_str_empty(err, "groff warns: %s", err);
	}
	free(out);
	free(err);
	cli_output_free(&o);
}

Test(cli_help, help_json_is_the_table)
{
	static const char *const argv[] = { "--json", "help", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_assert_eq(o.rc, 0);
	cr_expect(
	        strncmp(o.out, "{\"commands\":[{\"name\":\"status\"", 29) == 0,
	        "'%.60s'", o.out);
	cr_expect_eq(strchr(o.out, '\n'), o.out + strlen(o.out) - 1,
	        "not one line");
	for (size_t i = 0; commands[i] != NULL; i++) {
		char name[64];
		snprintf(name, sizeof(name), "{\"name\":\"%s\"", commands[i]);
		cr_expect(strstr(o.out, name) != NULL, "'%s' missing",
		        commands[i]);
	}
	cli_output_free(&o);
	static const char *const one[] = { "help", "cohorts", "--json", NULL };
	o = cli_run(one, NULL);
	cr_expect_eq(o.rc, 0);
	cr_expect(strncmp(o.out, "{\"name\":\"cohorts\",", 18) == 0, "'%s'",
	        o.out);
	cr_expect(
	        strstr(o.out, "\"name\":\"--periods\",\"arg\":\"N\"") != NULL,
	        "'%s'", o.out);
	cli_output_free(&o);
}

/* Every line of s is one JSON object ({...}); s has at least one. */
static void
expect_json_lines(const char *what, const char *s)
{
	cr_expect_neq(s[0], '\0', "%s: no output", what);
	while (*s != '\0') {
		size_t len = strcspn(s, "\n");
		cr_expect(len >= 2 && s[0] == '{' && s[len - 1] == '}',
		        "%s: not a JSON object: '%.*s'", what, (int) len, s);
		s += len + (s[len] == '\n');
	}
}

Test(cli_help, json_on_every_command)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	const char *tps = write_file("t.ndjson",
	        "{\"eventId\":\"j2\",\"customerId\":\"jo\",\"type\":\"PURCHASE\",\"value\":5,\"itemId\":\"sku\"}\n");
	const char *csv = write_file("t.csv",
	        "event_id,customer_id,type,occurred_at\n"
	        "j3,jo,APP_OPEN,2026-01-02T00:00:00Z\n");
	const char *cat = write_file(
	        "catalog.csv", "type,id,name,price\nitem,sku,Thing,5\n");
	const char *spend = write_file(
	        "spend.csv", "channel,day,amount\nemail,2026-01-02,3\n");
	const char *jny = write_file("journey.json",
	        "{\"name\": \"js\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"steps\": [{\"send\": {\"kind\": \"LOYALTY_REWARD\", "
	        "\"action\": \"thanks\", \"channel\": \"EMAIL\"}}]}");
	static const char *const args[][12] = {
		{ "status", NULL },
		{ "track", "--customer", "jo", "--type", "site_visit",
		        "--event-id", "j1", NULL },
		{ "track", NULL }, /* stdin */
		{ "import", "@t.ndjson", NULL },
		{ "import", "@t.csv", NULL },
		{ "catalog", "@catalog.csv", NULL },
		{ "customer", "jo", NULL },
		{ "identify", "anon-1", "jo", "--trait", "plan=pro", NULL },
		{ "recommend", "jo", NULL },
		{ "metrics", NULL },
		{ "cohorts", NULL },
		{ "spend", "--channel", "email", "--day", "2026-01-01",
		        "--amount", "2", NULL },
		{ "spend", "@spend.csv", NULL },
		{ "experiment", "define", "x", "--goal", "purchase", "a", "b",
		        NULL },
		{ "experiment", "assign", "x", "jo", NULL },
		{ "experiment", "results", "x", NULL },
		{ "segment", "define", "js", "purchases >= 0", NULL },
		{ "segment", "count", "js", NULL },
		{ "segment", "members", "js", NULL },
		{ "segment", "show", "js", NULL },
		{ "segment", "list", NULL },
		{ "segment", "delete", "js", NULL },
		{ "journey", "define", "@journey.json", NULL },
		{ "journey", "status", "js", NULL },
		{ "journey", "list", NULL },
		{ "journey", "delete", "js", NULL },
		{ "export", "jo", NULL },
		{ "forget", "jo", NULL },
		{ "help", NULL },
	};
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		const char *argv[16];
		size_t n = 0;
		for (size_t k = 0; args[i][k] != NULL; k++) {
			const char *a = args[i][k];
			argv[n++] = strcmp(a, "@t.ndjson") == 0   ? tps
			        : strcmp(a, "@t.csv") == 0        ? csv
			        : strcmp(a, "@catalog.csv") == 0  ? cat
			        : strcmp(a, "@spend.csv") == 0    ? spend
			        : strcmp(a, "@journey.json") == 0 ? jny
			                                          : a;
		}
		argv[n++] = "--json"; /* after the command, as users type */
		argv[n] = NULL;
		const char *in = strcmp(args[i][0], "track") == 0
		                && args[i][1] == NULL
		        ? "{\"eventId\":\"j4\",\"customerId\":\"jo\",\"type\":\"PAGE_VIEW\"}\n"
		        : NULL;
		struct cli_output o = cli_run(argv, in);
		char what[64];
		snprintf(what, sizeof(what), "%s %s", args[i][0],
		        args[i][1] ? args[i][1] : "");
		cr_expect_eq(o.rc, 0, "%s: exit %d, stderr '%s'", what, o.rc,
		        o.err);
		expect_json_lines(what, o.out);
		cli_output_free(&o);
	}
}

/*
 * watch --json: the stage change of a new customer arrives as one JSON
 * line. Touchpoints are tracked until watch has seen one, since its
 * subscription takes a moment to be in place.
 */
Test(cli_help, json_on_watch)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	char script[1024];
	snprintf(script, sizeof(script),
	        "\"$1\" watch --events %s --count 1 --json >\"$2\" & pid=$!; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); \"$1\" --url %s track --customer w$i --type signup >/dev/null; sleep 0.2; done; wait $pid",
	        srv.events_url, srv.url);
	if (dir[0] == '\0') {
		cr_assert_eq(harness_tmpdir(dir), 0);
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/watch.out", dir);
	const char *const argv[]
	        = { "sh", "-c", script, "sh", CLM_BIN, path, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd("/bin/sh", argv, NULL, 30000, &out, &err);
	cr_expect_eq(rc, 0, "watch: exit %d: %s", rc, err);
	char *got = harness_read_file(path);
	cr_assert_not_null(got);
	expect_json_lines("watch", got);
	cr_expect(strstr(got, "\"customerId\":\"w") != NULL, "'%s'", got);
	free(got);
	free(out);
	free(err);
}

/* The source tree's path of rel (from this file's own path). */
static void
source_path(const char *rel, char *out, size_t len)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/integration/cli_help_test.c");
	cr_assert_not_null(tail, "cannot find the source tree from '%s'", me);
	snprintf(out, len, "%.*s%s", (int) (tail - me), me, rel);
}

Test(cli_help, clmd_conf_example_has_every_setting)
{
	char path[PATH_MAX];
	source_path("packaging/systemd/clmd.conf.example", path, sizeof(path));
	char *example = harness_read_file(path);
	cr_assert_not_null(example, "cannot read %s", path);
	const char *const argv[] = { "clmd", "--help", NULL };
	char *help = NULL, *err = NULL;
	cr_assert_eq(run_cmd(CLMD_BIN, argv, NULL, 10000, &help, &err), 0);
	size_t keys = 0;
	for (const char *p = help; (p = strstr(p, "\n  --")) != NULL;) {
		p += 5;
		size_t n = strcspn(p, " \n=");
		char key[80];
		cr_assert_lt(n, sizeof(key) - 8);
		for (size_t k = 0; k < n; k++) {
			key[k] = p[k] == '-' ? '_' : p[k];
		}
		key[n] = '\0';
		if (strcmp(key, "config") == 0 || strcmp(key, "version") == 0
		        || strcmp(key, "help") == 0) {
			continue;
		}
		char line[96];
		snprintf(line, sizeof(line), "\n#%s =", key);
		cr_expect(strstr(example, line) != NULL,
		        "'%s' is not in %s (run packaging/systemd/gen-clmd-conf.sh)",
		        key, path);
		keys++;
	}
	cr_expect_geq(keys, 30, "only %zu settings in clmd --help", keys);

	/* Every "#key = default" line uncommented: clmd starts with it. */
	size_t len = strlen(example);
	char *conf = malloc(len + 1);
	cr_assert_not_null(conf);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		bool bol = i == 0 || example[i - 1] == '\n';
		if (bol && example[i] == '#' && example[i + 1] >= 'a'
		        && example[i + 1] <= 'z') {
			continue;
		}
		conf[o++] = example[i];
	}
	conf[o] = '\0';
	const char *file = write_file("clmd.conf", conf);
	const char *const extra[] = { "--config", file, NULL };
	cr_expect_eq(clmd_start(&srv, NULL, extra), 0,
	        "clmd did not start with every setting of %s (log %s)", path,
	        srv.log_path);
	free(conf);
	free(example);
	free(help);
	free(err);
}
