/*
 * writer: the one thread that writes, with group commit.
 *
 * Handlers queue write jobs; the writer takes everything queued (up to
 * batch_max jobs), applies them in one LMDB write transaction, commits once,
 * and only then completes each job, so an acknowledged write is durable.
 * Stage-change events the batch produced get their seq inside the same
 * transaction and are published after the commit, before the jobs complete.
 *
 * If a put or the commit runs out of map space, the writer aborts, grows the
 * map and applies the whole batch again: apply functions must therefore
 * reset their job's result at the start and return an error only before
 * their first write, or for a storage failure (which fails the batch).
 */
#ifndef CLM_WRITER_H
#define CLM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "core/model.h"
#include "store/store.h"
#include "util/arena.h"

typedef struct writer writer;
struct journal;
typedef struct writer_job writer_job;
struct agg_visits;
struct telemetry;

/* What an apply function gets besides its job. */
struct writer_batch {
	store_txn *txn;
	/*
	 * The batch's instant: the same for a retry of it, and never before
	 * the previous batch's, so what is decided at it sees every write
	 * committed before (a claim's frequency cap).
	 */
	int64_t now_ms;
	/*
	 * The writer thread's own arena, for work that ends within one step
	 * (one touchpoint): the step resets it, so a batch of thousands does
	 * not pile its intermediate profiles into the request's arena.
	 * Nothing that outlives the step (events, replies) may live here.
	 */
	arena *scratch;
	/*
	 * The transaction's unique visitors (store/agg_write.h), folded into
	 * their day sketches by the writer just before it commits.
	 */
	struct agg_visits *visits;
	/*
	 * Set by the writer while it applies Track jobs: their profiles,
	 * saved once per batch (write/ingest.h); NULL: each touchpoint saves
	 * its profile at once.
	 */
	struct ingest_cache *cache;
	/*
	 * The writer's segments (write/segment.h): a write that saves a
	 * known customer's profile evaluates them with segw_customer. NULL:
	 * segments are not kept (tests and tools that do not ask for them).
	 */
	struct segw *segs;
	/*
	 * The writer's journeys (write/journey.h): a write that saves a
	 * known customer calls jw_customer right after segw_customer. NULL:
	 * journeys are not run (tests and tools that do not ask for them).
	 */
	struct jw *jny;
};

/*
 * Applies job within b->txn. Returns CLM_OK (the job's own result, errors
 * included, is in the job's reply), or a storage error that fails the batch.
 */
typedef clm_err (*writer_apply_fn)(struct writer_batch *b, writer_job *job);

/* Called on the writer thread once the job's fate is sealed. */
typedef void (*writer_done_fn)(writer_job *job);

struct writer_job {
	writer_apply_fn apply;
	writer_done_fn done;
	void *done_arg;          /* the submitter's, for done */
	void *arg;               /* the handler's state */
	arena *arena;            /* the request's arena, for the reply */
	Clm__V1__Response *resp; /* reply to fill */
	int64_t deadline_ns;     /* clock_mono_ns() limit; 0 = none */
	size_t items;            /* its weight in a batch: touchpoints, or 1 */
	clm_err err;             /* set before done: batch-level failure */
	bool disk_full; /* with err RESOURCE_EXHAUSTED: the disk, not the map
	                 */
	/*
	 * The job's journal entry (docs/architecture.md "The journal"), set
	 * by the call's prepare step: jtype is the Request's call number
	 * (Clm__V1__Request__CallCase), jdata/jlen a self-contained payload
	 * in the request's arena from which writer_replay_fn rebuilds this
	 * job exactly, without the clock or the server's limits (every
	 * instant the apply would take from "now" stamped in, only what was
	 * accepted). Every job the writer applies is journaled first.
	 */
	uint32_t jtype;
	const void *jdata;
	size_t jlen;
	/* Set before done when err is CLM_OK: the entry's journal position. */
	uint64_t position;
	/* Stage changes to publish after commit (arena memory). */
	Clm__V1__LifecycleEvent **events;
	size_t n_events, cap_events;
	writer_job *next; /* queue link, the writer's */
};

/*
 * writer_job_init readies a caller-embedded job for a request: its reply
 * goes in resp from arena a, done (with done_arg in the job) is called once
 * its fate is sealed, its weight is 1 and it has no deadline. The call's
 * handler then sets apply, arg and, for a Track, items; dispatch sets
 * deadline_ns.
 */
void writer_job_init(writer_job *job, arena *a, Clm__V1__Response *resp,
        writer_done_fn done, void *done_arg);

/*
 * Rebuilds a job from its journal entry at start-up (replay): job comes
 * from writer_job_init (arena, a scratch response, no done); the function
 * sets apply and arg (and items) from the payload type/data/len, written
 * by the job's prepare step when the write was first accepted, at instant
 * now_ms (the batch instant it was first applied at, which the replay
 * applies it at again). Returns CLM_OK, or DATA_LOSS when the payload does
 * not decode (start-up then fails, naming the position).
 */
typedef clm_err (*writer_replay_fn)(void *arg, writer_job *job, uint32_t type,
        const void *data, size_t len, int64_t now_ms);

/* Publishes one committed event (the stage-change stream). */
typedef void (*writer_publish_fn)(
        void *arg, const Clm__V1__LifecycleEvent *ev);

/*
 * Cluster mode (writer_opts.stream): a job's entry goes to the stream as
 * one or more parts, each about one customer (its touchpoints, in call
 * order), or global, or a ForgetCustomer. The calls layer cuts them
 * (writer_cluster_ops.split) and folds each part's applied reply back into
 * the job's (merge); the writer publishes, applies and completes.
 */
/*
 * WRITER_TYPE_CALL gives an entry type's call case (Clm__V1__Request's
 * call_case) less the flag bits the calls layer sets above it
 * (calls/replay.h's CALL_ENTRY_POLICY, on cluster mode's Track parts).
 */
#define WRITER_TYPE_CALL(t) ((t) &0xFFFFu)

enum writer_subject {
	WRITER_SUBJECT_CUSTOMER, /* "c.<key of id>": purged when it is
	                            forgotten */
	WRITER_SUBJECT_GLOBAL,   /* "g": catalog, spend, experiments */
	WRITER_SUBJECT_FORGET    /* "f": ForgetCustomer entries, which stay */
};

struct writer_part {
	uint32_t type;    /* the entry type, as writer_job.jtype */
	const void *data; /* a payload writer_replay_fn rebuilds a job from */
	size_t len;
	enum writer_subject subject;
	const char
	        *id;   /* WRITER_SUBJECT_CUSTOMER: the customer or anonymous */
	size_t id_len; /* id the part is about (not NUL-terminated) */
	/* Nats-Msg-Id ("" = none): from the part's event ids when all of
	 * them have one, so that a retried call is a duplicate (issue 16). */
	char msg_id[48];
	void *ctx; /* the calls layer's, for merge (e.g. an index map) */
};

struct writer_cluster_ops {
	/*
	 * Cuts job's entry (jtype, jdata, jlen) into parts of at most
	 * max_bytes of payload each, allocated in job->arena: *parts, *n
	 * (n >= 1). Any thread (writer_submit's). Returns CLM_OK, or
	 * RESOURCE_EXHAUSTED (arena), or INVALID_ARGUMENT when one
	 * touchpoint alone is larger than max_bytes.
	 */
	clm_err (*split)(void *arg, writer_job *job, size_t max_bytes,
	        struct writer_part **parts, size_t *n);
	/*
	 * Folds one part's outcome into job->resp (writer thread): err
	 * CLM_OK with applied, the response of the job rebuilt from the
	 * part and applied; err CLM_OK with applied NULL when the stream
	 * already held the part (a duplicate Nats-Msg-Id: its touchpoints
	 * were recorded by an earlier call); any other err when the part was
	 * not acknowledged (its touchpoints are reported as such).
	 */
	void (*merge)(void *arg, writer_job *job,
	        const struct writer_part *part, clm_err err,
	        const Clm__V1__Response *applied);
	/*
	 * For a ForgetCustomer entry about to be applied in txn (writer
	 * thread): the ids whose customer subjects must be purged once it
	 * is applied: the customer's and every anonymous id merged into it,
	 * in a (*ids, *lens, *n). Returns CLM_OK or a storage error.
	 */
	clm_err (*forget_ids)(void *arg, store_txn *txn, const writer_job *job,
	        arena *a, const char ***ids, size_t **lens, size_t *n);
};

struct writer_opts {
	size_t queue_max; /* jobs waiting before submit says UNAVAILABLE */
	size_t batch_max; /* jobs per transaction */
	/*
	 * Items (writer_job.items) per transaction: a job that would pass it
	 * waits for the next one, unless it is the first. LMDB keeps the page
	 * buffers of its largest transaction for good, so this bounds memory.
	 */
	size_t batch_items_max;
	/* Called for each event after its batch committed; NULL: none. */
	writer_publish_fn publish;
	void *publish_arg;
	/*
	 * The server's counters (util/telemetry.h), where the writer records
	 * its batch sizes and queue depth; NULL: the writer's own.
	 */
	struct telemetry *telemetry;
	/*
	 * The journal (journal/journal.h), the point of acknowledgement: the
	 * store must have an overlay (store_overlay_open). Each batch is
	 * applied to the overlay, its jobs' entries appended to the journal
	 * and committed (one fdatasync with durability full), and only then
	 * is the overlay committed, its events published and its jobs
	 * completed. writer_start first replays the journal from the store's
	 * position with replay. NULL: no journal, each batch is a synced
	 * commit of the store itself (tests and tools).
	 */
	struct journal *journal;
	writer_replay_fn replay;
	void *replay_arg;
	/*
	 * A checkpoint (store_checkpoint, then the journal truncated) runs
	 * between batches once the overlay holds checkpoint_bytes, or
	 * checkpoint_interval_ms after the first write it does not cover,
	 * and when the writer stops. checkpoint_bytes 0: auto
	 * (writer_ckpt_auto_bytes, growing the overlay's map with the view);
	 * interval 0: 10 s; checkpoint_interval_auto: the interval follows
	 * what a crash would replay (writer_ckpt_interval_left), and
	 * checkpoint_interval_ms is not read.
	 */
	uint64_t checkpoint_bytes;
	int64_t checkpoint_interval_ms;
	bool checkpoint_interval_auto;
	/*
	 * Cluster mode (issue 16, docs/cluster.md): the NATS JetStream stream
	 * (journal/jstream.h) replaces journal. writer_submit publishes the
	 * job's entry, the writer thread applies every node's entries in
	 * stream order, and a job completes once its own entry is applied
	 * (read-your-writes on this node). journal must be NULL then; the
	 * store has an overlay as with a journal. NULL: single node.
	 */
	struct jstream *stream;
	const struct writer_cluster_ops *cluster_ops; /* with stream */
	void *cluster_arg;
	/*
	 * Called on the writer thread after the view's position advanced
	 * (writer_position), with the new position; NULL: none. Request
	 * min_position waits on it.
	 */
	void (*advanced)(void *arg, uint64_t position);
	void *advanced_arg;
	/*
	 * Segments (docs/segments.md): the thresholds their programs are
	 * evaluated with. The writer keeps membership up to date as writes
	 * apply (writer_batch.segs) and, between batches and at least once
	 * a second, applies what time changes, backfills new definitions
	 * and drops old members. NULL: no segments (tests and tools).
	 */
	const struct model_params *segment_params;
	/*
	 * Journeys (docs/journeys.md), with segments (segment_params not
	 * NULL): the writer enters customers as writes apply
	 * (writer_batch.jny) and, between batches, takes the due timers and
	 * has fire_job make them a job: it packs the JourneyFire f (its
	 * entry, CALL_ENTRY_JOURNEY_FIRE, with the server's policy) into
	 * job (from writer_job_init, arena job->arena) and sets its apply
	 * (calls/journey_fire.c); CLM_OK or RESOURCE_EXHAUSTED. The writer
	 * journals and applies it like any write. fire_job NULL: no
	 * journeys. The feed keeps the newest feed_max messages (0: 1e6).
	 */
	clm_err (*fire_job)(
	        void *arg, writer_job *job, const Clm__V1__JourneyFire *f);
	void *fire_arg;
	uint64_t feed_max;
};

/*
 * checkpoint_bytes = auto (docs/operations.md, "Recovery time"): a
 * checkpoint rewrites about every leaf page of the view its keys fall in,
 * so a fixed size writes more per touchpoint the larger the view grows
 * (2.7 KB at a million customers with 64M; docs/performance.md, "The
 * checkpoint's size follows the view"). writer_ckpt_auto_bytes is the
 * size for a view (data.mdb's used bytes) of view_bytes: a third of it,
 * rounded down to WRITER_CKPT_AUTO_STEP, from WRITER_CKPT_AUTO_MIN to
 * WRITER_CKPT_AUTO_MAX. Each overlay file takes twice that plus 8 MiB, so
 * the two take about 1.3 times the view's disk.
 */
#define WRITER_CKPT_AUTO_MIN  (64ull << 20)
#define WRITER_CKPT_AUTO_MAX  (512ull << 20)
#define WRITER_CKPT_AUTO_STEP (64ull << 20)
uint64_t writer_ckpt_auto_bytes(uint64_t view_bytes);

/*
 * The map an overlay needs for checkpoint_bytes (main.c, writer), and the
 * checkpoint_bytes a map holds: twice the size, plus room for LMDB's own.
 */
#define WRITER_OVERLAY_SLACK (8ull << 20)
#define WRITER_OVERLAY_MAP(ckpt_bytes) \
	(2 * (uint64_t) (ckpt_bytes) + WRITER_OVERLAY_SLACK)
static inline uint64_t
writer_overlay_holds(uint64_t map_bytes)
{
	return map_bytes > WRITER_OVERLAY_SLACK
	        ? (map_bytes - WRITER_OVERLAY_SLACK) / 2
	        : 0;
}

/*
 * How the writer follows the view with checkpoint_bytes = auto, between
 * batches. The size only grows, so that it does not swing with the free
 * pages checkpoints leave. bytes starts at the size the overlays were
 * opened for (main.c); once it grows past it (grown), the map of the
 * overlay taking the writes must hold it, WRITER_OVERLAY_MAP(bytes):
 * writer_ckpt_auto_size calls reserve(arg, that map) when map_bytes (that
 * overlay's map now) is smaller, and the other overlay is grown when it
 * takes the writes in turn. reserve returns 0 or an errno or LMDB code;
 * one that fails (no disk for the file) is logged once per size
 * (failed), the size for that overlay is then what its map holds, and
 * the reserve is tried again WRITER_CKPT_AUTO_RETRY_S later (now_ns, a
 * monotonic clock), for when disk space came back. Returns the overlay
 * size that starts a checkpoint now, for a view of view_bytes.
 */
#define WRITER_CKPT_AUTO_RETRY_S 60

/*
 * checkpoint_interval = auto (docs/operations.md, "Recovery time"): what
 * bounds a crash's recovery is the time the replay of the journal past
 * the last checkpoint takes, and the replay runs the same apply as the
 * writes did. So a checkpoint starts once the writer has spent
 * WRITER_CKPT_REPLAY_S applying the writes the last one does not cover
 * (apply_ns: their applies and commits, not the journal's syncs), which
 * at full load is about every 10 s as before, and on a store that takes
 * a tenth of that load ten times less often, merging ten times as many
 * touchpoints per page it rewrites (docs/performance.md, "The checkpoint
 * interval follows the replay"). At the latest WRITER_CKPT_MAX_S after
 * the first write it does not cover (elapsed_ns), and
 * WRITER_CKPT_FORGET_S after it while a ForgetCustomer waits for the
 * checkpoint that purges the journal (forget), as with the fixed 10 s.
 * interval_ns > 0: that fixed interval alone, as before.
 */
#define WRITER_CKPT_REPLAY_S 10
#define WRITER_CKPT_MAX_S    300
#define WRITER_CKPT_FORGET_S 10
/*
 * writer_ckpt_interval_left is how long until then, <= 0: due now. With
 * no more writes applied (idle) it is when the writer wakes next.
 */
int64_t writer_ckpt_interval_left(int64_t interval_ns, int64_t elapsed_ns,
        int64_t apply_ns, bool forget);
struct writer_ckpt_auto {
	uint64_t bytes;    /* the size now; 0: set from the first view */
	bool grown;        /* past the size the overlays were opened for */
	uint64_t failed;   /* the size a map could not be grown for */
	int64_t failed_ns; /* when, to try again */
};
uint64_t writer_ckpt_auto_size(struct writer_ckpt_auto *z, uint64_t view_bytes,
        uint64_t map_bytes, int64_t now_ns,
        int (*reserve)(void *arg, uint64_t map_bytes), void *arg);

/*
 * writer_start starts the writer thread over st, after replaying the
 * journal (o->journal) from the store's position: every entry past it is
 * rebuilt with o->replay and applied again, in order, and the view then
 * reflects the whole journal. Errors, with the reason in err: DATA_LOSS
 * (an entry does not decode; the journal's own start-up errors come from
 * journal_open), UNAVAILABLE or RESOURCE_EXHAUSTED (the store), INTERNAL.
 *
 * In cluster mode (o->stream) it first checks that the stream still holds
 * the entry at the store's position (its stream mark), then applies the
 * stream from there up to its last entry as of now, logging progress,
 * so the view is not stale when clmd starts serving. A stream that
 * diverged from the view, an entry that cannot be applied, or a store
 * written by a local journal do not fail the start: the writer then
 * serves reads and refuses writes (writer_refusal says why). UNAVAILABLE
 * when the stream does not answer.
 */
clm_err writer_start(store *st, const struct writer_opts *o, writer **out,
        char *err, size_t errlen);

/*
 * writer_position returns the journal position of the last write the
 * view shows (Response.position of a read); 0 without a journal. Any
 * thread.
 */
uint64_t writer_position(writer *w);

/*
 * writer_stream_position returns the last position the stream holds, as
 * the writer last learnt it (cluster mode; 0 for a single node): minus
 * writer_position, the node's lag. Any thread.
 */
uint64_t writer_stream_position(writer *w);

/*
 * writer_submit queues job. Returns CLM_OK (done will be called exactly
 * once, later, on the writer thread), or UNAVAILABLE when the queue is full
 * or the writer is stopping (done is not called).
 *
 * In cluster mode (any thread) it cuts the job's entry into parts
 * (cluster_ops.split) and publishes each to the stream; the job completes
 * once each part is applied by this node, or failed (not acknowledged,
 * or lost by the stream: merged as such; err UNAVAILABLE or
 * DEADLINE_EXCEEDED when none was applied). It returns DEADLINE_EXCEEDED,
 * publishing nothing, when the job's deadline has passed; UNAVAILABLE when
 * queue_max jobs wait for their parts, when the first publish fails, or
 * while the writer refuses writes (writer_refusal); the last
 * checkpoint's error while it failed (RESOURCE_EXHAUSTED for a full map
 * or disk, as a single node's jobs get it; the node goes on applying the
 * stream meanwhile); and split's errors (INVALID_ARGUMENT,
 * RESOURCE_EXHAUSTED). done is not called then.
 */
clm_err writer_submit(writer *w, writer_job *job);

/*
 * writer_refusal tells whether the writer refuses every write for a
 * reason of its own (cluster mode: the stream diverged from the view,
 * or an entry cannot be applied), and copies that reason, a sentence
 * for people, into why (len bytes). Any thread.
 */
bool writer_refusal(writer *w, char *why, size_t len);

/* writer_clustered tells whether w applies a cluster's stream. */
bool writer_clustered(const writer *w);

/*
 * writer_job_event appends a stage change to job's events (arena memory);
 * its seq is assigned at commit. Returns NULL when memory is exhausted.
 */
Clm__V1__LifecycleEvent *writer_job_event(writer_job *job);

/*
 * writer_stop refuses new jobs (writer_submit then says UNAVAILABLE),
 * applies and completes every queued job, and joins the thread. The
 * writer stays allocated for callers still submitting: release it with
 * writer_free once nothing can call writer_submit. NULL is a no-op.
 * In cluster mode, the jobs waiting for their parts wait until their
 * time is up at most; close the stream (jstream_close, whose last acks
 * still reach the writer) after writer_stop and before writer_free.
 */
/*
 * writer_hook_report records the outcome of one webhook delivery of the
 * message at feed position `position` of journey `journey` (net/webhook.c,
 * any thread): delivered (ok), or failed with error (a short reason),
 * then retried at retry_ms or, when retry_ms is 0, a dead letter. The
 * writer applies reports between batches, in transactions of their own
 * without a journal entry (a report lost by a crash means the message is
 * delivered again: webhooks are at least once). Returns false when the
 * writer is stopping or its queue of reports is full (the delivery is
 * then tried again later, as if it had failed).
 */
bool writer_hook_report(writer *w, uint64_t position, uint32_t journey,
        bool ok, int64_t retry_ms, const char *error);

/*
 * writer_checkpoint_soon has the writer checkpoint whatever the journal
 * holds past the last checkpoint at its next idle moment (or after the
 * checkpoint running), whatever checkpoint_interval says: SIGUSR1.
 */
void writer_checkpoint_soon(writer *w);
void writer_stop(writer *w);
void writer_free(writer *w);

/* writer_queue_depth returns the number of jobs waiting (for status). */
size_t writer_queue_depth(writer *w);

#endif /* CLM_WRITER_H */
