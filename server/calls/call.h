/*
 * call: what every call's handler gets, below both dispatch (the table of
 * calls) and the handlers themselves (calls.h), so neither includes the
 * other.
 */
#ifndef CLM_CALLS_CALL_H
#define CLM_CALLS_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "calls/waitpos.h"
#include "clm/v1/clm.pb-c.h"
#include "pbwire.h"
#include "server.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer.h"

/* One request in flight; rpc owns it and keeps it alive until replied. */
struct call_req {
	struct server *srv;
	const Clm__V1__Request *req; /* NULL: the message did not decode */
	Clm__V1__Response *resp;     /* zeroed by dispatch_request */
	arena *a;
	store_reader *reader;
	/*
	 * For writes: dispatch readies job with writer_job_init (done and
	 * done_arg below), the call's prepare step sets apply and arg.
	 */
	writer_job job;
	writer_done_fn done; /* set once by the owner (rpc) */
	void *done_arg;
	int64_t now_ms;     /* wall clock when the request arrived */
	int64_t arrived_ns; /* monotonic, for deadline_ms */
	/*
	 * What pbwire_find_nul said of the packed request, which rpc scans
	 * before unpacking it (unpacked strings lose everything after a NUL
	 * byte), and for PBWIRE_NUL the string field's path. A request that
	 * never was packed (http builds its own) leaves PBWIRE_OK.
	 */
	enum pbwire_result wire;
	char wire_field[128];
	/*
	 * The request did not decode within dispatch_decode_budget of its
	 * size (req is then NULL): RESOURCE_EXHAUSTED, not "malformed".
	 */
	bool over_budget;
	/*
	 * Request.min_position beyond the view's: dispatch parks the
	 * request in srv->waits (DISPATCH_PARKED) with wait, and once it
	 * is woken calls resume (set once by the owner, with resume_arg;
	 * NULL: the owner cannot wait, and such a request is refused at
	 * once), on the writer's or waitpos's thread; the owner then calls
	 * dispatch_resume on a thread of its own. wait_reached says which
	 * way the wait ended.
	 */
	struct waitpos_waiter wait;
	bool wait_reached;
	void (*resume)(struct call_req *r);
	void *resume_arg;
};

/* Fills r->resp (result and status) inside the read transaction txn. */
typedef void (*call_read_fn)(struct call_req *r, store_txn *txn);

/*
 * Validates r->req on the calling thread. Returns true after setting
 * r->job.apply/arg to have the writer apply it, or false when r->resp is
 * already final (an error).
 */
typedef bool (*call_prepare_fn)(struct call_req *r);

/*
 * What a write decides with from the configuration, beyond the request
 * and the store: a Recommend claim records the messages that the
 * frequency cap, the quiet hours and the customer's health and risk let
 * through. Its journal entry keeps the policy it was accepted under
 * (calls/replay.h), so that a restart with other settings replays the
 * messages the client was told were claimed.
 */
struct call_policy {
	struct model_params params; /* health and risk thresholds */
	unsigned cap_messages;      /* messages per cap_ms */
	int64_t cap_ms;
	int64_t quiet_ms; /* after a message, before the next */
};

/*
 * Builds the job of a write call from q, a Request holding the call's
 * oneof as its prepare step accepted it (calls/replay.h): the live
 * request once checked, or a journal entry at replay, which is not
 * checked again. pol is the policy the call decides with (copied), for
 * an entry that keeps one (a Recommend claim's; a cluster Track part's,
 * calls/replay.h CALL_ENTRY_POLICY, whose thresholds a Track decides its
 * risk signals with); NULL for the others. Sets job's apply, arg and
 * items, and the result of job->resp where prepare sets it; the state
 * lives in job->arena, and q must outlive the job. Returns CLM_OK,
 * RESOURCE_EXHAUSTED, or DATA_LOSS for a q whose shape no prepare step
 * accepts (an entry it never wrote).
 */
typedef clm_err (*call_build_fn)(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol);

#endif /* CLM_CALLS_CALL_H */
