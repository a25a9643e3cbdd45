/*
 * http: the dashboard server (http.h): its lifecycle, the routes, the
 * Host and origin checks (hostcheck.h), the bearer-token check and the
 * exposure rule, the page and Prometheus /metrics. The /api endpoints are
 * in http_api.c, the customer routes and /api/track in http_customer.c,
 * the SDK ingest routes in http_ingest.c; reading requests
 * and writing replies, with the connection cap and the timeouts, is
 * httpd.c's.
 */
#include "net/http.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls/auth.h"
#include "calls/dispatch.h"
#include "net/dashboard.h"
#include "net/exposure.h"
#include "net/hostcheck.h"
#include "net/http_internal.h"
#include "net/httpd.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"

/* Requests served at once; each holds an LMDB reader slot while it runs. */
#define HTTP_SLOTS 4
/*
 * The largest request head and body httpd reads (431 and 413 past them);
 * /api/track's body may be larger (http_track_max_body).
 */
#define HTTP_MAX_HEAD (16 * 1024)
#define HTTP_MAX_BODY HTTP_INGEST_MAX_BODY
/*
 * The body a request to no route may carry: it is read, then answered
 * 404 or 405 on a connection that stays open; a larger one gets 413.
 */
#define HTTP_NO_ROUTE_BODY (64 * 1024)
/* A segment's definition: an expression holds at most 4096 bytes. */
#define HTTP_SEGMENTS_MAX_BODY (64 * 1024)
/*
 * A journey's definition: at most 65,536 bytes (core/journey.h), with
 * room for the name http_journeys.c may add.
 */
#define HTTP_JOURNEYS_MAX_BODY (64 * 1024 + 128)

static const char http_prometheus[]
        = "text/plain; version=0.0.4; charset=utf-8";
static const char http_html[] = "text/html; charset=utf-8";
static const char http_text[] = "text/plain; charset=utf-8";
/* The page is self-contained: it may only talk to this server. */
static const char http_csp[]
        = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/*
 * A route: http_route_find answers 404 for an unknown path and 405 for
 * another method (HEAD is served as GET) before any handler runs, as
 * nng's HTTP server did. Every route, whatever its method, passes
 * http_admit first. A GET route takes no body (413 for one, before it is
 * read); a POST route takes up to max_body bytes.
 */
struct http_route {
	const char *path;
	const char *method;
	enum telemetry_http_handler kind;
	bool tree;  /* also serves PATH/... */
	bool slash; /* also serves PATH/ (and PATH without its last '/') */
	size_t max_body;
};

static const struct http_route http_routes[] = {
	{ "/", "GET", TELEMETRY_HTTP_PAGE, false, false, 0 },
	{ "/api/status", "GET", TELEMETRY_HTTP_STATUS, false, false, 0 },
	{ "/api/metrics", "GET", TELEMETRY_HTTP_METRICS, false, false, 0 },
	{ "/api/cohorts", "GET", TELEMETRY_HTTP_COHORTS, false, false, 0 },
	{ "/api/experiments", "GET", TELEMETRY_HTTP_EXPERIMENTS, true, false,
	        0 },
	{ "/metrics", "GET", TELEMETRY_HTTP_PROMETHEUS, false, false, 0 },
	/* The customer routes and /api/track (http_customer.c). */
	{ "/api/customers", "GET", TELEMETRY_HTTP_CUSTOMERS, true, false, 0 },
	{ "/api/customers", "POST", TELEMETRY_HTTP_CLAIM, true, false, 0 },
	/* Its body: http_track_max_body (http_body_limit). */
	{ "/api/track", "POST", TELEMETRY_HTTP_TRACK, false, false, 0 },
	/* The event stream and its browser tokens (http_events.c). */
	{ "/api/events", "GET", TELEMETRY_HTTP_EVENTS, false, false, 0 },
	{ "/api/events/token", "POST", TELEMETRY_HTTP_EVENTS_TOKEN, false,
	        false, 0 },
	/* The segment routes (http_segments.c); PUT's body is small. */
	{ "/api/segments", "GET", TELEMETRY_HTTP_SEGMENTS, true, false, 0 },
	{ "/api/segments", "PUT", TELEMETRY_HTTP_SEGMENTS, true, false,
	        HTTP_SEGMENTS_MAX_BODY },
	{ "/api/segments", "DELETE", TELEMETRY_HTTP_SEGMENTS, true, false, 0 },
	/* The journey routes (http_journeys.c). */
	{ "/api/journeys", "GET", TELEMETRY_HTTP_JOURNEYS, true, false, 0 },
	{ "/api/journeys", "PUT", TELEMETRY_HTTP_JOURNEYS, true, false,
	        HTTP_JOURNEYS_MAX_BODY },
	{ "/api/journeys", "DELETE", TELEMETRY_HTTP_JOURNEYS, true, false, 0 },
	{ "/api/journey-messages", "GET", TELEMETRY_HTTP_JOURNEY_MESSAGES,
	        false, false, 0 },
	/* The SDK ingest routes (http_ingest.c, docs/ingest.md). */
	{ "/v1/batch", "POST", TELEMETRY_HTTP_V1_BATCH, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/track", "POST", TELEMETRY_HTTP_V1_TRACK, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/identify", "POST", TELEMETRY_HTTP_V1_IDENTIFY, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/page", "POST", TELEMETRY_HTTP_V1_PAGE, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/screen", "POST", TELEMETRY_HTTP_V1_SCREEN, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/alias", "POST", TELEMETRY_HTTP_V1_ALIAS, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/v1/group", "POST", TELEMETRY_HTTP_V1_GROUP, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/batch/", "POST", TELEMETRY_HTTP_PH_BATCH, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/capture/", "POST", TELEMETRY_HTTP_PH_CAPTURE, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/e/", "POST", TELEMETRY_HTTP_PH_E, false, true,
	        HTTP_INGEST_MAX_BODY },
	{ "/i/v0/e/", "POST", TELEMETRY_HTTP_PH_I_V0_E, false, true,
	        HTTP_INGEST_MAX_BODY },
};
#define HTTP_N_ROUTES (sizeof(http_routes) / sizeof(http_routes[0]))

/*
 * The server state. Handlers run on httpd's connections (nng threads),
 * several at once; httpd_close waits for every one of them, so http_close
 * may free what they use once it returned.
 */
struct http {
	struct server *srv;
	struct telemetry *tm;
	struct telemetry own_tm; /* when the server has no counters */
	httpd *d;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot was given back; guarded by mu */
	struct http_slot slots[HTTP_SLOTS];
	struct http_ingest *ingest;   /* the SDK ingest routes' state */
	struct http_events *events;   /* the event stream's */
	char listen[128];             /* the HOST:PORT served */
	struct hostcheck_names names; /* listen and http_allowed_hosts */
};

/* Takes a free slot, waiting for one. */
static struct http_slot *
http_slot_take(http *h)
{
	pthread_mutex_lock(&h->mu);
	struct http_slot *s = NULL;
	while (s == NULL) {
		for (int i = 0; i < HTTP_SLOTS && s == NULL; i++) {
			if (!h->slots[i].busy) {
				s = &h->slots[i];
			}
		}
		if (s == NULL) {
			pthread_cond_wait(&h->cv, &h->mu);
		}
	}
	s->busy = true;
	pthread_mutex_unlock(&h->mu);
	return s;
}

static void
http_slot_give(http *h, struct http_slot *s)
{
	arena_reset(&s->arena);
	pthread_mutex_lock(&h->mu);
	s->busy = false;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* The `call` label of a telemetry slot. */
static const char *
http_call_name(int call)
{
	if (call == 0) {
		return "none";
	}
	const char *name = dispatch_call_name(call);
	return strcmp(name, "?") == 0 ? NULL : name;
}

static void
http_prometheus_text(http *h, struct http_slot *s, const char *token,
        struct http_reply *rep)
{
	struct telemetry_gauges g = {
		.version = CLM_VERSION,
		.uptime_s
		= (double) (clock_now_ms() - h->srv->started_ms) / 1000.0,
	};
	const Clm__V1__Response *resp = http_call_status(s, token);
	if (resp == NULL) {
		http_oom(rep);
		return;
	}
	if (resp->status != NULL && resp->status->code == CLM__V1__CODE__OK
	        && resp->server_status != NULL) {
		const Clm__V1__StatusReply *st = resp->server_status;
		g.have_store = true;
		g.db_bytes = st->db_bytes;
		g.map_bytes = st->map_bytes;
		g.customers = st->customers;
		g.touchpoints = st->touchpoints;
	}
	char *text;
	if (telemetry_format(h->tm, &g, http_call_name, &text) != 0) {
		http_oom(rep);
		return;
	}
	/* The journeys' series follow the server's own. */
	char *all = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);
	if (f != NULL) {
		fputs(text, f);
		http_journeys_metrics(s, token, f);
	}
	if (f == NULL || fclose(f) != 0) {
		free(text);
		http_oom(rep);
		return;
	}
	free(text);
	text = all;
	rep->status = 200;
	rep->type = http_prometheus;
	rep->body = text;
	rep->len = strlen(text);
}

const char *
http_bearer(const struct httpd_req *req, arena *a)
{
	const char *v = httpd_req_header(req, "Authorization");
	if (v == NULL) {
		return NULL;
	}
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	if (strncasecmp(v, "Bearer", 6) != 0
	        || (v[6] != ' ' && v[6] != '\t')) {
		return NULL;
	}
	v += 6;
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	return n > 0 ? arena_strndup(a, v, n) : NULL;
}

/* Makes rep the plain-text refusal msg (a static string) with status. */
static void
http_refuse(struct http_reply *rep, int status, const char *msg)
{
	rep->status = status;
	rep->type = http_text;
	rep->body = (char *) msg;
	rep->len = strlen(msg);
	rep->is_static = true;
}

/*
 * The checks of hostcheck.h, which every route passes before its handler
 * runs, whatever its method: the Host must name this server (else 421,
 * or 400 when missing or malformed) and a method that may write must not
 * come from another origin's page (else 403). Returns false with the
 * refusal in rep.
 *
 * 421 Misdirected Request (RFC 9110 15.5.20) says what happened: the
 * request reached a server that does not answer for that name. It is not
 * a matter of permissions (403), and it keeps rebinding attempts apart
 * from cross-origin writes in clm_http_requests_total.
 */
bool
http_admit(http *h, const struct httpd_req *req, struct http_reply *rep)
{
	struct hostcheck_req r = {
		.method = req->method,
		.http10 = req->http10,
		.host = httpd_req_header(req, "Host"),
		.origin = httpd_req_header(req, "Origin"),
		.fetch_site = httpd_req_header(req, "Sec-Fetch-Site"),
	};
	switch (hostcheck_request(&h->names, &r)) {
	case HOSTCHECK_OK:
		return true;
	case HOSTCHECK_NO_HOST:
		http_refuse(rep, 400, "bad request: no Host header\n");
		break;
	case HOSTCHECK_BAD_HOST:
		http_refuse(rep, 400, "bad request: malformed Host header\n");
		break;
	case HOSTCHECK_WRONG_HOST:
		http_refuse(rep, 421,
		        "misdirected request: this server does not answer to that Host name (see http_allowed_hosts)\n");
		break;
	case HOSTCHECK_CROSS_ORIGIN:
		http_refuse(rep, 403,
		        "forbidden: a page of another origin may not send this request\n");
		break;
	}
	return false;
}

/* Serves one request of route r into rep. */
static void
http_serve(http *h, const struct http_route *r, const struct httpd_req *req,
        struct http_reply *rep)
{
	if (r->kind == TELEMETRY_HTTP_PAGE) {
		rep->status = 200;
		rep->type = http_html;
		rep->body = (char *) dashboard_html;
		rep->len = dashboard_html_len;
		rep->is_static = true;
		return;
	}
	struct http_slot *s = http_slot_take(h);
	const char *uri = req->target;
	const char *token = http_bearer(req, &s->arena);
	if (h->srv->auth != NULL
	        && (token == NULL
	                || !auth_check(h->srv->auth, token, strlen(token)))) {
		http_error(rep, 401, CLM_UNAUTHENTICATED, "",
		        "missing or invalid token: send 'Authorization: Bearer TOKEN'");
		rep->challenge = true;
		http_slot_give(h, s);
		return;
	}
	switch (r->kind) {
	case TELEMETRY_HTTP_STATUS:
		http_status(s, uri, token, rep);
		break;
	case TELEMETRY_HTTP_METRICS:
		http_metrics(s, uri, token, rep);
		break;
	case TELEMETRY_HTTP_COHORTS:
		http_cohorts(s, uri, token, rep);
		break;
	case TELEMETRY_HTTP_EXPERIMENTS:
		http_experiments(s, uri, token, rep);
		break;
	case TELEMETRY_HTTP_PROMETHEUS:
		http_prometheus_text(h, s, token, rep);
		break;
	case TELEMETRY_HTTP_CUSTOMERS:
		http_customer_get(s, uri, token, rep);
		break;
	case TELEMETRY_HTTP_EVENTS_TOKEN:
		http_events_token(h->events, rep);
		break;
	case TELEMETRY_HTTP_SEGMENTS:
		http_segments_get(s, req, token, rep);
		break;
	case TELEMETRY_HTTP_JOURNEYS:
		http_journeys_get(s, req, token, rep);
		break;
	case TELEMETRY_HTTP_JOURNEY_MESSAGES:
		http_journey_messages(s, uri, token, rep);
		break;
	default:
		http_error(rep, 404, CLM_NOT_FOUND, "", "not found");
		break;
	}
	http_slot_give(h, s);
}

void
http_respond(struct http_reply *rep, struct httpd_res *res)
{
	res->status = rep->status;
	struct httpd_header *hd = res->headers;
	size_t n = 0;
	hd[n++] = (struct httpd_header) { "Content-Type", rep->type };
	hd[n++] = (struct httpd_header) { "Cache-Control", "no-store" };
	hd[n++] = (struct httpd_header) { "X-Content-Type-Options",
		"nosniff" };
	if (rep->type == http_html) {
		hd[n++] = (struct httpd_header) { "Content-Security-Policy",
			http_csp };
	}
	if (rep->challenge) {
		hd[n++] = (struct httpd_header) { "WWW-Authenticate",
			rep->challenge_basic ? "Basic realm=\"clmd\""
			                     : "Bearer realm=\"clmd\"" };
	}
	if (rep->allow != NULL) {
		hd[n++] = (struct httpd_header) { "Allow", rep->allow };
	}
	res->n_headers = n;
	res->body = rep->body;
	res->len = rep->len;
	res->body_free = !rep->is_static;
}

/*
 * Whether path (path_len bytes) is r's, as nng's server matched them:
 * the route's path, then the end, or a '/' that ends the path or starts
 * a tree route's rest; a slash route's path also without its last '/'.
 */
static bool
http_route_match(const struct http_route *r, const char *path, size_t path_len)
{
	size_t n = strcmp(r->path, "/") == 0 ? 0 : strlen(r->path);
	if (r->slash && r->path[n - 1] == '/' && path_len == n - 1) {
		return memcmp(path, r->path, n - 1) == 0;
	}
	if (path_len < n || memcmp(path, r->path, n) != 0) {
		return false;
	}
	return path_len == n
	        || (path[n] == '/' && (path_len == n + 1 || r->tree));
}

/*
 * The route of path (path_len bytes, maybe with NUL bytes) for method.
 * NULL when none; *allow then lists the methods of the routes that have
 * the path (405), or is NULL (404).
 */
static const struct http_route *
http_route_find(const char *path, size_t path_len, const char *method,
        const char **allow)
{
	*allow = NULL;
	bool head = strcmp(method, "HEAD") == 0;
	bool get = false, post = false, put = false;
	for (size_t i = 0; i < HTTP_N_ROUTES; i++) {
		const struct http_route *r = &http_routes[i];
		if (!http_route_match(r, path, path_len)) {
			continue;
		}
		if (strcmp(method, r->method) == 0
		        || (head && strcmp(r->method, "GET") == 0)) {
			return r;
		}
		get = get || strcmp(r->method, "GET") == 0;
		post = post || strcmp(r->method, "POST") == 0;
		put = put || strcmp(r->method, "PUT") == 0;
	}
	if (get || post) {
		*allow = get && post ? "GET, HEAD, POST"
		        : get && put ? "GET, HEAD, PUT, DELETE"
		        : get        ? "GET, HEAD"
		                     : "POST";
	}
	return NULL;
}

/* httpd's body limit: the route's, or HTTP_NO_ROUTE_BODY for none. */
static size_t
http_body_limit(void *arg, const struct httpd_req *req)
{
	http *h = arg;
	const char *allow;
	const struct http_route *r = http_route_find(
	        req->path, req->path_len, req->method, &allow);
	if (r != NULL && r->kind == TELEMETRY_HTTP_TRACK) {
		return http_track_max_body(h->srv);
	}
	return r != NULL ? r->max_body : HTTP_NO_ROUTE_BODY;
}

/*
 * httpd's handler: every request (nng threads). The ingest routes, the
 * claims and /api/track defer theirs (http_ingest_serve,
 * http_customer_write), the others answer at once.
 */
static bool
http_handle(void *arg, httpd_conn *c, const struct httpd_req *req,
        struct httpd_res *res)
{
	http *h = arg;
	struct http_reply rep = { .status = 500, .type = http_json };
	const char *allow;
	const struct http_route *r = http_route_find(
	        req->path, req->path_len, req->method, &allow);
	if (r == NULL && allow != NULL) {
		http_error(&rep, 405, CLM_UNIMPLEMENTED, "",
		        "method '%s' not allowed: use %s", req->method, allow);
		rep.allow = allow;
	} else if (r == NULL && memchr(req->path, '\0', req->path_len)) {
		http_error(&rep, 400, CLM_INVALID_ARGUMENT, "",
		        "the path must not contain NUL (%%00)");
	} else if (r == NULL) {
		http_error(&rep, 404, CLM_NOT_FOUND, "", "not found");
	} else if (!http_admit(h, req, &rep)) {
		telemetry_http(h->tm, r->kind, rep.status);
	} else if (r->kind == TELEMETRY_HTTP_EVENTS) {
		if (http_events_serve(h->events, c, req, &rep)) {
			/* A stream: it answers the request itself. */
			telemetry_http(h->tm, r->kind, 200);
			return false;
		}
		/* Refused, or HEAD: rep says so. */
		telemetry_http(h->tm, r->kind, rep.status);
	} else if (r->kind == TELEMETRY_HTTP_CLAIM
	        || r->kind == TELEMETRY_HTTP_TRACK) {
		/* It answers through httpd_reply, and counts, itself. */
		http_customer_write(h->srv, h->tm, c, req, r->kind);
		return false;
	} else if (r->kind == TELEMETRY_HTTP_SEGMENTS
	        && strcmp(r->method, "GET") != 0) {
		/* It answers through httpd_reply, and counts, itself. */
		http_segments_write(h->srv, h->tm, c, req);
		return false;
	} else if (r->kind == TELEMETRY_HTTP_JOURNEYS
	        && strcmp(r->method, "GET") != 0) {
		/* It answers through httpd_reply, and counts, itself. */
		http_journeys_write(h->srv, h->tm, c, req);
		return false;
	} else if (r->max_body > 0) {
		/* It answers through httpd_reply, and counts, itself. */
		http_ingest_serve(h->ingest, c, req, r->kind);
		return false;
	} else {
		http_serve(h, r, req, &rep);
		telemetry_http(h->tm, r->kind, rep.status);
	}
	http_respond(&rep, res);
	return true;
}

/* httpd's own refusals, as http_error JSON like every other error. */
static void
http_refusal(void *arg, int status, const char *msg, struct httpd_res *res)
{
	(void) arg;
	clm_err code = CLM_INVALID_ARGUMENT;
	if (status == 408) {
		code = CLM_DEADLINE_EXCEEDED;
	} else if (status == 413 || status == 431) {
		code = CLM_RESOURCE_EXHAUSTED;
	} else if (status == 503) {
		code = CLM_UNAVAILABLE;
	}
	struct http_reply rep = { .status = 500, .type = http_json };
	http_error(&rep, status, code, "", "%s", msg);
	http_respond(&rep, res);
}

/* ---- open and close ---- */

/*
 * Checks addr and writes its HOST:PORT into hostport. The exposure rule
 * is the RPC listeners' own (exposure_check_url), applied to tcp://HOST:PORT.
 */
static int
http_parse_addr(const char *addr, bool tokens, char *hostport, size_t hlen,
        char *err, size_t errlen)
{
	const char *rest = addr;
	if (strncmp(addr, "http://", 7) == 0) {
		rest = addr + 7;
	} else if (strstr(addr, "://") != NULL) {
		snprintf(err, errlen,
		        "cannot serve http on '%s': use HOST:PORT or http://HOST:PORT",
		        addr);
		return -1;
	}
	size_t n = strlen(rest);
	if (n > 0 && rest[n - 1] == '/') {
		n--;
	}
	const char *colon = NULL;
	for (size_t i = 0; i < n; i++) {
		if (rest[i] == ':') {
			colon = rest + i;
		}
	}
	uint32_t port = 0;
	char ps[16];
	size_t pn = colon != NULL ? n - (size_t) (colon - rest) - 1 : 0;
	if (colon != NULL && pn > 0 && pn < sizeof(ps)) {
		memcpy(ps, colon + 1, pn);
		ps[pn] = '\0';
	} else {
		ps[0] = '\0';
	}
	if (colon == NULL || !http_parse_u32(ps, &port) || port == 0
	        || port > 65535 || memchr(rest, '/', n) != NULL || n >= hlen) {
		snprintf(err, errlen,
		        "cannot serve http on '%s': use HOST:PORT or http://HOST:PORT (port 1 to 65535)",
		        addr);
		return -1;
	}
	memcpy(hostport, rest, n);
	hostport[n] = '\0';
	char tcp[160];
	char why[256];
	snprintf(tcp, sizeof(tcp), "tcp://%s", hostport);
	if (exposure_check_url(tcp, tokens, false, why, sizeof(why)) != 0) {
		snprintf(err, errlen,
		        "refusing to serve http on '%s': not a loopback address, and no auth tokens are configured",
		        addr);
		return -1;
	}
	return 0;
}

int
http_check_addr(const char *addr, bool tokens, char *err, size_t errlen)
{
	char hostport[128];
	return http_parse_addr(
	        addr, tokens, hostport, sizeof(hostport), err, errlen);
}

clm_err
http_open(struct server *srv, const char *addr, http **out, char *err,
        size_t errlen)
{
	char hostport[128];
	if (http_parse_addr(addr, srv->auth != NULL, hostport,
	            sizeof(hostport), err, errlen)
	                != 0
	        || (srv->cfg != NULL
	                && hostcheck_check_allowed(
	                           srv->cfg->http_allowed_hosts, err, errlen)
	                        != 0)) {
		return CLM_INVALID_ARGUMENT;
	}
	http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	h->srv = srv;
	snprintf(h->listen, sizeof(h->listen), "%s", hostport);
	h->names.listen = h->listen;
	h->names.allowed
	        = srv->cfg != NULL ? srv->cfg->http_allowed_hosts : NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->tm = srv->tm;
	if (h->tm == NULL) {
		telemetry_init(&h->own_tm);
		h->tm = &h->own_tm;
	}
	for (int i = 0; i < HTTP_SLOTS; i++) {
		struct http_slot *s = &h->slots[i];
		arena_init(&s->arena);
		s->dr.srv = srv;
		s->dr.resp = &s->resp;
		s->dr.a = &s->arena;
		if (store_reader_new(srv->st, &s->reader) != CLM_OK) {
			snprintf(err, errlen,
			        "cannot serve http: no database reader left");
			http_close(h);
			return CLM_RESOURCE_EXHAUSTED;
		}
		s->dr.reader = s->reader;
	}
	const struct config *cfg = srv->cfg;
	int64_t request_ms
	        = (cfg != NULL ? cfg->http_request_timeout : 10) * 1000;
	if (http_ingest_open(srv, h->tm, request_ms, &h->ingest, err, errlen)
	        != CLM_OK) {
		http_close(h);
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (http_events_open(srv, h->tm, &h->events, err, errlen) != CLM_OK) {
		http_close(h);
		return CLM_RESOURCE_EXHAUSTED;
	}
	struct httpd_conf hc = {
		.addr = hostport,
		.max_conns
		= cfg != NULL ? (size_t) cfg->http_max_connections : 128,
		.max_head = HTTP_MAX_HEAD,
		.max_body = HTTP_MAX_BODY > http_track_max_body(srv)
		        ? HTTP_MAX_BODY
		        : http_track_max_body(srv),
		.body_limit = http_body_limit,
		.request_ms = request_ms,
		.idle_ms = (cfg != NULL ? cfg->http_idle_timeout : 60) * 1000,
		.handle = http_handle,
		.error = http_refusal,
		.arg = h,
		.tm = h->tm,
	};
	char why[128];
	clm_err e = httpd_open(&hc, &h->d, why, sizeof(why));
	if (e != CLM_OK) {
		snprintf(err, errlen, "cannot serve http on '%s': %s", addr,
		        why);
		http_close(h);
		return e;
	}
	log_info("dashboard and /metrics on http://%s/", hostport);
	*out = h;
	return CLM_OK;
}

void
http_close(http *h)
{
	if (h == NULL) {
		return;
	}
	/*
	 * Every handler has returned once httpd_close does, and every
	 * deferred ingest request has had its reply (the writer still runs).
	 */
	httpd_close(h->d);
	http_ingest_close(h->ingest);
	http_events_close(h->events);
	for (int i = 0; i < HTTP_SLOTS; i++) {
		store_reader_free(h->slots[i].reader);
		h->slots[i].reader = NULL;
		arena_fini(&h->slots[i].arena);
	}
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
