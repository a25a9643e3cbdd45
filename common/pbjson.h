/*
 * pbjson: the proto3 JSON mapping for any protobuf-c message, by reflection.
 *
 * The clm CLI prints replies with it (--json) and reads NDJSON input (one
 * Touchpoint per line). It follows protoc's JsonFormat: lowerCamelCase names,
 * proto3 defaults omitted, enums by name, 64-bit integers as strings, bytes
 * as base64, maps as objects. It works from ProtobufCMessageDescriptor alone,
 * so no code is needed per message type.
 *
 * Neither function keeps state between calls, so both may run on any number
 * of threads at once. Numbers are formatted and read in the "C" locale's
 * notation (a '.' decimal point): a program that calls setlocale() must keep
 * LC_NUMERIC at "C".
 */
#ifndef CLM_PBJSON_H
#define CLM_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for pbjson_print. */
#define PBJSON_PRETTY 1u /* indent with two spaces and newlines */

/* Nesting of JSON objects and arrays that pbjson_parse accepts. */
#define PBJSON_MAX_DEPTH 64

/*
 * pbjson_print serializes msg as one proto3 JSON object into a newly
 * malloc'd NUL-terminated string and stores it in *out; the caller frees it
 * with free(). Without flags the object is one compact line; PBJSON_PRETTY
 * indents it with two spaces per level and puts each member on its own line.
 * Neither form ends with a newline.
 *
 * Fields appear in field-number order under their lowerCamelCase names. A
 * proto3 field without presence is left out at its default (0, false, "",
 * empty bytes, enum 0), as are empty repeated fields and maps, unset
 * sub-messages and oneof members other than the one selected; the selected
 * member is printed even at its default. Enums print as their value name, or
 * as a number when the value has no name. int64, uint64, sint64, fixed64 and
 * sfixed64 print as decimal strings; float and double as the shortest of
 * %.6g/%.9g (float) or %.15g/%.17g (double) that reads back to the same value,
 * and non-finite values as "NaN", "Infinity" and "-Infinity". Bytes print as
 * padded standard base64. Map fields print as objects in the entries' order.
 * Invalid UTF-8 in a string field is printed as U+FFFD so that the output is
 * always valid JSON.
 *
 * Returns 0, or -1 when memory is exhausted (*out is then left untouched).
 */
int pbjson_print(const ProtobufCMessage *msg, unsigned flags, char **out);

/*
 * pbjson_parse reads one JSON object from text[0..len) (text need not be
 * NUL-terminated) into a new message of type desc. The message is laid out
 * as protobuf_c_message_unpack() would lay it out with the default
 * allocator, so the caller frees it with
 * protobuf_c_message_free_unpacked(msg, NULL).
 *
 * Members are matched by lowerCamelCase name or by the name in the .proto
 * file. null leaves a field at its default. Integers are accepted as JSON
 * numbers or as strings holding one, and must be integral ("1.0" and "1e3"
 * are) and within the field's range. Enums are accepted as a value name or an
 * integer; float and double as numbers, numeric strings or "NaN",
 * "Infinity" and "-Infinity"; bool as true or false; bytes as standard or
 * URL-safe base64, padded or not; maps as objects whose keys convert to the
 * key type. Strings must be valid UTF-8 and may not contain U+0000.
 *
 * These are errors: a member the message does not have, a member given
 * twice (also as both "customerId" and "customer_id"), two members of one
 * oneof, a repeated map key, null inside an array or as a map value, a
 * missing proto2 required field, nesting deeper than PBJSON_MAX_DEPTH, and
 * anything but whitespace after the object.
 *
 * Returns 0 and stores the message in *out, or returns -1, leaves *out
 * untouched and writes a one-line lowercase message into err (truncated to
 * errlen bytes, always NUL-terminated; err may be NULL when errlen is 0).
 * The message names the field path, for example
 * "field 'location.lat': expected a number", "unknown field 'foo'",
 * "field 'type': unknown enum value 'PURCHASEX'" or, for malformed JSON,
 * "invalid JSON at offset 17: expected ':'".
 */
int pbjson_parse(const char *text, size_t len,
        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
        char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CLM_PBJSON_H */
