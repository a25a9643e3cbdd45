/*
 * clm recommend ID [--lat N --lon N] [--cart ITEM]... [--channel CH]
 *               [--limit N] [--now TIME] [--include-suppressed] [--claim]
 */
#include "args.h"
#include "cli.h"

static void
cmd_recommend_table(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__RecommendReply *r = (const Clm__V1__RecommendReply *) m;
	printf("stage %s, health %s\n",
	        cli_enum_name(&clm__v1__stage__descriptor, (int) r->stage),
	        cli_enum_name(&clm__v1__health__descriptor, (int) r->health));
	if (r->n_recommendations == 0) {
		printf("no recommendation\n");
		return;
	}
	printf("%-5s  %-18s  %-26s  %-16s  %-14s  %s\n", "score", "kind",
	        "action", "channel", "item/store", "why");
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		const char *what = o->item_id[0] ? o->item_id : o->store_id;
		printf("%5.3f  %-18s  %-26s  %-16s  %-14s  %s\n", o->score,
		        cli_enum_name(
		                &clm__v1__recommendation_kind__descriptor,
		                (int) o->kind),
		        o->action,
		        cli_enum_name(&clm__v1__channel__descriptor,
		                (int) o->channel),
		        what[0] ? what : "-", o->reason);
		if (o->discount_pct > 0) {
			printf("%5s  discount %.1f%%\n", "", o->discount_pct);
		}
		if (o->suppressed) {
			printf("%5s  SUPPRESSED: %s\n", "",
			        o->suppressed_reason);
		}
	}
}

/* args_word_fn: the one operand, the customer's id. */
static int
cmd_recommend_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	Clm__V1__RecommendRequest *q = arg;
	if (q->customer_id[0] != '\0') {
		return cli_usage_error("recommend takes one id");
	}
	q->customer_id = word;
	return CLI_OK;
}

int
cmd_recommend(struct cli *cli, int argc, char **argv)
{
	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_recommend_operand, &q)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (q.customer_id[0] == '\0') {
		return cli_usage_error("recommend wants a customer ID");
	}
	Clm__V1__GeoPoint geo;
	if (args_geo(&a, &geo, &q.location) != CLI_OK) {
		return CLI_EUSAGE;
	}
	const struct args_value *cart = args_get(&a, "--cart");
	q.n_cart_items = cart->count;
	q.cart_items = cart->items;
	q.channel = (Clm__V1__Channel) args_get(&a, "--channel")->n;
	q.limit = (uint32_t) args_get(&a, "--limit")->n;
	q.now_ms = args_get(&a, "--now")->n;
	q.include_suppressed = args_get(&a, "--include-suppressed")->set;
	q.claim = args_get(&a, "--claim")->set;
	cli->write = q.claim;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_recommend(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_recommend_table, NULL);
}
