/*
 * sdk_field: the helpers every SDK's mapping shares: errors, operations,
 * ids, times, channels and flattening (sdk_internal.h). docs/ingest.md
 * describes every rule here; keep the two in step.
 */
#include "ingest/sdk_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "civil.h"

void
sdk_error(struct sdk_ctx *c, const char *field, const char *fmt, ...)
{
	struct sdk_batch *out = c->out;
	struct sdk_item_error *errs;
	va_list ap;

	c->failed = true;
	errs = arena_grow(c->a, out->errors, out->n_errors, &c->errors_cap,
	        sizeof(*errs));
	if (errs == NULL) {
		c->oom = true;
		return;
	}
	out->errors = errs;
	struct sdk_item_error *e = &errs[out->n_errors];
	e->item = c->item;
	e->code = CLM_INVALID_ARGUMENT;
	if (c->single) {
		e->field = arena_strdup(c->a, field != NULL ? field : "");
	} else if (field == NULL) {
		e->field = arena_printf(c->a, "%s[%u]", c->list, c->item);
	} else {
		e->field = arena_printf(
		        c->a, "%s[%u].%s", c->list, c->item, field);
	}
	va_start(ap, fmt);
	e->message = arena_vprintf(c->a, fmt, ap);
	va_end(ap);
	if (e->field == NULL || e->message == NULL) {
		c->oom = true;
		return;
	}
	out->n_errors++;
}

struct sdk_op *
sdk_op_add(struct sdk_ctx *c, enum sdk_op_kind kind)
{
	struct sdk_batch *out = c->out;
	struct sdk_op *ops = arena_grow(
	        c->a, out->ops, out->n_ops, &c->ops_cap, sizeof(*ops));
	if (ops == NULL) {
		c->oom = true;
		return NULL;
	}
	out->ops = ops;
	struct sdk_op *op = &ops[out->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->item = c->item;
	return op;
}

Clm__V1__Touchpoint *
sdk_touchpoint_new(struct sdk_ctx *c)
{
	Clm__V1__Touchpoint *tp = arena_alloc(c->a, sizeof(*tp));
	if (tp == NULL) {
		c->oom = true;
		return NULL;
	}
	clm__v1__touchpoint__init(tp);
	return tp;
}

Clm__V1__IdentifyRequest *
sdk_identify_new(struct sdk_ctx *c)
{
	Clm__V1__IdentifyRequest *r = arena_alloc(c->a, sizeof(*r));
	if (r == NULL) {
		c->oom = true;
		return NULL;
	}
	clm__v1__identify_request__init(r);
	return r;
}

bool
sdk_id(struct sdk_ctx *c, const struct sdk_json *v, const char *field,
        const char **out)
{
	*out = "";
	if (v == NULL || v->type == SDK_JSON_NULL) {
		return true;
	}
	if (v->type != SDK_JSON_STRING && v->type != SDK_JSON_NUMBER) {
		sdk_error(c, field, "must be a string or a number");
		return false;
	}
	if (v->n == 0) {
		return true;
	}
	if (v->n > c->lim->max_id_bytes) {
		sdk_error(c, field, "is %u bytes, more than %zu", v->n,
		        c->lim->max_id_bytes);
		return false;
	}
	if (v->type == SDK_JSON_NUMBER) {
		/* SDKs take numeric ids: kept as the JSON text ("42"). */
		char *s = arena_strndup(c->a, v->u.s, v->n);
		if (s == NULL) {
			c->oom = true;
			return false;
		}
		*out = s;
		return true;
	}
	if (strlen(v->u.s) != v->n) {
		sdk_error(c, field, "must not contain a NUL character");
		return false;
	}
	if (!validate_utf8(v->u.s, v->n, true)) {
		sdk_error(c, field, "must be printable UTF-8");
		return false;
	}
	*out = v->u.s;
	return true;
}

/* Reads exactly n decimal digits at s into *v. */
static bool
sdk_digits(const char *s, size_t n, int *v)
{
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

bool
sdk_time_parse(const char *s, size_t n, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	int64_t off_min = 0;
	size_t i;

	if (n < 10 || !sdk_digits(s, 4, &y) || s[4] != '-'
	        || !sdk_digits(s + 5, 2, &mo) || s[7] != '-'
	        || !sdk_digits(s + 8, 2, &d)) {
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1) {
		return false;
	}
	/* The day must exist: the next day is then in the same month, or
	 * the first of the next. */
	int64_t y2, days = civil_to_days(y, mo, d);
	int m2, d2;
	civil_from_days(days, &y2, &m2, &d2);
	if (m2 != mo || d2 != d) {
		return false;
	}
	i = 10;
	if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		if (n < i + 6 || !sdk_digits(s + i + 1, 2, &h)
		        || s[i + 3] != ':' || !sdk_digits(s + i + 4, 2, &mi)) {
			return false;
		}
		i += 6;
		if (i < n && s[i] == ':') {
			if (n < i + 3 || !sdk_digits(s + i + 1, 2, &sec)) {
				return false;
			}
			i += 3;
			if (i < n && (s[i] == '.' || s[i] == ',')) {
				size_t k = 0;
				i++;
				while (i + k < n && s[i + k] >= '0'
				        && s[i + k] <= '9') {
					if (k < 3) {
						frac = frac * 10
						        + (s[i + k] - '0');
					}
					k++;
				}
				if (k == 0) {
					return false;
				}
				for (size_t z = k; z < 3; z++) {
					frac *= 10;
				}
				i += k;
			}
		}
		if (h > 23 || mi > 59 || sec > 59) {
			return false;
		}
		if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < n && (s[i] == '+' || s[i] == '-')) {
			int oh, om = 0;
			int sign = s[i] == '-' ? -1 : 1;
			if (n < i + 3 || !sdk_digits(s + i + 1, 2, &oh)) {
				return false;
			}
			i += 3;
			if (i < n && s[i] == ':') {
				i++;
			}
			if (i < n) {
				if (n < i + 2 || !sdk_digits(s + i, 2, &om)) {
					return false;
				}
				i += 2;
			}
			if (oh > 23 || om > 59) {
				return false;
			}
			off_min = sign * (oh * 60 + om);
		}
	}
	if (i != n) {
		return false;
	}
	*ms = ((days * 24 + h) * 60 + mi - off_min) * 60000 + sec * 1000
	        + frac;
	return true;
}

bool
sdk_time(struct sdk_ctx *c, const struct sdk_json *v, int64_t sent,
        const char *field, int64_t *ms)
{
	int64_t t;

	if (v == NULL || v->type == SDK_JSON_NULL) {
		*ms = c->now_ms;
		return true;
	}
	if (v->type != SDK_JSON_STRING || !sdk_time_parse(v->u.s, v->n, &t)) {
		sdk_error(c, field,
		        "must be an ISO-8601 date-time such as \"2024-05-01T12:00:00.000Z\"");
		return false;
	}
	if (sent != INT64_MIN) {
		t += c->now_ms - sent;
	}
	return sdk_time_check(c, t, field, ms);
}

bool
sdk_time_check(struct sdk_ctx *c, int64_t t, const char *field, int64_t *ms)
{
	if (t < VALIDATE_MIN_TIME_MS) {
		sdk_error(c, field,
		        "is before 2000-01-01, the earliest event time");
		return false;
	}
	if (t > c->now_ms + VALIDATE_MAX_AHEAD_MS) {
		sdk_error(c, field,
		        "is more than 24 h ahead of the server's clock");
		return false;
	}
	*ms = t;
	return true;
}

struct sdk_channel_name {
	const char *name;
	Clm__V1__Channel channel;
};

/* utm_medium values (docs/ingest.md, "Channels"). */
static const struct sdk_channel_name sdk_mediums[] = {
	{ "cpc", CLM__V1__CHANNEL__PAID_ADS },
	{ "ppc", CLM__V1__CHANNEL__PAID_ADS },
	{ "cpm", CLM__V1__CHANNEL__PAID_ADS },
	{ "cpv", CLM__V1__CHANNEL__PAID_ADS },
	{ "paid", CLM__V1__CHANNEL__PAID_ADS },
	{ "paidsearch", CLM__V1__CHANNEL__PAID_ADS },
	{ "paid-search", CLM__V1__CHANNEL__PAID_ADS },
	{ "paid_search", CLM__V1__CHANNEL__PAID_ADS },
	{ "paid-social", CLM__V1__CHANNEL__PAID_ADS },
	{ "paid_social", CLM__V1__CHANNEL__PAID_ADS },
	{ "paidsocial", CLM__V1__CHANNEL__PAID_ADS },
	{ "display", CLM__V1__CHANNEL__PAID_ADS },
	{ "banner", CLM__V1__CHANNEL__PAID_ADS },
	{ "ads", CLM__V1__CHANNEL__PAID_ADS },
	{ "ad", CLM__V1__CHANNEL__PAID_ADS },
	{ "retargeting", CLM__V1__CHANNEL__PAID_ADS },
	{ "email", CLM__V1__CHANNEL__EMAIL },
	{ "e-mail", CLM__V1__CHANNEL__EMAIL },
	{ "e_mail", CLM__V1__CHANNEL__EMAIL },
	{ "newsletter", CLM__V1__CHANNEL__EMAIL },
	{ "social", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "social-network", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "social_network", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "social-media", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "social_media", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "sm", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "organic", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "seo", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "referral", CLM__V1__CHANNEL__REFERRAL_LINK },
	{ "affiliate", CLM__V1__CHANNEL__REFERRAL_LINK },
	{ "partner", CLM__V1__CHANNEL__REFERRAL_LINK },
	{ "sms", CLM__V1__CHANNEL__SMS },
	{ "text", CLM__V1__CHANNEL__SMS },
	{ "push", CLM__V1__CHANNEL__APP_NOTIFICATION },
	{ "notification", CLM__V1__CHANNEL__APP_NOTIFICATION },
	{ "in-app", CLM__V1__CHANNEL__IN_APP },
	{ "in_app", CLM__V1__CHANNEL__IN_APP },
	{ "inapp", CLM__V1__CHANNEL__IN_APP },
	{ "chat", CLM__V1__CHANNEL__LIVE_CHAT },
	{ "direct", CLM__V1__CHANNEL__DIRECT },
	{ "(none)", CLM__V1__CHANNEL__DIRECT },
	{ "none", CLM__V1__CHANNEL__DIRECT },
};

/* utm_source values, used when the medium says nothing. */
static const struct sdk_channel_name sdk_sources[] = {
	{ "google", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "bing", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "yahoo", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "duckduckgo", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "baidu", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "yandex", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "ecosia", CLM__V1__CHANNEL__ORGANIC_SEARCH },
	{ "facebook", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "instagram", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "twitter", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "x", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "linkedin", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "tiktok", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "reddit", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "pinterest", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "youtube", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "mastodon", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
	{ "newsletter", CLM__V1__CHANNEL__EMAIL },
	{ "email", CLM__V1__CHANNEL__EMAIL },
	{ "sms", CLM__V1__CHANNEL__SMS },
};

static Clm__V1__Channel
sdk_channel_find(const struct sdk_channel_name *t, size_t n, const char *name)
{
	if (name == NULL) {
		return CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(t[i].name, name) == 0) {
			return t[i].channel;
		}
	}
	return CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED;
}

Clm__V1__Channel
sdk_channel(const char *medium, const char *source)
{
	Clm__V1__Channel ch = sdk_channel_find(sdk_mediums,
	        sizeof(sdk_mediums) / sizeof(sdk_mediums[0]), medium);
	if (ch == CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED) {
		ch = sdk_channel_find(sdk_sources,
		        sizeof(sdk_sources) / sizeof(sdk_sources[0]), source);
	}
	return ch;
}

bool
sdk_props_add(struct sdk_ctx *c, struct sdk_props *p, const char *key,
        const char *value)
{
	const struct validate_limits *l = c->lim;
	size_t kn = strlen(key), vn = strlen(value);

	if (p->n >= l->max_properties || kn == 0
	        || kn > l->max_property_key_bytes
	        || vn > l->max_property_value_bytes
	        || !validate_utf8(key, kn, true)) {
		return true;
	}
	struct sdk_kv *kv
	        = arena_grow(c->a, p->kv, p->n, &p->cap, sizeof(*kv));
	if (kv == NULL) {
		c->oom = true;
		return false;
	}
	p->kv = kv;
	kv[p->n].key = arena_strndup(c->a, key, kn);
	kv[p->n].value = (char *) value;
	if (kv[p->n].key == NULL) {
		c->oom = true;
		return false;
	}
	p->n++;
	return true;
}

/* The string form of scalar v (NULL for null, objects, arrays and a
 * string holding NUL, which a C string cannot carry: all dropped). */
static const char *
sdk_scalar(struct sdk_ctx *c, const struct sdk_json *v)
{
	switch (v->type) {
	case SDK_JSON_TRUE:
		return "true";
	case SDK_JSON_FALSE:
		return "false";
	case SDK_JSON_STRING:
		return strlen(v->u.s) == v->n ? v->u.s : NULL;
	case SDK_JSON_NUMBER: {
		char *s = arena_strndup(c->a, v->u.s, v->n);
		if (s == NULL) {
			c->oom = true;
		}
		return s;
	}
	default:
		return NULL;
	}
}

/*
 * Adds the members of container o under the key prefix held in
 * key[0..kn) (a buffer of max_property_key_bytes + 2), scalars, nested or
 * both. A key that grows past the limit is dropped with all below it.
 */
static bool
sdk_flatten_in(struct sdk_ctx *c, struct sdk_props *p,
        const struct sdk_json *o, char *key, size_t kn, bool scalars,
        bool nested, bool skip_dollar)
{
	size_t max = c->lim->max_property_key_bytes;
	char num[16];

	for (uint32_t i = 0; i < o->n; i++) {
		const struct sdk_json *v = &o->u.kids[i];
		bool container = v->type == SDK_JSON_OBJECT
		        || v->type == SDK_JSON_ARRAY;
		const char *name = v->key;
		size_t nn;

		if (p->n >= c->lim->max_properties) {
			return true;
		}
		if ((container && !nested) || (!container && !scalars)) {
			continue;
		}
		if (o->type == SDK_JSON_ARRAY) {
			snprintf(num, sizeof(num), "%u", i);
			name = num;
			nn = strlen(num);
		} else {
			if (skip_dollar && name[0] == '$') {
				continue;
			}
			nn = v->keylen;
			if (strlen(name) != nn) {
				continue; /* a key with a NUL in it */
			}
		}
		size_t total = kn + (kn > 0) + nn;
		if (total > max) {
			continue;
		}
		if (kn > 0) {
			key[kn] = '.';
		}
		memcpy(key + kn + (kn > 0), name, nn);
		key[total] = '\0';
		if (container) {
			if (!sdk_flatten_in(
			            c, p, v, key, total, true, true, false)) {
				return false;
			}
		} else {
			const char *s = sdk_scalar(c, v);
			if (c->oom) {
				return false;
			}
			if (s != NULL && !sdk_props_add(c, p, key, s)) {
				return false;
			}
		}
		key[kn] = '\0';
	}
	return true;
}

bool
sdk_flatten(struct sdk_ctx *c, struct sdk_props *p, const struct sdk_json *o,
        const char *prefix, bool skip_dollar)
{
	size_t max = c->lim->max_property_key_bytes;
	size_t kn = prefix != NULL ? strlen(prefix) : 0;

	if (o == NULL || o->type != SDK_JSON_OBJECT || kn > max) {
		return true;
	}
	char *key = arena_alloc(c->a, max + 2);
	if (key == NULL) {
		c->oom = true;
		return false;
	}
	memcpy(key, prefix != NULL ? prefix : "", kn);
	key[kn] = '\0';
	return sdk_flatten_in(c, p, o, key, kn, true, false, skip_dollar)
	        && sdk_flatten_in(c, p, o, key, kn, false, true, skip_dollar);
}

bool
sdk_props_to_tp(
        struct sdk_ctx *c, const struct sdk_props *p, Clm__V1__Touchpoint *tp)
{
	if (p->n == 0) {
		return true;
	}
	Clm__V1__Touchpoint__PropertiesEntry **v
	        = arena_alloc(c->a, p->n * sizeof(*v));
	Clm__V1__Touchpoint__PropertiesEntry *e
	        = arena_alloc(c->a, p->n * sizeof(*e));
	if (v == NULL || e == NULL) {
		c->oom = true;
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		clm__v1__touchpoint__properties_entry__init(&e[i]);
		e[i].key = p->kv[i].key;
		e[i].value = p->kv[i].value;
		v[i] = &e[i];
	}
	tp->properties = v;
	tp->n_properties = p->n;
	return true;
}

bool
sdk_props_to_traits(struct sdk_ctx *c, const struct sdk_props *p,
        Clm__V1__IdentifyRequest *req)
{
	if (p->n == 0) {
		return true;
	}
	Clm__V1__IdentifyRequest__TraitsEntry **v
	        = arena_alloc(c->a, p->n * sizeof(*v));
	Clm__V1__IdentifyRequest__TraitsEntry *e
	        = arena_alloc(c->a, p->n * sizeof(*e));
	if (v == NULL || e == NULL) {
		c->oom = true;
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		clm__v1__identify_request__traits_entry__init(&e[i]);
		e[i].key = p->kv[i].key;
		e[i].value = p->kv[i].value;
		v[i] = &e[i];
	}
	req->traits = v;
	req->n_traits = p->n;
	return true;
}
