/*
 * dirlock: one clmd per data directory. The lock is a flock(2) on the
 * directory itself: deleting a file in it (clmd.pid) does not let a second
 * clmd in.
 */
#ifndef CLM_STORE_DIRLOCK_H
#define CLM_STORE_DIRLOCK_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * dirlock_open creates dir (mode 0750) when it is missing, then fsyncs
 * its parent so the new directory survives a power loss, and takes an
 * exclusive flock on the directory, without waiting. Returns the descriptor
 * that holds the lock (close it to release the lock; it is close-on-exec),
 * or -1 with the reason in err: "data dir 'D' is in use by another clmd
 * (pid N)" when another process holds the lock (without "(pid N)" when
 * /proc/locks does not name it), or why dir cannot be made, opened or
 * locked (or its parent synced). A second call on the same dir is refused even
 * in the same process: each call locks its own open file description.
 */
int dirlock_open(const char *dir, char *err, size_t errlen);

/*
 * dirlock_holder reads locks, text in the format of /proc/locks, and returns
 * the pid of the process holding a flock(2) write lock on the inode ino of
 * the device dev, or 0 when none is listed (also when the holder is in a
 * pid namespace the reader cannot see). Waiters (lines with "->") are
 * skipped. Reads locks to its end or to the match.
 */
long dirlock_holder(FILE *locks, dev_t dev, ino_t ino);

#endif /* CLM_STORE_DIRLOCK_H */
