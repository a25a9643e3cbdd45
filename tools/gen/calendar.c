/*
 * calendar: clm-gen's dates, in UTC and the proleptic Gregorian calendar
 * (day numbers to and from dates are common/civil.h): weekdays, Black
 * Friday, and the campaign names that spend lines and the touchpoints they
 * paid for share.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "civil.h"
#include "gen.h"

int64_t
gen_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* 0 = Sunday. */
int
gen_weekday(int64_t day)
{
	return (int) (((day + 4) % 7 + 7) % 7);
}

/* The day of the Thursday of US Thanksgiving (4th Thursday of November). */
static int64_t
gen_thanksgiving(int64_t year)
{
	int64_t nov1 = civil_to_days(year, 11, 1);
	return nov1 + (4 - gen_weekday(nov1) + 7) % 7 + 21;
}

/* Thanksgiving Thursday to Cyber Monday: the Black Friday campaign. */
bool
gen_black_friday(int64_t day)
{
	int64_t y;
	int m, d;
	civil_from_days(day, &y, &m, &d);
	int64_t tg = gen_thanksgiving(y);
	return day >= tg && day < tg + 5;
}

/*
 * The campaign running on a channel on a UTC day (empty when the channel has
 * none): "bf-2026" over Black Friday, "holiday-2026" in December up to the
 * 24th, else one per channel and month ("ads-2026-01"). Spend lines and the
 * touchpoints they paid for use the same names.
 */
void
gen_campaign(int64_t day, enum gen_channel ch, char *buf, size_t len)
{
	int64_t y;
	int m, d;
	const char *prefix;
	switch (ch) {
	case PAID_ADS:
		prefix = "ads";
		break;
	case ORGANIC_SOCIAL:
		prefix = "social";
		break;
	case EMAIL:
		prefix = "newsletter";
		break;
	case REFERRAL_LINK:
		snprintf(buf, len, "referral-program");
		return;
	default:
		buf[0] = '\0';
		return;
	}
	civil_from_days(day, &y, &m, &d);
	if (gen_black_friday(day)) {
		snprintf(buf, len, "bf-%lld", (long long) y);
	} else if (m == 12 && d <= 24) {
		snprintf(buf, len, "holiday-%lld", (long long) y);
	} else {
		snprintf(buf, len, "%s-%04lld-%02d", prefix, (long long) y, m);
	}
}

/* "2026-01-02T03:04:05Z" (buf of 32 bytes). */
void
gen_format_time(int64_t ms, char *buf, size_t len)
{
	int64_t day = gen_floor_div(ms, GEN_DAY_MS), y;
	int64_t s = (ms - day * GEN_DAY_MS) / 1000;
	int m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long) y,
	        m, d, (int) (s / 3600), (int) (s / 60 % 60), (int) (s % 60));
}
