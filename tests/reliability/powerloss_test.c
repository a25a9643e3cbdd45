/*
 * Power loss (docs/operations.md "Durability and failures"): with
 * durability full, every write acknowledged before the power went off is
 * there after it, and nothing is half-applied.
 *
 * kill -9 cannot show this: the page cache outlives the process. So each
 * cut runs clmd under tests/reliability/powercut.c, an LD_PRELOAD library
 * that keeps a shadow of what is durable in the strict POSIX model (file
 * data as of its last fsync or O_DSYNC write, directory entries as of the
 * directory's last fsync), cuts the power before its N-th durability
 * operation (SIGKILL from inside the wrapped call, after writing the
 * durable tree to a directory), and a second clmd then starts normally on
 * that directory.
 *
 * One calibration run of the workload (below) without a cut counts its
 * operations, T. The cut points are then the first operations of a brand
 * new store (1, 2, 3, 5, 8, 12, 17, 23: mkdir, the first files, the first
 * commit; a new store's very names are durable only once the directory is
 * fsync'd) and the rest spread over [24, T + 8] with a seeded jitter. A
 * cut past the workload's end comes through $CLM_POWERCUT_NOW and one more
 * Track. Each cut has its own seed (printed on failure; with
 * CLM_POWERLOSS_TORN=1 it also picks the torn pages).
 *
 * clmd runs with checkpoint_bytes 4K, so its journal is checkpointed into
 * data.mdb after about every call and the cuts fall in journal commits,
 * checkpoints and journal truncations alike; and with checkpoint_chunk_keys
 * 1, so every checkpoint writes its image (DATA/checkpoint.img) and goes
 * in chunks, and cuts fall between them too.
 *
 * The workload, one client, one call at a time over a plain SP socket
 * (crash_test.c says why not libclm): Tracks of 1 to 4 touchpoints (some
 * purchases with a value) for PL_CUSTOMERS customers, and every eighth
 * call an Identify of a new anonymous id with a trait. Each call's fate is
 * logged: acknowledged (OK), refused (an error status) or unknown (the
 * connection died: in flight at the cut; only the last call can be).
 *
 * After the cut the test checks, through the API of the restarted clmd:
 *   - it starts (a refusal fails the test with its log);
 *   - per customer, the touchpoints (GetCustomer touch counts), purchases
 *     and revenue are exactly the acknowledged Tracks', plus the unknown
 *     Track's either for every customer or for none (a Track is one
 *     transaction: all or nothing);
 *   - an acknowledged Identify shows in the customer's anonymous ids;
 *   - Metrics over the workload's days: orders and revenue equal the sums
 *     over the customers, and ServerStatus.touchpoints the sum of touches;
 *   - every acknowledged Track sent again is all duplicates, and the
 *     unknown one all duplicates or all accepted, as the counts said;
 * then stops it and opens the store read-only with LMDB: every named
 * database must mdb_stat and read end to end.
 *
 * CLM_POWERLOSS_CUTS sets the number of cuts (default 32, about 10 s on
 * two cores), CLM_POWERLOSS_CALLS the calls of a workload run (default 40,
 * at most 4,000), CLM_POWERLOSS_SEED the base seed, CLM_POWERLOSS_TORN=1
 * keeps unsynced pages at random. tools/powerloss-soak.sh runs many more.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "spclient.h"

#ifndef POWERCUT_LIB
#error "POWERCUT_LIB must be defined (absolute path of libclm_powercut.so)"
#endif

#define PL_DEFAULT_CUTS  32
#define PL_DEFAULT_SEED  0x9043c07ULL
#define PL_DEFAULT_CALLS 40 /* calls of one workload run */
#define PL_MAX_CALLS     4000
#define PL_CUSTOMERS     5

/*
 * The smallest checkpoint size, so that the overlay is checkpointed into
 * data.mdb every few calls and cuts land inside checkpoints too (their
 * LMDB commits, the journal truncations behind them); one key per
 * checkpoint transaction, so that every checkpoint goes in chunks and
 * cuts land in its image's writes and between its chunks.
 */
static const char *const pl_args[]
        = { "--checkpoint-bytes", "4K", "--checkpoint-chunk-keys", "1", NULL };
#define PL_BATCH_MAX 4
#define PL_CALL_MS   30000
#define PL_ERR_LEN   1024

/* 2024-01-01T00:00:00Z; the workload's events fall in 2024. */
#define PL_T0     1704067200000LL
#define PL_DAY_MS 86400000LL
#define PL_T_END  (PL_T0 + 366 * PL_DAY_MS)

/* The first operations of a new store, each a cut point. */
static const unsigned pl_early[] = { 1, 2, 3, 5, 8, 12, 17, 23 };

/* No timeout: ctest's limit applies, and a long soak needs none. */
HARNESS_SUITE(powerloss, 0);

/*
 * Calls per workload run (CLM_POWERLOSS_CALLS): set once by the test
 * before any run, file-private so the helpers need not pass it around.
 */
static unsigned pl_calls = PL_DEFAULT_CALLS;

enum pl_fate {
	PL_NOT_SENT,
	PL_ACKED,
	PL_REFUSED,
	PL_UNKNOWN,
};

/* What the calls of one run did, by fate. */
struct pl_sums {
	uint64_t touches[PL_CUSTOMERS];
	uint64_t purchases[PL_CUSTOMERS];
	double revenue[PL_CUSTOMERS];
};

struct pl_totals {
	unsigned cuts, startup_cuts, runs_acked;
	uint64_t acked_calls, unknown_applied, unknown_lost;
};

/* splitmix64 */
static uint64_t
pl_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int64_t
pl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long
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

/* Call i is an Identify (else a Track). */
static bool
pl_is_identify(unsigned i)
{
	return i % 8 == 5;
}

/*
 * The touchpoints of Track call i (a function of i alone, so a re-send is
 * the same request) into b.
 */
static void
pl_track_batch(unsigned i, struct tp_batch *b)
{
	uint64_t h = 0x7ac4ULL + i;
	h = pl_rand(&h);
	unsigned n = 1 + (unsigned) (h % PL_BATCH_MAX);
	b->n = 0;
	for (unsigned k = 0; k < n; k++) {
		uint64_t r = h ^ ((uint64_t) k << 48);
		r = pl_rand(&r);
		Clm__V1__Touchpoint *tp = &b->tp[k];
		clm__v1__touchpoint__init(tp);
		snprintf(b->eid[k], sizeof(b->eid[k]), "pl-%u-%u", i, k);
		snprintf(b->cid[k], sizeof(b->cid[k]), "pl-c%u",
		        (unsigned) ((r >> 8) % PL_CUSTOMERS));
		tp->event_id = b->eid[k];
		tp->customer_id = b->cid[k];
		tp->channel = CLM__V1__CHANNEL__EMAIL;
		tp->occurred_at_ms
		        = PL_T0 + (int64_t) i * PL_DAY_MS + (int64_t) k * 1000;
		if ((r >> 16) % 3 == 0) {
			tp->type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
			tp->value = (double) (1 + (r >> 24) % 50);
			tp->currency = "EUR";
			tp->item_id = "pl-item";
		} else {
			tp->type = (r >> 16) % 3 == 1
			        ? CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT
			        : CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
		}
		b->ptr[k] = tp;
		b->n++;
	}
}

/* Adds Track call i's effect to s. */
static void
pl_track_sums(unsigned i, struct tp_batch *b, struct pl_sums *s)
{
	pl_track_batch(i, b);
	for (size_t k = 0; k < b->n; k++) {
		unsigned c = (unsigned) atoi(b->cid[k] + 4);
		s->touches[c]++;
		if (b->tp[k].type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
			s->purchases[c]++;
			s->revenue[c] += b->tp[k].value;
		}
	}
}

/* Sends workload call i on fd; returns its fate. */
static enum pl_fate
pl_send(int fd, unsigned i, struct tp_batch *b)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__IdentifyRequest ir = CLM__V1__IDENTIFY_REQUEST__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry trait
	        = CLM__V1__IDENTIFY_REQUEST__TRAITS_ENTRY__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry *traits[1] = { &trait };
	char anon[32], cust[32], val[16];
	if (pl_is_identify(i)) {
		snprintf(anon, sizeof(anon), "pl-anon-%u", i);
		snprintf(cust, sizeof(cust), "pl-c%u", i % PL_CUSTOMERS);
		snprintf(val, sizeof(val), "%u", i);
		ir.anonymous_id = anon;
		ir.customer_id = cust;
		trait.key = "pl";
		trait.value = val;
		ir.n_traits = 1;
		ir.traits = traits;
		req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
		req.identify = &ir;
	} else {
		pl_track_batch(i, b);
		tr.n_touchpoints = b->n;
		tr.touchpoints = b->ptr;
		req.call_case = CLM__V1__REQUEST__CALL_TRACK;
		req.track = &tr;
	}
	Clm__V1__Response *resp = spclient_call(fd, &req, i + 1);
	if (resp == NULL) {
		return PL_UNKNOWN;
	}
	enum pl_fate f = resp->status != NULL
	                && resp->status->code != CLM__V1__CODE__OK
	        ? PL_REFUSED
	        : PL_ACKED;
	clm_response_free(resp);
	return f;
}

static void
pl_setenv(const char *name, const char *val)
{
	cr_assert_eq(setenv(name, val, 1), 0, "setenv %s", name);
}

/* Starts clmd on data under powercut with the given cut settings. */
static int
pl_start_cut(const char *data, const char *out, const char *now,
        unsigned long long after, uint64_t seed, bool torn)
{
	char num[32];
	pl_setenv("CLM_POWERCUT_DIR", data);
	pl_setenv("CLM_POWERCUT_OUT", out);
	pl_setenv("CLM_POWERCUT_NOW", now);
	snprintf(num, sizeof(num), "%llu", after);
	pl_setenv("CLM_POWERCUT_AFTER", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long) seed);
	pl_setenv("CLM_POWERCUT_SEED", num);
	pl_setenv("CLM_POWERCUT_TORN", torn ? "1" : "0");
	/*
	 * Under AddressSanitizer the library comes ahead of the ASan runtime,
	 * which ASan refuses unless verify_asan_link_order=0 (harmless
	 * without ASan; faults_test.c does the same).
	 */
	const char *old = getenv("ASAN_OPTIONS");
	char *old_asan = old != NULL ? strdup(old) : NULL;
	char asan[1024];
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
	        old != NULL ? old : "", old != NULL && old[0] ? ":" : "");
	pl_setenv("ASAN_OPTIONS", asan);
	pl_setenv("LD_PRELOAD", POWERCUT_LIB);
	int rc = clmd_start(&srv, data, pl_args);
	/* Only clmd gets the library and its settings. */
	unsetenv("LD_PRELOAD");
	if (old_asan != NULL) {
		pl_setenv("ASAN_OPTIONS", old_asan);
	} else {
		unsetenv("ASAN_OPTIONS");
	}
	free(old_asan);
	static const char *const vars[] = { "CLM_POWERCUT_DIR",
		"CLM_POWERCUT_OUT", "CLM_POWERCUT_NOW", "CLM_POWERCUT_AFTER",
		"CLM_POWERCUT_SEED", "CLM_POWERCUT_TORN" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		unsetenv(vars[i]);
	}
	return rc;
}

/*
 * Runs the workload until a call finds the connection dead; with
 * trigger, creates the file now after the last call and sends one more
 * Track (index pl_calls) so a cut past the end still comes. Writes the
 * fates into fate[0..pl_calls].
 */
static void
pl_workload(const char *now, bool trigger, enum pl_fate *fate)
{
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, PL_BATCH_MAX));
	for (unsigned i = 0; i <= pl_calls; i++) {
		fate[i] = PL_NOT_SENT;
	}
	int fd = spclient_connect(srv.port, PL_CALL_MS);
	cr_assert_geq(fd, 0, "cannot connect to %s", srv.url);
	bool dead = false;
	for (unsigned i = 0; i < pl_calls && !dead; i++) {
		fate[i] = pl_send(fd, i, &b);
		dead = fate[i] == PL_UNKNOWN;
	}
	if (!dead && trigger) {
		FILE *f = fopen(now, "w");
		cr_assert_not_null(f, "cannot create '%s'", now);
		fclose(f);
		fate[pl_calls] = pl_send(fd, pl_calls, &b);
	}
	close(fd);
	tp_batch_fini(&b);
}

/* The report the library wrote: "cut N REASON" or "ops N exit". */
static bool
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
static bool
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

/* Fetches customer id; false when it does not exist. */
static Clm__V1__Response *
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

/* Sends Track call i again on c; returns accepted, or -1 with err set. */
static long
pl_retrack(
        clm_conn *c, unsigned i, struct tp_batch *b, char *err, size_t errlen)
{
	pl_track_batch(i, b);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	if (e != CLM_OK || resp->track == NULL
	        || resp->track->accepted + resp->track->duplicates != b->n) {
		snprintf(err, errlen, "re-track of call %u: %s (%s)", i,
		        clm_errname(e), clm_last_error(c));
		clm_response_free(resp);
		return -1;
	}
	long acc = resp->track->accepted;
	clm_response_free(resp);
	return acc;
}

/*
 * Checks the clmd restarted on the cut's image against fate (see the top
 * of the file). Returns false with err set; adds to t.
 */
static bool
pl_verify(clm_conn *c, const enum pl_fate *fate, struct pl_totals *t,
        char *err, size_t errlen)
{
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, PL_BATCH_MAX));
	struct pl_sums acked = { 0 }, unknown = { 0 };
	int unknown_track = -1;
	for (unsigned i = 0; i <= pl_calls; i++) {
		if (fate[i] == PL_REFUSED) {
			snprintf(err, errlen, "call %u was refused", i);
			tp_batch_fini(&b);
			return false;
		}
		if (pl_is_identify(i) && i < pl_calls) {
			continue;
		}
		if (fate[i] == PL_ACKED) {
			t->acked_calls++;
			pl_track_sums(i, &b, &acked);
		} else if (fate[i] == PL_UNKNOWN) {
			unknown_track = (int) i;
			pl_track_sums(i, &b, &unknown);
		}
	}
	/* -1: not yet known; 0: the unknown Track is absent; 1: applied. */
	int applied = -1;
	uint64_t sum_touches = 0, sum_purchases = 0;
	double sum_revenue = 0;
	bool ok = true;
	for (unsigned k = 0; k < PL_CUSTOMERS && ok; k++) {
		char id[16];
		snprintf(id, sizeof(id), "pl-c%u", k);
		Clm__V1__Response *resp = pl_customer(c, id);
		uint64_t touches = 0, purchases = 0;
		double revenue = 0;
		if (resp != NULL && resp->customer != NULL) {
			const Clm__V1__Customer *cu = resp->customer;
			for (size_t j = 0; j < cu->n_touch_counts; j++) {
				touches += cu->touch_counts[j]->count;
			}
			purchases = cu->purchases;
			revenue = cu->revenue;
		}
		clm_response_free(resp);
		sum_touches += touches;
		sum_purchases += purchases;
		sum_revenue += revenue;
		bool as_acked = touches == acked.touches[k]
		        && purchases == acked.purchases[k]
		        && revenue == acked.revenue[k];
		bool as_applied
		        = touches == acked.touches[k] + unknown.touches[k]
		        && purchases
		                == acked.purchases[k] + unknown.purchases[k]
		        && revenue == acked.revenue[k] + unknown.revenue[k];
		int mine = unknown.touches[k] == 0 ? -1 : as_applied ? 1 : 0;
		if (!as_acked && !as_applied) {
			snprintf(err, errlen,
			        "customer %s: %llu touchpoints, %llu purchases, revenue %.2f; acknowledged %llu, %llu, %.2f (+ %llu, %llu, %.2f in flight)",
			        id, (unsigned long long) touches,
			        (unsigned long long) purchases, revenue,
			        (unsigned long long) acked.touches[k],
			        (unsigned long long) acked.purchases[k],
			        acked.revenue[k],
			        (unsigned long long) unknown.touches[k],
			        (unsigned long long) unknown.purchases[k],
			        unknown.revenue[k]);
			ok = false;
		} else if (mine >= 0 && applied >= 0 && mine != applied) {
			snprintf(err, errlen,
			        "torn Track: call %d is applied for some customers only (%s)",
			        unknown_track, id);
			ok = false;
		} else if (mine >= 0) {
			applied = mine;
		}
	}
	for (unsigned i = 0; i < pl_calls && ok; i++) {
		if (!pl_is_identify(i) || fate[i] != PL_ACKED) {
			continue;
		}
		char id[16], anon[32];
		snprintf(id, sizeof(id), "pl-c%u", i % PL_CUSTOMERS);
		snprintf(anon, sizeof(anon), "pl-anon-%u", i);
		Clm__V1__Response *resp = pl_customer(c, id);
		bool found = false;
		for (size_t j = 0; resp != NULL && resp->customer != NULL
		        && j < resp->customer->n_anonymous_ids;
		        j++) {
			found = found
			        || strcmp(resp->customer->anonymous_ids[j],
			                   anon)
			                == 0;
		}
		clm_response_free(resp);
		if (!found) {
			snprintf(err, errlen,
			        "acknowledged Identify %s -> %s is missing",
			        anon, id);
			ok = false;
		}
	}
	Clm__V1__Response *resp = NULL;
	if (ok) {
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
			        (unsigned long long) sum_purchases,
			        sum_revenue);
			ok = false;
		}
		clm_response_free(resp);
		resp = NULL;
	}
	if (ok) {
		clm_err e = clm_server_status(c, &resp);
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
	/* The idempotency keys: committed with the data or not at all. */
	for (unsigned i = 0; i <= pl_calls && ok; i++) {
		bool track = !pl_is_identify(i) || i == pl_calls;
		if (!track || (fate[i] != PL_ACKED && fate[i] != PL_UNKNOWN)) {
			continue;
		}
		long acc = pl_retrack(c, i, &b, err, errlen);
		if (acc < 0) {
			ok = false;
		} else if (fate[i] == PL_ACKED && acc != 0) {
			snprintf(err, errlen,
			        "acknowledged Track call %u: %ld of its events were accepted again",
			        i, acc);
			ok = false;
		} else if (fate[i] == PL_UNKNOWN
		        && acc != (applied == 1 ? 0 : (long) b.n)) {
			snprintf(err, errlen,
			        "in-flight Track call %u: %ld of %zu accepted on re-send; its counts said %s",
			        i, acc, b.n,
			        applied == 1 ? "applied" : "not applied");
			ok = false;
		}
	}
	if (ok && unknown_track >= 0) {
		if (applied == 1) {
			t->unknown_applied++;
		} else {
			t->unknown_lost++;
		}
	}
	tp_batch_fini(&b);
	return ok;
}

/* Runs the workload once without a cut; returns its operation count. */
static unsigned long long
pl_calibrate(const char *base, bool torn)
{
	char data[256], out[256], now[256];
	snprintf(data, sizeof(data), "%s/calibrate/data", base);
	snprintf(out, sizeof(out), "%s/calibrate/out", base);
	snprintf(now, sizeof(now), "%s/calibrate/now", base);
	char dir[192];
	snprintf(dir, sizeof(dir), "%s/calibrate", base);
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
	cr_assert_eq(pl_start_cut(data, out, now, 0, 1, torn), 0,
	        "clmd did not start under powercut (log %s)", srv.log_path);
	enum pl_fate fate[PL_MAX_CALLS + 1];
	pl_workload(now, false, fate);
	for (unsigned i = 0; i < pl_calls; i++) {
		cr_assert_eq(fate[i], PL_ACKED,
		        "calibration: call %u was not acknowledged", i);
	}
	cr_assert_eq(clmd_stop(&srv), 0, "calibration: clean stop failed");
	unsigned long long ops = 0;
	cr_assert(pl_report(out, "ops", &ops),
	        "calibration: no operation count in '%s.report'", out);
	return ops;
}

/*
 * One cut before operation `after` (see the top of the file). Returns
 * false with err set.
 */
static bool
pl_cut(const char *base, unsigned n, unsigned long long after, uint64_t seed,
        bool torn, struct pl_totals *t, char *err, size_t errlen)
{
	char dir[192], data[256], out[256], now[256];
	snprintf(dir, sizeof(dir), "%s/cut%u", base, n);
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(now, sizeof(now), "%s/now", dir);
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/after");
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
	snprintf(out, sizeof(out), "%s/data", dir);

	enum pl_fate fate[PL_MAX_CALLS + 1];
	for (unsigned i = 0; i <= pl_calls; i++) {
		fate[i] = PL_NOT_SENT;
	}
	if (pl_start_cut(data, out, now, after, seed, torn) == 0) {
		pl_workload(now, true, fate);
		int st = clmd_stop(&srv);
		if (st != 128 + 9) {
			snprintf(err, errlen,
			        "clmd under powercut ended with status %d, not the cut's SIGKILL",
			        st);
			return false;
		}
	} else {
		t->startup_cuts++; /* cut before it answered: nothing acked */
	}
	unsigned long long at = 0;
	if (!pl_report(out, "cut", &at)) {
		snprintf(err, errlen, "no cut reported in '%s.report'", out);
		return false;
	}
	t->cuts++;
	for (unsigned i = 0; i <= pl_calls; i++) {
		if (fate[i] == PL_ACKED) {
			t->runs_acked++;
			break;
		}
	}
	if (clmd_start(&srv, out, pl_args) != 0) {
		char *log = harness_read_file(srv.log_path);
		snprintf(err, errlen,
		        "clmd did not start on the store left by the cut: %s",
		        log ? log : "(no log)");
		free(log);
		return false;
	}
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, 60000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	bool ok = pl_verify(c, fate, t, err, errlen);
	clm_close(c);
	int st = clmd_stop(&srv);
	if (ok && st != 0) {
		snprintf(err, errlen, "clean stop after the checks exited %d",
		        st);
		ok = false;
	}
	return ok && pl_integrity(out, err, errlen);
}

Test(powerloss, acked_writes_survive_power_cuts)
{
	unsigned cuts
	        = (unsigned) pl_env_ull("CLM_POWERLOSS_CUTS", PL_DEFAULT_CUTS);
	uint64_t seed = pl_env_ull("CLM_POWERLOSS_SEED", PL_DEFAULT_SEED);
	bool torn = pl_env_ull("CLM_POWERLOSS_TORN", 0) == 1;
	unsigned long long calls
	        = pl_env_ull("CLM_POWERLOSS_CALLS", PL_DEFAULT_CALLS);
	pl_calls = (unsigned) (calls < PL_MAX_CALLS ? calls : PL_MAX_CALLS);
	char base[32];
	cr_assert_eq(harness_tmpdir(base), 0);
	int64_t t0 = pl_now_ms();
	unsigned long long ops = pl_calibrate(base, torn);
	size_t n_early = sizeof(pl_early) / sizeof(pl_early[0]);
	unsigned long long lo = pl_early[n_early - 1] + 1, hi = ops + 8;
	struct pl_totals t = { 0 };
	char err[PL_ERR_LEN] = "";
	bool failed = false;
	for (unsigned k = 0; k < cuts && !failed; k++) {
		uint64_t s = seed ^ (0x100000001b3ULL * (k + 1));
		uint64_t r = s;
		unsigned long long after;
		if (k < n_early) {
			after = pl_early[k];
		} else {
			/* Spread evenly over [lo, hi], jittered within a step.
			 */
			unsigned long long m = cuts - n_early;
			unsigned long long step = (hi - lo) / m + 1;
			after = lo + (hi - lo) * (k - n_early) / m
			        + pl_rand(&r) % step;
		}
		if (!pl_cut(base, k, after, s, torn, &t, err, sizeof(err))) {
			fprintf(stderr,
			        "powerloss: cut %u at operation %llu failed (seed 0x%llx%s; rerun with CLM_POWERLOSS_SEED=0x%llx): %s\n",
			        k, after, (unsigned long long) s,
			        torn ? ", torn pages" : "",
			        (unsigned long long) seed, err);
			failed = true;
		}
		char dir[192];
		snprintf(dir, sizeof(dir), "%s/cut%u", base, k);
		if (!failed) {
			harness_rm_rf(dir);
		}
	}
	fprintf(stderr,
	        "powerloss: %u cuts over %llu operations%s in %lld ms: %u before clmd answered, %u after acks; %llu acknowledged calls checked, in-flight Track applied %llu, not applied %llu\n",
	        t.cuts, ops, torn ? " (torn pages)" : "",
	        (long long) (pl_now_ms() - t0), t.startup_cuts, t.runs_acked,
	        (unsigned long long) t.acked_calls,
	        (unsigned long long) t.unknown_applied,
	        (unsigned long long) t.unknown_lost);
	cr_assert(!failed, "%s", err);
	cr_assert_gt(
	        t.runs_acked, 0, "no cut came after an acknowledged write");
}
