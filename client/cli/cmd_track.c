/*
 * clm track: record one touchpoint given by flags, or many given as NDJSON
 * (one Touchpoint in proto3 JSON per line) on standard input, sent in
 * batches.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pbjson.h"

#define CMD_TRACK_BATCH 1000

static const char cmd_track_usage[]
        = "usage: clm track --customer ID --type TYPE [--channel CH] [--at "
          "TIME]\n"
          "                 [--event-id ID] [--anonymous-id ID] [--item ID]\n"
          "                 [--value N] [--currency C] [--duration S]\n"
          "                 [--sentiment X] [--lat N --lon N] [--campaign C]\n"
          "                 [--prop KEY=VALUE]...\n"
          "       clm track < touchpoints.ndjson\n";

/* Totals over all batches, and how to map reply indexes back to lines. */
struct cmd_track_run {
	struct cli *cli;
	unsigned long accepted, duplicates, rejected, bad_lines;
	int rc;
};

static void
cmd_track_print_reply(struct cmd_track_run *run, const Clm__V1__TrackReply *r,
        const unsigned long *lines)
{
	run->accepted += r->accepted;
	run->duplicates += r->duplicates;
	run->rejected += r->n_rejected;
	if (run->cli->json) {
		cli_print_json((const ProtobufCMessage *) r);
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

/* Sends one batch; returns an exit code (OK also for partial rejects). */
static int
cmd_track_send(struct cmd_track_run *run, Clm__V1__Touchpoint **tps, size_t n,
        const unsigned long *lines)
{
	Clm__V1__Response *resp;
	clm_err e = clm_track(run->cli->conn, tps, n, &resp);
	if (resp == NULL) {
		return cli_result(run->cli, e, resp);
	}
	if (resp->track != NULL) {
		cmd_track_print_reply(run, resp->track, lines);
	}
	int rc = CLI_OK;
	if (e != CLM_OK) {
		if (resp->track == NULL || resp->track->n_rejected == 0
		        || run->cli->json) {
			rc = cli_result(run->cli, e, resp);
		} else {
			rc = CLI_ESERVER; /* the items were printed above */
		}
	} else if (resp->track != NULL && resp->track->n_rejected > 0) {
		rc = CLI_ESERVER;
	}
	clm_response_free(resp);
	return rc;
}

static int
cmd_track_stdin(struct cli *cli)
{
	struct cmd_track_run run = { .cli = cli };
	Clm__V1__Touchpoint **batch = calloc(CMD_TRACK_BATCH, sizeof(*batch));
	unsigned long *lines = calloc(CMD_TRACK_BATCH, sizeof(*lines));
	if (batch == NULL || lines == NULL) {
		free(batch);
		free(lines);
		fprintf(stderr, "clm: out of memory\n");
		return CLI_EUSAGE;
	}
	size_t n = 0;
	unsigned long lineno = 0;
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
			run.bad_lines++;
			continue;
		}
		batch[n] = (Clm__V1__Touchpoint *) m;
		lines[n++] = lineno;
		if (n == CMD_TRACK_BATCH) {
			int r = cmd_track_send(&run, batch, n, lines);
			rc = r > rc ? r : rc;
			for (size_t i = 0; i < n; i++) {
				clm__v1__touchpoint__free_unpacked(
				        batch[i], NULL);
			}
			n = 0;
		}
	}
	if (n > 0 && rc != CLI_ECONNECT) {
		int r = cmd_track_send(&run, batch, n, lines);
		rc = r > rc ? r : rc;
	}
	for (size_t i = 0; i < n; i++) {
		clm__v1__touchpoint__free_unpacked(batch[i], NULL);
	}
	free(line);
	free(batch);
	free(lines);
	if (!cli->json) {
		fprintf(stderr,
		        "accepted %lu, duplicates %lu, rejected %lu, "
		        "unreadable "
		        "lines %lu\n",
		        run.accepted, run.duplicates, run.rejected,
		        run.bad_lines);
	}
	if (run.bad_lines > 0 && rc == CLI_OK) {
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
		if (strcmp(f, "--help") == 0) {
			fputs(cmd_track_usage, stdout);
			return CLI_OK;
		}
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
	struct cmd_track_run run = { .cli = cli };
	Clm__V1__Touchpoint *one = &tp;
	rc = cmd_track_send(&run, &one, 1, NULL);
	if (rc == CLI_OK && !cli->json) {
		printf("%s\n",
		        run.duplicates ? "duplicate (already recorded)"
		                       : "recorded");
	}
	return rc;
}
