#define _DEFAULT_SOURCE /* timegm */
#include "agg_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
utc_ms(int y, int mo, int d, int h, int mi)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1; /* timegm normalises 13 to January next year */
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t) timegm(&tm) * 1000;
}

void
be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char) (v >> (24 - 8 * i));
	}
}

int
key_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c != 0 ? c : (an > bn) - (an < bn);
}

const char *
key_hex(const unsigned char *k, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(buf + 2 * i, 3, "%02x", k[i]);
	}
	buf[2 * n] = '\0';
	return buf;
}

bool
all_zero(const int64_t *v)
{
	return v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0;
}

void
journey_init(struct journey *j)
{
	model_profile_init(&j->p);
	j->seq = 0;
}

void
touch(struct journey *j, int type, int channel, int64_t at)
{
	struct model_touch t = {
		.type = type,
		.channel = channel,
		.at_ms = at,
		.seq = ++j->seq,
		.item_id = "",
		.value_micros = type == MODEL_T_PURCHASE ? 10000000 : 0,
	};
	struct model_rescan r;
	model_apply(&j->p, &t, &r);
}

void
record_init(Clm__V1__CustomerRecord *rec, uint32_t *days, size_t ndays,
        Clm__V1__ExperimentEntry **xs, size_t nxs)
{
	clm__v1__customer_record__init(rec);
	rec->customer_id = (char *) "c";
	rec->purchase_days = days;
	rec->n_purchase_days = ndays;
	rec->experiments = xs;
	rec->n_experiments = nxs;
}

void
exp_init(Clm__V1__ExperimentEntry *x, const char *id, uint32_t variant,
        int64_t converted_ms)
{
	clm__v1__experiment_entry__init(x);
	x->experiment_id = (char *) id;
	x->variant = variant;
	x->exposed_ms = utc_ms(2024, 1, 1, 0, 0);
	x->goal = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	x->converted_ms = converted_ms;
}

void
contributions(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, arena *a, struct agg_list *l)
{
	cr_assert_eq(agg_customer(p, rec, a, l), 0);
}
