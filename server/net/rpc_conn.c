#include "net/rpc_conn.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/telemetry.h"

/*
 * The open connections (pipes), keyed by nng pipe id: an open-addressing
 * table with linear probing, twice as many slots as max_connections (so it
 * never fills), id 0 marking an empty slot. `last_ms` is the monotonic
 * time of the latest request or reply on the pipe, for the idle sweep.
 */
struct rpc_conn {
	uint32_t id;
	int64_t last_ms;
};

/*
 * Guarded by mu, taken by nng's pipe callbacks, the work items and the
 * watchdog. n_conns counts the pipes in the table, at most max_conns; a
 * pipe that arrives past that is closed in its ADD_PRE callback and never
 * enters the table.
 */
struct rpc_conns {
	pthread_mutex_t mu;
	struct rpc_conn *conns;
	size_t mask; /* slots - 1; slots a power of two */
	size_t n_conns;
	size_t max_conns;
	int64_t idle_ms;          /* 0: connections never time out */
	struct telemetry *tm;     /* the server's counters, or NULL */
	rpc_conn_probe_fn *probe; /* see rpc_conn_watch; set before use */
	void *probe_arg;
};

clm_err
rpc_conn_open(size_t max_conns, int64_t idle_ms, struct telemetry *tm,
        rpc_conns **out)
{
	rpc_conns *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t slots = 2;
	while (slots < 2 * max_conns) {
		slots *= 2;
	}
	t->conns = calloc(slots, sizeof(*t->conns));
	if (t->conns == NULL) {
		free(t);
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->mask = slots - 1;
	t->max_conns = max_conns;
	t->idle_ms = idle_ms;
	t->tm = tm;
	*out = t;
	return CLM_OK;
}

void
rpc_conn_close(rpc_conns *t)
{
	if (t == NULL) {
		return;
	}
	pthread_mutex_destroy(&t->mu);
	free(t->conns);
	free(t);
}

static size_t
rpc_conn_slot(const rpc_conns *t, uint32_t id)
{
	/* Pipe ids are sequential: spread them (Knuth's multiplier). */
	return (size_t) ((id * 2654435761u) & t->mask);
}

/* The slot holding id, or the empty slot where it would go. mu. */
static size_t
rpc_conn_find(const rpc_conns *t, uint32_t id)
{
	size_t i = rpc_conn_slot(t, id);
	while (t->conns[i].id != 0 && t->conns[i].id != id) {
		i = (i + 1) & t->mask;
	}
	return i;
}

/*
 * Removes id (if present) by shifting back the entries after it that
 * probed past its slot, so that lookups need no tombstones. mu.
 */
static bool
rpc_conn_remove(rpc_conns *t, uint32_t id)
{
	size_t i = rpc_conn_find(t, id);
	if (t->conns[i].id == 0) {
		return false;
	}
	size_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->conns[j].id == 0) {
			break;
		}
		size_t k = rpc_conn_slot(t, t->conns[j].id);
		/* Move j to the hole at i unless its home k lies in (i, j]. */
		bool home_between
		        = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!home_between) {
			t->conns[i] = t->conns[j];
			i = j;
		}
	}
	t->conns[i].id = 0;
	return true;
}

void
rpc_conn_touch(rpc_conns *t, uint32_t id)
{
	if (id == 0 || t->idle_ms == 0) {
		return;
	}
	pthread_mutex_lock(&t->mu);
	size_t i = rpc_conn_find(t, id);
	if (t->conns[i].id == id) {
		t->conns[i].last_ms = clock_mono_ns() / 1000000;
	}
	pthread_mutex_unlock(&t->mu);
}

/*
 * nng's pipe callback, on its thread. ADD_PRE: a new connection, before
 * the protocol sees it; closing it here refuses it (nng then drops it
 * without a reply). REM_POST: a connection went, refused ones included.
 */
static void
rpc_conn_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	rpc_conns *t = arg;
	uint32_t id = (uint32_t) nng_pipe_id(p);
	if (ev == NNG_PIPE_EV_ADD_PRE && t->probe != NULL
	        && t->probe(p, t->probe_arg)) {
		nng_pipe_close(p); /* its REM_POST finds it not counted */
		return;
	}
	bool refuse = false;
	pthread_mutex_lock(&t->mu);
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (t->n_conns >= t->max_conns) {
			refuse = true;
		} else {
			size_t i = rpc_conn_find(t, id);
			t->conns[i].id = id;
			t->conns[i].last_ms = clock_mono_ns() / 1000000;
			t->n_conns++;
		}
	} else if (ev == NNG_PIPE_EV_REM_POST && rpc_conn_remove(t, id)) {
		t->n_conns--;
	}
	/* Under the lock, so that the gauge follows the count in order. */
	telemetry_conn_open(t->tm, TELEMETRY_LISTENER_RPC, t->n_conns);
	pthread_mutex_unlock(&t->mu);
	if (refuse) {
		telemetry_conn_refused(t->tm, TELEMETRY_LISTENER_RPC);
		nng_pipe_close(p);
	}
}

int
rpc_conn_watch(
        rpc_conns *t, nng_socket sock, rpc_conn_probe_fn *probe, void *arg)
{
	t->probe = probe;
	t->probe_arg = arg;
	int rv = nng_pipe_notify(
	        sock, NNG_PIPE_EV_ADD_PRE, rpc_conn_pipe_cb, t);
	if (rv == 0) {
		rv = nng_pipe_notify(
		        sock, NNG_PIPE_EV_REM_POST, rpc_conn_pipe_cb, t);
	}
	return rv;
}

/*
 * Closing runs REM_POST, which takes mu: the idle pipes are collected
 * under the lock and closed outside it.
 */
void
rpc_conn_sweep(rpc_conns *t)
{
	if (t->idle_ms == 0) {
		return;
	}
	enum { RPC_CONN_SWEEP_BATCH = 64 };
	for (;;) {
		uint32_t idle[RPC_CONN_SWEEP_BATCH];
		size_t n = 0;
		int64_t now = clock_mono_ns() / 1000000;
		pthread_mutex_lock(&t->mu);
		for (size_t i = 0; i <= t->mask && n < RPC_CONN_SWEEP_BATCH;
		        i++) {
			struct rpc_conn *c = &t->conns[i];
			if (c->id != 0 && now - c->last_ms >= t->idle_ms) {
				c->last_ms = now; /* not picked again soon */
				idle[n++] = c->id;
			}
		}
		pthread_mutex_unlock(&t->mu);
		for (size_t i = 0; i < n; i++) {
			nng_pipe p = NNG_PIPE_INITIALIZER;
			p.id = idle[i];
			if (nng_pipe_close(p) == 0) {
				telemetry_conn_idle(
				        t->tm, TELEMETRY_LISTENER_RPC);
			}
		}
		if (n < RPC_CONN_SWEEP_BATCH) {
			return;
		}
	}
}

int64_t
rpc_conn_idle_ms(const rpc_conns *t)
{
	return t->idle_ms;
}
