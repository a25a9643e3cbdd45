/*
 * clm import FILE [--format csv|ndjson] [--batch N]: load touchpoints from
 * a file ("-" = stdin) in batched Track calls.
 *
 * NDJSON is one clm.v1.Touchpoint in proto3 JSON a line, as `clm track`
 * reads; CSV has a header naming Touchpoint fields (tpcsv.h). The format
 * comes from --format, else the extension (.csv; .ndjson, .jsonl, .json),
 * else the first non-blank character ('{' is NDJSON).
 *
 * A line that does not parse is counted as rejected, with its number, as
 * are the touchpoints the server rejects: neither stops the import. The
 * customer line `clm export` writes is skipped (and counted), so an
 * export imports again as it is. It
 * stops at a server error (exit 1) or a lost connection (exit 3); what was
 * acknowledged before stays recorded, and importing the file again is
 * harmless for touchpoints with an event_id (they count as duplicates).
 *
 * With --json the result is one TrackReply: the totals, and in `rejected`
 * every rejected line, its `index` being the line number in the file.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "pbjson.h"
#include "tpbatch.h"
#include "tpcsv.h"

#define CMD_IMPORT_BATCH   1000
#define CMD_IMPORT_SHOWN   10 /* rejected lines listed on stderr */
#define CMD_IMPORT_BAR     24
#define CMD_IMPORT_DRAW_NS 100000000LL /* progress redrawn every 0.1 s */

/* One rejected line: its number and why. */
struct cmd_import_reject {
	unsigned long line;
	char *reason;
};

struct cmd_import {
	struct cli *cli;
	/* Rejected lines: all of them with --json, else the first few. */
	struct cmd_import_reject *rejects;
	size_t n_rejects, cap_rejects;
	unsigned long n_bad;       /* lines that did not parse */
	unsigned long n_customers; /* export's customer lines, skipped */
	/* Progress on stderr (when it is a terminal). */
	bool progress, unicode;
	unsigned long long size, bytes; /* size 0: unknown */
	unsigned long lines;
	struct timespec start, drawn;
};

static int64_t
cmd_import_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t) (b->tv_sec - a->tv_sec) * 1000000000LL
	        + (b->tv_nsec - a->tv_nsec);
}

static void
cmd_import_clear_progress(struct cmd_import *im)
{
	if (im->progress) {
		fputs("\r\033[K", stderr);
	}
}

/* tpbatch hook: a failed call's error is not printed over the progress. */
static void
cmd_import_before_error(void *arg)
{
	cmd_import_clear_progress(arg);
}

static void
cmd_import_draw(struct cmd_import *im)
{
	if (!im->progress) {
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cmd_import_ns(&im->drawn, &now) < CMD_IMPORT_DRAW_NS) {
		return;
	}
	im->drawn = now;
	double secs = (double) cmd_import_ns(&im->start, &now) / 1e9;
	double mib = (double) im->bytes / (1024.0 * 1024.0);
	fputs("\r", stderr);
	if (im->size > 0) {
		double frac = (double) im->bytes / (double) im->size;
		fputc('[', stderr);
		cli_bar(stderr, frac, CMD_IMPORT_BAR, im->unicode);
		fprintf(stderr, "] %3.0f%%  %lu lines  %.1f/%.1f MiB",
		        frac > 1 ? 100.0 : frac * 100.0, im->lines, mib,
		        (double) im->size / (1024.0 * 1024.0));
	} else {
		fprintf(stderr, "%lu lines  %.1f MiB read", im->lines, mib);
	}
	if (secs > 0.05) {
		fprintf(stderr, "  %.0f lines/s", (double) im->lines / secs);
	}
	fputs("\033[K", stderr);
	fflush(stderr);
}

static int
cmd_import_cmp(const void *a, const void *b)
{
	const struct cmd_import_reject *x = a, *y = b;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Notes a rejected line. Without --json only the CMD_IMPORT_SHOWN lowest
 * line numbers are kept (they are listed at the end).
 */
static void
cmd_import_reject(struct cmd_import *im, unsigned long line, const char *why)
{
	if (!im->cli->json && im->n_rejects == CMD_IMPORT_SHOWN) {
		struct cmd_import_reject *last
		        = &im->rejects[im->n_rejects - 1];
		if (line > last->line) {
			return;
		}
		free(last->reason);
		im->n_rejects--;
	}
	if (im->n_rejects == im->cap_rejects) {
		size_t cap = im->cap_rejects ? im->cap_rejects * 2 : 16;
		struct cmd_import_reject *r
		        = realloc(im->rejects, cap * sizeof(*r));
		if (r == NULL) {
			return; /* counted, not listed */
		}
		im->rejects = r;
		im->cap_rejects = cap;
	}
	char *reason = strdup(why);
	if (reason == NULL) {
		return;
	}
	im->rejects[im->n_rejects].line = line;
	im->rejects[im->n_rejects++].reason = reason;
	if (!im->cli->json) {
		qsort(im->rejects, im->n_rejects, sizeof(*im->rejects),
		        cmd_import_cmp);
	}
}

/* tpbatch callback: notes the touchpoints the server rejected. */
static void
cmd_import_reply(void *arg, clm_err e, const Clm__V1__Response *resp,
        const unsigned long *lines)
{
	(void) e;
	struct cmd_import *im = arg;
	const Clm__V1__TrackReply *r = resp->track;
	for (size_t i = 0; i < r->n_rejected; i++) {
		const Clm__V1__ItemError *ie = r->rejected[i];
		const Clm__V1__Status *st = ie->status;
		char why[512] = "rejected";
		if (st != NULL && st->n_violations > 0) {
			snprintf(why, sizeof(why), "%s: %s",
			        tpbatch_field(st->violations[0]->field),
			        st->violations[0]->description);
		} else if (st != NULL && st->message[0] != '\0') {
			snprintf(why, sizeof(why), "%s", st->message);
		}
		cmd_import_reject(im, lines[ie->index], why);
	}
}

static void
cmd_import_free(struct cmd_import *im)
{
	for (size_t i = 0; i < im->n_rejects; i++) {
		free(im->rejects[i].reason);
	}
	free(im->rejects);
}

/* The --json result: one TrackReply, rejected lines by line number. */
static void
cmd_import_json(struct cmd_import *im, const struct tpbatch *b)
{
	if (im->n_rejects > 1) { /* qsort(NULL, 0) is undefined */
		qsort(im->rejects, im->n_rejects, sizeof(*im->rejects),
		        cmd_import_cmp);
	}
	Clm__V1__TrackReply r = CLM__V1__TRACK_REPLY__INIT;
	r.accepted = (uint32_t) b->accepted;
	r.duplicates = (uint32_t) b->duplicates;
	Clm__V1__ItemError *ie = calloc(im->n_rejects + 1, sizeof(*ie));
	Clm__V1__ItemError **iep = calloc(im->n_rejects + 1, sizeof(*iep));
	Clm__V1__Status *st = calloc(im->n_rejects + 1, sizeof(*st));
	if (ie != NULL && iep != NULL && st != NULL) {
		for (size_t i = 0; i < im->n_rejects; i++) {
			clm__v1__item_error__init(&ie[i]);
			clm__v1__status__init(&st[i]);
			st[i].code = CLM__V1__CODE__INVALID_ARGUMENT;
			st[i].message = im->rejects[i].reason;
			ie[i].index = (uint32_t) im->rejects[i].line;
			ie[i].status = &st[i];
			iep[i] = &ie[i];
		}
		r.n_rejected = im->n_rejects;
		r.rejected = iep;
	}
	/* The last batch's: every line accepted is in the view by then. */
	cli_print_json_at((const ProtobufCMessage *) &r,
	        clm_last_position(im->cli->conn));
	free(ie);
	free(iep);
	free(st);
}

static void
cmd_import_summary(struct cmd_import *im, const struct tpbatch *b)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	unsigned long rejected = b->rejected + im->n_bad;
	for (size_t i = 0; i < im->n_rejects; i++) {
		fprintf(stderr, "line %lu: %s\n", im->rejects[i].line,
		        im->rejects[i].reason);
	}
	if (rejected > im->n_rejects) {
		fprintf(stderr, "... and %lu more rejected line%s\n",
		        rejected - im->n_rejects,
		        rejected - im->n_rejects == 1 ? "" : "s");
	}
	printf("accepted %lu, duplicates %lu, rejected %lu", b->accepted,
	        b->duplicates, rejected);
	if (im->n_customers > 0) {
		printf(", customer lines skipped %lu", im->n_customers);
	}
	printf(" (%lu lines in %.1f s)\n", im->lines,
	        (double) cmd_import_ns(&im->start, &now) / 1e9);
}

/* The format from the name's extension: 1 CSV, 0 NDJSON, -1 unknown. */
static int
cmd_import_ext(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot == NULL || strchr(dot, '/') != NULL) {
		return -1;
	}
	if (strcmp(dot, ".csv") == 0 || strcmp(dot, ".CSV") == 0) {
		return 1;
	}
	if (strcmp(dot, ".ndjson") == 0 || strcmp(dot, ".jsonl") == 0
	        || strcmp(dot, ".json") == 0) {
		return 0;
	}
	return -1;
}

/*
 * Reads the file and sends its touchpoints; returns the exit code.
 * csv: 1 CSV, 0 NDJSON, -1 decided by the first non-blank line.
 */
static int
cmd_import_run(struct cmd_import *im, struct tpbatch *b, FILE *in,
        const char *path, int csv)
{
	struct tpcsv hdr = { 0 };
	bool header = false;
	char *line = NULL;
	size_t cap = 0;
	long len;
	int rc = CLI_OK;
	while (rc == CLI_OK
	        && (len = cli_read_line(
	                    in, &line, &cap, &im->lines, &im->bytes))
	                >= 0) {
		if ((im->lines & 63) == 0) {
			cmd_import_draw(im);
		}
		if (len == 0) {
			continue;
		}
		if (csv < 0) {
			csv = line[0] != '{';
		}
		char err[512] = "";
		Clm__V1__Touchpoint *tp = NULL;
		if (!csv) {
			ProtobufCMessage *m;
			if (pbjson_parse(line, (size_t) len,
			            &clm__v1__touchpoint__descriptor, &m, err,
			            sizeof(err))
			        == 0) {
				tp = (Clm__V1__Touchpoint *) m;
			}
		} else {
			char *f[TPCSV_MAX_COLS];
			int nf = cli_csv_split(line, f, TPCSV_MAX_COLS);
			if (!header) {
				header = true;
				if (nf < 0) {
					snprintf(err, sizeof(err),
					        "malformed CSV header");
				}
				if (nf < 0
				        || tpcsv_header(&hdr, f, nf, err,
				                   sizeof(err))
				                != 0) {
					cmd_import_clear_progress(im);
					fprintf(stderr,
					        "clm: %s: line %lu: %s\n",
					        path, im->lines, err);
					rc = CLI_EUSAGE;
				}
				continue;
			}
			if (nf < 0) {
				snprintf(err, sizeof(err),
				        "malformed CSV row (a quote not closed, or over %d fields)",
				        TPCSV_MAX_COLS);
			} else {
				tpcsv_row(&hdr, f, nf, &tp, err, sizeof(err));
			}
		}
		if (tp == NULL && !csv
		        && cli_is_customer_line(line, (size_t) len)) {
			im->n_customers++;
			continue;
		}
		if (tp == NULL) {
			im->n_bad++;
			cmd_import_reject(im, im->lines, err);
			continue;
		}
		rc = tpbatch_add(b, tp, im->lines);
	}
	cmd_import_clear_progress(im);
	if (rc == CLI_OK) {
		rc = tpbatch_flush(b);
	}
	if (rc == CLI_ESERVER || rc == CLI_ECONNECT) {
		fprintf(stderr,
		        "clm: stopped at line %lu; the batch from line %lu on may not be recorded (importing again is safe for touchpoints with an event_id)\n",
		        im->lines, b->failed_from);
	}
	tpcsv_fini(&hdr);
	free(line);
	return rc;
}

/* What the command line asks for, besides --batch. */
struct cmd_import_args {
	const char *path;
	int csv; /* 1 CSV, 0 NDJSON, -1 not said */
};

/* args_word_fn: the one FILE, and --format. */
static int
cmd_import_word(void *arg, const struct cmdtab_flag *f, char *word)
{
	struct cmd_import_args *ia = arg;
	if (f == NULL) {
		if (ia->path != NULL) {
			return cli_usage_error("import takes one FILE");
		}
		ia->path = word;
	} else if (strcmp(word, "csv") == 0) {
		ia->csv = 1;
	} else if (strcmp(word, "ndjson") == 0 || strcmp(word, "json") == 0) {
		ia->csv = 0;
	} else {
		return cli_usage_error(
		        "--format wants csv or ndjson, not '%s'", word);
	}
	return CLI_OK;
}

int
cmd_import(struct cli *cli, int argc, char **argv)
{
	struct cmd_import_args ia = { .path = NULL, .csv = -1 };
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_import_word, &ia)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (ia.path == NULL) {
		return cli_usage_error("import wants a FILE (- for stdin)");
	}
	const struct args_value *batch = args_get(&a, "--batch");
	bool is_stdin = strcmp(ia.path, "-") == 0;
	FILE *in = is_stdin ? stdin : fopen(ia.path, "r");
	if (in == NULL) {
		fprintf(stderr, "clm: cannot read '%s'\n", ia.path);
		return CLI_EUSAGE;
	}
	if (ia.csv < 0 && !is_stdin) {
		ia.csv = cmd_import_ext(ia.path);
	}
	struct cmd_import im = { .cli = cli };
	im.progress = isatty(STDERR_FILENO);
	im.unicode = cli_utf8_tty(STDERR_FILENO);
	struct stat st;
	if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
		im.size = (unsigned long long) st.st_size;
	}
	clock_gettime(CLOCK_MONOTONIC, &im.start);
	int rc = cli_connect(cli);
	struct tpbatch b;
	if (rc == CLI_OK
	        && tpbatch_init(&b, cli,
	                   batch->set ? (size_t) batch->n : CMD_IMPORT_BATCH,
	                   cmd_import_reply, &im)
	                != 0) {
		fprintf(stderr, "clm: out of memory\n");
		rc = CLI_EUSAGE;
	} else if (rc == CLI_OK) {
		b.before_error = cmd_import_before_error;
		/* Parse the next batch while clmd applies this one. */
		(void) tpbatch_pipeline(&b);
		rc = cmd_import_run(&im, &b, in, ia.path, ia.csv);
		if (rc != CLI_EUSAGE) {
			if (cli->json) {
				cmd_import_json(&im, &b);
			} else {
				cmd_import_summary(&im, &b);
			}
		}
		tpbatch_fini(&b);
	}
	cmd_import_free(&im);
	if (in != stdin) {
		fclose(in);
	}
	return rc;
}
