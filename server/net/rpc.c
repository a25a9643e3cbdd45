#include "net/rpc.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "calls/dispatch.h"
#include "net/exposure.h"
#include "net/rpc_conn.h"
#include "net/rpc_probe.h"
#include "pbwire.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "util/thread.h"

enum rpc_state {
	RPC_RECV,    /* waiting for a request */
	RPC_WAIT,    /* a write is with the writer, or a request parked */
	RPC_SEND,    /* sending the reply */
	RPC_STOPPED, /* closing: no receive is armed any more */
};

struct rpc_work {
	_Atomic int state;
	nng_aio *aio;
	nng_ctx ctx;
	nng_msg *msg;
	rpc *owner;
	arena arena;
	Clm__V1__Response resp;
	struct call_req dr;
	uint32_t pipe; /* the connection of the request in hand, or 0 */
	/*
	 * In RPC_WAIT: the request was parked for its min_position and is
	 * woken (rpc_resume), rather than a write done.
	 */
	_Atomic bool resumed;
};

struct rpc_listener {
	nng_listener l;
	const char *url; /* from the config */
	bool ipc;
	bool down; /* closed, and listening again failed: retried */
};

struct rpc {
	nng_socket sock;
	struct server *srv;
	struct rpc_work *works;
	size_t n_works;
	_Atomic bool closing; /* work items stop re-arming their receive */
	pthread_mutex_t mu;   /* guards listeners against the watchdog */
	struct rpc_listener listeners[CONFIG_MAX_LISTEN];
	int n_listeners;
	/*
	 * The IPC watchdog (docs/operations.md "Securing it"): thread, and how
	 * to stop it.
	 */
	bool watchdog_running;
	bool watchdog_stop; /* guarded by mu */
	pthread_cond_t watchdog_cv;
	pthread_t watchdog;
	rpc_probe *probe;        /* of the ipc:// listeners, by the watchdog */
	int64_t relisten_log_ms; /* see rpc_relisten (0: never); mu */
	unsigned relisten_quiet;
	nng_tls_config *tls;  /* for tls+tcp:// listeners, or NULL */
	struct telemetry *tm; /* the server's counters (srv->tm), or NULL */
	rpc_conns *conns;     /* max_connections, idle_timeout */
};

static void rpc_cb(void *arg);

static void
rpc_recv(struct rpc_work *w)
{
	arena_reset(&w->arena);
	atomic_store(&w->state, RPC_RECV);
	if (atomic_load(&w->owner->closing)) {
		/*
		 * nng 1.5.2 can hang for good in nng_aio_stop or nng_close
		 * when an aio is being re-armed at that moment (nng issues
		 * 1543, 1813): on the way out, items stop by themselves.
		 */
		atomic_store(&w->state, RPC_STOPPED);
		return;
	}
	nng_ctx_recv(w->ctx, w->aio);
}

/* Counts the reply about to be sent: its call, code and latency. */
static void
rpc_count(struct rpc_work *w)
{
	const Clm__V1__Request *req = w->dr.req;
	const Clm__V1__Status *st = w->resp.status;
	telemetry_request(w->owner->tm, req != NULL ? (int) req->call_case : 0,
	        st != NULL ? (int) st->code : CLM_OK,
	        clock_mono_ns() - w->dr.arrived_ns);
}

static void
rpc_send(struct rpc_work *w)
{
	rpc_count(w);
	size_t size = clm__v1__response__get_packed_size(&w->resp);
	nng_msg_clear(w->msg);
	if (nng_msg_realloc(w->msg, size) != 0) {
		log_error("cannot allocate a %zu-byte reply", size);
		nng_msg_free(w->msg);
		w->msg = NULL;
		rpc_recv(w);
		return;
	}
	clm__v1__response__pack(&w->resp, nng_msg_body(w->msg));
	nng_aio_set_msg(w->aio, w->msg);
	w->msg = NULL;
	atomic_store(&w->state, RPC_SEND);
	nng_ctx_send(w->ctx, w->aio);
}

/* Called by the writer, on its thread, when a parked write is done. */
static void
rpc_write_done(writer_job *job)
{
	struct rpc_work *w = job->done_arg;
	/*
	 * Bounce back to an nng thread: the callback sees RPC_WAIT. Beginning
	 * and finishing the aio here dispatches the callback straight to
	 * nng's task queue (nng_sleep_aio(0) would go through its timer
	 * thread: one more thread woken per write). Begin only fails once the
	 * aio is stopped, and rpc_close stops aios after the writer is done.
	 */
	if (nng_aio_begin(w->aio)) {
		nng_aio_finish(w->aio, 0);
	}
}

/*
 * Called by waitpos (the writer's thread, or its timer) when a request
 * parked for its min_position may go on: back to an nng thread, as for a
 * write done.
 */
static void
rpc_resume(struct call_req *dr)
{
	struct rpc_work *w = dr->resume_arg;
	atomic_store(&w->resumed, true);
	if (nng_aio_begin(w->aio)) {
		nng_aio_finish(w->aio, 0);
	}
}

static void
rpc_handle(struct rpc_work *w)
{
	size_t len = nng_msg_len(w->msg);
	struct call_req *dr = &w->dr;
	dr->now_ms = clock_now_ms();
	dr->arrived_ns = clock_mono_ns();
	/* On the packed bytes: see struct call_req's wire. */
	dr->wire = pbwire_find_nul(&clm__v1__request__descriptor,
	        nng_msg_body(w->msg), len, dr->wire_field,
	        sizeof(dr->wire_field));
	dr->req = NULL;
	dr->over_budget = false;
	if (!dispatch_screen(dr, nng_msg_body(w->msg), len)) {
		rpc_send(w); /* refused on the wire: nothing decoded */
		return;
	}
	/*
	 * Decoding is bounded by the size of the message (dispatch.h), until
	 * the request is authenticated and validated.
	 */
	arena_budget(&w->arena, dispatch_decode_budget(len));
	dr->req = clm__v1__request__unpack(
	        arena_pb(&w->arena), len, nng_msg_body(w->msg));
	dr->over_budget = arena_over_budget(&w->arena);
	arena_budget(&w->arena, 0);
	/*
	 * Set before dispatching: once the job is queued the writer may
	 * finish it, and wake this item, before dispatch_request returns.
	 */
	atomic_store(&w->state, RPC_WAIT);
	if (dispatch_request(dr) != DISPATCH_DONE) {
		/* w now belongs to the writer until rpc_write_done, or to
		 * waitpos until rpc_resume. */
		return;
	}
	rpc_send(w);
}

static void
rpc_cb(void *arg)
{
	struct rpc_work *w = arg;
	int rv;
	switch (atomic_load(&w->state)) {
	case RPC_RECV:
		rv = nng_aio_result(w->aio);
		if (rv != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				atomic_store(&w->state, RPC_STOPPED);
				return; /* shutting down */
			}
			log_warn("receive failed: %s", nng_strerror(rv));
			rpc_recv(w);
			return;
		}
		w->msg = nng_aio_get_msg(w->aio);
		w->pipe = (uint32_t) nng_pipe_id(nng_msg_get_pipe(w->msg));
		rpc_conn_touch(w->owner->conns, w->pipe);
		rpc_handle(w);
		return;
	case RPC_WAIT:
		rv = nng_aio_result(w->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return; /* stopped while parked; rpc_close frees msg */
		}
		if (!atomic_exchange(&w->resumed, false)) {
			dispatch_finish(&w->dr); /* a write done */
		} else if (dispatch_resume(&w->dr) != DISPATCH_DONE) {
			return; /* a write, now with the writer */
		}
		rpc_send(w);
		return;
	case RPC_SEND:
		rv = nng_aio_result(w->aio);
		if (rv != 0) {
			/* The message is still ours after a failed send. */
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				atomic_store(&w->state, RPC_STOPPED);
				return;
			}
		} else {
			/* A long request does not make its connection idle. */
			rpc_conn_touch(w->owner->conns, w->pipe);
		}
		w->pipe = 0;
		rpc_recv(w);
		return;
	}
}

/*
 * The server's TLS configuration: our certificate and key, and when a CA
 * is given, client certificates it signed are required.
 */
static int
rpc_tls_config(const struct config *cfg, nng_tls_config **out)
{
	if (cfg->tls_cert_file[0] == '\0') {
		return NNG_EINVAL;
	}
	nng_tls_config *tc;
	int rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_SERVER);
	if (rv != 0) {
		return rv;
	}
	rv = nng_tls_config_cert_key_file(tc, cfg->tls_cert_file, NULL);
	if (rv == 0 && cfg->tls_ca_file[0] != '\0') {
		rv = nng_tls_config_ca_file(tc, cfg->tls_ca_file);
		if (rv == 0) {
			rv = nng_tls_config_auth_mode(
			        tc, NNG_TLS_AUTH_MODE_REQUIRED);
		}
	}
	if (rv != 0) {
		nng_tls_config_free(tc);
		return rv;
	}
	*out = tc;
	return 0;
}

/*
 * The directory of an IPC socket: created owner-only (0700) when missing,
 * so nobody else can reach the socket even before its own 0600 applies.
 */
static int
rpc_ipc_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		return 0;
	}
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0) {
		/* Not for a sticky shared dir such as /tmp (01000). */
		if ((st.st_mode & 077) != 0 && (st.st_mode & 01000) == 0) {
			log_warn(
			        "ipc socket directory '%s' is open to others (mode %03o): use a 0700 directory",
			        dir, (unsigned) (st.st_mode & 0777));
		}
		return 0;
	}
	if (mkdir(dir, 0700) != 0) {
		snprintf(err, errlen,
		        "cannot create ipc socket directory '%s': %s", dir,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates and starts a listener on url; 0 or an nng error. */
static int
rpc_listener_start(rpc *r, const char *url, nng_listener *out)
{
	nng_listener l = NNG_LISTENER_INITIALIZER;
	int rv = nng_listener_create(&l, r->sock, url);
	if (rv == 0 && strncmp(url, "tls+tcp://", 10) == 0) {
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, r->tls);
	}
	if (rv == 0 && strncmp(url, "ipc://", 6) == 0) {
		/* nng does not apply the umask: the socket is owner-only. */
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
	}
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	if (rv != 0) {
		nng_listener_close(l); /* no-op when create failed */
		return rv;
	}
	*out = l;
	return 0;
}

static int
rpc_listen(rpc *r, const char *url, char *err, size_t errlen)
{
	const struct config *cfg = r->srv->cfg;
	if (exposure_check_url(url, r->srv->auth != NULL,
	            cfg->tls_ca_file[0] != '\0', err, errlen)
	        != 0) {
		return -1;
	}
	if (strncmp(url, "ipc://", 6) == 0
	        && rpc_ipc_dir(url + 6, err, errlen) != 0) {
		return -1;
	}
	bool tls = strncmp(url, "tls+tcp://", 10) == 0;
	if (tls && r->tls == NULL) {
		int trv = rpc_tls_config(cfg, &r->tls);
		if (trv != 0) {
			snprintf(err, errlen,
			        "cannot set up TLS for '%s': %s%s", url,
			        nng_strerror(trv),
			        cfg->tls_cert_file[0] == '\0'
			                ? " (tls_cert_file is not set)"
			                : "");
			return -1;
		}
	}
	struct rpc_listener *rl = &r->listeners[r->n_listeners];
	int rv = rpc_listener_start(r, url, &rl->l);
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", url,
		        nng_strerror(rv));
		return -1;
	}
	rl->url = url;
	rl->ipc = strncmp(url, "ipc://", 6) == 0;
	r->n_listeners++;
	return 0;
}

/* Closes rl's listener and listens again on its URL. mu. */
static void
rpc_relisten(rpc *r, struct rpc_listener *rl)
{
	if (!rl->down) {
		/* A flood of them must not flood the log: one per 10 s. */
		int64_t now = clock_mono_ns() / 1000000;
		if (r->relisten_log_ms == 0
		        || now - r->relisten_log_ms >= 10000) {
			log_warn(
			        "ipc listener '%s' stopped accepting (nng issue 1518): listening again (%u more times since the last such message)",
			        rl->url, r->relisten_quiet);
			r->relisten_log_ms = now;
			r->relisten_quiet = 0;
		} else {
			r->relisten_quiet++;
		}
		nng_listener_close(rl->l);
		telemetry_ipc_relisten(r->tm);
	}
	int rv = rpc_listener_start(r, rl->url, &rl->l);
	if (rv != 0) {
		if (!rl->down) {
			log_error("cannot listen again on '%s': %s (retrying)",
			        rl->url, nng_strerror(rv));
		}
		rl->down = true;
		return;
	}
	if (rl->down) {
		log_warn("listening on '%s' again", rl->url);
	}
	rl->down = false;
}

/*
 * Probes each ipc:// listener (net/rpc_probe.h), and listens again on
 * those that no longer accept. mu.
 */
static void
rpc_ipc_check(rpc *r)
{
	for (int i = 0; i < r->n_listeners && !r->watchdog_stop; i++) {
		struct rpc_listener *rl = &r->listeners[i];
		if (!rl->ipc) {
			continue;
		}
		enum rpc_probe_result res = RPC_PROBE_DEAD;
		if (!rl->down) {
			pthread_mutex_unlock(&r->mu);
			res = rpc_probe_run(
			        r->probe, rl->l, rl->url + strlen("ipc://"));
			telemetry_ipc_probe(r->tm);
			pthread_mutex_lock(&r->mu);
		}
		if (res == RPC_PROBE_DEAD && !r->watchdog_stop) {
			rpc_relisten(r, rl);
		}
	}
}

/*
 * The watchdog thread: every RPC_IPC_PROBE_MS it probes the ipc://
 * listeners, and every RPC_WATCHDOG_MS it closes the connections idle for
 * idle_timeout (so one may live RPC_WATCHDOG_MS longer).
 */
#define RPC_WATCHDOG_MS  2000
#define RPC_IPC_PROBE_MS 50

static void *
rpc_watchdog_main(void *arg)
{
	rpc *r = arg;
	bool any_ipc = false;
	for (int i = 0; i < r->n_listeners; i++) {
		any_ipc = any_ipc || r->listeners[i].ipc;
	}
	int64_t sweep = clock_mono_ns() / 1000000 + RPC_WATCHDOG_MS;
	pthread_mutex_lock(&r->mu);
	while (!r->watchdog_stop) {
		int64_t wait = sweep - clock_mono_ns() / 1000000;
		if (any_ipc && wait > RPC_IPC_PROBE_MS) {
			wait = RPC_IPC_PROBE_MS;
		}
		struct timespec ts = clock_deadline(wait);
		pthread_cond_timedwait(&r->watchdog_cv, &r->mu, &ts);
		if (r->watchdog_stop) {
			break;
		}
		if (any_ipc) {
			rpc_ipc_check(r);
		}
		if (clock_mono_ns() / 1000000 >= sweep) {
			sweep = clock_mono_ns() / 1000000 + RPC_WATCHDOG_MS;
			pthread_mutex_unlock(&r->mu);
			rpc_conn_sweep(r->conns);
			pthread_mutex_lock(&r->mu);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/*
 * Each connection holds a file descriptor, HTTP's (http_max_connections,
 * when http is on) too; so do LMDB, the listeners, the event stream and
 * the logs, for which RPC_FD_HEADROOM is a generous allowance. Past the
 * process's limit, accept fails and new clients hang instead of being
 * refused: warn.
 */
#define RPC_FD_HEADROOM 64

static void
rpc_check_fd_limit(size_t max_conns, size_t http_conns)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0
	        || rl.rlim_cur == RLIM_INFINITY) {
		return;
	}
	if ((rlim_t) max_conns + http_conns + RPC_FD_HEADROOM > rl.rlim_cur) {
		log_warn(
		        "max_connections %zu and http_max_connections %zu plus %d for the rest exceeds the open file limit %llu: raise it (LimitNOFILE=, ulimit -n) or lower them",
		        max_conns, http_conns, RPC_FD_HEADROOM,
		        (unsigned long long) rl.rlim_cur);
	}
}

/* Frees what rpc_open makes before the socket. NULL members are fine. */
static void
rpc_free_parts(rpc *r)
{
	rpc_probe_close(r->probe);
	rpc_conn_close(r->conns);
	pthread_cond_destroy(&r->watchdog_cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

clm_err
rpc_open(struct server *srv, rpc **out, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	rpc *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	r->srv = srv;
	r->tm = srv->tm;
	pthread_mutex_init(&r->mu, NULL);
	clock_cond_init(&r->watchdog_cv);
	if (rpc_conn_open((size_t) cfg->max_connections,
	            cfg->idle_timeout * 1000, r->tm, &r->conns)
	                != CLM_OK
	        || rpc_probe_open(&r->probe) != CLM_OK) {
		snprintf(err, errlen, "out of memory");
		rpc_free_parts(r);
		return CLM_RESOURCE_EXHAUSTED;
	}
	rpc_check_fd_limit((size_t) cfg->max_connections,
	        cfg->http[0] != '\0' ? (size_t) cfg->http_max_connections : 0);
	int rv = nng_rep0_open(&r->sock);
	if (rv != 0) {
		snprintf(err, errlen, "cannot open socket: %s",
		        nng_strerror(rv));
		rpc_free_parts(r);
		return CLM_UNAVAILABLE;
	}
	/* Before listening, so that no connection goes uncounted. */
	rpc_conn_watch(r->conns, r->sock, rpc_probe_pipe, r->probe);
	/* nng 1.5.2 has no receive limit by default: set it before listening.
	 */
	nng_socket_set_size(
	        r->sock, NNG_OPT_RECVMAXSZ, (size_t) cfg->max_message_bytes);

	r->n_works = (size_t) cfg->workers;
	r->works = calloc(r->n_works, sizeof(*r->works));
	if (r->works == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < r->n_works; i++) {
		struct rpc_work *w = &r->works[i];
		w->owner = r;
		arena_init(&w->arena);
		w->dr.srv = srv;
		w->dr.resp = &w->resp;
		w->dr.a = &w->arena;
		w->dr.done = rpc_write_done;
		w->dr.done_arg = w;
		w->dr.resume = rpc_resume;
		w->dr.resume_arg = w;
		if (store_reader_new(srv->st, &w->dr.reader) != CLM_OK
		        || (rv = nng_aio_alloc(&w->aio, rpc_cb, w)) != 0
		        || (rv = nng_ctx_open(&w->ctx, r->sock)) != 0) {
			snprintf(err, errlen, "cannot set up work item: %s",
			        nng_strerror(rv));
			goto fail;
		}
	}
	for (int i = 0; i < cfg->n_listen; i++) {
		if (rpc_listen(r, cfg->listen[i], err, errlen) != 0) {
			goto fail;
		}
	}
	for (size_t i = 0; i < r->n_works; i++) {
		rpc_recv(&r->works[i]);
	}
	bool any_ipc = false;
	for (int i = 0; i < r->n_listeners; i++) {
		any_ipc = any_ipc || r->listeners[i].ipc;
	}
	if ((any_ipc || rpc_conn_idle_ms(r->conns) > 0)
	        && thread_start(
	                   &r->watchdog, rpc_watchdog_main, r, "clm:watchdog")
	                == 0) {
		r->watchdog_running = true;
	}
	*out = r;
	return CLM_OK;
fail:
	rpc_close(r, 0);
	return CLM_UNAVAILABLE;
}

static void
rpc_watchdog_stop(rpc *r)
{
	pthread_mutex_lock(&r->mu);
	r->watchdog_stop = true;
	pthread_cond_signal(&r->watchdog_cv);
	pthread_mutex_unlock(&r->mu);
	if (r->watchdog_running) {
		pthread_join(r->watchdog, NULL);
		r->watchdog_running = false;
	}
}

void
rpc_stop_listening(rpc *r)
{
	rpc_watchdog_stop(r);
	for (int i = 0; i < r->n_listeners; i++) {
		nng_listener_close(r->listeners[i].l);
	}
	r->n_listeners = 0;
}

struct rpc_closer {
	nng_socket sock;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void *
rpc_closer_main(void *arg)
{
	struct rpc_closer *c = arg;
	nng_close(c->sock);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * Closes the socket, giving up after timeout_ms. nng 1.5.2's nng_close can
 * wait forever for a pipe whose task never ran (nng issues 1543 and 1813,
 * fixed in 1.8), most often with clients still connected. By then every
 * request taken in has been answered and every write committed, so a
 * stuck close must not keep the process from exiting: it runs on its own
 * thread, and returns false (the thread and the closer are leaked) when
 * it does not finish in time.
 */
static bool
rpc_close_socket(rpc *r, int timeout_ms)
{
	struct rpc_closer *c = calloc(1, sizeof(*c));
	pthread_t t;
	if (c == NULL) {
		nng_close(r->sock);
		return true;
	}
	c->sock = r->sock;
	pthread_mutex_init(&c->mu, NULL);
	clock_cond_init(&c->cv);
	if (thread_start(&t, rpc_closer_main, c, "clm:closer") != 0) {
		rpc_closer_main(c);
	} else {
		pthread_detach(t);
	}
	struct timespec ts = clock_deadline((int64_t) timeout_ms + 1000);
	pthread_mutex_lock(&c->mu);
	while (!c->done) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) {
			break;
		}
	}
	bool done = c->done;
	pthread_mutex_unlock(&c->mu);
	if (!done) {
		log_warn(
		        "the request socket did not close in time (nng issue 1543); exiting without waiting for it");
		return false;
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return true;
}

bool
rpc_close(rpc *r, int timeout_ms)
{
	if (r == NULL) {
		return true;
	}
	/*
	 * Listeners stay open until the end: closing one closes the
	 * connections it accepted, and with them the replies still owed.
	 */
	rpc_watchdog_stop(r);
	/*
	 * Let every item finish the request in its hands and stop: idle ones
	 * have their receive cancelled, busy ones stop after their reply.
	 * Only then stop the aios and close the socket, so no aio is being
	 * re-armed while nng tears it down.
	 */
	atomic_store(&r->closing, true);
	int64_t until = clock_mono_ns() + (int64_t) timeout_ms * 1000000;
	for (;;) {
		size_t running = 0;
		for (size_t i = 0; r->works != NULL && i < r->n_works; i++) {
			struct rpc_work *w = &r->works[i];
			int st = atomic_load(&w->state);
			if (st == RPC_RECV && w->aio != NULL) {
				nng_aio_cancel(w->aio);
			}
			running += st != RPC_STOPPED && w->aio != NULL;
		}
		if (running == 0 || clock_mono_ns() >= until) {
			if (running > 0) {
				log_warn(
				        "%zu requests still in flight at close",
				        running);
			}
			break;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; r->works != NULL && i < r->n_works; i++) {
		if (r->works[i].aio != NULL) {
			nng_aio_stop(r->works[i].aio);
		}
	}
	/*
	 * A sent reply may still sit in a connection's queue; nng has no
	 * flush, so give the transport a moment before closing.
	 */
	struct timespec flush = { 0, 100000000 };
	nanosleep(&flush, NULL);
	rpc_stop_listening(r);
	if (!rpc_close_socket(r, timeout_ms)) {
		/*
		 * nng is stuck tearing the socket down (see rpc_close_socket);
		 * its threads may still touch the work items, so they are
		 * left allocated for the process exit to reclaim.
		 */
		return false;
	}

	for (size_t i = 0; r->works != NULL && i < r->n_works; i++) {
		struct rpc_work *w = &r->works[i];
		if (w->aio != NULL) {
			nng_aio_free(w->aio);
		}
		if (w->msg != NULL) {
			nng_msg_free(w->msg);
		}
		store_reader_free(w->dr.reader);
		arena_fini(&w->arena);
	}
	free(r->works);
	if (r->tls != NULL) {
		nng_tls_config_free(r->tls);
	}
	rpc_free_parts(r);
	return true;
}
