/*
 * store_internal: what the store's files share (store.c: environment,
 * customers, touchpoints, events, aliases; store_onboarding.c: the
 * onboarding median; store_catalog.c: catalog, co-purchase counts,
 * claims; store_agg.c: aggregates, spend, experiments; store_segment.c:
 * segments, their members and the time index; store_journey.c:
 * journeys, their timers, counters, feed and webhook deliveries;
 * store_defs.c: what those two share). Not for other modules: lmdb.h
 * stays behind the store.
 */
#ifndef CLM_STORE_INTERNAL_H
#define CLM_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>

#include "store/store.h"

#define STORE_KEY_MAX 511

enum store_db {
	STORE_DB_CUSTOMERS,
	STORE_DB_TOUCHPOINTS,
	STORE_DB_EVENT_IDS,
	STORE_DB_META,
	STORE_DB_ALIASES,
	STORE_DB_ONBOARDING,
	STORE_DB_ITEMS,
	STORE_DB_STORES,
	STORE_DB_COOCCUR,
	STORE_DB_CLAIMS,
	STORE_DB_AGG,
	STORE_DB_SPEND,
	STORE_DB_EXPERIMENTS,
	STORE_DB_SEGMENTS,
	STORE_DB_SEG_MEMBERS,
	STORE_DB_SEG_DUE,
	STORE_DB_JOURNEYS,
	STORE_DB_JNY_DUE,
	STORE_DB_JNY_STATS,
	STORE_DB_JNY_MSGS,
	STORE_DB_JNY_MSG_CUST,
	STORE_DB_JNY_HOOKS,
	STORE_N_DBS,
};

/*
 * A transaction sees the overlay (store_overlay.c), when the store has
 * one, over the base view: txn is the base's (the only one, read-write,
 * when there is no overlay; read-only under one), otxn the overlay's
 * (read-write for the writer). kv_* below hide the layering.
 */
struct store_txn {
	store *s;
	MDB_txn *txn;
	MDB_txn *otxn; /* the active overlay's; NULL: no overlay */
	/* The frozen overlay's (read-only, being checkpointed); NULL: none. */
	MDB_txn *ftxn;
	const MDB_dbi *odbi, *fdbi; /* their tables */
	bool write;
	uint64_t next_cid, next_seq, next_event_seq;
	/* Under an overlay: profiles and touchpoints added minus removed. */
	int64_t delta_customers, delta_touchpoints;
};

struct store_reader {
	store *s;
	struct store_txn t;
	MDB_txn *otxn[2]; /* each overlay's read transaction, for renew */
	bool active;
};

/* One overlay environment (store_overlay.c). */
struct store_ovl {
	MDB_env *env;
	MDB_dbi dbi[STORE_N_DBS + 1]; /* [STORE_N_DBS]: its counters */
	MDB_txn *wro; /* the writer's read transaction on it, for renew */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_N_DBS];
	int dir_fd; /* holds the data directory's lock (store/dirlock.h) */
	int pid_fd; /* DIR/clmd.pid, flocked for older clmds */
	char *dir;
	int64_t max_db_bytes;
	/* Counters as of the last commit; only the writer thread uses them. */
	uint64_t next_cid, next_seq, next_event_seq;
	struct store_txn wtxn;
	unsigned max_readers;
	/*
	 * The overlays (store_overlay.c): the writer's changes since the
	 * last checkpoint, in two environments rebuilt from the journal at
	 * every start. The writer writes ovl[act], the active one; while
	 * frozen, ovl[1 - act] holds what a checkpoint in progress moves
	 * into the base (frozen_pos: the journal position it reflects;
	 * frozen_moved: the base has it all, it is left to empty). act and
	 * frozen change only between the generation bumps below, and only
	 * on the writer thread (frozen also on the one that empties it).
	 */
	struct store_ovl ovl[2];
	int act;
	bool frozen, frozen_moved;
	uint64_t frozen_pos;
	/* The writer's summed aggregate deltas (store_agg.c); NULL: none. */
	struct store_agg_pend *agg_pend;
	MDB_txn *wbase;    /* the writer's read transaction on the base */
	bool overlay_full; /* the last write error was the overlay's map */
	/*
	 * Bumped (atomically) just before a checkpoint's emptying of the
	 * frozen overlay commits, and just after, and around the swap of the
	 * overlays' roles: a reader that saw it move while it began its
	 * transactions may have missed what the checkpoint moved, or taken
	 * the roles of another moment, and begins again (store_read_begin).
	 */
	uint64_t generation;
	/* Overlay keys per checkpoint transaction (0: the default). */
	uint64_t chunk_keys;
	/*
	 * Checkpoints the base has had (meta "checkpoints"), and the journal
	 * position it reflects (meta "journal_pos"): atomic, a checkpoint
	 * may run on a thread of its own.
	 */
	uint64_t checkpoints;
	uint64_t position;
	/* The last write error was MDB_MAP_FULL. */
	bool map_full;
	/*
	 * The last write error was the filesystem's: ENOSPC or EDQUOT, or an
	 * I/O error while the data dir's filesystem had no room left.
	 */
	bool disk_full;
	/*
	 * Readers hold remap shared; store_grow holds it exclusive to remap.
	 * glibc's rwlock prefers readers, so a steady stream of them could
	 * starve the resize (and every write behind it): store_grow first
	 * takes the turnstile, which new readers pass through, so they queue
	 * behind the resize while the current ones drain.
	 */
	pthread_rwlock_t remap;
	pthread_mutex_t turnstile;
	/*
	 * The event seq's floor as on disk (store_seqfloor.c; 0: no file):
	 * no published event's seq reaches it. Writer thread.
	 */
	uint64_t seq_floor;
	/* The thread warming the base view (store_warm.c), while running. */
	pthread_t warm_thread;
	bool warm_running, warm_stop; /* warm_stop: atomic */
	int warm_fd;                  /* data.mdb's, LMDB's own */
	uint64_t warm_bytes;          /* the used part it reads */
	uint64_t warm_done;           /* bytes read, once it ended (atomic) */
};

/* Stops the warming thread, if any, and waits for it (store_close). */
void store_warm_stop(store *s);

/* The floor's file in the data dir, and how far past next a write sets it. */
#define STORE_SEQ_FLOOR_FILE    "event_seq"
#define STORE_SEQ_FLOOR_RESERVE 65536

/*
 * store_seq_floor_load reads DIR/event_seq into s->seq_floor (0 when it
 * does not exist) and raises s->next_event_seq to it: the seqs of events
 * published before a crash, whose counter the overlay lost, are not given
 * again. Returns CLM_OK, or an error with err set (unreadable, or not a
 * number).
 */
clm_err store_seq_floor_load(store *s, char *err, size_t errlen);

/*
 * store_seq_floor_write makes floor the durable floor: DIR/event_seq.tmp
 * written and fdatasync'd, renamed over DIR/event_seq, the directory
 * synced. Returns CLM_OK or the filesystem's error (store_err); the floor
 * on disk is then the old one.
 */
clm_err store_seq_floor_write(store *s, uint64_t floor);

/* Translates an LMDB or errno code, logging what is not routine. */
clm_err store_err(store *s, int rc, const char *what);

/* Big-endian u64 encoding of keys and counters. */
void store_u64_be(unsigned char *p, uint64_t v);
uint64_t store_be_u64(const unsigned char *p);
/* Big-endian u32: the segment and journey ids in keys. */
void store_u32_be(unsigned char *p, uint32_t v);
uint32_t store_be_u32(const unsigned char *p);

/* A u64 in `meta` (0 when missing). */
clm_err store_meta_get(store_txn *t, const char *name, uint64_t *out);
clm_err store_meta_put(store_txn *t, const char *name, uint64_t val);

/*
 * store_def_new_id takes the next id of a kind of named definition
 * (segments, journeys) from the meta counter `counter` ("seg_next_id"),
 * from 1; ids are never reused. RESOURCE_EXHAUSTED once they run out. A
 * write transaction; *id is written only on success.
 */
clm_err store_def_new_id(store_txn *t, const char *counter, uint32_t *id);

/*
 * A table whose keys are a definition's id (4 bytes, big-endian), then
 * more: a segment's members and count, a journey's counters. A key
 * between min_len and max_len bytes long, of that id, is the
 * definition's; the first that is not ends the definition's keys.
 * scan_what and del_what are store_err's words for a failed scan and
 * delete.
 */
struct store_def_keys {
	enum store_db db;
	size_t min_len, max_len;
	const char *scan_what, *del_what;
};

/*
 * store_def_keys_drop deletes up to max of the keys of definition id in
 * dk's table and tells in *left whether any remain. A write transaction:
 * a dropped definition's keys go in chunks.
 */
clm_err store_def_keys_drop(store_txn *t, const struct store_def_keys *dk,
        uint32_t id, size_t max, bool *left);

/*
 * store_get_msg reads the message of type desc stored under key in db,
 * unpacked into a; store_each_msg calls fn for each message of db in key
 * order (non-zero stops). `what` names the record in messages ("item").
 * A record that does not decode is logged and gives DATA_LOSS.
 */
clm_err store_get_msg(store_txn *t, enum store_db db, const char *key,
        const ProtobufCMessageDescriptor *desc, arena *a, const char *what,
        void **out);
clm_err store_each_msg(store_txn *t, enum store_db db,
        const ProtobufCMessageDescriptor *desc, arena *a, const char *what,
        int (*fn)(void *arg, void *msg), void *arg);

/*
 * The layered key-value access every table goes through (store_kv.c):
 * with an overlay, reads look in the overlay first (where a deletion is a
 * tombstone) and then in the base, and writes go to the overlay; without
 * one they are plain LMDB calls on t->txn. They return LMDB codes.
 * kv_put takes flags 0 or MDB_RESERVE; kv_del returns MDB_NOTFOUND when
 * the key is absent. A kv_cursor merges both levels in key order; the
 * operations are MDB_FIRST, MDB_SET, MDB_SET_RANGE, MDB_NEXT and MDB_PREV,
 * and kv_cursor_del deletes the key the cursor is at.
 */
typedef struct kv_cursor kv_cursor;
int kv_get(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v);
int kv_put(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v,
        unsigned flags);
/*
 * kv_put_known is kv_put for a caller that knows whether the key is
 * stored already (KV_EXISTS: loaded in this transaction and not deleted
 * since; KV_NEW: never stored, as a touchpoint's fresh sequence number
 * makes its key), which spares the lookup that counts profiles and
 * touchpoints. KV_NEW refuses an existing key in the overlay
 * (MDB_KEYEXIST).
 */
enum kv_known { KV_MAYBE, KV_EXISTS, KV_NEW };
int kv_put_known(store_txn *t, enum store_db db, MDB_val *k, MDB_val *v,
        unsigned flags, enum kv_known known);
int kv_del(store_txn *t, enum store_db db, MDB_val *k);
int kv_cursor_open(store_txn *t, enum store_db db, kv_cursor **out);
int kv_cursor_get(kv_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op);
int kv_cursor_del(kv_cursor *c);
void kv_cursor_close(kv_cursor *c);

/* Empties (at write begin and end) and frees store_agg.c's table. */
void store_agg_pend_clear(store *s);
void store_agg_pend_free(store *s);

/* The overlay's counters of profiles and touchpoints (0 without one). */
int kv_counts(store_txn *t, int64_t *customers, int64_t *touchpoints);

/* Adds a write transaction's deltas to those counters, before commit. */
int kv_counts_save(store_txn *t);

/*
 * Notes in an emptied overlay (write transaction t) that its counters
 * start from a base with this many checkpoints (meta "checkpoints").
 */
int kv_counts_reset(store_txn *t, uint64_t checkpoints);

/*
 * Chunked checkpoints (store_ckpt.c). store_chunk_keys is the limit in
 * use. store_ckpt_chunked writes the frozen overlay's image, synced, then
 * moves it into the base in transactions of at most that many keys, the
 * last one recording position; it leaves the overlay alone. *keys is what
 * it moved. It grows the map as needed when may_grow (only where
 * store_grow may run), and returns 0 or an LMDB or errno code.
 * store_ckpt_recover completes a checkpoint a crash left half applied (meta
 * "ckpt_image") from its image, or deletes an image no checkpoint refers to;
 * DATA_LOSS when the flag is set and the image is missing or corrupt, err
 * naming it.
 */
uint64_t store_chunk_keys(const store *s);
int store_ckpt_chunked(
        store *s, uint64_t position, uint64_t *keys, bool may_grow);
clm_err store_ckpt_recover(store *s, char *err, size_t errlen);

/*
 * store_overlay_each calls fn(arg, db, k, v) for every entry of every
 * overlay table in otxn, in table then key order; v is the overlay's
 * value (a flag byte, then the table's bytes; a tombstone is the flag
 * alone). fn returns 0 to go on, or an LMDB or errno code to stop with.
 * Returns 0, that code, or LMDB's.
 */
int store_overlay_each(const MDB_dbi *odbi, MDB_txn *otxn,
        int (*fn)(void *arg, int db, MDB_val *k, MDB_val *v), void *arg);

/*
 * A checkpoint's writes into the base: the overlay's entries in table then
 * key order (store_overlay_each, or an image of them), each applied with
 * store_ckpt_cursor_apply through one cursor per table of the base write
 * transaction txn. A cursor that stays open lets LMDB find a key that
 * falls in the leaf page it points at without descending the tree from
 * its root (mdb_cursor_set), which sorted keys mostly do; mdb_put and
 * mdb_del open a fresh one for every key. store_ckpt_cursors_close
 * closes them before the transaction ends.
 */
struct store_ckpt_cursors {
	MDB_txn *txn;
	MDB_cursor *c[STORE_N_DBS];
};

/*
 * Puts or deletes key k of table db: v is the overlay's value (a flag
 * byte 1, then the value; a tombstone otherwise). Deleting a key the base
 * does not hold is not an error. Returns 0 or an LMDB code.
 */
int store_ckpt_cursor_apply(store *s, struct store_ckpt_cursors *cc, int db,
        const MDB_val *k, const MDB_val *v);
void store_ckpt_cursors_close(struct store_ckpt_cursors *cc);

/* The frozen overlay (valid while s->frozen). */
struct store_ovl *store_frozen(store *s);

/* Closes the overlay, if any (store_close). */
void store_overlay_close(store *s);

/* Writes msg into a value of exactly its packed size, without a copy. */
clm_err store_put_msg(store_txn *t, enum store_db db, MDB_val *k,
        const ProtobufCMessage *msg, const char *what);
clm_err store_put_msg_known(store_txn *t, enum store_db db, MDB_val *k,
        const ProtobufCMessage *msg, const char *what, enum kv_known known);

#endif /* CLM_STORE_INTERNAL_H */
