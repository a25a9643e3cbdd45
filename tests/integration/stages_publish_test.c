/*
 * stages_publish: the stage changes of a Track are published on clmd's
 * events socket as stage/<STAGE>, the same events as in the TrackReply,
 * with consecutive seqs.
 */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stages.h"

HARNESS_SUITE(stages_publish, 60);

/* Receives one event from sub; returns 0 and its parts, or nng's error. */
static int
stages_publish_recv_event(
        nng_socket sub, char *topic, size_t tn, Clm__V1__LifecycleEvent **ev)
{
	nng_msg *msg;
	int rv = nng_recvmsg(sub, &msg, 0);
	if (rv != 0) {
		return rv;
	}
	const char *body = nng_msg_body(msg);
	size_t len = nng_msg_len(msg);
	const char *nul = memchr(body, '\0', len);
	cr_assert_not_null(nul, "event without a NUL after the topic");
	size_t tl = (size_t) (nul - body);
	snprintf(topic, tn, "%.*s", (int) tl, body);
	*ev = clm__v1__lifecycle_event__unpack(
	        NULL, len - tl - 1, (const uint8_t *) nul + 1);
	nng_msg_free(msg);
	cr_assert_not_null(*ev, "event payload is not a LifecycleEvent");
	return 0;
}

/* The stage changes of a Track are published as stage/<STAGE>. */
Test(stages_publish, stage_changes_are_published)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	nng_socket sub;
	cr_assert_eq(nng_sub0_open(&sub), 0);
	cr_assert_eq(
	        nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "stage/", 6), 0);
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100);
	int rv = nng_dial(sub, srv.events_url, NULL, 0);
	cr_assert_eq(rv, 0, "dial %s: %s", srv.events_url, nng_strerror(rv));

	/* PUB drops what it sends before the pipe is up: probe until an
	 * event arrives, then drain. */
	char topic[64];
	Clm__V1__LifecycleEvent *ev = NULL;
	struct stages_step probe = { "p", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		CLM__V1__CHANNEL__DIRECT, STAGES_T0, 0, 0 };
	bool up = false;
	for (int k = 0; k < 100 && !up; k++) {
		char id[32];
		snprintf(id, sizeof(id), "probe-%d", k);
		struct stages_tps t;
		stages_make_tp(&t, 0, id, &probe);
		clm_response_free(stages_track(c, t.ptr, 1));
		if (stages_publish_recv_event(sub, topic, sizeof(topic), &ev)
		        == 0) {
			up = true;
			clm__v1__lifecycle_event__free_unpacked(ev, NULL);
		}
	}
	cr_assert(up, "no event arrived on %s", srv.events_url);
	/*
	 * The drain ends at the event of one last probe, not at 100 ms of
	 * silence: an earlier probe's event may come later than that on a
	 * loaded machine, and would be taken for alice's first. clmd's one
	 * writer publishes in the order it applies, and the pipe keeps that
	 * order, so every earlier event comes before the last probe's.
	 */
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 10000);
	struct stages_tps last;
	stages_make_tp(&last, 0, "probe-last", &probe);
	clm_response_free(stages_track(c, last.ptr, 1));
	for (bool drained = false; !drained;) {
		rv = stages_publish_recv_event(sub, topic, sizeof(topic), &ev);
		cr_assert_eq(
		        rv, 0, "no event of probe-last: %s", nng_strerror(rv));
		drained = strcmp(ev->customer_id, "probe-last") == 0;
		clm__v1__lifecycle_event__free_unpacked(ev, NULL);
	}

	static const char *const names[] = { "", "REACH", "ACQUISITION",
		"NURTURE", "RETENTION", "ADVOCACY" };
	struct stages_tps t;
	stages_make_journey(&t, "alice");
	uint64_t last_seq = 0;
	size_t got = 0;
	for (size_t i = 0; i < STAGES_N_STEPS; i++) {
		Clm__V1__Response *resp = stages_track(c, &t.ptr[i], 1);
		for (size_t k = 0; k < resp->track->n_changes; k++) {
			const Clm__V1__LifecycleEvent *want
			        = resp->track->changes[k];
			rv = stages_publish_recv_event(
			        sub, topic, sizeof(topic), &ev);
			cr_assert_eq(rv, 0, "step %zu: no event: %s", i,
			        nng_strerror(rv));
			char wt[64];
			snprintf(wt, sizeof(wt), "stage/%s",
			        names[want->to_stage]);
			cr_expect_str_eq(topic, wt);
			stages_check_change(ev, "alice", t.ids[i],
			        want->from_stage, want->to_stage, want->at_ms);
			cr_expect_eq(ev->seq, want->seq,
			        "published seq %llu, replied %llu",
			        (unsigned long long) ev->seq,
			        (unsigned long long) want->seq);
			if (got > 0) {
				cr_expect_eq(ev->seq, last_seq + 1,
				        "seq %llu after %llu",
				        (unsigned long long) ev->seq,
				        (unsigned long long) last_seq);
			}
			last_seq = ev->seq;
			got++;
			clm__v1__lifecycle_event__free_unpacked(ev, NULL);
		}
		clm_response_free(resp);
	}
	cr_expect_eq(got, 5, "%zu events for 5 stage changes", got);
	nng_close(sub);
	clm_close(c);
}
