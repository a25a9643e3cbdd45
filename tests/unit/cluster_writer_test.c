/*
 * The writer's cluster mode (server/write/writer_cluster*.c, issue 16):
 * two or three writers ("nodes", each with its own data dir) on one
 * stream of a real 3-node NATS JetStream cluster (natsrv.h), with the
 * server's own calls: prepare steps, call_replay and call_cluster_ops.
 *
 * - Writes submitted to both nodes interleave in the stream; each call is
 *   acknowledged with its position once its own node applied it; both
 *   views then hold the same bytes in every database, and so does a node
 *   restarted after more writes, and a wiped one rebuilt from the stream.
 * - A ForgetCustomer erases the customer's entries from the stream.
 * - A stream that holds other entries at a node's positions (deleted and
 *   recreated, as after a NATS power loss) is detected at start: the node
 *   refuses writes with the divergence message.
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

TestSuite(cluster_writer, .init = cluster_init, .fini = cluster_fini,
        .timeout = 150);

/* ---------------------------------------------------------------------- */
/* Two nodes agree; a restarted and a wiped node catch up                 */

Test(cluster_writer, nodes_agree_restart_and_rebuild)
{
	struct node a, b, c;
	node_new(&a, "cla");
	node_new(&b, "clb");
	struct req *cat = req_submit(&a,
	        "{\"putCatalog\":{\"items\":[{\"itemId\":\"phone\","
	        "\"name\":\"Phone\",\"category\":\"tech\",\"price\":500}]}}");
	uint64_t pos = req_wait(cat);
	req_free(cat);
	uint64_t last = interleave(&a, &b, "one", 40);
	cr_assert_gt(last, pos);
	node_wait(&a, last);
	node_wait(&b, last);
	cr_assert_geq(writer_stream_position(a.w), last);

	/* a stops; b goes on; a restarted catches up before it serves. */
	node_stop(&a);
	struct req *q = req_submit(&b,
	        "{\"track\":{\"touchpoints\":[{\"eventId\":\"late-1\","
	        "\"customerId\":\"one-1\",\"type\":\"REFUND\","
	        "\"value\":5}]}}");
	last = req_wait(q);
	req_free(q);
	cr_assert_eq(node_start(&a), CLM_OK, "%s", a.err);
	cr_assert_geq(writer_position(a.w), last);
	last = interleave(&a, &b, "two", 10);
	node_wait(&a, last);
	node_wait(&b, last);

	/* c, on an empty data dir, rebuilds from the stream alone. */
	node_new(&c, "clc");
	cr_assert_geq(writer_position(c.w), last);
	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	cr_assert_gt(wfx_stores_compare(a.dir, c.dir, skip_meta), 0);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
	testdir_remove(c.dir);
}

/* ---------------------------------------------------------------------- */
/* Forget                                                                 */

Test(cluster_writer, forget_erases_the_customer_from_the_stream)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	char json[512];
	struct req *t1 = req_submit(&a,
	        track_json(json, sizeof(json), "zoe", "zoe-1", "SIGNUP", 1));
	uint64_t p1 = req_wait(t1);
	req_free(t1);
	struct req *t2 = req_submit(&b,
	        track_json(json, sizeof(json), "zoe", "zoe-2", "PURCHASE", 2));
	uint64_t p2 = req_wait(t2);
	req_free(t2);
	struct req *keep = req_submit(&a,
	        track_json(json, sizeof(json), "yan", "yan-1", "SIGNUP", 3));
	uint64_t pk = req_wait(keep);
	req_free(keep);
	struct req *f = req_submit(
	        &b, "{\"forgetCustomer\":{\"customerId\":\"zoe\"}}");
	uint64_t pf = req_wait(f);
	req_free(f);
	node_wait(&a, pf);

	/* Both nodes purge (idempotent); the entries go within the wait. */
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	char err[256];
	void *data;
	size_t len;
	clm_err e1, e2;
	for (;;) {
		e1 = jstream_get(a.js, p1, &data, &len, err, sizeof(err));
		if (e1 == CLM_OK) {
			free(data);
		}
		e2 = jstream_get(a.js, p2, &data, &len, err, sizeof(err));
		if (e2 == CLM_OK) {
			free(data);
		}
		if ((e1 == CLM_NOT_FOUND && e2 == CLM_NOT_FOUND)
		        || clock_mono_ns() > end) {
			break;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(e1, CLM_NOT_FOUND, "zoe's entry %llu: %s",
	        (unsigned long long) p1, clm_errname(e1));
	cr_assert_eq(e2, CLM_NOT_FOUND, "zoe's entry %llu: %s",
	        (unsigned long long) p2, clm_errname(e2));
	/* The other customer's entry and the Forget itself stay. */
	cr_assert_eq(
	        jstream_get(a.js, pk, &data, &len, err, sizeof(err)), CLM_OK);
	free(data);
	cr_assert_eq(
	        jstream_get(a.js, pf, &data, &len, err, sizeof(err)), CLM_OK);
	free(data);

	/*
	 * A node rebuilt from the stream does not bring zoe back. (Its
	 * bytes differ from a's: the aggregates that hold no identifier,
	 * which a Forget leaves, never counted zoe there, and its internal
	 * customer numbers start lower. a and b agree byte for byte.)
	 */
	struct node c;
	node_new(&c, "clc");
	cr_assert_geq(writer_position(c.w), pf);
	store_txn *txn;
	arena ar;
	arena_init(&ar);
	Clm__V1__CustomerRecord *rec = NULL;
	cr_assert_eq(store_write_begin(c.st, &txn), CLM_OK);
	cr_assert_eq(store_customer_get(txn, "zoe", false, &ar, &rec),
	        CLM_NOT_FOUND);
	cr_assert_eq(store_customer_get(txn, "yan", false, &ar, &rec), CLM_OK);
	store_write_abort(txn);
	arena_fini(&ar);
	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
	testdir_remove(c.dir);
}

/* Whether the stream holds an entry at pos (asserts it answered). */
static bool
stream_has(struct node *n, uint64_t pos)
{
	char err[256];
	void *data = NULL;
	size_t len = 0;
	clm_err e = jstream_get(n->js, pos, &data, &len, err, sizeof(err));
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND, "jstream_get: %s", err);
	free(data);
	return e == CLM_OK;
}

/*
 * The purge runs on its own thread: the Forget's reply, and a write
 * after it, come while the customer's entries (about 2.5 ms each to
 * erase) are still being erased; a stop then does not wait for the rest,
 * and they all go once the node is back.
 */
Test(cluster_writer, forget_does_not_wait_for_the_purge, .timeout = 300)
{
	enum { N = 1200, CHUNK = 200 };
	struct node a;
	node_new(&a, "cla");
	char json[512];
	struct req *qs[CHUNK];
	uint64_t first = 0, last = 0;
	for (int c = 0; c < N; c += CHUNK) {
		for (int i = 0; i < CHUNK; i++) {
			char ev[32];
			snprintf(ev, sizeof(ev), "big-%d", c + i);
			qs[i] = req_submit(&a,
			        track_json(json, sizeof(json), "big", ev,
			                "SITE_VISIT", (c + i) % 1000));
		}
		for (int i = 0; i < CHUNK; i++) {
			uint64_t p = req_wait(qs[i]);
			first = first == 0 || p < first ? p : first;
			last = p > last ? p : last;
			req_free(qs[i]);
		}
	}
	struct req *f = req_submit(
	        &a, "{\"forgetCustomer\":{\"customerId\":\"big\"}}");
	req_wait(f);
	req_free(f);
	struct req *o = req_submit(&a,
	        track_json(json, sizeof(json), "other", "o-1", "SIGNUP", 1));
	req_wait(o);
	req_free(o);
	/* Erased from the lowest position up: the last one is still there. */
	cr_assert(stream_has(&a, last),
	        "the Forget or the write after it waited for the purge");
	/* A stop waits for one slice at most; the restarted node (its
	 * view recorded the purge) finishes it. */
	int64_t t0 = clock_mono_ns();
	node_stop(&a);
	cr_assert_lt(clock_mono_ns() - t0, 10LL * 1000000000, "slow stop");
	cr_assert_eq(node_start(&a), CLM_OK, "%s", a.err);
	int64_t end = clock_mono_ns() + 120LL * 1000000000;
	while ((stream_has(&a, last) || stream_has(&a, first))
	        && clock_mono_ns() < end) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert(!stream_has(&a, first) && !stream_has(&a, last),
	        "the purge did not end");
	node_stop(&a);
	testdir_remove(a.dir);
}

static void
purge_count(void *arg, const char key[33], uint64_t before)
{
	(void) key;
	(void) before;
	(*(size_t *) arg)++;
}

/* How many pending purges n's view records. */
static size_t
purges_recorded(struct node *n)
{
	store_reader *r;
	store_txn *txn;
	size_t k = 0;
	cr_assert_eq(store_reader_new(n->st, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &txn), CLM_OK);
	cr_assert_eq(store_stream_purges_each(txn, purge_count, &k), CLM_OK);
	store_read_end(txn);
	store_reader_free(r);
	return k;
}

/* Waits (bounded) until n records no pending purge; how many it does. */
static size_t
purges_wait_none(struct node *n)
{
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	size_t k;
	while ((k = purges_recorded(n)) > 0 && clock_mono_ns() < end) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return k;
}

/*
 * A purge to do is recorded with the Forget, in the view: a clean stop
 * (which checkpoints past the Forget) does not lose it, the restarted
 * node does it (or finds it done) at once and deletes the record.
 */
Test(cluster_writer, pending_purges_outlive_a_stop)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	char json[512];
	struct req *t = req_submit(&a,
	        track_json(json, sizeof(json), "kai", "kai-1", "SIGNUP", 1));
	req_wait(t);
	req_free(t);
	struct req *f = req_submit(
	        &a, "{\"forgetCustomer\":{\"customerId\":\"kai\"}}");
	uint64_t pf = req_wait(f);
	req_free(f);
	node_wait(&b, pf);
	/* b did not publish the Forget: it waits 30 s before its purge. */
	cr_assert_eq(purges_recorded(&b), 1);
	/* a did: it purged at once and deleted its record. */
	cr_assert_eq(purges_wait_none(&a), 0);
	node_stop(&b);
	cr_assert_eq(node_start(&b), CLM_OK, "%s", b.err);
	cr_assert_eq(purges_wait_none(&b), 0);
	node_stop(&a);
	node_stop(&b);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* ---------------------------------------------------------------------- */
/* Divergence                                                             */

/* Deletes the stream CLM, as an operator (or a lost NATS state) would. */
static void
stream_delete(void)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(
	        natsConnection_ConnectTo(&nc, natsrv_urls(nats)), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	natsStatus s = js_DeleteStream(js, "CLM", NULL, &jerr);
	cr_assert_eq(s, NATS_OK, "js_DeleteStream: %s (%d)",
	        natsStatus_GetText(s), (int) jerr);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

Test(cluster_writer, a_stream_with_other_entries_is_detected)
{
	struct node a, b;
	node_new(&a, "cla");
	uint64_t last = 0;
	char json[512];
	for (int i = 0; i < 4; i++) {
		char ev[32];
		snprintf(ev, sizeof(ev), "old-%d", i);
		struct req *q = req_submit(&a,
		        track_json(
		                json, sizeof(json), "ann", ev, "SIGNUP", i));
		last = req_wait(q);
		req_free(q);
	}
	node_stop(&a);
	stream_delete();

	/* The new stream holds other entries at a's positions, and more. */
	node_new(&b, "clb");
	uint64_t blast = 0;
	for (int i = 0; i < 6; i++) {
		char ev[32];
		snprintf(ev, sizeof(ev), "new-%d", i);
		struct req *q = req_submit(&b,
		        track_json(json, sizeof(json), "bea", ev, "SITE_VISIT",
		                i));
		blast = req_wait(q);
		req_free(q);
	}
	cr_assert_gt(blast, last);
	char why[256];
	cr_assert_not(writer_refusal(b.w, why, sizeof(why)));

	/* a starts (reads go on) but refuses writes, saying why. */
	cr_assert_eq(node_start(&a), CLM_OK, "%s", a.err);
	cr_assert(writer_refusal(a.w, why, sizeof(why)));
	char want[128];
	snprintf(want, sizeof(want),
	        "the stream diverged from this node's view at position %llu",
	        (unsigned long long) last);
	cr_assert(strstr(why, want) != NULL, "refusal: %s", why);
	cr_assert(strstr(why, "resync (docs/cluster.md)") != NULL);
	cr_assert_eq(writer_position(a.w), last, "a applied nothing more");
	/* A write is refused, without done. */
	arena ar;
	arena_init(&ar);
	Clm__V1__Response resp = CLM__V1__RESPONSE__INIT;
	struct call_req r;
	memset(&r, 0, sizeof(r));
	r.srv = &a.srv;
	r.a = &ar;
	r.now_ms = clock_now_ms();
	r.req = wfx_request(&ar,
	        track_json(json, sizeof(json), "ann", "old-9", "SIGNUP", 9));
	r.resp = &resp;
	writer_job_init(&r.job, &ar, &resp, NULL, NULL);
	cr_assert(track_prepare(&r));
	cr_assert_eq(writer_submit(a.w, &r.job), CLM_UNAVAILABLE);
	arena_fini(&ar);
	node_stop(&a);
	node_stop(&b);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* ---------------------------------------------------------------------- */
/* A Track of several customers, and the same call again                  */

#define MULTI                                                               \
	"{\"track\":{\"touchpoints\":["                                     \
	"{\"eventId\":\"m-1\",\"customerId\":\"kim\",\"type\":\"SIGNUP\"}," \
	"{\"eventId\":\"m-2\",\"customerId\":\"lou\",\"type\":\"SIGNUP\"}," \
	"{\"eventId\":\"m-3\",\"customerId\":\"kim\","                      \
	"\"type\":\"PURCHASE\",\"value\":20},"                              \
	"{\"eventId\":\"m-4\",\"customerId\":\"max\","                      \
	"\"type\":\"AD_CLICK\"}]}}"

Test(cluster_writer, a_call_of_several_parts_and_its_retry)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	/* Three customers: three parts, each applied on a before it replies.
	 */
	struct req *q = req_submit(&a, MULTI);
	uint64_t pos = req_wait(q);
	Clm__V1__TrackReply *tr = q->r.resp->track;
	cr_assert_not_null(tr);
	cr_assert_eq(tr->accepted, 4);
	cr_assert_eq(tr->duplicates, 0);
	cr_assert_eq(tr->n_rejected, 0);
	req_free(q);
	/* The same call through b: every part is a duplicate. */
	q = req_submit(&b, MULTI);
	uint64_t again = req_wait(q);
	tr = q->r.resp->track;
	cr_assert_not_null(tr);
	cr_assert_eq(tr->accepted, 0, "accepted %u", tr->accepted);
	cr_assert_eq(tr->duplicates, 4, "duplicates %u", tr->duplicates);
	/* Published again without Msg-Id: the view's dedup said so. */
	cr_assert_gt(again, pos);
	req_free(q);
	node_wait(&a, again);
	node_stop(&a);
	node_stop(&b);
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* ---------------------------------------------------------------------- */
/* The stream's leader killed under writes                                */

Test(cluster_writer, the_leader_killed_under_writes, .timeout = 200)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	enum { N = 60 };
	struct req *qs[N];
	char evs[N][32];
	int leader = natsrv_leader(nats, "CLM", WAIT_MS);
	cr_assert_geq(leader, 0);
	for (int i = 0; i < N; i++) {
		char json[512], cid[32];
		snprintf(cid, sizeof(cid), "kl-%d", i % 7);
		snprintf(evs[i], sizeof(evs[i]), "kl-ev-%d", i);
		track_json(json, sizeof(json), cid, evs[i], "SITE_VISIT", i);
		qs[i] = req_try(i % 2 == 0 ? &a : &b, json);
		if (i == N / 3) {
			/* A third goes through; then the leader dies. */
			for (int k = 0; k <= i; k++) {
				cr_assert_eq(qs[k]->submit_err, CLM_OK);
				req_settled(qs[k]);
			}
			cr_assert_eq(natsrv_kill9(nats, leader), 0);
		}
	}
	/* Every call is answered: acknowledged, or not, never lost. */
	uint64_t last = 0;
	int acked = 0;
	for (int i = 0; i < N; i++) {
		if (qs[i]->submit_err == CLM_OK) {
			req_settled(qs[i]);
		}
		if (qs[i]->submit_err == CLM_OK
		        && qs[i]->r.job.err == CLM_OK) {
			acked++;
			last = qs[i]->r.job.position > last
			        ? qs[i]->r.job.position
			        : last;
		} else {
			evs[i][0] = '\0'; /* not acknowledged: may or may not
			                     be */
		}
		req_free(qs[i]);
	}
	cr_assert_eq(natsrv_restart(nats, leader), 0);
	/* The stream works again: one more write through each node. */
	char json[512];
	struct req *qa = req_submit(&a,
	        track_json(json, sizeof(json), "kl-a", "kl-after-a", "SIGNUP",
	                1));
	struct req *qb = req_submit(&b,
	        track_json(json, sizeof(json), "kl-b", "kl-after-b", "SIGNUP",
	                2));
	uint64_t pa = req_wait(qa), pb = req_wait(qb);
	req_free(qa);
	req_free(qb);
	last = pa > last ? pa : last;
	last = pb > last ? pb : last;
	node_wait(&a, last);
	node_wait(&b, last);
	cr_log_info("%d of %d calls acknowledged around the leader's death",
	        acked, N);
	cr_assert_gt(acked, N / 3);
	node_stop(&a);
	node_stop(&b);
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	for (int i = 0; i < N; i++) {
		if (evs[i][0] != '\0') {
			cr_assert(event_recorded(a.dir, evs[i]),
			        "acknowledged %s is not recorded", evs[i]);
		}
	}
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* ---------------------------------------------------------------------- */
/* A single node's data dir                                               */

Test(cluster_writer, a_local_journals_view_is_refused)
{
	/* A single node writes one Track through its local journal. */
	struct node a;
	memset(&a, 0, sizeof(a));
	testdir_make(a.dir, sizeof(a.dir), "cla");
	config_init(&a.cfg);
	server_init(&a.srv, &a.cfg, NULL, NULL, T0);
	a.st = wfx_store_open(a.dir, 256u << 20);
	char err[256], jdir[128];
	cr_assert_eq(store_overlay_open(a.st, 16u << 20, err, sizeof(err)),
	        CLM_OK, "%s", err);
	snprintf(jdir, sizeof(jdir), "%s/journal", a.dir);
	struct journal_opts jo = { .dir = jdir };
	journal *j;
	cr_assert_eq(
	        journal_open(&jo, &j, err, sizeof(err)), CLM_OK, "%s", err);
	struct writer_opts wo = { .queue_max = 16,
		.batch_max = 16,
		.journal = j,
		.replay = call_replay,
		.replay_arg = &a.srv };
	cr_assert_eq(writer_start(a.st, &wo, &a.w, err, sizeof(err)), CLM_OK,
	        "%s", err);
	char json[512];
	struct req *q = req_submit(&a,
	        track_json(json, sizeof(json), "sol", "sol-1", "SIGNUP", 1));
	cr_assert_eq(req_wait(q), 1);
	req_free(q);
	writer_stop(a.w); /* checkpoints: the base is at position 1 */
	writer_free(a.w);
	journal_close(j);
	store_close(a.st);
	config_fini(&a.cfg);

	/* Started on the stream, it refuses writes rather than skip. */
	cr_assert_eq(node_start(&a), CLM_OK, "%s", a.err);
	char why[256];
	cr_assert(writer_refusal(a.w, why, sizeof(why)));
	cr_assert(strstr(why, "position 1 of a local journal") != NULL, "%s",
	        why);
	node_stop(&a);
	testdir_remove(a.dir);
}
