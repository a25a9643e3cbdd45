/*
 * sdk: sdk_parse, the shapes of the bodies (docs/ingest.md), and the
 * fields a touchpoint's type takes from an event's properties (orders,
 * products, reviews), which Segment and PostHog events share.
 */
#include "ingest/sdk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/sdk_internal.h"

/*
 * The arena budget of one body: 1 MiB, and 64 bytes per byte of body. A
 * tree node is 32 bytes and the smallest JSON value two ("1,"), child
 * arrays double, and the messages come on top: a 500 KB batch of small
 * items takes about 32 times its size (sdk_parse_test's
 * full_batch_within_budget).
 */
#define SDK_ARENA_BASE     ((size_t) 1 << 20)
#define SDK_ARENA_PER_BYTE ((size_t) 64)

/* The id of a product: product_id, else sku, else (in products[]) id. */
static const struct sdk_json *
sdk_product_id(const struct sdk_json *p, bool in_list)
{
	static const char *const keys[] = { "product_id", "sku", "id" };
	for (size_t i = 0; i < (in_list ? 3u : 2u); i++) {
		const struct sdk_json *v = sdk_json_get(p, keys[i]);
		if (v != NULL
		        && ((v->type == SDK_JSON_STRING && v->n > 0)
		                || v->type == SDK_JSON_NUMBER)) {
			return v;
		}
	}
	return NULL;
}

/* Reads the money field key of props into *out when present. */
static bool
sdk_money(struct sdk_ctx *c, const struct sdk_json *props, const char *key,
        const char *field, bool *found, double *out)
{
	const struct sdk_json *v = sdk_json_get(props, key);
	char name[64];

	if (v == NULL || v->type == SDK_JSON_NULL || *found) {
		return true;
	}
	snprintf(name, sizeof(name), "%s.%s", field, key);
	if (!sdk_json_double(v, out)) {
		sdk_error(c, name, "must be a number");
		return false;
	}
	if (*out < 0) {
		sdk_error(c, name, "must not be negative");
		return false;
	}
	if (*out > VALIDATE_MAX_VALUE) {
		sdk_error(c, name, "must be at most 1e12");
		return false;
	}
	*found = true;
	return true;
}

/* An order's item_id and order_items from its products[] (or its own
 * product_id), and, without revenue or total, its value from them. */
static bool
sdk_order(struct sdk_ctx *c, Clm__V1__Touchpoint *tp,
        const struct sdk_json *props, const char *field, bool have_value)
{
	const struct sdk_json *products = sdk_json_get(props, "products");
	const struct sdk_json *own = sdk_product_id(props, false);
	double sum = 0;
	bool summed = false;
	char name[64];

	if (own != NULL) {
		snprintf(name, sizeof(name), "%s.%s", field, own->key);
		if (!sdk_id(c, own, name, (const char **) &tp->item_id)) {
			return false;
		}
	}
	if (products == NULL || products->type != SDK_JSON_ARRAY) {
		return true;
	}
	char **items = arena_alloc(c->a, SDK_MAX_ORDER_ITEMS * sizeof(*items));
	if (items == NULL) {
		c->oom = true;
		return false;
	}
	for (uint32_t i = 0; i < products->n; i++) {
		const struct sdk_json *p = &products->u.kids[i];
		const struct sdk_json *idv = sdk_product_id(p, true);
		const char *id;
		double price, qty = 1;

		if (sdk_json_double(sdk_json_get(p, "price"), &price)) {
			sdk_json_double(sdk_json_get(p, "quantity"), &qty);
			sum += price * qty;
			summed = true;
		}
		if (idv == NULL) {
			continue;
		}
		snprintf(name, sizeof(name), "%s.products[%u].%s", field, i,
		        idv->key);
		if (!sdk_id(c, idv, name, &id)) {
			return false;
		}
		if (tp->item_id[0] == '\0') {
			tp->item_id = (char *) id;
			continue;
		}
		bool seen = strcmp(tp->item_id, id) == 0;
		for (size_t k = 0; !seen && k < tp->n_order_items; k++) {
			seen = strcmp(items[k], id) == 0;
		}
		if (!seen && tp->n_order_items < SDK_MAX_ORDER_ITEMS) {
			items[tp->n_order_items++] = (char *) id;
		}
	}
	if (tp->n_order_items > 0) {
		tp->order_items = items;
	}
	if (!have_value && summed && isfinite(sum) && sum >= 0
	        && sum <= VALIDATE_MAX_VALUE) {
		tp->value = sum;
	}
	return true;
}

bool
sdk_event_fields(struct sdk_ctx *c, Clm__V1__Touchpoint *tp,
        const struct sdk_json *props, const char *field)
{
	const struct sdk_json *idv;
	char name[64];
	bool found = false;
	double v = 0;

	switch (tp->type) {
	case CLM__V1__TOUCHPOINT_TYPE__PURCHASE:
	case CLM__V1__TOUCHPOINT_TYPE__REFUND: {
		/* A purchase is its revenue (before shipping and tax), a
		 * refund its total (what goes back), each else the other. */
		bool refund = tp->type == CLM__V1__TOUCHPOINT_TYPE__REFUND;
		if (!sdk_money(c, props, refund ? "total" : "revenue", field,
		            &found, &v)
		        || !sdk_money(c, props, refund ? "revenue" : "total",
		                field, &found, &v)) {
			return false;
		}
		tp->value = v;
		const struct sdk_json *cur = sdk_json_get(props, "currency");
		if (cur != NULL && cur->type != SDK_JSON_NULL) {
			const char *s = sdk_json_str(cur);
			snprintf(name, sizeof(name), "%s.currency", field);
			if (s == NULL || cur->n > 16 || strlen(s) != cur->n
			        || !validate_utf8(s, cur->n, true)) {
				sdk_error(c, name,
				        "must be a currency code of at most 16 bytes");
				return false;
			}
			tp->currency = (char *) s;
		}
		return sdk_order(c, tp, props, field, found);
	}
	case CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART:
	case CLM__V1__TOUCHPOINT_TYPE__REMOVE_FROM_CART:
	case CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW:
	case CLM__V1__TOUCHPOINT_TYPE__REVIEW:
		idv = sdk_product_id(props, false);
		if (idv != NULL) {
			snprintf(name, sizeof(name), "%s.%s", field, idv->key);
			if (!sdk_id(c, idv, name,
			            (const char **) &tp->item_id)) {
				return false;
			}
		}
		/* A rating of 1 to 5 stars is a sentiment of -1 to 1. */
		if (tp->type == CLM__V1__TOUCHPOINT_TYPE__REVIEW
		        && sdk_json_double(sdk_json_get(props, "rating"), &v)
		        && v >= 1 && v <= 5) {
			tp->sentiment = (float) ((v - 3) / 2);
		}
		return true;
	default:
		return true;
	}
}

/* The sentAt (sent_at) of v as unix ms, or INT64_MIN when absent or not
 * a date-time (then no clock correction is made). */
static int64_t
sdk_sent_at(const struct sdk_json *v)
{
	int64_t ms;
	if (v == NULL || v->type != SDK_JSON_STRING
	        || !sdk_time_parse(v->u.s, v->n, &ms)) {
		return INT64_MIN;
	}
	return ms;
}

/* Maps every item of list (or the body, when single) into c. */
static void
sdk_items(struct sdk_ctx *c, const struct sdk_json *list,
        const struct sdk_json *single, enum sdk_route route)
{
	uint32_t n = single != NULL ? 1 : list->n;

	c->out->n_items = n;
	for (uint32_t i = 0; i < n && !c->oom; i++) {
		const struct sdk_json *item
		        = single != NULL ? single : &list->u.kids[i];
		c->item = i;
		c->failed = false;
		if (item->span > SDK_MAX_ITEM_BYTES) {
			sdk_error(c, NULL, "item is %u bytes, more than %u",
			        item->span, SDK_MAX_ITEM_BYTES);
		} else if (item->type != SDK_JSON_OBJECT) {
			sdk_error(c, NULL, "must be an object");
		} else if (route == SDK_ROUTE_POSTHOG) {
			sdk_posthog_item(c, item);
		} else {
			sdk_segment_item(c, item, route);
		}
	}
}

clm_err
sdk_parse(const struct sdk_map *m, const struct validate_limits *lim,
        enum sdk_route route, const char *body, size_t len, int64_t now_ms,
        arena *a, struct sdk_batch *out, char *err, size_t errlen)
{
	struct sdk_batch b = { 0 };
	struct sdk_ctx c = { .map = m,
		.lim = lim,
		.a = a,
		.now_ms = now_ms,
		.out = &b,
		.list = "batch",
		.sent_ms = INT64_MIN };
	const struct sdk_json *root, *list = NULL, *single = NULL;
	bool own_budget = a->budget == 0;
	clm_err e;

	if (len > SDK_MAX_BATCH_BYTES) {
		snprintf(err, errlen, "the body is %zu bytes, more than %u",
		        len, SDK_MAX_BATCH_BYTES);
		return CLM_INVALID_ARGUMENT;
	}
	if (own_budget) {
		arena_budget(a, SDK_ARENA_BASE + SDK_ARENA_PER_BYTE * len);
	}
	struct sdk_json *tree;
	e = sdk_json_parse(body, len, a, &tree, err, errlen);
	if (e != CLM_OK) {
		goto done;
	}
	root = tree;
	if (route == SDK_ROUTE_POSTHOG && root->type == SDK_JSON_ARRAY) {
		list = root; /* the older /batch/ form: a bare array */
		c.list = "";
	} else if (root->type != SDK_JSON_OBJECT) {
		snprintf(err, errlen, "the body is not a JSON object");
		e = CLM_INVALID_ARGUMENT;
		goto done;
	} else if (route == SDK_ROUTE_BATCH || route == SDK_ROUTE_POSTHOG) {
		list = sdk_json_get(root, "batch");
		if (list != NULL && list->type != SDK_JSON_ARRAY) {
			list = NULL;
		}
		if (list == NULL && route == SDK_ROUTE_POSTHOG
		        && sdk_json_get(root, "event") != NULL) {
			single = root;
		} else if (list == NULL) {
			snprintf(err, errlen, "no \"batch\" array");
			e = CLM_INVALID_ARGUMENT;
			goto done;
		}
	} else {
		single = root;
	}
	if (route == SDK_ROUTE_POSTHOG && root->type == SDK_JSON_OBJECT) {
		b.api_key = sdk_json_str(sdk_json_get(root, "api_key"));
		if (b.api_key == NULL && single != NULL) {
			b.api_key = sdk_json_str(sdk_json_get(
			        sdk_json_get(root, "properties"), "token"));
		}
		c.sent_ms = sdk_sent_at(sdk_json_get(root, "sent_at"));
	} else if (route == SDK_ROUTE_BATCH) {
		c.sent_ms = sdk_sent_at(sdk_json_get(root, "sentAt"));
	}
	c.single = single != NULL;
	sdk_items(&c, list, single, route);
	if (c.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
done:
	if (e == CLM_RESOURCE_EXHAUSTED || arena_over_budget(a)) {
		snprintf(err, errlen,
		        "the body needs more memory than %zu bytes",
		        own_budget ? SDK_ARENA_BASE + SDK_ARENA_PER_BYTE * len
		                   : a->budget);
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (own_budget) {
		arena_budget(a, 0);
	}
	if (e == CLM_OK) {
		*out = b;
	}
	return e;
}
