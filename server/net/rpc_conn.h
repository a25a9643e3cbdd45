/*
 * rpc_conn: the table of the REP socket's open connections (nng pipes),
 * for max_connections and idle_timeout (docs/operations.md
 * "Connections").
 *
 * nng's pipe callbacks keep it: a pipe that arrives while max_connections
 * are open is closed in its ADD_PRE callback (refused, never counted);
 * the others are entered with the time of their latest activity, which
 * the work items renew, and removed in REM_POST. The sweep closes those
 * idle for idle_timeout. Every function is safe from any thread.
 */
#ifndef CLM_NET_RPC_CONN_H
#define CLM_NET_RPC_CONN_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

struct telemetry;

typedef struct rpc_conns rpc_conns;

/*
 * rpc_conn_open makes an empty table for at most max_conns connections,
 * closing those idle for idle_ms (0: never), counting open, refused and
 * idle-closed connections in tm (may be NULL; it must outlive the table).
 * Returns CLM_OK, or CLM_RESOURCE_EXHAUSTED when memory runs out.
 */
clm_err rpc_conn_open(size_t max_conns, int64_t idle_ms, struct telemetry *tm,
        rpc_conns **out);

/*
 * rpc_conn_probe_fn tells, in a new pipe's ADD_PRE callback on an nng
 * thread, whether the pipe is the server's own probe; see rpc_conn_watch.
 */
typedef bool rpc_conn_probe_fn(nng_pipe p, void *arg);

/*
 * rpc_conn_watch registers the table's pipe callbacks on sock. Call it
 * before the socket listens, so that no connection goes uncounted, and
 * close the socket before rpc_conn_close. probe (may be NULL) is asked
 * first about each new pipe, with arg: a pipe it claims is closed at
 * once, neither counted nor refused, whatever the number open. Returns 0
 * or an nng error.
 */
int rpc_conn_watch(
        rpc_conns *t, nng_socket sock, rpc_conn_probe_fn *probe, void *arg);

/*
 * rpc_conn_touch marks the connection with nng pipe id `id` as active now
 * (a request came, or a reply went). An id of 0, or one not in the table,
 * is ignored.
 */
void rpc_conn_touch(rpc_conns *t, uint32_t id);

/*
 * rpc_conn_sweep closes the connections without activity for idle_ms, a
 * bounded batch at a time, outside the table's lock. A no-op when
 * idle_ms is 0.
 */
void rpc_conn_sweep(rpc_conns *t);

/* rpc_conn_idle_ms returns idle_ms as given to rpc_conn_open. */
int64_t rpc_conn_idle_ms(const rpc_conns *t);

/* rpc_conn_close frees the table. NULL is a no-op. */
void rpc_conn_close(rpc_conns *t);

#endif /* CLM_NET_RPC_CONN_H */
