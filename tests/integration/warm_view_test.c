/*
 * warm_view (docs/operations.md, "Recovery time"; server/store/store_warm.c):
 * by default clmd reads its view into the page cache in the background at
 * start, and says so in its log; `--warm-view false` turns that off.
 * The warming itself (every used byte read, stopped by store_close) is
 * store_test's "warm_reads_the_whole_used_view"; what it buys is measured
 * in docs/performance.md, not here.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

HARNESS_SUITE(warm_view, 60);

/* The part of clmd's log written since offset from. */
static char *
log_since(size_t from)
{
	char *all = harness_read_file(srv.log_path);
	cr_assert_not_null(all, "cannot read %s", srv.log_path);
	size_t n = strlen(all);
	char *part = strdup(from < n ? all + from : "");
	free(all);
	return part;
}

static size_t
log_size(void)
{
	char *all = harness_read_file(srv.log_path);
	size_t n = all != NULL ? strlen(all) : 0;
	free(all);
	return n;
}

Test(warm_view, on_by_default_and_off_with_the_flag)
{
	static const char *const info[] = { "--log-level", "info", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, info), 0, "log %s", srv.log_path);
	/*
	 * The thread ends on its own; its last line comes once it has read
	 * the whole (small) view. Polled, with a generous bound.
	 */
	char *log = NULL;
	struct timespec t0, now, tick = { 0, 10 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		free(log);
		log = log_since(0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (strstr(log, "store: warmed the view's") != NULL
		        || now.tv_sec - t0.tv_sec > 30) {
			break;
		}
		nanosleep(&tick, NULL);
	}
	cr_assert_not_null(
	        strstr(log, "store: warming the view's"), "%s", log);
	cr_assert_not_null(strstr(log, "store: warmed the view's"), "%s", log);
	free(log);
	cr_assert_eq(clmd_stop(&srv), 0);

	static const char *const off[]
	        = { "--log-level", "info", "--warm-view", "false", NULL };
	size_t from = log_size();
	cr_assert_eq(clmd_start(&srv, srv.data_dir, off), 0, "log %s",
	        srv.log_path);
	cr_assert_eq(clmd_stop(&srv), 0);
	log = log_since(from);
	cr_assert_not_null(strstr(log, "stopped"), "%s", log);
	cr_assert_null(strstr(log, "warm"), "%s", log);
	free(log);
}
