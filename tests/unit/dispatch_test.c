/*
 * server/calls/dispatch.c: the pure parts of the checks before decoding,
 * the decode budget and the element count (docs/api.md "Limits").
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "calls/dispatch.h"

Test(dispatch, decode_budget_is_a_floor_plus_a_multiple)
{
	cr_assert_eq(dispatch_decode_budget(0), DISPATCH_DECODE_FLOOR);
	cr_assert_eq(dispatch_decode_budget(3),
	        DISPATCH_DECODE_FLOOR + 3 * DISPATCH_DECODE_RATIO);
	/* 4 MiB, the default max_message_bytes: 97 MiB. */
	cr_assert_eq(dispatch_decode_budget(4u << 20), 97u << 20);
	/* Saturates, and is never 0 (which would be "no budget"). */
	cr_assert_eq(dispatch_decode_budget(SIZE_MAX), SIZE_MAX - 1);
	cr_assert_eq(dispatch_decode_budget(SIZE_MAX / DISPATCH_DECODE_RATIO),
	        SIZE_MAX - 1);
}

/*
 * The worst legitimate request measured (10,000 touchpoints with a 1-byte
 * customer_id and 32 properties of a 1-byte key and an empty value:
 * 1,740,004 bytes) unpacks into 35,323,376 bytes of arena: 20.3 per byte.
 */
Test(dispatch, decode_budget_fits_the_worst_legitimate_request)
{
	cr_assert_geq(dispatch_decode_budget(1740004), 35323376);
	/* 10,000 touchpoints of only a type and a 1-byte customer_id. */
	cr_assert_geq(dispatch_decode_budget(70004), 2043376);
}

Test(dispatch, max_repeated_is_the_largest_per_call_limit)
{
	cr_assert_eq(dispatch_max_repeated(10000), DISPATCH_MAX_ELEMENTS);
	cr_assert_eq(dispatch_max_repeated(1), DISPATCH_MAX_ELEMENTS);
	cr_assert_eq(dispatch_max_repeated(250000), 250000);
}
