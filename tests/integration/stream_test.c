/*
 * The stage-change stream (docs/api.md "The stage-change stream") through
 * clm_watch against a real clmd: one customer through all five stages gives
 * exactly five stage/<STAGE> events with consecutive seq; a recent refund
 * gives risk/RECENT_REFUND; an old billing issue and a late touchpoint that
 * rewrites history but not the current stage give nothing; a "stage/"
 * subscriber sees no risk events; seq continues across a restart; a burst
 * of events reaches a subscriber that was busy while it was published.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"

#define HOUR_MS (3600000LL)
#define DAY_MS  (24 * HOUR_MS)

#define TP_TYPE(x) CLM__V1__TOUCHPOINT_TYPE__##x
#define STAGE(x)   CLM__V1__STAGE__##x
#define KIND(x)    CLM__V1__LIFECYCLE_EVENT_KIND__##x

HARNESS_SUITE(stream, 60);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
start_server(const char *data_dir)
{
	int rc = clmd_start(&srv, data_dir, NULL);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

static clm_conn *
connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 5000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

/* Subscribes to prefix and waits for the SUB to connect. */
static clm_watch *
watch(const char *prefix)
{
	clm_watch *w = NULL;
	clm_err e = clm_watch_open(srv.events_url, prefix, &w);
	cr_assert_eq(e, CLM_OK, "clm_watch_open %s: %s", srv.events_url,
	        clm_errname(e));
	e = clm_watch_ready(w, 20000);
	cr_assert_eq(e, CLM_OK, "clm_watch_ready %s: %s", srv.events_url,
	        clm_errname(e));
	return w;
}

/*
 * Tracks one touchpoint; asserts it was accepted; returns the reply
 * (free it).
 */
static Clm__V1__Response *
track_sentiment(clm_conn *c, const char *customer, const char *eid,
        Clm__V1__TouchpointType type, int64_t at, float sentiment)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.sentiment = sentiment;
	tp.customer_id = (char *) customer;
	tp.event_id = (char *) eid;
	tp.type = type;
	tp.channel = CLM__V1__CHANNEL__DIRECT;
	tp.occurred_at_ms = at;
	if (type == TP_TYPE(PURCHASE) || type == TP_TYPE(REFUND)) {
		tp.value = 5;
		tp.currency = "EUR";
	}
	Clm__V1__Touchpoint *ptr = &tp;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, &ptr, 1, &resp);
	cr_assert_eq(e, CLM_OK, "track %s: %s (%s)", eid, clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->track->accepted, 1, "track %s: not accepted", eid);
	return resp;
}

static Clm__V1__Response *
track_one(clm_conn *c, const char *customer, const char *eid,
        Clm__V1__TouchpointType type, int64_t at)
{
	return track_sentiment(c, customer, eid, type, at, 0.0f);
}

/* What an event must be. */
struct want {
	const char *topic;
	Clm__V1__LifecycleEventKind kind;
	Clm__V1__Stage from, to;
	Clm__V1__RiskReason reason;
	int64_t at;
	const char *event_id;
};

/* A stage change from -> to caused by event id eid (at set later). */
#define STAGE_WANT(eid, from_, to_)                                      \
	{                                                                \
		.topic = "stage/" #to_, .kind = KIND(STAGE_CHANGED),     \
		.from = STAGE(from_), .to = STAGE(to_),                  \
		.reason = CLM__V1__RISK_REASON__RISK_REASON_UNSPECIFIED, \
		.at = 0, .event_id = (eid)                               \
	}
/* A risk signal of reason r caused by event id eid at at_. */
#define RISK_WANT(eid, r, at_)                                    \
	{                                                         \
		.topic = "risk/" #r, .kind = KIND(RISK_SIGNAL),   \
		.from = STAGE(STAGE_UNSPECIFIED),                 \
		.to = STAGE(STAGE_UNSPECIFIED),                   \
		.reason = CLM__V1__RISK_REASON__##r, .at = (at_), \
		.event_id = (eid)                                 \
	}

/*
 * Receives the next event on w (3 s at most) and checks it against *x
 * and against seq (when *seq != 0, the event's must be *seq + 1); *seq
 * becomes the event's.
 */
static void
expect_event(clm_watch *w, const char *customer, const struct want *x,
        uint64_t *seq, const char *ctx)
{
	char topic[64] = "";
	Clm__V1__LifecycleEvent *ev = NULL;
	clm_err e = clm_watch_next(w, 3000, topic, sizeof(topic), &ev);
	cr_assert_eq(e, CLM_OK, "%s: no event (want %s): %s", ctx, x->topic,
	        clm_errname(e));
	cr_expect_str_eq(topic, x->topic, "%s: topic '%s', want '%s'", ctx,
	        topic, x->topic);
	cr_expect_eq(ev->kind, x->kind, "%s: kind %d", ctx, ev->kind);
	cr_expect_str_eq(ev->customer_id, customer, "%s", ctx);
	cr_expect_eq(ev->from_stage, x->from, "%s: from %d, want %d", ctx,
	        ev->from_stage, x->from);
	cr_expect_eq(ev->to_stage, x->to, "%s: to %d, want %d", ctx,
	        ev->to_stage, x->to);
	cr_expect_eq(ev->reason, x->reason, "%s: reason %d, want %d", ctx,
	        ev->reason, x->reason);
	cr_expect_eq(ev->at_ms, x->at, "%s: at %lld, want %lld", ctx,
	        (long long) ev->at_ms, (long long) x->at);
	cr_expect_str_eq(ev->event_id, x->event_id, "%s", ctx);
	if (*seq != 0) {
		cr_expect_eq(ev->seq, *seq + 1, "%s: seq %llu after %llu", ctx,
		        (unsigned long long) ev->seq,
		        (unsigned long long) *seq);
	}
	*seq = ev->seq;
	clm_event_free(ev);
}

/* Asserts nothing arrives on w within ms. */
static void
expect_silence(clm_watch *w, int ms, const char *ctx)
{
	char topic[64] = "";
	Clm__V1__LifecycleEvent *ev = NULL;
	clm_err e = clm_watch_next(w, ms, topic, sizeof(topic), &ev);
	cr_expect_eq(e, CLM_DEADLINE_EXCEEDED, "%s: unexpected event '%s'",
	        ctx, topic);
	clm_event_free(ev);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

/* The five stages, one touchpoint each, at increasing times near now. */
struct stage_step {
	const char *eid;
	Clm__V1__TouchpointType type;
	int64_t ago; /* ms before now */
	struct want w;
};

static void
five_stages(clm_conn *c, const char *cust, int64_t now, clm_watch *all,
        clm_watch *stages, uint64_t *seq_all, uint64_t *seq_stages)
{
	const struct stage_step steps[] = {
		{ .eid = "s1",
		        .type = TP_TYPE(SITE_VISIT),
		        .ago = 10 * DAY_MS,
		        .w = STAGE_WANT("s1", STAGE_UNSPECIFIED, REACH) },
		{ .eid = "s2",
		        .type = TP_TYPE(PURCHASE),
		        .ago = 9 * DAY_MS,
		        .w = STAGE_WANT("s2", REACH, ACQUISITION) },
		{ .eid = "s3",
		        .type = TP_TYPE(PAGE_VIEW),
		        .ago = 8 * DAY_MS,
		        .w = STAGE_WANT("s3", ACQUISITION, NURTURE) },
		{ .eid = "s4",
		        .type = TP_TYPE(PURCHASE),
		        .ago = 7 * DAY_MS,
		        .w = STAGE_WANT("s4", NURTURE, RETENTION) },
		{ .eid = "s5",
		        .type = TP_TYPE(REFERRAL),
		        .ago = 6 * DAY_MS,
		        .w = STAGE_WANT("s5", RETENTION, ADVOCACY) },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct want w = steps[i].w;
		w.at = now - steps[i].ago;
		Clm__V1__Response *resp = track_one(
		        c, cust, steps[i].eid, steps[i].type, w.at);
		cr_assert_eq(resp->track->n_changes, 1, "%s: %zu changes",
		        steps[i].eid, resp->track->n_changes);
		uint64_t replied = resp->track->changes[0]->seq;
		clm_response_free(resp);
		char ctx[32];
		snprintf(ctx, sizeof(ctx), "step %s", steps[i].eid);
		expect_event(all, cust, &w, seq_all, ctx);
		cr_expect_eq(*seq_all, replied,
		        "%s: published seq %llu, replied %llu", ctx,
		        (unsigned long long) *seq_all,
		        (unsigned long long) replied);
		if (stages != NULL) {
			expect_event(stages, cust, &w, seq_stages, ctx);
		}
	}
}

Test(stream, stages_risks_and_silence)
{
	start_server(NULL);
	clm_watch *all = watch("");
	clm_watch *stages = watch("stage/");
	clm_conn *c = connect_to(&srv);
	const int64_t now = wall_ms();
	uint64_t seq = 0, seq_st = 0;

	five_stages(c, "streamer", now, all, stages, &seq, &seq_st);
	cr_expect_eq(seq, 5, "seq of the fifth event of a new data dir");

	/* A refund now: risk/RECENT_REFUND, the next seq, no stage change. */
	const int64_t refund_at = wall_ms();
	Clm__V1__Response *resp
	        = track_one(c, "streamer", "r1", TP_TYPE(REFUND), refund_at);
	cr_expect_eq(resp->track->n_changes, 0);
	clm_response_free(resp);
	struct want refund = RISK_WANT("r1", RECENT_REFUND, refund_at);
	expect_event(all, "streamer", &refund, &seq, "refund");

	/* A billing issue 200 days ago: too old to be a signal. */
	resp = track_one(c, "streamer", "b1", TP_TYPE(BILLING_ISSUE),
	        now - 200 * DAY_MS);
	cr_expect_eq(resp->track->n_changes, 0);
	clm_response_free(resp);
	/* An earlier purchase: rewrites history, not the current stage. */
	resp = track_one(
	        c, "streamer", "p0", TP_TYPE(PURCHASE), now - 11 * DAY_MS);
	cr_expect_eq(resp->track->n_changes, 0,
	        "a late purchase of an ADVOCACY customer changed the stage");
	clm_response_free(resp);
	Clm__V1__Response *cu = NULL;
	cr_assert_eq(clm_get_customer(c, "streamer", 0, &cu), CLM_OK);
	cr_expect_eq(cu->customer->stage, STAGE(ADVOCACY));
	cr_expect_eq(cu->customer->purchases, 3);
	clm_response_free(cu);
	expect_silence(all, 300, "old billing issue, late purchase");

	/* A marker: the next event on both streams follows without a gap. */
	struct want marker = STAGE_WANT("m1", STAGE_UNSPECIFIED, REACH);
	marker.at = now - HOUR_MS;
	clm_response_free(track_one(
	        c, "marker", "m1", TP_TYPE(PAGE_VIEW), now - HOUR_MS));
	expect_event(all, "marker", &marker, &seq, "marker");
	/*
	 * On "stage/": the marker directly after ADVOCACY (the refund's
	 * risk event filtered out, so its seq is skipped).
	 */
	cr_expect_eq(seq, seq_st + 2);
	seq_st = 0;
	expect_event(stages, "marker", &marker, &seq_st, "stage/ marker");
	cr_expect_eq(seq_st, seq);
	expect_silence(stages, 200, "stage/ after the marker");
	expect_silence(all, 100, "all after the marker");

	/* Without --http no event is retained for /api/events, silently. */
	char *log = harness_read_file(srv.log_path);
	cr_assert_not_null(log);
	cr_expect_null(strstr(log, "cannot retain"), "%s", log);
	free(log);

	clm_watch_close(all);
	clm_watch_close(stages);
	clm_close(c);
}

Test(stream, risk_events_are_filtered_by_prefix)
{
	start_server(NULL);
	clm_watch *stages = watch("stage/");
	clm_watch *risks = watch("risk/");
	clm_conn *c = connect_to(&srv);
	const int64_t now = wall_ms();
	uint64_t seq_st = 0, seq_r = 0;

	/* First touch: a stage event only. */
	struct want reach = STAGE_WANT("f1", STAGE_UNSPECIFIED, REACH);
	reach.at = now - DAY_MS;
	clm_response_free(track_one(
	        c, "filtered", "f1", TP_TYPE(SITE_VISIT), now - DAY_MS));
	expect_event(stages, "filtered", &reach, &seq_st, "reach");

	/* Two risk signals: a recent billing issue and a recent refund. */
	struct want billing
	        = RISK_WANT("f2", RECENT_BILLING_ISSUE, now - HOUR_MS);
	clm_response_free(track_one(
	        c, "filtered", "f2", TP_TYPE(BILLING_ISSUE), now - HOUR_MS));
	struct want refund = RISK_WANT("f3", RECENT_REFUND, now - 2 * HOUR_MS);
	clm_response_free(track_one(
	        c, "filtered", "f3", TP_TYPE(REFUND), now - 2 * HOUR_MS));
	expect_event(risks, "filtered", &billing, &seq_r, "billing");
	cr_expect_eq(seq_r, seq_st + 1);
	expect_event(risks, "filtered", &refund, &seq_r, "refund");
	expect_silence(stages, 300, "stage/ during risk signals");

	/* The next stage event: seq skips the two risk events. */
	struct want acq = STAGE_WANT("f4", REACH, ACQUISITION);
	acq.at = now - 30 * 60000;
	clm_response_free(track_one(
	        c, "filtered", "f4", TP_TYPE(PURCHASE), now - 30 * 60000));
	uint64_t before = seq_st;
	seq_st = 0;
	expect_event(stages, "filtered", &acq, &seq_st, "acquisition");
	cr_expect_eq(seq_st, before + 3, "seq %llu, want %llu",
	        (unsigned long long) seq_st,
	        (unsigned long long) (before + 3));
	expect_silence(risks, 200, "risk/ during a stage change");

	/*
	 * Sentiment: five reviews of -0.3 sit on the threshold (compared
	 * at float precision); a -1 makes the mean of the latest five -0.44
	 * and raises risk/NEGATIVE_SENTIMENT once, at the moment it turns.
	 * All before the purchase, so no engagement makes NURTURE.
	 */
	for (int i = 0; i < 5; i++) {
		char eid[16];
		snprintf(eid, sizeof(eid), "v%d", i + 1);
		clm_response_free(track_sentiment(c, "filtered", eid,
		        TP_TYPE(REVIEW), now - (200 - i) * 60000, -0.3f));
	}
	expect_silence(risks, 300, "reviews of -0.3");
	struct want neg
	        = RISK_WANT("v6", NEGATIVE_SENTIMENT, now - 150 * 60000);
	clm_response_free(track_sentiment(c, "filtered", "v6",
	        TP_TYPE(FEEDBACK), now - 150 * 60000, -1.0f));
	seq_r = 0;
	expect_event(risks, "filtered", &neg, &seq_r, "negative sentiment");
	clm_response_free(track_sentiment(c, "filtered", "v7",
	        TP_TYPE(SOCIAL_MENTION), now - 100 * 60000, -1.0f));
	expect_silence(risks, 300, "a mean that stays negative");
	expect_silence(stages, 100, "stage/ during sentiment");
	clm_watch_close(stages);
	clm_watch_close(risks);
	clm_close(c);
}

Test(stream, seq_continues_after_restart)
{
	start_server(NULL);
	clm_watch *all = watch("");
	clm_conn *c = connect_to(&srv);
	const int64_t now = wall_ms();
	uint64_t seq = 0;
	five_stages(c, "restarter", now, all, NULL, &seq, NULL);
	clm_watch_close(all);
	clm_close(c);

	int st = clmd_stop(&srv);
	cr_assert_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
	start_server(srv.data_dir);
	/* New ports after a restart: subscribe again. */
	all = watch("");
	c = connect_to(&srv);
	struct want reach = STAGE_WANT("n1", STAGE_UNSPECIFIED, REACH);
	reach.at = now - HOUR_MS;
	clm_response_free(track_one(
	        c, "after-restart", "n1", TP_TYPE(APP_OPEN), now - HOUR_MS));
	expect_event(all, "after-restart", &reach, &seq, "after restart");
	cr_expect_eq(seq, 6);
	clm_watch_close(all);
	clm_close(c);
}

/*
 * One Track of BURST customers publishes BURST stage events at once,
 * while the test is still waiting for the Track's reply: a subscriber
 * that reads them only afterwards gets every one, in seq order (PUB's
 * and SUB's queues hold a burst; nng's defaults, 16 and 128, dropped
 * most of it).
 */
#define BURST 600
Test(stream, a_burst_reaches_a_reader_that_was_busy)
{
	start_server(NULL);
	clm_watch *all = watch("");
	clm_conn *c = connect_to(&srv);
	const int64_t now = wall_ms();
	static Clm__V1__Touchpoint tps[BURST];
	static Clm__V1__Touchpoint *ptrs[BURST];
	static char ids[BURST][16], eids[BURST][16];
	for (int i = 0; i < BURST; i++) {
		clm__v1__touchpoint__init(&tps[i]);
		snprintf(ids[i], sizeof(ids[i]), "burst%d", i);
		snprintf(eids[i], sizeof(eids[i]), "b%d", i);
		tps[i].customer_id = ids[i];
		tps[i].event_id = eids[i];
		tps[i].type = TP_TYPE(APP_OPEN);
		tps[i].channel = CLM__V1__CHANNEL__DIRECT;
		tps[i].occurred_at_ms = now - HOUR_MS;
		ptrs[i] = &tps[i];
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, ptrs, BURST, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->track->accepted, BURST);
	clm_response_free(resp);
	uint64_t seq = 0;
	for (int i = 0; i < BURST; i++) {
		char topic[64] = "";
		Clm__V1__LifecycleEvent *ev = NULL;
		e = clm_watch_next(all, 10000, topic, sizeof(topic), &ev);
		cr_assert_eq(e, CLM_OK, "event %d of %d: %s", i + 1, BURST,
		        clm_errname(e));
		cr_expect_str_eq(topic, "stage/REACH");
		if (seq != 0) {
			cr_expect_eq(ev->seq, seq + 1, "seq %llu after %llu",
			        (unsigned long long) ev->seq,
			        (unsigned long long) seq);
		}
		seq = ev->seq;
		clm_event_free(ev);
	}
	clm_watch_close(all);
	clm_close(c);
}

/*
 * clm_watch_ready: DEADLINE_EXCEEDED while nothing listens at the URL (an
 * ipc path in a new directory: no other test can take it); once
 * connected, OK at once.
 */
Test(stream, ready_waits_for_a_connection)
{
	char dir[32], url[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(url, sizeof(url), "ipc://%s/events", dir);
	clm_watch *w = NULL;
	cr_assert_eq(clm_watch_open(url, "", &w), CLM_OK);
	cr_expect_eq(clm_watch_ready(w, 100), CLM_DEADLINE_EXCEEDED);
	clm_watch_close(w);

	start_server(NULL);
	w = watch("");
	cr_expect_eq(clm_watch_ready(w, 0), CLM_OK, "ready again");
	clm_watch_close(w);
}
