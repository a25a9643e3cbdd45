/*
 * httpd_stream: streamed responses (httpd.h, "A streamed response").
 *
 * A stream has two aios: the connection's own sends what is queued
 * (state HTTPD_STREAM), and a second one, raio, receives and drops what
 * the client sends; raio's timeout is the heartbeat, so the same receive
 * notices the client's end at once and ticks every heartbeat_ms. The
 * ticks keep to a clock (beat_ns, the next one's due time), not to the
 * receive: a receive that completes with bytes re-arms with what is left
 * until beat_ns, and one completing past it ticks, so a client sending
 * bytes more often than heartbeat_ms neither stops the heartbeats nor
 * escapes the stall rule.
 *
 * Bytes written wait in out; a send takes all of out at once (swapped
 * into fly), so a write never waits for the network and never copies
 * more than once. Unsent bytes (out plus what of fly is not yet sent)
 * are bounded by max_unsent.
 *
 * Ending: the first failure, the client's end, a slow reader or
 * httpd_close sets ending and closes the nng stream, which fails
 * whatever aio is pending; every aio's callback counts itself out
 * (pending), and the one that finds none left calls the owner's end and
 * then httpd_conn_end. No aio is started once ending is set, and every
 * start checks httpd_close's flag under d->mu, as
 * httpd_conn_send_reply does, since nng 1.5 queues an operation on a
 * closed TCP stream instead of failing it. Lock order: the owner's
 * locks, then st->mu, then d->mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpd_internal.h"
#include "net/httpd_msg.h"
#include "util/clock.h"

/* Heartbeats in a row without a byte sent before a reader counts slow. */
#define HTTPD_STREAM_STALL_BEATS 4

struct httpd_stream {
	pthread_mutex_t mu;
	struct httpd_stream_conf conf;
	nng_aio *raio;
	char rbuf[512];
	char *out; /* queued: [0, out_len) */
	size_t out_len, out_cap;
	char *fly; /* being sent: [fly_off, fly_len) */
	size_t fly_len, fly_cap, fly_off;
	bool started, sending, ending, slow;
	bool progress;   /* bytes went out since the last heartbeat */
	int stalls;      /* heartbeats in a row with a send and no progress */
	int pending;     /* aios started and not yet called back */
	int64_t beat_ns; /* clock_mono_ns when the next heartbeat is due */
};

void
httpd_stream_free(struct httpd_stream *st)
{
	if (st == NULL) {
		return;
	}
	/* Reaped: this may run in raio's own callback. */
	nng_aio_reap(st->raio);
	pthread_mutex_destroy(&st->mu);
	free(st->out);
	free(st->fly);
	free(st);
}

/* Appends len bytes of p to out; false past max_unsent or out of memory. */
static bool
httpd_stream_queue(struct httpd_stream *st, const char *p, size_t len)
{
	size_t unsent = st->out_len + (st->fly_len - st->fly_off);
	if (unsent + len > st->conf.max_unsent) {
		return false;
	}
	if (st->out_len + len > st->out_cap) {
		size_t cap = st->out_cap > 0 ? st->out_cap : 4096;
		while (cap < st->out_len + len) {
			cap *= 2;
		}
		char *b = realloc(st->out, cap);
		if (b == NULL) {
			return false;
		}
		st->out = b;
		st->out_cap = cap;
	}
	memcpy(st->out + st->out_len, p, len);
	st->out_len += len;
	return true;
}

/* Ends c's stream: closing the nng stream fails its pending aios. Mu. */
static void
httpd_stream_fail(struct httpd_conn *c, bool slow)
{
	struct httpd_stream *st = c->st;
	if (!st->ending) {
		st->ending = true;
		st->slow = slow;
		nng_stream_close(c->s);
	}
}

/*
 * Starts aio's operation (a send on c's aio, else a receive on raio) on
 * c's stream, unless httpd_close has begun: then c fails. Under st->mu.
 */
static void
httpd_stream_post(struct httpd_conn *c, bool send)
{
	struct httpd_stream *st = c->st;
	httpd *d = c->d;
	pthread_mutex_lock(&d->mu);
	bool closing = d->closing;
	if (!closing && send) {
		nng_iov iov = { .iov_buf = st->fly + st->fly_off,
			.iov_len = st->fly_len - st->fly_off };
		nng_aio_set_iov(c->aio, 1, &iov);
		nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
		c->state = HTTPD_STREAM;
		st->pending++;
		nng_stream_send(c->s, c->aio);
	} else if (!closing) {
		nng_iov iov
		        = { .iov_buf = st->rbuf, .iov_len = sizeof(st->rbuf) };
		/* Until the heartbeat is due: 1 ms to heartbeat_ms. */
		int64_t left = (st->beat_ns - clock_mono_ns()) / 1000000;
		left = left < 1 ? 1 : left;
		left = left > st->conf.heartbeat_ms ? st->conf.heartbeat_ms
		                                    : left;
		nng_aio_set_iov(st->raio, 1, &iov);
		nng_aio_set_timeout(st->raio, (nng_duration) left);
		st->pending++;
		nng_stream_recv(c->s, st->raio);
	}
	pthread_mutex_unlock(&d->mu);
	if (closing) {
		httpd_stream_fail(c, false);
	}
}

/* Sends what is queued, when no send is under way. Under st->mu. */
static void
httpd_stream_flush(struct httpd_conn *c)
{
	struct httpd_stream *st = c->st;
	if (!st->started || st->sending || st->ending || st->out_len == 0) {
		return;
	}
	char *b = st->fly;
	size_t cap = st->fly_cap;
	st->fly = st->out;
	st->fly_cap = st->out_cap;
	st->fly_len = st->out_len;
	st->fly_off = 0;
	st->out = b;
	st->out_cap = cap;
	st->out_len = 0;
	st->sending = true;
	httpd_stream_post(c, true);
}

/*
 * Called with st->mu held after an aio was counted out: when the stream
 * is ending and no aio is left, unlocks, tells the owner and ends c.
 * Always unlocks st->mu.
 */
static void
httpd_stream_unlock(struct httpd_conn *c)
{
	struct httpd_stream *st = c->st;
	bool done = st->ending && st->pending == 0;
	bool slow = st->slow;
	pthread_mutex_unlock(&st->mu);
	if (done) {
		st->conf.end(st->conf.arg, slow);
		httpd_conn_end(c);
	}
}

/*
 * A heartbeat is due: counts a stall (a send under way and no byte of it
 * taken since the last heartbeat), ends a stream stalled too long, else
 * queues the heartbeat text, sends it and re-arms raio. Under st->mu.
 */
static void
httpd_stream_beat(struct httpd_conn *c)
{
	struct httpd_stream *st = c->st;
	st->beat_ns = clock_mono_ns() + st->conf.heartbeat_ms * 1000000;
	st->stalls = st->sending && !st->progress ? st->stalls + 1 : 0;
	st->progress = false;
	const char *hb = st->conf.heartbeat;
	if (st->stalls >= HTTPD_STREAM_STALL_BEATS
	        || !httpd_stream_queue(st, hb, strlen(hb))) {
		httpd_stream_fail(c, true);
	} else {
		httpd_stream_flush(c);
		httpd_stream_post(c, false);
	}
}

/* raio's callback: the client sent bytes, ended, or a heartbeat is due. */
static void
httpd_stream_recv_cb(void *arg)
{
	struct httpd_conn *c = arg;
	struct httpd_stream *st = c->st;
	int rv = nng_aio_result(st->raio);
	size_t n = nng_aio_count(st->raio);
	pthread_mutex_lock(&st->mu);
	st->pending--;
	if (st->ending) {
		httpd_stream_unlock(c);
		return;
	}
	if (rv == NNG_ETIMEDOUT
	        || (rv == 0 && n > 0 && clock_mono_ns() >= st->beat_ns)) {
		httpd_stream_beat(c);
	} else if (rv == 0 && n > 0) {
		httpd_stream_post(c, false);
	} else {
		httpd_stream_fail(c, false);
	}
	httpd_stream_unlock(c);
}

void
httpd_stream_cb(struct httpd_conn *c, int rv, size_t n)
{
	struct httpd_stream *st = c->st;
	pthread_mutex_lock(&st->mu);
	if (c->state == HTTPD_STREAM_START) {
		st->started = true;
		if (!st->ending) {
			httpd_stream_post(c, false);
			httpd_stream_flush(c);
		}
		httpd_stream_unlock(c);
		return;
	}
	st->pending--;
	if (rv != 0) {
		st->sending = false;
		httpd_stream_fail(c, false);
	} else {
		st->fly_off += n;
		st->progress = st->progress || n > 0;
		if (st->fly_off < st->fly_len && !st->ending) {
			httpd_stream_post(c, true);
		} else {
			st->sending = false;
			httpd_stream_flush(c);
		}
	}
	httpd_stream_unlock(c);
}

clm_err
httpd_stream_begin(httpd_conn *c, const struct httpd_res *res,
        const struct httpd_stream_conf *sc)
{
	struct httpd_stream *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (nng_aio_alloc(&st->raio, httpd_stream_recv_cb, c) != 0) {
		free(st);
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->conf = *sc;
	st->conf.max_unsent += HTTPD_RES_HEAD;
	st->beat_ns = clock_mono_ns() + st->conf.heartbeat_ms * 1000000;
	char head[HTTPD_RES_HEAD];
	size_t cap = sizeof(head);
	int n = snprintf(head, cap, "HTTP/1.1 %d %s\r\n", res->status,
	        res->reason != NULL ? res->reason
	                            : httpd_msg_reason(res->status));
	for (size_t i = 0; i < res->n_headers && n > 0 && (size_t) n < cap;
	        i++) {
		n += snprintf(head + n, cap - (size_t) n, "%s: %s\r\n",
		        res->headers[i].name, res->headers[i].value);
	}
	if (n > 0 && (size_t) n < cap) {
		n += snprintf(head + n, cap - (size_t) n,
		        "Connection: close\r\n\r\n");
	}
	if (n <= 0 || (size_t) n >= cap
	        || !httpd_stream_queue(st, head, (size_t) n)) {
		httpd_stream_free(st);
		return CLM_RESOURCE_EXHAUSTED;
	}
	c->close = true;
	c->st = st;
	return CLM_OK;
}

void
httpd_stream_start(httpd_conn *c)
{
	c->state = HTTPD_STREAM_START;
	httpd_conn_wake(c);
}

bool
httpd_stream_write(httpd_conn *c, const char *p, size_t len)
{
	struct httpd_stream *st = c->st;
	pthread_mutex_lock(&st->mu);
	bool ok = !st->ending;
	if (ok && !httpd_stream_queue(st, p, len)) {
		httpd_stream_fail(c, true);
		ok = false;
	}
	if (ok) {
		httpd_stream_flush(c);
	}
	pthread_mutex_unlock(&st->mu);
	return ok;
}
