/*
 * clm watch [PREFIX] [--events URL] [--count N]: print stage changes and
 * risk signals as clmd publishes them (PREFIX: "stage/", "risk/",
 * "stage/RETENTION", …), until interrupted or N events were seen.
 */
#include <stdlib.h>

#include "args.h"
#include "cli.h"

/* What the command line asks for, besides --events. */
struct cmd_watch_args {
	const char *prefix;
	long count; /* -1: no end */
};

/* args_word_fn: PREFIX (the last one counts) and --count N. */
static int
cmd_watch_word(void *arg, const struct cmdtab_flag *f, char *word)
{
	struct cmd_watch_args *wa = arg;
	if (f == NULL) {
		wa->prefix = word;
		return CLI_OK;
	}
	wa->count = strtol(word, NULL, 10);
	return wa->count > 0 ? CLI_OK : cli_usage_error("invalid --count");
}

int
cmd_watch(struct cli *cli, int argc, char **argv)
{
	struct cmd_watch_args wa = { .prefix = "", .count = -1 };
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_watch_word, &wa)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	const struct args_value *events = args_get(&a, "--events");
	const char *url = events->set ? events->str : getenv("CLM_EVENTS_URL");
	clm_watch *w;
	if (clm_watch_open(url, wa.prefix, &w) != CLM_OK) {
		fprintf(stderr, "clm: %s\n", clm_open_error());
		return CLI_ECONNECT;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (wa.count != 0) {
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
		if (wa.count > 0) {
			wa.count--;
		}
	}
	clm_watch_close(w);
	return CLI_OK;
}
