/*
 * Recommend and PutCatalog against a real clmd (DESIGN.md §4): loading a
 * catalog with `clm catalog` (CSV and NDJSON) and its validation,
 * cross-sell compared with a brute force over a random purchase history,
 * claims racing from many connections against the frequency cap, claim
 * idempotency on request_id, the MESSAGE_SENT touchpoints a claim records,
 * request validation, and `clm recommend`.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cli_run.h"
#include "harness.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

#define BERLIN_LAT 52.5200
#define BERLIN_LON 13.4050
#define PARIS_LAT  48.8566
#define PARIS_LON  2.3522

static struct clmd_proc srv;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(offers, .init = setup, .fini = teardown, .timeout = 60);

static void
start_server(const char *const *extra)
{
	int rc = clmd_start(&srv, NULL, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

static clm_conn *
connect_to(void)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, 10000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	return c;
}

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---------------------------------------------------------------------- */
/* Tracking.                                                              */

#define TPS_MAX 256

/* A batch of touchpoints without event ids (the server assigns them). */
struct tps {
	Clm__V1__Touchpoint tp[TPS_MAX];
	Clm__V1__Touchpoint *ptr[TPS_MAX];
	size_t n;
};

static void
tps_add(struct tps *t, const char *customer, Clm__V1__TouchpointType type,
        int64_t at_ms, const char *item)
{
	cr_assert_lt(t->n, TPS_MAX);
	Clm__V1__Touchpoint *tp = &t->tp[t->n];
	clm__v1__touchpoint__init(tp);
	tp->customer_id = (char *) customer;
	tp->type = type;
	tp->channel = CLM__V1__CHANNEL__DIRECT;
	tp->occurred_at_ms = at_ms;
	if (item != NULL) {
		tp->item_id = (char *) item;
	}
	t->ptr[t->n] = tp;
	t->n++;
}

/* Tracks the batch (all must be accepted) and empties it. */
static void
tps_send(clm_conn *c, struct tps *t)
{
	if (t->n == 0) {
		return;
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, t->ptr, t->n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->track->accepted, t->n, "accepted %u of %zu",
	        resp->track->accepted, t->n);
	clm_response_free(resp);
	t->n = 0;
}

/* ---------------------------------------------------------------------- */
/* Recommend, export, catalog.                                            */

/* One Recommend call's parameters. */
struct ask {
	const char *customer;
	uint32_t limit;
	bool claim, include_suppressed, has_location;
	double lat, lon;
	char **cart;
	size_t n_cart;
	Clm__V1__Channel channel;
	int64_t now_ms;
	const char *request_id; /* NULL: the one libclm makes */
};

/* Sends a; returns the reply's status code or a transport error. */
static clm_err
ask_raw(clm_conn *c, const struct ask *a, Clm__V1__Response **out)
{
	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
	q.customer_id = (char *) a->customer;
	q.limit = a->limit;
	q.claim = a->claim;
	q.include_suppressed = a->include_suppressed;
	q.channel = a->channel;
	q.now_ms = a->now_ms;
	q.cart_items = a->cart;
	q.n_cart_items = a->n_cart;
	if (a->has_location) {
		g.lat = a->lat;
		g.lon = a->lon;
		q.location = &g;
	}
	*out = NULL;
	if (a->request_id == NULL) {
		return clm_recommend(c, &q, out);
	}
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = (char *) a->request_id;
	req.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	req.recommend = &q;
	clm_err e = clm_call(c, &req, out);
	if (e == CLM_OK && (*out)->status != NULL) {
		e = (clm_err) (*out)->status->code;
	}
	return e;
}

/* Sends a, asserts OK; *resp is to be freed. */
static const Clm__V1__RecommendReply *
ask_ok(clm_conn *c, const struct ask *a, Clm__V1__Response **resp)
{
	clm_err e = ask_raw(c, a, resp);
	cr_assert_eq(e, CLM_OK, "recommend '%s': %s (%s)", a->customer,
	        clm_errname(e), clm_last_error(c));
	cr_assert_not_null(*resp);
	cr_assert_eq(
	        (*resp)->result_case, CLM__V1__RESPONSE__RESULT_RECOMMEND);
	cr_assert_not_null((*resp)->recommend);
	return (*resp)->recommend;
}

static size_t
count_live(const Clm__V1__RecommendReply *r, Clm__V1__Channel ch)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		n += !o->suppressed && (ch == 0 || o->channel == ch);
	}
	return n;
}

static const Clm__V1__Recommendation *
find_kind(const Clm__V1__RecommendReply *r, Clm__V1__RecommendationKind k)
{
	for (size_t i = 0; i < r->n_recommendations; i++) {
		if (r->recommendations[i]->kind == k) {
			return r->recommendations[i];
		}
	}
	return NULL;
}

static Clm__V1__Response *
export_of(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_export(c, id, &resp);
	cr_assert_eq(e, CLM_OK, "export %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp->export_customer);
	return resp;
}

/* MESSAGE_SENT touchpoints of an export on channel ch (0: any). */
static size_t
count_sent(const Clm__V1__ExportCustomerReply *x, Clm__V1__Channel ch)
{
	size_t n = 0;
	for (size_t i = 0; i < x->n_touchpoints; i++) {
		const Clm__V1__Touchpoint *tp = x->touchpoints[i];
		n += tp->type == CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT
		        && (ch == 0 || tp->channel == ch);
	}
	return n;
}

static size_t
sent_of(clm_conn *c, const char *id, Clm__V1__Channel ch)
{
	Clm__V1__Response *resp = export_of(c, id);
	size_t n = count_sent(resp->export_customer, ch);
	clm_response_free(resp);
	return n;
}

static const char *
prop(const Clm__V1__Touchpoint *tp, const char *key)
{
	for (size_t i = 0; i < tp->n_properties; i++) {
		if (strcmp(tp->properties[i]->key, key) == 0) {
			return tp->properties[i]->value;
		}
	}
	return NULL;
}

/* Upserts stores, asserts OK. */
static void
put_stores(clm_conn *c, Clm__V1__Store **st, size_t n)
{
	Clm__V1__PutCatalogRequest q = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	q.stores = st;
	q.n_stores = n;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_put_catalog(c, &q, &resp);
	cr_assert_eq(e, CLM_OK, "put_catalog: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_eq(resp->put_catalog->stores, n);
	clm_response_free(resp);
}

/* The violation naming field, or NULL. */
static const Clm__V1__FieldViolation *
violation(const Clm__V1__Response *resp, const char *field)
{
	if (resp == NULL || resp->status == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < resp->status->n_violations; i++) {
		if (strcmp(resp->status->violations[i]->field, field) == 0) {
			return resp->status->violations[i];
		}
	}
	return NULL;
}

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

Test(offers, catalog_csv)
{
	start_server(NULL);
	char dir[32], path[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	/* Columns in a custom order, CRLF line ends, quoted fields. */
	write_file(dir, "catalog.csv",
	        "type,id,name,lat,lon,radius_m,discount_pct,category,price,"
	        "upgrade_to\r\n"
	        "item,basic,Basic plan,,,,,plans,10,pro\r\n"
	        "item,pro,\"Pro plan, yearly\",,,,,plans,100,\r\n"
	        "store,berlin-1,\"Shop \"\"Mitte\"\", Berlin\",52.52,13.405,"
	        "500,15,,,\r\n"
	        "\r\n",
	        path);
	const char *const argv[] = { "catalog", path, NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "loaded 2 items and 1 stores; 0 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	clm_conn *c = connect_to();
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
	cr_expect(strstr(o.out, "{\"items\":0,\"stores\":1,\"badLines\":0}")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);
	cr_expect(
	        geo_offer_at(c, "csv-buyer", 52.60, BERLIN_LON, "berlin-2", 5),
	        "a row with lat and no type is a store");
	clm_close(c);
}

Test(offers, catalog_ndjson)
{
	start_server(NULL);
	char dir[32], path[PATH_MAX];
	cr_assert_eq(harness_tmpdir(dir), 0);
	write_file(dir, "catalog.ndjson",
	        "{\"itemId\":\"n-basic\",\"name\":\"Basic\",\"price\":5,"
	        "\"upgradeTo\":\"n-pro\"}\n"
	        "{\"item_id\":\"n-pro\",\"name\":\"Pro, \\\"best\\\"\","
	        "\"category\":\"plans\"}\n"
	        "{\"storeId\":\"paris-1\",\"name\":\"Paris, Op\\u00e9ra\","
	        "\"location\":{\"lat\":48.8566,\"lon\":2.3522},"
	        "\"radiusM\":300,\"discountPct\":20}\n",
	        path);
	const char *const argv[] = { "catalog", path, NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "loaded 2 items and 1 stores; 0 bad lines")
	                != NULL,
	        "stdout '%s'", o.out);
	cli_output_free(&o);

	clm_conn *c = connect_to();
	buyer(c, "nd-buyer", "n-basic");
	expect_upsell(c, "nd-buyer", "n-pro");
	cr_expect(geo_offer_at(
	                  c, "nd-buyer", PARIS_LAT, PARIS_LON, "paris-1", 20),
	        "no GEO_OFFER at the store");

	/* PutCatalog upserts: the same store again, another discount. */
	write_file(dir, "update.ndjson",
	        "{\"storeId\":\"paris-1\",\"name\":\"Paris\","
	        "\"location\":{\"lat\":48.8566,\"lon\":2.3522},"
	        "\"radiusM\":300,\"discountPct\":35}\n",
	        path);
	o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cli_output_free(&o);
	cr_expect(geo_offer_at(
	                  c, "nd-buyer", PARIS_LAT, PARIS_LON, "paris-1", 35),
	        "no GEO_OFFER after the update");
	clm_close(c);
}

Test(offers, catalog_bad_rows)
{
	start_server(NULL);
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

Test(offers, put_catalog_validation)
{
	start_server(NULL);
	clm_conn *c = connect_to();
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
	start_server(NULL);
	clm_conn *c = connect_to();

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
/* Claims.                                                                */

/* Four stores around this point, each with a 1 km radius. */
#define RACE_LAT BERLIN_LAT
#define RACE_LON BERLIN_LON

/*
 * A customer with four EMAIL candidates (FEEDBACK_REQUEST after a refund,
 * LOYALTY_REWARD for five purchases, REFERRAL_INCENTIVE in RETENTION,
 * NEXT_BEST_ACTION) and, at RACE_LAT/LON, four GEO_OFFERs by
 * APP_NOTIFICATION. No cross-sell: every item is bought by them alone.
 */
static void
busy_customer(clm_conn *c, const char *id, bool stores)
{
	struct tps t = { .n = 0 };
	int64_t now = wall_ms();
	char items[5][48];
	for (int i = 0; i < 5; i++) {
		snprintf(items[i], sizeof(items[i]), "%s-item%d", id, i);
		tps_add(&t, id, CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        now - (10 - i) * DAY_MS, items[i]);
	}
	tps_add(&t, id, CLM__V1__TOUCHPOINT_TYPE__REFUND, now - 2 * DAY_MS,
	        items[0]);
	tps_send(c, &t);
	if (!stores) {
		return;
	}
	Clm__V1__GeoPoint g[4];
	Clm__V1__Store st[4];
	Clm__V1__Store *stp[4];
	static const char *const ids[] = { "r-a", "r-b", "r-c", "r-d" };
	for (int i = 0; i < 4; i++) {
		clm__v1__geo_point__init(&g[i]);
		g[i].lat = RACE_LAT + 0.001 * i;
		g[i].lon = RACE_LON;
		clm__v1__store__init(&st[i]);
		st[i].store_id = (char *) ids[i];
		st[i].location = &g[i];
		st[i].radius_m = 1000;
		st[i].discount_pct = 5 + i;
		stp[i] = &st[i];
	}
	put_stores(c, stp, 4);
}

#define RACERS 16

struct racer {
	const char *url;
	const char *customer;
	pthread_barrier_t *go;
	bool own_request_id;
	char request_id[48];
	clm_err err;
	Clm__V1__Response *resp;
	char what[160];
};

/* One racing client: its own connection, one claim at the barrier. */
static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	clm_conn *c = NULL;
	r->err = clm_open(r->url, 20000, &c);
	pthread_barrier_wait(r->go);
	if (r->err != CLM_OK) {
		snprintf(r->what, sizeof(r->what), "%s", clm_open_error());
		return NULL;
	}
	struct ask a = { .customer = r->customer,
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON,
		.request_id = r->own_request_id ? r->request_id : NULL };
	r->err = ask_raw(c, &a, &r->resp);
	snprintf(r->what, sizeof(r->what), "%s", clm_last_error(c));
	clm_close(c);
	return NULL;
}

/*
 * Races RACERS claims for customer id; checks every reply and returns the
 * non-suppressed recommendations they hold together, per channel.
 */
static void
race(const char *id, bool own_request_ids, size_t *email, size_t *app)
{
	pthread_barrier_t go;
	cr_assert_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer) { .url = srv.url,
			.customer = id,
			.go = &go,
			.own_request_id = own_request_ids };
		snprintf(rs[i].request_id, sizeof(rs[i].request_id),
		        "race-%s-%d", id, i);
		cr_assert_eq(
		        pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_barrier_destroy(&go);
	*email = *app = 0;
	for (int i = 0; i < RACERS; i++) {
		cr_expect_eq(rs[i].err, CLM_OK, "racer %d: %s (%s)", i,
		        clm_errname(rs[i].err), rs[i].what);
		if (rs[i].err == CLM_OK) {
			const Clm__V1__RecommendReply *r
			        = rs[i].resp->recommend;
			cr_assert_not_null(r, "racer %d", i);
			*email += count_live(r, CLM__V1__CHANNEL__EMAIL);
			*app += count_live(
			        r, CLM__V1__CHANNEL__APP_NOTIFICATION);
			cr_expect_eq(count_live(r, 0),
			        count_live(r, CLM__V1__CHANNEL__EMAIL)
			                + count_live(r,
			                        CLM__V1__CHANNEL__APP_NOTIFICATION),
			        "racer %d: another channel", i);
		}
		clm_response_free(rs[i].resp);
	}
}

/* Checks what a race recorded against the cap and against the replies. */
static void
check_race(clm_conn *c, const char *id, size_t email, size_t app,
        size_t want_per_channel)
{
	size_t sent_email = sent_of(c, id, CLM__V1__CHANNEL__EMAIL);
	size_t sent_app = sent_of(c, id, CLM__V1__CHANNEL__APP_NOTIFICATION);
	cr_expect_leq(sent_email, 3, "%zu emails recorded, cap 3", sent_email);
	cr_expect_leq(
	        sent_app, 3, "%zu app messages recorded, cap 3", sent_app);
	cr_expect_eq(sent_email, want_per_channel, "%zu emails recorded",
	        sent_email);
	cr_expect_eq(sent_app, want_per_channel, "%zu app messages recorded",
	        sent_app);
	cr_expect_eq(email, sent_email,
	        "the replies claimed %zu emails, %zu were recorded", email,
	        sent_email);
	cr_expect_eq(app, sent_app,
	        "the replies claimed %zu app messages, %zu were recorded", app,
	        sent_app);
	cr_expect_eq(sent_of(c, id, 0), sent_email + sent_app);
}

Test(offers, claim_race_within_the_cap)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", true, &email, &app);
	/* quiet_hours 24: one message per channel, whoever wins. */
	check_race(c, "racer", email, app, 1);
	clm_close(c);
}

Test(offers, claim_race_without_quiet_hours)
{
	static const char *const extra[] = { "--quiet-hours", "0", NULL };
	start_server(extra);
	clm_conn *c = connect_to();
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", true, &email, &app);
	/* Only the cap binds: exactly cap_messages per channel. */
	check_race(c, "racer", email, app, 3);
	clm_close(c);
}

/*
 * Regression: libclm's request ids used to be "<pid>-<n>" with a counter
 * per connection starting at 1, so the first request of every connection
 * in a process carried the same id; the server dedupes claims on
 * (customer_id, request_id), so 15 of these 16 independent claims were
 * taken for retries of the first and got its reply: 32 messages claimed,
 * 2 recorded. Request ids made by libclm must differ per connection.
 */
Test(offers, claim_race_with_libclm_request_ids)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "racer", true);
	size_t email, app;
	race("racer", false, &email, &app);
	check_race(c, "racer", email, app, 1);
	clm_close(c);
}

/* Packs a reply, for comparing two byte for byte. */
static size_t
pack_reply(const Clm__V1__RecommendReply *r, uint8_t **out)
{
	size_t n = clm__v1__recommend_reply__get_packed_size(r);
	*out = malloc(n + 1);
	cr_assert_not_null(*out);
	cr_assert_eq(clm__v1__recommend_reply__pack(r, *out), n);
	return n;
}

Test(offers, claim_is_idempotent_on_request_id)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "idem", true);
	struct ask a = { .customer = "idem",
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON,
		.request_id = "idem-claim-1" };
	Clm__V1__Response *r1, *r2;
	const Clm__V1__RecommendReply *x = ask_ok(c, &a, &r1);
	cr_assert_eq(count_live(x, CLM__V1__CHANNEL__EMAIL), 1);
	cr_assert_eq(count_live(x, CLM__V1__CHANNEL__APP_NOTIFICATION), 1);
	cr_expect_str_eq(r1->request_id, "idem-claim-1");
	size_t sent = sent_of(c, "idem", 0);
	cr_expect_eq(sent, 2, "%zu messages recorded", sent);

	const Clm__V1__RecommendReply *y = ask_ok(c, &a, &r2);
	uint8_t *p1, *p2;
	size_t n1 = pack_reply(x, &p1), n2 = pack_reply(y, &p2);
	cr_expect(n1 == n2 && memcmp(p1, p2, n1) == 0,
	        "the retry got another reply");
	free(p1);
	free(p2);
	clm_response_free(r1);
	clm_response_free(r2);
	cr_expect_eq(sent_of(c, "idem", 0), 2, "the retry recorded again");

	/* Another request id is a new claim: now within quiet hours. */
	a.request_id = "idem-claim-2";
	x = ask_ok(c, &a, &r1);
	cr_expect_eq(count_live(x, 0), 0, "claimed again within quiet hours");
	cr_expect_gt(x->n_recommendations, 0);
	clm_response_free(r1);
	cr_expect_eq(sent_of(c, "idem", 0), 2);
	clm_close(c);
}

/*
 * Regression: claimed MESSAGE_SENT event ids once lacked the customer, so a
 * second customer's claim with the same request id recorded nothing (its
 * messages were deduplicated against the first customer's).
 */
Test(offers, claim_request_id_reused_for_another_customer)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "first", false);
	busy_customer(c, "second", false);
	struct ask a = { .customer = "first",
		.limit = 10,
		.claim = true,
		.request_id = "same-id" };
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 1);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "first", 0), 1);

	a.customer = "second";
	r = ask_ok(c, &a, &resp);
	size_t claimed = count_live(r, 0);
	cr_expect_eq(claimed, 1);
	clm_response_free(resp);
	size_t sent = sent_of(c, "second", 0);
	cr_expect_eq(sent, claimed,
	        "'second' was told %zu messages are claimed, %zu recorded",
	        claimed, sent);

	/* So the cap does not hold for 'second'. */
	a.request_id = "next-id";
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 0,
	        "'second' claimed again within quiet hours");
	clm_response_free(resp);
	clm_close(c);
}

Test(offers, claimed_messages_are_touchpoints_that_count)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "sent", true);
	struct ask a = { .customer = "sent",
		.limit = 10,
		.has_location = true,
		.lat = RACE_LAT,
		.lon = RACE_LON };

	/* A plain Recommend records nothing. */
	Clm__V1__Response *resp;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, CLM__V1__CHANNEL__EMAIL), 4);
	cr_expect_eq(count_live(r, CLM__V1__CHANNEL__APP_NOTIFICATION), 4);
	clm_response_free(resp);
	cr_expect_eq(sent_of(c, "sent", 0), 0);

	a.claim = true;
	const Clm__V1__RecommendReply *claimed = ask_ok(c, &a, &resp);
	cr_assert_eq(claimed->n_recommendations, 2, "%zu claimed",
	        claimed->n_recommendations);
	/* GEO_OFFER at the door and FEEDBACK_REQUEST tie at 0.85. */
	const Clm__V1__Recommendation *email = find_kind(
	        claimed, CLM__V1__RECOMMENDATION_KIND__FEEDBACK_REQUEST);
	const Clm__V1__Recommendation *geo
	        = find_kind(claimed, CLM__V1__RECOMMENDATION_KIND__GEO_OFFER);
	cr_assert_not_null(email, "the best email was not claimed");
	cr_assert_not_null(geo, "the best geo offer was not claimed");
	cr_expect_eq(claimed->recommendations[0], geo, "ties: by kind");
	cr_expect_str_eq(geo->store_id, "r-a");

	Clm__V1__Response *x = export_of(c, "sent");
	const Clm__V1__ExportCustomerReply *ex = x->export_customer;
	cr_assert_eq(count_sent(ex, 0), 2);
	for (size_t i = 0; i < ex->n_touchpoints; i++) {
		const Clm__V1__Touchpoint *tp = ex->touchpoints[i];
		if (tp->type != CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT) {
			continue;
		}
		const Clm__V1__Recommendation *o
		        = tp->channel == email->channel ? email : geo;
		cr_expect_eq(tp->channel, o->channel);
		const char *kind = prop(tp, "kind");
		const char *action = prop(tp, "action");
		cr_assert_not_null(kind, "a MESSAGE_SENT without kind");
		cr_assert_not_null(action, "a MESSAGE_SENT without action");
		cr_expect_str_eq(
		        kind, o == email ? "FEEDBACK_REQUEST" : "GEO_OFFER");
		cr_expect_str_eq(action, o->action);
		cr_expect_str_eq(tp->item_id, o->item_id);
		cr_expect_str_eq(tp->customer_id, "sent");
		cr_expect_neq(tp->event_id[0], '\0', "no event id");
	}
	/* Messages do not make the customer seen. */
	cr_expect_lt(ex->customer->last_seen_ms, wall_ms() - DAY_MS);
	clm_response_free(x);
	clm_response_free(resp);

	/* A plain Recommend now shows the cap. */
	a.claim = false;
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(count_live(r, 0), 0, "%zu live after the claim",
	        count_live(r, 0));
	cr_expect_eq(r->n_recommendations, 0, "suppressed ones listed");
	clm_response_free(resp);
	a.include_suppressed = true;
	r = ask_ok(c, &a, &resp);
	cr_expect_eq(r->n_recommendations, 8);
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		cr_expect(o->suppressed, "[%zu] %s not suppressed", i,
		        o->action);
		cr_expect(strstr(o->suppressed_reason, "quiet hours") != NULL,
		        "[%zu] reason '%s'", i, o->suppressed_reason);
	}
	clm_response_free(resp);

	/* The cart reminder's follow-up rule sees claimed reminders too. */
	struct tps t = { .n = 0 };
	tps_add(&t, "carted", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        wall_ms() - 3 * DAY_MS, "kettle");
	tps_send(c, &t);
	struct ask cart = { .customer = "carted",
		.limit = 10,
		.claim = true,
		.now_ms = wall_ms() - 2 * DAY_MS };
	r = ask_ok(c, &cart, &resp);
	const Clm__V1__Recommendation *o
	        = find_kind(r, CLM__V1__RECOMMENDATION_KIND__CART_REMINDER);
	cr_assert_not_null(o, "no CART_REMINDER");
	cr_expect_str_eq(o->action, "cart_reminder");
	cr_expect_str_eq(o->item_id, "kettle");
	clm_response_free(resp);
	cart.claim = false;
	cart.now_ms = 0;
	r = ask_ok(c, &cart, &resp);
	o = find_kind(r, CLM__V1__RECOMMENDATION_KIND__CART_REMINDER);
	cr_assert_not_null(o, "no follow-up");
	cr_expect_str_eq(o->action, "cart_reminder_followup");
	clm_response_free(resp);
	clm_close(c);
}

/* ---------------------------------------------------------------------- */
/* Errors.                                                                */

Test(offers, errors)
{
	start_server(NULL);
	clm_conn *c = connect_to();
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

/* ---------------------------------------------------------------------- */
/* The CLI.                                                               */

Test(offers, cli_recommend)
{
	start_server(NULL);
	clm_conn *c = connect_to();
	busy_customer(c, "shopper", true);
	clm_close(c);

	const char *const json[] = { "--json", "recommend", "shopper", NULL };
	struct cli_output o = cli_run(json, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect_eq(o.out[0], '{', "stdout '%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"recommendations\":[") != NULL, "'%s'", o.out);
	cr_expect(
	        strstr(o.out, "\"FEEDBACK_REQUEST\"") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "\"stage\":\"RETENTION\"") != NULL, "'%s'",
	        o.out);
	cr_expect(strstr(o.out, "GEO_OFFER") == NULL, "'%s'", o.out);
	cli_output_free(&o);

	const char *const geo[] = { "recommend", "shopper", "--lat", "52.52",
		"--lon", "13.405", "--limit", "10", NULL };
	o = cli_run(geo, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "GEO_OFFER") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "r-a") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "discount 5.0%") != NULL, "'%s'", o.out);
	cr_expect(strstr(o.out, "stage RETENTION, health ACTIVE") != NULL,
	        "'%s'", o.out);
	cli_output_free(&o);

	const char *const claim[] = { "--json", "recommend", "shopper",
		"--claim", "--include-suppressed", NULL };
	o = cli_run(claim, NULL);
	cr_expect_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "\"suppressed\":true") != NULL, "'%s'", o.out);
	cli_output_free(&o);
	c = connect_to();
	cr_expect_eq(sent_of(c, "shopper", CLM__V1__CHANNEL__EMAIL), 1);
	clm_close(c);

	const char *const nobody[] = { "recommend", "nobody", NULL };
	o = cli_run(nobody, NULL);
	cr_expect_eq(o.rc, 1, "exit %d", o.rc);
	cr_expect(strstr(o.err, "NOT_FOUND") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	const char *const half[]
	        = { "recommend", "shopper", "--lat", "1", NULL };
	o = cli_run(half, NULL);
	cr_expect_eq(o.rc, 2, "--lat without --lon: exit %d", o.rc);
	cli_output_free(&o);
}
