/*
 * Orders of several items and CUSTOM events against a store
 * (docs/api.md "Orders of several items", "Custom events"):
 *
 * - profile_note and profile_save give every pair of an order's items
 *   (item_id and order_items) one customer in the co-purchase counts
 *   (`cooccur`), an item named twice counting once, and a second order
 *   adds only its new pairs;
 * - the aggregates agg_rebuild recomputes (force) equal what the live
 *   Track jobs wrote: every TOUCH counter, AGG_TOUCH_CUSTOM among them,
 *   and the co-purchase counts.
 *
 * The store is opened inside each test: Criterion forks, and LMDB must not
 * be opened before the fork.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "config.h"
#include "core/agg.h"
#include "server.h"
#include "store/agg_rebuild.h"
#include "store/agg_write.h"
#include "store/profile.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "write/writer.h"
#include "write_fixture.h"

/* 2026-11-01T10:00:00Z */
#define T0  1793527200000LL
#define DAY (24 * 3600 * 1000LL)

/* ---------------------------------------------------------------------- */
/* Co-purchase counts                                                     */

#define N_ITEMS 8

/* The items of these tests, and the expected counts between them. */
static const char *const items[N_ITEMS]
        = { "a", "b", "c", "d", "e", "f", "g", "h" };

struct co_want {
	uint64_t pop[N_ITEMS];
	uint64_t co[N_ITEMS][N_ITEMS];
};

static int
item_index(const char *item)
{
	for (int i = 0; i < N_ITEMS; i++) {
		if (strcmp(items[i], item) == 0) {
			return i;
		}
	}
	return -1;
}

/* Adds one customer's distinct items (indexes) to w. */
static void
co_want_customer(struct co_want *w, const int *idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		w->pop[idx[i]]++;
		for (size_t k = 0; k < n; k++) {
			if (k != i) {
				w->co[idx[i]][idx[k]]++;
			}
		}
	}
}

struct co_got {
	uint64_t row[N_ITEMS];
	int unknown;
};

static int
co_each_fn(void *arg, const char *item, uint64_t count)
{
	struct co_got *g = arg;
	int i = item_index(item);
	if (i < 0) {
		g->unknown++;
	} else {
		g->row[i] = count;
	}
	return 0;
}

/* Every popularity and pair count of the store equals w's. */
static void
co_check(store_txn *txn, const struct co_want *w, const char *what)
{
	for (int i = 0; i < N_ITEMS; i++) {
		uint64_t pop = 0;
		cr_assert_eq(store_pop_get(txn, items[i], &pop), CLM_OK);
		cr_expect_eq(pop, w->pop[i],
		        "%s: popularity of %s: %llu, want %llu", what,
		        items[i], (unsigned long long) pop,
		        (unsigned long long) w->pop[i]);
		struct co_got g;
		memset(&g, 0, sizeof(g));
		cr_assert_eq(
		        store_co_each(txn, items[i], co_each_fn, &g), CLM_OK);
		cr_expect_eq(g.unknown, 0, "%s: unknown neighbour of %s", what,
		        items[i]);
		for (int k = 0; k < N_ITEMS; k++) {
			cr_expect_eq(g.row[k], w->co[i][k],
			        "%s: pair %s,%s: %llu, want %llu", what,
			        items[i], items[k],
			        (unsigned long long) g.row[k],
			        (unsigned long long) w->co[i][k]);
		}
	}
}

/* One PURCHASE of item_id and order_items, noted and saved. */
static void
note_order(store *s, const char *customer, int64_t at_ms, const char *item_id,
        char **order_items, size_t n)
{
	arena a;
	arena_init(&a);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	struct profile *pr;
	cr_assert_eq(
	        profile_load(txn, customer, false, true, &a, &pr), CLM_OK);
	Clm__V1__Touchpoint tp;
	clm__v1__touchpoint__init(&tp);
	tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp.customer_id = (char *) customer;
	tp.item_id = (char *) item_id;
	tp.order_items = order_items;
	tp.n_order_items = n;
	tp.value = 10;
	struct model_touch t;
	profile_touch(&tp, at_ms, 1, &t);
	struct model_rescan r;
	model_apply(&pr->p, &t, &r);
	cr_assert_eq(profile_note(pr, &tp, at_ms, &a), CLM_OK);
	cr_assert_eq(profile_save(txn, pr, &a), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_fini(&a);
}

Test(orders_store, every_pair_of_an_order_is_counted_once)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "orders-store");
	store *s = wfx_store_open(dir, 64 << 20);
	struct co_want w;
	memset(&w, 0, sizeof(w));

	/* ann: a with b, c, a, d, b (a twice, b twice): {a, b, c, d}. */
	char *o1[] = { "b", "c", "a", "d", "b" };
	note_order(s, "ann", T0, "a", o1, 5);
	const int ann1[] = { 0, 1, 2, 3 };
	co_want_customer(&w, ann1, 4);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	co_check(txn, &w, "ann's first order");
	store_write_abort(txn);

	/* ann again: d with e, a; only e is new, its pairs with a..d. */
	char *o2[] = { "e", "a" };
	note_order(s, "ann", T0 + DAY, "d", o2, 2);
	memset(&w, 0, sizeof(w));
	const int ann2[] = { 0, 1, 2, 3, 4 };
	co_want_customer(&w, ann2, 5);
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	co_check(txn, &w, "ann's second order");
	store_write_abort(txn);

	/* ben: a with c, f, g, sharing a and c with ann. */
	char *o3[] = { "c", "f", "g" };
	note_order(s, "ben", T0 + 2 * DAY, "a", o3, 3);
	const int ben[] = { 0, 2, 5, 6 };
	co_want_customer(&w, ben, 4);
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	co_check(txn, &w, "ben's order");
	cr_expect_eq(w.co[0][2], 2, "a and c: both customers");
	store_write_abort(txn);

	store_close(s);
	testdir_remove(dir);
}

/* ---------------------------------------------------------------------- */
/* agg_rebuild against the live writes                                    */

/* Every TOUCH key and its raw counters. */
struct touch_dump {
	struct {
		unsigned char key[AGG_KEY_MAX];
		size_t klen;
		unsigned char val[AGG_TOUCH_N * 8];
		size_t vlen;
	} e[64];
	size_t n;
	int64_t custom; /* AGG_TOUCH_CUSTOM summed over the keys */
	int64_t purchases;
};

static int
touch_dump_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct touch_dump *d = arg;
	cr_assert_lt(d->n, sizeof(d->e) / sizeof(d->e[0]));
	cr_assert_leq(klen, AGG_KEY_MAX);
	cr_assert_leq(vlen, sizeof(d->e[0].val));
	memcpy(d->e[d->n].key, key, klen);
	d->e[d->n].klen = klen;
	memcpy(d->e[d->n].val, val, vlen);
	d->e[d->n].vlen = vlen;
	d->n++;
	int64_t v[AGG_TOUCH_N] = { 0 };
	store_agg_counters(val, vlen, v, AGG_TOUCH_N);
	d->custom += v[AGG_TOUCH_CUSTOM];
	d->purchases += v[AGG_TOUCH_TYPES + MODEL_T_PURCHASE];
	return 0;
}

/* The TOUCH keys, and every co-purchase count, of s now. */
static void
snapshot(store *s, struct touch_dump *d, struct co_want *co)
{
	memset(d, 0, sizeof(*d));
	memset(co, 0, sizeof(*co));
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	unsigned char lo = AGG_TOUCH, hi = AGG_TOUCH + 1;
	cr_assert_eq(
	        store_agg_scan(txn, &lo, 1, &hi, 1, touch_dump_fn, d), CLM_OK);
	for (int i = 0; i < N_ITEMS; i++) {
		cr_assert_eq(
		        store_pop_get(txn, items[i], &co->pop[i]), CLM_OK);
		struct co_got g;
		memset(&g, 0, sizeof(g));
		cr_assert_eq(
		        store_co_each(txn, items[i], co_each_fn, &g), CLM_OK);
		cr_assert_eq(g.unknown, 0);
		memcpy(co->co[i], g.row, sizeof(g.row));
	}
	store_write_abort(txn);
}

/* Prepares json's Track as dispatch does and applies it as the writer. */
static void
live_track(store *s, struct server *srv, const char *json, int64_t now_ms)
{
	arena a;
	arena_init(&a);
	struct call_req r;
	memset(&r, 0, sizeof(r));
	r.srv = srv;
	r.a = &a;
	r.now_ms = now_ms;
	r.resp = arena_alloc(&a, sizeof(*r.resp));
	cr_assert_not_null(r.resp);
	clm__v1__response__init(r.resp);
	r.req = wfx_request(&a, json);
	writer_job_init(&r.job, &a, r.resp, NULL, NULL);
	cr_assert(track_prepare(&r), "no job: %s", json);

	struct agg_visits *v = agg_visits_new();
	cr_assert_not_null(v);
	arena scratch;
	arena_init(&scratch);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	struct writer_batch b = {
		.txn = txn, .now_ms = now_ms, .scratch = &scratch, .visits = v
	};
	cr_assert_eq(r.job.apply(&b, &r.job), CLM_OK);
	cr_assert_eq(agg_visits_fold(txn, v), CLM_OK);
	for (size_t k = 0; k < r.job.n_events; k++) {
		r.job.events[k]->seq = store_next_event_seq(txn);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	cr_assert_eq(r.resp->status == NULL ? 0 : r.resp->status->code, 0);
	cr_assert_eq(r.resp->track->accepted, r.req->track->n_touchpoints,
	        "accepted %u", r.resp->track->accepted);
	arena_fini(&scratch);
	agg_visits_free(v);
	arena_fini(&a);
}

/*
 * Two days, three channels: CUSTOM events (one a customer's first
 * touchpoint, one of an anonymous id), orders of several items (one
 * naming an item twice, one late), a REFUND with order_items.
 */
static const char *const live_tracks[] = {
	"{\"track\":{\"touchpoints\":["
	"{\"eventId\":\"1\",\"customerId\":\"ann\",\"type\":\"CUSTOM\","
	"\"eventName\":\"Video Played\",\"channel\":\"EMAIL\","
	"\"occurredAtMs\":\"1793440800000\"},"
	"{\"eventId\":\"2\",\"customerId\":\"ann\",\"type\":\"PURCHASE\","
	"\"channel\":\"EMAIL\",\"itemId\":\"a\",\"orderItems\":[\"b\",\"c\","
	"\"a\"],\"value\":30,\"occurredAtMs\":\"1793444400000\"},"
	"{\"eventId\":\"3\",\"customerId\":\"ben\",\"type\":\"PURCHASE\","
	"\"channel\":\"PAID_ADS\",\"itemId\":\"c\",\"orderItems\":[\"d\","
	"\"e\"],\"value\":12.5,\"occurredAtMs\":\"1793448000000\"},"
	"{\"eventId\":\"4\",\"anonymousId\":\"cookie-1\",\"type\":\"CUSTOM\","
	"\"eventName\":\"Coupon Copied\",\"occurredAtMs\":\"1793451600000\"}"
	"]}}",
	"{\"track\":{\"touchpoints\":["
	"{\"eventId\":\"5\",\"customerId\":\"ann\",\"type\":\"CUSTOM\","
	"\"eventName\":\"Video Played\",\"channel\":\"EMAIL\","
	"\"occurredAtMs\":\"1793527000000\"},"
	"{\"eventId\":\"6\",\"customerId\":\"ann\",\"type\":\"PURCHASE\","
	"\"channel\":\"DIRECT\",\"itemId\":\"f\",\"orderItems\":[\"g\","
	"\"h\",\"b\"],\"value\":40,\"occurredAtMs\":\"1793527100000\"},"
	"{\"eventId\":\"7\",\"customerId\":\"ben\",\"type\":\"REFUND\","
	"\"channel\":\"PAID_ADS\",\"itemId\":\"c\",\"orderItems\":[\"d\"],"
	"\"value\":5,\"occurredAtMs\":\"1793527150000\"},"
	"{\"eventId\":\"8\",\"customerId\":\"ben\",\"type\":\"PURCHASE\","
	"\"channel\":\"PAID_ADS\",\"itemId\":\"a\",\"orderItems\":[\"h\"],"
	"\"value\":8,\"occurredAtMs\":\"1793400000000\"}"
	"]}}",
};

Test(orders_store, rebuild_equals_the_live_writes)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "orders-store");
	store *s = wfx_store_open(dir, 64 << 20);
	struct config cfg;
	config_init(&cfg);
	struct server srv;
	server_init(&srv, &cfg, NULL, NULL, T0);
	for (size_t i = 0; i < sizeof(live_tracks) / sizeof(live_tracks[0]);
	        i++) {
		live_track(s, &srv, live_tracks[i], T0 + (int64_t) i * 1000);
	}

	struct touch_dump *live = calloc(1, sizeof(*live));
	struct touch_dump *rebuilt = calloc(1, sizeof(*rebuilt));
	struct co_want *co_live = calloc(1, sizeof(*co_live));
	struct co_want *co_rebuilt = calloc(1, sizeof(*co_rebuilt));
	cr_assert(live && rebuilt && co_live && co_rebuilt);
	snapshot(s, live, co_live);
	/* What the live writes hold, so the comparison is not vacuous. */
	cr_expect_eq(live->custom, 3, "CUSTOM counted %lld times",
	        (long long) live->custom);
	cr_expect_eq(live->purchases, 4, "%lld purchases",
	        (long long) live->purchases);
	cr_expect_eq(co_live->co[0][7], 2, "a,h: ann and ben");
	cr_expect_eq(co_live->co[2][3], 1, "c,d: ben (the refund takes none)");
	cr_expect_eq(co_live->pop[0], 2, "a: ann and ben");

	size_t customers = 0;
	cr_assert_eq(agg_rebuild(s, true, &customers), CLM_OK);
	cr_expect_eq(customers, 3, "%zu profiles rebuilt", customers);
	snapshot(s, rebuilt, co_rebuilt);

	cr_assert_eq(rebuilt->n, live->n, "%zu TOUCH keys rebuilt, %zu live",
	        rebuilt->n, live->n);
	for (size_t i = 0; i < live->n; i++) {
		cr_assert_eq(rebuilt->e[i].klen, live->e[i].klen);
		cr_assert_eq(memcmp(rebuilt->e[i].key, live->e[i].key,
		                     live->e[i].klen),
		        0, "TOUCH key %zu", i);
		cr_assert_eq(rebuilt->e[i].vlen, live->e[i].vlen,
		        "TOUCH key %zu: %zu bytes rebuilt, %zu live", i,
		        rebuilt->e[i].vlen, live->e[i].vlen);
		cr_assert_eq(memcmp(rebuilt->e[i].val, live->e[i].val,
		                     live->e[i].vlen),
		        0, "TOUCH counters of key %zu", i);
	}
	cr_expect_eq(rebuilt->custom, 3);
	for (int i = 0; i < N_ITEMS; i++) {
		cr_expect_eq(co_rebuilt->pop[i], co_live->pop[i],
		        "popularity of %s moved in the rebuild", items[i]);
		for (int k = 0; k < N_ITEMS; k++) {
			cr_expect_eq(co_rebuilt->co[i][k], co_live->co[i][k],
			        "pair %s,%s moved in the rebuild", items[i],
			        items[k]);
		}
	}

	free(live);
	free(rebuilt);
	free(co_live);
	free(co_rebuilt);
	config_fini(&cfg);
	store_close(s);
	testdir_remove(dir);
}
