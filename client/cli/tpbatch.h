/*
 * Touchpoints sent to clmd in batches of Track calls: shared by `clm track`
 * (NDJSON on stdin) and `clm import` (NDJSON or CSV files).
 *
 * A tpbatch collects touchpoints with the input line each came from, sends
 * a Track call when the batch is full (or on tpbatch_flush), and adds up
 * what the server answered. What to print about each reply is the
 * caller's: its on_reply callback sees every reply (lines[i] is the input
 * line of touchpoint i of the batch, so an ItemError's index maps back to
 * its line).
 */
#ifndef CLM_CLI_TPBATCH_H
#define CLM_CLI_TPBATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* The most touchpoints one Track call may carry (docs/api.md "Limits"). */
#define TPBATCH_MAX 10000

/*
 * Called with each reply that holds a TrackReply: e is the call's status
 * (not CLM_OK when every touchpoint of the batch was rejected), lines maps
 * batch indexes to input lines (NULL when the caller gave none).
 */
typedef void (*tpbatch_reply_fn)(void *arg, clm_err e,
        const Clm__V1__Response *resp, const unsigned long *lines);

struct tpbatch {
	struct cli *cli;
	/* Called (when set) before an error of a call is printed. */
	void (*before_error)(void *arg);
	Clm__V1__Touchpoint **tps; /* owned, freed with free_unpacked */
	unsigned long *lines;
	size_t n, cap;
	tpbatch_reply_fn on_reply;
	void *arg;
	/* Totals over every reply. */
	unsigned long accepted, duplicates, rejected;
	unsigned long batches; /* Track calls answered */
	/* The first input line of the batch whose call failed (0: none). */
	unsigned long failed_from;
	/*
	 * Pipelined (tpbatch_pipeline): a thread of its own makes the call
	 * of one batch (fly_*) while the caller fills the next; what the
	 * call answered is taken in (counted, on_reply, errors printed) on
	 * the caller's thread before the next one is sent.
	 */
	bool pipelined, busy, answered, stop;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	Clm__V1__Touchpoint **fly_tps;
	unsigned long *fly_lines;
	size_t fly_n;
	clm_err fly_e;
	Clm__V1__Response *fly_resp;
};

/*
 * tpbatch_init prepares b to send batches of cap (1..TPBATCH_MAX)
 * touchpoints over cli->conn (already connected). Returns 0, or -1 when
 * memory is exhausted.
 */
int tpbatch_init(struct tpbatch *b, struct cli *cli, size_t cap,
        tpbatch_reply_fn on_reply, void *arg);

/*
 * tpbatch_pipeline makes b send each full batch from a thread of its own
 * while the caller reads the next (clm import: the server applies one
 * batch while the CLI parses the next, instead of each waiting for the
 * other). The batches still go one at a time, in order, over one
 * connection; a failed call stops it as before: tpbatch_add or
 * tpbatch_flush returns its error when the caller next sends, and nothing
 * after that batch is sent. Returns 0, or -1 (b stays as it was) when
 * memory or a thread is refused.
 */
int tpbatch_pipeline(struct tpbatch *b);

/*
 * tpbatch_fini waits for a call in flight, then frees the touchpoints not
 * sent and the batch itself.
 */
void tpbatch_fini(struct tpbatch *b);

/*
 * tpbatch_add takes ownership of tp (laid out as protobuf_c_message_unpack
 * would: it is freed with free_unpacked) read from input line `line`, and
 * sends the batch when it is full. Returns what tpbatch_send returned, or
 * CLI_OK when nothing was sent.
 */
int tpbatch_add(
        struct tpbatch *b, Clm__V1__Touchpoint *tp, unsigned long line);

/*
 * tpbatch_flush sends what is pending and waits until every call made is
 * answered; see tpbatch_send.
 */
int tpbatch_flush(struct tpbatch *b);

/*
 * tpbatch_send sends tps[0..n) in one Track call (ownership stays with the
 * caller) and adds the reply's counts to b. Returns CLI_OK when the server
 * answered with a TrackReply, even one rejecting every touchpoint;
 * CLI_ESERVER when it returned another error (printed); CLI_ECONNECT when
 * no reply came (printed).
 */
int tpbatch_send(struct tpbatch *b, Clm__V1__Touchpoint *const *tps, size_t n,
        const unsigned long *lines);

/*
 * tpbatch_field strips the "touchpoints[N]." prefix the server puts on a
 * violation's field name, which means nothing to someone reading a file.
 */
const char *tpbatch_field(const char *field);

#endif /* CLM_CLI_TPBATCH_H */
