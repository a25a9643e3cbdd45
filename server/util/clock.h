/* clock: wall-clock and monotonic time. */
#ifndef CLM_CLOCK_H
#define CLM_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/*
 * clock_now_ms returns the wall-clock time in unix milliseconds, plus the
 * test clock's offset when one is set (clock_set_test_file).
 */
int64_t clock_now_ms(void);

/*
 * The test clock (`test_clock_file`, docs/operations.md; for tests and
 * demos only, never for production): once path is set, every
 * clock_now_ms reads the file again and adds the number it holds, a
 * decimal count of milliseconds (may be negative, surrounding white space
 * ignored), to the real clock, so a test moves clmd's time forward by
 * rewriting the file (write a new file and rename it over the old one).
 * A missing file counts as 0; one that does not parse keeps the last
 * offset read. The offset the clock applied last is clock_test_offset_ms.
 * Call clock_set_test_file before any thread reads the clock; NULL or ""
 * turns the test clock off. Returns 0, or -1 when path is too long.
 */
int clock_set_test_file(const char *path);
int64_t clock_test_offset_ms(void);

/* clock_mono_ns returns a monotonic time in nanoseconds (for durations). */
int64_t clock_mono_ns(void);

/*
 * clock_cond_init initializes cv to time its waits on the monotonic
 * clock, so that a wall-clock jump neither ends a wait early nor makes it
 * last the jump's length. Returns pthread_cond_init's result.
 */
int clock_cond_init(pthread_cond_t *cv);

/*
 * clock_deadline returns the monotonic instant ms milliseconds from now
 * (ms < 0 counts as 0), for pthread_cond_timedwait on a cv made by
 * clock_cond_init.
 */
struct timespec clock_deadline(int64_t ms);

#endif /* CLM_CLOCK_H */
