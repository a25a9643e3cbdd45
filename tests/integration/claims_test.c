/*
 * Recommend with claim against a real clmd (docs/api.md "Recommend"): claims
 * racing from many connections never pass the frequency cap (with and without
 * quiet hours, with libclm's request ids), a claim is idempotent on its
 * request_id, claimed messages are MESSAGE_SENT touchpoints that count towards
 * later caps, and `clm recommend` (with --claim) on such a customer.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"
#include "offers.h"

HARNESS_SUITE(claims, 60);

/* ---------------------------------------------------------------------- */
/* Claims.                                                                */

/* Four stores around this point, each with a 1 km radius. */
#define RACE_LAT BERLIN_LAT
#define RACE_LON BERLIN_LON

/*
 * A customer with four EMAIL candidates (FEEDBACK_REQUEST after a refund,
 * LOYALTY_REWARD for five purchases, REFERRAL_INCENTIVE in RETENTION,
 * NEXT_BEST_ACTION) and, at RACE_LAT/LON, four GEO_OFFERs by
 * APP_NOTIFICATION. No cross-sell: every item is bought by them alone.
 */
static void
busy_customer(clm_conn *c, const char *id, bool stores)
{
	struct tps t = { .n = 0 };
	int64_t now = wall_ms();
	char items[5][48];
	for (int i = 0; i < 5; i++) {
		snprintf(items[i], sizeof(items[i]), "%s-item%d", id, i);
		tps_add(&t, id, CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        now - (10 - i) * DAY_MS, items[i]);
	}
	tps_add(&t, id, CLM__V1__TOUCHPOINT_TYPE__REFUND, now - 2 * DAY_MS,
	        items[0]);
	tps_send(c, &t);
	if (!stores) {
		return;
	}
	Clm__V1__GeoPoint g[4];
	Clm__V1__Store st[4];
	Clm__V1__Store *stp[4];
	static const char *const ids[] = { "r-a", "r-b", "r-c", "r-d" };
	for (int i = 0; i < 4; i++) {
		clm__v1__geo_point__init(&g[i]);
		g[i].lat = RACE_LAT + 0.001 * i;
		g[i].lon = RACE_LON;
		clm__v1__store__init(&st[i]);
		st[i].store_id = (char *) ids[i];
		st[i].location = &g[i];
		st[i].radius_m = 1000;
		st[i].discount_pct = 5 + i;
		stp[i] = &st[i];
	}
	put_stores(c, stp, 4);
}

#define RACERS 16

struct racer {
	const char *url;
	const char *customer;
	pthread_barrier_t *go;
	bool own_request_id;
	char request_id[48];
	clm_err err;
	Clm__V1__Response *resp;
	char what[160];
};

/* One racing client: its own connection, one claim at the barrier. */
static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	clm_conn *c = NULL;
	r->err = clm_open(r->url, 20000, &c);
	pthread_barrier_wait(r->go);
	if (r->err != CLM_OK) {
		snprintf(r->what, sizeof(r->what), "%s", clm_open_error());
		return NULL;
	}
	struct ask a = { .customer = r->customer,
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON,
		.request_id = r->own_request_id ? r->request_id : NULL };
	r->err = ask_raw(c, &a, &r->resp);
	snprintf(r->what, sizeof(r->what), "%s", clm_last_error(c));
	clm_close(c);
	return NULL;
}

/*
 * Races RACERS claims for customer id; checks every reply and returns the
 * non-suppressed recommendations they hold together, per channel.
 */
static void
race(const char *id, bool own_request_ids, size_t *email, size_t *app)
{
	pthread_barrier_t go;
	cr_assert_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer) { .url = srv.url,
			.customer = id,
			.go = &go,
			.own_request_id = own_request_ids };
		snprintf(rs[i].request_id, sizeof(rs[i].request_id),
		        "race-%s-%d", id, i);
		cr_assert_eq(
		        pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_barrier_destroy(&go);
	*email = *app = 0;
	for (int i = 0; i < RACERS; i++) {
		cr_expect_eq(rs[i].err, CLM_OK, "racer %d: %s (%s)", i,
		        clm_errname(rs[i].err), rs[i].what);
		if (rs[i].err == CLM_OK) {
			const Clm__V1__RecommendReply *r
			        = rs[i].resp->recommend;
			cr_assert_not_null(r, "racer %d", i);
			*email += count_live(r, CLM__V1__CHANNEL__EMAIL);
			*app += count_live(
			        r, CLM__V1__CHANNEL__APP_NOTIFICATION);
			cr_expect_eq(count_live(r, 0),
			        count_live(r, CLM__V1__CHANNEL__EMAIL)
			                + count_live(r,
			                        CLM__V1__CHANNEL__APP_NOTIFICATION),
			        "racer %d: another channel", i);
		}
		clm_response_free(rs[i].resp);
	}
}

/* Checks what a race recorded against the cap and against the replies. */
static void
check_race(clm_conn *c, const char *id, size_t email, size_t app,
        size_t want_per_channel)
{
	size_t sent_email = sent_of(c, id, CLM__V1__CHANNEL__EMAIL);
	size_t sent_app = sent_of(c, id, CLM__V1__CHANNEL__APP_NOTIFICATION);
	cr_expect_leq(sent_email, 3, "%zu emails recorded, cap 3", sent_email);
	cr_expect_leq(
	        sent_app, 3, "%zu app messages recorded, cap 3", sent_app);
	cr_expect_eq(sent_email, want_per_channel, "%zu emails recorded",
	        sent_email);
	cr_expect_eq(sent_app, want_per_channel, "%zu app messages recorded",
	        sent_app);
	cr_expect_eq(email, sent_email,
	        "the replies claimed %zu emails, %zu were recorded", email,
	        sent_email);
	cr_expect_eq(app, sent_app,
	        "the replies claimed %zu app messages, %zu were recorded", app,
	        sent_app);
	cr_expect_eq(sent_of(c, id, 0), sent_email + sent_app);
}

Test(claims, claim_race_within_the_cap)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", true, &email, &app);
	/* quiet_hours 24: one message per channel, whoever wins. */
	check_race(c, "racer", email, app, 1);
	clm_close(c);
}

Test(claims, claim_race_without_quiet_hours)
{
	static const char *const extra[] = { "--quiet-hours", "0", NULL };
	offers_start(&srv, extra);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", true, &email, &app);
	/* Only the cap binds: exactly cap_messages per channel. */
	check_race(c, "racer", email, app, 3);
	clm_close(c);
}

/*
 * Regression: libclm's request ids used to be "<pid>-<n>" with a counter
 * per connection starting at 1, so the first request of every connection
 * in a process carried the same id; the server dedupes claims on
 * (customer_id, request_id), so 15 of these 16 independent claims were
 * taken for retries of the first and got its reply: 32 messages claimed,
 * 2 recorded. Request ids made by libclm must differ per connection.
 */
Test(claims, claim_race_with_libclm_request_ids)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", false, &email, &app);
	check_race(c, "racer", email, app, 1);
	clm_close(c);
}

/* Packs a reply, for comparing two byte for byte. */
static size_t
pack_reply(const Clm__V1__RecommendReply *r, uint8_t **out)
{
	size_t n = clm__v1__recommend_reply__get_packed_size(r);
	*out = malloc(n + 1);
	cr_assert_not_null(*out);
	cr_assert_eq(clm__v1__recommend_reply__pack(r, *out), n);
	return n;
}

Test(claims, claim_is_idempotent_on_request_id)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "idem", true);
	struct ask a = { .customer = "idem",
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON,
		.request_id = "idem-claim-1" };
	Clm__V1__Response *r1, *r2;
	const Clm__V1__RecommendReply *x = ask_ok(c, &a, &r1);
	cr_assert_eq(count_live(x, CLM__V1__CHANNEL__EMAIL), 1);
	cr_assert_eq(count_live(x, CLM__V1__CHANNEL__APP_NOTIFICATION), 1);
	cr_expect_str_eq(r1->request_id, "idem-claim-1");
	size_t sent = sent_of(c, "idem", 0);
	cr_expect_eq(sent, 2, "%zu messages recorded", sent);

	const Clm__V1__RecommendReply *y = ask_ok(c, &a, &r2);
	uint8_t *p1, *p2;
	size_t n1 = pack_reply(x, &p1), n2 = pack_reply(y, &p2);
	cr_expect(n1 == n2 && memcmp(p1, p2, n1) == 0,
	        "the retry got another reply");
	free(p1);
	free(p2);
	clm_response_free(r1);
	clm_response_free(r2);
	cr_expect_eq(sent_of(c, "idem", 0), 2, "the retry recorded again");

	/* Another request id is a new claim: now within quiet hours. */
	a.request_id = "idem-claim-2";
	x = ask_ok(c, &a, &r1);
	cr_expect_eq(count_live(x, 0), 0, "claimed again within quiet hours");
	cr_expect_gt(x->n_recommendations, 0);
	clm_response_free(r1);
	cr_expect_eq(sent_of(c, "idem", 0), 2);
	clm_close(c);
}

/*
 * Regression: a claim's request id went unchecked into the claim's LMDB
 * key, a 511-byte stack buffer, so a long one overflowed it and killed
 * clmd. It is an id now: at most max_id_bytes, else INVALID_ARGUMENT.
 */
Test(claims, claim_request_id_too_long_is_refused)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "longkey", false);
	char rid[2001];
	memset(rid, 'k', sizeof(rid) - 1);
	rid[sizeof(rid) - 1] = '\0';
	struct ask a = { .customer = "longkey",
		.limit = 10,
		.claim = true,
		.request_id = rid };
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(ask_raw(c, &a, &resp), CLM_INVALID_ARGUMENT);
	cr_assert_not_null(violation(resp, "request_id"));
	clm_response_free(resp);
	rid[129] = '\0'; /* one byte past max_id_bytes */
	cr_assert_eq(ask_raw(c, &a, &resp), CLM_INVALID_ARGUMENT);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "longkey", 0), 0);

	/* Still serving; the longest key is a claim like any other. */
	rid[128] = '\0';
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 1);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "longkey", 0), 1);
	clm_close(c);
}

/*
 * Regression: claimed MESSAGE_SENT event ids once lacked the customer, so a
 * second customer's claim with the same request id recorded nothing (its
 * messages were deduplicated against the first customer's).
 */
Test(claims, claim_request_id_reused_for_another_customer)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "first", false);
	busy_customer(c, "second", false);
	struct ask a = { .customer = "first",
		.limit = 10,
		.claim = true,
		.request_id = "same-id" };
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 1);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "first", 0), 1);

	a.customer = "second";
	r = ask_ok(c, &a, &resp);
	size_t claimed = count_live(r, 0);
	cr_expect_eq(claimed, 1);
	clm_response_free(resp);
	size_t sent = sent_of(c, "second", 0);
	cr_expect_eq(sent, claimed,
	        "'second' was told %zu messages are claimed, %zu recorded",
	        claimed, sent);

	/* So the cap does not hold for 'second'. */
	a.request_id = "next-id";
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 0,
	        "'second' claimed again within quiet hours");
	clm_response_free(resp);
	clm_close(c);
}

Test(claims, claimed_messages_are_touchpoints_that_count)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "sent", true);
	struct ask a = { .customer = "sent",
		.limit = 10,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON };

	/* A plain Recommend records nothing. */
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, CLM__V1__CHANNEL__EMAIL), 4);
	cr_expect_eq(count_live(r, CLM__V1__CHANNEL__APP_NOTIFICATION), 4);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "sent", 0), 0);

	a.claim = true;
	const Clm__V1__RecommendReply *claimed = ask_ok(c, &a, &resp);
	cr_assert_eq(claimed->n_recommendations, 2, "%zu claimed",
	        claimed->n_recommendations);
	/* GEO_OFFER at the door and FEEDBACK_REQUEST tie at 0.85. */
	const Clm__V1__Recommendation *email = find_kind(
	        claimed, CLM__V1__RECOMMENDATION_KIND__FEEDBACK_REQUEST);
	const Clm__V1__Recommendation *geo
	        = find_kind(claimed, CLM__V1__RECOMMENDATION_KIND__GEO_OFFER);
	cr_assert_not_null(email, "the best email was not claimed");
	cr_assert_not_null(geo, "the best geo offer was not claimed");
	cr_expect_eq(claimed->recommendations[0], geo, "ties: by kind");
	cr_expect_str_eq(geo->store_id, "r-a");

	Clm__V1__Response *x = export_of(c, "sent");
	const Clm__V1__ExportCustomerReply *ex = x->export_customer;
	cr_assert_eq(count_sent(ex, 0), 2);
	for (size_t i = 0; i < ex->n_touchpoints; i++) {
		const Clm__V1__Touchpoint *tp = ex->touchpoints[i];
		if (tp->type != CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT) {
			continue;
		}
		const Clm__V1__Recommendation *o
		        = tp->channel == email->channel ? email : geo;
		cr_expect_eq(tp->channel, o->channel);
		const char *kind = prop(tp, "kind");
		const char *action = prop(tp, "action");
		cr_assert_not_null(kind, "a MESSAGE_SENT without kind");
		cr_assert_not_null(action, "a MESSAGE_SENT without action");
		cr_expect_str_eq(
		        kind, o == email ? "FEEDBACK_REQUEST" : "GEO_OFFER");
		cr_expect_str_eq(action, o->action);
		cr_expect_str_eq(tp->item_id, o->item_id);
		cr_expect_str_eq(tp->customer_id, "sent");
		cr_expect_neq(tp->event_id[0], '\0', "no event id");
	}
	/* Messages do not make the customer seen. */
	cr_expect_lt(ex->customer->last_seen_ms, wall_ms() - DAY_MS);
	clm_response_free(x);
	clm_response_free(resp);

	/* A plain Recommend now shows the cap. */
	a.claim = false;
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 0, "%zu live after the claim",
	        count_live(r, 0));
	cr_expect_eq(r->n_recommendations, 0, "suppressed ones listed");
	clm_response_free(resp);
	a.include_suppressed = true;
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(r->n_recommendations, 8);
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		cr_expect(o->suppressed, "[%zu] %s not suppressed", i,
		        o->action);
		cr_expect(strstr(o->suppressed_reason, "quiet hours") != NULL,
		        "[%zu] reason '%s'", i, o->suppressed_reason);
	}
	clm_response_free(resp);

	/* The cart reminder's follow-up rule sees claimed reminders too. */
	struct tps t = { .n = 0 };
	tps_add(&t, "carted", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        wall_ms() - 3 * DAY_MS, "kettle");
	tps_send(c, &t);
	struct ask cart = { .customer = "carted",
		.limit = 10,
		.claim = true,
		.now_ms = wall_ms() - 2 * DAY_MS };
	r = ask_ok(c, &cart, &resp);
	const Clm__V1__Recommendation *o
	        = find_kind(r, CLM__V1__RECOMMENDATION_KIND__CART_REMINDER);
	cr_assert_not_null(o, "no CART_REMINDER");
	cr_expect_str_eq(o->action, "cart_reminder");
	cr_expect_str_eq(o->item_id, "kettle");
	clm_response_free(resp);
	cart.claim = false;
	cart.now_ms = 0;
	r = ask_ok(c, &cart, &resp);
	o = find_kind(r, CLM__V1__RECOMMENDATION_KIND__CART_REMINDER);
	cr_assert_not_null(o, "no follow-up");
	cr_expect_str_eq(o->action, "cart_reminder_followup");
	clm_response_free(resp);
	clm_close(c);
}

/* ---------------------------------------------------------------------- */
/* The CLI.                                                               */

Test(claims, cli_recommend)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	busy_customer(c, "shopper", true);
	clm_close(c);

	const char *const json[] = { "--json", "recommend", "shopper", NULL };
	struct cli_output o = cli_run(json, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect_eq(o.out[0], '{', "stdout '%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"recommendations\":[") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"FEEDBACK_REQUEST\"") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "\"stage\":\"RETENTION\"") != NULL, "'%s'",
	        o.out);
	cr_expect(strstr(o.out, "GEO_OFFER") == NULL, "'%s'", o.out);
	cli_output_free(&o);

	const char *const geo[] = { "recommend", "shopper", "--lat", "52.52",
		"--lon", "13.405", "--limit", "10", NULL };
	o = cli_run(geo, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "GEO_OFFER") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "r-a") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "discount 5.0%") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "stage RETENTION, health ACTIVE") != NULL,
	        "'%s'", o.out);
	cli_output_free(&o);

	const char *const claim[] = { "--json", "recommend", "shopper",
		"--claim", "--include-suppressed", NULL };
	o = cli_run(claim, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "\"suppressed\":true") != NULL, "'%s'", o.out);
	cli_output_free(&o);
	c = offers_connect(&srv);
	cr_expect_eq(sent_of(c, "shopper", CLM__V1__CHANNEL__EMAIL), 1);
	clm_close(c);

	const char *const nobody[] = { "recommend", "nobody", NULL };
	o = cli_run(nobody, NULL);
	cr_expect_eq(o.rc, 1, "exit %d", o.rc);
	cr_expect(strstr(o.err, "NOT_FOUND") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	const char *const half[]
	        = { "recommend", "shopper", "--lat", "1", NULL };
	o = cli_run(half, NULL);
	cr_expect_eq(o.rc, 2, "--lat without --lon: exit %d", o.rc);
	cli_output_free(&o);
}
