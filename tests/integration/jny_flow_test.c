/*
 * jny_flow: the seed journeys of docs/journeys.md run by a real clmd on
 * its test clock: cart recovery (the reminder after the wait, the
 * follow-up only when the reminder was not opened, nothing after a
 * purchase), post-purchase with reentry "once", win-back from a
 * time-driven segment entry, triggers by stage and by risk reason, the
 * frequency caps across journeys and Recommend claims, a journey
 * redefined and deleted while customers are in it, and ForgetCustomer.
 * Every expectation is derived from the contract, never from the server's
 * code.
 *
 * "Something happens" is a bounded poll (seconds); "nothing happens" is
 * proven with the clock: a later due step of another customer (a barrier)
 * has run, or a counter says the customer is gone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "harness.h"
#include "jnyflow.h"
#include "segflow.h"

HARNESS_SUITE(jny_flow, 120);

/* How long "something happens" may take on a loaded machine. */
#define SOON_MS 20000

#define RK(x) CLM__V1__RECOMMENDATION_KIND__##x

#define CART_JSON                                                          \
	"{\"name\": \"cart-recovery\",\n"                                  \
	" \"trigger\": {\"event\": \"ADD_TO_CART\"},\n"                    \
	" \"exit\": \"count(PURCHASE, since_entry) >= 1\",\n"              \
	" \"reentry\": \"always\",\n"                                      \
	" \"max_lateness\": \"1d\",\n"                                     \
	" \"steps\": [\n"                                                  \
	"   {\"wait\": \"1h\",\n"                                          \
	"    \"send\": {\"kind\": \"CART_REMINDER\", \"action\": "         \
	"\"cart_reminder\", \"channel\": \"EMAIL\"}},\n"                   \
	"   {\"wait\": \"24h\", \"if\": \"count(EMAIL_OPEN, since_entry) " \
	"= 0\",\n"                                                         \
	"    \"send\": {\"kind\": \"CART_REMINDER\", \"action\": "         \
	"\"cart_followup\", \"channel\": \"SMS\"},\n"                      \
	"    \"when_capped\": \"skip\"}]}"

#define POST_JSON                                                         \
	"{\"name\": \"post-purchase\", \"trigger\": {\"event\": "         \
	"\"PURCHASE\"}, \"reentry\": \"once\",\n"                         \
	" \"steps\": [\n"                                                 \
	"   {\"wait\": \"1h\", \"send\": {\"kind\": \"LOYALTY_REWARD\", " \
	"\"action\": \"thank_you\", \"channel\": \"EMAIL\"}},\n"          \
	"   {\"wait\": \"7d\", \"if\": \"referrals = 0\",\n"              \
	"    \"send\": {\"kind\": \"REFERRAL_INCENTIVE\", \"action\": "   \
	"\"referral_ask\", \"channel\": \"EMAIL\"}}]}"

/*
 * The win-back of docs/journeys.md with max_lateness 2d: the segment
 * entry happens at last_seen + 30 d, and the clock jumps to 31 d, a day
 * later; with the default 1d the first step would be (just) late.
 */
#define WINBACK_JSON                                                        \
	"{\"name\": \"win-back\", \"trigger\": {\"segment\": "              \
	"\"quiet-30d\"}, \"reentry\": \"90d\", \"max_lateness\": \"2d\",\n" \
	" \"exit\": \"count(PURCHASE, since_entry) >= 1\",\n"               \
	" \"steps\": [\n"                                                   \
	"   {\"wait\": \"0s\", \"send\": {\"kind\": \"WIN_BACK\", "         \
	"\"action\": \"we_miss_you\", \"channel\": \"EMAIL\"}},\n"          \
	"   {\"wait\": \"7d\", \"send\": {\"kind\": \"WIN_BACK\", "         \
	"\"action\": \"win_back_discount\", \"channel\": \"EMAIL\"}},\n"    \
	"   {\"wait\": \"14d\", \"send\": {\"kind\": \"WIN_BACK\", "        \
	"\"action\": \"last_chance\", \"channel\": \"SMS\"}}]}"

/* The flags of a clmd without quiet hours (the caps' test sets its own). */
static const char *const jny_flow_no_quiet[] = { "--quiet-hours", "0", NULL };

/* A one-step journey on ADD_TO_CART: wait, then send action by channel. */
static void
jny_flow_simple(clm_conn *c, const char *name, const char *wait,
        const char *action, const char *channel, const char *extra)
{
	char json[1024];
	snprintf(json, sizeof(json),
	        "{\"name\": \"%s\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"%s\", \"send\": "
	        "{\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"%s\", "
	        "\"channel\": \"%s\"}%s}]}",
	        name, wait, action, channel, extra != NULL ? extra : "");
	jnyflow_define(c, name, json);
}

/* The count of customer id's MESSAGE_SENT touchpoints (GetCustomer). */
static uint64_t
jny_flow_sent_touches(clm_conn *c, const char *id)
{
	Clm__V1__Response *r = NULL;
	clm_err e = clm_get_customer(c, id, 0, &r);
	cr_assert_eq(e, CLM_OK, "get customer %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	uint64_t n = 0;
	for (size_t i = 0; i < r->customer->n_touch_counts; i++) {
		const Clm__V1__TypeCount *t = r->customer->touch_counts[i];
		if (t->type == TP(MESSAGE_SENT)) {
			n += t->count;
		}
	}
	clm_response_free(r);
	return n;
}

Test(jny_flow, cart_recovery)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	cr_expect_not(jnyflow_define(c, "cart-recovery", CART_JSON));

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "a1", "a1-cart", TP(ADD_TO_CART), t0, "sku-1", NULL);
	jnyflow_track1(c, "a2", "a2-cart", TP(ADD_TO_CART), t0, "sku-2", NULL);
	jnyflow_track1(c, "a3", "a3-cart", TP(ADD_TO_CART), t0, "sku-3", NULL);
	/* History: a cart two days old (past max_lateness) enters nobody. */
	jnyflow_track1(c, "a4", "a4-cart", TP(ADD_TO_CART), t0 - 2 * DAY_MS,
	        "sku-4", NULL);
	const char *j = "cart-recovery";
	jnyflow_expect_counter(c, j, JC_ENTERED, 0, 3, SOON_MS, "the carts");
	jnyflow_expect_counter(c, j, JC_ACTIVE, 0, 3, SOON_MS, "the carts");
	jnyflow_expect_counter(c, j, JC_WAITING, 0, 3, SOON_MS, "the carts");

	/* a3 buys ten minutes later: it leaves at once. */
	jnyflow_clock_to(&clk, 10 * MIN_MS);
	jnyflow_track1(c, "a3", "a3-buy", TP(PURCHASE), jnyflow_now(&clk),
	        "sku-3", NULL);
	jnyflow_expect_counter(c, j, JC_EXITED, 0, 1, SOON_MS, "a3 bought");
	jnyflow_expect_counter(c, j, JC_ACTIVE, 0, 2, SOON_MS, "a3 bought");
	jnyflow_expect_counter(c, j, JC_WAITING, 0, 2, SOON_MS, "a3 bought");

	/* Past the reminder's due instant (entry + 1 h). */
	jnyflow_clock_to(&clk, HOUR_MS + 5 * MIN_MS);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, j, 2, SOON_MS, &n);
	cr_assert_eq(n, 2, "%zu reminders in the feed, want 2", n);
	int64_t reminded[2] = { 0, 0 };
	for (int i = 0; i < 2; i++) {
		char id[8], item[8];
		snprintf(id, sizeof(id), "a%d", i + 1);
		snprintf(item, sizeof(item), "sku-%d", i + 1);
		const struct jnyflow_msg *r = jnyflow_find(m, n, j, id, 0);
		cr_assert_not_null(r, "no reminder for %s", id);
		jnyflow_expect_send(r, RK(CART_REMINDER), "cart_reminder",
		        CH(EMAIL), item);
		cr_expect_geq(r->at_ms, t0 + HOUR_MS,
		        "%s reminded at %lld, before its due instant %lld", id,
		        (long long) r->at_ms, (long long) (t0 + HOUR_MS));
		reminded[i] = r->at_ms;
	}
	cr_expect_eq(jnyflow_count(m, n, NULL, "a3", -1), 0, "a3 bought");
	free(m);
	/* The claim is a MESSAGE_SENT touchpoint of the customer. */
	cr_expect_eq(jny_flow_sent_touches(c, "a1"), 1,
	        "a1: the reminder's MESSAGE_SENT");
	cr_expect_eq(jny_flow_sent_touches(c, "a3"), 0, "a3: none");

	/* a2 opens the reminder; a1 does not. */
	jnyflow_track1(c, "a2", "a2-open", TP(EMAIL_OPEN), jnyflow_now(&clk),
	        NULL, NULL);
	/* Past the follow-up's due instant (the reminder + 24 h). */
	jnyflow_clock_to(&clk, 25 * HOUR_MS + 10 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_COMPLETED, 0, 2, SOON_MS, "+25 h");
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.entered, 3, "+25 h", "entered");
	EXPECT_U64(s.active, 0, "+25 h", "active");
	EXPECT_U64(s.exited, 1, "+25 h", "exited");
	EXPECT_U64(s.step[0].sent, 2, "+25 h", "steps[0].sent");
	EXPECT_U64(s.step[1].sent, 1, "+25 h", "steps[1].sent");
	EXPECT_U64(s.step[1].skipped_condition, 1, "+25 h",
	        "steps[1].skipped_condition");
	EXPECT_U64(
	        s.step[0].waiting + s.step[1].waiting, 0, "+25 h", "waiting");

	m = jnyflow_feed(c, j, &n);
	cr_expect_eq(n, 3, "%zu messages in the feed, want 3", n);
	const struct jnyflow_msg *f = jnyflow_find(m, n, j, "a1", 1);
	cr_assert_not_null(f, "no follow-up for a1");
	jnyflow_expect_send(
	        f, RK(CART_REMINDER), "cart_followup", CH(SMS), "sku-1");
	cr_expect_geq(f->at_ms, reminded[0] + 24 * HOUR_MS,
	        "a1's follow-up at %lld, before the reminder + 24 h (%lld)",
	        (long long) f->at_ms,
	        (long long) (reminded[0] + 24 * HOUR_MS));
	cr_expect_eq(jnyflow_count(m, n, j, "a2", 1), 0, "a2 opened");
	cr_expect_eq(jnyflow_count(m, n, NULL, "a3", -1), 0, "a3 bought");
	cr_expect_eq(jnyflow_count(m, n, NULL, "a4", -1), 0, "a4: history");
	free(m);
	clm_close(c);
}

Test(jny_flow, post_purchase_reentry_once)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "post-purchase", POST_JSON);
	const char *j = "post-purchase";

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "p1", "p1-buy1", TP(PURCHASE), t0, "sku-1", NULL);
	jnyflow_track1(c, "p2", "p2-buy1", TP(PURCHASE), t0, "sku-2", NULL);
	jnyflow_expect_counter(c, j, JC_ENTERED, 0, 2, SOON_MS, "purchases");

	/* The thank-you after 1 h; then p2 refers someone. */
	jnyflow_clock_to(&clk, HOUR_MS + 5 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_SENT, 0, 2, SOON_MS, "+1 h");
	jnyflow_track1(c, "p2", "p2-ref", TP(REFERRAL), jnyflow_now(&clk),
	        NULL, NULL);

	/* The referral ask 7 d after the thank-you, to p1 only. */
	jnyflow_clock_to(&clk, 7 * DAY_MS + 2 * HOUR_MS);
	jnyflow_expect_counter(c, j, JC_COMPLETED, 0, 2, SOON_MS, "+7 d");
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.step[1].sent, 1, "+7 d", "steps[1].sent");
	EXPECT_U64(s.step[1].skipped_condition, 1, "+7 d",
	        "steps[1].skipped_condition");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, j, &n);
	const struct jnyflow_msg *r = jnyflow_find(m, n, j, "p1", 1);
	cr_assert_not_null(r, "no referral ask for p1");
	jnyflow_expect_send(
	        r, RK(REFERRAL_INCENTIVE), "referral_ask", CH(EMAIL), "sku-1");
	const struct jnyflow_msg *t = jnyflow_find(m, n, j, "p1", 0);
	cr_assert_not_null(t, "no thank-you for p1");
	jnyflow_expect_send(
	        t, RK(LOYALTY_REWARD), "thank_you", CH(EMAIL), "sku-1");
	cr_expect_eq(jnyflow_count(m, n, j, "p2", 1), 0, "p2 referred");
	free(m);

	/*
	 * Reentry "once": p1's second purchase enters nobody. p3's first,
	 * a minute later in event time, is the barrier: once its thank-you is
	 * out, a thank-you of p1 would be too.
	 */
	int64_t now = jnyflow_now(&clk);
	jnyflow_track1(
	        c, "p1", "p1-buy2", TP(PURCHASE), now - MIN_MS, "sku-5", NULL);
	jnyflow_track1(c, "p3", "p3-buy1", TP(PURCHASE), now, "sku-3", NULL);
	jnyflow_expect_counter(c, j, JC_ENTERED, 0, 3, SOON_MS, "p3 bought");
	jnyflow_clock_to(&clk, 7 * DAY_MS + 4 * HOUR_MS);
	m = jnyflow_wait_feed(c, j, 4, SOON_MS, &n);
	cr_expect_eq(jnyflow_count(m, n, j, "p3", 0), 1, "p3's thank-you");
	cr_expect_eq(jnyflow_count(m, n, j, "p1", -1), 2,
	        "p1: one thank-you and one ask, however often it buys");
	cr_expect_eq(n, 4, "%zu messages, want 4 (p1 2, p2 1, p3 1)", n);
	free(m);
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.entered, 3, "the end", "entered");
	EXPECT_U64(s.active, 1, "the end", "active (p3)");
	clm_close(c);
}

Test(jny_flow, win_back_from_a_time_driven_segment_entry)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	clm_response_free(segflow_define(
	        c, "quiet-30d", "purchases >= 1 and since(last_seen) > 30d"));
	segflow_wait_backfill(c, "quiet-30d", SOON_MS);
	jnyflow_define(c, "win-back", WINBACK_JSON);
	const char *j = "win-back";

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "w1", "w1-buy", TP(PURCHASE), t0, "sku-1", NULL);
	jnyflow_track1(c, "w2", "w2-visit", TP(SITE_VISIT), t0, NULL, NULL);
	jnyflow_expect_counter(c, j, JC_ENTERED, 0, 0, SOON_MS, "bought");

	/* 31 days on: w1 enters quiet-30d, and so the journey. */
	jnyflow_clock_to(&clk, 31 * DAY_MS);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, j, 1, SOON_MS, &n);
	cr_assert_eq(n, 1, "%zu win-back messages, want 1", n);
	cr_expect_str_eq(m[0].customer, "w1");
	cr_expect_eq(m[0].step, 0);
	jnyflow_expect_send(&m[0], RK(WIN_BACK), "we_miss_you", CH(EMAIL), "");
	cr_expect_geq(m[0].at_ms, t0 + 30 * DAY_MS,
	        "sent at %lld, before the segment entry (%lld)",
	        (long long) m[0].at_ms, (long long) (t0 + 30 * DAY_MS));
	free(m);
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.entered, 1, "+31 d", "entered");
	EXPECT_U64(s.active, 1, "+31 d", "active");
	EXPECT_U64(s.step[1].waiting, 1, "+31 d", "steps[1].waiting");

	/* Buying again ends it. */
	jnyflow_track1(c, "w1", "w1-buy2", TP(PURCHASE), jnyflow_now(&clk),
	        "sku-2", NULL);
	jnyflow_expect_counter(c, j, JC_EXITED, 0, 1, SOON_MS, "w1 bought");
	jnyflow_expect_counter(c, j, JC_ACTIVE, 0, 0, SOON_MS, "w1 bought");
	m = jnyflow_feed(c, j, &n);
	cr_expect_eq(n, 1, "%zu messages after the exit", n);
	free(m);
	clm_close(c);
}

Test(jny_flow, triggers_by_stage_and_by_risk_reason)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "to-retention",
	        "{\"name\": \"to-retention\", \"trigger\": {\"stage\": "
	        "\"RETENTION\"}, \"steps\": [{\"wait\": \"10m\", \"send\": "
	        "{\"kind\": \"LOYALTY_REWARD\", \"action\": \"welcome_back\", "
	        "\"channel\": \"EMAIL\"}}]}");
	jnyflow_define(c, "billing-help",
	        "{\"name\": \"billing-help\", \"trigger\": {\"risk\": "
	        "\"RECENT_BILLING_ISSUE\"}, \"reentry\": \"7d\", \"steps\": "
	        "[{\"wait\": \"10m\", \"send\": {\"kind\": "
	        "\"NEXT_BEST_ACTION\", \"action\": \"update_payment\", "
	        "\"channel\": \"EMAIL\"}}]}");

	int64_t t0 = jnyflow_now(&clk);
	/* s1 buys twice (RETENTION); s2 once (ACQUISITION). */
	jnyflow_track1(c, "s1", "s1-b1", TP(PURCHASE), t0 - MIN_MS, "x", NULL);
	jnyflow_track1(c, "s1", "s1-b2", TP(PURCHASE), t0, "y", NULL);
	jnyflow_track1(c, "s2", "s2-b1", TP(PURCHASE), t0, "x", NULL);
	/* r1 a billing issue now; r2 one 90 days old (no risk signal); r3 a
	 * support ticket. */
	jnyflow_track1(c, "r1", "r1-bill", TP(BILLING_ISSUE), t0, NULL, NULL);
	jnyflow_track1(c, "r2", "r2-bill", TP(BILLING_ISSUE), t0 - 90 * DAY_MS,
	        NULL, NULL);
	jnyflow_track1(c, "r3", "r3-tick", TP(SUPPORT_TICKET), t0, NULL, NULL);
	jnyflow_expect_counter(
	        c, "to-retention", JC_ENTERED, 0, 1, SOON_MS, "stage");
	jnyflow_expect_counter(
	        c, "billing-help", JC_ENTERED, 0, 1, SOON_MS, "risk");

	jnyflow_clock_to(&clk, 15 * MIN_MS);
	jnyflow_expect_counter(
	        c, "to-retention", JC_COMPLETED, 0, 1, SOON_MS, "+15 m");
	jnyflow_expect_counter(
	        c, "billing-help", JC_COMPLETED, 0, 1, SOON_MS, "+15 m");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 2, "%zu messages, want 2", n);
	const struct jnyflow_msg *a
	        = jnyflow_find(m, n, "to-retention", "s1", 0);
	cr_expect_not_null(a, "no message for s1");
	if (a != NULL) {
		jnyflow_expect_send(
		        a, RK(LOYALTY_REWARD), "welcome_back", CH(EMAIL), "");
	}
	const struct jnyflow_msg *b
	        = jnyflow_find(m, n, "billing-help", "r1", 0);
	cr_expect_not_null(b, "no message for r1");
	if (b != NULL) {
		jnyflow_expect_send(b, RK(NEXT_BEST_ACTION), "update_payment",
		        CH(EMAIL), "");
	}
	free(m);

	/* reentry "7d": another billing issue 20 minutes after the first
	 * enters nobody; one 8 days after does. */
	jnyflow_clock_to(&clk, 20 * MIN_MS);
	jnyflow_track1(c, "r1", "r1-bill2", TP(BILLING_ISSUE),
	        jnyflow_now(&clk), NULL, NULL);
	jnyflow_expect_counter(
	        c, "billing-help", JC_ENTERED, 0, 1, SOON_MS, "within 7 d");
	jnyflow_expect_counter(
	        c, "billing-help", JC_ACTIVE, 0, 0, SOON_MS, "within 7 d");
	jnyflow_clock_to(&clk, 8 * DAY_MS);
	jnyflow_track1(c, "r1", "r1-bill3", TP(BILLING_ISSUE),
	        jnyflow_now(&clk), NULL, NULL);
	jnyflow_expect_counter(
	        c, "billing-help", JC_ENTERED, 0, 2, SOON_MS, "after 7 d");
	clm_close(c);
}

/*
 * cap_messages 1 per channel in 1 day: cap-a's message holds back cap-b's
 * ("wait": sent when the cap frees) and cap-c's ("skip": counted), and a
 * Recommend claim on EMAIL; for k2, a Recommend claim made first holds
 * back both journeys' messages, and whatever the order they go out one
 * day apart.
 */
Test(jny_flow, caps_hold_across_journeys_and_claims)
{
	struct jnyflow_clock clk;
	const char *extra[] = { "--cap-messages", "1", "--cap-days", "1",
		"--quiet-hours", "0", NULL };
	jnyflow_start(&srv, &clk, extra);
	clm_conn *c = flow_connect_to(&srv);
	jny_flow_simple(c, "cap-a", "10m", "a_first", "EMAIL", NULL);
	jny_flow_simple(c, "cap-b", "20m", "b_wait", "EMAIL", NULL);
	jny_flow_simple(c, "cap-c", "20m", "c_skip", "EMAIL",
	        ", \"when_capped\": \"skip\"");

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "k1", "k1-cart", TP(ADD_TO_CART), t0, "sku", NULL);
	jnyflow_track1(c, "k2", "k2-cart", TP(ADD_TO_CART), t0, "sku", NULL);
	jnyflow_expect_counter(c, "cap-c", JC_ENTERED, 0, 2, SOON_MS, "carts");
	int64_t claim_from = jnyflow_now(&clk);
	cr_assert_eq(jnyflow_claim(c, "k2", CH(EMAIL)), 1, "k2's claim");
	int64_t claim_to = jnyflow_now(&clk);

	/* +25 m: cap-a sent to k1 only; cap-c skipped for both; cap-b
	 * waits for both. */
	jnyflow_clock_to(&clk, 25 * MIN_MS);
	jnyflow_expect_counter(
	        c, "cap-c", JC_SKIP_CAP, 0, 2, SOON_MS, "+25 m");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 1, "+25 m: %zu messages, want k1's cap-a", n);
	const struct jnyflow_msg *a1 = jnyflow_find(m, n, "cap-a", "k1", 0);
	cr_assert_not_null(a1, "no cap-a for k1");
	int64_t k1_first = a1->at_ms;
	free(m);
	/* The journey's message holds back a claim on its channel too. */
	cr_expect_eq(jnyflow_claim(c, "k1", CH(EMAIL)), 0,
	        "k1's claim after cap-a's message");
	cr_expect_eq(jny_flow_sent_touches(c, "k1"), 1, "k1's MESSAGE_SENT");
	struct jnyflow_stats s;
	jnyflow_stats(c, "cap-b", &s);
	EXPECT_U64(s.step[0].sent, 0, "+25 m", "cap-b sent");
	EXPECT_U64(s.step[0].skipped_capped, 0, "+25 m", "cap-b skipped");
	EXPECT_U64(s.active, 2, "+25 m", "cap-b active");
	EXPECT_U64(s.step[0].waiting, 2, "+25 m", "cap-b waiting");
	jnyflow_stats(c, "cap-a", &s);
	EXPECT_U64(s.step[0].sent, 1, "+25 m", "cap-a sent");
	EXPECT_U64(s.step[0].waiting, 1, "+25 m", "cap-a waiting (k2)");

	/* +1 d 30 m: the caps freed: k1's cap-b, and one of k2's. */
	jnyflow_clock_to(&clk, DAY_MS + 30 * MIN_MS);
	m = jnyflow_wait_feed(c, NULL, 3, SOON_MS, &n);
	cr_expect_eq(n, 3, "+1 d: %zu messages, want 3", n);
	const struct jnyflow_msg *b1 = jnyflow_find(m, n, "cap-b", "k1", 0);
	cr_assert_not_null(b1, "no cap-b for k1");
	cr_expect_geq(b1->at_ms, k1_first + DAY_MS,
	        "k1's cap-b at %lld, within a day of cap-a (%lld)",
	        (long long) b1->at_ms, (long long) k1_first);
	cr_expect_eq(jnyflow_count(m, n, NULL, "k2", -1), 1,
	        "+1 d: k2 gets one message");
	int64_t k2_first = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].customer, "k2") == 0) {
			k2_first = m[i].at_ms;
		}
	}
	cr_expect_geq(k2_first, claim_from + DAY_MS,
	        "k2's first journey message at %lld, within a day of its "
	        "claim (%lld..%lld)",
	        (long long) k2_first, (long long) claim_from,
	        (long long) claim_to);
	free(m);

	/* +2 d 1 h: k2's other one, a day after its first. */
	jnyflow_clock_to(&clk, 2 * DAY_MS + HOUR_MS);
	m = jnyflow_wait_feed(c, NULL, 4, SOON_MS, &n);
	cr_expect_eq(n, 4, "+2 d: %zu messages, want 4", n);
	cr_expect_eq(jnyflow_count(m, n, "cap-a", "k2", 0), 1, "k2 cap-a");
	cr_expect_eq(jnyflow_count(m, n, "cap-b", "k2", 0), 1, "k2 cap-b");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].customer, "k2") == 0
		        && m[i].at_ms != k2_first) {
			cr_expect_geq(m[i].at_ms, k2_first + DAY_MS,
			        "k2's messages %lld and %lld within a day",
			        (long long) k2_first, (long long) m[i].at_ms);
		}
	}
	free(m);
	jnyflow_stats(c, "cap-c", &s);
	EXPECT_U64(s.step[0].sent, 0, "the end", "cap-c sent");
	EXPECT_U64(s.completed, 2, "the end", "cap-c completed");
	clm_close(c);
}

/*
 * quiet_hours 24 (docs/api.md "Frequency capping": at most one message
 * per channel while quiet hours last): q-email's message holds back
 * q-email2's, on the same channel, for 24 h; q-sms, on another channel,
 * goes out when due.
 */
Test(jny_flow, quiet_hours_hold_the_channel)
{
	struct jnyflow_clock clk;
	const char *extra[]
	        = { "--cap-messages", "8", "--quiet-hours", "24", NULL };
	jnyflow_start(&srv, &clk, extra);
	clm_conn *c = flow_connect_to(&srv);
	jny_flow_simple(c, "q-email", "10m", "q_email", "EMAIL", NULL);
	jny_flow_simple(c, "q-email2", "20m", "q_email2", "EMAIL", NULL);
	jny_flow_simple(c, "q-sms", "20m", "q_sms", "SMS", NULL);

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "h1", "h1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_clock_to(&clk, 30 * MIN_MS);
	jnyflow_expect_counter(c, "q-email", JC_SENT, 0, 1, SOON_MS, "+30 m");
	jnyflow_expect_counter(c, "q-sms", JC_SENT, 0, 1, SOON_MS, "+30 m");
	struct jnyflow_stats s;
	jnyflow_stats(c, "q-email2", &s);
	EXPECT_U64(s.step[0].skipped_capped, 0, "+30 m", "q-email2 skipped");
	EXPECT_U64(s.step[0].waiting, 1, "+30 m", "q-email2 waiting");

	jnyflow_clock_to(&clk, 24 * HOUR_MS + 40 * MIN_MS);
	jnyflow_expect_counter(c, "q-email2", JC_SENT, 0, 1, SOON_MS, "+24 h");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, NULL, &n);
	cr_assert_eq(n, 3, "%zu messages, want 3", n);
	const struct jnyflow_msg *e = jnyflow_find(m, n, "q-email", "h1", 0);
	const struct jnyflow_msg *q = jnyflow_find(m, n, "q-email2", "h1", 0);
	const struct jnyflow_msg *x = jnyflow_find(m, n, "q-sms", "h1", 0);
	cr_assert(e != NULL && q != NULL && x != NULL);
	cr_expect_geq(q->at_ms, e->at_ms + 24 * HOUR_MS,
	        "the second email at %lld, within quiet hours of the first "
	        "(%lld)",
	        (long long) q->at_ms, (long long) e->at_ms);
	cr_expect_lt(x->at_ms, e->at_ms + HOUR_MS,
	        "the SMS at %lld, held back by the email (%lld)",
	        (long long) x->at_ms, (long long) e->at_ms);
	free(m);
	clm_close(c);
}

#define REDEF_V1                                                            \
	"{\"name\": \"redef\", \"trigger\": {\"event\": \"ADD_TO_CART\"}, " \
	"\"steps\": ["                                                      \
	"{\"wait\": \"10m\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", "   \
	"\"action\": \"v1_s0\", \"channel\": \"EMAIL\"}},"                  \
	"{\"wait\": \"1h\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", "    \
	"\"action\": \"v1_s1\", \"channel\": \"EMAIL\"}},"                  \
	"{\"wait\": \"1h\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", "    \
	"\"action\": \"v1_s2\", \"channel\": \"EMAIL\"}}]}"
#define REDEF_V2                                                            \
	"{\"name\": \"redef\", \"trigger\": {\"event\": \"ADD_TO_CART\"}, " \
	"\"steps\": ["                                                      \
	"{\"wait\": \"10m\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", "   \
	"\"action\": \"v2_s0\", \"channel\": \"EMAIL\"}},"                  \
	"{\"wait\": \"1h\", \"send\": {\"kind\": \"UPSELL\", "              \
	"\"action\": \"v2_s1\", \"channel\": \"SMS\"}}]}"

/*
 * r3 enters 2 h before r1 (its first step is due at once): when the
 * journey is redefined to two steps, r1 is at step 1 and r3 at step 2,
 * past the new last step. r1 goes on with the new step 1; r3 completes
 * when its timer fires, sending nothing.
 */
Test(jny_flow, redefined_while_customers_are_in_it)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	const char *j = "redef";
	cr_expect_not(jnyflow_define(c, j, REDEF_V1));

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "r3", "r3-cart", TP(ADD_TO_CART), t0 - 2 * HOUR_MS,
	        NULL, NULL);
	jnyflow_track1(c, "r1", "r1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	/* r3's first step was due 1 h 50 m ago: it runs at once. */
	jnyflow_expect_counter(c, j, JC_SENT, 0, 1, SOON_MS, "r3's step 0");
	/* +15 m: r1's step 0. +1 h 10 m: r3's step 1 (due 1 h after its
	 * step 0 ran, about now). */
	jnyflow_clock_to(&clk, 15 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_SENT, 0, 2, SOON_MS, "r1's step 0");
	jnyflow_clock_to(&clk, HOUR_MS + 10 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_SENT, 1, 1, SOON_MS, "r3's step 1");
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.step[1].waiting, 1, "before", "steps[1].waiting (r1)");
	EXPECT_U64(s.step[2].waiting, 1, "before", "steps[2].waiting (r3)");

	cr_expect(jnyflow_define(c, j, REDEF_V2), "replaced");
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.entered, 2, "redefined", "entered");
	EXPECT_U64(s.active, 2, "redefined", "active");
	EXPECT_U64(s.step[0].sent, 2, "redefined", "steps[0].sent");
	EXPECT_U64(s.step[1].sent, 1, "redefined", "steps[1].sent");

	/* +1 h 20 m: r1's step 1 under the new definition. */
	jnyflow_clock_to(&clk, HOUR_MS + 20 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_SENT, 1, 2, SOON_MS, "r1's step 1");
	/* +2 h 20 m: r3's timer fires: past the last step, it completes. */
	jnyflow_clock_to(&clk, 2 * HOUR_MS + 20 * MIN_MS);
	jnyflow_expect_counter(c, j, JC_COMPLETED, 0, 2, SOON_MS, "+2 h 20 m");
	jnyflow_expect_counter(c, j, JC_ACTIVE, 0, 0, SOON_MS, "+2 h 20 m");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, j, &n);
	cr_expect_eq(n, 4, "%zu messages, want 4", n);
	const struct jnyflow_msg *x = jnyflow_find(m, n, j, "r1", 1);
	cr_assert_not_null(x, "no step 1 for r1");
	jnyflow_expect_send(x, RK(UPSELL), "v2_s1", CH(SMS), "");
	x = jnyflow_find(m, n, j, "r1", 0);
	cr_assert_not_null(x, "no step 0 for r1");
	jnyflow_expect_send(x, RK(NEXT_BEST_ACTION), "v1_s0", CH(EMAIL), "");
	cr_expect_eq(jnyflow_count(m, n, j, NULL, 2), 0, "a step 2 was sent");
	free(m);
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.step[2].sent, 0, "the end", "steps[2].sent");
	clm_close(c);
}

/*
 * Deleting: d1 is in del-me (step 1 due at +1 h 10 m) and in del-keep
 * (its only step due at +1 h 30 m, the barrier). After the delete,
 * del-me's step 1 never runs, GetJourney says NOT_FOUND, and a new
 * del-me starts empty.
 */
Test(jny_flow, deleted_while_customers_are_in_it)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "del-me",
	        "{\"name\": \"del-me\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"steps\": ["
	        "{\"wait\": \"10m\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"d0\", \"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"d1\", \"channel\": \"EMAIL\"}}]}");
	jny_flow_simple(c, "del-keep", "90m", "keep", "SMS", NULL);

	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "d1", "d1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_clock_to(&clk, 15 * MIN_MS);
	jnyflow_expect_counter(c, "del-me", JC_SENT, 0, 1, SOON_MS, "+15 m");

	cr_expect(jnyflow_delete(c, "del-me"), "existed");
	cr_expect_not(jnyflow_delete(c, "del-me"), "existed twice");
	Clm__V1__Response *r = jnyflow_get_call(c, "del-me");
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "get: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	r = jnyflow_list(c);
	cr_expect_eq(r->list_journeys->n_journeys, 1, "listed");
	if (r->list_journeys->n_journeys > 0) {
		cr_expect_str_eq(
		        r->list_journeys->journeys[0]->name, "del-keep");
	}
	clm_response_free(r);

	jnyflow_clock_to(&clk, 2 * HOUR_MS);
	jnyflow_expect_counter(c, "del-keep", JC_SENT, 0, 1, SOON_MS, "+2 h");
	size_t n;
	struct jnyflow_msg *m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(jnyflow_count(m, n, "del-me", "d1", 1), 0,
	        "del-me's step 1 ran after the delete");
	cr_expect_eq(jnyflow_count(m, n, "del-keep", "d1", 0), 1, "del-keep");
	free(m);

	/* A new del-me: nobody in it, and a new cart enters d1 again. */
	cr_expect_not(
	        jnyflow_define(c, "del-me",
	                "{\"name\": \"del-me\", \"trigger\": {\"event\": "
	                "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"1h\", "
	                "\"send\": {\"kind\": \"CART_REMINDER\", "
	                "\"action\": \"again\", \"channel\": "
	                "\"EMAIL\"}}]}"),
	        "replaced a deleted journey");
	struct jnyflow_stats s;
	jnyflow_stats(c, "del-me", &s);
	EXPECT_U64(s.entered, 0, "new del-me", "entered");
	EXPECT_U64(s.active, 0, "new del-me", "active");
	EXPECT_U64(s.step[0].sent, 0, "new del-me", "steps[0].sent");
	EXPECT_U64(s.step[1].sent, 0, "new del-me", "steps[1].sent");
	jnyflow_track1(c, "d1", "d1-cart2", TP(ADD_TO_CART), jnyflow_now(&clk),
	        NULL, NULL);
	jnyflow_expect_counter(
	        c, "del-me", JC_ENTERED, 0, 1, SOON_MS, "again");
	jnyflow_expect_counter(c, "del-me", JC_ACTIVE, 0, 1, SOON_MS, "again");
	clm_close(c);
}

Test(jny_flow, forget_customer_removes_its_messages)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	const char *j = "fg";
	jnyflow_define(c, j,
	        "{\"name\": \"fg\", \"trigger\": {\"event\": \"ADD_TO_CART\"}, "
	        "\"steps\": ["
	        "{\"wait\": \"10m\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"f0\", \"channel\": \"EMAIL\"}},"
	        "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"f1\", \"channel\": \"EMAIL\"}}]}");
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "f1", "f1-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_track1(c, "f2", "f2-cart", TP(ADD_TO_CART), t0, NULL, NULL);
	jnyflow_clock_to(&clk, 15 * MIN_MS);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, j, 2, SOON_MS, &n);
	cr_assert_eq(n, 2, "%zu messages, want 2", n);
	free(m);

	clm_response_free(flow_forget(c, "f1"));
	m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 1, "after the forget: %zu messages, want 1", n);
	cr_expect_eq(jnyflow_count(m, n, NULL, "f1", -1), 0, "f1's messages");
	cr_expect_eq(jnyflow_count(m, n, j, "f2", 0), 1, "f2's message");
	free(m);
	struct jnyflow_stats s;
	jnyflow_stats(c, j, &s);
	EXPECT_U64(s.removed, 1, "forgotten", "removed");
	EXPECT_U64(s.active, 1, "forgotten", "active");
	EXPECT_U64(s.step[1].waiting, 1, "forgotten", "steps[1].waiting");

	/* f2's step 1 is the barrier: f1 gets nothing more. */
	jnyflow_clock_to(&clk, 2 * HOUR_MS);
	jnyflow_expect_counter(c, j, JC_SENT, 1, 1, SOON_MS, "+2 h");
	m = jnyflow_feed(c, NULL, &n);
	cr_expect_eq(n, 2, "+2 h: %zu messages, want 2", n);
	cr_expect_eq(jnyflow_count(m, n, NULL, "f1", -1), 0, "f1's messages");
	free(m);
	clm_close(c);
}

/*
 * Only known customers enter: an anonymous ADD_TO_CART enters nobody, nor
 * does its Identify; a later one does (its message id names the later
 * entry instant). A CUSTOM trigger with a name enters on that name only.
 */
Test(jny_flow, anonymous_and_custom_triggers)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_flow_no_quiet);
	clm_conn *c = flow_connect_to(&srv);
	jny_flow_simple(c, "anon-cart", "10m", "anon_cart", "EMAIL", NULL);
	jnyflow_define(c, "trial",
	        "{\"name\": \"trial\", \"trigger\": {\"event\": \"CUSTOM\", "
	        "\"name\": \"trial_started\"}, \"steps\": [{\"wait\": \"10m\", "
	        "\"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": "
	        "\"trial_tips\", \"channel\": \"EMAIL\"}}]}");

	int64_t t0 = jnyflow_now(&clk);
	struct flow_tp anon = { NULL, "dev-1", "dev-1-cart", TP(ADD_TO_CART),
		CH(DIRECT), t0 - 5 * MIN_MS, 0, 0, 0 };
	flow_track(c, &anon, 1);
	Clm__V1__Response *r = NULL;
	clm_err e = clm_identify(c, "dev-1", "n1", NULL, NULL, 0, &r);
	cr_assert_eq(e, CLM_OK, "identify: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	clm_response_free(r);
	jnyflow_track1(
	        c, "x1", "x1-trial", TP(CUSTOM), t0, NULL, "trial_started");
	jnyflow_track1(c, "x2", "x2-other", TP(CUSTOM), t0, NULL, "other");
	jnyflow_expect_counter(c, "trial", JC_ENTERED, 0, 1, SOON_MS, "trial");
	jnyflow_expect_counter(
	        c, "anon-cart", JC_ENTERED, 0, 0, SOON_MS, "identified");

	jnyflow_clock_to(&clk, MIN_MS);
	int64_t t1 = jnyflow_now(&clk);
	jnyflow_track1(c, "n1", "n1-cart", TP(ADD_TO_CART), t1, NULL, NULL);
	jnyflow_expect_counter(
	        c, "anon-cart", JC_ENTERED, 0, 1, SOON_MS, "n1's own cart");
	jnyflow_clock_to(&clk, 20 * MIN_MS);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, NULL, 2, SOON_MS, &n);
	cr_expect_eq(n, 2, "%zu messages, want 2", n);
	const struct jnyflow_msg *a = jnyflow_find(m, n, "anon-cart", "n1", 0);
	cr_assert_not_null(a, "no message for n1");
	char want[48];
	jnyflow_message_id(1, "n1", t1, 0, want);
	cr_expect_str_eq(
	        a->message_id, want, "n1 entered at %lld", (long long) t1);
	cr_expect_not_null(jnyflow_find(m, n, "trial", "x1", 0), "x1");
	cr_expect_eq(jnyflow_count(m, n, NULL, "x2", -1), 0, "x2");
	free(m);
	clm_close(c);
}
