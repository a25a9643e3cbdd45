/*
 * The clm command-line tool: shared state and helpers of its commands.
 * Each command lives in cmd_NAME.c and returns the process exit code.
 */
#ifndef CLM_CLI_H
#define CLM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clm/client.h"

/* Exit codes (DESIGN.md §8). */
enum {
	CLI_OK = 0,
	CLI_ESERVER = 1,  /* the server returned an error */
	CLI_EUSAGE = 2,   /* bad command line or input */
	CLI_ECONNECT = 3, /* cannot reach the server */
};

struct cli {
	const char *url;
	const char *token;
	struct clm_tls tls; /* for tls+tcp:// */
	bool json;
	int timeout_ms;
	clm_conn *conn;
};

/* cli_connect opens cli->conn; returns CLI_OK or CLI_ECONNECT (reported). */
int cli_connect(struct cli *cli);

/*
 * cli_result turns a helper's result into an exit code: OK → CLI_OK; a
 * server error → its code, message and violations on stderr, CLI_ESERVER;
 * no reply → CLI_ECONNECT.
 */
int cli_result(struct cli *cli, clm_err e, const Clm__V1__Response *resp);

/* cli_print_status prints a non-OK Status to stderr. */
void cli_print_status(const Clm__V1__Status *st);

/* cli_print_json prints msg as one line of proto3 JSON on stdout. */
void cli_print_json(const ProtobufCMessage *msg);

/* cli_enum_name returns the name of value in d, or "?". */
const char *cli_enum_name(const ProtobufCEnumDescriptor *d, int value);

/*
 * cli_enum_parse accepts a value name in any case, with '-' for '_'
 * ("purchase", "PAID-ADS") or a number. Returns 0, or -1.
 */
int cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *s, int *out);

/* cli_fmt_time formats unix ms as 2026-11-24T06:47:00.000Z ("-" for 0). */
void cli_fmt_time(int64_t ms, char buf[40]);

/*
 * cli_parse_time accepts unix ms, or an ISO 8601 UTC time
 * (2026-11-24T06:47:00Z, optional .mmm, or a date 2026-11-24). Returns 0 or
 * -1.
 */
int cli_parse_time(const char *s, int64_t *out);

/* cli_usage_error prints "clm: MSG" and a hint; returns CLI_EUSAGE. */
int cli_usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* The commands: argv[0] is the command name. */
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_track(struct cli *cli, int argc, char **argv);
int cmd_customer(struct cli *cli, int argc, char **argv);
int cmd_identify(struct cli *cli, int argc, char **argv);
int cmd_forget(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_watch(struct cli *cli, int argc, char **argv);
int cmd_recommend(struct cli *cli, int argc, char **argv);
int cmd_catalog(struct cli *cli, int argc, char **argv);

#endif /* CLM_CLI_H */
