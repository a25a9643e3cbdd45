#include "clm/client.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Redialing a broken connection: see clm_open_tls. */
#define CLM_RECONNECT_MIN_MS 100
#define CLM_RECONNECT_MAX_MS 2000

struct clm_conn {
	nng_socket sock;
	char *url;
	char *token;
	uint64_t min_position;  /* clm_set_min_position; 0: none */
	uint64_t last_position; /* clm_last_position */
	uint64_t next_id;
	uint64_t nonce; /* makes request ids unique across processes */
	char err[512];
};

/*
 * A random 64-bit value: request ids key idempotent claims on the server,
 * so two processes (or one after a restart) must never reuse one.
 */
static uint64_t
clm_nonce(void)
{
	uint64_t v = 0;
	FILE *f = fopen("/dev/urandom", "rb");
	if (f != NULL) {
		if (fread(&v, sizeof(v), 1, f) != 1) {
			v = 0;
		}
		fclose(f);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return v ^ ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) ts.tv_nsec
	        ^ ((uint64_t) getpid() << 16);
}

/* The reason of the last failed clm_open, per thread (no conn exists). */
static _Thread_local char clm_open_err[512];

static void
clm_seterr(clm_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

const char *
clm_open_error(void)
{
	return clm_open_err;
}

/* Sets up a dialer for a tls+tcp:// URL. */
static int
clm_tls_dialer(nng_socket s, const char *url, const struct clm_tls *tls,
        nng_dialer *d)
{
	int rv = nng_dialer_create(d, s, url);
	if (rv != 0) {
		return rv;
	}
	nng_tls_config *tc;
	rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_CLIENT);
	if (rv != 0) {
		return rv;
	}
	char host[256] = "";
	const char *name = tls ? tls->server_name : NULL;
	if (name == NULL) {
		/* tls+tcp://HOST:PORT */
		const char *h = url + strlen("tls+tcp://");
		const char *colon = strrchr(h, ':');
		size_t n = colon ? (size_t) (colon - h) : strlen(h);
		if (n >= sizeof(host)) {
			n = sizeof(host) - 1;
		}
		memcpy(host, h, n);
		host[n] = '\0';
		name = host;
	}
	rv = nng_tls_config_server_name(tc, name);
	if (rv == 0 && tls != NULL && tls->ca_file != NULL) {
		rv = nng_tls_config_ca_file(tc, tls->ca_file);
	}
	if (rv == 0 && tls != NULL && tls->cert_file != NULL) {
		rv = nng_tls_config_cert_key_file(tc, tls->cert_file, NULL);
	}
	if (rv == 0) {
		rv = nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, tc);
	}
	nng_tls_config_free(tc); /* the dialer holds its own reference */
	return rv;
}

clm_err
clm_open(const char *url, int timeout_ms, clm_conn **out)
{
	return clm_open_tls(url, timeout_ms, NULL, out);
}

clm_err
clm_open_tls(const char *url, int timeout_ms, const struct clm_tls *tls,
        clm_conn **out)
{
	if (url == NULL || url[0] == '\0') {
		url = CLM_DEFAULT_URL;
	}
	if (timeout_ms <= 0) {
		timeout_ms = CLM_DEFAULT_TIMEOUT_MS;
	}
	clm_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->url = strdup(url)) == NULL) {
		free(c);
		snprintf(clm_open_err, sizeof(clm_open_err), "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	int rv = nng_req0_open(&c->sock);
	if (rv != 0) {
		snprintf(clm_open_err, sizeof(clm_open_err),
		        "cannot open socket: %s", nng_strerror(rv));
		free(c->url);
		free(c);
		return CLM_UNAVAILABLE;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	/*
	 * When the connection breaks, nng redials and sends the request in
	 * hand again, after a random wait below RECONNMINT (1 s by default,
	 * most of a call's deadline); the wait doubles up to RECONNMAXT
	 * while redialing fails.
	 */
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, CLM_RECONNECT_MIN_MS);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, CLM_RECONNECT_MAX_MS);
	/* A blocking dial fails at once when nothing listens. */
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		nng_dialer d;
		rv = clm_tls_dialer(c->sock, url, tls, &d);
		if (rv == 0) {
			rv = nng_dialer_start(d, 0);
		}
	} else {
		rv = nng_dial(c->sock, url, NULL, 0);
	}
	if (rv != 0) {
		snprintf(clm_open_err, sizeof(clm_open_err),
		        "cannot connect to '%s': %s", url, nng_strerror(rv));
		nng_close(c->sock);
		free(c->url);
		free(c);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP
		        ? CLM_INVALID_ARGUMENT
		        : CLM_UNAVAILABLE;
	}
	c->next_id = 1;
	c->nonce = clm_nonce();
	clm_open_err[0] = '\0';
	*out = c;
	return CLM_OK;
}

void
clm_close(clm_conn *c)
{
	if (c == NULL) {
		return;
	}
	nng_close(c->sock);
	free(c->token);
	free(c->url);
	free(c);
}

clm_err
clm_set_token(clm_conn *c, const char *token)
{
	char *copy = token ? strdup(token) : NULL;
	if (token != NULL && copy == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	free(c->token);
	c->token = copy;
	return CLM_OK;
}

void
clm_set_min_position(clm_conn *c, uint64_t position)
{
	c->min_position = position;
}

uint64_t
clm_last_position(const clm_conn *c)
{
	return c != NULL ? c->last_position : 0;
}

const char *
clm_last_error(const clm_conn *c)
{
	return c->err;
}

void
clm_response_free(Clm__V1__Response *resp)
{
	if (resp != NULL) {
		clm__v1__response__free_unpacked(resp, NULL);
	}
}

clm_err
clm_call(clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out)
{
	Clm__V1__Request copy = *req;
	char id[48];
	if (copy.request_id == NULL || copy.request_id[0] == '\0') {
		snprintf(id, sizeof(id), "%016llx-%llu",
		        (unsigned long long) c->nonce,
		        (unsigned long long) c->next_id++);
		copy.request_id = id;
	}
	if (c->token != NULL
	        && (copy.auth_token == NULL || copy.auth_token[0] == '\0')) {
		copy.auth_token = c->token;
	}
	if (copy.min_position == 0) {
		copy.min_position = c->min_position;
	}
	size_t size = clm__v1__request__get_packed_size(&copy);
	nng_msg *msg;
	int rv = nng_msg_alloc(&msg, size);
	if (rv != 0) {
		clm_seterr(c, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__request__pack(&copy, nng_msg_body(msg));
	rv = nng_sendmsg(c->sock, msg, 0);
	if (rv != 0) {
		nng_msg_free(msg);
		clm_seterr(c, "cannot send to '%s': %s", c->url,
		        nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? CLM_DEADLINE_EXCEEDED
		                           : CLM_UNAVAILABLE;
	}
	rv = nng_recvmsg(c->sock, &msg, 0);
	if (rv != 0) {
		clm_seterr(
		        c, "no reply from '%s': %s", c->url, nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? CLM_DEADLINE_EXCEEDED
		                           : CLM_UNAVAILABLE;
	}
	Clm__V1__Response *resp = clm__v1__response__unpack(
	        NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (resp == NULL) {
		clm_seterr(
		        c, "reply from '%s' is not a clm.v1.Response", c->url);
		return CLM_INTERNAL;
	}
	if (resp->position > c->last_position) {
		c->last_position = resp->position;
	}
	c->err[0] = '\0';
	*out = resp;
	return CLM_OK;
}

/* Makes the call and turns the reply's status into the return value. */
static clm_err
clm_call_status(
        clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out)
{
	*out = NULL;
	Clm__V1__Response *resp;
	clm_err e = clm_call(c, req, &resp);
	if (e != CLM_OK) {
		return e;
	}
	*out = resp;
	if (resp->status == NULL) {
		return CLM_OK;
	}
	e = clm_err_from_code((int) resp->status->code);
	if (e != CLM_OK) {
		clm_seterr(c, "%s", resp->status->message);
	}
	return e;
}

/*
 * The calls, a row each: the shape of the helper, its name after clm_, the
 * Request oneof member (which names the call case too), its case and its
 * message type. A TYPED helper (public, clm/client.h) sends the message it
 * is given; a BY_ID helper (public) sends one holding only a customer_id; a
 * BUILT helper is private, called by a public one below once it has built
 * the message from its arguments. A new call is a row here and, when
 * public, a declaration in clm/client.h.
 */
#define CLM_CALLS(X)                                                         \
	X(BUILT, send_track, track, TRACK, TrackRequest)                     \
	X(BUILT, send_get_customer, get_customer, GET_CUSTOMER,              \
	        GetCustomerRequest)                                          \
	X(BUILT, send_server_status, server_status, SERVER_STATUS,           \
	        StatusRequest)                                               \
	X(BUILT, send_identify, identify, IDENTIFY, IdentifyRequest)         \
	X(BY_ID, forget, forget_customer, FORGET_CUSTOMER,                   \
	        ForgetCustomerRequest)                                       \
	X(BY_ID, export, export_customer, EXPORT_CUSTOMER,                   \
	        ExportCustomerRequest)                                       \
	X(TYPED, recommend, recommend, RECOMMEND, RecommendRequest)          \
	X(TYPED, put_catalog, put_catalog, PUT_CATALOG, PutCatalogRequest)   \
	X(TYPED, metrics, metrics, METRICS, MetricsRequest)                  \
	X(TYPED, cohorts, cohorts, COHORTS, CohortRequest)                   \
	X(TYPED, record_spend, record_spend, RECORD_SPEND,                   \
	        RecordSpendRequest)                                          \
	X(TYPED, define_experiment, define_experiment, DEFINE_EXPERIMENT,    \
	        DefineExperimentRequest)                                     \
	X(TYPED, assign, assign, ASSIGN, AssignRequest)                      \
	X(TYPED, experiment_results, experiment_results, EXPERIMENT_RESULTS, \
	        ExperimentResultsRequest)                                    \
	X(TYPED, define_segment, define_segment, DEFINE_SEGMENT,             \
	        DefineSegmentRequest)                                        \
	X(TYPED, get_segment, get_segment, GET_SEGMENT, GetSegmentRequest)   \
	X(TYPED, list_segments, list_segments, LIST_SEGMENTS,                \
	        ListSegmentsRequest)                                         \
	X(TYPED, delete_segment, delete_segment, DELETE_SEGMENT,             \
	        DeleteSegmentRequest)                                        \
	X(TYPED, define_journey, define_journey, DEFINE_JOURNEY,             \
	        DefineJourneyRequest)                                        \
	X(TYPED, list_journeys, list_journeys, LIST_JOURNEYS,                \
	        ListJourneysRequest)                                         \
	X(TYPED, get_journey, get_journey, GET_JOURNEY, GetJourneyRequest)   \
	X(TYPED, delete_journey, delete_journey, DELETE_JOURNEY,             \
	        DeleteJourneyRequest)                                        \
	X(TYPED, journey_messages, journey_messages, JOURNEY_MESSAGES,       \
	        JourneyMessagesRequest)

/* The body of every helper: send msg as the Request's only call. */
#define CLM_CALL_SEND(field, CASE, msg)                        \
	{                                                      \
		Clm__V1__Request req = CLM__V1__REQUEST__INIT; \
		req.call_case = CLM__V1__REQUEST__CALL_##CASE; \
		req.field = msg;                               \
		return clm_call_status(c, &req, out);          \
	}
#define CLM_CALL_TYPED(fn, field, CASE, type)                     \
	clm_err clm_##fn(clm_conn *c, const Clm__V1__##type *msg, \
	        Clm__V1__Response **out)                          \
	        CLM_CALL_SEND(field, CASE, (Clm__V1__##type *) msg)
#define CLM_CALL_BUILT(fn, field, CASE, type) \
	static CLM_CALL_TYPED(fn, field, CASE, type)
#define CLM_CALL_BY_ID(fn, field, CASE, type)                          \
	clm_err clm_##fn(clm_conn *c, const char *customer_id,         \
	        Clm__V1__Response **out)                               \
	{                                                              \
		Clm__V1__##type msg = CLM__V1__##CASE##_REQUEST__INIT; \
		msg.customer_id = (char *) customer_id;                \
		CLM_CALL_SEND(field, CASE, &msg)                       \
	}
#define CLM_CALL_DEFINE(shape, fn, field, CASE, type) \
	CLM_CALL_##shape(fn, field, CASE, type)
CLM_CALLS(CLM_CALL_DEFINE)
#undef CLM_CALL_DEFINE
#undef CLM_CALL_BY_ID
#undef CLM_CALL_BUILT
#undef CLM_CALL_TYPED
#undef CLM_CALL_SEND

clm_err
clm_track(clm_conn *c, Clm__V1__Touchpoint *const *tps, size_t n,
        Clm__V1__Response **out)
{
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.n_touchpoints = n;
	tr.touchpoints = (Clm__V1__Touchpoint **) tps;
	return clm_send_track(c, &tr, out);
}

clm_err
clm_get_customer(clm_conn *c, const char *customer_id, int64_t as_of_ms,
        Clm__V1__Response **out)
{
	Clm__V1__GetCustomerRequest gc = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	gc.customer_id = (char *) customer_id;
	gc.as_of_ms = as_of_ms;
	return clm_send_get_customer(c, &gc, out);
}

clm_err
clm_server_status(clm_conn *c, Clm__V1__Response **out)
{
	Clm__V1__StatusRequest sr = CLM__V1__STATUS_REQUEST__INIT;
	return clm_send_server_status(c, &sr, out);
}

clm_err
clm_identify(clm_conn *c, const char *anonymous_id, const char *customer_id,
        const char *const *trait_keys, const char *const *trait_values,
        size_t n_traits, Clm__V1__Response **out)
{
	Clm__V1__IdentifyRequest ir = CLM__V1__IDENTIFY_REQUEST__INIT;
	ir.anonymous_id = (char *) anonymous_id;
	ir.customer_id = (char *) customer_id;
	Clm__V1__IdentifyRequest__TraitsEntry *ents = NULL;
	Clm__V1__IdentifyRequest__TraitsEntry **ptrs = NULL;
	if (n_traits > 0) {
		ents = calloc(n_traits, sizeof(*ents));
		ptrs = calloc(n_traits, sizeof(*ptrs));
		if (ents == NULL || ptrs == NULL) {
			free(ents);
			free(ptrs);
			*out = NULL;
			clm_seterr(c, "out of memory");
			return CLM_RESOURCE_EXHAUSTED;
		}
		for (size_t i = 0; i < n_traits; i++) {
			clm__v1__identify_request__traits_entry__init(
			        &ents[i]);
			ents[i].key = (char *) trait_keys[i];
			ents[i].value = (char *) trait_values[i];
			ptrs[i] = &ents[i];
		}
	}
	ir.n_traits = n_traits;
	ir.traits = ptrs;
	clm_err e = clm_send_identify(c, &ir, out);
	free(ents);
	free(ptrs);
	return e;
}

/*
 * The subscriber knows whether it is connected to clmd's PUB socket, so
 * that clm_watch_ready can wait for it: nng reports each pipe (a
 * connection whose SP handshake is done) as it is added to the socket and
 * removed, on its own threads, to clm_watch_pipe_event. The one dialer
 * has at most one pipe at a time; a pipe refused before it was added is
 * reported removed too, which leaves connected false as it should.
 */
struct clm_watch {
	nng_socket sock;
	nng_mtx *mtx;
	nng_cv *cv;     /* signalled when connected changes */
	bool connected; /* under mtx */
};

static void
clm_watch_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void) p;
	clm_watch *w = arg;
	nng_mtx_lock(w->mtx);
	w->connected = ev == NNG_PIPE_EV_ADD_POST;
	nng_cv_wake(w->cv);
	nng_mtx_unlock(w->mtx);
}

clm_err
clm_watch_open(const char *url, const char *prefix, clm_watch **out)
{
	if (url == NULL || url[0] == '\0') {
		url = CLM_DEFAULT_EVENTS_URL;
	}
	if (prefix == NULL) {
		prefix = "";
	}
	clm_watch *w = calloc(1, sizeof(*w));
	if (w == NULL || nng_mtx_alloc(&w->mtx) != 0
	        || nng_cv_alloc(&w->cv, w->mtx) != 0) {
		clm_watch_close(w);
		snprintf(clm_open_err, sizeof(clm_open_err), "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	int rv = nng_sub0_open(&w->sock);
	if (rv == 0) {
		rv = nng_socket_set(w->sock, NNG_OPT_SUB_SUBSCRIBE, prefix,
		        strlen(prefix));
	}
	/*
	 * SUB keeps 128 messages by default and drops the oldest past that:
	 * a burst (one write moving many customers) arriving while the
	 * caller is busy would lose its start. nng's largest queue instead.
	 */
	if (rv == 0) {
		rv = nng_socket_set_int(w->sock, NNG_OPT_RECVBUF, 8192);
	}
	/* Before the dial, so that no pipe goes uncounted. */
	if (rv == 0) {
		rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_ADD_POST,
		        clm_watch_pipe_event, w);
	}
	if (rv == 0) {
		rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_REM_POST,
		        clm_watch_pipe_event, w);
	}
	if (rv == 0) {
		/* Non-blocking: the stream may start after the subscriber. */
		rv = nng_dial(w->sock, url, NULL, NNG_FLAG_NONBLOCK);
	}
	if (rv != 0) {
		snprintf(clm_open_err, sizeof(clm_open_err),
		        "cannot subscribe to '%s': %s", url, nng_strerror(rv));
		clm_watch_close(w);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP
		        ? CLM_INVALID_ARGUMENT
		        : CLM_UNAVAILABLE;
	}
	*out = w;
	return CLM_OK;
}

clm_err
clm_watch_ready(clm_watch *w, int timeout_ms)
{
	nng_time deadline
	        = timeout_ms < 0 ? 0 : nng_clock() + (nng_duration) timeout_ms;
	nng_mtx_lock(w->mtx);
	while (!w->connected) {
		if (timeout_ms < 0) {
			nng_cv_wait(w->cv);
		} else if (nng_cv_until(w->cv, deadline) == NNG_ETIMEDOUT) {
			break;
		}
	}
	clm_err e = w->connected ? CLM_OK : CLM_DEADLINE_EXCEEDED;
	nng_mtx_unlock(w->mtx);
	return e;
}

clm_err
clm_watch_next(clm_watch *w, int timeout_ms, char *topic, size_t topic_len,
        Clm__V1__LifecycleEvent **ev)
{
	nng_socket_set_ms(w->sock, NNG_OPT_RECVTIMEO,
	        timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	nng_msg *msg;
	int rv = nng_recvmsg(w->sock, &msg, 0);
	if (rv == NNG_ETIMEDOUT) {
		return CLM_DEADLINE_EXCEEDED;
	}
	if (rv != 0) {
		return CLM_UNAVAILABLE;
	}
	const unsigned char *body = nng_msg_body(msg);
	size_t len = nng_msg_len(msg);
	const unsigned char *nul = memchr(body, 0, len);
	Clm__V1__LifecycleEvent *e = NULL;
	if (nul != NULL) {
		size_t tlen = (size_t) (nul - body);
		e = clm__v1__lifecycle_event__unpack(
		        NULL, len - tlen - 1, nul + 1);
		if (e != NULL && topic != NULL && topic_len > 0) {
			size_t n = tlen < topic_len - 1 ? tlen : topic_len - 1;
			memcpy(topic, body, n);
			topic[n] = '\0';
		}
	}
	nng_msg_free(msg);
	if (e == NULL) {
		return CLM_INVALID_ARGUMENT;
	}
	*ev = e;
	return CLM_OK;
}

void
clm_event_free(Clm__V1__LifecycleEvent *ev)
{
	if (ev != NULL) {
		clm__v1__lifecycle_event__free_unpacked(ev, NULL);
	}
}

void
clm_watch_close(clm_watch *w)
{
	if (w == NULL) {
		return;
	}
	/* Once nng_close returns, no pipe event is running or to come. */
	nng_close(w->sock);
	if (w->cv != NULL) {
		nng_cv_free(w->cv);
	}
	if (w->mtx != NULL) {
		nng_mtx_free(w->mtx);
	}
	free(w);
}
