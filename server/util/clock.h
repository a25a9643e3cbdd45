/* clock: wall-clock and monotonic time. */
#ifndef CLM_CLOCK_H
#define CLM_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* clock_now_ms returns the wall-clock time in unix milliseconds. */
int64_t clock_now_ms(void);

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
