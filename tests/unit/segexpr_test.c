/*
 * Unit tests of the segment expression parser (server/core/segexpr.c,
 * docs/segments.md "The language"): every construct parses, what it
 * needs, and bad expressions with the exact byte and message of their
 * error. Evaluation is in segexpr_eval_test.c.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segexpr.h"

static segx *
parse_ok(const char *src)
{
	segx *x = NULL;
	struct segx_error err = { 0 };
	clm_err e = segx_parse(src, strlen(src), &x, &err);
	cr_assert_eq(e, CLM_OK, "'%s' does not parse: at byte %zu: %s", src,
	        err.pos, err.msg);
	cr_assert_not_null(x);
	return x;
}

Test(segexpr, every_construct_parses)
{
	static const char *const ok[] = {
		"stage = RETENTION",
		"stage >= REACH",
		"stage != STAGE_UNSPECIFIED",
		"health = AT_RISK",
		"health < CHURNED",
		"funnel = BOTTOM",
		"acquisition_channel = PAID_ADS",
		"conversion_channel != CHANNEL_UNSPECIFIED",
		"purchases > 2",
		"refunds <= 0",
		"referrals = 1",
		"revenue > 100.5",
		"revenue >= -1",
		"churn_risk > 0.25",
		"first_seen < \"2026-01-31\"",
		"last_seen >= 1767139200000",
		"first_seen > -5",
		"trait.plan = \"pro\"",
		"trait.seats >= 10",
		"trait.a.b-c_9 != \"x\\\"y\\\\z\"",
		"trait.ratio < 2.5",
		"risk has INACTIVE",
		"risk has SLOW_ONBOARDING",
		"cart has \"sku-1\"",
		"cart has \"\"",
		"bought \"sku-2\"",
		"count(PAGE_VIEW, 30d) >= 1",
		"count(PURCHASE where item = \"sku\", 90s) = 0",
		"count(CUSTOM where name = \"played\", 15m) > 1000000",
		"count(CUSTOM where item = \"x\", 12h) < 3",
		"since(last_seen) > 30d",
		"since(first_seen) <= 3650d",
		"not stage = REACH",
		"not not (stage = REACH)",
		"stage = RETENTION and since(last_seen) > 30d",
		"purchases > 1 or referrals > 0",
		"(stage = REACH or stage = NURTURE) and not health = CHURNED",
		"\t stage\n=\rRETENTION\f\v",
		"stage=RETENTION and(purchases>1)or(referrals>0)",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		segx_free(parse_ok(ok[i]));
	}
}

Test(segexpr, needs)
{
	struct segx_needs n;
	segx *x = parse_ok("stage = REACH and purchases > 1");
	segx_needs(x, &n);
	cr_assert(!n.counts && !n.traits && !n.bought && !n.onboarding
	        && !n.time);
	segx_free(x);

	x = parse_ok("count(PAGE_VIEW, 30d) > 1 or count(SIGNUP, 2d) > 0 "
	             "or trait.a = \"b\" or bought \"x\"");
	segx_needs(x, &n);
	cr_assert(n.counts && n.traits && n.bought && n.time);
	cr_assert(!n.onboarding);
	cr_assert_eq(n.max_window_ms, 30 * MODEL_DAY_MS);
	segx_free(x);

	x = parse_ok("churn_risk > 0.5");
	segx_needs(x, &n);
	cr_assert(n.onboarding && n.time);
	segx_free(x);

	x = parse_ok("risk has SLOW_ONBOARDING");
	segx_needs(x, &n);
	cr_assert(n.onboarding && n.time);
	segx_free(x);

	x = parse_ok("risk has NEGATIVE_SENTIMENT");
	segx_needs(x, &n);
	cr_assert(!n.onboarding && !n.time);
	segx_free(x);

	x = parse_ok("health = ACTIVE");
	segx_needs(x, &n);
	cr_assert(n.time && !n.onboarding);
	segx_free(x);

	x = parse_ok("since(first_seen) > 1d");
	segx_needs(x, &n);
	cr_assert(n.time);
	segx_free(x);
}

struct bad {
	const char *src;
	size_t len; /* 0: strlen(src) */
	size_t pos;
	const char *msg;
};

static const struct bad bads[] = {
	{ "", 0, 0, "expected a condition such as stage = RETENTION" },
	{ "   ", 0, 3, "expected a condition such as stage = RETENTION" },
	{ "stage", 0, 5, "expected a comparison (=, !=, <, <=, >, >=)" },
	{ "stage =", 0, 7, "expected a Stage name such as RETENTION" },
	{ "stage = AT_RISK", 0, 8, "expected a Stage name such as RETENTION" },
	{ "health = RETENTION", 0, 9,
	        "expected a Health name such as AT_RISK" },
	{ "funnel = retention", 0, 9,
	        "expected a FunnelPosition name such as TOP" },
	{ "acquisition_channel = REFERRAL", 0, 22,
	        "expected a Channel name such as PAID_ADS" },
	{ "colour = RED", 0, 0, "unknown field 'colour'" },
	{ "Stage = REACH", 0, 0, "unknown field 'Stage'" },
	{ "stage = REACH AND purchases > 1", 0, 14,
	        "expected 'and', 'or' or the end" },
	{ "stage = REACH purchases > 1", 0, 14,
	        "expected 'and', 'or' or the end" },
	{ "stage = REACH and", 0, 17,
	        "expected a condition such as stage = RETENTION" },
	{ "stage = REACH or or", 0, 17,
	        "expected a condition such as stage = RETENTION" },
	{ "(stage = REACH", 0, 14, "expected ')'" },
	{ "stage = REACH)", 0, 13, "expected 'and', 'or' or the end" },
	{ "purchases > x", 0, 12, "expected a number such as 42" },
	{ "purchases > 1.", 0, 12, "expected a number such as 42" },
	{ "revenue > 1e5", 0, 10, "expected a number such as 42" },
	{ "purchases >= - 1", 0, 13, "unexpected character '-'" },
	{ "purchases => 1", 0, 11, "expected a number such as 42" },
	{ "purchases ! 1", 0, 10, "unexpected character '!'" },
	{ "first_seen > \"2026-02-30\"", 0, 13,
	        "expected a date such as \"2026-01-31\" or unix milliseconds" },
	{ "first_seen > \"2026-1-31\"", 0, 13,
	        "expected a date such as \"2026-01-31\" or unix milliseconds" },
	{ "last_seen > 1.5", 0, 12,
	        "expected a date such as \"2026-01-31\" or unix milliseconds" },
	{ "trait.plan = \"pro", 0, 13, "unterminated string" },
	{ "trait.plan = \"a\\nb\"", 0, 15,
	        "expected \\\" or \\\\ after a backslash" },
	{ "trait.plan = PRO", 0, 13,
	        "expected a string in double quotes or a number" },
	{ "trait. = \"a\"", 0, 6, "expected a trait name after 'trait.'" },
	{ "trait = \"a\"", 0, 0, "unknown field 'trait'" },
	{ "risk INACTIVE", 0, 5, "expected 'has' after 'risk'" },
	{ "risk has AT_RISK", 0, 9,
	        "expected a RiskReason name such as INACTIVE" },
	{ "risk has RISK_REASON_UNSPECIFIED", 0, 9,
	        "expected a RiskReason name such as INACTIVE" },
	{ "cart has sku", 0, 9, "expected a string in double quotes" },
	{ "bought 5", 0, 7, "expected a string in double quotes" },
	{ "count PAGE_VIEW, 30d) > 1", 0, 6, "expected '(' after 'count'" },
	{ "count(PAGEVIEW, 30d) > 1", 0, 6,
	        "expected a TouchpointType name such as PAGE_VIEW" },
	{ "count(TOUCHPOINT_TYPE_UNSPECIFIED, 1d) > 1", 0, 6,
	        "expected a TouchpointType name such as PAGE_VIEW" },
	{ "count(PAGE_VIEW 30d) > 1", 0, 16, "expected ','" },
	{ "count(PAGE_VIEW, 30) > 1", 0, 17,
	        "expected a duration such as 30d" },
	{ "count(PAGE_VIEW, 30w) > 1", 0, 17,
	        "expected a duration such as 30d" },
	{ "count(PAGE_VIEW, d) > 1", 0, 17,
	        "expected a duration such as 30d" },
	{ "count(PAGE_VIEW, 3651d) > 1", 0, 17,
	        "expected a duration of at most 3650d" },
	{ "count(PAGE_VIEW, 99999999999999999999s) > 1", 0, 17,
	        "expected a duration of at most 3650d" },
	{ "count(PAGE_VIEW, 30d > 1", 0, 21, "expected ')'" },
	{ "count(PAGE_VIEW, 30d)", 0, 21,
	        "expected a comparison after 'count(...)'" },
	{ "count(PAGE_VIEW, 30d) > 1000001", 0, 24,
	        "expected a whole number from 0 to 1000000" },
	{ "count(PAGE_VIEW, 30d) > -1", 0, 24,
	        "expected a whole number from 0 to 1000000" },
	{ "count(PAGE_VIEW, 30d) > 1.5", 0, 24,
	        "expected a whole number from 0 to 1000000" },
	{ "count(PAGE_VIEW where name = \"x\", 1d) > 1", 0, 22,
	        "'where name' is allowed with CUSTOM only" },
	{ "count(CUSTOM where kind = \"x\", 1d) > 1", 0, 19,
	        "expected 'item' or 'name' after 'where'" },
	{ "count(CUSTOM where name != \"x\", 1d) > 1", 0, 24, "expected '='" },
	{ "count(CUSTOM where name = x, 1d) > 1", 0, 26,
	        "expected a string in double quotes" },
	{ "since(last_purchase) > 1d", 0, 6,
	        "expected first_seen or last_seen" },
	{ "since last_seen > 1d", 0, 6, "expected '(' after 'since'" },
	{ "since(last_seen) > 30", 0, 19, "expected a duration such as 30d" },
	{ "not", 0, 3, "expected a condition such as stage = RETENTION" },
	{ "stage = REACH\0 or x", 19, 13, "unexpected NUL byte" },
	{ "stage = RE\xc3\xa9", 0, 8,
	        "expected a Stage name such as RETENTION" },
	{ "stage = \xc3\xa9", 0, 8, "unexpected byte 0xc3" },
	{ "stage # REACH", 0, 6, "unexpected character '#'" },
};

Test(segexpr, bad_expressions)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t len = b->len != 0 ? b->len : strlen(b->src);
		segx *x = NULL;
		struct segx_error err = { 0 };
		clm_err e = segx_parse(b->src, len, &x, &err);
		cr_assert_eq(e, CLM_INVALID_ARGUMENT, "'%s' parses", b->src);
		cr_expect_eq(err.pos, b->pos, "'%s': at byte %zu, not %zu",
		        b->src, err.pos, b->pos);
		cr_expect_str_eq(
		        err.msg, b->msg, "'%s': '%s'", b->src, err.msg);
		cr_assert_null(x);
	}
}

/* A source of n copies of s then tail, in a malloc'd buffer. */
static char *
repeat(const char *s, size_t n, const char *tail, size_t *len)
{
	size_t sl = strlen(s), tl = strlen(tail);
	char *b = malloc(sl * n + tl + 1);
	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++) {
		memcpy(b + i * sl, s, sl);
	}
	memcpy(b + sl * n, tail, tl + 1);
	*len = sl * n + tl;
	return b;
}

Test(segexpr, too_deep)
{
	size_t len;
	segx *x = NULL;
	struct segx_error err;
	/* 64 levels parse; the 65th is an error, not a deep recursion. */
	char *ok = repeat("(", 64, "stage = REACH", &len);
	char *src = malloc(len + 64);
	memcpy(src, ok, len);
	memset(src + len, ')', 64);
	cr_assert_eq(
	        segx_parse(src, len + 64, &x, &err), CLM_OK, "%s", err.msg);
	segx_free(x);
	free(src);
	free(ok);
	char *deep = repeat("(", 100000, "", &len);
	x = NULL;
	cr_assert_eq(segx_parse(deep, SEGX_SOURCE_MAX, &x, &err),
	        CLM_INVALID_ARGUMENT);
	cr_assert_eq(err.pos, 64);
	cr_assert_str_eq(err.msg, "expression nested more than 64 deep");
	free(deep);
	char *nots = repeat("not ", 64, "stage = REACH", &len);
	cr_assert_eq(segx_parse(nots, len, &x, &err), CLM_OK, "%s", err.msg);
	segx_free(x);
	free(nots);
	nots = repeat("not ", 65, "stage = REACH", &len);
	x = NULL;
	cr_assert_eq(segx_parse(nots, len, &x, &err), CLM_INVALID_ARGUMENT);
	cr_assert_eq(err.pos, 64 * 4);
	cr_assert_null(x);
	free(nots);
}

Test(segexpr, too_long)
{
	size_t len;
	segx *x = NULL;
	struct segx_error err;
	char *src = repeat(" ", SEGX_SOURCE_MAX - 13, "stage = REACH", &len);
	cr_assert_eq(len, SEGX_SOURCE_MAX);
	cr_assert_eq(segx_parse(src, len, &x, &err), CLM_OK);
	segx_free(x);
	free(src);
	src = repeat(" ", SEGX_SOURCE_MAX - 12, "stage = REACH", &len);
	x = NULL;
	cr_assert_eq(segx_parse(src, len, &x, &err), CLM_INVALID_ARGUMENT);
	cr_assert_eq(err.pos, SEGX_SOURCE_MAX);
	cr_assert_str_eq(err.msg, "expression longer than 4096 bytes");
	cr_assert_null(x);
	free(src);
}

Test(segexpr, too_many_nodes)
{
	size_t len;
	segx *x = NULL;
	struct segx_error err;
	/* 128 tests and 127 'or's: 255 nodes; one 'or' more is 257. */
	char *src = repeat("purchases=1 or ", 127, "purchases=1", &len);
	cr_assert_eq(segx_parse(src, len, &x, &err), CLM_OK, "%s", err.msg);
	segx_free(x);
	free(src);
	src = repeat("purchases=1 or ", 128, "purchases=1", &len);
	x = NULL;
	cr_assert_eq(segx_parse(src, len, &x, &err), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(err.msg,
	        "expression has more than 256 operands and operators");
	cr_assert_eq(err.pos, 128 * 15);
	free(src);
}

Test(segexpr, never_reads_past_len)
{
	/* Every prefix of a valid expression, in a buffer of exactly its
	 * length (ASan catches a read past it). */
	const char *full
	        = "count(CUSTOM where name = \"a\\\"b\", 30d) >= 2 and "
	          "trait.x != \"y\" or not since(last_seen) < 1h";
	size_t n = strlen(full);
	for (size_t i = 0; i <= n; i++) {
		char *b = malloc(i == 0 ? 1 : i);
		memcpy(b, full, i);
		segx *x = NULL;
		struct segx_error err;
		clm_err e = segx_parse(b, i, &x, &err);
		cr_assert(e == CLM_OK || e == CLM_INVALID_ARGUMENT);
		if (e == CLM_OK) {
			segx_free(x);
		} else {
			cr_assert_leq(err.pos, i);
		}
		free(b);
	}
}

Test(segexpr, name_valid)
{
	cr_assert(segx_name_valid("slipping", 8));
	cr_assert(segx_name_valid("a-b_9", 5));
	cr_assert(!segx_name_valid("", 0));
	cr_assert(!segx_name_valid("Upper", 5));
	cr_assert(!segx_name_valid("a.b", 3));
	cr_assert(!segx_name_valid("a/b", 3));
	char name[SEGX_NAME_MAX + 1];
	memset(name, 'a', sizeof(name));
	cr_assert(segx_name_valid(name, SEGX_NAME_MAX));
	cr_assert(!segx_name_valid(name, SEGX_NAME_MAX + 1));
}
