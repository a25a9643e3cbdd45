/*
 * PutCatalog against a real clmd (docs/api.md "PutCatalog" and "Recommend"):
 * loading a catalog with `clm catalog` (CSV and NDJSON, custom column order,
 * quoting, CRLF), the upsell and geo offers it enables, bad rows reported by
 * line, and PutCatalog's request validation.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"
#include "offers.h"

HARNESS_SUITE(catalog, 60);

/* ---------------------------------------------------------------------- */
/* Catalog loading with the CLI.                                          */

/* Writes text to DIR/name; path gets the file's path. */
static void
write_file(const char *dir, const char *name, const char *text,
        char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s", test_file(dir, name, text));
}

/* Asks for customer id at (lat, lon); returns the GEO_OFFER or NULL. */
static bool
geo_offer_at(clm_conn *c, const char *id, double lat, double lon,
        const char *store_id, double discount)
{
	struct ask a = { .customer = id,
		.limit = 20,
		.include_suppressed = true,
		.has_location = true,
		.lat = lat,
		.lon = lon };
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	bool found = false;
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		if (o->kind != CLM__V1__RECOMMENDATION_KIND__GEO_OFFER) {
			continue;
		}
		cr_expect_str_eq(o->store_id, store_id);
		cr_expect_eq(o->discount_pct, discount, "discount %f",
		        o->discount_pct);
		cr_expect_eq(o->channel, CLM__V1__CHANNEL__APP_NOTIFICATION);
		found = true;
	}
	clm_response_free(resp);
	return found;
}

/* A customer who bought item (so its upgrade, if any, is offered). */
static void
buyer(clm_conn *c, const char *id, const char *item)
{
	struct tps t = { .n = 0 };
	tps_add(&t, id, CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
	        wall_ms() - HOUR_MS, item);
	tps_send(c, &t);
}

static void
expect_upsell(clm_conn *c, const char *id, const char *upgrade)
{
	struct ask a = { .customer = id, .limit = 20 };
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	const Clm__V1__Recommendation *o
	        = find_kind(r, CLM__V1__RECOMMENDATION_KIND__UPSELL);
	cr_assert_not_null(o, "no UPSELL for '%s'", id);
	cr_expect_str_eq(o->action, "item_upgrade");
	cr_expect_str_eq(o->item_id, upgrade);
	clm_response_free(resp);
}

Test(catalog, catalog_csv)
{
	offers_start(&srv, NULL);
	char dir[32], path[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	/* Columns in a custom order, CRLF line ends, quoted fields. */
	write_file(dir, "catalog.csv",
	        "type,id,name,lat,lon,radius_m,discount_pct,category,price,upgrade_to\r\n"
	        "item,basic,Basic plan,,,,,plans,10,pro\r\n"
	        "item,pro,\"Pro plan, yearly\",,,,,plans,100,\r\n"
	        "store,berlin-1,\"Shop \"\"Mitte\"\", Berlin\",52.52,13.405,500,15,,,\r\n"
	        "\r\n",
	        path);
	const char *const argv[] = { "catalog", path, NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "loaded 2 items and 1 stores; 0 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	clm_conn *c = offers_connect(&srv);
	buyer(c, "csv-buyer", "basic");
	expect_upsell(c, "csv-buyer", "pro");
	/* The store's columns after the quoted name are where they belong. */
	cr_expect(geo_offer_at(c, "csv-buyer", BERLIN_LAT + 0.004, BERLIN_LON,
	                  "berlin-1", 15),
	        "no GEO_OFFER 445 m from the store");
	cr_expect_not(geo_offer_at(c, "csv-buyer", BERLIN_LAT + 0.0046,
	                      BERLIN_LON, "berlin-1", 15),
	        "a GEO_OFFER 511 m from a store with a 500 m radius");

	/* --json prints the totals as an object. */
	write_file(dir, "more.csv",
	        "id,name,lat,lon,radius_m,discount_pct\n"
	        "berlin-2,Shop 2,52.60,13.405,100,5\n",
	        path);
	const char *const json[] = { "--json", "catalog", path, NULL };
	o = cli_run(json, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(cli_json_unposition(o.out) > 0, "no position: '%s'", o.out);
	cr_expect(strstr(o.out, "{\"items\":0,\"stores\":1,\"badLines\":0}")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);
	cr_expect(
	        geo_offer_at(c, "csv-buyer", 52.60, BERLIN_LON, "berlin-2", 5),
	        "a row with lat and no type is a store");
	clm_close(c);
}

Test(catalog, catalog_ndjson)
{
	offers_start(&srv, NULL);
	char dir[32], path[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	write_file(dir, "catalog.ndjson",
	        "{\"itemId\":\"n-basic\",\"name\":\"Basic\",\"price\":5,\"upgradeTo\":\"n-pro\"}\n"
	        "{\"item_id\":\"n-pro\",\"name\":\"Pro, \\\"best\\\"\",\"category\":\"plans\"}\n"
	        "{\"storeId\":\"paris-1\",\"name\":\"Paris, Op\\u00e9ra\",\"location\":{\"lat\":48.8566,\"lon\":2.3522},\"radiusM\":300,\"discountPct\":20}\n",
	        path);
	const char *const argv[] = { "catalog", path, NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "loaded 2 items and 1 stores; 0 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	clm_conn *c = offers_connect(&srv);
	buyer(c, "nd-buyer", "n-basic");
	expect_upsell(c, "nd-buyer", "n-pro");
	cr_expect(geo_offer_at(
	                  c, "nd-buyer", PARIS_LAT, PARIS_LON, "paris-1", 20),
	        "no GEO_OFFER at the store");

	/* PutCatalog upserts: the same store again, another discount. */
	write_file(dir, "update.ndjson",
	        "{\"storeId\":\"paris-1\",\"name\":\"Paris\",\"location\":{\"lat\":48.8566,\"lon\":2.3522},\"radiusM\":300,\"discountPct\":35}\n",
	        path);
	o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);
	cr_expect(geo_offer_at(
	                  c, "nd-buyer", PARIS_LAT, PARIS_LON, "paris-1", 35),
	        "no GEO_OFFER after the update");
	clm_close(c);
}

Test(catalog, catalog_bad_rows)
{
	offers_start(&srv, NULL);
	char dir[32], path[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	write_file(dir, "bad.csv",
	        "type,id,name,price,lat,lon,radius_m\n"
	        "item,good,Good,1,,,\n"
	        "item,cheap,Cheap,abc,,,\n"
	        "warehouse,w1,Depot,,1,1,10\n"
	        "item,\"open,Open,1,,,\n"
	        "store,s-good,Store,,52.52,13.405,100\n",
	        path);
	const char *const argv[] = { "catalog", path, NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 2, "exit %d", o.rc);
	cr_expect(strstr(o.err, "line 3:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 4:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 5:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 2:") == NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 6:") == NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.out, "loaded 1 items and 1 stores; 3 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	write_file(dir, "bad.ndjson",
	        "{\"itemId\":\"j1\"}\n"
	        "{\"itemId\": \n"
	        "{\"storeId\":\"js\",\"radiusM\":\"wide\"}\n"
	        "{\"itemId\":\"j2\"}\n",
	        path);
	o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 2, "exit %d", o.rc);
	cr_expect(strstr(o.err, "line 2:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.err, "line 3:") != NULL, "stderr '%s'", o.err);
	cr_expect(strstr(o.out, "loaded 2 items and 0 stores; 2 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	/* A row the server rejects: exit 1, the field named. */
	write_file(dir, "zero.csv",
	        "id,name,lat,lon,radius_m\n"
	        "s-zero,Zero,52.52,13.405,0\n",
	        path);
	o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 1, "exit %d", o.rc);
	cr_expect(strstr(o.err, "put_catalog.stores[0].radius_m") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

Test(catalog, put_catalog_validation)
{
	offers_start(&srv, NULL);
	clm_conn *c = offers_connect(&srv);
	Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
	g.lat = BERLIN_LAT;
	g.lon = BERLIN_LON;
	Clm__V1__GeoPoint bad_g = CLM__V1__GEO_POINT__INIT;
	bad_g.lat = 91;
	Clm__V1__Item it[3];
	Clm__V1__Item *itp[3];
	for (size_t i = 0; i < 3; i++) {
		clm__v1__item__init(&it[i]);
		itp[i] = &it[i];
	}
	it[0].item_id = "priced";
	it[0].price = -1;
	it[1].item_id = "self";
	it[1].upgrade_to = "self";
	it[2].item_id = "";
	Clm__V1__Store st[4];
	Clm__V1__Store *stp[4];
	for (size_t i = 0; i < 4; i++) {
		clm__v1__store__init(&st[i]);
		stp[i] = &st[i];
		st[i].location = &g;
		st[i].radius_m = 100;
	}
	st[0].store_id = "zero";
	st[0].radius_m = 0;
	st[0].discount_pct = 101;
	st[1].store_id = "nowhere";
	st[1].location = NULL;
	st[2].store_id = "pole";
	st[2].location = &bad_g;
	st[3].store_id = "huge";
	st[3].radius_m = 3e7;
	Clm__V1__PutCatalogRequest q = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	q.items = itp;
	q.n_items = 3;
	q.stores = stp;
	q.n_stores = 4;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_put_catalog(c, &q, &resp);
	cr_assert_eq(e, CLM_INVALID_ARGUMENT, "%s", clm_errname(e));
	static const char *const fields[] = {
		"put_catalog.items[0].price",
		"put_catalog.items[1].upgrade_to",
		"put_catalog.items[2].item_id",
		"put_catalog.stores[0].radius_m",
		"put_catalog.stores[0].discount_pct",
		"put_catalog.stores[1].location",
		"put_catalog.stores[2].location",
		"put_catalog.stores[3].radius_m",
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		cr_expect_not_null(violation(resp, fields[i]),
		        "no violation %s", fields[i]);
	}
	cr_expect_eq(resp->status->n_violations,
	        sizeof(fields) / sizeof(fields[0]), "%zu violations",
	        resp->status->n_violations);
	clm_response_free(resp);

	/* Nothing of a rejected call is stored. */
	struct tps t = { .n = 0 };
	tps_add(&t, "v1", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT, 0, NULL);
	tps_send(c, &t);
	cr_expect_not(geo_offer_at(c, "v1", BERLIN_LAT, BERLIN_LON, "", 0),
	        "a store of the rejected call");

	Clm__V1__PutCatalogRequest empty = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	e = clm_put_catalog(c, &empty, &resp);
	cr_expect_eq(e, CLM_INVALID_ARGUMENT, "%s", clm_errname(e));
	cr_expect_not_null(violation(resp, "put_catalog"));
	clm_response_free(resp);
	clm_close(c);
}
