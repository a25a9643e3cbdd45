/* The jstream tests' shared part: see jstream_fixture.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jstream_fixture.h"

int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

struct pub *pubs;
atomic_int npubs;
atomic_int nacked;
atomic_int nok;
atomic_int odd;

void
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

void
pubs_init(void)
{
	pubs = calloc(MAXPUB, sizeof(*pubs));
	cr_assert_not_null(pubs);
	atomic_store(&npubs, 0);
	atomic_store(&nacked, 0);
	atomic_store(&nok, 0);
	atomic_store(&odd, 0);
}

jstream *
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
int
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

/* Waits up to ms until *count (nacked or nok) reaches n. */
void
wait_for(atomic_int *count, int n, int ms)
{
	int64_t until = now_ms() + ms;
	while (atomic_load(count) < n && now_ms() < until) {
		sleep_ms(5);
	}
	cr_assert_geq(atomic_load(count), n,
	        "%d of %d in %d ms (%d acks, %d ok, %d publishes)",
	        atomic_load(count), n, ms, atomic_load(&nacked),
	        atomic_load(&nok), atomic_load(&npubs));
}

/* The pub of index i, once acked: asserts it was acked OK. */
const struct pub *
acked_ok(int i)
{
	cr_assert_geq(i, 0);
	const struct pub *p = &pubs[i];
	cr_assert_eq(atomic_load(&p->calls), 1);
	cr_assert_eq(p->err, CLM_OK, "pub %d: %s", i, clm_errname(p->err));
	cr_assert_gt(p->seq, 0);
	return p;
}

/* Publishes entries "t<thread>-<n>" on "g" and on a customer subject,
 * keeping at most 64 of its own in flight. */
void *
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
int
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
int
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
