/*
 * pbwire: checks on a protobuf message in its wire format, before (or
 * instead of) unpacking it. protobuf-c 1.4.1 unpacks a string field into a
 * NUL-terminated char * and keeps no length, so a string holding a NUL byte
 * ("victim\0x") is silently cut short once unpacked; only the packed bytes
 * still say what the client sent. And unpacking costs memory per element,
 * before anything about the message is known: counting the elements, or
 * reading the token, on the wire costs nothing.
 */
#ifndef CLM_PBWIRE_H
#define CLM_PBWIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting of messages (and groups) pbwire_find_nul follows. */
#define PBWIRE_MAX_DEPTH 32

/*
 * The fields of one message whose occurrences pbwire_find_crowded counts:
 * the first PBWIRE_COUNTED_FIELDS of its descriptor (clm's largest message
 * has 20; a unit test checks that every message a Request can hold fits).
 */
#define PBWIRE_COUNTED_FIELDS 64

/* What pbwire_find_nul found. */
enum pbwire_result {
	PBWIRE_OK,        /* well-formed, and no string holds a NUL byte */
	PBWIRE_NUL,       /* a string field holds a NUL byte: path names it */
	PBWIRE_MALFORMED, /* truncated, or a wire type that cannot be */
	PBWIRE_TOO_DEEP,  /* nested deeper than PBWIRE_MAX_DEPTH */
	PBWIRE_TOO_MANY,  /* a repeated field over its count: path names it */
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

/*
 * pbwire_find_crowded walks the message of descriptor d packed in
 * buf[0..len), and the messages nested in it, as pbwire_find_nul does, and
 * counts the occurrences of each repeated field (map fields included) in
 * each message. Unpacking costs memory per element (protobuf-c allocates a
 * struct for every element of a repeated message field, even an empty one
 * sent as two bytes), so this tells, without allocating, whether unpacking
 * would build more than max elements of one field in one message.
 *
 * Returns PBWIRE_TOO_MANY for the first field, in wire order, that occurs
 * more than max times in one message, with its path written to path as
 * pbwire_find_nul does ("track.touchpoints",
 * "track.touchpoints[2].properties"); PBWIRE_OK when none does; or
 * PBWIRE_MALFORMED or PBWIRE_TOO_DEEP as pbwire_find_nul, for bytes it
 * cannot walk (the count is then unknown). Elements of a packed repeated
 * scalar field are not counted (they cost no more than their bytes).
 * path is "" unless PBWIRE_TOO_MANY. Thread-safe.
 */
enum pbwire_result pbwire_find_crowded(const ProtobufCMessageDescriptor *d,
        const uint8_t *buf, size_t len, size_t max, char *path,
        size_t pathlen);

/*
 * pbwire_top_bytes finds the length-delimited field number at the top level
 * of the message in buf[0..len) (not inside nested messages), as unpacking
 * would see it: the last occurrence wins. On true, *data and *n are its
 * bytes (inside buf; not NUL-terminated). False when the field is absent,
 * or the bytes cannot be walked up to its last occurrence. Thread-safe.
 */
bool pbwire_top_bytes(const uint8_t *buf, size_t len, uint32_t number,
        const uint8_t **data, size_t *n);

#endif /* CLM_PBWIRE_H */
