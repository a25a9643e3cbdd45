/*
 * Writes are acknowledged while a checkpoint runs (docs/architecture.md
 * "Checkpoints in the background"), and nothing is lost around it.
 *
 * clmd runs with the faultfs shim preloaded (tests/reliability/faultfs.c)
 * with CLM_FAULTFS_MATCH=data.mdb: only the base's syncs are affected, not
 * the overlays' (overlay/a.mdb, b.mdb) nor the journal's segments (.jnl).
 * With the flag at "HOLD" the next checkpoint (a checkpoint interval of a
 * second) blocks in the base's fdatasync, and the shim's "<flag>.held"
 * file shows it. While it is there the test sends write calls (Tracks of
 * new and known customers, an Identify, a PutCatalog), each with a
 * deadline of a few seconds: every one must be acknowledged with the next
 * position, reads must show it, and "<flag>.held" must still exist after
 * the last acknowledgement, so the acks did not wait for the checkpoint.
 * /metrics and ServerStatus show no checkpoint completed meanwhile; once
 * the hold is released the checkpoint completes.
 *
 *   - acks_while_held: then kill -9 and a restart without the shim: every
 *     acknowledged write is there, and ServerStatus counts them all;
 *   - clean_stop_while_held: SIGTERM while held, the hold released right
 *     after it: clmd exits 0 (the stop waits for the checkpoint, then
 *     checkpoints the rest), and the restart replays nothing: the base is
 *     at the last acknowledged position, with every write in it;
 *   - forget_while_held_purged_by_the_next: a ForgetCustomer
 *     acknowledged while a checkpoint frozen before it is held, with
 *     writes going on: that checkpoint does not count as its purge, the
 *     next one (in the background too) purges it, and no journal file
 *     keeps the customer's entries;
 *   - replay_checkpoint_while_serving: writes, kill -9 before any
 *     checkpoint, and a restart whose checkpoint of the replayed entries
 *     is held: clmd is ready and acknowledges writes meanwhile, and after
 *     the release and another kill -9 nothing is lost.
 *
 * Before checkpoints moved off the writer thread, the writes during the
 * hold got no reply within their deadline.
 *
 * Under AddressSanitizer the shim is preloaded ahead of the ASan runtime,
 * which ASan refuses unless verify_asan_link_order=0: the test adds that to
 * ASAN_OPTIONS for clmd (harmless without ASan).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#ifndef FAULTFS_LIB
#error "FAULTFS_LIB must be defined (absolute path of libclm_faultfs.so)"
#endif

#define CKB_CALL_MS  5000  /* each call's deadline */
#define CKB_HOLD_MS  30000 /* for a checkpoint to reach the hold */
#define CKB_CKPT_MS  30000 /* for it to complete once released */
#define CKB_STOP_MS  30000 /* for a clean stop once released */
#define CKB_POLL_MS  20
#define CKB_NEW      5 /* new customers tracked while held */
#define CKB_LAT      48.8566
#define CKB_LON      2.3522
#define CKB_DISCOUNT 15

static struct clmd_proc srv;
static char ckb_dir[32];
static char ckb_flag[64];
static char ckb_held[80];
static int ckb_http;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	cr_assert_eq(harness_tmpdir(ckb_dir), 0);
	snprintf(ckb_flag, sizeof(ckb_flag), "%s/fault", ckb_dir);
	snprintf(ckb_held, sizeof(ckb_held), "%s.held", ckb_flag);
	ckb_http = harness_free_port();
}

static void
teardown(void)
{
	/* Never leave a held clmd behind (it is killed anyway). */
	unlink(ckb_flag);
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(ckpt_background, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static void
flag_set(const char *content)
{
	cr_assert_eq(harness_write_file(ckb_flag, content), 0,
	        "cannot write '%s'", ckb_flag);
}

static void
flag_clear(void)
{
	cr_assert(unlink(ckb_flag) == 0 || errno == ENOENT);
}

static bool
held(void)
{
	return access(ckb_held, F_OK) == 0;
}

/*
 * Starts clmd on DIR/data with a checkpoint interval seconds after a
 * write, and with the shim preloaded when faulty (matching data.mdb
 * only). The environment is changed for the fork only.
 */
static void
start_server_every(bool faulty, const char *interval)
{
	char data[64], http[32];
	snprintf(data, sizeof(data), "%s/data", ckb_dir);
	snprintf(http, sizeof(http), "127.0.0.1:%d", ckb_http);
	const char *const args[] = { "--checkpoint-interval", interval,
		"--durability", "full", "--http", http, NULL };
	if (!faulty) {
		int rc = clmd_start(&srv, data, args);
		cr_assert_eq(
		        rc, 0, "clmd did not start (log %s)", srv.log_path);
		return;
	}
	char flag[sizeof(ckb_flag) + 32];
	snprintf(flag, sizeof(flag), "CLM_FAULTFS_FLAG=%s", ckb_flag);
	const char *const env[] = { flag, "CLM_FAULTFS_MATCH=data.mdb", NULL };
	int rc = clmd_start_preloaded(&srv, data, args, FAULTFS_LIB, env);
	cr_assert_eq(rc, 0, "clmd with faultfs did not start (log %s)",
	        srv.log_path);
}

/* A checkpoint a second after a write. */
static void
start_server(bool faulty)
{
	start_server_every(faulty, "1");
}

static clm_conn *
connect_to(void)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, CKB_CALL_MS, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	return c;
}

/* A counter or gauge of /metrics; the test fails when it is absent. */
static double
metric(const char *name)
{
	double v = harness_metric(ckb_http, name);
	cr_assert_geq(v, 0, "no %s on /metrics", name);
	return v;
}

/* Waits until a checkpoint is held in the base's sync; fails after
 * CKB_HOLD_MS. */
static void
wait_held(void)
{
	for (int ms = 0; !held() && ms < CKB_HOLD_MS; ms += CKB_POLL_MS) {
		harness_sleep_ms(CKB_POLL_MS);
	}
	cr_assert(held(), "no checkpoint reached the base's sync in %d ms",
	        CKB_HOLD_MS);
}

/* Waits until clm_checkpoints_total passes ckpts; fails after
 * CKB_CKPT_MS. */
static void
wait_checkpoint(double ckpts)
{
	for (int ms = 0;
	        metric("clm_checkpoints_total") <= ckpts && ms < CKB_CKPT_MS;
	        ms += CKB_POLL_MS) {
		harness_sleep_ms(CKB_POLL_MS);
	}
	cr_assert_gt(metric("clm_checkpoints_total"), ckpts,
	        "no checkpoint completed in %d ms once released", CKB_CKPT_MS);
}

/*
 * Checks a write's reply: OK (the call had CKB_CALL_MS to answer) at a
 * position after *last, which it then becomes.
 */
static void
write_ok(clm_conn *c, clm_err e, Clm__V1__Response *resp, const char *what,
        uint64_t *last)
{
	cr_assert_eq(e, CLM_OK, "%s: %s (%s)", what, clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	cr_assert_gt(resp->position, *last, "%s: position %llu after %llu",
	        what, (unsigned long long) resp->position,
	        (unsigned long long) *last);
	*last = resp->position;
	clm_response_free(resp);
}

/* Tracks one touchpoint of customer id (or anonymous id anon). */
static void
track(clm_conn *c, const char *id, const char *anon, const char *event_id,
        Clm__V1__TouchpointType type, uint64_t *last)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) (id != NULL ? id : "");
	tp.anonymous_id = (char *) (anon != NULL ? anon : "");
	tp.event_id = (char *) event_id;
	tp.type = type;
	tp.channel = CLM__V1__CHANNEL__EMAIL;
	if (type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
		tp.value = 10;
		tp.currency = "EUR";
		tp.item_id = "sku-1";
	}
	Clm__V1__Touchpoint *p = &tp;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, &p, 1, &resp);
	if (e == CLM_OK) {
		cr_assert_eq(resp->track->accepted, 1, "track %s: duplicate",
		        event_id);
	}
	write_ok(c, e, resp, event_id, last);
}

/* Links anon to customer id. */
static void
identify(clm_conn *c, const char *anon, const char *id, uint64_t *last)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_identify(c, anon, id, NULL, NULL, 0, &resp);
	write_ok(c, e, resp, "identify", last);
}

/* Puts one store at (CKB_LAT, CKB_LON) into the catalog. */
static void
put_store(clm_conn *c, const char *store_id, uint64_t *last)
{
	Clm__V1__Store st = CLM__V1__STORE__INIT;
	Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
	g.lat = CKB_LAT;
	g.lon = CKB_LON;
	st.store_id = (char *) store_id;
	st.name = "held store";
	st.location = &g;
	st.radius_m = 500;
	st.discount_pct = CKB_DISCOUNT;
	Clm__V1__Store *sp = &st;
	Clm__V1__PutCatalogRequest q = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	q.stores = &sp;
	q.n_stores = 1;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_put_catalog(c, &q, &resp);
	if (e == CLM_OK) {
		cr_assert_eq(resp->put_catalog->stores, 1);
	}
	write_ok(c, e, resp, "put catalog", last);
}

/* The count of type among id's touchpoints (0: unknown customer). */
static uint64_t
touches(clm_conn *c, const char *id, Clm__V1__TouchpointType type)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND, "get '%s': %s (%s)", id,
	        clm_errname(e), clm_last_error(c));
	uint64_t n = 0;
	for (size_t i = 0; e == CLM_OK && i < resp->customer->n_touch_counts;
	        i++) {
		if (resp->customer->touch_counts[i]->type == type) {
			n = resp->customer->touch_counts[i]->count;
		}
	}
	clm_response_free(resp);
	return n;
}

/* Whether customer id has anonymous id anon. */
static bool
linked(clm_conn *c, const char *id, const char *anon)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_assert_eq(e, CLM_OK, "get '%s': %s", id, clm_errname(e));
	bool found = false;
	for (size_t i = 0; i < resp->customer->n_anonymous_ids; i++) {
		found = found
		        || strcmp(resp->customer->anonymous_ids[i], anon) == 0;
	}
	clm_response_free(resp);
	return found;
}

/* Whether Recommend offers customer id the store store_id at it. */
static bool
geo_offer(clm_conn *c, const char *id, const char *store_id)
{
	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
	g.lat = CKB_LAT;
	g.lon = CKB_LON;
	q.customer_id = (char *) id;
	q.limit = 20;
	q.include_suppressed = true;
	q.location = &g;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_recommend(c, &q, &resp);
	cr_assert_eq(e, CLM_OK, "recommend '%s': %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	bool found = false;
	const Clm__V1__RecommendReply *r = resp->recommend;
	for (size_t i = 0; i < r->n_recommendations; i++) {
		found = found
		        || (r->recommendations[i]->kind
		                        == CLM__V1__RECOMMENDATION_KIND__GEO_OFFER
		                && strcmp(r->recommendations[i]->store_id,
		                           store_id)
		                        == 0);
	}
	clm_response_free(resp);
	return found;
}

/* ServerStatus: customers, touchpoints, the base's position, the view's. */
struct ckb_status {
	uint64_t customers, touchpoints, checkpoint, position;
};

static struct ckb_status
status(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s", clm_errname(e));
	struct ckb_status s = { resp->server_status->customers,
		resp->server_status->touchpoints,
		resp->server_status->checkpoint_position, resp->position };
	clm_response_free(resp);
	return s;
}

/*
 * Sets the flag to HOLD, then tracks one more touchpoint (so the overlay
 * has something to checkpoint whatever ran before) and waits until a
 * checkpoint is held in the base's sync. Returns clm_checkpoints_total then.
 */
static double
hold_checkpoint(clm_conn *c, uint64_t *last)
{
	flag_set("HOLD");
	track(c, "pre-a", NULL, "pre-a-hold",
	        CLM__V1__TOUCHPOINT_TYPE__APP_OPEN, last);
	wait_held();
	return metric("clm_checkpoints_total");
}

/* Writes before the hold: two customers, one of them twice. */
static void
write_before(clm_conn *c, uint64_t *last)
{
	track(c, "pre-a", NULL, "pre-a-1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
	        last);
	track(c, "pre-a", NULL, "pre-a-2", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
	        last);
	track(c, "pre-b", NULL, "pre-b-1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
	        last);
}

/*
 * The write calls sent while a checkpoint is held: CKB_NEW new customers,
 * one more touchpoint of a known one, an anonymous visitor identified as
 * one of the new customers, and a store.
 */
static void
write_held(clm_conn *c, uint64_t *last)
{
	for (int i = 0; i < CKB_NEW; i++) {
		char id[32], eid[48];
		snprintf(id, sizeof(id), "held-%d", i);
		snprintf(eid, sizeof(eid), "held-%d-1", i);
		track(c, id, NULL, eid, CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        last);
	}
	track(c, "pre-b", NULL, "pre-b-held",
	        CLM__V1__TOUCHPOINT_TYPE__PURCHASE, last);
	track(c, NULL, "dev-held", "dev-held-1",
	        CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT, last);
	identify(c, "dev-held", "held-0", last);
	put_store(c, "held-store", last);
}

/* Checks that every write of write_before and write_held shows. */
static void
expect_all(clm_conn *c)
{
	cr_expect_eq(
	        touches(c, "pre-a", CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 1);
	cr_expect_eq(
	        touches(c, "pre-a", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW), 1);
	cr_expect_eq(
	        touches(c, "pre-a", CLM__V1__TOUCHPOINT_TYPE__APP_OPEN), 1);
	cr_expect_eq(
	        touches(c, "pre-b", CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 2);
	for (int i = 0; i < CKB_NEW; i++) {
		char id[32];
		snprintf(id, sizeof(id), "held-%d", i);
		cr_expect_eq(
		        touches(c, id, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 1,
		        "'%s'", id);
	}
	cr_expect(linked(c, "held-0", "dev-held"), "identify lost");
	cr_expect_eq(
	        touches(c, "held-0", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT), 1,
	        "the anonymous visit is not merged");
	cr_expect(geo_offer(c, "pre-b", "held-store"), "the store is lost");
}

/* The counts of ServerStatus once every write shows. */
#define CKB_CUSTOMERS   (2 + CKB_NEW)
#define CKB_TOUCHPOINTS (3 + 1 + CKB_NEW + 2)

/*
 * Checks that every write of write_before and write_held shows, that
 * ServerStatus counts them, and that reads show position last; returns
 * that status.
 */
static struct ckb_status
expect_every_write(clm_conn *c, uint64_t last)
{
	expect_all(c);
	struct ckb_status s = status(c);
	cr_expect_eq(s.customers, CKB_CUSTOMERS);
	cr_expect_eq(s.touchpoints, CKB_TOUCHPOINTS);
	cr_expect_eq(s.position, last, "reads show %llu, the last write %llu",
	        (unsigned long long) s.position, (unsigned long long) last);
	return s;
}

/*
 * Starts clmd with the shim, writes, holds a checkpoint and writes while
 * it is held (see the top of the file). Returns the last write's position;
 * *ckpts the checkpoints counted when the hold began.
 */
static uint64_t
write_around_hold(clm_conn **cp, double *ckpts)
{
	start_server(true);
	clm_conn *c = connect_to();
	uint64_t last = 0;
	write_before(c, &last);
	*ckpts = hold_checkpoint(c, &last);
	uint64_t base = status(c).checkpoint;
	cr_assert_lt(base, last, "the held checkpoint is not the last one");

	write_held(c, &last);
	(void) expect_every_write(c, last);
	/* The proof: all of it was acknowledged while the sync was held. */
	cr_assert(held(), "the checkpoint was released during the writes");
	cr_assert_eq(metric("clm_checkpoints_total"), *ckpts,
	        "a checkpoint completed while held");
	cr_assert_eq(status(c).checkpoint, base, "the base moved while held");
	*cp = c;
	return last;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

Test(ckpt_background, acks_while_held)
{
	clm_conn *c;
	double ckpts;
	uint64_t last = write_around_hold(&c, &ckpts);

	/* Released, the checkpoint completes. */
	flag_clear();
	wait_checkpoint(ckpts);
	cr_assert_not(held());
	cr_assert_eq(metric("clm_checkpoint_failures_total"), 0);
	struct ckb_status before = status(c);
	clm_close(c);

	/* kill -9, restart without the shim: nothing acknowledged is lost. */
	clmd_kill9(&srv);
	start_server(false);
	c = connect_to();
	struct ckb_status after = expect_every_write(c, last);
	cr_expect_eq(after.customers, before.customers);
	cr_expect_eq(after.touchpoints, before.touchpoints);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}

Test(ckpt_background, clean_stop_while_held)
{
	clm_conn *c;
	double ckpts;
	uint64_t last = write_around_hold(&c, &ckpts);
	clm_close(c);

	/* SIGTERM while held, then release: a clean exit. */
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	flag_clear();
	int st = clmd_wait(&srv, CKB_STOP_MS);
	cr_assert_eq(st, 0, "clmd did not stop cleanly in %d ms (status %d)",
	        CKB_STOP_MS, st);
	cr_assert_not(held());

	/* The restart replays nothing: the base has every write. */
	start_server(false);
	c = connect_to();
	cr_expect_eq(metric("clm_recovery_entries"), 0, "entries replayed");
	struct ckb_status s = expect_every_write(c, last);
	cr_expect_eq(s.checkpoint, last, "base at %llu, last ack %llu",
	        (unsigned long long) s.checkpoint, (unsigned long long) last);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * The checkpoint of what a start-up replayed runs in the background too
 * (docs/architecture.md, "Start-up"): with it held in the base's sync,
 * clmd is ready, answers reads of the replayed writes and acknowledges new
 * ones; once released it completes, and a kill -9 after that loses
 * nothing. Before, clmd answered only after that checkpoint, so the held
 * start never became ready.
 */
Test(ckpt_background, replay_checkpoint_while_serving)
{
	/* Writes, then kill -9 before any checkpoint (an hour's interval). */
	start_server_every(false, "3600");
	clm_conn *c = connect_to();
	uint64_t last = 0;
	write_before(c, &last);
	track(c, "pre-a", NULL, "pre-a-hold",
	        CLM__V1__TOUCHPOINT_TYPE__APP_OPEN, &last);
	uint64_t replayed = last;
	cr_assert_eq(status(c).checkpoint, 0, "a checkpoint came before");
	clm_close(c);
	clmd_kill9(&srv);

	/* The restart's checkpoint is held; clmd serves all the same. */
	flag_set("HOLD");
	start_server(true);
	c = connect_to();
	wait_held();
	cr_expect_eq(metric("clm_recovery_entries"), (double) replayed);
	double ckpts = metric("clm_checkpoints_total");
	write_held(c, &last);
	struct ckb_status s = expect_every_write(c, last);
	cr_assert(held(), "the checkpoint was released during the writes");
	cr_assert_eq(s.checkpoint, 0, "the base moved while held");
	cr_assert_eq(metric("clm_checkpoints_total"), ckpts,
	        "a checkpoint completed while held");

	/* Released: it completes, covering the replay; nothing is lost. */
	flag_clear();
	wait_checkpoint(ckpts);
	cr_expect_geq(status(c).checkpoint, replayed);
	clm_close(c);
	clmd_kill9(&srv);
	start_server(false);
	c = connect_to();
	(void) expect_every_write(c, last);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * A ForgetCustomer acknowledged while a checkpoint frozen before it is
 * held in the base's sync: once released, that checkpoint purges the
 * journal up to its freeze only, and the purge stays pending until one
 * covers the Forget (writer_purge counts by position). Writes go on all
 * along, so the segment being written to would keep the customer's
 * entries if the purge were taken as done by the held checkpoint and the
 * next one only truncated (checked by breaking writer_purge so). That
 * writes during the purging checkpoint go to a new segment is
 * forget_test's purged_while_writes_go_on.
 */
Test(ckpt_background, forget_while_held_purged_by_the_next)
{
	static const char gone[] = "ckb-gone-9e41";
	start_server(true);
	clm_conn *c = connect_to();
	uint64_t last = 0;
	write_before(c, &last);
	track(c, gone, NULL, "ckb-gone-9e41-ev-1",
	        CLM__V1__TOUCHPOINT_TYPE__PURCHASE, &last);
	double ckpts = hold_checkpoint(c, &last);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_forget(c, gone, &resp);
	write_ok(c, e, resp, "forget", &last);
	track(c, "pre-b", NULL, "pre-b-after-forget",
	        CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW, &last);
	cr_assert(held(), "the checkpoint was released during the writes");

	flag_clear();
	wait_checkpoint(ckpts);
	char jdir[64], where[256] = "";
	snprintf(jdir, sizeof(jdir), "%s/data/journal", ckb_dir);
	int holding = 1;
	for (int ms = 0; holding != 0 && ms < CKB_CKPT_MS; ms += CKB_POLL_MS) {
		/* Writes go on meanwhile, each in the segment written to. */
		char eid[64];
		snprintf(eid, sizeof(eid), "pre-b-while-%d", ms);
		track(c, "pre-b", NULL, eid,
		        CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW, &last);
		holding = harness_files_holding(
		        jdir, gone, where, sizeof(where));
		cr_assert_geq(holding, 0, "cannot scan %s", jdir);
		if (holding != 0) {
			harness_sleep_ms(CKB_POLL_MS);
		}
	}
	cr_expect_eq(holding, 0,
	        "%d ms after the release, journal file %s still holds '%s'",
	        CKB_CKPT_MS, where, gone);
	cr_expect_eq(clm_get_customer(c, gone, 0, &resp), CLM_NOT_FOUND);
	clm_response_free(resp);
	cr_expect_geq(metric("clm_checkpoints_total"), ckpts + 2,
	        "purged by a checkpoint after the held one");
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}
