/*
 * clock_test: the monotonic waits of util/clock (clock_cond_init and
 * clock_deadline), which the watchdog, the ipc probe and the socket
 * closer use so that a wall-clock jump does not bend their timeouts; and
 * the test clock (clock_set_test_file, docs/operations.md "The test
 * clock"): the file's offset read at every clock_now_ms, a missing file as
 * 0, garbage keeping the last offset, negative offsets, and a file renamed
 * over the old one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testdir.h"
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

/* The real wall clock in unix ms, as clock_now_ms reads it. */
static int64_t
clock_test_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes text into path as a test would: a new file renamed over it. */
static void
clock_test_put(const char *path, const char *text)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f, "cannot create '%s'", tmp);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0, "rename: %s", strerror(errno));
}

/*
 * Expects clock_now_ms to be the real clock plus off (the real clock read
 * before and after it, so a loaded machine cannot make this flaky), and
 * clock_test_offset_ms to be off.
 */
static void
clock_test_expect_offset(int64_t off, const char *what)
{
	int64_t lo = clock_test_real_ms();
	int64_t now = clock_now_ms();
	int64_t hi = clock_test_real_ms();
	cr_expect(now >= lo + off && now <= hi + off,
	        "%s: clock_now_ms %lld, want real + %lld (real %lld..%lld)",
	        what, (long long) now, (long long) off, (long long) lo,
	        (long long) hi);
	cr_expect_eq(clock_test_offset_ms(), off,
	        "%s: clock_test_offset_ms %lld, want %lld", what,
	        (long long) clock_test_offset_ms(), (long long) off);
}

/* A test clock file in a new directory; the directory is dir. */
static void
clock_test_setup(char *dir, size_t n, char *path, size_t pn)
{
	testdir_make(dir, n, "clock");
	snprintf(path, pn, "%s/offset", dir);
	cr_assert_eq(clock_set_test_file(path), 0);
}

Test(clock, test_clock_adds_the_file_offset_at_every_reading)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_put(path, "2592000000");
	clock_test_expect_offset(2592000000LL, "30 days");
	/* Read again at the next reading: no restart, no reset. */
	clock_test_put(path, "86400000\n");
	clock_test_expect_offset(86400000LL, "1 day, with a newline");
	clock_test_put(path, "  \t 1500 \r\n");
	clock_test_expect_offset(1500, "white space around");
	clock_test_put(path, "0");
	clock_test_expect_offset(0, "back to 0");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

Test(clock, test_clock_missing_file_counts_as_zero)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_expect_offset(0, "never written");
	clock_test_put(path, "3600000");
	clock_test_expect_offset(3600000LL, "1 hour");
	cr_assert_eq(unlink(path), 0);
	clock_test_expect_offset(0, "removed again");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

Test(clock, test_clock_garbage_keeps_the_last_offset)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_put(path, "7200000");
	clock_test_expect_offset(7200000LL, "2 hours");
	static const char *const garbage[] = { "abc", "12x", "", "1 2",
		"99999999999999999999999", "0x10", "--5", "+", "-" };
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		clock_test_put(path, garbage[i]);
		char what[64];
		snprintf(what, sizeof(what), "after '%s'", garbage[i]);
		clock_test_expect_offset(7200000LL, what);
	}
	/* A good value after garbage is read again. */
	clock_test_put(path, "60000");
	clock_test_expect_offset(60000, "1 minute after garbage");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

/* A file of white space only does not parse either. */
Test(clock, test_clock_blank_file_keeps_the_last_offset)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_put(path, "7200000");
	clock_test_expect_offset(7200000LL, "2 hours");
	clock_test_put(path, "\n");
	clock_test_expect_offset(7200000LL, "after a newline alone");
	clock_test_put(path, "  \t ");
	clock_test_expect_offset(7200000LL, "after blanks alone");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

Test(clock, test_clock_negative_offset_moves_time_back)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_put(path, "-86400000");
	clock_test_expect_offset(-86400000LL, "minus 1 day");
	clock_test_put(path, "-1");
	clock_test_expect_offset(-1, "minus 1 ms");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

Test(clock, test_clock_follows_a_file_renamed_over_the_old_one)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	/* Successive renames over the same name, as tests move time. */
	static const int64_t steps[] = { 0, 86400000LL, 2505600000LL,
		2678400000LL, 7862400000LL, 34560000000LL };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char text[32], what[48];
		snprintf(text, sizeof(text), "%lld", (long long) steps[i]);
		clock_test_put(path, text);
		snprintf(what, sizeof(what), "step %zu", i);
		clock_test_expect_offset(steps[i], what);
	}
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}

Test(clock, test_clock_off_reads_the_real_clock)
{
	char dir[64], path[128];
	clock_test_setup(dir, sizeof(dir), path, sizeof(path));
	clock_test_put(path, "5000000");
	clock_test_expect_offset(5000000LL, "on");
	cr_assert_eq(clock_set_test_file(""), 0);
	int64_t lo = clock_test_real_ms();
	int64_t now = clock_now_ms();
	int64_t hi = clock_test_real_ms();
	cr_expect(now >= lo && now <= hi, "off: %lld not in %lld..%lld",
	        (long long) now, (long long) lo, (long long) hi);
	char longpath[5000];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	cr_expect_eq(clock_set_test_file(longpath), -1, "a path too long");
	testdir_remove(dir);
}
