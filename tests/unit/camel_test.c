/*
 * Unit tests of common/camel.c: protoc's JSON names for snake_case field
 * names, walked, matched against a prefix and copied with truncation.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "camel.h"

/* The whole spelling of snake, through camel_next. */
static void
camel_test_spell(const char *snake, bool upper_first, char *out, size_t size)
{
	struct camel c;
	size_t k = 0;
	char ch;
	camel_init(&c, snake, upper_first);
	while ((ch = camel_next(&c)) != '\0') {
		cr_assert_lt(k + 1, size);
		out[k++] = ch;
	}
	out[k] = '\0';
	/* The end stays the end. */
	cr_assert_eq(camel_next(&c), '\0');
}

#define SPELLS(snake, upper, want)                                  \
	do {                                                        \
		char out_[64];                                      \
		camel_test_spell(snake, upper, out_, sizeof(out_)); \
		cr_assert_str_eq(out_, want);                       \
	} while (0)

Test(camel, lower_camel_case)
{
	SPELLS("customer_id", false, "customerId");
	SPELLS("occurred_at_ms", false, "occurredAtMs");
	SPELLS("value", false, "value");
	SPELLS("", false, "");
}

Test(camel, upper_first)
{
	SPELLS("properties", true, "Properties");
	SPELLS("store_ids", true, "StoreIds");
	SPELLS("_x", false, "X");
}

/* Only a-z change case; underscores vanish, however many. */
Test(camel, odd_names)
{
	SPELLS("a__b", false, "aB");
	SPELLS("trailing_", false, "trailing");
	SPELLS("x_1", false, "x1");
	SPELLS("already_Upper", false, "alreadyUpper");
	SPELLS("ab_cD", false, "abCD");
	SPELLS("___", false, "");
	SPELLS("caf\xc3\xa9_x", false, "caf\xc3\xa9X");
}

Test(camel, prefix)
{
	const char *s = "customerIdx";
	cr_assert_eq(camel_prefix("customer_id", false, s, 10), 10);
	cr_assert_eq(camel_prefix("customer_id", false, s, 11), 10);
	cr_assert_eq(camel_prefix("customer_id", false, s, 9), SIZE_MAX);
	cr_assert_eq(camel_prefix("customer_id", false, "customer_id", 11),
	        SIZE_MAX);
	cr_assert_eq(camel_prefix("customer", false, s, 11), 8);
	cr_assert_eq(
	        camel_prefix("properties", true, "PropertiesEntry", 15), 10);
	cr_assert_eq(camel_prefix("properties", false, "PropertiesEntry", 15),
	        SIZE_MAX);
	cr_assert_eq(camel_prefix("", false, "abc", 3), 0);
	cr_assert_eq(camel_prefix("a", false, "", 0), SIZE_MAX);
}

Test(camel, copy)
{
	char buf[16];
	cr_assert_eq(camel_copy(buf, sizeof(buf), "event_id"), 7);
	cr_assert_str_eq(buf, "eventId");
	/* Cut to fit, always terminated. */
	cr_assert_eq(camel_copy(buf, 6, "occurred_at_ms"), 5);
	cr_assert_str_eq(buf, "occur");
	cr_assert_eq(camel_copy(buf, 9, "occurred_at_ms"), 8);
	cr_assert_str_eq(buf, "occurred");
	cr_assert_eq(camel_copy(buf, 10, "occurred_at_ms"), 9);
	cr_assert_str_eq(buf, "occurredA");
	cr_assert_eq(camel_copy(buf, 1, "x"), 0);
	cr_assert_str_eq(buf, "");
}
