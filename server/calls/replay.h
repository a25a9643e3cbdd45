/*
 * replay: a write call's journal entry (docs/architecture.md "The
 * journal"), written by the call's prepare step, and the job rebuilt from
 * it at start-up.
 *
 * The payload is a packed clm.v1.Request holding only the call's oneof
 * (and, for a Recommend claim, the request_id its claim is kept under):
 * never the auth token or the deadline. It holds only what prepare
 * accepted, with every default prepare takes from the clock filled in (a
 * Track's valid touchpoints, each with its occurred_at_ms), so that the
 * job it rebuilds applies exactly what was acknowledged, whatever the
 * limits are at replay. Instants the apply functions take from their
 * batch (writer_batch.now_ms) are the writer's to keep.
 *
 * A Recommend claim decides what it records with settings too (struct
 * call_policy): its entry starts with them, CALL_POLICY_BYTES in a fixed
 * little-endian layout (replay.c), and the packed Request follows.
 */
#ifndef CLM_CALLS_REPLAY_H
#define CLM_CALLS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "calls/call.h"

/*
 * An entry type with this bit set is the call's (type less the bit) with
 * a policy at its start, whatever the call: cluster mode's Track parts
 * (calls/cluster.h) carry the thresholds they were accepted under, so
 * that every node decides their risk signals alike. A local journal never
 * holds one.
 */
#define CALL_ENTRY_POLICY 0x10000u

/*
 * The entry type of a journey fire (write/journey.h): not a Request's
 * call number (Request never gets field 1000), a policy at its start and
 * then a packed clm.v1.JourneyFire (store.proto), made by
 * journey_fire_job (calls/journey_fire.c) and rebuilt by call_replay.
 */
#define CALL_ENTRY_JOURNEY_FIRE 1000u

/* The size of a policy at the start of an entry: a version, then it. */
#define CALL_POLICY_BYTES (1 + 4 + 8 * 7 + 4 + 4 + 8 + 8 * MODEL_N_REASONS)

/* call_policy_init sets p to srv's settings. */
void call_policy_init(struct call_policy *p, const struct server *srv);

/*
 * call_policy_pack writes p into out[0..CALL_POLICY_BYTES), in the layout
 * a claim's entry starts with.
 */
void call_policy_pack(const struct call_policy *p, uint8_t *out);

/*
 * call_journal packs q, a Request holding only what the entry needs (see
 * above), after pol if it is not NULL, into job's arena, and sets
 * job->jtype (q's call number), jdata and jlen. q and pol are not kept.
 * Returns CLM_OK, or RESOURCE_EXHAUSTED when the arena is exhausted (job
 * unchanged).
 */
clm_err call_journal(writer_job *job, const Clm__V1__Request *q,
        const struct call_policy *pol);

/*
 * call_replay is the server's writer_replay_fn (arg: the struct server).
 * It unpacks data (len bytes, written by call_journal as entry type) into
 * job->arena and sets job's apply, arg and items, and job->resp's result,
 * as the call's prepare step did when the write was first accepted,
 * through the same code but without its checks: what was acknowledged is
 * applied even if a limit was lowered since. It reads neither the clock
 * nor the network, and changes nothing but job and job->resp; now_ms (the
 * instant the entry was first applied at) is the writer's, which applies
 * the job at it. The policy a claim decides with is its entry's, not
 * srv's. Returns CLM_OK; DATA_LOSS, logged with the reason, when the
 * payload does not decode, is not of type, or type is no write call;
 * RESOURCE_EXHAUSTED when the arena is exhausted.
 */
clm_err call_replay(void *srv, writer_job *job, uint32_t type,
        const void *data, size_t len, int64_t now_ms);

#endif /* CLM_CALLS_REPLAY_H */
