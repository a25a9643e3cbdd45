/* clm customer ID [--as-of TIME]: one customer's lifecycle. */
#include "args.h"
#include "cli.h"

static void
cmd_customer_table(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__Customer *c = (const Clm__V1__Customer *) m;
	char t1[40], t2[40];
	printf("customer     %s\n", c->customer_id);
	printf("stage        %s\n",
	        cli_enum_name(&clm__v1__stage__descriptor, (int) c->stage));
	printf("funnel       %s\n",
	        cli_enum_name(&clm__v1__funnel_position__descriptor,
	                (int) c->funnel));
	printf("health       %s\n",
	        cli_enum_name(&clm__v1__health__descriptor, (int) c->health));
	printf("churn risk   %.2f", c->churn_risk);
	for (size_t i = 0; i < c->n_risk_reasons; i++) {
		printf("%s%s", i ? ", " : "  (",
		        cli_enum_name(&clm__v1__risk_reason__descriptor,
		                (int) c->risk_reasons[i]));
	}
	printf("%s\n", c->n_risk_reasons ? ")" : "");
	if (c->n_anonymous_ids > 0) {
		printf("anonymous   ");
		for (size_t i = 0; i < c->n_anonymous_ids; i++) {
			printf(" %s", c->anonymous_ids[i]);
		}
		printf("\n");
	}
	for (size_t i = 0; i < c->n_traits; i++) {
		printf("%-12s %s\n", c->traits[i]->key, c->traits[i]->value);
	}
	cli_fmt_time(c->first_seen_ms, t1);
	cli_fmt_time(c->last_seen_ms, t2);
	printf("first seen   %s\n", t1);
	printf("last seen    %s\n", t2);
	printf("purchases    %u   refunds %u   referrals %u   revenue %.2f\n",
	        c->purchases, c->refunds, c->referrals, c->revenue);
	printf("acquired by  %s\n",
	        cli_enum_name(&clm__v1__channel__descriptor,
	                (int) c->acquisition_channel));
	if (c->purchases > 0) {
		printf("converted by %s\n",
		        cli_enum_name(&clm__v1__channel__descriptor,
		                (int) c->conversion_channel));
	}
	if (c->n_cart_items > 0) {
		printf("cart        ");
		for (size_t i = 0; i < c->n_cart_items; i++) {
			printf(" %s", c->cart_items[i]);
		}
		printf("\n");
	}
	printf("history\n");
	for (size_t i = 0; i < c->n_stage_history; i++) {
		cli_fmt_time(c->stage_history[i]->entered_at_ms, t1);
		printf("  %-12s %s\n",
		        cli_enum_name(&clm__v1__stage__descriptor,
		                (int) c->stage_history[i]->stage),
		        t1);
	}
	printf("touchpoints\n");
	for (size_t i = 0; i < c->n_touch_counts; i++) {
		printf("  %-22s %llu\n",
		        cli_enum_name(&clm__v1__touchpoint_type__descriptor,
		                (int) c->touch_counts[i]->type),
		        (unsigned long long) c->touch_counts[i]->count);
	}
}

/* args_word_fn: the one operand, the customer's id. */
static int
cmd_customer_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	const char **id = arg;
	if (*id != NULL) {
		return cli_usage_error("customer takes one id");
	}
	*id = word;
	return CLI_OK;
}

int
cmd_customer(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_customer_operand, &id)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (id == NULL) {
		return cli_usage_error("customer wants a customer ID");
	}
	int64_t as_of = args_get(&a, "--as-of")->n;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_get_customer(cli->conn, id, as_of, &resp);
	return cli_reply(cli, e, resp, cmd_customer_table, NULL);
}
