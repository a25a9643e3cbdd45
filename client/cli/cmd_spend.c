/*
 * clm spend: record what was spent on a channel on a day (per campaign).
 *   clm spend --channel CH --day DATE --amount X [--campaign C]
 *             [--currency CUR]
 *   clm spend FILE     ("-" = stdin)
 * FILE holds NDJSON (one clm.v1.Spend in proto3 JSON a line) or CSV with a
 * header naming the columns channel, day, amount, currency, campaign (any
 * order; day as a date, an ISO time or unix ms). Entries go in
 * RecordSpend calls of up to 10,000; recording a (channel, day, campaign)
 * again replaces its amount.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "pbjson.h"

#define CMD_SPEND_BATCH 10000
#define CMD_SPEND_COLS  32

enum cmd_spend_col {
	SPEND_CHANNEL,
	SPEND_DAY,
	SPEND_AMOUNT,
	SPEND_CURRENCY,
	SPEND_CAMPAIGN,
	SPEND_NCOLS,
};

static const char *const cmd_spend_cols[SPEND_NCOLS]
        = { "channel", "day", "amount", "currency", "campaign" };

struct cmd_spend_run {
	struct cli *cli;
	Clm__V1__Spend **batch;
	unsigned long *lines;
	size_t n;
	unsigned long accepted, bad;
};

static int
cmd_spend_amount(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return *s != '\0' && *end == '\0' ? 0 : -1;
}

/*
 * Prints a rejected batch's violations, naming the input line of each
 * "record_spend.spend[N]..." field instead of its index in the call.
 */
static void
cmd_spend_rejected(const struct cmd_spend_run *run, const Clm__V1__Status *st)
{
	fprintf(stderr, "clm: %s: %s\n",
	        clm_errname(clm_err_from_code((int) st->code)), st->message);
	for (size_t i = 0; i < st->n_violations; i++) {
		const char *field = st->violations[i]->field;
		const char *desc = st->violations[i]->description;
		const char *at = strstr(field, "spend[");
		char *end;
		unsigned long idx;
		if (at != NULL
		        && (idx = strtoul(at + 6, &end, 10), *end == ']')
		        && idx < run->n) {
			const char *rest = end[1] == '.' ? end + 2 : "spend";
			fprintf(stderr, "  line %lu: %s: %s\n",
			        run->lines[idx], rest, desc);
		} else {
			fprintf(stderr, "  %s: %s\n", field, desc);
		}
	}
}

static void
cmd_spend_clear(struct cmd_spend_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		clm__v1__spend__free_unpacked(run->batch[i], NULL);
	}
	run->n = 0;
}

/* Sends the batch; returns an exit code. */
static int
cmd_spend_send(struct cmd_spend_run *run)
{
	if (run->n == 0) {
		return CLI_OK;
	}
	Clm__V1__RecordSpendRequest q = CLM__V1__RECORD_SPEND_REQUEST__INIT;
	q.n_spend = run->n;
	q.spend = run->batch;
	Clm__V1__Response *resp;
	clm_err e = clm_record_spend(run->cli->conn, &q, &resp);
	int rc;
	if (resp != NULL && e != CLM_OK && resp->status != NULL) {
		cmd_spend_rejected(run, resp->status);
		rc = CLI_ESERVER;
	} else {
		rc = cli_result(run->cli, e, resp);
	}
	if (rc == CLI_OK && resp->record_spend != NULL) {
		run->accepted += resp->record_spend->accepted;
	}
	clm_response_free(resp);
	cmd_spend_clear(run);
	return rc;
}

/* Parses one CSV row into a new Spend; -1 with err set on a bad row. */
static int
cmd_spend_csv_row(const int *col, char **f, int nf, Clm__V1__Spend **out,
        char *err, size_t errlen)
{
	const char *v[SPEND_NCOLS];
	for (int c = 0; c < SPEND_NCOLS; c++) {
		v[c] = col[c] >= 0 && col[c] < nf ? f[col[c]] : "";
	}
	int ch;
	int64_t day;
	double amount;
	if (cli_enum_parse(
	            &clm__v1__channel__descriptor, v[SPEND_CHANNEL], &ch)
	        != 0) {
		snprintf(err, errlen, "channel: unknown channel '%s'",
		        v[SPEND_CHANNEL]);
		return -1;
	}
	if (cli_parse_time(v[SPEND_DAY], &day) != 0) {
		snprintf(err, errlen, "day: invalid date '%s'", v[SPEND_DAY]);
		return -1;
	}
	if (cmd_spend_amount(v[SPEND_AMOUNT], &amount) != 0) {
		snprintf(err, errlen, "amount: invalid number '%s'",
		        v[SPEND_AMOUNT]);
		return -1;
	}
	Clm__V1__Spend *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	clm__v1__spend__init(s);
	s->channel = (Clm__V1__Channel) ch;
	s->day_ms = day;
	s->amount = amount;
	if ((v[SPEND_CURRENCY][0] != '\0'
	            && (s->currency = strdup(v[SPEND_CURRENCY])) == NULL)
	        || (v[SPEND_CAMPAIGN][0] != '\0'
	                && (s->campaign = strdup(v[SPEND_CAMPAIGN]))
	                        == NULL)) {
		clm__v1__spend__free_unpacked(s, NULL);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = s;
	return 0;
}

/* Reads the CSV header into col; returns 0, or -1 (reported). */
static int
cmd_spend_header(const char *path, char **f, int nf, int *col)
{
	for (int c = 0; c < SPEND_NCOLS; c++) {
		col[c] = -1;
	}
	for (int k = 0; k < nf; k++) {
		char name[64];
		cli_csv_name(f[k], name, sizeof(name));
		if (strcmp(name, "day_ms") == 0) {
			strcpy(name, "day");
		}
		int c = 0;
		while (c < SPEND_NCOLS
		        && strcmp(name, cmd_spend_cols[c]) != 0) {
			c++;
		}
		if (c == SPEND_NCOLS) {
			fprintf(stderr,
			        "clm: %s: unknown column '%s' (columns: channel, day, amount, currency, campaign)\n",
			        path, f[k]);
			return -1;
		}
		col[c] = k;
	}
	for (int c = 0; c <= SPEND_AMOUNT; c++) {
		if (col[c] < 0) {
			fprintf(stderr,
			        "clm: %s: the header has no '%s' column\n",
			        path, cmd_spend_cols[c]);
			return -1;
		}
	}
	return 0;
}

static int
cmd_spend_file(struct cli *cli, const char *path)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (in == NULL) {
		fprintf(stderr, "clm: cannot read '%s'\n", path);
		return CLI_EUSAGE;
	}
	struct cmd_spend_run run = { .cli = cli };
	run.batch = calloc(CMD_SPEND_BATCH, sizeof(*run.batch));
	run.lines = calloc(CMD_SPEND_BATCH, sizeof(*run.lines));
	/* quiet: stopped before anything was sent, no summary to print */
	bool quiet = run.batch == NULL || run.lines == NULL;
	int rc = quiet ? CLI_EUSAGE : cli_connect(cli);
	if (quiet) {
		fprintf(stderr, "clm: out of memory\n");
	}
	int col[SPEND_NCOLS];
	struct cli_records recs = { .decided = false };
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	long len;
	while (rc == CLI_OK
	        && (len = cli_read_line(in, &line, &cap, &lineno, NULL))
	                >= 0) {
		char err[256] = "";
		char *f[CMD_SPEND_COLS];
		int nf;
		Clm__V1__Spend *s = NULL;
		ProtobufCMessage *m;
		switch (cli_record(
		        &recs, line, (size_t) len, f, CMD_SPEND_COLS, &nf)) {
		case CLI_RECORD_BLANK:
			continue;
		case CLI_RECORD_HEADER:
			if (cmd_spend_header(path, f, nf, col) != 0) {
				rc = CLI_EUSAGE;
				quiet = true;
			}
			continue;
		case CLI_RECORD_JSON:
			if (pbjson_parse(line, (size_t) len,
			            &clm__v1__spend__descriptor, &m, err,
			            sizeof(err))
			        == 0) {
				s = (Clm__V1__Spend *) m;
			}
			break;
		case CLI_RECORD_ROW:
			cmd_spend_csv_row(col, f, nf, &s, err, sizeof(err));
			break;
		case CLI_RECORD_MALFORMED:
			snprintf(err, sizeof(err), "malformed CSV row");
			break;
		}
		if (s == NULL) {
			fprintf(stderr, "line %lu: %s\n", lineno, err);
			run.bad++;
			continue;
		}
		run.batch[run.n] = s;
		run.lines[run.n++] = lineno;
		if (run.n == CMD_SPEND_BATCH) {
			rc = cmd_spend_send(&run);
		}
	}
	if (rc == CLI_OK) {
		rc = cmd_spend_send(&run);
	}
	if (run.batch != NULL) {
		cmd_spend_clear(&run);
	}
	free(line);
	free(run.batch);
	free(run.lines);
	if (in != stdin) {
		fclose(in);
	}
	if (quiet || rc == CLI_ECONNECT) {
		return rc;
	}
	if (cli->json) {
		Clm__V1__RecordSpendReply r
		        = CLM__V1__RECORD_SPEND_REPLY__INIT;
		r.accepted = (uint32_t) run.accepted;
		cli_print_json_at((const ProtobufCMessage *) &r,
		        clm_last_position(cli->conn));
	} else {
		printf("accepted %lu", run.accepted);
		if (run.bad > 0) {
			printf("; %lu bad line%s skipped", run.bad,
			        run.bad == 1 ? "" : "s");
		}
		printf("\n");
	}
	return rc == CLI_OK && run.bad > 0 ? CLI_EUSAGE : rc;
}

/* Prints the RecordSpendReply m to the call for the one Spend arg. */
static void
cmd_spend_print(const ProtobufCMessage *m, const void *arg)
{
	const Clm__V1__RecordSpendReply *r
	        = (const Clm__V1__RecordSpendReply *) m;
	const Clm__V1__Spend *s = arg;
	char date[32];
	cli_fmt_date(s->day_ms, date);
	printf("accepted %u: %s on %s, %.2f%s%s%s%s\n", r->accepted,
	        cli_enum_name(&clm__v1__channel__descriptor, (int) s->channel),
	        date, s->amount, s->currency[0] ? " " : "", s->currency,
	        s->campaign[0] ? ", campaign " : "", s->campaign);
}

/* args_word_fn: an operand, which the flags cannot come with. */
static int
cmd_spend_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) arg;
	(void) f;
	(void) word;
	return cli_usage_error("spend takes either flags or a FILE, not both");
}

int
cmd_spend(struct cli *cli, int argc, char **argv)
{
	if (argc == 2 && (argv[1][0] != '-' || argv[1][1] == '\0')) {
		return cmd_spend_file(cli, argv[1]);
	}
	if (argc == 1) {
		return cli_usage_error(
		        "spend wants --channel, --day and --amount, or a FILE");
	}
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_spend_operand, NULL)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	const struct args_value *channel = args_get(&a, "--channel");
	const struct args_value *day = args_get(&a, "--day");
	const struct args_value *amount = args_get(&a, "--amount");
	if (!channel->set || !day->set || !amount->set) {
		return cli_usage_error("spend needs --%s",
		        !channel->set       ? "channel"
		                : !day->set ? "day"
		                            : "amount");
	}
	Clm__V1__Spend s = CLM__V1__SPEND__INIT;
	s.channel = (Clm__V1__Channel) channel->n;
	s.day_ms = day->n;
	s.amount = amount->num;
	s.campaign = args_get(&a, "--campaign")->str;
	s.currency = args_get(&a, "--currency")->str;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Spend *one = &s;
	Clm__V1__RecordSpendRequest q = CLM__V1__RECORD_SPEND_REQUEST__INIT;
	q.n_spend = 1;
	q.spend = &one;
	Clm__V1__Response *resp;
	clm_err e = clm_record_spend(cli->conn, &q, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_spend_print, &s);
}
