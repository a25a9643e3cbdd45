/*
 * Unit tests of common/civil.c: day numbers of known dates (checked
 * against Python's datetime), years before 1970 and before year 1, the
 * leap-year rule, and that consecutive dates get consecutive numbers.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "civil.h"

/* The Gregorian rule, written independently of civil.c. */
static bool
civil_test_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
civil_test_month_days(int64_t y, int m)
{
	static const int days[12]
	        = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && civil_test_leap(y) ? 29 : days[m - 1];
}

Test(civil, the_epoch_is_day_zero)
{
	cr_assert_eq(civil_to_days(1970, 1, 1), 0);
	cr_assert_eq(civil_to_days(1970, 1, 2), 1);
	cr_assert_eq(civil_to_days(1969, 12, 31), -1);
}

Test(civil, known_dates)
{
	cr_assert_eq(civil_to_days(2000, 2, 29), 11016);
	cr_assert_eq(civil_to_days(2000, 3, 1), 11017);
	cr_assert_eq(civil_to_days(2023, 3, 1), 19417);
	cr_assert_eq(civil_to_days(2024, 2, 29), 19782);
	cr_assert_eq(civil_to_days(2024, 3, 1), 19783);
	cr_assert_eq(civil_to_days(2026, 11, 24), 20781);
	cr_assert_eq(civil_to_days(9999, 12, 31), 2932896);
}

Test(civil, before_1970)
{
	cr_assert_eq(civil_to_days(1968, 2, 29), -672);
	cr_assert_eq(civil_to_days(1900, 3, 1), -25508);
	cr_assert_eq(civil_to_days(1600, 2, 29), -135081);
	cr_assert_eq(civil_to_days(1, 1, 1), -719162);
}

/* Year 0 is 1 BC and a leap year; year -1 is 2 BC. */
Test(civil, year_zero_and_negative_years)
{
	cr_assert_eq(civil_to_days(0, 3, 1), -719468);
	cr_assert_eq(civil_to_days(0, 2, 29), -719469);
	cr_assert_eq(civil_to_days(0, 1, 1), -719528);
	cr_assert_eq(civil_to_days(0, 12, 31), -719163);
	cr_assert_eq(civil_to_days(-1, 12, 31), -719529);
	cr_assert_eq(civil_to_days(-1, 3, 1), -719834);
	cr_assert_eq(civil_to_days(-1, 1, 1), -719893);
	/* 400 years are 146097 days, before year 0 as after it. */
	cr_assert_eq(civil_to_days(-400, 1, 1), -719528 - 146097);
	cr_assert_eq(civil_to_days(-401, 12, 31), -719528 - 146097 - 1);
}

Test(civil, leap_days)
{
	/* A leap day lies between Feb 28 and Mar 1: two days apart. */
	cr_assert_eq(
	        civil_to_days(2024, 3, 1) - civil_to_days(2024, 2, 28), 2);
	cr_assert_eq(
	        civil_to_days(2000, 3, 1) - civil_to_days(2000, 2, 28), 2);
	cr_assert_eq(civil_to_days(-4, 3, 1) - civil_to_days(-4, 2, 28), 2);
	cr_assert_eq(
	        civil_to_days(-400, 3, 1) - civil_to_days(-400, 2, 28), 2);
	/* Centuries not divisible by 400 have none. */
	cr_assert_eq(
	        civil_to_days(1900, 3, 1) - civil_to_days(1900, 2, 28), 1);
	cr_assert_eq(
	        civil_to_days(2100, 3, 1) - civil_to_days(2100, 2, 28), 1);
	cr_assert_eq(
	        civil_to_days(-100, 3, 1) - civil_to_days(-100, 2, 28), 1);
	cr_assert_eq(
	        civil_to_days(2023, 3, 1) - civil_to_days(2023, 2, 28), 1);
}

/* The day is not checked: past the month's end it counts on. */
Test(civil, days_past_the_month_roll_over)
{
	cr_assert_eq(civil_to_days(2025, 2, 29), civil_to_days(2025, 3, 1));
	cr_assert_eq(civil_to_days(2024, 2, 31), civil_to_days(2024, 3, 2));
	cr_assert_eq(civil_to_days(2024, 3, 0), civil_to_days(2024, 2, 29));
}

/* Every first of the month from -1000 to 3000 follows the month before. */
Test(civil, months_are_consecutive)
{
	int64_t day = civil_to_days(-1000, 1, 1);
	for (int64_t y = -1000; y <= 3000; y++) {
		for (int m = 1; m <= 12; m++) {
			cr_assert_eq(civil_to_days(y, m, 1), day,
			        "%lld-%02d-01", (long long) y, m);
			day += civil_test_month_days(y, m);
		}
	}
	cr_assert_eq(civil_to_days(3001, 1, 1), day);
}

/* civil_from_days inverts civil_to_days, across eras and before 0. */
Test(civil, from_days_round_trips)
{
	static const struct {
		int64_t y;
		int m, d;
	} dates[] = { { 1970, 1, 1 }, { 1969, 12, 31 }, { 2000, 2, 29 },
		{ 2024, 12, 31 }, { 1900, 3, 1 }, { 0, 1, 1 }, { -1, 12, 31 },
		{ -400, 2, 29 }, { 9999, 12, 31 } };
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		int64_t y;
		int m, d;
		civil_from_days(
		        civil_to_days(dates[i].y, dates[i].m, dates[i].d), &y,
		        &m, &d);
		cr_expect(
		        y == dates[i].y && m == dates[i].m && d == dates[i].d,
		        "%lld-%d-%d came back as %lld-%d-%d",
		        (long long) dates[i].y, dates[i].m, dates[i].d,
		        (long long) y, m, d);
	}
	/* Every day of 1899..2101 maps to the next date in order. */
	int64_t y0;
	int m0, d0;
	civil_from_days(civil_to_days(1899, 1, 1), &y0, &m0, &d0);
	for (int64_t z = civil_to_days(1899, 1, 1) + 1;
	        z < civil_to_days(2102, 1, 1); z++) {
		int64_t y;
		int m, d;
		civil_from_days(z, &y, &m, &d);
		cr_assert(civil_to_days(y, m, d) == z, "day %lld",
		        (long long) z);
		cr_assert(d == d0 + 1 || (d == 1 && (m == m0 % 12 + 1)),
		        "day %lld: %lld-%d-%d after %lld-%d-%d", (long long) z,
		        (long long) y, m, d, (long long) y0, m0, d0);
		y0 = y;
		m0 = m;
		d0 = d;
	}
}
