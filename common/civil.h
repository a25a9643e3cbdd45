/*
 * civil: dates in the proleptic Gregorian calendar as day numbers, for
 * everything in clm that turns a date into a count of days (the server's
 * calendar periods and HTTP dates, the CLI's time arguments, clm-gen).
 *
 * A day number counts days since 1970-01-01, the Unix epoch: 0 is
 * 1970-01-01, -1 is 1969-12-31. Times are UTC; there are no time zones and
 * no leap seconds. Everything here is pure and safe from any thread.
 */
#ifndef CLM_CIVIL_H
#define CLM_CIVIL_H

#include <stdint.h>

/*
 * civil_to_days returns the day number of the date y-m-d (year y, which
 * may be 0 or negative, as in ISO 8601: year 0 is 1 BC; month m from 1 to
 * 12; day d). Exact for |y| below 10^15.
 *
 * d is not checked against the length of the month: the result grows by
 * one per day, so 2025-02-29 is 2025-03-01 and day 0 is the last day of
 * the month before. m outside 1..12 gives a meaningless day. Callers that
 * need a real date check it first.
 */
int64_t civil_to_days(int64_t y, int m, int d);

/*
 * civil_from_days is the inverse: the date of day number z, with month 1
 * to 12 and day 1 to 31 in *m and *d. Exact for |z| below 10^15.
 */
void civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif /* CLM_CIVIL_H */
