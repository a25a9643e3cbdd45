/*
 * http: the dashboard server (http.h): its lifecycle, the routes, the
 * Host and origin checks (hostcheck.h), the bearer-token check and the
 * exposure rule, the page and Prometheus /metrics. The /api endpoints are
 * in http_api.c.
 */
#include "net/http.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"

/* Requests served at once; each holds an LMDB reader slot while it runs. */
#define HTTP_SLOTS 4

static const char http_prometheus[]
        = "text/plain; version=0.0.4; charset=utf-8";
static const char http_html[] = "text/html; charset=utf-8";
static const char http_text[] = "text/plain; charset=utf-8";
/* The page is self-contained: it may only talk to this server. */
static const char http_csp[]
        = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/*
 * A route: nng answers 404 for an unknown path and 405 for another method
 * (HEAD is served as GET) before any handler runs. Every route, whatever
 * its method, passes http_admit first.
 */
struct http_route {
	const char *path;
	const char *method;
	enum telemetry_http_handler kind;
	bool tree; /* also serves PATH/... */
};

static const struct http_route http_routes[] = {
	{ "/", "GET", TELEMETRY_HTTP_PAGE, false },
	{ "/api/status", "GET", TELEMETRY_HTTP_STATUS, false },
	{ "/api/metrics", "GET", TELEMETRY_HTTP_METRICS, false },
	{ "/api/cohorts", "GET", TELEMETRY_HTTP_COHORTS, false },
	{ "/api/experiments", "GET", TELEMETRY_HTTP_EXPERIMENTS, true },
	{ "/metrics", "GET", TELEMETRY_HTTP_PROMETHEUS, false },
};
#define HTTP_N_ROUTES (sizeof(http_routes) / sizeof(http_routes[0]))

/* What a handler's nng data points to. */
struct http_binding {
	http *h;
	const struct http_route *route;
};

/*
 * The server state. nng may call a handler, and frees handlers (calling
 * http_binding_free), on its own threads and possibly after http_close
 * returned, so the struct is reference-counted: one reference for the
 * owner and one per handler nng holds. Everything a handler touches
 * besides this struct (store, writer, telemetry) is used only between
 * http_enter and http_leave, which http_close waits out.
 */
struct http {
	struct server *srv;
	struct telemetry *tm;
	struct telemetry own_tm; /* when the server has no counters */
	nng_http_server *server;
	atomic_int refs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool closing; /* guarded by mu */
	int active;   /* handlers between enter and leave; guarded by mu */
	struct http_binding bindings[HTTP_N_ROUTES];
	struct http_slot slots[HTTP_SLOTS];
	char listen[128];             /* the HOST:PORT served */
	struct hostcheck_names names; /* listen and http_allowed_hosts */
};

static void
http_unref(http *h)
{
	if (atomic_fetch_sub(&h->refs, 1) == 1) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
	}
}

static void
http_binding_free(void *arg)
{
	struct http_binding *b = arg;
	http_unref(b->h);
}

/* Enters a handler; false when closing (then touch nothing but h). */
static bool
http_enter(http *h)
{
	pthread_mutex_lock(&h->mu);
	bool ok = !h->closing;
	if (ok) {
		h->active++;
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

static void
http_leave(http *h)
{
	pthread_mutex_lock(&h->mu);
	h->active--;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Takes a free slot, waiting for one; only between enter and leave. */
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
	rep->status = 200;
	rep->type = http_prometheus;
	rep->body = text;
	rep->len = strlen(text);
}

/*
 * The token of "Authorization: Bearer TOKEN" (scheme in any case), copied
 * into a, or NULL when there is none.
 */
static const char *
http_bearer(nng_http_req *req, arena *a)
{
	const char *v = nng_http_req_get_header(req, "Authorization");
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
static bool
http_admit(http *h, nng_http_req *req, struct http_reply *rep)
{
	const char *version = nng_http_req_get_version(req);
	struct hostcheck_req r = {
		.method = nng_http_req_get_method(req),
		.http10 = version != NULL && strcmp(version, "HTTP/1.0") == 0,
		.host = nng_http_req_get_header(req, "Host"),
		.origin = nng_http_req_get_header(req, "Origin"),
		.fetch_site = nng_http_req_get_header(req, "Sec-Fetch-Site"),
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
http_serve(http *h, const struct http_route *r, nng_http_req *req,
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
	const char *uri = nng_http_req_get_uri(req);
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
	default:
		http_error(rep, 404, CLM_NOT_FOUND, "", "not found");
		break;
	}
	http_slot_give(h, s);
}

/* Hands rep to nng as the response of aio. */
static void
http_respond(nng_aio *aio, struct http_reply *rep)
{
	nng_http_res *res = NULL;
	int rv = nng_http_res_alloc(&res);
	if (rv == 0) {
		nng_http_res_set_status(res, (uint16_t) rep->status);
		rv = nng_http_res_set_header(res, "Content-Type", rep->type);
	}
	/* nng 1.5 has no reason phrase for 421 ("Unknown HTTP Status"). */
	if (rv == 0 && rep->status == 421) {
		rv = nng_http_res_set_reason(res, "Misdirected Request");
	}
	if (rv == 0) {
		rv = nng_http_res_set_header(res, "Cache-Control", "no-store");
	}
	if (rv == 0) {
		rv = nng_http_res_set_header(
		        res, "X-Content-Type-Options", "nosniff");
	}
	if (rv == 0 && rep->type == http_html) {
		rv = nng_http_res_set_header(
		        res, "Content-Security-Policy", http_csp);
	}
	if (rv == 0 && rep->challenge) {
		rv = nng_http_res_set_header(
		        res, "WWW-Authenticate", "Bearer realm=\"clmd\"");
	}
	if (rv == 0) {
		rv = nng_http_res_copy_data(res, rep->body, rep->len);
	}
	if (!rep->is_static) {
		free(rep->body);
	}
	if (rv != 0) {
		if (res != NULL) {
			nng_http_res_free(res);
		}
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* The callback of every handler (nng threads). */
static void
http_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *hh = nng_aio_get_input(aio, 1);
	struct http_binding *b = nng_http_handler_get_data(hh);
	http *h = b->h;
	struct http_reply rep = { .status = 500, .type = http_json };
	if (!http_enter(h)) {
		http_error(&rep, 503, CLM_UNAVAILABLE, "",
		        "the server is stopping");
		http_respond(aio, &rep);
		return;
	}
	if (http_admit(h, req, &rep)) {
		http_serve(h, b->route, req, &rep);
	}
	telemetry_http(h->tm, b->route->kind, rep.status);
	http_respond(aio, &rep);
	http_leave(h);
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

static int
http_add_route(http *h, size_t i)
{
	const struct http_route *r = &http_routes[i];
	nng_http_handler *hh;
	int rv = nng_http_handler_alloc(&hh, r->path, http_cb);
	if (rv != 0) {
		return rv;
	}
	h->bindings[i].h = h;
	h->bindings[i].route = r;
	rv = nng_http_handler_set_method(hh, r->method);
	/* A GET carries no body: refuse one rather than read it. */
	if (rv == 0) {
		rv = nng_http_handler_collect_body(hh, true, 0);
	}
	if (rv == 0 && r->tree) {
		rv = nng_http_handler_set_tree(hh);
	}
	if (rv == 0) {
		atomic_fetch_add(&h->refs, 1);
		rv = nng_http_handler_set_data(
		        hh, &h->bindings[i], http_binding_free);
		if (rv != 0) {
			atomic_fetch_sub(&h->refs, 1);
		}
	}
	if (rv == 0) {
		rv = nng_http_server_add_handler(h->server, hh);
	}
	if (rv != 0) {
		nng_http_handler_free(hh); /* drops our reference, if set */
	}
	return rv;
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
	atomic_init(&h->refs, 1);
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
	char url[160];
	snprintf(url, sizeof(url), "http://%s", hostport);
	nng_url *u;
	int rv = nng_url_parse(&u, url);
	if (rv == 0) {
		rv = nng_http_server_hold(&h->server, u);
		nng_url_free(u);
	}
	for (size_t i = 0; rv == 0 && i < HTTP_N_ROUTES; i++) {
		rv = http_add_route(h, i);
	}
	if (rv == 0) {
		rv = nng_http_server_start(h->server);
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot serve http on '%s': %s", addr,
		        nng_strerror(rv));
		http_close(h);
		return CLM_UNAVAILABLE;
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
	if (h->server != NULL) {
		nng_http_server_stop(h->server);
		nng_http_server_release(h->server);
		h->server = NULL;
	}
	/* Wait out the handlers still running; later ones answer 503. */
	pthread_mutex_lock(&h->mu);
	h->closing = true;
	while (h->active > 0) {
		pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < HTTP_SLOTS; i++) {
		store_reader_free(h->slots[i].reader);
		h->slots[i].reader = NULL;
		arena_fini(&h->slots[i].arena);
	}
	http_unref(h);
}
