/*
 * Unit tests of recommend_cap_check (server/core/recommend.c), the
 * frequency caps of docs/api.md "Frequency capping" for one message, as
 * journeys' steps use them (docs/journeys.md "How steps run", step 4):
 * its verdict, its reason, and *free_ms, the earliest instant after now
 * at which the message would pass. A property test over random message
 * histories checks *free_ms against a millisecond-by-millisecond scan and
 * the verdict against an oracle written from the docs, and that
 * recommend_build suppresses exactly what recommend_cap_check caps.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/recommend.h"

#define MIN_MS   60000LL
#define HOUR_MS  (60 * MIN_MS)
#define DAY_MS   MODEL_DAY_MS
#define NOW      1796577558300LL /* 2026-12-06T17:19:18.300Z */
#define CH_EMAIL REC_CH_EMAIL
#define CH_SMS   12

/* A profile whose only content is its messages: what the caps read. */
static void
profile_init(struct model_profile *p)
{
	model_profile_init(p);
}

/* Adds a message on ch at at_ms (latest first, as the model keeps them). */
static void
profile_msg(struct model_profile *p, int ch, int64_t at_ms)
{
	size_t n = p->n_messages[ch];
	cr_assert_lt(n, MODEL_MSG_PER_CHANNEL);
	size_t i = n;
	while (i > 0 && p->messages[ch][i - 1].at_ms < at_ms) {
		p->messages[ch][i] = p->messages[ch][i - 1];
		i--;
	}
	memset(&p->messages[ch][i], 0, sizeof(p->messages[ch][i]));
	p->messages[ch][i].at_ms = at_ms;
	p->messages[ch][i].seq = n + 1;
	p->n_messages[ch] = n + 1;
}

/* recommend_cap_check with sentinels that must stay when it passes. */
static bool
check(const struct model_profile *p, const struct recommend_params *rp, int ch,
        int64_t now, int64_t *free_ms, char *why, size_t n)
{
	*free_ms = -42;
	snprintf(why, n, "untouched");
	bool capped = recommend_cap_check(p, rp, ch, now, free_ms, why, n);
	if (!capped) {
		cr_assert_eq(*free_ms, -42, "free_ms written when not capped");
		cr_assert_str_eq(why, "untouched");
	} else {
		cr_assert_gt(*free_ms, now, "free_ms %lld not after now %lld",
		        (long long) *free_ms, (long long) now);
	}
	return capped;
}

Test(cap_check, nothing_sent_passes)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	cr_expect_not(
	        check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	/* A channel out of range is never capped (as recommend_build). */
	profile_msg(&p, CH_EMAIL, NOW - HOUR_MS);
	cr_expect_not(check(&p, &rp, -1, NOW, &free_ms, why, sizeof(why)));
	cr_expect_not(check(
	        &p, &rp, MODEL_N_CHANNELS, NOW, &free_ms, why, sizeof(why)));
}

Test(cap_check, quiet_hours)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	profile_msg(&p, CH_EMAIL, NOW - HOUR_MS);
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_str_eq(
	        why, "quiet hours: a message on this channel 60 min ago");
	/* Free when the last message is 24 h old, not a millisecond sooner. */
	cr_expect_eq(free_ms, NOW - HOUR_MS + 24 * HOUR_MS);
	cr_expect(check(
	        &p, &rp, CH_EMAIL, free_ms - 1, &free_ms, why, sizeof(why)));
	cr_expect_not(check(&p, &rp, CH_EMAIL, NOW + 23 * HOUR_MS, &free_ms,
	        why, sizeof(why)));
	/* Another channel is free. */
	cr_expect_not(check(&p, &rp, CH_SMS, NOW, &free_ms, why, sizeof(why)));
}

Test(cap_check, cap_messages_in_cap_days)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	profile_msg(&p, CH_EMAIL, NOW - 6 * DAY_MS);
	profile_msg(&p, CH_EMAIL, NOW - 3 * DAY_MS);
	profile_msg(&p, CH_EMAIL, NOW - 2 * DAY_MS);
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_str_eq(
	        why, "frequency cap: 3 messages on this channel in 7 days");
	/*
	 * The third latest (6 days ago) leaves the 7-day window when it is
	 * more than 7 days old: 1 day and 1 ms from now.
	 */
	cr_expect_eq(free_ms, NOW + DAY_MS + 1);
	int64_t f2;
	cr_expect(
	        check(&p, &rp, CH_EMAIL, NOW + DAY_MS, &f2, why, sizeof(why)),
	        "exactly 7 days old still counts");
	cr_expect_not(check(
	        &p, &rp, CH_EMAIL, NOW + DAY_MS + 1, &f2, why, sizeof(why)));
}

Test(cap_check, both_rules_the_later_wins)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	rp.quiet_ms = 3 * DAY_MS;
	profile_msg(&p, CH_EMAIL, NOW - 6 * DAY_MS - 20 * HOUR_MS);
	profile_msg(&p, CH_EMAIL, NOW - 4 * DAY_MS);
	profile_msg(&p, CH_EMAIL, NOW - HOUR_MS);
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	/* The cap frees in 4 h and 1 ms, quiet hours in 2 d 23 h. */
	cr_expect_eq(free_ms, NOW - HOUR_MS + 3 * DAY_MS);
}

/* Cluster mode may apply a customer's claims at instants out of order. */
Test(cap_check, messages_after_now_count)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	profile_msg(&p, CH_EMAIL, NOW - DAY_MS - 5);
	profile_msg(&p, CH_EMAIL, NOW + 1000);
	profile_msg(&p, CH_EMAIL, NOW + 2000);
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_str_eq(
	        why, "frequency cap: 3 messages on this channel in 7 days");
	/* The oldest of the three leaves the window in 6 days. */
	cr_expect_eq(free_ms, NOW - DAY_MS - 5 + 7 * DAY_MS + 1);
	/* One ahead of now only: quiet hours hold until 24 h after it. */
	profile_init(&p);
	profile_msg(&p, CH_EMAIL, NOW + 1000);
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_eq(free_ms, NOW + 1000 + 24 * HOUR_MS);
}

Test(cap_check, no_messages_allowed_is_never_free)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	rp.cap_messages = 0;
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_eq(free_ms, INT64_MAX);
}

Test(cap_check, no_quiet_hours_frees_on_the_next_millisecond)
{
	struct model_profile p;
	struct recommend_params rp;
	int64_t free_ms;
	char why[REC_TEXT_MAX];
	profile_init(&p);
	recommend_params_default(&rp);
	rp.quiet_ms = 0;
	rp.cap_messages = 1;
	rp.cap_ms = 0;
	profile_msg(&p, CH_EMAIL, NOW);
	/* At now the message is 0 ms old: in a window of 0 ms. */
	cr_assert(check(&p, &rp, CH_EMAIL, NOW, &free_ms, why, sizeof(why)));
	cr_expect_eq(free_ms, NOW + 1);
}

/* ---------------------------------------------------------------------- */
/* Property: random histories on a small time scale, scanned exhaustively. */

/* xorshift64*: a fixed sequence, the same on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

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
 * The rule as docs/api.md words it: capped at t when the channel carried
 * cap_messages messages in the cap window ending at t (messages after t
 * included, recommend.c's comment on cluster mode) or any message in the
 * quiet window before t (or after it).
 */
static bool
oracle_capped(const struct model_profile *p, const struct recommend_params *rp,
        int ch, int64_t t)
{
	unsigned in_window = 0;
	bool quiet = false;
	for (size_t i = 0; i < p->n_messages[ch]; i++) {
		int64_t at = p->messages[ch][i].at_ms;
		if (at >= t - rp->cap_ms) {
			in_window++;
		}
		if (at > t - rp->quiet_ms) {
			quiet = true;
		}
	}
	return in_window >= rp->cap_messages || quiet;
}

Test(cap_check, free_ms_is_the_first_free_instant)
{
	/* Instants around a base far from 0 (quiet hours ignore at 0). */
	const int64_t base = 1000000;
	unsigned capped_cases = 0;
	for (int round = 0; round < 20000; round++) {
		struct model_profile p;
		struct recommend_params rp;
		recommend_params_default(&rp);
		rp.cap_messages = (unsigned) rng_in(1, 5);
		rp.cap_ms = rng_in(0, 120);
		rp.quiet_ms = rng_in(0, 60);
		profile_init(&p);
		int ch = (int) rng_in(1, MODEL_N_CHANNELS - 1);
		int other = ch == CH_SMS ? CH_EMAIL : CH_SMS;
		int64_t now = base + rng_in(0, 100);
		size_t n = (size_t) rng_in(0, MODEL_MSG_PER_CHANNEL);
		for (size_t i = 0; i < n; i++) {
			/* Mostly before now, some at or after it. */
			profile_msg(&p, ch, now + rng_in(-150, 30));
		}
		profile_msg(&p, other, now);
		int64_t free_ms;
		char why[REC_TEXT_MAX];
		bool capped
		        = check(&p, &rp, ch, now, &free_ms, why, sizeof(why));
		cr_assert_eq(capped, oracle_capped(&p, &rp, ch, now),
		        "round %d: verdict at now", round);
		if (!capped) {
			continue;
		}
		capped_cases++;
		cr_assert(strncmp(why, "frequency cap", 13) == 0
		                || strncmp(why, "quiet hours", 11) == 0,
		        "round %d: reason '%s'", round, why);
		/*
		 * Scan every millisecond after now: capped up to free_ms - 1
		 * (by the function and the oracle), free at free_ms.
		 */
		cr_assert_lt(free_ms, now + 400, "round %d: free_ms too late",
		        round);
		for (int64_t t = now + 1; t <= free_ms; t++) {
			int64_t f2;
			char w2[REC_TEXT_MAX];
			bool c = check(&p, &rp, ch, t, &f2, w2, sizeof(w2));
			cr_assert_eq(c, oracle_capped(&p, &rp, ch, t),
			        "round %d: verdict at now + %lld", round,
			        (long long) (t - now));
			cr_assert_eq(c, t < free_ms,
			        "round %d: at now + %lld (free_ms now + %lld)",
			        round, (long long) (t - now),
			        (long long) (free_ms - now));
			if (c) {
				cr_assert_eq(f2, free_ms,
				        "round %d: the same free instant from "
				        "now + %lld",
				        round, (long long) (t - now));
			}
		}
	}
	cr_expect_gt(capped_cases, 5000, "only %u capped cases", capped_cases);
}

/*
 * recommend_build's suppression and recommend_cap_check agree: a REACH
 * customer gets NEXT_BEST_ACTION on the requested channel.
 */
Test(cap_check, recommend_build_agrees)
{
	for (int round = 0; round < 3000; round++) {
		struct model_profile p;
		struct recommend_params rp;
		recommend_params_default(&rp);
		rp.cap_messages = (unsigned) rng_in(0, 4);
		profile_init(&p);
		int ch = rng_in(0, 1) ? CH_EMAIL : CH_SMS;
		size_t n = (size_t) rng_in(0, MODEL_MSG_PER_CHANNEL);
		for (size_t i = 0; i < n; i++) {
			profile_msg(&p, ch, NOW + rng_in(-9 * DAY_MS, DAY_MS));
		}
		struct recommend_input in = {
			.p = &p,
			.stage = 1,
			.funnel = 1,
			.health = 1,
			.now_ms = NOW,
			.channel = ch,
			.upgrade_to = "",
		};
		struct recommendation out[REC_MAX];
		size_t k
		        = recommend_build(&in, &rp, REC_MAX, true, false, out);
		int64_t free_ms;
		char why[REC_TEXT_MAX];
		bool capped
		        = check(&p, &rp, ch, NOW, &free_ms, why, sizeof(why));
		size_t seen = 0;
		for (size_t i = 0; i < k; i++) {
			if (out[i].channel != ch) {
				continue;
			}
			seen++;
			cr_assert_eq(
			        out[i].suppressed, capped, "round %d", round);
			if (capped) {
				cr_assert_str_eq(
				        out[i].suppressed_reason, why);
			}
		}
		cr_assert_gt(seen, 0, "round %d: no recommendation on %d",
		        round, ch);
	}
}
