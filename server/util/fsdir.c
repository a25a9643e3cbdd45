#include "util/fsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
fsdir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	int rc = fsync(fd);
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}

int
fsdir_sync_parent(const char *path)
{
	char parent[PATH_MAX];
	if (snprintf(parent, sizeof(parent), "%s", path)
	        >= (int) sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Trailing slashes name the same entry: "a/b/" is b in a. */
	size_t n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/') {
		parent[--n] = '\0';
	}
	char *slash = strrchr(parent, '/');
	if (slash == NULL) {
		return fsdir_sync(".");
	}
	if (slash == parent) {
		slash[1] = '\0'; /* "/x": the root */
	} else {
		*slash = '\0';
	}
	return fsdir_sync(parent);
}
