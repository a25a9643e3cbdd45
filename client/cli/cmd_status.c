/*
 * clm status: the server's version, uptime, counts and sizes, and where its
 * view stands: the position it has applied, its journal, and in cluster
 * mode the stream's last position and the lag behind it.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pbjson.h"

/* The position the reply's view showed (Response.position). */
struct cmd_status_at {
	uint64_t position;
};

/*
 * How far the view is behind the stream; only in cluster mode (a stream
 * position), and never below 0 (the stream's position is learnt later).
 */
static uint64_t
cmd_status_lag(const Clm__V1__StatusReply *s, uint64_t position)
{
	return s->stream_position > position ? s->stream_position - position
	                                     : 0;
}

static void
cmd_status_print(const ProtobufCMessage *m, const void *arg)
{
	const struct cmd_status_at *at = arg;
	const Clm__V1__StatusReply *s = (const Clm__V1__StatusReply *) m;
	printf("version      %s\n", s->version);
	printf("uptime       %lld s\n", (long long) s->uptime_s);
	printf("customers    %llu\n", (unsigned long long) s->customers);
	printf("touchpoints  %llu\n", (unsigned long long) s->touchpoints);
	printf("db size      %.1f MiB\n",
	        (double) s->db_bytes / (1024.0 * 1024));
	printf("map size     %.1f MiB\n",
	        (double) s->map_bytes / (1024.0 * 1024));
	printf("durability   %s\n", s->durability);
	printf("commits      %llu (%.1f writes each)\n",
	        (unsigned long long) s->write_transactions,
	        s->write_transactions == 0 ? 0.0
	                                   : (double) s->write_requests
	                        / (double) s->write_transactions);
	printf("checkpoint   %llu (journal position in data.mdb)\n",
	        (unsigned long long) s->checkpoint_position);
	printf("position     %llu (applied)\n",
	        (unsigned long long) at->position);
	printf("journal      %s\n", s->journal[0] != '\0' ? s->journal : "-");
	if (s->stream_position > 0) {
		printf("stream       %llu (lag %llu)\n",
		        (unsigned long long) s->stream_position,
		        (unsigned long long) cmd_status_lag(s, at->position));
	}
}

/*
 * --json: the StatusReply with the applied position first and, in cluster
 * mode, the lag last ({"position":"N",...,"lag":"M"}), 64-bit integers as
 * strings as in proto3 JSON.
 */
static void
cmd_status_json(const Clm__V1__StatusReply *s, uint64_t position)
{
	char *text;
	if (pbjson_print((const ProtobufCMessage *) s, 0, &text) != 0) {
		fprintf(stderr, "clm: out of memory\n");
		return;
	}
	size_t n = strlen(text); /* one object: "{}" or "{MEMBERS}" */
	bool empty = strcmp(text, "{}") == 0;
	printf("{\"position\":\"%llu\"%s%.*s", (unsigned long long) position,
	        empty ? "" : ",", (int) (n - 2), text + 1);
	if (s->stream_position > 0) {
		printf(",\"lag\":\"%llu\"",
		        (unsigned long long) cmd_status_lag(s, position));
	}
	printf("}\n");
	free(text);
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	(void) argv;
	if (argc > 1) {
		return cli_usage_error("status takes no arguments");
	}
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_server_status(cli->conn, &resp);
	rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->server_status != NULL) {
		struct cmd_status_at at = { .position = resp->position };
		if (cli->json) {
			cmd_status_json(resp->server_status, at.position);
		} else {
			cmd_status_print(
			        (const ProtobufCMessage *) resp->server_status,
			        &at);
		}
	}
	clm_response_free(resp);
	return rc;
}
