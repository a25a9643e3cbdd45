/*
 * Orders of several items at scale (docs/api.md "Orders of several items"):
 * `clm import` of 1,000 fresh customers' orders of 17 distinct items each
 * (item_id and 16 order_items, the most one order takes), in its default
 * batches against clmd's default settings, must fit: every pair of an order
 * is two co-purchase writes in the same transaction. Then one customer's
 * cross-sell sees the pairs of the order that holds its item.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

/* 2026-01-02T03:04:05Z */
#define AT_MS 1767323045000LL

#define ORDERS      1000
#define ORDER_ITEMS 17 /* item_id and VALIDATE_ORDER_ITEMS_MAX order_items */

static struct clmd_proc srv;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	harness_cli_url(NULL);
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(orders, .init = setup, .fini = teardown, .timeout = 240);

/*
 * Writes ORDERS NDJSON lines to path: customer cNNNN's PURCHASE of items
 * uNNNN-00 (item_id) and uNNNN-01 .. uNNNN-16 (order_items), items of its
 * own, so every pair of every order is new.
 */
static void
orders_write_ndjson(const char *path)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write '%s'", path);
	for (int c = 0; c < ORDERS; c++) {
		fprintf(f,
		        "{\"eventId\":\"o%04d\",\"customerId\":\"c%04d\","
		        "\"type\":\"PURCHASE\",\"occurredAtMs\":\"%lld\","
		        "\"value\":170,\"itemId\":\"u%04d-00\",\"orderItems\":[",
		        c, c, (long long) (AT_MS + c), c);
		for (int i = 1; i < ORDER_ITEMS; i++) {
			fprintf(f, "%s\"u%04d-%02d\"", i > 1 ? "," : "", c, i);
		}
		fprintf(f, "]}\n");
	}
	cr_assert_eq(fclose(f), 0);
}

Test(orders, import_of_1000_orders_of_17_items_fits)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0,
	        "clmd did not start (log %s)", srv.log_path);
	char dir[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/orders.ndjson", dir);
	orders_write_ndjson(path);

	static const char *imp[] = { "import", NULL, NULL };
	imp[1] = path;
	struct cli_output o = cli_run(imp, NULL);
	cr_assert_eq(o.rc, 0, "import: exit %d, stdout '%s', stderr '%s'",
	        o.rc, o.out, o.err);
	cr_expect(strstr(o.out, "accepted 1000") != NULL, "'%s'", o.out);
	cli_output_free(&o);

	/* A new customer buys one item of c0007's order. */
	static const char *const buy[] = { "track", "--customer", "probe",
		"--type", "purchase", "--item", "u0007-00", "--value", "10",
		"--at", "2026-01-03T00:00:00Z", NULL };
	o = cli_run(buy, NULL);
	cr_assert_eq(o.rc, 0, "probe: exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);

	static const char *const rec[]
	        = { "--json", "recommend", "probe", "--limit", "50", NULL };
	o = cli_run(rec, NULL);
	cr_assert_eq(o.rc, 0, "recommend: exit %d, stderr '%s'", o.rc, o.err);
	for (int i = 1; i < ORDER_ITEMS; i++) {
		char want[48];
		snprintf(want, sizeof(want), "\"itemId\":\"u0007-%02d\"", i);
		cr_expect(strstr(o.out, want) != NULL, "no %s in '%s'", want,
		        o.out);
	}
	cr_expect(strstr(o.out, "frequently_bought_together") != NULL, "'%s'",
	        o.out);
	cr_expect(strstr(o.out, "\"itemId\":\"u0008-") == NULL,
	        "an item of another order: '%s'", o.out);
	cli_output_free(&o);
}
