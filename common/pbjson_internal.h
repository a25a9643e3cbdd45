/*
 * pbjson_internal: what pbjson.c, pbjson_print.c and pbjson_parse.c share.
 * Not part of the pbjson API.
 */
#ifndef CLM_PBJSON_INTERNAL_H
#define CLM_PBJSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pbjson.h"

#define PBJSON_MEMBER(msg, off) ((void *) ((char *) (msg) + (off)))
#define PBJSON_CMEMBER(msg, off) \
	((const void *) ((const char *) (msg) + (off)))

/*
 * Longest field path kept for error messages; longer ones end in "...".
 * Small enough that a whole message fits a 256-byte buffer.
 */
#define PBJSON_PATH_MAX 128

/* Longest user-supplied value quoted in an error message. */
#define PBJSON_SNIP_MAX 48

bool pbjson_is_map(const ProtobufCMessageDescriptor *parent,
        const ProtobufCFieldDescriptor *f);
int pbjson_int_bits(ProtobufCType type);
size_t pbjson_type_size(ProtobufCType type);
const char *pbjson_type_name(ProtobufCType type);
const char *pbjson_int_text(
        ProtobufCType type, const void *m, char *buf, size_t size);

#endif /* CLM_PBJSON_INTERNAL_H */
