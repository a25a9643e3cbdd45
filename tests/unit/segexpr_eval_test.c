/*
 * Unit tests of segment expression evaluation (server/core/segexpr_eval.c,
 * docs/segments.md "The language", "Exact at every instant"): each test
 * over hand-built profiles with fake trait, bought and count callbacks, the
 * next-change instant at its boundaries, and a property test (fixed seed)
 * that the instant is never late over random profiles and expressions.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/risk.h"
#include "core/segexpr.h"

#define T0          1700000000000LL /* 2023-11-14 */
#define H           3600000LL
#define D           MODEL_DAY_MS
#define MAX_TOUCHES 64

/* One stored touchpoint as the fake count callback sees it. */
struct touch {
	int type;
	int64_t at_ms;
	const char *item; /* "" = none */
	const char *name; /* CUSTOM's event_name, "" = none */
};

/* A customer: profile, stored touchpoints, traits, purchased items. */
struct cust {
	struct model_profile p;
	struct model_params mp;
	struct risk_onboarding onb;
	struct touch t[MAX_TOUCHES];
	size_t n;
	uint64_t seq;
	const char *traits[8][2];
	size_t n_traits;
	int count_calls;
};

static void
cust_init(struct cust *c)
{
	memset(c, 0, sizeof(*c));
	model_profile_init(&c->p);
	model_params_default(&c->mp);
	c->onb.known = true;
	c->onb.twice_median_ms = 4 * D;
}

/* Applies a touchpoint (in time order: no rescan is ever needed). */
static void
cust_touch(struct cust *c, int type, int64_t at, const char *item,
        const char *name, float sentiment)
{
	cr_assert_lt(c->n, MAX_TOUCHES);
	c->t[c->n++] = (struct touch) { type, at, item, name };
	struct model_touch t = {
		.type = type,
		.channel = 1,
		.at_ms = at,
		.seq = ++c->seq,
		.item_id = item,
		.value_micros = type == MODEL_T_PURCHASE ? 5000000 : 0,
		.sentiment = sentiment,
	};
	if (type == MODEL_T_REFUND) {
		t.value_micros = 2000000;
	}
	struct model_rescan r = { .active = false };
	model_apply(&c->p, &t, &r);
}

static bool
fake_trait(void *arg, const char *name, size_t name_len, const char **val,
        size_t *val_len)
{
	struct cust *c = arg;
	for (size_t i = 0; i < c->n_traits; i++) {
		if (strlen(c->traits[i][0]) == name_len
		        && memcmp(c->traits[i][0], name, name_len) == 0) {
			*val = c->traits[i][1];
			*val_len = strlen(c->traits[i][1]);
			return true;
		}
	}
	return false;
}

static bool
fake_bought(void *arg, const char *item, size_t item_len)
{
	struct cust *c = arg;
	for (size_t i = 0; i < c->n; i++) {
		if (c->t[i].type == MODEL_T_PURCHASE
		        && strlen(c->t[i].item) == item_len
		        && memcmp(c->t[i].item, item, item_len) == 0) {
			return true;
		}
	}
	return false;
}

static bool
bytes_eq(const char *s, const char *b, size_t n)
{
	return strlen(s) == n && memcmp(s, b, n) == 0;
}

/* The contract of segx_subject.count, by brute force. */
static clm_err
fake_count(void *arg, const struct segx_count *q, int64_t to_ms, uint64_t *n,
        int64_t *change_ms)
{
	struct cust *c = arg;
	c->count_calls++;
	*n = 0;
	*change_ms = INT64_MAX;
	for (size_t i = 0; i < c->n; i++) {
		const struct touch *t = &c->t[i];
		if (t->type != q->type
		        || (q->item != NULL
		                && !bytes_eq(t->item, q->item, q->item_len))
		        || (q->name != NULL
		                && !bytes_eq(t->name, q->name, q->name_len))) {
			continue;
		}
		int64_t at;
		if (t->at_ms > to_ms - q->window_ms && t->at_ms <= to_ms) {
			(*n)++;
			at = t->at_ms
			        + q->window_ms; /* it leaves the window */
		} else if (t->at_ms > to_ms) {
			at = t->at_ms; /* it enters the window */
		} else {
			continue;
		}
		if (at < *change_ms) {
			*change_ms = at;
		}
	}
	return CLM_OK;
}

static struct segx_subject
subject(struct cust *c)
{
	struct segx_subject s = {
		.p = &c->p,
		.mp = &c->mp,
		.onb = &c->onb,
		.trait = fake_trait,
		.bought = fake_bought,
		.count = fake_count,
		.arg = c,
	};
	return s;
}

static segx *
compile(const char *src)
{
	segx *x = NULL;
	struct segx_error err;
	cr_assert_eq(segx_parse(src, strlen(src), &x, &err), CLM_OK,
	        "'%s': at byte %zu: %s", src, err.pos, err.msg);
	return x;
}

/* Evaluates src for c at now; the next instant in *next (may be NULL). */
static bool
eval_at(struct cust *c, const segx *x, int64_t now, int64_t *next)
{
	struct segx_subject s = subject(c);
	bool member;
	int64_t nx;
	cr_assert_eq(segx_eval(x, &s, now, &member, &nx), CLM_OK);
	cr_assert_gt(nx, now);
	if (next != NULL) {
		*next = nx;
	}
	return member;
}

static bool
eval_src(struct cust *c, const char *src, int64_t now, int64_t *next)
{
	segx *x = compile(src);
	bool m = eval_at(c, x, now, next);
	segx_free(x);
	return m;
}

#define YES(c, src, now) \
	cr_expect(eval_src((c), (src), (now), NULL), "'%s' is false", (src))
#define NO(c, src, now) \
	cr_expect(!eval_src((c), (src), (now), NULL), "'%s' is true", (src))

/* A customer who signed up, onboarded, bought twice (a, b), refunded. */
static void
loaded(struct cust *c)
{
	cust_init(c);
	cust_touch(c, MODEL_T_SITE_VISIT, T0, "", "", 0);
	cust_touch(c, MODEL_T_SIGNUP, T0 + H, "", "", 0);
	cust_touch(c, MODEL_T_ONBOARDING_COMPLETED, T0 + 2 * H, "", "", 0);
	cust_touch(c, MODEL_T_PAGE_VIEW, T0 + 3 * H, "", "", 0);
	cust_touch(c, MODEL_T_PURCHASE, T0 + 1 * D, "a", "", 0);
	cust_touch(c, MODEL_T_PURCHASE, T0 + 2 * D, "b", "", 0);
	cust_touch(c, MODEL_T_REFUND, T0 + 3 * D, "b", "", 0);
	cust_touch(c, MODEL_T_ADD_TO_CART, T0 + 4 * D, "c", "", 0);
	cust_touch(c, MODEL_T_CUSTOM, T0 + 4 * D + H, "", "played", 0);
	cust_touch(c, MODEL_T_PAGE_VIEW, T0 + 5 * D, "", "", 0);
	c->traits[0][0] = "plan";
	c->traits[0][1] = "pro";
	c->traits[1][0] = "seats";
	c->traits[1][1] = "12";
	c->traits[2][0] = "neg";
	c->traits[2][1] = "-3";
	c->traits[3][0] = "ver";
	c->traits[3][1] = "1.5";
	c->n_traits = 4;
}

Test(segexpr_eval, profile_fields)
{
	struct cust c;
	loaded(&c);
	int64_t now = T0 + 6 * D;
	cr_assert_eq(model_stage(&c.p), MODEL_RETENTION);
	YES(&c, "stage = RETENTION", now);
	YES(&c, "stage >= NURTURE", now);
	NO(&c, "stage > RETENTION", now);
	YES(&c, "health = ACTIVE", now);
	NO(&c, "health = AT_RISK", now);
	YES(&c, "funnel = BOTTOM", now);
	YES(&c, "acquisition_channel = DIRECT", now);
	YES(&c, "conversion_channel = DIRECT", now);
	NO(&c, "acquisition_channel = PAID_ADS", now);
	YES(&c, "purchases = 2", now);
	YES(&c, "refunds = 1", now);
	YES(&c, "referrals = 0", now);
	YES(&c, "revenue = 8", now); /* 5 + 5 - 2 */
	YES(&c, "revenue > 7.5", now);
	NO(&c, "revenue > 8", now);
	YES(&c, "churn_risk > 0", now); /* RECENT_REFUND */
	YES(&c, "risk has RECENT_REFUND", now);
	NO(&c, "risk has INACTIVE", now);
	YES(&c, "first_seen = 1700000000000", now);
	YES(&c, "first_seen > \"2023-11-14\"", now);
	YES(&c, "first_seen < \"2023-11-15\"", now);
	YES(&c, "last_seen = 1700432000000", now);
	YES(&c, "cart has \"c\"", now);
	NO(&c, "cart has \"a\"", now);
	NO(&c, "cart has \"\"", now);
	YES(&c, "bought \"b\"", now); /* a refund does not undo it */
	NO(&c, "bought \"c\"", now);
	YES(&c, "count(PAGE_VIEW, 2d) = 1", now);
	YES(&c, "count(PAGE_VIEW, 7d) = 2", now);
	YES(&c, "count(PURCHASE where item = \"a\", 30d) = 1", now);
	YES(&c, "count(CUSTOM where name = \"played\", 2d) = 1", now);
	NO(&c, "count(CUSTOM where name = \"other\", 2d) > 0", now);
	YES(&c, "since(first_seen) >= 6d", now);
	YES(&c, "since(last_seen) = 1d", now);
	YES(&c, "not stage = REACH and (purchases > 5 or refunds = 1)", now);
	NO(&c, "not (stage = RETENTION)", now);
}

Test(segexpr_eval, empty_profile)
{
	struct cust c;
	cust_init(&c);
	int64_t next;
	YES(&c, "stage = STAGE_UNSPECIFIED", T0);
	YES(&c, "health = HEALTH_UNSPECIFIED", T0);
	YES(&c, "funnel = FUNNEL_UNSPECIFIED", T0);
	YES(&c, "first_seen = 0", T0);
	NO(&c, "since(last_seen) >= 0s", T0);
	NO(&c, "since(first_seen) < 1d", T0);
	/* Nothing can change with time alone. */
	cr_assert(!eval_src(&c,
	        "health = AT_RISK or since(last_seen) > 1d or risk has INACTIVE "
	        "or churn_risk > 0",
	        T0, &next));
	cr_assert_eq(next, INT64_MAX);
	cr_assert_eq(
	        segx_model_next_change(&c.p, &c.mp, &c.onb, T0), INT64_MAX);
}

Test(segexpr_eval, traits)
{
	struct cust c;
	loaded(&c);
	int64_t now = T0 + 6 * D;
	YES(&c, "trait.plan = \"pro\"", now);
	YES(&c, "trait.plan > \"pr\"", now);
	YES(&c, "trait.plan < \"pro \"", now);
	NO(&c, "trait.plan != \"pro\"", now);
	/* Missing: every comparison false except !=. */
	NO(&c, "trait.none = \"x\"", now);
	NO(&c, "trait.none < \"x\"", now);
	NO(&c, "trait.none >= 0", now);
	YES(&c, "trait.none != \"x\"", now);
	YES(&c, "trait.none != 0", now);
	/* Numbers: whole decimal numbers only. */
	YES(&c, "trait.seats >= 10", now);
	YES(&c, "trait.seats = 12", now);
	YES(&c, "trait.seats < 12.5", now);
	NO(&c, "trait.seats > 100", now);
	YES(&c, "trait.seats < \"2\"", now); /* as a string: "12" < "2" */
	YES(&c, "trait.neg = -3", now);
	YES(&c, "trait.neg < 0", now);
	NO(&c, "trait.ver > 1", now); /* "1.5" is not whole */
	NO(&c, "trait.ver = 1.5", now);
	YES(&c, "trait.ver != 1.5", now);
	NO(&c, "trait.plan >= 0", now);
	YES(&c, "trait.plan != 0", now);
}

Test(segexpr_eval, since_boundaries)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0, "", "", 0);
	struct {
		const char *src;
		bool at, after; /* at T0 + 1d, at T0 + 1d + 1 */
		int64_t next_from_before;
	} cases[] = {
		{ "since(last_seen) > 1d", false, true, T0 + D + 1 },
		{ "since(last_seen) >= 1d", true, true, T0 + D },
		{ "since(last_seen) < 1d", false, false, T0 + D },
		{ "since(last_seen) <= 1d", true, false, T0 + D + 1 },
		{ "since(last_seen) = 1d", true, false, T0 + D },
		{ "since(last_seen) != 1d", false, true, T0 + D },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		segx *x = compile(cases[i].src);
		int64_t next;
		eval_at(&c, x, T0 + D - 1, &next);
		cr_expect_eq(next, cases[i].next_from_before, "%s: %lld",
		        cases[i].src, (long long) next);
		cr_expect_eq(eval_at(&c, x, T0 + D, NULL), cases[i].at, "%s",
		        cases[i].src);
		cr_expect_eq(eval_at(&c, x, T0 + D + 1, &next), cases[i].after,
		        "%s", cases[i].src);
		segx_free(x);
	}
}

Test(segexpr_eval, health_next_change)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0, "", "", 0);
	segx *x = compile("health = AT_RISK");
	int64_t next;
	cr_assert(!eval_at(&c, x, T0, &next));
	cr_assert_eq(next, T0 + c.mp.at_risk_ms + 1);
	cr_assert(!eval_at(&c, x, next - 1, NULL));
	cr_assert(eval_at(&c, x, next, &next));
	cr_assert_eq(next, T0 + c.mp.churn_ms + 1);
	cr_assert(eval_at(&c, x, next - 1, NULL));
	cr_assert(!eval_at(&c, x, next, &next));
	cr_assert_eq(next, INT64_MAX);
	/* A touchpoint in the future: ACTIVE until its time + at_risk. */
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0 + 200 * D, "", "", 0);
	cr_assert(!eval_at(&c, x, T0 + D, &next));
	cr_assert_eq(next, T0 + 200 * D + c.mp.at_risk_ms + 1);
	/* After a cancellation, CHURNED for good. */
	cust_touch(&c, MODEL_T_CANCELLATION, T0 + 201 * D, "", "", 0);
	cr_assert(!eval_at(&c, x, T0 + D, &next));
	cr_assert_eq(next, INT64_MAX);
	segx_free(x);
}

Test(segexpr_eval, count_next_change)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0, "", "", 0);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0 + D, "", "", 0);
	segx *x = compile("count(PAGE_VIEW, 7d) >= 2");
	int64_t next;
	cr_assert(!eval_at(&c, x, T0, &next));
	cr_assert_eq(next, T0 + D);
	cr_assert(eval_at(&c, x, T0 + D, &next));
	cr_assert_eq(next, T0 + 7 * D);
	cr_assert(eval_at(&c, x, T0 + 7 * D - 1, NULL));
	cr_assert(!eval_at(&c, x, T0 + 7 * D, NULL));
	segx_free(x);
}

Test(segexpr_eval, short_circuit)
{
	struct cust c;
	loaded(&c);
	int64_t next;
	/* The left side decides: the count is not asked for. */
	c.count_calls = 0;
	cr_assert(!eval_src(&c, "stage = REACH and count(PAGE_VIEW, 1d) > 0",
	        T0 + 6 * D, &next));
	cr_assert_eq(c.count_calls, 0);
	cr_assert_eq(next, INT64_MAX);
	cr_assert(eval_src(&c, "stage = RETENTION or count(PAGE_VIEW, 1d) > 0",
	        T0 + 6 * D, &next));
	cr_assert_eq(c.count_calls, 0);
	cr_assert(
	        eval_src(&c, "stage = RETENTION and count(PAGE_VIEW, 2d) > 0",
	                T0 + 6 * D, &next));
	cr_assert_eq(c.count_calls, 1);
	cr_assert_eq(next, T0 + 7 * D);
}

Test(segexpr_eval, model_next_change)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_SIGNUP, T0, "", "", 0);
	/* No onboarding yet: SLOW_ONBOARDING after twice the median. */
	cr_assert_eq(segx_model_next_change(&c.p, &c.mp, &c.onb, T0),
	        T0 + c.onb.twice_median_ms + 1);
	cust_touch(&c, MODEL_T_BILLING_ISSUE, T0 + 1, "", "", 0);
	cust_touch(&c, MODEL_T_ONBOARDING_COMPLETED, T0 + 2, "", "", 0);
	cr_assert_eq(segx_model_next_change(&c.p, &c.mp, &c.onb, T0 + 2),
	        T0 + 2 + c.mp.at_risk_ms + 1);
	cr_assert_eq(segx_model_next_change(&c.p, &c.mp, &c.onb,
	                     T0 + 2 + c.mp.at_risk_ms + 1),
	        T0 + 1 + c.mp.billing_issue_ms + 1);
}

/* ---------------------------------------------------------------------- */
/* Property: the next-change instant is never late.                        */

static uint64_t rng_state = 0x5e9e4c0de5eedULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *const atoms[] = {
	"health = AT_RISK",
	"health = ACTIVE",
	"health >= AT_RISK",
	"health = CHURNED",
	"risk has INACTIVE",
	"risk has RECENT_BILLING_ISSUE",
	"risk has SUPPORT_TICKETS",
	"risk has RECENT_REFUND",
	"risk has SLOW_ONBOARDING",
	"risk has NEGATIVE_SENTIMENT",
	"churn_risk > 0.3",
	"churn_risk = 0",
	"since(last_seen) > 30d",
	"since(first_seen) = 10d",
	"since(last_seen) <= 3d",
	"since(first_seen) != 5d",
	"count(PAGE_VIEW, 7d) >= 2",
	"count(PAGE_VIEW, 1d) = 0",
	"count(PURCHASE where item = \"a\", 30d) = 1",
	"count(CUSTOM where name = \"x\", 1d) > 0",
	"stage >= RETENTION",
	"purchases > 1",
	"cart has \"a\"",
	"last_seen > 1700500000000",
};

/* The constants of the atoms and the model's windows, for boundaries. */
static const int64_t windows[] = { 1 * D, 3 * D, 5 * D, 7 * D, 10 * D, 30 * D,
	60 * D, 90 * D, 4 * D, 0 };

static void
gen_expr(char *buf, size_t cap, int depth)
{
	size_t len = strlen(buf);
	int r = (int) (rng() % 6);
	if (depth >= 3 || r < 2) {
		snprintf(buf + len, cap - len, "%s",
		        atoms[rng() % (sizeof(atoms) / sizeof(atoms[0]))]);
		return;
	}
	if (r == 2) {
		snprintf(buf + len, cap - len, "not (");
		gen_expr(buf, cap, depth + 1);
		len = strlen(buf);
		snprintf(buf + len, cap - len, ")");
		return;
	}
	snprintf(buf + len, cap - len, "(");
	gen_expr(buf, cap, depth + 1);
	len = strlen(buf);
	snprintf(buf + len, cap - len, r == 3 ? ") and (" : ") or (");
	gen_expr(buf, cap, depth + 1);
	len = strlen(buf);
	snprintf(buf + len, cap - len, ")");
}

static void
gen_customer(struct cust *c)
{
	static const int types[] = { MODEL_T_SITE_VISIT, MODEL_T_PAGE_VIEW,
		MODEL_T_PURCHASE, MODEL_T_REFUND, MODEL_T_SUPPORT_TICKET,
		MODEL_T_BILLING_ISSUE, MODEL_T_SIGNUP,
		MODEL_T_ONBOARDING_COMPLETED, MODEL_T_CANCELLATION,
		MODEL_T_ADD_TO_CART, MODEL_T_CUSTOM, MODEL_T_REVIEW };
	cust_init(c);
	c->onb.known = rng() % 4 != 0;
	size_t n = rng() % 12;
	int64_t at = T0 - (int64_t) (rng() % (40 * D));
	for (size_t i = 0; i < n; i++) {
		int type = types[rng() % (sizeof(types) / sizeof(types[0]))];
		at += (int64_t) (rng() % (6 * D));
		cust_touch(c, type, at, rng() % 2 ? "a" : "b",
		        rng() % 2 ? "x" : "y", (float) (rng() % 3) - 1.0f);
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return x < y ? -1 : (x > y ? 1 : 0);
}

Test(segexpr_eval, next_change_never_late)
{
	enum { ROUNDS = 3000, MAX_T = 4096 };
	static int64_t ts[MAX_T];
	size_t changes = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct cust c;
		gen_customer(&c);
		char src[2048] = "";
		gen_expr(src, sizeof(src), 0);
		segx *x = compile(src);
		int64_t now = T0 + (int64_t) (rng() % (30 * D));
		/* The instants to look at: a grid, and every boundary. */
		size_t nt = 0;
		for (int64_t t = now + 1; t < now + 150 * D; t += 7 * H) {
			ts[nt++] = t;
		}
		for (size_t i = 0; i < c.n; i++) {
			for (size_t w = 0;
			        w < sizeof(windows) / sizeof(*windows); w++) {
				for (int64_t o = -1; o <= 1; o++) {
					int64_t t = c.t[i].at_ms + windows[w]
					        + o;
					if (t > now && nt < MAX_T) {
						ts[nt++] = t;
					}
				}
			}
		}
		qsort(ts, nt, sizeof(ts[0]), cmp_i64);
		int64_t next;
		bool v = eval_at(&c, x, now, &next);
		if (next != INT64_MAX) {
			cr_assert_eq(eval_at(&c, x, next - 1, NULL), v,
			        "'%s' changes before its next %lld", src,
			        (long long) next);
		}
		for (size_t i = 0; i < nt; i++) {
			if (eval_at(&c, x, ts[i], NULL) != v) {
				cr_assert_geq(ts[i], next,
				        "'%s' changes at %lld, next says %lld",
				        src, (long long) ts[i],
				        (long long) next);
				changes++;
				break;
			}
		}
		segx_free(x);
	}
	/* The property is not vacuous: many answers did change. */
	cr_assert_gt(changes, ROUNDS / 10, "%zu changes", changes);
}

static clm_err
failing_count(void *arg, const struct segx_count *q, int64_t to_ms,
        uint64_t *n, int64_t *change_ms)
{
	(void) arg;
	(void) q;
	(void) to_ms;
	(void) n;
	(void) change_ms;
	return CLM_DATA_LOSS;
}

Test(segexpr_eval, callback_errors_and_null_callbacks)
{
	struct cust c;
	loaded(&c);
	segx *x = compile("stage = RETENTION and count(PAGE_VIEW, 1d) > 0");
	struct segx_subject s = subject(&c);
	s.count = failing_count;
	bool member = true;
	int64_t next = 42;
	cr_assert_eq(
	        segx_eval(x, &s, T0 + 6 * D, &member, &next), CLM_DATA_LOSS);
	/* Out-parameters are written only on success. */
	cr_assert(member);
	cr_assert_eq(next, 42);
	s.count = NULL;
	cr_assert_eq(
	        segx_eval(x, &s, T0 + 6 * D, &member, &next), CLM_INTERNAL);
	segx_free(x);

	/* No trait callback: no traits; no bought callback: bought nothing. */
	s = subject(&c);
	s.trait = NULL;
	s.bought = NULL;
	x = compile("trait.plan != \"pro\" and not bought \"a\"");
	cr_assert_eq(segx_eval(x, &s, T0 + 6 * D, &member, &next), CLM_OK);
	cr_assert(member);
	segx_free(x);
	segx_free(NULL);
}
