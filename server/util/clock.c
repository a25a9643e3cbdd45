#include "util/clock.h"

#include <time.h>

int64_t
clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;
	int rc = pthread_condattr_init(&attr);
	if (rc != 0) {
		return rc;
	}
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0) {
		rc = pthread_cond_init(cv, &attr);
	}
	pthread_condattr_destroy(&attr);
	return rc;
}

struct timespec
clock_deadline(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = ts.tv_nsec + (ms > 0 ? ms : 0) * 1000000;
	ts.tv_sec += (time_t) (ns / 1000000000);
	ts.tv_nsec = (long) (ns % 1000000000);
	return ts;
}
