/*
 * sdk_segment: one item of Segment's (and RudderStack's) HTTP tracking
 * API mapped onto a touchpoint or an Identify, as docs/ingest.md,
 * "Segment and RudderStack", says.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "ingest/sdk_internal.h"

enum sdk_segment_type {
	SDK_SEG_TRACK,
	SDK_SEG_PAGE,
	SDK_SEG_SCREEN,
	SDK_SEG_IDENTIFY,
	SDK_SEG_ALIAS,
	SDK_SEG_GROUP,
};

static const char *const sdk_segment_types[] = {
	[SDK_SEG_TRACK] = "track",
	[SDK_SEG_PAGE] = "page",
	[SDK_SEG_SCREEN] = "screen",
	[SDK_SEG_IDENTIFY] = "identify",
	[SDK_SEG_ALIAS] = "alias",
	[SDK_SEG_GROUP] = "group",
};

/* The item's type: from its route, or its "type" in a batch. */
static bool
sdk_segment_type(struct sdk_ctx *c, const struct sdk_json *item,
        enum sdk_route route, enum sdk_segment_type *t)
{
	switch (route) {
	case SDK_ROUTE_TRACK:
		*t = SDK_SEG_TRACK;
		return true;
	case SDK_ROUTE_IDENTIFY:
		*t = SDK_SEG_IDENTIFY;
		return true;
	case SDK_ROUTE_PAGE:
		*t = SDK_SEG_PAGE;
		return true;
	case SDK_ROUTE_SCREEN:
		*t = SDK_SEG_SCREEN;
		return true;
	case SDK_ROUTE_ALIAS:
		*t = SDK_SEG_ALIAS;
		return true;
	case SDK_ROUTE_GROUP:
		*t = SDK_SEG_GROUP;
		return true;
	default:
		break;
	}
	const char *s = sdk_json_str(sdk_json_get(item, "type"));
	if (s == NULL) {
		sdk_error(c, "type",
		        "is required: identify, track, page, screen, group or alias");
		return false;
	}
	for (size_t i = 0;
	        i < sizeof(sdk_segment_types) / sizeof(sdk_segment_types[0]);
	        i++) {
		if (strcasecmp(s, sdk_segment_types[i]) == 0) {
			*t = (enum sdk_segment_type) i;
			return true;
		}
	}
	sdk_error(c, "type",
	        "unknown type: identify, track, page, screen, group or alias");
	return false;
}

/* context.campaign (UTM) and context.location of a touchpoint. */
static bool
sdk_segment_context(struct sdk_ctx *c, const struct sdk_json *item,
        Clm__V1__Touchpoint *tp)
{
	const struct sdk_json *ctx = sdk_json_get(item, "context");
	const struct sdk_json *camp = sdk_json_get(ctx, "campaign");
	const struct sdk_json *loc = sdk_json_get(ctx, "location");
	const char *name = sdk_json_str(sdk_json_get(camp, "name"));
	double lat, lon;

	tp->channel = sdk_channel(sdk_json_str(sdk_json_get(camp, "medium")),
	        sdk_json_str(sdk_json_get(camp, "source")));
	/* A campaign name clm cannot keep is left out, not an error. */
	if (name != NULL && validate_id(name, c->lim->max_id_bytes) == NULL) {
		tp->campaign = (char *) name;
	}
	if (sdk_json_double(sdk_json_get(loc, "latitude"), &lat)
	        && sdk_json_double(sdk_json_get(loc, "longitude"), &lon)
	        && fabs(lat) <= 90 && fabs(lon) <= 180) {
		Clm__V1__GeoPoint *g = arena_alloc(c->a, sizeof(*g));
		if (g == NULL) {
			c->oom = true;
			return false;
		}
		clm__v1__geo_point__init(g);
		g->lat = lat;
		g->lon = lon;
		tp->location = g;
	}
	return true;
}

/* An object field that must be an object when present. */
static bool
sdk_segment_object(struct sdk_ctx *c, const struct sdk_json *item,
        const char *key, const struct sdk_json **out)
{
	const struct sdk_json *v = sdk_json_get(item, key);
	*out = NULL;
	if (v == NULL || v->type == SDK_JSON_NULL) {
		return true;
	}
	if (v->type != SDK_JSON_OBJECT) {
		sdk_error(c, key, "must be an object");
		return false;
	}
	*out = v;
	return true;
}

/* track, page and screen: one touchpoint. */
static void
sdk_segment_touch(struct sdk_ctx *c, const struct sdk_json *item,
        enum sdk_segment_type t, const char *user, const char *anon)
{
	const struct sdk_json *props;
	const char *name, *event_id;
	struct sdk_props p = { 0 };
	int64_t at;
	int type;

	if (user[0] == '\0' && anon[0] == '\0') {
		sdk_error(c, "userId", "userId or anonymousId is required");
		return;
	}
	if (t == SDK_SEG_TRACK) {
		const struct sdk_json *ev = sdk_json_get(item, "event");
		name = sdk_json_str(ev);
		if (name == NULL || name[0] == '\0') {
			sdk_error(c, "event", "is required: a string");
			return;
		}
		if (ev->n > c->lim->max_id_bytes || strlen(name) != ev->n
		        || !validate_utf8(name, ev->n, true)) {
			sdk_error(c, "event",
			        "must be 1..%zu bytes of printable UTF-8",
			        c->lim->max_id_bytes);
			return;
		}
	} else {
		/* Pages and screens go by PostHog's names in the table, so
		 * one line maps (or ignores) the page views of every SDK. */
		name = t == SDK_SEG_PAGE ? "$pageview" : "$screen";
	}
	type = sdk_event_type(c->map, name);
	if (type == SDK_MAP_IGNORE) {
		return;
	}
	if (!sdk_segment_object(c, item, "properties", &props)
	        || !sdk_id(c, sdk_json_get(item, "messageId"), "messageId",
	                &event_id)) {
		return;
	}
	const struct sdk_json *ts = sdk_json_get(item, "timestamp");
	const char *ts_field = "timestamp";
	if (ts == NULL || ts->type == SDK_JSON_NULL) {
		ts = sdk_json_get(item, "originalTimestamp");
		ts_field = "originalTimestamp";
	}
	int64_t sent = c->sent_ms;
	const struct sdk_json *sa = sdk_json_get(item, "sentAt");
	if (sa != NULL && sa->type == SDK_JSON_STRING) {
		int64_t ms;
		if (sdk_time_parse(sa->u.s, sa->n, &ms)) {
			sent = ms;
		}
	}
	if (!sdk_time(c, ts, sent, ts_field, &at)) {
		return;
	}
	Clm__V1__Touchpoint *tp = sdk_touchpoint_new(c);
	if (tp == NULL) {
		return;
	}
	tp->event_id = (char *) event_id;
	tp->customer_id = (char *) user;
	tp->anonymous_id = (char *) anon;
	tp->type = (Clm__V1__TouchpointType) type;
	tp->occurred_at_ms = at;
	if (type == CLM__V1__TOUCHPOINT_TYPE__CUSTOM) {
		tp->event_name = (char *) name;
	}
	if (!sdk_segment_context(c, item, tp)
	        || !sdk_event_fields(c, tp, props, "properties")) {
		return;
	}
	if (t != SDK_SEG_TRACK) {
		/* A page's name and category come before its properties. */
		const char *s = sdk_json_str(sdk_json_get(item, "name"));
		if (s != NULL && !sdk_props_add(c, &p, "name", s)) {
			return;
		}
		s = sdk_json_str(sdk_json_get(item, "category"));
		if (s != NULL && !sdk_props_add(c, &p, "category", s)) {
			return;
		}
	}
	if (!sdk_flatten(c, &p, props, NULL, false)
	        || !sdk_props_to_tp(c, &p, tp)) {
		return;
	}
	struct sdk_op *op = sdk_op_add(c, SDK_OP_TRACK);
	if (op != NULL) {
		op->tp = tp;
	}
}

/* identify, alias and group: one Identify. */
static void
sdk_segment_identify(struct sdk_ctx *c, const struct sdk_json *item,
        enum sdk_segment_type t, const char *user, const char *anon)
{
	struct sdk_props p = { 0 };
	const struct sdk_json *traits;
	const char *prefix = NULL;

	if (t == SDK_SEG_ALIAS) {
		if (!sdk_id(c, sdk_json_get(item, "previousId"), "previousId",
		            &anon)) {
			return;
		}
		if (anon[0] == '\0') {
			sdk_error(c, "previousId", "is required for an alias");
			return;
		}
		if (user[0] == '\0') {
			sdk_error(c, "userId", "is required for an alias");
			return;
		}
	} else if (user[0] == '\0') {
		sdk_error(c, "userId",
		        "is required: clm keeps traits on known customers only");
		return;
	}
	if (t == SDK_SEG_GROUP) {
		const char *group;
		if (!sdk_id(c, sdk_json_get(item, "groupId"), "groupId",
		            &group)) {
			return;
		}
		if (group[0] == '\0') {
			sdk_error(
			        c, "groupId", "is required for a group call");
			return;
		}
		if (!sdk_props_add(c, &p, "group.id", group)) {
			return;
		}
		prefix = "group";
	}
	if (!sdk_segment_object(c, item, "traits", &traits)) {
		return;
	}
	Clm__V1__IdentifyRequest *req = sdk_identify_new(c);
	if (req == NULL || !sdk_flatten(c, &p, traits, prefix, false)
	        || !sdk_props_to_traits(c, &p, req)) {
		return;
	}
	/* Identify needs an anonymous id: a userId alone is linked to
	 * itself, which api.md allows and which changes nothing else. */
	req->customer_id = (char *) user;
	req->anonymous_id
	        = (char *) (anon[0] != '\0' && t != SDK_SEG_GROUP ? anon
	                                                          : user);
	struct sdk_op *op = sdk_op_add(c, SDK_OP_IDENTIFY);
	if (op != NULL) {
		op->identify = req;
	}
}

void
sdk_segment_item(
        struct sdk_ctx *c, const struct sdk_json *item, enum sdk_route route)
{
	enum sdk_segment_type t;
	const char *user, *anon;

	if (!sdk_segment_type(c, item, route, &t)
	        || !sdk_id(c, sdk_json_get(item, "userId"), "userId", &user)
	        || !sdk_id(c, sdk_json_get(item, "anonymousId"), "anonymousId",
	                &anon)) {
		return;
	}
	switch (t) {
	case SDK_SEG_TRACK:
	case SDK_SEG_PAGE:
	case SDK_SEG_SCREEN:
		sdk_segment_touch(c, item, t, user, anon);
		break;
	default:
		sdk_segment_identify(c, item, t, user, anon);
		break;
	}
}
