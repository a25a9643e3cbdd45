/*
 * pbjson: proto3 JSON for protobuf-c messages, driven by the descriptors.
 *
 * Printing walks the message's fields in number order and appends to a
 * growing buffer that remembers an allocation failure instead of reporting
 * each one, so the printers need no error paths.
 *
 * Parsing is one recursive-descent pass that writes straight into the
 * message, guided by the descriptor: there is no intermediate tree. The
 * tokens (whitespace, keywords, numbers, strings) come from jsonlex. Because
 * unknown members are an error, every nested object or array corresponds to
 * a level of the schema, and the depth counter bounds the recursion even for
 * recursive message types. The invariant that keeps errors leak-free: the
 * message under construction is at every moment one that
 * protobuf_c_message_free_unpacked() can free. Sub-messages are initialized
 * before they are linked in, a oneof case is set before its member receives
 * memory, and a repeated field's count covers only zeroed or complete
 * elements. On any error the caller frees the whole message and nothing
 * else needs unwinding.
 */
#include "pbjson_internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camel.h"

/*
 * Helpers shared by printing and parsing.
 */

/*
 * pbjson_is_map tells whether field f of message type parent is a map.
 * protobuf-c 1.4 has no flag for map entries, so a map is recognized by the
 * shape protoc gives the synthetic entry type: a repeated message field
 * whose type is nested directly in parent and named after the field in
 * UpperCamelCase plus "Entry" (Touchpoint.properties ->
 * clm.v1.Touchpoint.PropertiesEntry), with exactly the fields key = 1, of a
 * type a map key may have, and value = 2. A hand-written nested message of
 * that name and shape cannot be told apart from a map entry, and is treated
 * as one.
 */
bool
pbjson_is_map(const ProtobufCMessageDescriptor *parent,
        const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *e;
	size_t plen, k;

	if (f->label != PROTOBUF_C_LABEL_REPEATED
	        || f->type != PROTOBUF_C_TYPE_MESSAGE) {
		return false;
	}
	e = f->descriptor;
	if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2
	        || strcmp(e->fields[0].name, "key") != 0
	        || strcmp(e->fields[1].name, "value") != 0
	        || e->fields[0].label == PROTOBUF_C_LABEL_REPEATED
	        || e->fields[1].label == PROTOBUF_C_LABEL_REPEATED) {
		return false;
	}
	switch (e->fields[0].type) {
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return false;
	default:
		break;
	}
	k = camel_prefix(f->name, true, e->short_name, strlen(e->short_name));
	if (k == SIZE_MAX || strcmp(e->short_name + k, "Entry") != 0) {
		return false;
	}
	plen = strlen(parent->name);
	return strncmp(e->name, parent->name, plen) == 0
	        && e->name[plen] == '.'
	        && strcmp(e->name + plen + 1, e->short_name) == 0;
}

/*
 * pbjson_int_bits returns the width of an integer type, 32 or 64, or 0 for
 * a type that is not one of the ten integer types.
 */
int
pbjson_int_bits(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 32;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 64;
	default:
		return 0;
	}
}

/* pbjson_type_size is the size of one element of a repeated field. */
size_t
pbjson_type_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int32_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		/* An integer (int32_t or int64_t); 0 for an unknown type. */
		return (size_t) pbjson_int_bits(type) / 8;
	}
}

/* pbjson_type_name names an integer type in error messages. */
const char *
pbjson_type_name(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
		return "int32";
	case PROTOBUF_C_TYPE_SINT32:
		return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32:
		return "sfixed32";
	case PROTOBUF_C_TYPE_UINT32:
		return "uint32";
	case PROTOBUF_C_TYPE_FIXED32:
		return "fixed32";
	case PROTOBUF_C_TYPE_INT64:
		return "int64";
	case PROTOBUF_C_TYPE_SINT64:
		return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64:
		return "sfixed64";
	case PROTOBUF_C_TYPE_UINT64:
		return "uint64";
	case PROTOBUF_C_TYPE_FIXED64:
		return "fixed64";
	case PROTOBUF_C_TYPE_FLOAT:
		return "float";
	case PROTOBUF_C_TYPE_DOUBLE:
		return "double";
	case PROTOBUF_C_TYPE_ENUM:
		return "enum";
	default:
		return "value";
	}
}

/*
 * pbjson_int_text formats the integer of type `type` at m in decimal into
 * buf (at least 24 bytes) and returns buf.
 */
const char *
pbjson_int_text(ProtobufCType type, const void *m, char *buf, size_t size)
{
	switch (type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, size, "%" PRIu32, *(const uint32_t *) m);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, size, "%" PRId64, *(const int64_t *) m);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *) m);
		break;
	default:
		snprintf(buf, size, "%" PRId32, *(const int32_t *) m);
		break;
	}
	return buf;
}
