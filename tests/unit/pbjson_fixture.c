/* pbjson_fixture: what the pbjson tests share (see pbjson_fixture.h). */
#include "pbjson_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PBJSON_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PBJSON_TEST_LSAN 1
#endif
#endif

#ifdef PBJSON_TEST_LSAN
#include <sanitizer/lsan_interface.h>

void
pbjson_test_fini(void)
{
	if (__lsan_do_recoverable_leak_check() != 0) {
		fputs("pbjson_test: memory leaked\n", stderr);
		abort();
	}
}
#else
void
pbjson_test_fini(void)
{
}
#endif

static void
pbjson_test_node_init(ProtobufCMessage *m)
{
	pbjson_test_node *n = (pbjson_test_node *) m;

	memset(n, 0, sizeof(*n));
	n->base.descriptor = &pbjson_test_node_desc;
	n->name = (char *) protobuf_c_empty_string;
}

static void
pbjson_test_children_init(ProtobufCMessage *m)
{
	memset(m, 0, sizeof(pbjson_test_children_entry));
	m->descriptor = &pbjson_test_children_desc;
}

static void
pbjson_test_bool_map_init(ProtobufCMessage *m)
{
	pbjson_test_bool_map_entry *e = (pbjson_test_bool_map_entry *) m;

	memset(e, 0, sizeof(*e));
	e->base.descriptor = &pbjson_test_bool_map_desc;
	e->value = (char *) protobuf_c_empty_string;
}

#define PBJSON_TEST_FIELD(name, id, label, type, q, member, desc, def, flags) \
	{                                                                     \
		name, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type,   \
		        q, offsetof(pbjson_test_node, member), desc, def,     \
		        flags, 0, NULL, NULL                                  \
	}
#define PBJSON_TEST_N(member) offsetof(pbjson_test_node, member)

static const ProtobufCFieldDescriptor pbjson_test_node_fields[17] = {
	PBJSON_TEST_FIELD("child", 1, NONE, MESSAGE, 0, child,
	        &pbjson_test_node_desc, NULL, 0),
	PBJSON_TEST_FIELD("b", 2, NONE, BYTES, 0, b, NULL, NULL, 0),
	PBJSON_TEST_FIELD("i32", 3, NONE, SINT32, 0, i32, NULL, NULL, 0),
	PBJSON_TEST_FIELD("u64", 4, NONE, FIXED64, 0, u64, NULL, NULL, 0),
	PBJSON_TEST_FIELD("flag", 5, NONE, BOOL, 0, flag, NULL, NULL, 0),
	PBJSON_TEST_FIELD("nums", 6, REPEATED, INT32, PBJSON_TEST_N(n_nums),
	        nums, NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
	PBJSON_TEST_FIELD("tags", 7, REPEATED, STRING, PBJSON_TEST_N(n_tags),
	        tags, NULL, NULL, 0),
	PBJSON_TEST_FIELD("f", 8, NONE, FLOAT, 0, f, NULL, NULL, 0),
	PBJSON_TEST_FIELD("blobs", 9, REPEATED, BYTES, PBJSON_TEST_N(n_blobs),
	        blobs, NULL, NULL, 0),
	PBJSON_TEST_FIELD("children", 10, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_children), children,
	        &pbjson_test_children_desc, NULL, 0),
	PBJSON_TEST_FIELD("s64", 11, NONE, SFIXED64, 0, s64, NULL, NULL, 0),
	PBJSON_TEST_FIELD("choice_s", 12, NONE, STRING,
	        PBJSON_TEST_N(choice_case), choice.s, NULL, NULL,
	        PROTOBUF_C_FIELD_FLAG_ONEOF),
	PBJSON_TEST_FIELD("choice_n", 13, NONE, INT32,
	        PBJSON_TEST_N(choice_case), choice.n, NULL, NULL,
	        PROTOBUF_C_FIELD_FLAG_ONEOF),
	PBJSON_TEST_FIELD("opt_i", 14, OPTIONAL, INT32,
	        PBJSON_TEST_N(has_opt_i), opt_i, NULL, NULL, 0),
	PBJSON_TEST_FIELD("name", 15, NONE, STRING, 0, name, NULL,
	        &protobuf_c_empty_string, 0),
	PBJSON_TEST_FIELD("bool_map", 16, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_bool_map), bool_map,
	        &pbjson_test_bool_map_desc, NULL, 0),
	PBJSON_TEST_FIELD("extra", 17, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_extra), extra, &pbjson_test_children_desc,
	        NULL, 0),
};

/* Field indices in name order, as protoc-c sorts them. */
static const unsigned pbjson_test_node_by_name[17] = {
	1,  /* b */
	8,  /* blobs */
	15, /* bool_map */
	0,  /* child */
	9,  /* children */
	12, /* choice_n */
	11, /* choice_s */
	16, /* extra */
	7,  /* f */
	4,  /* flag */
	2,  /* i32 */
	14, /* name */
	5,  /* nums */
	13, /* opt_i */
	10, /* s64 */
	6,  /* tags */
	3,  /* u64 */
};

static const ProtobufCIntRange pbjson_test_node_ranges[2]
        = { { 1, 0 }, { 0, 17 } };

const ProtobufCMessageDescriptor pbjson_test_node_desc
        = { PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node", "Node",
	          "Pbjson__Test__Node", "pbjson.test",
	          sizeof(pbjson_test_node), 17, pbjson_test_node_fields,
	          pbjson_test_node_by_name, 1, pbjson_test_node_ranges,
	          pbjson_test_node_init, NULL, NULL, NULL };

static const ProtobufCFieldDescriptor pbjson_test_children_fields[2] = {
	{ "key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0,
	        offsetof(pbjson_test_children_entry, key), NULL, NULL, 0, 0,
	        NULL, NULL },
	{ "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0,
	        offsetof(pbjson_test_children_entry, value),
	        &pbjson_test_node_desc, NULL, 0, 0, NULL, NULL },
};

static const ProtobufCFieldDescriptor pbjson_test_bool_map_fields[2] = {
	{ "key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BOOL, 0,
	        offsetof(pbjson_test_bool_map_entry, key), NULL, NULL, 0, 0,
	        NULL, NULL },
	{ "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
	        offsetof(pbjson_test_bool_map_entry, value), NULL,
	        &protobuf_c_empty_string, 0, 0, NULL, NULL },
};

static const unsigned pbjson_test_entry_by_name[2] = { 0, 1 };
static const ProtobufCIntRange pbjson_test_entry_ranges[2]
        = { { 1, 0 }, { 0, 2 } };

const ProtobufCMessageDescriptor pbjson_test_children_desc = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node.ChildrenEntry",
	"ChildrenEntry", "Pbjson__Test__Node__ChildrenEntry", "pbjson.test",
	sizeof(pbjson_test_children_entry), 2, pbjson_test_children_fields,
	pbjson_test_entry_by_name, 1, pbjson_test_entry_ranges,
	pbjson_test_children_init, NULL, NULL, NULL
};

const ProtobufCMessageDescriptor pbjson_test_bool_map_desc = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node.BoolMapEntry",
	"BoolMapEntry", "Pbjson__Test__Node__BoolMapEntry", "pbjson.test",
	sizeof(pbjson_test_bool_map_entry), 2, pbjson_test_bool_map_fields,
	pbjson_test_entry_by_name, 1, pbjson_test_entry_ranges,
	pbjson_test_bool_map_init, NULL, NULL, NULL
};

char *
pbjson_test_print(const void *msg, unsigned flags)
{
	char *out = NULL;

	cr_assert_eq(pbjson_print(msg, flags, &out), 0);
	cr_assert_not_null(out);
	return out;
}

void
pbjson_test_expect_print(const void *msg, const char *want)
{
	char *got = pbjson_test_print(msg, 0);

	cr_assert_str_eq(got, want);
	free(got);
}

void *
pbjson_test_parse(const char *json, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *msg = NULL;
	char err[256] = "";

	cr_assert_eq(
	        pbjson_parse(json, strlen(json), desc, &msg, err, sizeof(err)),
	        0, "parse of %s failed: %s", json, err);
	cr_assert_not_null(msg);
	cr_assert_eq(msg->descriptor, desc);
	return msg;
}

const char *
pbjson_test_fail_n(
        const char *text, size_t len, const ProtobufCMessageDescriptor *desc)
{
	static char err[256];
	ProtobufCMessage *sentinel = (ProtobufCMessage *) &err;
	ProtobufCMessage *msg = sentinel;
	char *copy = malloc(len > 0 ? len : 1);

	cr_assert_not_null(copy);
	memcpy(copy, text, len);
	memset(err, 'x', sizeof(err));
	cr_assert_eq(pbjson_parse(copy, len, desc, &msg, err, sizeof(err)), -1,
	        "parse of %.*s unexpectedly succeeded", (int) len, text);
	cr_assert_eq(msg, sentinel, "*out written on failure");
	cr_assert_neq(err[0], '\0');
	cr_assert_not_null(memchr(err, '\0', sizeof(err)));
	cr_assert_null(strchr(err, '\n'));
	free(copy);
	return err;
}

void
pbjson_test_fail(const char *json, const ProtobufCMessageDescriptor *desc,
        const char *want)
{
	const char *err = pbjson_test_fail_n(json, strlen(json), desc);

	cr_assert_str_eq(err, want, "input %s", json);
}

void
pbjson_test_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t na = protobuf_c_message_get_packed_size(a);
	size_t nb = protobuf_c_message_get_packed_size(b);
	uint8_t *ba = malloc(na + 1), *bb = malloc(nb + 1);

	cr_assert(ba != NULL && bb != NULL);
	cr_assert_eq(protobuf_c_message_pack(a, ba), na);
	cr_assert_eq(protobuf_c_message_pack(b, bb), nb);
	cr_assert_eq(na, nb, "packed sizes differ: %zu, %zu", na, nb);
	cr_assert(memcmp(ba, bb, na) == 0, "packed bytes differ");
	free(ba);
	free(bb);
}

void
pbjson_test_round_trip(const void *msg)
{
	unsigned flags[2] = { 0, PBJSON_PRETTY };
	size_t i;

	for (i = 0; i < 2; i++) {
		const ProtobufCMessage *m = msg;
		char *j1 = pbjson_test_print(m, flags[i]), *j2;
		ProtobufCMessage *copy = pbjson_test_parse(j1, m->descriptor);

		pbjson_test_same(m, copy);
		j2 = pbjson_test_print(copy, flags[i]);
		cr_assert_str_eq(j1, j2);
		free(j1);
		free(j2);
		protobuf_c_message_free_unpacked(copy, NULL);
	}
}

void
pbjson_test_tp_init(struct pbjson_test_tp *t)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	Clm__V1__Touchpoint__PropertiesEntry e
	        = CLM__V1__TOUCHPOINT__PROPERTIES_ENTRY__INIT;

	t->tp = tp;
	t->geo = geo;
	t->e1 = e;
	t->e2 = e;
	t->geo.lat = 52.52;
	t->geo.lon = 13.405;
	t->e1.key = "kind";
	t->e1.value = "UPSELL";
	t->e2.key = "note";
	t->e2.value = "say \"hi\"";
	t->props[0] = &t->e1;
	t->props[1] = &t->e2;
	t->tp.event_id = "e1";
	t->tp.customer_id = "c1";
	t->tp.anonymous_id = "a1";
	t->tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	t->tp.channel = CLM__V1__CHANNEL__EMAIL;
	t->tp.occurred_at_ms = 1700000000123;
	t->tp.item_id = "sku-1";
	t->tp.value = 19.99;
	t->tp.currency = "EUR";
	t->tp.duration_s = 42;
	t->tp.sentiment = 0.5f;
	t->tp.location = &t->geo;
	t->tp.campaign = "spring";
	t->tp.n_properties = 2;
	t->tp.properties = t->props;
}
