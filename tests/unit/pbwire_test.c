/*
 * common/pbwire.c: the scan of packed messages for NUL bytes in strings.
 * Requests are packed with protobuf-c and patched (a client built on
 * char * cannot send a NUL); the rest is hand-encoded against the test
 * descriptor pbjson.test.Node (tests/unit/pbjson_fixture.h), which has
 * bytes, repeated strings, a map of messages and recursion.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "pbjson_fixture.h"
#include "pbwire.h"

/* A hand-encoded message. */
struct enc {
	uint8_t b[4096];
	size_t n;
};

static void
enc_varint(struct enc *e, uint64_t v)
{
	do {
		cr_assert_lt(e->n, sizeof(e->b));
		uint8_t byte = v & 0x7f;
		v >>= 7;
		e->b[e->n++] = (uint8_t) (byte | (v != 0 ? 0x80 : 0));
	} while (v != 0);
}

static void
enc_tag(struct enc *e, uint32_t field, unsigned type)
{
	enc_varint(e, (uint64_t) field << 3 | type);
}

static void
enc_len(struct enc *e, uint32_t field, const void *data, size_t len)
{
	enc_tag(e, field, 2);
	enc_varint(e, len);
	cr_assert_leq(e->n + len, sizeof(e->b));
	memcpy(e->b + e->n, data, len);
	e->n += len;
}

static void
enc_msg(struct enc *e, uint32_t field, const struct enc *sub)
{
	enc_len(e, field, sub->b, sub->n);
}

static void
enc_raw(struct enc *e, const void *data, size_t len)
{
	cr_assert_leq(e->n + len, sizeof(e->b));
	memcpy(e->b + e->n, data, len);
	e->n += len;
}

static enum pbwire_result
scan_node(const struct enc *e, char *path, size_t pathlen)
{
	return pbwire_find_nul(
	        &pbjson_test_node_desc, e->b, e->n, path, pathlen);
}

/* Node fields used below. */
enum {
	NODE_CHILD = 1,
	NODE_B = 2,
	NODE_U64 = 4,
	NODE_FLAG = 5,
	NODE_TAGS = 7,
	NODE_F = 8,
	NODE_BLOBS = 9,
	NODE_CHILDREN = 10,
	NODE_NAME = 15,
};

/*
 * Packs a Track request of four touchpoints into buf: customer ids c0..c3,
 * event ids e0..e3, with the token given. Returns its length.
 */
static size_t
pack_track(uint8_t *buf, size_t cap, const char *token, char cid[4][16],
        char eid[4][16])
{
	Clm__V1__Touchpoint tp[4], *ptr[4];
	for (int i = 0; i < 4; i++) {
		clm__v1__touchpoint__init(&tp[i]);
		tp[i].customer_id = cid[i];
		tp[i].event_id = eid[i];
		tp[i].type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
		ptr[i] = &tp[i];
	}
	Clm__V1__TrackRequest track = CLM__V1__TRACK_REQUEST__INIT;
	track.n_touchpoints = 4;
	track.touchpoints = ptr;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "r1";
	req.auth_token = (char *) token;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &track;
	size_t n = clm__v1__request__get_packed_size(&req);
	cr_assert_leq(n, cap);
	return clm__v1__request__pack(&req, buf);
}

/* Replaces the first 'Z' after the first occurrence of what with a 0. */
static void
patch(uint8_t *buf, size_t len, const char *what)
{
	size_t wl = strlen(what);
	for (size_t i = 0; i + wl <= len; i++) {
		if (memcmp(buf + i, what, wl) == 0) {
			uint8_t *z = memchr(buf + i, 'Z', wl);
			cr_assert_not_null(z, "no Z in '%s'", what);
			*z = 0;
			return;
		}
	}
	cr_assert_fail("'%s' not in the packed message", what);
}

static const ProtobufCMessageDescriptor *req_desc
        = &clm__v1__request__descriptor;

Test(pbwire, clean_request_is_ok)
{
	char cid[4][16] = { "c0", "c1", "c2", "c3" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok", cid, eid);
	char path[64] = "junk";
	cr_assert_eq(pbwire_find_nul(req_desc, buf, n, path, sizeof(path)),
	        PBWIRE_OK);
	cr_assert_str_eq(path, "");
	cr_assert_eq(pbwire_find_nul(req_desc, buf, 0, path, sizeof(path)),
	        PBWIRE_OK);
}

Test(pbwire, nul_in_nested_repeated_string)
{
	char cid[4][16] = { "c0", "c1", "c2", "victimZx" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok", cid, eid);
	patch(buf, n, "victimZx");
	char path[64];
	cr_assert_eq(pbwire_find_nul(req_desc, buf, n, path, sizeof(path)),
	        PBWIRE_NUL);
	cr_assert_str_eq(path, "track.touchpoints[3].customer_id");
	/* protobuf-c would have unpacked it as "victim": the reason. */
	Clm__V1__Request *r = clm__v1__request__unpack(NULL, n, buf);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->track->touchpoints[3]->customer_id, "victim");
	clm__v1__request__free_unpacked(r, NULL);
}

Test(pbwire, first_nul_in_wire_order)
{
	char cid[4][16] = { "c0", "c1", "cZ2", "c3" };
	char eid[4][16] = { "e0", "evtZA", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok", cid, eid);
	patch(buf, n, "evtZA");
	patch(buf, n, "cZ2");
	char path[64];
	cr_assert_eq(pbwire_find_nul(req_desc, buf, n, path, sizeof(path)),
	        PBWIRE_NUL);
	cr_assert_str_eq(path, "track.touchpoints[1].event_id");
}

Test(pbwire, nul_in_top_level_string)
{
	char cid[4][16] = { "c0", "c1", "c2", "c3" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "secretZjunk", cid, eid);
	patch(buf, n, "secretZjunk");
	char path[64];
	cr_assert_eq(pbwire_find_nul(req_desc, buf, n, path, sizeof(path)),
	        PBWIRE_NUL);
	cr_assert_str_eq(path, "auth_token");
}

Test(pbwire, nul_in_oneof_message)
{
	Clm__V1__ForgetCustomerRequest f
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	f.customer_id = "victimZx";
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &f;
	uint8_t buf[128];
	size_t n = clm__v1__request__pack(&req, buf);
	patch(buf, n, "victimZx");
	char path[64];
	cr_assert_eq(pbwire_find_nul(req_desc, buf, n, path, sizeof(path)),
	        PBWIRE_NUL);
	cr_assert_str_eq(path, "forget_customer.customer_id");
}

Test(pbwire, bytes_may_hold_nul)
{
	struct enc e = { .n = 0 };
	enc_len(&e, NODE_B, "\0\0\0", 3);
	enc_len(&e, NODE_BLOBS, "a", 1);
	enc_len(&e, NODE_BLOBS, "a\0b", 3);
	enc_len(&e, NODE_NAME, "plain", 5);
	char path[64];
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_OK);
	enc_len(&e, NODE_NAME, "pl\0ain", 6);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "name");
}

Test(pbwire, repeated_index_counts_that_field_only)
{
	struct enc e = { .n = 0 };
	enc_len(&e, NODE_TAGS, "t0", 2);
	enc_len(&e, NODE_BLOBS, "b", 1);
	enc_len(&e, NODE_NAME, "n", 1);
	enc_len(&e, NODE_TAGS, "t1", 2);
	enc_tag(&e, 99, 0); /* unknown varint between them */
	enc_varint(&e, 5);
	enc_len(&e, NODE_TAGS, "t\0002", 3);
	char path[64];
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "tags[2]");
}

Test(pbwire, nested_messages_and_map_values)
{
	/* child { child { name: "a\0" } } */
	struct enc leaf = { .n = 0 }, mid = { .n = 0 }, top = { .n = 0 };
	enc_len(&leaf, NODE_NAME, "a\0", 2);
	enc_msg(&mid, NODE_CHILD, &leaf);
	enc_msg(&top, NODE_CHILD, &mid);
	char path[64];
	cr_assert_eq(scan_node(&top, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "child.child.name");

	/* children { key: 1 value { tags: "x" tags: "\0" } } as the 2nd. */
	struct enc val = { .n = 0 }, ent0 = { .n = 0 }, ent1 = { .n = 0 };
	struct enc m = { .n = 0 };
	enc_len(&val, NODE_TAGS, "x", 1);
	enc_len(&val, NODE_TAGS, "\0", 1);
	enc_tag(&ent0, 1, 0);
	enc_varint(&ent0, 0);
	enc_tag(&ent1, 1, 0);
	enc_varint(&ent1, 1);
	enc_msg(&ent1, 2, &val);
	enc_msg(&m, NODE_CHILDREN, &ent0);
	enc_msg(&m, NODE_CHILDREN, &ent1);
	cr_assert_eq(scan_node(&m, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "children[1].value.tags[1]");
}

Test(pbwire, unknown_fields_are_skipped)
{
	struct enc e = { .n = 0 }, g = { .n = 0 };
	enc_len(&e, 99, "\0\0", 2); /* unknown length-delimited */
	enc_tag(&e, 98, 0);         /* unknown varint, 10 bytes */
	enc_varint(&e, UINT64_MAX);
	enc_tag(&e, 97, 1); /* unknown fixed64 */
	enc_raw(&e, "\0\0\0\0\0\0\0\0", 8);
	enc_tag(&e, 96, 5); /* unknown fixed32 */
	enc_raw(&e, "\0\0\0\0", 4);
	/* An unknown group holding a NUL "string" and a nested group. */
	enc_tag(&e, 95, 3);
	enc_len(&e, NODE_NAME, "\0", 1);
	enc_tag(&e, 94, 3);
	enc_tag(&e, 94, 4);
	enc_tag(&e, 95, 4);
	/* Known fields of other types, and a string sent as a varint. */
	enc_tag(&e, NODE_U64, 1);
	enc_raw(&e, "\0\0\0\0\0\0\0\0", 8);
	enc_tag(&e, NODE_F, 5);
	enc_raw(&e, "\0\0\0\0", 4);
	enc_tag(&e, NODE_FLAG, 0);
	enc_varint(&e, 0);
	enc_tag(&e, NODE_NAME, 0);
	enc_varint(&e, 0);
	/* Field number 0 in an over-long tag: unknown to everybody. */
	enc_raw(&e, "\x82\x80\x80\x00", 4);
	enc_varint(&e, 1);
	enc_raw(&e, "\0", 1);
	char path[64];
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_OK);
	/* What follows them is still read. */
	enc_len(&g, NODE_TAGS, "\0", 1);
	enc_raw(&e, g.b, g.n);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "tags[0]");
}

Test(pbwire, truncated_input)
{
	char cid[4][16] = { "c0", "c1", "c2", "c3" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok", cid, eid);
	size_t malformed = 0;
	for (size_t k = 0; k < n; k++) {
		char path[64];
		enum pbwire_result r = pbwire_find_nul(
		        req_desc, buf, k, path, sizeof(path));
		/* A cut between top-level fields leaves a shorter message. */
		cr_assert(r == PBWIRE_OK || r == PBWIRE_MALFORMED,
		        "prefix %zu: %d", k, (int) r);
		malformed += r == PBWIRE_MALFORMED;
	}
	cr_assert_gt(malformed, n / 2);

	char path[64];
	struct enc e = { .n = 0 };
	enc_len(&e, NODE_NAME, "abcdef", 6);
	e.n -= 2; /* inside the string */
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, NODE_NAME, 2); /* a length that never ends */
	enc_raw(&e, "\x80\x80", 2);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, NODE_U64, 1);
	enc_raw(&e, "1234567", 7);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, NODE_F, 5);
	enc_raw(&e, "123", 3);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_raw(&e, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	/* A message cut inside a nested one. */
	struct enc in = { .n = 0 };
	enc_len(&in, NODE_NAME, "x", 1);
	e.n = 0;
	enc_tag(&e, NODE_CHILD, 2);
	enc_varint(&e, in.n);
	enc_raw(&e, in.b, in.n - 1);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
}

Test(pbwire, bad_wire_types_and_groups)
{
	char path[64];
	struct enc e = { .n = 0 };
	enc_tag(&e, 3, 6);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, 3, 7);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, 50, 4); /* end without a start */
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, 50, 3); /* start without an end */
	enc_len(&e, 1, "x", 1);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
	e.n = 0;
	enc_tag(&e, 50, 3); /* ended by another group's end */
	enc_tag(&e, 51, 4);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_MALFORMED);
}

/* Messages nested n deep: child { child { ... name: "\0" } }. */
static void
nest(struct enc *out, int n)
{
	static struct enc levels[2];
	struct enc *cur = &levels[0], *next = &levels[1];
	cur->n = 0;
	enc_len(cur, NODE_NAME, "\0", 1);
	for (int i = 0; i < n; i++) {
		next->n = 0;
		enc_msg(next, NODE_CHILD, cur);
		struct enc *t = cur;
		cur = next;
		next = t;
	}
	*out = *cur;
}

Test(pbwire, depth_bound)
{
	struct enc e;
	char path[512];
	nest(&e, PBWIRE_MAX_DEPTH);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_eq(strlen(path),
	        PBWIRE_MAX_DEPTH * strlen("child.") + strlen("name"));
	nest(&e, PBWIRE_MAX_DEPTH + 1);
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_TOO_DEEP);

	/* Groups count too. */
	e.n = 0;
	for (int i = 0; i <= PBWIRE_MAX_DEPTH; i++) {
		enc_tag(&e, 60, 3);
	}
	for (int i = 0; i <= PBWIRE_MAX_DEPTH; i++) {
		enc_tag(&e, 60, 4);
	}
	cr_assert_eq(scan_node(&e, path, sizeof(path)), PBWIRE_TOO_DEEP);
}

Test(pbwire, path_is_cut_to_fit)
{
	struct enc leaf = { .n = 0 }, mid = { .n = 0 }, top = { .n = 0 };
	enc_len(&leaf, NODE_NAME, "a\0", 2);
	enc_msg(&mid, NODE_CHILD, &leaf);
	enc_msg(&top, NODE_CHILD, &mid);
	char path[9];
	memset(path, 'x', sizeof(path));
	cr_assert_eq(scan_node(&top, path, sizeof(path)), PBWIRE_NUL);
	cr_assert_str_eq(path, "child.ch");
	cr_assert_eq(scan_node(&top, NULL, 0), PBWIRE_NUL);
}

/* ---- pbwire_find_crowded: counting repeated fields before decoding ---- */

static enum pbwire_result
crowded(const ProtobufCMessageDescriptor *d, const struct enc *e, size_t max,
        char *path, size_t pathlen)
{
	return pbwire_find_crowded(d, e->b, e->n, max, path, pathlen);
}

/* A Request whose Track holds n empty touchpoints (2 bytes each). */
static void
enc_empty_track(struct enc *e, size_t n)
{
	struct enc track = { .n = 0 };
	for (size_t i = 0; i < n; i++) {
		enc_len(&track, 1, "", 0);
	}
	e->n = 0;
	enc_len(e, 1, "r1", 2);
	enc_msg(e, 10, &track);
}

Test(pbwire, crowded_counts_repeated_messages)
{
	struct enc e;
	char path[128];
	enc_empty_track(&e, 5);
	cr_assert_eq(crowded(req_desc, &e, 5, path, sizeof(path)), PBWIRE_OK);
	cr_assert_str_eq(path, "");
	cr_assert_eq(
	        crowded(req_desc, &e, 4, path, sizeof(path)), PBWIRE_TOO_MANY);
	cr_assert_str_eq(path, "track.touchpoints");
	/* A real request within the count. */
	char cid[4][16] = { "c0", "c1", "c2", "c3" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok", cid, eid);
	cr_assert_eq(
	        pbwire_find_crowded(req_desc, buf, n, 4, path, sizeof(path)),
	        PBWIRE_OK);
	cr_assert_eq(
	        pbwire_find_crowded(req_desc, buf, n, 3, path, sizeof(path)),
	        PBWIRE_TOO_MANY);
	cr_assert_str_eq(path, "track.touchpoints");
}

Test(pbwire, crowded_counts_per_message_and_names_the_nested_one)
{
	/* children[0] {value {tags x1}}, children[1] {value {tags x3}} */
	struct enc one = { .n = 0 }, three = { .n = 0 };
	enc_len(&one, NODE_TAGS, "t", 1);
	for (int i = 0; i < 3; i++) {
		enc_len(&three, NODE_TAGS, "", 0);
	}
	struct enc entry0 = { .n = 0 }, entry1 = { .n = 0 }, top = { .n = 0 };
	enc_msg(&entry0, 2, &one);
	enc_msg(&entry1, 2, &three);
	enc_msg(&top, NODE_CHILDREN, &entry0);
	enc_msg(&top, NODE_CHILDREN, &entry1);
	char path[128];
	/* Four tags in all, but never more than three in one message. */
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &top, 3, path, sizeof(path)),
	        PBWIRE_OK);
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &top, 2, path, sizeof(path)),
	        PBWIRE_TOO_MANY);
	cr_assert_str_eq(path, "children[1].value.tags");
	/* The map itself is a repeated field: two entries. */
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &top, 1, path, sizeof(path)),
	        PBWIRE_TOO_MANY);
	cr_assert_str_eq(path, "children");
}

Test(pbwire, crowded_skips_packed_scalars_and_unknown_fields)
{
	struct enc e = { .n = 0 };
	/* One packed run of 100 nums: one occurrence, cheap to unpack. */
	uint8_t packed[100];
	memset(packed, 1, sizeof(packed));
	enc_len(&e, 6, packed, sizeof(packed));
	/* Unknown field 99, ten times. */
	for (int i = 0; i < 10; i++) {
		enc_tag(&e, 99, 0);
		enc_varint(&e, 0);
	}
	char path[64];
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &e, 1, path, sizeof(path)),
	        PBWIRE_OK);
	/* Unpacked nums, one varint each, count one by one. */
	for (int i = 0; i < 2; i++) {
		enc_tag(&e, 6, 0);
		enc_varint(&e, 7);
	}
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &e, 1, path, sizeof(path)),
	        PBWIRE_TOO_MANY);
	cr_assert_str_eq(path, "nums");
}

Test(pbwire, crowded_reports_what_it_cannot_walk)
{
	struct enc e;
	char path[64];
	enc_empty_track(&e, 3);
	e.n--; /* the last touchpoint's length is cut off */
	cr_assert_eq(crowded(req_desc, &e, 100, path, sizeof(path)),
	        PBWIRE_MALFORMED);
	nest(&e, PBWIRE_MAX_DEPTH + 1);
	cr_assert_eq(
	        crowded(&pbjson_test_node_desc, &e, 100, path, sizeof(path)),
	        PBWIRE_TOO_DEEP);
	cr_assert_str_eq(path, "");
}

/* Every message a Request can hold has its fields counted. */
static void
fields_fit(const ProtobufCMessageDescriptor *d, int depth)
{
	cr_assert_leq(d->n_fields, PBWIRE_COUNTED_FIELDS, "%s", d->name);
	if (depth > 8) {
		return;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE) {
			fields_fit(d->fields[i].descriptor, depth + 1);
		}
	}
}

Test(pbwire, every_request_message_is_counted_whole)
{
	fields_fit(req_desc, 0);
}

/* ---- pbwire_top_bytes: a top-level field off the wire ---- */

Test(pbwire, top_bytes_last_occurrence_wins)
{
	char cid[4][16] = { "c0", "c1", "c2", "c3" };
	char eid[4][16] = { "e0", "e1", "e2", "e3" };
	uint8_t buf[512];
	size_t n = pack_track(buf, sizeof(buf), "tok-1", cid, eid);
	const uint8_t *data = NULL;
	size_t len = 0;
	cr_assert(pbwire_top_bytes(buf, n, 2, &data, &len));
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(data, "tok-1", 5), 0);
	cr_assert(pbwire_top_bytes(buf, n, 1, &data, &len));
	cr_assert_eq(len, 2);
	cr_assert_eq(memcmp(data, "r1", 2), 0);
	/* Not at the top level: customer_id is inside track. */
	cr_assert_not(pbwire_top_bytes(buf, n, 3, &data, &len));

	struct enc e = { .n = 0 };
	enc_len(&e, 2, "first", 5);
	enc_len(&e, 2, "a\0b", 3);
	cr_assert(pbwire_top_bytes(e.b, e.n, 2, &data, &len));
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(data, "a\0b", 3), 0);
	/* A field after it that cannot be read: nothing is trusted. */
	enc_tag(&e, 3, 2);
	enc_varint(&e, 100);
	data = NULL;
	len = 7;
	cr_assert_not(pbwire_top_bytes(e.b, e.n, 2, &data, &len));
	cr_assert_null(data);
	cr_assert_eq(len, 7);
	cr_assert_not(pbwire_top_bytes(NULL, 0, 2, &data, &len));
}
