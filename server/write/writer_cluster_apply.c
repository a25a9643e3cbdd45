/*
 * The writer thread in cluster mode (docs/cluster.md; writer_cluster.c
 * has the whole story): it reads the stream, rebuilds each entry's job
 * and applies a batch of them in one overlay transaction, each at
 * max(its instant, the clamp: the last instant of an entry no Forget
 * erases), with the batch's mark (store_stream_mark) in the same
 * transaction; it queues the purge of a forgotten customer's entries once
 * its Forget is applied (the purge thread erases them:
 * writer_cluster_purge.c), and checks, about once a second, that the
 * stream still holds the entry at the view's position.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/jstream.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "write/writer_cluster.h"
#include "write/writer_internal.h"

static void
writer_cl_hash(const void *data, size_t len, unsigned char out[16])
{
	crypto_generichash(out, 16, data, len, NULL, 0);
}

/* Stops applying and refuses writes, with why (logged once). */
void
writer_cl_halt(writer *w, const char *why)
{
	struct writer_cluster *cl = w->cl;
	if (cl->halted) {
		return;
	}
	cl->halted = true;
	pthread_mutex_lock(&cl->mu);
	cl->diverged = true;
	snprintf(cl->why, sizeof(cl->why), "%s", why);
	pthread_mutex_unlock(&cl->mu);
	log_error("%s", why);
}

/* The hooks' apply: a Forget's ids, or the batch's mark. */
static clm_err
writer_cl_hook_apply(struct writer_batch *b, writer_job *job)
{
	struct writer_cl_hook *h = job->arg;
	struct writer_cluster *cl = h->w->cl;
	if (h->forget == NULL) {
		return store_stream_mark_put(b->txn, &h->mark);
	}
	h->n_ids = 0;
	clm_err e = cl->ops->forget_ids(cl->ops_arg, b->txn, h->forget, &cl->a,
	        &h->ids, &h->lens, &h->n_ids);
	return e == CLM_OK ? writer_cl_purge_save(h->w, b->txn, h) : e;
}

static struct writer_cl_hook *
writer_cl_hook_new(writer *w)
{
	struct writer_cl_hook *h = arena_zalloc(&w->cl->a, sizeof(*h));
	if (h != NULL) {
		writer_job_init(&h->job, &w->cl->a, NULL, NULL, NULL);
		h->job.apply = writer_cl_hook_apply;
		h->job.arg = h;
		h->job.items = 0;
		h->w = w;
	}
	return h;
}

/*
 * Whether m is not a clm entry (another format, or too short): a message
 * someone else published on the stream's subjects. Every node skips it
 * alike, with a warning (at most one every 10 s).
 */
static bool
writer_cl_foreign(writer *w, const struct jstream_msg *m)
{
	struct writer_cluster *cl = w->cl;
	const unsigned char *d = m->data;
	if (m->len >= WRITER_CLUSTER_HEADER && d[0] == WRITER_CLUSTER_FORMAT) {
		return false;
	}
	int64_t now = clock_mono_ns();
	cl->foreign_skipped++;
	if (now >= cl->foreign_log_ns) {
		log_warn(
		        "stream entry %llu is not a clm entry (%zu bytes): skipped (%llu so far); only clmd may publish to the stream's subjects (docs/cluster.md)",
		        (unsigned long long) m->seq, m->len,
		        (unsigned long long) cl->foreign_skipped);
		cl->foreign_log_ns = now + 10 * WRITER_CL_SECOND_NS;
	}
	return true;
}

/*
 * Rebuilds the job of stream entry m: in its pending job's arena when
 * this node published it and waits for it (*owner set), else in the
 * batch's. Returns NULL, the writer halted, when it cannot.
 */
static writer_job *
writer_cl_build(writer *w, const struct jstream_msg *m, int64_t *now,
        struct writer_cl_part **owner)
{
	struct writer_cluster *cl = w->cl;
	const unsigned char *d = m->data;
	char why[256];
	*owner = NULL;
	uint32_t type = (uint32_t) writer_cl_le_get(d + 1, 4);
	*now = (int64_t) writer_cl_le_get(d + 5, 8);
	uint64_t origin = writer_cl_le_get(d + 13, 8);
	uint64_t token = writer_cl_le_get(d + 21, 8);
	arena *a = &cl->a;
	if (origin == cl->node
	        && (*owner = writer_cl_find(cl, token)) != NULL) {
		a = (*owner)->p->job->arena;
	}
	writer_job *job;
	clm_err e;
	for (;;) {
		job = arena_zalloc(a, sizeof(*job));
		Clm__V1__Response *resp = arena_alloc(a, sizeof(*resp));
		e = CLM_RESOURCE_EXHAUSTED;
		if (job != NULL && resp != NULL) {
			clm__v1__response__init(resp);
			writer_job_init(job, a, resp, NULL, NULL);
			e = w->replay(w->replay_arg, job, type,
			        d + WRITER_CLUSTER_HEADER,
			        m->len - WRITER_CLUSTER_HEADER, *now);
		}
		if (e != CLM_RESOURCE_EXHAUSTED || a == &cl->a) {
			break;
		}
		/*
		 * The request's arena is exhausted: rebuild it in the
		 * batch's; its job learns it was applied, without the
		 * applied reply.
		 */
		(*owner)->no_reply = true;
		a = &cl->a;
	}
	if (e != CLM_OK) {
		/*
		 * Every node fails on it alike, but skipping it could still
		 * diverge (a node of another version may apply it): stop.
		 */
		snprintf(why, sizeof(why),
		        "stream entry %llu (type %u) cannot be applied: %s; applying stopped: check it, remove it ('nats stream rmm <stream> %llu') and restart (docs/cluster.md)",
		        (unsigned long long) m->seq, type, clm_strerror(e),
		        (unsigned long long) m->seq);
		writer_cl_halt(w, why);
		return NULL;
	}
	job->position = m->seq;
	job->jtype = type;
	return job;
}

/*
 * Whether an entry of type may be erased from the stream by a Forget:
 * those on a customer's subject, as calls/cluster.c's split puts them
 * (Track parts, Identify, Recommend, Assign). Decided by the type alone,
 * so that every node decides alike.
 */
static bool
writer_cl_erasable(uint32_t type)
{
	switch (WRITER_TYPE_CALL(type)) {
	case CLM__V1__REQUEST__CALL_TRACK:
	case CLM__V1__REQUEST__CALL_IDENTIFY:
	case CLM__V1__REQUEST__CALL_RECOMMEND:
	case CLM__V1__REQUEST__CALL_ASSIGN:
		return true;
	default:
		return false;
	}
}

/* The view reached position: tell whoever waits for it. */
static void
writer_cl_advance(writer *w, uint64_t position)
{
	struct writer_cluster *cl = w->cl;
	__atomic_store_n(&w->position, position, __ATOMIC_RELEASE);
	uint64_t last = __atomic_load_n(&cl->stream_last, __ATOMIC_ACQUIRE);
	if (position > last) {
		__atomic_store_n(&cl->stream_last, position, __ATOMIC_RELEASE);
	}
	if (cl->advanced != NULL) {
		cl->advanced(cl->advanced_arg, position);
	}
}

/*
 * Reads a batch of entries (waiting up to wait_ms for the first) and
 * applies it. Returns how many entries it applied.
 */
static size_t
writer_cl_batch(writer *w, int64_t wait_ms)
{
	struct writer_cluster *cl = w->cl;
	char err[256];
	size_t nm = 0, nj = 0, items = 0;
	bool lost = false;
	int64_t last_now = w->last_now_ms;
	unsigned char hash[16];
	clm_err e = CLM_OK;
	if (cl->carry) {
		nm = 1;
		cl->carry = false;
	} else {
		e = jstream_next(
		        cl->js, wait_ms, &cl->msgs[0], err, sizeof(err));
		if (e == CLM_OK) {
			nm = 1;
		}
	}
	struct jstream_msg carry = { 0 };
	bool carried = false;
	while (nm > 0) {
		struct jstream_msg *m = &cl->msgs[nm - 1];
		if (m->seq <= __atomic_load_n(&w->position, __ATOMIC_ACQUIRE)
		        || cl->halted || writer_cl_foreign(w, m)) {
			jstream_msg_free(m);
			nm--;
		} else {
			int64_t now;
			struct writer_cl_part *owner;
			writer_job *job = writer_cl_build(w, m, &now, &owner);
			if (job == NULL) {
				jstream_msg_free(m);
				nm--;
				break;
			}
			if (nj > 0
			        && job->items > w->batch_items_max - items) {
				carry = *m;
				carried = true;
				nm--;
				break;
			}
			if (job->jtype
			        == CLM__V1__REQUEST__CALL_FORGET_CUSTOMER) {
				struct writer_cl_hook *h
				        = writer_cl_hook_new(w);
				if (h == NULL) {
					/* Read again, after what fits. */
					jstream_msg_free(m);
					nm--;
					lost = true;
					break;
				}
				h->forget = job;
				h->position = m->seq;
				h->origin = writer_cl_le_get(
				        (const unsigned char *) m->data + 13,
				        8);
				h->job.position = m->seq;
				cl->owner[nj] = NULL;
				cl->nows[nj] = last_now;
				cl->jobs[nj++] = &h->job;
			}
			/*
			 * Each entry applies at max(its instant, the clamp);
			 * only entries no Forget erases raise the clamp, so
			 * that a node rebuilt from the stream after a purge
			 * applies every later entry at the same instant.
			 */
			int64_t at = now > last_now ? now : last_now;
			if (!writer_cl_erasable(job->jtype)) {
				last_now = at;
			}
			writer_cl_hash(m->data, m->len, hash);
			cl->owner[nj] = owner;
			cl->nows[nj] = at;
			cl->jobs[nj++] = job;
			items += job->items;
		}
		if (nm >= w->batch_max || items >= w->batch_items_max) {
			break;
		}
		e = jstream_next(cl->js, 0, &cl->msgs[nm], err, sizeof(err));
		if (e != CLM_OK) {
			break;
		}
		nm++;
	}
	if (e == CLM_UNAVAILABLE) {
		log_warn("stream: %s; reading again from position %llu", err,
		        (unsigned long long) (__atomic_load_n(&w->position,
		                                      __ATOMIC_ACQUIRE)
		                + 1));
		lost = true;
	}
	size_t applied = 0;
	if (nj > 0) {
		uint64_t first = cl->jobs[0]->position;
		uint64_t pos = cl->jobs[nj - 1]->position;
		struct writer_cl_hook *mark = writer_cl_hook_new(w);
		bool disk_full = false;
		if (mark == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
		} else {
			mark->mark.now_ms = last_now;
			memcpy(mark->mark.hash, hash, 16);
			cl->owner[nj] = NULL;
			cl->nows[nj] = last_now;
			cl->jobs[nj] = &mark->job;
			telemetry_batch(w->tm, nj);
			e = writer_try(w, cl->jobs, nj + 1, cl->nows, last_now,
			        &disk_full);
		}
		if (e != CLM_OK) {
			log_error(
			        "cannot apply stream entries %llu..%llu: %s; retried in a second",
			        (unsigned long long) first,
			        (unsigned long long) pos, clm_strerror(e));
			lost = true;
			cl->backoff_ms = 1000;
		} else {
			applied = nj;
			w->last_now_ms = last_now;
			memcpy(cl->hash, hash, 16);
			cl->hash_known = true;
			if (w->dirty_since_ns == 0) {
				w->dirty_since_ns = clock_mono_ns();
			}
			writer_cl_advance(w, pos);
			for (size_t i = 0; i < nj && w->publish != NULL; i++) {
				for (size_t k = 0; k < cl->jobs[i]->n_events;
				        k++) {
					w->publish(w->publish_arg,
					        cl->jobs[i]->events[k]);
				}
			}
			for (size_t i = 0; i < nj; i++) {
				struct writer_cl_part *pt = cl->owner[i];
				if (cl->jobs[i]->apply
				        == writer_cl_hook_apply) {
					writer_cl_purge_add(
					        w, cl->jobs[i]->arg);
				}
				if (pt == NULL) {
					continue;
				}
				struct writer_cl_pending *p = pt->p;
				pthread_mutex_lock(&cl->mu);
				pt->state = WRITER_CL_APPLIED;
				pthread_mutex_unlock(&cl->mu);
				cl->ops->merge(cl->ops_arg, p->job, pt->wp,
				        CLM_OK,
				        pt->no_reply ? NULL
				                     : cl->jobs[i]->resp);
				pt->merged = true;
				p->any_ok = true;
				if (cl->jobs[i]->position > p->last_pos) {
					p->last_pos = cl->jobs[i]->position;
				}
			}
		}
	}
	for (size_t i = 0; i < nm; i++) {
		jstream_msg_free(&cl->msgs[i]);
	}
	arena_reset(&cl->a);
	if (carried) {
		cl->msgs[0] = carry;
		cl->carry = !lost;
		if (lost) {
			jstream_msg_free(&cl->msgs[0]);
		}
	}
	if (lost) {
		cl->verify = true;
		cl->subscribed = false;
		cl->resub_ns = clock_mono_ns() + cl->backoff_ms * 1000000;
	}
	return applied;
}

/*
 * Whether the stream still holds, at the view's position, the entry the
 * view applied there (its hash): CLM_OK (also when it was erased, by a
 * Forget, or when the view has none), FAILED_PRECONDITION (it diverged:
 * the writer halts), UNAVAILABLE (the stream did not answer; err).
 */
static clm_err
writer_cl_check(writer *w, char *err, size_t errlen)
{
	struct writer_cluster *cl = w->cl;
	struct jstream_state st;
	clm_err e = jstream_info(cl->js, &st, err, errlen);
	if (e != CLM_OK) {
		return e;
	}
	uint64_t pos = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
	if (st.last_seq
	        > __atomic_load_n(&cl->stream_last, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(
		        &cl->stream_last, st.last_seq, __ATOMIC_RELEASE);
	}
	char why[256];
	if (st.first_seq > pos + 1) {
		/*
		 * An operator purged entries this node never applied
		 * (retention, cluster.md): reading on would jump over them.
		 */
		snprintf(why, sizeof(why),
		        "the stream starts at %llu, after this node's view at %llu: restore a snapshot taken at or after %llu (docs/cluster.md)",
		        (unsigned long long) st.first_seq,
		        (unsigned long long) pos,
		        (unsigned long long) st.first_seq - 1);
		writer_cl_halt(w, why);
		return CLM_FAILED_PRECONDITION;
	}
	if (pos == 0 || !cl->hash_known) {
		return CLM_OK;
	}
	/*
	 * The entry at the view's position first: the stream's state can
	 * come back older than what this node has already read from it
	 * (seen under load, with no NATS node down: "ends at 134121" when
	 * the node had applied 134661), so an end before the position
	 * alone proves nothing while the entry is there.
	 */
	void *data = NULL;
	size_t len = 0;
	e = jstream_get(cl->js, pos, &data, &len, err, errlen);
	if (e == CLM_OK) {
		unsigned char h[16];
		writer_cl_hash(data, len, h);
		free(data);
		cl->short_checks = 0;
		if (memcmp(h, cl->hash, 16) == 0) {
			return CLM_OK;
		}
		snprintf(why, sizeof(why),
		        "the stream diverged from this node's view at position %llu: resync (docs/cluster.md)",
		        (unsigned long long) pos);
		writer_cl_halt(w, why);
		log_error(
		        "the stream holds another entry at position %llu than the one this node applied there (a NATS power loss?)",
		        (unsigned long long) pos);
		return CLM_FAILED_PRECONDITION;
	}
	if (e != CLM_NOT_FOUND) {
		return e;
	}
	/*
	 * No entry there: erased (a forgotten customer's), or the stream
	 * lost it. It lost it when it also ends before the position, in
	 * WRITER_CL_SHORT_CHECKS checks in a row (a second apart), so that
	 * one stale state cannot halt the node.
	 */
	if (st.last_seq >= pos) {
		cl->short_checks = 0;
		return CLM_OK;
	}
	if (++cl->short_checks < WRITER_CL_SHORT_CHECKS) {
		log_warn(
		        "the stream says it ends at position %llu, before this node's view (%llu): checking again",
		        (unsigned long long) st.last_seq,
		        (unsigned long long) pos);
		return CLM_OK;
	}
	snprintf(why, sizeof(why),
	        "the stream diverged from this node's view at position %llu: resync (docs/cluster.md)",
	        (unsigned long long) pos);
	writer_cl_halt(w, why);
	log_error(
	        "the stream ends at position %llu, before this node's view (%llu): it lost entries (a NATS power loss?)",
	        (unsigned long long) st.last_seq, (unsigned long long) pos);
	return CLM_FAILED_PRECONDITION;
}

/*
 * While halted: keeps the stream's end (writer_stream_position) current,
 * so that the lag shows (clm status) while reads go on.
 */
static void
writer_cl_track_end(writer *w)
{
	struct writer_cluster *cl = w->cl;
	struct jstream_state st;
	char err[256];
	if (jstream_info(cl->js, &st, err, sizeof(err)) != CLM_OK) {
		log_debug("stream state: %s", err);
		return;
	}
	__atomic_store_n(&cl->stream_last, st.last_seq, __ATOMIC_RELEASE);
}

/* Subscribes from the view's position on; false (backoff) on failure. */
static bool
writer_cl_subscribe(writer *w)
{
	struct writer_cluster *cl = w->cl;
	char err[256];
	uint64_t from = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE) + 1;
	cl->carry = false;
	if (jstream_subscribe(cl->js, from, err, sizeof(err)) != CLM_OK) {
		log_warn(
		        "stream: cannot read from position %llu: %s; retried in %lld ms",
		        (unsigned long long) from, err,
		        (long long) cl->backoff_ms);
		cl->resub_ns = clock_mono_ns() + cl->backoff_ms * 1000000;
		cl->backoff_ms = cl->backoff_ms * 2 > 5000
		        ? 5000
		        : cl->backoff_ms * 2;
		return false;
	}
	cl->subscribed = true;
	cl->backoff_ms = 100;
	return true;
}

/*
 * After the stream was out of reach, checks it before applying anything
 * more: a stream that lost entries (a NATS power loss) may have handed
 * their positions to new ones by the time it answers again, and the
 * ordered subscription would read those on top of the old ones. True
 * when the check passed (or halted the writer).
 */
static bool
writer_cl_verify(writer *w)
{
	struct writer_cluster *cl = w->cl;
	char err[256];
	clm_err e = writer_cl_check(w, err, sizeof(err));
	if (e == CLM_UNAVAILABLE) {
		log_debug("stream check: %s", err);
		return false;
	}
	cl->verify = false;
	cl->check_ns = clock_mono_ns() + WRITER_CL_SECOND_NS;
	return true;
}

/* Waits up to ms on the writer's condition (writer_stop wakes it). */
static void
writer_cl_idle(writer *w, int64_t ms)
{
	pthread_mutex_lock(&w->mu);
	if (!w->stopping) {
		struct timespec ts = clock_deadline(ms);
		(void) pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
}

/* The writer thread in cluster mode. */
void *
writer_cluster_main(void *arg)
{
	writer *w = arg;
	struct writer_cluster *cl = w->cl;
	int64_t stop_by = 0; /* once stopping: when to stop waiting */
	int64_t next_reader_check = clock_mono_ns()
	        + (int64_t) WRITER_READER_CHECK_S * WRITER_CL_SECOND_NS;
	(void) writer_cl_purge_start(w);
	for (;;) {
		/* Both under w->mu, as writer_cluster_submit checks and
		 * inserts: no record comes after an idle stop. */
		pthread_mutex_lock(&w->mu);
		bool stopping = w->stopping;
		pthread_mutex_lock(&cl->mu);
		bool idle = cl->pending == NULL;
		pthread_mutex_unlock(&cl->mu);
		pthread_mutex_unlock(&w->mu);
		if (stopping && idle) {
			break;
		}
		if (stopping && stop_by == 0) {
			stop_by = clock_mono_ns()
			        + (int64_t) WRITER_CL_STOP_MS * 1000000;
		} else if (stopping && clock_mono_ns() > stop_by) {
			/*
			 * A stop does not wait for a client's deadline: what
			 * is still pending fails (it may still be recorded).
			 */
			log_warn(
			        "stopping: writes still wait for the stream; they fail with UNAVAILABLE and may still be recorded");
			break;
		}
		int64_t now = clock_mono_ns();
		if (cl->halted) {
			writer_cl_idle(w, WRITER_CL_NEXT_MS);
		} else if (cl->verify && !writer_cl_verify(w)) {
			writer_cl_idle(w, WRITER_CL_NEXT_MS);
		} else if (!cl->subscribed
		        && (now < cl->resub_ns || !writer_cl_subscribe(w))) {
			writer_cl_idle(w, WRITER_CL_NEXT_MS);
		} else {
			(void) writer_cl_batch(w, WRITER_CL_NEXT_MS);
		}
		writer_cl_settle(w, false);
		now = clock_mono_ns();
		if (now >= cl->check_ns) {
			char err[256];
			if (cl->halted) {
				writer_cl_track_end(w);
			} else if (writer_cl_check(w, err, sizeof(err))
			        == CLM_UNAVAILABLE) {
				cl->verify = true;
				log_debug("stream check: %s", err);
			}
			cl->check_ns = now + WRITER_CL_SECOND_NS;
		}
		writer_cl_purge_reap(w);
		writer_maybe_checkpoint(w);
		if (!cl->halted) {
			writer_segments(w, false); /* this node's view's own */
			writer_journeys(
			        w, false); /* fires through the stream */
			/* This node's deliveries, in this node's view. */
			writer_hooks(w);
		}
		pthread_mutex_lock(&cl->mu);
		cl->ckpt_err = w->ckpt_err;
		pthread_mutex_unlock(&cl->mu);
		if (now >= next_reader_check) {
			store_reader_check(w->st);
			next_reader_check = now
			        + (int64_t) WRITER_READER_CHECK_S
			                * WRITER_CL_SECOND_NS;
		}
	}
	writer_cl_settle(w, true);
	writer_cl_orphans_wait(w);
	writer_cl_purge_stop(w);
	/* A clean stop leaves the view in the base. */
	writer_ckpt_end(w);
	if (w->dirty_since_ns != 0 || store_ckpt_frozen(w->st)) {
		(void) writer_checkpoint(w);
	}
	return NULL;
}

/*
 * Whether the catch-up is done although nothing came: the stream answers
 * (with a leader) and its entry at target, the last clm entry at start,
 * was erased since (a Forget), or the view reached it. Else false, with
 * what it waits for in why.
 */
static bool
writer_cl_caught_up(writer *w, uint64_t target, char *why, size_t len)
{
	struct writer_cluster *cl = w->cl;
	struct jstream_state st;
	char err[200];
	if (jstream_info(cl->js, &st, err, sizeof(err)) != CLM_OK) {
		snprintf(why, len, "the stream does not answer: %s", err);
		return false;
	}
	if (!st.leader) {
		snprintf(why, len, "the stream has no leader");
		return false;
	}
	if (__atomic_load_n(&w->position, __ATOMIC_ACQUIRE) >= target) {
		return true;
	}
	void *data = NULL;
	size_t n = 0;
	clm_err e = jstream_get(cl->js, target, &data, &n, err, sizeof(err));
	free(data);
	if (e == CLM_NOT_FOUND) {
		return true;
	}
	snprintf(why, len, "%s",
	        e == CLM_OK ? "the stream holds them but delivered none"
	                    : err);
	return false;
}

/* Catches the view up with the stream's end as it is now (start-up). */
clm_err
writer_cl_catch_up(writer *w, char *err, size_t errlen)
{
	struct writer_cluster *cl = w->cl;
	struct jstream_state st;
	clm_err e = jstream_info(cl->js, &st, err, errlen);
	if (e != CLM_OK) {
		return e;
	}
	uint64_t from = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
	__atomic_store_n(&cl->stream_last, st.last_seq, __ATOMIC_RELEASE);
	if (writer_cl_check(w, err, errlen) == CLM_UNAVAILABLE) {
		return CLM_UNAVAILABLE;
	}
	/*
	 * The target: the stream's last entry of this format. Past it may
	 * sit entries no reader is handed (the stream's key, jstream.h) or
	 * erased ones, which jstream_next would only let time out on.
	 */
	uint64_t target = st.last_seq;
	for (int k = 0; k < 16 && target > from && !cl->halted; k++) {
		void *data = NULL;
		size_t len = 0;
		clm_err g = jstream_get(
		        cl->js, target, &data, &len, err, errlen);
		if (g == CLM_OK) {
			const unsigned char *d = data;
			bool ours = len >= WRITER_CLUSTER_HEADER
			        && d[0] == WRITER_CLUSTER_FORMAT;
			free(data);
			if (ours) {
				break;
			}
		} else if (g != CLM_NOT_FOUND) {
			break;
		}
		target--;
	}
	if (cl->halted || target <= from) {
		return CLM_OK;
	}
	log_info("catching up with the stream: positions %llu..%llu",
	        (unsigned long long) from + 1, (unsigned long long) target);
	int64_t t0 = clock_mono_ns(), next_log = t0 + 2 * WRITER_CL_SECOND_NS;
	int64_t stalled_ns = t0; /* the last entries read */
	uint64_t entries = 0;
	while (!cl->halted
	        && __atomic_load_n(&w->position, __ATOMIC_ACQUIRE) < target) {
		if (!cl->subscribed) {
			int64_t now = clock_mono_ns();
			if (now - t0 > 60 * WRITER_CL_SECOND_NS) {
				snprintf(err, errlen,
				        "cannot read the stream to catch up");
				return CLM_UNAVAILABLE;
			}
			if (now < cl->resub_ns || !writer_cl_subscribe(w)) {
				writer_cl_idle(w, WRITER_CL_NEXT_MS);
				continue;
			}
		}
		size_t n = writer_cl_batch(w, WRITER_CL_CATCHUP_MS);
		if (n > 0) {
			stalled_ns = clock_mono_ns();
		} else if (cl->subscribed) {
			char why[256];
			if (writer_cl_caught_up(w, target, why, sizeof(why))) {
				break; /* the rest was erased meanwhile */
			}
			uint64_t at = __atomic_load_n(
			        &w->position, __ATOMIC_ACQUIRE);
			if (clock_mono_ns() - stalled_ns
			        > (int64_t) WRITER_CL_STALL_MS * 1000000) {
				snprintf(err, errlen,
				        "cannot catch up with the stream: nothing read for %d s at position %llu of %llu (%s)",
				        WRITER_CL_STALL_MS / 1000,
				        (unsigned long long) at,
				        (unsigned long long) target, why);
				return CLM_UNAVAILABLE;
			}
			if (clock_mono_ns() >= next_log) {
				log_info(
				        "catching up with the stream: waiting for positions %llu..%llu (%s)",
				        (unsigned long long) at + 1,
				        (unsigned long long) target, why);
				next_log = clock_mono_ns()
				        + 2 * WRITER_CL_SECOND_NS;
			}
			continue;
		}
		entries += n;
		writer_maybe_checkpoint(w);
		if (clock_mono_ns() >= next_log) {
			log_info(
			        "catching up with the stream: at %llu of %llu",
			        (unsigned long long) __atomic_load_n(
			                &w->position, __ATOMIC_ACQUIRE),
			        (unsigned long long) target);
			next_log = clock_mono_ns() + 2 * WRITER_CL_SECOND_NS;
		}
	}
	log_info(
	        "caught up with the stream: %llu entries to position %llu in %lld ms",
	        (unsigned long long) entries,
	        (unsigned long long) __atomic_load_n(
	                &w->position, __ATOMIC_ACQUIRE),
	        (long long) ((clock_mono_ns() - t0) / 1000000));
	return CLM_OK;
}
