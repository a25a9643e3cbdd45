/*
 * httpd: a small HTTP/1.1 server on nng's byte streams, the one under
 * `--http` (http.c routes and answers; httpd reads requests and writes
 * responses). It exists because nng 1.5's HTTP server has no accept hook,
 * no connection count and no read timeout, so a host process could hold
 * any number of half-sent requests open until file descriptors ran out.
 *
 * What httpd enforces, before any handler runs (docs/operations.md,
 * "Connections"):
 *
 *   - at most max_conns connections; one more is answered 503 with
 *     Connection: close and closed (counted as refused); with
 *     HTTPD_MAX_REFUSING of those under way too, accepting pauses until
 *     a connection ends (the rest wait in the kernel's backlog);
 *   - a request head (request line and headers) of at most max_head bytes
 *     (else 431) and HTTPD_MAX_HEADERS lines (else 431); a body only with
 *     Content-Length, of at most the bytes body_limit allows this request
 *     once its head is read, and never more than max_body (else 413,
 *     sent before the body is read; Transfer-Encoding gets 411); an
 *     Expect other than 100-continue gets 417; HTTP/1.0 and HTTP/1.1 only
 *     (else 505); anything malformed gets 400. Each of these closes the
 *     connection;
 *   - `Expect: 100-continue` (HTTP/1.1) is answered `100 Continue` once
 *     the head passed the checks above, and the body is read then;
 *   - a request must arrive whole within request_ms of its first byte
 *     (else 408 and close), and a kept-alive connection with no request
 *     begun is closed after idle_ms.
 *
 * Keep-alive follows HTTP/1.1: a 1.1 connection stays open unless the
 * request says Connection: close; a 1.0 one is closed after each reply.
 * A HEAD request is handed to the handler as it is, and httpd sends the
 * reply's head (with the body's Content-Length) without the body.
 *
 * Everything is asynchronous: one accept aio, and per connection one aio
 * driven by one callback through the states receive → handle → send, as
 * nng's demo/async server does; no thread per connection. The handler runs
 * on an nng thread, in that callback.
 *
 * A handler that must wait (for the writer's group commit, say) does not
 * block that thread: it returns false ("deferred"), keeps the connection
 * it was given, and answers later with httpd_reply, from any thread. To
 * go on with more work on an nng thread meanwhile (the next write of a
 * batch) it calls httpd_resume, whose function runs through the same
 * aio. The connection, the request and its body stay valid, and nothing
 * else happens on the connection (no read, no timeout), until
 * httpd_reply; so the owner bounds the wait (dispatch's deadline on the
 * writer's jobs). A client that closes meanwhile only makes the reply's
 * send fail; httpd_close waits for every deferred reply.
 *
 * A deferred request may also become a stream (httpd_stream_begin, "A
 * streamed response" below): a response without an end, written by its
 * owner as it goes, for Server-Sent Events. httpd_close ends every
 * stream.
 */
#ifndef CLM_HTTPD_H
#define CLM_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

struct telemetry;

typedef struct httpd httpd;

/* Header lines a request may have (more: 431). */
#define HTTPD_MAX_HEADERS 64
/* Header lines a response may add to those httpd writes. */
#define HTTPD_MAX_RES_HEADERS 8

/* One header line: name as sent, value without surrounding blanks. */
struct httpd_header {
	const char *name;
	const char *value;
};

/*
 * A request as the handler sees it. Every pointer is valid until the
 * handler returns.
 */
struct httpd_req {
	const char *method; /* as sent: "GET", "HEAD", ... */
	const char *target; /* the request target as sent: "/a/b?x=1" */
	/*
	 * The target's path, percent-decoded (an invalid escape is kept as
	 * it is), without the query, and "/" or the path of an absolute
	 * target ("http://host/p"). It may hold NUL bytes (from %00): use
	 * path_len, not strlen.
	 */
	const char *path;
	size_t path_len;
	bool http10; /* HTTP/1.0 (else HTTP/1.1) */
	size_t n_headers;
	struct httpd_header headers[HTTPD_MAX_HEADERS];
	const uint8_t *body; /* the Content-Length bytes; NULL when none */
	size_t body_len;
};

/*
 * A response, filled by the handler. httpd writes the status line, the
 * headers below, Content-Length (of body, for HEAD too) and, when the
 * connection is to close, Connection: close. Header names, values and
 * reason must stay valid until the handler returns; body until httpd
 * frees it (body_free) or forever (static memory).
 */
struct httpd_res {
	int status;
	const char *reason; /* NULL: the usual phrase of status */
	size_t n_headers;
	struct httpd_header headers[HTTPD_MAX_RES_HEADERS];
	const char *body;
	size_t len;
	bool body_free; /* httpd free()s body once it is sent */
};

/* A connection whose request is being handled (httpd_handler_fn). */
typedef struct httpd_conn httpd_conn;

/*
 * httpd_handler_fn answers req, which came on c, into res (zeroed by
 * httpd, status 500 until set) and returns true; arg is httpd_conf's. It
 * runs on an nng thread and may block briefly; other connections go on
 * meanwhile. Or it returns false, leaving res alone: the request is
 * deferred, and httpd_reply(c, ...) must then be called exactly once,
 * later or already from inside the handler. req (its body too) stays
 * valid until then.
 */
typedef bool (*httpd_handler_fn)(void *arg, httpd_conn *c,
        const struct httpd_req *req, struct httpd_res *res);

/*
 * httpd_limit_fn returns the most body bytes req may carry, decided from
 * its head alone (method, target, path and headers; body is not set yet):
 * its route's limit, 0 for a route that takes no body. A larger
 * Content-Length gets 413 before the body is read. Called on an nng
 * thread, only for a request that announces a body.
 */
typedef size_t (*httpd_limit_fn)(void *arg, const struct httpd_req *req);

/*
 * httpd_resume_fn goes on with a deferred request of c, on an nng thread
 * (httpd_resume); it ends by deferring again or with httpd_reply.
 */
typedef void (*httpd_resume_fn)(void *arg, httpd_conn *c);

/*
 * httpd_error_fn builds httpd's own refusals (400, 408, 411, 413, 417,
 * 431, 503, 505) into res: status and a lowercase one-line message (static)
 * say what happened, the caller chooses the body's format.
 */
typedef void (*httpd_error_fn)(
        void *arg, int status, const char *msg, struct httpd_res *res);

/* What httpd_open is given. */
struct httpd_conf {
	const char *addr;          /* "HOST:PORT" to listen on (tcp) */
	size_t max_conns;          /* connections open at once, >= 1 */
	size_t max_head;           /* bytes of request line and headers */
	size_t max_body;           /* bytes of any request body */
	httpd_limit_fn body_limit; /* each request's own (NULL: max_body) */
	int64_t request_ms; /* a request's time from its first byte, > 0 */
	int64_t idle_ms;    /* a kept-alive connection's wait; 0: never */
	httpd_handler_fn handle;
	httpd_error_fn error;
	void *arg;            /* for handle and error */
	struct telemetry *tm; /* connection counters (NULL: none) */
};

/*
 * httpd_open listens on conf->addr and serves requests until httpd_close.
 * conf is copied (addr too). Returns CLM_OK and the server in *out, or
 * CLM_UNAVAILABLE with nng's reason in err ("address in use") when it
 * cannot listen, CLM_RESOURCE_EXHAUSTED when memory ran out.
 */
clm_err httpd_open(
        const struct httpd_conf *conf, httpd **out, char *err, size_t errlen);

/*
 * httpd_close stops listening, closes every connection (a request being
 * handled finishes first, and a deferred one waits for its httpd_reply,
 * which its owner must still make) and frees d. No handler runs once it
 * returns. Not from a handler. NULL is a no-op.
 */
void httpd_close(httpd *d);

/*
 * httpd_reply answers c's deferred request with res, as a handler's res
 * (its header names and values need only last until httpd_reply returns,
 * the body as for a handler's). Any thread, exactly once per deferred
 * request; c must not be used once it returned. When the client went
 * away meanwhile, the reply is dropped.
 */
void httpd_reply(httpd_conn *c, struct httpd_res *res);

/*
 * httpd_resume calls fn(arg, c) soon on an nng thread (never on the
 * caller's stack), for a deferred request: the writer's done callback
 * hands the next step of a request back to httpd's threads this way.
 * Any thread; c stays deferred.
 */
void httpd_resume(httpd_conn *c, httpd_resume_fn fn, void *arg);

/*
 * A streamed response (Server-Sent Events): instead of httpd_reply, the
 * owner of a deferred request calls httpd_stream_begin, then
 * httpd_stream_start, then writes with httpd_stream_write as it has
 * something to say, from any thread, until the stream ends. httpd sends
 * the head without Content-Length and with Connection: close (the end
 * of the connection ends the response, as HTTP/1.1 allows), then the
 * bytes in the order written. No request timeout or idle timeout applies
 * to it; instead:
 *
 *   - every heartbeat_ms, httpd writes the heartbeat text itself (an
 *     SSE comment), so the client and proxies see life; what the client
 *     sends does not delay it;
 *   - bytes written and not yet taken by the client are at most
 *     max_unsent: a write past it ends the stream (a slow reader) and
 *     returns false; a client that takes no byte for 4 heartbeats is
 *     ended too. Neither ever blocks the writer;
 *   - bytes the client sends are read and dropped; its end of the
 *     connection (or an error) ends the stream.
 *
 * When the stream ends, for any of these reasons or httpd_close, httpd
 * calls end(arg, slow) once, on an nng thread (slow: a slow reader was
 * dropped), and the connection is gone once it returns: end must make
 * sure no httpd_stream_write on it is running or follows.
 */
struct httpd_stream_conf {
	size_t max_unsent;     /* bytes queued for the client at most */
	int64_t heartbeat_ms;  /* > 0 */
	const char *heartbeat; /* written every heartbeat_ms */
	void (*end)(void *arg, bool slow);
	void *arg;
};

/*
 * httpd_stream_begin turns c's deferred request into a stream: res's
 * status and headers (its body is ignored, as are its header pointers
 * once it returns) make the head, queued for sending; sc is copied.
 * Writes may follow at once; nothing is sent, and end is not called,
 * before httpd_stream_start. Returns CLM_OK, or CLM_RESOURCE_EXHAUSTED
 * (then c is still deferred: answer it with httpd_reply).
 */
clm_err httpd_stream_begin(httpd_conn *c, const struct httpd_res *res,
        const struct httpd_stream_conf *sc);

/*
 * httpd_stream_start starts sending what httpd_stream_begin and the
 * writes since queued. From then on the stream may end (sc->end) at any
 * time. Once per stream, any thread.
 */
void httpd_stream_start(httpd_conn *c);

/*
 * httpd_stream_write queues len bytes of p (copied) for c's client.
 * Returns true; false when the stream has ended or is ending (the bytes
 * are dropped), or this write would take it past max_unsent (then it
 * ends, as a slow reader). Any thread, never blocks; c must not have
 * ended (see httpd_stream_conf).
 */
bool httpd_stream_write(httpd_conn *c, const char *p, size_t len);

/*
 * httpd_req_header returns the value of the first header line named name
 * (any case), or NULL when there is none.
 */
const char *httpd_req_header(const struct httpd_req *req, const char *name);

/*
 * httpd_req_header_count returns how many header lines are named name
 * (any case).
 */
size_t httpd_req_header_count(const struct httpd_req *req, const char *name);

#endif /* CLM_HTTPD_H */
