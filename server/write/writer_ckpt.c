/*
 * Checkpoints (issue 14; docs/architecture.md, "Checkpoints in the
 * background"): when the overlay is old or large enough, the writer
 * freezes it (store_ckpt_freeze, between two batches) and a thread of its
 * own moves it into the base and empties it while batches go on into the
 * other overlay. The writer takes the result after a batch or when woken,
 * and only then drops the journal the checkpoint covers (or purges it,
 * after a ForgetCustomer or a start-up replay: writer_purge). A
 * checkpoint the writer must wait for (the overlay full, a clean stop)
 * runs on the writer thread: writer_checkpoint.
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "journal/journal.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "util/thread.h"
#include "write/writer_internal.h"

/*
 * Purges the journal behind the base's position (journal_purge_before),
 * for a ForgetCustomer. The purge stays pending until no segment holds an
 * entry at or below purge_pos: when it fails (retried a second later,
 * also when no write comes), or when the base does not cover purge_pos
 * yet (a Forget that came while the checkpoint ran: the next one purges
 * again). The segment being written to stays when it holds entries past
 * the base, so the freeze of a checkpoint that is to purge makes the
 * next commit start a new one (writer_ckpt_start): every entry the
 * checkpoint covers then sits in segments it deletes whole.
 */
void
writer_purge(writer *w)
{
	uint64_t pos = store_position(w->st);
	char err[256];
	if (journal_purge_before(w->j, pos + 1, err, sizeof(err)) != CLM_OK) {
		log_warn("journal purge: %s; retried", err);
		w->purge_retry_ns = clock_mono_ns() + 1000000000;
		return;
	}
	if (journal_first(w->j) > w->purge_pos) {
		w->purge = false;
	}
}

/*
 * Takes a checkpoint's result (e and st, at position pos): on failure the
 * writer refuses writes (RESOURCE_EXHAUSTED for a full map or disk) until
 * a retry, a second later or more, works: what was acknowledged stays
 * readable in the overlay and durable in the journal. On success it drops
 * the journal the checkpoint covers.
 */
static clm_err
writer_ckpt_result(
        writer *w, clm_err e, const struct store_ckpt_stats *st, uint64_t pos)
{
	if (e != CLM_OK) {
		w->ckpt_err = e;
		w->ckpt_disk_full = e == CLM_RESOURCE_EXHAUSTED
		        && store_disk_full(w->st);
		w->ckpt_retry_ns = clock_mono_ns() + 1000000000;
		telemetry_checkpoint(w->tm, true, 0, 0, 0, 0);
		log_error(
		        "checkpoint at position %llu failed: %s; writes are refused until it works",
		        (unsigned long long) pos, clm_strerror(e));
		return e;
	}
	if (w->ckpt_err != CLM_OK) {
		log_info("checkpoint works again: accepting writes");
	}
	w->ckpt_err = CLM_OK;
	telemetry_checkpoint(w->tm, false, st->duration_ns, st->keys,
	        st->overlay_bytes, pos);
	log_debug("checkpoint at position %llu: %llu keys in %lld ms",
	        (unsigned long long) pos, (unsigned long long) st->keys,
	        (long long) (st->duration_ns / 1000000));
	if (w->replaying || w->j == NULL) {
		return CLM_OK; /* a stream is never truncated by a node */
	}
	if (w->purge) {
		writer_purge(w);
	} else {
		char err[256];
		/* On failure, the next checkpoint's truncation does it. */
		if (journal_truncate_before(w->j, pos + 1, err, sizeof(err))
		        != CLM_OK) {
			log_warn("journal: %s", err);
		}
	}
	return CLM_OK;
}

/*
 * The checkpoint thread: runs the frozen overlay into the base and
 * empties it, each time the writer hands one over, then wakes the writer.
 */
static void *
writer_ckpt_main(void *arg)
{
	writer *w = arg;
	pthread_mutex_lock(&w->ckpt_mu);
	for (;;) {
		while (w->ckpt_state != WRITER_CKPT_WORK && !w->ckpt_quit) {
			pthread_cond_wait(&w->ckpt_cv, &w->ckpt_mu);
		}
		if (w->ckpt_state != WRITER_CKPT_WORK) {
			break;
		}
		pthread_mutex_unlock(&w->ckpt_mu);
		struct store_ckpt_stats st;
		int rc = store_ckpt_run(w->st, false, &st);
		if (rc == 0) {
			rc = store_ckpt_release(w->st);
		}
		pthread_mutex_lock(&w->ckpt_mu);
		w->ckpt_rc = rc;
		w->ckpt_st = st;
		w->ckpt_state = WRITER_CKPT_DONE;
		pthread_cond_broadcast(&w->ckpt_cv);
		/* Wake an idle writer to take it. */
		pthread_mutex_lock(&w->mu);
		w->ckpt_wake = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&w->ckpt_mu);
	return NULL;
}

int
writer_ckpt_begin(writer *w)
{
	pthread_mutex_init(&w->ckpt_mu, NULL);
	pthread_cond_init(&w->ckpt_cv, NULL);
	w->ckpt_state = WRITER_CKPT_IDLE;
	int rc = thread_start(
	        &w->ckpt_thread, writer_ckpt_main, w, "clm:ckpt");
	w->ckpt_thread_on = rc == 0;
	return rc;
}

/* Hands the frozen overlay to the checkpoint thread. */
static void
writer_ckpt_kick(writer *w)
{
	pthread_mutex_lock(&w->ckpt_mu);
	w->ckpt_state = WRITER_CKPT_WORK;
	pthread_cond_signal(&w->ckpt_cv);
	pthread_mutex_unlock(&w->ckpt_mu);
	w->ckpt_busy = true;
}

/* A checkpoint covers every write so far: no write waits for one. */
static void
writer_covered(writer *w)
{
	w->dirty_since_ns = 0;
	w->apply_ns = 0;
	telemetry_checkpoint_replay(w->tm, 0);
}

/*
 * Takes the background checkpoint's result if there is one (waiting for
 * it when wait); does nothing when none is running.
 */
static void
writer_ckpt_poll(writer *w, bool wait)
{
again:
	if (!w->ckpt_busy) {
		return;
	}
	pthread_mutex_lock(&w->ckpt_mu);
	while (wait && w->ckpt_state != WRITER_CKPT_DONE) {
		pthread_cond_wait(&w->ckpt_cv, &w->ckpt_mu);
	}
	bool done = w->ckpt_state == WRITER_CKPT_DONE;
	int rc = w->ckpt_rc;
	struct store_ckpt_stats st = w->ckpt_st;
	if (done) {
		w->ckpt_state = WRITER_CKPT_IDLE;
	}
	pthread_mutex_unlock(&w->ckpt_mu);
	if (!done) {
		return;
	}
	w->ckpt_busy = false;
	/*
	 * A full map, the base's or the frozen overlay's, is grown here,
	 * between batches, where nothing else has a transaction open but
	 * readers, which the growing holds off.
	 */
	if (store_ckpt_regrow(w->st, rc)) {
		writer_ckpt_kick(w);
		goto again;
	}
	clm_err e = rc == 0 ? CLM_OK : store_ckpt_err(w->st, rc);
	(void) writer_ckpt_result(w, e, &st, store_ckpt_position(w->st));
}

void
writer_ckpt_end(writer *w)
{
	if (!w->ckpt_thread_on) {
		return;
	}
	writer_ckpt_poll(w, true);
	pthread_mutex_lock(&w->ckpt_mu);
	w->ckpt_quit = true;
	pthread_cond_signal(&w->ckpt_cv);
	pthread_mutex_unlock(&w->ckpt_mu);
	pthread_join(w->ckpt_thread, NULL);
	w->ckpt_thread_on = false;
	pthread_cond_destroy(&w->ckpt_cv);
	pthread_mutex_destroy(&w->ckpt_mu);
}

clm_err
writer_checkpoint(writer *w)
{
	writer_ckpt_poll(w, true);
	uint64_t pos = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(w->st, pos, &st);
	if (e == CLM_OK) {
		writer_covered(w);
	}
	return writer_ckpt_result(w, e, &st, pos);
}

/* On a checkpoint that is to purge, the journal's next commit rolls. */
void
writer_ckpt_start(writer *w)
{
	uint64_t pos = __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
	clm_err e = store_ckpt_freeze(w->st, pos);
	if (e != CLM_OK) {
		struct store_ckpt_stats st = { 0 };
		(void) writer_ckpt_result(w, e, &st, pos);
		return;
	}
	writer_covered(w);
	if (w->purge && w->j != NULL) {
		journal_roll_next(w->j);
	}
	writer_ckpt_kick(w);
}

uint64_t
writer_ckpt_auto_bytes(uint64_t view_bytes)
{
	uint64_t b = view_bytes / 3 / WRITER_CKPT_AUTO_STEP
	        * WRITER_CKPT_AUTO_STEP;
	return b < WRITER_CKPT_AUTO_MIN    ? WRITER_CKPT_AUTO_MIN
	        : b > WRITER_CKPT_AUTO_MAX ? WRITER_CKPT_AUTO_MAX
	                                   : b;
}

uint64_t
writer_ckpt_auto_size(struct writer_ckpt_auto *z, uint64_t view_bytes,
        uint64_t map_bytes, int64_t now_ns,
        int (*reserve)(void *arg, uint64_t map_bytes), void *arg)
{
	uint64_t want = writer_ckpt_auto_bytes(view_bytes);
	if (want > z->bytes) {
		if (z->bytes != 0) {
			z->grown = true;
			log_info(
			        "checkpoint_bytes auto: %llu MiB for a view of %llu MiB",
			        (unsigned long long) (want >> 20),
			        (unsigned long long) (view_bytes >> 20));
		}
		z->bytes = want;
	}
	if (!z->grown) {
		return z->bytes;
	}
	uint64_t need = WRITER_OVERLAY_MAP(z->bytes);
	bool retry = z->failed != z->bytes
	        || now_ns - z->failed_ns
	                >= (int64_t) WRITER_CKPT_AUTO_RETRY_S * 1000000000;
	if (map_bytes < need && retry) {
		int rc = reserve(arg, need);
		if (rc == 0) {
			return z->bytes;
		}
		if (z->failed != z->bytes) {
			log_warn(
			        "checkpoint_bytes auto: cannot grow the overlay's map to %llu bytes (%s); its checkpoints stay smaller, tried again every %d s",
			        (unsigned long long) need, mdb_strerror(rc),
			        WRITER_CKPT_AUTO_RETRY_S);
		}
		z->failed = z->bytes;
		z->failed_ns = now_ns;
	}
	if (map_bytes >= need) {
		return z->bytes;
	}
	uint64_t fits = writer_overlay_holds(map_bytes);
	return fits < z->bytes ? fits : z->bytes;
}

static int
writer_ckpt_reserve(void *arg, uint64_t map_bytes)
{
	return store_overlay_reserve(arg, map_bytes);
}

/*
 * Whether the overlay is large enough to checkpoint now: checkpoint_bytes,
 * or so large that the base, near max_db_bytes, might not take it any
 * more (a key can make the checkpoint copy a leaf page and a share of its
 * branch path, the old ones held until it commits): better to learn that
 * (and refuse writes) now than with more acknowledged writes in the
 * overlay. The base's free pages count as room, counted only when the
 * cheaper test says it is close.
 */
bool
writer_ckpt_due(writer *w)
{
	uint64_t ob, keys;
	store_overlay_size(w->st, &ob, &keys);
	uint64_t limit = !w->ckpt_auto
	        ? w->ckpt_bytes
	        : writer_ckpt_auto_size(&w->ckpt_az, store_view_bytes(w->st),
	                store_overlay_map(w->st), clock_mono_ns(),
	                writer_ckpt_reserve, w->st);
	telemetry_checkpoint_bytes(w->tm, limit);
	if (ob >= limit) {
		return true;
	}
	uint64_t need = keys * WRITER_CKPT_KEY_BYTES;
	uint64_t room = store_headroom(w->st);
	return need >= room && need >= room + store_free_bytes(w->st);
}

void
writer_applied(writer *w, int64_t t0)
{
	w->apply_ns += clock_mono_ns() - t0;
	telemetry_checkpoint_replay(w->tm, w->apply_ns);
}

int64_t
writer_ckpt_interval_left(
        int64_t interval_ns, int64_t elapsed_ns, int64_t apply_ns, bool forget)
{
	const int64_t s = 1000000000;
	if (interval_ns > 0) {
		return interval_ns - elapsed_ns;
	}
	if (apply_ns >= WRITER_CKPT_REPLAY_S * s) {
		return 0;
	}
	int64_t limit
	        = forget ? WRITER_CKPT_FORGET_S * s : WRITER_CKPT_MAX_S * s;
	return limit - elapsed_ns;
}

void
writer_maybe_checkpoint(writer *w)
{
	if (w->j == NULL && w->cl == NULL) {
		return;
	}
	if (__atomic_load_n(&w->ckpt_asked, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&w->mu);
		w->ckpt_asked = false;
		pthread_mutex_unlock(&w->mu);
		/* Nothing past the last one: nothing to do. */
		w->ckpt_soon = w->ckpt_soon || w->dirty_since_ns != 0;
	}
	writer_ckpt_poll(w, false);
	if (w->ckpt_busy) {
		return;
	}
	int64_t now = clock_mono_ns();
	if (w->ckpt_err != CLM_OK) {
		if (now < w->ckpt_retry_ns) {
			return;
		}
		if (!w->ckpt_thread_on) {
			(void) writer_checkpoint(w);
			return;
		}
		/*
		 * The frozen overlay a failed one left goes again, alone
		 * (even when the map cannot grow: a retry may need less).
		 */
		if (store_ckpt_frozen(w->st)) {
			if (store_map_full(w->st)) {
				(void) store_grow(w->st);
			}
			writer_ckpt_kick(w);
			return;
		}
		writer_ckpt_start(w);
		return;
	}
	if (w->dirty_since_ns == 0) {
		/* A purge that failed, or a partial one. */
		if (w->purge && now >= w->purge_retry_ns) {
			writer_purge(w);
		}
		return;
	}
	if (writer_ckpt_interval_left(w->ckpt_interval_ns,
	            now - w->dirty_since_ns, w->apply_ns, w->purge)
	                <= 0
	        || w->ckpt_soon || writer_ckpt_due(w)) {
		w->ckpt_soon = false;
		/*
		 * In the background also after a ForgetCustomer: the freeze
		 * makes the batches after it start a new journal segment, so
		 * they do not keep the one with the forgotten customer's
		 * entries alive (writer_purge).
		 */
		if (w->ckpt_thread_on) {
			writer_ckpt_start(w);
		} else {
			(void) writer_checkpoint(w);
		}
	}
}
