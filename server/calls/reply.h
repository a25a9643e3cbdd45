/*
 * reply: building the Status of a Response, with its field violations, in
 * request arena memory.
 */
#ifndef CLM_REPLY_H
#define CLM_REPLY_H

#include <stddef.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "util/arena.h"

/* A growing list of FieldViolations in arena memory. */
struct violations {
	arena *a;
	Clm__V1__FieldViolation **items;
	size_t n, cap;
};

/* violations_init starts an empty list drawing from a. */
void violations_init(struct violations *v, arena *a);

/*
 * violations_add appends {field, description}; field is copied, the
 * description formatted. Silently stops growing when memory is exhausted.
 */
void violations_add(struct violations *v, const char *field, const char *fmt,
        ...) __attribute__((format(printf, 3, 4)));

/*
 * reply_status returns a Status {code, message, violations} in arena memory
 * (v may be NULL); NULL only when memory is exhausted.
 */
Clm__V1__Status *reply_status(arena *a, clm_err code, const char *message,
        const struct violations *v);

/* reply_error sets resp->status to code with a formatted message. */
void reply_error(Clm__V1__Response *resp, arena *a, clm_err code,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * reply_invalid sets resp->status to INVALID_ARGUMENT with one violation
 * naming field: the message reads "FIELD: DESCRIPTION".
 */
void reply_invalid(Clm__V1__Response *resp, arena *a, const char *field,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * reply_field_status returns a Status with code and one violation naming
 * field, the message reading "FIELD: DESCRIPTION" (arena memory; on
 * exhausted memory, a RESOURCE_EXHAUSTED one). For a field whose value is
 * well formed but conflicts with what is stored (FAILED_PRECONDITION).
 */
Clm__V1__Status *reply_field_status(arena *a, clm_err code, const char *field,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * reply_violations sets resp->status to INVALID_ARGUMENT with every
 * violation of v (at least one); the message quotes the first.
 */
void reply_violations(
        Clm__V1__Response *resp, arena *a, const struct violations *v);

#endif /* CLM_REPLY_H */
