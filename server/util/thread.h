/*
 * thread: clmd's own threads, started with a name, so that `top -H`,
 * `ps -L`, perf and /proc/PID/task/TID/comm tell the writer from the
 * checkpoint thread (docs/operations.md, "Monitoring"). nng names its
 * threads "nng:..."; ours are "clm:...". The main thread keeps the
 * process's name, clmd.
 */
#ifndef CLM_THREAD_H
#define CLM_THREAD_H

#include <pthread.h>

/*
 * thread_start is pthread_create with default attributes, then names the
 * new thread (at most 15 bytes, Linux's limit; a longer name is cut)
 * before it returns, so the name is there once the caller goes on.
 * Returns pthread_create's code; naming is best effort.
 */
int thread_start(
        pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

#endif /* CLM_THREAD_H */
