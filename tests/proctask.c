/* proctask: what /proc says about a process's threads (proctask.h). */
#include "proctask.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

double
proctask_stat_cpu(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the name in parentheses: state, then fields 4 to 15. */
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (p == NULL
	        || sscanf(p + 2,
	                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	                   &ut, &st)
	                != 2) {
		return 0;
	}
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

int
proctask_named(pid_t pid, const char *name, double *cpu_s)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int) pid);
	if (cpu_s != NULL) {
		*cpu_s = 0;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		return -1;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char path[400], comm[32] = "";
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			continue; /* the thread ended */
		}
		if (fgets(comm, sizeof(comm), f) == NULL) {
			comm[0] = '\0';
		}
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0) {
			continue;
		}
		n++;
		if (cpu_s != NULL) {
			snprintf(path, sizeof(path), "%s/%s/stat", dir,
			        e->d_name);
			*cpu_s += proctask_stat_cpu(path);
		}
	}
	closedir(d);
	return n;
}
