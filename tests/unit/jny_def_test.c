/*
 * Unit tests of a journey's definition (server/core/journey.c,
 * journey_json.c; docs/journeys.md "Definition", "Triggers",
 * "since_entry", "Messages"): every example of the docs parses into what
 * it says, bad definitions fail with their exact message (the JSON path,
 * then why), the normalised JSON (exact, and the same again when
 * parsed; over many generated definitions in jny_norm_test.c), the
 * redacted copy, the limits, what the conditions need, and the message
 * ids.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/journey.h"
#include "core/model.h"

#define H 3600000LL
#define D 86400000LL

/* jny_parse of json from a buffer of exactly its length (no NUL after). */
static clm_err
parse_n(const char *json, size_t len, struct jny_def **d,
        struct jny_error *err)
{
	char *copy = malloc(len == 0 ? 1 : len);
	cr_assert_not_null(copy);
	memcpy(copy, json, len);
	*d = NULL;
	clm_err e = jny_parse(copy, len, d, err);
	free(copy);
	return e;
}

static struct jny_def *
parse_ok(const char *json)
{
	struct jny_def *d;
	struct jny_error err;
	clm_err e = parse_n(json, strlen(json), &d, &err);
	cr_assert_eq(e, CLM_OK, "'%s' does not parse: %s", json, err.msg);
	cr_assert_not_null(d);
	cr_assert_eq(strlen(d->json), d->json_len);
	return d;
}

/* d's normalised JSON parses into the same text. */
static void
expect_idempotent(const struct jny_def *d)
{
	struct jny_def *d2 = parse_ok(d->json);
	cr_expect_str_eq(d2->json, d->json);
	jny_free(d2);
}

/* ---------------------------------------------------------------------- */
/* The examples of docs/journeys.md.                                      */

Test(jny_def, cart_recovery)
{
	struct jny_def *d = parse_ok(
	        "{\"name\": \"cart-recovery\",\n"
	        " \"trigger\": {\"event\": \"ADD_TO_CART\"},\n"
	        " \"exit\": \"count(PURCHASE, since_entry) >= 1\",\n"
	        " \"reentry\": \"always\",\n"
	        " \"max_lateness\": \"1d\",\n"
	        " \"steps\": [\n"
	        "   {\"wait\": \"1h\",\n"
	        "    \"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
	        "\"cart_reminder\", \"channel\": \"EMAIL\"}},\n"
	        "   {\"wait\": \"24h\", \"if\": \"count(EMAIL_OPEN, "
	        "since_entry) = 0\",\n"
	        "    \"send\": {\"kind\": \"CART_REMINDER\", \"action\": "
	        "\"cart_followup\", \"channel\": \"SMS\"},\n"
	        "    \"when_capped\": \"skip\"}]}");
	cr_expect_str_eq(d->name, "cart-recovery");
	cr_expect_eq(d->trigger, JNY_TRIGGER_EVENT);
	cr_expect_eq(d->value, MODEL_T_ADD_TO_CART);
	cr_expect_null(d->trigger_name);
	cr_expect_not_null(d->exit);
	cr_expect_eq(d->reentry, JNY_REENTRY_ALWAYS);
	cr_expect_eq(d->max_lateness_ms, D);
	cr_assert_eq(d->n_steps, 2);
	cr_expect_eq(d->steps[0].wait_ms, H);
	cr_expect_null(d->steps[0].cond);
	cr_expect_eq(d->steps[0].kind, 4); /* CART_REMINDER */
	cr_expect_str_eq(d->steps[0].action, "cart_reminder");
	cr_expect_eq(d->steps[0].channel, 5); /* EMAIL */
	cr_expect_null(d->steps[0].item);
	cr_expect_eq(d->steps[0].when_capped, JNY_CAPPED_WAIT);
	cr_expect_eq(d->steps[1].wait_ms, 24 * H);
	cr_expect_not_null(d->steps[1].cond);
	cr_expect_str_eq(d->steps[1].action, "cart_followup");
	cr_expect_eq(d->steps[1].channel, 12); /* SMS */
	cr_expect_eq(d->steps[1].when_capped, JNY_CAPPED_SKIP);
	cr_expect_null(d->webhook_url);
	cr_expect_str_eq(d->json,
	        "{\"name\": \"cart-recovery\", \"trigger\": {\"event\": "
	        "\"ADD_TO_CART\"}, \"exit\": \"count(PURCHASE, since_entry) "
	        ">= 1\", \"reentry\": \"always\", \"max_lateness\": \"1d\", "
	        "\"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
	        "\"CART_REMINDER\", \"action\": \"cart_reminder\", "
	        "\"channel\": \"EMAIL\"}, \"when_capped\": \"wait\"}, "
	        "{\"wait\": \"24h\", \"if\": \"count(EMAIL_OPEN, "
	        "since_entry) = 0\", \"send\": {\"kind\": \"CART_REMINDER\", "
	        "\"action\": \"cart_followup\", \"channel\": \"SMS\"}, "
	        "\"when_capped\": \"skip\"}]}");
	int64_t window;
	bool since;
	jny_needs(d, &window, &since);
	cr_expect_eq(window, 0);
	cr_expect(since);
	expect_idempotent(d);
	jny_free(d);
}

Test(jny_def, post_purchase)
{
	struct jny_def *d = parse_ok(
	        "{\"name\": \"post-purchase\", \"trigger\": {\"event\": "
	        "\"PURCHASE\"}, \"reentry\": \"once\",\n"
	        " \"steps\": [\n"
	        "   {\"wait\": \"1h\", \"send\": {\"kind\": \"LOYALTY_REWARD\", "
	        "\"action\": \"thank_you\", \"channel\": \"EMAIL\"}},\n"
	        "   {\"wait\": \"7d\", \"if\": \"referrals = 0\",\n"
	        "    \"send\": {\"kind\": \"REFERRAL_INCENTIVE\", \"action\": "
	        "\"referral_ask\", \"channel\": \"EMAIL\"}}]}");
	cr_expect_eq(d->value, MODEL_T_PURCHASE);
	cr_expect_eq(d->reentry, JNY_REENTRY_ONCE);
	cr_expect_null(d->exit);
	cr_assert_eq(d->n_steps, 2);
	cr_expect_eq(d->steps[1].wait_ms, 7 * D);
	cr_expect_eq(d->steps[1].kind, 9); /* REFERRAL_INCENTIVE */
	cr_expect_str_eq(d->json,
	        "{\"name\": \"post-purchase\", \"trigger\": {\"event\": "
	        "\"PURCHASE\"}, \"reentry\": \"once\", \"max_lateness\": "
	        "\"1d\", \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
	        "\"LOYALTY_REWARD\", \"action\": \"thank_you\", \"channel\": "
	        "\"EMAIL\"}, \"when_capped\": \"wait\"}, {\"wait\": \"7d\", "
	        "\"if\": \"referrals = 0\", \"send\": {\"kind\": "
	        "\"REFERRAL_INCENTIVE\", \"action\": \"referral_ask\", "
	        "\"channel\": \"EMAIL\"}, \"when_capped\": \"wait\"}]}");
	int64_t window;
	bool since;
	jny_needs(d, &window, &since);
	cr_expect_not(since);
	expect_idempotent(d);
	jny_free(d);
}

Test(jny_def, third_purchase)
{
	struct jny_def *d = parse_ok(
	        "{\"name\": \"third-purchase\", \"trigger\": {\"event\": "
	        "\"PURCHASE\"}, \"reentry\": \"always\",\n"
	        " \"exit\": \"referrals >= 1\",\n"
	        " \"steps\": [{\"wait\": \"1d\", \"if\": \"purchases >= 3\",\n"
	        "   \"send\": {\"kind\": \"REFERRAL_INCENTIVE\", \"action\": "
	        "\"referral_ask\", \"channel\": \"EMAIL\"}}]}");
	cr_expect_not_null(d->exit);
	cr_assert_eq(d->n_steps, 1);
	cr_expect_eq(d->steps[0].wait_ms, D);
	/* Keys in the order of the docs, whatever the input's. */
	cr_expect_str_eq(d->json,
	        "{\"name\": \"third-purchase\", \"trigger\": {\"event\": "
	        "\"PURCHASE\"}, \"exit\": \"referrals >= 1\", \"reentry\": "
	        "\"always\", \"max_lateness\": \"1d\", \"steps\": [{\"wait\": "
	        "\"1d\", \"if\": \"purchases >= 3\", \"send\": {\"kind\": "
	        "\"REFERRAL_INCENTIVE\", \"action\": \"referral_ask\", "
	        "\"channel\": \"EMAIL\"}, \"when_capped\": \"wait\"}]}");
	expect_idempotent(d);
	jny_free(d);
}

Test(jny_def, win_back)
{
	struct jny_def *d = parse_ok(
	        "{\"name\": \"win-back\", \"trigger\": {\"segment\": "
	        "\"quiet-30d\"}, \"reentry\": \"90d\",\n"
	        " \"exit\": \"count(PURCHASE, since_entry) >= 1\",\n"
	        " \"steps\": [\n"
	        "   {\"wait\": \"0s\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"we_miss_you\", \"channel\": \"EMAIL\"}},\n"
	        "   {\"wait\": \"7d\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"win_back_discount\", \"channel\": \"EMAIL\"}},\n"
	        "   {\"wait\": \"14d\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"last_chance\", \"channel\": \"SMS\"}}]}");
	cr_expect_eq(d->trigger, JNY_TRIGGER_SEGMENT);
	cr_expect_eq(d->value, 0);
	cr_expect_str_eq(d->trigger_name, "quiet-30d");
	cr_expect_eq(d->reentry, JNY_REENTRY_AFTER);
	cr_expect_eq(d->reentry_ms, 90 * D);
	cr_assert_eq(d->n_steps, 3);
	cr_expect_eq(d->steps[0].wait_ms, 0);
	cr_expect_eq(d->steps[2].wait_ms, 14 * D);
	cr_expect(strstr(d->json,
	                  "\"trigger\": {\"segment\": \"quiet-30d\"}, "
	                  "\"exit\": \"count(PURCHASE, since_entry) >= 1\", "
	                  "\"reentry\": \"90d\", ")
	        != NULL);
	expect_idempotent(d);
	jny_free(d);
}

Test(jny_def, billing_help)
{
	struct jny_def *d = parse_ok(
	        "{\"name\": \"billing-help\", \"trigger\": {\"risk\": "
	        "\"RECENT_BILLING_ISSUE\"}, \"reentry\": \"7d\",\n"
	        " \"steps\": [{\"wait\": \"10m\", \"send\": {\"kind\": "
	        "\"NEXT_BEST_ACTION\", \"action\": \"update_payment\", "
	        "\"channel\": \"EMAIL\"}}]}");
	cr_expect_eq(d->trigger, JNY_TRIGGER_RISK);
	cr_expect_eq(d->value, MODEL_RECENT_BILLING_ISSUE);
	cr_expect_eq(d->reentry_ms, 7 * D);
	cr_expect_eq(d->steps[0].wait_ms, 10 * 60000);
	expect_idempotent(d);
	jny_free(d);
}

Test(jny_def, other_triggers_and_webhook)
{
	struct jny_def *d = parse_ok(
	        "{\"steps\": [{\"send\": {\"item\": \"sku-\\u00e9\", "
	        "\"channel\": \"APP_NOTIFICATION\", \"action\": \"try it\", "
	        "\"kind\": \"UPSELL\"}, \"when_capped\": \"wait\", \"wait\": "
	        "\"0030m\"}], \"webhook\": {\"max_attempts\": 3, \"secret\": "
	        "\"s3cr\\\"t\", \"url\": \"http://127.0.0.1:8080/hook\"}, "
	        "\"max_lateness\": \"2h\", \"trigger\": {\"name\": "
	        "\"trial_started\", \"event\": \"CUSTOM\"}, \"name\": \"t_1\"}");
	cr_expect_eq(d->trigger, JNY_TRIGGER_EVENT);
	cr_expect_eq(d->value, MODEL_T_CUSTOM);
	cr_expect_str_eq(d->trigger_name, "trial_started");
	cr_expect_eq(d->max_lateness_ms, 2 * H);
	cr_expect_eq(d->steps[0].wait_ms, 30 * 60000);
	cr_expect_str_eq(d->steps[0].item, "sku-\xc3\xa9");
	cr_expect_str_eq(d->webhook_url, "http://127.0.0.1:8080/hook");
	cr_expect_str_eq(d->webhook_secret, "s3cr\"t");
	cr_expect_eq(d->webhook_max_attempts, 3);
	cr_expect_str_eq(d->json,
	        "{\"name\": \"t_1\", \"trigger\": {\"event\": \"CUSTOM\", "
	        "\"name\": \"trial_started\"}, \"reentry\": \"always\", "
	        "\"max_lateness\": \"2h\", \"steps\": [{\"wait\": \"30m\", "
	        "\"send\": {\"kind\": \"UPSELL\", \"action\": \"try it\", "
	        "\"channel\": \"APP_NOTIFICATION\", \"item\": "
	        "\"sku-\xc3\xa9\"}, \"when_capped\": \"wait\"}], \"webhook\": "
	        "{\"url\": \"http://127.0.0.1:8080/hook\", \"secret\": "
	        "\"s3cr\\\"t\", \"max_attempts\": 3}}");
	expect_idempotent(d);
	jny_free(d);

	d = parse_ok(
	        "{\"name\": \"s\", \"trigger\": {\"stage\": \"RETENTION\"}, "
	        "\"steps\": [{\"send\": {\"kind\": \"CROSS_SELL\", "
	        "\"action\": \"a\", \"channel\": \"IN_APP\"}}], "
	        "\"webhook\": {\"url\": \"http://h\", \"secret\": \"k\"}}");
	cr_expect_eq(d->trigger, JNY_TRIGGER_STAGE);
	cr_expect_eq(d->value, 4); /* RETENTION */
	cr_expect_eq(d->webhook_max_attempts, JNY_ATTEMPTS_DEFAULT);
	cr_expect(strstr(d->json, "\"trigger\": {\"stage\": \"RETENTION\"}")
	        != NULL);
	cr_expect(strstr(d->json, "\"max_attempts\": 10}}") != NULL);
	expect_idempotent(d);
	jny_free(d);

	/*
	 * An https:// webhook, the smallest and a longer one, kept as given
	 * in the normalised form.
	 */
	d = parse_ok("{\"name\": \"s\", \"trigger\": {\"event\": "
	             "\"PURCHASE\"}, \"steps\": [{\"send\": {\"kind\": "
	             "\"WIN_BACK\", \"action\": \"a\", \"channel\": "
	             "\"SMS\"}}], \"webhook\": {\"url\": \"https://h\", "
	             "\"secret\": \"k\"}}");
	cr_expect_str_eq(d->webhook_url, "https://h");
	cr_expect(strstr(d->json,
	                  "\"webhook\": {\"url\": \"https://h\", "
	                  "\"secret\": \"k\", \"max_attempts\": 10}}")
	                != NULL,
	        "%s", d->json);
	expect_idempotent(d);
	jny_free(d);
	d = parse_ok("{\"name\": \"s\", \"trigger\": {\"event\": "
	             "\"PURCHASE\"}, \"steps\": [{\"send\": {\"kind\": "
	             "\"WIN_BACK\", \"action\": \"a\", \"channel\": "
	             "\"SMS\"}}], \"webhook\": {\"url\": "
	             "\"https://hooks.example.com:8443/clm?x=1\", "
	             "\"secret\": \"k\"}}");
	cr_expect_str_eq(
	        d->webhook_url, "https://hooks.example.com:8443/clm?x=1");
	expect_idempotent(d);
	jny_free(d);

	/* A CUSTOM trigger without a name: any CUSTOM touchpoint. */
	d = parse_ok("{\"name\": \"c\", \"trigger\": {\"event\": \"CUSTOM\"}, "
	             "\"steps\": [{\"send\": {\"kind\": \"CROSS_SELL\", "
	             "\"action\": \"a\", \"channel\": \"IN_APP\"}}]}");
	cr_expect_eq(d->value, MODEL_T_CUSTOM);
	cr_expect_null(d->trigger_name);
	jny_free(d);
}

/* ---------------------------------------------------------------------- */
/* Bad definitions, each with its exact message.                          */

/* A valid definition's members, to build bad ones around. */
#define TRIG "\"trigger\": {\"event\": \"PURCHASE\"}"
#define SEND \
	"\"send\": {\"kind\": \"WIN_BACK\", \"action\": \"a\", \"channel\": \"SMS\"}"
#define STEPS "\"steps\": [{" SEND "}]"
/* What webhook.url must be (jny_url_ok). */
#define URL_WHAT \
	"an http:// or https:// URL of at most 1024 bytes, without spaces"
#define OK "{\"name\": \"x\", " TRIG ", " STEPS "}"
/* OK with more members (m: a string of members and a comma). */
#define WITH(m)         "{\"name\": \"x\", " TRIG ", " m STEPS "}"
#define WITH_TRIGGER(t) "{\"name\": \"x\", \"trigger\": " t ", " STEPS "}"
#define WITH_STEP(s)    "{\"name\": \"x\", " TRIG ", \"steps\": [" s "]}"
#define WITH_SEND(s)    WITH_STEP("{\"send\": " s "}")

static const struct bad {
	const char *json;
	const char *msg;
} bad[] = {
	/* JSON itself */
	{ "", "invalid JSON at byte 0: unexpected end" },
	{ "  \n", "invalid JSON at byte 3: unexpected end" },
	{ "[]", "expected a JSON object, got an array" },
	{ "\"x\"", "expected a JSON object, got a string" },
	{ "null", "expected a JSON object, got null" },
	{ "{", "invalid JSON at byte 1: expected a string key" },
	{ "{\"name\": \"x\",}",
	        "invalid JSON at byte 13: expected a string key" },
	{ "{\"name\" \"x\"}", "invalid JSON at byte 8: expected ':'" },
	{ "{\"name\": \"x\" \"trigger\": 1}",
	        "invalid JSON at byte 13: expected ',' or '}'" },
	{ OK " {}",
	        "invalid JSON at byte 124: unexpected data after the "
	        "definition" },
	{ OK "x",
	        "invalid JSON at byte 123: unexpected data after the "
	        "definition" },
	{ "{\"name\": \"\xff\"}",
	        "name: invalid JSON at byte 10: invalid UTF-8 in string" },
	{ "{\"name\"\xff", "invalid JSON at byte 7: expected ':'" },
	{ "{\"name\": \"\\q\"}",
	        "name: invalid JSON at byte 10: invalid escape in string" },
	{ "{\"name\": x}", "name: invalid JSON at byte 9: expected a value" },
	{ "\xef\xbb\xbf" OK, "invalid JSON at byte 0: expected a value" },
	/* the definition's keys */
	{ "{\"nam\": \"x\"}", "unknown key \"nam\"" },
	{ WITH("\"Name\": \"y\", "), "unknown key \"Name\"" },
	{ "{\"name\": \"x\", \"name\": \"y\"}", "duplicate key \"name\"" },
	{ "{" TRIG ", " STEPS "}", "missing key \"name\"" },
	{ "{\"name\": \"x\", " STEPS "}", "missing key \"trigger\"" },
	{ "{\"name\": \"x\", " TRIG "}", "missing key \"steps\"" },
	/* name */
	{ "{\"name\": \"\"}",
	        "name: expected 1 to 64 bytes of a-z, 0-9, _ and -, got \"\"" },
	{ "{\"name\": \"Cart\"}",
	        "name: expected 1 to 64 bytes of a-z, 0-9, _ and -, got "
	        "\"Cart\"" },
	{ "{\"name\": 5}",
	        "name: expected 1 to 64 bytes of a-z, 0-9, _ and -, got a "
	        "number" },
	{ "{\"name\": \"a\\u0000\"}",
	        "name: expected 1 to 64 bytes of a-z, 0-9, _ and -, got "
	        "\"a\\u0000\"" },
	/* trigger */
	{ WITH_TRIGGER("\"PURCHASE\""),
	        "trigger: expected an object such as {\"event\": "
	        "\"PURCHASE\"}, got a string" },
	{ WITH_TRIGGER("{}"),
	        "trigger: expected one of event, segment, stage or risk" },
	{ WITH_TRIGGER("{\"event\": \"BUY\"}"),
	        "trigger.event: expected a TouchpointType name, got \"BUY\"" },
	{ WITH_TRIGGER("{\"event\": \"TOUCHPOINT_TYPE_UNSPECIFIED\"}"),
	        "trigger.event: expected a TouchpointType name, got "
	        "\"TOUCHPOINT_TYPE_UNSPECIFIED\"" },
	{ WITH_TRIGGER("{\"event\": \"purchase\"}"),
	        "trigger.event: expected a TouchpointType name, got "
	        "\"purchase\"" },
	{ WITH_TRIGGER("{\"event\": \"PURCHASE\", \"segment\": \"s\"}"),
	        "trigger.segment: a trigger has only one of event, segment, "
	        "stage or risk" },
	{ WITH_TRIGGER("{\"event\": \"PURCHASE\", \"name\": \"x\"}"),
	        "trigger.name: allowed only with \"event\": \"CUSTOM\"" },
	{ WITH_TRIGGER("{\"name\": \"x\"}"),
	        "trigger: expected one of event, segment, stage or risk" },
	{ WITH_TRIGGER("{\"event\": \"CUSTOM\", \"name\": \"\"}"),
	        "trigger.name: expected 1 to 200 bytes of printable UTF-8 "
	        "(an event_name), got \"\"" },
	{ WITH_TRIGGER("{\"event\": \"CUSTOM\", \"nme\": \"x\"}"),
	        "trigger: unknown key \"nme\"" },
	{ WITH_TRIGGER("{\"segment\": \"Bad Name\"}"),
	        "trigger.segment: expected a segment name (1 to 64 bytes of "
	        "a-z, 0-9, _ and -), got \"Bad Name\"" },
	{ WITH_TRIGGER("{\"stage\": \"STAGE_UNSPECIFIED\"}"),
	        "trigger.stage: expected a Stage name, got "
	        "\"STAGE_UNSPECIFIED\"" },
	{ WITH_TRIGGER("{\"risk\": \"LATE\"}"),
	        "trigger.risk: expected a RiskReason name, got \"LATE\"" },
	{ WITH_TRIGGER("{\"risk\": [\"INACTIVE\"]}"),
	        "trigger.risk: expected a RiskReason name, got an array" },
	/* exit */
	{ WITH("\"exit\": \"purchases >\", "),
	        "exit: at byte 11: expected a number such as 42" },
	{ WITH("\"exit\": \"\", "),
	        "exit: at byte 0: expected a condition such as stage = "
	        "RETENTION" },
	{ WITH("\"exit\": 1, "),
	        "exit: expected a condition in the segment language, got a "
	        "number" },
	{ WITH("\"exit\": \"count(PURCHASE, since_entri) > 0\", "),
	        "exit: at byte 16: expected a duration such as 30d" },
	/* reentry, max_lateness */
	{ WITH("\"reentry\": \"sometimes\", "),
	        "reentry: expected \"always\", \"once\" or a duration such as "
	        "\"30d\", got \"sometimes\"" },
	{ WITH("\"reentry\": \"3651d\", "),
	        "reentry: expected a duration of at most 3650d, got "
	        "\"3651d\"" },
	{ WITH("\"reentry\": true, "),
	        "reentry: expected \"always\", \"once\" or a duration such as "
	        "\"30d\", got a boolean" },
	{ WITH("\"max_lateness\": \"1w\", "),
	        "max_lateness: expected a duration such as \"1d\", got "
	        "\"1w\"" },
	{ WITH("\"max_lateness\": \"0s\", "),
	        "max_lateness: expected a duration of at least 1s, got "
	        "\"0s\"" },
	{ WITH("\"max_lateness\": \"9999999999999999999999d\", "),
	        "max_lateness: expected a duration of at most 3650d, got "
	        "\"9999999999999999999999d\"" },
	{ WITH("\"max_lateness\": \"1d\", \"max_lateness\": \"2d\", "),
	        "duplicate key \"max_lateness\"" },
	/* steps */
	{ "{\"name\": \"x\", " TRIG ", \"steps\": {}}",
	        "steps: expected an array of 1 to 32 steps, got an object" },
	{ WITH_STEP(""),
	        "steps: expected an array of 1 to 32 steps, got none" },
	{ WITH_STEP("1"),
	        "steps[0]: expected an object such as {\"send\": {...}}, got "
	        "a number" },
	{ WITH_STEP("{}"), "steps[0]: missing key \"send\"" },
	{ WITH_STEP("{" SEND "}, {\"wait\": \"1h\"}"),
	        "steps[1]: missing key \"send\"" },
	{ WITH_STEP("{" SEND "} {" SEND "}"),
	        "steps: invalid JSON at byte 122: expected ',' or ']'" },
	{ WITH_STEP("{" SEND ", \"wait\": \"1 h\"}"),
	        "steps[0].wait: expected a duration such as \"1h\", got "
	        "\"1 h\"" },
	{ WITH_STEP("{" SEND ", \"wait\": \"-1h\"}"),
	        "steps[0].wait: expected a duration such as \"1h\", got "
	        "\"-1h\"" },
	{ WITH_STEP("{" SEND ", \"wait\": null}"),
	        "steps[0].wait: expected a duration such as \"1h\", got null" },
	{ WITH_STEP("{" SEND ", \"if\": \"count(PURCHASE, 1d)\"}"),
	        "steps[0].if: at byte 19: expected a comparison after "
	        "'count(...)'" },
	{ WITH_STEP("{" SEND ", \"when_capped\": \"drop\"}"),
	        "steps[0].when_capped: expected \"wait\" or \"skip\", got "
	        "\"drop\"" },
	{ WITH_STEP("{" SEND ", \"when_capped\": \"1h\"}"),
	        "steps[0].when_capped: expected \"wait\" or \"skip\", got "
	        "\"1h\"" },
	{ WITH_STEP("{" SEND ", \"when_capped\": \"skip\", \"when_capped\": "
	            "\"wait\"}"),
	        "steps[0]: duplicate key \"when_capped\"" },
	{ WITH_STEP("{" SEND ", \"subject\": \"hi\"}"),
	        "steps[0]: unknown key \"subject\"" },
	/* send */
	{ WITH_STEP("{" SEND "}, {\"send\": {\"kind\": \"WIN_BACK\", "
	            "\"action\": \"a\", \"channel\": \"FAX\"}}"),
	        "steps[1].send.channel: expected a Channel name, got \"FAX\"" },
	{ WITH_SEND("{\"kind\": \"WIN_BACK\", \"action\": \"a\", \"channel\": "
	            "\"CHANNEL_UNSPECIFIED\"}"),
	        "steps[0].send.channel: expected a Channel name, got "
	        "\"CHANNEL_UNSPECIFIED\"" },
	{ WITH_SEND("{\"kind\": \"RECOMMENDATION_KIND_UNSPECIFIED\"}"),
	        "steps[0].send.kind: expected a RecommendationKind name, got "
	        "\"RECOMMENDATION_KIND_UNSPECIFIED\"" },
	{ WITH_SEND("{\"kind\": 4}"),
	        "steps[0].send.kind: expected a RecommendationKind name, got "
	        "a number" },
	{ WITH_SEND("{\"kind\": \"WIN_BACK\", \"channel\": \"SMS\"}"),
	        "steps[0].send: missing key \"action\"" },
	{ WITH_SEND("{\"action\": \"a\", \"channel\": \"SMS\"}"),
	        "steps[0].send: missing key \"kind\"" },
	{ WITH_SEND("{\"action\": \"\"}"),
	        "steps[0].send.action: expected 1 to 64 bytes of printable "
	        "ASCII, got \"\"" },
	{ WITH_SEND("{\"action\": \"caf\xc3\xa9\"}"),
	        "steps[0].send.action: expected 1 to 64 bytes of printable "
	        "ASCII, got \"caf\xc3\xa9\"" },
	{ WITH_SEND("{\"action\": "
	            "\"0123456789012345678901234567890123456789012345678901"
	            "2345678901234\"}"),
	        "steps[0].send.action: expected 1 to 64 bytes of printable "
	        "ASCII, got \"01234567890123456789012345678901\"... (65 "
	        "bytes)" },
	{ WITH_SEND("{\"item\": \"\"}"),
	        "steps[0].send.item: expected an item id (1 to 128 bytes of "
	        "printable UTF-8), got \"\"" },
	{ WITH_SEND("{\"item\": \"a\\nb\"}"),
	        "steps[0].send.item: expected an item id (1 to 128 bytes of "
	        "printable UTF-8), got \"a\\nb\"" },
	{ WITH_SEND("{\"kind\": \"WIN_BACK\", \"subject\": \"x\"}"),
	        "steps[0].send: unknown key \"subject\"" },
	{ WITH_SEND("\"WIN_BACK\""),
	        "steps[0].send: expected an object with kind, action and "
	        "channel, got a string" },
	/* webhook */
	{ WITH("\"webhook\": \"http://h\", "),
	        "webhook: expected an object with url and secret, got a "
	        "string" },
	{ WITH("\"webhook\": {\"url\": \"ftp://h\", \"secret\": \"s\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"ftp://h\"" },
	{ WITH("\"webhook\": {\"url\": \"http://a b\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"http://a b\"" },
	{ WITH("\"webhook\": {\"url\": \"http://\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"http://\"" },
	{ WITH("\"webhook\": {\"url\": \"https://\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"https://\"" },
	{ WITH("\"webhook\": {\"url\": \"https:///x\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"https:///x\"" },
	{ WITH("\"webhook\": {\"url\": \"HTTPS://h\"}, "),
	        "webhook.url: expected " URL_WHAT ", got \"HTTPS://h\"" },
	{ WITH("\"webhook\": {\"url\": \"https://h\xc3\xa9\"}, "),
	        "webhook.url: expected " URL_WHAT
	        ", got \"https://h\xc3\xa9\"" },
	{ WITH("\"webhook\": {\"url\": \"http://h\"}, "),
	        "webhook: missing key \"secret\"" },
	{ WITH("\"webhook\": {\"secret\": \"s\"}, "),
	        "webhook: missing key \"url\"" },
	{ WITH("\"webhook\": {\"secret\": \"\"}, "),
	        "webhook.secret: expected 1 to 256 bytes, got \"\"" },
	{ WITH("\"webhook\": {\"max_attempts\": 0}, "),
	        "webhook.max_attempts: expected a whole number from 1 to 100, "
	        "got 0" },
	{ WITH("\"webhook\": {\"max_attempts\": 101}, "),
	        "webhook.max_attempts: expected a whole number from 1 to 100, "
	        "got 101" },
	{ WITH("\"webhook\": {\"max_attempts\": 2.5}, "),
	        "webhook.max_attempts: expected a whole number from 1 to 100, "
	        "got 2.5" },
	{ WITH("\"webhook\": {\"max_attempts\": -1}, "),
	        "webhook.max_attempts: expected a whole number from 1 to 100, "
	        "got -1" },
	{ WITH("\"webhook\": {\"max_attempts\": \"3\"}, "),
	        "webhook.max_attempts: expected a whole number from 1 to 100, "
	        "got a string" },
	{ WITH("\"webhook\": {\"hmac\": \"x\"}, "),
	        "webhook: unknown key \"hmac\"" },
};

Test(jny_def, bad_definitions)
{
	cr_assert_geq(sizeof(bad) / sizeof(bad[0]), 40);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jny_def *d;
		struct jny_error err;
		clm_err e
		        = parse_n(bad[i].json, strlen(bad[i].json), &d, &err);
		cr_expect_eq(e, CLM_INVALID_ARGUMENT, "#%zu '%s' parses", i,
		        bad[i].json);
		cr_expect_null(d, "#%zu", i);
		cr_expect_str_eq(
		        err.msg, bad[i].msg, "#%zu '%s'", i, bad[i].json);
	}
}

/* Every prefix of a definition fails cleanly (never reading past it). */
Test(jny_def, every_prefix_fails)
{
	const char *json = WITH("\"exit\": \"count(PURCHASE, since_entry) > "
	                        "0\", \"webhook\": {\"url\": \"http://h\", "
	                        "\"secret\": \"\\u00e9\"}, ");
	size_t n = strlen(json);
	for (size_t i = 0; i < n; i++) {
		struct jny_def *d;
		struct jny_error err;
		cr_assert_eq(parse_n(json, i, &d, &err), CLM_INVALID_ARGUMENT,
		        "prefix of %zu bytes", i);
		cr_assert_gt(strlen(err.msg), 0);
		cr_assert_null(d);
	}
	struct jny_def *d = parse_ok(json);
	jny_free(d);
}

/* ---------------------------------------------------------------------- */
/* Limits.                                                                */

/* A definition with n steps (buf of cap bytes). */
static void
steps_json(char *buf, size_t cap, size_t n)
{
	size_t len = (size_t) snprintf(
	        buf, cap, "{\"name\": \"x\", " TRIG ", \"steps\": [");
	for (size_t i = 0; i < n; i++) {
		len += (size_t) snprintf(buf + len, cap - len, "%s{" SEND "}",
		        i > 0 ? ", " : "");
	}
	snprintf(buf + len, cap - len, "]}");
}

Test(jny_def, limits)
{
	static char buf[JNY_DEF_MAX + 2];
	struct jny_def *d;
	struct jny_error err;

	steps_json(buf, sizeof(buf), JNY_STEPS_MAX);
	d = parse_ok(buf);
	cr_expect_eq(d->n_steps, 32);
	expect_idempotent(d);
	jny_free(d);
	steps_json(buf, sizeof(buf), JNY_STEPS_MAX + 1);
	cr_expect_eq(
	        parse_n(buf, strlen(buf), &d, &err), CLM_INVALID_ARGUMENT);
	cr_expect_str_eq(err.msg, "steps: more than 32 steps");

	char name[JNY_NAME_MAX + 2];
	memset(name, 'a', sizeof(name));
	name[JNY_NAME_MAX] = '\0';
	snprintf(buf, sizeof(buf), "{\"name\": \"%s\", " TRIG ", " STEPS "}",
	        name);
	d = parse_ok(buf);
	cr_expect_str_eq(d->name, name);
	jny_free(d);
	name[JNY_NAME_MAX] = 'a';
	name[JNY_NAME_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "{\"name\": \"%s\", " TRIG ", " STEPS "}",
	        name);
	cr_expect_eq(
	        parse_n(buf, strlen(buf), &d, &err), CLM_INVALID_ARGUMENT);
	cr_expect_str_eq(err.msg,
	        "name: expected 1 to 64 bytes of a-z, 0-9, _ and -, got "
	        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... (65 bytes)");

	/* 65,536 bytes (white space after the object) parse, one more not. */
	size_t len = strlen(OK);
	memcpy(buf, OK, len);
	memset(buf + len, ' ', JNY_DEF_MAX - len);
	cr_expect_eq(
	        parse_n(buf, JNY_DEF_MAX, &d, &err), CLM_OK, "%s", err.msg);
	cr_expect_str_eq(d->json,
	        "{\"name\": \"x\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"reentry\": \"always\", \"max_lateness\": \"1d\", \"steps\": "
	        "[{\"wait\": \"0s\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"a\", \"channel\": \"SMS\"}, \"when_capped\": "
	        "\"wait\"}]}");
	jny_free(d);
	buf[JNY_DEF_MAX] = ' ';
	cr_expect_eq(
	        parse_n(buf, JNY_DEF_MAX + 1, &d, &err), CLM_INVALID_ARGUMENT);
	cr_expect_str_eq(err.msg, "definition is over 65536 bytes");

	/* Durations up to 3650 days; action 64 bytes; item 128 bytes. */
	d = parse_ok(WITH("\"reentry\": \"3650d\", \"max_lateness\": "
	                  "\"315360000s\", "));
	cr_expect_eq(d->reentry_ms, 3650 * D);
	cr_expect_eq(d->max_lateness_ms, 3650 * D);
	jny_free(d);
	char action[JNY_ACTION_MAX + 1], item[JNY_ITEM_MAX + 1];
	memset(action, '~', JNY_ACTION_MAX);
	action[JNY_ACTION_MAX] = '\0';
	memset(item, 'i', JNY_ITEM_MAX);
	item[JNY_ITEM_MAX] = '\0';
	snprintf(buf, sizeof(buf),
	        WITH_SEND("{\"kind\": \"WIN_BACK\", \"action\": \"%s\", "
	                  "\"channel\": \"SMS\", \"item\": \"%s\"}"),
	        action, item);
	d = parse_ok(buf);
	cr_expect_str_eq(d->steps[0].action, action);
	cr_expect_str_eq(d->steps[0].item, item);
	jny_free(d);
	snprintf(buf, sizeof(buf),
	        WITH_SEND("{\"kind\": \"WIN_BACK\", \"action\": \"a\", "
	                  "\"channel\": \"SMS\", \"item\": \"%si\"}"),
	        item);
	cr_expect_eq(
	        parse_n(buf, strlen(buf), &d, &err), CLM_INVALID_ARGUMENT);
	cr_expect(
	        strncmp(err.msg, "steps[0].send.item: expected an item id", 39)
	        == 0);
}

/* The normalised text may not outgrow the limit either. */
Test(jny_def, normalised_over_the_limit)
{
	static char buf[JNY_DEF_MAX + 1];
	struct jny_def *d;
	struct jny_error err;
	/* 32 steps with long conditions, written without spaces. */
	size_t len = (size_t) snprintf(buf, sizeof(buf),
	        "{\"name\":\"x\",\"trigger\":{\"event\":\"PURCHASE\"},"
	        "\"steps\":[");
	char cond[1951];
	memset(cond, ' ', sizeof(cond) - 1);
	memcpy(cond, "purchases>=1", 12);
	cond[sizeof(cond) - 1] = '\0';
	for (int i = 0; i < 32; i++) {
		len += (size_t) snprintf(buf + len, sizeof(buf) - len,
		        "%s{\"if\":\"%s\",\"send\":{\"kind\":\"WIN_BACK\","
		        "\"action\":\"a\",\"channel\":\"SMS\"}}",
		        i > 0 ? "," : "", cond);
	}
	len += (size_t) snprintf(buf + len, sizeof(buf) - len, "]}");
	cr_assert_leq(len, JNY_DEF_MAX);
	cr_expect_eq(parse_n(buf, len, &d, &err), CLM_INVALID_ARGUMENT);
	cr_expect_str_eq(
	        err.msg, "definition is over 65536 bytes once normalised");
}

/* ---------------------------------------------------------------------- */
/* Redaction, needs, names, message ids.                                  */

Test(jny_def, redacted)
{
	struct jny_def *d = parse_ok(WITH(
	        "\"webhook\": {\"secret\": \"top \\\"secret\\\"\", \"url\": "
	        "\"http://h/x\"}, "));
	cr_expect_str_eq(d->webhook_secret, "top \"secret\"");
	char *r = jny_redacted(d);
	cr_assert_not_null(r);
	cr_expect_null(strstr(r, "top"));
	cr_expect_str_eq(r,
	        "{\"name\": \"x\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"reentry\": \"always\", \"max_lateness\": \"1d\", \"steps\": "
	        "[{\"wait\": \"0s\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"a\", \"channel\": \"SMS\"}, \"when_capped\": "
	        "\"wait\"}], \"webhook\": {\"url\": \"http://h/x\", \"secret\": "
	        "\"***\", \"max_attempts\": 10}}");
	/* The normalised JSON keeps it in clear (the store needs it). */
	cr_expect(
	        strstr(d->json, "\"secret\": \"top \\\"secret\\\"\"") != NULL);
	free(r);
	jny_free(d);
}

Test(jny_def, needs)
{
	int64_t window;
	bool since;
	struct jny_def *d = parse_ok(WITH("\"exit\": \"count(PAGE_VIEW, 3d) > "
	                                  "1\", "));
	jny_needs(d, &window, &since);
	cr_expect_eq(window, 3 * D);
	cr_expect_not(since);
	jny_free(d);
	d = parse_ok(WITH_STEP(
	        "{" SEND ", \"if\": \"count(PAGE_VIEW, 2h) > 1\"}, {" SEND
	        ", \"if\": \"count(PURCHASE, 9d) > 0 and count(EMAIL_CLICK, "
	        "since_entry) = 0\"}"));
	jny_needs(d, &window, &since);
	cr_expect_eq(window, 9 * D);
	cr_expect(since);
	jny_free(d);
	d = parse_ok(OK);
	jny_needs(d, &window, &since);
	cr_expect_eq(window, 0);
	cr_expect_not(since);
	jny_free(d);
}

Test(jny_def, name_valid)
{
	cr_expect(jny_name_valid("cart-recovery_2", 15));
	cr_expect(jny_name_valid("a", 1));
	cr_expect_not(jny_name_valid("", 0));
	cr_expect_not(jny_name_valid("Cart", 4));
	cr_expect_not(jny_name_valid("a/b", 3));
	cr_expect_not(jny_name_valid("a b", 3));
	char n[66];
	memset(n, 'z', sizeof(n));
	cr_expect(jny_name_valid(n, 64));
	cr_expect_not(jny_name_valid(n, 65));
}

/*
 * The expected ids were computed independently with Python's hashlib:
 *
 *   import hashlib, struct
 *   def mid(journey, customer, entered_ms, step):
 *       data = struct.pack(">IqI", journey, entered_ms, step)
 *       data += customer.encode()
 *       return "jm_" + hashlib.blake2b(data, digest_size=16).hexdigest()
 *   mid(7, "c1", 1767139200000, 1)
 *   mid(1, "", 0, 0)
 *   mid(4294967295, "cust-\u00e9", -1, 31)
 */
Test(jny_def, message_id)
{
	char id[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(7, "c1", 1767139200000LL, 1, id);
	cr_expect_str_eq(id, "jm_84bdc460da80391a212fcf5f68d87de8");
	cr_expect_eq(strlen(id), JNY_MESSAGE_ID_LEN);
	jny_message_id(1, "", 0, 0, id);
	cr_expect_str_eq(id, "jm_fdfe7c6c826a684b5fefa1988dce6b0c");
	jny_message_id(UINT32_MAX, "cust-\xc3\xa9", -1, 31, id);
	cr_expect_str_eq(id, "jm_16f79df27669e59d880faa70025c01c2");
	/* Each input matters. */
	char other[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(7, "c1", 1767139200000LL, 2, other);
	cr_expect_str_neq(other, "jm_84bdc460da80391a212fcf5f68d87de8");
	jny_message_id(7, "c1", 1767139200001LL, 1, other);
	cr_expect_str_neq(other, "jm_84bdc460da80391a212fcf5f68d87de8");
	jny_message_id(8, "c1", 1767139200000LL, 1, other);
	cr_expect_str_neq(other, "jm_84bdc460da80391a212fcf5f68d87de8");
	jny_message_id(7, "c2", 1767139200000LL, 1, other);
	cr_expect_str_neq(other, "jm_84bdc460da80391a212fcf5f68d87de8");
}
