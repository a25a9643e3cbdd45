/*
 * Fixes of write/journey.c, journey_run.c and the segments' count
 * callback (store_segment_eval.c): a since_entry exit sets no timer of
 * its own, time-driven entries of several segments of one customer enter
 * the journeys of each, a fire item runs whichever timer brought it, and
 * a customer record that does not decode drops its own step only.
 *
 * The fixture is jnyw_fixture.h, shared with jny_write_test.c:
 * writes through the calls' prepare steps, applied as the writer applies
 * them at instants the test chooses; fires are jw_due and the job
 * journey_fire_job makes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "config.h"
#include "core/journey.h"
#include "jnyw_fixture.h"
#include "server.h"
#include "store/agg_write.h"
#include "store/journey.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "testdir.h"
#include "util/arena.h"
#include "write/ingest.h"
#include "write/journey.h"
#include "write/segment.h"
#include "write_fixture.h"

static void
fx_init(void)
{
	jfx_init("jnyf");
}

/* Overwrites customer's record with bytes that do not decode. */
static void
fx_corrupt(const char *customer)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	unsigned char junk[3] = { 0xff, 0xff, 0xff };
	MDB_val k = { strlen(customer), (void *) customer };
	MDB_val v = { sizeof(junk), junk };
	cr_assert_eq(kv_put(txn, STORE_DB_CUSTOMERS, &k, &v, 0), 0);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

static const char ONE_STEP[]
        = "{\"name\": \"nudge\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\":"
          " \"CART_REMINDER\", \"action\": \"nudge\", \"channel\":"
          " \"EMAIL\"}}]}";

TestSuite(jny_fix, .init = fx_init, .fini = jfx_fini);

Test(jny_fix, a_since_entry_exit_sets_no_timer_of_its_own)
{
	uint32_t id = jfx_define(
	        "{\"name\": \"opens\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
	        " \"exit\": \"count(EMAIL_OPEN, since_entry) >= 3\","
	        " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\":"
	        " \"CART_REMINDER\", \"action\": \"remind\", \"channel\":"
	        " \"EMAIL\"}}]}",
	        T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_track("c1", "EMAIL_OPEN", NULL, T0 + MIN);
	Clm__V1__JourneyState *st = jfx_state("c1", id);
	cr_assert(st != NULL && st->active);
	/* One open never leaves a window that only grows. */
	cr_assert_eq(st->due_ms, T0 + HOUR, "timer at %+lld ms",
	        (long long) (st->due_ms - T0));
	cr_assert_eq(jfx_first_due(), T0 + HOUR);
	const int64_t at[] = { T0 + 2 * MIN, T0 + 10 * MIN, T0 + 59 * MIN };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		cr_assert_eq(jfx_due(at[i])->n_items, 0, "work at %+lld ms",
		        (long long) (at[i] - T0));
	}
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);
	jfx_assert_stats(id, 1, 1, 0, 0, 1);
}

Test(jny_fix, two_time_driven_segments_of_a_customer_enter_each)
{
	uint32_t id = jfx_define(
	        "{\"name\": \"winback\", \"trigger\": {\"segment\": "
	        "\"idle-b\"}, \"steps\": [{\"send\": {\"kind\": "
	        "\"WIN_BACK\", \"action\": \"come_back\", \"channel\": "
	        "\"EMAIL\"}}]}",
	        T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_write("{\"defineSegment\":{\"name\":\"idle-a\","
	          "\"expression\":\"since(last_seen) > 1d\"}}",
	        T0);
	jfx_write("{\"defineSegment\":{\"name\":\"idle-b\","
	          "\"expression\":\"since(last_seen) > 1d\"}}",
	        T0);
	jfx_seg_steps(T0); /* the backfills: nobody is idle yet */
	jfx_assert_stats(id, 1, 0, 0, 0, 0);
	jfx_seg_steps(T0 + 2 * DAY);
	jfx_assert_stats(id, 1, 1, 1, 0, 0);
	Clm__V1__JourneyState *st = jfx_state("c1", id);
	cr_assert(st != NULL && st->active);
}

Test(jny_fix, an_item_runs_whichever_timer_brought_it)
{
	uint32_t id = jfx_define(ONE_STEP, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	Clm__V1__JourneyFire *f = jfx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 1);
	/*
	 * Another node took the customer's timer at another instant (its
	 * exit's next change, from its own view): the same entry and step.
	 */
	Clm__V1__JourneyFireItem other = *f->items[0];
	Clm__V1__JourneyFireItem *items[1] = { &other };
	Clm__V1__JourneyFire g = CLM__V1__JOURNEY_FIRE__INIT;
	g.items = items;
	g.n_items = 1;
	/* Early: the step waits, its timer as it was. */
	other.due_ms = T0 + 30 * MIN;
	jfx_fire_entry(&g, T0 + 30 * MIN);
	cr_assert_eq(F.n_msgs, 0);
	cr_assert_eq(jfx_first_due(), T0 + HOUR);
	/* Due: it runs, once. */
	other.due_ms = T0 + HOUR - 1;
	jfx_fire_entry(&g, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 1);
	cr_assert_eq(jfx_first_due(), 0);
	jfx_fire_entry(f, T0 + HOUR);
	jfx_fire_entry(&g, T0 + HOUR + 1);
	cr_assert_eq(F.n_msgs, 1);
	jfx_assert_stats(id, 1, 1, 0, 0, 1);
}

Test(jny_fix, a_record_that_does_not_decode_drops_its_step_only)
{
	uint32_t id = jfx_define(ONE_STEP, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_track("c2", "ADD_TO_CART", NULL, T0);
	jfx_track("c3", "ADD_TO_CART", NULL, T0);
	/* Taken before c2 broke: the fire entry itself drops it. */
	Clm__V1__JourneyFire *f = jfx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 3);
	fx_corrupt("c2");
	jfx_fire_entry(f, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 2);
	cr_assert_eq(jfx_first_due(), 0);
	jfx_assert_stats(id, 1, 3, 1, 0, 2);
}

Test(jny_fix, a_record_that_does_not_decode_is_not_collected)
{
	jfx_define(ONE_STEP, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_track("c2", "ADD_TO_CART", NULL, T0);
	fx_corrupt("c1");
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);
	cr_assert_eq(jfx_first_due(), 0);
	cr_assert_eq(jfx_due(T0 + 2 * HOUR)->n_items, 0);
}
