/*
 * store_snapshot: a consistent copy of a data directory's base view with
 * its journal position, for `clm snapshot` (docs/operations.md
 * "Snapshots"): a new node starts from it and replays the journal (in
 * cluster mode, the stream) from that position on.
 *
 * It reads the data directory as a second process may, through LMDB's own
 * locking (a read transaction beside a running clmd), so it needs nothing
 * of clmd's store: the CLI links it alone (with util/fsdir.c and LMDB).
 */
#ifndef CLM_STORE_SNAPSHOT_H
#define CLM_STORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

/* How often a copy taken between the chunks of a checkpoint is retaken. */
#define STORE_SNAPSHOT_TRIES 20

/* What store_snapshot wrote. */
struct store_snapshot_info {
	uint64_t position; /* meta "journal_pos" of the copy: its checkpoint */
	uint64_t bytes;    /* the size of the file written */
};

/*
 * store_snapshot copies DIR/data.mdb (the base view, as of its last
 * checkpoint; the overlay and the journal are not in it) to file,
 * compacted (mdb_env_copyfd2 with MDB_CP_COMPACT) into FILE.tmp next to
 * it, synced, then renamed to file and the directory synced: file is
 * either the whole copy or untouched. The copy is one read transaction,
 * so it is consistent whatever clmd commits meanwhile; one taken between
 * the chunks of a chunked checkpoint (meta "ckpt_image" set: the base is
 * then half moved) is taken again, up to STORE_SNAPSHOT_TRIES times,
 * 100 ms apart. The position is read from the copy itself (meta
 * "journal_pos", 8 bytes big-endian; 0 when absent: nothing was ever
 * checkpointed). Fills *out on success. Errors, with the reason in err:
 * NOT_FOUND (no data.mdb in dir), FAILED_PRECONDITION (not a clm data
 * directory, or still mid-checkpoint after every try), UNAVAILABLE (I/O,
 * LMDB). Not thread-safe with itself on the same file.
 */
clm_err store_snapshot(const char *dir, const char *file,
        struct store_snapshot_info *out, char *err, size_t errlen);

#endif /* CLM_STORE_SNAPSHOT_H */
