/*
 * clm-bench runs end to end (a short version of docs/performance.md's
 * runs, so the tool does not rot): it starts its own clmd, preloads,
 * runs every workload, and prints a sane row for each. No figure is
 * judged against a target here — performance targets live in the
 * benchmark, not in a timed test — but every row must have done work
 * without errors, Track rows must show bytes written and calls per
 * commit, and reads must show none written; the writer thread's share of
 * a core must show in the Track rows. The journal's columns must
 * be sane (fsyncs and a checkpoint for every Track row, device bytes
 * non-negative), and the recovery run must replay exactly the journal
 * entries it wrote before clmd was killed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef CLM_BENCH_BIN
#error "CLM_BENCH_BIN must be defined (absolute path of clm-bench)"
#endif

static void
teardown(void)
{
	harness_fini();
}

TestSuite(bench, .fini = teardown, .timeout = 120);

struct bench_row {
	char workload[32];
	int clients;
	double calls, items, p50, p99, p999, x_echo, tput_e, cpu, wr, per_tx;
	double dev, fsyncs, ckpts, ck_ms, ck_max, ck_keys, ck_kb, fin_ms,
	        fin_keys, fin_kb, wr_pct, ck_pct;
};

/* Finds the row of workload at clients in the bench's output. */
static bool
bench_row(const char *out, const char *workload, int clients,
        struct bench_row *r)
{
	for (const char *line = out; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		int n = sscanf(line,
		        "%31s %d %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf "
		        "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
		        r->workload, &r->clients, &r->calls, &r->items,
		        &r->p50, &r->p99, &r->p999, &r->x_echo, &r->tput_e,
		        &r->cpu, &r->wr, &r->per_tx, &r->dev, &r->fsyncs,
		        &r->ckpts, &r->ck_ms, &r->ck_max, &r->ck_keys,
		        &r->ck_kb, &r->fin_ms, &r->fin_keys, &r->fin_kb,
		        &r->wr_pct, &r->ck_pct);
		if (n == 24 && strcmp(r->workload, workload) == 0
		        && r->clients == clients) {
			/* The bench flags a row that saw errors. */
			char copy[512];
			size_t len
			        = end ? (size_t) (end - line) : strlen(line);
			snprintf(copy, sizeof(copy), "%.*s", (int) len, line);
			cr_assert(strstr(copy, "(errors)") == NULL,
			        "%s at %d clients had errors", workload,
			        clients);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* Bytes per item a read may show written: see every_workload_gives_a_row. */
#define BENCH_READ_WR 32

Test(bench, every_workload_gives_a_row)
{
	static const char *const workloads[]
	        = { "echo", "get-customer", "recommend", "metrics",
		          "track-single", "track-batch", "mixed" };
	const char *argv[] = { "clm-bench", "--start", "--seconds", "0.3",
		"--customers", "300", "--history", "2", "--clients", "1,4",
		"--checkpoint-interval", "1", "--recovery", "--clmd", CLMD_BIN,
		NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_BENCH_BIN, argv, NULL, 90000, &out, &err);
	cr_assert_eq(rc, 0, "clm-bench exited %d: %s", rc, err ? err : "");
	cr_assert(strstr(out, "preloaded 300 customers (+2 visits each)"),
	        "%s", out);
	double writer_pct = 0; /* summed over the Track rows */
	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		for (int clients = 1; clients <= 4; clients += 3) {
			struct bench_row r;
			cr_assert(bench_row(out, workloads[w], clients, &r),
			        "no row for %s at %d clients:\n%s",
			        workloads[w], clients, out);
			cr_assert_gt(
			        r.calls, 0, "%s did no calls", r.workload);
			cr_assert(
			        r.p50 > 0 && r.p50 <= r.p99 && r.p99 <= r.p999,
			        "%s: quantiles %f %f %f", r.workload, r.p50,
			        r.p99, r.p999);
			bool echo = w == 0, track = w == 4 || w == 5;
			/*
			 * The echo is its own reference; the others are
			 * measured against it. A read may legitimately match
			 * the echo to the printed two decimals, so only the
			 * echo's ratios are pinned.
			 */
			if (echo) {
				cr_assert(r.x_echo == 1.0 && r.tput_e == 1.0,
				        "echo: ratios to itself %f %f",
				        r.x_echo, r.tput_e);
			} else {
				cr_assert(r.x_echo > 0 && r.tput_e > 0,
				        "%s: ratios to the echo %f %f",
				        r.workload, r.x_echo, r.tput_e);
			}
			if (!echo) {
				cr_assert_gt(
				        r.cpu, 0, "%s: clmd CPU", r.workload);
			}
			/*
			 * The writer's and the checkpoint thread's share of
			 * a core: none for the echo, which has no such
			 * threads; at most one core each, give or take the
			 * clock ticks /proc counts in (two of 10 ms in a
			 * 0.3-s row).
			 */
			if (echo) {
				cr_assert(r.wr_pct == 0 && r.ck_pct == 0,
				        "echo: writer %f %%, checkpoint %f %%",
				        r.wr_pct, r.ck_pct);
			}
			cr_assert(r.wr_pct >= 0 && r.wr_pct <= 115
			                && r.ck_pct >= 0 && r.ck_pct <= 115,
			        "%s: writer %f %%, checkpoint %f %%",
			        r.workload, r.wr_pct, r.ck_pct);
			if (track) {
				writer_pct += r.wr_pct;
			}
			/*
			 * -1: no block device under the data dir (the line
			 * about the device is then missing too).
			 */
			if (echo || strstr(out, "device ") == NULL) {
				cr_assert_eq(r.dev, -1, "%s: device bytes %f",
				        r.workload, r.dev);
			} else {
				cr_assert_geq(r.dev, 0, "%s: device bytes %f",
				        r.workload, r.dev);
			}
			cr_assert(r.fsyncs >= 0 && r.ckpts >= 0 && r.ck_ms >= 0
			                && r.ck_max >= 0 && r.ck_keys >= 0
			                && r.ck_kb >= 0 && r.fin_ms >= 0
			                && r.fin_keys >= 0 && r.fin_kb >= 0,
			        "%s: negative journal figures", r.workload);
			if (r.ckpts > 0) {
				cr_assert(r.ck_keys > 0 && r.ck_kb > 0
				                && r.ck_max >= r.ck_ms * 0.999,
				        "%s: checkpoints %f keys %f KB %f ms "
				        "(max %f)",
				        r.workload, r.ck_keys, r.ck_kb,
				        r.ck_ms, r.ck_max);
			}
			if (track) {
				/*
				 * Every call is journaled; the run's writes
				 * are checkpointed during it or after it (the
				 * final checkpoint), never in neither.
				 */
				cr_assert_gt(r.fsyncs, 0,
				        "%s: no journal "
				        "commits",
				        r.workload);
				cr_assert(r.ckpts >= 1 || r.fin_keys > 0,
				        "%s: no checkpoint covers the run",
				        r.workload);
				cr_assert_gt(r.wr, 0, "%s wrote nothing",
				        r.workload);
				cr_assert_geq(r.per_tx, 1.0,
				        "%s: calls/commit", r.workload);
				/* Both are printed rounded to a whole call. */
				double per = w == 5 ? 100 : 1;
				cr_assert(fabs(r.items - r.calls * per) <= per,
				        "%s: %f items for %f calls",
				        r.workload, r.items, r.calls);
			} else if (w != 6) {
				/*
				 * A read journals nothing: no more than
				 * NNG's poller wake-ups, 8-byte eventfd
				 * writes that wchar counts (a few per call
				 * on a loaded machine), below the smallest
				 * journal entry (about 60 bytes for one
				 * touchpoint).
				 */
				cr_assert_lt(r.wr, BENCH_READ_WR,
				        "a read (%s) wrote %f B/item",
				        r.workload, r.wr);
			}
		}
	}
	/* clmd names its writer thread, and the Track rows kept it busy. */
	cr_assert_gt(
	        writer_pct, 0, "no writer CPU in the Track rows:\n%s", out);
	cr_assert(strstr(out, "clmd RssAnon"), "%s", out);
	/* The restart after kill -9 replays what the run journaled. */
	const char *rec = strstr(out, "recovery: ");
	cr_assert(rec != NULL, "no recovery line:\n%s", out);
	double wrote = -1, ckpts = -1, answered = -1, replayed = -1;
	double secs = -1;
	const char *p = strstr(rec, " wrote ");
	cr_assert(p && sscanf(p, " wrote %lf journal entries", &wrote) == 1,
	        "%s", rec);
	p = strstr(rec, " MB of journal, ");
	cr_assert(
	        p && sscanf(p, " MB of journal, %lf checkpoints", &ckpts) == 1,
	        "%s", rec);
	p = strstr(rec, " answered in ");
	cr_assert(p
	                && sscanf(p,
	                           " answered in %lf s, replayed %lf entries in %lf s",
	                           &answered, &replayed, &secs)
	                        == 3,
	        "%s", rec);
	cr_assert_gt(wrote, 0, "%s", rec);
	cr_assert_eq(
	        ckpts, 0, "a checkpoint ran during the recovery run: %s", rec);
	cr_assert_eq(replayed, wrote, "%s", rec);
	cr_assert(answered >= 0 && secs >= 0, "%s", rec);
	cr_assert(strstr(rec, "(errors)") == NULL, "%s", rec);
	free(out);
	free(err);
}

/*
 * The segment workload: the rows without and with the 20 segments and
 * the counts, each without errors, the ratio of the two ingest rows as
 * printed, and a backfill over every preloaded customer.
 */
Test(bench, segment_workload_gives_its_rows)
{
	const char *argv[] = { "clm-bench", "--start", "--seconds", "0.3",
		"--customers", "300", "--clients", "1,4", "--workloads",
		"segment", "--clmd", CLMD_BIN, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_BENCH_BIN, argv, NULL, 90000, &out, &err);
	cr_assert_eq(rc, 0, "clm-bench exited %d: %s", rc, err ? err : "");
	cr_assert(
	        strstr(out, "segments: 20 defined, their backfills done in "),
	        "%s\n%s", out, err ? err : "");
	static const char *const rows[]
	        = { "seg0-batch", "seg20-batch", "seg-count" };
	double items[2][2] = { { 0 } };
	for (size_t w = 0; w < 3; w++) {
		for (int clients = 1; clients <= 4; clients += 3) {
			struct bench_row r;
			cr_assert(bench_row(out, rows[w], clients, &r),
			        "no row for %s at %d clients:\n%s", rows[w],
			        clients, out);
			cr_assert_gt(r.calls, 0, "%s did no calls", rows[w]);
			cr_assert(
			        r.p50 > 0 && r.p50 <= r.p99 && r.p99 <= r.p999,
			        "%s: quantiles %f %f %f", rows[w], r.p50,
			        r.p99, r.p999);
			if (w < 2) {
				cr_assert_gt(
				        r.wr, 0, "%s wrote nothing", rows[w]);
				items[w][clients / 4] = r.items;
			} else {
				cr_assert_eq(r.wr, 0, "seg-count wrote");
			}
		}
	}
	const char *p = strstr(out, "over none: ");
	double ratio1 = -1, ratio4 = -1;
	cr_assert(p != NULL
	                && sscanf(p,
	                           "over none: %lf (1 clients), %lf (4 clients)",
	                           &ratio1, &ratio4)
	                        == 2,
	        "%s", out);
	cr_assert(fabs(ratio1 - items[1][0] / items[0][0]) < 0.01 * ratio1,
	        "ratio %f, rows %f / %f", ratio1, items[1][0], items[0][0]);
	cr_assert(fabs(ratio4 - items[1][1] / items[0][1]) < 0.01 * ratio4,
	        "ratio %f, rows %f / %f", ratio4, items[1][1], items[0][1]);
	p = strstr(out, "segments: backfill of one more over ");
	unsigned long long customers = 0, members = 0;
	double secs = -1;
	cr_assert(p != NULL
	                && sscanf(p,
	                           "segments: backfill of one more over %llu customers (%llu members) in %lf s",
	                           &customers, &members, &secs)
	                        == 3,
	        "%s", out);
	cr_assert_eq(customers, 300, "%s", p);
	cr_assert(members > 0 && members <= customers, "%s", p);
	cr_assert_geq(secs, 0, "%s", p);
	free(out);
	free(err);
}

/*
 * The journey workload: the rows without and with the 10 journeys, each
 * without errors, the ratio of the two as printed, and the firing line:
 * every preloaded customer entered, and as many steps run once the test
 * clock moved.
 */
Test(bench, journey_workload_gives_its_rows)
{
	const char *argv[] = { "clm-bench", "--start", "--seconds", "0.3",
		"--customers", "300", "--clients", "1,4", "--workloads",
		"journey", "--clmd", CLMD_BIN, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_BENCH_BIN, argv, NULL, 90000, &out, &err);
	cr_assert_eq(rc, 0, "clm-bench exited %d: %s", rc, err ? err : "");
	static const char *const rows[] = { "jny0-batch", "jny10-batch" };
	double items[2][2] = { { 0 } };
	for (size_t w = 0; w < 2; w++) {
		for (int clients = 1; clients <= 4; clients += 3) {
			struct bench_row r;
			cr_assert(bench_row(out, rows[w], clients, &r),
			        "no row for %s at %d clients:\n%s", rows[w],
			        clients, out);
			cr_assert_gt(r.calls, 0, "%s did no calls", rows[w]);
			cr_assert_gt(r.wr, 0, "%s wrote nothing", rows[w]);
			items[w][clients / 4] = r.items;
		}
	}
	const char *p = strstr(out, "over none: ");
	double ratio1 = -1, ratio4 = -1;
	cr_assert(p != NULL
	                && sscanf(p,
	                           "over none: %lf (1 clients), %lf (4 clients)",
	                           &ratio1, &ratio4)
	                        == 2,
	        "%s", out);
	cr_assert(fabs(ratio1 - items[1][0] / items[0][0]) < 0.01 * ratio1,
	        "ratio %f, rows %f / %f", ratio1, items[1][0], items[0][0]);
	cr_assert(fabs(ratio4 - items[1][1] / items[0][1]) < 0.01 * ratio4,
	        "ratio %f, rows %f / %f", ratio4, items[1][1], items[0][1]);
	p = strstr(out, "journeys: ");
	p = p != NULL ? strstr(p + 1, "journeys: ") : NULL;
	unsigned long long entered = 0, fired = 0, sent = 0;
	double enter_s = -1, fire_s = -1;
	cr_assert(p != NULL
	                && sscanf(p,
	                           "journeys: %llu customers entered by a PURCHASE each in %lf s (%*f/s); the clock moved an hour: %llu steps ran (%llu sent) in %lf s",
	                           &entered, &enter_s, &fired, &sent, &fire_s)
	                        == 5,
	        "%s\n%s", out, err ? err : "");
	cr_assert_eq(entered, 300, "%s", p);
	cr_assert_eq(fired, 300, "%s", p);
	cr_assert(sent > 0 && sent <= fired, "%s", p);
	cr_assert(enter_s >= 0 && fire_s >= 0, "%s", p);
	free(out);
	free(err);
}

/*
 * --data-from: the bench's clmd starts on a copy of a data dir, without
 * the preload: the 300 customers a first clmd stored and stopped with are
 * there (counted by the bench's closing line, with the at most 50 its run
 * adds), the copy leaves the source as it was, and the Track row does its
 * work. Without --start it is a usage error.
 */
Test(bench, data_from_starts_on_a_copy)
{
	struct clmd_proc src = { 0 };
	cr_assert_eq(clmd_start(&src, NULL, NULL), 0, "log %s", src.log_path);
	clm_conn *c;
	cr_assert_eq(clm_open(src.url, 30000, &c), CLM_OK);
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, 300));
	for (size_t i = 0; i < 300; i++) {
		clm__v1__touchpoint__init(&b.tp[i]);
		snprintf(b.cid[i], sizeof(b.cid[i]), "df-%zu", i);
		snprintf(b.eid[i], sizeof(b.eid[i]), "df-e-%zu", i);
		b.tp[i].customer_id = b.cid[i];
		b.tp[i].event_id = b.eid[i];
		b.tp[i].type = CLM__V1__TOUCHPOINT_TYPE__SIGNUP;
		b.tp[i].channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		b.ptr[i] = &b.tp[i];
	}
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_track(c, b.ptr, 300, &resp), CLM_OK);
	cr_assert_eq(resp->track->accepted, 300);
	clm_response_free(resp);
	tp_batch_fini(&b);
	clm_close(c);
	cr_assert_eq(clmd_stop(&src), 0);
	char *before = NULL;
	/*
	 * Names, modes, sizes and times: not ls -l's block totals, which
	 * move when the kernel allocates what it had delayed (the bench's
	 * sync does).
	 */
	const char *ls[]
	        = { "find", src.data_dir, "-printf", "%P %m %s %T@\\n", NULL };
	cr_assert_eq(
	        run_cmd("/usr/bin/find", ls, NULL, 10000, &before, NULL), 0);

	const char *argv[] = { "clm-bench", "--start", "--data-from",
		src.data_dir, "--seconds", "0.3", "--customers", "50",
		"--clients", "2", "--workloads", "track-batch", "--clmd",
		CLMD_BIN, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_BENCH_BIN, argv, NULL, 90000, &out, &err);
	cr_assert_eq(rc, 0, "clm-bench exited %d: %s", rc, err ? err : "");
	cr_assert(strstr(out, "started on a copy of ") != NULL, "%s", out);
	cr_assert(strstr(out, "preloaded") == NULL, "%s", out);
	struct bench_row r;
	cr_assert(bench_row(out, "track-batch", 2, &r), "%s", out);
	cr_assert_gt(r.calls, 0);
	unsigned long long customers = 0;
	const char *p = strstr(out, "MiB; ");
	cr_assert(
	        p != NULL && sscanf(p, "MiB; %llu customers", &customers) == 1,
	        "%s", out);
	cr_assert(customers > 300 && customers <= 350, "%llu customers: %s",
	        customers, out);
	char *after = NULL;
	cr_assert_eq(
	        run_cmd("/usr/bin/find", ls, NULL, 10000, &after, NULL), 0);
	cr_assert_str_eq(after, before, "the source changed:\n%s\nthen\n%s",
	        before, after);
	free(before);
	free(after);
	free(out);
	free(err);

	const char *bad[] = { "clm-bench", "--url", "tcp://127.0.0.1:1",
		"--data-from", src.data_dir, NULL };
	cr_assert_eq(run_cmd(CLM_BENCH_BIN, bad, NULL, 10000, NULL, NULL), 2);
	clmd_cleanup(&src);
}

/*
 * --rate: the clients keep to the schedule, so a run never sends more
 * than rate items a second (plus one call a client of slack); how far
 * under is the machine's business, so only that some went is asserted.
 * The clmd of --start keeps checkpoint_interval = auto: the bench asks
 * it for the checkpoint that covers the row (SIGUSR1), which a clmd
 * idling with a few hundred milliseconds of apply would otherwise start
 * only minutes later, and the row reports it (fin keys).
 */
Test(bench, rate_paces_the_clients)
{
	const char *argv[] = { "clm-bench", "--start", "--seconds", "2",
		"--customers", "50", "--clients", "4", "--workloads",
		"track-single", "--rate", "200", "--clmd", CLMD_BIN, NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_BENCH_BIN, argv, NULL, 100000, &out, &err);
	cr_assert_eq(rc, 0, "clm-bench exited %d: %s", rc, err ? err : "");
	cr_assert(strstr(err, "no checkpoint covered the run") == NULL, "%s",
	        err);
	struct bench_row r;
	cr_assert(bench_row(out, "track-single", 4, &r), "%s", out);
	cr_assert_gt(r.items, 0, "%s", out);
	cr_assert_leq(r.items, 200 + 4 / 2.0, "paced at 200/s: %s", out);
	cr_assert_gt(r.fin_keys, 0, "no covering checkpoint: %s", out);
	free(out);
	free(err);

	const char *bad[] = { "clm-bench", "--start", "--rate", "0", NULL };
	cr_assert_eq(run_cmd(CLM_BENCH_BIN, bad, NULL, 10000, NULL, NULL), 2);
}
