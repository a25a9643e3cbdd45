/* clm identify ANONYMOUS_ID CUSTOMER_ID [--trait KEY=VALUE]... */
#include <string.h>

#include "cli.h"

#define CMD_IDENTIFY_MAX_TRAITS 64

int
cmd_identify(struct cli *cli, int argc, char **argv)
{
	const char *pos[2];
	int npos = 0;
	const char *keys[CMD_IDENTIFY_MAX_TRAITS];
	const char *values[CMD_IDENTIFY_MAX_TRAITS];
	size_t n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--trait") == 0 && i + 1 < argc) {
			char *kv = argv[++i];
			char *eq = strchr(kv, '=');
			if (eq == NULL) {
				return cli_usage_error(
				        "--trait wants KEY=VALUE, got '%s'",
				        kv);
			}
			if (n == CMD_IDENTIFY_MAX_TRAITS) {
				return cli_usage_error("too many --trait");
			}
			*eq = '\0';
			keys[n] = kv;
			values[n++] = eq + 1;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return cli_usage_error("unknown flag '%s'", argv[i]);
		} else if (npos < 2) {
			pos[npos++] = argv[i];
		} else {
			npos = 3;
		}
	}
	if (npos != 2) {
		return cli_usage_error(
		        "identify wants an ANONYMOUS_ID and a CUSTOMER_ID");
	}
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_identify(
	        cli->conn, pos[0], pos[1], keys, values, n, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->identify != NULL) {
		if (cli->json) {
			cli_print_json(
			        (const ProtobufCMessage *) resp->identify);
		} else {
			const Clm__V1__Customer *c = resp->identify->customer;
			printf("%s is %s%s; stage %s\n", pos[0], pos[1],
			        resp->identify->merged
			                ? " (anonymous history merged)"
			                : "",
			        c ? cli_enum_name(&clm__v1__stage__descriptor,
			                (int) c->stage)
			          : "?");
		}
	}
	clm_response_free(resp);
	return rc;
}
