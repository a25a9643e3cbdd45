/*
 * What pbjson_print_test and pbjson_parse_test (tests of common/pbjson*.c)
 * share: a hand-written descriptor, pbjson.test.Node, for what clm.proto
 * lacks (bytes, bool, sint32, fixed64, sfixed64, repeated scalars, a
 * oneof of scalars, a proto2-style optional with has_, a map with message
 * values, a map with bool keys, a repeated entry-shaped message that is
 * not a map, and recursion for the depth limit); a Touchpoint with every
 * field set; and helpers that print, parse and compare with Criterion
 * assertions.
 *
 * Built with AddressSanitizer, each test ends with a leak check
 * (pbjson_test_fini) that aborts the test's process when memory leaked,
 * so leaks fail the run.
 */
#ifndef CLM_UNIT_PBJSON_FIXTURE_H
#define CLM_UNIT_PBJSON_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "pbjson.h"

/*
 * pbjson.test.Node, written out as protoc-c would generate it from:
 *
 *   message Node {
 *     Node child = 1; bytes b = 2; sint32 i32 = 3; fixed64 u64 = 4;
 *     bool flag = 5; repeated int32 nums = 6; repeated string tags = 7;
 *     float f = 8; repeated bytes blobs = 9; map<int32, Node> children = 10;
 *     sfixed64 s64 = 11; oneof choice { string choice_s = 12;
 *     int32 choice_n = 13; } optional int32 opt_i = 14; string name = 15;
 *     map<bool, string> bool_map = 16;
 *     repeated ChildrenEntry extra = 17;  // entry-shaped, not a map
 *   }
 */
typedef struct pbjson_test_node pbjson_test_node;

typedef struct {
	ProtobufCMessage base;
	int32_t key;
	pbjson_test_node *value;
} pbjson_test_children_entry;

typedef struct {
	ProtobufCMessage base;
	protobuf_c_boolean key;
	char *value;
} pbjson_test_bool_map_entry;

#define PBJSON_TEST_CHOICE_S 12
#define PBJSON_TEST_CHOICE_N 13

struct pbjson_test_node {
	ProtobufCMessage base;
	pbjson_test_node *child;
	ProtobufCBinaryData b;
	int32_t i32;
	uint64_t u64;
	protobuf_c_boolean flag;
	size_t n_nums;
	int32_t *nums;
	size_t n_tags;
	char **tags;
	float f;
	size_t n_blobs;
	ProtobufCBinaryData *blobs;
	size_t n_children;
	pbjson_test_children_entry **children;
	int64_t s64;
	uint32_t choice_case;
	union {
		char *s;
		int32_t n;
	} choice;
	protobuf_c_boolean has_opt_i;
	int32_t opt_i;
	char *name;
	size_t n_bool_map;
	pbjson_test_bool_map_entry **bool_map;
	size_t n_extra;
	pbjson_test_children_entry **extra;
};

extern const ProtobufCMessageDescriptor pbjson_test_node_desc;
extern const ProtobufCMessageDescriptor pbjson_test_children_desc;
extern const ProtobufCMessageDescriptor pbjson_test_bool_map_desc;

/* pbjson_test_fini is the suite's .fini: the leak check. */
void pbjson_test_fini(void);

/* pbjson_test_print prints msg with flags; the caller frees the text. */
char *pbjson_test_print(const void *msg, unsigned flags);

/* pbjson_test_expect_print checks msg's compact JSON text. */
void pbjson_test_expect_print(const void *msg, const char *want);

/* pbjson_test_parse parses a NUL-terminated text that must be valid. */
void *pbjson_test_parse(
        const char *json, const ProtobufCMessageDescriptor *desc);

/*
 * pbjson_test_fail_n parses text[0..len) from a buffer of exactly len bytes
 * (so AddressSanitizer catches any read past the end), expects failure and
 * returns the error message (static storage). *out must stay untouched.
 */
const char *pbjson_test_fail_n(
        const char *text, size_t len, const ProtobufCMessageDescriptor *desc);

/* pbjson_test_fail expects json to fail with exactly the message want. */
void pbjson_test_fail(const char *json, const ProtobufCMessageDescriptor *desc,
        const char *want);

/* pbjson_test_same checks that a and b serialize to the same bytes. */
void pbjson_test_same(const ProtobufCMessage *a, const ProtobufCMessage *b);

/*
 * pbjson_test_round_trip checks parse(print(msg)) == msg, compactly and
 * pretty, and that printing the copy gives the same text. Map entries keep
 * their order through print and parse, so the packed bytes compare equal.
 */
void pbjson_test_round_trip(const void *msg);

/*
 * A Touchpoint with every field set, and its JSON. Fields point at static
 * or caller storage; nothing is allocated.
 */
struct pbjson_test_tp {
	Clm__V1__Touchpoint tp;
	Clm__V1__GeoPoint geo;
	Clm__V1__Touchpoint__PropertiesEntry e1, e2;
	Clm__V1__Touchpoint__PropertiesEntry *props[2];
};

/* pbjson_test_tp_init fills *t. */
void pbjson_test_tp_init(struct pbjson_test_tp *t);

#define PBJSON_TEST_TP_JSON                                                 \
	"{\"eventId\":\"e1\",\"customerId\":\"c1\",\"anonymousId\":\"a1\"," \
	"\"type\":\"PURCHASE\",\"channel\":\"EMAIL\","                      \
	"\"occurredAtMs\":\"1700000000123\",\"itemId\":\"sku-1\","          \
	"\"value\":19.99,\"currency\":\"EUR\",\"durationS\":42,"            \
	"\"sentiment\":0.5,\"location\":{\"lat\":52.52,\"lon\":13.405},"    \
	"\"campaign\":\"spring\","                                          \
	"\"properties\":{\"kind\":\"UPSELL\",\"note\":\"say \\\"hi\\\"\"}}"

#endif /* CLM_UNIT_PBJSON_FIXTURE_H */
