#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char clock_test_path[4096];
static _Atomic int64_t clock_test_offset;

int
clock_set_test_file(const char *path)
{
	if (path == NULL) {
		path = "";
	}
	size_t n = strlen(path);
	if (n >= sizeof(clock_test_path)) {
		return -1;
	}
	memcpy(clock_test_path, path, n + 1);
	atomic_store(&clock_test_offset, 0);
	return 0;
}

int64_t
clock_test_offset_ms(void)
{
	return atomic_load_explicit(&clock_test_offset, memory_order_relaxed);
}

/* clock_test_read reads the test clock's file; the last offset otherwise. */
static int64_t
clock_test_read(void)
{
	int64_t last = clock_test_offset_ms();
	int fd = open(clock_test_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			atomic_store_explicit(
			        &clock_test_offset, 0, memory_order_relaxed);
			return 0;
		}
		return last;
	}
	char buf[64];
	ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (got <= 0) {
		return last;
	}
	buf[got] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	bool digits = end != buf; /* none: blank, or not a number */
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') {
		end++;
	}
	if (errno != 0 || !digits || *end != '\0') {
		return last;
	}
	atomic_store_explicit(&clock_test_offset, v, memory_order_relaxed);
	return v;
}

int64_t
clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (clock_test_path[0] != '\0') {
		now += clock_test_read();
	}
	return now;
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
