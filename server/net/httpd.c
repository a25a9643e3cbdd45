/*
 * httpd: HTTP/1.1 on nng byte streams (httpd.h). The only file that
 * includes nng for HTTP.
 *
 * Each connection is a struct httpd_conn with one aio and one callback,
 * httpd_conn_cb, which switches on the state the aio was started in:
 *
 *   RECV   bytes arrived (or the deadline passed): parse what is whole,
 *          hand a complete request to the handler and send its reply, or
 *          receive more;
 *   CONTINUE  the "100 Continue" of a request with `Expect: 100-continue`
 *          went out: receive its body;
 *   WAIT   the handler deferred the request: httpd_resume or httpd_reply
 *          finished the aio by hand (nng_aio_begin + nng_aio_finish, as
 *          rpc.c wakes a work item after a write), so the callback runs
 *          the owner's next step, or sends the reply it formatted;
 *   SEND   part of a reply went out: send the rest, or go back to RECV
 *          (keep-alive; bytes already received start the next request)
 *          or close (Connection: close, HTTP/1.0), or DRAIN;
 *   DRAIN  after one of httpd's own refusals (an error, or the 503 of a
 *          connection past the cap): read and drop what the client still
 *          sends, until it closes or for HTTPD_DRAIN_MS, then close.
 *          Closing a socket with unread input makes the kernel send a
 *          reset, which can destroy the refusal before the client reads
 *          it.
 *   STREAM_START, STREAM  a streamed response (httpd_stream_begin):
 *          httpd_stream.c's callback runs instead (httpd_stream_cb).
 *
 * Timeouts are the aio's own: each receive gets the time left until the
 * connection's deadline (nng_aio_set_timeout), so a request sent one byte
 * at a time still ends at request_ms, and a receive on an idle connection
 * ends at idle_ms. The deadline is set when a request's first byte
 * arrives (or is already there, pipelined) and when a reply has gone out.
 *
 * A connection frees itself, from its callback, when it ends (nng reaps
 * the aio and the stream later). httpd_close closes every stream, so each
 * pending aio fails and its callback ends the connection, and waits until
 * none is left; a connection that would start an operation after that
 * ends instead (httpd_conn_start).
 */
#include "net/httpd.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/httpd_internal.h"
#include "net/httpd_msg.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"

/* The interim reply to `Expect: 100-continue`. */
static const char httpd_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

int64_t
httpd_now_ms(void)
{
	return clock_mono_ns() / 1000000;
}

/* ---- connections ---- */

static void httpd_conn_cb(void *arg);

void
httpd_conn_end(struct httpd_conn *c)
{
	httpd *d = c->d;
	pthread_mutex_lock(&d->mu);
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		d->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	if (c->counted) {
		d->n_counted--;
		telemetry_conn_open(
		        d->conf.tm, TELEMETRY_LISTENER_HTTP, d->n_counted);
	} else {
		d->n_refusing--;
	}
	/* A slot is free again: take the next connection off the backlog. */
	bool resume = d->accept_paused && !d->closing;
	d->accept_paused = false;
	pthread_mutex_unlock(&d->mu);
	nng_stream_close(c->s);
	nng_stream_free(c->s);
	if (resume) {
		nng_stream_listener_accept(d->l, d->accept);
	}
	nng_aio_reap(c->aio);
	httpd_stream_free(c->st);
	free(c->res_free);
	free(c->path);
	free(c->buf);
	free(c);
	pthread_mutex_lock(&d->mu);
	d->n_live--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/*
 * Starts c's aio, its iov and timeout set, as a send (send) or a receive
 * on c's stream, or ends c when httpd_close has begun. Every stream
 * operation is started here: httpd_close closes the streams once, and
 * nng 1.5's TCP stream queues an operation on a closed stream until its
 * timeout instead of failing it, which would hold httpd_close for that
 * long (for ever: a receive with http_idle_timeout 0). Started under mu,
 * so that httpd_close's loop either sees the operation pending (and
 * closing the stream fails it at once) or runs first. nng never runs a
 * callback inside nng_stream_send or nng_stream_recv. c is not touched
 * after this returns.
 */
static void
httpd_conn_start(struct httpd_conn *c, bool send)
{
	httpd *d = c->d;
	pthread_mutex_lock(&d->mu);
	bool closing = d->closing;
	if (!closing && send) {
		nng_stream_send(c->s, c->aio);
	} else if (!closing) {
		nng_stream_recv(c->s, c->aio);
	}
	pthread_mutex_unlock(&d->mu);
	if (closing) {
		httpd_conn_end(c);
	}
}

/* Starts sending iov[0, niov) with a timeout of ms. */
static void
httpd_conn_send(struct httpd_conn *c, int64_t ms)
{
	nng_aio_set_iov(c->aio, c->niov, c->iov);
	nng_aio_set_timeout(c->aio, (nng_duration) ms);
	httpd_conn_start(c, true);
}

/*
 * Formats res as the reply to c's request (head: a HEAD request, no
 * body) into c's response head and iov. Takes res's body.
 */
static void
httpd_conn_format(struct httpd_conn *c, struct httpd_res *res, bool head)
{
	size_t cap = sizeof(c->res_head);
	int n = snprintf(c->res_head, cap, "HTTP/1.1 %d %s\r\n", res->status,
	        res->reason != NULL ? res->reason
	                            : httpd_msg_reason(res->status));
	for (size_t i = 0; i < res->n_headers && n > 0 && (size_t) n < cap;
	        i++) {
		n += snprintf(c->res_head + n, cap - (size_t) n, "%s: %s\r\n",
		        res->headers[i].name, res->headers[i].value);
	}
	if (n > 0 && (size_t) n < cap) {
		n += snprintf(c->res_head + n, cap - (size_t) n,
		        "Content-Length: %zu\r\n%s\r\n", res->len,
		        c->close ? "Connection: close\r\n" : "");
	}
	c->res_free = res->body_free ? (char *) res->body : NULL;
	if (n <= 0 || (size_t) n >= cap) {
		/* A bug: the handler's headers do not fit. */
		n = snprintf(c->res_head, cap,
		        "HTTP/1.1 500 Internal Server Error\r\n"
		        "Content-Length: 0\r\nConnection: close\r\n\r\n");
		c->close = true;
		head = true;
	}
	c->iov[0].iov_buf = c->res_head;
	c->iov[0].iov_len = (size_t) n;
	c->niov = 1;
	if (!head && res->len > 0) {
		c->iov[1].iov_buf = (void *) res->body;
		c->iov[1].iov_len = res->len;
		c->niov = 2;
	}
}

/* Formats res as httpd_conn_format does and starts sending it. */
static void
httpd_conn_reply(struct httpd_conn *c, struct httpd_res *res, bool head)
{
	httpd_conn_format(c, res, head);
	c->state = HTTPD_SEND;
	httpd_conn_send(c, c->d->conf.request_ms);
}

/* Refuses c's request with status (httpd's own error) and closes. */
static void
httpd_conn_refuse(struct httpd_conn *c, int status, const char *msg)
{
	httpd *d = c->d;
	struct httpd_res res = { .status = status };
	d->conf.error(d->conf.arg, status, msg, &res);
	c->close = true;
	c->drain = true;
	httpd_conn_reply(c, &res, false);
}

/* Drops what arrives on c, in its response head buffer (sent by now). */
static void
httpd_conn_drain(struct httpd_conn *c)
{
	int64_t left = c->deadline_ms - httpd_now_ms();
	if (left <= 0) {
		httpd_conn_end(c);
		return;
	}
	c->state = HTTPD_DRAIN;
	nng_iov iov
	        = { .iov_buf = c->res_head, .iov_len = sizeof(c->res_head) };
	nng_aio_set_iov(c->aio, 1, &iov);
	nng_aio_set_timeout(c->aio, (nng_duration) left);
	httpd_conn_start(c, false);
}

/* Starts receiving into the free part of c's buffer until its deadline. */
static void
httpd_conn_recv(struct httpd_conn *c)
{
	nng_duration t = NNG_DURATION_INFINITE;
	if (c->deadline_ms >= 0) {
		int64_t left = c->deadline_ms - httpd_now_ms();
		t = left > 1 ? (nng_duration) left : 1;
	}
	c->state = HTTPD_RECV;
	nng_iov iov
	        = { .iov_buf = c->buf + c->len, .iov_len = c->cap - c->len };
	nng_aio_set_iov(c->aio, 1, &iov);
	nng_aio_set_timeout(c->aio, t);
	httpd_conn_start(c, false);
}

/* Moves p, a pointer into from, to the same offset in to. */
static const char *
httpd_rebase(const char *p, const char *from, char *to)
{
	return p != NULL ? to + (p - from) : NULL;
}

/*
 * Grows c's buffer to hold at least want bytes, moving a parsed head's
 * pointers along; false: out of memory.
 */
static bool
httpd_conn_grow(struct httpd_conn *c, size_t want)
{
	if (c->cap >= want) {
		return true;
	}
	char *b = malloc(want);
	if (b == NULL) {
		return false;
	}
	memcpy(b, c->buf, c->len);
	struct httpd_req *r = &c->req;
	if (c->head_len > 0) {
		r->method = httpd_rebase(r->method, c->buf, b);
		r->target = httpd_rebase(r->target, c->buf, b);
		for (size_t i = 0; i < r->n_headers; i++) {
			struct httpd_header *h = &r->headers[i];
			h->name = httpd_rebase(h->name, c->buf, b);
			h->value = httpd_rebase(h->value, c->buf, b);
		}
	}
	free(c->buf);
	c->buf = b;
	c->cap = want;
	return true;
}

/* Sets the deadline of a connection waiting for a request to begin. */
static void
httpd_conn_idle(struct httpd_conn *c)
{
	int64_t idle = c->d->conf.idle_ms;
	c->deadline_ms = idle > 0 ? httpd_now_ms() + idle : -1;
}

/* Sends the reply formatted in c (or ends c: httpd_conn_start). */
static void
httpd_conn_send_reply(struct httpd_conn *c)
{
	c->state = HTTPD_SEND;
	httpd_conn_send(c, c->d->conf.request_ms);
}

/* The most body bytes c's request (its head parsed) may carry. */
static size_t
httpd_conn_limit(struct httpd_conn *c)
{
	httpd *d = c->d;
	size_t lim = d->conf.max_body;
	if (c->body_len > 0 && d->conf.body_limit != NULL) {
		size_t r = d->conf.body_limit(d->conf.arg, &c->req);
		lim = r < lim ? r : lim;
	}
	return lim;
}

/*
 * Goes on with what c has received: refuses a bad request, hands a whole
 * one to the handler and sends its reply, or receives more.
 */
static void
httpd_conn_process(struct httpd_conn *c)
{
	httpd *d = c->d;
	if (c->head_len == 0) {
		char *eoh = NULL;
		size_t i = c->scanned > 3 ? c->scanned - 3 : 0;
		for (; i + 3 < c->len && eoh == NULL; i++) {
			if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
				eoh = c->buf + i;
			}
		}
		c->scanned = c->len;
		if (eoh == NULL
		        || (size_t) (eoh - c->buf) + 4 > d->conf.max_head) {
			if (eoh != NULL || c->len >= d->conf.max_head) {
				telemetry_http_refused(
				        d->conf.tm, TELEMETRY_HTTP_HEAD_SIZE);
				httpd_conn_refuse(c, 431,
				        "request header fields too large");
				return;
			}
			size_t want = c->cap * 2 < d->conf.max_head
			        ? c->cap * 2
			        : d->conf.max_head;
			if (c->len == c->cap && !httpd_conn_grow(c, want)) {
				httpd_conn_refuse(c, 503, "out of memory");
				return;
			}
			httpd_conn_recv(c);
			return;
		}
		size_t hl = (size_t) (eoh - c->buf) + 4;
		const char *why = NULL;
		memset(&c->req, 0, sizeof(c->req));
		int st = httpd_msg_parse_head(
		        c->buf, hl, &c->req, &c->body_len, &why);
		if (st == 0 && httpd_req_header_count(&c->req, "Host") > 1) {
			st = 400;
			why = "bad request: more than one Host header";
		}
		if (st == 0) {
			free(c->path);
			c->path = malloc(strlen(c->req.target) + 2);
			if (c->path == NULL) {
				httpd_conn_refuse(c, 503, "out of memory");
				return;
			}
			c->req.path = c->path;
			c->req.path_len
			        = httpd_msg_path(c->req.target, c->path);
		}
		int expect = st == 0 ? httpd_msg_expect(&c->req) : 0;
		if (expect == 417) {
			st = 417;
			why = "expectation failed: only 'Expect: 100-continue' is understood";
		}
		if (st == 0 && c->body_len > httpd_conn_limit(c)) {
			st = 413;
			why = c->body_len > d->conf.max_body
			        ? "content too large"
			        : "content too large for this route (see docs/operations.md, \"Connections\")";
		}
		if (st != 0) {
			telemetry_http_refused(d->conf.tm,
			        st == 431 ? TELEMETRY_HTTP_HEAD_SIZE
			                : st == 413
			                ? TELEMETRY_HTTP_BODY_SIZE
			                : TELEMETRY_HTTP_MALFORMED);
			httpd_conn_refuse(c, st, why);
			return;
		}
		c->head_len = hl;
		if (!httpd_conn_grow(c, hl + c->body_len)) {
			httpd_conn_refuse(c, 503, "out of memory");
			return;
		}
		if (expect == 100 && c->len < hl + c->body_len) {
			/* The client waits for it to send the body. */
			c->iov[0].iov_buf = (void *) httpd_continue;
			c->iov[0].iov_len = sizeof(httpd_continue) - 1;
			c->niov = 1;
			c->state = HTTPD_CONTINUE;
			httpd_conn_send(c, d->conf.request_ms);
			return;
		}
	}
	if (c->len < c->head_len + c->body_len) {
		httpd_conn_recv(c);
		return;
	}
	/* Pointers into buf are stable from here until the reply is sent. */
	c->req.body
	        = c->body_len > 0 ? (uint8_t *) c->buf + c->head_len : NULL;
	c->req.body_len = c->body_len;
	const char *conn = httpd_req_header(&c->req, "Connection");
	c->close = c->req.http10
	        || (conn != NULL && httpd_msg_has_token(conn, "close"));
	c->head = strcmp(c->req.method, "HEAD") == 0;
	struct httpd_res res = { .status = 500 };
	/*
	 * Set before the handler runs: a deferred request's httpd_reply or
	 * httpd_resume may run the callback on another thread before the
	 * handler has even returned, and c is not touched here after that.
	 */
	c->state = HTTPD_WAIT;
	c->resume = NULL;
	if (!d->conf.handle(d->conf.arg, c, &c->req, &res)) {
		return;
	}
	httpd_conn_format(c, &res, c->head);
	httpd_conn_send_reply(c);
}

/* After a reply went out on a kept-alive connection: the next request. */
static void
httpd_conn_next(struct httpd_conn *c)
{
	size_t used = c->head_len + c->body_len;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	c->scanned = 0;
	c->head_len = 0;
	c->body_len = 0;
	free(c->path);
	c->path = NULL;
	if (c->cap > HTTPD_BUF_KEEP && c->len <= HTTPD_BUF_START) {
		char *b = realloc(c->buf, HTTPD_BUF_START);
		if (b != NULL) {
			c->buf = b;
			c->cap = HTTPD_BUF_START;
		}
	}
	if (c->len > 0) {
		/* Pipelined: the next request has begun. */
		c->deadline_ms = httpd_now_ms() + c->d->conf.request_ms;
		httpd_conn_process(c);
		return;
	}
	httpd_conn_idle(c);
	httpd_conn_recv(c);
}

static void
httpd_conn_cb(void *arg)
{
	struct httpd_conn *c = arg;
	httpd *d = c->d;
	int rv = nng_aio_result(c->aio);
	size_t n = nng_aio_count(c->aio);
	switch (c->state) {
	case HTTPD_RECV:
		if (rv == NNG_ETIMEDOUT) {
			if (c->len > 0) {
				telemetry_http_refused(
				        d->conf.tm, TELEMETRY_HTTP_TIMEOUT);
				httpd_conn_refuse(c, 408,
				        "request timeout: the request did not arrive whole within http_request_timeout");
			} else {
				telemetry_conn_idle(
				        d->conf.tm, TELEMETRY_LISTENER_HTTP);
				httpd_conn_end(c);
			}
			return;
		}
		if (rv != 0 || n == 0) {
			httpd_conn_end(c);
			return;
		}
		if (c->len == 0) {
			c->deadline_ms = httpd_now_ms() + d->conf.request_ms;
		}
		c->len += n;
		httpd_conn_process(c);
		return;
	case HTTPD_WAIT:
		if (c->resume != NULL) {
			httpd_resume_fn fn = c->resume;
			c->resume = NULL;
			/* fn may hand c on: it is not touched after. */
			fn(c->resume_arg, c);
			return;
		}
		/* httpd_reply formatted the reply. */
		httpd_conn_send_reply(c);
		return;
	case HTTPD_CONTINUE:
	case HTTPD_SEND:
		if (rv != 0) {
			httpd_conn_end(c);
			return;
		}
		/* A partial send: skip what went out, send the rest. */
		for (unsigned i = 0; i < c->niov && n > 0; i++) {
			size_t k = n < c->iov[i].iov_len ? n
			                                 : c->iov[i].iov_len;
			c->iov[i].iov_buf = (char *) c->iov[i].iov_buf + k;
			c->iov[i].iov_len -= k;
			n -= k;
		}
		while (c->niov > 0 && c->iov[0].iov_len == 0) {
			memmove(&c->iov[0], &c->iov[1],
			        sizeof(c->iov[0]) * (c->niov - 1));
			c->niov--;
		}
		if (c->niov > 0) {
			httpd_conn_send(c, d->conf.request_ms);
			return;
		}
		if (c->state == HTTPD_CONTINUE) {
			httpd_conn_recv(c);
			return;
		}
		free(c->res_free);
		c->res_free = NULL;
		if (c->drain) {
			c->deadline_ms = httpd_now_ms() + HTTPD_DRAIN_MS;
			httpd_conn_drain(c);
		} else if (c->close) {
			httpd_conn_end(c);
		} else {
			httpd_conn_next(c);
		}
		return;
	case HTTPD_STREAM_START:
	case HTTPD_STREAM:
		httpd_stream_cb(c, rv, n);
		return;
	case HTTPD_DRAIN:
		if (rv != 0 || n == 0) {
			httpd_conn_end(c);
		} else {
			httpd_conn_drain(c);
		}
		return;
	}
}

/*
 * Takes a new connection: within the cap it starts receiving; past it,
 * it gets the 503 (or, with HTTPD_MAX_REFUSING refusals under way, is
 * closed at once). Both are counted.
 */
static void
httpd_conn_new(httpd *d, nng_stream *s)
{
	struct httpd_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || nng_aio_alloc(&c->aio, httpd_conn_cb, c) != 0) {
		free(c);
		nng_stream_free(s);
		return;
	}
	c->d = d;
	c->s = s;
	pthread_mutex_lock(&d->mu);
	bool full = d->n_counted >= d->conf.max_conns;
	if (d->closing || (full && d->n_refusing >= HTTPD_MAX_REFUSING)) {
		pthread_mutex_unlock(&d->mu);
		if (!d->closing) {
			telemetry_conn_refused(
			        d->conf.tm, TELEMETRY_LISTENER_HTTP);
		}
		nng_aio_free(c->aio);
		nng_stream_free(s);
		free(c);
		return;
	}
	c->counted = !full;
	if (full) {
		d->n_refusing++;
	} else {
		d->n_counted++;
		telemetry_conn_open(
		        d->conf.tm, TELEMETRY_LISTENER_HTTP, d->n_counted);
	}
	c->next = d->conns;
	if (d->conns != NULL) {
		d->conns->prev = c;
	}
	d->conns = c;
	d->n_live++;
	pthread_mutex_unlock(&d->mu);
	if (full) {
		telemetry_conn_refused(d->conf.tm, TELEMETRY_LISTENER_HTTP);
		struct httpd_res res = { .status = 503 };
		d->conf.error(d->conf.arg, 503,
		        "too many http connections (http_max_connections): try again later",
		        &res);
		c->close = true;
		c->drain = true;
		httpd_conn_reply(c, &res, false);
		return;
	}
	c->buf = malloc(HTTPD_BUF_START);
	if (c->buf == NULL) {
		httpd_conn_refuse(c, 503, "out of memory");
		return;
	}
	c->cap = HTTPD_BUF_START;
	httpd_conn_idle(c);
	httpd_conn_recv(c);
}

/* The accept aio's callback: take the connection, accept the next. */
static void
httpd_accept_cb(void *arg)
{
	httpd *d = arg;
	int rv = nng_aio_result(d->accept);
	if (d->accept_sleeping) {
		d->accept_sleeping = false;
	} else if (rv == 0) {
		httpd_conn_new(d, nng_aio_get_output(d->accept, 0));
	} else if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	} else {
		/* Out of fds, say: do not spin, try again soon. */
		log_warn("http: cannot accept a connection: %s",
		        nng_strerror(rv));
		d->accept_sleeping = true;
		nng_sleep_aio(HTTPD_ACCEPT_RETRY_MS, d->accept);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	}
	/*
	 * With the cap and HTTPD_MAX_REFUSING refusals all taken, accept no
	 * more: new connections wait in the kernel's backlog (and past it
	 * their SYNs are dropped, so clients retry) until httpd_conn_end
	 * frees a slot and resumes. Accepting and dropping them instead
	 * would cost a descriptor each until nng's reaper gets to it, which
	 * a flood outruns.
	 */
	pthread_mutex_lock(&d->mu);
	bool pause = d->n_counted >= d->conf.max_conns
	        && d->n_refusing >= HTTPD_MAX_REFUSING && !d->closing;
	d->accept_paused = pause;
	pthread_mutex_unlock(&d->mu);
	if (!pause) {
		nng_stream_listener_accept(d->l, d->accept);
	}
}

/* ---- open and close ---- */

clm_err
httpd_open(
        const struct httpd_conf *conf, httpd **out, char *err, size_t errlen)
{
	httpd *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	d->conf = *conf;
	snprintf(d->addr, sizeof(d->addr), "tcp://%s", conf->addr);
	d->conf.addr = d->addr + 6;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	int rv = nng_aio_alloc(&d->accept, httpd_accept_cb, d);
	if (rv == 0) {
		rv = nng_stream_listener_alloc(&d->l, d->addr);
	}
	if (rv == 0) {
		rv = nng_stream_listener_listen(d->l);
	}
	if (rv != 0) {
		snprintf(err, errlen, "%s", nng_strerror(rv));
		httpd_close(d);
		return rv == NNG_ENOMEM ? CLM_RESOURCE_EXHAUSTED
		                        : CLM_UNAVAILABLE;
	}
	telemetry_conn_open(d->conf.tm, TELEMETRY_LISTENER_HTTP, 0);
	nng_stream_listener_accept(d->l, d->accept);
	*out = d;
	return CLM_OK;
}

void
httpd_close(httpd *d)
{
	if (d == NULL) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	d->closing = true;
	pthread_mutex_unlock(&d->mu);
	if (d->l != NULL) {
		nng_stream_listener_close(d->l);
	}
	if (d->accept != NULL) {
		nng_aio_stop(d->accept);
	}
	/*
	 * Closing a stream fails its pending aio; the callback then ends
	 * the connection. One being handled ends after its reply.
	 */
	pthread_mutex_lock(&d->mu);
	for (struct httpd_conn *c = d->conns; c != NULL; c = c->next) {
		nng_stream_close(c->s);
	}
	while (d->n_live > 0) {
		pthread_cond_wait(&d->cv, &d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	nng_aio_free(d->accept);
	nng_stream_listener_free(d->l);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void
httpd_conn_wake(struct httpd_conn *c)
{
	/*
	 * Begin fails only on a stopped aio, and nothing stops a deferred
	 * request's aio: httpd_close waits for its reply, and the connection
	 * ends only from the callback this schedules.
	 */
	if (nng_aio_begin(c->aio)) {
		nng_aio_finish(c->aio, 0);
	}
}

void
httpd_reply(httpd_conn *c, struct httpd_res *res)
{
	httpd_conn_format(c, res, c->head);
	c->resume = NULL;
	httpd_conn_wake(c);
}

void
httpd_resume(httpd_conn *c, httpd_resume_fn fn, void *arg)
{
	c->resume = fn;
	c->resume_arg = arg;
	httpd_conn_wake(c);
}
