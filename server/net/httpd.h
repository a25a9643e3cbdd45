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
 *     Content-Length, of at most max_body bytes (else 413; Transfer-
 *     Encoding gets 411); HTTP/1.0 and HTTP/1.1 only (else 505); anything
 *     malformed gets 400. Each of these closes the connection;
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

/*
 * httpd_handler_fn answers req into res (zeroed by httpd, status 500
 * until set); arg is httpd_conf's. It runs on an nng thread and may block
 * briefly; other connections go on meanwhile.
 */
typedef void (*httpd_handler_fn)(
        void *arg, const struct httpd_req *req, struct httpd_res *res);

/*
 * httpd_error_fn builds httpd's own refusals (400, 408, 411, 413, 431,
 * 503, 505) into res: status and a lowercase one-line message (static)
 * say what happened, the caller chooses the body's format.
 */
typedef void (*httpd_error_fn)(
        void *arg, int status, const char *msg, struct httpd_res *res);

/* What httpd_open is given. */
struct httpd_conf {
	const char *addr;   /* "HOST:PORT" to listen on (tcp) */
	size_t max_conns;   /* connections open at once, >= 1 */
	size_t max_head;    /* bytes of request line and headers */
	size_t max_body;    /* bytes of a request body */
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
 * handled finishes first) and frees d. No handler runs once it returns.
 * Not from a handler. NULL is a no-op.
 */
void httpd_close(httpd *d);

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
