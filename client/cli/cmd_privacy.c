/*
 * clm forget ID: erase a customer. clm export ID: the customer, then every
 * touchpoint in event-time order, as NDJSON (the touchpoint lines can be
 * fed back to `clm track`).
 */
#include <string.h>

#include "cli.h"

static int
cmd_privacy_id(int argc, char **argv, const char **id)
{
	if (argc != 2 || argv[1][0] == '-') {
		return cli_usage_error("%s wants one customer ID", argv[0]);
	}
	*id = argv[1];
	return CLI_OK;
}

int
cmd_forget(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	int rc = cmd_privacy_id(argc, argv, &id);
	if (rc == CLI_OK) {
		rc = cli_connect(cli);
	}
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_forget(cli->conn, id, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->forget_customer != NULL) {
		const Clm__V1__ForgetCustomerReply *f = resp->forget_customer;
		if (cli->json) {
			cli_print_json((const ProtobufCMessage *) f);
		} else if (f->existed) {
			printf("forgot '%s' and %llu touchpoints\n", id,
			        (unsigned long long) f->touchpoints_deleted);
		} else {
			printf("no customer '%s': nothing to forget\n", id);
		}
	}
	clm_response_free(resp);
	return rc;
}

int
cmd_export(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	int rc = cmd_privacy_id(argc, argv, &id);
	if (rc == CLI_OK) {
		rc = cli_connect(cli);
	}
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_export(cli->conn, id, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->export_customer != NULL) {
		const Clm__V1__ExportCustomerReply *x = resp->export_customer;
		if (x->customer != NULL) {
			cli_print_json((const ProtobufCMessage *) x->customer);
		}
		for (size_t i = 0; i < x->n_touchpoints; i++) {
			cli_print_json(
			        (const ProtobufCMessage *) x->touchpoints[i]);
		}
	}
	clm_response_free(resp);
	return rc;
}
