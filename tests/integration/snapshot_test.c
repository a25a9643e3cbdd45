/*
 * `clm snapshot FILE --data DIR` beside a running clmd (docs/operations.md
 * "Snapshots"): the copy is taken from the live data directory, reports
 * the position of its last checkpoint (StatusReply.checkpoint_position),
 * and a fresh clmd started on it (FILE as its data.mdb) has the same
 * customers and goes on from that position.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(snapshot, 120);

#define N_CUSTOMERS 20

static clm_conn *
conn(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(p->url, 10000, &c), CLM_OK, "%s", clm_open_error());
	return c;
}

/* ServerStatus: checkpoint_position; *pos the reply's position. */
static uint64_t
checkpointed(clm_conn *c, uint64_t *pos)
{
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	uint64_t ck = resp->server_status->checkpoint_position;
	*pos = resp->position;
	clm_response_free(resp);
	return ck;
}

/* customer i's purchases on c (-1: not found). */
static int
purchases(clm_conn *c, int i)
{
	char id[32];
	snprintf(id, sizeof(id), "snap-%d", i);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	int n = e == CLM_OK ? (int) resp->customer->purchases : -1;
	clm_response_free(resp);
	return n;
}

Test(snapshot, copy_of_a_live_node_starts_a_new_one)
{
	/* A checkpoint a second after a write: the base catches up. */
	static const char *const args[]
	        = { "--checkpoint-interval", "1", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "log %s", srv.log_path);
	clm_conn *c = conn(&srv);
	uint64_t last = 0;
	for (int i = 0; i < N_CUSTOMERS; i++) {
		for (int k = 0; k <= i % 3; k++) {
			Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
			char id[32], ev[48];
			snprintf(id, sizeof(id), "snap-%d", i);
			snprintf(ev, sizeof(ev), "snap-%d-%d", i, k);
			tp.customer_id = id;
			tp.event_id = ev;
			tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
			tp.value = 10;
			Clm__V1__Touchpoint *p = &tp;
			Clm__V1__Response *resp = NULL;
			cr_assert_eq(clm_track(c, &p, 1, &resp), CLM_OK);
			last = resp->position;
			clm_response_free(resp);
		}
	}
	/* Wait (bounded) until the base holds every write. */
	uint64_t ck = 0, shown = 0;
	for (int i = 0; i < 600 && ck != last; i++) {
		ck = checkpointed(c, &shown);
		if (ck != last) {
			harness_sleep_ms(50);
		}
	}
	cr_assert_eq(ck, last, "not checkpointed: %llu of %llu",
	        (unsigned long long) ck, (unsigned long long) last);

	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char file[64];
	snprintf(file, sizeof(file), "%s/node.snap", dir);
	const char *const snap[]
	        = { "snapshot", file, "--data", srv.data_dir, NULL };
	struct cli_output o = cli_run(snap, NULL);
	cr_assert_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	char want[160];
	struct stat st;
	cr_assert_eq(stat(file, &st), 0, "no %s", file);
	snprintf(want, sizeof(want),
	        "snapshot %s at position %llu (%lld bytes)\n", file,
	        (unsigned long long) last, (long long) st.st_size);
	cr_assert_str_eq(o.out, want);
	cli_output_free(&o);
	char tmp[80];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	cr_assert_neq(stat(tmp, &st), 0, "%s left behind", tmp);
	/* The same position with --json, from the running node still. */
	const char *const snap_json[]
	        = { "--json", "snapshot", file, "--data", srv.data_dir, NULL };
	o = cli_run(snap_json, NULL);
	cr_assert_eq(o.rc, 0, "exit %d, stderr '%s'", o.rc, o.err);
	snprintf(want, sizeof(want), "\"position\":\"%llu\"",
	        (unsigned long long) last);
	cr_assert(strstr(o.out, want) != NULL, "'%s'", o.out);
	cli_output_free(&o);

	/* A new node: its data dir holds only the copy, as data.mdb. */
	static struct clmd_proc fresh;
	memset(&fresh, 0, sizeof(fresh));
	char fresh_dir[32], data[64], mdb[80];
	cr_assert_eq(harness_tmpdir(fresh_dir), 0);
	snprintf(data, sizeof(data), "%s/data", fresh_dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	snprintf(mdb, sizeof(mdb), "%s/data.mdb", data);
	cr_assert_eq(rename(file, mdb), 0);
	cr_assert_eq(
	        clmd_start(&fresh, data, NULL), 0, "log %s", fresh.log_path);
	clm_conn *f = conn(&fresh);
	cr_assert_eq(checkpointed(f, &shown), last);
	cr_assert_eq(shown, last, "the new node's view is not at %llu",
	        (unsigned long long) last);
	for (int i = 0; i < N_CUSTOMERS; i++) {
		int n = purchases(c, i);
		cr_assert_eq(n, i % 3 + 1, "customer %d on the old node", i);
		cr_assert_eq(purchases(f, i), n, "customer %d differs", i);
	}
	/* Positions go on from the copy's. */
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "after";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SIGNUP;
	Clm__V1__Touchpoint *p = &tp;
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_track(f, &p, 1, &resp), CLM_OK);
	cr_assert_eq(resp->position, last + 1);
	clm_response_free(resp);
	clm_close(f);
	cr_assert_eq(clmd_stop(&fresh), 0);
	clmd_cleanup(&fresh);
	clm_close(c);
}

Test(snapshot, errors)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char file[64];
	snprintf(file, sizeof(file), "%s/x.snap", dir);
	/* No data.mdb there: exit 1, nothing written. */
	const char *const none[] = { "snapshot", file, "--data", dir, NULL };
	struct cli_output o = cli_run(none, NULL);
	cr_assert_eq(o.rc, 1, "exit %d", o.rc);
	cr_assert(strstr(o.err, "no database in") != NULL, "'%s'", o.err);
	cli_output_free(&o);
	struct stat st;
	cr_assert_neq(stat(file, &st), 0);
	static const char *const usage[][4] = {
		{ "snapshot", NULL },
		{ "snapshot", "a", "b", NULL },
		{ "snapshot", "a", "--data", NULL },
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		o = cli_run(usage[i], NULL);
		cr_assert_eq(
		        o.rc, 2, "usage %zu: exit %d ('%s')", i, o.rc, o.err);
		cli_output_free(&o);
	}
}
