/*
 * clm segment: named groups of customers (docs/segments.md).
 *   clm segment define NAME 'EXPR' [--no-wait]
 *   clm segment count NAME [--as-of TIME]
 *   clm segment members NAME [--as-of TIME] [--page-size N]
 *   clm segment show NAME [--as-of TIME]
 *   clm segment list
 *   clm segment delete NAME
 *
 * define waits for the backfill by polling GetSegment: each call has the
 * CLI's --timeout, the wait itself has no bound (a backfill over millions
 * of customers takes seconds to minutes).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "subcmd.h"

#define CMD_SEGMENT_POLL_NS 200000000LL  /* GetSegment every 0.2 s */
#define CMD_SEGMENT_LINE_NS 1000000000LL /* a progress line a second */

/*
 * Parses a subcommand's flags and want operands, NAME and, for define,
 * EXPR (subcmd_args).
 */
static int
cmd_segment_args(struct cli *cli, int argc, char **argv, size_t want,
        const char *allowed, struct args *a, struct subcmd_ops *o)
{
	return subcmd_args(cli, argc, argv, "segment", want,
	        want == 2 ? "a NAME and an EXPR" : "a segment NAME", allowed,
	        a, o);
}

/* The nanoseconds from a to b. */
static int64_t
cmd_segment_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t) (b->tv_sec - a->tv_sec) * 1000000000LL
	        + (b->tv_nsec - a->tv_nsec);
}

/* Sleeps ns nanoseconds (restarted when interrupted by a signal). */
static void
cmd_segment_sleep(int64_t ns)
{
	struct timespec t = { .tv_sec = (time_t) (ns / 1000000000LL),
		.tv_nsec = (long) (ns % 1000000000LL) };
	while (nanosleep(&t, &t) != 0) {
	}
}

/* The state of one backfill being waited for. */
struct cmd_segment_wait {
	bool tty;
	uint64_t customers; /* ServerStatus's, 0 when unknown */
	struct timespec drawn;
	bool drawn_once;
};

/* Prints the progress line of s, at most once a second unless on a TTY. */
static void
cmd_segment_progress(struct cmd_segment_wait *w, const Clm__V1__Segment *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!w->tty && w->drawn_once
	        && cmd_segment_ns(&w->drawn, &now) < CMD_SEGMENT_LINE_NS) {
		return;
	}
	w->drawn = now;
	w->drawn_once = true;
	/* NaN fails both tests: it counts as 0. */
	double p = !(s->backfill_progress >= 0) ? 0
	        : s->backfill_progress > 1      ? 1
	                                        : s->backfill_progress;
	fprintf(stderr, "%sbackfill %.0f%%", w->tty ? "\r\033[K" : "",
	        p * 100.0);
	if (w->customers > 0) {
		fprintf(stderr, " (%llu of %llu customers)",
		        (unsigned long long) (p * (double) w->customers + 0.5),
		        (unsigned long long) w->customers);
	}
	fputs(w->tty ? "" : "\n", stderr);
	fflush(stderr);
}

/*
 * Waits until the segment name is no longer backfilling, polling
 * GetSegment; *out is that last reply (the caller frees it). Returns
 * CLI_OK, or the exit code of a failed call (reported).
 */
static int
cmd_segment_wait(struct cli *cli, const char *name, Clm__V1__Response **out)
{
	struct cmd_segment_wait w = { .tty = isatty(STDERR_FILENO) };
	Clm__V1__Response *resp = NULL;
	if (clm_server_status(cli->conn, &resp) == CLM_OK
	        && resp->server_status != NULL) {
		w.customers = resp->server_status->customers;
	}
	clm_response_free(resp);
	Clm__V1__GetSegmentRequest q = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	q.name = (char *) name;
	for (;;) {
		clm_err e = clm_get_segment(cli->conn, &q, &resp);
		int rc = cli_result(cli, e, resp);
		if (rc == CLI_OK && resp->get_segment == NULL) {
			fprintf(stderr, "clm: the reply holds no segment\n");
			rc = CLI_ESERVER;
		}
		if (rc != CLI_OK) {
			clm_response_free(resp);
			return rc;
		}
		const Clm__V1__Segment *s = resp->get_segment->segment;
		if (s == NULL || !s->backfilling) {
			break;
		}
		cmd_segment_progress(&w, s);
		clm_response_free(resp);
		cmd_segment_sleep(CMD_SEGMENT_POLL_NS);
	}
	if (w.tty && w.drawn_once) {
		fputs("\r\033[K", stderr);
	}
	*out = resp;
	return CLI_OK;
}

/* Prints "NAME: N customers" for the segment s. */
static void
cmd_segment_counted(const Clm__V1__Segment *s)
{
	printf("%s: %llu customers\n", s->name, (unsigned long long) s->count);
}

static int
cmd_segment_define(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_segment_args(cli, argc, argv, 2, "--no-wait", &a, &o)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__DefineSegmentRequest q
	        = CLM__V1__DEFINE_SEGMENT_REQUEST__INIT;
	q.name = o.op[0];
	q.expression = o.op[1];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_define_segment(cli->conn, &q, &resp);
	rc = cli_result(cli, e, resp);
	if (rc != CLI_OK || resp->define_segment == NULL
	        || resp->define_segment->segment == NULL) {
		clm_response_free(resp);
		return rc != CLI_OK ? rc : CLI_ESERVER;
	}
	uint64_t position = resp->position;
	if (args_get(&a, "--no-wait")->set) {
		const Clm__V1__Segment *s = resp->define_segment->segment;
		if (cli->json) {
			cli_print_json_at(&s->base, position);
		} else {
			printf("%s: defined, backfilling\n", s->name);
		}
		clm_response_free(resp);
		return CLI_OK;
	}
	clm_response_free(resp);
	rc = cmd_segment_wait(cli, q.name, &resp);
	if (rc != CLI_OK) {
		return rc;
	}
	const Clm__V1__Segment *s = resp->get_segment->segment;
	if (s != NULL && cli->json) {
		cli_print_json_at(&s->base, position);
	} else if (s != NULL) {
		cmd_segment_counted(s);
	}
	clm_response_free(resp);
	return CLI_OK;
}

/* Reads --as-of, when it was given, into q. */
static void
cmd_segment_as_of(const struct args *a, Clm__V1__GetSegmentRequest *q)
{
	const struct args_value *v = args_get(a, "--as-of");
	if (v->set) {
		q->as_of_ms = v->n;
	}
}

static void
cmd_segment_count_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__GetSegmentReply *r
	        = (const Clm__V1__GetSegmentReply *) m;
	printf("%llu\n",
	        (unsigned long long) (r->segment ? r->segment->count : 0));
}

/* The backfill column of s: "done", or its progress. */
static void
cmd_segment_backfill(const Clm__V1__Segment *s, char buf[32])
{
	if (s->backfilling) {
		snprintf(buf, 32, "%.0f%%", s->backfill_progress * 100.0);
	} else {
		snprintf(buf, 32, "done");
	}
}

static void
cmd_segment_show_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__GetSegmentReply *r
	        = (const Clm__V1__GetSegmentReply *) m;
	const Clm__V1__Segment *s = r->segment;
	if (s == NULL) {
		return;
	}
	char t[40], b[32];
	printf("segment      %s\n", s->name);
	printf("expression   %s\n", s->expression);
	printf("members      %llu\n", (unsigned long long) s->count);
	cmd_segment_backfill(s, b);
	printf("backfill     %s\n", b);
	cli_fmt_time(s->defined_at_ms, t);
	printf("defined at   %s\n", t);
	if (r->as_of_ms != 0) {
		cli_fmt_time(r->as_of_ms, t);
		printf("as of        %s\n", t);
	}
}

/* count and show: one GetSegment without members. */
static int
cmd_segment_get(struct cli *cli, int argc, char **argv,
        void (*print)(const ProtobufCMessage *, const void *))
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_segment_args(cli, argc, argv, 1, "--as-of", &a, &o)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__GetSegmentRequest q = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	q.name = o.op[0];
	cmd_segment_as_of(&a, &q);
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_get_segment(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, print, NULL);
}

/*
 * members: every page, printed as it arrives (one id a line, or with
 * --json one GetSegmentReply a page), so that memory stays one page.
 */
static int
cmd_segment_members(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_segment_args(cli, argc, argv, 1, "--as-of --page-size", &a, &o)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__GetSegmentRequest q = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	q.name = o.op[0];
	q.members = true;
	q.page_size = (uint32_t) args_get(&a, "--page-size")->n;
	cmd_segment_as_of(&a, &q);
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	char *token = NULL;
	for (;;) {
		Clm__V1__Response *resp;
		q.page_token = token != NULL ? token : "";
		clm_err e = clm_get_segment(cli->conn, &q, &resp);
		rc = cli_result(cli, e, resp);
		const Clm__V1__GetSegmentReply *r
		        = rc == CLI_OK ? resp->get_segment : NULL;
		/* A token that does not move would never end the loop. */
		if (r != NULL && token != NULL
		        && strcmp(r->next_page_token, token) == 0) {
			fprintf(stderr,
			        "clm: the server gave the same page token again\n");
			r = NULL;
			rc = CLI_ESERVER;
		}
		free(token);
		token = NULL;
		if (r == NULL) {
			clm_response_free(resp);
			return rc != CLI_OK ? rc : CLI_ESERVER;
		}
		if (cli->json) {
			cli_print_json(&r->base);
		} else {
			for (size_t i = 0; i < r->n_members; i++) {
				puts(r->members[i]);
			}
		}
		bool more = r->next_page_token[0] != '\0';
		if (more) {
			token = strdup(r->next_page_token);
		}
		clm_response_free(resp);
		if (more && token == NULL) {
			fprintf(stderr, "clm: out of memory\n");
			return CLI_ECONNECT;
		}
		if (!more) {
			break;
		}
	}
	fflush(stdout);
	return CLI_OK;
}

static void
cmd_segment_list_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__ListSegmentsReply *r
	        = (const Clm__V1__ListSegmentsReply *) m;
	if (r->n_segments == 0) {
		printf("no segments\n");
		return;
	}
	printf("%-24s %10s %8s  %s\n", "name", "members", "backfill",
	        "expression");
	for (size_t i = 0; i < r->n_segments; i++) {
		const Clm__V1__Segment *s = r->segments[i];
		char b[32];
		cmd_segment_backfill(s, b);
		printf("%-24s %10llu %8s  %s\n", s->name,
		        (unsigned long long) s->count, b, s->expression);
	}
}

static int
cmd_segment_list(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_segment_args(cli, argc, argv, 0, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__ListSegmentsRequest q = CLM__V1__LIST_SEGMENTS_REQUEST__INIT;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_list_segments(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_segment_list_print, NULL);
}

static int
cmd_segment_delete(struct cli *cli, int argc, char **argv)
{
	struct args a;
	struct subcmd_ops o;
	if (cmd_segment_args(cli, argc, argv, 1, "", &a, &o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	Clm__V1__DeleteSegmentRequest q
	        = CLM__V1__DELETE_SEGMENT_REQUEST__INIT;
	q.name = o.op[0];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_delete_segment(cli->conn, &q, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, subcmd_deleted, &o);
}

static int
cmd_segment_count(struct cli *cli, int argc, char **argv)
{
	return cmd_segment_get(cli, argc, argv, cmd_segment_count_print);
}

static int
cmd_segment_show(struct cli *cli, int argc, char **argv)
{
	return cmd_segment_get(cli, argc, argv, cmd_segment_show_print);
}

int
cmd_segment(struct cli *cli, int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "define", cmd_segment_define },
		{ "count", cmd_segment_count },
		{ "members", cmd_segment_members },
		{ "show", cmd_segment_show },
		{ "list", cmd_segment_list },
		{ "delete", cmd_segment_delete },
		{ NULL, NULL },
	};
	return subcmd_run(cli, argc, argv, "segment", subs);
}
