/*
 * rpc_probe: whether an ipc:// listener of the REP socket still accepts.
 *
 * nng 1.5.2's IPC listener stops accepting for good when a peer connects
 * and closes during the SP handshake (nng issue 1518, fixed in 1.6.0).
 * nng gives no sign of it, so rpc's watchdog probes each ipc:// listener
 * with rpc_probe_run: a connection of our own that must come out of the
 * listener as a pipe, which rpc_probe_pipe recognizes in the socket's
 * ADD_PRE callback (the peer is this very process) and closes.
 */
#ifndef CLM_NET_RPC_PROBE_H
#define CLM_NET_RPC_PROBE_H

#include <nng/nng.h>
#include <stdbool.h>

#include "clm/error.h"

typedef struct rpc_probe rpc_probe;

enum rpc_probe_result {
	RPC_PROBE_ACCEPTED, /* the listener works */
	RPC_PROBE_DEAD,     /* not accepted in time, or nothing listens */
	RPC_PROBE_UNKNOWN,  /* cannot tell (a full backlog, no descriptor) */
};

/*
 * rpc_probe_open makes a prober. Returns CLM_OK, or CLM_RESOURCE_EXHAUSTED
 * when memory runs out.
 */
clm_err rpc_probe_open(rpc_probe **out);

/*
 * rpc_probe_pipe is an rpc_conn_probe_fn (arg: the rpc_probe): true when
 * the new pipe p is a probe, an ipc:// connection from this very process,
 * which the caller then closes; it completes the probe in progress when
 * p came from the listener it probes. Any thread.
 */
bool rpc_probe_pipe(nng_pipe p, void *arg);

/*
 * rpc_probe_run tells whether the ipc:// listener l, whose socket is at
 * path, still accepts: it connects, sends a REQ handshake, and waits for
 * the server's handshake (up to 1 s), then for rpc_probe_pipe to see the
 * connection. That second wait is 4 times the slowest recent probe, at
 * least 100 ms and at most 1 s, so a loaded machine does not pass for a
 * dead listener. The handshake is sent whole before the connection is
 * closed: the probe cannot stop the listener itself. One thread at a time
 * (the watchdog's); it blocks for up to 2 s.
 */
enum rpc_probe_result rpc_probe_run(
        rpc_probe *pr, nng_listener l, const char *path);

/*
 * rpc_probe_connect connects to the ipc socket at path and does the SP
 * handshake as a REQ peer (sent whole, so closing afterwards cannot stop
 * the listener: nng issue 1518), waiting up to 1 s for the answer.
 * Returns the connected fd (the caller closes it), or -1 with *res set:
 * RPC_PROBE_DEAD when nothing listens or nothing answered, RPC_PROBE_UNKNOWN
 * when it cannot tell (a full backlog, no descriptor). Any thread.
 */
int rpc_probe_connect(const char *path, enum rpc_probe_result *res);

/* rpc_probe_close frees the prober. NULL is a no-op. */
void rpc_probe_close(rpc_probe *pr);

#endif /* CLM_NET_RPC_PROBE_H */
