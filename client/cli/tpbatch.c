/*
 * Touchpoint batches for clm track and clm import; see tpbatch.h.
 */
#include "tpbatch.h"

#include <stdlib.h>
#include <string.h>

int
tpbatch_init(struct tpbatch *b, struct cli *cli, size_t cap,
        tpbatch_reply_fn on_reply, void *arg)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0 || cap > TPBATCH_MAX) {
		return -1;
	}
	b->tps = calloc(cap, sizeof(*b->tps));
	b->lines = calloc(cap, sizeof(*b->lines));
	if (b->tps == NULL || b->lines == NULL) {
		free(b->tps);
		free(b->lines);
		b->tps = NULL;
		b->lines = NULL;
		return -1;
	}
	b->cli = cli;
	b->cap = cap;
	b->on_reply = on_reply;
	b->arg = arg;
	return 0;
}

static void
tpbatch_clear(struct tpbatch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		clm__v1__touchpoint__free_unpacked(b->tps[i], NULL);
	}
	b->n = 0;
}

void
tpbatch_fini(struct tpbatch *b)
{
	if (b->tps != NULL) {
		tpbatch_clear(b);
	}
	free(b->tps);
	free(b->lines);
	b->tps = NULL;
	b->lines = NULL;
}

int
tpbatch_send(struct tpbatch *b, Clm__V1__Touchpoint *const *tps, size_t n,
        const unsigned long *lines)
{
	Clm__V1__Response *resp;
	clm_err e = clm_track(b->cli->conn, tps, n, &resp);
	if (resp == NULL) {
		if (b->before_error != NULL) {
			b->before_error(b->arg);
		}
		return cli_result(b->cli, e, resp);
	}
	const Clm__V1__TrackReply *r = resp->track;
	int rc = CLI_OK;
	if (r != NULL) {
		b->batches++;
		b->accepted += r->accepted;
		b->duplicates += r->duplicates;
		b->rejected += r->n_rejected;
		if (b->on_reply != NULL) {
			b->on_reply(b->arg, e, resp, lines);
		}
	}
	/*
	 * A batch whose every touchpoint was rejected comes back as
	 * INVALID_ARGUMENT with the per-item errors: the server did answer
	 * for each of them, which is not a failure of the call.
	 */
	if (e != CLM_OK && (r == NULL || r->n_rejected == 0)) {
		if (b->before_error != NULL) {
			b->before_error(b->arg);
		}
		rc = cli_result(b->cli, e, resp);
	}
	clm_response_free(resp);
	return rc;
}

int
tpbatch_flush(struct tpbatch *b)
{
	if (b->n == 0) {
		return CLI_OK;
	}
	int rc = tpbatch_send(b, b->tps, b->n, b->lines);
	tpbatch_clear(b);
	return rc;
}

int
tpbatch_add(struct tpbatch *b, Clm__V1__Touchpoint *tp, unsigned long line)
{
	b->tps[b->n] = tp;
	b->lines[b->n++] = line;
	return b->n == b->cap ? tpbatch_flush(b) : CLI_OK;
}

const char *
tpbatch_field(const char *field)
{
	if (strncmp(field, "touchpoints[", 12) == 0) {
		const char *close = strchr(field, ']');
		if (close != NULL && close[1] == '.') {
			return close + 2;
		}
		if (close != NULL && close[1] == '\0') {
			return "touchpoint";
		}
	}
	return field;
}
