/*
 * server/calls/cluster.c: a write call's entry cut into the parts cluster
 * mode publishes, the parts' replies folded back into the call's, and the
 * ids a ForgetCustomer purges from the stream.
 *
 * Requests go through the prepare steps dispatch runs; a part is applied
 * as the writer applies one (call_replay, then the job's apply in a write
 * transaction of a real store), and its reply handed to merge.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/cluster.h"
#include "calls/replay.h"
#include "config.h"
#include "server.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "write_fixture.h"

/* 2026-11-01T10:00:00Z. */
#define T0 1793527200000LL

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

struct fixture {
	struct config cfg;
	struct server srv;
	arena a;
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

/* Runs the prepare step of json's call as dispatch does; asserts a job. */
static void
prepare(struct fixture *f, struct call_req *r, const char *json)
{
	memset(r, 0, sizeof(*r));
	r->srv = &f->srv;
	r->a = &f->a;
	r->now_ms = T0;
	r->resp = arena_alloc(&f->a, sizeof(*r->resp));
	cr_assert_not_null(r->resp);
	clm__v1__response__init(r->resp);
	Clm__V1__Request *req = wfx_request(&f->a, json);
	r->req = req;
	writer_job_init(&r->job, &f->a, r->resp, NULL, NULL);
	bool ok = false;
	switch (req->call_case) {
	case CLM__V1__REQUEST__CALL_TRACK:
		ok = track_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_RECOMMEND:
		ok = recommend_claim_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_PUT_CATALOG:
		ok = catalog_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_RECORD_SPEND:
		ok = spend_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_IDENTIFY:
		ok = identify_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT:
		ok = exp_define_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_ASSIGN:
		ok = exp_assign_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_FORGET_CUSTOMER:
		ok = forget_prepare(r);
		break;
	default:
		cr_assert_fail("not a write: %s", json);
	}
	cr_assert(ok, "refused: %s: %s", json,
	        r->resp->status ? r->resp->status->message : "?");
}

/* Prepares and applies a write that the tests only need in the store. */
static void
write_now(struct fixture *f, store *st, const char *json)
{
	struct call_req r;
	prepare(f, &r, json);
	wfx_apply_job(st, &r.job, T0);
	cr_assert_null(r.resp->status, "%s: %s", json,
	        r.resp->status ? r.resp->status->message : "");
}

/*
 * Rebuilds the job of part p with call_replay, as the writer does for an
 * entry read from the stream, into a response of f's arena.
 */
static writer_job *
part_job(struct fixture *f, const struct writer_part *p)
{
	writer_job *job = arena_alloc(&f->a, sizeof(*job));
	Clm__V1__Response *resp = arena_alloc(&f->a, sizeof(*resp));
	cr_assert(job != NULL && resp != NULL);
	clm__v1__response__init(resp);
	writer_job_init(job, &f->a, resp, NULL, NULL);
	cr_assert_eq(call_replay(&f->srv, job, p->type, p->data, p->len, T0),
	        CLM_OK);
	return job;
}

/* The touchpoints of a Track part, decoded from its payload. */
static Clm__V1__TrackRequest *
part_track(struct fixture *f, const struct writer_part *p)
{
	/* A Track part starts with the thresholds it was accepted under. */
	cr_assert_eq(p->type,
	        (uint32_t) CLM__V1__REQUEST__CALL_TRACK | CALL_ENTRY_POLICY);
	cr_assert_gt(p->len, CALL_POLICY_BYTES);
	Clm__V1__Request *q = clm__v1__request__unpack(arena_pb(&f->a),
	        p->len - CALL_POLICY_BYTES,
	        (const uint8_t *) p->data + CALL_POLICY_BYTES);
	cr_assert_not_null(q);
	cr_assert_eq(q->call_case, CLM__V1__REQUEST__CALL_TRACK);
	return q->track;
}

/* Asserts that two touchpoints pack to the same bytes. */
static void
assert_same_tp(const Clm__V1__Touchpoint *x, const Clm__V1__Touchpoint *y)
{
	size_t nx = clm__v1__touchpoint__get_packed_size(x);
	size_t ny = clm__v1__touchpoint__get_packed_size(y);
	cr_assert_eq(nx, ny);
	uint8_t *bx = malloc(nx + 1), *by = malloc(ny + 1);
	cr_assert(bx != NULL && by != NULL);
	clm__v1__touchpoint__pack(x, bx);
	clm__v1__touchpoint__pack(y, by);
	cr_assert_eq(memcmp(bx, by, nx), 0);
	free(bx);
	free(by);
}

/* Touchpoint i of Track part p is the request's touchpoint [result]. */
static uint32_t
part_index(const struct writer_part *p, size_t i)
{
	size_t n;
	const uint32_t *index = call_cluster_index(p, &n);
	cr_assert_not_null(index);
	cr_assert_lt(i, n);
	return index[i];
}

static bool
part_is(const struct writer_part *p, const char *id)
{
	return p->subject == WRITER_SUBJECT_CUSTOMER && p->id_len == strlen(id)
	        && memcmp(p->id, id, p->id_len) == 0;
}

/* The Track the split and merge tests share: 7 touchpoints, 4 keys. */
static const char mixed_track[]
        = "{\"track\":{\"touchpoints\":["
          /* 0 */ "{\"eventId\":\"a-1\",\"customerId\":\"alice\","
          "\"type\":\"AD_CLICK\",\"channel\":\"PAID_ADS\"},"
          /* 1 */ "{\"eventId\":\"b-1\",\"customerId\":\"bob\","
          "\"type\":\"SITE_VISIT\",\"durationS\":30},"
          /* 2: invalid, no type */ "{\"eventId\":\"x-1\","
          "\"customerId\":\"alice\"},"
          /* 3 */ "{\"anonymousId\":\"cookie-9\",\"type\":\"PAGE_VIEW\"},"
          /* 4 */ "{\"eventId\":\"a-2\",\"customerId\":\"alice\","
          "\"type\":\"PURCHASE\",\"value\":20,\"itemId\":\"case\"},"
          /* 5 */ "{\"eventId\":\"b-2\",\"customerId\":\"bob\","
          "\"type\":\"APP_OPEN\"},"
          /* 6 */ "{\"eventId\":\"c-1\",\"customerId\":\"carol\","
          "\"type\":\"SIGNUP\"},"
          /* 7 */ "{\"anonymousId\":\"cookie-9\",\"type\":\"ADD_TO_CART\","
          "\"itemId\":\"case\"}]}}";

/* ---------------------------------------------------------------------- */
/* Split                                                                  */

Test(cluster_ops, track_split_per_customer_in_call_order)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	prepare(&f, &r, mixed_track);
	cr_assert_eq(r.resp->track->n_rejected, 1);

	struct writer_part *parts;
	size_t n;
	cr_assert_eq(
	        call_cluster_ops.split(&f.srv, &r.job, 1 << 20, &parts, &n),
	        CLM_OK);
	/* One part per key, in order of first appearance. */
	cr_assert_eq(n, 4);
	static const char *const keys[]
	        = { "alice", "bob", "\001cookie-9", "carol" };
	static const uint32_t want[4][2]
	        = { { 0, 4 }, { 1, 5 }, { 3, 7 }, { 6, UINT32_MAX } };
	Clm__V1__Touchpoint **orig = r.req->track->touchpoints;
	for (size_t k = 0; k < n; k++) {
		cr_assert(part_is(&parts[k], keys[k]), "part %zu", k);
		Clm__V1__TrackRequest *tr = part_track(&f, &parts[k]);
		size_t cnt = want[k][1] == UINT32_MAX ? 1 : 2;
		cr_assert_eq(tr->n_touchpoints, cnt, "part %zu", k);
		for (size_t i = 0; i < cnt; i++) {
			cr_assert_eq(part_index(&parts[k], i), want[k][i]);
			/* The same touchpoint, event time stamped in. */
			assert_same_tp(tr->touchpoints[i], orig[want[k][i]]);
			cr_assert_neq(tr->touchpoints[i]->occurred_at_ms, 0);
		}
		/* call_replay rebuilds a Track job of those touchpoints. */
		writer_job *job = part_job(&f, &parts[k]);
		cr_assert_eq(job->items, cnt);
		cr_assert_eq(job->resp->result_case,
		        CLM__V1__RESPONSE__RESULT_TRACK);
	}
	/* Every touchpoint of cookie-9 has no event id: no Msg-Id. */
	cr_assert_str_eq(parts[2].msg_id, "");
	cr_assert_str_neq(parts[0].msg_id, "");
	cr_assert_lt(strlen(parts[0].msg_id), sizeof(parts[0].msg_id));
	fixture_fini(&f);
}

Test(cluster_ops, track_cut_by_max_bytes)
{
	struct fixture f;
	fixture_init(&f);
	/* 12 touchpoints of dana's, each with a 300-byte property. */
	char json[16384];
	char big[301];
	memset(big, 'v', 300);
	big[300] = '\0';
	int at = snprintf(json, sizeof(json), "{\"track\":{\"touchpoints\":[");
	for (int i = 0; i < 12; i++) {
		at += snprintf(json + at, sizeof(json) - (size_t) at,
		        "%s{\"eventId\":\"d-%d\",\"customerId\":\"dana\","
		        "\"type\":\"PAGE_VIEW\",\"properties\":{\"p\":\"%s\"}}",
		        i ? "," : "", i, big);
	}
	snprintf(json + at, sizeof(json) - (size_t) at, "]}}");
	struct call_req r;
	prepare(&f, &r, json);

	size_t max = 1200;
	struct writer_part *parts;
	size_t n;
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r.job, max, &parts, &n),
	        CLM_OK);
	cr_assert_geq(n, 4, "only %zu parts", n);
	/* Consecutive parts of dana's, in order, each within max. */
	uint32_t next = 0;
	for (size_t k = 0; k < n; k++) {
		cr_assert(part_is(&parts[k], "dana"));
		cr_assert_leq(parts[k].len, max);
		Clm__V1__TrackRequest *tr = part_track(&f, &parts[k]);
		cr_assert_geq(tr->n_touchpoints, 1);
		for (size_t i = 0; i < tr->n_touchpoints; i++, next++) {
			cr_assert_eq(part_index(&parts[k], i), next);
			assert_same_tp(tr->touchpoints[i],
			        r.req->track->touchpoints[next]);
		}
		/* Another part, other event ids: another Msg-Id. */
		if (k > 0) {
			cr_assert_str_neq(
			        parts[k].msg_id, parts[k - 1].msg_id);
		}
	}
	cr_assert_eq(next, 12);
	/* One touchpoint alone past max_bytes cannot be cut. */
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r.job, 200, &parts, &n),
	        CLM_INVALID_ARGUMENT);
	fixture_fini(&f);
}

Test(cluster_ops, msg_id_is_the_same_for_the_same_event_ids)
{
	struct fixture f;
	fixture_init(&f);
	static const char one[] = "{\"track\":{\"touchpoints\":["
	                          "{\"eventId\":\"e-1\",\"customerId\":\"x\","
	                          "\"type\":\"APP_OPEN\"},"
	                          "{\"eventId\":\"e-2\",\"customerId\":\"x\","
	                          "\"type\":\"APP_OPEN\"}]}}";
	/* The same ids, a retry an hour later: the same Msg-Id. */
	struct call_req r1, r2, r3, r4;
	prepare(&f, &r1, one);
	prepare(&f, &r2, one);
	prepare(&f, &r3,
	        "{\"track\":{\"touchpoints\":["
	        "{\"eventId\":\"e-1\",\"customerId\":\"x\",\"type\":\"APP_OPEN\"},"
	        "{\"eventId\":\"e-3\",\"customerId\":\"x\","
	        "\"type\":\"APP_OPEN\"}]}}");
	prepare(&f, &r4,
	        "{\"track\":{\"touchpoints\":["
	        "{\"eventId\":\"e-1\",\"customerId\":\"x\",\"type\":\"APP_OPEN\"},"
	        "{\"customerId\":\"x\",\"type\":\"APP_OPEN\"}]}}");
	struct writer_part *p1, *p2, *p3, *p4;
	size_t n;
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r1.job, 1 << 20, &p1, &n),
	        CLM_OK);
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r2.job, 1 << 20, &p2, &n),
	        CLM_OK);
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r3.job, 1 << 20, &p3, &n),
	        CLM_OK);
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r4.job, 1 << 20, &p4, &n),
	        CLM_OK);
	cr_assert_neq(p1->msg_id[0], '\0');
	cr_assert_str_eq(p1->msg_id, p2->msg_id);
	cr_assert_str_neq(p1->msg_id, p3->msg_id);
	/* One touchpoint without an event id: none. */
	cr_assert_str_eq(p4->msg_id, "");
	fixture_fini(&f);
}

/* Every write call goes to the subject of what it is about. */
Test(cluster_ops, subject_of_every_write_call)
{
	static const struct {
		const char *json;
		enum writer_subject subject;
		const char *id;
	} calls[] = {
		{ "{\"putCatalog\":{\"items\":[{\"itemId\":\"phone\","
		  "\"name\":\"Phone\",\"price\":500}]}}",
		        WRITER_SUBJECT_GLOBAL, NULL },
		{ "{\"recordSpend\":{\"spend\":[{\"channel\":\"EMAIL\","
		  "\"dayMs\":\"1793491200000\",\"amount\":10}]}}",
		        WRITER_SUBJECT_GLOBAL, NULL },
		{ "{\"defineExperiment\":{\"experimentId\":\"x\",\"variants\":"
		  "[{\"name\":\"a\",\"weight\":1},{\"name\":\"b\","
		  "\"weight\":1}],\"goal\":\"PURCHASE\"}}",
		        WRITER_SUBJECT_GLOBAL, NULL },
		{ "{\"assign\":{\"experimentId\":\"x\",\"customerId\":\"ann\"}}",
		        WRITER_SUBJECT_CUSTOMER, "ann" },
		{ "{\"identify\":{\"anonymousId\":\"dev-1\","
		  "\"customerId\":\"ann\"}}",
		        WRITER_SUBJECT_CUSTOMER, "ann" },
		{ "{\"requestId\":\"c-1\",\"recommend\":{\"customerId\":\"ann\","
		  "\"claim\":true}}",
		        WRITER_SUBJECT_CUSTOMER, "ann" },
		{ "{\"forgetCustomer\":{\"customerId\":\"ann\"}}",
		        WRITER_SUBJECT_FORGET, NULL },
		{ "{\"track\":{\"touchpoints\":[{\"customerId\":\"ann\","
		  "\"type\":\"APP_OPEN\"}]}}",
		        WRITER_SUBJECT_CUSTOMER, "ann" },
	};
	struct fixture f;
	fixture_init(&f);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		struct call_req r;
		prepare(&f, &r, calls[i].json);
		struct writer_part *p;
		size_t n;
		cr_assert_eq(call_cluster_ops.split(
		                     &f.srv, &r.job, 1 << 20, &p, &n),
		        CLM_OK, "%s", calls[i].json);
		cr_assert_eq(n, 1);
		cr_assert_eq(
		        p->subject, calls[i].subject, "%s", calls[i].json);
		cr_assert_eq(p->type & ~CALL_ENTRY_POLICY, r.job.jtype);
		if (calls[i].id != NULL) {
			cr_assert(
			        part_is(p, calls[i].id), "%s", calls[i].json);
		}
		/* Not a Track: the job's own entry, whole. */
		if (r.job.jtype != CLM__V1__REQUEST__CALL_TRACK) {
			cr_assert_eq(p->data, r.job.jdata);
			cr_assert_eq(p->len, r.job.jlen);
			cr_assert_str_eq(p->msg_id, "");
			cr_assert_eq(call_cluster_ops.split(&f.srv, &r.job,
			                     r.job.jlen - 1, &p, &n),
			        CLM_INVALID_ARGUMENT);
		}
		part_job(&f, p); /* and it replays */
	}
	fixture_fini(&f);
}

/* ---------------------------------------------------------------------- */
/* Merge                                                                  */

/* Splits mixed_track after kim's Identify, with cookie-9 tracked as kim. */
struct merged {
	struct fixture f;
	char dir[64];
	store *st;
	struct call_req r;
	struct writer_part *parts;
	size_t n;
};

static void
merged_init(struct merged *m, const char *json)
{
	fixture_init(&m->f);
	testdir_make(m->dir, sizeof(m->dir), "cluster-merge");
	m->st = wfx_store_open(m->dir, 64 << 20);
	/* "kim-phone" is kim's anonymous id: as a customer_id, refused. */
	write_now(&m->f, m->st,
	        "{\"identify\":{\"anonymousId\":\"kim-phone\","
	        "\"customerId\":\"kim\"}}");
	prepare(&m->f, &m->r, json);
	cr_assert_eq(call_cluster_ops.split(
	                     &m->f.srv, &m->r.job, 1 << 20, &m->parts, &m->n),
	        CLM_OK);
}

static void
merged_fini(struct merged *m)
{
	store_close(m->st);
	testdir_remove(m->dir);
	fixture_fini(&m->f);
}

/* Applies part k and merges its reply into the call's. */
static void
merged_apply(struct merged *m, size_t k)
{
	writer_job *job = part_job(&m->f, &m->parts[k]);
	wfx_apply_job(m->st, job, T0);
	call_cluster_ops.merge(
	        &m->f.srv, &m->r.job, &m->parts[k], CLM_OK, job->resp);
}

static const Clm__V1__ItemError *
rejected_at(const Clm__V1__TrackReply *t, uint32_t index)
{
	for (size_t k = 0; k < t->n_rejected; k++) {
		if (t->rejected[k]->index == index) {
			return t->rejected[k];
		}
	}
	return NULL;
}

Test(cluster_ops, merge_applied_duplicate_and_failed_parts)
{
	struct merged m;
	/* mixed_track and, at 8, a customer_id that is kim's device. */
	char json[4096];
	snprintf(json, sizeof(json),
	        "%.*s,{\"eventId\":\"k-1\","
	        "\"customerId\":\"kim-phone\","
	        "\"type\":\"APP_OPEN\"}]}}",
	        (int) (sizeof(mixed_track) - 1 - 3), mixed_track);
	merged_init(&m, json);
	/* alice, bob, cookie-9, carol, kim-phone. */
	cr_assert_eq(m.n, 5);
	cr_assert(part_is(&m.parts[4], "kim-phone"));

	/* Out of order, as parts of several nodes may come back. */
	merged_apply(&m, 4);
	merged_apply(&m, 0);
	call_cluster_ops.merge(&m.f.srv, &m.r.job, &m.parts[1], CLM_OK, NULL);
	call_cluster_ops.merge(
	        &m.f.srv, &m.r.job, &m.parts[3], CLM_UNAVAILABLE, NULL);
	merged_apply(&m, 2);

	const Clm__V1__Response *resp = m.r.resp;
	cr_assert_null(resp->status, "%s", resp->status->message);
	const Clm__V1__TrackReply *t = resp->track;
	/* alice's 2 and cookie-9's 2; bob's 2 were in the stream already. */
	cr_assert_eq(t->accepted, 4);
	cr_assert_eq(t->duplicates, 2);
	/* Prepare's invalid one, carol's unacknowledged, kim-phone refused. */
	cr_assert_eq(t->n_rejected, 3);
	cr_assert_eq(t->rejected[0]->index, 2);
	cr_assert_eq(
	        t->rejected[0]->status->code, CLM__V1__CODE__INVALID_ARGUMENT);
	cr_assert_eq(t->rejected[1]->index, 6);
	cr_assert_eq(t->rejected[1]->status->code, CLM__V1__CODE__UNAVAILABLE);
	cr_assert(strstr(t->rejected[1]->status->message,
	                  "not acknowledged by the stream")
	        != NULL);
	cr_assert_eq(t->rejected[2]->index, 8);
	cr_assert_eq(t->rejected[2]->status->code,
	        CLM__V1__CODE__FAILED_PRECONDITION);
	/* Renumbered from the part's touchpoints[0]. */
	cr_assert_str_eq(t->rejected[2]->status->violations[0]->field,
	        "touchpoints[8].customer_id");
	cr_assert(strncmp(t->rejected[2]->status->message,
	                  "touchpoints[8].customer_id: ", 28)
	        == 0);
	/* alice signed nothing up, but a PURCHASE is a stage change. */
	cr_assert_geq(t->n_changes, 1);
	for (size_t k = 0; k < t->n_changes; k++) {
		cr_assert_str_eq(t->changes[k]->customer_id, "alice");
	}
	merged_fini(&m);
}

Test(cluster_ops, merge_with_nothing_acknowledged_is_the_error)
{
	struct merged m;
	merged_init(&m, mixed_track);
	for (size_t k = 0; k < m.n; k++) {
		call_cluster_ops.merge(&m.f.srv, &m.r.job, &m.parts[k],
		        CLM_DEADLINE_EXCEEDED, NULL);
	}
	const Clm__V1__Response *resp = m.r.resp;
	cr_assert_not_null(resp->status);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__DEADLINE_EXCEEDED);
	const Clm__V1__TrackReply *t = resp->track;
	cr_assert_eq(t->accepted, 0);
	cr_assert_eq(t->duplicates, 0);
	cr_assert_eq(t->n_rejected, 8);
	for (uint32_t i = 0; i < 8; i++) {
		const Clm__V1__ItemError *ie = rejected_at(t, i);
		cr_assert_not_null(ie, "touchpoint %u", i);
		cr_assert_eq(t->rejected[i], ie); /* in index order */
		cr_assert_eq(ie->status->code,
		        i == 2 ? CLM__V1__CODE__INVALID_ARGUMENT
		               : CLM__V1__CODE__DEADLINE_EXCEEDED);
	}
	merged_fini(&m);
}

Test(cluster_ops, merge_of_a_single_part_call_copies_its_reply)
{
	struct merged m;
	merged_init(&m,
	        "{\"identify\":{\"anonymousId\":\"web-7\","
	        "\"customerId\":\"kim\"}}");
	merged_apply(&m, 0);
	cr_assert_null(m.r.resp->status);
	cr_assert_eq(
	        m.r.resp->result_case, CLM__V1__RESPONSE__RESULT_IDENTIFY);
	cr_assert_str_eq(m.r.resp->identify->customer->customer_id, "kim");

	/* Not acknowledged: the error, no result. */
	struct call_req r;
	prepare(&m.f, &r, "{\"forgetCustomer\":{\"customerId\":\"kim\"}}");
	struct writer_part *p;
	size_t n;
	cr_assert_eq(call_cluster_ops.split(&m.f.srv, &r.job, 1 << 20, &p, &n),
	        CLM_OK);
	call_cluster_ops.merge(&m.f.srv, &r.job, p, CLM_UNAVAILABLE, NULL);
	cr_assert_not_null(r.resp->status);
	cr_assert_eq(r.resp->status->code, CLM__V1__CODE__UNAVAILABLE);
	cr_assert_eq(r.resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	merged_fini(&m);
}

/* ---------------------------------------------------------------------- */
/* Forget                                                                 */

static void
forget_ids(struct merged *m, const char *cid, const char **want, size_t n)
{
	struct call_req r;
	char json[256];
	snprintf(json, sizeof(json),
	        "{\"forgetCustomer\":{\"customerId\":\"%s\"}}", cid);
	prepare(&m->f, &r, json);
	store_txn *txn;
	cr_assert_eq(store_write_begin(m->st, &txn), CLM_OK);
	const char **ids;
	size_t *lens, got;
	cr_assert_eq(call_cluster_ops.forget_ids(&m->f.srv, txn, &r.job,
	                     &m->f.a, &ids, &lens, &got),
	        CLM_OK);
	store_write_abort(txn);
	cr_assert_eq(got, n, "%s: %zu ids", cid, got);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < got; k++) {
			found |= lens[k] == strlen(want[i])
			        && memcmp(ids[k], want[i], lens[k]) == 0;
		}
		cr_assert(found, "%s: no %s", cid, want[i]);
	}
}

Test(cluster_ops, forget_ids_are_the_customer_and_its_merged_ids)
{
	struct merged m;
	merged_init(&m, mixed_track);
	/* cookie-9 tracked on its own, then merged into zoe; zoe's own id. */
	wfx_apply_job(m.st, &m.r.job, T0);
	write_now(&m.f, m.st,
	        "{\"identify\":{\"anonymousId\":\"cookie-9\","
	        "\"customerId\":\"zoe\"}}");
	write_now(&m.f, m.st,
	        "{\"identify\":{\"anonymousId\":\"tab-2\",\"customerId\":\"zoe\"}}");
	write_now(&m.f, m.st,
	        "{\"identify\":{\"anonymousId\":\"zoe\",\"customerId\":\"zoe\"}}");
	/* Its own id as an anonymous id is another subject: "\001zoe". */
	const char *zoe[] = { "zoe", "\001cookie-9", "\001tab-2", "\001zoe" };
	forget_ids(&m, "zoe", zoe, 4);
	const char *kim[] = { "kim", "\001kim-phone" };
	forget_ids(&m, "kim", kim, 2);
	/* Nobody by that id: still its own subject. */
	const char *nobody[] = { "nobody" };
	forget_ids(&m, "nobody", nobody, 1);
	merged_fini(&m);
}

/* ---------------------------------------------------------------------- */
/* Settings                                                               */

Test(cluster_ops, settings_digest_follows_the_thresholds_only)
{
	struct fixture f, g;
	fixture_init(&f);
	fixture_init(&g);
	char a[33], b[33];
	call_cluster_settings(&f.srv, a);
	call_cluster_settings(&g.srv, b);
	cr_assert_eq(strlen(a), 32);
	cr_assert_str_eq(a, b);
	/* A claim's cap travels in its entry: not part of it. */
	g.cfg.cap_messages = 1;
	g.cfg.quiet_hours = 0;
	call_cluster_settings(&g.srv, b);
	cr_assert_str_eq(a, b);
	/* A threshold apply reads: another digest. */
	g.srv.params.at_risk_ms += 1;
	call_cluster_settings(&g.srv, b);
	cr_assert_str_neq(a, b);
	g.srv.params.at_risk_ms -= 1;
	g.srv.params.weight[0] += 0.125;
	call_cluster_settings(&g.srv, b);
	cr_assert_str_neq(a, b);
	fixture_fini(&g);
	fixture_fini(&f);
}

/* "kim" the customer and "kim" a device are two subjects. */
Test(cluster_ops, a_customer_id_and_an_anonymous_id_alike_are_two_parts)
{
	struct fixture f;
	fixture_init(&f);
	struct call_req r;
	prepare(&f, &r,
	        "{\"track\":{\"touchpoints\":["
	        "{\"customerId\":\"kim\",\"type\":\"APP_OPEN\"},"
	        "{\"anonymousId\":\"kim\",\"type\":\"PAGE_VIEW\"},"
	        "{\"customerId\":\"kim\",\"anonymousId\":\"kim\","
	        "\"type\":\"APP_OPEN\"}]}}");
	struct writer_part *p;
	size_t n;
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r.job, 1 << 20, &p, &n),
	        CLM_OK);
	cr_assert_eq(n, 2);
	cr_assert(part_is(&p[0], "kim"));
	cr_assert_eq(part_index(&p[0], 0), 0);
	cr_assert_eq(part_index(&p[0], 1), 2);
	cr_assert(part_is(&p[1], "\001kim"));
	cr_assert_eq(part_index(&p[1], 0), 1);
	fixture_fini(&f);
}

/* A day, in ms. */
#define DAY_MS 86400000LL

/* The RISK_SIGNAL events job's apply made. */
static size_t
risk_signals(const writer_job *job)
{
	size_t n = 0;
	for (size_t k = 0; k < job->n_events; k++) {
		n += job->events[k]->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL;
	}
	return n;
}

/*
 * A node with other thresholds applies a Track part as the node that
 * accepted it: a billing issue 10 days old is a risk signal under a
 * 30-day window, whatever the applying node's own window.
 */
Test(cluster_ops, track_parts_carry_their_thresholds)
{
	struct fixture f, g;
	fixture_init(&f);
	fixture_init(&g);
	f.srv.params.billing_issue_ms = 30 * DAY_MS;
	g.srv.params.billing_issue_ms = 1 * DAY_MS;
	char dir[64];
	testdir_make(dir, sizeof(dir), "cluster-policy");
	store *st = wfx_store_open(dir, 64 << 20);

	char json[256];
	snprintf(json, sizeof(json),
	        "{\"track\":{\"touchpoints\":[{\"customerId\":\"sam\","
	        "\"type\":\"BILLING_ISSUE\",\"occurredAtMs\":\"%lld\"}]}}",
	        (long long) (T0 - 10 * DAY_MS));
	struct call_req r;
	prepare(&f, &r, json);
	struct writer_part *p;
	size_t n;
	cr_assert_eq(call_cluster_ops.split(&f.srv, &r.job, 1 << 20, &p, &n),
	        CLM_OK);
	cr_assert_eq(n, 1);
	writer_job *job = part_job(&g, p);
	wfx_apply_job(st, job, T0);
	cr_assert_eq(risk_signals(job), 1);

	/* The same touchpoint from a local entry: g's own window. */
	Clm__V1__Response *resp = arena_alloc(&g.a, sizeof(*resp));
	cr_assert_not_null(resp);
	clm__v1__response__init(resp);
	writer_job local;
	writer_job_init(&local, &g.a, resp, NULL, NULL);
	cr_assert_eq(call_replay(&g.srv, &local, r.job.jtype, r.job.jdata,
	                     r.job.jlen, T0),
	        CLM_OK);
	wfx_apply_job(st, &local, T0);
	cr_assert_eq(resp->track->accepted, 1);
	cr_assert_eq(risk_signals(&local), 0);

	store_close(st);
	testdir_remove(dir);
	fixture_fini(&g);
	fixture_fini(&f);
}
