/*
 * clm journey: timed flows of messages that clmd runs (docs/journeys.md).
 *   clm journey define FILE             (- = stdin)
 *   clm journey status NAME
 *   clm journey list
 *   clm journey delete NAME
 *   clm journey messages [--after N] [--limit N] [--journey NAME] [--follow]
 *
 * messages pages through the durable feed, one page in memory at a time;
 * with --follow it then asks for newer messages once a second until
 * SIGINT or SIGTERM, and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "clm/error.h"
#include "subcmd.h"

#define CMD_JOURNEY_DEF_MAX \
	(1 << 20)                /* bytes read of FILE; clmd takes 64 KiB */
#define CMD_JOURNEY_PAGE    1000 /* messages a call, the server's most */
#define CMD_JOURNEY_POLL_MS 1000 /* --follow asks once a second */

/* Parses a subcommand's flags and its NAME or FILE (subcmd_args). */
static int
cmd_journey_args(struct cli *cli, int argc, char **argv, size_t want,
        const char *allowed, struct args *a, struct subcmd_ops *o)
{
	return subcmd_args(cli, argc, argv, "journey", want,
	        strcmp(argv[0], "define") == 0 ? "a FILE (- for stdin)"
	                                       : "a journey NAME",
	        allowed, a, o);
}

/*
 * Reads the whole of path ("-": stdin) into *out (malloc'd,
 * NUL-terminated), refusing more than CMD_JOURNEY_DEF_MAX bytes. Returns
 * CLI_OK, or CLI_EUSAGE (reported).
 */
static int
cmd_journey_read(const char *path, char **out)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *in = is_stdin ? stdin : fopen(path, "r");
	if (in == NULL) {
		fprintf(stderr, "clm: cannot read '%s': %s\n", path,
		        strerror(errno));
		return CLI_EUSAGE;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int rc = CLI_OK;
	while (buf != NULL) {
		if (len + 1 == cap) {
			char *bigger = cap > CMD_JOURNEY_DEF_MAX
			        ? NULL
			        : realloc(buf, cap * 2);
			if (bigger == NULL) {
				fprintf(stderr, "clm: '%s' is too large\n",
				        path);
				rc = CLI_EUSAGE;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, in);
		len += got;
		if (got == 0) {
			break;
		}
	}
	if (buf == NULL) {
		fprintf(stderr, "clm: out of memory\n");
		rc = CLI_EUSAGE;
	} else if (rc == CLI_OK && ferror(in)) {
		fprintf(stderr, "clm: cannot read '%s'\n", path);
		rc = CLI_EUSAGE;
	}
	if (!is_stdin) {
		fclose(in);
	}
	if (rc != CLI_OK) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	return CLI_OK;
}

/* Prints the DefineJourneyReply m: "NAME: defined" or "NAME: replaced". */
static void
cmd_journey_defined(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__DefineJourneyReply *r
	        = (const Clm__V1__DefineJourneyReply *) m;
	printf("%s: %s\n", r->journey != NULL ? r->journey->name : "?",
	        r->replaced ? "replaced" : "defined");
}

static int
cmd_journey_define(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_journey_args(cli, argc, argv, 1, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	char *def;
	int rc = cmd_journey_read(o.op[0], &def);
	if (rc != CLI_OK) {
		return rc;
	}
	rc = cli_connect(cli);
	if (rc != CLI_OK) {
		free(def);
		return rc;
	}
	Clm__V1__DefineJourneyRequest q
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	q.definition = def;
	Clm__V1__Response *resp;
	clm_err e = clm_define_journey(cli->conn, &q, &resp);
	free(def);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_journey_defined, NULL);
}

/*
 * Whether the normalised definition json has a webhook: a key "webhook"
 * (a quote inside a string is escaped, so an unescaped "webhook": is a
 * key, and only the top level has that key).
 */
static bool
cmd_journey_has_webhook(const char *json)
{
	for (const char *p = json; (p = strstr(p, "\"webhook\"")) != NULL;
	        p++) {
		const char *q = p + 9;
		while (*q == ' ') {
			q++;
		}
		if (*q == ':' && (p == json || p[-1] != '\\')) {
			return true;
		}
	}
	return false;
}

/* The messages sent by every step of s. */
static uint64_t
cmd_journey_sent(const Clm__V1__JourneyStats *s)
{
	uint64_t n = 0;
	for (size_t i = 0; s != NULL && i < s->n_steps; i++) {
		n += s->steps[i]->sent;
	}
	return n;
}

static void
cmd_journey_status_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__GetJourneyReply *r
	        = (const Clm__V1__GetJourneyReply *) m;
	const Clm__V1__Journey *j = r->journey;
	if (j == NULL) {
		return;
	}
	static const Clm__V1__JourneyStats none = CLM__V1__JOURNEY_STATS__INIT;
	const Clm__V1__JourneyStats *s = j->stats != NULL ? j->stats : &none;
	char t[40];
	printf("journey      %s\n", j->name);
	cli_fmt_time(j->created_at_ms, t);
	printf("created at   %s\n", t);
	cli_fmt_time(j->defined_at_ms, t);
	printf("defined at   %s\n", t);
	printf("entered      %llu\n", (unsigned long long) s->entered);
	printf("active       %llu\n", (unsigned long long) s->active);
	printf("exited       %llu\n", (unsigned long long) s->exited);
	printf("completed    %llu\n", (unsigned long long) s->completed);
	printf("removed      %llu\n", (unsigned long long) s->removed);
	if (cmd_journey_has_webhook(j->definition) || s->webhook_delivered
	        || s->webhook_pending || s->webhook_retries
	        || s->webhook_dead) {
		printf("webhook      delivered %llu, pending %llu, retries %llu, dead %llu\n",
		        (unsigned long long) s->webhook_delivered,
		        (unsigned long long) s->webhook_pending,
		        (unsigned long long) s->webhook_retries,
		        (unsigned long long) s->webhook_dead);
	}
	/* Over the condition, capped and late columns. */
	printf("\n%15s %s\n", "", "----------- skipped ------------");
	printf("%-4s %10s %10s %10s %10s %10s\n", "step", "sent", "condition",
	        "capped", "late", "waiting");
	for (size_t i = 0; i < s->n_steps; i++) {
		const Clm__V1__JourneyStepStats *st = s->steps[i];
		printf("%-4u %10llu %10llu %10llu %10llu %10llu\n", st->step,
		        (unsigned long long) st->sent,
		        (unsigned long long) st->skipped_condition,
		        (unsigned long long) st->skipped_capped,
		        (unsigned long long) st->skipped_late,
		        (unsigned long long) st->waiting);
	}
	printf("\ndefinition   %s\n", j->definition);
}

static int
cmd_journey_status(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_journey_args(cli, argc, argv, 1, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__GetJourneyRequest q = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	q.name = o.op[0];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_get_journey(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_journey_status_print, NULL);
}

static void
cmd_journey_list_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__ListJourneysReply *r
	        = (const Clm__V1__ListJourneysReply *) m;
	if (r->n_journeys == 0) {
		printf("no journeys\n");
		return;
	}
	printf("%-24s %10s %10s %10s %10s %10s\n", "name", "entered", "active",
	        "exited", "completed", "sent");
	for (size_t i = 0; i < r->n_journeys; i++) {
		const Clm__V1__Journey *j = r->journeys[i];
		static const Clm__V1__JourneyStats none
		        = CLM__V1__JOURNEY_STATS__INIT;
		const Clm__V1__JourneyStats *s
		        = j->stats != NULL ? j->stats : &none;
		printf("%-24s %10llu %10llu %10llu %10llu %10llu\n", j->name,
		        (unsigned long long) s->entered,
		        (unsigned long long) s->active,
		        (unsigned long long) s->exited,
		        (unsigned long long) s->completed,
		        (unsigned long long) cmd_journey_sent(s));
	}
}

static int
cmd_journey_list(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_journey_args(cli, argc, argv, 0, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__ListJourneysRequest q = CLM__V1__LIST_JOURNEYS_REQUEST__INIT;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_list_journeys(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_journey_list_print, NULL);
}

static int
cmd_journey_delete(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_journey_args(cli, argc, argv, 1, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__DeleteJourneyRequest q
	        = CLM__V1__DELETE_JOURNEY_REQUEST__INIT;
	q.name = o.op[0];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_delete_journey(cli->conn, &q, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, subcmd_deleted, &o);
}

/* Set by SIGINT and SIGTERM while messages --follow runs. */
static volatile sig_atomic_t cmd_journey_stop;

static void
cmd_journey_on_signal(int sig)
{
	(void) sig;
	cmd_journey_stop = 1;
}

/*
 * Waits ms milliseconds, or less when a signal stops --follow. Returns
 * whether to go on.
 */
static bool
cmd_journey_pause(int ms)
{
	struct timespec t = { .tv_sec = ms / 1000,
		.tv_nsec = (long) (ms % 1000) * 1000000L };
	while (!cmd_journey_stop && nanosleep(&t, &t) != 0 && errno == EINTR) {
	}
	return !cmd_journey_stop;
}

/* Prints the message ev: one line, or one line of JSON. */
static void
cmd_journey_message(const struct cli *cli, const Clm__V1__LifecycleEvent *ev)
{
	if (cli->json) {
		cli_print_json(&ev->base);
		return;
	}
	char t[40];
	cli_fmt_time(ev->at_ms, t);
	printf("%-8llu %s %s %u %s %s %s %s %s %s\n",
	        (unsigned long long) ev->position, ev->message_id, ev->journey,
	        ev->step, ev->customer_id,
	        cli_enum_name(&clm__v1__recommendation_kind__descriptor,
	                (int) ev->recommendation_kind),
	        ev->action,
	        cli_enum_name(
	                &clm__v1__channel__descriptor, (int) ev->channel),
	        ev->item[0] != '\0' ? ev->item : "-", t);
}

/*
 * messages: the feed after --after, a page at a time, each printed and
 * freed before the next is asked for; then, with --follow, a page a
 * second until a signal.
 */
static int
cmd_journey_messages(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_journey_args(cli, argc, argv, 0,
	            "--after --limit --journey --follow", &a, &o)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__JourneyMessagesRequest q
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	q.after = (uint64_t) args_get(&a, "--after")->n;
	q.journey = args_get(&a, "--journey")->str;
	const struct args_value *limit = args_get(&a, "--limit");
	uint64_t left = limit->set ? (uint64_t) limit->n : UINT64_MAX;
	bool follow = args_get(&a, "--follow")->set;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	if (follow) {
		struct sigaction sa = { .sa_handler = cmd_journey_on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		setvbuf(stdout, NULL, _IOLBF, 0);
	}
	bool asked_from = q.after != 0; /* --after given: tell of a gap */
	while (left > 0 && !cmd_journey_stop) {
		q.limit = left < CMD_JOURNEY_PAGE ? (uint32_t) left
		                                  : CMD_JOURNEY_PAGE;
		Clm__V1__Response *resp;
		clm_err e = clm_journey_messages(cli->conn, &q, &resp);
		rc = cli_result(cli, e, resp);
		const Clm__V1__JourneyMessagesReply *r
		        = rc == CLI_OK ? resp->journey_messages : NULL;
		/* A position that does not move on would never end the loop.
		 */
		if (r != NULL
		        && (r->next_after < q.after
		                || (r->n_messages > 0
		                        && r->next_after == q.after))) {
			fprintf(stderr,
			        "clm: the server's next position %llu does not follow %llu\n",
			        (unsigned long long) r->next_after,
			        (unsigned long long) q.after);
			r = NULL;
			rc = CLI_ESERVER;
		}
		if (r == NULL) {
			clm_response_free(resp);
			return rc != CLI_OK ? rc : CLI_ESERVER;
		}
		if (asked_from && r->oldest > q.after + 1) {
			fprintf(stderr,
			        "clm: messages %llu to %llu were trimmed from the feed\n",
			        (unsigned long long) q.after + 1,
			        (unsigned long long) r->oldest - 1);
		}
		asked_from = true;
		for (size_t i = 0; i < r->n_messages && left > 0; i++) {
			cmd_journey_message(cli, r->messages[i]);
			left--;
		}
		/* A filtered page may move on without a message. */
		bool more = r->n_messages > 0 || r->next_after > q.after;
		q.after = r->next_after;
		clm_response_free(resp);
		if (!more
		        && (!follow
		                || !cmd_journey_pause(CMD_JOURNEY_POLL_MS))) {
			break;
		}
	}
	fflush(stdout);
	return CLI_OK;
}

int
cmd_journey(struct cli *cli, int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "define", cmd_journey_define },
		{ "status", cmd_journey_status },
		{ "list", cmd_journey_list },
		{ "delete", cmd_journey_delete },
		{ "messages", cmd_journey_messages },
		{ NULL, NULL },
	};
	return subcmd_run(cli, argc, argv, "journey", subs);
}
