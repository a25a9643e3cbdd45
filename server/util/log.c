#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The one process-wide setting of this module: it is set once at start and
 * read by every thread, hence atomic rather than passed around.
 */
static _Atomic int log_threshold = LOG_INFO;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int) level);
}

int
log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, log_names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int) level > atomic_load(&log_threshold)) {
		return;
	}
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
	        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ clmd %s: ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t) n + (m < 0 ? 0 : (size_t) m);
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void) w;
}
