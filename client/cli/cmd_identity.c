/* clm identify ANONYMOUS_ID CUSTOMER_ID [--trait KEY=VALUE]... */
#include "args.h"
#include "cli.h"

/* The operands: ANONYMOUS_ID and CUSTOMER_ID; n 3 for more than two. */
struct cmd_identify_ids {
	const char *id[2];
	int n;
};

/* args_word_fn: notes an operand; too many are reported after parsing. */
static int
cmd_identify_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	struct cmd_identify_ids *ids = arg;
	if (ids->n < 2) {
		ids->id[ids->n++] = word;
	} else {
		ids->n = 3;
	}
	return CLI_OK;
}

/* Prints the IdentifyReply m to the call for the ids arg. */
static void
cmd_identify_print(const ProtobufCMessage *m, const void *arg)
{
	const Clm__V1__IdentifyReply *r = (const Clm__V1__IdentifyReply *) m;
	const struct cmd_identify_ids *ids = arg;
	const Clm__V1__Customer *c = r->customer;
	printf("%s is %s%s; stage %s\n", ids->id[0], ids->id[1],
	        r->merged ? " (anonymous history merged)" : "",
	        c ? cli_enum_name(&clm__v1__stage__descriptor, (int) c->stage)
	          : "?");
}

int
cmd_identify(struct cli *cli, int argc, char **argv)
{
	struct cmd_identify_ids ids = { .n = 0 };
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_identify_operand, &ids)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (ids.n != 2) {
		return cli_usage_error(
		        "identify wants an ANONYMOUS_ID and a CUSTOMER_ID");
	}
	const struct args_value *trait = args_get(&a, "--trait");
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_identify(cli->conn, ids.id[0], ids.id[1],
	        (const char *const *) trait->items,
	        (const char *const *) trait->values, trait->count, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_identify_print, &ids);
}
