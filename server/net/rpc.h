/*
 * rpc: the REP socket and its pool of work items.
 *
 * Each work item is an explicit state machine {state, aio, ctx, msg}
 * driven by one aio callback, as in nng's demo/async server: receive,
 * decode into the item's arena, dispatch, and send the reply. A write is
 * parked (WAIT) while the writer applies it. Once its fate is sealed
 * (committed, failed, or past its deadline), the writer calls the job's
 * done function, which begins and finishes the item's aio (nng_aio_begin +
 * nng_aio_finish): that hands the callback to nng's task queue, so
 * completing the reply (dispatch_finish), packing and sending happen on an
 * nng thread again, never on the writer.
 */
#ifndef CLM_RPC_H
#define CLM_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include "clm/error.h"

struct server;

typedef struct rpc rpc;

/*
 * rpc_open opens the socket, sets the receive limit and listens on every
 * URL of srv->cfg, then starts srv->cfg->workers work items. On failure err
 * holds a one-line reason ("cannot listen on 'tcp://...': address in use").
 */
clm_err rpc_open(struct server *srv, rpc **out, char *err, size_t errlen);

/* rpc_stop_listening closes the listeners: no new connections. */
void rpc_stop_listening(rpc *r);

/*
 * rpc_close stops taking requests, waits (up to timeout_ms) for work items
 * with a request in hand to send their reply, then stops every aio, closes
 * the listeners and the socket and frees everything. Call it after the writer
 * has stopped. Returns false when nng could not close the socket in time (a
 * bug of nng 1.5.2): nng is then wedged, no other nng socket can be closed
 * either, and the process should just exit. NULL is a no-op (true).
 */
bool rpc_close(rpc *r, int timeout_ms);

#endif /* CLM_RPC_H */
