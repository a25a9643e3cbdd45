/*
 * httpd_internal: what httpd.c (connections, requests, replies) and
 * httpd_stream.c (streamed responses) share. Not for other modules: they
 * use httpd.h.
 */
#ifndef CLM_HTTPD_INTERNAL_H
#define CLM_HTTPD_INTERNAL_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/httpd.h"

/* A new connection's receive buffer; it grows to max_head + max_body. */
#define HTTPD_BUF_START 4096
/* After a request, a buffer larger than this is given back. */
#define HTTPD_BUF_KEEP (64 * 1024)
/* The head of a response: status line and headers. */
#define HTTPD_RES_HEAD 2048
/* Connections being refused at once; past this they close unanswered. */
#define HTTPD_MAX_REFUSING 16
/* The longest a refused connection is drained before it is closed. */
#define HTTPD_DRAIN_MS 1000
/* Wait before accepting again after accept failed (say, out of fds). */
#define HTTPD_ACCEPT_RETRY_MS 100

enum httpd_state {
	HTTPD_RECV,
	HTTPD_CONTINUE,
	HTTPD_WAIT,
	HTTPD_SEND,
	HTTPD_DRAIN,
	HTTPD_STREAM_START, /* httpd_stream_start woke the aio */
	HTTPD_STREAM,       /* a stream's send went out (httpd_stream.c) */
};

struct httpd_conn {
	httpd *d;
	struct httpd_conn *prev, *next; /* d->conns; guarded by d->mu */
	nng_stream *s;
	nng_aio *aio;
	enum httpd_state state;
	bool counted; /* holds one of max_conns */
	char *buf;    /* received bytes: [0, len) */
	size_t cap, len;
	size_t scanned;      /* bytes searched for the head's end */
	size_t head_len;     /* a parsed head's bytes (0: not yet parsed) */
	size_t body_len;     /* its Content-Length */
	int64_t deadline_ms; /* monotonic; < 0: none (idle, no timeout) */
	bool close;          /* close once the reply is out */
	bool drain;          /* and drain first (a refusal) */
	bool head;           /* a HEAD request: the reply has no body */
	/* In WAIT: the owner's next step (httpd_resume), or NULL: reply. */
	httpd_resume_fn resume;
	void *resume_arg;
	struct httpd_req req;
	char *path; /* req.path's storage */
	char res_head[HTTPD_RES_HEAD];
	char *res_free; /* the body being sent, freed once sent */
	nng_iov iov[2];
	unsigned niov;
	struct httpd_stream *st; /* a streamed response's, or NULL */
};

struct httpd {
	struct httpd_conf conf;
	char addr[160];
	nng_stream_listener *l;
	nng_aio *accept;
	bool accept_sleeping; /* the accept aio is in nng_sleep_aio */
	bool accept_paused;   /* cap and refusals full: not accepting; mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool closing;             /* guarded by mu */
	struct httpd_conn *conns; /* every live connection; mu */
	size_t n_counted;         /* connections within the cap; mu */
	size_t n_refusing;        /* connections being refused; mu */
	size_t n_live;            /* connections not yet freed; mu */
};

/* httpd_now_ms is the monotonic clock in milliseconds. */
int64_t httpd_now_ms(void);

/*
 * httpd_conn_end ends c: unlinks it, frees its stream (nng reaps it), its
 * aio (reaped: this may run in the aio's own callback), its streamed
 * response's state and its memory. The last thing it touches of d is the
 * mutex, so httpd_close may free d right after.
 */
void httpd_conn_end(struct httpd_conn *c);

/*
 * httpd_conn_wake finishes c's aio by hand (nng_aio_begin, then
 * nng_aio_finish): its callback runs soon on an nng thread. c's aio must
 * be idle.
 */
void httpd_conn_wake(struct httpd_conn *c);

/*
 * httpd_stream_cb is httpd_conn_cb for a connection in HTTPD_STREAM_START
 * or HTTPD_STREAM: the aio's result rv and byte count n.
 */
void httpd_stream_cb(struct httpd_conn *c, int rv, size_t n);

/* httpd_stream_free frees a stream's state; NULL is a no-op. */
void httpd_stream_free(struct httpd_stream *st);

#endif /* CLM_HTTPD_INTERNAL_H */
