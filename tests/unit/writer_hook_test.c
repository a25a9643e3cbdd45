/*
 * Unit tests of write/writer_hook.c: writer_hook_report's bounded queue
 * and what writer_hooks records of each outcome in the store (a hook
 * delivered, retried, dead; reports for hooks that are gone, of another
 * journey, already applied, or of a deleted journey). The writer here
 * is a bare struct writer on a temp store with no thread: the test calls
 * writer_hooks itself, as the writer thread does between batches.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/journey.h"
#include "testdir.h"
#include "write/writer_internal.h"

static char whk_dir[256];
static store *whk_st;
static struct writer whk_w;

static void
whk_setup(void)
{
	testdir_make(whk_dir, sizeof(whk_dir), "writer_hook");
	struct store_opts o = {
		.dir = whk_dir,
		.nosync = true,
		.map_bytes = 64 << 20,
		.max_db_bytes = 1 << 30,
		.max_readers = 16,
	};
	char err[256] = "";
	cr_assert_eq(
	        store_open(&o, &whk_st, err, sizeof(err)), CLM_OK, "%s", err);
	memset(&whk_w, 0, sizeof(whk_w));
	whk_w.st = whk_st;
	pthread_mutex_init(&whk_w.mu, NULL);
	pthread_cond_init(&whk_w.cv, NULL);
	whk_w.hooks = writer_hooks_new();
	cr_assert_not_null(whk_w.hooks);
}

static void
whk_teardown(void)
{
	writer_hooks_free(whk_w.hooks);
	pthread_cond_destroy(&whk_w.cv);
	pthread_mutex_destroy(&whk_w.mu);
	store_close(whk_st);
	testdir_remove(whk_dir);
}

TestSuite(writer_hook, .init = whk_setup, .fini = whk_teardown);

/* Puts a waiting delivery at position of journey, and counts it pending. */
static void
whk_put(uint64_t position, uint32_t journey, uint32_t attempts, int64_t next)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(whk_st, &txn), CLM_OK);
	Clm__V1__JourneyHook h = CLM__V1__JOURNEY_HOOK__INIT;
	h.journey = journey;
	h.attempts = attempts;
	h.next_ms = next;
	cr_assert_eq(store_jhook_put(txn, position, &h), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, journey, STORE_JSTAT_HOOK_PENDING, 0, 1),
	        CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

struct whk_state {
	bool found;
	uint32_t attempts;
	int64_t next_ms;
	char last_error[64];
	uint64_t delivered, pending, retries, dead;
};

/* The hook at position and journey's webhook counters, as stored. */
static struct whk_state
whk_read(uint64_t position, uint32_t journey)
{
	struct whk_state s = { 0 };
	store_reader *rd;
	store_txn *txn;
	cr_assert_eq(store_reader_new(whk_st, &rd), CLM_OK);
	cr_assert_eq(store_read_begin(rd, &txn), CLM_OK);
	arena a;
	arena_init(&a);
	Clm__V1__JourneyHook *h;
	clm_err e = store_jhook_get(txn, position, &a, &h);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND, "%s", clm_errname(e));
	if (e == CLM_OK) {
		s.found = true;
		s.attempts = h->attempts;
		s.next_ms = h->next_ms;
		snprintf(s.last_error, sizeof(s.last_error), "%s",
		        h->last_error);
	}
	Clm__V1__JourneyStats *st;
	cr_assert_eq(store_jstats_get(txn, journey, 1, &a, &st), CLM_OK);
	s.delivered = st->webhook_delivered;
	s.pending = st->webhook_pending;
	s.retries = st->webhook_retries;
	s.dead = st->webhook_dead;
	arena_fini(&a);
	store_read_end(txn);
	store_reader_free(rd);
	return s;
}

Test(writer_hook, delivered)
{
	whk_put(7, 1, 0, 1000);
	cr_assert(writer_hook_report(&whk_w, 7, 1, true, 0, NULL));
	cr_assert_eq(writer_hooks_wait_ms(&whk_w, 5000), 0);
	writer_hooks(&whk_w);
	cr_assert_eq(writer_hooks_wait_ms(&whk_w, 5000), 5000);
	struct whk_state s = whk_read(7, 1);
	cr_expect_not(s.found);
	cr_expect_eq(s.delivered, 1);
	cr_expect_eq(s.pending, 0);
	cr_expect_eq(s.retries, 0);
	cr_expect_eq(s.dead, 0);
	/* Reported again (delivered twice): the hook is gone, nothing. */
	cr_assert(writer_hook_report(&whk_w, 7, 1, true, 0, NULL));
	writer_hooks(&whk_w);
	s = whk_read(7, 1);
	cr_expect_eq(s.delivered, 1);
	cr_expect_eq(s.pending, 0);
}

Test(writer_hook, retried_then_dead)
{
	whk_put(3, 2, 0, 1000);
	cr_assert(writer_hook_report(&whk_w, 3, 2, false, 2000, "status 500"));
	writer_hooks(&whk_w);
	struct whk_state s = whk_read(3, 2);
	cr_expect(s.found);
	cr_expect_eq(s.attempts, 1);
	cr_expect_eq(s.next_ms, 2000);
	cr_expect_str_eq(s.last_error, "status 500");
	cr_expect_eq(s.retries, 1);
	cr_expect_eq(s.pending, 1);
	/* The same report twice (applied already): no change. */
	cr_assert(writer_hook_report(&whk_w, 3, 2, false, 2000, "status 500"));
	writer_hooks(&whk_w);
	s = whk_read(3, 2);
	cr_expect_eq(s.attempts, 1);
	cr_expect_eq(s.retries, 1);
	/* The next try fails too and is the last. */
	cr_assert(writer_hook_report(&whk_w, 3, 2, false, 0, "refused"));
	writer_hooks(&whk_w);
	s = whk_read(3, 2);
	cr_expect_not(s.found);
	cr_expect_eq(s.retries, 1);
	cr_expect_eq(s.dead, 1);
	cr_expect_eq(s.pending, 0);
	cr_expect_eq(s.delivered, 0);
}

Test(writer_hook, reports_for_others_are_ignored)
{
	whk_put(5, 3, 0, 1000);
	/* No hook at 6: nothing counted. */
	cr_assert(writer_hook_report(&whk_w, 6, 3, true, 0, NULL));
	/* The hook at 5 is journey 3's, not 4's. */
	cr_assert(writer_hook_report(&whk_w, 5, 4, true, 0, NULL));
	writer_hooks(&whk_w);
	struct whk_state s = whk_read(5, 3);
	cr_expect(s.found);
	cr_expect_eq(s.delivered, 0);
	cr_expect_eq(s.pending, 1);
	s = whk_read(5, 4);
	cr_expect_eq(s.delivered, 0);
	cr_expect_eq(s.pending, 0);
}

Test(writer_hook, deleted_journey_dropped_uncounted)
{
	whk_put(9, 5, 2, 1000);
	cr_assert(
	        writer_hook_report(&whk_w, 9, 0, false, 0, "journey deleted"));
	writer_hooks(&whk_w);
	struct whk_state s = whk_read(9, 5);
	cr_expect_not(s.found);
	cr_expect_eq(s.pending, 1); /* its counters were dropped with it */
	cr_expect_eq(s.dead, 0);
}

Test(writer_hook, queue_is_bounded)
{
	int accepted = 0;
	for (int i = 0; i < 5000; i++) {
		accepted += writer_hook_report(
		        &whk_w, (uint64_t) i + 1, 1, true, 0, NULL);
	}
	cr_expect_eq(accepted, 4096);
	/* Applied (none of them has a hook): room again. */
	writer_hooks(&whk_w);
	cr_expect_eq(writer_hooks_wait_ms(&whk_w, 100), 100);
	cr_expect(writer_hook_report(&whk_w, 1, 1, true, 0, NULL));
	/* A stopping writer takes none. */
	pthread_mutex_lock(&whk_w.mu);
	whk_w.stopping = true;
	pthread_mutex_unlock(&whk_w.mu);
	cr_expect_not(writer_hook_report(&whk_w, 2, 1, true, 0, NULL));
}

Test(writer_hook, many_hooks_across_transactions)
{
	/* More than one transaction's worth (256), all delivered. */
	for (uint64_t p = 1; p <= 600; p++) {
		whk_put(p, 1, 0, 1000);
	}
	for (uint64_t p = 1; p <= 600; p++) {
		cr_assert(writer_hook_report(&whk_w, p, 1, true, 0, NULL));
	}
	writer_hooks(&whk_w);
	struct whk_state s = whk_read(600, 1);
	cr_expect_not(s.found);
	cr_expect_eq(s.delivered, 600);
	cr_expect_eq(s.pending, 0);
}
