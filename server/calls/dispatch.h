/*
 * dispatch: from a decoded Request to a filled Response.
 *
 * Calls are data: one table row per `call` case, {name, read|write,
 * handler}. dispatch_request does every generic check in one place (the
 * request decoded, a call set, the call built), then runs a read handler
 * inside a read transaction on the calling thread, or lets a write
 * handler's prepare step validate and queue a job for the writer.
 */
#ifndef CLM_DISPATCH_H
#define CLM_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "server.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer.h"

/* One request in flight; rpc owns it and keeps it alive until replied. */
struct dispatch_req {
	struct server *srv;
	const Clm__V1__Request *req; /* NULL: the message did not decode */
	Clm__V1__Response *resp;     /* zeroed by dispatch_request */
	arena *a;
	store_reader *reader;
	writer_job job;     /* for writes; rpc sets job.done before dispatch */
	int64_t now_ms;     /* wall clock when the request arrived */
	int64_t arrived_ns; /* monotonic, for deadline_ms */
};

/* Fills r->resp (result and status) inside the read transaction txn. */
typedef void (*dispatch_read_fn)(struct dispatch_req *r, store_txn *txn);

/*
 * Validates r->req on the calling thread. Returns true after setting
 * r->job.apply/arg to have the writer apply it, or false when r->resp is
 * already final (an error).
 */
typedef bool (*dispatch_prepare_fn)(struct dispatch_req *r);

enum dispatch_result {
	DISPATCH_DONE,    /* r->resp is ready to send */
	DISPATCH_PENDING, /* queued: r->job.done will be called */
};

/* dispatch_request handles r; see enum dispatch_result. */
enum dispatch_result dispatch_request(struct dispatch_req *r);

/*
 * dispatch_read is dispatch_request for callers that answer on the spot
 * and have no writer job (the HTTP dashboard): the same checks and the
 * same read handlers, inside a read transaction of r->reader, but a call
 * that would write is answered FAILED_PRECONDITION instead of queued.
 * r->resp is final when it returns.
 */
void dispatch_read(struct dispatch_req *r);

/*
 * dispatch_finish completes a write after the writer called job.done: it
 * turns a batch-level failure into the reply's status. Any thread.
 */
void dispatch_finish(struct dispatch_req *r);

/* dispatch_call_name returns the name of a call case ("track"), or "?". */
const char *dispatch_call_name(int call_case);

#endif /* CLM_DISPATCH_H */
