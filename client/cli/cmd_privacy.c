/*
 * clm forget ID: erase a customer. clm export ID: the customer, then every
 * touchpoint in event-time order, as NDJSON (the touchpoint lines can be
 * fed back to `clm track`).
 */
#include "cli.h"

/*
 * The start of both: the one operand, a customer's id, and the
 * connection. Returns CLI_OK with *id set, or the exit code (reported).
 */
static int
cmd_privacy_start(struct cli *cli, int argc, char **argv, const char **id)
{
	if (argc != 2 || argv[1][0] == '-') {
		return cli_usage_error("%s wants one customer ID", argv[0]);
	}
	*id = argv[1];
	return cli_connect(cli);
}

/* Prints the ForgetCustomerReply m about the customer arg. */
static void
cmd_forget_print(const ProtobufCMessage *m, const void *arg)
{
	const Clm__V1__ForgetCustomerReply *f
	        = (const Clm__V1__ForgetCustomerReply *) m;
	const char *id = arg;
	if (f->existed) {
		printf("forgot '%s' and %llu touchpoints\n", id,
		        (unsigned long long) f->touchpoints_deleted);
	} else {
		printf("no customer '%s': nothing to forget\n", id);
	}
}

int
cmd_forget(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	int rc = cmd_privacy_start(cli, argc, argv, &id);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_forget(cli->conn, id, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_forget_print, id);
}

int
cmd_export(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	int rc = cmd_privacy_start(cli, argc, argv, &id);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_export(cli->conn, id, &resp);
	rc = cli_result(cli, e, resp);
	/* NDJSON, with or without --json. */
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
