/*
 * store: clm's state in one LMDB environment (the only module that includes
 * lmdb.h).
 *
 * Named databases (docs/architecture.md "Storage") and their keys:
 *   customers    customer id -> CustomerRecord; an anonymous profile's key is
 *                0x01 followed by the anonymous id (ids are printable, so the
 *                two spaces never meet)
 *   touchpoints  cid (8, big-endian) | event time ms (8) | seq (8)
 *                -> Touchpoint without customer_id. Customers get small
 *                sequential cids, so one customer's touchpoints are adjacent
 *                and sorted by event time, and keys stay 24 bytes.
 *   event_ids    event id -> EventRef (where that touchpoint is stored)
 *   aliases      anonymous id -> customer id (after Identify)
 *   onboarding   duration ms (8) | cid (8) -> empty: every customer's
 *                SIGNUP -> ONBOARDING_COMPLETED time, for the median
 *   items, stores  catalog: id -> Item / Store
 *   cooccur      co-purchase counts (see store_pop_add)
 *   claims       customer id 0x00 request id -> RecommendReply
 *   agg          aggregate key (see core/agg.h) -> int64 counters, or a sketch
 *   spend        channel (1) | day (4, big-endian) | campaign -> int64
 *                micro-units (RecordSpend)
 *   experiments  experiment id -> ExperimentRecord
 *   segments     segment name -> SegmentRecord (store/segment.h)
 *   seg_members  segment id (4, big-endian) | customer id -> empty; the
 *                segment id alone -> its member count (u64 BE)
 *   seg_due      instant ms (8, big-endian) | customer id -> empty: when
 *                a customer's membership may change with no write
 *   journeys, jny_due, jny_stats, jny_msgs, jny_msg_cust, jny_hooks
 *                journeys' definitions, timers, counters, feed and
 *                webhook deliveries (store/journey.h)
 *   meta         "schema", "next_cid", "next_seq", "event_seq", the
 *                aggregates' layout versions ("agg_version",
 *                "agg_touch_version"), and the onboarding median's state
 *                ("onb_*"), segments' "seg_next_id", journeys' "jny_next_id"
 *                and "jny_msg_pos" -> u64 BE
 *
 * Threads: any number of read transactions, each on the thread that began
 * it (MDB_NOTLS), plus one write transaction at a time, owned by the writer
 * thread. Growing the map excludes readers with a rwlock, because LMDB
 * remaps the file and a reader in the old map would fault.
 *
 * Every function returns clm_err: NOT_FOUND for a missing key,
 * RESOURCE_EXHAUSTED for a full map or disk (store_map_full and
 * store_disk_full tell which), UNAVAILABLE for I/O errors with room left
 * on the disk, INTERNAL for the rest (logged here, once).
 * On MDB_PANIC the process logs and exits: committed data is safe and the
 * supervisor restarts it.
 */
#ifndef CLM_STORE_H
#define CLM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/store.pb-c.h"
#include "util/arena.h"

/*
 * The data directory's layout version, in meta "schema". 2 added CUSTOM
 * touchpoints (AGG_TOUCH_CUSTOM) and order items, which version 1 would
 * drop silently; store_open upgrades a version-1 store in place (nothing
 * else changes on disk) and refuses one newer than this.
 */
#define STORE_SCHEMA_VERSION 2

typedef struct store store;
typedef struct store_txn store_txn;
typedef struct store_reader store_reader;

struct store_opts {
	const char *dir;      /* created if missing */
	bool nosync;          /* durability = os */
	int64_t map_bytes;    /* initial map size */
	int64_t max_db_bytes; /* growth ceiling */
	unsigned max_readers; /* concurrent read transactions */
};

struct store_stats {
	uint64_t customers; /* profiles, anonymous ones included */
	uint64_t touchpoints;
	uint64_t db_bytes;  /* pages in use x page size */
	uint64_t map_bytes; /* current map size */
};

/*
 * store_open creates the data directory if needed, takes the exclusive
 * flock on DIR/clmd.pid (failing with FAILED_PRECONDITION when another clmd
 * holds it), opens LMDB, checks the schema version and clears stale reader
 * slots. On failure err holds a one-line reason for a person.
 */
clm_err store_open(
        const struct store_opts *o, store **out, char *err, size_t errlen);

/*
 * store_warm_start reads the base view's used pages into the page cache on
 * a thread of its own, in file order, so that a start after a reboot does
 * not wait for a random disk read per lookup (store_warm.c says when it
 * pays). It only reads the file. Returns false, with the reason logged at
 * info, when it does not start: the view exceeds half of MemAvailable, or
 * no thread. store_warm_wait waits for it to end and returns the bytes it
 * read (0 when none ran); store_close stops it first.
 */
bool store_warm_start(store *s);
uint64_t store_warm_wait(store *s);

/* store_close closes everything and releases the lock; NULL is a no-op. */
void store_close(store *s);

/* store_reader_check clears reader slots of dead processes (every minute). */
void store_reader_check(store *s);

/* store_stats reads entry counts and sizes within txn. */
clm_err store_stats(store_txn *txn, struct store_stats *st);

/*
 * store_free_bytes returns the bytes of the base's free pages (LMDB's free
 * list, as of now): room inside the file that store_headroom does not
 * count. It walks the free list: call it only when that room matters.
 */
uint64_t store_free_bytes(store *s);

/*
 * store_txn_checkpoint_position reads, in txn's snapshot, the journal
 * position the base reflects (meta "journal_pos"; 0 before the first
 * checkpoint).
 */
clm_err store_txn_checkpoint_position(store_txn *txn, uint64_t *pos);

/*
 * The cluster mode's mark (issue 16): the instant the last applied stream
 * entry was applied at, and the hash of that entry's bytes (meta
 * "stream_now_ms", "stream_hash_a", "stream_hash_b"). The writer puts it
 * in every batch's transaction, so the base holds the mark of the entry
 * at its position (store_position) once a checkpoint moved the batch.
 */
struct store_stream_mark {
	int64_t now_ms;
	unsigned char hash[16];
};

/*
 * store_stream_mark_get reads the mark in txn's snapshot (zeros when none
 * was ever put). Returns CLM_OK, or a storage error.
 */
clm_err store_stream_mark_get(store_txn *txn, struct store_stream_mark *m);

/*
 * store_stream_mark_put writes m in the write transaction txn. Returns
 * CLM_OK, or a storage error (the batch fails).
 */
clm_err store_stream_mark_put(
        store_txn *txn, const struct store_stream_mark *m);

/*
 * The cluster mode's pending stream purges (docs/cluster.md, "Forget"):
 * key (32 hex digits, jstream_subject_key) and the Forget's position
 * before, in meta "stream_purge.<key>". store_stream_purge_put records
 * one in the write transaction txn (the Forget's), keeping the larger
 * position when one is there; store_stream_purge_del deletes it unless
 * it holds a position past before (a later Forget's). Both return CLM_OK
 * or a storage error. store_stream_purges_each calls fn for each one in
 * txn's snapshot (any transaction); key is valid during the call.
 */
clm_err store_stream_purge_put(
        store_txn *txn, const char key[33], uint64_t before);
clm_err store_stream_purge_del(
        store_txn *txn, const char key[33], uint64_t before);
typedef void (*store_stream_purge_fn)(
        void *arg, const char key[33], uint64_t before);
clm_err store_stream_purges_each(
        store_txn *txn, store_stream_purge_fn fn, void *arg);

/*
 * Readers. A store_reader is a reusable read transaction handle for one
 * thread or work item: store_read_begin starts a fresh snapshot, and
 * store_read_end releases it. A reader must be ended before it is freed.
 */
clm_err store_reader_new(store *s, store_reader **out);
void store_reader_free(store_reader *r);
clm_err store_read_begin(store_reader *r, store_txn **txn);
void store_read_end(store_txn *txn);

/*
 * Writes, for the writer thread only. store_write_commit makes the changes
 * durable (unless nosync) and ends txn whatever it returns; store_write_abort
 * discards them. When a put or the commit returned RESOURCE_EXHAUSTED and
 * store_map_full is true, abort and call store_grow, then redo the work:
 * store_grow doubles the map up to max_db_bytes, or returns
 * RESOURCE_EXHAUSTED at the ceiling.
 */
clm_err store_write_begin(store *s, store_txn **txn);
clm_err store_write_commit(store_txn *txn);
void store_write_abort(store_txn *txn);

bool store_map_full(const store *s);
clm_err store_grow(store *s);

/*
 * The overlay (docs/architecture.md, "The journal and the overlay"): once
 * store_overlay_open has given the store one, two environments of
 * map_bytes each in DIR/overlay (created empty: what an earlier run left
 * there is deleted, since the journal rebuilds it; the second takes the
 * writes while a checkpoint moves the first into the base), a write
 * transaction changes the overlay and its commit is not synced (the caller
 * made it durable in the journal first), and reads see the overlay over the
 * base. Call it once, before any reader or writer uses the store; store_close
 * closes it. Errors: UNAVAILABLE (err says why), RESOURCE_EXHAUSTED when the
 * disk has no room for the overlay's file (allocated in full), DATA_LOSS when
 * a checkpoint was left half applied without its image (below).
 *
 * store_overlay_full tells whether the last write error was the overlay's
 * map filling up (RESOURCE_EXHAUSTED): checkpoint, then redo the batch.
 */
clm_err store_overlay_open(
        store *s, uint64_t map_bytes, char *err, size_t errlen);

/*
 * store_set_chunk_keys sets how many overlay keys one checkpoint
 * transaction moves at most (0: 16384; see store_checkpoint). Call it
 * before store_overlay_open, which first completes a checkpoint that a
 * crash left half applied, from DATA/checkpoint.img (DATA_LOSS, err
 * naming the file, when that image is missing or corrupt), and deletes an
 * image that no checkpoint refers to. store_position is valid after it.
 */
void store_set_chunk_keys(store *s, uint64_t keys);
bool store_overlay_full(const store *s);

/*
 * store_overlay_size gives the bytes of the pages the active overlay's
 * tables hold now and the keys in them (values and tombstones); 0 and 0
 * without an overlay. store_overlay_bytes is the first alone.
 */
void store_overlay_size(store *s, uint64_t *bytes, uint64_t *keys);
uint64_t store_overlay_bytes(store *s);

/*
 * store_position returns the journal position the base reflects (meta
 * "journal_pos", 0 for a store that never had a checkpoint).
 */
uint64_t store_position(const store *s);

/* What a checkpoint did. */
struct store_ckpt_stats {
	uint64_t keys;          /* values and deletions moved */
	uint64_t overlay_bytes; /* the overlay's size before */
	uint64_t base_bytes_before, base_bytes_after;
	int64_t duration_ns;
};

/*
 * store_checkpoint moves everything in the overlay into the base and
 * records position as the base's journal position, then empties the
 * overlay. Writer thread only, with no write transaction open. An overlay
 * of at most store_set_chunk_keys keys goes in one synced write
 * transaction. A larger one is first written to DATA/checkpoint.img
 * (synced), then moved in synced transactions of at most that many keys
 * each, the first flagging the checkpoint as in progress (meta
 * "ckpt_image"), the last recording position: a crash in between is
 * completed from the image by the next store_overlay_open. Reads go on
 * meanwhile and see the same state and counts throughout. The map grows
 * as needed up to max_db_bytes. On error (RESOURCE_EXHAUSTED for a full
 * map at max_db_bytes or a full disk, store_disk_full telling which;
 * UNAVAILABLE for I/O) the base may hold part of the overlay, but the
 * overlay still holds everything, reads are right, and the checkpoint can
 * be retried: a retry writes a fresh image and moves everything again.
 * Without an overlay it does nothing. It is the three steps below in a
 * row, after completing what a background checkpoint left.
 */
clm_err store_checkpoint(
        store *s, uint64_t position, struct store_ckpt_stats *st);

/*
 * A checkpoint in the background, in three steps, so that writes go on
 * while the base takes the overlay (docs/architecture.md, "Checkpoints in
 * the background"):
 * - store_ckpt_freeze (writer thread, no write transaction open) freezes
 *   the active overlay as it is at position and gives the writer the
 *   other one, empty; reads then see the active overlay over the frozen
 *   one over the base. INTERNAL if one is frozen already.
 * - store_ckpt_run moves the frozen overlay into the base, as
 *   store_checkpoint describes, on any thread while the writer goes on;
 *   only with may_grow (on the writer thread, between batches) may it
 *   grow the map, else a full one is MDB_MAP_FULL. It returns 0 or an
 *   LMDB or errno code, which store_ckpt_err translates on the writer
 *   thread (setting store_map_full and store_disk_full). It may be run
 *   again after a failure; once it worked it does nothing.
 * - store_ckpt_release empties the frozen overlay (any thread, after a
 *   run worked; EINVAL before); 0 or an LMDB code.
 * store_ckpt_frozen tells whether an overlay is frozen. The three calls
 * are never made concurrently with each other.
 */
bool store_ckpt_frozen(store *s);
clm_err store_ckpt_freeze(store *s, uint64_t position);
int store_ckpt_run(store *s, bool may_grow, struct store_ckpt_stats *st);
int store_ckpt_release(store *s);
clm_err store_ckpt_err(store *s, int rc);
/*
 * store_ckpt_regrow grows the map that rc (MDB_MAP_FULL from a run or a
 * release) found full, the base's or the frozen overlay's (writer thread,
 * no transaction open), and tells whether it did, so that the step can
 * go again. store_ckpt_position is the frozen overlay's position.
 */
bool store_ckpt_regrow(store *s, int rc);
uint64_t store_ckpt_position(store *s);

/*
 * store_view_bytes returns the bytes of the base (data.mdb) up to its
 * highest page in use: what a checkpoint's keys spread over.
 */
uint64_t store_view_bytes(store *s);

/*
 * store_overlay_map is the map size of the overlay that takes the writes
 * now; store_overlay_reserve grows that map to at least map_bytes
 * (allocating its file first, so a full disk is ENOSPC here and never a
 * fault through the map), for a larger checkpoint_bytes. Writer thread,
 * between batches (no write transaction open); readers wait for the
 * remap as for store_grow. 0 or an errno/LMDB code, the map unchanged;
 * both do nothing without an overlay.
 */
uint64_t store_overlay_map(store *s);
int store_overlay_reserve(store *s, uint64_t map_bytes);

/*
 * store_headroom returns how many more bytes the base may take before
 * max_db_bytes (counting its highest page in use, so free pages inside
 * it are room beyond this).
 */
uint64_t store_headroom(store *s);

/*
 * store_disk_full tells whether the last write error was a full filesystem
 * rather than a full map: ENOSPC or EDQUOT, or an I/O error (LMDB reports a
 * short write as EIO) while the data dir's filesystem had less than
 * STORE_DISK_SLACK bytes available. Such errors are RESOURCE_EXHAUSTED;
 * an I/O error with room left stays UNAVAILABLE. Reset by
 * store_write_begin. Writer thread only.
 */
bool store_disk_full(const store *s);

/*
 * Below this many bytes available (to clmd's user) on the data dir's
 * filesystem, a failed write counts as a full disk: one LMDB write is at
 * most 64 pages (256 KiB), plus room for the filesystem's own blocks.
 */
#define STORE_DISK_SLACK (1024 * 1024)

/*
 * Counters allocated within a write transaction (kept only if it commits):
 * store_next_cid for a new customer, store_next_seq for a touchpoint's
 * arrival order, store_next_event_seq for a published LifecycleEvent.
 */
uint64_t store_next_cid(store_txn *txn);
uint64_t store_next_seq(store_txn *txn);
uint64_t store_next_event_seq(store_txn *txn);

/*
 * store_event_seq returns the seq the next published LifecycleEvent will
 * get, as of the last commit. The writer's thread, or any thread before
 * the writer starts.
 *
 * Seqs never repeat, a crash included: DIR/event_seq holds a floor no
 * seq taken so far reaches. store_write_commit first raises it (to the
 * next seq plus 65,536, synced) when the transaction took seqs up to it,
 * store_open starts the counter there when the base's is lower (the
 * counter in the overlay was lost: the seqs jump forward, a gap), and
 * store_close sets it to the counter exactly, so that a clean restart
 * leaves no gap.
 */
uint64_t store_event_seq(store *s);

/*
 * store_customer_get loads the profile of id (anonymous: the profile of an
 * anonymous id) into arena memory. NOT_FOUND if there is none.
 */
clm_err store_customer_get(store_txn *txn, const char *id, bool anonymous,
        arena *a, Clm__V1__CustomerRecord **out);

/*
 * store_customer_put writes rec under rec->customer_id / rec->anonymous;
 * loaded says it was read in this transaction and not deleted since.
 */
clm_err store_customer_put(
        store_txn *txn, const Clm__V1__CustomerRecord *rec, bool loaded);

/*
 * store_touchpoint_put stores tp (its customer_id is not stored);
 * store_touchpoint_add does it for a seq just taken from store_next_seq,
 * whose key cannot be stored already (it is not looked up).
 */
clm_err store_touchpoint_put(store_txn *txn, uint64_t cid, int64_t at_ms,
        uint64_t seq, const Clm__V1__Touchpoint *tp);
clm_err store_touchpoint_add(store_txn *txn, uint64_t cid, int64_t at_ms,
        uint64_t seq, const Clm__V1__Touchpoint *tp);

/*
 * store_touchpoints_scan calls fn for each touchpoint of cid with
 * after_ms < event time <= upto_ms, in event-time then arrival order. The
 * touchpoint passed to fn lives until fn returns. fn returns 0 to go on, or
 * non-zero to stop (store_touchpoints_scan then returns CLM_OK).
 */
typedef int (*store_touch_fn)(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp);
clm_err store_touchpoints_scan(store_txn *txn, uint64_t cid, int64_t after_ms,
        int64_t upto_ms, store_touch_fn fn, void *arg);

/*
 * store_touchpoints_collect is store_touchpoints_scan for keeps: each
 * touchpoint is decoded into arena memory and outlives the call.
 */
clm_err store_touchpoints_collect(store_txn *txn, uint64_t cid,
        int64_t after_ms, int64_t upto_ms, arena *a, store_touch_fn fn,
        void *arg);

/* store_event_exists: CLM_OK if event id is recorded, NOT_FOUND if not. */
clm_err store_event_exists(store_txn *txn, const char *event_id);

/* store_event_put records event id as stored at (cid, at_ms, seq). */
clm_err store_event_put(store_txn *txn, const char *event_id, uint64_t cid,
        int64_t at_ms, uint64_t seq);

/* store_customer_del removes a profile (NOT_FOUND if there is none). */
clm_err store_customer_del(store_txn *txn, const char *id, bool anonymous);

/* store_touchpoint_del removes one stored touchpoint. */
clm_err store_touchpoint_del(
        store_txn *txn, uint64_t cid, int64_t at_ms, uint64_t seq);

/* store_event_del forgets an event id. */
clm_err store_event_del(store_txn *txn, const char *event_id);

/*
 * Aliases: store_alias_get finds the customer an anonymous id was linked to
 * (NOT_FOUND if none), copied into arena memory.
 */
clm_err store_alias_get(store_txn *txn, const char *anonymous_id, arena *a,
        char **customer_id);
clm_err store_alias_put(
        store_txn *txn, const char *anonymous_id, const char *customer_id);
clm_err store_alias_del(store_txn *txn, const char *anonymous_id);

/*
 * store_onboarding_update replaces customer cid's onboarding time old_ms
 * (NULL = it had none) by new_ms (NULL = it has none now) in the exact
 * median over all customers. Durations must not be negative.
 */
clm_err store_onboarding_update(store_txn *txn, uint64_t cid,
        const int64_t *old_ms, const int64_t *new_ms);

/*
 * store_onboarding_median reads twice the median onboarding time (exact),
 * and whether any customer has onboarded at all.
 */
clm_err store_onboarding_median(
        store_txn *txn, bool *known, int64_t *twice_median_ms);

/* Catalog: items and stores (PutCatalog upserts). */
clm_err store_item_put(store_txn *txn, const Clm__V1__Item *item);
clm_err store_item_get(
        store_txn *txn, const char *item_id, arena *a, Clm__V1__Item **out);
clm_err store_store_put(store_txn *txn, const Clm__V1__Store *st);

/* store_stores_each calls fn for every store (arena memory); non-zero stops.
 */
typedef int (*store_store_fn)(void *arg, const Clm__V1__Store *st);
clm_err store_stores_each(
        store_txn *txn, arena *a, store_store_fn fn, void *arg);

/*
 * The co-purchase model (`cooccur`): popularity = customers who bought an
 * item, co-occurrence = customers who bought both items of a pair.
 * store_pop_add and store_co_add change them by delta (never below 0);
 * store_pop_top lists items most popular first (ties by item id), and
 * store_co_each an item's neighbours by id, each with its count; fn
 * returns non-zero to stop.
 */
typedef int (*store_count_fn)(void *arg, const char *item, uint64_t count);
clm_err store_pop_add(store_txn *txn, const char *item, int delta);
clm_err store_pop_get(store_txn *txn, const char *item, uint64_t *count);
clm_err store_pop_top(store_txn *txn, store_count_fn fn, void *arg);
clm_err store_co_add(store_txn *txn, const char *a, const char *b, int delta);
clm_err store_co_each(
        store_txn *txn, const char *a, store_count_fn fn, void *arg);

/*
 * Claims (`claims`): the reply of a Recommend with claim, by customer and
 * request id, so a retried claim returns the same answer and records
 * nothing twice. store_claims_del removes a customer's (ForgetCustomer).
 */
clm_err store_claim_get(store_txn *txn, const char *customer_id,
        const char *request_id, arena *a, Clm__V1__RecommendReply **out);
clm_err store_claim_put(store_txn *txn, const char *customer_id,
        const char *request_id, const Clm__V1__RecommendReply *reply);
clm_err store_claims_del(store_txn *txn, const char *customer_id);

/*
 * Aggregates (`agg`, keys built by agg.c). A counter value is a vector of
 * int64; store_agg_add adds delta[0..n) to it (a shorter stored vector is
 * extended with zeros) and deletes the key when every counter is 0, so
 * scans only meet live keys. store_agg_get reads up to n counters (zeros
 * when missing). store_agg_scan calls fn for every key in [from, to) in
 * key order with its raw value (valid until fn returns); fn returns
 * non-zero to stop. Blobs (sketches) are read and written whole.
 *
 * In a write transaction store_agg_add only sums the deltas in memory,
 * by key; store_agg_flush writes them, and so do every aggregate read or
 * reset in the transaction and store_write_commit. A flush's error is the
 * transaction's: abort it.
 */
clm_err store_agg_add(store_txn *txn, const void *key, size_t klen,
        const int64_t *delta, size_t n);
clm_err store_agg_flush(store_txn *txn);
clm_err store_agg_get(
        store_txn *txn, const void *key, size_t klen, int64_t *out, size_t n);
typedef int (*store_agg_fn)(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen);
clm_err store_agg_scan(store_txn *txn, const void *from, size_t flen,
        const void *to, size_t tlen, store_agg_fn fn, void *arg);
clm_err store_agg_blob_get(store_txn *txn, const void *key, size_t klen,
        const void **val, size_t *vlen);
clm_err store_agg_blob_put(store_txn *txn, const void *key, size_t klen,
        const void *val, size_t vlen);

/* store_agg_counters copies up to n counters out of a raw value. */
void store_agg_counters(const void *val, size_t vlen, int64_t *out, size_t n);

/*
 * The aggregates' versions: one for the customers' contributions (meta
 * "agg_version"), one for the touchpoints' (meta "agg_touch_version");
 * 0 when that part must be rebuilt (agg_rebuild). store_agg_reset deletes
 * the keys whose kind byte is in [lo, hi) and sets that part's version
 * to 0.
 */
clm_err store_agg_version(store_txn *txn, bool touch, uint64_t *v);
clm_err store_agg_set_version(store_txn *txn, bool touch, uint64_t v);
clm_err store_agg_reset(
        store_txn *txn, unsigned char lo, unsigned char hi, bool touch);

/* store_spend_each calls fn for every recorded spend; non-zero stops. */
typedef int (*store_spend_fn)(
        void *arg, int channel, uint32_t day, int64_t micros);
clm_err store_spend_each(store_txn *txn, store_spend_fn fn, void *arg);

/*
 * store_customers_after calls fn with the ids of up to max profiles that
 * come after (after, after_anon) in key order (after NULL: from the
 * first). fn returns non-zero to stop.
 */
typedef int (*store_id_fn)(void *arg, const char *id, bool anonymous);
clm_err store_customers_after(store_txn *txn, const char *after,
        bool after_anon, size_t max, store_id_fn fn, void *arg);

/*
 * Spend (`spend`): store_spend_set sets the micro-units of (channel, day,
 * campaign) and tells what was there before (0 if nothing).
 */
clm_err store_spend_set(store_txn *txn, int channel, uint32_t day,
        const char *campaign, int64_t micros, int64_t *old);

/* Experiments (`experiments`): definitions by id. */
clm_err store_experiment_get(store_txn *txn, const char *id, arena *a,
        Clm__V1__ExperimentRecord **out);
clm_err store_experiment_put(
        store_txn *txn, const Clm__V1__ExperimentRecord *rec);

/*
 * store_experiments_each calls fn for every defined experiment, in id
 * order, decoded into arena memory (it outlives txn); fn returns non-zero
 * to stop. DATA_LOSS when a stored definition does not decode.
 */
typedef int (*store_experiment_fn)(void *arg, Clm__V1__ExperimentRecord *rec);
clm_err store_experiments_each(
        store_txn *txn, arena *a, store_experiment_fn fn, void *arg);

#endif /* CLM_STORE_H */
