/*
 * segment_durable: a backfill over 20,000 customers while writes go on,
 * kill -9 during a backfill, and kill -9 after acknowledged Tracks
 * (docs/segments.md "Defining, redefining, deleting": definitions,
 * membership and the backfill's progress are stored like every other
 * write). Every expected membership is counted by the test from what it
 * wrote.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "harness.h"
#include "segflow.h"

HARNESS_SUITE(segment_durable, 300);

#define PURCHASE  CLM__V1__TOUCHPOINT_TYPE__PURCHASE
#define PAGE_VIEW CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
#define N_BASE    20000
#define N_LATE    2000
#define BATCH     1000

/* The largest seq of r's changes, or max when larger. */
static uint64_t
segment_durable_max_seq(const Clm__V1__Response *r, uint64_t max)
{
	for (size_t x = 0; x < r->track->n_changes; x++) {
		if (r->track->changes[x]->seq > max) {
			max = r->track->changes[x]->seq;
		}
	}
	return max;
}

/* Base customer i buys sku-a when i % 3 == 0, else only looks. */
static bool
segment_durable_base_buys(int i)
{
	return i % 3 == 0;
}

/* Tracks customers p00000.. p19999 (one touchpoint each), BATCH a call. */
static void
segment_durable_load(clm_conn *c)
{
	static struct segflow_tp t[BATCH];
	static char cid[BATCH][16], eid[BATCH][16];
	for (int b = 0; b < N_BASE; b += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			int i = b + k;
			snprintf(cid[k], sizeof(cid[k]), "p%05d", i);
			snprintf(eid[k], sizeof(eid[k]), "pe%05d", i);
			bool buys = segment_durable_base_buys(i);
			t[k] = (struct segflow_tp) { cid[k], eid[k],
				buys ? PURCHASE : PAGE_VIEW, 0,
				buys ? "sku-a" : "sku-b", 3.0 };
		}
		clm_response_free(segflow_track(c, t, BATCH));
	}
}

/* Expects the members of name to be exactly the ids want[0..n-1]
 * (ascending). */
static void
segment_durable_expect_members(
        clm_conn *c, const char *name, char **want, size_t n)
{
	cr_expect_eq(segflow_count(c, name), n, "%s: count", name);
	size_t got_n;
	int pages;
	char **got = segflow_members(c, name, 5000, 0, &got_n, &pages);
	cr_expect_eq(
	        got_n, n, "%s: %zu members listed, want %zu", name, got_n, n);
	size_t bad = 0;
	for (size_t i = 0; i < got_n && i < n; i++) {
		if (strcmp(got[i], want[i]) != 0 && bad++ < 5) {
			cr_expect_fail("%s: member %zu is '%s', want '%s'",
			        name, i, got[i], want[i]);
		}
	}
	segflow_members_free(got, got_n);
}

/* The ids of the base customers who bought sku-a, plus late ones. */
static char **
segment_durable_expected(const bool *late_buys, size_t *n)
{
	char **ids = calloc(N_BASE + N_LATE, sizeof(*ids));
	cr_assert_not_null(ids);
	size_t k = 0;
	for (int i = 0; i < N_BASE; i++) {
		bool in = segment_durable_base_buys(i)
		        || (late_buys != NULL && i < 3000 && i % 3 == 1);
		if (in) {
			ids[k] = malloc(16);
			snprintf(ids[k++], 16, "p%05d", i);
		}
	}
	for (int i = 0; late_buys != NULL && i < N_LATE; i++) {
		if (late_buys[i]) {
			ids[k] = malloc(16);
			snprintf(ids[k++], 16, "w%05d", i);
		}
	}
	*n = k;
	return ids;
}

/* The writes that go on during the backfill, from their own thread. */
struct segment_durable_writer {
	const char *url;
	bool late_buys[N_LATE];
	int failures;
	char error[256];
};

static void *
segment_durable_write(void *arg)
{
	struct segment_durable_writer *wr = arg;
	clm_conn *c = NULL;
	if (clm_open(wr->url, 20000, &c) != CLM_OK) {
		snprintf(wr->error, sizeof(wr->error), "open: %s",
		        clm_open_error());
		wr->failures++;
		return NULL;
	}
	/* 2,000 new customers (every other one buys), and 1,000 base
	 * customers who only looked buy now (p00001, p00004, ...). */
	for (int b = 0; b < N_LATE; b += 50) {
		Clm__V1__Touchpoint tp[75];
		Clm__V1__Touchpoint *ptr[75];
		char cid[75][16], eid[75][16];
		size_t n = 0;
		for (int k = 0; k < 50; k++, n++) {
			int i = b + k;
			clm__v1__touchpoint__init(&tp[n]);
			snprintf(cid[n], 16, "w%05d", i);
			snprintf(eid[n], 16, "we%05d", i);
			wr->late_buys[i] = i % 2 == 0;
			tp[n].type = wr->late_buys[i] ? PURCHASE : PAGE_VIEW;
			tp[n].item_id = wr->late_buys[i] ? "sku-a" : "sku-b";
		}
		for (int k = 0; k < 25; k++, n++) {
			int i = 3 * ((b / 50) * 25 + k) + 1;
			clm__v1__touchpoint__init(&tp[n]);
			snprintf(cid[n], 16, "p%05d", i);
			snprintf(eid[n], 16, "wl%05d", i);
			tp[n].type = PURCHASE;
			tp[n].item_id = "sku-a";
		}
		for (size_t k = 0; k < n; k++) {
			tp[k].customer_id = cid[k];
			tp[k].event_id = eid[k];
			tp[k].channel = CLM__V1__CHANNEL__DIRECT;
			if (tp[k].type == PURCHASE) {
				tp[k].value = 2.0;
				tp[k].currency = "EUR";
			}
			ptr[k] = &tp[k];
		}
		Clm__V1__Response *r = NULL;
		clm_err e = clm_track(c, ptr, n, &r);
		if (e != CLM_OK || r->track == NULL
		        || r->track->accepted != n) {
			snprintf(wr->error, sizeof(wr->error),
			        "track batch %d: %s (%s)", b, clm_errname(e),
			        clm_last_error(c));
			wr->failures++;
		}
		clm_response_free(r);
	}
	clm_close(c);
	return NULL;
}

Test(segment_durable, backfill_over_20k_customers_while_writes_go_on)
{
	flow_start(&srv, NULL, NULL);
	clm_conn *c = flow_connect_to(&srv);
	segment_durable_load(c);

	static struct segment_durable_writer wr;
	memset(&wr, 0, sizeof(wr));
	wr.url = srv.url;
	Clm__V1__Response *d
	        = segflow_define(c, "buyers-a", "bought \"sku-a\"");
	bool busy = d->define_segment->segment->backfilling;
	double progress = d->define_segment->segment->backfill_progress;
	clm_response_free(d);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, segment_durable_write, &wr), 0);
	/* Progress never goes back while the writes go on. */
	for (int i = 0; i < 3000; i++) {
		Clm__V1__Response *r
		        = segflow_get_call(c, "buyers-a", 0, NULL, 0);
		flow_expect_ok(r, "get during the backfill");
		const Clm__V1__Segment *s = r->get_segment->segment;
		bool b = s->backfilling;
		cr_expect(s->backfill_progress >= progress,
		        "progress went back from %g to %g", progress,
		        s->backfill_progress);
		progress = s->backfill_progress;
		clm_response_free(r);
		busy |= b;
		if (!b) {
			break;
		}
		harness_sleep_ms(10);
	}
	pthread_join(th, NULL);
	cr_assert_eq(wr.failures, 0, "writer: %s", wr.error);
	cr_expect(
	        busy, "neither DefineSegment nor GetSegment said backfilling");
	segflow_wait_backfill(c, "buyers-a", 120000);
	size_t n;
	char **want = segment_durable_expected(wr.late_buys, &n);
	segment_durable_expect_members(c, "buyers-a", want, n);
	cr_expect(segflow_in_customer(c, "p00001", "buyers-a", 0));
	cr_expect_not(segflow_in_customer(c, "p03001", "buyers-a", 0));
	cr_expect(segflow_in_customer(c, "w00000", "buyers-a", 0));
	segflow_members_free(want, n);
	clm_close(c);
}

Test(segment_durable, kill9_during_a_backfill_resumes_it)
{
	flow_start(&srv, NULL, NULL);
	clm_conn *c = flow_connect_to(&srv);
	segment_durable_load(c);
	Clm__V1__Response *d
	        = segflow_define(c, "buyers-k", "bought \"sku-a\"");
	bool busy = d->define_segment->segment->backfilling;
	clm_response_free(d);
	clm_close(c);
	clmd_kill9(&srv);
	fprintf(stderr, "segment_durable: killed %s the backfill\n",
	        busy ? "during" : "after");

	flow_start(&srv, srv.data_dir, NULL);
	c = flow_connect_to(&srv);
	segflow_wait_backfill(c, "buyers-k", 120000);
	size_t n;
	char **want = segment_durable_expected(NULL, &n);
	cr_expect_eq(n, 6667);
	segment_durable_expect_members(c, "buyers-k", want, n);
	segflow_members_free(want, n);
	/* Maintained after the restart: a new buyer enters at once. */
	struct segflow_tp t = { "k-new", "k-enew", PURCHASE, 0, "sku-a", 1.0 };
	Clm__V1__Response *r = segflow_track(c, &t, 1);
	cr_expect_eq(segflow_changes(r, 3, "k-new", "buyers-k"), 1);
	clm_response_free(r);
	cr_expect_eq(segflow_count(c, "buyers-k"), 6668);
	clm_close(c);
}

Test(segment_durable, kill9_after_acknowledged_tracks_loses_no_entry)
{
	flow_start(&srv, NULL, NULL);
	clm_conn *c = flow_connect_to(&srv);
	clm_response_free(segflow_define(c, "two-buys", "purchases >= 2"));
	clm_response_free(segflow_define(
	        c, "viewers", "count(PAGE_VIEW, 30d) >= 2 and purchases = 0"));
	segflow_wait_backfill(c, "two-buys", 30000);
	segflow_wait_backfill(c, "viewers", 30000);
	/*
	 * 300 customers in calls of 10 touchpoints: customer i makes i % 4
	 * purchases, or (i % 4 == 0) i % 5 page views. Expected: two-buys
	 * i % 4 >= 2; viewers i % 4 == 0 and i % 5 >= 2.
	 */
	int64_t now = segflow_now_ms();
	struct segflow_tp t[10];
	char cid[10][16], eid[10][16];
	int n = 0, ev = 0, entered = 0;
	uint64_t seq = 0;
	for (int i = 0; i < 300; i++) {
		int k = i % 4 != 0 ? i % 4 : i % 5;
		for (int j = 0; j < k; j++) {
			snprintf(cid[n], 16, "a%03d", i);
			snprintf(eid[n], 16, "ae%05d", ev++);
			t[n] = (struct segflow_tp) { cid[n], eid[n],
				i % 4 != 0 ? PURCHASE : PAGE_VIEW,
				now - (j + 1) * 3600000LL, "sku-c", 1.0 };
			if (++n == 10) {
				Clm__V1__Response *r = segflow_track(c, t, n);
				seq = segment_durable_max_seq(r, seq);
				for (size_t x = 0; x < r->track->n_changes;
				        x++) {
					entered += r->track->changes[x]->kind
					        == 3;
				}
				clm_response_free(r);
				n = 0;
			}
		}
	}
	if (n > 0) {
		Clm__V1__Response *r = segflow_track(c, t, n);
		seq = segment_durable_max_seq(r, seq);
		for (size_t x = 0; x < r->track->n_changes; x++) {
			entered += r->track->changes[x]->kind == 3;
		}
		clm_response_free(r);
	}
	char **want2 = calloc(300, sizeof(char *));
	char **wantv = calloc(300, sizeof(char *));
	cr_assert(want2 != NULL && wantv != NULL);
	size_t n2 = 0, nv = 0;
	for (int i = 0; i < 300; i++) {
		char id[16];
		snprintf(id, sizeof(id), "a%03d", i);
		if (i % 4 >= 2) {
			want2[n2++] = strdup(id);
		}
		if (i % 4 == 0 && i % 5 >= 2) {
			wantv[nv++] = strdup(id);
		}
	}
	cr_expect_eq((size_t) entered, n2 + nv,
	        "TrackReplies listed %d entries, want %zu", entered, n2 + nv);
	clm_close(c);
	clmd_kill9(&srv);

	flow_start(&srv, srv.data_dir, NULL);
	c = flow_connect_to(&srv);
	/* Their backfills ended before the kill: they stay ended. */
	Clm__V1__Response *g = segflow_get_call(c, "two-buys", 0, NULL, 0);
	flow_expect_ok(g, "two-buys after the restart");
	cr_expect(!g->get_segment->segment->backfilling,
	        "two-buys backfilling again after kill -9 (progress %g)",
	        g->get_segment->segment->backfill_progress);
	clm_response_free(g);
	segment_durable_expect_members(c, "two-buys", want2, n2);
	segment_durable_expect_members(c, "viewers", wantv, nv);
	cr_expect(segflow_in_customer(c, "a002", "two-buys", 0));
	cr_expect_not(segflow_in_customer(c, "a001", "two-buys", 0));
	cr_expect(segflow_in_customer(c, "a012", "viewers", 0));
	/* A member buying again is no new entry; a new one is. */
	struct segflow_tp more[2] = {
		{ "a002", "more-1", PURCHASE, 0, "sku-c", 1.0 },
		{ "a001", "more-2", PURCHASE, 0, "sku-c", 1.0 },
	};
	Clm__V1__Response *r = segflow_track(c, more, 2);
	/* seq goes on after the largest one before the kill. */
	for (size_t x = 0; x < r->track->n_changes; x++) {
		uint64_t got = r->track->changes[x]->seq;
		cr_expect_gt(got, seq,
		        "seq %llu after the restart, %llu before the kill",
		        (unsigned long long) got, (unsigned long long) seq);
	}
	cr_expect_eq(segflow_changes(r, 3, "a002", "two-buys"), 0);
	cr_expect(segflow_changes(r, 3, "a001", "two-buys") == 1,
	        "a001's entry into two-buys missing from TrackReply.changes "
	        "after kill -9");
	clm_response_free(r);
	cr_expect_eq(segflow_count(c, "two-buys"), n2 + 1);
	segflow_members_free(want2, n2);
	segflow_members_free(wantv, nv);
	clm_close(c);
}

/*
 * A backfill that ends in normal running is checkpointed soon, not a
 * checkpoint_interval later (an hour here): a crash after it does not
 * make the next start run it again.
 */
Test(segment_durable, a_finished_backfill_is_checkpointed_soon)
{
	const char *const slow[] = { "--checkpoint-interval", "3600", NULL };
	flow_start(&srv, NULL, slow);
	clm_conn *c = flow_connect_to(&srv);
	struct segflow_tp t[20];
	char cid[20][16], eid[20][16];
	for (int i = 0; i < 20; i++) {
		snprintf(cid[i], sizeof(cid[i]), "s%02d", i);
		snprintf(eid[i], sizeof(eid[i]), "se%02d", i);
		t[i] = (struct segflow_tp) { cid[i], eid[i],
			i % 2 == 0 ? PURCHASE : PAGE_VIEW, 0, "sku-a", 1.0 };
	}
	clm_response_free(segflow_track(c, t, 20));
	Clm__V1__Response *d
	        = segflow_define(c, "buyers-s", "bought \"sku-a\"");
	uint64_t defined = d->position;
	clm_response_free(d);
	cr_assert_gt(defined, 0);
	segflow_wait_backfill(c, "buyers-s", 60000);
	cr_expect_eq(segflow_count(c, "buyers-s"), 10);
	/* Polled every 20 ms for up to 20 s. */
	uint64_t ck = 0;
	for (int i = 0; i < 1000 && ck < defined; i++) {
		Clm__V1__Response *s = NULL;
		cr_assert_eq(clm_server_status(c, &s), CLM_OK);
		ck = s->server_status->checkpoint_position;
		clm_response_free(s);
		if (ck < defined) {
			struct timespec ts = { 0, 20000000 };
			nanosleep(&ts, NULL);
		}
	}
	cr_expect_geq(ck, defined,
	        "no checkpoint after the backfill ended: at %llu, defined "
	        "at %llu",
	        (unsigned long long) ck, (unsigned long long) defined);
	clm_close(c);
}
