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

#include "calls/call.h"

enum dispatch_result {
	DISPATCH_DONE,    /* r->resp is ready to send */
	DISPATCH_PENDING, /* queued: r->job.done will be called */
};

/* dispatch_request handles r; see enum dispatch_result. */
enum dispatch_result dispatch_request(struct call_req *r);

/*
 * dispatch_read is dispatch_request for callers that answer on the spot
 * and have no writer job (the HTTP dashboard): the same checks and the
 * same read handlers, inside a read transaction of r->reader, but a call
 * that would write is answered FAILED_PRECONDITION instead of queued.
 * r->resp is final when it returns.
 */
void dispatch_read(struct call_req *r);

/*
 * dispatch_finish completes a write after the writer called job.done: it
 * turns a batch-level failure into the reply's status. Any thread.
 */
void dispatch_finish(struct call_req *r);

/* dispatch_call_name returns the name of a call case ("track"), or "?". */
const char *dispatch_call_name(int call_case);

#endif /* CLM_DISPATCH_H */
