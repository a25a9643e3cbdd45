/*
 * What the cluster-mode tests share (issue 16; cluster_test,
 * cluster_failover_test): a NATS JetStream cluster of three real
 * nats-server processes (natsrv.h) and two or three clmd nodes joined to
 * its stream with --journal, each on its own data directory and ports;
 * calls that carry Request.min_position and wait while a node answers
 * "not caught up"; comparing replies of two nodes; and reading the
 * stream's entries back with the NATS client. They assert with Criterion:
 * call them from inside a test.
 */
#ifndef CLM_IT_CLUSTER_H
#define CLM_IT_CLUSTER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "natsrv.h"

#define CLUSTER_MAX_NODES 3
#define CLUSTER_STREAM    "CLM"

/* How long a node may take to start, and to catch up (a loaded box). */
#define CLUSTER_START_MS   30000
#define CLUSTER_CATCHUP_MS 30000

struct cluster {
	natsrv *nats;
	int n; /* clmd nodes */
	struct clmd_proc node[CLUSTER_MAX_NODES];
	const char *const *extra; /* more flags of every node, or NULL */
};

/*
 * cluster_start starts three nats-servers, then nodes clmd nodes with
 * --journal (every server's URL) and the NULL-terminated extra flags
 * (kept by pointer: pass a static array).
 */
void cluster_start(struct cluster *cl, int nodes, const char *const *extra);

/* cluster_node_start (re)starts node i on its data directory. */
void cluster_node_start(struct cluster *cl, int i);

/* cluster_node_wipe kills node i with SIGKILL and deletes its data dir. */
void cluster_node_wipe(struct cluster *cl, int i);

/*
 * cluster_fini stops every clmd and nats-server (a .fini; NULL-safe); with
 * CLM_CLUSTER_KEEP_LOGS=DIR it first copies the clmd logs into DIR.
 */
void cluster_fini(struct cluster *cl);

/* A connection to node i (asserted; clm_close it). */
clm_conn *cluster_conn(const struct cluster *cl, int i);

/*
 * cluster_call sends req with min_position and deadline_ms set (req is
 * not changed) and returns the reply's status code or a transport error;
 * *out as clm_call's typed helpers (NULL after a transport error).
 */
clm_err cluster_call(clm_conn *c, const Clm__V1__Request *req,
        uint64_t min_position, uint32_t deadline_ms, Clm__V1__Response **out);

/*
 * cluster_read sends req with min_position, again while the node answers
 * UNAVAILABLE "not caught up" (or the call times out), for up to
 * CLUSTER_CATCHUP_MS, and returns the last status code with *out set
 * (NULL when the last try got no reply).
 */
clm_err cluster_read(clm_conn *c, const Clm__V1__Request *req,
        uint64_t min_position, Clm__V1__Response **out);

/* GetCustomer of id at as_of_ms through cluster_read; asserts OK. */
Clm__V1__Response *cluster_customer(
        clm_conn *c, const char *id, int64_t as_of_ms, uint64_t min_position);

/* ExportCustomer of id through cluster_read; asserts OK. */
Clm__V1__Response *cluster_export(
        clm_conn *c, const char *id, uint64_t min_position);

/* ServerStatus through cluster_read; asserts OK. */
Clm__V1__Response *cluster_status(clm_conn *c, uint64_t min_position);

/*
 * cluster_expect_same packs a and b (messages of one type) and expects
 * the same bytes; what names them in the failure message.
 */
void cluster_expect_same(const char *what, const ProtobufCMessage *a,
        const ProtobufCMessage *b);

/*
 * cluster_expect_same_export is cluster_expect_same for two exports, but
 * for their customers' as_of_ms, which it clears first: an export is of
 * "now" (it has no as_of_ms), the moment each node answered.
 */
void cluster_expect_same_export(const char *what,
        Clm__V1__ExportCustomerReply *a, Clm__V1__ExportCustomerReply *b);

/*
 * cluster_expect_no_halt expects no node's log to say that it stopped
 * applying because the stream "diverged" from its view (no NATS node lost
 * power in these tests, so that is a false alarm); returns how many did.
 */
int cluster_expect_no_halt(const struct cluster *cl);

/* The number of touchpoints a Customer's touch_counts add up to. */
uint64_t cluster_touches(const Clm__V1__Customer *c);

/* One entry of the stream, as cluster_stream_scan hands it out. */
struct cluster_entry {
	uint64_t seq;
	const char *subject;
	const void *data;
	size_t len;
};

/*
 * cluster_stream_scan reads every entry the stream holds (positions
 * first..last; erased ones are skipped) through the NATS client and calls
 * fn for each; returns how many entries it read. Asserts it can.
 */
size_t cluster_stream_scan(const struct cluster *cl,
        void (*fn)(void *arg, const struct cluster_entry *e), void *arg);

/* Whether needle[0..n) occurs in data[0..len). */
bool cluster_has_bytes(
        const void *data, size_t len, const char *needle, size_t n);

/* The wall clock in ms. */
int64_t cluster_wall_ms(void);

/* The monotonic clock in ms. */
int64_t cluster_mono_ms(void);

#endif /* CLM_IT_CLUSTER_H */
