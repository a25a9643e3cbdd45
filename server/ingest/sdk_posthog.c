/*
 * sdk_posthog: one PostHog event mapped onto a touchpoint or an Identify,
 * as docs/ingest.md, "PostHog", says.
 */
#include <string.h>

#include "ingest/sdk_internal.h"

/* $ properties kept, under plain names; every other $ property (the
 * library's, the session's, $set on events other than $identify) is
 * dropped. */
static const struct {
	const char *from, *to;
} sdk_posthog_kept[] = {
	{ "$current_url", "url" },
	{ "$pathname", "path" },
	{ "$referrer", "referrer" },
	{ "$screen_name", "name" },
	{ "$title", "title" },
};

/* Top-level properties posthog-js repeats from the event: dropped. */
static const char *const sdk_posthog_dropped[] = { "token", "distinct_id" };

/*
 * The traits of $identify and $set: $set, then $set_once's other keys;
 * their $ keys (posthog-js's $initial_referrer, $browser, ...) describe
 * the device, as on events, and are left out.
 */
static bool
sdk_posthog_traits(struct sdk_ctx *c, const struct sdk_json *ev,
        const struct sdk_json *props, struct sdk_props *p)
{
	const struct sdk_json *set = sdk_json_get(props, "$set");
	const struct sdk_json *once = sdk_json_get(props, "$set_once");
	struct sdk_props q = { 0 };

	if (set == NULL) {
		set = sdk_json_get(ev, "$set");
	}
	if (once == NULL) {
		once = sdk_json_get(ev, "$set_once");
	}
	if (!sdk_flatten(c, p, set, NULL, true)
	        || !sdk_flatten(c, &q, once, NULL, true)) {
		return false;
	}
	for (size_t i = 0; i < q.n; i++) {
		bool seen = false;
		for (size_t k = 0; !seen && k < p->n; k++) {
			seen = strcmp(p->kv[k].key, q.kv[i].key) == 0;
		}
		if (!seen
		        && !sdk_props_add(c, p, q.kv[i].key, q.kv[i].value)) {
			return false;
		}
	}
	return true;
}

/* $identify, $set and $create_alias: one Identify. */
static void
sdk_posthog_identify(struct sdk_ctx *c, const struct sdk_json *ev,
        const struct sdk_json *props, const char *event, const char *user)
{
	struct sdk_props p = { 0 };
	const char *anon = "";

	if (strcmp(event, "$create_alias") == 0) {
		if (!sdk_id(c, sdk_json_get(props, "alias"),
		            "properties.alias", &anon)) {
			return;
		}
		if (anon[0] == '\0') {
			sdk_error(c, "properties.alias",
			        "is required for $create_alias");
			return;
		}
	} else {
		if (strcmp(event, "$identify") == 0
		        && !sdk_id(c, sdk_json_get(props, "$anon_distinct_id"),
		                "properties.$anon_distinct_id", &anon)) {
			return;
		}
		if (!sdk_posthog_traits(c, ev, props, &p)) {
			return;
		}
	}
	Clm__V1__IdentifyRequest *req = sdk_identify_new(c);
	if (req == NULL || !sdk_props_to_traits(c, &p, req)) {
		return;
	}
	req->customer_id = (char *) user;
	req->anonymous_id = (char *) (anon[0] != '\0' ? anon : user);
	struct sdk_op *op = sdk_op_add(c, SDK_OP_IDENTIFY);
	if (op != NULL) {
		op->identify = req;
	}
}

/*
 * Whether distinct_id is still an anonymous visitor's: the SDKs say so
 * with $process_person_profile or $is_identified false, or (posthog-js)
 * by a distinct_id equal to $device_id, both being the generated id
 * until identify.
 */
static bool
sdk_posthog_anonymous(const struct sdk_json *props, const char *user)
{
	const struct sdk_json *pp
	        = sdk_json_get(props, "$process_person_profile");
	const struct sdk_json *ident = sdk_json_get(props, "$is_identified");
	const char *dev = sdk_json_str(sdk_json_get(props, "$device_id"));
	return (pp != NULL && pp->type == SDK_JSON_FALSE)
	        || (ident != NULL && ident->type == SDK_JSON_FALSE)
	        || (dev != NULL && strcmp(dev, user) == 0);
}

/* Any other event: one touchpoint, unless the table ignores it. */
static void
sdk_posthog_touch(struct sdk_ctx *c, const struct sdk_json *ev,
        const struct sdk_json *props, const char *event, const char *user)
{
	struct sdk_props p = { 0 };
	const char *event_id;
	int64_t at;
	int type = sdk_event_type(c->map, event);

	if (type == SDK_MAP_IGNORE
	        || !sdk_id(c, sdk_json_get(ev, "uuid"), "uuid", &event_id)) {
		return;
	}
	const struct sdk_json *ts = sdk_json_get(ev, "timestamp");
	const struct sdk_json *offset = sdk_json_get(ev, "offset");
	double off;
	if ((ts == NULL || ts->type == SDK_JSON_NULL)
	        && sdk_json_double(offset, &off) && off >= 0 && off < 1e15) {
		/* posthog-js without a timestamp: ms before it was sent. */
		if (!sdk_time_check(
		            c, c->now_ms - (int64_t) off, "offset", &at)) {
			return;
		}
	} else if (!sdk_time(c, ts, c->sent_ms, "timestamp", &at)) {
		return;
	}
	Clm__V1__Touchpoint *tp = sdk_touchpoint_new(c);
	if (tp == NULL) {
		return;
	}
	tp->event_id = (char *) event_id;
	if (sdk_posthog_anonymous(props, user)) {
		tp->anonymous_id = (char *) user;
	} else {
		tp->customer_id = (char *) user;
	}
	tp->type = (Clm__V1__TouchpointType) type;
	tp->occurred_at_ms = at;
	if (type == CLM__V1__TOUCHPOINT_TYPE__CUSTOM) {
		tp->event_name = (char *) event;
	}
	tp->channel
	        = sdk_channel(sdk_json_str(sdk_json_get(props, "utm_medium")),
	                sdk_json_str(sdk_json_get(props, "utm_source")));
	const char *camp = sdk_json_str(sdk_json_get(props, "utm_campaign"));
	if (camp != NULL && validate_id(camp, c->lim->max_id_bytes) == NULL) {
		tp->campaign = (char *) camp;
	}
	if (!sdk_event_fields(c, tp, props, "properties")) {
		return;
	}
	for (size_t i = 0;
	        i < sizeof(sdk_posthog_kept) / sizeof(sdk_posthog_kept[0]);
	        i++) {
		const char *s = sdk_json_str(
		        sdk_json_get(props, sdk_posthog_kept[i].from));
		if (s != NULL && strlen(s) > 0
		        && !sdk_props_add(c, &p, sdk_posthog_kept[i].to, s)) {
			return;
		}
	}
	size_t kept = p.n;
	if (!sdk_flatten(c, &p, props, NULL, true)) {
		return;
	}
	/* Out go the flattened keys posthog-js repeats from the event. */
	size_t k = kept;
	for (size_t i = kept; i < p.n; i++) {
		bool drop = false;
		for (size_t d = 0; d < sizeof(sdk_posthog_dropped)
		                / sizeof(sdk_posthog_dropped[0]);
		        d++) {
			drop = drop
			        || strcmp(p.kv[i].key, sdk_posthog_dropped[d])
			                == 0;
		}
		if (!drop) {
			p.kv[k++] = p.kv[i];
		}
	}
	p.n = k;
	if (!sdk_props_to_tp(c, &p, tp)) {
		return;
	}
	struct sdk_op *op = sdk_op_add(c, SDK_OP_TRACK);
	if (op != NULL) {
		op->tp = tp;
	}
}

void
sdk_posthog_item(struct sdk_ctx *c, const struct sdk_json *ev)
{
	const struct sdk_json *evv = sdk_json_get(ev, "event");
	const struct sdk_json *props = sdk_json_get(ev, "properties");
	const char *event = sdk_json_str(evv), *user;

	if (event == NULL || event[0] == '\0') {
		sdk_error(c, "event", "is required: a string");
		return;
	}
	if (evv->n > c->lim->max_id_bytes || strlen(event) != evv->n
	        || !validate_utf8(event, evv->n, true)) {
		sdk_error(c, "event",
		        "must be 1..%zu bytes of printable UTF-8",
		        c->lim->max_id_bytes);
		return;
	}
	if (props != NULL && props->type != SDK_JSON_OBJECT
	        && props->type != SDK_JSON_NULL) {
		sdk_error(c, "properties", "must be an object");
		return;
	}
	if (props != NULL && props->type == SDK_JSON_NULL) {
		props = NULL;
	}
	if (!sdk_id(c, sdk_json_get(ev, "distinct_id"), "distinct_id",
	            &user)) {
		return;
	}
	if (user[0] == '\0') {
		/* posthog-js puts it in the properties too. */
		if (!sdk_id(c, sdk_json_get(props, "distinct_id"),
		            "properties.distinct_id", &user)) {
			return;
		}
		if (user[0] == '\0') {
			sdk_error(c, "distinct_id", "is required");
			return;
		}
	}
	if (strcmp(event, "$set") == 0 && sdk_posthog_anonymous(props, user)) {
		/*
		 * posthog-js's setPersonProperties() before identify(): an
		 * Identify of the device id into itself would make it a known
		 * customer, and the $identify after it could not merge it.
		 */
		sdk_error(c, "distinct_id",
		        "is anonymous: clm keeps traits on known customers only");
		return;
	}
	if (strcmp(event, "$identify") == 0 || strcmp(event, "$set") == 0
	        || strcmp(event, "$create_alias") == 0) {
		sdk_posthog_identify(c, ev, props, event, user);
	} else {
		sdk_posthog_touch(c, ev, props, event, user);
	}
}
