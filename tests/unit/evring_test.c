/*
 * The retained events of the HTTP stream (net/evring.h): the ring wraps
 * at its event count and at its bytes, a resume replays exactly the
 * events after its seq (filtered by prefix), and a resume from before
 * the oldest retained event is told which seqs are lost.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net/evring.h"

/* What a listener received: the seqs, in order, and a gap's. */
struct got {
	uint64_t seqs[64];
	size_t n;
	uint64_t from, to;
};

static void
got_fn(void *arg, const struct evring_entry *e)
{
	struct got *g = arg;
	if (e->text == NULL) {
		cr_expect_eq(g->n, 0, "the gap comes first");
		cr_expect_eq(g->from, 0, "one gap");
		g->from = e->lost_from;
		g->to = e->lost_to;
		return;
	}
	char want[32];
	snprintf(want, sizeof(want), "ev%llu", (unsigned long long) e->seq);
	cr_expect_eq(e->len, strlen(want));
	cr_expect(memcmp(e->text, want, e->len) == 0);
	if (g->n < 64) {
		g->seqs[g->n++] = e->seq;
	}
}

/* Appends seq with topic and the text "evSEQ". */
static void
put(evring *r, uint64_t seq, const char *topic)
{
	char text[32];
	int n = snprintf(
	        text, sizeof(text), "ev%llu", (unsigned long long) seq);
	evring_append(r, seq, topic, text, (size_t) n);
}

/* Resumes from after, returns what was replayed; the gap in *from, *to. */
static struct got
resume(evring *r, uint64_t after, const char *prefix, uint64_t *from,
        uint64_t *to)
{
	struct got g = { .n = 0 };
	struct evring_listener l;
	evring_listen(r, &l, after, prefix, got_fn, &g);
	evring_unlisten(r, &l);
	*from = g.from;
	*to = g.to;
	return g;
}

Test(evring, wraps_at_its_event_count)
{
	evring *r;
	cr_assert_eq(evring_open(4, 1 << 20, 1, &r), CLM_OK);
	for (uint64_t s = 1; s <= 10; s++) {
		put(r, s, "stage/RETENTION");
	}
	size_t n, bytes;
	uint64_t oldest;
	evring_stats(r, &n, &bytes, &oldest);
	cr_expect_eq(n, 4);
	cr_expect_eq(oldest, 7);
	cr_expect_eq(bytes, 4 * (strlen("stage/RETENTION") + 3) + 1);
	uint64_t from, to;
	struct got g = resume(r, 8, "", &from, &to);
	cr_expect_eq(g.n, 2);
	cr_expect_eq(g.seqs[0], 9);
	cr_expect_eq(g.seqs[1], 10);
	cr_expect_eq(from, 0);
	cr_expect_eq(to, 0);
	/* Exactly at the oldest: no gap, all four. */
	g = resume(r, 6, "", &from, &to);
	cr_expect_eq(g.n, 4);
	cr_expect_eq(from, 0);
	evring_close(r);
}

Test(evring, wraps_at_its_bytes)
{
	evring *r;
	/* Each event takes strlen("t") + strlen("evN") = 4 bytes (N < 10). */
	cr_assert_eq(evring_open(100, 12, 1, &r), CLM_OK);
	for (uint64_t s = 1; s <= 9; s++) {
		put(r, s, "t");
	}
	size_t n, bytes;
	uint64_t oldest;
	evring_stats(r, &n, &bytes, &oldest);
	cr_expect_eq(n, 3);
	cr_expect_eq(bytes, 12);
	cr_expect_eq(oldest, 7);
	/* One larger than every bound by itself: kept nowhere, a gap. */
	char big[64];
	memset(big, 'x', sizeof(big));
	evring_append(r, 10, "t", big, sizeof(big));
	evring_stats(r, &n, &bytes, &oldest);
	cr_expect_eq(n, 0);
	cr_expect_eq(bytes, 0);
	put(r, 11, "t");
	uint64_t from, to;
	struct got g = resume(r, 8, "", &from, &to);
	cr_expect_eq(from, 9);
	cr_expect_eq(to, 10);
	cr_expect_eq(g.n, 1);
	cr_expect_eq(g.seqs[0], 11);
	evring_close(r);
}

Test(evring, a_resume_from_before_the_oldest_is_a_gap)
{
	evring *r;
	/* clmd started with seq 100 next: 1 to 99 were never retained. */
	cr_assert_eq(evring_open(8, 1 << 20, 100, &r), CLM_OK);
	uint64_t from, to;
	struct got g = resume(r, 42, "", &from, &to);
	cr_expect_eq(g.n, 0);
	cr_expect_eq(from, 43);
	cr_expect_eq(to, 99);
	for (uint64_t s = 100; s <= 120; s++) {
		put(r, s, "stage/NURTURE");
	}
	g = resume(r, 42, "", &from, &to);
	cr_expect_eq(from, 43);
	cr_expect_eq(to, 112);
	cr_expect_eq(g.n, 8);
	cr_expect_eq(g.seqs[0], 113);
	cr_expect_eq(g.seqs[7], 120);
	/* From the newest, or later: nothing, and no gap. */
	g = resume(r, 120, "", &from, &to);
	cr_expect_eq(g.n + from + to, 0);
	g = resume(r, 500, "", &from, &to);
	cr_expect_eq(g.n + from + to, 0);
	/* "From now on": no replay even from 0. */
	g = resume(r, UINT64_MAX, "", &from, &to);
	cr_expect_eq(g.n + from + to, 0);
	evring_close(r);
}

Test(evring, set_next_moves_an_empty_rings_start_only)
{
	evring *r;
	/* Opened at 3; a journal replay then took 3 to 5 unpublished. */
	cr_assert_eq(evring_open(8, 1 << 20, 3, &r), CLM_OK);
	evring_set_next(r, 6);
	uint64_t from, to;
	struct got g = resume(r, 2, "", &from, &to);
	cr_expect_eq(g.n, 0);
	cr_expect_eq(from, 3);
	cr_expect_eq(to, 5);
	/* Never backwards. */
	evring_set_next(r, 4);
	g = resume(r, 2, "", &from, &to);
	cr_expect_eq(to, 5);
	/* A ring holding events keeps them all. */
	put(r, 6, "stage/REACH");
	evring_set_next(r, 9);
	g = resume(r, 5, "", &from, &to);
	cr_expect_eq(from + to, 0);
	cr_expect_eq(g.n, 1);
	cr_expect_eq(g.seqs[0], 6);
	evring_close(r);
}

Test(evring, listeners_get_new_events_by_prefix_once)
{
	evring *r;
	cr_assert_eq(evring_open(16, 1 << 20, 1, &r), CLM_OK);
	put(r, 1, "stage/RETENTION");
	put(r, 2, "risk/RECENT_REFUND");
	put(r, 3, "stage/AT_RISK");
	struct got stage = { .n = 0 }, all = { .n = 0 };
	struct evring_listener ls, la;
	evring_listen(r, &ls, 0, "stage/", got_fn, &stage);
	evring_listen(r, &la, 2, "", got_fn, &all);
	put(r, 4, "risk/NEGATIVE_SENTIMENT");
	put(r, 5, "stage/CHURNED");
	evring_unlisten(r, &ls);
	put(r, 6, "stage/RETENTION");
	evring_unlisten(r, &la);
	put(r, 7, "stage/RETENTION");
	cr_expect_eq(stage.n, 3);
	cr_expect_eq(stage.seqs[0], 1);
	cr_expect_eq(stage.seqs[1], 3);
	cr_expect_eq(stage.seqs[2], 5);
	cr_expect_eq(all.n, 4);
	for (size_t i = 0; i < all.n; i++) {
		cr_expect_eq(all.seqs[i], 3 + i);
	}
	evring_close(r);
}
