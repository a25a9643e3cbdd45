/*
 * The writer's cluster mode (issue 16, docs/cluster.md): the journal is a
 * NATS JetStream stream shared by every node (journal/jstream.h), and the
 * writer thread applies every node's entries in stream order.
 *
 * A write: writer_submit (any thread) has the calls layer cut the job's
 * entry into parts (writer_cluster_ops.split), registers a pending record
 * for the job and publishes each part with this node's id and a token of
 * its own in the entry's header. The stream's acks (a NATS thread) only
 * note what became of each part. The writer thread reads the stream,
 * rebuilds each entry's job (writer_opts.replay) and applies a batch of
 * them in one overlay transaction, each at max(its instant, the last
 * applied instant); an entry of this node whose token is pending is
 * rebuilt in the pending job's arena, so its reply comes from the very
 * apply every other node makes, and is folded into the job's reply
 * (merge). A job completes once each of its parts is applied, or failed
 * (an acked part the view passed without applying it was lost by the
 * stream); or when its time is up (never a false ack). A part the stream
 * acks as a duplicate Nats-Msg-Id is published again without one: the
 * view's own event_id dedup decides at apply (issue 16).
 *
 * Records: a pending record is malloc'd, because an ack may come after
 * its job completed (a deadline): it is freed by whichever of the writer
 * (completion) and the last ack comes second. Everything in it is guarded
 * by cl->mu but `merged`, the writer thread's.
 *
 * Divergence: the view keeps the hash of the entry at its position (in
 * memory, and durable in meta with the checkpoint: store_stream_mark).
 * About once a second, and at start, the writer asks the stream whether
 * it still holds that entry; a stream that ends before the position or
 * holds other bytes there (a NATS power loss rolled it back) stops the
 * applying: writes are refused, reads go on, and the log says how to
 * resync.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "journal/jstream.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "write/writer_cluster.h"
#include "write/writer_internal.h"

/* The NATS thread's: what became of one published part. */
static void
writer_cl_ack(void *arg, const struct jstream_ack *a)
{
	struct writer_cl_part *pt = arg;
	struct writer_cl_pending *p = pt->p;
	struct writer_cluster *cl = p->cl;
	pthread_mutex_lock(&cl->mu);
	if (pt->state == WRITER_CL_SENT) {
		if (a->err != CLM_OK) {
			pt->state = WRITER_CL_FAILED;
			pt->err = a->err;
		} else {
			/*
			 * A duplicate's seq proves nothing about the view
			 * (the first copy may have been refused at apply,
			 * or forgotten since; nats-server acks one still in
			 * replication with seq 0): the writer thread
			 * publishes the part again without its Msg-Id.
			 */
			pt->state = a->duplicate ? WRITER_CL_DUP
			                         : WRITER_CL_ACKED;
			pt->seq = a->duplicate ? 0 : a->seq;
		}
	}
	p->acks_out--;
	bool orphan = p->done && p->acks_out == 0;
	if (orphan && --cl->orphans == 0) {
		pthread_cond_broadcast(&cl->cv);
	}
	pthread_mutex_unlock(&cl->mu);
	if (orphan) {
		free(p);
	}
}

/* Unlinks p from the pending list (cl->mu held). */
static void
writer_cl_unlink(struct writer_cluster *cl, struct writer_cl_pending *p)
{
	for (struct writer_cl_pending **pp = &cl->pending; *pp != NULL;
	        pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			cl->n_pending--;
			return;
		}
	}
}

/* Writes part's subject ("c.<key>", "g", "f") into buf (40 bytes). */
static void
writer_cl_subject(struct writer_cluster *cl, const struct writer_part *part,
        char buf[40])
{
	switch (part->subject) {
	case WRITER_SUBJECT_CUSTOMER: {
		char key[33];
		jstream_subject_key(cl->js, part->id, part->id_len, key);
		snprintf(buf, 40, "c.%s", key);
		break;
	}
	case WRITER_SUBJECT_FORGET:
		snprintf(buf, 40, "f");
		break;
	default:
		snprintf(buf, 40, "g");
		break;
	}
}

/*
 * Publishes part pt (its header: the pending record's instant, this
 * node, the part's token), with msg_id or none; its ack comes to
 * writer_cl_ack, counted in acks_out. Any thread.
 */
static clm_err
writer_cl_send(struct writer_cluster *cl, struct writer_cl_part *pt,
        const char *msg_id)
{
	const struct writer_part *wp = pt->wp;
	size_t len = WRITER_CLUSTER_HEADER + wp->len;
	unsigned char *buf = malloc(len);
	if (buf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_lock(&cl->mu);
	uint64_t token = pt->token;
	pt->p->acks_out++;
	pthread_mutex_unlock(&cl->mu);
	buf[0] = WRITER_CLUSTER_FORMAT;
	writer_cl_le_put(buf + 1, wp->type, 4);
	writer_cl_le_put(buf + 5, (uint64_t) pt->p->now_ms, 8);
	writer_cl_le_put(buf + 13, cl->node, 8);
	writer_cl_le_put(buf + 21, token, 8);
	if (wp->len > 0) {
		memcpy(buf + WRITER_CLUSTER_HEADER, wp->data, wp->len);
	}
	char subject[40];
	writer_cl_subject(cl, wp, subject);
	clm_err e = jstream_publish(
	        cl->js, subject, msg_id, buf, len, writer_cl_ack, pt);
	free(buf);
	if (e != CLM_OK) {
		pthread_mutex_lock(&cl->mu);
		pt->p->acks_out--; /* its function is not called */
		pthread_mutex_unlock(&cl->mu);
	}
	return e;
}

clm_err
writer_cluster_submit(writer *w, writer_job *job)
{
	struct writer_cluster *cl = w->cl;
	if (job->jtype == 0) {
		log_error("writer: a write without a journal entry");
		return CLM_INTERNAL;
	}
	struct writer_part *parts = NULL;
	size_t n = 0;
	clm_err e = cl->ops->split(cl->ops_arg, job, cl->max_part, &parts, &n);
	if (e != CLM_OK) {
		return e;
	}
	if (n == 0) {
		return CLM_INTERNAL;
	}
	struct writer_cl_pending *p
	        = calloc(1, sizeof(*p) + n * sizeof(p->parts[0]));
	if (p == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	p->cl = cl;
	p->job = job;
	p->n = n;
	p->submitting = true;
	p->expire_ns = job->deadline_ns != 0
	        ? job->deadline_ns
	        : clock_mono_ns() + (int64_t) WRITER_CL_EXPIRE_MS * 1000000;
	p->now_ms = clock_now_ms();
	if (job->deadline_ns != 0 && clock_mono_ns() > job->deadline_ns) {
		/* As a single node drops it: nothing was written. */
		free(p);
		return CLM_DEADLINE_EXCEEDED;
	}
	/*
	 * w->mu, then cl->mu, held from the check of stopping to the
	 * insert: a stopping writer that saw no pending record (it takes
	 * them in the same order) never misses one inserted after.
	 */
	pthread_mutex_lock(&w->mu);
	bool stopping = w->stopping;
	pthread_mutex_lock(&cl->mu);
	if (stopping || cl->diverged || cl->n_pending >= w->queue_max
	        || cl->ckpt_err != CLM_OK) {
		/* The view cannot take more (a checkpoint failed): as a
		 * single node does, refuse before anything is written. */
		e = cl->ckpt_err != CLM_OK && !stopping && !cl->diverged
		        ? cl->ckpt_err
		        : CLM_UNAVAILABLE;
		pthread_mutex_unlock(&cl->mu);
		pthread_mutex_unlock(&w->mu);
		free(p);
		return e;
	}
	for (size_t i = 0; i < n; i++) {
		p->parts[i] = (struct writer_cl_part) { .p = p,
			.wp = &parts[i],
			.token = ++cl->next_token,
			.state = WRITER_CL_SENT };
	}
	p->next = cl->pending;
	cl->pending = p;
	cl->n_pending++;
	telemetry_queue_depth(w->tm, cl->n_pending);
	pthread_mutex_unlock(&cl->mu);
	pthread_mutex_unlock(&w->mu);
	/*
	 * From the first publish on, the writer thread may apply parts and
	 * use the job's arena: nothing here allocates in it any more, and
	 * the job is not completed while submitting is set.
	 */
	for (size_t i = 0; i < n; i++) {
		e = writer_cl_send(cl, &p->parts[i], parts[i].msg_id);
		if (e == CLM_OK) {
			continue;
		}
		pthread_mutex_lock(&cl->mu);
		if (i == 0) {
			/* Nothing was sent: the call fails, without done. */
			writer_cl_unlink(cl, p);
			pthread_mutex_unlock(&cl->mu);
			free(p);
			return e == CLM_INVALID_ARGUMENT ? e : CLM_UNAVAILABLE;
		}
		for (size_t k = i; k < n; k++) {
			p->parts[k].state = WRITER_CL_FAILED;
			p->parts[k].err = CLM_UNAVAILABLE;
		}
		pthread_mutex_unlock(&cl->mu);
		break;
	}
	pthread_mutex_lock(&cl->mu);
	p->submitting = false;
	pthread_mutex_unlock(&cl->mu);
	return CLM_OK;
}

/*
 * Finds the pending part of this node's token (an entry this node
 * published, its job still waiting for it), or NULL.
 */
struct writer_cl_part *
writer_cl_find(struct writer_cluster *cl, uint64_t token)
{
	struct writer_cl_part *found = NULL;
	pthread_mutex_lock(&cl->mu);
	for (struct writer_cl_pending *p = cl->pending;
	        p != NULL && found == NULL; p = p->next) {
		for (size_t i = 0; i < p->n; i++) {
			if (p->parts[i].token == token) {
				found = &p->parts[i];
				break;
			}
		}
	}
	if (found != NULL
	        && (found->merged || found->state == WRITER_CL_APPLIED
	                || found->p->done)) {
		found = NULL;
	}
	pthread_mutex_unlock(&cl->mu);
	return found;
}

/*
 * Settles what the acks and the view decided: parts that failed, or that
 * the stream held already once the view reached them, are merged; a job
 * whose parts are all settled completes, and so does one whose time is
 * up (with every part still open reported as not acknowledged). With
 * all, every job completes now (the writer stops).
 */
/*
 * Publishes again, without a Msg-Id and under a new token, each part the
 * stream acked as a duplicate: the view's own event_id dedup decides at
 * apply whether it was recorded (issue 16), so a part refused at apply,
 * or forgotten since, is never reported as recorded. Writer thread (the
 * jobs stay alive: only it completes them).
 */
static void
writer_cl_republish(writer *w)
{
	struct writer_cluster *cl = w->cl;
	for (;;) {
		struct writer_cl_part *found = NULL;
		pthread_mutex_lock(&cl->mu);
		for (struct writer_cl_pending *p = cl->pending;
		        p != NULL && found == NULL; p = p->next) {
			for (size_t i = 0; i < p->n && !p->submitting; i++) {
				struct writer_cl_part *pt = &p->parts[i];
				if (pt->state == WRITER_CL_DUP
				        && !pt->merged) {
					pt->state = WRITER_CL_SENT;
					pt->token = ++cl->next_token;
					found = pt;
					break;
				}
			}
		}
		pthread_mutex_unlock(&cl->mu);
		if (found == NULL) {
			return;
		}
		clm_err e = writer_cl_send(cl, found, NULL);
		if (e != CLM_OK) {
			pthread_mutex_lock(&cl->mu);
			if (found->state == WRITER_CL_SENT) {
				found->state = WRITER_CL_FAILED;
				found->err = CLM_UNAVAILABLE;
			}
			pthread_mutex_unlock(&cl->mu);
		}
	}
}

void
writer_cl_settle(writer *w, bool all)
{
	struct writer_cluster *cl = w->cl;
	if (!all) {
		writer_cl_republish(w);
	}
	uint64_t pos = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
	int64_t now = clock_mono_ns();
	struct writer_cl_pending *done = NULL;
	pthread_mutex_lock(&cl->mu);
	struct writer_cl_pending **pp = &cl->pending;
	while (*pp != NULL) {
		struct writer_cl_pending *p = *pp;
		bool expired = all || now > p->expire_ns;
		size_t open = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct writer_cl_part *pt = &p->parts[i];
			if (pt->merged) {
				continue;
			}
			clm_err e = CLM_OK;
			if (pt->state == WRITER_CL_FAILED) {
				e = pt->err;
			} else if (pt->state == WRITER_CL_ACKED
			        && pt->seq <= pos) {
				/*
				 * The view passed the part's position
				 * without applying it (writer_cl_batch marks
				 * what it applied): the stream lost it (a
				 * NATS power loss rolled it back, and
				 * another entry may hold its position now),
				 * or a Forget erased it before this node
				 * read it. Never a false OK.
				 */
				log_warn(
				        "stream entry %llu of a write of this node was not applied here (lost by the stream): the write fails, retry it",
				        (unsigned long long) pt->seq);
				e = CLM_UNAVAILABLE;
			} else if (expired && !p->submitting) {
				e = p->job->deadline_ns != 0
				                && now > p->job->deadline_ns
				        ? CLM_DEADLINE_EXCEEDED
				        : CLM_UNAVAILABLE;
			} else {
				open++;
				continue;
			}
			cl->ops->merge(cl->ops_arg, p->job, pt->wp, e, NULL);
			pt->merged = true;
		}
		if (open > 0 || p->submitting) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		cl->n_pending--;
		p->next = done;
		done = p;
	}
	telemetry_queue_depth(w->tm, cl->n_pending);
	pthread_mutex_unlock(&cl->mu);
	while (done != NULL) {
		struct writer_cl_pending *p = done;
		done = p->next;
		writer_job *job = p->job;
		job->position = p->last_pos;
		if (p->any_ok) {
			job->err = CLM_OK;
		} else {
			job->err = job->deadline_ns != 0
			                && clock_mono_ns() > job->deadline_ns
			        ? CLM_DEADLINE_EXCEEDED
			        : CLM_UNAVAILABLE;
		}
		job->n_events = 0;
		pthread_mutex_lock(&cl->mu);
		p->done = true;
		p->job = NULL;
		bool last = p->acks_out == 0;
		cl->orphans += !last;
		pthread_mutex_unlock(&cl->mu);
		job->done(job);
		if (last) {
			free(p);
		}
	}
}

clm_err
writer_cluster_start(
        writer *w, const struct writer_opts *o, char *err, size_t errlen)
{
	if (o->cluster_ops == NULL || o->replay == NULL || o->journal != NULL
	        || sodium_init() < 0) {
		snprintf(err, errlen, "cluster mode needs its ops and replay");
		return CLM_INTERNAL;
	}
	struct writer_cluster *cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&cl->mu, NULL);
	clock_cond_init(&cl->cv);
	arena_init(&cl->a);
	w->cl = cl;
	size_t slots = 2 * w->batch_max + 2;
	if ((cl->msgs = calloc(w->batch_max + 1, sizeof(*cl->msgs))) == NULL
	        || (cl->jobs = calloc(slots, sizeof(*cl->jobs))) == NULL
	        || (cl->nows = calloc(slots, sizeof(*cl->nows))) == NULL
	        || (cl->owner = calloc(slots, sizeof(*cl->owner))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	cl->js = o->stream;
	cl->ops = o->cluster_ops;
	cl->ops_arg = o->cluster_arg;
	cl->advanced = o->advanced;
	cl->advanced_arg = o->advanced_arg;
	cl->backoff_ms = 100;
	size_t max = jstream_max_entry(cl->js);
	cl->max_part = max > WRITER_CLUSTER_HEADER
	        ? max - WRITER_CLUSTER_HEADER
	        : 0;
	if (getrandom(&cl->node, sizeof(cl->node), 0) != sizeof(cl->node)) {
		randombytes_buf(&cl->node, sizeof(cl->node));
	}
	/* What the base's position was applied with. */
	store_txn *txn;
	struct store_stream_mark mark = { 0 };
	clm_err e = store_write_begin(w->st, &txn);
	if (e == CLM_OK) {
		e = store_stream_mark_get(txn, &mark);
		e = e == CLM_OK ? writer_cl_purge_load(w, txn) : e;
		store_write_abort(txn);
	}
	if (e != CLM_OK) {
		snprintf(err, errlen, "cannot read the stream mark: %s",
		        clm_strerror(e));
		return e;
	}
	w->position = store_position(w->st);
	w->last_now_ms = mark.now_ms;
	memcpy(cl->hash, mark.hash, 16);
	static const unsigned char zero[16];
	cl->hash_known = memcmp(mark.hash, zero, 16) != 0;
	if (w->position > 0 && !cl->hash_known) {
		/*
		 * Every batch applied from a stream writes the mark: this
		 * view's position counts a local journal's entries, and
		 * the stream's up to it would be skipped.
		 */
		char why[256];
		snprintf(why, sizeof(why),
		        "the data dir's view is at position %llu of a local journal, not of the stream: start this node on an empty data dir or a cluster node's snapshot (docs/cluster.md)",
		        (unsigned long long) w->position);
		writer_cl_halt(w, why);
	}
	e = writer_cl_catch_up(w, err, errlen);
	cl->ckpt_err = w->ckpt_err;
	cl->check_ns = clock_mono_ns() + WRITER_CL_SECOND_NS;
	return e;
}

uint64_t
writer_cluster_stream_position(writer *w)
{
	return __atomic_load_n(&w->cl->stream_last, __ATOMIC_ACQUIRE);
}

void
writer_cl_orphans_wait(writer *w)
{
	struct writer_cluster *cl = w->cl;
	struct timespec ts = clock_deadline(WRITER_CL_EXPIRE_MS);
	pthread_mutex_lock(&cl->mu);
	while (cl->orphans > 0) {
		if (pthread_cond_timedwait(&cl->cv, &cl->mu, &ts) != 0) {
			break;
		}
	}
	cl->leak = cl->orphans > 0;
	pthread_mutex_unlock(&cl->mu);
	if (cl->leak) {
		log_warn(
		        "stream: acks still due at stop; the writer's cluster state is left allocated");
	}
}

size_t
writer_cluster_depth(writer *w)
{
	pthread_mutex_lock(&w->cl->mu);
	size_t n = w->cl->n_pending;
	pthread_mutex_unlock(&w->cl->mu);
	return n;
}

bool
writer_cluster_refusal(writer *w, char *why, size_t len)
{
	struct writer_cluster *cl = w->cl;
	pthread_mutex_lock(&cl->mu);
	bool refused = cl->diverged;
	if (refused) {
		snprintf(why, len, "%s", cl->why);
	}
	pthread_mutex_unlock(&cl->mu);
	return refused;
}

void
writer_cluster_free(writer *w)
{
	struct writer_cluster *cl = w->cl;
	if (cl == NULL) {
		return;
	}
	if (cl->leak) {
		w->cl = NULL;
		return;
	}
	if (cl->carry) {
		jstream_msg_free(&cl->msgs[0]);
	}
	arena_fini(&cl->a);
	pthread_cond_destroy(&cl->cv);
	pthread_mutex_destroy(&cl->mu);
	writer_cl_purge_fini(cl);
	free(cl->msgs);
	free(cl->jobs);
	free(cl->nows);
	free(cl->owner);
	free(cl);
	w->cl = NULL;
}
