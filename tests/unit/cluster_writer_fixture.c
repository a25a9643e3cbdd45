/*
 * What the cluster writer tests share (cluster_writer_fixture.h): nodes
 * (a writer on its own data dir, on the stream of the natsrv cluster) and
 * calls submitted to them as dispatch does.
 */
#include <criterion/criterion.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calls/calls.h"
#include "calls/cluster.h"
#include "calls/replay.h"
#include "cluster_writer_fixture.h"
#include "config.h"
#include "journal/journal.h"
#include "journal/jstream.h"
#include "natsrv.h"
#include "server.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "util/clock.h"
#include "write/writer.h"
#include "write_fixture.h"

/*
 * Linked with -Wl,--wrap=clock_now_ms: the clock of the thread that sets
 * skew_ms runs ahead by it (a node whose clock is ahead).
 */
int64_t __real_clock_now_ms(void);
int64_t __wrap_clock_now_ms(void);
_Thread_local int64_t skew_ms;
int64_t skew_all_ms; /* the writers' threads too */

int64_t
__wrap_clock_now_ms(void)
{
	return __real_clock_now_ms() + skew_ms
	        + __atomic_load_n(&skew_all_ms, __ATOMIC_RELAXED);
}

natsrv *nats;
int64_t req_deadline_ms;

void
cluster_fini(void)
{
	natsrv_stop(nats);
	nats = NULL;
}

void
cluster_init(void)
{
	nats = natsrv_start(3, NULL);
	cr_assert_not_null(nats, "cannot start the NATS cluster");
}

/* ---------------------------------------------------------------------- */
/* Nodes                                                                  */

/* Opens n's stream and store and starts its writer: its clm_err. */
clm_err
node_start(struct node *n)
{
	config_init(&n->cfg);
	server_init(&n->srv, &n->cfg, NULL, NULL, T0);
	struct jstream_opts jo = { .urls = natsrv_urls(nats) };
	char err[256];
	cr_assert_eq(jstream_open(&jo, &n->js, err, sizeof(err)), CLM_OK,
	        "jstream_open: %s", err);
	n->st = wfx_store_open(n->dir, 256u << 20);
	cr_assert_eq(store_overlay_open(n->st, 16u << 20, err, sizeof(err)),
	        CLM_OK, "%s", err);
	n->srv.st = n->st;
	struct writer_opts wo = {
		.queue_max = 256,
		.batch_max = 64,
		.batch_items_max = 1000,
		.replay = call_replay,
		.replay_arg = &n->srv,
		.stream = n->js,
		.cluster_ops = &call_cluster_ops,
		.cluster_arg = &n->srv,
		.segment_params = &n->srv.params,
	};
	clm_err e = writer_start(n->st, &wo, &n->w, n->err, sizeof(n->err));
	n->srv.w = n->w;
	return e;
}

void
node_stop(struct node *n)
{
	writer_stop(n->w);
	jstream_close(n->js);
	writer_free(n->w);
	store_close(n->st);
	config_fini(&n->cfg);
	n->w = NULL;
	n->js = NULL;
	n->st = NULL;
}

void
node_new(struct node *n, const char *tag)
{
	memset(n, 0, sizeof(*n));
	testdir_make(n->dir, sizeof(n->dir), tag);
	cr_assert_eq(node_start(n), CLM_OK, "writer_start: %s", n->err);
}

/* Waits until n's view reached pos (bounded). */
void
node_wait(struct node *n, uint64_t pos)
{
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	while (writer_position(n->w) < pos && clock_mono_ns() < end) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_geq(writer_position(n->w), pos,
	        "the view is at %llu, not at %llu",
	        (unsigned long long) writer_position(n->w),
	        (unsigned long long) pos);
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

static void
req_done(writer_job *job)
{
	struct req *q = job->done_arg;
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Prepares json's call as dispatch does and submits it to n. */
struct req *
req_try(struct node *n, const char *json)
{
	struct req *q = calloc(1, sizeof(*q));
	cr_assert_not_null(q);
	arena_init(&q->a);
	pthread_mutex_init(&q->mu, NULL);
	clock_cond_init(&q->cv);
	struct call_req *r = &q->r;
	r->srv = &n->srv;
	r->a = &q->a;
	r->now_ms = clock_now_ms();
	r->req = wfx_request(&q->a, json);
	r->resp = arena_alloc(&q->a, sizeof(*r->resp));
	cr_assert_not_null(r->resp);
	clm__v1__response__init(r->resp);
	writer_job_init(&r->job, &q->a, r->resp, req_done, q);
	bool ok = false;
	switch (r->req->call_case) {
	case CLM__V1__REQUEST__CALL_TRACK:
		ok = track_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_PUT_CATALOG:
		ok = catalog_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_IDENTIFY:
		ok = identify_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_FORGET_CUSTOMER:
		ok = forget_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT:
		ok = exp_define_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_DEFINE_SEGMENT:
		ok = seg_define_prepare(r);
		break;
	default:
		cr_assert_fail("not a write of the test: %s", json);
	}
	cr_assert(ok, "refused: %s", json);
	if (req_deadline_ms != 0) {
		r->job.deadline_ns
		        = clock_mono_ns() + req_deadline_ms * 1000000;
	}
	q->submit_err = writer_submit(n->w, &r->job);
	return q;
}

/* req_try, which must be queued. */
struct req *
req_submit(struct node *n, const char *json)
{
	struct req *q = req_try(n, json);
	cr_assert_eq(q->submit_err, CLM_OK, "writer_submit: %s",
	        clm_errname(q->submit_err));
	return q;
}

/* Waits for q's done (bounded), which must come. */
void
req_settled(struct req *q)
{
	struct timespec ts = clock_deadline(WAIT_MS);
	pthread_mutex_lock(&q->mu);
	while (!q->done) {
		if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) != 0) {
			break;
		}
	}
	bool done = q->done;
	pthread_mutex_unlock(&q->mu);
	cr_assert(done, "no reply within %d ms", WAIT_MS);
}

/* Waits for q (bounded), checks it succeeded; returns its position. */
uint64_t
req_wait(struct req *q)
{
	req_settled(q);
	cr_assert_eq(q->r.job.err, CLM_OK, "the write failed: %s",
	        clm_errname(q->r.job.err));
	Clm__V1__Response *resp = q->r.resp;
	cr_assert(resp->status == NULL
	                || resp->status->code == CLM__V1__CODE__OK,
	        "status %d: %s", resp->status ? resp->status->code : 0,
	        resp->status ? resp->status->message : "");
	cr_assert_gt(q->r.job.position, 0);
	return q->r.job.position;
}

void
req_free(struct req *q)
{
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	arena_fini(&q->a);
	free(q);
}

/* A Track of one touchpoint of customer cid, event id ev. */
const char *
track_json(char *buf, size_t n, const char *cid, const char *ev,
        const char *type, int k)
{
	snprintf(buf, n,
	        "{\"track\":{\"touchpoints\":[{\"eventId\":\"%s\","
	        "\"customerId\":\"%s\",\"type\":\"%s\","
	        "\"channel\":\"EMAIL\",\"value\":%d,"
	        "\"occurredAtMs\":\"%lld\"}]}}",
	        ev, cid, type, k, (long long) (T0 + 60000LL * k));
	return buf;
}

/* Submits count Tracks alternately to a and b, waits; the last position. */
uint64_t
interleave(struct node *a, struct node *b, const char *tag, int count)
{
	static const char *const types[] = { "AD_CLICK", "SITE_VISIT",
		"SIGNUP", "PURCHASE", "APP_OPEN" };
	struct req **qs = calloc((size_t) count, sizeof(*qs));
	cr_assert_not_null(qs);
	for (int i = 0; i < count; i++) {
		char json[512], cid[32], ev[48];
		snprintf(cid, sizeof(cid), "%s-%d", tag, i % 5);
		snprintf(ev, sizeof(ev), "%s-ev-%d", tag, i);
		track_json(json, sizeof(json), cid, ev, types[i % 5], i);
		qs[i] = req_submit(i % 2 == 0 ? a : b, json);
	}
	uint64_t last = 0;
	for (int i = 0; i < count; i++) {
		uint64_t pos = req_wait(qs[i]);
		last = pos > last ? pos : last;
		req_free(qs[i]);
	}
	free(qs);
	return last;
}

/* The meta keys that differ between nodes by construction. */
/* What differs between views: a node's pending purges (docs/cluster.md). */
const char *const skip_meta[] = { "checkpoints", "stream_purge.*", NULL };

/* Whether event id ev is recorded in n's closed store. */
bool
event_recorded(const char *dir, const char *ev)
{
	store *st = wfx_store_open(dir, 256u << 20);
	store_txn *txn;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	clm_err e = store_event_exists(txn, ev);
	store_write_abort(txn);
	store_close(st);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
	return e == CLM_OK;
}
