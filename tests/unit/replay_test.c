/*
 * server/calls/replay.c: every write call's journal entry, written by its
 * prepare step, rebuilds a job that applies exactly what the live job did.
 *
 * A realistic day of writes (catalog, spend, an experiment, Tracks with an
 * invalid touchpoint and one without an event time, an assignment,
 * Identify, a Recommend claim, a Forget) goes through the prepare steps
 * dispatch runs, and each job is applied to store A, as the writer does.
 * The entries are then replayed, with lower limits and another frequency
 * cap than they were accepted under, into store B at the same batch
 * instants. Both stores must then hold the same bytes in every database.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "config.h"
#include "server.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "write_fixture.h"

/* 2026-11-01T10:00:00Z, when the day of writes starts. */
#define T0 1793527200000LL

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

struct fixture {
	struct config cfg;
	struct server srv;
	arena a; /* everything of the live requests and the replays */
};

static void
fixture_init(struct fixture *f)
{
	config_init(&f->cfg);
	server_init(&f->srv, &f->cfg, NULL, NULL, T0);
	arena_init(&f->a);
}

static void
fixture_fini(struct fixture *f)
{
	arena_fini(&f->a);
	config_fini(&f->cfg);
}

/*
 * Runs the prepare step of json's call on r as dispatch_request does (a
 * job readied by writer_job_init, then the call's prepare); true when it
 * set a job.
 */
static bool
live_prepare(struct fixture *f, struct call_req *r, const char *json,
        int64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	r->srv = &f->srv;
	r->a = &f->a;
	r->now_ms = now_ms;
	r->resp = arena_alloc(&f->a, sizeof(*r->resp));
	cr_assert_not_null(r->resp);
	clm__v1__response__init(r->resp);
	Clm__V1__Request *req = wfx_request(&f->a, json);
	r->req = req;
	writer_job_init(&r->job, &f->a, r->resp, NULL, NULL);
	switch (req->call_case) {
	case CLM__V1__REQUEST__CALL_TRACK:
		return track_prepare(r);
	case CLM__V1__REQUEST__CALL_RECOMMEND:
		cr_assert(req->recommend->claim);
		return recommend_claim_prepare(r);
	case CLM__V1__REQUEST__CALL_PUT_CATALOG:
		return catalog_prepare(r);
	case CLM__V1__REQUEST__CALL_RECORD_SPEND:
		return spend_prepare(r);
	case CLM__V1__REQUEST__CALL_IDENTIFY:
		return identify_prepare(r);
	case CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT:
		return exp_define_prepare(r);
	case CLM__V1__REQUEST__CALL_ASSIGN:
		return exp_assign_prepare(r);
	case CLM__V1__REQUEST__CALL_FORGET_CUSTOMER:
		return forget_prepare(r);
	default:
		cr_assert_fail("not a write: %s", json);
	}
	return false;
}

/* Packs a reply, to compare two of them (malloc'd). */
static uint8_t *
response_bytes(const Clm__V1__Response *resp, size_t *n)
{
	*n = clm__v1__response__get_packed_size(resp);
	uint8_t *buf = malloc(*n + 1);
	cr_assert_not_null(buf);
	clm__v1__response__pack(resp, buf);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* A day of writes, live and replayed                                     */

/* One write of the day, and when its batch ran. */
struct step {
	const char *json;
	int64_t at_ms;
};

/* What the live run left for the replay. */
struct entry {
	uint32_t type;
	const void *data;
	size_t len;
	writer_apply_fn apply;
	size_t items;
	uint8_t *reply; /* the live reply, packed (malloc'd) */
	size_t reply_len;
};

static const struct step replay_day[] = {
	{ "{\"putCatalog\":{\"items\":["
	  "{\"itemId\":\"phone\",\"name\":\"Phone\",\"category\":\"tech\","
	  "\"price\":500,\"upgradeTo\":\"phone-pro\"},"
	  "{\"itemId\":\"phone-pro\",\"name\":\"Phone Pro\","
	  "\"category\":\"tech\",\"price\":800},"
	  "{\"itemId\":\"case\",\"name\":\"Case\",\"category\":\"acc\","
	  "\"price\":20}],"
	  "\"stores\":[{\"storeId\":\"berlin\",\"name\":\"Berlin, Mitte\","
	  "\"location\":{\"lat\":52.52,\"lon\":13.405},\"radiusM\":500,"
	  "\"discountPct\":15}]}}",
	        T0 },
	{ "{\"recordSpend\":{\"spend\":["
	  "{\"channel\":\"PAID_ADS\",\"dayMs\":\"1793491200000\","
	  "\"amount\":120.5,\"currency\":\"EUR\",\"campaign\":\"fall\"},"
	  "{\"channel\":\"EMAIL\",\"dayMs\":\"1793491200000\","
	  "\"amount\":10}]}}",
	        T0 + 1000 },
	{ "{\"defineExperiment\":{\"experimentId\":\"checkout-v2\","
	  "\"variants\":[{\"name\":\"control\",\"weight\":1},"
	  "{\"name\":\"one-page\",\"weight\":1}],\"goal\":\"PURCHASE\"}}",
	        T0 + 2000 },
	/* Touchpoint 2 is invalid, 0 and 5 have no event time. */
	{ "{\"requestId\":\"t-1\",\"authToken\":\"secret\","
	  "\"deadlineMs\":5000,\"track\":{\"touchpoints\":["
	  "{\"eventId\":\"alice-1\",\"customerId\":\"alice\","
	  "\"type\":\"AD_CLICK\",\"channel\":\"PAID_ADS\"},"
	  "{\"eventId\":\"alice-2\",\"customerId\":\"alice\","
	  "\"type\":\"SITE_VISIT\",\"channel\":\"ORGANIC_SEARCH\","
	  "\"durationS\":240,\"occurredAtMs\":\"1793527000000\"},"
	  "{\"eventId\":\"bad-1\",\"customerId\":\"alice\"},"
	  "{\"eventId\":\"alice-3\",\"customerId\":\"alice\","
	  "\"type\":\"PURCHASE\",\"channel\":\"EMAIL\",\"itemId\":\"phone\","
	  "\"value\":500,\"currency\":\"EUR\","
	  "\"occurredAtMs\":\"1793527100000\"},"
	  "{\"anonymousId\":\"cookie-9\",\"type\":\"PAGE_VIEW\","
	  "\"channel\":\"ORGANIC_SOCIAL\",\"occurredAtMs\":\"1793520000000\"},"
	  "{\"anonymousId\":\"cookie-9\",\"type\":\"ADD_TO_CART\","
	  "\"itemId\":\"case\",\"properties\":{\"size\":\"m\"}},"
	  "{\"eventId\":\"carol-1\",\"customerId\":\"carol\","
	  "\"type\":\"SIGNUP\",\"occurredAtMs\":\"1793400000000\"},"
	  "{\"eventId\":\"alice-1\",\"customerId\":\"alice\","
	  "\"type\":\"AD_CLICK\"}]}}",
	        T0 + 3000 },
	{ "{\"assign\":{\"experimentId\":\"checkout-v2\","
	  "\"customerId\":\"alice\"}}",
	        T0 + 4000 },
	{ "{\"identify\":{\"anonymousId\":\"cookie-9\",\"customerId\":\"bob\","
	  "\"traits\":{\"plan\":\"pro\"}}}",
	        T0 + 5000 },
	/* No now_ms: the claim decides at its batch's instant. */
	{ "{\"requestId\":\"claim-1\",\"recommend\":{\"customerId\":\"alice\","
	  "\"location\":{\"lat\":52.521,\"lon\":13.406},\"claim\":true}}",
	        T0 + 6000 },
	/* An order of three items, and a CUSTOM event with its name. */
	{ "{\"track\":{\"touchpoints\":["
	  "{\"eventId\":\"alice-4\",\"customerId\":\"alice\","
	  "\"type\":\"PURCHASE\",\"itemId\":\"case\","
	  "\"orderItems\":[\"phone-pro\",\"strap\"],\"value\":20},"
	  "{\"eventId\":\"bob-1\",\"customerId\":\"bob\","
	  "\"type\":\"APP_OPEN\"},"
	  "{\"eventId\":\"bob-2\",\"customerId\":\"bob\","
	  "\"type\":\"CUSTOM\",\"eventName\":\"Video Played\"}]}}",
	        T0 + 7000 },
	{ "{\"forgetCustomer\":{\"customerId\":\"carol\"}}", T0 + 8000 },
};

#define REPLAY_DAY_N (sizeof(replay_day) / sizeof(replay_day[0]))

Test(replay, every_write_applies_the_same_from_its_journal_entry)
{
	char dir_a[64], dir_b[64];
	testdir_make(dir_a, sizeof(dir_a), "replay-live");
	testdir_make(dir_b, sizeof(dir_b), "replay-again");
	struct fixture live;
	fixture_init(&live);
	/* No quiet hours: the claim records a message per recommendation. */
	live.cfg.quiet_hours = 0;
	struct entry entries[REPLAY_DAY_N];
	bool seen[64] = { false };

	store *sa = wfx_store_open(dir_a, 64 << 20);
	for (size_t i = 0; i < REPLAY_DAY_N; i++) {
		struct call_req r;
		cr_assert(live_prepare(&live, &r, replay_day[i].json,
		                  replay_day[i].at_ms),
		        "step %zu refused: %s", i,
		        r.resp->status ? r.resp->status->message : "?");
		cr_assert_not_null(r.job.apply);
		cr_assert_eq(r.job.jtype, (uint32_t) r.req->call_case);
		cr_assert_not_null(r.job.jdata);
		cr_assert_gt(r.job.jlen, 0);
		seen[r.job.jtype] = true;
		wfx_apply_job(sa, &r.job, replay_day[i].at_ms);
		cr_assert_null(r.resp->status, "step %zu: %s", i,
		        r.resp->status ? r.resp->status->message : "");
		entries[i] = (struct entry) { r.job.jtype, r.job.jdata,
			r.job.jlen, r.job.apply, r.job.items, NULL, 0 };
		entries[i].reply
		        = response_bytes(r.resp, &entries[i].reply_len);
	}
	store_close(sa);
	/* Every write call of the table was there. */
	cr_assert(seen[CLM__V1__REQUEST__CALL_TRACK]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_RECOMMEND]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_PUT_CATALOG]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_RECORD_SPEND]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_IDENTIFY]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_ASSIGN]);
	cr_assert(seen[CLM__V1__REQUEST__CALL_FORGET_CUSTOMER]);

	/*
	 * Replayed by a server whose limits are now far below what was
	 * accepted: one touchpoint per Track, ids of 3 bytes; and whose
	 * frequency cap would let one message through in a year, to a
	 * customer at risk after a minute.
	 */
	struct fixture low;
	fixture_init(&low);
	low.cfg.max_touchpoints = 1;
	low.srv.limits.max_id_bytes = 3;
	low.srv.limits.max_properties = 0;
	low.cfg.cap_messages = 1;
	low.cfg.cap_days = 365;
	low.cfg.quiet_hours = 720;
	low.srv.params.at_risk_ms = 60000;
	store *sb = wfx_store_open(dir_b, 64 << 20);
	for (size_t i = 0; i < REPLAY_DAY_N; i++) {
		Clm__V1__Response *resp = arena_alloc(&low.a, sizeof(*resp));
		cr_assert_not_null(resp);
		clm__v1__response__init(resp);
		writer_job job;
		writer_job_init(&job, &low.a, resp, NULL, NULL);
		clm_err e = call_replay(&low.srv, &job, entries[i].type,
		        entries[i].data, entries[i].len, replay_day[i].at_ms);
		cr_assert_eq(e, CLM_OK, "step %zu: %s", i, clm_errname(e));
		cr_assert_eq(job.apply, entries[i].apply, "step %zu", i);
		cr_assert_eq(job.items, entries[i].items, "step %zu", i);
		cr_assert_eq(job.deadline_ns, 0);
		wfx_apply_job(sb, &job, replay_day[i].at_ms);
		/*
		 * The same reply, but for the Track whose live reply also
		 * lists the touchpoint prepare rejected.
		 */
		size_t n;
		uint8_t *reply = response_bytes(resp, &n);
		if (i == 3) {
			cr_assert_eq(resp->track->accepted, 6);
			cr_assert_eq(resp->track->duplicates, 1);
			cr_assert_eq(resp->track->n_rejected, 0);
			cr_assert_gt(entries[i].reply_len, n);
		} else {
			cr_assert(n == entries[i].reply_len
			                && memcmp(reply, entries[i].reply, n)
			                        == 0,
			        "step %zu: another reply", i);
		}
		free(reply);
		free(entries[i].reply);
	}
	store_close(sb);

	size_t records = wfx_stores_compare(dir_a, dir_b, NULL);
	cr_assert_gt(records, 40, "only %zu records compared", records);
	fixture_fini(&low);
	fixture_fini(&live);
	testdir_remove(dir_a);
	testdir_remove(dir_b);
}

/* ---------------------------------------------------------------------- */
/* What an entry holds                                                    */

static Clm__V1__Request *
entry_decode(struct fixture *f, const writer_job *job)
{
	size_t head = job->jtype == CLM__V1__REQUEST__CALL_RECOMMEND
	        ? CALL_POLICY_BYTES
	        : 0;
	cr_assert_geq(job->jlen, head);
	Clm__V1__Request *q = clm__v1__request__unpack(arena_pb(&f->a),
	        job->jlen - head, (const uint8_t *) job->jdata + head);
	cr_assert_not_null(q);
	cr_assert_eq((uint32_t) q->call_case, job->jtype);
	return q;
}

Test(replay, track_entry_holds_only_valid_touchpoints_with_their_time)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	cr_assert(live_prepare(&f, &r, replay_day[3].json, T0 + 3000));
	cr_assert_eq(r.job.items, 7);
	Clm__V1__Request *q = entry_decode(&f, &r.job);
	/* Neither the token, nor the deadline, nor the request id. */
	cr_assert_str_empty(q->auth_token);
	cr_assert_eq(q->deadline_ms, 0);
	cr_assert_str_empty(q->request_id);
	cr_assert_eq(q->track->n_touchpoints, 7);
	static const char *const ids[] = { "alice-1", "alice-2", "alice-3", "",
		"", "carol-1", "alice-1" };
	static const int64_t at[] = { T0 + 3000, 1793527000000LL,
		1793527100000LL, 1793520000000LL, T0 + 3000, 1793400000000LL,
		T0 + 3000 };
	for (size_t i = 0; i < 7; i++) {
		const Clm__V1__Touchpoint *tp = q->track->touchpoints[i];
		cr_assert_str_eq(tp->event_id, ids[i], "touchpoint %zu", i);
		cr_assert_eq(tp->occurred_at_ms, at[i], "touchpoint %zu", i);
	}
	/* The rest of a touchpoint travels as it came. */
	const Clm__V1__Touchpoint *cart = q->track->touchpoints[4];
	cr_assert_eq(cart->type, CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART);
	cr_assert_str_eq(cart->anonymous_id, "cookie-9");
	cr_assert_eq(cart->n_properties, 1);
	cr_assert_str_eq(cart->properties[0]->value, "m");
	/* The live reply still names the invalid one. */
	cr_assert_eq(r.resp->track->n_rejected, 1);
	cr_assert_eq(r.resp->track->rejected[0]->index, 2);
	fixture_fini(&f);
}

Test(replay, claim_entry_keeps_request_id_and_limit)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	cr_assert(live_prepare(&f, &r, replay_day[6].json, T0));
	Clm__V1__Request *q = entry_decode(&f, &r.job);
	cr_assert_str_eq(q->request_id, "claim-1");
	cr_assert(q->recommend->claim);
	cr_assert_eq(q->recommend->limit, 5);  /* the default, written */
	cr_assert_eq(q->recommend->now_ms, 0); /* the batch's instant */
	fixture_fini(&f);
}

Test(replay, a_refused_write_writes_no_entry)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	cr_assert_not(live_prepare(&f, &r,
	        "{\"track\":{\"touchpoints\":[{\"customerId\":\"x\"}]}}", T0));
	cr_assert_null(r.job.jdata);
	cr_assert_eq(r.job.jlen, 0);
	cr_assert_not(live_prepare(
	        &f, &r, "{\"forgetCustomer\":{\"customerId\":\"\"}}", T0));
	cr_assert_null(r.job.jdata);
	fixture_fini(&f);
}

/* ---------------------------------------------------------------------- */
/* Entries that are not ours                                              */

static clm_err
replay_bytes(struct fixture *f, uint32_t type, const void *data, size_t len)
{
	Clm__V1__Response *resp = arena_alloc(&f->a, sizeof(*resp));
	cr_assert_not_null(resp);
	clm__v1__response__init(resp);
	writer_job job;
	writer_job_init(&job, &f->a, resp, NULL, NULL);
	clm_err e = call_replay(&f->srv, &job, type, data, len, T0);
	if (e != CLM_OK) {
		cr_assert_null(job.apply, "a job was set for a bad entry");
	}
	return e;
}

Test(replay, a_corrupt_entry_is_data_loss)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	cr_assert(live_prepare(&f, &r, replay_day[3].json, T0 + 3000));
	uint32_t track = CLM__V1__REQUEST__CALL_TRACK;
	/* The entry as written replays. */
	cr_assert_eq(replay_bytes(&f, track, r.job.jdata, r.job.jlen), CLM_OK);
	/* Cut short anywhere: the call's length says more than is there. */
	for (size_t n = 0; n < r.job.jlen; n++) {
		clm_err e = replay_bytes(&f, track, r.job.jdata, n);
		cr_assert_eq(e, CLM_DATA_LOSS, "%zu: %s", n, clm_errname(e));
	}
	/* Garbage. */
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
		0x52, 0x80, 0x80, 0x80 };
	cr_assert_eq(
	        replay_bytes(&f, track, junk, sizeof(junk)), CLM_DATA_LOSS);
	/* A Track entry under another type. */
	cr_assert_eq(replay_bytes(&f, CLM__V1__REQUEST__CALL_IDENTIFY,
	                     r.job.jdata, r.job.jlen),
	        CLM_DATA_LOSS);
	/* Types no write call has: a read, nothing, and unknown. */
	cr_assert_eq(replay_bytes(&f, CLM__V1__REQUEST__CALL_GET_CUSTOMER,
	                     r.job.jdata, r.job.jlen),
	        CLM_DATA_LOSS);
	cr_assert_eq(replay_bytes(&f, 0, "", 0), CLM_DATA_LOSS);
	cr_assert_eq(
	        replay_bytes(&f, 999, r.job.jdata, r.job.jlen), CLM_DATA_LOSS);
	fixture_fini(&f);
}

Test(replay, entries_no_prepare_writes_are_data_loss)
{
	struct fixture f;
	fixture_init(&f);
	/* A Track of no touchpoints. */
	Clm__V1__TrackRequest t = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_TRACK;
	q.track = &t;
	uint8_t buf[64];
	size_t n = clm__v1__request__pack(&q, buf);
	cr_assert_eq(replay_bytes(&f, CLM__V1__REQUEST__CALL_TRACK, buf, n),
	        CLM_DATA_LOSS);
	/*
	 * A Recommend entry, as call_journal writes it (policy first): a
	 * claim replays; one that is no claim (a read), or without its
	 * policy, or with a policy of another version, is no entry of ours.
	 */
	Clm__V1__RecommendRequest rr = CLM__V1__RECOMMEND_REQUEST__INIT;
	rr.customer_id = "alice";
	rr.claim = true;
	q.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	q.recommend = &rr;
	struct call_policy pol;
	call_policy_init(&pol, &f.srv);
	writer_job job;
	writer_job_init(&job, &f.a, NULL, NULL, NULL);
	cr_assert_eq(call_journal(&job, &q, &pol), CLM_OK);
	uint32_t rec = CLM__V1__REQUEST__CALL_RECOMMEND;
	cr_assert_eq(replay_bytes(&f, rec, job.jdata, job.jlen), CLM_OK);
	uint8_t *bad = arena_alloc(&f.a, job.jlen);
	cr_assert_not_null(bad);
	memcpy(bad, job.jdata, job.jlen);
	bad[0]++;
	cr_assert_eq(replay_bytes(&f, rec, bad, job.jlen), CLM_DATA_LOSS);
	n = clm__v1__request__pack(&q, buf);
	cr_assert_eq(replay_bytes(&f, rec, buf, n), CLM_DATA_LOSS);
	rr.claim = false;
	cr_assert_eq(call_journal(&job, &q, &pol), CLM_OK);
	cr_assert_eq(
	        replay_bytes(&f, rec, job.jdata, job.jlen), CLM_DATA_LOSS);
	fixture_fini(&f);
}
