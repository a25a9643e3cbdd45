/* ServerStatus: version, uptime, counts and sizes. */
#include "calls/calls.h"
#include "calls/reply.h"
#include "util/clock.h"
#include "util/telemetry.h"

void
status_get(struct call_req *r, store_txn *txn)
{
	struct store_stats st;
	uint64_t ckpt = 0;
	clm_err e = store_stats(txn, &st);
	if (e == CLM_OK) {
		e = store_txn_checkpoint_position(txn, &ckpt);
	}
	if (e != CLM_OK) {
		reply_error(r->resp, r->a, e, "cannot read statistics: %s",
		        clm_strerror(e));
		return;
	}
	Clm__V1__StatusReply *s = arena_alloc(r->a, sizeof(*s));
	if (s == NULL) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return;
	}
	clm__v1__status_reply__init(s);
	s->version = CLM_VERSION;
	s->uptime_s = (r->now_ms - r->srv->started_ms) / 1000;
	s->customers = st.customers;
	s->touchpoints = st.touchpoints;
	s->db_bytes = st.db_bytes;
	s->map_bytes = st.map_bytes;
	s->durability = r->srv->cfg->durability;
	s->checkpoint_position = ckpt;
	s->journal = (char *) r->srv->journal_desc;
	s->stream_position = writer_stream_position(r->srv->w);
	telemetry_writes(
	        r->srv->tm, &s->write_transactions, &s->write_requests);
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_SERVER_STATUS;
	r->resp->server_status = s;
}
