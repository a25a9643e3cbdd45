/*
 * Unit tests of server/util/arena.c: alignment, allocations across chunks,
 * reset and reuse, string helpers, big allocations and the protobuf-c
 * allocator.
 */
#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "util/arena.h"

Test(arena, init_allocates_nothing_and_fini_resets)
{
	arena a;
	arena_init(&a);
	cr_assert_null(a.head);
	cr_assert_eq(a.total, 0);
	arena_reset(&a); /* on an empty arena */
	cr_assert_null(a.head);
	cr_assert_not_null(arena_alloc(&a, 10));
	cr_assert_not_null(a.head);
	cr_assert_gt(a.total, 0);
	arena_fini(&a);
	cr_assert_null(a.head);
	cr_assert_eq(a.total, 0);
	/* Usable again after fini. */
	cr_assert_not_null(arena_alloc(&a, 10));
	arena_fini(&a);
	arena_fini(&a); /* twice is harmless */
}

Test(arena, alignment_16)
{
	cr_assert_leq(alignof(max_align_t), 16);
	arena a;
	arena_init(&a);
	for (size_t n = 0; n < 300; n++) {
		void *p = arena_alloc(&a, n);
		cr_assert_not_null(p, "size %zu", n);
		cr_assert_eq((uintptr_t) p % 16, 0, "size %zu at %p", n, p);
		void *z = arena_zalloc(&a, n);
		cr_assert_eq((uintptr_t) z % 16, 0, "zalloc size %zu", n);
		char *s = arena_strndup(&a, "abcdefgh", n % 9);
		cr_assert_eq((uintptr_t) s % 16, 0, "strndup");
	}
	/* Across chunk boundaries too: odd sizes until several chunks. */
	size_t start = a.total;
	while (a.total < 8 * start) {
		void *p = arena_alloc(&a, 1000 + (a.total % 7));
		cr_assert_eq((uintptr_t) p % 16, 0);
	}
	arena_fini(&a);
}

Test(arena, zero_size_allocations_are_distinct)
{
	arena a;
	arena_init(&a);
	void *p = arena_alloc(&a, 0);
	void *q = arena_alloc(&a, 0);
	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert_neq(p, q);
	arena_fini(&a);
}

Test(arena, many_allocations_do_not_overlap)
{
	enum { N = 20000 };
	static unsigned char *ptrs[N];
	static size_t sizes[N];
	arena a;
	arena_init(&a);
	uint32_t x = 12345;
	for (size_t i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		sizes[i] = 1 + (x >> 16) % 200;
		ptrs[i] = arena_alloc(&a, sizes[i]);
		cr_assert_not_null(ptrs[i]);
		memset(ptrs[i], (int) (i & 0xff), sizes[i]);
	}
	cr_assert_gt(a.total, 16 * 1024, "needed several chunks");
	for (size_t i = 0; i < N; i++) {
		for (size_t k = 0; k < sizes[i]; k++) {
			cr_assert_eq(ptrs[i][k], (unsigned char) (i & 0xff),
			        "allocation %zu byte %zu overwritten", i, k);
		}
	}
	arena_fini(&a);
}

Test(arena, reset_reuses_memory)
{
	arena a;
	arena_init(&a);
	void *p = arena_alloc(&a, 100);
	size_t total = a.total;
	arena_reset(&a);
	void *q = arena_alloc(&a, 100);
	cr_assert_eq(p, q, "one chunk: reset starts it over");
	cr_assert_eq(a.total, total);

	/* Several chunks: reset keeps one big enough for the same use. */
	arena_reset(&a);
	for (int i = 0; i < 1000; i++) {
		cr_assert_not_null(arena_alloc(&a, 200));
	}
	size_t used_total = a.total;
	cr_assert_gt(used_total, total, "grew past one chunk");
	arena_reset(&a);
	cr_assert_not_null(a.head);
	size_t kept = a.total;
	cr_assert_geq(kept, 1000 * 208, "kept a chunk for the whole use");
	cr_assert_leq(kept, used_total);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1000; i++) {
			cr_assert_not_null(arena_alloc(&a, 200));
		}
		cr_assert_eq(a.total, kept,
		        "round %d: the same use needs no new chunk", round);
		arena_reset(&a);
	}
	arena_fini(&a);
}

Test(arena, used_counts_what_was_handed_out_not_the_chunks)
{
	arena a;
	arena_init(&a);
	cr_assert_eq(arena_used(&a), 0);
	cr_assert_not_null(arena_alloc(&a, 100));
	cr_assert_eq(arena_used(&a), 112, "100 bytes, 16-aligned");
	for (int i = 0; i < 1000; i++) {
		cr_assert_not_null(arena_alloc(&a, 200));
	}
	cr_assert_eq(arena_used(&a), 112 + 1000 * 208);
	cr_assert_gt(a.total, arena_used(&a), "the chunks hold more");
	/* After a reset that kept one big chunk: nothing used in it yet. */
	arena_reset(&a);
	cr_assert_gt(a.total, 200000);
	cr_assert_eq(arena_used(&a), 0);
	cr_assert_not_null(arena_alloc(&a, 1));
	cr_assert_eq(arena_used(&a), 16);
	arena_fini(&a);
}

Test(arena, zalloc_zeroes_reused_memory)
{
	arena a;
	arena_init(&a);
	unsigned char *p = arena_alloc(&a, 4096);
	memset(p, 0xaa, 4096);
	arena_reset(&a);
	unsigned char *z = arena_zalloc(&a, 4096);
	cr_assert_eq((void *) z, (void *) p);
	for (size_t i = 0; i < 4096; i++) {
		cr_assert_eq(z[i], 0, "byte %zu", i);
	}
	arena_fini(&a);
}

Test(arena, strings)
{
	arena a;
	arena_init(&a);
	const char *src = "hello, world";
	char *s = arena_strdup(&a, src);
	cr_assert_str_eq(s, src);
	cr_assert_neq((const void *) s, (const void *) src);
	cr_assert_str_eq(arena_strdup(&a, ""), "");
	cr_assert_str_eq(arena_strndup(&a, src, 5), "hello");
	cr_assert_str_eq(arena_strndup(&a, src, 0), "");
	cr_assert_str_eq(arena_strndup(&a, src, 100), src);
	/* strndup does not read past n: the source needs no NUL. */
	char raw[4] = { 'a', 'b', 'c', 'd' };
	cr_assert_str_eq(arena_strndup(&a, raw, 4), "abcd");

	cr_assert_str_eq(arena_printf(&a, "%d-%s-%c", 42, "x", 'y'), "42-x-y");
	cr_assert_str_eq(arena_printf(&a, "%s", ""), "");
	cr_assert_str_eq(arena_printf(&a, "%zu", (size_t) SIZE_MAX),
	        "18446744073709551615");

	/* A formatted string bigger than a chunk. */
	static char big[100000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *p = arena_printf(&a, "<%s>", big);
	cr_assert_not_null(p);
	cr_assert_eq(strlen(p), sizeof(big) + 1);
	cr_assert_eq(p[0], '<');
	cr_assert_eq(p[sizeof(big)], '>');
	cr_assert_eq(memcmp(p + 1, big, sizeof(big) - 1), 0);
	/* Earlier strings are intact. */
	cr_assert_str_eq(s, src);
	arena_fini(&a);
}

Test(arena, big_allocations)
{
	arena a;
	arena_init(&a);
	char *small = arena_strdup(&a, "before");
	size_t n = 8u << 20; /* 8 MiB, far above a chunk */
	unsigned char *big = arena_alloc(&a, n);
	cr_assert_not_null(big);
	cr_assert_eq((uintptr_t) big % 16, 0);
	memset(big, 0x5a, n);
	cr_assert_geq(a.total, n);
	char *after = arena_strdup(&a, "after");
	cr_assert_str_eq(small, "before");
	cr_assert_str_eq(after, "after");
	cr_assert_eq(big[0], 0x5a);
	cr_assert_eq(big[n - 1], 0x5a);
	/* Reset keeps at most 2 MiB. */
	arena_reset(&a);
	cr_assert_leq(a.total, 2u << 20);
	cr_assert_not_null(arena_alloc(&a, 16));
	/* Impossible sizes fail cleanly. */
	cr_assert_null(arena_alloc(&a, SIZE_MAX));
	cr_assert_null(arena_alloc(&a, SIZE_MAX / 2 + 1));
	cr_assert_null(arena_zalloc(&a, SIZE_MAX));
	cr_assert_not_null(arena_alloc(&a, 16), "still usable");
	arena_fini(&a);
}

Test(arena, protobuf_allocator)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "alice";
	tp.item_id = "sku-1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp.value = 9.5;
	uint8_t buf[256];
	size_t len = clm__v1__touchpoint__pack(&tp, buf);
	cr_assert_lt(len, sizeof(buf));

	arena a;
	arena_init(&a);
	ProtobufCAllocator *pb = arena_pb(&a);
	cr_assert_not_null(pb);
	void *m = pb->alloc(pb->allocator_data, 24);
	cr_assert_not_null(m);
	cr_assert_eq((uintptr_t) m % 16, 0);
	pb->free(pb->allocator_data, m); /* a no-op */
	Clm__V1__Touchpoint *got = clm__v1__touchpoint__unpack(pb, len, buf);
	cr_assert_not_null(got);
	cr_assert_str_eq(got->customer_id, "alice");
	cr_assert_str_eq(got->item_id, "sku-1");
	cr_assert_eq(got->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_eq(got->value, 9.5);
	/* The message lives in the arena: freeing it is a no-op, and it is
	 * still readable until reset. */
	clm__v1__touchpoint__free_unpacked(got, pb);
	cr_assert_str_eq(got->customer_id, "alice");
	/* Malformed input: NULL, and nothing breaks. */
	uint8_t junk[] = { 0xff, 0xff, 0xff };
	cr_assert_null(clm__v1__touchpoint__unpack(pb, sizeof(junk), junk));
	arena_fini(&a);
}

Test(arena, budget_refuses_past_it_and_marks_the_arena)
{
	arena a;
	arena_init(&a);
	arena_budget(&a, 1000);
	cr_assert_not(arena_over_budget(&a));
	cr_assert_not_null(arena_alloc(&a, 500)); /* 512 with alignment */
	cr_assert_not_null(arena_alloc(&a, 480)); /* 480: 992 in all */
	cr_assert_not(arena_over_budget(&a));
	cr_assert_null(arena_alloc(&a, 9)); /* 16 more: past 1000 */
	cr_assert(arena_over_budget(&a));
	cr_assert_null(arena_alloc(&a, 8)); /* 16 with alignment, too */
	cr_assert_null(arena_alloc(&a, 0)); /* 16 as well */
	arena_fini(&a);
}

Test(arena, budget_lifted_by_zero_and_by_reset)
{
	arena a;
	arena_init(&a);
	arena_budget(&a, 64);
	cr_assert_null(arena_alloc(&a, 100));
	cr_assert(arena_over_budget(&a));
	arena_budget(&a, 0);
	cr_assert_not(arena_over_budget(&a));
	cr_assert_not_null(arena_alloc(&a, 100));
	arena_budget(&a, 64);
	cr_assert_null(arena_alloc(&a, 100));
	arena_reset(&a);
	cr_assert_not(arena_over_budget(&a));
	cr_assert_not_null(arena_alloc(&a, 1 << 20));
	arena_fini(&a);
}

/*
 * What a budget bounds is the memory the arena holds, not only what it
 * hands out: chunks are cut to the budget's remainder, so filling a 1 MiB
 * budget with small allocations leaves the arena holding about 1 MiB.
 */
Test(arena, budget_bounds_the_chunks)
{
	arena a;
	arena_init(&a);
	cr_assert_not_null(arena_alloc(&a, 100)); /* a first 16 KiB chunk */
	size_t before = a.total;
	size_t budget = 1u << 20;
	arena_budget(&a, budget);
	size_t n = 0;
	while (arena_alloc(&a, 200) != NULL) {
		n++;
	}
	cr_assert(arena_over_budget(&a));
	cr_assert_eq(n, budget / 208);
	cr_assert_leq(a.total, before + budget, "holds %zu", a.total);
	/* protobuf-c sees the refusal as an allocation failure. */
	arena_reset(&a);
	arena_budget(&a, 64);
	Clm__V1__GetCustomerRequest g = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	g.customer_id = "someone-with-a-long-enough-id-to-go-past-64-bytes";
	Clm__V1__Request r = CLM__V1__REQUEST__INIT;
	r.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	r.get_customer = &g;
	uint8_t buf[256];
	size_t len = clm__v1__request__pack(&r, buf);
	cr_assert_null(clm__v1__request__unpack(arena_pb(&a), len, buf));
	cr_assert(arena_over_budget(&a));
	arena_budget(&a, 4096);
	cr_assert_not_null(clm__v1__request__unpack(arena_pb(&a), len, buf));
	cr_assert_not(arena_over_budget(&a));
	arena_fini(&a);
}
