/*
 * Unit tests of server/config.c: defaults, flags (both spellings), config
 * files and the precedence defaults < file < flags, and the messages of
 * every kind of bad input.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)

#define ARGC(argv) ((int) (sizeof(argv) / sizeof((argv)[0])))

/* Parses argv into a fresh config; returns config_parse_args' result. */
static int
parse(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	err[0] = '\0';
	FILE *out = tmpfile();
	cr_assert_not_null(out);
	int rv = config_parse_args(c, argc, argv, out, err, errlen);
	fclose(out);
	return rv;
}

/* A config file in a fresh temp dir; its path goes to path. */
static void
write_file(char *path, size_t n, const char *text)
{
	char dir[] = "/tmp/clm-config-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, n, "%s/clmd.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void
remove_file(const char *path)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	unlink(path);
	cr_assert_eq(rmdir(dir), 0, "temp dir '%s' removed", dir);
}

Test(config, defaults)
{
	struct config c;
	config_init(&c);
	cr_assert_str_eq(c.data, "./clm-data");
	cr_assert_eq(c.n_listen, 1);
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:7450");
	cr_assert_str_eq(c.events, ""); /* main picks it, see config.h */
	cr_assert_str_eq(c.events_unauthenticated, "false");
	cr_assert_str_eq(c.durability, "full");
	cr_assert_str_eq(c.auth_token_file, "");
	cr_assert_str_eq(c.http, "");
	cr_assert_str_eq(c.http_allowed_hosts, "");
	cr_assert_str_eq(c.log_level, "info");
	cr_assert_str_eq(c.config_file, "");
	cr_assert_eq(c.max_message_bytes, 4 * MIB);
	cr_assert_eq(c.max_connections, 512);
	cr_assert_eq(c.idle_timeout, 300);
	cr_assert_eq(c.max_touchpoints, 10000);
	cr_assert_eq(c.max_id_bytes, 128);
	cr_assert_eq(c.max_properties, 32);
	cr_assert_eq(c.max_property_key_bytes, 64);
	cr_assert_eq(c.max_property_value_bytes, 1024);
	cr_assert_eq(c.map_bytes, 256 * MIB);
	cr_assert_eq(c.max_db_bytes, 64 * GIB);
	cr_assert_eq(c.checkpoint_bytes, 0);    /* auto */
	cr_assert_eq(c.checkpoint_interval, 0); /* auto */
	cr_assert_eq(c.at_risk_days, 30);
	cr_assert_eq(c.churn_days, 90);
	cr_assert_gt(c.workers, 0);
	config_fini(&c);
	cr_assert_null(c.data);
	cr_assert_eq(c.n_listen, 0);
}

Test(config, no_arguments_keeps_defaults)
{
	struct config c;
	config_init(&c);
	char *argv[] = { "clmd" };
	char err[256];
	cr_assert_eq(
	        parse(&c, ARGC(argv), argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.data, "./clm-data");
	cr_assert_eq(c.n_listen, 1);
	config_fini(&c);
}

Test(config, size_flag_spellings)
{
	static const char *const forms[][2] = {
		{ "--max-db-bytes", "8G" },
		{ "--max_db_bytes", "8G" },
		{ "--max-db-bytes=8G", NULL },
		{ "--max_db_bytes=8G", NULL },
		{ "--max-db-bytes", "8g" },
		{ "--max-db-bytes", "8GB" },
		{ "--max-db-bytes", "8192M" },
		{ "--max-db-bytes", "8388608K" },
		{ "--max-db-bytes", "8589934592" },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct config c;
		config_init(&c);
		char *argv[3] = { "clmd", (char *) forms[i][0],
			(char *) forms[i][1] };
		int argc = forms[i][1] != NULL ? 3 : 2;
		char err[256];
		cr_assert_eq(parse(&c, argc, argv, err, sizeof(err)), 0,
		        "%s %s: %s", forms[i][0],
		        forms[i][1] ? forms[i][1] : "", err);
		cr_assert_eq(c.max_db_bytes, 8 * GIB, "%s %s", forms[i][0],
		        forms[i][1] ? forms[i][1] : "");
		config_fini(&c);
	}
}

/* A value of an "auto" key, and what parsing it gives. */
struct auto_case {
	const char *value;
	long long want; /* -1: refused, with why */
	const char *why;
};

/*
 * Parses --FLAG VALUE for each case, checking the int64_t field at off
 * (key: the name the errors give); then --OTHER auto, a key of the same
 * type whose default is a number, must be refused, its error saying
 * want_other and not "auto or".
 */
static void
check_auto_key(const char *flag, const char *key, size_t off,
        const struct auto_case *cases, size_t n, const char *other,
        const char *want_other)
{
	for (size_t i = 0; i < n; i++) {
		struct config c;
		config_init(&c);
		char *argv[]
		        = { "clmd", (char *) flag, (char *) cases[i].value };
		char err[256];
		int rv = parse(&c, ARGC(argv), argv, err, sizeof(err));
		if (cases[i].want < 0) {
			cr_assert_neq(rv, 0, "'%s' refused", cases[i].value);
			cr_assert(strstr(err, key) != NULL
			                && strstr(err, cases[i].why) != NULL,
			        "'%s': %s", cases[i].value, err);
		} else {
			cr_assert_eq(rv, 0, "'%s': %s", cases[i].value, err);
			int64_t got;
			memcpy(&got, (const char *) &c + off, sizeof(got));
			cr_assert_eq(
			        got, cases[i].want, "'%s'", cases[i].value);
		}
		config_fini(&c);
	}
	struct config c;
	config_init(&c);
	char *argv[] = { "clmd", (char *) other, "auto" };
	char err[256];
	cr_assert_neq(parse(&c, ARGC(argv), argv, err, sizeof(err)), 0);
	cr_assert(strstr(err, want_other) != NULL
	                && strstr(err, "auto or") == NULL,
	        "%s", err);
	config_fini(&c);
}

/*
 * checkpoint_interval takes "auto" (its default, as 0) or seconds; an
 * integer whose default is a number does not take "auto".
 */
Test(config, checkpoint_interval_is_auto_or_seconds)
{
	static const struct auto_case cases[] = {
		{ "auto", 0, NULL },
		{ "10", 10, NULL },
		{ "3600", 3600, NULL },
		{ "Auto", -1, "expected auto or an integer" },
		{ "10s", -1, "expected auto or an integer" },
		{ "0", -1, "must be between 1 and 3600" },
		{ "3601", -1, "must be between 1 and 3600" },
	};
	check_auto_key("--checkpoint-interval", "checkpoint_interval",
	        offsetof(struct config, checkpoint_interval), cases,
	        sizeof(cases) / sizeof(cases[0]), "--workers", "an integer");
}

/*
 * checkpoint_bytes takes "auto" (its default, as 0) or a size; a size
 * whose default is a number does not take "auto".
 */
Test(config, checkpoint_bytes_is_auto_or_a_size)
{
	static const struct auto_case cases[] = {
		{ "auto", 0, NULL },
		{ "256M", 256 * MIB, NULL },
		{ "4K", 4096, NULL },
		{ "AUTO", -1, "expected auto or a size" },
		{ "autom", -1, "expected auto or a size" },
		{ "", -1, "expected auto or a size" },
		{ "0", -1, "must be between 4096 and" },
	};
	check_auto_key("--checkpoint-bytes", "checkpoint_bytes",
	        offsetof(struct config, checkpoint_bytes), cases,
	        sizeof(cases) / sizeof(cases[0]), "--map-bytes",
	        "a size such as");
}

Test(config, every_kind_of_flag)
{
	struct config c;
	config_init(&c);
	char *argv[] = { "clmd", "--data", "/srv/clm", "--events", "none",
		"--durability", "os", "--workers=8", "--log-level", "debug",
		"--map-bytes", "1G", "--max-touchpoints", "500",
		"--http=", "--at-risk-days", "7", "--http-allowed-hosts",
		"a.example, b.example" };
	char err[256];
	cr_assert_eq(
	        parse(&c, ARGC(argv), argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.data, "/srv/clm");
	cr_assert_str_eq(c.events, "none");
	cr_assert_str_eq(c.durability, "os");
	cr_assert_eq(c.workers, 8);
	cr_assert_str_eq(c.log_level, "debug");
	cr_assert_eq(c.map_bytes, GIB);
	cr_assert_eq(c.max_touchpoints, 500);
	cr_assert_str_eq(c.http, "");
	cr_assert_str_eq(c.http_allowed_hosts, "a.example, b.example");
	cr_assert_eq(c.at_risk_days, 7);
	config_fini(&c);
}

struct bad_case {
	const char *args[4];
	const char *mention; /* the message must contain this */
};

Test(config, bad_values_are_refused_with_the_setting_named)
{
	static const struct bad_case cases[] = {
		{ { "--durability", "x" }, "durability" },
		{ { "--durability=" }, "durability" },
		{ { "--workers", "0" }, "workers" },
		{ { "--workers", "4097" }, "workers" },
		{ { "--workers", "-3" }, "workers" },
		{ { "--workers", "abc" }, "workers" },
		{ { "--workers", "8G" }, "workers" },
		{ { "--workers", "" }, "workers" },
		{ { "--workers", "99999999999999999999" }, "workers" },
		{ { "--max-db-bytes", "1" }, "max_db_bytes" },
		{ { "--max-db-bytes", "8X" }, "max_db_bytes" },
		{ { "--max-db-bytes", "-8G" }, "max_db_bytes" },
		{ { "--max-db-bytes", "9223372036854775807G" },
		        "max_db_bytes" },
		{ { "--log-level", "loud" }, "log_level" },
		{ { "--bogus", "1" }, "bogus" },
		{ { "--bogus=1" }, "bogus" },
		{ { "--workers" }, "workers" },
		{ { "stray" }, "stray" },
		{ { "-w", "3" }, "-w" },
		{ { "--config" }, "config" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *bc = &cases[i];
		char *argv[5] = { "clmd" };
		int argc = 1;
		for (int k = 0; k < 4 && bc->args[k] != NULL; k++) {
			argv[argc++] = (char *) bc->args[k];
		}
		struct config c;
		config_init(&c);
		char err[256];
		int rv = parse(&c, argc, argv, err, sizeof(err));
		cr_assert_eq(rv, -1, "case %zu (%s %s) should fail", i,
		        bc->args[0], bc->args[1] ? bc->args[1] : "");
		cr_assert_not_null(strstr(err, bc->mention),
		        "case %zu: message '%s' should mention '%s'", i, err,
		        bc->mention);
		cr_assert(err[0] < 'A' || err[0] > 'Z',
		        "case %zu: message '%s' starts lowercase", i, err);
		config_fini(&c);
	}
}

Test(config, bounds_are_inclusive)
{
	struct config c;
	config_init(&c);
	char err[256];
	cr_assert_eq(config_set(&c, "workers", "1", err, sizeof(err)), 0);
	cr_assert_eq(config_set(&c, "workers", "4096", err, sizeof(err)), 0);
	cr_assert_eq(c.workers, 4096);
	cr_assert_eq(config_set(&c, "max-db-bytes", "64K", err, sizeof(err)),
	        0, "%s", err);
	cr_assert_eq(c.max_db_bytes, 64 * 1024);
	cr_assert_eq(config_set(&c, "max_db_bytes", "1T", err, sizeof(err)), 0,
	        "%s", err);
	cr_assert_eq(c.max_db_bytes, 1024 * GIB);
	cr_assert_eq(
	        config_set(&c, "max_db_bytes", "65535", err, sizeof(err)), -1);
	cr_assert_eq(c.max_db_bytes, 1024 * GIB, "a refused value is not set");
	cr_assert_eq(config_set(&c, "nonsense", "1", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "nonsense"));
	config_fini(&c);
}

Test(config, listen_is_repeatable_and_replaces_the_default)
{
	struct config c;
	config_init(&c);
	char *argv[] = { "clmd", "--listen", "tcp://127.0.0.1:9001",
		"--listen=ipc:///tmp/clm.sock" };
	char err[256];
	cr_assert_eq(
	        parse(&c, ARGC(argv), argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.n_listen, 2);
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:9001");
	cr_assert_str_eq(c.listen[1], "ipc:///tmp/clm.sock");
	config_fini(&c);

	/* At most CONFIG_MAX_LISTEN. */
	config_init(&c);
	char *many[2 * CONFIG_MAX_LISTEN + 3] = { "clmd" };
	int argc = 1;
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
		many[argc++] = "--listen";
		many[argc++] = "tcp://127.0.0.1:1";
	}
	cr_assert_eq(parse(&c, argc, many, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "listen"), "%s", err);
	config_fini(&c);
}

Test(config, help_and_version)
{
	struct config c;
	config_init(&c);
	char *argv[] = { "clmd", "--workers", "0", "--help" };
	char err[256] = "";
	FILE *out = tmpfile();
	cr_assert_not_null(out);
	cr_assert_eq(
	        config_parse_args(&c, ARGC(argv), argv, out, err, sizeof(err)),
	        1);
	rewind(out);
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, out);
	text[n] = '\0';
	fclose(out);
	cr_assert_not_null(strstr(text, "--max-db-bytes"), "%s", text);
	cr_assert_not_null(strstr(text, "--listen"));
	cr_assert_not_null(strstr(text, "--config"));

	char *argv2[] = { "clmd", "--version" };
	out = tmpfile();
	cr_assert_eq(config_parse_args(
	                     &c, ARGC(argv2), argv2, out, err, sizeof(err)),
	        1);
	rewind(out);
	n = fread(text, 1, sizeof(text) - 1, out);
	text[n] = '\0';
	fclose(out);
	cr_assert_eq(strncmp(text, "clmd ", 5), 0, "%s", text);
	config_fini(&c);
}

Test(config, file_then_flags)
{
	char path[256];
	write_file(path, sizeof(path),
	        "# clmd.conf\n"
	        "; another comment\n"
	        "\n"
	        "data = /var/lib/clm\n"
	        "workers = 8\n"
	        "[limits]\n"
	        "max_db_bytes = 1G\n"
	        "durability=os\n"
	        "listen = tcp://127.0.0.1:9000\n"
	        "listen = ipc:///run/clm.sock\n");
	struct config c;
	config_init(&c);
	char err[512];
	cr_assert_eq(
	        config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.data, "/var/lib/clm");
	cr_assert_eq(c.workers, 8);
	cr_assert_eq(c.max_db_bytes, GIB);
	cr_assert_str_eq(c.durability, "os");
	cr_assert_eq(c.n_listen, 2, "the file's list replaces the default");
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:9000");
	cr_assert_str_eq(c.listen[1], "ipc:///run/clm.sock");
	cr_assert_str_eq(c.config_file, path);
	config_fini(&c);

	/* Flags override the file wherever --config appears. */
	config_init(&c);
	char *argv[] = { "clmd", "--workers", "16", "--config", path,
		"--listen", "tcp://127.0.0.1:9100" };
	cr_assert_eq(
	        parse(&c, ARGC(argv), argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.workers, 16);
	cr_assert_str_eq(c.data, "/var/lib/clm", "from the file");
	cr_assert_eq(c.max_db_bytes, GIB, "from the file");
	cr_assert_eq(c.n_listen, 1, "a --listen replaces the file's list");
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:9100");
	cr_assert_str_eq(c.config_file, path);
	config_fini(&c);

	config_init(&c);
	char cfg[300];
	snprintf(cfg, sizeof(cfg), "--config=%s", path);
	char *argv2[] = { "clmd", "--max-db-bytes", "2G", cfg };
	cr_assert_eq(
	        parse(&c, ARGC(argv2), argv2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.max_db_bytes, 2 * GIB);
	cr_assert_eq(c.workers, 8);
	cr_assert_eq(c.n_listen, 2);
	config_fini(&c);
	remove_file(path);
}

Test(config, file_errors_name_path_and_line)
{
	char path[256];
	write_file(path, sizeof(path),
	        "data = /x\n"
	        "# comment\n"
	        "colour = blue\n"
	        "workers = 8\n");
	struct config c;
	config_init(&c);
	char err[512];
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	char want[300];
	snprintf(want, sizeof(want), "%s:3", path);
	cr_assert_not_null(
	        strstr(err, want), "'%s' should contain '%s'", err, want);
	cr_assert_not_null(strstr(err, "colour"), "%s", err);
	config_fini(&c);
	remove_file(path);

	/* A bad value: the line and the setting. */
	write_file(path, sizeof(path), "\n\nworkers = 0\n");
	config_init(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3", path);
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_not_null(strstr(err, "workers"), "%s", err);
	config_fini(&c);
	remove_file(path);

	/* A syntax error. */
	write_file(path, sizeof(path), "data = /x\nthis line has no equals\n");
	config_init(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2", path);
	cr_assert_not_null(strstr(err, want), "%s", err);
	config_fini(&c);
	remove_file(path);

	/* Through --config, and a missing file. */
	config_init(&c);
	char *argv[] = { "clmd", "--config", "/nonexistent/clmd.conf" };
	cr_assert_eq(parse(&c, ARGC(argv), argv, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/clmd.conf"), "%s", err);
	config_fini(&c);
}

Test(config, journal_settings)
{
	struct config c;
	config_init(&c);
	cr_assert_str_eq(c.journal, "local");
	cr_assert_str_eq(c.journal_stream, "CLM");
	cr_assert_eq(c.journal_replicas, 3);
	cr_assert_str_eq(c.journal_creds, "");
	char err[256];
	char *ok[] = { "clmd", "--journal",
		"nats://127.0.0.1:4222,tls://h2.example:4223",
		"--journal-stream", "clm_prod-2", "--journal-replicas", "5",
		"--journal-creds", "/etc/clm/n.creds", "--journal-tls-key",
		"/etc/clm/k.pem" };
	cr_assert_eq(parse(&c, ARGC(ok), ok, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(
	        c.journal, "nats://127.0.0.1:4222,tls://h2.example:4223");
	cr_assert_str_eq(c.journal_stream, "clm_prod-2");
	cr_assert_eq(c.journal_replicas, 5);
	cr_assert_str_eq(c.journal_creds, "/etc/clm/n.creds");
	cr_assert_str_eq(c.journal_tls_key, "/etc/clm/k.pem");
	config_fini(&c);

	static const char *const bad[][2] = {
		{ "--journal", "foo" },
		{ "--journal", "nats://h1" },
		{ "--journal", "nats://:4222" },
		{ "--journal", "nats://h1:4222," },
		{ "--journal", "nats://h1:99999" },
		{ "--journal", "http://h1:4222" },
		{ "--journal", "nats://h1:4222,h2:4222" },
		{ "--journal-stream", "a.b" },
		{ "--journal-stream", "" },
		{ "--journal-stream", "CLM>" },
		{ "--journal-replicas", "0" },
		{ "--journal-replicas", "6" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_init(&c);
		char *argv[]
		        = { "clmd", (char *) bad[i][0], (char *) bad[i][1] };
		cr_assert_eq(parse(&c, ARGC(argv), argv, err, sizeof(err)), -1,
		        "%s %s", bad[i][0], bad[i][1]);
		cr_assert_not_null(strstr(err, "journal"), "%s", err);
		if (strcmp(bad[i][0], "--journal") == 0) {
			cr_assert_not_null(strstr(err,
			                           "expected local or "
			                           "nats://host:port[,...]"),
			        "%s", err);
		}
		config_fini(&c);
	}
}
