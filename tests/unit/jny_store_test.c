/*
 * Unit tests of journeys in the store (server/store/store_journey.c):
 * definitions and their ids, the timers' order (negative instants too) and
 * bounds, counters that never go below 0, the feed (positions, filtered
 * and bounded pages, trim, forget) with its webhook deliveries, and the
 * same state through an overlay, a chunked checkpoint and a reopen.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/journey.h"
#include "testdir.h"
#include "write_fixture.h"

#define T0 1768003200000LL /* 2026-01-10T00:00:00Z */

static char tmp_path[64];

static void
setup(void)
{
	testdir_make(tmp_path, sizeof(tmp_path), "jny-store-test");
}

static void
teardown(void)
{
	testdir_remove(tmp_path);
}

TestSuite(jny_store, .init = setup, .fini = teardown, .timeout = 60);

static void
put_journey(store_txn *txn, const char *name, uint32_t id)
{
	Clm__V1__JourneyRecord r = CLM__V1__JOURNEY_RECORD__INIT;
	r.name = (char *) name;
	r.id = id;
	r.definition = "{}";
	r.defined_at_ms = T0 + id;
	r.created_at_ms = T0;
	cr_assert_eq(store_journey_put(txn, &r), CLM_OK);
}

struct names {
	char name[8][16];
	uint32_t id[8];
	size_t n;
};

static int
names_fn(void *arg, Clm__V1__JourneyRecord *rec)
{
	struct names *l = arg;
	cr_assert_lt(l->n, 8);
	snprintf(l->name[l->n], sizeof(l->name[0]), "%s", rec->name);
	l->id[l->n++] = rec->id;
	return 0;
}

Test(jny_store, definitions_and_ids)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	arena a;
	arena_init(&a);
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	uint32_t ids[3];
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(store_journey_new_id(txn, &ids[i]), CLM_OK);
		cr_assert_eq(ids[i], (uint32_t) i + 1);
	}
	put_journey(txn, "win-back", ids[0]);
	put_journey(txn, "cart", ids[1]);
	put_journey(txn, "post_purchase", ids[2]);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	Clm__V1__JourneyRecord *r;
	cr_assert_eq(store_journey_get(txn, "cart", &a, &r), CLM_OK);
	cr_assert_eq(r->id, 2);
	cr_assert_eq(r->defined_at_ms, T0 + 2);
	cr_assert_str_eq(r->definition, "{}");
	cr_assert_eq(store_journey_get(txn, "nope", &a, &r), CLM_NOT_FOUND);
	struct names l = { .n = 0 };
	cr_assert_eq(store_journeys_each(txn, &a, names_fn, &l), CLM_OK);
	cr_assert_eq(l.n, 3); /* by name */
	cr_assert_str_eq(l.name[0], "cart");
	cr_assert_str_eq(l.name[1], "post_purchase");
	cr_assert_str_eq(l.name[2], "win-back");
	cr_assert_eq(store_journey_del(txn, "cart"), CLM_OK);
	cr_assert_eq(store_journey_del(txn, "cart"), CLM_NOT_FOUND);
	/* An id is never given again, even after a delete. */
	uint32_t id;
	cr_assert_eq(store_journey_new_id(txn, &id), CLM_OK);
	cr_assert_eq(id, 4);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	l.n = 0;
	cr_assert_eq(store_journeys_each(txn, &a, names_fn, &l), CLM_OK);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.name[0], "post_purchase");
	store_write_abort(txn);
	arena_fini(&a);
	store_close(st);
}

struct dues {
	int64_t at[32];
	uint32_t j[32];
	char id[32][16];
	size_t n;
	size_t stop_at; /* 0: never */
};

static int
dues_fn(void *arg, int64_t due_ms, uint32_t journey, const char *id)
{
	struct dues *d = arg;
	cr_assert_lt(d->n, 32);
	d->at[d->n] = due_ms;
	d->j[d->n] = journey;
	snprintf(d->id[d->n++], sizeof(d->id[0]), "%s", id);
	return d->stop_at != 0 && d->n == d->stop_at;
}

Test(jny_store, timers_in_numeric_order_and_bounded)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	int64_t first;
	bool found = true;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_jdue_first(txn, &first, &found), CLM_OK);
	cr_assert_not(found);
	/* Instants on both sides of 0, ties by journey then customer. */
	cr_assert_eq(store_jdue_put(txn, T0, 2, "b"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, T0, 2, "a"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, T0, 1, "z"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, -5, 7, "neg5"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, -86400000, 7, "negday"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, 0, 7, "zero"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, INT64_MIN, 1, "min"), CLM_OK);
	cr_assert_eq(store_jdue_put(txn, INT64_MAX, 1, "max"), CLM_OK);
	cr_assert_eq(store_jdue_del(txn, T0 + 1, 1, "nobody"), CLM_OK);
	char long_id[600];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	cr_assert_eq(
	        store_jdue_put(txn, T0, 1, long_id), CLM_INVALID_ARGUMENT);
	cr_assert_eq(store_jdue_del(txn, T0, 1, long_id), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_jdue_first(txn, &first, &found), CLM_OK);
	cr_assert(found);
	cr_assert_eq(first, INT64_MIN);
	struct dues d = { .n = 0 };
	cr_assert_eq(store_jdue_each(txn, T0, 100, dues_fn, &d), CLM_OK);
	static const char *const want[]
	        = { "min", "negday", "neg5", "zero", "z", "a", "b" };
	static const int64_t want_at[]
	        = { INT64_MIN, -86400000, -5, 0, T0, T0, T0 };
	cr_assert_eq(d.n, 7); /* not INT64_MAX's */
	for (size_t i = 0; i < 7; i++) {
		cr_assert_str_eq(d.id[i], want[i], "timer %zu", i);
		cr_assert_eq(d.at[i], want_at[i], "timer %zu", i);
	}
	cr_assert_eq(d.j[4], 1);
	cr_assert_eq(d.j[5], 2);
	/* Bounded by upto, by max, and by fn. */
	d = (struct dues) { .n = 0 };
	cr_assert_eq(store_jdue_each(txn, -1, 100, dues_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 3);
	d = (struct dues) { .n = 0 };
	cr_assert_eq(store_jdue_each(txn, INT64_MAX, 4, dues_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 4);
	d = (struct dues) { .n = 0, .stop_at = 2 };
	cr_assert_eq(
	        store_jdue_each(txn, INT64_MAX, 100, dues_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 2);
	d = (struct dues) { .n = 0 };
	cr_assert_eq(
	        store_jdue_each(txn, INT64_MAX, 100, dues_fn, &d), CLM_OK);
	cr_assert_eq(d.n, 8);
	cr_assert_str_eq(d.id[7], "max");
	/* Deleting the first moves first. */
	cr_assert_eq(store_jdue_del(txn, INT64_MIN, 1, "min"), CLM_OK);
	cr_assert_eq(store_jdue_del(txn, -86400000, 7, "negday"), CLM_OK);
	cr_assert_eq(store_jdue_first(txn, &first, &found), CLM_OK);
	cr_assert(found);
	cr_assert_eq(first, -5);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	store_close(st);
}

static Clm__V1__JourneyStats *
stats(store_txn *txn, uint32_t j, size_t n_steps, arena *a)
{
	Clm__V1__JourneyStats *s = NULL;
	cr_assert_eq(store_jstats_get(txn, j, n_steps, a, &s), CLM_OK);
	cr_assert_eq(s->n_steps, n_steps);
	for (size_t i = 0; i < n_steps; i++) {
		cr_assert_eq(s->steps[i]->step, (uint32_t) i);
	}
	return s;
}

Test(jny_store, counters_never_below_zero)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	arena a;
	arena_init(&a);
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	Clm__V1__JourneyStats *s = stats(txn, 1, 2, &a);
	cr_assert_eq(s->entered + s->active + s->steps[1]->sent, 0);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_ENTERED, 0, 3), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_ACTIVE, 0, 2), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_ACTIVE, 0, -5), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_ACTIVE, 0, 1), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_EXITED, 0, -1), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_COMPLETED, 0, INT64_MIN),
	        CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_REMOVED, 0, 4), CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_SENT, 0, 7), CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_SENT, 1, 9), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_SKIPPED_CONDITION, 1, 2),
	        CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_SKIPPED_CAPPED, 0, 5),
	        CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_SKIPPED_LATE, 1, 6),
	        CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_WAITING, 1, 8), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_WAITING, 5, 1), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_HOOK_DELIVERED, 0, 10),
	        CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_HOOK_PENDING, 0, 11),
	        CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_HOOK_RETRIES, 0, 12),
	        CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 1, STORE_JSTAT_HOOK_DEAD, 0, 13), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, 2, STORE_JSTAT_ENTERED, 0, 100), CLM_OK);
	cr_assert_eq(store_jstat_add(txn, 1, STORE_JSTAT_SENT, 70000, 1),
	        CLM_INVALID_ARGUMENT);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	s = stats(txn, 1, 2, &a);
	cr_assert_eq(s->entered, 3);
	cr_assert_eq(s->active, 1); /* 2 - 5 stayed at 0, then + 1 */
	cr_assert_eq(s->exited, 0);
	cr_assert_eq(s->completed, 0);
	cr_assert_eq(s->removed, 4);
	cr_assert_eq(s->steps[0]->sent, 7);
	cr_assert_eq(s->steps[1]->sent, 9);
	cr_assert_eq(s->steps[1]->skipped_condition, 2);
	cr_assert_eq(s->steps[0]->skipped_capped, 5);
	cr_assert_eq(s->steps[1]->skipped_late, 6);
	cr_assert_eq(s->steps[1]->waiting, 8);
	cr_assert_eq(s->steps[0]->waiting, 0);
	cr_assert_eq(s->webhook_delivered, 10);
	cr_assert_eq(s->webhook_pending, 11);
	cr_assert_eq(s->webhook_retries, 12);
	cr_assert_eq(s->webhook_dead, 13);
	/* Fewer steps than counted: the others are left out. */
	s = stats(txn, 1, 1, &a);
	cr_assert_eq(s->steps[0]->sent, 7);
	s = stats(txn, 1, 0, &a);
	cr_assert_eq(s->entered, 3);
	s = stats(txn, 2, 1, &a);
	cr_assert_eq(s->entered, 100);
	cr_assert_eq(s->steps[0]->sent, 0);

	/* Dropped in chunks of 4: journey 2 keeps its own. */
	bool left = true;
	int rounds = 0;
	while (left) {
		cr_assert_lt(rounds++, 10);
		cr_assert_eq(store_jstats_drop(txn, 1, 4, &left), CLM_OK);
	}
	cr_assert_eq(rounds, 4); /* 15 counters: 4, 4, 4, 3 */
	s = stats(txn, 1, 6, &a);
	cr_assert_eq(s->entered + s->active + s->removed + s->webhook_dead, 0);
	cr_assert_eq(s->steps[1]->sent + s->steps[5]->waiting, 0);
	s = stats(txn, 2, 0, &a);
	cr_assert_eq(s->entered, 100);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_fini(&a);
	store_close(st);
}

/* Appends a message of journey j for customer c; returns its position. */
static uint64_t
append(store_txn *txn, const char *j, const char *c, uint32_t step)
{
	Clm__V1__LifecycleEvent ev = CLM__V1__LIFECYCLE_EVENT__INIT;
	char mid[40];
	snprintf(mid, sizeof(mid), "jm_%s_%s_%u", j, c, (unsigned) step);
	ev.kind = CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE;
	ev.customer_id = (char *) c;
	ev.at_ms = T0 + step;
	ev.journey = (char *) j;
	ev.step = step;
	ev.recommendation_kind = CLM__V1__RECOMMENDATION_KIND__WIN_BACK;
	ev.action = "we_miss_you";
	ev.channel = CLM__V1__CHANNEL__EMAIL;
	ev.message_id = mid;
	ev.event_id = "jny:x";
	cr_assert_eq(store_jmsg_append(txn, &ev), CLM_OK);
	cr_assert_neq(ev.position, 0);
	return ev.position;
}

static void
hook(store_txn *txn, uint64_t pos, uint32_t journey)
{
	Clm__V1__JourneyHook h = CLM__V1__JOURNEY_HOOK__INIT;
	h.journey = journey;
	h.next_ms = T0 + (int64_t) pos;
	cr_assert_eq(store_jhook_put(txn, pos, &h), CLM_OK);
	cr_assert_eq(
	        store_jstat_add(txn, journey, STORE_JSTAT_HOOK_PENDING, 0, 1),
	        CLM_OK);
}

struct page {
	uint64_t pos[64];
	char cust[64][16];
	size_t n;
	size_t stop_at;
};

static int
page_fn(void *arg, Clm__V1__LifecycleEvent *ev)
{
	struct page *p = arg;
	cr_assert_lt(p->n, 64);
	cr_assert_eq(ev->kind, CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE);
	p->pos[p->n] = ev->position;
	snprintf(p->cust[p->n++], sizeof(p->cust[0]), "%s", ev->customer_id);
	return p->stop_at != 0 && p->n == p->stop_at;
}

static struct page
page(store_txn *txn, uint64_t after, size_t max, size_t scan_max,
        const char *journey, uint64_t *scanned_to, arena *a)
{
	struct page p = { .n = 0 };
	cr_assert_eq(store_jmsgs_after(txn, after, max, scan_max, journey, a,
	                     page_fn, &p, scanned_to),
	        CLM_OK);
	return p;
}

struct gone {
	uint32_t j[16];
	size_t n;
};

static void
gone_fn(void *arg, uint32_t journey)
{
	struct gone *g = arg;
	cr_assert_lt(g->n, 16);
	g->j[g->n++] = journey;
}

struct hooks {
	uint64_t pos[64];
	size_t n;
};

static int
hooks_fn(void *arg, uint64_t position, Clm__V1__JourneyHook *h)
{
	struct hooks *l = arg;
	cr_assert_lt(l->n, 64);
	cr_assert_eq(h->next_ms, T0 + (int64_t) position);
	l->pos[l->n++] = position;
	return 0;
}

static size_t
n_hooks(store_txn *txn, arena *a)
{
	struct hooks l = { .n = 0 };
	cr_assert_eq(store_jhooks_each(txn, 0, 64, a, hooks_fn, &l), CLM_OK);
	return l.n;
}

Test(jny_store, feed_pages_and_bounds)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	arena a;
	arena_init(&a);
	uint64_t oldest = 9, last = 9, to;
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	cr_assert_eq(oldest, 0);
	cr_assert_eq(last, 0);
	struct page p = page(txn, 0, 10, 100, NULL, &to, &a);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(to, 0);
	/* 1..20: journey "a" at odd positions, "b" at even. */
	for (int i = 1; i <= 20; i++) {
		char c[16];
		snprintf(c, sizeof(c), "c%d", i % 3);
		cr_assert_eq(
		        append(txn, i % 2 ? "a" : "b", c, 0), (uint64_t) i);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	cr_assert_eq(oldest, 1);
	cr_assert_eq(last, 20);
	Clm__V1__LifecycleEvent *ev;
	cr_assert_eq(store_jmsg_get(txn, 7, &a, &ev), CLM_OK);
	cr_assert_str_eq(ev->journey, "a");
	cr_assert_str_eq(ev->customer_id, "c1");
	cr_assert_str_eq(ev->message_id, "jm_a_c1_0");
	cr_assert_eq(ev->position, 7);
	cr_assert_eq(ev->channel, CLM__V1__CHANNEL__EMAIL);
	cr_assert_eq(store_jmsg_get(txn, 21, &a, &ev), CLM_NOT_FOUND);
	/* Every journey, paged by 6. */
	uint64_t after = 0;
	size_t total = 0;
	for (int round = 0; round < 10; round++) {
		p = page(txn, after, 6, 1000, NULL, &to, &a);
		if (p.n == 0) {
			break;
		}
		for (size_t i = 0; i < p.n; i++) {
			cr_assert_eq(p.pos[i], after + 1 + i);
		}
		after = p.pos[p.n - 1];
		cr_assert_eq(to, after);
		total += p.n;
	}
	cr_assert_eq(total, 20);
	/* One journey: only its positions, max of them. */
	p = page(txn, 0, 4, 1000, "b", &to, &a);
	cr_assert_eq(p.n, 4);
	cr_assert_eq(p.pos[0], 2);
	cr_assert_eq(p.pos[3], 8);
	cr_assert_eq(to, 8);
	/* The scan is bounded: 5 examined give 2 of "b". */
	p = page(txn, 0, 100, 5, "b", &to, &a);
	cr_assert_eq(p.n, 2);
	cr_assert_eq(to, 5);
	/* A journey with no message: nothing, the scan still bounded. */
	p = page(txn, 3, 100, 7, "none", &to, &a);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(to, 10);
	/* fn stops it. */
	struct page q = { .n = 0, .stop_at = 3 };
	cr_assert_eq(store_jmsgs_after(
	                     txn, 10, 100, 100, NULL, &a, page_fn, &q, &to),
	        CLM_OK);
	cr_assert_eq(q.n, 3);
	cr_assert_eq(q.pos[0], 11);
	p = page(txn, 20, 10, 10, NULL, &to, &a);
	cr_assert_eq(p.n, 0);
	p = page(txn, UINT64_MAX, 10, 10, NULL, &to, &a);
	cr_assert_eq(p.n, 0);
	store_write_abort(txn);
	arena_fini(&a);
	store_close(st);
}

Test(jny_store, trim_and_forget_take_hooks_along)
{
	store *st = wfx_store_open(tmp_path, 64u << 20);
	store_txn *txn;
	arena a;
	arena_init(&a);
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	/* 1..30, customers c0..c2 in turn; hooks on positions 1..10, 25. */
	for (int i = 1; i <= 30; i++) {
		char c[16];
		snprintf(c, sizeof(c), "c%d", i % 3);
		uint64_t pos = append(txn, "a", c, (uint32_t) i);
		if (pos <= 10 || pos == 25) {
			hook(txn, pos, 1);
		}
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(n_hooks(txn, &a), 11);
	struct hooks l = { .n = 0 };
	cr_assert_eq(store_jhooks_each(txn, 4, 3, &a, hooks_fn, &l), CLM_OK);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.pos[0], 5);
	cr_assert_eq(l.pos[2], 7);
	Clm__V1__JourneyHook *h;
	cr_assert_eq(store_jhook_get(txn, 25, &a, &h), CLM_OK);
	cr_assert_eq(h->journey, 1);
	cr_assert_eq(store_jhook_get(txn, 26, &a, &h), CLM_NOT_FOUND);
	cr_assert_eq(store_jhook_del(txn, 26), CLM_OK);

	/* Keep 24: 1..6 go, in chunks of 4. */
	bool more = false;
	cr_assert_eq(store_jmsgs_trim(txn, 24, 4, &more), CLM_OK);
	cr_assert(more);
	uint64_t oldest, last;
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	cr_assert_eq(oldest, 5);
	cr_assert_eq(last, 30);
	cr_assert_eq(store_jmsgs_trim(txn, 24, 4, &more), CLM_OK);
	cr_assert_not(more);
	cr_assert_eq(store_jmsgs_trim(txn, 24, 4, &more), CLM_OK);
	cr_assert_not(more);
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	cr_assert_eq(oldest, 7);
	cr_assert_eq(n_hooks(txn, &a), 5); /* 7..10, 25 */
	Clm__V1__JourneyStats *s = stats(txn, 1, 0, &a);
	cr_assert_eq(s->webhook_pending, 5);
	cr_assert_eq(store_jmsgs_trim(txn, 100, 4, &more), CLM_OK);
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	cr_assert_eq(oldest, 7);

	/* Forget c1 (7, 10, ..., 28): 8 messages, hooks 7, 10 and 25. */
	uint64_t n = 0;
	struct gone g = { .n = 0 };
	cr_assert_eq(store_jmsgs_forget(txn, "c1", &n, gone_fn, &g), CLM_OK);
	cr_assert_eq(n, 8);
	cr_assert_eq(g.n, 3);
	cr_assert_eq(g.j[0], 1);
	cr_assert_eq(n_hooks(txn, &a), 2); /* 8, 9 */
	uint64_t to;
	struct page p = page(txn, 0, 64, 64, NULL, &to, &a);
	cr_assert_eq(p.n, 16);
	for (size_t i = 0; i < p.n; i++) {
		cr_assert_str_neq(p.cust[i], "c1");
	}
	cr_assert_eq(store_jmsgs_forget(txn, "c1", &n, NULL, NULL), CLM_OK);
	cr_assert_eq(n, 0);
	/* A customer whose id prefixes another's keeps the other's. */
	cr_assert_eq(store_jmsgs_forget(txn, "c", NULL, NULL, NULL), CLM_OK);
	p = page(txn, 0, 64, 64, NULL, &to, &a);
	cr_assert_eq(p.n, 16);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	/* The first position after forgetting and trimming is still 31. */
	cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
	cr_assert_eq(append(txn, "a", "c1", 0), 31);
	store_write_abort(txn);
	arena_fini(&a);
	store_close(st);
}

/* ---------------------------------------------------------------------- */
/* Through the overlay and a checkpoint                                   */

static store *
open_overlay(const char *dir, uint64_t chunk_keys)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true,
		.map_bytes = 4u << 20,
		.max_db_bytes = 64u << 20,
		.max_readers = 16,
	};
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	store_set_chunk_keys(s, chunk_keys);
	e = store_overlay_open(s, 8u << 20, err, sizeof(err));
	cr_assert_eq(
	        e, CLM_OK, "store_overlay_open: %s (%s)", clm_errname(e), err);
	return s;
}

static int
dump_due_fn(void *arg, int64_t due_ms, uint32_t journey, const char *id)
{
	fprintf(arg, "due %lld %u %s\n", (long long) due_ms,
	        (unsigned) journey, id);
	return 0;
}

static int
dump_journey_fn(void *arg, Clm__V1__JourneyRecord *r)
{
	fprintf(arg, "journey %s %u %s %lld\n", r->name, (unsigned) r->id,
	        r->definition, (long long) r->defined_at_ms);
	return 0;
}

static int
dump_msg_fn(void *arg, Clm__V1__LifecycleEvent *ev)
{
	fprintf(arg, "msg %llu %s %s %u %s\n",
	        (unsigned long long) ev->position, ev->journey,
	        ev->customer_id, (unsigned) ev->step, ev->message_id);
	return 0;
}

static int
dump_hook_fn(void *arg, uint64_t position, Clm__V1__JourneyHook *h)
{
	fprintf(arg, "hook %llu %u %u %lld\n", (unsigned long long) position,
	        (unsigned) h->journey, (unsigned) h->attempts,
	        (long long) h->next_ms);
	return 0;
}

/* Everything journeys keep, as text (malloc'd). */
static char *
dump(store *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	store_reader *rd;
	store_txn *txn;
	arena a;
	arena_init(&a);
	cr_assert_eq(store_reader_new(st, &rd), CLM_OK);
	cr_assert_eq(store_read_begin(rd, &txn), CLM_OK);
	cr_assert_eq(store_journeys_each(txn, &a, dump_journey_fn, f), CLM_OK);
	cr_assert_eq(store_jdue_each(txn, INT64_MAX, 100000, dump_due_fn, f),
	        CLM_OK);
	for (uint32_t j = 1; j <= 4; j++) {
		Clm__V1__JourneyStats *s = stats(txn, j, 3, &a);
		fprintf(f, "stats %u %llu %llu %llu", (unsigned) j,
		        (unsigned long long) s->entered,
		        (unsigned long long) s->active,
		        (unsigned long long) s->webhook_pending);
		for (size_t i = 0; i < 3; i++) {
			fprintf(f, " %llu/%llu",
			        (unsigned long long) s->steps[i]->sent,
			        (unsigned long long) s->steps[i]->waiting);
		}
		fputc('\n', f);
	}
	uint64_t to, oldest, last;
	cr_assert_eq(store_jmsgs_after(txn, 0, 100000, 100000, NULL, &a,
	                     dump_msg_fn, f, &to),
	        CLM_OK);
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	fprintf(f, "bounds %llu %llu\n", (unsigned long long) oldest,
	        (unsigned long long) last);
	cr_assert_eq(store_jhooks_each(txn, 0, 100000, &a, dump_hook_fn, f),
	        CLM_OK);
	store_read_end(txn);
	store_reader_free(rd);
	arena_fini(&a);
	fclose(f);
	return buf;
}

/* Writes rounds from..to-1 of everything, deleting some of it again. */
static void
write_rounds(store *st, int from, int to)
{
	store_txn *txn;
	for (int r = from; r < to; r++) {
		cr_assert_eq(store_write_begin(st, &txn), CLM_OK);
		uint32_t id;
		cr_assert_eq(store_journey_new_id(txn, &id), CLM_OK);
		cr_assert_eq(id, (uint32_t) r + 1);
		char name[16];
		snprintf(name, sizeof(name), "j%d", r);
		put_journey(txn, name, id);
		for (int i = 0; i < 40; i++) {
			char c[16];
			snprintf(c, sizeof(c), "c%02d", i);
			int64_t sign = i % 2 ? -1 : 1;
			cr_assert_eq(
			        store_jdue_put(txn, sign * (T0 + i * 1000 + r),
			                id, c),
			        CLM_OK);
			if (i % 5 == 0 && r > 0) {
				cr_assert_eq(
				        store_jdue_del(txn,
				                sign * (T0 + i * 1000 + r - 1),
				                id - 1, c),
				        CLM_OK);
			}
			cr_assert_eq(
			        store_jstat_add(txn, id, STORE_JSTAT_WAITING,
			                (uint32_t) i % 3, 1),
			        CLM_OK);
			uint64_t pos = append(txn, name, c, (uint32_t) i % 3);
			if (i % 4 == 0) {
				hook(txn, pos, id);
			}
		}
		cr_assert_eq(
		        store_jstat_add(txn, id, STORE_JSTAT_ENTERED, 0, 40),
		        CLM_OK);
		if (r == 1) {
			cr_assert_eq(store_journey_del(txn, "j0"), CLM_OK);
			bool left = true;
			for (int k = 0; left; k++) {
				cr_assert_lt(k, 100);
				cr_assert_eq(
				        store_jstats_drop(txn, 1, 2, &left),
				        CLM_OK);
			}
			uint64_t n;
			cr_assert_eq(
			        store_jmsgs_forget(txn, "c07", &n, NULL, NULL),
			        CLM_OK);
			cr_assert_eq(n, 2);
		}
		bool more = true;
		for (int k = 0; more; k++) {
			cr_assert_lt(k, 100);
			cr_assert_eq(
			        store_jmsgs_trim(txn, 70, 16, &more), CLM_OK);
		}
		cr_assert_eq(store_write_commit(txn), CLM_OK);
	}
}

Test(jny_store, overlay_and_checkpoint_round_trip)
{
	char dir_a[80], dir_b[80];
	snprintf(dir_a, sizeof(dir_a), "%s/a", tmp_path);
	snprintf(dir_b, sizeof(dir_b), "%s/b", tmp_path);
	cr_assert_eq(mkdir(dir_a, 0700), 0);
	cr_assert_eq(mkdir(dir_b, 0700), 0);
	/* A: no overlay. */
	store *a = wfx_store_open(dir_a, 64u << 20);
	write_rounds(a, 0, 4);
	char *want = dump(a);
	store_close(a);
	cr_assert(strstr(want, "journey j3 4 {} ") != NULL, "%s", want);
	cr_assert(strstr(want, "journey j0 ") == NULL, "%s", want);
	cr_assert(strstr(want, "bounds 91 160\n") != NULL, "%s", want);
	cr_assert(strstr(want, "stats 1 0 0 0 0/0 0/0 0/0\n") != NULL, "%s",
	        want);
	cr_assert(strstr(want, "stats 4 40 0 10 0/14 0/13 0/13\n") != NULL,
	        "%s", want);
	cr_assert(strstr(want, "stats 3 40 0 7 ") != NULL, "%s", want);

	/*
	 * B: an overlay, checkpointed in chunks of 7 keys halfway, then two
	 * rounds more in the overlay over that base: the same as A, before
	 * the second checkpoint, after it, and reopened.
	 */
	store *b = open_overlay(dir_b, 7);
	write_rounds(b, 0, 2);
	char *before = dump(b);
	struct store_ckpt_stats cs;
	cr_assert_eq(store_checkpoint(b, 1, &cs), CLM_OK);
	cr_assert_gt(cs.keys, 7);
	char *after = dump(b);
	cr_assert_str_eq(after, before);
	write_rounds(b, 2, 4);
	char *got = dump(b);
	cr_assert_str_eq(got, want);
	free(got);
	cr_assert_eq(store_checkpoint(b, 2, &cs), CLM_OK);
	got = dump(b);
	cr_assert_str_eq(got, want);
	free(got);
	store_close(b);
	b = open_overlay(dir_b, 7);
	got = dump(b);
	cr_assert_str_eq(got, want);
	store_close(b);
	free(got);
	free(after);
	free(before);
	free(want);
}
