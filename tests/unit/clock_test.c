/*
 * clock_test: the monotonic waits of util/clock (clock_cond_init and
 * clock_deadline), which the watchdog, the ipc probe and the socket
 * closer use so that a wall-clock jump does not bend their timeouts.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "util/clock.h"

static int64_t
mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

Test(clock, deadline_is_monotonic_now_plus_ms)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct timespec d = clock_deadline(1500);
	int64_t diff = ((int64_t) d.tv_sec - now.tv_sec) * 1000
	        + (d.tv_nsec - now.tv_nsec) / 1000000;
	/* A loaded machine may pass time between the two reads. */
	cr_expect(diff >= 1500 && diff < 1500 + 5000, "deadline in %lld ms",
	        (long long) diff);
	cr_expect(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
	struct timespec z = clock_deadline(-5);
	cr_expect(z.tv_sec > now.tv_sec
	                || (z.tv_sec == now.tv_sec
	                        && z.tv_nsec >= now.tv_nsec),
	        "a negative wait is no wait, not the past");
}

Test(clock, cond_waits_on_the_monotonic_clock)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	cr_assert_eq(clock_cond_init(&cv), 0);
	int64_t t0 = mono_ms();
	struct timespec d = clock_deadline(100);
	pthread_mutex_lock(&mu);
	int rc = 0;
	for (int i = 0; i < 1000 && rc != ETIMEDOUT; i++) {
		rc = pthread_cond_timedwait(&cv, &mu, &d);
	}
	pthread_mutex_unlock(&mu);
	cr_expect_eq(rc, ETIMEDOUT);
	/*
	 * A monotonic deadline read as a wall-clock one (the bug this
	 * guards against) lies decades in the past: the wait would end at
	 * once.
	 */
	cr_expect_geq(mono_ms() - t0, 100, "waited %lld ms",
	        (long long) (mono_ms() - t0));
	pthread_cond_destroy(&cv);
}
