/*
 * Unit tests of server/store/record.c: the stored CustomerRecord and the
 * model's profile, across the growth of TouchpointType (CUSTOM = 28 came
 * after records of 28 touch counts were on disk).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "store/record.h"
#include "util/arena.h"

/* rec packed and unpacked again, as a store read gives it (malloc'd). */
static Clm__V1__CustomerRecord *
record_reread(const Clm__V1__CustomerRecord *rec)
{
	size_t n = clm__v1__customer_record__get_packed_size(rec);
	uint8_t *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	clm__v1__customer_record__pack(rec, buf);
	Clm__V1__CustomerRecord *got
	        = clm__v1__customer_record__unpack(NULL, n, buf);
	free(buf);
	cr_assert_not_null(got);
	return got;
}

/* A record an older clmd wrote reads the same, CUSTOM at 0, and is
 * written back as it was: trailing zero counts are not stored. */
Test(record, touch_counts_of_an_older_record)
{
	uint64_t counts[28] = { 0 };
	counts[MODEL_T_PURCHASE] = 3;
	counts[MODEL_T_FEEDBACK] = 9;
	Clm__V1__CustomerRecord old = CLM__V1__CUSTOMER_RECORD__INIT;
	old.n_touch_counts = 28;
	old.touch_counts = counts;
	struct model_profile p;
	record_to_profile(&old, &p);
	cr_assert_eq(p.touch_counts[MODEL_T_PURCHASE], 3);
	cr_assert_eq(p.touch_counts[MODEL_T_FEEDBACK], 9);
	cr_assert_eq(p.touch_counts[MODEL_T_CUSTOM], 0);

	arena a;
	arena_init(&a);
	Clm__V1__CustomerRecord back = CLM__V1__CUSTOMER_RECORD__INIT;
	cr_assert_eq(record_from_profile(&p, &back, &a), 0);
	cr_assert_eq(back.n_touch_counts, 28);
	cr_assert_eq(memcmp(back.touch_counts, counts, sizeof(counts)), 0);
	arena_fini(&a);
}

/* CUSTOM's count is stored at its type number and read back. */
Test(record, custom_count_round_trip)
{
	struct model_profile p;
	model_profile_init(&p);
	p.touch_counts[MODEL_T_PAGE_VIEW] = 4;
	p.touch_counts[MODEL_T_CUSTOM] = 2;
	arena a;
	arena_init(&a);
	Clm__V1__CustomerRecord rec = CLM__V1__CUSTOMER_RECORD__INIT;
	cr_assert_eq(record_from_profile(&p, &rec, &a), 0);
	cr_assert_eq(rec.n_touch_counts, MODEL_N_TYPES);
	cr_assert_eq(rec.touch_counts[28], 2);
	Clm__V1__CustomerRecord *got = record_reread(&rec);
	struct model_profile q;
	record_to_profile(got, &q);
	cr_assert_eq(q.touch_counts[MODEL_T_PAGE_VIEW], 4);
	cr_assert_eq(q.touch_counts[MODEL_T_CUSTOM], 2);
	cr_assert_eq(
	        memcmp(q.touch_counts, p.touch_counts, sizeof(p.touch_counts)),
	        0);
	clm__v1__customer_record__free_unpacked(got, NULL);
	arena_fini(&a);
}
