/* See powerloss_util.h. */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powerloss_util.h"

#ifndef POWERCUT_LIB
#error "POWERCUT_LIB must be defined (absolute path of libclm_powercut.so)"
#endif

/* splitmix64 */
uint64_t
pl_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t
pl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long long
pl_env_ull(const char *name, unsigned long long dflt)
{
	const char *s = getenv(name);
	if (s == NULL || s[0] == '\0') {
		return dflt;
	}
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	return *end == '\0' && v > 0 ? v : dflt;
}

/*
 * Starts clmd with args on data under powercut with the given cut
 * settings.
 */
int
pl_start_cut(struct clmd_proc *p, const char *data, const char *out,
        const char *now, unsigned long long after, uint64_t seed, bool torn,
        const char *const *args)
{
	char dir[512], outv[512], nowv[128], afterv[64], seedv[64];
	snprintf(dir, sizeof(dir), "CLM_POWERCUT_DIR=%s", data);
	snprintf(outv, sizeof(outv), "CLM_POWERCUT_OUT=%s", out);
	snprintf(nowv, sizeof(nowv), "CLM_POWERCUT_NOW=%s", now);
	snprintf(afterv, sizeof(afterv), "CLM_POWERCUT_AFTER=%llu", after);
	snprintf(seedv, sizeof(seedv), "CLM_POWERCUT_SEED=%llu",
	        (unsigned long long) seed);
	const char *const env[] = { dir, outv, nowv, afterv, seedv,
		torn ? "CLM_POWERCUT_TORN=1" : "CLM_POWERCUT_TORN=0", NULL };
	/* Only clmd gets the library and its settings. */
	return clmd_start_preloaded(p, data, args, POWERCUT_LIB, env);
}

/* The report the library wrote: "cut N REASON" or "ops N exit". */
bool
pl_report(const char *out, const char *what, unsigned long long *n)
{
	char path[PATH_MAX + 16], word[8];
	snprintf(path, sizeof(path), "%s.report", out);
	char *text = harness_read_file(path);
	bool ok = text != NULL && sscanf(text, "%7s %llu", word, n) == 2
	        && strcmp(word, what) == 0;
	free(text);
	return ok;
}

/*
 * Opens the stopped store at dir read-only: every named database must
 * mdb_stat and read end to end. Returns false with err set.
 */
bool
pl_integrity(const char *dir, char *err, size_t errlen)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	char what[128] = "open";
	int rc = mdb_env_create(&env);
	if (rc == 0) {
		rc = mdb_env_set_maxdbs(env, 64);
	}
	if (rc == 0) {
		rc = mdb_env_open(env, dir, MDB_RDONLY, 0);
	}
	if (rc == 0) {
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	}
	MDB_dbi main_db;
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, 0, &main_db);
	}
	if (rc == 0) {
		rc = mdb_cursor_open(txn, main_db, &cur);
	}
	MDB_val k, v;
	unsigned dbs = 0;
	while (rc == 0
	        && (rc = mdb_cursor_get(
	                    cur, &k, &v, dbs ? MDB_NEXT : MDB_FIRST))
	                == 0) {
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int) k.mv_size,
		        (const char *) k.mv_data);
		snprintf(what, sizeof(what), "%s", name);
		MDB_dbi dbi;
		MDB_stat st;
		MDB_cursor *c2 = NULL;
		rc = mdb_dbi_open(txn, name, 0, &dbi);
		if (rc == 0) {
			rc = mdb_stat(txn, dbi, &st);
		}
		if (rc == 0) {
			rc = mdb_cursor_open(txn, dbi, &c2);
		}
		size_t n = 0;
		MDB_val k2, v2;
		while (rc == 0
		        && (rc = mdb_cursor_get(
		                    c2, &k2, &v2, n ? MDB_NEXT : MDB_FIRST))
		                == 0) {
			n++;
		}
		if (rc == MDB_NOTFOUND) {
			rc = n == st.ms_entries ? 0 : MDB_CORRUPTED;
		}
		mdb_cursor_close(c2);
		dbs++;
	}
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "store '%s': %s: %s", dir, what,
		        mdb_strerror(rc));
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc == 0;
}

/* Fetches customer id; NULL when it does not exist. */
Clm__V1__Response *
pl_customer(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	if (e == CLM_NOT_FOUND) {
		clm_response_free(resp);
		return NULL;
	}
	cr_assert_eq(e, CLM_OK, "GetCustomer %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	return resp;
}

/*
 * Metrics over the workload's days must hold the customers' purchases and
 * revenue, ServerStatus their touchpoints. Returns false with err set.
 */
bool
pl_server_agrees(clm_conn *c, uint64_t sum_touches, uint64_t sum_purchases,
        double sum_revenue, char *err, size_t errlen)
{
	bool ok = true;
	Clm__V1__Response *resp = NULL;
	Clm__V1__MetricsRequest mq = CLM__V1__METRICS_REQUEST__INIT;
	mq.from_ms = PL_T0;
	mq.to_ms = PL_T_END;
	clm_err e = clm_metrics(c, &mq, &resp);
	cr_assert_eq(e, CLM_OK, "Metrics: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	const Clm__V1__MetricsReply *m = resp->metrics;
	cr_assert_not_null(m);
	if (m->orders != sum_purchases || m->revenue != sum_revenue) {
		snprintf(err, errlen,
		        "Metrics says %llu orders, revenue %.2f; the customers hold %llu purchases, revenue %.2f",
		        (unsigned long long) m->orders, m->revenue,
		        (unsigned long long) sum_purchases, sum_revenue);
		ok = false;
	}
	clm_response_free(resp);
	resp = NULL;
	if (ok) {
		e = clm_server_status(c, &resp);
		cr_assert_eq(e, CLM_OK, "ServerStatus: %s", clm_errname(e));
		if (resp->server_status->touchpoints != sum_touches) {
			snprintf(err, errlen,
			        "ServerStatus says %llu touchpoints; the customers hold %llu",
			        (unsigned long long)
			                resp->server_status->touchpoints,
			        (unsigned long long) sum_touches);
			ok = false;
		}
		clm_response_free(resp);
	}
	return ok;
}

/*
 * The touchpoints (GetCustomer touch counts), purchases and revenue of
 * customer pl-c<k>; zeros when it does not exist.
 */
void
pl_counts(clm_conn *c, unsigned k, uint64_t *touches, uint64_t *purchases,
        double *revenue)
{
	char id[16];
	snprintf(id, sizeof(id), "pl-c%u", k);
	Clm__V1__Response *resp = pl_customer(c, id);
	*touches = *purchases = 0;
	*revenue = 0;
	if (resp != NULL && resp->customer != NULL) {
		const Clm__V1__Customer *cu = resp->customer;
		for (size_t j = 0; j < cu->n_touch_counts; j++) {
			*touches += cu->touch_counts[j]->count;
		}
		*purchases = cu->purchases;
		*revenue = cu->revenue;
	}
	clm_response_free(resp);
}

/* Identify call i's anonymous id shows in its customer's. */
bool
pl_identified(clm_conn *c, unsigned i)
{
	char id[16], anon[32];
	snprintf(id, sizeof(id), "pl-c%u", i % PL_CUSTOMERS);
	snprintf(anon, sizeof(anon), "pl-anon-%u", i);
	Clm__V1__Response *resp = pl_customer(c, id);
	bool found = false;
	for (size_t j = 0; resp != NULL && resp->customer != NULL
	        && j < resp->customer->n_anonymous_ids;
	        j++) {
		found = found
		        || strcmp(resp->customer->anonymous_ids[j], anon) == 0;
	}
	clm_response_free(resp);
	return found;
}
