#include "offers.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/time.h>

void
offers_start(struct clmd_proc *srv, const char *const *extra)
{
	int rc = clmd_start(srv, NULL, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv->log_path);
}

clm_conn *
offers_connect(const struct clmd_proc *srv)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv->url, 10000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv->url, clm_open_error());
	return c;
}

int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
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
void
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

/* Sends a; returns the reply's status code or a transport error. */
clm_err
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
const Clm__V1__RecommendReply *
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

size_t
count_live(const Clm__V1__RecommendReply *r, Clm__V1__Channel ch)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = r->recommendations[i];
		n += !o->suppressed && (ch == 0 || o->channel == ch);
	}
	return n;
}

const Clm__V1__Recommendation *
find_kind(const Clm__V1__RecommendReply *r, Clm__V1__RecommendationKind k)
{
	for (size_t i = 0; i < r->n_recommendations; i++) {
		if (r->recommendations[i]->kind == k) {
			return r->recommendations[i];
		}
	}
	return NULL;
}

Clm__V1__Response *
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
size_t
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

size_t
sent_of(clm_conn *c, const char *id, Clm__V1__Channel ch)
{
	Clm__V1__Response *resp = export_of(c, id);
	size_t n = count_sent(resp->export_customer, ch);
	clm_response_free(resp);
	return n;
}

const char *
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
void
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
const Clm__V1__FieldViolation *
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
