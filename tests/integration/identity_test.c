/*
 * Identify (docs/api.md "Identify") against a real clmd: an anonymous
 * profile merged into a new or an existing customer exactly as if its
 * touchpoints had been tracked under the customer, later anonymous
 * touchpoints routed to the customer, the refusal to fuse two known
 * customers, the refusal to let one id name two people (in either order of
 * arrival), idempotent repeats, traits, and the stage events the merge
 * publishes.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define HOUR_MS (3600000LL)
#define DAY_MS  (24 * HOUR_MS)
/* 2026-01-10T00:00:00Z */
#define T0 1768003200000LL
/* A fixed as-of time for comparisons (as_of_ms is part of a Customer). */
#define AS_OF (T0 + 20 * DAY_MS)

#define TP_TYPE(x) CLM__V1__TOUCHPOINT_TYPE__##x
#define STAGE(x)   CLM__V1__STAGE__##x

HARNESS_SUITE(identity, 60);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

#define BATCH_MAX 16

/* Touchpoints with the storage of their strings. */
struct batch {
	Clm__V1__Touchpoint tp[BATCH_MAX];
	Clm__V1__Touchpoint *ptr[BATCH_MAX];
	char eid[BATCH_MAX][96];
	size_t n;
};

/* Adds a touchpoint; customer or anon may be NULL, eid NULL = none. */
static Clm__V1__Touchpoint *
batch_add(struct batch *b, const char *customer, const char *anon,
        const char *eid, Clm__V1__TouchpointType type, int64_t at)
{
	cr_assert_lt(b->n, BATCH_MAX);
	Clm__V1__Touchpoint *tp = &b->tp[b->n];
	clm__v1__touchpoint__init(tp);
	if (customer != NULL) {
		tp->customer_id = (char *) customer;
	}
	if (anon != NULL) {
		tp->anonymous_id = (char *) anon;
	}
	if (eid != NULL) {
		snprintf(b->eid[b->n], sizeof(b->eid[b->n]), "%s", eid);
		tp->event_id = b->eid[b->n];
	}
	tp->type = type;
	tp->channel = CLM__V1__CHANNEL__DIRECT;
	tp->occurred_at_ms = at;
	if (type == TP_TYPE(PURCHASE)) {
		tp->value = 10;
		tp->currency = "EUR";
	}
	b->ptr[b->n++] = tp;
	return tp;
}

static void
start_server(void)
{
	int rc = clmd_start(&srv, NULL, NULL);
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

/* Tracks touchpoints; asserts OK and no rejects; returns the reply. */
static Clm__V1__Response *
track(clm_conn *c, Clm__V1__Touchpoint **tps, size_t n)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, tps, n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp->track);
	cr_assert_eq(resp->track->n_rejected, 0, "track: %zu rejected",
	        resp->track->n_rejected);
	return resp;
}

/* Tracks a batch; asserts every touchpoint was accepted, no changes. */
static void
track_quiet(clm_conn *c, struct batch *b)
{
	Clm__V1__Response *resp = track(c, b->ptr, b->n);
	cr_assert_eq(resp->track->accepted, b->n, "accepted %u of %zu",
	        resp->track->accepted, b->n);
	clm_response_free(resp);
}

static Clm__V1__Response *
get_customer(clm_conn *c, const char *id, int64_t as_of)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, as_of, &resp);
	cr_assert_eq(e, CLM_OK, "get_customer '%s': %s (%s)", id,
	        clm_errname(e), clm_last_error(c));
	cr_assert_not_null(resp->customer);
	cr_assert_str_eq(resp->customer->customer_id, id);
	return resp;
}

static void
expect_not_found(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "get_customer '%s': %s, want NOT_FOUND",
	        id, clm_errname(e));
	clm_response_free(resp);
}

/* Identify; returns the status, *out set (free it). */
static clm_err
identify(clm_conn *c, const char *anon, const char *customer,
        const char *const *keys, const char *const *values, size_t n,
        Clm__V1__Response **out)
{
	*out = NULL;
	clm_err e = clm_identify(c, anon, customer, keys, values, n, out);
	cr_assert_not_null(*out, "identify: no reply: %s", clm_last_error(c));
	return e;
}

/* Identify that must succeed; returns the reply (free it). */
static Clm__V1__Response *
identify_ok(clm_conn *c, const char *anon, const char *customer,
        const char *const *keys, const char *const *values, size_t n)
{
	Clm__V1__Response *resp;
	clm_err e = identify(c, anon, customer, keys, values, n, &resp);
	cr_assert_eq(e, CLM_OK, "identify %s -> %s: %s (%s)", anon, customer,
	        clm_errname(e), clm_last_error(c));
	cr_assert_eq(resp->result_case, CLM__V1__RESPONSE__RESULT_IDENTIFY);
	cr_assert_not_null(resp->identify);
	cr_assert_not_null(resp->identify->customer);
	cr_assert_str_eq(resp->identify->customer->customer_id, customer);
	return resp;
}

static Clm__V1__StatusReply
get_status(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s", clm_errname(e));
	Clm__V1__StatusReply s = *resp->server_status;
	s.version = NULL;
	s.durability = NULL;
	clm_response_free(resp);
	return s;
}

static uint64_t
touch_count(const Clm__V1__Customer *cu, Clm__V1__TouchpointType type)
{
	for (size_t i = 0; i < cu->n_touch_counts; i++) {
		if (cu->touch_counts[i]->type == type) {
			return cu->touch_counts[i]->count;
		}
	}
	return 0;
}

static const char *
trait(const Clm__V1__Customer *cu, const char *key)
{
	for (size_t i = 0; i < cu->n_traits; i++) {
		if (strcmp(cu->traits[i]->key, key) == 0) {
			return cu->traits[i]->value;
		}
	}
	return NULL;
}

static bool
has_reason(const Clm__V1__Customer *cu, Clm__V1__RiskReason r)
{
	for (size_t i = 0; i < cu->n_risk_reasons; i++) {
		if (cu->risk_reasons[i] == r) {
			return true;
		}
	}
	return false;
}

/* Serialized bytes of a Customer (malloc'd). */
static uint8_t *
packed(const Clm__V1__Customer *cu, size_t *n)
{
	*n = clm__v1__customer__get_packed_size(cu);
	uint8_t *buf = malloc(*n + 1);
	cr_assert_not_null(buf);
	clm__v1__customer__pack(cu, buf);
	return buf;
}

/*
 * Whether two Customers are equal as serialized, but for as_of_ms and,
 * with facts_only, for customer_id, anonymous_ids and traits.
 */
static bool
same_customer(Clm__V1__Customer *a, Clm__V1__Customer *b, bool facts_only)
{
	Clm__V1__Customer ca = *a, cb = *b;
	ca.as_of_ms = cb.as_of_ms = 0;
	if (facts_only) {
		ca.customer_id = cb.customer_id = "";
		ca.n_anonymous_ids = cb.n_anonymous_ids = 0;
		ca.n_traits = cb.n_traits = 0;
	}
	size_t na, nb;
	uint8_t *ba = packed(&ca, &na), *bb = packed(&cb, &nb);
	bool same = na == nb && memcmp(ba, bb, na) == 0;
	free(ba);
	free(bb);
	return same;
}

static void
check_history(const Clm__V1__Customer *cu, const Clm__V1__Stage *stages,
        const int64_t *at, size_t n)
{
	cr_assert_eq(cu->n_stage_history, n,
	        "%s: %zu history entries, want %zu", cu->customer_id,
	        cu->n_stage_history, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(cu->stage_history[i]->stage, stages[i],
		        "%s: history[%zu].stage %d, want %d", cu->customer_id,
		        i, cu->stage_history[i]->stage, stages[i]);
		cr_expect_eq(cu->stage_history[i]->entered_at_ms, at[i],
		        "%s: history[%zu] at %lld, want %lld", cu->customer_id,
		        i, (long long) cu->stage_history[i]->entered_at_ms,
		        (long long) at[i]);
	}
}

/* Receives the next event (3 s at most); asserts one came. */
static Clm__V1__LifecycleEvent *
next_event(clm_watch *w, char *topic, size_t tn)
{
	Clm__V1__LifecycleEvent *ev = NULL;
	clm_err e = clm_watch_next(w, 3000, topic, tn, &ev);
	cr_assert_eq(e, CLM_OK, "no event: %s", clm_errname(e));
	return ev;
}

static void
check_stage_event(const Clm__V1__LifecycleEvent *ev, const char *topic,
        const char *customer, Clm__V1__Stage from, Clm__V1__Stage to,
        int64_t at, const char *want_topic)
{
	cr_expect_str_eq(topic, want_topic);
	cr_expect_eq(ev->kind, CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED);
	cr_expect_str_eq(ev->customer_id, customer);
	cr_expect_eq(ev->from_stage, from, "from %d, want %d", ev->from_stage,
	        from);
	cr_expect_eq(ev->to_stage, to, "to %d, want %d", ev->to_stage, to);
	cr_expect_eq(ev->at_ms, at, "at %lld, want %lld",
	        (long long) ev->at_ms, (long long) at);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

Test(identity, anonymous_then_known)
{
	start_server();
	clm_watch *w = NULL;
	cr_assert_eq(clm_watch_open(srv.events_url, "", &w), CLM_OK);
	cr_assert_eq(clm_watch_ready(w, 20000), CLM_OK);
	char topic[64];
	clm_conn *c = connect_to(&srv);
	struct batch b = { .n = 0 };
	batch_add(&b, NULL, "anon-web-1", "a1-e1", TP_TYPE(AD_CLICK), T0)
	        ->channel
	        = CLM__V1__CHANNEL__PAID_ADS;
	batch_add(&b, NULL, "anon-web-1", "a1-e2", TP_TYPE(PAGE_VIEW),
	        T0 + HOUR_MS);
	batch_add(&b, NULL, "anon-web-1", "a1-e3", TP_TYPE(ADD_TO_CART),
	        T0 + 2 * HOUR_MS)
	        ->item_id
	        = "sku-1";
	Clm__V1__Response *resp = track(c, b.ptr, b.n);
	cr_expect_eq(resp->track->accepted, 3);
	cr_expect_eq(resp->track->n_changes, 0,
	        "an anonymous profile reports no stage change");
	clm_response_free(resp);
	expect_not_found(c, "cust-1");
	Clm__V1__StatusReply st = get_status(c);
	cr_expect_eq(st.customers, 1, "the anonymous profile");
	cr_expect_eq(st.touchpoints, 3);

	resp = identify_ok(c, "anon-web-1", "cust-1", NULL, NULL, 0);
	cr_expect(resp->identify->merged, "merged = false");
	const Clm__V1__Customer *cu = resp->identify->customer;
	cr_expect_eq(cu->stage, STAGE(REACH));
	cr_expect_eq(cu->funnel, CLM__V1__FUNNEL_POSITION__MIDDLE);
	cr_expect_eq(cu->first_seen_ms, T0);
	cr_expect_eq(cu->last_seen_ms, T0 + 2 * HOUR_MS);
	cr_expect_eq(cu->acquisition_channel, CLM__V1__CHANNEL__PAID_ADS);
	cr_expect_eq(cu->n_touch_counts, 3);
	cr_expect_eq(touch_count(cu, TP_TYPE(AD_CLICK)), 1);
	cr_expect_eq(touch_count(cu, TP_TYPE(PAGE_VIEW)), 1);
	cr_expect_eq(touch_count(cu, TP_TYPE(ADD_TO_CART)), 1);
	cr_assert_eq(cu->n_cart_items, 1);
	cr_expect_str_eq(cu->cart_items[0], "sku-1");
	static const Clm__V1__Stage h1[] = { STAGE(REACH) };
	static const int64_t a1[] = { T0 };
	check_history(cu, h1, a1, 1);
	cr_assert_eq(cu->n_anonymous_ids, 1);
	cr_expect_str_eq(cu->anonymous_ids[0], "anon-web-1");
	clm_response_free(resp);

	/* The anonymous touchpoints published nothing; the merge REACH. */
	Clm__V1__LifecycleEvent *ev = next_event(w, topic, sizeof(topic));
	check_stage_event(ev, topic, "cust-1", STAGE(STAGE_UNSPECIFIED),
	        STAGE(REACH), T0, "stage/REACH");
	cr_expect_eq(ev->seq, 1, "seq %llu: events before the merge",
	        (unsigned long long) ev->seq);
	clm_event_free(ev);

	/* The anonymous profile is gone; the touchpoints moved. */
	st = get_status(c);
	cr_expect_eq(st.customers, 1, "%llu profiles after the merge",
	        (unsigned long long) st.customers);
	cr_expect_eq(st.touchpoints, 3);
	resp = get_customer(c, "cust-1", 0);
	cr_expect_eq(resp->customer->first_seen_ms, T0);
	cr_expect_eq(touch_count(resp->customer, TP_TYPE(PAGE_VIEW)), 1);
	clm_response_free(resp);

	/* Their event ids still dedupe. */
	resp = track(c, b.ptr, b.n);
	cr_expect_eq(resp->track->duplicates, 3);
	cr_expect_eq(resp->track->accepted, 0);
	clm_response_free(resp);

	/* Later touchpoints with only the anonymous id go to the customer. */
	struct batch later = { .n = 0 };
	batch_add(&later, NULL, "anon-web-1", "a1-e4", TP_TYPE(PURCHASE),
	        T0 + DAY_MS)
	        ->item_id
	        = "sku-1";
	resp = track(c, later.ptr, later.n);
	cr_expect_eq(resp->track->accepted, 1);
	cr_assert_eq(resp->track->n_changes, 1,
	        "the purchase makes cust-1 ACQUISITION");
	const Clm__V1__LifecycleEvent *ch = resp->track->changes[0];
	cr_expect_str_eq(ch->customer_id, "cust-1");
	cr_expect_eq(ch->from_stage, STAGE(REACH));
	cr_expect_eq(ch->to_stage, STAGE(ACQUISITION));
	cr_expect_eq(ch->at_ms, T0 + DAY_MS);
	clm_response_free(resp);
	ev = next_event(w, topic, sizeof(topic));
	check_stage_event(ev, topic, "cust-1", STAGE(REACH),
	        STAGE(ACQUISITION), T0 + DAY_MS, "stage/ACQUISITION");
	cr_expect_eq(ev->seq, 2);
	cr_expect_str_eq(ev->event_id, "a1-e4");
	clm_event_free(ev);
	resp = get_customer(c, "cust-1", 0);
	cu = resp->customer;
	cr_expect_eq(cu->stage, STAGE(ACQUISITION));
	cr_expect_eq(cu->purchases, 1);
	cr_expect_eq(cu->n_cart_items, 0);
	cr_expect_eq(touch_count(cu, TP_TYPE(PURCHASE)), 1);
	cr_expect_eq(cu->last_seen_ms, T0 + DAY_MS);
	clm_response_free(resp);
	st = get_status(c);
	cr_expect_eq(st.customers, 1, "a new anonymous profile was made");
	cr_expect_eq(st.touchpoints, 4);

	/* Export: all four under the customer. */
	resp = NULL;
	clm_err e = clm_export(c, "cust-1", &resp);
	cr_assert_eq(e, CLM_OK, "export: %s", clm_errname(e));
	cr_assert_eq(resp->export_customer->n_touchpoints, 4);
	for (size_t i = 0; i < 4; i++) {
		cr_expect_str_eq(
		        resp->export_customer->touchpoints[i]->customer_id,
		        "cust-1");
	}
	clm_response_free(resp);
	clm_watch_close(w);
	clm_close(c);
}

/* The touchpoints of known_then_anonymous: k-1's, then the device's. */
static void
k_touchpoints(struct batch *own, struct batch *dev, const char *customer,
        const char *anon, const char *prefix)
{
	char eid[64];
	snprintf(eid, sizeof(eid), "%s-own-1", prefix);
	batch_add(own, customer, NULL, eid, TP_TYPE(SIGNUP), T0 - 2 * DAY_MS);
	snprintf(eid, sizeof(eid), "%s-own-2", prefix);
	batch_add(own, customer, NULL, eid, TP_TYPE(PURCHASE), T0 + DAY_MS);
	static const struct {
		Clm__V1__TouchpointType type;
		int64_t at;
	} d[] = {
		{ TP_TYPE(SITE_VISIT), T0 - DAY_MS },
		{ TP_TYPE(SIGNUP), T0 },
		{ TP_TYPE(ONBOARDING_COMPLETED), T0 + 12 * HOUR_MS },
		{ TP_TYPE(PAGE_VIEW), T0 + 2 * DAY_MS },
		{ TP_TYPE(REFERRAL), T0 + 3 * DAY_MS },
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(eid, sizeof(eid), "%s-dev-%zu", prefix, i + 1);
		batch_add(dev, anon != NULL ? NULL : customer, anon, eid,
		        d[i].type, d[i].at);
	}
}

/* Whether SLOW_ONBOARDING holds for customer id as of as_of. */
static bool
slow_as_of(clm_conn *c, const char *id, int64_t as_of)
{
	Clm__V1__Response *resp = get_customer(c, id, as_of);
	bool slow = has_reason(
	        resp->customer, CLM__V1__RISK_REASON__SLOW_ONBOARDING);
	clm_response_free(resp);
	return slow;
}

Test(identity, known_then_anonymous)
{
	start_server();
	clm_watch *w = NULL;
	cr_assert_eq(clm_watch_open(srv.events_url, "", &w), CLM_OK);
	cr_assert_eq(clm_watch_ready(w, 20000), CLM_OK);
	clm_conn *c = connect_to(&srv);
	char topic[64];

	struct batch own = { .n = 0 }, dev = { .n = 0 };
	k_touchpoints(&own, &dev, "k-1", "dev-k", "k1");
	track_quiet(c, &own);
	Clm__V1__LifecycleEvent *ev = next_event(w, topic, sizeof(topic));
	check_stage_event(ev, topic, "k-1", STAGE(STAGE_UNSPECIFIED),
	        STAGE(REACH), T0 - 2 * DAY_MS, "stage/REACH");
	uint64_t seq = ev->seq;
	clm_event_free(ev);
	ev = next_event(w, topic, sizeof(topic));
	check_stage_event(ev, topic, "k-1", STAGE(REACH), STAGE(ACQUISITION),
	        T0 + DAY_MS, "stage/ACQUISITION");
	cr_expect_eq(ev->seq, seq + 1);
	seq = ev->seq;
	clm_event_free(ev);

	/* The device's own profile: no events, its own onboarding (12 h). */
	track_quiet(c, &dev);
	Clm__V1__StatusReply st = get_status(c);
	cr_expect_eq(st.customers, 2);
	cr_expect_eq(st.touchpoints, 7);
	Clm__V1__Response *before = get_customer(c, "k-1", AS_OF);
	cr_expect_eq(before->customer->stage, STAGE(ACQUISITION));

	Clm__V1__Response *resp
	        = identify_ok(c, "dev-k", "k-1", NULL, NULL, 0);
	cr_expect(resp->identify->merged);
	const Clm__V1__Customer *cu = resp->identify->customer;
	cr_expect_eq(cu->stage, STAGE(ADVOCACY));
	cr_expect_eq(cu->first_seen_ms, T0 - 2 * DAY_MS);
	cr_expect_eq(cu->last_seen_ms, T0 + 3 * DAY_MS);
	cr_expect_eq(touch_count(cu, TP_TYPE(SIGNUP)), 2);
	cr_expect_eq(touch_count(cu, TP_TYPE(ONBOARDING_COMPLETED)), 1);
	cr_expect_eq(cu->purchases, 1);
	cr_expect_eq(cu->referrals, 1);
	/*
	 * RETENTION = min(second purchase, ADVOCACY) = ADVOCACY's instant,
	 * so it has no entry; NURTURE = the page view after the purchase.
	 */
	static const Clm__V1__Stage hs[] = { STAGE(REACH), STAGE(ACQUISITION),
		STAGE(NURTURE), STAGE(ADVOCACY) };
	static const int64_t ha[] = { T0 - 2 * DAY_MS, T0 + DAY_MS,
		T0 + 2 * DAY_MS, T0 + 3 * DAY_MS };
	check_history(cu, hs, ha, 4);
	clm_response_free(resp);

	/* The merge's one event: ACQUISITION -> ADVOCACY, the next seq. */
	ev = next_event(w, topic, sizeof(topic));
	check_stage_event(ev, topic, "k-1", STAGE(ACQUISITION),
	        STAGE(ADVOCACY), T0 + 3 * DAY_MS, "stage/ADVOCACY");
	cr_expect_eq(ev->seq, seq + 1,
	        "seq %llu after %llu: events were published in between",
	        (unsigned long long) ev->seq, (unsigned long long) seq);
	clm_event_free(ev);
	ev = NULL;
	cr_expect_eq(clm_watch_next(w, 300, topic, sizeof(topic), &ev),
	        CLM_DEADLINE_EXCEEDED, "an unexpected event '%s'", topic);
	clm_event_free(ev);

	/* Repeating the Identify merges nothing and publishes nothing. */
	resp = identify_ok(c, "dev-k", "k-1", NULL, NULL, 0);
	cr_expect(!resp->identify->merged);
	clm_response_free(resp);
	ev = NULL;
	cr_expect_eq(clm_watch_next(w, 300, topic, sizeof(topic), &ev),
	        CLM_DEADLINE_EXCEEDED, "a repeated Identify published '%s'",
	        topic);
	clm_event_free(ev);

	st = get_status(c);
	cr_expect_eq(st.customers, 1, "the anonymous profile was not removed");
	cr_expect_eq(st.touchpoints, 7);

	/*
	 * The onboarding median follows the merge: k-1 onboarded in 60 h
	 * (first SIGNUP T0-2d, first completion T0+12h), the device's own
	 * 12 h is gone, so twice the median is 120 h (with the device's
	 * entry left behind it would be 72 h). A probe that signed up and
	 * never completed is slow only after 120 h.
	 */
	struct batch probe = { .n = 0 };
	const int64_t p0 = T0 + 10 * DAY_MS;
	batch_add(&probe, "probe", NULL, "probe-1", TP_TYPE(SIGNUP), p0);
	track_quiet(c, &probe);
	cr_expect(!slow_as_of(c, "probe", p0 + 120 * HOUR_MS),
	        "probe slow at exactly twice the median (120 h)");
	cr_expect(slow_as_of(c, "probe", p0 + 120 * HOUR_MS + 1),
	        "probe not slow after twice the median (120 h)");
	cr_expect(!slow_as_of(c, "k-1", AS_OF), "k-1 (60 h) is not slow");

	/* The same touchpoints tracked directly give the same customer. */
	struct batch down = { .n = 0 }, ddev = { .n = 0 };
	k_touchpoints(&down, &ddev, "k-direct", NULL, "kd");
	track_quiet(c, &down);
	track_quiet(c, &ddev);
	Clm__V1__Response *merged = get_customer(c, "k-1", AS_OF);
	Clm__V1__Response *direct = get_customer(c, "k-direct", AS_OF);
	cr_expect(same_customer(merged->customer, direct->customer, true),
	        "the merged customer differs from one tracked directly");
	cr_expect_eq(merged->customer->n_anonymous_ids, 1);
	cr_expect_eq(direct->customer->n_anonymous_ids, 0);
	clm_response_free(merged);
	clm_response_free(direct);
	clm_response_free(before);
	clm_watch_close(w);
	clm_close(c);
}

Test(identity, another_customers_device_is_refused)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct batch b = { .n = 0 };
	batch_add(&b, NULL, "shared-dev", "s-1", TP_TYPE(PAGE_VIEW), T0);
	track_quiet(c, &b);
	static const char *const k1[] = { "plan" };
	static const char *const v1[] = { "free" };
	Clm__V1__Response *resp
	        = identify_ok(c, "shared-dev", "a-cust", k1, v1, 1);
	cr_expect(resp->identify->merged);
	clm_response_free(resp);
	struct batch bb = { .n = 0 };
	batch_add(&bb, "b-cust", NULL, "b-1", TP_TYPE(PURCHASE), T0 + DAY_MS);
	track_quiet(c, &bb);

	Clm__V1__Response *a0 = get_customer(c, "a-cust", AS_OF);
	Clm__V1__Response *b0 = get_customer(c, "b-cust", AS_OF);
	Clm__V1__StatusReply s0 = get_status(c);

	/* To an existing customer, with traits: refused. */
	static const char *const k2[] = { "plan" };
	static const char *const v2[] = { "pro" };
	clm_err e = identify(c, "shared-dev", "b-cust", k2, v2, 1, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	cr_assert_not_null(resp->status);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__FAILED_PRECONDITION);
	cr_expect_neq(resp->result_case, CLM__V1__RESPONSE__RESULT_IDENTIFY);
	clm_response_free(resp);
	/* To a new customer: refused, and the customer is not created. */
	e = identify(c, "shared-dev", "c-new", NULL, NULL, 0, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	clm_response_free(resp);
	expect_not_found(c, "c-new");

	Clm__V1__Response *a1 = get_customer(c, "a-cust", AS_OF);
	Clm__V1__Response *b1 = get_customer(c, "b-cust", AS_OF);
	cr_expect(same_customer(a0->customer, a1->customer, false),
	        "a-cust changed");
	cr_expect(same_customer(b0->customer, b1->customer, false),
	        "b-cust changed");
	cr_expect_eq(b1->customer->n_anonymous_ids, 0);
	cr_expect_eq(b1->customer->n_traits, 0);
	cr_expect_str_eq(trait(a1->customer, "plan"), "free");
	Clm__V1__StatusReply s1 = get_status(c);
	cr_expect_eq(s1.customers, s0.customers);
	cr_expect_eq(s1.touchpoints, s0.touchpoints);

	/* The device still belongs to a-cust. */
	struct batch later = { .n = 0 };
	batch_add(&later, NULL, "shared-dev", "s-2", TP_TYPE(APP_OPEN),
	        T0 + 2 * DAY_MS);
	track_quiet(c, &later);
	Clm__V1__Response *a2 = get_customer(c, "a-cust", AS_OF);
	Clm__V1__Response *b2 = get_customer(c, "b-cust", AS_OF);
	cr_expect_eq(touch_count(a2->customer, TP_TYPE(APP_OPEN)), 1);
	cr_expect(same_customer(b0->customer, b2->customer, false),
	        "b-cust got the device's touchpoint");
	clm_response_free(a0);
	clm_response_free(a1);
	clm_response_free(a2);
	clm_response_free(b0);
	clm_response_free(b1);
	clm_response_free(b2);
	clm_close(c);
}

Test(identity, repeat_is_idempotent)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct batch b = { .n = 0 };
	batch_add(&b, NULL, "rep-dev", "r-1", TP_TYPE(SITE_VISIT), T0);
	batch_add(&b, NULL, "rep-dev", "r-2", TP_TYPE(PURCHASE), T0 + HOUR_MS);
	track_quiet(c, &b);
	static const char *const k[] = { "plan" };
	static const char *const v[] = { "free" };
	Clm__V1__Response *r1 = identify_ok(c, "rep-dev", "rep-cust", k, v, 1);
	cr_expect(r1->identify->merged);
	Clm__V1__StatusReply s1 = get_status(c);

	Clm__V1__Response *r2 = identify_ok(c, "rep-dev", "rep-cust", k, v, 1);
	cr_expect(!r2->identify->merged, "a repeated Identify merged again");
	cr_expect(same_customer(r1->identify->customer, r2->identify->customer,
	                  false),
	        "a repeated Identify changed the customer");
	Clm__V1__Response *r3
	        = identify_ok(c, "rep-dev", "rep-cust", NULL, NULL, 0);
	cr_expect(!r3->identify->merged);
	cr_expect(same_customer(r1->identify->customer, r3->identify->customer,
	                  false),
	        "an Identify without traits changed the customer");
	cr_expect_eq(r3->identify->customer->n_anonymous_ids, 1);
	cr_expect_eq(r3->identify->customer->purchases, 1);
	Clm__V1__StatusReply s2 = get_status(c);
	cr_expect_eq(s2.customers, s1.customers);
	cr_expect_eq(s2.touchpoints, s1.touchpoints);
	clm_response_free(r1);
	clm_response_free(r2);
	clm_response_free(r3);

	/* A device without a profile: linked, nothing merged. */
	Clm__V1__Response *f
	        = identify_ok(c, "fresh-dev", "fresh-cust", NULL, NULL, 0);
	cr_expect(!f->identify->merged);
	cr_assert_eq(f->identify->customer->n_anonymous_ids, 1);
	cr_expect_str_eq(f->identify->customer->anonymous_ids[0], "fresh-dev");
	clm_response_free(f);
	struct batch fb = { .n = 0 };
	batch_add(&fb, NULL, "fresh-dev", "f-1", TP_TYPE(PAGE_VIEW), T0);
	track_quiet(c, &fb);
	Clm__V1__Response *fc = get_customer(c, "fresh-cust", 0);
	cr_expect_eq(touch_count(fc->customer, TP_TYPE(PAGE_VIEW)), 1);
	cr_expect_eq(fc->customer->stage, STAGE(REACH));
	clm_response_free(fc);
	clm_close(c);
}

Test(identity, traits_are_stored_and_updated)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	static const char *const k1[] = { "plan", "country" };
	static const char *const v1[] = { "free", "DE" };
	Clm__V1__Response *r = identify_ok(c, "t-dev-1", "t-cust", k1, v1, 2);
	cr_expect_eq(r->identify->customer->n_traits, 2);
	cr_expect_str_eq(trait(r->identify->customer, "plan"), "free");
	cr_expect_str_eq(trait(r->identify->customer, "country"), "DE");
	clm_response_free(r);

	/* Known keys replaced, new ones added, others kept. */
	static const char *const k2[] = { "plan", "email" };
	static const char *const v2[] = { "pro", "t@example.com" };
	r = identify_ok(c, "t-dev-1", "t-cust", k2, v2, 2);
	cr_expect_eq(r->identify->customer->n_traits, 3);
	clm_response_free(r);
	/* A second device, one more trait change. */
	static const char *const k3[] = { "country" };
	static const char *const v3[] = { "FR" };
	r = identify_ok(c, "t-dev-2", "t-cust", k3, v3, 1);
	clm_response_free(r);

	for (int round = 0; round < 2; round++) {
		r = get_customer(c, "t-cust", 0);
		const Clm__V1__Customer *cu = r->customer;
		cr_expect_eq(cu->n_traits, 3, "round %d: %zu traits", round,
		        cu->n_traits);
		cr_expect_str_eq(trait(cu, "plan"), "pro");
		cr_expect_str_eq(trait(cu, "country"), "FR");
		cr_expect_str_eq(trait(cu, "email"), "t@example.com");
		cr_assert_eq(cu->n_anonymous_ids, 2);
		cr_expect_str_eq(cu->anonymous_ids[0], "t-dev-1");
		cr_expect_str_eq(cu->anonymous_ids[1], "t-dev-2");
		clm_response_free(r);
		if (round == 0) {
			/* And after a restart. */
			clm_close(c);
			cr_assert_eq(clmd_stop(&srv), 0);
			cr_assert_eq(clmd_start(&srv, srv.data_dir, NULL), 0);
			c = connect_to(&srv);
		}
	}
	clm_close(c);
}

/* Asserts a FAILED_PRECONDITION Status naming field and mentioning want. */
static void
expect_refusal(const Clm__V1__Status *st, const char *field, const char *want)
{
	cr_assert_not_null(st);
	cr_expect_eq(st->code, CLM__V1__CODE__FAILED_PRECONDITION, "code %d",
	        st->code);
	cr_assert_eq(st->n_violations, 1, "%zu violations", st->n_violations);
	cr_expect_str_eq(st->violations[0]->field, field);
	cr_expect(strstr(st->message, want) != NULL,
	        "message '%s' does not mention %s", st->message, want);
}

/* Tracks b, which must be refused as a whole; returns the reply. */
static Clm__V1__Response *
track_refused(clm_conn *c, struct batch *b)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	cr_expect_eq(e, CLM_FAILED_PRECONDITION, "track: %s", clm_errname(e));
	cr_assert_not_null(resp, "track: no reply: %s", clm_last_error(c));
	cr_assert_not_null(resp->track);
	cr_expect_eq(resp->track->accepted, 0);
	cr_expect_eq(resp->track->duplicates, 0);
	cr_assert_eq(resp->track->n_rejected, b->n, "%zu rejected of %zu",
	        resp->track->n_rejected, b->n);
	return resp;
}

/*
 * Issue 15 item 9, first order of arrival: "ck1" is an anonymous id linked
 * to kim. Neither Identify nor Track may then make "ck1" a customer of its
 * own, or a purchase would land on kim or on "ck1" depending on the field
 * that carried the id.
 */
Test(identity, anonymous_id_cannot_become_a_customer_id)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct batch b = { .n = 0 };
	batch_add(&b, NULL, "ck1", "ck1-e1", TP_TYPE(PAGE_VIEW), T0);
	track_quiet(c, &b);
	Clm__V1__Response *resp = identify_ok(c, "ck1", "kim", NULL, NULL, 0);
	cr_expect(resp->identify->merged);
	clm_response_free(resp);
	Clm__V1__Response *k0 = get_customer(c, "kim", AS_OF);
	Clm__V1__StatusReply s0 = get_status(c);

	/* Identify with "ck1" as the customer: refused, naming kim. */
	clm_err e = identify(c, "ck3", "ck1", NULL, NULL, 0, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	expect_refusal(resp->status, "identify.customer_id", "'kim'");
	cr_expect_neq(resp->result_case, CLM__V1__RESPONSE__RESULT_IDENTIFY);
	clm_response_free(resp);
	expect_not_found(c, "ck1");

	/* Track with customer_id "ck1": refused, nothing stored. */
	struct batch p = { .n = 0 };
	batch_add(&p, "ck1", NULL, "ck1-p1", TP_TYPE(PURCHASE), T0 + DAY_MS);
	resp = track_refused(c, &p);
	cr_expect_eq(resp->track->rejected[0]->index, 0);
	expect_refusal(resp->track->rejected[0]->status,
	        "touchpoints[0].customer_id", "'kim'");
	expect_refusal(resp->status, "touchpoints[0].customer_id", "'kim'");
	clm_response_free(resp);
	expect_not_found(c, "ck1");
	Clm__V1__StatusReply s1 = get_status(c);
	cr_expect_eq(s1.customers, s0.customers);
	cr_expect_eq(s1.touchpoints, s0.touchpoints);
	Clm__V1__Response *k1 = get_customer(c, "kim", AS_OF);
	cr_expect(same_customer(k0->customer, k1->customer, false),
	        "kim changed");

	/*
	 * In a batch, only that touchpoint is refused; the rejected list
	 * keeps index order with the invalid ones; the event id of the
	 * refused one is not taken, and "ck1" as the anonymous id still
	 * reaches kim.
	 */
	struct batch m = { .n = 0 };
	batch_add(&m, NULL, "ck1", "ck1-m1", TP_TYPE(PURCHASE), T0 + DAY_MS);
	batch_add(&m, "ck1", NULL, "ck1-p1", TP_TYPE(PURCHASE), T0 + DAY_MS);
	batch_add(&m, "kim", NULL, "ck1-m3", TP_TYPE(PAGE_VIEW), 1); /* bad */
	batch_add(&m, "ck1", "ck1", "ck1-m4", TP_TYPE(APP_OPEN), T0);
	resp = NULL;
	e = clm_track(c, m.ptr, m.n, &resp);
	cr_expect_eq(e, CLM_OK, "track: %s", clm_errname(e));
	cr_assert_not_null(resp);
	cr_assert_not_null(resp->track);
	cr_expect_eq(resp->track->accepted, 1);
	cr_assert_eq(resp->track->n_rejected, 3);
	cr_expect_eq(resp->track->rejected[0]->index, 1);
	cr_expect_eq(resp->track->rejected[1]->index, 2);
	cr_expect_eq(resp->track->rejected[1]->status->code,
	        CLM__V1__CODE__INVALID_ARGUMENT);
	cr_expect_eq(resp->track->rejected[2]->index, 3);
	expect_refusal(resp->track->rejected[0]->status,
	        "touchpoints[1].customer_id", "'kim'");
	expect_refusal(resp->track->rejected[2]->status,
	        "touchpoints[3].customer_id", "'kim'");
	clm_response_free(resp);
	expect_not_found(c, "ck1");
	Clm__V1__Response *k2 = get_customer(c, "kim", AS_OF);
	cr_expect_eq(k2->customer->purchases, 1);
	cr_expect_eq(touch_count(k2->customer, TP_TYPE(APP_OPEN)), 0);

	/* An id linked to itself names one person: allowed. */
	clm_response_free(identify_ok(c, "solo", "solo", NULL, NULL, 0));
	clm_response_free(identify_ok(c, "solo-dev", "solo", NULL, NULL, 0));
	struct batch so = { .n = 0 };
	batch_add(&so, "solo", NULL, "solo-1", TP_TYPE(PURCHASE), T0);
	batch_add(&so, NULL, "solo", "solo-2", TP_TYPE(PAGE_VIEW), T0 + 1);
	track_quiet(c, &so);
	Clm__V1__Response *solo = get_customer(c, "solo", AS_OF);
	cr_expect_eq(solo->customer->purchases, 1);
	cr_expect_eq(touch_count(solo->customer, TP_TYPE(PAGE_VIEW)), 1);
	clm_response_free(solo);
	clm_response_free(k0);
	clm_response_free(k1);
	clm_response_free(k2);
	clm_close(c);
}

/*
 * Second order of arrival: "ck1" is a customer first. Identify may not
 * then link "ck1" as an anonymous id of kim (a touchpoint carrying only
 * the anonymous id "ck1" would land on kim); linking it to "ck1" itself
 * merges the anonymous profile "ck1" into the customer, as usual.
 */
Test(identity, customer_id_cannot_become_an_anonymous_id)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct batch b = { .n = 0 };
	batch_add(&b, "ck1", NULL, "ck1-p1", TP_TYPE(PURCHASE), T0);
	batch_add(&b, "kim", NULL, "kim-1", TP_TYPE(SIGNUP), T0);
	track_quiet(c, &b);
	Clm__V1__Response *k0 = get_customer(c, "kim", AS_OF);
	Clm__V1__Response *c0 = get_customer(c, "ck1", AS_OF);
	Clm__V1__StatusReply s0 = get_status(c);

	Clm__V1__Response *resp;
	clm_err e = identify(c, "ck1", "kim", NULL, NULL, 0, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	expect_refusal(resp->status, "identify.anonymous_id", "'ck1'");
	cr_expect_neq(resp->result_case, CLM__V1__RESPONSE__RESULT_IDENTIFY);
	clm_response_free(resp);
	/* Nor to a customer that does not exist yet. */
	e = identify(c, "ck1", "kim-new", NULL, NULL, 0, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	clm_response_free(resp);
	expect_not_found(c, "kim-new");

	Clm__V1__Response *k1 = get_customer(c, "kim", AS_OF);
	Clm__V1__Response *c1 = get_customer(c, "ck1", AS_OF);
	cr_expect(same_customer(k0->customer, k1->customer, false),
	        "kim changed");
	cr_expect(same_customer(c0->customer, c1->customer, false),
	        "ck1 changed");
	cr_expect_eq(k1->customer->n_anonymous_ids, 0);
	Clm__V1__StatusReply s1 = get_status(c);
	cr_expect_eq(s1.customers, s0.customers);
	cr_expect_eq(s1.touchpoints, s0.touchpoints);

	/* A purchase with only the anonymous id "ck1" does not reach kim. */
	struct batch a = { .n = 0 };
	batch_add(&a, NULL, "ck1", "ck1-a1", TP_TYPE(PURCHASE), T0 + DAY_MS);
	track_quiet(c, &a);
	Clm__V1__Response *k2 = get_customer(c, "kim", AS_OF);
	cr_expect_eq(k2->customer->purchases, 0, "kim got ck1's purchase");

	/* "ck1" linked to itself: one person, the anonymous profile merged. */
	resp = identify_ok(c, "ck1", "ck1", NULL, NULL, 0);
	cr_expect(resp->identify->merged);
	cr_expect_eq(resp->identify->customer->purchases, 2);
	clm_response_free(resp);
	/* And kim still cannot take it. */
	e = identify(c, "ck1", "kim", NULL, NULL, 0, &resp);
	cr_expect_eq(
	        e, CLM_FAILED_PRECONDITION, "identify: %s", clm_errname(e));
	clm_response_free(resp);
	clm_response_free(k0);
	clm_response_free(k1);
	clm_response_free(k2);
	clm_response_free(c0);
	clm_response_free(c1);
	clm_close(c);
}
