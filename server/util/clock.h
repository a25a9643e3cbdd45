/* clock: wall-clock and monotonic time. */
#ifndef CLM_CLOCK_H
#define CLM_CLOCK_H

#include <stdint.h>

/* clock_now_ms returns the wall-clock time in unix milliseconds. */
int64_t clock_now_ms(void);

/* clock_mono_ns returns a monotonic time in nanoseconds (for durations). */
int64_t clock_mono_ns(void);

#endif /* CLM_CLOCK_H */
