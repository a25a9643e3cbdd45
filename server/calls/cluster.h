/*
 * cluster: the calls layer's side of cluster mode (docs/cluster.md), the
 * writer_cluster_ops (write/writer.h) that cut a write call's journal
 * entry into the parts the writer publishes to the stream, fold the
 * replies of the applied parts back into the call's reply, and name the
 * ids a ForgetCustomer purges from the stream.
 *
 * A Track becomes one part per customer (the touchpoint's customer_id, or
 * its anonymous_id when it has none), each holding that customer's
 * touchpoints in call order, as a Track entry of its own that call_replay
 * rebuilds; a customer whose touchpoints do not fit in one part gets
 * several consecutive ones. A Track part starts with the accepting
 * node's thresholds (its type has calls/replay.h's CALL_ENTRY_POLICY),
 * which every node then applies it with. Identify, Assign and a Recommend
 * claim are one part on the subject of their customer_id; ForgetCustomer one
 * part on the forget subject; every other write (PutCatalog, RecordSpend,
 * DefineExperiment) one part on the global subject.
 *
 * A part's id (writer_part.id) is a customer id, or for touchpoints that
 * carry only an anonymous id, the byte CALL_CLUSTER_ANONYMOUS followed by
 * it, as the store keys anonymous profiles: ids are printable, so "kim"
 * the customer and "kim" somebody's device never share a subject, and
 * forgetting one never purges the other's entries.
 */

/* The byte before an anonymous id in a part's id. */
#define CALL_CLUSTER_ANONYMOUS '\x01'

#ifndef CLM_CALLS_CLUSTER_H
#define CLM_CALLS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "write/writer.h"

/*
 * call_cluster_ops are the server's writer_cluster_ops; their arg is the
 * struct server (writer_opts.cluster_arg).
 *
 * split reads the job's entry (jtype, jdata, jlen, as call_journal wrote
 * it) and, for a Track, the job's reply as track_prepare left it (its
 * rejected list: the invalid touchpoints, which the entry does not hold),
 * so that every part maps its touchpoints back to their index in the
 * request. Everything it returns lives in job->arena. Beyond the errors
 * of writer_cluster_ops.split, DATA_LOSS when the entry does not decode.
 * An entry of another call than a Track is one part, and INVALID_ARGUMENT
 * when it is larger than max_bytes (a PutCatalog or RecordSpend near
 * max_message_bytes, which is 4 MiB by default, against NATS's 1 MB).
 *
 * merge must be called exactly once for each part of a job, in any order;
 * after the last one, job->resp is the call's reply: for a Track, the
 * accepted and duplicates of every part, the rejected touchpoints of
 * every part and of prepare at their index in the request, the stage
 * changes of every part in part order; each touchpoint of a part that the
 * stream did not acknowledge rejected with UNAVAILABLE (or the part's
 * error); the call's status OK when any touchpoint was accepted or a
 * duplicate, else the status of a Track whose touchpoints were all
 * rejected (the parts' error when one failed). For the other calls, the
 * applied reply's status and result (which live in job->arena), or the
 * part's error.
 *
 * forget_ids gives the customer id of the ForgetCustomer job and every
 * anonymous id merged into it (its record's anonymous_ids, each preceded
 * by CALL_CLUSTER_ANONYMOUS as in the parts' ids), each once.
 */
extern const struct writer_cluster_ops call_cluster_ops;

/*
 * call_cluster_index returns the index map of a Track part made by
 * call_cluster_ops.split: touchpoint i of the part (i < *n) is touchpoint
 * [i] of the request; NULL (and *n 0) for a part of another call. Valid
 * while the job's arena is.
 */
const uint32_t *call_cluster_index(const struct writer_part *p, size_t *n);

/*
 * call_cluster_settings writes into out (33 bytes) 32 hex digits of a
 * digest of the settings that apply reads from srv rather than from the
 * entry: the model's health and risk thresholds and weights (struct
 * model_params: Track's risk signals, and so the view's event seqs, and
 * every read's health and churn risk depend on them). Writes carry
 * them (CALL_ENTRY_POLICY) but reads use the node's own, so the nodes of
 * one stream should agree on it (docs/cluster.md "Settings"); a claim's
 * cap and quiet hours travel in its entry and are not part of it.
 */
struct server;
void call_cluster_settings(const struct server *srv, char out[33]);

#endif /* CLM_CALLS_CLUSTER_H */
