/*
 * The writer's cluster mode, continued (cluster_writer_test.c has the
 * basics): what the view decides rather than the stream's acks (a retried
 * call refused at apply, or resent after a Forget), instants that do not
 * depend on erased entries, and messages of another format on the
 * stream's subjects.
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
#include "store/segment.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "util/clock.h"
#include "write/writer.h"
#include "write_fixture.h"

TestSuite(cluster_apply, .init = cluster_init, .fini = cluster_fini,
        .timeout = 150);

/* A retried call whose first copy the view refused is refused again. */
Test(cluster_apply, a_call_refused_at_apply_and_its_retry)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	struct req *q = req_submit(&a,
	        "{\"identify\":{\"anonymousId\":\"dev1\","
	        "\"customerId\":\"cus1\"}}");
	req_wait(q);
	req_free(q);
	/* A touchpoint of the linked anonymous id: refused at apply. */
	const char *tj = "{\"track\":{\"touchpoints\":[{\"eventId\":"
	                 "\"rf-1\",\"customerId\":\"dev1\","
	                 "\"type\":\"SITE_VISIT\"}]}}";
	for (int k = 0; k < 2; k++) {
		q = req_submit(k == 0 ? &a : &b, tj);
		req_settled(q);
		Clm__V1__Response *resp = q->r.resp;
		cr_assert_not_null(resp->track);
		cr_assert_eq(
		        resp->track->duplicates, 0, "call %d: duplicates", k);
		cr_assert_eq(resp->track->accepted, 0);
		cr_assert_not_null(resp->status, "call %d: OK", k);
		cr_assert_eq(resp->status->code,
		        CLM__V1__CODE__FAILED_PRECONDITION, "call %d: %s", k,
		        resp->status->message);
		req_free(q);
	}
	node_stop(&a);
	node_stop(&b);
	cr_assert_not(event_recorded(a.dir, "rf-1"));
	cr_assert_not(event_recorded(b.dir, "rf-1"));
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* A touchpoint sent again after its customer's Forget is recorded anew. */
Test(cluster_apply, a_call_resent_after_a_forget_is_recorded)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	char json[512];
	track_json(json, sizeof(json), "zed", "zed-1", "SIGNUP", 1);
	struct req *q = req_submit(&a, json);
	req_wait(q);
	req_free(q);
	q = req_submit(&b, "{\"forgetCustomer\":{\"customerId\":\"zed\"}}");
	uint64_t pos = req_wait(q);
	req_free(q);
	node_wait(&a, pos);
	q = req_submit(&a, json);
	pos = req_wait(q);
	cr_assert_not_null(q->r.resp->track);
	cr_assert_eq(q->r.resp->track->accepted, 1);
	cr_assert_eq(q->r.resp->track->duplicates, 0);
	req_free(q);
	node_wait(&b, pos);
	node_stop(&a);
	node_stop(&b);
	cr_assert(event_recorded(a.dir, "zed-1"));
	cr_assert(event_recorded(b.dir, "zed-1"));
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* Waits (bounded) until the stream has no entry at seq any more. */
static void
stream_wait_erased(uint64_t seq)
{
	struct jstream_opts jo = { .urls = natsrv_urls(nats) };
	char err[256];
	jstream *js;
	cr_assert_eq(
	        jstream_open(&jo, &js, err, sizeof(err)), CLM_OK, "%s", err);
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	clm_err e = CLM_OK;
	while (clock_mono_ns() < end) {
		void *data = NULL;
		size_t len = 0;
		e = jstream_get(js, seq, &data, &len, err, sizeof(err));
		free(data);
		if (e == CLM_NOT_FOUND) {
			break;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	jstream_close(js);
	cr_assert_eq(e, CLM_NOT_FOUND, "entry %llu still in the stream",
	        (unsigned long long) seq);
}

/* Experiment id's defined_ms and the stream mark's instant in dir. */
static void
exp_instants(const char *dir, const char *id, int64_t *defined, int64_t *mark)
{
	store *st = wfx_store_open(dir, 256u << 20);
	store_txn *txn;
	arena ar;
	arena_init(&ar);
	Clm__V1__ExperimentRecord *rec = NULL;
	struct store_stream_mark m = { 0 };
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_experiment_get(txn, id, &ar, &rec), CLM_OK);
	cr_assert_eq(store_stream_mark_get(txn, &m), CLM_OK);
	*defined = rec->defined_ms;
	*mark = m.now_ms;
	store_write_abort(txn);
	arena_fini(&ar);
	store_close(st);
}

/*
 * An entry later erased by a Forget, from a node whose clock runs ahead,
 * must not raise the instant of later entries: a node rebuilt from the
 * stream after the purge applies them at the same instants.
 */
Test(cluster_apply, an_erased_entry_does_not_move_later_instants)
{
	struct node a, c;
	node_new(&a, "cla");
	char json[512];
	skew_ms = 2000;
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "xu", "xu-1", "SIGNUP", 1));
	skew_ms = 0;
	uint64_t px = req_wait(q);
	req_free(q);
	q = req_submit(&a,
	        "{\"defineExperiment\":{\"experimentId\":\"e1\","
	        "\"variants\":[{\"name\":\"A\",\"weight\":1},"
	        "{\"name\":\"B\",\"weight\":1}],\"goal\":\"PURCHASE\"}}");
	req_wait(q);
	req_free(q);
	q = req_submit(&a, "{\"forgetCustomer\":{\"customerId\":\"xu\"}}");
	uint64_t pf = req_wait(q);
	req_free(q);
	stream_wait_erased(px);
	node_new(&c, "clc");
	node_wait(&c, pf);
	node_stop(&a);
	node_stop(&c);
	/* The customer's aggregates stay on a (anonymous): compare the
	 * experiment's instant and the mark's. */
	int64_t da, ma, dc, mc;
	exp_instants(a.dir, "e1", &da, &ma);
	exp_instants(c.dir, "e1", &dc, &mc);
	cr_assert_eq(da, dc, "defined_ms %lld on a, %lld rebuilt",
	        (long long) da, (long long) dc);
	cr_assert_eq(ma, mc, "mark %lld on a, %lld rebuilt", (long long) ma,
	        (long long) mc);
	testdir_remove(a.dir);
	testdir_remove(c.dir);
}

/* Publishes bytes on the stream's subject "CLM.<subject>", as a stranger. */
static void
stream_publish_foreign(const char *subject, const char *bytes)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(
	        natsConnection_ConnectTo(&nc, natsrv_urls(nats)), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	natsStatus s = js_Publish(
	        NULL, js, subject, bytes, (int) strlen(bytes), NULL, &jerr);
	cr_assert_eq(s, NATS_OK, "js_Publish: %s (%d)", natsStatus_GetText(s),
	        (int) jerr);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

/* Messages of another format on the stream are skipped by every node. */
Test(cluster_apply, foreign_messages_are_skipped_alike)
{
	struct node a, b;
	node_new(&a, "cla");
	node_new(&b, "clb");
	char json[512];
	interleave(&a, &b, "fa", 4);
	stream_publish_foreign("CLM.g", "hello");
	stream_publish_foreign("CLM.c.x", "");
	uint64_t last = interleave(&a, &b, "fb", 4);
	stream_publish_foreign("CLM.f", "\xc1 too short");
	struct req *q = req_submit(
	        &b, track_json(json, sizeof(json), "fc", "fc-1", "SIGNUP", 1));
	last = req_wait(q);
	req_free(q);
	node_wait(&a, last);
	node_wait(&b, last);
	char why[256];
	cr_assert_not(writer_refusal(a.w, why, sizeof(why)), "%s", why);
	cr_assert_not(writer_refusal(b.w, why, sizeof(why)), "%s", why);
	node_stop(&a);
	node_stop(&b);
	cr_assert_gt(wfx_stores_compare(a.dir, b.dir, skip_meta), 0);
	cr_assert(event_recorded(a.dir, "fc-1"));
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/*
 * Linked with -Wl,--wrap=jstream_next: while hold_reads is set, the
 * writers read nothing (a node whose writer is behind), as when no entry
 * came within the wait; only the writer of held's stream when it is set,
 * which then loses what it is handed (it never received it).
 */
clm_err __real_jstream_next(jstream *s, int64_t timeout_ms,
        struct jstream_msg *m, char *err, size_t errlen);
clm_err __wrap_jstream_next(jstream *s, int64_t timeout_ms,
        struct jstream_msg *m, char *err, size_t errlen);
static int hold_reads;
static jstream *held;
static int held_calls; /* calls held so far */

clm_err
__wrap_jstream_next(jstream *s, int64_t timeout_ms, struct jstream_msg *m,
        char *err, size_t errlen)
{
	if (__atomic_load_n(&hold_reads, __ATOMIC_ACQUIRE)
	        && (held == NULL || held == s)) {
		__atomic_add_fetch(&held_calls, 1, __ATOMIC_RELEASE);
		if (held != NULL
		        && __real_jstream_next(s, 0, m, err, errlen)
		                == CLM_OK) {
			jstream_msg_free(m); /* never received */
		}
		struct timespec ts = { (time_t) (timeout_ms / 1000),
			(long) (timeout_ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
		return CLM_DEADLINE_EXCEEDED;
	}
	return __real_jstream_next(s, timeout_ms, m, err, errlen);
}

/*
 * A stop does not wait for a client's deadline: a write acked by the
 * stream that the writer never applies (it reads nothing), with 120 s
 * left, fails within seconds of the stop.
 */
Test(cluster_apply, a_stop_does_not_wait_for_a_deadline)
{
	struct node a;
	node_new(&a, "cla");
	char json[512];
	__atomic_store_n(&hold_reads, 1, __ATOMIC_RELEASE);
	req_deadline_ms = 120000;
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "st", "st-1", "SIGNUP", 1));
	req_deadline_ms = 0;
	int64_t t0 = clock_mono_ns();
	node_stop(&a);
	int64_t took_ms = (clock_mono_ns() - t0) / 1000000;
	__atomic_store_n(&hold_reads, 0, __ATOMIC_RELEASE);
	req_settled(q);
	cr_assert_lt(
	        took_ms, 15000, "the stop took %lld ms", (long long) took_ms);
	cr_assert_eq(q->r.job.err, CLM_UNAVAILABLE, "%s",
	        clm_errname(q->r.job.err));
	req_free(q);
	testdir_remove(a.dir);
}

/* A node behind a purged retention range halts rather than skip it. */
Test(cluster_apply, a_view_before_the_streams_start_halts)
{
	struct node a, b;
	node_new(&a, "cla");
	char json[512];
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "ra", "ra-1", "SIGNUP", 1));
	uint64_t pa = req_wait(q);
	req_free(q);
	node_stop(&a);
	node_new(&b, "clb");
	uint64_t pb = 0;
	for (int i = 0; i < 3; i++) {
		char ev[32];
		snprintf(ev, sizeof(ev), "rb-%d", i);
		q = req_submit(&b,
		        track_json(json, sizeof(json), "rb", ev, "SIGNUP", i));
		pb = req_wait(q);
		req_free(q);
	}
	/* An operator purges below pb: a never applied pa + 1 .. pb - 1. */
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(
	        natsConnection_ConnectTo(&nc, natsrv_urls(nats)), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Purge.Sequence = pb;
	cr_assert_eq(js_PurgeStream(js, "CLM", &o, &jerr), NATS_OK, "%d",
	        (int) jerr);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	/*
	 * That purge took the subject key's entry too: b, running, stores
	 * it again within a second or so (docs/cluster.md "Retention"); a
	 * node can join only then.
	 */
	struct jstream_opts jo = { .urls = natsrv_urls(nats) };
	char err[256];
	jstream *probe = NULL;
	int64_t until = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	while (jstream_open(&jo, &probe, err, sizeof(err)) != CLM_OK
	        && clock_mono_ns() < until) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_not_null(probe, "the key never came back: %s", err);
	jstream_close(probe);
	cr_assert_eq(node_start(&a), CLM_OK, "%s", a.err);
	char why[256], want[160];
	cr_assert(writer_refusal(a.w, why, sizeof(why)));
	snprintf(want, sizeof(want),
	        "the stream starts at %llu, after this node's view at %llu",
	        (unsigned long long) pb, (unsigned long long) pa);
	cr_assert(strstr(why, want) != NULL, "refusal: %s", why);
	cr_assert_eq(writer_position(a.w), pa, "a applied nothing more");
	/* Halted, a still follows the stream's end: its lag shows. */
	q = req_submit(
	        &b, track_json(json, sizeof(json), "rb", "rb-9", "SIGNUP", 9));
	pb = req_wait(q);
	req_free(q);
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	while (writer_stream_position(a.w) < pb && clock_mono_ns() < end) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_geq(writer_stream_position(a.w), pb,
	        "a's stream position %llu, the stream's end %llu",
	        (unsigned long long) writer_stream_position(a.w),
	        (unsigned long long) pb);
	cr_assert_eq(writer_position(a.w), pa);
	node_stop(&a);
	node_stop(&b);
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* The stream's last position, read with a handle of the test's own. */
static uint64_t
stream_last(void)
{
	struct jstream_opts jo = { .urls = natsrv_urls(nats) };
	char err[256];
	jstream *js;
	struct jstream_state st;
	cr_assert_eq(
	        jstream_open(&jo, &js, err, sizeof(err)), CLM_OK, "%s", err);
	cr_assert_eq(
	        jstream_info(js, &st, err, sizeof(err)), CLM_OK, "%s", err);
	jstream_close(js);
	return st.last_seq;
}

/* A write whose deadline passed before it was sent is not published. */
Test(cluster_apply, a_write_past_its_deadline_is_not_sent)
{
	struct node a;
	node_new(&a, "cla");
	char json[512];
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "dl", "dl-1", "SIGNUP", 1));
	uint64_t pos = req_wait(q);
	req_free(q);
	cr_assert_eq(stream_last(), pos);
	req_deadline_ms = -1000;
	q = req_try(
	        &a, track_json(json, sizeof(json), "dl", "dl-2", "SIGNUP", 2));
	req_deadline_ms = 0;
	cr_assert_eq(q->submit_err, CLM_DEADLINE_EXCEEDED, "%s",
	        clm_errname(q->submit_err));
	req_free(q);
	cr_assert_eq(stream_last(), pos, "nothing was published");
	node_stop(&a);
	testdir_remove(a.dir);
}

/*
 * A catch-up that reads nothing (the stream delivers none) is not called
 * caught up: the start fails, saying what it waited for.
 */
Test(cluster_apply, a_catch_up_that_reads_nothing_fails, .timeout = 200)
{
	struct node a;
	node_new(&a, "cla");
	char json[512];
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "cu", "cu-1", "SIGNUP", 1));
	req_wait(q);
	req_free(q);
	node_stop(&a);
	testdir_remove(a.dir);
	testdir_make(a.dir, sizeof(a.dir), "cla");
	__atomic_store_n(&hold_reads, 1, __ATOMIC_RELEASE);
	clm_err e = node_start(&a);
	__atomic_store_n(&hold_reads, 0, __ATOMIC_RELEASE);
	cr_assert_eq(e, CLM_UNAVAILABLE, "%s: %s", clm_errname(e), a.err);
	cr_assert(strstr(a.err, "cannot catch up with the stream") != NULL,
	        "%s", a.err);
	jstream_close(a.js);
	store_close(a.st);
	config_fini(&a.cfg);
	testdir_remove(a.dir);
}

/*
 * A part the stream acked, then lost (deleted and recreated, as after a
 * NATS power loss) while this node had not read it yet, and whose
 * position another node's entry took: the view passes it without
 * applying it, and the write fails rather than say OK.
 */
Test(cluster_apply, an_acked_part_the_stream_lost_fails)
{
	struct node a, b;
	node_new(&a, "cla");
	char json[512];
	held = a.js;
	__atomic_store_n(&hold_reads, 1, __ATOMIC_RELEASE);
	/* Once a call was held, a's writer reads nothing more. */
	int64_t end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	while (__atomic_load_n(&held_calls, __ATOMIC_ACQUIRE) == 0
	        && clock_mono_ns() < end) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_gt(held_calls, 0);
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "lo", "lo-1", "SIGNUP", 1));
	end = clock_mono_ns() + (int64_t) WAIT_MS * 1000000;
	uint64_t s = 0;
	while ((s = stream_last()) < 2 && clock_mono_ns() < end) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_geq(s, 2, "the part is not in the stream");
	/* The stream loses it; b's entries take its position and more. */
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(
	        natsConnection_ConnectTo(&nc, natsrv_urls(nats)), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	cr_assert_eq(js_DeleteStream(js, "CLM", NULL, &jerr), NATS_OK);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	node_new(&b, "clb");
	uint64_t pb = 0;
	for (int i = 0; i < 3; i++) {
		char ev[32];
		snprintf(ev, sizeof(ev), "lb-%d", i);
		struct req *x = req_submit(&b,
		        track_json(json, sizeof(json), "lb", ev, "SIGNUP", i));
		pb = req_wait(x);
		req_free(x);
	}
	cr_assert_geq(pb, s);
	__atomic_store_n(&hold_reads, 0, __ATOMIC_RELEASE);
	req_settled(q);
	cr_assert_eq(q->r.job.err, CLM_UNAVAILABLE, "%s",
	        clm_errname(q->r.job.err));
	cr_assert_not_null(q->r.resp->status, "the write said OK");
	req_free(q);
	node_wait(&a, pb);
	node_stop(&a);
	node_stop(&b);
	cr_assert_not(event_recorded(a.dir, "lo-1"));
	testdir_remove(a.dir);
	testdir_remove(b.dir);
}

/* Segment name's member count on the live node n (0 when undefined). */
static uint64_t
seg_members(struct node *n, const char *name)
{
	store_reader *r;
	store_txn *txn;
	arena ar;
	arena_init(&ar);
	cr_assert_eq(store_reader_new(n->st, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &txn), CLM_OK);
	Clm__V1__SegmentRecord *rec = NULL;
	uint64_t count = 0;
	clm_err e = store_segment_get(txn, name, &ar, &rec);
	if (e == CLM_OK && !rec->backfilling) {
		cr_assert_eq(store_member_count(txn, rec->id, &count), CLM_OK);
	}
	store_read_end(txn);
	store_reader_free(r);
	arena_fini(&ar);
	return count;
}

/*
 * A node's background segment work runs at its own clock: it must not
 * raise the instant the node applies the stream's later entries at,
 * which every node must apply alike.
 */
Test(cluster_apply, a_segment_step_does_not_move_later_instants)
{
	struct node a, c;
	node_new(&a, "csa");
	char json[512];
	struct req *q = req_submit(
	        &a, track_json(json, sizeof(json), "sq", "sq-1", "SIGNUP", 1));
	req_wait(q);
	req_free(q);
	q = req_submit(&a,
	        "{\"defineSegment\":{\"name\":\"quiet\","
	        "\"expression\":\"since(last_seen) > 1h\"}}");
	req_wait(q);
	req_free(q);
	/* The time index enters the customer at a clock two hours ahead. */
	__atomic_store_n(&skew_all_ms, 2 * 3600 * 1000LL, __ATOMIC_RELAXED);
	int64_t until = clock_mono_ns() + WAIT_MS * 1000000LL;
	while (seg_members(&a, "quiet") == 0 && clock_mono_ns() < until) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&skew_all_ms, 0, __ATOMIC_RELAXED);
	cr_assert_eq(seg_members(&a, "quiet"), 1,
	        "the background step did not enter the customer");
	int64_t sent = clock_now_ms();
	q = req_submit(&a,
	        "{\"defineExperiment\":{\"experimentId\":\"e1\","
	        "\"variants\":[{\"name\":\"A\",\"weight\":1},"
	        "{\"name\":\"B\",\"weight\":1}],\"goal\":\"PURCHASE\"}}");
	uint64_t pe = req_wait(q);
	req_free(q);
	node_new(&c, "csc");
	node_wait(&c, pe);
	node_stop(&a);
	node_stop(&c);
	int64_t da, ma, dc, mc;
	exp_instants(a.dir, "e1", &da, &ma);
	exp_instants(c.dir, "e1", &dc, &mc);
	cr_assert_lt(da, sent + 3600 * 1000LL,
	        "defined_ms %lld: the step's instant leaked into the batch's",
	        (long long) da);
	cr_assert_eq(da, dc, "defined_ms %lld on a, %lld rebuilt",
	        (long long) da, (long long) dc);
	cr_assert_eq(ma, mc, "mark %lld on a, %lld rebuilt", (long long) ma,
	        (long long) mc);
	testdir_remove(a.dir);
	testdir_remove(c.dir);
}
