/*
 * fsdir: make a directory's entries durable. By POSIX a file created,
 * renamed or deleted in a directory survives a power loss only once the
 * directory itself has been fsync'd; fsync of the file does not cover its
 * name (ext4 happens to, other filesystems need not).
 */
#ifndef CLM_FSDIR_H
#define CLM_FSDIR_H

/*
 * fsdir_sync opens the directory dir and fsyncs it, so every entry created,
 * renamed or removed in it so far survives a power loss. Returns 0, or -1
 * with errno set (from open or fsync). Any thread.
 */
int fsdir_sync(const char *dir);

/*
 * fsdir_sync_parent fsyncs the directory that holds path (its parent; "."
 * for a name without a slash), so that path's own entry survives a power
 * loss: call it after creating or renaming path. Returns 0, or -1 with
 * errno set (ENAMETOOLONG when path does not fit PATH_MAX). Any thread.
 */
int fsdir_sync_parent(const char *path);

#endif /* CLM_FSDIR_H */
