/*
 * Recommend against a real clmd (docs/api.md "Recommend"): cross-sell compared
 * with a brute force over a random purchase history, and request validation.
 * catalog_test.c covers PutCatalog, claims_test.c claims and `clm recommend`;
 * the helpers they share are in offers.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "offers.h"

HARNESS_SUITE(offers, 60);

/* ---------------------------------------------------------------------- */
/* Cross-sell against a brute force.                                      */

#define CS_ITEMS     25
#define CS_CUSTOMERS 60
#define CS_SOLO      CS_ITEMS       /* an item only the loner buys */
#define CS_LONER     CS_CUSTOMERS   /* buys only the solo item */
#define CS_NEWBIE    (CS_LONER + 1) /* bought nothing */
#define CS_N_ITEMS   (CS_ITEMS + 1)
#define CS_N_CUST    (CS_NEWBIE + 1)

/* xorshift64*: a fixed seed gives the same history on every run. */
struct rng {
	uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ULL;
}

static size_t
rng_below(struct rng *r, size_t n)
{
	return (size_t) ((rng_next(r) >> 11) % n);
}

/* Who bought what, as the test recorded it. */
struct history {
	char item[CS_N_ITEMS][16];
	char cust[CS_N_CUST][16];
	bool bought[CS_N_CUST][CS_N_ITEMS];
	unsigned pop[CS_N_ITEMS];
	unsigned co[CS_N_ITEMS][CS_N_ITEMS];
};

struct purchase {
	size_t cust, item;
};

/*
 * Makes the random history and tracks it: every customer buys 1-8 times,
 * items skewed towards low numbers so popularity varies, with repeats; all
 * purchases go out shuffled across customers, in batches, with event times
 * in random order over the last three weeks.
 */
static void
history_make(clm_conn *c, struct history *h)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < CS_ITEMS; i++) {
		snprintf(h->item[i], sizeof(h->item[i]), "it%02zu", i);
	}
	snprintf(h->item[CS_SOLO], sizeof(h->item[CS_SOLO]), "solo-item");
	for (size_t k = 0; k < CS_CUSTOMERS; k++) {
		snprintf(h->cust[k], sizeof(h->cust[k]), "cust%02zu", k);
	}
	snprintf(h->cust[CS_LONER], sizeof(h->cust[0]), "loner");
	snprintf(h->cust[CS_NEWBIE], sizeof(h->cust[0]), "newbie");

	struct rng r = { 0x9e3779b97f4a7c15ULL };
	struct purchase *list = calloc(CS_CUSTOMERS * 8 + 2, sizeof(*list));
	cr_assert_not_null(list);
	size_t n = 0;
	for (size_t k = 0; k < CS_CUSTOMERS; k++) {
		size_t m = 1 + rng_below(&r, 8);
		for (size_t j = 0; j < m; j++) {
			size_t a = rng_below(&r, CS_ITEMS);
			size_t b = rng_below(&r, CS_ITEMS);
			list[n++] = (struct purchase) { k, a < b ? a : b };
		}
	}
	list[n++] = (struct purchase) { CS_LONER, CS_SOLO };
	list[n++] = (struct purchase) { CS_LONER, CS_SOLO };
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(&r, i + 1);
		struct purchase tmp = list[i];
		list[i] = list[j];
		list[j] = tmp;
	}

	struct tps *t = calloc(1, sizeof(*t));
	cr_assert_not_null(t);
	int64_t base = wall_ms() - DAY_MS;
	for (size_t i = 0; i < n; i++) {
		const struct purchase *p = &list[i];
		h->bought[p->cust][p->item] = true;
		int64_t at = base - (int64_t) rng_below(&r, 20 * 24) * HOUR_MS;
		tps_add(t, h->cust[p->cust],
		        CLM__V1__TOUCHPOINT_TYPE__PURCHASE, at,
		        h->item[p->item]);
		if (t->n == 100) {
			tps_send(c, t);
		}
	}
	tps_add(t, h->cust[CS_NEWBIE], CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
	        base, NULL);
	tps_send(c, t);
	free(t);
	free(list);

	for (size_t k = 0; k < CS_N_CUST; k++) {
		for (size_t x = 0; x < CS_N_ITEMS; x++) {
			if (!h->bought[k][x]) {
				continue;
			}
			h->pop[x]++;
			for (size_t y = 0; y < CS_N_ITEMS; y++) {
				h->co[x][y] += y != x && h->bought[k][y];
			}
		}
	}
}

/* One expected cross-sell recommendation. */
struct expect {
	size_t item;
	double sim;   /* cosine, or popularity share */
	double score; /* 0.6 * sim, or 0.2 * share */
};

struct expect_list {
	struct expect v[CS_N_ITEMS];
	size_t n;
	bool popular;
	const struct history *h;
};

static int
expect_cmp(const void *a, const void *b, const struct history *h)
{
	const struct expect *x = a, *y = b;
	if (x->score != y->score) {
		return x->score > y->score ? -1 : 1;
	}
	return strcmp(h->item[x->item], h->item[y->item]);
}

/* Insertion sort by score, then item id (qsort has no context). */
static void
expect_sort(struct expect_list *l)
{
	for (size_t i = 1; i < l->n; i++) {
		struct expect tmp = l->v[i];
		size_t j = i;
		while (j > 0 && expect_cmp(&tmp, &l->v[j - 1], l->h) < 0) {
			l->v[j] = l->v[j - 1];
			j--;
		}
		l->v[j] = tmp;
	}
}

/*
 * The brute force: the basis is what customer k bought plus the cart;
 * every other item Y gets sim(Y) = max over basis items X of
 * co(X, Y) / sqrt(pop(X) pop(Y)), kept when some co(X, Y) > 0. When none
 * is kept: the most popular items outside the basis, share = pop / the
 * first one's pop. At most limit.
 */
static void
expect_cross_sell(const struct history *h, size_t k, const size_t *cart,
        size_t n_cart, size_t limit, struct expect_list *l)
{
	bool basis[CS_N_ITEMS] = { false };
	for (size_t x = 0; x < CS_N_ITEMS; x++) {
		basis[x] = h->bought[k][x];
	}
	for (size_t i = 0; i < n_cart; i++) {
		basis[cart[i]] = true;
	}
	memset(l, 0, sizeof(*l));
	l->h = h;
	for (size_t y = 0; y < CS_N_ITEMS; y++) {
		if (basis[y]) {
			continue;
		}
		double best = 0;
		bool any = false;
		for (size_t x = 0; x < CS_N_ITEMS; x++) {
			if (!basis[x] || h->co[x][y] == 0) {
				continue;
			}
			double sim = (double) h->co[x][y]
			        / sqrt((double) h->pop[x]
			                * (double) h->pop[y]);
			if (!any || sim > best) {
				best = sim;
			}
			any = true;
		}
		if (any) {
			l->v[l->n++] = (struct expect) { y, best, 0.6 * best };
		}
	}
	if (l->n == 0) {
		l->popular = true;
		unsigned top = 0;
		for (size_t y = 0; y < CS_N_ITEMS; y++) {
			if (!basis[y] && h->pop[y] > top) {
				top = h->pop[y];
			}
		}
		for (size_t y = 0; y < CS_N_ITEMS; y++) {
			if (basis[y] || h->pop[y] == 0) {
				continue;
			}
			double share = (double) h->pop[y] / (double) top;
			l->v[l->n++]
			        = (struct expect) { y, share, 0.2 * share };
		}
	}
	expect_sort(l);
	if (l->n > limit) {
		l->n = limit;
	}
}

/* Compares the CROSS_SELL recommendations for customer k with l. */
static void
check_cross_sell(clm_conn *c, const struct history *h, size_t k,
        const size_t *cart, size_t n_cart, uint32_t limit)
{
	struct expect_list l;
	expect_cross_sell(h, k, cart, n_cart, limit, &l);
	char *cart_ids[CS_N_ITEMS];
	for (size_t i = 0; i < n_cart; i++) {
		cart_ids[i] = (char *) h->item[cart[i]];
	}
	struct ask a = { .customer = h->cust[k],
		.limit = limit,
		.include_suppressed = true,
		.cart = cart_ids,
		.n_cart = n_cart };
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	size_t got = 0;
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		if (o->kind != CLM__V1__RECOMMENDATION_KIND__CROSS_SELL) {
			continue;
		}
		cr_assert_lt(got, l.n,
		        "%s: more cross-sell than the %zu expected",
		        h->cust[k], l.n);
		const struct expect *x = &l.v[got];
		cr_expect_str_eq(o->item_id, h->item[x->item],
		        "%s: cross-sell[%zu] is '%s', want '%s' (sim %.6f)",
		        h->cust[k], got, o->item_id, h->item[x->item], x->sim);
		cr_expect(fabs(o->score - x->score) <= 1e-12,
		        "%s: cross-sell[%zu] '%s' score %.17g, want %.17g",
		        h->cust[k], got, o->item_id, o->score, x->score);
		cr_expect_str_eq(o->action,
		        l.popular ? "popular_item"
		                  : "frequently_bought_together",
		        "%s: cross-sell[%zu]", h->cust[k], got);
		for (size_t j = 0; j < n_cart; j++) {
			cr_expect_str_neq(o->item_id, cart_ids[j],
			        "%s: offered the cart item", h->cust[k]);
		}
		cr_expect_not(h->bought[k][x->item],
		        "%s: offered a bought item", h->cust[k]);
		got++;
	}
	if (limit >= CS_N_ITEMS + 10) {
		cr_expect_eq(got, l.n, "%s: %zu cross-sell, want %zu",
		        h->cust[k], got, l.n);
	} else {
		/* Other kinds may take some of the places: a prefix. */
		cr_expect_eq(r->n_recommendations, limit, "%s: %zu of %u",
		        h->cust[k], r->n_recommendations, limit);
	}
	clm_response_free(resp);
}

/* A customer who bought nothing of the items in cart. */
static size_t
pick_cart(const struct history *h, size_t k, size_t *cart, size_t want)
{
	size_t n = 0;
	for (size_t y = 0; y < CS_ITEMS && n < want; y++) {
		if (!h->bought[k][y] && h->pop[y] > 1) {
			cart[n++] = y;
		}
	}
	return n;
}

Test(offers, cross_sell_matches_brute_force, .timeout = 120)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);

	/* A catalog without upgrades, so no UPSELL. */
	Clm__V1__Item it[CS_N_ITEMS];
	Clm__V1__Item *itp[CS_N_ITEMS];
	struct history *h = calloc(1, sizeof(*h));
	cr_assert_not_null(h);
	history_make(c, h);
	for (size_t i = 0; i < CS_N_ITEMS; i++) {
		clm__v1__item__init(&it[i]);
		it[i].item_id = h->item[i];
		it[i].price = 1.5 * (double) (i + 1);
		itp[i] = &it[i];
	}
	Clm__V1__PutCatalogRequest q = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	q.items = itp;
	q.n_items = CS_N_ITEMS;
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_put_catalog(c, &q, &resp), CLM_OK, "%s",
	        clm_last_error(c));
	clm_response_free(resp);

	/* The history is varied enough to mean something. */
	unsigned max_pop = 0, min_pop = CS_CUSTOMERS;
	for (size_t i = 0; i < CS_ITEMS; i++) {
		max_pop = h->pop[i] > max_pop ? h->pop[i] : max_pop;
		min_pop = h->pop[i] < min_pop ? h->pop[i] : min_pop;
	}
	cr_assert_gt(max_pop, min_pop + 5, "pop %u..%u", min_pop, max_pop);

	static const size_t some[] = { 0, 3, 17, 29, 42, 59 };
	for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++) {
		check_cross_sell(c, h, some[i], NULL, 0, 50);
	}
	/* A short limit cuts the similarity list itself. */
	check_cross_sell(c, h, 17, NULL, 0, 3);

	/* A cart extends the basis and is never offered. */
	size_t cart[2];
	size_t nc = pick_cart(h, 10, cart, 2);
	cr_assert_eq(nc, 2);
	check_cross_sell(c, h, 10, cart, nc, 50);
	nc = pick_cart(h, CS_NEWBIE, cart, 1);
	check_cross_sell(c, h, CS_NEWBIE, cart, nc, 50);

	/* Nothing co-occurs: the popular items, without the one bought. */
	struct expect_list l;
	expect_cross_sell(h, CS_LONER, NULL, 0, 50, &l);
	cr_assert(l.popular);
	cr_assert_gt(l.n, 10);
	check_cross_sell(c, h, CS_LONER, NULL, 0, 50);
	check_cross_sell(c, h, CS_NEWBIE, NULL, 0, 50);
	free(h);
	clm_close(c);
}

/* ---------------------------------------------------------------------- */
/* Errors.                                                                */

Test(offers, errors)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	struct tps t = { .n = 0 };
	tps_add(&t, "known", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT, 0, NULL);
	tps_send(c, &t);

	Clm__V1__Response *resp;
	for (int claim = 0; claim < 2; claim++) {
		struct ask a = { .customer = "nobody", .claim = claim != 0 };
		clm_err e = ask_raw(c, &a, &resp);
		cr_expect_eq(e, CLM_NOT_FOUND, "claim %d: %s", claim,
		        clm_errname(e));
		cr_expect(resp != NULL && resp->status != NULL
		                && strstr(resp->status->message, "nobody")
		                        != NULL,
		        "claim %d: message does not name the customer", claim);
		clm_response_free(resp);
	}
	cr_expect_eq(sent_of(c, "known", 0), 0);

	char *empty_cart[] = { "" };
	static const struct {
		struct ask a;
		const char *field;
	} cases[] = {
		{ { .customer = "known", .limit = 51 }, "recommend.limit" },
		{ { .customer = "known", .has_location = true, .lat = 91 },
		        "recommend.location" },
		{ { .customer = "known", .has_location = true, .lon = -180.5 },
		        "recommend.location" },
		{ { .customer = "known", .channel = (Clm__V1__Channel) 99 },
		        "recommend.channel" },
		{ { .customer = "" }, "recommend.customer_id" },
		{ { .customer = "known", .now_ms = -1 }, "recommend.now_ms" },
		{ { .customer = "known", .claim = true, .now_ms = 1000 },
		        "recommend.now_ms" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int claim = 0; claim < 2; claim++) {
			struct ask a = cases[i].a;
			a.claim = a.claim || claim != 0;
			clm_err e = ask_raw(c, &a, &resp);
			cr_expect_eq(e, CLM_INVALID_ARGUMENT,
			        "%s (claim %d): %s", cases[i].field, claim,
			        clm_errname(e));
			cr_expect_not_null(violation(resp, cases[i].field),
			        "no violation %s (claim %d)", cases[i].field,
			        claim);
			clm_response_free(resp);
		}
	}
	struct ask a
	        = { .customer = "known", .has_location = true, .lat = NAN };
	cr_expect_eq(ask_raw(c, &a, &resp), CLM_INVALID_ARGUMENT, "NaN lat");
	cr_expect_not_null(violation(resp, "recommend.location"));
	clm_response_free(resp);
	a = (struct ask) {
		.customer = "known", .cart = empty_cart, .n_cart = 1
	};
	cr_expect_eq(ask_raw(c, &a, &resp), CLM_INVALID_ARGUMENT, "cart");
	cr_expect_not_null(violation(resp, "recommend.cart_items[0]"));
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "known", 0), 0, "a failed claim recorded");

	/* The bounds themselves are fine. */
	a = (struct ask) { .customer = "known",
		.limit = 50,
		.has_location = true,
		.lat = -90,
		.lon = 180,
		.channel = CLM__V1__CHANNEL__SMS };
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(r->stage, CLM__V1__STAGE__REACH);
	cr_expect_eq(r->health, CLM__V1__HEALTH__ACTIVE);
	const Clm__V1__Recommendation *o
	        = find_kind(r, CLM__V1__RECOMMENDATION_KIND__NEXT_BEST_ACTION);
	cr_assert_not_null(o);
	cr_expect_eq(o->channel, CLM__V1__CHANNEL__SMS);
	cr_expect_str_eq(o->action, "educational_content");
	clm_response_free(resp);
	clm_close(c);
}
