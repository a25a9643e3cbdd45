#include "sdk_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "calls/reply.h"

const struct validate_limits sdk_limits = {
	.max_id_bytes = 128,
	.max_properties = 32,
	.max_property_key_bytes = 64,
	.max_property_value_bytes = 1024,
};

struct sdk_map *sdk_map;
arena sdk_arena;
struct sdk_batch sdk_out;
char sdk_err[256];

void
sdk_fixture_setup(void)
{
	char err[256] = "";
	cr_assert_eq(sdk_map_load(NULL, &sdk_map, err, sizeof(err)), CLM_OK,
	        "%s", err);
	arena_init(&sdk_arena);
	memset(&sdk_out, 0, sizeof(sdk_out));
	sdk_err[0] = '\0';
}

void
sdk_fixture_teardown(void)
{
	arena_fini(&sdk_arena);
	sdk_map_free(sdk_map);
	sdk_map = NULL;
}

clm_err
sdk_parse_str(enum sdk_route route, const char *body)
{
	memset(&sdk_out, 0, sizeof(sdk_out));
	clm_err e = sdk_parse(sdk_map, &sdk_limits, route, body, strlen(body),
	        SDK_NOW, &sdk_arena, &sdk_out, sdk_err, sizeof(sdk_err));
	if (e == CLM_OK) {
		sdk_check_valid();
	}
	return e;
}

char *
sdk_read_file(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", CLM_SDK_DATA, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert(n >= 0);
	rewind(f);
	char *buf = arena_alloc(&sdk_arena, (size_t) n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t) n;
	return buf;
}

const char *
sdk_prop(const Clm__V1__Touchpoint *tp, const char *key)
{
	for (size_t i = 0; i < tp->n_properties; i++) {
		if (strcmp(tp->properties[i]->key, key) == 0) {
			return tp->properties[i]->value;
		}
	}
	return NULL;
}

const char *
sdk_trait(const Clm__V1__IdentifyRequest *r, const char *key)
{
	for (size_t i = 0; i < r->n_traits; i++) {
		if (strcmp(r->traits[i]->key, key) == 0) {
			return r->traits[i]->value;
		}
	}
	return NULL;
}

void
sdk_check_valid(void)
{
	for (size_t i = 0; i < sdk_out.n_ops; i++) {
		const struct sdk_op *op = &sdk_out.ops[i];
		struct violations v;
		violations_init(&v, &sdk_arena);
		if (op->kind == SDK_OP_TRACK) {
			validate_touchpoint(
			        op->tp, &sdk_limits, SDK_NOW, "tp", &v);
		} else {
			const Clm__V1__IdentifyRequest *r = op->identify;
			cr_assert_null(validate_id(
			        r->anonymous_id, sdk_limits.max_id_bytes));
			cr_assert_null(validate_id(
			        r->customer_id, sdk_limits.max_id_bytes));
			cr_assert(r->n_traits <= sdk_limits.max_properties);
			for (size_t k = 0; k < r->n_traits; k++) {
				validate_entry(r->traits[k]->key,
				        r->traits[k]->value, &sdk_limits,
				        "traits", k, &v);
			}
		}
		for (size_t k = 0; k < v.n; k++) {
			cr_assert_not_null(
			        strstr(v.items[k]->description,
			                "not accepted by this build yet"),
			        "op %zu: %s: %s", i, v.items[k]->field,
			        v.items[k]->description);
		}
	}
}
