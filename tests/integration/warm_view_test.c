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
	 * The first line is logged before clmd answers; the thread's own
	 * line comes once it read the (small) view, or, at the latest, when
	 * the stop joins it (store_close): so it is read after the stop.
	 */
	cr_assert_eq(clmd_stop(&srv), 0);
	char *log = log_since(0);
	cr_assert_not_null(
	        strstr(log, "store: warming the view's"), "%s", log);
	cr_assert(strstr(log, "store: warmed the view's") != NULL
	                || strstr(log, "store: stopped warming the view")
	                        != NULL,
	        "%s", log);
	free(log);

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
