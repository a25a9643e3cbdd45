/*
 * Journal positions and replay against a real clmd (docs/api.md
 * "Positions", docs/architecture.md "The journal and the overlay"):
 *
 *   - each write that succeeds gets the next position; a refused one 0;
 *   - a read's position is that of the last write it shows;
 *   - after kill -9, with nothing checkpointed (a checkpoint interval of an
 *     hour), the restart replays the journal: every write is back, the
 *     replay is counted in /metrics, and positions go on where they were;
 *   - after a clean stop (which checkpoints) the next start replays
 *     nothing and positions still go on.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

HARNESS_SUITE(position, 120);

#define TP_TYPE(x) CLM__V1__TOUCHPOINT_TYPE__##x

static int http_port;

static void
start(void)
{
	char port[16];
	snprintf(port, sizeof(port), "127.0.0.1:%d", http_port);
	const char *const args[]
	        = { "--checkpoint-interval", "3600", "--http", port, NULL };
	cr_assert_eq(
	        clmd_start(&srv, srv.data_dir[0] ? srv.data_dir : NULL, args),
	        0, "clmd did not start (log %s)", srv.log_path);
}

static clm_conn *
conn(void)
{
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 10000, &c), CLM_OK, "%s", clm_open_error());
	return c;
}

/* A Track of one PURCHASE of customer id; returns the reply's position. */
static uint64_t
track(clm_conn *c, const char *id, const char *event_id, bool want_ok)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) id;
	tp.event_id = (char *) event_id;
	tp.type = want_ok ? TP_TYPE(PURCHASE)
	                  : TP_TYPE(TOUCHPOINT_TYPE_UNSPECIFIED);
	tp.value = 10;
	tp.currency = "EUR";
	Clm__V1__Touchpoint *p = &tp;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, &p, 1, &resp);
	cr_assert_not_null(resp, "track %s: %s", id, clm_errname(e));
	if (want_ok) {
		cr_assert_eq(e, CLM_OK, "track %s: %s (%s)", id,
		        clm_errname(e), clm_last_error(c));
	} else {
		cr_assert_neq(e, CLM_OK, "an invalid track was accepted");
	}
	uint64_t pos = resp->position;
	clm_response_free(resp);
	return pos;
}

/* GetCustomer of id: its purchases, and the reply's position. */
static uint64_t
read_customer(clm_conn *c, const char *id, uint32_t *purchases)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_assert_eq(e, CLM_OK, "get %s: %s", id, clm_errname(e));
	*purchases = resp->customer->purchases;
	uint64_t pos = resp->position;
	clm_response_free(resp);
	return pos;
}

/* ServerStatus: the base's checkpoint position; *pos the reply's. */
static uint64_t
checkpointed(clm_conn *c, uint64_t *pos)
{
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	uint64_t ck = resp->server_status->checkpoint_position;
	*pos = resp->position;
	clm_response_free(resp);
	return ck;
}

/* A gauge or counter of /metrics (-1 when absent). */
static double
metric(const char *name)
{
	return harness_metric(http_port, name);
}

Test(position, writes_number_reads_show_replay_restores)
{
	http_port = harness_free_port();
	start();
	clm_conn *c = conn();

	uint64_t p1 = track(c, "ann", "e1", true);
	cr_assert_gt(p1, 0);
	uint64_t p2 = track(c, "bob", "e2", true);
	cr_assert_eq(p2, p1 + 1, "positions %llu then %llu",
	        (unsigned long long) p1, (unsigned long long) p2);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(
	        clm_identify(c, "dev-1", "ann", NULL, NULL, 0, &resp), CLM_OK);
	uint64_t p3 = resp->position;
	clm_response_free(resp);
	cr_assert_eq(p3, p2 + 1);
	/* A refused write was not journaled: position 0, none used up. */
	cr_assert_eq(track(c, "cy", "e3", false), 0);
	/* A duplicate is a write that succeeds (and is journaled). */
	uint64_t p4 = track(c, "ann", "e1", true);
	cr_assert_eq(p4, p3 + 1);
	uint32_t n;
	cr_assert_eq(read_customer(c, "ann", &n), p4);
	cr_assert_eq(n, 1);
	cr_assert_eq(metric("clm_journal_position"), (double) p4);
	uint64_t shown;
	cr_assert_eq(checkpointed(c, &shown), 0, "nothing checkpointed yet");
	cr_assert_eq(shown, p4);
	cr_assert_eq(metric("clm_checkpoints_total"), 0,
	        "a checkpoint ran: the replay below would not be tested");

	/* kill -9: everything is in the journal only. */
	clm_close(c);
	clmd_kill9(&srv);
	start();
	c = conn();
	cr_assert_eq(metric("clm_recovery_entries"), (double) p4,
	        "entries replayed");
	cr_assert_eq(read_customer(c, "ann", &n), p4);
	cr_assert_eq(n, 1);
	cr_assert_eq(read_customer(c, "bob", &n), p4);
	cr_assert_eq(n, 1);
	resp = NULL;
	cr_assert_eq(clm_get_customer(c, "ann", 0, &resp), CLM_OK);
	cr_assert_eq(resp->customer->n_anonymous_ids, 1);
	cr_assert_str_eq(resp->customer->anonymous_ids[0], "dev-1");
	clm_response_free(resp);
	/*
	 * The replay is checkpointed, in the background once clmd serves
	 * (operations.md, "Recovery time"): the base gets there, and no
	 * further (a poll, bounded above).
	 */
	for (int i = 0; i < 3000
	        && (checkpointed(c, &shown) < p4
	                || metric("clm_checkpoint_position") < (double) p4);
	        i++) {
		harness_sleep_ms(10);
	}
	cr_assert_eq(checkpointed(c, &shown), p4);
	cr_assert_eq(shown, p4);
	cr_assert_eq(metric("clm_checkpoint_position"), (double) p4);
	uint64_t p5 = track(c, "bob", "e5", true);
	cr_assert_eq(p5, p4 + 1, "positions go on after a replay");

	/* A clean stop checkpoints: the next start replays nothing. */
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
	start();
	c = conn();
	cr_assert_eq(metric("clm_recovery_entries"), 0);
	cr_assert_eq(read_customer(c, "bob", &n), p5);
	cr_assert_eq(n, 2);
	cr_assert_eq(track(c, "bob", "e6", true), p5 + 1);
	clm_close(c);
}
