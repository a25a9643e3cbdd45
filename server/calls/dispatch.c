#include "calls/dispatch.h"

#include <stdint.h>
#include <string.h>

#include "calls/auth.h"
#include "calls/calls.h"
#include "calls/reply.h"
#include "util/clock.h"
#include "util/telemetry.h"

enum dispatch_kind { DISPATCH_READ, DISPATCH_WRITE };

struct dispatch_entry {
	Clm__V1__Request__CallCase call;
	const char *name;
	enum dispatch_kind kind;
	call_read_fn read;       /* DISPATCH_READ */
	call_prepare_fn prepare; /* DISPATCH_WRITE */
	/* For a call that is a read unless the request says otherwise. */
	bool (*writes)(const Clm__V1__Request *req);
};

/* Recommend with claim records messages: it goes through the writer. */
static bool
dispatch_recommend_writes(const Clm__V1__Request *req)
{
	return req->recommend->claim;
}

/* Every call of the API; a NULL handler answers UNIMPLEMENTED. */
static const struct dispatch_entry dispatch_table[] = {
	{ .call = CLM__V1__REQUEST__CALL_TRACK,
	        .name = "track",
	        .kind = DISPATCH_WRITE,
	        .prepare = track_prepare },
	{ .call = CLM__V1__REQUEST__CALL_GET_CUSTOMER,
	        .name = "get_customer",
	        .kind = DISPATCH_READ,
	        .read = customer_get },
	{ .call = CLM__V1__REQUEST__CALL_RECOMMEND,
	        .name = "recommend",
	        .kind = DISPATCH_READ,
	        .read = recommend_get,
	        .prepare = recommend_claim_prepare,
	        .writes = dispatch_recommend_writes },
	{ .call = CLM__V1__REQUEST__CALL_METRICS,
	        .name = "metrics",
	        .kind = DISPATCH_READ,
	        .read = metrics_get },
	{ .call = CLM__V1__REQUEST__CALL_COHORTS,
	        .name = "cohorts",
	        .kind = DISPATCH_READ,
	        .read = cohorts_get },
	{ .call = CLM__V1__REQUEST__CALL_PUT_CATALOG,
	        .name = "put_catalog",
	        .kind = DISPATCH_WRITE,
	        .prepare = catalog_prepare },
	{ .call = CLM__V1__REQUEST__CALL_RECORD_SPEND,
	        .name = "record_spend",
	        .kind = DISPATCH_WRITE,
	        .prepare = spend_prepare },
	{ .call = CLM__V1__REQUEST__CALL_IDENTIFY,
	        .name = "identify",
	        .kind = DISPATCH_WRITE,
	        .prepare = identify_prepare },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT,
	        .name = "define_experiment",
	        .kind = DISPATCH_WRITE,
	        .prepare = exp_define_prepare },
	{ .call = CLM__V1__REQUEST__CALL_ASSIGN,
	        .name = "assign",
	        .kind = DISPATCH_WRITE,
	        .prepare = exp_assign_prepare },
	{ .call = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS,
	        .name = "experiment_results",
	        .kind = DISPATCH_READ,
	        .read = exp_results_get },
	{ .call = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER,
	        .name = "forget_customer",
	        .kind = DISPATCH_WRITE,
	        .prepare = forget_prepare },
	{ .call = CLM__V1__REQUEST__CALL_EXPORT_CUSTOMER,
	        .name = "export_customer",
	        .kind = DISPATCH_READ,
	        .read = export_get },
	{ .call = CLM__V1__REQUEST__CALL_SERVER_STATUS,
	        .name = "server_status",
	        .kind = DISPATCH_READ,
	        .read = status_get },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT,
	        .name = "define_segment",
	        .kind = DISPATCH_WRITE,
	        .prepare = seg_define_prepare },
	{ .call = CLM__V1__REQUEST__CALL_GET_SEGMENT,
	        .name = "get_segment",
	        .kind = DISPATCH_READ,
	        .read = seg_get },
	{ .call = CLM__V1__REQUEST__CALL_LIST_SEGMENTS,
	        .name = "list_segments",
	        .kind = DISPATCH_READ,
	        .read = seg_list },
	{ .call = CLM__V1__REQUEST__CALL_DELETE_SEGMENT,
	        .name = "delete_segment",
	        .kind = DISPATCH_WRITE,
	        .prepare = seg_delete_prepare },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY,
	        .name = "define_journey",
	        .kind = DISPATCH_WRITE,
	        .prepare = jny_define_prepare },
	{ .call = CLM__V1__REQUEST__CALL_LIST_JOURNEYS,
	        .name = "list_journeys",
	        .kind = DISPATCH_READ,
	        .read = jny_list },
	{ .call = CLM__V1__REQUEST__CALL_GET_JOURNEY,
	        .name = "get_journey",
	        .kind = DISPATCH_READ,
	        .read = jny_get },
	{ .call = CLM__V1__REQUEST__CALL_DELETE_JOURNEY,
	        .name = "delete_journey",
	        .kind = DISPATCH_WRITE,
	        .prepare = jny_delete_prepare },
	{ .call = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES,
	        .name = "journey_messages",
	        .kind = DISPATCH_READ,
	        .read = jny_messages },
};

#define DISPATCH_N (sizeof(dispatch_table) / sizeof(dispatch_table[0]))

static const struct dispatch_entry *
dispatch_find(int call)
{
	for (size_t i = 0; i < DISPATCH_N; i++) {
		if ((int) dispatch_table[i].call == call) {
			return &dispatch_table[i];
		}
	}
	return NULL;
}

const char *
dispatch_call_name(int call)
{
	const struct dispatch_entry *e = dispatch_find(call);
	return e ? e->name : "?";
}

static void
dispatch_ok_if_unset(struct call_req *r)
{
	if (r->resp->status == NULL) {
		r->resp->status = reply_status(r->a, CLM_OK, "", NULL);
	}
}

/*
 * Drops the unknown fields of m and of every message inside it. Fields a
 * newer client sends are ignored, as protobuf does; they must not be
 * stored either: protobuf-c 1.4.1 keeps an unknown field it can read
 * (field number 0 in an over-long varint) but writes it back in a form it
 * then refuses to read, which would make the stored record undecodable.
 */
static void
dispatch_strip_unknown(ProtobufCMessage *m)
{
	m->n_unknown_fields = 0;
	m->unknown_fields = NULL;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		char *base = (char *) m;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which
			        = *(uint32_t *) (base + f->quantifier_offset);
			if (which != f->id) {
				continue;
			}
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(size_t *) (base + f->quantifier_offset);
			ProtobufCMessage **v
			        = *(ProtobufCMessage ***) (base + f->offset);
			for (size_t k = 0; k < n; k++) {
				if (v[k] != NULL) {
					dispatch_strip_unknown(v[k]);
				}
			}
		} else {
			ProtobufCMessage *sub
			        = *(ProtobufCMessage **) (base + f->offset);
			if (sub != NULL) {
				dispatch_strip_unknown(sub);
			}
		}
	}
}

/*
 * Rejects what the scan of the packed request found (struct call_req's
 * wire): a string holding a NUL byte, which unpacking cut short, so that
 * "victim\0x" would be taken for the customer "victim"; or bytes that
 * protobuf-c decoded although the scan could not walk them.
 */
static bool
dispatch_wire_ok(struct call_req *r)
{
	switch (r->wire) {
	case PBWIRE_OK:
		return true;
	case PBWIRE_NUL:
		reply_invalid(r->resp, r->a, r->wire_field,
		        "must not contain a NUL byte");
		return false;
	case PBWIRE_TOO_MANY: /* not a result of pbwire_find_nul */
	case PBWIRE_TOO_DEEP:
		reply_error(r->resp, r->a, CLM_INVALID_ARGUMENT,
		        "malformed request: messages nested more than %d deep",
		        PBWIRE_MAX_DEPTH);
		return false;
	case PBWIRE_MALFORMED:
		break;
	}
	reply_error(r->resp, r->a, CLM_INVALID_ARGUMENT,
	        "malformed request: not a clm.v1.Request");
	return false;
}

size_t
dispatch_decode_budget(size_t len)
{
	size_t max = SIZE_MAX - 1;
	if (len > (max - DISPATCH_DECODE_FLOOR) / DISPATCH_DECODE_RATIO) {
		return max;
	}
	return DISPATCH_DECODE_FLOOR + DISPATCH_DECODE_RATIO * len;
}

size_t
dispatch_max_repeated(int64_t max_touchpoints)
{
	return max_touchpoints > (int64_t) DISPATCH_MAX_ELEMENTS
	        ? (size_t) max_touchpoints
	        : DISPATCH_MAX_ELEMENTS;
}

/* Field numbers of clm.v1.Request that dispatch_screen reads off the wire. */
#define DISPATCH_REQUEST_ID_FIELD 1
#define DISPATCH_AUTH_TOKEN_FIELD 2

/*
 * Why before decoding: protobuf-c's unpack costs memory and time in the
 * number of elements, not of bytes, and clmd used to pay it before it knew
 * whether the client had a token at all (issue 15: four 4 MiB Tracks of
 * two million empty touchpoints took 1.2 GB). The walks here read the
 * packed bytes and allocate nothing.
 */
bool
dispatch_screen(struct call_req *r, const uint8_t *buf, size_t len)
{
	Clm__V1__Response *resp = r->resp;
	clm__v1__response__init(resp);
	const uint8_t *data;
	size_t n;
	if (pbwire_top_bytes(buf, len, DISPATCH_REQUEST_ID_FIELD, &data, &n)) {
		char *id = arena_strndup(r->a, (const char *) data, n);
		if (id != NULL) {
			resp->request_id = id;
		}
	}
	if (r->srv->auth != NULL) {
		/* A token with a NUL byte is compared whole: none of ours. */
		if (!pbwire_top_bytes(
		            buf, len, DISPATCH_AUTH_TOKEN_FIELD, &data, &n)) {
			data = (const uint8_t *) "";
			n = 0;
		}
		if (!auth_check(r->srv->auth, (const char *) data, n)) {
			telemetry_refused(r->srv->tm, TELEMETRY_REFUSED_AUTH);
			reply_error(resp, r->a, CLM_UNAUTHENTICATED,
			        "missing or invalid auth token");
			return false;
		}
	}
	size_t max = dispatch_max_repeated(r->srv->cfg->max_touchpoints);
	char path[sizeof(r->wire_field)];
	if (pbwire_find_crowded(&clm__v1__request__descriptor, buf, len, max,
	            path, sizeof(path))
	        == PBWIRE_TOO_MANY) {
		telemetry_refused(r->srv->tm, TELEMETRY_REFUSED_COUNT);
		reply_invalid(resp, r->a, path,
		        "holds more than %zu elements, the limit before decoding",
		        max);
		return false;
	}
	return true;
}

static enum dispatch_result dispatch_run(
        struct call_req *r, const struct dispatch_entry *e);
static enum dispatch_result dispatch_resume_reached(struct call_req *r);

/* The UNAVAILABLE of a min_position the view did not reach in time. */
static void
dispatch_not_caught_up(struct call_req *r)
{
	reply_error(r->resp, r->a, CLM_UNAVAILABLE,
	        "not caught up: this node has applied position %llu, the request needs %llu",
	        (unsigned long long) writer_position(r->srv->w),
	        (unsigned long long) r->req->min_position);
}

/* waitpos's wake-up of a parked request: hand it back to its owner. */
static void
dispatch_woken(struct waitpos_waiter *wt, bool reached)
{
	struct call_req *r = wt->arg;
	r->wait_reached = reached;
	r->resume(r);
}

/*
 * Parks r until the view shows its min_position (waitpos.h). The wait
 * counts from the request's arrival, like a write's deadline_ms, so the
 * whole answer keeps within it.
 */
static enum dispatch_result
dispatch_park(struct call_req *r)
{
	if (r->srv->waits == NULL || r->resume == NULL) {
		dispatch_not_caught_up(r);
		return DISPATCH_DONE;
	}
	uint32_t ms = r->req->deadline_ms != 0 ? r->req->deadline_ms
	                                       : DISPATCH_MIN_POSITION_WAIT_MS;
	r->wait = (struct waitpos_waiter) {
		.position = r->req->min_position,
		.deadline_ns = r->arrived_ns + (int64_t) ms * 1000000,
		.wake = dispatch_woken,
		.arg = r,
	};
	r->wait_reached = false;
	if (waitpos_park(r->srv->waits, &r->wait)) {
		return DISPATCH_PARKED;
	}
	/* Reached meanwhile, or the server is stopping. */
	if (waitpos_position(r->srv->waits) < r->req->min_position) {
		dispatch_not_caught_up(r);
		return DISPATCH_DONE;
	}
	return dispatch_resume_reached(r);
}

enum dispatch_result
dispatch_request(struct call_req *r)
{
	Clm__V1__Response *resp = r->resp;
	if (r->req == NULL && r->over_budget) {
		/* resp is as dispatch_screen left it: the wire's request_id.
		 */
		telemetry_refused(r->srv->tm, TELEMETRY_REFUSED_BUDGET);
		reply_error(resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "request needs more memory to decode than its size allows (%u bytes per byte, plus %u KiB): send fewer or fuller elements",
		        DISPATCH_DECODE_RATIO, DISPATCH_DECODE_FLOOR / 1024);
		return DISPATCH_DONE;
	}
	clm__v1__response__init(resp);
	if (r->req == NULL) {
		/* protobuf-c gives no reason; nothing can be echoed either. */
		reply_error(resp, r->a, CLM_INVALID_ARGUMENT,
		        "malformed request: not a clm.v1.Request");
		return DISPATCH_DONE;
	}
	/* The request is ours (decoded into the arena): const only to
	 * handlers. */
	dispatch_strip_unknown((ProtobufCMessage *) r->req);
	resp->request_id = r->req->request_id;
	/*
	 * Before anything else looks at the request. A token with a NUL byte
	 * is none of the tokens, whatever its unpacked prefix says; the scan
	 * rules out a NUL anywhere else in the token, so strlen is its length.
	 */
	const char *token = r->req->auth_token;
	if (r->srv->auth != NULL
	        && ((r->wire == PBWIRE_NUL
	                    && strcmp(r->wire_field, "auth_token") == 0)
	                || !auth_check(r->srv->auth, token, strlen(token)))) {
		reply_error(resp, r->a, CLM_UNAUTHENTICATED,
		        "missing or invalid auth token");
		return DISPATCH_DONE;
	}
	if (!dispatch_wire_ok(r)) {
		return DISPATCH_DONE;
	}
	const struct dispatch_entry *e
	        = dispatch_find((int) r->req->call_case);
	if (e == NULL) {
		if (r->req->call_case == CLM__V1__REQUEST__CALL__NOT_SET) {
			reply_error(resp, r->a, CLM_UNIMPLEMENTED,
			        "no call set in the request");
		} else {
			reply_error(resp, r->a, CLM_UNIMPLEMENTED,
			        "unknown call %d", (int) r->req->call_case);
		}
		return DISPATCH_DONE;
	}
	if (e->read == NULL && e->prepare == NULL) {
		reply_error(resp, r->a, CLM_UNIMPLEMENTED,
		        "call '%s' is not implemented by this clmd", e->name);
		return DISPATCH_DONE;
	}
	if (r->req->min_position > writer_position(r->srv->w)) {
		return dispatch_park(r);
	}
	return dispatch_run(r, e);
}

/* Runs the call of entry e, the generic checks passed. */
static enum dispatch_result
dispatch_run(struct call_req *r, const struct dispatch_entry *e)
{
	Clm__V1__Response *resp = r->resp;
	bool write = e->kind == DISPATCH_WRITE
	        || (e->writes != NULL && e->writes(r->req));
	if (!write) {
		/* Read before the snapshot: it shows at least this much. */
		resp->position = writer_position(r->srv->w);
		store_txn *txn;
		clm_err err = store_read_begin(r->reader, &txn);
		if (err != CLM_OK) {
			reply_error(resp, r->a, err,
			        "cannot read the database: %s",
			        clm_strerror(err));
			return DISPATCH_DONE;
		}
		e->read(r, txn);
		store_read_end(txn);
		dispatch_ok_if_unset(r);
		return DISPATCH_DONE;
	}

	writer_job_init(&r->job, r->a, resp, r->done, r->done_arg);
	r->job.deadline_ns = r->req->deadline_ms == 0
	        ? 0
	        : r->arrived_ns + (int64_t) r->req->deadline_ms * 1000000;
	if (!e->prepare(r)) {
		dispatch_ok_if_unset(r);
		return DISPATCH_DONE;
	}
	clm_err err = writer_submit(r->srv->w, &r->job);
	if (err != CLM_OK) {
		char why[256];
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		/*
		 * In cluster mode the entry is cut into parts first
		 * (calls/cluster.h): one that cannot be is the caller's to
		 * make smaller, not to retry as it is.
		 */
		if (err == CLM_INVALID_ARGUMENT) {
			reply_error(resp, r->a, CLM_INVALID_ARGUMENT,
			        "too large for one entry of the cluster's stream: send it in smaller calls");
		} else if (err == CLM_DEADLINE_EXCEEDED) {
			reply_error(resp, r->a, CLM_DEADLINE_EXCEEDED,
			        "deadline of %u ms passed before the write was sent; nothing was written",
			        r->req->deadline_ms);
		} else if (err == CLM_UNAVAILABLE
		        && writer_refusal(r->srv->w, why, sizeof(why))) {
			reply_error(resp, r->a, CLM_UNAVAILABLE, "%s", why);
		} else if (err == CLM_UNAVAILABLE
		        && writer_clustered(r->srv->w)) {
			reply_error(resp, r->a, CLM_UNAVAILABLE,
			        "the cluster's stream is not reachable, the write queue is full or the server is stopping: nothing was written, retry later");
		} else if (err == CLM_UNAVAILABLE) {
			reply_error(resp, r->a, CLM_UNAVAILABLE,
			        "write queue is full or the server is stopping: retry later");
		} else {
			reply_error(resp, r->a, err,
			        "cannot queue the write: %s",
			        clm_strerror(err));
		}
		return DISPATCH_DONE;
	}
	return DISPATCH_PENDING;
}

/* The call of a request whose min_position was reached. */
static enum dispatch_result
dispatch_resume_reached(struct call_req *r)
{
	const struct dispatch_entry *e
	        = dispatch_find((int) r->req->call_case);
	return dispatch_run(r, e); /* found before it was parked */
}

enum dispatch_result
dispatch_resume(struct call_req *r)
{
	if (!r->wait_reached) {
		dispatch_not_caught_up(r);
		return DISPATCH_DONE;
	}
	return dispatch_resume_reached(r);
}

void
dispatch_read(struct call_req *r)
{
	const struct dispatch_entry *e = r->req != NULL
	        ? dispatch_find((int) r->req->call_case)
	        : NULL;
	if (e != NULL
	        && (e->kind == DISPATCH_WRITE
	                || (e->writes != NULL && e->writes(r->req)))) {
		clm__v1__response__init(r->resp);
		r->resp->request_id = r->req->request_id;
		reply_error(r->resp, r->a, CLM_FAILED_PRECONDITION,
		        "call '%s' writes: not available here", e->name);
		return;
	}
	/*
	 * Not a write, so never DISPATCH_PENDING; and never DISPATCH_PARKED:
	 * the owner of r (http) has no resume.
	 */
	(void) dispatch_request(r);
}

void
dispatch_finish(struct call_req *r)
{
	Clm__V1__Response *resp = r->resp;
	switch (r->job.err) {
	case CLM_OK:
		/* A call the apply refused whole has a status of its own. */
		if (resp->status == NULL
		        || resp->status->code == CLM__V1__CODE__OK) {
			resp->position = r->job.position;
		}
		dispatch_ok_if_unset(r);
		return;
	case CLM_DEADLINE_EXCEEDED:
	case CLM_UNAVAILABLE:
		if (writer_clustered(r->srv->w)) {
			/*
			 * Cluster mode (docs/cluster.md): the stream may hold
			 * the entry although no ack came in time; it is then
			 * applied later, on every node.
			 */
			reply_error(resp, r->a, r->job.err,
			        "not acknowledged by the cluster's stream in time: it may still be recorded; retry it (touchpoints with event ids are then counted as duplicates)");
		} else if (r->job.err == CLM_DEADLINE_EXCEEDED) {
			reply_error(resp, r->a, CLM_DEADLINE_EXCEEDED,
			        "deadline of %u ms passed before the write was applied; nothing was written",
			        r->req->deadline_ms);
		} else {
			reply_error(resp, r->a, CLM_UNAVAILABLE,
			        "write failed (%s); nothing was written",
			        clm_strerror(r->job.err));
		}
		break;
	case CLM_RESOURCE_EXHAUSTED:
		if (r->job.disk_full) {
			reply_error(resp, r->a, CLM_RESOURCE_EXHAUSTED,
			        "disk full: no space left for the database; nothing was written (retry with backoff once space is freed)");
		} else {
			reply_error(resp, r->a, CLM_RESOURCE_EXHAUSTED,
			        "database is full (max_db_bytes reached), or the write does not fit the overlay (checkpoint_bytes), or out of memory; nothing was written");
		}
		break;
	default:
		reply_error(resp, r->a, r->job.err,
		        "write failed (%s); nothing was written",
		        clm_strerror(r->job.err));
		break;
	}
	/* A failed write has no result, only its status. */
	resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
}
