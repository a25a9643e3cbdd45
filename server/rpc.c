#include "rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "clock.h"
#include "dispatch.h"
#include "log.h"

enum rpc_state {
	RPC_RECV, /* waiting for a request */
	RPC_WAIT, /* a write is with the writer */
	RPC_SEND, /* sending the reply */
};

struct rpc_work {
	_Atomic int state;
	nng_aio *aio;
	nng_ctx ctx;
	nng_msg *msg;
	rpc *owner;
	arena arena;
	Clm__V1__Response resp;
	struct dispatch_req dr;
};

struct rpc {
	nng_socket sock;
	struct server *srv;
	struct rpc_work *works;
	size_t n_works;
	nng_listener listeners[CONFIG_MAX_LISTEN];
	int n_listeners;
};

static void rpc_cb(void *arg);

static void
rpc_recv(struct rpc_work *w)
{
	arena_reset(&w->arena);
	atomic_store(&w->state, RPC_RECV);
	nng_ctx_recv(w->ctx, w->aio);
}

static void
rpc_send(struct rpc_work *w)
{
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
	struct rpc_work *w = (struct rpc_work *) ((char *) job
	        - offsetof(struct rpc_work, dr.job));
	/* Bounce back to an nng thread: the callback sees RPC_WAIT. */
	nng_sleep_aio(0, w->aio);
}

static void
rpc_handle(struct rpc_work *w)
{
	size_t len = nng_msg_len(w->msg);
	struct dispatch_req *dr = &w->dr;
	dr->now_ms = clock_now_ms();
	dr->arrived_ns = clock_mono_ns();
	dr->req = clm__v1__request__unpack(
	        arena_pb(&w->arena), len, nng_msg_body(w->msg));
	/*
	 * Set before dispatching: once the job is queued the writer may
	 * finish it, and wake this item, before dispatch_request returns.
	 */
	atomic_store(&w->state, RPC_WAIT);
	if (dispatch_request(dr) == DISPATCH_PENDING) {
		return; /* w now belongs to the writer until rpc_write_done */
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
				return; /* shutting down */
			}
			log_warn("receive failed: %s", nng_strerror(rv));
			rpc_recv(w);
			return;
		}
		w->msg = nng_aio_get_msg(w->aio);
		rpc_handle(w);
		return;
	case RPC_WAIT:
		rv = nng_aio_result(w->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return; /* stopped while parked; rpc_close frees msg */
		}
		dispatch_finish(&w->dr);
		rpc_send(w);
		return;
	case RPC_SEND:
		rv = nng_aio_result(w->aio);
		if (rv != 0) {
			/* The message is still ours after a failed send. */
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				return;
			}
		}
		rpc_recv(w);
		return;
	}
}

/* Whether host (from a tcp:// URL) is a loopback address or name. */
static bool
rpc_host_is_loopback(const char *host, size_t n)
{
	if (n == 9 && strncmp(host, "localhost", 9) == 0) {
		return true;
	}
	if (n == 5 && strncmp(host, "[::1]", 5) == 0) {
		return true;
	}
	return n >= 4 && strncmp(host, "127.", 4) == 0;
}

int
rpc_check_url(const char *url, char *err, size_t errlen)
{
	const char *rest = NULL;
	static const char *const tcp[] = { "tcp://", "tcp4://", "tcp6://" };
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(tcp[i]);
		if (strncmp(url, tcp[i], n) == 0) {
			rest = url + n;
		}
	}
	if (rest == NULL) {
		if (strncmp(url, "ipc://", 6) == 0 && url[6] != '\0') {
			return 0;
		}
		snprintf(err, errlen,
		        "cannot listen on '%s': use tcp://HOST:PORT or "
		        "ipc://PATH",
		        url);
		return -1;
	}
	const char *colon = strrchr(rest, ':');
	size_t hn = colon ? (size_t) (colon - rest) : strlen(rest);
	if (!rpc_host_is_loopback(rest, hn)) {
		snprintf(err, errlen,
		        "refusing to listen on '%s': not a loopback address, "
		        "and "
		        "no auth tokens or TLS client certificates are "
		        "configured",
		        url);
		return -1;
	}
	return 0;
}

static int
rpc_listen(rpc *r, const char *url, char *err, size_t errlen)
{
	if (rpc_check_url(url, err, errlen) != 0) {
		return -1;
	}
	nng_listener l;
	int rv = nng_listener_create(&l, r->sock, url);
	if (rv == 0 && strncmp(url, "ipc://", 6) == 0) {
		/* nng does not apply the umask: the socket is owner-only. */
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
	}
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", url,
		        nng_strerror(rv));
		return -1;
	}
	r->listeners[r->n_listeners++] = l;
	return 0;
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
	int rv = nng_rep0_open(&r->sock);
	if (rv != 0) {
		snprintf(err, errlen, "cannot open socket: %s",
		        nng_strerror(rv));
		free(r);
		return CLM_UNAVAILABLE;
	}
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
		w->dr.job.done = rpc_write_done;
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
	*out = r;
	return CLM_OK;
fail:
	rpc_close(r, 0);
	return CLM_UNAVAILABLE;
}

void
rpc_stop_listening(rpc *r)
{
	for (int i = 0; i < r->n_listeners; i++) {
		nng_listener_close(r->listeners[i]);
	}
	r->n_listeners = 0;
}

void
rpc_close(rpc *r, int timeout_ms)
{
	if (r == NULL) {
		return;
	}
	rpc_stop_listening(r);
	/* Let items holding a request finish sending its reply. */
	int64_t until = clock_mono_ns() + (int64_t) timeout_ms * 1000000;
	for (size_t i = 0; r->works != NULL && i < r->n_works; i++) {
		while (atomic_load(&r->works[i].state) != RPC_RECV
		        && clock_mono_ns() < until) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	/* Stop every aio before freeing what its callback touches. */
	for (size_t i = 0; r->works != NULL && i < r->n_works; i++) {
		if (r->works[i].aio != NULL) {
			nng_aio_stop(r->works[i].aio);
		}
	}
	nng_close(r->sock);
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
	free(r);
}
