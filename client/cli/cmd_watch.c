/*
 * clm watch [PREFIX] [--events URL] [--count N]: print stage changes and
 * risk signals as clmd publishes them (PREFIX: "stage/", "risk/",
 * "stage/RETENTION", …), until interrupted or N events were seen.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cmd_watch(struct cli *cli, int argc, char **argv)
{
	const char *prefix = "";
	const char *url = getenv("CLM_EVENTS_URL");
	long count = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
			url = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			count = strtol(argv[++i], NULL, 10);
			if (count <= 0) {
				return cli_usage_error("invalid --count");
			}
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return cli_usage_error("unknown flag '%s'", argv[i]);
		} else {
			prefix = argv[i];
		}
	}
	clm_watch *w;
	if (clm_watch_open(url, prefix, &w) != CLM_OK) {
		fprintf(stderr, "clm: %s\n", clm_open_error());
		return CLI_ECONNECT;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (count != 0) {
		char topic[64];
		Clm__V1__LifecycleEvent *ev;
		clm_err e = clm_watch_next(w, -1, topic, sizeof(topic), &ev);
		if (e == CLM_INVALID_ARGUMENT || e == CLM_DEADLINE_EXCEEDED) {
			continue;
		}
		if (e != CLM_OK) {
			fprintf(stderr, "clm: event stream closed\n");
			clm_watch_close(w);
			return CLI_ECONNECT;
		}
		if (cli->json) {
			cli_print_json((const ProtobufCMessage *) ev);
		} else {
			char t[40];
			cli_fmt_time(ev->at_ms, t);
			if (ev->kind
			        == CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL) {
				printf("%-8llu %-32s %s at %s\n",
				        (unsigned long long) ev->seq, topic,
				        ev->customer_id, t);
			} else {
				printf("%-8llu %-32s %s %s -> %s at %s\n",
				        (unsigned long long) ev->seq, topic,
				        ev->customer_id,
				        cli_enum_name(
				                &clm__v1__stage__descriptor,
				                (int) ev->from_stage),
				        cli_enum_name(
				                &clm__v1__stage__descriptor,
				                (int) ev->to_stage),
				        t);
			}
		}
		clm_event_free(ev);
		if (count > 0) {
			count--;
		}
	}
	clm_watch_close(w);
	return CLI_OK;
}
