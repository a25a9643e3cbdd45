/*
 * gen_corpus: writes fuzz_request's seed corpus, one file per call kind.
 *
 *   gen_corpus DIR
 *
 * Each file is one serialized clm.v1.Request (a valid one, so the fuzzer
 * starts from inputs that reach the handlers), plus an undecodable one, an
 * empty one, a call from a newer API, and two JSON texts for the pbjson
 * mode. The requests share customer, item and store ids, so in a replay the
 * reads find what the writes stored. Times are fixed, so the output does not
 * change from run to run: tools/fuzz/corpus/ is this program's output
 * (regenerate it with `build/bin/gen_corpus tools/fuzz/corpus`).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"

/* 2026-01-10T00:00:00Z: in the past, after 2000-01-01. */
#define GEN_T0     1768003200000LL
#define GEN_DAY_MS (24LL * 3600 * 1000)

static int gen_failed;

static void
gen_write(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || (len > 0 && fwrite(buf, 1, len, f) != len)
	        || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: cannot write '%s': %s\n", path,
		        strerror(errno));
		gen_failed = 1;
	}
}

/* Packs req and writes it as DIR/name. */
static void
gen_request(const char *dir, const char *name, const Clm__V1__Request *req)
{
	size_t len = clm__v1__request__get_packed_size(req);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL) {
		fprintf(stderr, "gen_corpus: out of memory\n");
		exit(1);
	}
	clm__v1__request__pack(req, buf);
	gen_write(dir, name, buf, len);
	free(buf);
}

static void
gen_track(const char *dir)
{
	static Clm__V1__Touchpoint tp[6];
	static Clm__V1__Touchpoint *ptr[6];
	static Clm__V1__GeoPoint here = CLM__V1__GEO_POINT__INIT;
	static Clm__V1__Touchpoint__PropertiesEntry prop
	        = CLM__V1__TOUCHPOINT__PROPERTIES_ENTRY__INIT;
	static Clm__V1__Touchpoint__PropertiesEntry *props[1];
	for (size_t i = 0; i < 6; i++) {
		clm__v1__touchpoint__init(&tp[i]);
		ptr[i] = &tp[i];
		tp[i].customer_id = "c-1";
		tp[i].channel = CLM__V1__CHANNEL__DIRECT;
		tp[i].occurred_at_ms = GEN_T0 + (int64_t) i * GEN_DAY_MS;
	}
	tp[0].event_id = "e-1";
	tp[0].customer_id = "";
	tp[0].anonymous_id = "anon-1";
	tp[0].type = CLM__V1__TOUCHPOINT_TYPE__AD_CLICK;
	tp[0].channel = CLM__V1__CHANNEL__PAID_ADS;
	tp[0].campaign = "spring";
	tp[1].event_id = "e-2";
	tp[1].type = CLM__V1__TOUCHPOINT_TYPE__SIGNUP;
	tp[2].event_id = "e-3";
	tp[2].type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	tp[2].duration_s = 120;
	here.lat = 48.8566;
	here.lon = 2.3522;
	tp[2].location = &here;
	prop.key = "page";
	prop.value = "/pricing";
	props[0] = &prop;
	tp[2].n_properties = 1;
	tp[2].properties = props;
	tp[3].event_id = "e-4";
	tp[3].type = CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART;
	tp[3].item_id = "i-1";
	tp[4].event_id = "e-5";
	tp[4].type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp[4].item_id = "i-1";
	tp[4].value = 49.5;
	tp[4].currency = "EUR";
	tp[5].event_id = "e-6";
	tp[5].type = CLM__V1__TOUCHPOINT_TYPE__REVIEW;
	tp[5].sentiment = -0.5f;
	tp[5].occurred_at_ms = 0; /* now */

	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.n_touchpoints = 6;
	tr.touchpoints = ptr;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "track-1";
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &tr;
	gen_request(dir, "track", &req);

	/* One touchpoint, a deadline and an auth token. */
	tr.n_touchpoints = 1;
	tr.touchpoints = &ptr[4];
	req.request_id = "track-2";
	req.deadline_ms = 1000;
	req.auth_token = "token";
	gen_request(dir, "track_one", &req);
}

static void
gen_reads(const char *dir)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__GetCustomerRequest gc = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	gc.customer_id = "c-1";
	req.request_id = "get-1";
	req.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	req.get_customer = &gc;
	gen_request(dir, "get_customer", &req);
	gc.as_of_ms = GEN_T0 + 2 * GEN_DAY_MS;
	req.request_id = "get-2";
	gen_request(dir, "get_customer_as_of", &req);

	Clm__V1__ExportCustomerRequest ex
	        = CLM__V1__EXPORT_CUSTOMER_REQUEST__INIT;
	ex.customer_id = "c-1";
	req.request_id = "export-1";
	req.call_case = CLM__V1__REQUEST__CALL_EXPORT_CUSTOMER;
	req.export_customer = &ex;
	gen_request(dir, "export_customer", &req);

	Clm__V1__StatusRequest st = CLM__V1__STATUS_REQUEST__INIT;
	req.request_id = "status-1";
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &st;
	gen_request(dir, "server_status", &req);

	Clm__V1__MetricsRequest me = CLM__V1__METRICS_REQUEST__INIT;
	me.from_ms = GEN_T0;
	me.to_ms = GEN_T0 + 30 * GEN_DAY_MS;
	me.conversion_window_days = 7;
	req.request_id = "metrics-1";
	req.call_case = CLM__V1__REQUEST__CALL_METRICS;
	req.metrics = &me;
	gen_request(dir, "metrics", &req);

	Clm__V1__CohortRequest co = CLM__V1__COHORT_REQUEST__INIT;
	co.from_ms = GEN_T0;
	co.to_ms = GEN_T0 + 60 * GEN_DAY_MS;
	co.granularity = CLM__V1__GRANULARITY__WEEK;
	co.periods = 4;
	req.request_id = "cohorts-1";
	req.call_case = CLM__V1__REQUEST__CALL_COHORTS;
	req.cohorts = &co;
	gen_request(dir, "cohorts", &req);

	Clm__V1__ExperimentResultsRequest er
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	er.experiment_id = "x-1";
	req.request_id = "results-1";
	req.call_case = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS;
	req.experiment_results = &er;
	gen_request(dir, "experiment_results", &req);
}

static void
gen_recommend(const char *dir)
{
	Clm__V1__GeoPoint here = CLM__V1__GEO_POINT__INIT;
	here.lat = 48.857;
	here.lon = 2.352;
	char *cart[] = { "i-1", "i-2" };
	Clm__V1__RecommendRequest rr = CLM__V1__RECOMMEND_REQUEST__INIT;
	rr.customer_id = "c-1";
	rr.limit = 3;
	rr.location = &here;
	rr.n_cart_items = 2;
	rr.cart_items = cart;
	rr.channel = CLM__V1__CHANNEL__APP_NOTIFICATION;
	rr.include_suppressed = 1;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "rec-1";
	req.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	req.recommend = &rr;
	gen_request(dir, "recommend", &req);

	rr.claim = 1;
	rr.include_suppressed = 0;
	rr.now_ms = GEN_T0 + 10 * GEN_DAY_MS;
	req.request_id = "rec-claim-1";
	gen_request(dir, "recommend_claim", &req);
}

static void
gen_writes(const char *dir)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;

	Clm__V1__Item items[2];
	Clm__V1__Item *iptr[2] = { &items[0], &items[1] };
	clm__v1__item__init(&items[0]);
	clm__v1__item__init(&items[1]);
	items[0].item_id = "i-1";
	items[0].name = "Starter";
	items[0].category = "plan";
	items[0].price = 49.5;
	items[0].upgrade_to = "i-2";
	items[1].item_id = "i-2";
	items[1].name = "Pro";
	items[1].category = "plan";
	items[1].price = 99;
	Clm__V1__GeoPoint where = CLM__V1__GEO_POINT__INIT;
	where.lat = 48.8566;
	where.lon = 2.3522;
	Clm__V1__Store store = CLM__V1__STORE__INIT;
	Clm__V1__Store *sptr[1] = { &store };
	store.store_id = "s-1";
	store.name = "Paris";
	store.location = &where;
	store.radius_m = 500;
	store.discount_pct = 10;
	Clm__V1__PutCatalogRequest pc = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	pc.n_items = 2;
	pc.items = iptr;
	pc.n_stores = 1;
	pc.stores = sptr;
	req.request_id = "catalog-1";
	req.call_case = CLM__V1__REQUEST__CALL_PUT_CATALOG;
	req.put_catalog = &pc;
	gen_request(dir, "put_catalog", &req);

	Clm__V1__IdentifyRequest__TraitsEntry trait
	        = CLM__V1__IDENTIFY_REQUEST__TRAITS_ENTRY__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry *traits[1] = { &trait };
	trait.key = "plan";
	trait.value = "pro";
	Clm__V1__IdentifyRequest id = CLM__V1__IDENTIFY_REQUEST__INIT;
	id.anonymous_id = "anon-1";
	id.customer_id = "c-1";
	id.n_traits = 1;
	id.traits = traits;
	req.request_id = "identify-1";
	req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	req.identify = &id;
	gen_request(dir, "identify", &req);

	Clm__V1__ForgetCustomerRequest fc
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	fc.customer_id = "c-1";
	req.request_id = "forget-1";
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &fc;
	gen_request(dir, "forget_customer", &req);

	Clm__V1__Spend spend = CLM__V1__SPEND__INIT;
	Clm__V1__Spend *spptr[1] = { &spend };
	spend.channel = CLM__V1__CHANNEL__PAID_ADS;
	spend.day_ms = GEN_T0;
	spend.amount = 120.25;
	spend.currency = "EUR";
	spend.campaign = "spring";
	Clm__V1__RecordSpendRequest rs = CLM__V1__RECORD_SPEND_REQUEST__INIT;
	rs.n_spend = 1;
	rs.spend = spptr;
	req.request_id = "spend-1";
	req.call_case = CLM__V1__REQUEST__CALL_RECORD_SPEND;
	req.record_spend = &rs;
	gen_request(dir, "record_spend", &req);

	Clm__V1__Variant va = CLM__V1__VARIANT__INIT;
	Clm__V1__Variant vb = CLM__V1__VARIANT__INIT;
	Clm__V1__Variant *vptr[2] = { &va, &vb };
	va.name = "a";
	va.weight = 1;
	vb.name = "b";
	vb.weight = 3;
	Clm__V1__DefineExperimentRequest de
	        = CLM__V1__DEFINE_EXPERIMENT_REQUEST__INIT;
	de.experiment_id = "x-1";
	de.n_variants = 2;
	de.variants = vptr;
	de.goal = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	req.request_id = "define-1";
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT;
	req.define_experiment = &de;
	gen_request(dir, "define_experiment", &req);

	Clm__V1__AssignRequest as = CLM__V1__ASSIGN_REQUEST__INIT;
	as.experiment_id = "x-1";
	as.customer_id = "c-1";
	req.request_id = "assign-1";
	req.call_case = CLM__V1__REQUEST__CALL_ASSIGN;
	req.assign = &as;
	gen_request(dir, "assign", &req);
}

/* Inputs that are not valid calls. */
static void
gen_invalid(const char *dir)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "no-call";
	gen_request(dir, "unset_call", &req);
	gen_write(dir, "empty", "", 0);
	/* request_id "future", then field 99 (a call from a newer API). */
	static const uint8_t future[]
	        = { 0x0a, 6, 'f', 'u', 't', 'u', 'r', 'e', 0x9a, 0x06, 0x00 };
	gen_write(dir, "unknown_call", future, sizeof(future));
	/* Wire type 7, a varint that never ends, a truncated field. */
	static const uint8_t garbage[] = { 0x0f, 0x01, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x10, 'a', 'b' };
	gen_write(dir, "garbage", garbage, sizeof(garbage));
	/*
	 * A Track of 10,001 empty touchpoints: refused before decoding, the
	 * repeated field being over its count (docs/api.md "Limits").
	 */
	static uint8_t crowded[4 + 2 * 10001];
	size_t n = 0;
	crowded[n++] = 0x52; /* track, length 20002 as a varint */
	crowded[n++] = (uint8_t) (0x80 | (20002 & 0x7f));
	crowded[n++] = (uint8_t) (0x80 | ((20002 >> 7) & 0x7f));
	crowded[n++] = (uint8_t) (20002 >> 14);
	for (int i = 0; i < 10001; i++) {
		crowded[n++] = 0x0a; /* touchpoints, length 0 */
		crowded[n++] = 0;
	}
	gen_write(dir, "track_crowded", crowded, n);

	static const char tp_json[]
	        = "{\"eventId\":\"e-9\",\"customerId\":\"c-1\",\"type\":\"PURCHASE\",\"channel\":\"EMAIL\",\"occurredAtMs\":\"1768003200000\",\"itemId\":\"i-2\",\"value\":99.5,\"currency\":\"EUR\",\"sentiment\":0.25,\"location\":{\"lat\":48.85,\"lon\":2.35},\"properties\":{\"kind\":\"UPSELL\",\"x\":\"\\u00e9\"}}";
	gen_write(dir, "touchpoint.json", tp_json, sizeof(tp_json) - 1);
	static const char req_json[]
	        = "{\"requestId\":\"json-1\",\"deadlineMs\":500,\"recommend\":{\"customerId\":\"c-1\",\"limit\":2,\"cartItems\":[\"i-1\"],\"claim\":true,\"channel\":\"SMS\",\"nowMs\":\"1768003200000\"}}";
	gen_write(dir, "request.json", req_json, sizeof(req_json) - 1);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	gen_track(dir);
	gen_reads(dir);
	gen_recommend(dir);
	gen_writes(dir);
	gen_invalid(dir);
	return gen_failed;
}
