/*
 * The event seq's floor (store/store.h, store_seq_floor): DIR/event_seq
 * holds a seq no published LifecycleEvent has reached, written (synced,
 * renamed, its directory synced) before a commit takes seqs up to it.
 * The counter in meta reaches the base only with a checkpoint, and a
 * crash loses the overlay's: at open the counter starts at the floor
 * when that is higher, so seqs after a crash jump forward (a gap) and
 * never repeat one published before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/fsdir.h"

clm_err
store_seq_floor_load(store *s, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", s->dir, STORE_SEQ_FLOOR_FILE);
	FILE *f = fopen(path, "r");
	if (f == NULL && errno == ENOENT) {
		s->seq_floor = 0; /* none yet: the counter is exact */
		return CLM_OK;
	}
	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		        strerror(errno));
		return CLM_UNAVAILABLE;
	}
	char buf[32] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (n == 0 || end == buf || (*end != '\n' && *end != '\0')
	        || errno != 0) {
		snprintf(err, errlen, "'%s' does not hold a seq", path);
		return CLM_DATA_LOSS;
	}
	s->seq_floor = v;
	if (s->next_event_seq < v) {
		s->next_event_seq = v;
	}
	return CLM_OK;
}

clm_err
store_seq_floor_write(store *s, uint64_t floor)
{
	char path[4096], tmp[4104];
	snprintf(path, sizeof(path), "%s/%s", s->dir, STORE_SEQ_FLOOR_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		return store_err(
		        s, errno, "cannot create the event seq floor");
	}
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", floor);
	int rc = write(fd, buf, (size_t) len) == len ? 0 : -1;
	int saved = rc == 0 ? 0 : (errno != 0 ? errno : EIO);
	if (rc == 0 && fdatasync(fd) != 0) {
		rc = -1;
		saved = errno;
	}
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && fsdir_sync(s->dir) != 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0) {
		(void) unlink(tmp);
		return store_err(s, saved, "cannot write the event seq floor");
	}
	s->seq_floor = floor;
	return CLM_OK;
}
