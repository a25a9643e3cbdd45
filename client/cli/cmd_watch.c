/*
 * clm watch [PREFIX] [--events URL] [--count N]: print stage changes, risk
 * signals, segment entries and exits and journeys' messages as clmd
 * publishes them (PREFIX: "stage/", "risk/", "stage/RETENTION",
 * "segment/", "journey/", …), until interrupted or N events were seen.
 */
#include <stdlib.h>
#include <string.h>

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

/*
 * Writes into url (len bytes) the events URL that goes with clmd's RPC
 * URL rpc (NULL: CLM_DEFAULT_URL), as clmd's defaults pair them
 * (docs/operations.md "The clm command line"): tcp://HOST:PORT and
 * tls+tcp://HOST:PORT (the stream is plain and on clmd's host only) give
 * tcp://HOST:PORT+1; ipc://DIR/NAME gives ipc://DIR/events.sock, the
 * stream's socket when DIR is the data dir of a clmd with auth tokens.
 * With a token and a tcp URL the stream is that owner-only socket, whose
 * directory the URL does not tell. Returns CLI_OK, or reports and returns
 * CLI_EUSAGE.
 */
static int
cmd_watch_events_url(const char *rpc, bool token, char *url, size_t len)
{
	if (rpc == NULL || rpc[0] == '\0') {
		rpc = CLM_DEFAULT_URL;
	}
	if (strncmp(rpc, "ipc://", 6) == 0) {
		const char *slash = strrchr(rpc + 6, '/');
		int dir = slash != NULL ? (int) (slash - rpc) + 1 : 6;
		if (snprintf(url, len, "%.*sevents.sock", dir, rpc)
		        >= (int) len) {
			return cli_usage_error("URL too long '%s'", rpc);
		}
		return CLI_OK;
	}
	const char *host = strncmp(rpc, "tcp://", 6) == 0 ? rpc + 6
	        : strncmp(rpc, "tls+tcp://", 10) == 0     ? rpc + 10
	                                                  : NULL;
	if (host == NULL) {
		return cli_usage_error(
		        "cannot tell the event stream of '%s': give --events URL",
		        rpc);
	}
	if (token) {
		return cli_usage_error(
		        "with auth tokens clmd's event stream is ipc://DATA/events.sock in its data dir (its log says which): give --events URL or CLM_EVENTS_URL");
	}
	const char *colon = strrchr(host, ':');
	char *end = NULL;
	long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
	if (colon == NULL || end == colon + 1 || *end != '\0' || port < 1
	        || port >= 65535) {
		return cli_usage_error(
		        "cannot tell the event stream of '%s': give --events URL",
		        rpc);
	}
	if (snprintf(url, len, "tcp://%.*s:%ld", (int) (colon - host), host,
	            port + 1)
	        >= (int) len) {
		return cli_usage_error("URL too long '%s'", rpc);
	}
	return CLI_OK;
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
	char derived[512];
	if (url == NULL || url[0] == '\0') {
		if (cmd_watch_events_url(cli->url,
		            cli->token != NULL && cli->token[0] != '\0',
		            derived, sizeof(derived))
		        != CLI_OK) {
			return CLI_EUSAGE;
		}
		url = derived;
	}
	clm_watch *w;
	clm_err e = clm_watch_open(url, wa.prefix, &w);
	if (e != CLM_OK) {
		fprintf(stderr, "clm: %s\n", clm_open_error());
		return e == CLM_INVALID_ARGUMENT ? CLI_EUSAGE : CLI_ECONNECT;
	}
	/* Connected within --timeout, or nothing listens there. */
	if (clm_watch_ready(w, cli->timeout_ms) != CLM_OK) {
		fprintf(stderr,
		        "clm: cannot connect to the event stream at '%s' (no answer in %d ms)\n",
		        url, cli->timeout_ms);
		clm_watch_close(w);
		return CLI_ECONNECT;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (wa.count != 0) {
		char topic[64];
		Clm__V1__LifecycleEvent *ev;
		e = clm_watch_next(w, -1, topic, sizeof(topic), &ev);
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
			        == CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE) {
				printf("%-8llu %-32s %s step %u %s %s %s %s at %s\n",
				        (unsigned long long) ev->seq, topic,
				        ev->customer_id, ev->step,
				        cli_enum_name(
				                &clm__v1__recommendation_kind__descriptor,
				                (int) ev->recommendation_kind),
				        ev->action,
				        cli_enum_name(
				                &clm__v1__channel__descriptor,
				                (int) ev->channel),
				        ev->item[0] != '\0' ? ev->item : "-",
				        t);
			} else if (ev->kind
			                == CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL
			        || ev->kind
			                == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
			        || ev->kind
			                == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED) {
				/* Its topic names the reason or segment. */
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
