/*
 * Temporary directories for the unit tests that open a real store
 * (store_test, agg_test, agg_pend_test, onboarding_test, growth_test,
 * dirlock_test, overlay_test and overlay_ckpt_test through overlay_fixture).
 */
#ifndef CLM_UNIT_TESTDIR_H
#define CLM_UNIT_TESTDIR_H

#include <stddef.h>

/*
 * testdir_make makes a new empty directory /tmp/clm-TAG-XXXXXX into path
 * (n bytes; 64 is plenty) and asserts it worked.
 */
void testdir_make(char *path, size_t n, const char *tag);

/* testdir_remove removes path and everything under it. */
void testdir_remove(const char *path);

#endif /* CLM_UNIT_TESTDIR_H */
