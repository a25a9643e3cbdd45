/*
 * Tests of jstream (server/journal/jstream*.c, issue 16) against real
 * nats-server processes (tests/natsrv.h): async publishes from two
 * threads read back in order with their acks' positions, on one node and
 * on three; a repeated msg_id acked as a duplicate of the first; one
 * subject key for every handle on a stream, also when two handles create
 * it at once; purge_key erasing one customer's entries below a position
 * and nothing else, their content gone from the server's files; the
 * stream leader killed while two threads publish: one ack per publish,
 * every acked entry readable afterwards and read in order by a
 * subscriber that goes on after the new leader; no server, a bad url, a
 * stream with other settings; close calling every pending ack function.
 */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal/jstream.h"
#include "natsrv.h"

#define ACK_MS 3000
#define MAXPUB 40000

static natsrv *cluster;

static void
fini(void)
{
	natsrv_stop(cluster);
	cluster = NULL;
}

TestSuite(jstream, .fini = fini, .timeout = 90);

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* One publish and what its ack function was told. */
struct pub {
	char data[48];
	size_t len;
	atomic_int calls;
	clm_err err;
	uint64_t seq;
	bool duplicate;
};

static struct pub *pubs;  /* MAXPUB of them */
static atomic_int npubs;  /* taken */
static atomic_int nacked; /* ack function calls */
static atomic_int nok;    /* of them CLM_OK */
/* Set by NATS and test threads, where Criterion cannot assert. */
static atomic_int odd;

static void
on_ack(void *arg, const struct jstream_ack *a)
{
	struct pub *p = arg;
	if (atomic_load(&p->calls) == 0) {
		p->err = a->err;
		p->seq = a->seq;
		p->duplicate = a->duplicate;
		if (a->err == CLM_OK) {
			atomic_fetch_add(&nok, 1);
		}
	}
	if (a->why == NULL
	        || (a->err != CLM_OK && a->err != CLM_UNAVAILABLE
	                && a->err != CLM_DEADLINE_EXCEEDED)) {
		atomic_fetch_add(&odd, 1);
	}
	atomic_fetch_add(&p->calls, 1);
	atomic_fetch_add(&nacked, 1);
}

static void
pubs_init(void)
{
	pubs = calloc(MAXPUB, sizeof(*pubs));
	cr_assert_not_null(pubs);
	atomic_store(&npubs, 0);
	atomic_store(&nacked, 0);
	atomic_store(&nok, 0);
	atomic_store(&odd, 0);
}

static jstream *
open_on(const char *urls, const char *stream, int replicas)
{
	struct jstream_opts o = { .urls = urls,
		.stream = stream,
		.replicas = replicas,
		.ack_timeout_ms = ACK_MS };
	jstream *s = NULL;
	char err[256] = "";
	clm_err rc = jstream_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, CLM_OK, "open %s on %s: %s (%s)", stream, urls,
	        clm_errname(rc), err);
	return s;
}

/*
 * Publishes data on subject as a new pub; returns its index, or -1 when
 * jstream_publish refused it as UNAVAILABLE (no ack function then).
 * Any thread: counts anything else in odd.
 */
static int
publish(jstream *s, const char *subject, const char *msg_id, const char *data)
{
	int i = atomic_fetch_add(&npubs, 1);
	if (i >= MAXPUB) {
		atomic_fetch_add(&odd, 1);
		return -1;
	}
	struct pub *p = &pubs[i];
	snprintf(p->data, sizeof(p->data), "%s", data);
	p->len = strlen(p->data);
	clm_err rc = jstream_publish(
	        s, subject, msg_id, p->data, p->len, on_ack, p);
	if (rc != CLM_OK) {
		if (rc != CLM_UNAVAILABLE) {
			atomic_fetch_add(&odd, 1);
		}
		p->len = 0; /* refused: no ack */
		return -1;
	}
	return i;
}

/* Waits up to ms for n ack function calls. */
static void
wait_acks(int n, int ms)
{
	int64_t until = now_ms() + ms;
	while (atomic_load(&nacked) < n && now_ms() < until) {
		sleep_ms(5);
	}
	cr_assert_geq(atomic_load(&nacked), n, "%d acks of %d in %d ms",
	        atomic_load(&nacked), n, ms);
}

/* The pub of index i, once acked: asserts it was acked OK. */
static const struct pub *
acked_ok(int i)
{
	cr_assert_geq(i, 0);
	const struct pub *p = &pubs[i];
	cr_assert_eq(atomic_load(&p->calls), 1);
	cr_assert_eq(p->err, CLM_OK, "pub %d: %s", i, clm_errname(p->err));
	cr_assert_gt(p->seq, 0);
	return p;
}

struct publisher {
	jstream *s;
	int thread;
	int count;         /* publishes to make; 0: until stop */
	atomic_bool *stop; /* may be NULL */
	int taken;         /* publishes jstream_publish took */
};

/* Publishes entries "t<thread>-<n>" on "g" and on a customer subject,
 * keeping at most 64 of its own in flight. */
static void *
publisher_main(void *arg)
{
	struct publisher *w = arg;
	char key[33], subj[40], data[48];
	jstream_subject_key(w->s, "alice", 5, key);
	snprintf(subj, sizeof(subj), "c.%s", key);
	int n = 0;
	static int mine[2][MAXPUB / 2];
	int nmine = 0, done_upto = 0;
	while (nmine < MAXPUB / 2
	        && ((w->count > 0 && n < w->count)
	                || (w->count == 0 && !atomic_load(w->stop)))) {
		bool failed = false;
		while (done_upto < nmine
		        && atomic_load(&pubs[mine[w->thread][done_upto]].calls)
		                > 0) {
			failed = failed
			        || pubs[mine[w->thread][done_upto]].err
			                != CLM_OK;
			done_upto++;
		}
		if (failed) {
			sleep_ms(20); /* as a writer would, not in a spin */
		}
		if (nmine - done_upto >= 64) {
			sleep_ms(1);
			continue;
		}
		snprintf(data, sizeof(data), "t%d-%d", w->thread, n);
		int i = publish(w->s, n % 2 ? subj : "g", NULL, data);
		n++;
		if (i < 0) {
			sleep_ms(5); /* not connected: the caller retries */
			continue;
		}
		mine[w->thread][nmine++] = i;
	}
	w->taken = nmine;
	return NULL;
}

/* Reads entries from the subscription until one at or past last, for
 * at most ms; returns how many, their positions and data in seqs/datas. */
static int
read_until(jstream *s, uint64_t last, uint64_t *seqs, char (*datas)[48],
        int cap, int ms)
{
	int n = 0;
	int64_t until = now_ms() + ms;
	uint64_t prev = 0;
	while ((n == 0 || seqs[n - 1] < last) && now_ms() < until) {
		struct jstream_msg m;
		char err[256];
		clm_err rc = jstream_next(s, 200, &m, err, sizeof(err));
		if (rc == CLM_DEADLINE_EXCEEDED) {
			continue;
		}
		if (rc == CLM_UNAVAILABLE) {
			cr_assert_eq(jstream_subscribe(
			                     s, prev + 1, err, sizeof(err)),
			        CLM_OK, "%s", err);
			continue;
		}
		cr_assert_eq(rc, CLM_OK, "next: %s", err);
		cr_assert_gt(m.seq, prev,
		        "out of order: %" PRIu64 " after %" PRIu64, m.seq,
		        prev);
		cr_assert_lt(n, cap);
		seqs[n] = m.seq;
		snprintf(datas[n], sizeof(datas[n]), "%.*s", (int) m.len,
		        (const char *) m.data);
		int64_t age = (int64_t) time(NULL) * 1000 - m.stored_ms;
		cr_assert(age > -60000 && age < 600000, "stored_ms %" PRId64,
		        m.stored_ms);
		prev = m.seq;
		n++;
		jstream_msg_free(&m);
	}
	return n;
}

/* Asserts that every OK ack among the pubs is among the n entries read,
 * with its data; returns the number of OK acks. */
static int
check_read(const uint64_t *seqs, char (*datas)[48], int n)
{
	int ok = 0;
	for (int i = 0; i < atomic_load(&npubs); i++) {
		const struct pub *p = &pubs[i];
		if (p->len == 0 || p->err != CLM_OK) {
			continue;
		}
		ok++;
		int lo = 0, hi = n - 1, at = -1;
		while (lo <= hi) {
			int mid = (lo + hi) / 2;
			if (seqs[mid] == p->seq) {
				at = mid;
				break;
			}
			if (seqs[mid] < p->seq) {
				lo = mid + 1;
			} else {
				hi = mid - 1;
			}
		}
		cr_assert_geq(at, 0, "acked seq %" PRIu64 " not read", p->seq);
		cr_assert_str_eq(datas[at], p->data, "seq %" PRIu64, p->seq);
	}
	return ok;
}

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
	wait_acks(2 * PER_THREAD, 20000);
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
	wait_acks(2, 10000);
	int c = publish(s, "g", "event-1", "second");
	wait_acks(3, 10000);
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
	wait_acks(6, 10000);
	late = publish(s, sa, NULL, "ALICE-LATER");
	wait_acks(7, 10000);
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

/* A reader thread: reads until told to stop and past target. */
struct reader {
	jstream *s;
	atomic_bool stop;
	_Atomic uint64_t target;
	int64_t until; /* monotonic ms */
	uint64_t *seqs;
	char (*datas)[48];
	int n, cap;
	int resubscribed;
	bool out_of_order;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t prev = 0;
	char err[256];
	while (now_ms() < r->until && r->n < r->cap
	        && !(atomic_load(&r->stop)
	                && prev >= atomic_load(&r->target))) {
		struct jstream_msg m;
		clm_err rc = jstream_next(r->s, 200, &m, err, sizeof(err));
		if (rc == CLM_UNAVAILABLE) {
			r->resubscribed++;
			if (jstream_subscribe(r->s, prev + 1, err, sizeof(err))
			        != CLM_OK) {
				sleep_ms(100);
			}
			continue;
		}
		if (rc != CLM_OK) {
			continue;
		}
		if (m.seq <= prev) {
			r->out_of_order = true;
		}
		r->seqs[r->n] = m.seq;
		snprintf(r->datas[r->n], sizeof(r->datas[0]), "%.*s",
		        (int) m.len, (const char *) m.data);
		r->n++;
		prev = m.seq;
		jstream_msg_free(&m);
	}
	return NULL;
}

/* Waits up to ms until nok reaches n. */
static void
wait_ok(int n, int ms)
{
	int64_t until = now_ms() + ms;
	while (atomic_load(&nok) < n && now_ms() < until) {
		sleep_ms(5);
	}
	cr_assert_geq(atomic_load(&nok), n,
	        "%d ok acks of %d in %d ms (%d acks, %d publishes)",
	        atomic_load(&nok), n, ms, atomic_load(&nacked),
	        atomic_load(&npubs));
}

Test(jstream, leader_killed_while_publishing, .timeout = 150)
{
	cluster = natsrv_start(3, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "KILL", 3);
	jstream *rs = open_on(natsrv_urls(cluster), "KILL", 3);
	char err[256];
	cr_assert_eq(
	        jstream_subscribe(rs, 1, err, sizeof(err)), CLM_OK, "%s", err);
	static uint64_t seqs[MAXPUB];
	static char datas[MAXPUB][48];
	static struct reader r;
	r.s = rs;
	r.until = now_ms() + 90000;
	r.seqs = seqs;
	r.datas = datas;
	r.cap = MAXPUB;
	atomic_bool stop = false;
	struct publisher w[2] = { { .s = s, .thread = 0, .stop = &stop },
		{ .s = s, .thread = 1, .stop = &stop } };
	pthread_t t[3];
	cr_assert_eq(pthread_create(&t[2], NULL, reader_main, &r), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		        pthread_create(&t[i], NULL, publisher_main, &w[i]), 0);
	}
	wait_ok(200, 20000);
	int leader = natsrv_leader(cluster, "KILL", 10000);
	cr_assert_geq(leader, 0);
	cr_assert_eq(natsrv_kill9(cluster, leader), 0);
	int64_t killed = now_ms();
	int next = natsrv_leader(cluster, "KILL", 30000);
	cr_assert(next >= 0 && next != leader, "new leader %d (was %d)", next,
	        leader);
	int64_t elected = now_ms();
	int ok_before = atomic_load(&nok);
	wait_ok(ok_before + 200, 30000);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
	}
	int taken = w[0].taken + w[1].taken;
	wait_acks(taken, ACK_MS + 10000);
	/* No second call comes later either. */
	sleep_ms(ACK_MS / 2);
	cr_assert_eq(atomic_load(&nacked), taken);
	cr_assert_eq(atomic_load(&odd), 0);
	uint64_t max = 0;
	int failed = 0, ok = 0;
	for (int i = 0; i < atomic_load(&npubs); i++) {
		const struct pub *p = &pubs[i];
		if (p->len == 0) {
			continue;
		}
		cr_assert_eq(atomic_load(&p->calls), 1, "pub %d: %d calls", i,
		        atomic_load(&p->calls));
		if (p->err != CLM_OK) {
			failed++;
			continue;
		}
		ok++;
		max = p->seq > max ? p->seq : max;
	}
	/* Every acked entry is there, with its content. */
	for (int i = 0; i < atomic_load(&npubs); i++) {
		const struct pub *p = &pubs[i];
		if (p->len == 0 || p->err != CLM_OK) {
			continue;
		}
		void *data = NULL;
		size_t len = 0;
		cr_assert_eq(
		        jstream_get(s, p->seq, &data, &len, err, sizeof(err)),
		        CLM_OK, "seq %" PRIu64 ": %s", p->seq, err);
		cr_assert_eq(len, p->len);
		cr_assert_eq(memcmp(data, p->data, len), 0);
		free(data);
	}
	/* The reader went on past the new leader, in order. */
	atomic_store(&r.target, max);
	atomic_store(&r.stop, true);
	pthread_join(t[2], NULL);
	cr_assert_not(r.out_of_order);
	cr_assert_gt(r.n, 0);
	cr_assert_geq(r.seqs[r.n - 1], max,
	        "reader at %" PRIu64 " of %" PRIu64, r.seqs[r.n - 1], max);
	cr_assert_eq(check_read(r.seqs, r.datas, r.n), ok);
	fprintf(stderr,
	        "jstream_test: leader n%d killed; n%d leads %" PRId64
	        " ms later; %d acked, %d failed, reader resubscribed %d times\n",
	        leader, next, elected - killed, ok, failed, r.resubscribed);
	jstream_close(rs);
	jstream_close(s);
}

/* A loopback port nothing listens on (bound, then closed). */
static int
closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
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

Test(jstream, close_calls_every_ack_function)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "CLOSE", 1);
	int taken = 0;
	for (int i = 0; i < 300; i++) {
		char data[32];
		snprintf(data, sizeof(data), "close-%d", i);
		taken += publish(s, "g", NULL, data) >= 0;
	}
	cr_assert_eq(taken, 300);
	/* The server goes; what it did not ack fails, at the latest after
	 * ack_timeout_ms, and close waits for all of it. */
	cr_assert_eq(natsrv_kill9(cluster, 0), 0);
	int64_t t0 = now_ms();
	jstream_close(s);
	cr_assert_lt(now_ms() - t0, ACK_MS + 3000);
	cr_assert_eq(atomic_load(&nacked), taken);
	cr_assert_eq(atomic_load(&odd), 0);
	for (int i = 0; i < taken; i++) {
		cr_assert_eq(atomic_load(&pubs[i].calls), 1);
		cr_assert(pubs[i].err != CLM_OK || pubs[i].seq > 0);
	}
	fprintf(stderr,
	        "jstream_test: close: %d of %d acked before the kill\n",
	        atomic_load(&nok), taken);
}
