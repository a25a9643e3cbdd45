/*
 * jny_loop: a journey triggered by MESSAGE_SENT enters on a Recommend
 * claim's message, never on the messages journeys send themselves
 * (docs/journeys.md "Triggers"): without that rule, its own last message
 * would enter the customer again, for ever.
 *
 * "Nothing happens" is proven with a barrier: a later step of another
 * journey has run (steps run in due order), and the looping customer still
 * has one message.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "flow.h"
#include "harness.h"
#include "jnyflow.h"
#include "segflow.h"

HARNESS_SUITE(jny_loop, 120);

#define SOON_MS 20000

static const char *const jny_loop_flags[] = { "--quiet-hours", "0", NULL };

Test(jny_loop, own_messages_trigger_no_journey)
{
	struct jnyflow_clock clk;
	jnyflow_start(&srv, &clk, jny_loop_flags);
	clm_conn *c = flow_connect_to(&srv);
	jnyflow_define(c, "echo",
	        "{\"name\": \"echo\", \"trigger\": {\"event\": "
	        "\"MESSAGE_SENT\"}, \"reentry\": \"always\", \"steps\": "
	        "[{\"wait\": \"0s\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", "
	        "\"action\": \"echo\", \"channel\": \"IN_APP\"}}]}");
	jnyflow_define(c, "barrier",
	        "{\"name\": \"barrier\", \"trigger\": {\"event\": "
	        "\"SIGNUP\"}, \"steps\": [{\"wait\": \"10m\", \"send\": "
	        "{\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"b\", "
	        "\"channel\": \"EMAIL\"}}]}");

	/* A message the app recorded itself enters c1 (once). */
	int64_t t0 = jnyflow_now(&clk);
	jnyflow_track1(c, "c1", "c1-msg", TP(MESSAGE_SENT), t0, NULL, NULL);
	jnyflow_track1(c, "c2", "c2-signup", TP(SIGNUP), t0, NULL, NULL);
	size_t n;
	struct jnyflow_msg *m = jnyflow_wait_feed(c, "echo", 1, SOON_MS, &n);
	cr_assert_eq(n, 1, "%zu echo messages, want 1", n);
	cr_expect_str_eq(m[0].customer, "c1");
	free(m);

	/* Ten minutes on: the barrier's step runs; echo sent nothing more. */
	jnyflow_clock_to(&clk, 11 * 60000);
	m = jnyflow_wait_feed(c, "barrier", 1, SOON_MS, &n);
	cr_assert_eq(n, 1, "the barrier's step did not run");
	free(m);
	m = jnyflow_feed(c, "echo", &n);
	cr_expect_eq(n, 1,
	        "%zu echo messages: the journey's own message "
	        "entered it again",
	        n);
	free(m);
	jnyflow_expect_counter(c, "echo", JC_ENTERED, 0, 1, SOON_MS, "echo");
	jnyflow_expect_counter(c, "echo", JC_COMPLETED, 0, 1, SOON_MS, "echo");
	clm_close(c);
}
