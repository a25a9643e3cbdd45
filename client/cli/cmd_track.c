/*
 * clm track: record one touchpoint given by flags, or many given as NDJSON
 * (one Touchpoint in proto3 JSON per line) on standard input, sent in
 * batches (tpbatch.c, shared with clm import).
 */
#include <stdlib.h>
#include <string.h>

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
		cli_print_json((const ProtobufCMessage *) r);
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
	unsigned long lineno = 0, bad_lines = 0;
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
		        "accepted %lu, duplicates %lu, rejected %lu, unreadable lines %lu\n",
		        b.accepted, b.duplicates, b.rejected, bad_lines);
	}
	if (b.rejected > 0) {
		rc = cmd_track_worse(rc, CLI_ESERVER);
	}
	if (bad_lines > 0 && rc == CLI_OK) {
		rc = CLI_EUSAGE;
	}
	return rc;
}

/* Parses a number flag; returns 0 or -1. */
static int
cmd_track_num(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return *s != '\0' && *end == '\0' ? 0 : -1;
}

int
cmd_track(struct cli *cli, int argc, char **argv)
{
	if (argc == 1) {
		int rc = cli_connect(cli);
		return rc != CLI_OK ? rc : cmd_track_stdin(cli);
	}
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	bool has_lat = false, has_lon = false;
	Clm__V1__Touchpoint__PropertiesEntry props[64];
	Clm__V1__Touchpoint__PropertiesEntry *prop_ptrs[64];
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (i + 1 >= argc) {
			return cli_usage_error("%s needs a value", f);
		}
		char *v = argv[++i];
		double num;
		int e;
		if (strcmp(f, "--customer") == 0
		        || strcmp(f, "--customer-id") == 0) {
			tp.customer_id = v;
		} else if (strcmp(f, "--anonymous-id") == 0) {
			tp.anonymous_id = v;
		} else if (strcmp(f, "--event-id") == 0) {
			tp.event_id = v;
		} else if (strcmp(f, "--type") == 0) {
			if (cli_enum_parse(
			            &clm__v1__touchpoint_type__descriptor, v,
			            &e)
			        != 0) {
				return cli_usage_error(
				        "unknown touchpoint type '%s'", v);
			}
			tp.type = (Clm__V1__TouchpointType) e;
		} else if (strcmp(f, "--channel") == 0) {
			if (cli_enum_parse(
			            &clm__v1__channel__descriptor, v, &e)
			        != 0) {
				return cli_usage_error(
				        "unknown channel '%s'", v);
			}
			tp.channel = (Clm__V1__Channel) e;
		} else if (strcmp(f, "--at") == 0) {
			if (cli_parse_time(v, &tp.occurred_at_ms) != 0) {
				return cli_usage_error("invalid time '%s'", v);
			}
		} else if (strcmp(f, "--item") == 0) {
			tp.item_id = v;
		} else if (strcmp(f, "--currency") == 0) {
			tp.currency = v;
		} else if (strcmp(f, "--campaign") == 0) {
			tp.campaign = v;
		} else if (strcmp(f, "--value") == 0
		        || strcmp(f, "--duration") == 0
		        || strcmp(f, "--sentiment") == 0
		        || strcmp(f, "--lat") == 0
		        || strcmp(f, "--lon") == 0) {
			if (cmd_track_num(v, &num) != 0) {
				return cli_usage_error(
				        "%s: invalid number '%s'", f, v);
			}
			if (strcmp(f, "--value") == 0) {
				tp.value = num;
			} else if (strcmp(f, "--duration") == 0) {
				if (num < 0 || num > 4294967295.0) {
					return cli_usage_error(
					        "--duration out of range");
				}
				tp.duration_s = (uint32_t) num;
			} else if (strcmp(f, "--sentiment") == 0) {
				tp.sentiment = (float) num;
			} else if (strcmp(f, "--lat") == 0) {
				geo.lat = num;
				has_lat = true;
			} else {
				geo.lon = num;
				has_lon = true;
			}
		} else if (strcmp(f, "--prop") == 0) {
			char *eq = strchr(v, '=');
			if (eq == NULL) {
				return cli_usage_error(
				        "--prop wants KEY=VALUE, got '%s'", v);
			}
			if (tp.n_properties == 64) {
				return cli_usage_error("too many --prop");
			}
			*eq = '\0';
			Clm__V1__Touchpoint__PropertiesEntry *pe
			        = &props[tp.n_properties];
			clm__v1__touchpoint__properties_entry__init(pe);
			pe->key = v;
			pe->value = eq + 1;
			prop_ptrs[tp.n_properties++] = pe;
		} else {
			return cli_usage_error("unknown flag '%s'", f);
		}
	}
	if (has_lat != has_lon) {
		return cli_usage_error("--lat and --lon go together");
	}
	if (has_lat) {
		tp.location = &geo;
	}
	tp.properties = prop_ptrs;
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
