#include "calls/reply.h"

#include <stdarg.h>
#include <string.h>

/* Used when even the Status cannot be allocated. */
static Clm__V1__Status reply_oom = {
	PROTOBUF_C_MESSAGE_INIT(&clm__v1__status__descriptor),
	CLM__V1__CODE__RESOURCE_EXHAUSTED,
	"out of memory",
	0,
	NULL,
};

void
violations_init(struct violations *v, arena *a)
{
	v->a = a;
	v->items = NULL;
	v->n = 0;
	v->cap = 0;
}

void
violations_add(struct violations *v, const char *field, const char *fmt, ...)
{
	Clm__V1__FieldViolation **items
	        = arena_grow(v->a, v->items, v->n, &v->cap, sizeof(*items));
	if (items == NULL) {
		return;
	}
	v->items = items;
	Clm__V1__FieldViolation *fv = arena_alloc(v->a, sizeof(*fv));
	if (fv == NULL) {
		return;
	}
	clm__v1__field_violation__init(fv);
	va_list ap;
	va_start(ap, fmt);
	fv->description = arena_vprintf(v->a, fmt, ap);
	va_end(ap);
	fv->field = arena_strdup(v->a, field);
	if (fv->field == NULL || fv->description == NULL) {
		return;
	}
	v->items[v->n++] = fv;
}

Clm__V1__Status *
reply_status(arena *a, clm_err code, const char *message,
        const struct violations *v)
{
	Clm__V1__Status *st = arena_alloc(a, sizeof(*st));
	if (st == NULL) {
		return &reply_oom;
	}
	clm__v1__status__init(st);
	st->code = (Clm__V1__Code) code;
	st->message = (char *) (message ? message : clm_strerror(code));
	if (v != NULL) {
		st->n_violations = v->n;
		st->violations = v->items;
	}
	return st;
}

void
reply_error(
        Clm__V1__Response *resp, arena *a, clm_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = arena_vprintf(a, fmt, ap);
	va_end(ap);
	resp->status = reply_status(a, code, msg, NULL);
}

static Clm__V1__Status *reply_vfield(arena *a, clm_err code, const char *field,
        const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* A Status of code with one violation naming field. */
static Clm__V1__Status *
reply_vfield(
        arena *a, clm_err code, const char *field, const char *fmt, va_list ap)
{
	struct violations v;
	violations_init(&v, a);
	char *desc = arena_vprintf(a, fmt, ap);
	if (desc == NULL) {
		return reply_status(a, CLM_RESOURCE_EXHAUSTED, NULL, NULL);
	}
	violations_add(&v, field, "%s", desc);
	return reply_status(
	        a, code, arena_printf(a, "%s: %s", field, desc), &v);
}

void
reply_invalid(Clm__V1__Response *resp, arena *a, const char *field,
        const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	resp->status = reply_vfield(a, CLM_INVALID_ARGUMENT, field, fmt, ap);
	va_end(ap);
}

Clm__V1__Status *
reply_field_status(
        arena *a, clm_err code, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	Clm__V1__Status *st = reply_vfield(a, code, field, fmt, ap);
	va_end(ap);
	return st;
}

void
reply_violations(Clm__V1__Response *resp, arena *a, const struct violations *v)
{
	if (v->n == 0) {
		resp->status = reply_status(
		        a, CLM_INVALID_ARGUMENT, "invalid request", NULL);
		return;
	}
	char *msg = v->n == 1
	        ? arena_printf(a, "%s: %s", v->items[0]->field,
	                v->items[0]->description)
	        : arena_printf(a, "%s: %s (and %zu more)", v->items[0]->field,
	                v->items[0]->description, v->n - 1);
	resp->status = reply_status(a, CLM_INVALID_ARGUMENT, msg, v);
}
