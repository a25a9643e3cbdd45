/*
 * The event stream's short-lived tokens (net/evtoken.h): a token is
 * valid until its expiry and not a millisecond after, a changed digit or
 * another length is refused, and the table stays bounded, replacing the
 * token that expires first.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net/evtoken.h"

static bool
check(evtoken *t, const char *tok, int64_t now)
{
	return evtoken_check(t, tok, strlen(tok), now);
}

Test(evtoken, valid_until_it_expires)
{
	evtoken *t;
	cr_assert_eq(evtoken_open(60000, &t), CLM_OK);
	char tok[EVTOKEN_LEN + 1];
	cr_assert_eq(evtoken_issue(t, 1000, tok), CLM_OK);
	cr_expect_eq(strlen(tok), EVTOKEN_LEN);
	cr_expect_eq(strspn(tok, "0123456789abcdef"), EVTOKEN_LEN);
	cr_expect(check(t, tok, 1000));
	cr_expect(check(t, tok, 60999), "used again: not single-use");
	cr_expect_not(check(t, tok, 61000), "expired");
	cr_expect_not(check(t, tok, 1000000));
	evtoken_close(t);
}

Test(evtoken, forged_and_foreign_tokens_are_refused)
{
	evtoken *t;
	cr_assert_eq(evtoken_open(60000, &t), CLM_OK);
	char tok[EVTOKEN_LEN + 1];
	cr_assert_eq(evtoken_issue(t, 0, tok), CLM_OK);
	/* Nothing matches an empty table's free slots either. */
	char zeros[EVTOKEN_LEN + 1];
	memset(zeros, 0, sizeof(zeros));
	cr_expect_not(evtoken_check(t, zeros, EVTOKEN_LEN, 0));
	for (size_t i = 0; i < EVTOKEN_LEN; i++) {
		char forged[EVTOKEN_LEN + 1];
		memcpy(forged, tok, sizeof(forged));
		forged[i] = forged[i] == 'a' ? 'b' : 'a';
		cr_expect_not(check(t, forged, 1), "digit %zu changed", i);
	}
	cr_expect_not(evtoken_check(t, tok, EVTOKEN_LEN - 1, 1), "a prefix");
	char longer[EVTOKEN_LEN + 2];
	snprintf(longer, sizeof(longer), "%s0", tok);
	cr_expect_not(check(t, longer, 1), "a longer one");
	/* Another table's token (another server, or before a restart). */
	evtoken *other;
	cr_assert_eq(evtoken_open(60000, &other), CLM_OK);
	cr_expect_not(check(other, tok, 1));
	evtoken_close(other);
	cr_expect(check(t, tok, 1));
	evtoken_close(t);
}

Test(evtoken, the_table_is_bounded_and_drops_the_oldest)
{
	evtoken *t;
	cr_assert_eq(evtoken_open(1000, &t), CLM_OK);
	static char toks[EVTOKEN_MAX + 1][EVTOKEN_LEN + 1];
	for (int i = 0; i <= EVTOKEN_MAX; i++) {
		cr_assert_eq(evtoken_issue(t, i, toks[i]), CLM_OK);
	}
	/* The first, expiring first, made room for the last. */
	cr_expect_not(check(t, toks[0], EVTOKEN_MAX));
	for (int i = 1; i <= EVTOKEN_MAX; i++) {
		cr_expect(check(t, toks[i], EVTOKEN_MAX), "token %d", i);
	}
	evtoken_close(t);
}
