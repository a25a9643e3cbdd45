/*
 * The writer's insides, shared by writer.c (the queue, batches, replay)
 * and writer_ckpt.c (checkpoints and the journal behind them).
 */
#ifndef CLM_WRITE_WRITER_INTERNAL_H
#define CLM_WRITE_WRITER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "journal/journal.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/telemetry.h"
#include "write/writer.h"

/*
 * What one overlay key may cost the base in a checkpoint, at most: the
 * copy of a 4 KiB leaf page and of its share of the branch pages, while
 * the old ones are held until the commit.
 */
#define WRITER_CKPT_KEY_BYTES (3 * 4096)

/* How often the idle writer clears stale LMDB reader slots. */
#define WRITER_READER_CHECK_S 60

struct writer {
	store *st;
	writer_publish_fn publish;
	void *publish_arg;
	void (*advanced)(void *arg, uint64_t position); /* writer_opts */
	void *advanced_arg;
	struct telemetry *tm;    /* the server's; never NULL */
	struct telemetry own_tm; /* tm when the caller gave none */
	size_t queue_max, batch_max, batch_items_max;
	pthread_t thread;
	arena scratch; /* the writer thread's (writer_batch.scratch) */
	struct agg_visits *visits;  /* writer_batch.visits */
	struct ingest_cache *cache; /* writer_batch.cache, for Tracks */
	struct segw *segs;          /* writer_batch.segs; NULL: none */
	/* Journeys (write/journey.h, writer_journey.c); jny NULL: none. */
	struct jw *jny; /* writer_batch.jny */
	clm_err (*fire_job)(void *arg, writer_job *job,
	        const Clm__V1__JourneyFire *f); /* writer_opts */
	void *fire_arg;
	uint64_t feed_max;
	arena jny_arena;     /* the fire job's */
	bool jny_more;       /* due timers were left */
	bool jny_inflight;   /* cluster mode: a fire job is in the stream */
	int64_t jny_last_ns; /* the last look at the timers */
	int64_t jny_next_ms; /* the earliest timer known (0: look) */
	/* Webhook reports (writer_hook.c): writer_hook_report's queue. */
	struct writer_hooks *hooks;
	arena seg_arena;     /* the background steps' events */
	bool seg_more;       /* a background step left work */
	int64_t seg_last_ns; /* the last background step */
	int64_t seg_now_ms;  /* the last background step's instant */
	int64_t last_now_ms; /* the last batch's writer_batch.now_ms */
	journal *j;          /* NULL: none (see writer_opts) */
	writer_replay_fn replay;
	void *replay_arg;
	uint64_t ckpt_bytes; /* checkpoint_bytes when not auto */
	bool ckpt_auto;      /* checkpoint_bytes = auto */
	struct writer_ckpt_auto ckpt_az;
	int64_t ckpt_interval_ns; /* 0: auto (writer_ckpt_interval_left) */
	int64_t dirty_since_ns; /* first write no checkpoint covers; 0: none */
	/* The writer's time applying the writes no checkpoint covers
	 * (writer_applied). */
	int64_t apply_ns;
	bool ckpt_asked; /* writer_checkpoint_soon; under mu */
	bool ckpt_soon;  /* checkpoint at the next idle moment (a backfill
	                    ended) */
	/* The last checkpoint's failure, refusing writes until one works. */
	clm_err ckpt_err;
	bool ckpt_disk_full;
	int64_t ckpt_retry_ns;
	bool replaying; /* no journal truncation while journal_read runs */
	/*
	 * A ForgetCustomer was applied and its journal entry, or one before
	 * it, may still be in a file: checkpoints purge the journal
	 * (journal_purge_before) rather than truncating it, until no
	 * segment holds an entry at or below purge_pos, the position of the
	 * last such Forget (after a start-up replay, of the last replayed
	 * entry). Counted by position, so that a Forget that comes while a
	 * checkpoint runs is not taken as purged by it.
	 */
	bool purge;
	uint64_t purge_pos;
	int64_t purge_retry_ns; /* after a failed purge */
	uint64_t position;      /* atomic: the last write the view shows */
	/* Cluster mode (writer_cluster.c); NULL: a single node. */
	struct writer_cluster *cl;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	writer_job *head, *tail; /* guarded by mu */
	size_t depth;            /* guarded by mu */
	bool stopping;           /* guarded by mu */
	bool ckpt_wake; /* guarded by mu: the checkpoint thread has a result */
	/*
	 * The background checkpoint (writer_ckpt.c): the writer freezes the
	 * overlay and hands it to ckpt_thread, which moves it into the base
	 * and empties it while batches go on; ckpt_busy (writer thread) from
	 * the hand-over until the writer has taken the result. Guarded by
	 * ckpt_mu: ckpt_state, ckpt_quit, ckpt_rc, ckpt_st.
	 */
	pthread_t ckpt_thread;
	bool ckpt_thread_on;
	bool ckpt_busy;
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_cv;
	enum {
		WRITER_CKPT_IDLE,
		WRITER_CKPT_WORK,
		WRITER_CKPT_DONE
	} ckpt_state;
	bool ckpt_quit;
	int ckpt_rc;
	struct store_ckpt_stats ckpt_st;
};

/*
 * writer_segments runs background steps of segments (segw_step) in
 * transactions of their own, each committed without a journal entry (it
 * is derived state, docs/architecture.md "Segments"), publishing their
 * events after the commit; it returns after one step when work is
 * queued, else when nothing is left. Not idle (after a batch), it runs
 * only once a second or while a step left work. writer_segments_wait_ms bounds
 * the idle writer's sleep so that it runs at least once a second.
 */
void writer_segments(writer *w, bool idle);
int64_t writer_segments_wait_ms(writer *w, int64_t wait_ms);
/*
 * writer_segments_settle runs the backfills to their end (after the
 * start-up replay or the cluster's catch-up, before serving: a replayed
 * DefineSegment starts its backfill again, and a write must not find it
 * unfinished, docs/architecture.md "Segments"). It checkpoints whenever
 * the overlay fills or a checkpoint is due, as the replay does, logs
 * where it stands every few seconds, and checkpoints once more at the
 * end. Returns CLM_OK or the store's error.
 */
clm_err writer_segments_settle(writer *w);

/*
 * writer_journeys (writer_journey.c) takes the due timers and runs them
 * as fire jobs (journaled, applied, published like a batch), and trims
 * the feed, in bounded chunks, returning when writes are queued;
 * writer_journeys_wait_ms bounds the idle writer's sleep by the earliest
 * timer known (w->jny_next_ms) and a second.
 */
void writer_journeys(writer *w, bool idle);
int64_t writer_journeys_wait_ms(writer *w, int64_t wait_ms);

/*
 * writer_hooks (writer_hook.c) applies the queued webhook reports
 * (writer_hook_report) in a transaction of their own, between batches;
 * writer_hooks_new / writer_hooks_free make and release w->hooks.
 * writer_hooks_wait_ms bounds the idle writer's wait (wait_ms) to 0 while
 * reports are queued; writer_hook_report wakes the writer (w->cv).
 */
void writer_hooks(writer *w);
int64_t writer_hooks_wait_ms(writer *w, int64_t wait_ms);
struct writer_hooks *writer_hooks_new(void);
void writer_hooks_free(struct writer_hooks *h);

/*
 * writer_run_batch applies, journals and commits jobs (n at most
 * batch_max) as one batch at the writer's instant, then advances the
 * position, publishes their events and completes each (done); a job past
 * its deadline is completed with DEADLINE_EXCEEDED unapplied. Writer
 * thread; writer_journeys runs its fire jobs through it.
 */
void writer_run_batch(writer *w, writer_job **jobs, size_t n);

/*
 * writer_checkpoint moves the whole overlay into the base at the
 * writer's position now, on the writer thread, after waiting for a
 * background checkpoint to end, and drops the journal it covers. On
 * failure the writer refuses writes (w->ckpt_err) until a retry works.
 */
clm_err writer_checkpoint(writer *w);

/*
 * writer_maybe_checkpoint takes a background checkpoint's result, starts
 * one when the overlay is old or large enough (writer_opts), retries a
 * failed one, and retries a failed purge. After each batch and when idle.
 */
void writer_maybe_checkpoint(writer *w);
/*
 * writer_applied adds the time since t0 (clock_mono_ns) to the apply
 * time no checkpoint covers yet (checkpoint_interval = auto), and shows
 * it on /metrics before the write is answered.
 */
void writer_applied(writer *w, int64_t t0);

/*
 * writer_ckpt_due tells whether the overlay is large enough for a
 * checkpoint now (checkpoint_bytes, or the base's room for it). With
 * checkpoint_bytes = auto it first follows the view's growth: a larger
 * size grows the map of the overlay taking the writes (writer thread,
 * between batches); where that fails (no disk for the file), the map's
 * own size bounds it.
 */
bool writer_ckpt_due(writer *w);

/*
 * writer_ckpt_start starts a checkpoint in the background at the
 * writer's position: freezes the overlay (new writes go to the other
 * one) and hands it to the checkpoint thread, which must be running.
 */
void writer_ckpt_start(writer *w);

/*
 * writer_purge purges the journal behind the base's position, for a
 * ForgetCustomer (journal_purge_before), and clears purge once no
 * segment holds an entry at or below purge_pos.
 */
void writer_purge(writer *w);

/*
 * writer_ckpt_begin starts the checkpoint thread (0, or an errno code);
 * writer_ckpt_end waits for its work to end, handles the result and stops
 * it. Writer thread (or before it starts, or after it ended).
 */
int writer_ckpt_begin(writer *w);
void writer_ckpt_end(writer *w);

/*
 * writer_try applies jobs in one transaction, each at nows[i] (entries
 * journaled already, or read from the stream: not journaled again), or
 * all at now_ms when nows is NULL (then journaled), and commits; on a
 * full overlay it checkpoints and applies them again. Writer thread.
 */
clm_err writer_try(writer *w, writer_job **jobs, size_t n, const int64_t *nows,
        int64_t now_ms, bool *disk_full);

/*
 * Cluster mode (writer_cluster.c, writer_opts.stream). writer_cluster_start
 * sets w->cl up and catches the view up with the stream (before the
 * thread starts); writer_cluster_main is the writer thread then;
 * writer_cluster_submit is writer_submit's; writer_cluster_free frees
 * w->cl (NULL: nothing), after the thread ended.
 */
clm_err writer_cluster_start(
        writer *w, const struct writer_opts *o, char *err, size_t errlen);
void *writer_cluster_main(void *arg);
clm_err writer_cluster_submit(writer *w, writer_job *job);
uint64_t writer_cluster_stream_position(writer *w);
size_t writer_cluster_depth(writer *w);
bool writer_cluster_refusal(writer *w, char *why, size_t len);
void writer_cluster_free(writer *w);

#endif /* CLM_WRITE_WRITER_INTERNAL_H */
