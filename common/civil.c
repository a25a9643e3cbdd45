/*
 * civil: day numbers from dates (see civil.h).
 *
 * The algorithm is H. Hinnant's days_from_civil
 * (http://howardhinnant.github.io/date_algorithms.html). It shifts the year
 * to start on March 1, so that the leap day is the last day of the
 * shifted year and the months from March have a regular length pattern
 * (153 days per five months), and counts in 400-year eras of 146097 days,
 * the period of the Gregorian calendar. The era is rounded toward minus
 * infinity so that years before 0 come out right too. civil_from_days is
 * the same algorithm's civil_from_days, run backwards.
 */
#include "civil.h"

int64_t
civil_to_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	/* Floor division: -1 / 400 must be era -1, not 0. */
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;                         /* [0, 399] */
	int64_t mp = m > 2 ? m - 3 : m + 9;                  /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
	return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to 1970 */
}

void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097; /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                      /* March = 0 */
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}
