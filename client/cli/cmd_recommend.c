/*
 * clm recommend ID [--lat N --lon N] [--cart ITEM]... [--channel CH]
 *               [--limit N] [--now TIME] [--include-suppressed] [--claim]
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD_RECOMMEND_CART_MAX 64

static void
cmd_recommend_table(const Clm__V1__RecommendReply *r)
{
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

int
cmd_recommend(struct cli *cli, int argc, char **argv)
{
	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	char *cart[CMD_RECOMMEND_CART_MAX];
	bool has_lat = false, has_lon = false;
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (strcmp(f, "--claim") == 0) {
			q.claim = true;
		} else if (strcmp(f, "--include-suppressed") == 0) {
			q.include_suppressed = true;
		} else if (f[0] == '-' && f[1] == '-') {
			if (i + 1 >= argc) {
				return cli_usage_error("%s needs a value", f);
			}
			char *v = argv[++i], *end;
			int e;
			if (strcmp(f, "--lat") == 0
			        || strcmp(f, "--lon") == 0) {
				double d = strtod(v, &end);
				if (*v == '\0' || *end != '\0') {
					return cli_usage_error(
					        "%s: invalid number '%s'", f,
					        v);
				}
				if (f[3] == 'a') {
					geo.lat = d;
					has_lat = true;
				} else {
					geo.lon = d;
					has_lon = true;
				}
			} else if (strcmp(f, "--cart") == 0) {
				if (q.n_cart_items == CMD_RECOMMEND_CART_MAX) {
					return cli_usage_error(
					        "too many --cart");
				}
				cart[q.n_cart_items++] = v;
			} else if (strcmp(f, "--channel") == 0) {
				if (cli_enum_parse(
				            &clm__v1__channel__descriptor, v,
				            &e)
				        != 0) {
					return cli_usage_error(
					        "unknown channel '%s'", v);
				}
				q.channel = (Clm__V1__Channel) e;
			} else if (strcmp(f, "--limit") == 0) {
				long n;
				if (cli_flag_number(f, v, 1, 1000, &n)
				        != CLI_OK) {
					return CLI_EUSAGE;
				}
				q.limit = (uint32_t) n;
			} else if (strcmp(f, "--now") == 0) {
				if (cli_parse_time(v, &q.now_ms) != 0) {
					return cli_usage_error(
					        "invalid time '%s'", v);
				}
			} else {
				return cli_usage_error("unknown flag '%s'", f);
			}
		} else if (q.customer_id[0] == '\0') {
			q.customer_id = argv[i];
		} else {
			return cli_usage_error("recommend takes one id");
		}
	}
	if (q.customer_id[0] == '\0') {
		return cli_usage_error("recommend wants a customer ID");
	}
	if (has_lat != has_lon) {
		return cli_usage_error("--lat and --lon go together");
	}
	if (has_lat) {
		q.location = &geo;
	}
	q.cart_items = cart;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_recommend(cli->conn, &q, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->recommend != NULL) {
		if (cli->json) {
			cli_print_json(
			        (const ProtobufCMessage *) resp->recommend);
		} else {
			cmd_recommend_table(resp->recommend);
		}
	}
	clm_response_free(resp);
	return rc;
}
