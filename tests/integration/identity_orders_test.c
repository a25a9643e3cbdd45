/*
 * Identify (docs/api.md "Identify") of an anonymous profile that holds an
 * order of several items and a CUSTOM event: the customer it is merged
 * into equals one that received the same touchpoints directly (touch
 * counts with CUSTOM's, one purchase, the cart), and the co-purchase
 * counts behind cross-sell count the order's pairs once for the merged
 * customer, none left behind for the anonymous id.
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

HARNESS_SUITE(identity_orders, 60);

static char *order_items[] = { "case", "cable" };

/* The journey: a page view, a CUSTOM event and an order of three items. */
static void
journey(Clm__V1__Touchpoint tp[3], const char *customer, const char *anon)
{
	for (int i = 0; i < 3; i++) {
		clm__v1__touchpoint__init(&tp[i]);
		tp[i].customer_id = (char *) customer;
		tp[i].anonymous_id = (char *) anon;
		tp[i].channel = CLM__V1__CHANNEL__DIRECT;
		tp[i].occurred_at_ms = T0 + i * HOUR_MS;
	}
	tp[0].type = TP_TYPE(PAGE_VIEW);
	tp[1].type = TP_TYPE(CUSTOM);
	tp[1].event_name = "Video Played";
	tp[2].type = TP_TYPE(PURCHASE);
	tp[2].item_id = "phone";
	tp[2].order_items = order_items;
	tp[2].n_order_items = 2;
	tp[2].value = 530;
}

static void
track_ok(clm_conn *c, Clm__V1__Touchpoint **tps, size_t n)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, tps, n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->track->accepted, n, "accepted %u of %zu",
	        resp->track->accepted, n);
	clm_response_free(resp);
}

static Clm__V1__Response *
get_customer(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, AS_OF, &resp);
	cr_assert_eq(e, CLM_OK, "get_customer '%s': %s (%s)", id,
	        clm_errname(e), clm_last_error(c));
	cr_assert_not_null(resp->customer);
	return resp;
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

/* Serialized bytes of a Customer's facts: no ids, traits or as_of. */
static uint8_t *
facts(const Clm__V1__Customer *cu, size_t *n)
{
	Clm__V1__Customer c = *cu;
	c.as_of_ms = 0;
	c.customer_id = "";
	c.n_anonymous_ids = 0;
	c.n_traits = 0;
	*n = clm__v1__customer__get_packed_size(&c);
	uint8_t *buf = malloc(*n + 1);
	cr_assert_not_null(buf);
	clm__v1__customer__pack(&c, buf);
	return buf;
}

/* The reason Recommend gives for cross-selling item, or NULL. */
static const char *
cross_sell_reason(const Clm__V1__RecommendReply *r, const char *item)
{
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *x = r->recommendations[i];
		if (x->kind == CLM__V1__RECOMMENDATION_KIND__CROSS_SELL
		        && strcmp(x->item_id, item) == 0) {
			return x->reason;
		}
	}
	return NULL;
}

Test(identity_orders, merged_equals_direct)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0,
	        "clmd did not start (log %s)", srv.log_path);
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 5000, &c), CLM_OK, "%s", clm_open_error());

	Clm__V1__Touchpoint anon[3], direct[3];
	Clm__V1__Touchpoint *pa[3], *pd[3];
	journey(anon, "", "anon-o");
	journey(direct, "direct-1", "");
	for (int i = 0; i < 3; i++) {
		pa[i] = &anon[i];
		pd[i] = &direct[i];
	}
	track_ok(c, pa, 3);
	track_ok(c, pd, 3);

	Clm__V1__Response *resp = NULL;
	clm_err e
	        = clm_identify(c, "anon-o", "merged-1", NULL, NULL, 0, &resp);
	cr_assert_eq(e, CLM_OK, "identify: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	clm_response_free(resp);

	Clm__V1__Response *rm = get_customer(c, "merged-1");
	Clm__V1__Response *rd = get_customer(c, "direct-1");
	const Clm__V1__Customer *m = rm->customer;
	cr_expect_eq(touch_count(m, TP_TYPE(CUSTOM)), 1);
	cr_expect_eq(touch_count(m, TP_TYPE(PURCHASE)), 1);
	cr_expect_eq(touch_count(m, TP_TYPE(PAGE_VIEW)), 1);
	cr_expect_eq(m->purchases, 1, "%u purchases", m->purchases);
	cr_expect_eq(m->first_seen_ms, T0);
	cr_expect_eq(m->last_seen_ms, T0 + 2 * HOUR_MS);
	size_t nm, nd;
	uint8_t *bm = facts(m, &nm), *bd = facts(rd->customer, &nd);
	cr_expect(nm == nd && memcmp(bm, bd, nm) == 0,
	        "the merged customer differs from the direct one");
	free(bm);
	free(bd);
	clm_response_free(rm);
	clm_response_free(rd);

	/*
	 * Cross-sell from a probe that bought "case", beside "other", who
	 * bought "phone" alone. Customers per item: case: merged, direct,
	 * probe (3); phone: merged, direct, other (3); cable: merged, direct
	 * (2); pairs with case: phone 2, cable 2. Similarities co /
	 * sqrt(pop(case) pop(y)): phone 2/3, cable 2/sqrt(6). Had the
	 * anonymous profile's counts stayed, they would be 3/4 and
	 * 3/sqrt(12).
	 */
	Clm__V1__Touchpoint more[2];
	Clm__V1__Touchpoint *pm[2] = { &more[0], &more[1] };
	for (int i = 0; i < 2; i++) {
		clm__v1__touchpoint__init(&more[i]);
		more[i].type = TP_TYPE(PURCHASE);
		more[i].occurred_at_ms = T0 + DAY_MS;
		more[i].value = 10;
	}
	more[0].customer_id = "probe";
	more[0].item_id = "case";
	more[1].customer_id = "other";
	more[1].item_id = "phone";
	track_ok(c, pm, 2);

	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	q.customer_id = "probe";
	q.limit = 50;
	resp = NULL;
	e = clm_recommend(c, &q, &resp);
	cr_assert_eq(e, CLM_OK, "recommend: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	const char *phone = cross_sell_reason(resp->recommend, "phone");
	const char *cable = cross_sell_reason(resp->recommend, "cable");
	cr_assert_not_null(phone, "no cross-sell of phone");
	cr_assert_not_null(cable, "no cross-sell of cable");
	cr_expect(strstr(phone, "similarity 0.667") != NULL, "phone: '%s'",
	        phone);
	cr_expect(strstr(cable, "similarity 0.816") != NULL, "cable: '%s'",
	        cable);
	clm_response_free(resp);
	clm_close(c);
}
