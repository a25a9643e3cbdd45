/*
 * Unit tests of include/clm/error.h (common/error.c): the clm_err list maps
 * one-to-one onto the wire enum clm.v1.Code, by number and by name.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"

/* Every name of the X-macro list is a wire constant with the same value. */
Test(error, enum_values_match_the_wire_constants)
{
	int n = 0;
#define ERROR_TEST_CHECK(name, num, msg)                            \
	cr_assert_eq((int) CLM_##name, (int) CLM__V1__CODE__##name, \
	        "CLM_" #name " = %d, wire %d", (int) CLM_##name,    \
	        (int) CLM__V1__CODE__##name);                       \
	cr_assert_eq((int) CLM_##name, num);                        \
	n++;
	CLM_ERRORS(ERROR_TEST_CHECK)
#undef ERROR_TEST_CHECK
	cr_assert_eq(n, CLM_ERR_COUNT);
	cr_assert_eq(CLM_OK, 0);
}

/* Wire to clm: every value of the descriptor is known by the same name. */
Test(error, every_wire_code_has_a_clm_err)
{
	const ProtobufCEnumDescriptor *d = &clm__v1__code__descriptor;
	cr_assert_eq(d->n_values, (unsigned) CLM_ERR_COUNT,
	        "the wire has %u codes, clm_err %d", d->n_values,
	        CLM_ERR_COUNT);
	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];
		cr_assert_geq(v->value, 0);
		cr_assert_lt(v->value, CLM_ERR_COUNT, "wire code %s = %d",
		        v->name, v->value);
		cr_assert_str_eq(clm_errname((clm_err) v->value), v->name,
		        "wire code %d", v->value);
		cr_assert_eq(clm_err_from_code(v->value), (clm_err) v->value);
	}
}

/* clm to wire: every clm_err is a wire value with the same name. */
Test(error, every_clm_err_is_a_wire_code)
{
	const ProtobufCEnumDescriptor *d = &clm__v1__code__descriptor;
	for (int c = 0; c < CLM_ERR_COUNT; c++) {
		const char *name = clm_errname((clm_err) c);
		cr_assert_str_neq(name, "?", "clm_err %d has no name", c);
		const ProtobufCEnumValue *v
		        = protobuf_c_enum_descriptor_get_value(d, c);
		cr_assert_not_null(v, "clm_err %d is not a wire code", c);
		cr_assert_str_eq(v->name, name, "code %d", c);
		const ProtobufCEnumValue *byname
		        = protobuf_c_enum_descriptor_get_value_by_name(
		                d, name);
		cr_assert_not_null(byname, "'%s' is not a wire name", name);
		cr_assert_eq(byname->value, c, "'%s'", name);
	}
}

Test(error, strerror_is_lowercase_and_distinct)
{
	for (int c = 0; c < CLM_ERR_COUNT; c++) {
		const char *s = clm_strerror((clm_err) c);
		cr_assert_not_null(s);
		cr_assert_gt(strlen(s), 0, "clm_strerror(%d) is empty", c);
		cr_assert(!isupper((unsigned char) s[0]),
		        "clm_strerror(%d) = '%s' should be lowercase", c, s);
		cr_assert_str_neq(s, "unknown error code", "code %d", c);
		for (int k = 0; k < c; k++) {
			cr_assert_str_neq(s, clm_strerror((clm_err) k),
			        "codes %d and %d share a message", k, c);
			cr_assert_str_neq(clm_errname((clm_err) c),
			        clm_errname((clm_err) k));
		}
	}
	cr_assert_str_eq(clm_strerror(CLM_NOT_FOUND), "not found");
	cr_assert_str_eq(clm_errname(CLM_NOT_FOUND), "NOT_FOUND");
}

Test(error, out_of_range)
{
	cr_assert_str_eq(
	        clm_strerror((clm_err) CLM_ERR_COUNT), "unknown error code");
	cr_assert_str_eq(clm_strerror((clm_err) -1), "unknown error code");
	cr_assert_str_eq(clm_errname((clm_err) CLM_ERR_COUNT), "?");
	cr_assert_str_eq(clm_errname((clm_err) 1000), "?");
	static const int bad[] = { -1, CLM_ERR_COUNT, CLM_ERR_COUNT + 1, 100,
		INT_MAX, INT_MIN };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(clm_err_from_code(bad[i]), CLM_UNKNOWN,
		        "clm_err_from_code(%d)", bad[i]);
	}
	for (int c = 0; c < CLM_ERR_COUNT; c++) {
		cr_assert_eq(clm_err_from_code(c), (clm_err) c);
	}
}
