/*
 * Cluster mode (issue 16, docs/cluster.md) against real processes: three
 * nats-servers holding one JetStream stream, and two or three clmd nodes
 * joined to it with --journal, each with its own data directory.
 *
 *   - every kind of write through node A (catalog, Tracks of several
 *     customers and an anonymous id, Identify, spend, an experiment and
 *     its exposures, a claim), then reads through every node with
 *     min_position = A's last position: the same customers, exports,
 *     recommendations, metrics, cohorts and experiment results, byte for
 *     byte (only the reply messages are compared: the Response around them
 *     holds the request id of each call and the read's own position, which
 *     is the node's applied position when the read began and may be ahead
 *     on a node that applied more);
 *   - Identify on A of an anonymous id whose touchpoints went through B
 *     (another subject of the stream): the same merged customer on both;
 *   - claims racing on two nodes for one customer never pass the
 *     frequency cap, and both nodes recorded what the replies claimed;
 *   - a Track of many customers (split into several entries) reports every
 *     touchpoint accepted; the same call again reports duplicates and
 *     counts nothing twice, on either node;
 *   - Forget on A: B answers NOT_FOUND; B wiped and rebuilt from the
 *     stream alone still does, and no entry left in the stream but the
 *     Forget itself holds the customer's or the merged anonymous id;
 *   - the CLI: `clm --json track` prints the write's position, and `clm
 *     --min-position N customer` on the other node shows the write.
 *
 * The leader failover and a wiped node catching up are in
 * cluster_failover_test.c.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "cluster.h"
#include "harness.h"
#include "offers.h"

static struct cluster cl;

static void
suite_setup(void)
{
	memset(&cl, 0, sizeof(cl));
}

static void
suite_teardown(void)
{
	cluster_fini(&cl);
}

TestSuite(
        cluster, .init = suite_setup, .fini = suite_teardown, .timeout = 120);

#define TP(x) CLM__V1__TOUCHPOINT_TYPE__##x
#define CH(x) CLM__V1__CHANNEL__##x

/* A Track call being built: touchpoints with their own id strings. */
#define CALL_MAX 256

struct call {
	Clm__V1__Touchpoint tp[CALL_MAX];
	Clm__V1__Touchpoint *ptr[CALL_MAX];
	char eid[CALL_MAX][48];
	size_t n;
};

static Clm__V1__Touchpoint *
add(struct call *k, const char *eid, const char *customer, const char *anon,
        Clm__V1__TouchpointType type, Clm__V1__Channel ch, int64_t at_ms)
{
	cr_assert_lt(k->n, CALL_MAX);
	Clm__V1__Touchpoint *tp = &k->tp[k->n];
	clm__v1__touchpoint__init(tp);
	snprintf(k->eid[k->n], sizeof(k->eid[k->n]), "%s", eid);
	tp->event_id = k->eid[k->n];
	tp->customer_id = (char *) (customer != NULL ? customer : "");
	tp->anonymous_id = (char *) (anon != NULL ? anon : "");
	tp->type = type;
	tp->channel = ch;
	tp->occurred_at_ms = at_ms;
	k->ptr[k->n] = tp;
	k->n++;
	return tp;
}

/* Sends a write request through c; asserts OK; returns its position. */
static uint64_t
write_ok(clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = cluster_call(c, req, 0, 20000, &resp);
	cr_assert_eq(e, CLM_OK, "write (call %d): %s (%s)",
	        (int) req->call_case, clm_errname(e),
	        resp != NULL && resp->status != NULL ? resp->status->message
	                                             : clm_last_error(c));
	cr_assert_gt(resp->position, 0, "a write acknowledged at position 0");
	uint64_t pos = resp->position;
	if (out != NULL) {
		*out = resp;
	} else {
		clm_response_free(resp);
	}
	return pos;
}

/* Tracks k through c (every touchpoint must be accepted); its position. */
static uint64_t
track_ok(clm_conn *c, struct call *k)
{
	Clm__V1__TrackRequest q = CLM__V1__TRACK_REQUEST__INIT;
	q.touchpoints = k->ptr;
	q.n_touchpoints = k->n;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &q;
	Clm__V1__Response *resp = NULL;
	uint64_t pos = write_ok(c, &req, &resp);
	cr_assert_eq(resp->track->accepted, k->n, "accepted %u of %zu",
	        resp->track->accepted, k->n);
	cr_assert_eq(resp->track->n_rejected, 0);
	clm_response_free(resp);
	return pos;
}

static uint64_t
identify_ok(clm_conn *c, const char *anon, const char *customer)
{
	Clm__V1__IdentifyRequest q = CLM__V1__IDENTIFY_REQUEST__INIT;
	q.anonymous_id = (char *) anon;
	q.customer_id = (char *) customer;
	Clm__V1__IdentifyRequest__TraitsEntry t
	        = CLM__V1__IDENTIFY_REQUEST__TRAITS_ENTRY__INIT;
	t.key = "plan";
	t.value = "pro";
	Clm__V1__IdentifyRequest__TraitsEntry *tp = &t;
	q.traits = &tp;
	q.n_traits = 1;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	req.identify = &q;
	return write_ok(c, &req, NULL);
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---------------------------------------------------------------------- */
/* Writes through A, the same view everywhere.                            */

static const char *const people[]
        = { "c-ann", "c-bob", "c-cy", "c-dee", "c-eve", "c-fay" };
#define N_PEOPLE (sizeof(people) / sizeof(people[0]))

/* Every kind of write, through c; returns the last position. */
static uint64_t
write_everything(clm_conn *c, int64_t t)
{
	const int64_t d = DAY_MS;
	uint64_t pos = 0;

	Clm__V1__Item it[3];
	Clm__V1__Item *itp[3];
	static const char *const ids[] = { "phone", "phone-pro", "case" };
	static const char *const cats[] = { "tech", "tech", "accessories" };
	static const double price[] = { 500, 800, 20 };
	for (int i = 0; i < 3; i++) {
		clm__v1__item__init(&it[i]);
		it[i].item_id = (char *) ids[i];
		it[i].name = (char *) ids[i];
		it[i].category = (char *) cats[i];
		it[i].price = price[i];
		itp[i] = &it[i];
	}
	it[0].upgrade_to = "phone-pro";
	Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
	g.lat = BERLIN_LAT;
	g.lon = BERLIN_LON;
	Clm__V1__Store st = CLM__V1__STORE__INIT;
	st.store_id = "berlin";
	st.name = "Berlin, Mitte";
	st.location = &g;
	st.radius_m = 500;
	st.discount_pct = 15;
	Clm__V1__Store *stp = &st;
	Clm__V1__PutCatalogRequest cat = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	cat.items = itp;
	cat.n_items = 3;
	cat.stores = &stp;
	cat.n_stores = 1;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_PUT_CATALOG;
	req.put_catalog = &cat;
	pos = max64(pos, write_ok(c, &req, NULL));

	static struct call k;
	memset(&k, 0, sizeof(k));
	add(&k, "ann-1", "c-ann", NULL, TP(AD_CLICK), CH(PAID_ADS),
	        t - 20 * d);
	add(&k, "ann-2", "c-ann", NULL, TP(SITE_VISIT), CH(ORGANIC_SEARCH),
	        t - 19 * d)
	        ->duration_s
	        = 240;
	Clm__V1__Touchpoint *p = add(&k, "ann-3", "c-ann", NULL, TP(PURCHASE),
	        CH(EMAIL), t - 18 * d);
	p->item_id = "phone";
	p->value = 500;
	p->currency = "EUR";
	add(&k, "ann-4", "c-ann", NULL, TP(APP_OPEN), CH(IN_APP), t - 2 * d);
	add(&k, "bob-1", "c-bob", NULL, TP(PAGE_VIEW), CH(ORGANIC_SEARCH),
	        t - 15 * d);
	add(&k, "bob-2", "c-bob", NULL, TP(ADD_TO_CART), CH(DIRECT),
	        t - 15 * d)
	        ->item_id
	        = "case";
	add(&k, "cy-1", "c-cy", NULL, TP(SIGNUP), CH(ORGANIC_SOCIAL),
	        t - 30 * d);
	p = add(&k, "cy-2", "c-cy", NULL, TP(PURCHASE), CH(DIRECT),
	        t - 29 * d);
	p->item_id = "case";
	p->value = 20;
	p->currency = "EUR";
	p = add(&k, "cy-3", "c-cy", NULL, TP(PURCHASE), CH(EMAIL), t - 10 * d);
	p->item_id = "phone";
	p->value = 500;
	p->currency = "EUR";
	add(&k, "cy-4", "c-cy", NULL, TP(REFERRAL), CH(REFERRAL_LINK),
	        t - 5 * d);
	add(&k, "cy-5", "c-cy", NULL, TP(REVIEW), CH(DIRECT), t - 4 * d)
	        ->sentiment
	        = 0.8f;
	p = add(&k, "dee-1", "c-dee", NULL, TP(PURCHASE), CH(DIRECT),
	        t - 40 * d);
	p->item_id = "phone";
	p->value = 500;
	p->currency = "EUR";
	p = add(&k, "dee-2", "c-dee", NULL, TP(REFUND), CH(DIRECT),
	        t - 39 * d);
	p->item_id = "phone";
	p->value = 500;
	p->currency = "EUR";
	add(&k, "dee-3", "c-dee", NULL, TP(SUPPORT_TICKET), CH(SUPPORT),
	        t - 38 * d);
	add(&k, "dee-4", "c-dee", NULL, TP(BILLING_ISSUE), CH(SUPPORT),
	        t - 37 * d);
	add(&k, "eve-1", "c-eve", NULL, TP(AD_IMPRESSION), CH(PAID_ADS),
	        t - 3 * d);
	add(&k, "eve-2", "c-eve", NULL, TP(AD_IMPRESSION), CH(PAID_ADS),
	        t - 3 * d + 1000);
	add(&k, "eve-3", "c-eve", NULL, TP(AD_CLICK), CH(PAID_ADS),
	        t - 3 * d + 2000);
	add(&k, "fay-1", "c-fay", NULL, TP(SOCIAL_MENTION), CH(ORGANIC_SOCIAL),
	        t - 6 * d)
	        ->sentiment
	        = -0.7f;
	add(&k, "fay-2", "c-fay", NULL, TP(SITE_VISIT), CH(DIRECT), t - 6 * d)
	        ->duration_s
	        = 60;
	add(&k, "dev-1", NULL, "dev-ann", TP(PAGE_VIEW), CH(ORGANIC_SOCIAL),
	        t - 21 * d);
	add(&k, "dev-2", NULL, "dev-ann", TP(ADD_TO_CART), CH(DIRECT),
	        t - 21 * d)
	        ->item_id
	        = "phone-pro";
	pos = max64(pos, track_ok(c, &k));

	pos = max64(pos, identify_ok(c, "dev-ann", "c-ann"));

	Clm__V1__Spend sp[2];
	Clm__V1__Spend *spp[2];
	for (int i = 0; i < 2; i++) {
		clm__v1__spend__init(&sp[i]);
		sp[i].currency = "EUR";
		spp[i] = &sp[i];
	}
	sp[0].channel = CH(PAID_ADS);
	sp[0].day_ms = (t - 20 * d) / d * d;
	sp[0].amount = 120;
	sp[0].campaign = "spring";
	sp[1].channel = CH(EMAIL);
	sp[1].day_ms = (t - 18 * d) / d * d;
	sp[1].amount = 30;
	Clm__V1__RecordSpendRequest rs = CLM__V1__RECORD_SPEND_REQUEST__INIT;
	rs.spend = spp;
	rs.n_spend = 2;
	req = (Clm__V1__Request) CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_RECORD_SPEND;
	req.record_spend = &rs;
	pos = max64(pos, write_ok(c, &req, NULL));

	Clm__V1__Variant va = CLM__V1__VARIANT__INIT,
	                 vb = CLM__V1__VARIANT__INIT;
	va.name = "a";
	va.weight = 1;
	vb.name = "b";
	vb.weight = 1;
	Clm__V1__Variant *vs[] = { &va, &vb };
	Clm__V1__DefineExperimentRequest de
	        = CLM__V1__DEFINE_EXPERIMENT_REQUEST__INIT;
	de.experiment_id = "exp-1";
	de.variants = vs;
	de.n_variants = 2;
	de.goal = TP(PURCHASE);
	req = (Clm__V1__Request) CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT;
	req.define_experiment = &de;
	pos = max64(pos, write_ok(c, &req, NULL));
	for (size_t i = 0; i < N_PEOPLE; i++) {
		Clm__V1__AssignRequest as = CLM__V1__ASSIGN_REQUEST__INIT;
		as.experiment_id = "exp-1";
		as.customer_id = (char *) people[i];
		req = (Clm__V1__Request) CLM__V1__REQUEST__INIT;
		req.call_case = CLM__V1__REQUEST__CALL_ASSIGN;
		req.assign = &as;
		Clm__V1__Response *resp = NULL;
		clm_err e = cluster_call(c, &req, 0, 20000, &resp);
		cr_assert_eq(
		        e, CLM_OK, "assign %s: %s", people[i], clm_errname(e));
		pos = max64(pos, resp->position);
		clm_response_free(resp);
	}
	/* A purchase after the exposure: a conversion in the results. */
	memset(&k, 0, sizeof(k));
	p = add(&k, "bob-3", "c-bob", NULL, TP(PURCHASE), CH(DIRECT),
	        cluster_wall_ms());
	p->item_id = "case";
	p->value = 20;
	p->currency = "EUR";
	pos = max64(pos, track_ok(c, &k));

	struct ask a = { .customer = "c-cy",
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = BERLIN_LAT,
		.lon = BERLIN_LON,
		.request_id = "claim-cy-1" };
	Clm__V1__Response *resp = NULL;
	const Clm__V1__RecommendReply *r = ask_ok(c, &a, &resp);
	cr_assert_gt(count_live(r, 0), 0, "the claim returned no message");
	pos = max64(pos, resp->position);
	clm_response_free(resp);
	return pos;
}

/* A read's reply on node i, through cluster_read; asserts OK. */
static Clm__V1__Response *
read_on(clm_conn *c, const Clm__V1__Request *req, uint64_t pos)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = cluster_read(c, req, pos, &resp);
	cr_assert_eq(e, CLM_OK, "read (call %d) at %llu: %s (%s)",
	        (int) req->call_case, (unsigned long long) pos, clm_errname(e),
	        resp != NULL && resp->status != NULL ? resp->status->message
	                                             : clm_last_error(c));
	return resp;
}

Test(cluster, writes_on_a_read_the_same_everywhere)
{
	cluster_start(&cl, 3, NULL);
	clm_conn *c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = cluster_conn(&cl, i);
	}
	int64_t t = cluster_wall_ms();
	uint64_t pos = write_everything(c[0], t);
	/* Every read at one fixed instant: health, risk and windows do not
	 * move between the nodes' answers. */
	int64_t at = cluster_wall_ms() + 60000;

	Clm__V1__Response *ref[N_PEOPLE][3] = { { NULL } };
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < N_PEOPLE; j++) {
			Clm__V1__Response *cu
			        = cluster_customer(c[i], people[j], at, pos);
			Clm__V1__Response *x
			        = cluster_export(c[i], people[j], pos);
			struct ask a = { .customer = people[j],
				.limit = 10,
				.include_suppressed = true,
				.has_location = true,
				.lat = BERLIN_LAT,
				.lon = BERLIN_LON,
				.now_ms = at };
			Clm__V1__RecommendRequest q
			        = CLM__V1__RECOMMEND_REQUEST__INIT;
			Clm__V1__GeoPoint g = CLM__V1__GEO_POINT__INIT;
			q.customer_id = (char *) a.customer;
			q.limit = a.limit;
			q.include_suppressed = true;
			q.now_ms = at;
			g.lat = a.lat;
			g.lon = a.lon;
			q.location = &g;
			Clm__V1__Request req = CLM__V1__REQUEST__INIT;
			req.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
			req.recommend = &q;
			Clm__V1__Response *rec = read_on(c[i], &req, pos);
			if (i == 0) {
				ref[j][0] = cu;
				ref[j][1] = x;
				ref[j][2] = rec;
				continue;
			}
			char what[96];
			snprintf(what, sizeof(what), "node %d customer %s", i,
			        people[j]);
			cluster_expect_same(what, &ref[j][0]->customer->base,
			        &cu->customer->base);
			snprintf(what, sizeof(what), "node %d export %s", i,
			        people[j]);
			cluster_expect_same_export(what,
			        ref[j][1]->export_customer,
			        x->export_customer);
			snprintf(what, sizeof(what), "node %d recommend %s", i,
			        people[j]);
			cluster_expect_same(what, &ref[j][2]->recommend->base,
			        &rec->recommend->base);
			cr_expect_eq(cu->customer->stage,
			        ref[j][0]->customer->stage, "%s", what);
			cr_expect_eq(cluster_touches(cu->customer),
			        cluster_touches(ref[j][0]->customer), "%s",
			        what);
			clm_response_free(cu);
			clm_response_free(x);
			clm_response_free(rec);
		}
	}
	/* What A shows is what was written. */
	const Clm__V1__Customer *ann = ref[0][0]->customer;
	cr_expect_eq(ann->purchases, 1);
	cr_expect_eq(cluster_touches(ann), 6, "4 of hers, 2 of dev-ann");
	cr_expect_eq(ann->n_anonymous_ids, 1);
	cr_expect_eq(ann->n_traits, 1);
	cr_expect_eq(ref[2][0]->customer->purchases, 2);
	cr_expect_gt(count_sent(ref[2][1]->export_customer, 0), 0,
	        "c-cy's claim recorded no MESSAGE_SENT");
	for (size_t j = 0; j < N_PEOPLE; j++) {
		for (int k = 0; k < 3; k++) {
			clm_response_free(ref[j][k]);
		}
	}

	/* Metrics, cohorts and experiment results: the aggregates. */
	Clm__V1__MetricsRequest mq = CLM__V1__METRICS_REQUEST__INIT;
	/* Whole UTC days [from, to): to the end of today, bob-3's day. */
	mq.from_ms = t - 60 * DAY_MS;
	mq.to_ms = at + DAY_MS;
	Clm__V1__CohortRequest cq = CLM__V1__COHORT_REQUEST__INIT;
	cq.from_ms = t - 60 * DAY_MS;
	cq.to_ms = at + DAY_MS;
	cq.granularity = CLM__V1__GRANULARITY__WEEK;
	cq.periods = 9;
	Clm__V1__ExperimentResultsRequest eq
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	eq.experiment_id = "exp-1";
	Clm__V1__Request rq[3] = { CLM__V1__REQUEST__INIT,
		CLM__V1__REQUEST__INIT, CLM__V1__REQUEST__INIT };
	rq[0].call_case = CLM__V1__REQUEST__CALL_METRICS;
	rq[0].metrics = &mq;
	rq[1].call_case = CLM__V1__REQUEST__CALL_COHORTS;
	rq[1].cohorts = &cq;
	rq[2].call_case = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS;
	rq[2].experiment_results = &eq;
	Clm__V1__Response *agg[3][3];
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 3; k++) {
			agg[i][k] = read_on(c[i], &rq[k], pos);
		}
	}
	cr_expect_eq(agg[0][0]->metrics->orders, 5,
	        "5 purchases written, metrics count %llu orders",
	        (unsigned long long) agg[0][0]->metrics->orders);
	cr_expect_eq(agg[0][2]->experiment_results->n_variants, 2);
	uint64_t exposed = 0;
	for (size_t v = 0; v < agg[0][2]->experiment_results->n_variants;
	        v++) {
		exposed += agg[0][2]->experiment_results->variants[v]->exposed;
	}
	cr_expect_eq(exposed, N_PEOPLE);
	for (int i = 1; i < 3; i++) {
		char what[64];
		snprintf(what, sizeof(what), "node %d metrics", i);
		cluster_expect_same(what, &agg[0][0]->metrics->base,
		        &agg[i][0]->metrics->base);
		snprintf(what, sizeof(what), "node %d cohorts", i);
		cluster_expect_same(what, &agg[0][1]->cohorts->base,
		        &agg[i][1]->cohorts->base);
		snprintf(what, sizeof(what), "node %d experiment results", i);
		cluster_expect_same(what, &agg[0][2]->experiment_results->base,
		        &agg[i][2]->experiment_results->base);
	}
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 3; k++) {
			clm_response_free(agg[i][k]);
		}
	}

	/* The counts of the whole view. */
	Clm__V1__Response *s0 = cluster_status(c[0], pos);
	for (int i = 1; i < 3; i++) {
		Clm__V1__Response *s = cluster_status(c[i], pos);
		cr_expect_eq(s->server_status->customers,
		        s0->server_status->customers, "node %d customers", i);
		cr_expect_eq(s->server_status->touchpoints,
		        s0->server_status->touchpoints, "node %d touchpoints",
		        i);
		cr_expect_geq(s->position, pos);
		clm_response_free(s);
	}
	clm_response_free(s0);
	for (int i = 0; i < 3; i++) {
		clm_close(c[i]);
	}
}

/* ---------------------------------------------------------------------- */
/* Identify across partitions.                                            */

Test(cluster, identify_merges_an_anonymous_id_written_through_another_node)
{
	cluster_start(&cl, 2, NULL);
	clm_conn *a = cluster_conn(&cl, 0), *b = cluster_conn(&cl, 1);
	int64_t t = cluster_wall_ms() - 5 * DAY_MS;
	static struct call k;
	memset(&k, 0, sizeof(k));
	add(&k, "x-1", NULL, "cookie.*> 9", TP(PAGE_VIEW), CH(ORGANIC_SOCIAL),
	        t);
	add(&k, "x-2", NULL, "cookie.*> 9", TP(ADD_TO_CART), CH(DIRECT),
	        t + 1000)
	        ->item_id
	        = "sku-7";
	add(&k, "x-3", NULL, "cookie.*> 9", TP(SITE_VISIT), CH(DIRECT),
	        t + 2000);
	uint64_t pb = track_ok(b, &k);
	memset(&k, 0, sizeof(k));
	add(&k, "y-1", "grace", NULL, TP(SIGNUP), CH(EMAIL), t + DAY_MS);
	Clm__V1__Touchpoint *p = add(&k, "y-2", "grace", NULL, TP(PURCHASE),
	        CH(EMAIL), t + 2 * DAY_MS);
	p->item_id = "sku-7";
	p->value = 12;
	p->currency = "EUR";
	uint64_t pa = track_ok(a, &k);
	/* A has not necessarily applied B's Track yet: the merge is decided
	 * where the stream puts it, after B's acknowledged entries. */
	uint64_t pi = identify_ok(a, "cookie.*> 9", "grace");
	cr_assert_gt(pi, pb);
	cr_assert_gt(pi, pa);
	int64_t at = cluster_wall_ms() + 60000;
	Clm__V1__Response *ca = cluster_customer(a, "grace", at, pi);
	Clm__V1__Response *cb = cluster_customer(b, "grace", at, pi);
	cr_expect_eq(cluster_touches(ca->customer), 5, "%llu touchpoints",
	        (unsigned long long) cluster_touches(ca->customer));
	cr_assert_eq(ca->customer->n_anonymous_ids, 1);
	cr_expect_str_eq(ca->customer->anonymous_ids[0], "cookie.*> 9");
	cr_expect_eq(ca->customer->acquisition_channel, CH(ORGANIC_SOCIAL),
	        "first touch is the anonymous page view");
	cluster_expect_same(
	        "grace on B", &ca->customer->base, &cb->customer->base);
	Clm__V1__Response *xa = cluster_export(a, "grace", pi);
	Clm__V1__Response *xb = cluster_export(b, "grace", pi);
	cr_expect_eq(xa->export_customer->n_touchpoints, 5);
	cluster_expect_same_export("grace's export on B", xa->export_customer,
	        xb->export_customer);
	clm_response_free(ca);
	clm_response_free(cb);
	clm_response_free(xa);
	clm_response_free(xb);
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* Claims racing on two nodes.                                            */

#define RACERS 12

struct racer {
	const char *url;
	pthread_barrier_t *go;
	char request_id[48];
	clm_err err;
	Clm__V1__Response *resp;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	clm_conn *c = NULL;
	r->err = clm_open(r->url, 20000, &c);
	pthread_barrier_wait(r->go);
	if (r->err != CLM_OK) {
		return NULL;
	}
	struct ask a = { .customer = "racer",
		.limit = 10,
		.claim = true,
		.include_suppressed = true,
		.has_location = true,
		.lat = BERLIN_LAT,
		.lon = BERLIN_LON,
		.request_id = r->request_id };
	r->err = ask_raw(c, &a, &r->resp);
	clm_close(c);
	return NULL;
}

Test(cluster, claims_racing_on_two_nodes_stay_within_the_cap)
{
	static const char *const extra[] = { "--quiet-hours", "0", NULL };
	cluster_start(&cl, 2, extra);
	clm_conn *a = cluster_conn(&cl, 0), *b = cluster_conn(&cl, 1);
	/* Four email candidates (refund, five purchases, ...) and four
	 * stores here: more messages than the cap of 3 per channel. */
	static struct call k;
	memset(&k, 0, sizeof(k));
	int64_t now = cluster_wall_ms();
	char items[5][16];
	for (int i = 0; i < 5; i++) {
		snprintf(items[i], sizeof(items[i]), "r-item%d", i);
		char eid[16];
		snprintf(eid, sizeof(eid), "r-%d", i);
		Clm__V1__Touchpoint *p = add(&k, eid, "racer", NULL,
		        TP(PURCHASE), CH(DIRECT), now - (10 - i) * DAY_MS);
		p->item_id = items[i];
	}
	add(&k, "r-5", "racer", NULL, TP(REFUND), CH(DIRECT), now - 2 * DAY_MS)
	        ->item_id
	        = items[0];
	uint64_t pos = track_ok(a, &k);
	Clm__V1__GeoPoint g[4];
	Clm__V1__Store st[4];
	Clm__V1__Store *stp[4];
	static const char *const sid[] = { "r-a", "r-b", "r-c", "r-d" };
	for (int i = 0; i < 4; i++) {
		clm__v1__geo_point__init(&g[i]);
		g[i].lat = BERLIN_LAT + 0.001 * i;
		g[i].lon = BERLIN_LON;
		clm__v1__store__init(&st[i]);
		st[i].store_id = (char *) sid[i];
		st[i].location = &g[i];
		st[i].radius_m = 1000;
		st[i].discount_pct = 5 + i;
		stp[i] = &st[i];
	}
	Clm__V1__PutCatalogRequest cat = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	cat.stores = stp;
	cat.n_stores = 4;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_PUT_CATALOG;
	req.put_catalog = &cat;
	pos = max64(pos, write_ok(a, &req, NULL));
	/* B has the customer and the stores before the race starts. */
	clm_response_free(cluster_customer(b, "racer", 0, pos));

	pthread_barrier_t go;
	cr_assert_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer) { .url = cl.node[i % 2].url,
			.go = &go };
		snprintf(rs[i].request_id, sizeof(rs[i].request_id), "race-%d",
		        i);
		cr_assert_eq(
		        pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_barrier_destroy(&go);
	size_t email = 0, app = 0;
	for (int i = 0; i < RACERS; i++) {
		cr_expect_eq(rs[i].err, CLM_OK, "racer %d on node %d: %s", i,
		        i % 2, clm_errname(rs[i].err));
		if (rs[i].err == CLM_OK) {
			const Clm__V1__RecommendReply *r
			        = rs[i].resp->recommend;
			cr_assert_not_null(r);
			email += count_live(r, CH(EMAIL));
			app += count_live(r, CH(APP_NOTIFICATION));
			pos = max64(pos, rs[i].resp->position);
		}
		clm_response_free(rs[i].resp);
	}
	Clm__V1__Response *xa = cluster_export(a, "racer", pos);
	Clm__V1__Response *xb = cluster_export(b, "racer", pos);
	size_t sent_email = count_sent(xa->export_customer, CH(EMAIL));
	size_t sent_app
	        = count_sent(xa->export_customer, CH(APP_NOTIFICATION));
	/* quiet hours 0: only the cap binds, exactly 3 per channel. */
	cr_expect_eq(sent_email, 3, "%zu emails recorded, cap 3", sent_email);
	cr_expect_eq(
	        sent_app, 3, "%zu app messages recorded, cap 3", sent_app);
	cr_expect_eq(
	        email, sent_email, "the replies claimed %zu emails", email);
	cr_expect_eq(
	        app, sent_app, "the replies claimed %zu app messages", app);
	cluster_expect_same_export("racer's export on B", xa->export_customer,
	        xb->export_customer);
	clm_response_free(xa);
	clm_response_free(xb);
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* A Track of many customers, and its retry.                              */

#define SPLIT_CUSTOMERS 60

Test(cluster, a_track_of_many_customers_and_its_retry)
{
	cluster_start(&cl, 2, NULL);
	clm_conn *a = cluster_conn(&cl, 0), *b = cluster_conn(&cl, 1);
	static struct call k;
	memset(&k, 0, sizeof(k));
	static char ids[SPLIT_CUSTOMERS][16];
	int64_t t = cluster_wall_ms() - DAY_MS;
	for (int i = 0; i < SPLIT_CUSTOMERS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "many-%02d", i);
		char eid[32];
		snprintf(eid, sizeof(eid), "many-%02d-v", i);
		add(&k, eid, ids[i], NULL, TP(SITE_VISIT), CH(DIRECT), t + i);
		snprintf(eid, sizeof(eid), "many-%02d-p", i);
		Clm__V1__Touchpoint *p = add(&k, eid, ids[i], NULL,
		        TP(PURCHASE), CH(EMAIL), t + 1000 + i);
		p->value = 10 + i;
		p->currency = "EUR";
	}
	Clm__V1__TrackRequest q = CLM__V1__TRACK_REQUEST__INIT;
	q.touchpoints = k.ptr;
	q.n_touchpoints = k.n;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &q;
	Clm__V1__Response *r1 = NULL, *r2 = NULL;
	uint64_t p1 = write_ok(a, &req, &r1);
	cr_expect_eq(r1->track->accepted, 2 * SPLIT_CUSTOMERS);
	cr_expect_eq(r1->track->duplicates, 0);
	cr_expect_eq(r1->track->n_rejected, 0);
	/* The same call again, through the other node: all duplicates. */
	uint64_t p2 = write_ok(b, &req, &r2);
	cr_expect_eq(r2->track->accepted, 0, "%u accepted again",
	        r2->track->accepted);
	cr_expect_eq(r2->track->duplicates, 2 * SPLIT_CUSTOMERS);
	cr_expect_eq(r2->track->n_rejected, 0);
	clm_response_free(r1);
	clm_response_free(r2);
	uint64_t pos = max64(p1, p2);
	for (int n = 0; n < 2; n++) {
		clm_conn *c = n == 0 ? a : b;
		for (int i = 0; i < SPLIT_CUSTOMERS; i++) {
			Clm__V1__Response *cu
			        = cluster_customer(c, ids[i], 0, pos);
			cr_expect_eq(cluster_touches(cu->customer), 2,
			        "node %d: %s has %llu touchpoints", n, ids[i],
			        (unsigned long long) cluster_touches(
			                cu->customer));
			cr_expect_eq(cu->customer->purchases, 1, "node %d: %s",
			        n, ids[i]);
			clm_response_free(cu);
		}
		Clm__V1__Response *s = cluster_status(c, pos);
		cr_expect_eq(s->server_status->customers, SPLIT_CUSTOMERS,
		        "node %d", n);
		cr_expect_eq(s->server_status->touchpoints,
		        2 * SPLIT_CUSTOMERS, "node %d", n);
		clm_response_free(s);
	}
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* Forget, and a node rebuilt from the stream.                            */

/* What a scan of the stream found. */
struct forget_scan {
	size_t with_gone;      /* entries, other than Forgets, holding them */
	size_t forgets;        /* entries on "CLM.f" */
	size_t with_kept;      /* entries holding the customer kept */
	uint64_t first_bad;    /* the first of with_gone */
	char bad_subject[128]; /* its subject */
};

static void
forget_scan_one(void *arg, const struct cluster_entry *e)
{
	struct forget_scan *s = arg;
	static const char *const gone[] = { "gone.*> x", "gone-dev 1" };
	bool is_forget = strcmp(e->subject, CLUSTER_STREAM ".f") == 0;
	s->forgets += is_forget;
	for (int i = 0; i < 2 && !is_forget; i++) {
		if (cluster_has_bytes(
		            e->data, e->len, gone[i], strlen(gone[i]))) {
			if (s->with_gone++ == 0) {
				s->first_bad = e->seq;
				snprintf(s->bad_subject,
				        sizeof(s->bad_subject), "%s",
				        e->subject);
			}
			break;
		}
	}
	s->with_kept += cluster_has_bytes(e->data, e->len, "kept-one", 8);
}

Test(cluster, forget_stays_forgotten_on_a_node_rebuilt_from_the_stream)
{
	cluster_start(&cl, 2, NULL);
	clm_conn *a = cluster_conn(&cl, 0), *b = cluster_conn(&cl, 1);
	int64_t t = cluster_wall_ms() - 3 * DAY_MS;
	/* An id with the characters a subject must not hold, and an
	 * anonymous id merged into it, written through B. */
	static struct call k;
	memset(&k, 0, sizeof(k));
	add(&k, "g-1", NULL, "gone-dev 1", TP(PAGE_VIEW), CH(DIRECT), t);
	uint64_t pos = track_ok(b, &k);
	memset(&k, 0, sizeof(k));
	add(&k, "g-2", "gone.*> x", NULL, TP(SIGNUP), CH(EMAIL), t + 1000);
	Clm__V1__Touchpoint *p = add(&k, "g-3", "gone.*> x", NULL,
	        TP(PURCHASE), CH(EMAIL), t + 2000);
	p->value = 30;
	p->currency = "EUR";
	add(&k, "k-1", "kept-one", NULL, TP(SIGNUP), CH(EMAIL), t + 3000);
	pos = max64(pos, track_ok(a, &k));
	pos = max64(pos, identify_ok(a, "gone-dev 1", "gone.*> x"));
	Clm__V1__Response *cu = cluster_customer(b, "gone.*> x", 0, pos);
	cr_assert_eq(cluster_touches(cu->customer), 3);
	clm_response_free(cu);

	Clm__V1__ForgetCustomerRequest fq
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	fq.customer_id = "gone.*> x";
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &fq;
	Clm__V1__Response *fr = NULL;
	uint64_t pf = write_ok(a, &req, &fr);
	cr_expect(fr->forget_customer->existed);
	cr_expect_eq(fr->forget_customer->touchpoints_deleted, 3);
	clm_response_free(fr);

	/* B applied the Forget. */
	Clm__V1__GetCustomerRequest gq = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	gq.customer_id = "gone.*> x";
	Clm__V1__Request greq = CLM__V1__REQUEST__INIT;
	greq.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	greq.get_customer = &gq;
	Clm__V1__Response *r = NULL;
	cr_expect_eq(cluster_read(b, &greq, pf, &r), CLM_NOT_FOUND);
	clm_response_free(r);

	/* B from nothing but the stream. */
	clm_close(b);
	cluster_node_wipe(&cl, 1);
	cluster_node_start(&cl, 1);
	b = cluster_conn(&cl, 1);
	r = NULL;
	cr_expect_eq(cluster_read(b, &greq, pf, &r), CLM_NOT_FOUND,
	        "the rebuilt node has the forgotten customer");
	clm_response_free(r);
	gq.customer_id = "gone-dev 1";
	r = NULL;
	cr_expect_eq(cluster_read(b, &greq, pf, &r), CLM_NOT_FOUND,
	        "the rebuilt node has the forgotten anonymous id");
	clm_response_free(r);
	cu = cluster_customer(b, "kept-one", 0, pf);
	cr_expect_eq(cluster_touches(cu->customer), 1,
	        "the rebuilt node lost another customer");
	clm_response_free(cu);
	Clm__V1__Response *s = cluster_status(b, pf);
	cr_expect_eq(s->server_status->customers, 1);
	cr_expect_eq(s->server_status->touchpoints, 1);
	clm_response_free(s);

	/* And the stream: the Forget stays, nothing else holds the ids. */
	struct forget_scan sc = { 0 };
	size_t n = cluster_stream_scan(&cl, forget_scan_one, &sc);
	cr_expect_gt(n, 0);
	cr_expect_eq(sc.with_gone, 0,
	        "%zu entries still hold the forgotten ids, the first at "
	        "position %llu on '%s'",
	        sc.with_gone, (unsigned long long) sc.first_bad,
	        sc.bad_subject);
	cr_expect_eq(sc.forgets, 1, "%zu Forget entries", sc.forgets);
	cr_expect_geq(sc.with_kept, 1, "the scan saw no entry's content");
	clm_close(a);
	clm_close(b);
}

/* ---------------------------------------------------------------------- */
/* The CLI.                                                               */

/* The number after "position" in clm's JSON ("position":"N" or N). */
static uint64_t
json_position(const char *out)
{
	const char *p = strstr(out, "\"position\"");
	cr_assert_not_null(p, "no position in: %s", out);
	p += strlen("\"position\"");
	while (*p == ' ' || *p == ':' || *p == '"') {
		p++;
	}
	char *end = NULL;
	unsigned long long v = strtoull(p, &end, 10);
	cr_assert(end != p, "no position number in: %s", out);
	return v;
}

Test(cluster, cli_json_position_and_min_position)
{
	cluster_start(&cl, 2, NULL);
	const char *const tr[] = { "--url", cl.node[0].url, "--json", "track",
		"--customer", "cli-c", "--type", "purchase", "--value",
		"49.90", "--currency", "EUR", "--event-id", "cli-1", NULL };
	struct cli_output o = cli_run(tr, NULL);
	cr_assert_eq(o.rc, 0, "clm track: %s%s", o.out, o.err);
	uint64_t pos = json_position(o.out);
	cr_assert_gt(pos, 0);
	cli_output_free(&o);
	char min[32];
	snprintf(min, sizeof(min), "%llu", (unsigned long long) pos);
	const char *const get[] = { "--url", cl.node[1].url, "--min-position",
		min, "--timeout", "20000", "customer", "cli-c", NULL };
	o = cli_run(get, NULL);
	cr_assert_eq(o.rc, 0, "clm customer on B: %s%s", o.out, o.err);
	cr_expect_not_null(strstr(o.out, "cli-c"), "%s", o.out);
	cr_expect_not_null(strstr(o.out, "purchases    1"), "%s", o.out);
	cli_output_free(&o);
	/* A position no node has reached: "not caught up", not an answer. */
	snprintf(min, sizeof(min), "%llu", (unsigned long long) pos + 1000);
	const char *const ahead[] = { "--url", cl.node[1].url,
		"--min-position", min, "customer", "cli-c", NULL };
	o = cli_run(ahead, NULL);
	cr_expect_neq(
	        o.rc, 0, "answered at a position not reached: %s", o.out);
	cr_expect_not_null(strstr(o.err, "not caught up"), "%s", o.err);
	cli_output_free(&o);
}
