/*
 * replay: journal entries of write calls, and the jobs rebuilt from them.
 *
 * Each write call's prepare step is "check, then build": the checks stay
 * in prepare, and the build (calls.h, one per call) is what both the live
 * path and call_replay run, so a replayed job applies through the same
 * state and the same apply function as the acknowledged one did.
 */
#include "calls/replay.h"

#include "calls/calls.h"
#include "util/log.h"

/* The write calls, with what rebuilds each from its entry. */
static const struct call_replay_entry {
	Clm__V1__Request__CallCase call;
	const char *name;
	call_build_fn build;
} call_replay_table[] = {
	{ CLM__V1__REQUEST__CALL_TRACK, "track", track_build },
	{ CLM__V1__REQUEST__CALL_RECOMMEND, "recommend",
	        recommend_claim_build },
	{ CLM__V1__REQUEST__CALL_PUT_CATALOG, "put_catalog", catalog_build },
	{ CLM__V1__REQUEST__CALL_RECORD_SPEND, "record_spend", spend_build },
	{ CLM__V1__REQUEST__CALL_IDENTIFY, "identify", identify_build },
	{ CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT, "define_experiment",
	        exp_define_build },
	{ CLM__V1__REQUEST__CALL_ASSIGN, "assign", exp_assign_build },
	{ CLM__V1__REQUEST__CALL_FORGET_CUSTOMER, "forget_customer",
	        forget_build },
};

#define CALL_REPLAY_N \
	(sizeof(call_replay_table) / sizeof(call_replay_table[0]))

clm_err
call_journal(writer_job *job, const Clm__V1__Request *q)
{
	size_t n = clm__v1__request__get_packed_size(q);
	uint8_t *buf = arena_alloc(job->arena, n > 0 ? n : 1);
	if (buf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__request__pack(q, buf);
	job->jtype = (uint32_t) q->call_case;
	job->jdata = buf;
	job->jlen = n;
	return CLM_OK;
}

clm_err
call_replay(void *srv, writer_job *job, uint32_t type, const void *data,
        size_t len, int64_t now_ms)
{
	/*
	 * No build reads the clock: what prepare took from it is in the
	 * payload, and what apply takes from its batch comes from the
	 * writer, which applies the job at now_ms.
	 */
	(void) now_ms;
	const struct call_replay_entry *e = NULL;
	for (size_t i = 0; i < CALL_REPLAY_N; i++) {
		if ((uint32_t) call_replay_table[i].call == type) {
			e = &call_replay_table[i];
		}
	}
	if (e == NULL) {
		log_error("journal entry of type %u: not a write call", type);
		return CLM_DATA_LOSS;
	}
	Clm__V1__Request *q
	        = clm__v1__request__unpack(arena_pb(job->arena), len, data);
	if (q == NULL) {
		log_error(
		        "journal entry of type %u (%s): %zu bytes that do not decode as a clm.v1.Request",
		        type, e->name, len);
		return CLM_DATA_LOSS;
	}
	if ((uint32_t) q->call_case != type) {
		log_error("journal entry of type %u (%s) holds call %d", type,
		        e->name, (int) q->call_case);
		return CLM_DATA_LOSS;
	}
	clm_err err = e->build(srv, job, q);
	if (err == CLM_DATA_LOSS) {
		log_error(
		        "journal entry of type %u (%s): not a payload its call writes",
		        type, e->name);
	}
	return err;
}
