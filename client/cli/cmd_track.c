/*
 * clm track: record one touchpoint given by flags, or many given as NDJSON
 * (one Touchpoint in proto3 JSON per line) on standard input, sent in
 * batches (tpbatch.c, shared with clm import).
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "pbjson.h"
#include "tpbatch.h"

#define CMD_TRACK_BATCH 1000

/*
 * Prints one Track reply: as JSON, or the rejected touchpoints (with their
 * input lines when lines is not NULL) on stderr and the stage changes on
 * stdout.
 */
static void
cmd_track_print_reply(void *arg, clm_err e, const Clm__V1__Response *resp,
        const unsigned long *lines)
{
	const struct cli *cli = arg;
	const Clm__V1__TrackReply *r = resp->track;
	if (cli->json) {
		cli_print_json_at(
		        (const ProtobufCMessage *) r, resp->position);
		/* Every item was rejected: say so, as for any failed call. */
		if (e != CLM_OK && r->n_rejected > 0) {
			if (resp->status != NULL) {
				cli_print_status(resp->status);
			} else {
				fprintf(stderr, "clm: %s\n", clm_strerror(e));
			}
		}
		return;
	}
	for (size_t i = 0; i < r->n_rejected; i++) {
		const Clm__V1__ItemError *ie = r->rejected[i];
		if (lines != NULL) {
			fprintf(stderr, "line %lu: ", lines[ie->index]);
		}
		fprintf(stderr, "rejected touchpoint %u:\n", ie->index);
		for (size_t k = 0; ie->status && k < ie->status->n_violations;
		        k++) {
			fprintf(stderr, "  %s: %s\n",
			        ie->status->violations[k]->field,
			        ie->status->violations[k]->description);
		}
	}
	for (size_t i = 0; i < r->n_changes; i++) {
		const Clm__V1__LifecycleEvent *ev = r->changes[i];
		char t[40];
		cli_fmt_time(ev->at_ms, t);
		printf("%s: %s -> %s at %s\n", ev->customer_id,
		        ev->from_stage == CLM__V1__STAGE__STAGE_UNSPECIFIED
		                ? "(new)"
		                : cli_enum_name(&clm__v1__stage__descriptor,
		                        (int) ev->from_stage),
		        cli_enum_name(&clm__v1__stage__descriptor,
		                (int) ev->to_stage),
		        t);
	}
}

/* The worse of two exit codes (they are ordered by severity). */
static int
cmd_track_worse(int a, int b)
{
	return a > b ? a : b;
}

static int
cmd_track_stdin(struct cli *cli)
{
	struct tpbatch b;
	if (tpbatch_init(&b, cli, CMD_TRACK_BATCH, cmd_track_print_reply, cli)
	        != 0) {
		fprintf(stderr, "clm: out of memory\n");
		return CLI_EUSAGE;
	}
	unsigned long lineno = 0, bad_lines = 0, customers = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = CLI_OK;
	while (rc != CLI_ECONNECT
	        && (len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (len > 0
		        && (line[len - 1] == '\n' || line[len - 1] == '\r'
		                || line[len - 1] == ' ')) {
			line[--len] = '\0';
		}
		if (len == 0) {
			continue;
		}
		ProtobufCMessage *m;
		char err[256];
		if (pbjson_parse(line, (size_t) len,
		            &clm__v1__touchpoint__descriptor, &m, err,
		            sizeof(err))
		        != 0) {
			if (cli_is_customer_line(line, (size_t) len)) {
				customers++;
				continue;
			}
			fprintf(stderr, "line %lu: %s\n", lineno, err);
			bad_lines++;
			continue;
		}
		rc = cmd_track_worse(rc,
		        tpbatch_add(&b, (Clm__V1__Touchpoint *) m, lineno));
	}
	if (rc != CLI_ECONNECT) {
		rc = cmd_track_worse(rc, tpbatch_flush(&b));
	}
	tpbatch_fini(&b);
	free(line);
	if (!cli->json) {
		fprintf(stderr,
		        "accepted %lu, duplicates %lu, rejected %lu, unreadable lines %lu",
		        b.accepted, b.duplicates, b.rejected, bad_lines);
		if (customers > 0) {
			fprintf(stderr, ", customer lines skipped %lu",
			        customers);
		}
		fputc('\n', stderr);
	}
	if (b.rejected > 0) {
		rc = cmd_track_worse(rc, CLI_ESERVER);
	}
	if (bad_lines > 0 && rc == CLI_OK) {
		rc = CLI_EUSAGE;
	}
	return rc;
}

int
cmd_track(struct cli *cli, int argc, char **argv)
{
	if (argc == 1) {
		int rc = cli_connect(cli);
		return rc != CLI_OK ? rc : cmd_track_stdin(cli);
	}
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, NULL, NULL) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__GeoPoint geo;
	if (args_geo(&a, &geo, &tp.location) != CLI_OK) {
		return CLI_EUSAGE;
	}
	tp.customer_id = args_get(&a, "--customer")->str;
	tp.anonymous_id = args_get(&a, "--anonymous-id")->str;
	tp.event_id = args_get(&a, "--event-id")->str;
	tp.type = (Clm__V1__TouchpointType) args_get(&a, "--type")->n;
	tp.channel = (Clm__V1__Channel) args_get(&a, "--channel")->n;
	tp.occurred_at_ms = args_get(&a, "--at")->n;
	tp.item_id = args_get(&a, "--item")->str;
	tp.currency = args_get(&a, "--currency")->str;
	tp.campaign = args_get(&a, "--campaign")->str;
	tp.value = args_get(&a, "--value")->num;
	tp.duration_s = (uint32_t) args_get(&a, "--duration")->num;
	tp.sentiment = (float) args_get(&a, "--sentiment")->num;
	const struct args_value *prop = args_get(&a, "--prop");
	Clm__V1__Touchpoint__PropertiesEntry props[ARGS_LIST_MAX];
	Clm__V1__Touchpoint__PropertiesEntry *prop_ptrs[ARGS_LIST_MAX];
	for (size_t i = 0; i < prop->count; i++) {
		clm__v1__touchpoint__properties_entry__init(&props[i]);
		props[i].key = prop->items[i];
		props[i].value = prop->values[i];
		prop_ptrs[i] = &props[i];
	}
	tp.n_properties = prop->count;
	tp.properties = prop_ptrs;
	tp.event_name = args_get(&a, "--event-name")->str;
	const struct args_value *order = args_get(&a, "--order-item");
	tp.n_order_items = order->count;
	tp.order_items = order->items;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	struct tpbatch b;
	if (tpbatch_init(&b, cli, 1, cmd_track_print_reply, cli) != 0) {
		fprintf(stderr, "clm: out of memory\n");
		return CLI_EUSAGE;
	}
	Clm__V1__Touchpoint *one = &tp;
	rc = tpbatch_send(&b, &one, 1, NULL);
	if (b.rejected > 0) {
		rc = cmd_track_worse(rc, CLI_ESERVER);
	}
	if (rc == CLI_OK && !cli->json) {
		printf("%s\n",
		        b.duplicates ? "duplicate (already recorded)"
		                     : "recorded");
	}
	tpbatch_fini(&b);
	return rc;
}
