/*
 * ForgetCustomer and ExportCustomer (docs/api.md "ForgetCustomer" and
 * "ExportCustomer") against a real clmd: export lists every touchpoint in
 * event-time order; forget removes everything of the customer and is
 * idempotent; and after clmd stops, no key or value of any LMDB database in
 * its data dir still holds the customer's id or its anonymous id, while
 * another customer's data is intact.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define HOUR_MS (3600000LL)
#define DAY_MS  (24 * HOUR_MS)
/* 2026-01-10T00:00:00Z */
#define T0    1768003200000LL
#define AS_OF (T0 + 30 * DAY_MS)

#define TP_TYPE(x) CLM__V1__TOUCHPOINT_TYPE__##x

#define GONE      "forget-me-7f3a"
#define GONE_ANON "device-51d0c9"
#define KEPT      "keep-me"
#define KEPT_ANON "device-kept-22"

HARNESS_SUITE(forget, 60);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

#define BATCH_MAX 16

/* Touchpoints with the storage of their strings and properties. */
struct batch {
	Clm__V1__Touchpoint tp[BATCH_MAX];
	Clm__V1__Touchpoint *ptr[BATCH_MAX];
	char eid[BATCH_MAX][96];
	Clm__V1__Touchpoint__PropertiesEntry prop[BATCH_MAX][2];
	Clm__V1__Touchpoint__PropertiesEntry *pptr[BATCH_MAX][2];
	char pval[BATCH_MAX][2][96];
	size_t n;
};

/*
 * Adds a touchpoint of customer or anon (either may be NULL) with event
 * id eid (NULL = none) and two properties naming the person "who".
 */
static Clm__V1__Touchpoint *
batch_add(struct batch *b, const char *customer, const char *anon,
        const char *eid, Clm__V1__TouchpointType type, int64_t at,
        const char *who)
{
	cr_assert_lt(b->n, BATCH_MAX);
	size_t i = b->n;
	Clm__V1__Touchpoint *tp = &b->tp[i];
	clm__v1__touchpoint__init(tp);
	if (customer != NULL) {
		tp->customer_id = (char *) customer;
	}
	if (anon != NULL) {
		tp->anonymous_id = (char *) anon;
	}
	if (eid != NULL) {
		snprintf(b->eid[i], sizeof(b->eid[i]), "%s", eid);
		tp->event_id = b->eid[i];
	}
	tp->type = type;
	tp->channel = CLM__V1__CHANNEL__EMAIL;
	tp->occurred_at_ms = at;
	tp->campaign = "spring";
	if (type == TP_TYPE(PURCHASE) || type == TP_TYPE(REFUND)) {
		tp->value = 12.5;
		tp->currency = "EUR";
		tp->item_id = "sku-42";
	}
	static const char *const keys[2] = { "email", "note" };
	snprintf(b->pval[i][0], sizeof(b->pval[i][0]), "%s@example.com", who);
	snprintf(b->pval[i][1], sizeof(b->pval[i][1]), "customer %s", who);
	for (size_t k = 0; k < 2; k++) {
		clm__v1__touchpoint__properties_entry__init(&b->prop[i][k]);
		b->prop[i][k].key = (char *) keys[k];
		b->prop[i][k].value = b->pval[i][k];
		b->pptr[i][k] = &b->prop[i][k];
	}
	tp->n_properties = 2;
	tp->properties = b->pptr[i];
	b->ptr[b->n++] = tp;
	return tp;
}

static void
start_server(void)
{
	/* A checkpoint (and the journal's purge) within a second. */
	static const char *const args[]
	        = { "--checkpoint-interval", "1", NULL };
	int rc = clmd_start(&srv, NULL, args);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

/*
 * The files of DIR/journal whose bytes contain needle, counted; the first
 * one's name in where.
 */
static int
journal_holds(const char *dir, const char *needle, char *where, size_t wlen)
{
	char jdir[PATH_MAX + 16];
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	int n = harness_files_holding(jdir, needle, where, wlen);
	cr_assert_geq(n, 0, "cannot scan %s", jdir);
	return n;
}

/*
 * Waits, up to 30 s, until no file of DIR/journal holds needle or
 * needle2 (NULL: only needle): the purge after a Forget comes with a
 * checkpoint, within the checkpoint interval, and in the background.
 * Returns how many files hold either at the end (0: purged); the first
 * one's name in where.
 */
static int
journal_clears(const char *dir, const char *needle, const char *needle2,
        char *where, size_t wlen)
{
	int holding = 0;
	for (int i = 0; i < 300; i++) {
		holding = journal_holds(dir, needle, where, wlen);
		if (holding == 0 && needle2 != NULL) {
			holding = journal_holds(dir, needle2, where, wlen);
		}
		if (holding == 0) {
			break;
		}
		harness_sleep_ms(100);
	}
	return holding;
}

static clm_conn *
connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 5000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

/* Tracks a batch; asserts OK, no rejects; returns accepted. */
static uint32_t
track(clm_conn *c, struct batch *b)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->track->n_rejected, 0);
	uint32_t accepted = resp->track->accepted;
	clm_response_free(resp);
	return accepted;
}

static Clm__V1__Response *
get_customer(clm_conn *c, const char *id, int64_t as_of)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, as_of, &resp);
	cr_assert_eq(e, CLM_OK, "get_customer '%s': %s", id, clm_errname(e));
	cr_assert_not_null(resp->customer);
	return resp;
}

static Clm__V1__StatusReply
get_status(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s", clm_errname(e));
	Clm__V1__StatusReply s = *resp->server_status;
	s.version = NULL;
	s.durability = NULL;
	clm_response_free(resp);
	return s;
}

/* Whether two Customers serialize the same (as_of_ms aside). */
static bool
same_customer(const Clm__V1__Customer *a, const Clm__V1__Customer *b)
{
	Clm__V1__Customer ca = *a, cb = *b;
	ca.as_of_ms = cb.as_of_ms = 0;
	size_t na = clm__v1__customer__get_packed_size(&ca);
	size_t nb = clm__v1__customer__get_packed_size(&cb);
	if (na != nb) {
		return false;
	}
	uint8_t *ba = malloc(na + 1), *bb = malloc(nb + 1);
	cr_assert(ba != NULL && bb != NULL);
	clm__v1__customer__pack(&ca, ba);
	clm__v1__customer__pack(&cb, bb);
	bool same = memcmp(ba, bb, na) == 0;
	free(ba);
	free(bb);
	return same;
}

/* The event-time-ordered list the export must give. */
struct expected {
	char eid[BATCH_MAX * 2][96]; /* "" = touchpoint without an id */
	int64_t at[BATCH_MAX * 2];
	size_t n;
};

static void
expected_add(struct expected *x, const Clm__V1__Touchpoint *tp)
{
	size_t k = x->n++;
	while (k > 0 && x->at[k - 1] > tp->occurred_at_ms) {
		memcpy(x->eid[k], x->eid[k - 1], sizeof(x->eid[k]));
		x->at[k] = x->at[k - 1];
		k--;
	}
	/* A copy: the batch's ids live on its builder's stack. */
	snprintf(x->eid[k], sizeof(x->eid[k]), "%s", tp->event_id);
	x->at[k] = tp->occurred_at_ms;
}

/* Whether needle occurs in the n bytes at hay. */
static bool
contains(const void *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	const unsigned char *h = hay;
	for (size_t i = 0; m <= n && i <= n - m; i++) {
		if (memcmp(h + i, needle, m) == 0) {
			return true;
		}
	}
	return false;
}

/* What a scan of the data dir found. */
struct scan {
	size_t dbs;         /* named databases */
	size_t entries;     /* keys scanned, all databases */
	size_t hits[3];     /* per needle */
	char where[3][160]; /* first hit per needle */
};

static void
scan_note(struct scan *s, const char *const *needles, const char *db,
        const MDB_val *k, const MDB_val *v)
{
	for (size_t i = 0; i < 3; i++) {
		bool in_key = contains(k->mv_data, k->mv_size, needles[i]);
		bool in_val = contains(v->mv_data, v->mv_size, needles[i]);
		if (!in_key && !in_val) {
			continue;
		}
		if (s->hits[i]++ == 0) {
			snprintf(s->where[i], sizeof(s->where[i]),
			        "database '%s', %s of a %zu-byte key", db,
			        in_key ? "key" : "value", k->mv_size);
		}
	}
}

/* Scans every key and value of dbi. */
static void
scan_db(MDB_txn *txn, MDB_dbi dbi, const char *name, struct scan *s,
        const char *const *needles)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	cr_assert_eq(rc, 0, "cursor on '%s': %s", name, mdb_strerror(rc));
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		s->entries++;
		scan_note(s, needles, name, &k, &v);
	}
	cr_assert_eq(
	        rc, MDB_NOTFOUND, "scan of '%s': %s", name, mdb_strerror(rc));
	mdb_cursor_close(cur);
}

/*
 * Opens dir read-only with LMDB, lists the named databases from the keys
 * of the unnamed one, and scans every key and value of each (and of the
 * unnamed one) for the three needles.
 */
static void
scan_data_dir(const char *dir, const char *const *needles, struct scan *s)
{
	memset(s, 0, sizeof(*s));
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	/* clmd's named databases fit in 24 (store.c opens its env so). */
	cr_assert_eq(mdb_env_set_maxdbs(env, 24), 0);
	int rc = mdb_env_open(env, dir, MDB_RDONLY, 0644);
	cr_assert_eq(rc, 0, "mdb_env_open '%s': %s", dir, mdb_strerror(rc));
	MDB_txn *txn;
	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	cr_assert_eq(rc, 0, "txn: %s", mdb_strerror(rc));
	MDB_dbi main_dbi;
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);

	char names[24][64];
	size_t nn = 0;
	MDB_cursor *cur;
	cr_assert_eq(mdb_cursor_open(txn, main_dbi, &cur), 0);
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cr_assert_lt(nn, 24);
		cr_assert_lt(k.mv_size, sizeof(names[0]));
		memcpy(names[nn], k.mv_data, k.mv_size);
		names[nn][k.mv_size] = '\0';
		nn++;
		scan_note(s, needles, "(main)", &k, &v);
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < nn; i++) {
		MDB_dbi dbi;
		rc = mdb_dbi_open(txn, names[i], 0, &dbi);
		cr_assert_eq(rc, 0, "open database '%s': %s", names[i],
		        mdb_strerror(rc));
		scan_db(txn, dbi, names[i], s, needles);
		s->dbs++;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* ---------------------------------------------------------------------- */
/* The test                                                               */

/*
 * The customer to forget: touchpoints of a device before Identify, its own
 * (out of event-time order, one without an event id, properties naming
 * it), and one of the device after Identify. Returns how many are stored
 * and fills the expected export order.
 */
static size_t
track_gone(clm_conn *c, struct expected *x)
{
	size_t stored = 0;
	struct batch dev = { .n = 0 };
	batch_add(&dev, NULL, GONE_ANON, GONE_ANON "-ev-1", TP_TYPE(AD_CLICK),
	        T0 - 3 * DAY_MS, GONE_ANON);
	batch_add(&dev, NULL, GONE_ANON, GONE_ANON "-ev-2", TP_TYPE(SIGNUP),
	        T0 - 2 * DAY_MS, GONE_ANON);
	stored += track(c, &dev);
	for (size_t i = 0; i < dev.n; i++) {
		expected_add(x, &dev.tp[i]);
	}

	struct batch own = { .n = 0 };
	static const struct {
		Clm__V1__TouchpointType type;
		int64_t at;
	} o[] = {
		{ TP_TYPE(PURCHASE), T0 + 5 * DAY_MS },
		{ TP_TYPE(SITE_VISIT), T0 },
		{ TP_TYPE(REFERRAL), T0 + 9 * DAY_MS },
		{ TP_TYPE(ONBOARDING_COMPLETED), T0 - DAY_MS },
		{ TP_TYPE(PURCHASE), T0 + 2 * DAY_MS },
		{ TP_TYPE(REVIEW), T0 + 7 * DAY_MS },
	};
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		char eid[64];
		snprintf(eid, sizeof(eid), GONE "-e%zu", i + 1);
		batch_add(&own, GONE, NULL, eid, o[i].type, o[i].at, GONE);
	}
	/* No event id: stored, not deduped. */
	batch_add(&own, GONE, NULL, NULL, TP_TYPE(PAGE_VIEW), T0 + HOUR_MS,
	        GONE);
	stored += track(c, &own);
	for (size_t i = 0; i < own.n; i++) {
		expected_add(x, &own.tp[i]);
	}
	/* A repeat of two (duplicates: not stored again). */
	struct batch rep = { .n = 0 };
	batch_add(&rep, GONE, NULL, GONE "-e1", o[0].type, o[0].at, GONE);
	batch_add(&rep, GONE, NULL, GONE "-e2", o[1].type, o[1].at, GONE);
	cr_expect_eq(track(c, &rep), 0);

	static const char *const keys[] = { "email", "name" };
	static const char *const vals[]
	        = { GONE "@example.com", "Forget Me " GONE };
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_identify(c, GONE_ANON, GONE, keys, vals, 2, &resp);
	cr_assert_eq(e, CLM_OK, "identify: %s", clm_errname(e));
	cr_expect(resp->identify->merged);
	clm_response_free(resp);

	struct batch after = { .n = 0 };
	batch_add(&after, NULL, GONE_ANON, GONE_ANON "-ev-3",
	        TP_TYPE(APP_OPEN), T0 + 3 * DAY_MS, GONE_ANON);
	stored += track(c, &after);
	expected_add(x, &after.tp[0]);
	return stored;
}

static size_t
track_kept(clm_conn *c)
{
	struct batch b = { .n = 0 };
	batch_add(&b, KEPT, NULL, KEPT "-e1", TP_TYPE(SIGNUP), T0, KEPT);
	batch_add(&b, KEPT, NULL, KEPT "-e2", TP_TYPE(PURCHASE), T0 + DAY_MS,
	        KEPT);
	batch_add(&b, NULL, KEPT_ANON, KEPT "-e3", TP_TYPE(PAGE_VIEW),
	        T0 + 2 * DAY_MS, KEPT);
	size_t stored = track(c, &b);
	static const char *const keys[] = { "email" };
	static const char *const vals[] = { KEPT "@example.com" };
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_identify(c, KEPT_ANON, KEPT, keys, vals, 1, &resp);
	cr_assert_eq(e, CLM_OK, "identify: %s", clm_errname(e));
	clm_response_free(resp);
	return stored;
}

static void
check_export(clm_conn *c, const struct expected *x)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_export(c, GONE, &resp);
	cr_assert_eq(e, CLM_OK, "export: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	const Clm__V1__ExportCustomerReply *r = resp->export_customer;
	cr_assert_not_null(r);
	cr_assert_not_null(r->customer);
	cr_expect_str_eq(r->customer->customer_id, GONE);
	cr_expect_eq(r->customer->purchases, 2);
	cr_assert_eq(r->n_touchpoints, x->n,
	        "export has %zu touchpoints, want %zu", r->n_touchpoints,
	        x->n);
	for (size_t i = 0; i < x->n; i++) {
		const Clm__V1__Touchpoint *tp = r->touchpoints[i];
		cr_expect_str_eq(tp->customer_id, GONE, "touchpoints[%zu]", i);
		cr_expect_eq(tp->occurred_at_ms, x->at[i],
		        "touchpoints[%zu] at %lld, want %lld", i,
		        (long long) tp->occurred_at_ms, (long long) x->at[i]);
		cr_expect_str_eq(
		        tp->event_id, x->eid[i], "touchpoints[%zu]", i);
		cr_expect_eq(tp->n_properties, 2, "touchpoints[%zu]", i);
		if (i > 0) {
			cr_expect_leq(r->touchpoints[i - 1]->occurred_at_ms,
			        tp->occurred_at_ms, "not in event-time order");
		}
	}
	clm_response_free(resp);
}

Test(forget, forget_removes_every_trace)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct expected x = { .n = 0 };
	size_t gone = track_gone(c, &x);
	size_t kept = track_kept(c);
	cr_assert_eq(gone, 10);
	cr_assert_eq(x.n, gone);
	cr_assert_eq(kept, 3);
	check_export(c, &x);
	Clm__V1__Response *kept0 = get_customer(c, KEPT, AS_OF);
	Clm__V1__StatusReply s0 = get_status(c);
	cr_expect_eq(s0.customers, 2);
	cr_expect_eq(s0.touchpoints, gone + kept);

	Clm__V1__Response *resp = NULL;
	clm_err e = clm_forget(c, GONE, &resp);
	cr_assert_eq(e, CLM_OK, "forget: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp->forget_customer);
	cr_expect(resp->forget_customer->existed);
	cr_expect_eq(resp->forget_customer->touchpoints_deleted, gone,
	        "touchpoints_deleted %llu, want %zu",
	        (unsigned long long)
	                resp->forget_customer->touchpoints_deleted,
	        gone);
	clm_response_free(resp);

	e = clm_get_customer(c, GONE, 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "get after forget: %s", clm_errname(e));
	clm_response_free(resp);
	e = clm_export(c, GONE, &resp);
	cr_expect_eq(
	        e, CLM_NOT_FOUND, "export after forget: %s", clm_errname(e));
	clm_response_free(resp);
	e = clm_forget(c, GONE, &resp);
	cr_assert_eq(e, CLM_OK, "second forget: %s", clm_errname(e));
	cr_expect(!resp->forget_customer->existed);
	cr_expect_eq(resp->forget_customer->touchpoints_deleted, 0);
	clm_response_free(resp);

	Clm__V1__StatusReply s1 = get_status(c);
	cr_expect_eq(s1.customers, 1);
	cr_expect_eq(s1.touchpoints, kept);
	Clm__V1__Response *kept1 = get_customer(c, KEPT, AS_OF);
	cr_expect(same_customer(kept0->customer, kept1->customer),
	        "'" KEPT "' changed");
	clm_response_free(kept0);
	clm_response_free(kept1);
	clm_close(c);

	/*
	 * While clmd runs: the checkpoint after the Forget (within the
	 * checkpoint interval) purges the journal, so no journal file holds
	 * the customer's entries any more (docs/operations.md). Waited for
	 * up to 30 s.
	 */
	char where[256] = "";
	int holding = journal_clears(
	        srv.data_dir, GONE, GONE_ANON, where, sizeof(where));
	cr_expect_eq(holding, 0,
	        "the journal still holds the forgotten customer (%s)", where);

	int st = clmd_stop(&srv);
	cr_assert_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
	static const char *const needles[3] = { GONE, GONE_ANON, KEPT };
	struct scan s;
	scan_data_dir(srv.data_dir, needles, &s);
	cr_expect_geq(s.dbs, 6, "%zu named databases", s.dbs);
	cr_expect_eq(s.hits[0], 0, "'%s' still in %zu entries (first: %s)",
	        needles[0], s.hits[0], s.where[0]);
	cr_expect_eq(s.hits[1], 0, "'%s' still in %zu entries (first: %s)",
	        needles[1], s.hits[1], s.where[1]);
	/* keep-me: profile, 3 touchpoints' event ids, alias: at least 5. */
	cr_expect_geq(s.hits[2], 5, "'%s' in only %zu entries", needles[2],
	        s.hits[2]);
	cr_expect_eq(journal_holds(srv.data_dir, GONE, where, sizeof(where)),
	        0, "after the stop, journal file %s holds '%s'", where, GONE);
}

/* Export of an unknown customer and forget of one: NOT_FOUND, no-op. */
Test(forget, unknown_customer)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_export(c, "nobody", &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "export: %s", clm_errname(e));
	clm_response_free(resp);
	e = clm_forget(c, "nobody", &resp);
	cr_assert_eq(e, CLM_OK, "forget: %s", clm_errname(e));
	cr_expect(!resp->forget_customer->existed);
	cr_expect_eq(resp->forget_customer->touchpoints_deleted, 0);
	clm_response_free(resp);
	clm_close(c);
}

/*
 * A Forget acknowledged and then lost with the process (kill -9 before any
 * checkpoint): the restart replays it, and the checkpoint after the replay,
 * in the background while clmd serves, purges the journal all the same, so
 * no journal file keeps the customer; a write acknowledged meanwhile does
 * not keep the old segment alive (it goes to a new one).
 */
Test(forget, forget_replayed_after_kill9_is_purged)
{
	static const char *const hold[]
	        = { "--checkpoint-interval", "3600", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, hold), 0, "log %s", srv.log_path);
	clm_conn *c = connect_to(&srv);
	struct expected x = { .n = 0 };
	track_gone(c, &x);
	track_kept(c);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_forget(c, GONE, &resp), CLM_OK);
	clm_response_free(resp);
	clm_close(c);
	char where[256] = "";
	cr_assert_gt(journal_holds(srv.data_dir, GONE, where, sizeof(where)),
	        0, "the journal should hold the customer before the crash");
	clmd_kill9(&srv);

	cr_assert_eq(clmd_start(&srv, srv.data_dir, hold), 0, "log %s",
	        srv.log_path);
	c = connect_to(&srv);
	cr_expect_eq(clm_get_customer(c, GONE, 0, &resp), CLM_NOT_FOUND);
	clm_response_free(resp);
	track_kept(c);
	clm_close(c);
	cr_expect_eq(journal_clears(srv.data_dir, GONE, GONE_ANON, where,
	                     sizeof(where)),
	        0, "30 s after the replay, journal file %s holds '%s' or '%s'",
	        where, GONE, GONE_ANON);
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * Writes that go on while the Forget's checkpoint runs must not keep the
 * journal segment being written, which holds the forgotten customer,
 * alive: a checkpoint in the background covers the journal only up to its
 * freeze, and every batch after it would keep that segment; so the freeze
 * of a checkpoint that is to purge makes the next batch start a new
 * segment (found in review: the entries stayed for as long as the writes
 * went on).
 */
static atomic_bool busy_stop;

static void *
busy_writer(void *arg)
{
	(void) arg;
	clm_conn *c = connect_to(&srv);
	for (unsigned long i = 0; !atomic_load(&busy_stop) && i < 1000000;
	        i++) {
		struct batch b = { .n = 0 };
		char eid[64];
		snprintf(eid, sizeof(eid), "busy-ev-%lu", i);
		batch_add(&b, "busy-customer", NULL, eid, TP_TYPE(PAGE_VIEW),
		        T0 + (int64_t) i, "busy");
		Clm__V1__Response *resp = NULL;
		if (clm_track(c, b.ptr, b.n, &resp) == CLM_OK) {
			clm_response_free(resp);
		}
	}
	clm_close(c);
	return NULL;
}

Test(forget, purged_while_writes_go_on, .timeout = 120)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	struct expected x = { .n = 0 };
	cr_assert_eq(track_gone(c, &x), 10);
	atomic_store(&busy_stop, false);
	pthread_t th[4];
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(
		        pthread_create(&th[k], NULL, busy_writer, NULL), 0);
	}
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_forget(c, GONE, &resp), CLM_OK);
	clm_response_free(resp);
	/* checkpoint_interval is 1 s: a generous 30 s for the purge. */
	char where[256] = "";
	int holding = journal_clears(
	        srv.data_dir, GONE, NULL, where, sizeof(where));
	atomic_store(&busy_stop, true);
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
	}
	clm_close(c);
	cr_expect_eq(holding, 0,
	        "30 s after the Forget, with writes going on, journal file %s still holds the forgotten customer",
	        where);
	cr_assert_eq(clmd_stop(&srv), 0);
}
