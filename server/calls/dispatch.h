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
	/*
	 * Waiting for Request.min_position: r->resume will be called, then
	 * dispatch_resume.
	 */
	DISPATCH_PARKED,
};

/* The wait of a min_position when the request has no deadline_ms. */
#define DISPATCH_MIN_POSITION_WAIT_MS 1000

/*
 * Unpacking a request may make the server allocate much more than the
 * request's size (protobuf-c builds a struct of about 200 bytes for an
 * empty Touchpoint sent as 2 bytes), before anything about the request is
 * known. So the arena it is unpacked into gets a budget of
 * DISPATCH_DECODE_FLOOR + DISPATCH_DECODE_RATIO bytes per byte of the
 * request (docs/api.md "Limits"): generous for every legitimate request,
 * which dispatch_screen has already held to the API's element counts.
 */
#define DISPATCH_DECODE_FLOOR (1u << 20)
#define DISPATCH_DECODE_RATIO 24u

/* The largest fixed per-call element limit of the API (PutCatalog's items
 * and stores, RecordSpend's spend): see dispatch_max_repeated. */
#define DISPATCH_MAX_ELEMENTS 10000u

/*
 * dispatch_decode_budget returns the bytes unpacking a packed request of
 * len bytes may take: DISPATCH_DECODE_FLOOR + DISPATCH_DECODE_RATIO * len,
 * saturating at SIZE_MAX - 1 (never 0, which would mean "no budget").
 */
size_t dispatch_decode_budget(size_t len);

/*
 * dispatch_max_repeated returns how many elements one repeated field of
 * one message of a request may hold before it is decoded: the larger of
 * max_touchpoints and DISPATCH_MAX_ELEMENTS. Every per-call element limit
 * of the API is at most that, so nothing dispatch_screen refuses would
 * have been accepted after decoding.
 */
size_t dispatch_max_repeated(int64_t max_touchpoints);

/*
 * dispatch_screen does the checks that need no decoding, on the packed
 * request buf[0..len) that r is about to be decoded from, so that an
 * unauthenticated or oversized request costs no memory: with tokens
 * configured, the auth_token found on the wire must be one of them
 * (UNAUTHENTICATED); no repeated field of any message may hold more than
 * dispatch_max_repeated elements (INVALID_ARGUMENT naming the field).
 * Returns true when the request may be decoded; false when r->resp is
 * final (initialised here, with the request_id found on the wire). Any
 * thread; allocates only the reply, from r->a.
 */
bool dispatch_screen(struct call_req *r, const uint8_t *buf, size_t len);

/*
 * dispatch_request handles r; see enum dispatch_result. A request with a
 * min_position the view has not applied (writer_position) waits for it
 * before anything else, for deadline_ms from its arrival or
 * DISPATCH_MIN_POSITION_WAIT_MS when that is 0, parked in srv->waits
 * without a thread (DISPATCH_PARKED), when srv->waits and r->resume are
 * set; it is then answered UNAVAILABLE "not caught up" once the wait
 * ends unreached, or at once when it cannot wait.
 */
enum dispatch_result dispatch_request(struct call_req *r);

/*
 * dispatch_resume goes on with a request parked by dispatch_request (or
 * by an earlier dispatch_resume), after its r->resume was called: it
 * answers UNAVAILABLE when the position was not reached in time, or
 * handles the call as dispatch_request would. Returns DISPATCH_DONE or
 * DISPATCH_PENDING. The owner's thread, not the one resume ran on.
 */
enum dispatch_result dispatch_resume(struct call_req *r);

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
