/*
 * clm: the command-line client of clmd.
 *   clm [--url URL] [--token T] [--json] [--timeout MS] [--min-position N]
 *       COMMAND [ARGS]
 *
 * The commands, their flags and their help are the rows of cmdtab.c; this
 * file parses the global options, answers `--help` for every command from
 * the table, and runs the command's handler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdtab.h"
#include "help.h"

/* Whether argv[1..argc) asks for help (--help or -h). */
static bool
main_wants_help(int argc, char **argv)
{
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--help") == 0
		        || strcmp(argv[k], "-h") == 0) {
			return true;
		}
	}
	return false;
}

/* A journal position: decimal digits only, within uint64. */
static int
main_parse_position(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9') {
		return -1;
	}
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -1;
	}
	*out = (uint64_t) v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli cli = {
		.url = getenv("CLM_URL"),
		.token = getenv("CLM_TOKEN"),
		.tls = { .ca_file = getenv("CLM_TLS_CA"),
		        .cert_file = getenv("CLM_TLS_CERT") },
		.timeout_ms = CLM_DEFAULT_TIMEOUT_MS,
	};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			cli.json = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help_usage(stdout);
			return CLI_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("clm %s\n", CLM_VERSION);
			return CLI_OK;
		} else if (i + 1 < argc && strcmp(a, "--url") == 0) {
			cli.url = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--token") == 0) {
			cli.token = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--tls-ca") == 0) {
			cli.tls.ca_file = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--tls-cert") == 0) {
			cli.tls.cert_file = argv[++i];
		} else if (i + 1 < argc
		        && strcmp(a, "--tls-server-name") == 0) {
			cli.tls.server_name = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--timeout") == 0) {
			cli.timeout_ms = atoi(argv[++i]);
			if (cli.timeout_ms <= 0) {
				return cli_usage_error(
				        "invalid --timeout '%s'", argv[i]);
			}
		} else if (i + 1 < argc && strcmp(a, "--min-position") == 0) {
			if (main_parse_position(argv[++i], &cli.min_position)
			        != 0) {
				return cli_usage_error(
				        "invalid --min-position '%s'",
				        argv[i]);
			}
		} else {
			return cli_usage_error("unknown option '%s'", a);
		}
	}
	if (i == argc) {
		help_usage(stderr);
		return CLI_EUSAGE;
	}
	const struct cmdtab_command *c = cmdtab_find(argv[i]);
	if (c == NULL) {
		return cli_usage_error("unknown command '%s'", argv[i]);
	}
	argc -= i;
	argv += i;
	if (main_wants_help(argc, argv)) {
		help_command(stdout, c);
		return CLI_OK;
	}
	/* --json may also follow the command: `clm customer ID --json`. */
	int kept = 1;
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0) {
			cli.json = true;
		} else {
			argv[kept++] = argv[k];
		}
	}
	cli.cmd = c;
	int rc = c->run(&cli, kept, argv);
	clm_close(cli.conn);
	return rc;
}
