/*
 * proctask: what /proc says about a process's threads, for the tests and
 * clm-bench (clmd names its own threads: server/util/thread.h).
 */
#ifndef CLM_TESTS_PROCTASK_H
#define CLM_TESTS_PROCTASK_H

#include <sys/types.h>

/*
 * proctask_stat_cpu returns the CPU seconds (utime + stime) in a /proc
 * stat file (/proc/PID/stat, /proc/PID/task/TID/stat), or 0.
 */
double proctask_stat_cpu(const char *path);

/*
 * proctask_named returns how many threads of pid are named name (a
 * thread that ends meanwhile is skipped), -1 when pid has no
 * /proc/PID/task; *cpu_s (may be NULL) gets their CPU seconds summed.
 */
int proctask_named(pid_t pid, const char *name, double *cpu_s);

#endif /* CLM_TESTS_PROCTASK_H */
