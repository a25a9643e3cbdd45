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

/* Exit codes (docs/operations.md "The clm command line"). */
enum {
	CLI_OK = 0,
	CLI_ESERVER = 1,  /* the server returned an error */
	CLI_EUSAGE = 2,   /* bad command line or input */
	CLI_ECONNECT = 3, /* cannot reach the server */
};

struct cmdtab_command;

struct cli {
	const struct cmdtab_command *cmd; /* the command being run */
	const char *url;
	const char *token;
	struct clm_tls tls; /* for tls+tcp:// */
	bool json;
	/*
	 * The command writes: with --json, cli_reply puts the reply's
	 * position in what it prints (cli_print_json_at).
	 */
	bool write;
	int timeout_ms;
	uint64_t min_position; /* --min-position; 0: none */
	clm_conn *conn;
};

/*
 * cli_connect opens cli->conn; returns CLI_OK, CLI_EUSAGE for a URL of no
 * transport clmd has (http://), or CLI_ECONNECT (reported).
 */
int cli_connect(struct cli *cli);

/*
 * cli_result turns a helper's result into an exit code: OK → CLI_OK; a
 * server error → its code, message and violations on stderr, CLI_ESERVER;
 * no reply → CLI_ECONNECT.
 */
int cli_result(struct cli *cli, clm_err e, const Clm__V1__Response *resp);

/*
 * cli_reply ends a command that made one call, given the helper's e and
 * resp: returns cli_result's exit code and, when it is CLI_OK and resp
 * holds a result (the member its oneof selects), prints that: as one
 * line of JSON with --json (with the reply's position first when
 * cli->write: cli_print_json_at), else by print(result, arg). Frees resp.
 */
int cli_reply(struct cli *cli, clm_err e, Clm__V1__Response *resp,
        void (*print)(const ProtobufCMessage *result, const void *arg),
        const void *arg);

/*
 * cli_print_status prints a non-OK Status to stderr: its code and message,
 * then each violation the message does not already say.
 */
void cli_print_status(const Clm__V1__Status *st);

/* cli_print_json prints msg as one line of proto3 JSON on stdout. */
void cli_print_json(const ProtobufCMessage *msg);

/*
 * cli_print_json_at prints msg as cli_print_json does, with a first member
 * "position": the journal position of the write that answered it, a
 * string as proto3 JSON writes a uint64 ({"position":"42",...}), as the
 * HTTP API does.
 */
void cli_print_json_at(const ProtobufCMessage *msg, uint64_t position);

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

/* cli_fmt_date formats unix ms as its UTC date, 2026-11-24. */
void cli_fmt_date(int64_t ms, char buf[32]);

/* cli_day_floor rounds unix ms down to 00:00 UTC of its day. */
int64_t cli_day_floor(int64_t ms);

/* cli_now_ms is the current time in unix ms. */
int64_t cli_now_ms(void);

/*
 * cli_utf8_tty tells whether fd is a terminal whose locale (LC_ALL,
 * LC_CTYPE or LANG) is UTF-8, so block characters can be drawn on it.
 */
bool cli_utf8_tty(int fd);

/*
 * cli_bar draws a bar of frac (0..1) of width cells on out: full and
 * eighth blocks when unicode, else '#'; padded with spaces to width.
 */
void cli_bar(FILE *out, double frac, int width, bool unicode);

/*
 * cli_csv_split splits one CSV line in place into at most max fields
 * ("quoted" fields may hold commas, "" is a quote). Returns the number of
 * fields, or -1 for a malformed line or more than max fields.
 */
int cli_csv_split(char *line, char **fields, int max);

/*
 * cli_csv_name writes the canonical form of a CSV header name into out
 * (len bytes): trimmed, lowerCamelCase turned into snake_case (eventId ->
 * event_id), so either spelling of a field name matches.
 */
void cli_csv_name(const char *in, char *out, size_t len);

/*
 * A file of records, one a line, in CSV or NDJSON (clm catalog, clm
 * spend): its first non-blank line decides the format (NDJSON when it
 * starts with '{'), and the first CSV row is the header. cli_record
 * tells what the next line, trimmed, is: blank (skipped), an NDJSON
 * record, the CSV header or a CSV row (split in place into *nf of at most
 * max fields f), or a malformed CSV row. Start with a zeroed struct.
 */
struct cli_records {
	bool decided, json, header;
};

enum cli_record {
	CLI_RECORD_BLANK,
	CLI_RECORD_JSON,
	CLI_RECORD_HEADER,
	CLI_RECORD_ROW,
	CLI_RECORD_MALFORMED,
};

enum cli_record cli_record(struct cli_records *r, char *line, size_t len,
        char **f, int max, int *nf);

/*
 * cli_read_line reads the next line of in into *line (getline-style
 * buffer), without its line end and trailing blanks; a UTF-8 byte order
 * mark before the first line is dropped. Returns its length, or -1 at the
 * end. *bytes (may be NULL) grows by the bytes consumed.
 */
long cli_read_line(FILE *in, char **line, size_t *cap, unsigned long *lineno,
        unsigned long long *bytes);

/*
 * cli_is_customer_line tells whether line (len bytes), which did not parse
 * as a Touchpoint, is the Customer that `clm export` writes before a
 * customer's touchpoints: `clm track` and `clm import` skip it, so that an
 * export can be tracked or imported again as it is.
 */
bool cli_is_customer_line(const char *line, size_t len);

/*
 * The commands: argv[0] is the command name. Their synopsis, flags and
 * help are rows of cmdtab.c, by which they parse their flags (args.h);
 * `--help` is answered before they run.
 */
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_track(struct cli *cli, int argc, char **argv);
int cmd_customer(struct cli *cli, int argc, char **argv);
int cmd_identify(struct cli *cli, int argc, char **argv);
int cmd_forget(struct cli *cli, int argc, char **argv);
int cmd_snapshot(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_watch(struct cli *cli, int argc, char **argv);
int cmd_recommend(struct cli *cli, int argc, char **argv);
int cmd_catalog(struct cli *cli, int argc, char **argv);
int cmd_metrics(struct cli *cli, int argc, char **argv);
int cmd_cohorts(struct cli *cli, int argc, char **argv);
int cmd_spend(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_experiment(struct cli *cli, int argc, char **argv);
int cmd_segment(struct cli *cli, int argc, char **argv);
int cmd_journey(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
int cmd_completion(struct cli *cli, int argc, char **argv);

#endif /* CLM_CLI_H */
