/*
 * Unit tests of the cart's memory in the lifecycle model
 * (server/core/model.c): when MODEL_CART_MAX entries are held, a new item
 * makes room by forgetting an entry no longer in the cart before one still
 * in it, so an order of many items cannot push out an item the customer
 * still has in the cart, whatever order the touchpoints arrive in.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"

#define T0 1700000000000LL /* a base event time (2023-11-14) */

/* Items of the order and of the removals that fill the cart. */
#define ORDER_ITEMS 16
#define FILLERS     (MODEL_CART_MAX - 1)
#define N_TOUCHES   (1 + FILLERS + 1)

/* Item ids that outlive the touchpoints borrowing them. */
struct ids {
	char order[ORDER_ITEMS][16];
	char *order_ptrs[ORDER_ITEMS];
	char filler[FILLERS][16];
};

static void
model_cart_test_ids_init(struct ids *d)
{
	for (int i = 0; i < ORDER_ITEMS; i++) {
		snprintf(d->order[i], sizeof(d->order[i]), "o%02d", i);
		d->order_ptrs[i] = d->order[i];
	}
	for (int i = 0; i < FILLERS; i++) {
		snprintf(d->filler[i], sizeof(d->filler[i]), "r%02d", i);
	}
}

static struct model_touch
model_cart_test_touch(int type, int64_t at, const char *item)
{
	struct model_touch t = {
		.type = type,
		.at_ms = T0 + at,
		.item_id = item,
	};
	return t;
}

/*
 * The journey: ADD_TO_CART "tv" at 10; REMOVE_FROM_CART of FILLERS other
 * items at 20, 21, …; a PURCHASE at 100 of "basket" and ORDER_ITEMS
 * order_items. 1 + FILLERS + 17 distinct items: more than the cart holds.
 */
static size_t
model_cart_test_journey(struct ids *d, struct model_touch *out)
{
	size_t n = 0;
	out[n++] = model_cart_test_touch(MODEL_T_ADD_TO_CART, 10, "tv");
	for (int i = 0; i < FILLERS; i++) {
		out[n++] = model_cart_test_touch(
		        MODEL_T_REMOVE_FROM_CART, 20 + i, d->filler[i]);
	}
	struct model_touch buy
	        = model_cart_test_touch(MODEL_T_PURCHASE, 100, "basket");
	buy.order_items = d->order_ptrs;
	buy.n_order_items = ORDER_ITEMS;
	out[n++] = buy;
	return n;
}

/* Applies touches[order[i]] in turn, with increasing arrival seq. */
static void
model_cart_test_apply(struct model_profile *p, const struct model_touch *t,
        const size_t *order, size_t n)
{
	model_profile_init(p);
	for (size_t i = 0; i < n; i++) {
		struct model_touch x = t[order[i]];
		x.seq = i + 1;
		struct model_rescan r;
		model_apply(p, &x, &r);
	}
}

static void
model_cart_test_assert_tv(const struct model_profile *p, const char *what)
{
	size_t idx[MODEL_CART_MAX];
	size_t n = model_cart(p, idx);
	cr_assert_eq(n, 1, "%s: %zu items in the cart, want 1", what, n);
	cr_assert_str_eq(p->cart[idx[0]].item_id, "tv", "%s", what);
	cr_assert_eq(p->n_cart, MODEL_CART_MAX, "%s", what);
}

Test(model_cart_evict, order_keeps_a_live_item)
{
	struct ids d;
	model_cart_test_ids_init(&d);
	struct model_touch t[N_TOUCHES];
	size_t n = model_cart_test_journey(&d, t);
	size_t order[N_TOUCHES];
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
	}
	struct model_profile p;
	model_cart_test_apply(&p, t, order, n);
	model_cart_test_assert_tv(&p, "in arrival order");
	cr_assert_eq(p.purchases, 1);
}

/*
 * The same touchpoints in reverse and in interleaved arrival orders hold
 * the same cart. Before the fix, "tv" (the oldest last event) was forgotten
 * when it arrived first and kept when it arrived last.
 */
Test(model_cart_evict, arrival_order_does_not_matter)
{
	struct ids d;
	model_cart_test_ids_init(&d);
	struct model_touch t[N_TOUCHES];
	size_t n = model_cart_test_journey(&d, t);
	size_t fwd[N_TOUCHES], rev[N_TOUCHES], mix[N_TOUCHES];
	for (size_t i = 0; i < n; i++) {
		fwd[i] = i;
		rev[i] = n - 1 - i;
		/* Odd positions first, then even ones. */
		mix[i] = i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2);
	}
	const size_t *orders[] = { fwd, rev, mix };
	const char *names[] = { "forward", "reversed", "interleaved" };
	for (size_t k = 0; k < 3; k++) {
		struct model_profile p;
		model_cart_test_apply(&p, t, orders[k], n);
		model_cart_test_assert_tv(&p, names[k]);
	}
}

/* Removals alone: "tv" added first survives 64 later removals. */
Test(model_cart_evict, removals_do_not_push_out_a_live_item)
{
	static char ids[MODEL_CART_MAX][8];
	struct model_profile p;
	model_profile_init(&p);
	struct model_touch add
	        = model_cart_test_touch(MODEL_T_ADD_TO_CART, 10, "tv");
	struct model_rescan r;
	model_apply(&p, &add, &r);
	for (int i = 0; i < MODEL_CART_MAX; i++) {
		snprintf(ids[i], sizeof(ids[i]), "x%02d", i);
		struct model_touch rm = model_cart_test_touch(
		        MODEL_T_REMOVE_FROM_CART, 20 + i, ids[i]);
		rm.seq = (uint64_t) i + 2;
		model_apply(&p, &rm, &r);
	}
	model_cart_test_assert_tv(&p, "after 64 removals");
}

/* A cleared cart: entries added before the clear are not in it. */
Test(model_cart_evict, cleared_entries_go_first)
{
	static char ids[MODEL_CART_MAX + 1][8];
	struct model_profile p;
	model_profile_init(&p);
	struct model_rescan r;
	/* 63 items added at 1..63, then cleared at 500 (an itemless buy). */
	for (int i = 0; i < MODEL_CART_MAX - 1; i++) {
		snprintf(ids[i], sizeof(ids[i]), "a%02d", i);
		struct model_touch t = model_cart_test_touch(
		        MODEL_T_ADD_TO_CART, 1 + i, ids[i]);
		model_apply(&p, &t, &r);
	}
	struct model_touch clear
	        = model_cart_test_touch(MODEL_T_PURCHASE, 500, "");
	model_apply(&p, &clear, &r);
	/* "tv" at 600 fills the cart; two more items at 700 and 701. */
	struct model_touch tv
	        = model_cart_test_touch(MODEL_T_ADD_TO_CART, 600, "tv");
	model_apply(&p, &tv, &r);
	struct model_touch b
	        = model_cart_test_touch(MODEL_T_ADD_TO_CART, 700, "b");
	model_apply(&p, &b, &r);
	struct model_touch c
	        = model_cart_test_touch(MODEL_T_ADD_TO_CART, 701, "c");
	model_apply(&p, &c, &r);
	size_t idx[MODEL_CART_MAX];
	size_t n = model_cart(&p, idx);
	cr_assert_eq(n, 3, "%zu items in the cart", n);
	cr_assert_str_eq(p.cart[idx[0]].item_id, "c");
	cr_assert_str_eq(p.cart[idx[1]].item_id, "b");
	cr_assert_str_eq(p.cart[idx[2]].item_id, "tv");
}

/*
 * An id longer than MODEL_ITEM_MAX is kept by its first MODEL_ITEM_MAX
 * bytes, and a later event for the same id finds that entry.
 */
Test(model_cart_evict, long_item_id_is_matched_by_its_prefix)
{
	static char item[MODEL_ITEM_MAX + 40];
	memset(item, 'y', sizeof(item) - 1);
	item[sizeof(item) - 1] = '\0';
	struct model_profile p;
	model_profile_init(&p);
	struct model_rescan r;
	struct model_touch add
	        = model_cart_test_touch(MODEL_T_ADD_TO_CART, 10, item);
	model_apply(&p, &add, &r);
	struct model_touch rm
	        = model_cart_test_touch(MODEL_T_REMOVE_FROM_CART, 20, item);
	model_apply(&p, &rm, &r);
	size_t idx[MODEL_CART_MAX];
	cr_assert_eq(model_cart(&p, idx), 0, "the long item left the cart");
	cr_assert_eq(p.n_cart, 1, "one entry for the long item");
	cr_assert_eq(strlen(p.cart[0].item_id), MODEL_ITEM_MAX);
}
