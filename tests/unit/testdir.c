#include "testdir.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
testdir_make(char *path, size_t n, const char *tag)
{
	snprintf(path, n, "/tmp/clm-%s-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(path), "mkdtemp %s", path);
}

void
testdir_remove(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0
			        || strcmp(e->d_name, "..") == 0) {
				continue;
			}
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			testdir_remove(sub);
		}
		closedir(d);
	}
	rmdir(path);
}
