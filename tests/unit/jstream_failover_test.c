/*
 * Tests of jstream (issue 16) when servers go: the stream leader of a
 * three-node cluster killed while two threads publish (one ack call per
 * publish; every acked entry readable afterwards with its content, and
 * read in order by a subscriber that goes on after the new leader); the
 * only server killed with publishes in flight (each fails by its
 * deadline, ack_timeout_ms; publishing is refused); jstream_close
 * waiting for the acks in flight.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/jstream.h"
#include "jstream_fixture.h"
#include "natsrv.h"

static natsrv *cluster;

static void
fini(void)
{
	natsrv_stop(cluster);
	cluster = NULL;
}

TestSuite(jstream_failover, .fini = fini, .timeout = 150);

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

Test(jstream_failover, leader_killed_while_publishing)
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
	wait_for(&nok, 200, 20000);
	int leader = natsrv_leader(cluster, "KILL", 10000);
	cr_assert_geq(leader, 0);
	cr_assert_eq(natsrv_kill9(cluster, leader), 0);
	int64_t killed = now_ms();
	int next = natsrv_leader(cluster, "KILL", 60000); /* loaded: slow */
	cr_assert(next >= 0 && next != leader, "new leader %d (was %d)", next,
	        leader);
	int64_t elected = now_ms();
	int ok_before = atomic_load(&nok);
	wait_for(&nok, ok_before + 200, 30000);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
	}
	int taken = w[0].taken + w[1].taken;
	wait_for(&nacked, taken, ACK_MS + 10000);
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
	        "jstream_failover_test: leader n%d killed; n%d leads %" PRId64
	        " ms later; %d acked, %d failed, reader resubscribed %d times\n",
	        leader, next, elected - killed, ok, failed, r.resubscribed);
	jstream_close(rs);
	jstream_close(s);
}

/* The ack function of a publish that must not get one. */
static void
never_acked(void *arg, const struct jstream_ack *a)
{
	(void) arg;
	(void) a;
	atomic_fetch_add(&odd, 1);
}

/* Publishes n entries "<tag>-<i>" on "g"; asserts all were taken. */
static void
publish_n(jstream *s, const char *tag, int n)
{
	for (int i = 0; i < n; i++) {
		char data[32];
		snprintf(data, sizeof(data), "%s-%d", tag, i);
		cr_assert_geq(publish(s, "g", NULL, data), 0);
	}
}

Test(jstream_failover, acks_time_out_when_the_server_dies)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "GONE", 1);
	publish_n(s, "gone", 300);
	/* What the server did not ack before it went fails by the
	 * library's deadline, ack_timeout_ms after each publish. */
	int64_t t0 = now_ms();
	cr_assert_eq(natsrv_kill9(cluster, 0), 0);
	wait_for(&nacked, 300, ACK_MS + 3000);
	int64_t took = now_ms() - t0;
	cr_assert_eq(atomic_load(&odd), 0);
	int timed_out = 0;
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(atomic_load(&pubs[i].calls), 1);
		cr_assert(pubs[i].err == CLM_OK
		        || pubs[i].err == CLM_DEADLINE_EXCEEDED);
		timed_out += pubs[i].err == CLM_DEADLINE_EXCEEDED;
	}
	/* Not connected: refused at once, no ack function. */
	char data[] = "refused";
	cr_assert_eq(jstream_publish(s, "g", NULL, data, 7, never_acked, NULL),
	        CLM_UNAVAILABLE);
	t0 = now_ms();
	jstream_close(s);
	cr_assert_lt(now_ms() - t0, 2000);
	cr_assert_eq(atomic_load(&nacked), 300);
	cr_assert_eq(atomic_load(&odd), 0);
	fprintf(stderr,
	        "jstream_failover_test: server killed: %d timed out after %" PRId64
	        " ms, %d acked before\n",
	        timed_out, took, atomic_load(&nok));
}

Test(jstream_failover, close_waits_for_acks)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	pubs_init();
	jstream *s = open_on(natsrv_urls(cluster), "CLOSE", 1);
	publish_n(s, "close", 300);
	jstream_close(s);
	/* Every ack came in before close returned, in the stream's order
	 * of publishing (one thread). */
	cr_assert_eq(atomic_load(&nacked), 300);
	cr_assert_eq(atomic_load(&odd), 0);
	for (int i = 0; i < 300; i++) {
		const struct pub *p = acked_ok(i);
		cr_assert(i == 0 || p->seq > pubs[i - 1].seq);
	}
}
