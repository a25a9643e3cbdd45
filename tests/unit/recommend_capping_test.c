/*
 * Unit tests of frequency capping (with and without claim), ranking and the
 * limit of the recommendation rules (server/core/recommend.c, docs/api.md
 * "Recommend"); the rules of each kind are in recommend_test.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/recommend.h"
#include "core/risk.h"
#include "recommend_fixture.h"

/* ---------------------------------------------------------------------- */
/* Frequency capping.                                                     */

TestSuite(capping);

#define NOW (T0 + 30 * DAY_MS)

/* A REACH customer: NEXT_BEST_ACTION by EMAIL is the only candidate. */
static void
plain_customer(struct prof *f)
{
	prof_init(f);
	prof_add(f, MODEL_T_SITE_VISIT, NOW - DAY_MS, NULL);
}

/* Cluster mode may apply a customer's claims at instants out of order. */
Test(capping, messages_after_now_count)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW + 1000, 0);
	prof_msg(&f, CH_EMAIL, NOW + 2000, 0);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect(only_kind(&s, REC_NEXT_BEST_ACTION, "capped")->suppressed,
	        "3 emails, two of them after now");
}

Test(capping, cap_messages_within_cap_days)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 7 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 3 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_NEXT_BEST_ACTION, "capped");
	cr_expect(r->suppressed, "3 emails in 7 days");
	cr_expect(strstr(r->suppressed_reason, "frequency cap") != NULL,
	        "reason '%s'", r->suppressed_reason);

	struct recommend_params rp;
	recommend_params_default(&rp);
	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(s.n, 0, "suppressed ones left out");

	/* Another channel is not capped. */
	in.channel = CH_SMS;
	build(&in, &s);
	cr_expect_not(only_kind(&s, REC_NEXT_BEST_ACTION, "sms")->suppressed);

	/* The oldest 1 ms outside the window: two left, no cap. */
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 7 * DAY_MS - 1, 0);
	prof_msg(&f, CH_EMAIL, NOW - 3 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	in = input_for(&f, NOW);
	build(&in, &s);
	r = only_kind(&s, REC_NEXT_BEST_ACTION, "outside");
	cr_expect_not(r->suppressed, "suppressed: '%s'", r->suppressed_reason);
}

Test(capping, quiet_hours)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 24 * HOUR_MS + 1, REC_WIN_BACK);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_NEXT_BEST_ACTION, "quiet");
	cr_expect(r->suppressed, "an email 23:59:59.999 ago");
	cr_expect(strstr(r->suppressed_reason, "quiet hours") != NULL,
	        "reason '%s'", r->suppressed_reason);

	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 24 * HOUR_MS, REC_WIN_BACK);
	in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect_not(only_kind(&s, REC_NEXT_BEST_ACTION, "24 h")->suppressed,
	        "an email exactly 24 h ago");

	/* A message on another channel keeps email quiet-free. */
	plain_customer(&f);
	prof_msg(&f, CH_APP, NOW - HOUR_MS, REC_GEO_OFFER);
	in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect_not(
	        only_kind(&s, REC_NEXT_BEST_ACTION, "app msg")->suppressed);
}

/*
 * A RETENTION customer with a refund and five purchases: FEEDBACK_REQUEST
 * (0.85), LOYALTY_REWARD (0.5), REFERRAL_INCENTIVE (0.45) and
 * NEXT_BEST_ACTION (0.3), all by EMAIL, plus one GEO_OFFER by
 * APP_NOTIFICATION when a store is given.
 */
static void
busy_customer(struct prof *f)
{
	prof_init(f);
	for (int i = 0; i < 5; i++) {
		prof_add(f, MODEL_T_PURCHASE, NOW - (10 - i) * DAY_MS, "mug");
	}
	prof_add(f, MODEL_T_REFUND, NOW - 4 * DAY_MS, "mug");
}

static size_t
count_live(const struct recs *s, int channel)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		n += s->r[i].channel == channel && !s->r[i].suppressed;
	}
	return n;
}

/* A store 50 m away with a 100 m radius: a GEO_OFFER scored 0.8. */
static void
with_store(struct recommend_input *in, const struct recommend_store *st)
{
	in->has_location = true;
	in->lat = BERLIN_LAT + 0.00045;
	in->lon = BERLIN_LON;
	in->stores = st;
	in->n_stores = 1;
}

Test(capping, claim_keeps_one_per_channel_per_quiet_window)
{
	struct prof f;
	busy_customer(&f);
	const struct recommend_store st
	        = { "door", BERLIN_LAT, BERLIN_LON, 100, 10 };
	struct recommend_input in = input_for(&f, NOW);
	with_store(&in, &st);
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;

	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(count_live(&s, CH_EMAIL), 4, "without claim: %zu",
	        count_live(&s, CH_EMAIL));
	cr_expect_eq(count_live(&s, CH_APP), 1);

	build_ex(&in, &rp, REC_MAX, false, true, &s);
	cr_assert_eq(s.n, 2, "with claim: %zu", s.n);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST, "the best email");
	cr_expect_eq(s.r[1].kind, REC_GEO_OFFER);

	build_ex(&in, &rp, REC_MAX, true, true, &s);
	cr_assert_eq(s.n, 5);
	cr_expect_eq(count_live(&s, CH_EMAIL), 1);
	cr_expect_eq(count_live(&s, CH_APP), 1);
	for (size_t i = 0; i < s.n; i++) {
		const struct recommendation *r = &s.r[i];
		if (r->kind == REC_FEEDBACK_REQUEST
		        || r->kind == REC_GEO_OFFER) {
			cr_expect_not(r->suppressed, "kind %d", r->kind);
			continue;
		}
		cr_expect(r->suppressed, "kind %d kept", r->kind);
		cr_expect(strstr(r->suppressed_reason, "quiet hours") != NULL,
		        "kind %d: '%s'", r->kind, r->suppressed_reason);
	}
}

Test(capping, claim_counts_towards_the_cap)
{
	struct prof f;
	busy_customer(&f);
	struct recommend_input in = input_for(&f, NOW);
	struct recommend_params rp;
	recommend_params_default(&rp);
	rp.quiet_ms = 0;
	struct recs s;

	build_ex(&in, &rp, REC_MAX, true, true, &s);
	cr_assert_eq(s.n, 4);
	cr_expect_eq(count_live(&s, CH_EMAIL), 3, "cap 3, no quiet hours");
	cr_expect(s.r[3].suppressed);
	cr_expect_eq(s.r[3].kind, REC_NEXT_BEST_ACTION);
	cr_expect(strstr(s.r[3].suppressed_reason, "frequency cap") != NULL,
	        "'%s'", s.r[3].suppressed_reason);

	/* Two sent already: one more. */
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - DAY_MS, 0);
	in = input_for(&f, NOW);
	build_ex(&in, &rp, REC_MAX, false, true, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(s.n, 4, "without claim nothing is counted");
}

Test(capping, limit_counts_what_is_returned)
{
	struct prof f;
	busy_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - HOUR_MS, 0); /* email is quiet */
	const struct recommend_store st
	        = { "door", BERLIN_LAT, BERLIN_LON, 100, 10 };
	struct recommend_input in = input_for(&f, NOW);
	with_store(&in, &st);
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;
	build_ex(&in, &rp, 1, false, false, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_GEO_OFFER, "the suppressed are skipped");
	build_ex(&in, &rp, 1, true, false, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	cr_expect(s.r[0].suppressed);
}

/*
 * Regression: every store in range used to become a GEO_OFFER candidate
 * before the later kinds, and candidates past REC_MAX were dropped before
 * ranking and capping, so with many stores around and APP_NOTIFICATION
 * capped the reply was empty, without NEXT_BEST_ACTION. Now only the
 * REC_GEO_MAX nearest stores are offered.
 */
#define MANY_STORES 100

Test(capping, many_stores_do_not_crowd_out_other_kinds)
{
	struct prof f;
	busy_customer(&f);
	/* Store k is k x ~6.8 m away; listed in a scrambled order. */
	struct recommend_store st[MANY_STORES];
	char ids[MANY_STORES][16];
	for (size_t i = 0; i < MANY_STORES; i++) {
		size_t k = (i * 37) % MANY_STORES;
		snprintf(ids[i], sizeof(ids[i]), "s%03zu", k);
		st[i] = (struct recommend_store) { .store_id = ids[i],
			.lat = BERLIN_LAT,
			.lon = BERLIN_LON + 0.0001 * (double) k,
			.radius_m = 1000,
			.discount_pct = 5 };
	}
	struct recommend_input in = input_for(&f, NOW);
	in.has_location = true;
	in.lat = BERLIN_LAT;
	in.lon = BERLIN_LON;
	in.stores = st;
	in.n_stores = MANY_STORES;
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;

	/* The nearest stores, nearest first, and every other kind. */
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_GEO_OFFER), REC_GEO_MAX);
	size_t k = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.r[i].kind != REC_GEO_OFFER) {
			continue;
		}
		char want[16];
		snprintf(want, sizeof(want), "s%03zu", k);
		cr_expect_str_eq(s.r[i].store_id, want, "geo offer %zu", k);
		k++;
	}
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1);
	cr_expect_eq(count_kind(&s, REC_LOYALTY_REWARD), 1);

	/* App notifications capped: the emails remain. */
	for (int i = 0; i < 3; i++) {
		prof_msg(&f, CH_APP, NOW - (i + 2) * DAY_MS, REC_GEO_OFFER);
	}
	in = input_for(&f, NOW);
	in.has_location = true;
	in.lat = BERLIN_LAT;
	in.lon = BERLIN_LON;
	in.stores = st;
	in.n_stores = MANY_STORES;
	build_ex(&in, &rp, 5, false, false, &s);
	cr_expect_eq(s.n, 4, "%zu recommendations, want the 4 emails", s.n);
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1,
	        "no NEXT_BEST_ACTION");
}

/* ---------------------------------------------------------------------- */
/* Ranking and limit.                                                     */

TestSuite(ranking);

Test(ranking, by_score_then_kind)
{
	struct prof f;
	busy_customer(&f);
	const struct recommend_item items[] = {
		{ "b-item", 0.25, false },
		{ "a-item", 0.25, false },
	};
	/* AT_RISK with no risk score: WIN_BACK 0.5, a tie with loyalty. */
	struct recommend_input in = input_for(&f, NOW + 31 * DAY_MS);
	cr_assert_eq(in.health, MODEL_AT_RISK);
	in.cross = items;
	in.n_cross = 2;
	in.upgrade_to = "pro";
	struct recs s;
	build(&in, &s);
	static const struct {
		int kind;
		double score;
		const char *item;
	} want[] = {
		{ REC_FEEDBACK_REQUEST, 0.85, "" },
		{ REC_UPSELL, 0.7, "pro" },
		{ REC_WIN_BACK, 0.5, "" },
		{ REC_LOYALTY_REWARD, 0.5, "" },
		{ REC_REFERRAL_INCENTIVE, 0.45, "" },
		{ REC_NEXT_BEST_ACTION, 0.3, "" },
		{ REC_CROSS_SELL, 0.15, "a-item" },
		{ REC_CROSS_SELL, 0.15, "b-item" },
	};
	size_t nw = sizeof(want) / sizeof(want[0]);
	cr_assert_eq(s.n, nw, "%zu recommendations", s.n);
	for (size_t i = 0; i < nw; i++) {
		cr_expect_eq(s.r[i].kind, want[i].kind, "[%zu] kind %d", i,
		        s.r[i].kind);
		cr_expect(near(s.r[i].score, want[i].score), "[%zu] %f", i,
		        s.r[i].score);
		cr_expect_str_eq(s.r[i].item_id, want[i].item, "[%zu]", i);
	}

	struct recommend_params rp;
	recommend_params_default(&rp);
	for (size_t limit = 0; limit <= nw; limit++) {
		struct recs cut;
		build_ex(&in, &rp, limit, true, false, &cut);
		cr_assert_eq(cut.n, limit, "limit %zu", limit);
		for (size_t i = 0; i < limit; i++) {
			cr_expect_eq(cut.r[i].kind, s.r[i].kind,
			        "limit %zu [%zu]", limit, i);
			cr_expect_str_eq(cut.r[i].item_id, s.r[i].item_id,
			        "limit %zu [%zu]", limit, i);
		}
	}
}

Test(ranking, many_cross_sell_items_fit)
{
	struct prof f;
	busy_customer(&f);
	struct recommend_item items[50];
	char ids[50][16];
	for (size_t i = 0; i < 50; i++) {
		snprintf(ids[i], sizeof(ids[i]), "item-%02zu", i);
		items[i] = (struct recommend_item) { ids[i],
			1.0 - 0.01 * (double) i, false };
	}
	struct recommend_input in = input_for(&f, NOW);
	in.cross = items;
	in.n_cross = 50;
	struct recs s;
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CROSS_SELL), 50);
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	cr_expect_str_eq(s.r[1].item_id, "item-00");
	for (size_t i = 1; i < s.n; i++) {
		cr_expect_geq(s.r[i - 1].score, s.r[i].score, "[%zu]", i);
	}
}
