/*
 * The cut loop's helpers of powerloss_test.c that know nothing of its
 * workload: clmd under powercut, its report, the store walk, and the
 * API reads the checks make.
 */
#ifndef CLM_TEST_POWERLOSS_UTIL_H
#define CLM_TEST_POWERLOSS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* 2024-01-01T00:00:00Z; the workload's events fall in 2024. */
#define PL_T0     1704067200000LL
#define PL_DAY_MS 86400000LL
#define PL_T_END  (PL_T0 + 366 * PL_DAY_MS)

#define PL_CUSTOMERS 5

/* splitmix64 */
uint64_t pl_rand(uint64_t *state);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t pl_now_ms(void);

/* The number in environment variable name; dflt when unset, 0 or bad. */
unsigned long long pl_env_ull(const char *name, unsigned long long dflt);

/*
 * Starts clmd p with args on data under powercut with the given cut
 * settings (only clmd gets the library and them). Returns clmd_start's.
 */
int pl_start_cut(struct clmd_proc *p, const char *data, const char *out,
        const char *now, unsigned long long after, uint64_t seed, bool torn,
        const char *const *args);

/* The report the library wrote: "cut N REASON" or "ops N exit". */
bool pl_report(const char *out, const char *what, unsigned long long *n);

/*
 * Opens the stopped store at dir read-only: every named database must
 * mdb_stat and read end to end. Returns false with err set.
 */
bool pl_integrity(const char *dir, char *err, size_t errlen);

/* Fetches customer id; NULL when it does not exist. */
Clm__V1__Response *pl_customer(clm_conn *c, const char *id);

/*
 * Metrics over the workload's days must hold the customers' purchases and
 * revenue, ServerStatus their touchpoints. Returns false with err set.
 */
bool pl_server_agrees(clm_conn *c, uint64_t sum_touches,
        uint64_t sum_purchases, double sum_revenue, char *err, size_t errlen);

/*
 * The touchpoints (GetCustomer touch counts), purchases and revenue of
 * customer pl-c<k>; zeros when it does not exist.
 */
void pl_counts(clm_conn *c, unsigned k, uint64_t *touches, uint64_t *purchases,
        double *revenue);

/* Identify call i's anonymous id shows in its customer's. */
bool pl_identified(clm_conn *c, unsigned i);

#endif
