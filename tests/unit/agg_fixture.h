/*
 * What agg_test (contribution lists, pure) and agg_store_test (the lists
 * and touchpoints applied to a store) share: channel and time constants,
 * a UTC calendar from the C library (independent of agg.c), big-endian
 * keys as agg.h lays them out, and profiles built by feeding the model.
 */
#ifndef CLM_UNIT_AGG_FIXTURE_H
#define CLM_UNIT_AGG_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/agg.h"
#include "core/model.h"
#include "util/arena.h"

#define DAY  MODEL_DAY_MS
#define HOUR (3600 * 1000LL)

/* Channels (clm.v1.Channel). */
#define CH_NONE     CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED
#define CH_DIRECT   CLM__V1__CHANNEL__DIRECT
#define CH_PAID     CLM__V1__CHANNEL__PAID_ADS
#define CH_SEARCH   CLM__V1__CHANNEL__ORGANIC_SEARCH
#define CH_EMAIL    CLM__V1__CHANNEL__EMAIL
#define CH_REFERRAL CLM__V1__CHANNEL__REFERRAL_LINK
#define CH_STORE    CLM__V1__CHANNEL__STORE
#define CH_SUPPORT  CLM__V1__CHANNEL__SUPPORT
#define CH_SMS      CLM__V1__CHANNEL__SMS

/* Milliseconds of y-mo-d h:mi UTC (timegm). */
int64_t utc_ms(int y, int mo, int d, int h, int mi);

/* be32 writes v big-endian at p (agg.h's day and period fields). */
void be32(unsigned char *p, uint32_t v);

/* LMDB's default key order: bytes, then the shorter key first. */
int key_cmp(
        const unsigned char *a, size_t an, const unsigned char *b, size_t bn);

/* key_hex writes n bytes of k as hex into buf (2n + 1 bytes). */
const char *key_hex(const unsigned char *k, size_t n, char *buf);

/* all_zero: a contribution's four counters are all 0 (it adds nothing). */
bool all_zero(const int64_t *v);

/* A profile fed touchpoints in event-time order (so nothing to rescan:
 * when a first purchase arrives, no engagement after it is stored yet). */
struct journey {
	struct model_profile p;
	uint64_t seq;
};

void journey_init(struct journey *j);
void touch(struct journey *j, int type, int channel, int64_t at);

/* A record with purchase days and assignments (borrowed arrays). */
void record_init(Clm__V1__CustomerRecord *rec, uint32_t *days, size_t ndays,
        Clm__V1__ExperimentEntry **xs, size_t nxs);
void exp_init(Clm__V1__ExperimentEntry *x, const char *id, uint32_t variant,
        int64_t converted_ms);

/* contributions: agg_customer of (p, rec), asserted to succeed. */
void contributions(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, arena *a, struct agg_list *l);

#endif /* CLM_UNIT_AGG_FIXTURE_H */
