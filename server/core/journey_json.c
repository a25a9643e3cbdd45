/*
 * journey_json: what is made of a parsed journey definition (journey.c):
 * its normalised JSON, the redacted copy users see, what its conditions
 * read, and the ids of its messages.
 */
#include "core/journey.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "core/journey_impl.h"
#include "jsonstr.h"

/* A growing output buffer; oom remembers a failed growth. */
struct jny_out {
	char *b;
	size_t n, cap;
	bool oom;
};

static void
jny_put(void *arg, const char *s, size_t n)
{
	struct jny_out *o = arg;
	if (o->oom) {
		return;
	}
	if (n + 1 > o->cap - o->n) {
		size_t cap = o->cap == 0 ? 1024 : o->cap;
		while (n + 1 > cap - o->n) {
			cap *= 2;
		}
		char *b = realloc(o->b, cap);
		if (b == NULL) {
			o->oom = true;
			return;
		}
		o->b = b;
		o->cap = cap;
	}
	memcpy(o->b + o->n, s, n);
	o->n += n;
	o->b[o->n] = '\0';
}

static void
jny_raw(struct jny_out *o, const char *s)
{
	jny_put(o, s, strlen(s));
}

static void
jny_strn(struct jny_out *o, const char *s, size_t n)
{
	jsonstr_write(s, n, JSONSTR_SHORT_ESCAPES, jny_put, o);
}

static void
jny_s(struct jny_out *o, const char *s)
{
	jny_strn(o, s, strlen(s));
}

/* The name of value v of enum d (one the parser accepted). */
static void
jny_enum_name(struct jny_out *o, const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev
	        = protobuf_c_enum_descriptor_get_value(d, v);
	jny_s(o, ev != NULL ? ev->name : "");
}

static void
jny_trigger_json(struct jny_out *o, const struct jny_def *d)
{
	switch (d->trigger) {
	case JNY_TRIGGER_EVENT:
		jny_raw(o, "{\"event\": ");
		jny_enum_name(
		        o, &clm__v1__touchpoint_type__descriptor, d->value);
		if (d->trigger_name != NULL) {
			jny_raw(o, ", \"name\": ");
			jny_s(o, d->trigger_name);
		}
		break;
	case JNY_TRIGGER_SEGMENT:
		jny_raw(o, "{\"segment\": ");
		jny_s(o, d->trigger_name);
		break;
	case JNY_TRIGGER_STAGE:
		jny_raw(o, "{\"stage\": ");
		jny_enum_name(o, &clm__v1__stage__descriptor, d->value);
		break;
	default:
		jny_raw(o, "{\"risk\": ");
		jny_enum_name(o, &clm__v1__risk_reason__descriptor, d->value);
		break;
	}
	jny_raw(o, "}");
}

static void
jny_step_json(struct jny_out *o, const struct jny_parser *p, size_t i)
{
	const struct jny_step *st = &p->d->steps[i];
	jny_raw(o, "{\"wait\": ");
	jny_s(o, p->wait_txt[i]);
	if (st->cond != NULL) {
		jny_raw(o, ", \"if\": ");
		jny_strn(o, p->if_src[i], p->if_len[i]);
	}
	jny_raw(o, ", \"send\": {\"kind\": ");
	jny_enum_name(o, &clm__v1__recommendation_kind__descriptor, st->kind);
	jny_raw(o, ", \"action\": ");
	jny_s(o, st->action);
	jny_raw(o, ", \"channel\": ");
	jny_enum_name(o, &clm__v1__channel__descriptor, st->channel);
	if (st->item != NULL) {
		jny_raw(o, ", \"item\": ");
		jny_s(o, st->item);
	}
	jny_raw(o, "}, \"when_capped\": ");
	jny_s(o, st->when_capped == JNY_CAPPED_SKIP ? "skip" : "wait");
	jny_raw(o, "}");
}

clm_err
jny_json(struct jny_parser *p, bool redact)
{
	const struct jny_def *d = p->d;
	struct jny_out o = { NULL, 0, 0, false };
	char num[24];
	jny_raw(&o, "{\"name\": ");
	jny_s(&o, d->name);
	jny_raw(&o, ", \"trigger\": ");
	jny_trigger_json(&o, d);
	if (d->exit != NULL) {
		jny_raw(&o, ", \"exit\": ");
		jny_strn(&o, p->exit_src, p->exit_len);
	}
	jny_raw(&o, ", \"reentry\": ");
	jny_s(&o,
	        d->reentry == JNY_REENTRY_ALWAYS         ? "always"
	                : d->reentry == JNY_REENTRY_ONCE ? "once"
	                                                 : p->reentry_txt);
	jny_raw(&o, ", \"max_lateness\": ");
	jny_s(&o, p->lateness_txt);
	jny_raw(&o, ", \"steps\": [");
	for (size_t i = 0; i < d->n_steps; i++) {
		jny_raw(&o, i > 0 ? ", " : "");
		jny_step_json(&o, p, i);
	}
	jny_raw(&o, "]");
	if (d->webhook_url != NULL) {
		jny_raw(&o, ", \"webhook\": {\"url\": ");
		jny_s(&o, d->webhook_url);
		jny_raw(&o, ", \"secret\": ");
		jny_s(&o, redact ? "***" : d->webhook_secret);
		snprintf(num, sizeof(num), "%u", d->webhook_max_attempts);
		jny_raw(&o, ", \"max_attempts\": ");
		jny_raw(&o, num);
		jny_raw(&o, "}");
	}
	jny_raw(&o, "}");
	if (o.oom) {
		free(o.b);
		return CLM_RESOURCE_EXHAUSTED;
	}
	p->d->json = o.b;
	p->d->json_len = o.n;
	return CLM_OK;
}

char *
jny_redacted(const struct jny_def *d)
{
	struct jny_def *r;
	struct jny_error err;
	if (jny_parse_opt(d->json, d->json_len, true, &r, &err) != CLM_OK) {
		return NULL;
	}
	char *json = r->json;
	r->json = NULL;
	jny_free(r);
	return json;
}

static void
jny_needs_of(const segx *x, int64_t *max_window_ms, bool *since_entry)
{
	struct segx_needs n;
	if (x == NULL) {
		return;
	}
	segx_needs(x, &n);
	if (n.max_window_ms > *max_window_ms) {
		*max_window_ms = n.max_window_ms;
	}
	*since_entry |= n.since_entry;
}

void
jny_needs(const struct jny_def *d, int64_t *max_window_ms, bool *since_entry)
{
	*max_window_ms = 0;
	*since_entry = false;
	jny_needs_of(d->exit, max_window_ms, since_entry);
	for (size_t i = 0; i < d->n_steps; i++) {
		jny_needs_of(d->steps[i].cond, max_window_ms, since_entry);
	}
}

/* jny_be writes the n low bytes of v big-endian at b. */
static void
jny_be(unsigned char *b, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		b[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
}

void
jny_message_id(uint32_t journey, const char *customer_id, int64_t entered_ms,
        uint32_t step, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char head[16], h[16];
	crypto_generichash_state st;
	jny_be(head, journey, 4);
	jny_be(head + 4, (uint64_t) entered_ms, 8);
	jny_be(head + 12, step, 4);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, head, sizeof(head));
	if (customer_id != NULL) {
		crypto_generichash_update(&st,
		        (const unsigned char *) customer_id,
		        strlen(customer_id));
	}
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, "jm_", 3);
	for (int i = 0; i < 16; i++) {
		out[3 + 2 * i] = hex[h[i] >> 4];
		out[4 + 2 * i] = hex[h[i] & 15];
	}
	out[JNY_MESSAGE_ID_LEN] = '\0';
}
