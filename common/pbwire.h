/*
 * pbwire: checks on a protobuf message in its wire format, before (or
 * instead of) unpacking it. protobuf-c 1.4.1 unpacks a string field into a
 * NUL-terminated char * and keeps no length, so a string holding a NUL byte
 * ("victim\0x") is silently cut short once unpacked; only the packed bytes
 * still say what the client sent.
 */
#ifndef CLM_PBWIRE_H
#define CLM_PBWIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting of messages (and groups) pbwire_find_nul follows. */
#define PBWIRE_MAX_DEPTH 32

/* What pbwire_find_nul found. */
enum pbwire_result {
	PBWIRE_OK,        /* well-formed, and no string holds a NUL byte */
	PBWIRE_NUL,       /* a string field holds a NUL byte: path names it */
	PBWIRE_MALFORMED, /* truncated, or a wire type that cannot be */
	PBWIRE_TOO_DEEP,  /* nested deeper than PBWIRE_MAX_DEPTH */
};

/*
 * pbwire_find_nul walks the message of descriptor d packed in buf[0..len)
 * and looks for a 0 byte in every field of type string, in messages nested
 * inside it too (with the field's own descriptor). Bytes fields may hold
 * NUL bytes and are not looked into, nor are fields d does not know (they
 * are skipped by their wire type, as are groups). It reads each byte at
 * most once, allocates nothing and recurses at most PBWIRE_MAX_DEPTH deep.
 *
 * Returns PBWIRE_OK; PBWIRE_NUL for the first string, in wire order, that
 * holds a NUL, with its path written to path (pathlen bytes, truncated,
 * always NUL-terminated when pathlen > 0) in the style of the API's field
 * violations: field names of the .proto joined by '.', an element of a
 * repeated field with its index, "track.touchpoints[3].customer_id";
 * PBWIRE_MALFORMED when the bytes are not a protobuf message (a truncated
 * field, an end-group without its start, wire type 6 or 7); or
 * PBWIRE_TOO_DEEP. path is "" unless PBWIRE_NUL. Thread-safe.
 */
enum pbwire_result pbwire_find_nul(const ProtobufCMessageDescriptor *d,
        const uint8_t *buf, size_t len, char *path, size_t pathlen);

#endif /* CLM_PBWIRE_H */
