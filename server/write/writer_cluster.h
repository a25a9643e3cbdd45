/*
 * The writer's cluster mode, shared by writer_cluster.c (submitting,
 * settling, start and stop) and writer_cluster_apply.c (reading the
 * stream, applying it, checking it): docs/cluster.md.
 */
#ifndef CLM_WRITE_WRITER_CLUSTER_H
#define CLM_WRITE_WRITER_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "journal/jstream.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer_internal.h"

/*
 * An entry on the stream: a header, then the part's payload (what
 * writer_replay_fn rebuilds a job from, as in the local journal):
 *   0  1  format: WRITER_CLUSTER_FORMAT
 *   1  4  entry type, u32 little-endian (writer_part.type)
 *   5  8  now_ms, i64 little-endian: the publishing node's clock at submit
 *  13  8  origin: the publishing node's id, random at each start
 *  21  8  token: the part's number on that node
 */
#define WRITER_CLUSTER_FORMAT 0xC1
#define WRITER_CLUSTER_HEADER 29

/* jstream_next's wait for the first entry of a batch, live. */
#define WRITER_CL_NEXT_MS 50
/* ... and while catching up at start, before calling it caught up. */
#define WRITER_CL_CATCHUP_MS 3000
/* ... and how long it waits while nothing comes before start fails. */
#define WRITER_CL_STALL_MS 30000
/* How long a part without deadline waits: the ack's timeout and more. */
#define WRITER_CL_EXPIRE_MS 10000
/* How long a stopping writer waits for pending writes before failing them. */
#define WRITER_CL_STOP_MS   2000
#define WRITER_CL_SECOND_NS 1000000000LL
/*
 * Checks in a row (a second apart) that must find the stream ending
 * before the view's position, with no entry there, before the node stops
 * applying: one answer can be older than what the node already read.
 */
#define WRITER_CL_SHORT_CHECKS 3

enum writer_cl_state {
	WRITER_CL_SENT,    /* published, no ack yet */
	WRITER_CL_ACKED,   /* the stream holds it at seq */
	WRITER_CL_DUP,     /* a duplicate Msg-Id: to publish again without */
	WRITER_CL_FAILED,  /* not acknowledged (err) */
	WRITER_CL_APPLIED, /* the view applied it */
};

struct writer_cl_pending;

struct writer_cl_part {
	struct writer_cl_pending *p;
	const struct writer_part *wp; /* in the job's arena */
	uint64_t token;
	enum writer_cl_state state;
	uint64_t seq;
	clm_err err;
	bool merged;   /* writer thread: merge called */
	bool no_reply; /* writer thread: rebuilt without its job's arena */
};

struct writer_cl_pending {
	struct writer_cluster *cl;
	writer_job *job;
	struct writer_cl_pending *next;
	size_t n;
	size_t acks_out; /* acks still to come */
	bool submitting; /* writer_submit still publishing */
	bool done;       /* the job completed; freed by the last ack */
	bool any_ok;     /* a part applied */
	uint64_t last_pos;
	int64_t now_ms; /* the instant in its entries' header */
	int64_t expire_ns;
	struct writer_cl_part parts[];
};

/* A purge to do (or retry) after a ForgetCustomer was applied. */
struct writer_cl_purge {
	char key[33];
	uint64_t before;
	struct writer_cl_purge *next;
	/* The purge thread's (writer_cluster_purge.c). */
	uint64_t from;      /* where its next slice starts */
	int64_t due_ns;     /* not before (a delay, a backoff) */
	int64_t backoff_ms; /* the next failure's wait */
};

/* Run inside a batch's transaction: a Forget's ids, or the mark. */
struct writer_cl_hook {
	writer_job job;
	writer *w;
	writer_job *forget; /* NULL: the mark */
	uint64_t position;
	const char **ids;
	size_t *lens;
	size_t n_ids;
	struct store_stream_mark mark;
	uint64_t origin; /* the node that published the Forget */
};

struct writer_cluster {
	jstream *js;
	const struct writer_cluster_ops *ops;
	void *ops_arg;
	void (*advanced)(void *arg, uint64_t position);
	void *advanced_arg;
	uint64_t node;
	size_t max_part;
	pthread_mutex_t mu;
	uint64_t next_token;               /* mu */
	struct writer_cl_pending *pending; /* mu */
	size_t n_pending;                  /* mu */
	size_t orphans;    /* mu: completed jobs' records awaiting acks */
	pthread_cond_t cv; /* with mu: the last orphan went */
	bool leak;         /* acks may still come: never free this */
	bool diverged;     /* mu: writes refused */
	clm_err ckpt_err;  /* mu: w->ckpt_err, for writer_submit's threads */
	char why[256];     /* mu: why they are */
	/* The writer thread's. */
	unsigned char hash[16]; /* of the entry at w->position */
	bool hash_known;
	/* Checks in a row that found no entry at the position and the
	 * stream ending before it (writer_cl_check). */
	int short_checks;
	uint64_t stream_last; /* atomic */
	bool halted;          /* applying stopped (divergence, bad entry) */
	bool subscribed;
	bool verify; /* check the stream before applying more */
	int64_t resub_ns, backoff_ms, check_ns;
	struct writer_cl_purge *purges;
	int64_t purge_retry_ns;
	uint64_t foreign_skipped; /* entries not of clm's format */
	int64_t foreign_log_ns;   /* when to warn of them again */
	bool carry;               /* msgs[0] is an entry the last batch left */
	arena a;                  /* a batch's foreign jobs and hooks */
	struct jstream_msg *msgs;
	writer_job **jobs;
	int64_t *nows;
	struct writer_cl_part **owner;
	/*
	 * The purge thread (writer_cluster_purge.c): purges holds its
	 * work, under purge_mu, which purge_init says was initialized.
	 */
	bool purge_init;
	bool purge_running; /* the thread was started (writer thread) */
	bool purge_stop;    /* purge_mu */
	size_t n_purges;    /* purge_mu */
	pthread_mutex_t purge_mu;
	pthread_cond_t purge_cv;
	pthread_t purge_thread;
	int64_t purge_delay_ms; /* other nodes' Forgets: 0 is 30 s */
	/* Purges done, whose records the writer deletes (purge_mu). */
	struct writer_cl_purge *purge_done;
};

static inline void
writer_cl_le_put(unsigned char *p, uint64_t v, int n)
{
	for (int k = 0; k < n; k++) {
		p[k] = (unsigned char) (v >> (8 * k));
	}
}

static inline uint64_t
writer_cl_le_get(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int k = n - 1; k >= 0; k--) {
		v = (v << 8) | p[k];
	}
	return v;
}

/*
 * writer_cl_halt stops applying and refuses writes, with why (a sentence
 * for people, logged once). Writer thread.
 */
void writer_cl_halt(writer *w, const char *why);

/*
 * writer_cl_find returns the pending part of this node's token (an entry
 * this node published whose job still waits for it), or NULL.
 */
struct writer_cl_part *writer_cl_find(
        struct writer_cluster *cl, uint64_t token);

/*
 * writer_cl_settle merges what the acks and the view decided and
 * completes the jobs whose parts are all settled or whose time is up
 * (all: every job, the writer stopping). Writer thread.
 */
void writer_cl_settle(writer *w, bool all);

/*
 * writer_cl_orphans_wait waits (bounded) for the acks still due to
 * records of completed jobs, which reach the writer's mutex: when some
 * never come, the cluster state is left allocated (cl->leak). Writer
 * thread, as it ends.
 */
void writer_cl_orphans_wait(writer *w);

/*
 * writer_cl_purge_add queues the stream purges of a Forget's customer
 * ids (h, applied and committed at h->position) for the purge thread: at
 * once when this node published the Forget, after cl->purge_delay_ms
 * otherwise (the publishing node may have died). Writer thread.
 */
void writer_cl_purge_add(writer *w, const struct writer_cl_hook *h);

/*
 * writer_cl_purge_save records the purges of a Forget's ids (h) in txn,
 * the Forget's own transaction, so that they outlive a stop or a crash
 * (store_stream_purge_put). writer_cl_purge_load queues those recorded
 * in txn, due at once (start-up). writer_cl_purge_reap deletes the
 * records of the purges done, in a transaction of its own, and sets the
 * gauge of purges left (telemetry_stream_purges). They return CLM_OK or
 * a storage error. Writer thread.
 */
clm_err writer_cl_purge_save(
        writer *w, store_txn *txn, const struct writer_cl_hook *h);
clm_err writer_cl_purge_load(writer *w, store_txn *txn);
void writer_cl_purge_reap(writer *w);

/*
 * writer_cl_purge_start starts the purge thread (no-op when it runs).
 * Returns CLM_OK or RESOURCE_EXHAUSTED (purges then wait, logged).
 * writer_cl_purge_stop stops it promptly (within one slice) and waits
 * for it; what is left stays queued. Writer thread.
 */
clm_err writer_cl_purge_start(writer *w);
void writer_cl_purge_stop(writer *w);

/*
 * writer_cl_purge_fini stops the purge thread and frees what is queued.
 * writer_cl_purge_count tells how many purges are queued (any thread).
 */
void writer_cl_purge_fini(struct writer_cluster *cl);
size_t writer_cl_purge_count(struct writer_cluster *cl);

/*
 * writer_cl_catch_up applies the stream up to its end as it is now, at
 * start-up (before the writer thread starts). Returns CLM_OK (also when
 * the view diverged: the writer then refuses writes), or UNAVAILABLE.
 */
clm_err writer_cl_catch_up(writer *w, char *err, size_t errlen);

#endif /* CLM_WRITE_WRITER_CLUSTER_H */
