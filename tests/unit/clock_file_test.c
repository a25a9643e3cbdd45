/*
 * The test clock's file (util/clock.c, docs/operations.md "The test
 * clock"): what does not parse keeps the last offset, a blank file
 * included (strtoll reads no digit there, and the white space after it
 * must not make it look like a number).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdir.h"
#include "util/clock.h"

static void
clock_file_put(const char *path, const char *text)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

/* The offset the clock applies now: one reading, then what it used. */
static int64_t
clock_file_offset(void)
{
	(void) clock_now_ms();
	return clock_test_offset_ms();
}

Test(clock_file, blank_or_garbage_keeps_the_last_offset)
{
	char dir[64], path[128];
	testdir_make(dir, sizeof(dir), "clock-file-test");
	snprintf(path, sizeof(path), "%s/clock", dir);
	cr_assert_eq(clock_set_test_file(path), 0);
	clock_file_put(path, "7200000\n");
	cr_assert_eq(clock_file_offset(), 7200000);
	clock_file_put(path, "\n");
	cr_assert_eq(clock_file_offset(), 7200000, "a newline alone");
	clock_file_put(path, "  \t ");
	cr_assert_eq(clock_file_offset(), 7200000, "blanks alone");
	clock_file_put(path, "soon");
	cr_assert_eq(clock_file_offset(), 7200000, "not a number");
	clock_file_put(path, " -5 \n");
	cr_assert_eq(clock_file_offset(), -5);
	unlink(path);
	cr_assert_eq(clock_file_offset(), 0, "a missing file");
	cr_assert_eq(clock_set_test_file(NULL), 0);
	testdir_remove(dir);
}
