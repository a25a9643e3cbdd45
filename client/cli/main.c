/*
 * clm: the command-line client of clmd.
 *   clm [--url URL] [--token T] [--json] [--timeout MS] COMMAND [ARGS]
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *args; /* the synopsis after the name */
	const char *summary;
};

static const struct cli_command cli_commands[] = {
	{ "status", cmd_status, "", "the server's version, counts and sizes" },
	{ "track", cmd_track,
	        "--customer ID --type TYPE [FLAGS] | < touchpoints.ndjson",
	        "record a touchpoint (flags) or NDJSON from stdin" },
	{ "customer", cmd_customer, "ID [--as-of TIME]",
	        "a customer's stage, health, risk and history" },
	{ "identify", cmd_identify,
	        "ANONYMOUS_ID CUSTOMER_ID [--trait KEY=VALUE]...",
	        "link an anonymous id to a customer (merges its history)" },
	{ "forget", cmd_forget, "ID", "erase a customer and all its data" },
	{ "export", cmd_export, "ID",
	        "a customer and all touchpoints, as NDJSON" },
	{ "watch", cmd_watch, "[PREFIX] [--events URL] [--count N]",
	        "print stage changes and risk signals live" },
	{ "recommend", cmd_recommend, "ID [FLAGS]",
	        "what to do next for a customer (--claim records it)" },
	{ "catalog", cmd_catalog, "FILE",
	        "load items and stores from CSV or NDJSON" },
	{ "import", cmd_import, "FILE [--format csv|ndjson] [--batch N]",
	        "load touchpoints from CSV or NDJSON, in batches" },
	{ "metrics", cmd_metrics,
	        "[--from T] [--to T] [--channel CH] [--window-days N]",
	        "the funnel, conversions, money, site and channels" },
	{ "cohorts", cmd_cohorts,
	        "[--from T] [--to T] [--by day|week|month] [--periods N]",
	        "retention of purchase cohorts by period" },
	{ "spend", cmd_spend,
	        "--channel CH --day DATE --amount X [--campaign C] | FILE",
	        "record ad spend per channel and day" },
	{ "experiment", cmd_experiment, "define|assign|results ID ...",
	        "define an A/B test, assign a customer, see results" },
};

#define CLI_N_COMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void
cli_usage(FILE *out)
{
	fprintf(out,
	        "usage: clm [--url URL] [--token T] [--json] [--timeout MS] "
	        "COMMAND [ARGS]\n\n"
	        "  --url URL      clmd to talk to (default %s, or $CLM_URL)\n"
	        "  --token T      auth token (or $CLM_TOKEN)\n"
	        "  --tls-ca F     CA that signed the server's certificate, "
	        "for tls+tcp:// ($CLM_TLS_CA)\n"
	        "  --tls-cert F   our certificate and key in one PEM file "
	        "($CLM_TLS_CERT)\n"
	        "  --tls-server-name N  name in the server's certificate "
	        "(default: the URL's host)\n"
	        "  --json         print replies as JSON, one object a line\n"
	        "  --timeout MS   wait this long for a reply (default %d)\n\n"
	        "commands:\n",
	        CLM_DEFAULT_URL, CLM_DEFAULT_TIMEOUT_MS);
	for (size_t i = 0; i < CLI_N_COMMANDS; i++) {
		fprintf(out, "  %-11s %s\n", cli_commands[i].name,
		        cli_commands[i].summary);
		if (cli_commands[i].args[0] != '\0') {
			fprintf(out, "  %-11s   %s %s\n", "",
			        cli_commands[i].name, cli_commands[i].args);
		}
	}
	fprintf(out,
	        "\nTIME is unix ms or an ISO 8601 UTC date or time "
	        "(2026-11-24, 2026-11-24T06:47:00Z);\n"
	        "CH a channel (paid_ads, email, ...), TYPE a touchpoint type "
	        "(purchase, ...).\n"
	        "metrics, cohorts, spend, import, experiment, track and "
	        "recommend take --help.\n"
	        "\nexit codes: 0 ok, 1 the server returned an error, 2 usage "
	        "error, 3 cannot connect\n");
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
			cli_usage(stdout);
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
		} else {
			return cli_usage_error("unknown option '%s'", a);
		}
	}
	if (i == argc || strcmp(argv[i], "help") == 0) {
		cli_usage(i == argc ? stderr : stdout);
		return i == argc ? CLI_EUSAGE : CLI_OK;
	}
	/* --json may also follow the command: `clm customer ID --json`. */
	int kept = i + 1;
	for (int k = i + 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0) {
			cli.json = true;
		} else {
			argv[kept++] = argv[k];
		}
	}
	argc = kept;
	for (size_t k = 0; k < CLI_N_COMMANDS; k++) {
		if (strcmp(argv[i], cli_commands[k].name) == 0) {
			int rc = cli_commands[k].run(&cli, argc - i, argv + i);
			clm_close(cli.conn);
			return rc;
		}
	}
	return cli_usage_error("unknown command '%s'", argv[i]);
}
