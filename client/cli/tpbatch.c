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
tpbatch_free_tps(Clm__V1__Touchpoint **tps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		clm__v1__touchpoint__free_unpacked(tps[i], NULL);
	}
}

static void
tpbatch_clear(struct tpbatch *b)
{
	tpbatch_free_tps(b->tps, b->n);
	b->n = 0;
}

/* Waits until the thread answered the call it was given. */
static void
tpbatch_await(struct tpbatch *b)
{
	pthread_mutex_lock(&b->mu);
	while (!b->answered) {
		pthread_cond_wait(&b->cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
}

void
tpbatch_fini(struct tpbatch *b)
{
	if (b->pipelined) {
		if (b->busy) {
			tpbatch_await(b);
			clm_response_free(b->fly_resp);
			tpbatch_free_tps(b->fly_tps, b->fly_n);
		}
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b->fly_tps);
		free(b->fly_lines);
		b->pipelined = false;
	}
	if (b->tps != NULL) {
		tpbatch_clear(b);
	}
	free(b->tps);
	free(b->lines);
	b->tps = NULL;
	b->lines = NULL;
}

/*
 * Takes in what a call of the touchpoints of lines[0..n) answered (resp,
 * freed here, or NULL): counts it, shows it, and returns tpbatch_send's
 * exit code.
 */
static int
tpbatch_answer(struct tpbatch *b, clm_err e, Clm__V1__Response *resp,
        const unsigned long *lines, size_t n)
{
	int rc = CLI_OK;
	if (resp == NULL) {
		if (b->before_error != NULL) {
			b->before_error(b->arg);
		}
		rc = cli_result(b->cli, e, resp);
	} else {
		const Clm__V1__TrackReply *r = resp->track;
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
		 * INVALID_ARGUMENT with the per-item errors: the server did
		 * answer for each of them, which is not a failure of the
		 * call.
		 */
		if (e != CLM_OK && (r == NULL || r->n_rejected == 0)) {
			if (b->before_error != NULL) {
				b->before_error(b->arg);
			}
			rc = cli_result(b->cli, e, resp);
		}
		clm_response_free(resp);
	}
	if (rc != CLI_OK && b->failed_from == 0 && lines != NULL && n > 0) {
		b->failed_from = lines[0];
	}
	return rc;
}

int
tpbatch_send(struct tpbatch *b, Clm__V1__Touchpoint *const *tps, size_t n,
        const unsigned long *lines)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(b->cli->conn, tps, n, &resp);
	return tpbatch_answer(b, e, resp, lines, n);
}

/* The pipeline's thread: makes each call it is given. */
static void *
tpbatch_main(void *arg)
{
	struct tpbatch *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->stop && !(b->busy && !b->answered)) {
			pthread_cond_wait(&b->cv, &b->mu);
		}
		if (b->stop) {
			break;
		}
		pthread_mutex_unlock(&b->mu);
		Clm__V1__Response *resp = NULL;
		clm_err e
		        = clm_track(b->cli->conn, b->fly_tps, b->fly_n, &resp);
		pthread_mutex_lock(&b->mu);
		b->fly_e = e;
		b->fly_resp = resp;
		b->answered = true;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int
tpbatch_pipeline(struct tpbatch *b)
{
	b->fly_tps = calloc(b->cap, sizeof(*b->fly_tps));
	b->fly_lines = calloc(b->cap, sizeof(*b->fly_lines));
	if (b->fly_tps == NULL || b->fly_lines == NULL) {
		goto fail;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->busy = b->answered = b->stop = false;
	if (pthread_create(&b->thread, NULL, tpbatch_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		goto fail;
	}
	b->pipelined = true;
	return 0;
fail:
	free(b->fly_tps);
	free(b->fly_lines);
	b->fly_tps = NULL;
	b->fly_lines = NULL;
	return -1;
}

/* Waits for the call in flight, if any, and takes in its answer. */
static int
tpbatch_collect(struct tpbatch *b)
{
	if (!b->busy) {
		return CLI_OK;
	}
	tpbatch_await(b);
	pthread_mutex_lock(&b->mu);
	b->busy = false;
	b->answered = false;
	pthread_mutex_unlock(&b->mu);
	int rc = tpbatch_answer(
	        b, b->fly_e, b->fly_resp, b->fly_lines, b->fly_n);
	b->fly_resp = NULL;
	tpbatch_free_tps(b->fly_tps, b->fly_n);
	b->fly_n = 0;
	return rc;
}

/*
 * Gives the batch being filled to the pipeline's thread, once the call
 * before it is answered (and only if that one did not fail).
 */
static int
tpbatch_post(struct tpbatch *b)
{
	int rc = tpbatch_collect(b);
	if (rc != CLI_OK || b->n == 0) {
		return rc;
	}
	Clm__V1__Touchpoint **tps = b->fly_tps;
	unsigned long *lines = b->fly_lines;
	b->fly_tps = b->tps;
	b->fly_lines = b->lines;
	b->fly_n = b->n;
	b->tps = tps;
	b->lines = lines;
	b->n = 0;
	pthread_mutex_lock(&b->mu);
	b->busy = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return CLI_OK;
}

int
tpbatch_flush(struct tpbatch *b)
{
	if (b->pipelined) {
		int rc = tpbatch_post(b);
		return rc != CLI_OK ? rc : tpbatch_collect(b);
	}
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
	if (b->n < b->cap) {
		return CLI_OK;
	}
	return b->pipelined ? tpbatch_post(b) : tpbatch_flush(b);
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
