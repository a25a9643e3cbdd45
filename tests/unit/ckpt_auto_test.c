/*
 * checkpoint_bytes = auto (write/writer.h): the size for a view, and how
 * the writer follows the view as it grows, with the overlay's map grown
 * through a reserve that works or fails as each test says.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "write/writer.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define SEC 1000000000LL
#define T0  (1000 * SEC) /* a monotonic instant */

Test(ckpt_auto, a_quarter_of_the_view_in_steps)
{
	static const struct {
		uint64_t view, want;
	} cases[] = {
		{ 0, 64 * MIB },
		{ 100 * MIB, 64 * MIB },
		{ 383 * MIB, 64 * MIB },
		{ 384 * MIB, 128 * MIB },
		{ 576 * MIB, 192 * MIB },
		{ 800 * MIB, 256 * MIB },
		{ 1 * GIB, 320 * MIB },
		{ 1536 * MIB - 1, 448 * MIB },
		{ 1536 * MIB, 512 * MIB },
		{ 64 * GIB, 512 * MIB },
		{ UINT64_MAX, 512 * MIB },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(writer_ckpt_auto_bytes(cases[i].view),
		        cases[i].want, "view %llu: %llu, want %llu",
		        (unsigned long long) cases[i].view,
		        (unsigned long long) writer_ckpt_auto_bytes(
		                cases[i].view),
		        (unsigned long long) cases[i].want);
	}
	/* Never shrinks as the view grows, always whole steps. */
	uint64_t last = 0;
	for (uint64_t v = 0; v <= 3 * GIB; v += 7 * MIB + 4096) {
		uint64_t b = writer_ckpt_auto_bytes(v);
		cr_assert_geq(b, last, "view %llu", (unsigned long long) v);
		cr_assert_eq(b % WRITER_CKPT_AUTO_STEP, 0);
		cr_assert(b == WRITER_CKPT_AUTO_MIN || b <= v / 3,
		        "view %llu: %llu", (unsigned long long) v,
		        (unsigned long long) b);
		last = b;
	}
}

/* A reserve that records what it was asked and answers rc. */
struct fake_reserve {
	int calls;
	uint64_t asked;
	int rc;
};

static int
fake_reserve(void *arg, uint64_t map_bytes)
{
	struct fake_reserve *f = arg;
	f->calls++;
	f->asked = map_bytes;
	return f->rc;
}

Test(ckpt_auto, the_size_at_start_needs_no_reserve)
{
	/* As writer_start sets it: the size main.c opened the maps for. */
	struct writer_ckpt_auto z = { .bytes = 64 * MIB };
	struct fake_reserve f = { 0 };
	cr_assert_eq(
	        writer_ckpt_auto_size(&z, 300 * MIB,
	                WRITER_OVERLAY_MAP(64 * MIB), T0, fake_reserve, &f),
	        64 * MIB);
	/*
	 * A map smaller than the size (an overlay opened by hand, as unit
	 * tests do) is left as it was: it fills, and the writer checkpoints.
	 */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 300 * MIB, 16 * MIB, T0, fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 0);
	cr_assert_not(z.grown);
	/* No size yet: the first view gives it, as at start. */
	struct writer_ckpt_auto z0 = { 0 };
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z0, 1 * GIB, 16 * MIB, T0, fake_reserve, &f),
	        320 * MIB);
	cr_assert_eq(f.calls, 0);
}

Test(ckpt_auto, a_grown_view_grows_each_overlay_in_turn)
{
	struct writer_ckpt_auto z = { .bytes = 64 * MIB };
	struct fake_reserve f = { 0 };
	uint64_t small = WRITER_OVERLAY_MAP(64 * MIB);
	uint64_t need = WRITER_OVERLAY_MAP(192 * MIB);
	/* The active overlay: grown, the new size in force. */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 600 * MIB, small, T0, fake_reserve, &f),
	        192 * MIB);
	cr_assert_eq(f.calls, 1);
	cr_assert_eq(f.asked, need);
	cr_assert(z.grown);
	/* Now it holds it: nothing more to do. */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 600 * MIB, need, T0, fake_reserve, &f),
	        192 * MIB);
	cr_assert_eq(f.calls, 1);
	/* A smaller view (never, in fact) keeps the size. */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 100 * MIB, need, T0, fake_reserve, &f),
	        192 * MIB);
	/* The other overlay takes the writes: grown in its turn. */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 600 * MIB, small, T0, fake_reserve, &f),
	        192 * MIB);
	cr_assert_eq(f.calls, 2);
	cr_assert_eq(f.asked, need);
}

Test(ckpt_auto, a_map_that_cannot_grow_bounds_the_size)
{
	struct writer_ckpt_auto z = { .bytes = 64 * MIB };
	struct fake_reserve f = { .rc = ENOSPC };
	uint64_t small = WRITER_OVERLAY_MAP(64 * MIB);
	/* What the map holds: the old size, and a warning. */
	cr_assert_eq(writer_ckpt_auto_size(
	                     &z, 800 * MIB, small, T0, fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 1);
	/* Not at every batch: again a minute later, for the disk freed. */
	cr_assert_eq(writer_ckpt_auto_size(&z, 800 * MIB, small, T0 + 59 * SEC,
	                     fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 1);
	cr_assert_eq(writer_ckpt_auto_size(&z, 800 * MIB, small, T0 + 60 * SEC,
	                     fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 2);
	f.rc = 0;
	cr_assert_eq(writer_ckpt_auto_size(&z, 800 * MIB, small,
	                     T0 + 120 * SEC, fake_reserve, &f),
	        256 * MIB);
	cr_assert_eq(f.calls, 3);
	cr_assert_eq(f.asked, WRITER_OVERLAY_MAP(256 * MIB));
	/* A larger size is tried at once, whenever the last failure was. */
	f.rc = ENOSPC;
	cr_assert_eq(writer_ckpt_auto_size(&z, 1 * GIB, small, T0 + 121 * SEC,
	                     fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 4);
	f.rc = 0;
	cr_assert_eq(writer_ckpt_auto_size(&z, 1 * GIB, small, T0 + 121 * SEC,
	                     fake_reserve, &f),
	        64 * MIB);
	cr_assert_eq(f.calls, 4, "not within the minute");
	cr_assert_eq(writer_ckpt_auto_size(&z, 1 * GIB, small, T0 + 181 * SEC,
	                     fake_reserve, &f),
	        320 * MIB);
	cr_assert_eq(f.calls, 5);
	cr_assert_eq(f.asked, WRITER_OVERLAY_MAP(320 * MIB));
	/* A map between the two holds what it can. */
	f.rc = EFBIG;
	uint64_t mid = WRITER_OVERLAY_MAP(100 * MIB);
	struct writer_ckpt_auto z2 = { .bytes = 64 * MIB };
	cr_assert_eq(
	        writer_ckpt_auto_size(&z2, 1 * GIB, mid, T0, fake_reserve, &f),
	        100 * MIB);
}

/*
 * checkpoint_interval = auto (interval 0): due once the writes took the
 * writer WRITER_CKPT_REPLAY_S to apply, or WRITER_CKPT_MAX_S after the
 * first of them, or WRITER_CKPT_FORGET_S after it with a Forget waiting;
 * a fixed interval is the wall clock alone, as before.
 */
Test(ckpt_auto, the_interval_follows_the_replay)
{
	static const struct {
		int64_t interval, elapsed, apply;
		bool forget;
		int64_t left; /* writer_ckpt_interval_left; <= 0: due */
	} cases[] = {
		/* A fixed 10 s: the apply time does not count. */
		{ 10 * SEC, 9 * SEC, 9 * SEC, false, 1 * SEC },
		{ 10 * SEC, 10 * SEC, 0, false, 0 },
		{ 10 * SEC, 12 * SEC, 0, false, -2 * SEC },
		{ 10 * SEC, 1 * SEC, 60 * SEC, false, 9 * SEC },
		/* Full load: the apply reaches 10 s about when the clock does
		 * (idle before it: the 300 s are what is left). */
		{ 0, 11 * SEC, 10 * SEC - 1, false, 289 * SEC },
		{ 0, 11 * SEC, 10 * SEC, false, 0 },
		/* A tenth of it: two minutes pass, not due yet. */
		{ 0, 120 * SEC, 1 * SEC, false, 180 * SEC },
		/* At most five minutes after the first write. */
		{ 0, 300 * SEC - 1, 1, false, 1 },
		{ 0, 300 * SEC, 1, false, 0 },
		/* A Forget waiting: ten seconds, as before. */
		{ 0, 9 * SEC, 0, true, 1 * SEC },
		{ 0, 10 * SEC, 0, true, 0 },
		{ 0, 2 * SEC, 10 * SEC, true, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t left = writer_ckpt_interval_left(cases[i].interval,
		        cases[i].elapsed, cases[i].apply, cases[i].forget);
		cr_expect_eq(left, cases[i].left, "case %zu: left %lld", i,
		        (long long) left);
	}
}
