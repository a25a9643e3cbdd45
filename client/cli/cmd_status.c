/* clm status: the server's version, uptime, counts and sizes. */
#include "cli.h"

static void
cmd_status_print(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
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
	return cli_reply(cli, e, resp, cmd_status_print, NULL);
}
