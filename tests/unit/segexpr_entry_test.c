/*
 * Unit tests of `since_entry` in the segment language (server/core/
 * segexpr.c, segexpr_eval.c; docs/journeys.md "since_entry"): a count
 * window allowed only under segx_parse_flags(SEGX_SINCE_ENTRY), what it
 * needs, the window (entry_ms, now] the count callback is asked for, and a
 * property test (fixed seed) that the next-change instant stays never late.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/segexpr.h"

#define T0          1700000000000LL /* 2023-11-14 */
#define H           3600000LL
#define D           MODEL_DAY_MS
#define MAX_TOUCHES 32

/* One stored touchpoint as the fake count callback sees it. */
struct touch {
	int type;
	int64_t at_ms;
	const char *item; /* "" = none */
	const char *name; /* CUSTOM's event_name, "" = none */
};

/* A customer: its stored touchpoints, and what the callback was asked. */
struct cust {
	struct model_profile p;
	struct model_params mp;
	struct touch t[MAX_TOUCHES];
	size_t n;
	int calls;
	struct segx_count last; /* the last term asked for */
	int64_t last_to;
};

static void
cust_init(struct cust *c)
{
	memset(c, 0, sizeof(*c));
	model_profile_init(&c->p);
	model_params_default(&c->mp);
}

static void
cust_touch(struct cust *c, int type, int64_t at, const char *item,
        const char *name)
{
	cr_assert_lt(c->n, MAX_TOUCHES);
	c->t[c->n++] = (struct touch) { type, at, item, name };
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
	c->calls++;
	c->last = *q;
	c->last_to = to_ms;
	cr_assert_geq(q->window_ms, 0);
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

static segx *
compile(const char *src)
{
	segx *x = NULL;
	struct segx_error err;
	memset(&err, 0, sizeof(err));
	cr_assert_eq(
	        segx_parse_flags(src, strlen(src), SEGX_SINCE_ENTRY, &x, &err),
	        CLM_OK, "'%s': at byte %zu: %s", src, err.pos, err.msg);
	return x;
}

static bool
eval_at(struct cust *c, const segx *x, int64_t entry, int64_t now,
        int64_t *next)
{
	struct segx_subject s = {
		.p = &c->p,
		.mp = &c->mp,
		.count = fake_count,
		.arg = c,
		.entry_ms = entry,
	};
	bool member;
	int64_t nx;
	cr_assert_eq(segx_eval(x, &s, now, &member, &nx), CLM_OK);
	cr_assert_gt(nx, now);
	if (next != NULL) {
		*next = nx;
	}
	return member;
}

/* The error of parsing src with flags: its byte and message. */
static void
expect_error(const char *src, unsigned flags, size_t pos, const char *msg)
{
	segx *x = NULL;
	struct segx_error err;
	memset(&err, 0, sizeof(err));
	clm_err e = segx_parse_flags(src, strlen(src), flags, &x, &err);
	cr_assert_eq(e, CLM_INVALID_ARGUMENT, "'%s' parses", src);
	cr_expect_null(x);
	cr_expect_eq(
	        err.pos, pos, "'%s': at byte %zu, not %zu", src, err.pos, pos);
	cr_expect_str_eq(err.msg, msg, "'%s'", src);
}

Test(segexpr_entry, a_segment_rejects_since_entry)
{
	const char *msg = "since_entry is only allowed in journeys";
	expect_error("count(PURCHASE, since_entry) >= 1", 0, 16, msg);
	expect_error("purchases > 0 and count(CUSTOM where name = \"x\", "
	             "since_entry) = 0",
	        0, 49, msg);
	/* segx_parse is segx_parse_flags with 0. */
	const char *src
	        = "count(PAGE_VIEW where item = \"a\", since_entry) > 2";
	segx *x = NULL;
	struct segx_error err;
	memset(&err, 0, sizeof(err));
	cr_assert_eq(
	        segx_parse(src, strlen(src), &x, &err), CLM_INVALID_ARGUMENT);
	cr_expect_eq(err.pos, 34);
	cr_expect_str_eq(err.msg, msg);
}

Test(segexpr_entry, bad_since_entry_terms)
{
	unsigned f = SEGX_SINCE_ENTRY;
	expect_error("count(PURCHASE, since_entry)", f, 28,
	        "expected a comparison after 'count(...)'");
	expect_error(
	        "count(PURCHASE, since_entry 1d) > 0", f, 28, "expected ')'");
	expect_error("count(PURCHASE, since_entr) > 0", f, 16,
	        "expected a duration such as 30d");
	expect_error("count(since_entry, 1d) > 0", f, 6,
	        "expected a TouchpointType name such as PAGE_VIEW");
	expect_error("since_entry > 3", f, 0, "unknown field 'since_entry'");
	expect_error("since(since_entry) > 3d", f, 6,
	        "expected first_seen or last_seen");
}

Test(segexpr_entry, needs)
{
	struct segx_needs n;
	segx *x = compile("count(PURCHASE, since_entry) >= 1");
	segx_needs(x, &n);
	cr_expect(n.since_entry);
	cr_expect(n.counts);
	cr_expect(n.time);
	cr_expect_eq(n.max_window_ms, 0, "since_entry widens no window");
	segx_free(x);

	x = compile("count(PAGE_VIEW, 3d) > 1 or count(EMAIL_OPEN where item "
	            "= \"n1\", since_entry) = 0");
	segx_needs(x, &n);
	cr_expect(n.since_entry);
	cr_expect_eq(n.max_window_ms, 3 * D);
	segx_free(x);

	/* The flag alone changes nothing. */
	x = compile("count(PAGE_VIEW, 3d) > 1");
	segx_needs(x, &n);
	cr_expect_not(n.since_entry);
	cr_expect_eq(n.max_window_ms, 3 * D);
	segx_free(x);
}

Test(segexpr_entry, window_is_after_entry_up_to_now)
{
	struct cust c;
	cust_init(&c);
	int64_t entry = T0, now = T0 + 5 * H, next;
	cust_touch(&c, MODEL_T_PURCHASE, entry, "a", "");
	segx *x = compile("count(PURCHASE, since_entry) >= 1");
	cr_expect_not(eval_at(&c, x, entry, now, NULL),
	        "a purchase at the entry instant is not after it");
	cr_expect(c.last.since_entry);
	cr_expect_eq(c.last.window_ms, 5 * H, "window now - entry_ms");
	cr_expect_eq(c.last_to, now);

	cust_touch(&c, MODEL_T_PURCHASE, now + 1, "b", "");
	cr_expect_not(eval_at(&c, x, entry, now, &next));
	cr_expect_eq(next, now + 1, "a purchase after now enters at its time");
	cr_expect(eval_at(&c, x, entry, now + 1, NULL), "at its instant");

	cust_touch(&c, MODEL_T_PURCHASE, entry + 1, "c", "");
	cr_expect(eval_at(&c, x, entry, now, NULL), "1 ms after the entry");
	cr_expect(eval_at(&c, x, entry, entry + 1, NULL), "and at once");
	cr_expect_not(eval_at(&c, x, entry + 1, now, NULL),
	        "a later entry does not count it");
	segx_free(x);

	/* where item / where name narrow it as in a segment. */
	x = compile("count(PURCHASE where item = \"c\", since_entry) = 1");
	cr_expect(eval_at(&c, x, entry, now, NULL));
	segx_free(x);
	x = compile("count(PURCHASE where item = \"a\", since_entry) = 0");
	cr_expect(eval_at(&c, x, entry, now + 10, NULL));
	segx_free(x);
	cust_touch(&c, MODEL_T_CUSTOM, entry + H, "", "trial");
	x = compile("count(CUSTOM where name = \"trial\", since_entry) > 0");
	cr_expect(eval_at(&c, x, entry, now, NULL));
	cr_expect_not(eval_at(&c, x, entry + H, now, NULL));
	segx_free(x);
}

Test(segexpr_entry, entry_after_now_counts_nothing)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0 - H, "", "");
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0, "", "");
	segx *x = compile("count(PAGE_VIEW, since_entry) = 0");
	cr_expect(eval_at(&c, x, T0 + D, T0, NULL));
	cr_expect_eq(c.last.window_ms, 0);
	cr_expect(eval_at(&c, x, T0, T0, NULL), "entry at now: empty too");
	cr_expect_eq(c.last.window_ms, 0);
	cr_expect_not(eval_at(&c, x, T0 - H, T0, NULL));
	cr_expect_eq(c.last.window_ms, H);
	/* An entry long ago: the whole history, without overflow. */
	cr_expect_not(eval_at(&c, x, INT64_MIN, T0, NULL));
	cr_expect_eq(c.last.window_ms, INT64_MAX);
	segx_free(x);
}

Test(segexpr_entry, other_counts_keep_their_window)
{
	struct cust c;
	cust_init(&c);
	cust_touch(&c, MODEL_T_PAGE_VIEW, T0 + H, "", "");
	segx *x = compile("count(PAGE_VIEW, 2h) = 1");
	cr_expect(eval_at(&c, x, T0 + 10 * D, T0 + 2 * H, NULL));
	cr_expect_not(c.last.since_entry);
	cr_expect_eq(c.last.window_ms, 2 * H, "entry_ms ignored");
	segx_free(x);
}

/* xorshift64*: a fixed sequence, the same on every run. */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int64_t
rng_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t) (rng() % (uint64_t) (hi - lo + 1));
}

/*
 * Random touchpoints and entries: between now and the next change the
 * answer holds at every instant where it could change (each touch, and
 * its leaving a window, +-1 ms).
 */
Test(segexpr_entry, next_change_never_late)
{
	static const char *const exprs[] = {
		"count(PURCHASE, since_entry) >= 1",
		"count(PURCHASE, since_entry) = 0",
		"count(PAGE_VIEW, since_entry) >= 3 and count(PURCHASE, 2h) = 0",
		"count(PAGE_VIEW, since_entry) < 2 or count(PAGE_VIEW, 1h) > 1",
		"not count(EMAIL_OPEN where item = \"m\", since_entry) > 0",
	};
	static const int types[]
	        = { MODEL_T_PURCHASE, MODEL_T_PAGE_VIEW, MODEL_T_EMAIL_OPEN };
	segx *xs[sizeof(exprs) / sizeof(exprs[0])];
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		xs[i] = compile(exprs[i]);
	}
	for (int round = 0; round < 4000; round++) {
		struct cust c;
		cust_init(&c);
		size_t n = (size_t) rng_in(0, 12);
		for (size_t i = 0; i < n; i++) {
			cust_touch(&c, types[rng_in(0, 2)],
			        T0 + rng_in(-3 * H, 6 * H),
			        rng_in(0, 1) ? "m" : "", "");
		}
		int64_t entry = T0 + rng_in(-2 * H, 2 * H);
		int64_t now = T0 + rng_in(-H, 3 * H);
		size_t k = (size_t) rng_in(0, 4);
		int64_t next;
		bool v = eval_at(&c, xs[k], entry, now, &next);
		/* A touch enters, or leaves a window of 1 h or 2 h. */
		for (size_t i = 0; i < 3 * c.n; i++) {
			for (int64_t d = -1; d <= 1; d++) {
				int64_t t = c.t[i / 3].at_ms
				        + (int64_t) (i % 3) * H + d;
				if (t <= now || t >= next) {
					continue;
				}
				cr_assert_eq(
				        eval_at(&c, xs[k], entry, t, NULL), v,
				        "round %d: '%s' changed at %lld, "
				        "before the next change %lld",
				        round, exprs[k], (long long) (t - T0),
				        (long long) (next - T0));
			}
		}
	}
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		segx_free(xs[i]);
	}
}
