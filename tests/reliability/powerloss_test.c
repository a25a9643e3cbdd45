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
 * os_mode_keeps_a_prefix runs the same cuts with --durability os, whose
 * journal is not synced per write, so acknowledged calls may be lost; it
 * checks that what is left is a prefix: clmd starts, and for one K (0 to
 * the calls sent) every customer's touchpoints, purchases and revenue are
 * those of the Tracks among calls 0..K-1, the Identifies among them show
 * and no later one does, Metrics and ServerStatus agree, the Tracks below
 * K are all duplicates on re-send and those from K on all accepted, and
 * the store walk passes. (That K is at least what the last checkpoint
 * before the cut covered is not checked.) Its summary line gives K/sent
 * per cut. CLM_POWERLOSS_OS_CUTS sets its cuts (default 16).
 *
 * CLM_POWERLOSS_CUTS sets the number of cuts (default 32, about 10 s on
 * two cores), CLM_POWERLOSS_CALLS the calls of a workload run (default 40,
 * at most 4,000), CLM_POWERLOSS_SEED the base seed, CLM_POWERLOSS_TORN=1
 * keeps unsynced pages at random. tools/powerloss-soak.sh runs many more.
 */
#include <criterion/criterion.h>
#include <errno.h>
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
#include "powerloss_util.h"
#include "spclient.h"

#define PL_DEFAULT_CUTS    32
#define PL_DEFAULT_OS_CUTS 16
#define PL_DEFAULT_SEED    0x9043c07ULL
#define PL_DEFAULT_CALLS   40 /* calls of one workload run */
#define PL_MAX_CALLS       4000

/*
 * The smallest checkpoint size, so that the overlay is checkpointed into
 * data.mdb every few calls and cuts land inside checkpoints too (their
 * LMDB commits, the journal truncations behind them); one key per
 * checkpoint transaction, so that every checkpoint goes in chunks and
 * cuts land in its image's writes and between its chunks.
 */
static const char *const pl_args[]
        = { "--checkpoint-bytes", "4K", "--checkpoint-chunk-keys", "1", NULL };
/* The same with the journal not synced per write (docs: "durability = os"). */
static const char *const pl_os_args[] = { "--checkpoint-bytes", "4K",
	"--checkpoint-chunk-keys", "1", "--durability", "os", NULL };
#define PL_BATCH_MAX 4
#define PL_CALL_MS   30000
#define PL_ERR_LEN   1024

/* The first operations of a new store, each a cut point. */
static const unsigned pl_early[] = { 1, 2, 3, 5, 8, 12, 17, 23 };

/* No timeout: ctest's limit applies, and a long soak needs none. */
HARNESS_SUITE(powerloss, 0);

/*
 * Calls per workload run (CLM_POWERLOSS_CALLS): set once by the test
 * before any run, file-private so the helpers need not pass it around.
 */
static unsigned pl_calls = PL_DEFAULT_CALLS;

/* The os test's " K/sent" per cut, for its summary line. */
static char pl_ks[4096];

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
	/* os mode: cuts that lost acknowledged calls, and those calls. */
	unsigned lossy_cuts;
	uint64_t lost_calls;
};

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
		uint64_t touches, purchases;
		double revenue;
		pl_counts(c, k, &touches, &purchases, &revenue);
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
		if (!pl_identified(c, i)) {
			snprintf(err, errlen,
			        "acknowledged Identify pl-anon-%u -> pl-c%u is missing",
			        i, i % PL_CUSTOMERS);
			ok = false;
		}
	}
	ok = ok
	        && pl_server_agrees(c, sum_touches, sum_purchases, sum_revenue,
	                err, errlen);
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

/*
 * Checks the clmd restarted on a cut's image with durability os (see the
 * top of the file): its state must be the effects of calls 0..K-1, whole,
 * for one K up to the calls sent. Returns false with err set; adds to t
 * and K to pl_ks.
 */
static bool
pl_verify_os(clm_conn *c, const enum pl_fate *fate, struct pl_totals *t,
        char *err, size_t errlen)
{
	struct pl_sums got = { 0 }, pre = { 0 };
	uint64_t sum_touches = 0, sum_purchases = 0;
	double sum_revenue = 0;
	for (unsigned k = 0; k < PL_CUSTOMERS; k++) {
		pl_counts(c, k, &got.touches[k], &got.purchases[k],
		        &got.revenue[k]);
		sum_touches += got.touches[k];
		sum_purchases += got.purchases[k];
		sum_revenue += got.revenue[k];
	}
	unsigned sent = 0;
	for (unsigned i = 0; i <= pl_calls; i++) {
		if (fate[i] == PL_REFUSED) {
			snprintf(err, errlen, "call %u was refused", i);
			return false;
		}
		sent = fate[i] != PL_NOT_SENT ? i + 1 : sent;
		t->acked_calls += fate[i] == PL_ACKED;
	}
	/*
	 * The Ks whose Tracks match the counts: each Track adds touchpoints,
	 * so they are one range [k_lo, k_hi] with only Identifies inside.
	 */
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, PL_BATCH_MAX));
	int k_lo = -1, k_hi = -1;
	for (unsigned k = 0; k <= sent; k++) {
		if (k > 0 && !pl_is_identify(k - 1)) {
			pl_track_sums(k - 1, &b, &pre);
		}
		bool match = true;
		for (unsigned j = 0; j < PL_CUSTOMERS; j++) {
			match = match && got.touches[j] == pre.touches[j]
			        && got.purchases[j] == pre.purchases[j]
			        && got.revenue[j] == pre.revenue[j];
		}
		k_lo = match && k_lo < 0 ? (int) k : k_lo;
		k_hi = match ? (int) k : k_hi;
	}
	if (k_lo < 0) {
		int n = snprintf(err, errlen,
		        "no prefix of the %u calls sent holds these touchpoints/purchases/revenue:",
		        sent);
		for (unsigned j = 0;
		        j < PL_CUSTOMERS && n > 0 && (size_t) n < errlen;
		        j++) {
			n += snprintf(err + n, errlen - (size_t) n,
			        " pl-c%u %llu/%llu/%.2f", j,
			        (unsigned long long) got.touches[j],
			        (unsigned long long) got.purchases[j],
			        got.revenue[j]);
		}
		tp_batch_fini(&b);
		return false;
	}
	/* K: past the Identifies of [k_lo, k_hi) that show. */
	unsigned K = (unsigned) k_lo;
	while (K < (unsigned) k_hi && pl_identified(c, K)) {
		K++;
	}
	bool ok = true;
	for (unsigned i = 0; i < sent && ok; i++) {
		if (pl_is_identify(i) && pl_identified(c, i) != (i < K)) {
			snprintf(err, errlen,
			        "Identify call %u %s, but the Tracks say calls 0..%u were applied",
			        i, i < K ? "is missing" : "shows", K - 1);
			ok = false;
		}
	}
	ok = ok
	        && pl_server_agrees(c, sum_touches, sum_purchases, sum_revenue,
	                err, errlen);
	/* The idempotency keys: those of calls 0..K-1, and no others. */
	for (unsigned i = 0; i < sent && ok; i++) {
		if (pl_is_identify(i)) {
			continue;
		}
		long acc = pl_retrack(c, i, &b, err, errlen);
		if (acc >= 0 && acc != (i < K ? 0 : (long) b.n)) {
			snprintf(err, errlen,
			        "Track call %u: %ld of %zu accepted on re-send, though %s K = %u",
			        i, acc, b.n, i < K ? "below" : "at or above",
			        K);
		}
		ok = acc == (i < K ? 0 : (long) b.n);
	}
	uint64_t lost = 0;
	for (unsigned i = K; i < sent; i++) {
		lost += fate[i] == PL_ACKED;
	}
	t->lossy_cuts += lost > 0;
	t->lost_calls += lost;
	size_t len = strlen(pl_ks);
	snprintf(pl_ks + len, sizeof(pl_ks) - len, " %u/%u", K, sent);
	tp_batch_fini(&b);
	return ok;
}

/*
 * Runs the workload once without a cut (clmd with args); returns its
 * operation count.
 */
static unsigned long long
pl_calibrate(const char *base, bool torn, const char *const *args)
{
	char data[256], out[256], now[256];
	snprintf(data, sizeof(data), "%s/calibrate/data", base);
	snprintf(out, sizeof(out), "%s/calibrate/out", base);
	snprintf(now, sizeof(now), "%s/calibrate/now", base);
	char dir[192];
	snprintf(dir, sizeof(dir), "%s/calibrate", base);
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
	cr_assert_eq(pl_start_cut(&srv, data, out, now, 0, 1, torn, args), 0,
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
 * Checks a restarted clmd against the fates of one cut's calls; returns
 * false with err set, adds to t.
 */
typedef bool (*pl_verify_fn)(clm_conn *c, const enum pl_fate *fate,
        struct pl_totals *t, char *err, size_t errlen);

/*
 * One cut before operation `after` (see the top of the file), clmd run
 * with args both times, checked by verify. Returns false with err set.
 */
static bool
pl_cut(const char *base, unsigned n, unsigned long long after, uint64_t seed,
        bool torn, const char *const *args, pl_verify_fn verify,
        struct pl_totals *t, char *err, size_t errlen)
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
	if (pl_start_cut(&srv, data, out, now, after, seed, torn, args) == 0) {
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
	if (clmd_start(&srv, out, args) != 0) {
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
	bool ok = verify(c, fate, t, err, errlen);
	clm_close(c);
	int st = clmd_stop(&srv);
	if (ok && st != 0) {
		snprintf(err, errlen, "clean stop after the checks exited %d",
		        st);
		ok = false;
	}
	return ok && pl_integrity(out, err, errlen);
}

/*
 * Calibrates, then runs `cuts` cuts with clmd started with args, each
 * checked by verify (see the top of the file); prints a failure with its
 * seed. Returns false with err set; *ops is the calibrated count.
 */
static bool
pl_run(const char *base, unsigned cuts, uint64_t seed, bool torn,
        const char *const *args, pl_verify_fn verify, struct pl_totals *t,
        unsigned long long *ops, char *err, size_t errlen)
{
	*ops = pl_calibrate(base, torn, args);
	size_t n_early = sizeof(pl_early) / sizeof(pl_early[0]);
	unsigned long long lo = pl_early[n_early - 1] + 1, hi = *ops + 8;
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
		if (!pl_cut(base, k, after, s, torn, args, verify, t, err,
		            errlen)) {
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
	return !failed;
}

/* Reads CLM_POWERLOSS_CALLS into pl_calls. */
static void
pl_set_calls(void)
{
	unsigned long long calls
	        = pl_env_ull("CLM_POWERLOSS_CALLS", PL_DEFAULT_CALLS);
	pl_calls = (unsigned) (calls < PL_MAX_CALLS ? calls : PL_MAX_CALLS);
}

Test(powerloss, acked_writes_survive_power_cuts)
{
	unsigned cuts
	        = (unsigned) pl_env_ull("CLM_POWERLOSS_CUTS", PL_DEFAULT_CUTS);
	uint64_t seed = pl_env_ull("CLM_POWERLOSS_SEED", PL_DEFAULT_SEED);
	bool torn = pl_env_ull("CLM_POWERLOSS_TORN", 0) == 1;
	pl_set_calls();
	char base[32];
	cr_assert_eq(harness_tmpdir(base), 0);
	int64_t t0 = pl_now_ms();
	struct pl_totals t = { 0 };
	char err[PL_ERR_LEN] = "";
	unsigned long long ops = 0;
	bool ok = pl_run(base, cuts, seed, torn, pl_args, pl_verify, &t, &ops,
	        err, sizeof(err));
	fprintf(stderr,
	        "powerloss: %u cuts over %llu operations%s in %lld ms: %u before clmd answered, %u after acks; %llu acknowledged calls checked, in-flight Track applied %llu, not applied %llu\n",
	        t.cuts, ops, torn ? " (torn pages)" : "",
	        (long long) (pl_now_ms() - t0), t.startup_cuts, t.runs_acked,
	        (unsigned long long) t.acked_calls,
	        (unsigned long long) t.unknown_applied,
	        (unsigned long long) t.unknown_lost);
	cr_assert(ok, "%s", err);
	cr_assert_gt(
	        t.runs_acked, 0, "no cut came after an acknowledged write");
}

Test(powerloss, os_mode_keeps_a_prefix)
{
	unsigned cuts = (unsigned) pl_env_ull(
	        "CLM_POWERLOSS_OS_CUTS", PL_DEFAULT_OS_CUTS);
	uint64_t seed = pl_env_ull("CLM_POWERLOSS_SEED", PL_DEFAULT_SEED);
	bool torn = pl_env_ull("CLM_POWERLOSS_TORN", 0) == 1;
	pl_set_calls();
	char base[32];
	cr_assert_eq(harness_tmpdir(base), 0);
	int64_t t0 = pl_now_ms();
	struct pl_totals t = { 0 };
	char err[PL_ERR_LEN] = "";
	unsigned long long ops = 0;
	bool ok = pl_run(base, cuts, seed, torn, pl_os_args, pl_verify_os, &t,
	        &ops, err, sizeof(err));
	fprintf(stderr,
	        "powerloss (durability os): %u cuts over %llu operations%s in %lld ms: %u before clmd answered, %u after acks; %llu acknowledged calls, %u cuts lost some (%llu calls in all), K per cut:%s\n",
	        t.cuts, ops, torn ? " (torn pages)" : "",
	        (long long) (pl_now_ms() - t0), t.startup_cuts, t.runs_acked,
	        (unsigned long long) t.acked_calls, t.lossy_cuts,
	        (unsigned long long) t.lost_calls, pl_ks);
	cr_assert(ok, "%s", err);
	cr_assert_gt(
	        t.runs_acked, 0, "no cut came after an acknowledged write");
}
