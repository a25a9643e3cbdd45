/*
 * Tests of jstream (server/journal/jstream*.c, issue 16) against real
 * nats-server processes (tests/natsrv.h): async publishes from two
 * threads read back in order with their acks' positions, on one node and
 * on three; a repeated msg_id acked as a duplicate of the first; one
 * subject key for every handle on a stream, also when two handles create
 * it at once; purge_key erasing one customer's entries below a position
 * and nothing else, their content gone from the server's files; no
 * server, a bad url, a stream with other settings; user and password
 * from an auth file, refused when wrong; TLS with a client certificate.
 * Failures: jstream_failover_test.
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "freeport.h"
#include "journal/jstream.h"
#include "jstream_fixture.h"
#include "natsrv.h"
#include "testdir.h"

static natsrv *cluster;
static char certs[64]; /* tls_client_certificate's, when made */

static void
fini(void)
{
	natsrv_stop(cluster);
	cluster = NULL;
	if (certs[0] != '\0') {
		testdir_remove(certs);
		certs[0] = '\0';
	}
}

TestSuite(jstream, .fini = fini, .timeout = 90);

static void
publish_and_read(int nodes)
{
	cluster = natsrv_start(nodes, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "CLM", nodes);
	enum { PER_THREAD = 300 };
	struct publisher w[2] = { { .s = s, .thread = 0, .count = PER_THREAD },
		{ .s = s, .thread = 1, .count = PER_THREAD } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		        pthread_create(&t[i], NULL, publisher_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
	}
	cr_assert_eq(w[0].taken + w[1].taken, 2 * PER_THREAD);
	wait_for(&nacked, 2 * PER_THREAD, 20000);
	uint64_t max = 0;
	for (int i = 0; i < 2 * PER_THREAD; i++) {
		const struct pub *p = acked_ok(i);
		cr_assert_not(p->duplicate);
		max = p->seq > max ? p->seq : max;
	}
	/* Positions are distinct: 600 entries and the key's, no more. */
	cr_assert_eq(max, 2 * PER_THREAD + 1);

	char err[256];
	cr_assert_eq(
	        jstream_subscribe(s, 1, err, sizeof(err)), CLM_OK, "%s", err);
	static uint64_t seqs[2 * PER_THREAD];
	static char datas[2 * PER_THREAD][48];
	int n = read_until(s, max, seqs, datas, 2 * PER_THREAD, 20000);
	cr_assert_eq(n, 2 * PER_THREAD, "read %d", n);
	cr_assert_eq(check_read(seqs, datas, n), 2 * PER_THREAD);
	/* Each thread's entries in the order it published them. */
	int next[2] = { 0, 0 };
	for (int i = 0; i < n; i++) {
		int th, k;
		cr_assert_eq(sscanf(datas[i], "t%d-%d", &th, &k), 2);
		cr_assert_eq(k, next[th], "thread %d: %d after %d", th, k,
		        next[th] - 1);
		next[th]++;
	}
	struct jstream_state st;
	cr_assert_eq(jstream_info(s, &st, err, sizeof(err)), CLM_OK);
	cr_assert_eq(st.last_seq, max);
	cr_assert_eq(st.entries, max); /* the key's message among them */
	cr_assert_eq(st.replicas, nodes);
	cr_assert(st.leader);
	jstream_close(s);
}

Test(jstream, one_node_publish_and_read)
{
	publish_and_read(1);
}

Test(jstream, three_nodes_publish_and_read)
{
	publish_and_read(3);
}

Test(jstream, duplicate_msg_id)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "DUP", 1);
	int a = publish(s, "g", "event-1", "first");
	int b = publish(s, "g", "event-2", "other");
	wait_for(&nacked, 2, 10000);
	int c = publish(s, "g", "event-1", "second");
	wait_for(&nacked, 3, 10000);
	const struct pub *pa = acked_ok(a), *pb = acked_ok(b),
	                 *pc = acked_ok(c);
	cr_assert_not(pa->duplicate);
	cr_assert_not(pb->duplicate);
	cr_assert(pc->duplicate);
	cr_assert_eq(pc->seq, pa->seq);
	void *data = NULL;
	size_t len = 0;
	char err[256];
	cr_assert_eq(jstream_get(s, pa->seq, &data, &len, err, sizeof(err)),
	        CLM_OK, "%s", err);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(data, "first", 5), 0);
	free(data);
	/* The key's position is no entry; past the end neither. */
	cr_assert_eq(jstream_get(s, 1, &data, &len, err, sizeof(err)),
	        CLM_NOT_FOUND);
	cr_assert_eq(jstream_get(s, 1000, &data, &len, err, sizeof(err)),
	        CLM_NOT_FOUND);
	/* Subjects with wildcards or empty tokens, msg_ids that cannot be
	 * header values, entries past the largest: refused, no ack. */
	const char *subjects[]
	        = { "c.*", "c.>", "", ".g", "g.", "c..x", "c x", NULL };
	for (int i = 0; subjects[i] != NULL; i++) {
		cr_assert_eq(jstream_publish(s, subjects[i], NULL, "x", 1,
		                     on_ack, &pubs[0]),
		        CLM_INVALID_ARGUMENT, "'%s'", subjects[i]);
	}
	char long_id[300];
	memset(long_id, 'i', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	const char *ids[]
	        = { "a\r\nNats-Expected-Stream: X", "tab\t", long_id, NULL };
	for (int i = 0; ids[i] != NULL; i++) {
		cr_assert_eq(jstream_publish(
		                     s, "g", ids[i], "x", 1, on_ack, &pubs[0]),
		        CLM_INVALID_ARGUMENT, "msg_id %d", i);
	}
	static char big[2 << 20];
	cr_assert_eq(jstream_publish(s, "g", NULL, big,
	                     jstream_max_entry(s) + 1, on_ack, &pubs[0]),
	        CLM_INVALID_ARGUMENT);
	cr_assert_gt(jstream_max_entry(s), 900 * 1024);
	cr_assert_lt(jstream_max_entry(s), sizeof(big));
	cr_assert_eq(atomic_load(&nacked), 3);
	jstream_close(s);
}

struct opener {
	const char *urls;
	jstream *s;
};

static void *
opener_main(void *arg)
{
	struct opener *o = arg;
	struct jstream_opts opts
	        = { .urls = o->urls, .stream = "KEYS", .replicas = 3 };
	char err[256];
	if (jstream_open(&opts, &o->s, err, sizeof(err)) != CLM_OK) {
		fprintf(stderr, "open: %s\n", err);
		o->s = NULL;
	}
	return NULL;
}

Test(jstream, subject_key_shared)
{
	cluster = natsrv_start(3, NULL);
	cr_assert_not_null(cluster);
	/* Two nodes create the stream and its key at once, each through
	 * another server. */
	struct opener o[2] = { { .urls = natsrv_url(cluster, 0) },
		{ .urls = natsrv_url(cluster, 2) } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		        pthread_create(&t[i], NULL, opener_main, &o[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		cr_assert_not_null(o[i].s);
	}
	char a0[33], a1[33], b0[33], a2[33];
	jstream_subject_key(o[0].s, "alice", 5, a0);
	jstream_subject_key(o[1].s, "alice", 5, a1);
	jstream_subject_key(o[0].s, "bob", 3, b0);
	cr_assert_eq(strlen(a0), 32);
	cr_assert_eq(strspn(a0, "0123456789abcdef"), 32);
	cr_assert_str_eq(a0, a1);
	cr_assert_str_neq(a0, b0);
	/* A later node, and one on another stream (another key). */
	jstream *late = open_on(natsrv_url(cluster, 1), "KEYS", 3);
	jstream *other = open_on(natsrv_urls(cluster), "OTHER", 3);
	jstream_subject_key(late, "alice", 5, a2);
	cr_assert_str_eq(a0, a2);
	jstream_subject_key(other, "alice", 5, a2);
	cr_assert_str_neq(a0, a2);
	/* One key message in the stream, however many opened it. */
	struct jstream_state st;
	char err[256];
	cr_assert_eq(jstream_info(late, &st, err, sizeof(err)), CLM_OK);
	cr_assert_eq(st.entries, 1);
	jstream_close(late);
	jstream_close(other);
	jstream_close(o[0].s);
	jstream_close(o[1].s);
}

/* Purges stream below p, on filter only when it is set (an operator). */
static void
purge_below(const char *stream, const char *filter, uint64_t p)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(
	        natsConnection_ConnectTo(&nc, natsrv_urls(cluster)), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Purge.Sequence = p;
	o.Stream.Purge.Subject = filter;
	natsStatus st = js_PurgeStream(js, stream, &o, &jerr);
	cr_assert_eq(st, NATS_OK, "purge: %s (%d)", natsStatus_GetText(st),
	        (int) jerr);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

/* Publishes n entries on subject; returns the last one's position. */
static uint64_t
publish_n(jstream *s, const char *subject, int n)
{
	int first = atomic_load(&npubs), last = -1;
	for (int i = 0; i < n; i++) {
		last = publish(s, subject, NULL, "retained");
		cr_assert_geq(last, 0);
	}
	wait_for(&nacked, first + n, 10000);
	return acked_ok(last)->seq;
}

/*
 * A purge by sequence (nats stream purge --seq P) takes the subject key's
 * entry too: a node started then is refused rather than making a new key
 * (new subjects for every customer), and a running node stores the same
 * key again at its next jstream_info. The purge cluster.md says to run,
 * one per subject filter, leaves the key.
 */
Test(jstream, subject_key_outlives_a_retention_purge)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "RET", 1);
	char k1[33], k2[33], subj[40];
	jstream_subject_key(s, "pia", 3, k1);
	snprintf(subj, sizeof(subj), "c.%s", k1);
	uint64_t last = publish_n(s, subj, 5);
	purge_below("RET", NULL, last);
	struct jstream_opts o = { .urls = natsrv_urls(cluster),
		.stream = "RET",
		.ack_timeout_ms = ACK_MS };
	jstream *late = NULL;
	char err[512] = "";
	cr_assert_eq(jstream_open(&o, &late, err, sizeof(err)),
	        CLM_FAILED_PRECONDITION, "%s", err);
	cr_assert_not_null(strstr(err, "subject key is gone"), "%s", err);
	struct jstream_state st;
	cr_assert_eq(
	        jstream_info(s, &st, err, sizeof(err)), CLM_OK, "%s", err);
	cr_assert_eq(st.first_seq, last);
	late = open_on(natsrv_urls(cluster), "RET", 1);
	jstream_subject_key(late, "pia", 3, k2);
	cr_assert_str_eq(k1, k2);
	jstream_close(late);
	/* The operator's purge: every subject but the key's, below P. */
	last = publish_n(s, subj, 3);
	publish_n(s, "g", 2);
	purge_below("RET", "RET.c.>", last);
	purge_below("RET", "RET.g", last);
	void *data = NULL;
	size_t len = 0;
	cr_assert_eq(jstream_get(s, last - 1, &data, &len, err, sizeof(err)),
	        CLM_NOT_FOUND);
	cr_assert_eq(jstream_get(s, last, &data, &len, err, sizeof(err)),
	        CLM_OK, "%s", err);
	free(data);
	late = open_on(natsrv_urls(cluster), "RET", 1);
	jstream_subject_key(late, "pia", 3, k2);
	cr_assert_str_eq(k1, k2);
	jstream_close(late);
	jstream_close(s);
}

/* What find_in_files looks for, and how often it was found. */
static const char *scan_pattern;
static int scan_hits;

static int
scan_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) f;
	if (flag != FTW_F || !S_ISREG(st->st_mode)) {
		return 0;
	}
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		return 0;
	}
	size_t plen = strlen(scan_pattern), n = 0, cap = 0;
	char *buf = NULL;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		char *nb = realloc(buf, cap = n + got);
		cr_assert_not_null(nb);
		buf = nb;
		memcpy(buf + n, chunk, got);
		n += got;
	}
	fclose(fp);
	for (size_t i = 0; i + plen <= n; i++) {
		if (memcmp(buf + i, scan_pattern, plen) == 0) {
			scan_hits++;
		}
	}
	free(buf);
	return 0;
}

/* How many times pattern is in the files under dir. */
static int
find_in_files(const char *dir, const char *pattern)
{
	scan_pattern = pattern;
	scan_hits = 0;
	nftw(dir, scan_one, 16, FTW_PHYS);
	return scan_hits;
}

static void
purge_key(int nodes)
{
	cluster = natsrv_start(nodes, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "PURGE", nodes);
	char ka[33], kb[33], sa[40], sb[40];
	jstream_subject_key(s, "alice", 5, ka);
	jstream_subject_key(s, "bob", 3, kb);
	snprintf(sa, sizeof(sa), "c.%s", ka);
	snprintf(sb, sizeof(sb), "c.%s", kb);
	int a[3], b[2], g, late;
	a[0] = publish(s, sa, NULL, "ALICE-SECRET-0");
	b[0] = publish(s, sb, NULL, "BOB-KEPT-0");
	a[1] = publish(s, sa, NULL, "ALICE-SECRET-1");
	g = publish(s, "g", NULL, "CATALOG-KEPT");
	a[2] = publish(s, sa, NULL, "ALICE-SECRET-2");
	b[1] = publish(s, sb, NULL, "BOB-KEPT-1");
	wait_for(&nacked, 6, 10000);
	late = publish(s, sa, NULL, "ALICE-LATER");
	wait_for(&nacked, 7, 10000);
	uint64_t before = acked_ok(late)->seq;

	char err[256];
	cr_assert_eq(jstream_purge_key(s, ka, before, err, sizeof(err)),
	        CLM_OK, "%s", err);
	void *data = NULL;
	size_t len;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(jstream_get(s, acked_ok(a[i])->seq, &data, &len,
		                     err, sizeof(err)),
		        CLM_NOT_FOUND);
	}
	int kept[4] = { b[0], b[1], g, late };
	for (int i = 0; i < 4; i++) {
		const struct pub *p = acked_ok(kept[i]);
		cr_assert_eq(
		        jstream_get(s, p->seq, &data, &len, err, sizeof(err)),
		        CLM_OK, "%s", err);
		cr_assert_eq(len, p->len);
		cr_assert_eq(memcmp(data, p->data, len), 0);
		free(data);
	}
	/* Again: nothing left to erase below it. */
	cr_assert_eq(jstream_purge_key(s, ka, before, err, sizeof(err)),
	        CLM_OK, "%s", err);
	char notkey[33] = "not-a-key";
	cr_assert_eq(jstream_purge_key(s, notkey, 0, err, sizeof(err)),
	        CLM_INVALID_ARGUMENT);

	/* A reader sees the rest, in order, with gaps where alice was. */
	cr_assert_eq(jstream_subscribe(s, 1, err, sizeof(err)), CLM_OK);
	uint64_t seqs[8];
	char datas[8][48];
	int n = read_until(s, acked_ok(late)->seq, seqs, datas, 8, 10000);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(datas[0], "BOB-KEPT-0");
	cr_assert_str_eq(datas[1], "CATALOG-KEPT");
	cr_assert_str_eq(datas[2], "BOB-KEPT-1");
	cr_assert_str_eq(datas[3], "ALICE-LATER");
	jstream_close(s);

	/* Stopped cleanly, every server has written out what it holds. The
	 * erased content is in none of the stream's files (the whole store
	 * of a single server, which keeps no raft log; the stream's message
	 * blocks in a cluster, see jstream_admin.c on the raft log), the
	 * kept content is. */
	int kept_hits = 0;
	for (int i = 0; i < nodes; i++) {
		char dir[512];
		cr_assert_eq(natsrv_stop_node(cluster, i), 0);
		if (nodes == 1) {
			snprintf(dir, sizeof(dir), "%s/n0",
			        natsrv_dir(cluster));
		} else {
			snprintf(dir, sizeof(dir),
			        "%s/n%d/jetstream/$G/streams/PURGE",
			        natsrv_dir(cluster), i);
		}
		struct stat st;
		cr_assert_eq(stat(dir, &st), 0, "%s", dir);
		cr_assert_eq(
		        find_in_files(dir, "ALICE-SECRET"), 0, "in %s", dir);
		cr_assert_gt(
		        find_in_files(dir, "ALICE-LATER"), 0, "in %s", dir);
		kept_hits += find_in_files(dir, "BOB-KEPT-1");
	}
	cr_assert_geq(kept_hits, nodes);
}

Test(jstream, purge_key_one_node)
{
	purge_key(1);
}

Test(jstream, purge_key_three_nodes)
{
	purge_key(3);
}

/* A loopback port nothing listens on (freeport.h). */
static int
closed_port(void)
{
	int port = freeport_pick();
	cr_assert_gt(port, 0);
	return port;
}

Test(jstream, unreachable_and_bad_options)
{
	char urls[128], err[256];
	snprintf(urls, sizeof(urls), "nats://127.0.0.1:%d,nats://127.0.0.1:%d",
	        closed_port(), closed_port());
	struct jstream_opts o = { .urls = urls, .replicas = 1 };
	jstream *s = NULL;
	int64_t t0 = now_ms();
	clm_err rc = jstream_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, CLM_UNAVAILABLE, "%s", clm_errname(rc));
	cr_assert_lt(now_ms() - t0, 10000);
	cr_assert_not_null(strstr(err, urls), "%s", err);
	cr_assert_null(s);

	const char *bad[] = { "", "http://127.0.0.1:4222", ",", NULL };
	for (int i = 0; bad[i] != NULL; i++) {
		o.urls = bad[i];
		cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
		        CLM_INVALID_ARGUMENT, "'%s'", bad[i]);
	}
	o.urls = urls;
	o.stream = "a.b";
	cr_assert_eq(
	        jstream_open(&o, &s, err, sizeof(err)), CLM_INVALID_ARGUMENT);
	o.stream = NULL;
	o.replicas = 6;
	cr_assert_eq(
	        jstream_open(&o, &s, err, sizeof(err)), CLM_INVALID_ARGUMENT);
	o.replicas = 1;
	o.auth_file = "/nonexistent/clm-auth";
	cr_assert_eq(
	        jstream_open(&o, &s, err, sizeof(err)), CLM_INVALID_ARGUMENT);
	cr_assert_not_null(strstr(err, "/nonexistent/clm-auth"), "%s", err);
}

/* Adds a stream through nats.c directly, with storage and subjects. */
static void
add_raw_stream(const char *name, const char *subject, jsStorageType storage)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	cr_assert_eq(natsConnection_ConnectTo(&nc, natsrv_url(cluster, 0)),
	        NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	const char *subjects[1] = { subject };
	c.Name = name;
	c.Subjects = subjects;
	c.SubjectsLen = 1;
	c.Storage = storage;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	cr_assert_eq(js_AddStream(&si, js, &c, NULL, &jerr), NATS_OK);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

Test(jstream, mismatching_stream)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	add_raw_stream("MEM", "MEM.>", js_MemoryStorage);
	add_raw_stream("SUBJ", "elsewhere.>", js_FileStorage);
	struct jstream_opts o = {
		.urls = natsrv_urls(cluster), .stream = "MEM", .replicas = 1
	};
	jstream *s = NULL;
	char err[256];
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_FAILED_PRECONDITION);
	cr_assert_not_null(strstr(err, "memory storage"), "%s", err);
	o.stream = "SUBJ";
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_FAILED_PRECONDITION);
	cr_assert_not_null(strstr(err, "subjects 'elsewhere.>'"), "%s", err);
	/* Three replicas on a single server cannot be. */
	o.stream = "R3";
	o.replicas = 3;
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_FAILED_PRECONDITION, "%s", err);
	cr_assert_not_null(strstr(err, "3 replicas"), "%s", err);
	cr_assert_null(s);
}

/* Writes text into a new file under the cluster's dir; returns its path. */
static const char *
auth_file(const char *name, const char *text)
{
	static char path[4][512];
	static int n;
	char *p = path[n++ % 4];
	snprintf(p, 512, "%s/%s", natsrv_dir(cluster), name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	return p;
}

Test(jstream, auth_file)
{
	cluster = natsrv_start(
	        1, "authorization { user: clm, password: \"pw-1\" }");
	cr_assert_not_null(cluster);
	struct jstream_opts o = { .urls = natsrv_urls(cluster),
		.replicas = 1,
		.auth_file = auth_file("good", "clm:pw-1\n") };
	jstream *s = NULL;
	char err[256];
	cr_assert_eq(
	        jstream_open(&o, &s, err, sizeof(err)), CLM_OK, "%s", err);
	jstream_close(s);
	s = NULL;
	o.auth_file = auth_file("bad", "clm:pw-2\n");
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_UNAUTHENTICATED, "%s", err);
	o.auth_file = NULL;
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_UNAUTHENTICATED, "%s", err);
	o.auth_file = auth_file("empty", "\n");
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_INVALID_ARGUMENT, "%s", err);
	cr_assert_null(s);
}

/*
 * A CA, and a server and a client certificate it signed (for 127.0.0.1),
 * made with openssl into certs: ca.pem, srv.pem/.key, cli.pem/.key.
 */
static void
make_certs(void)
{
	testdir_make(certs, sizeof(certs), "tls");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	        "cd '%s' && (echo subjectAltName=IP:127.0.0.1 > ext.cnf"
	        " && openssl req -x509 -newkey ec -pkeyopt"
	        " ec_paramgen_curve:prime256v1 -nodes -keyout ca.key"
	        " -out ca.pem -days 1 -subj /CN=clm-test-ca"
	        " && for n in srv cli; do openssl req -newkey ec -pkeyopt"
	        " ec_paramgen_curve:prime256v1 -nodes -keyout $n.key"
	        " -out $n.csr -subj /CN=127.0.0.1 && openssl x509 -req"
	        " -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
	        " -out $n.pem -days 1 -extfile ext.cnf || exit 1; done)"
	        " >/dev/null 2>&1",
	        certs);
	cr_assert_eq(system(cmd), 0, "openssl failed in %s", certs);
}

Test(jstream, tls_client_certificate)
{
	make_certs();
	char conf[1024], ca[128], cert[128], key[128];
	snprintf(conf, sizeof(conf),
	        "tls { cert_file: \"%s/srv.pem\", key_file: \"%s/srv.key\","
	        " ca_file: \"%s/ca.pem\", verify: true }",
	        certs, certs, certs);
	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	snprintf(cert, sizeof(cert), "%s/cli.pem", certs);
	snprintf(key, sizeof(key), "%s/cli.key", certs);
	cluster = natsrv_start(1, conf);
	cr_assert_not_null(cluster);
	char urls[64];
	snprintf(urls, sizeof(urls), "tls://%s",
	        natsrv_url(cluster, 0) + strlen("nats://"));
	struct jstream_opts o = { .urls = urls,
		.replicas = 1,
		.tls_ca_file = ca,
		.tls_cert_file = cert,
		.tls_key_file = key };
	jstream *s = NULL;
	char err[256];
	cr_assert_eq(
	        jstream_open(&o, &s, err, sizeof(err)), CLM_OK, "%s", err);
	pubs_init();
	publish(s, "g", NULL, "over tls");
	wait_for(&nacked, 1, 10000);
	cr_assert_eq(acked_ok(0)->seq, 2);
	jstream_close(s);
	/* The server wants a client certificate; a key alone is no use. */
	o.tls_cert_file = NULL;
	o.tls_key_file = NULL;
	s = NULL;
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)), CLM_UNAVAILABLE,
	        "%s", err);
	o.tls_key_file = key;
	cr_assert_eq(jstream_open(&o, &s, err, sizeof(err)),
	        CLM_INVALID_ARGUMENT, "%s", err);
	cr_assert_null(s);
}
