/*
 * What the cluster writer tests share (cluster_writer_test.c,
 * cluster_apply_test.c): a NATS cluster (natsrv.h) per test, nodes (a
 * writer on its own data dir on the stream "CLM", with the server's own
 * calls) and calls prepared and submitted as dispatch does.
 */
#ifndef CLM_UNIT_CLUSTER_WRITER_FIXTURE_H
#define CLM_UNIT_CLUSTER_WRITER_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "calls/call.h"
#include "config.h"
#include "journal/jstream.h"
#include "natsrv.h"
#include "server.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer.h"

/* 2026-11-01T10:00:00Z. */
#define T0 1793527200000LL

/* How long a write or a catch-up may take on a loaded machine. */
#define WAIT_MS 20000

/* The test's NATS cluster (cluster_init starts it, cluster_fini stops it). */
extern natsrv *nats;

/*
 * With -Wl,--wrap=clock_now_ms (tests/CMakeLists.txt): the clock of the
 * thread that sets skew_ms runs ahead by it.
 */
extern _Thread_local int64_t skew_ms;

/* Every thread's clock runs ahead by skew_all_ms (atomic reads). */
extern int64_t skew_all_ms;

/* The deadline req_try gives the calls it submits, in ms from now (0:
 * none; negative: passed already). */
extern int64_t req_deadline_ms;

/* The meta keys that differ between nodes by construction. */
extern const char *const skip_meta[];

struct node {
	char dir[64];
	struct config cfg;
	struct server srv;
	jstream *js;
	store *st;
	writer *w;
	char err[256]; /* writer_start's */
};

struct req {
	arena a;
	struct call_req r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	clm_err submit_err; /* writer_submit's */
};

void cluster_init(void);
void cluster_fini(void);

/* node_start opens n's stream and store and starts its writer. */
clm_err node_start(struct node *n);

/* node_stop stops n's writer and closes what node_start opened. */
void node_stop(struct node *n);

/* node_new makes a data dir tagged tag and starts n on it (asserted). */
void node_new(struct node *n, const char *tag);

/* node_wait waits until n's view reached pos (bounded, asserted). */
void node_wait(struct node *n, uint64_t pos);

/* req_try prepares json's call as dispatch does and submits it to n. */
struct req *req_try(struct node *n, const char *json);

/* req_submit is req_try, asserting the call was queued. */
struct req *req_submit(struct node *n, const char *json);

/* req_settled waits for q's done (bounded), which must come. */
void req_settled(struct req *q);

/* req_wait waits for q, asserts it succeeded; returns its position. */
uint64_t req_wait(struct req *q);

/* req_free frees q. */
void req_free(struct req *q);

/* track_json writes a Track of one touchpoint into buf; returns buf. */
const char *track_json(char *buf, size_t n, const char *cid, const char *ev,
        const char *type, int k);

/* interleave submits count Tracks alternately to a and b, waits for
 * them; returns the last position. */
uint64_t interleave(
        struct node *a, struct node *b, const char *tag, int count);

/* event_recorded tells whether event id ev is in dir's closed store. */
bool event_recorded(const char *dir, const char *ev);

#endif /* CLM_UNIT_CLUSTER_WRITER_FIXTURE_H */
