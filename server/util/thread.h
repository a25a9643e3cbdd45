/*
 * thread: names for clmd's own threads, so that `top -H`, `ps -L`, perf
 * and /proc/PID/task/TID/comm tell the writer from the checkpoint thread
 * (docs/operations.md, "Monitoring"). nng names its threads "nng:...";
 * ours are "clm:...". The main thread keeps the process's name, clmd.
 */
#ifndef CLM_THREAD_H
#define CLM_THREAD_H

/*
 * thread_name names the calling thread: at most 15 bytes (Linux's limit;
 * a longer name is cut). Best effort: a failure changes nothing else.
 */
void thread_name(const char *name);

#endif /* CLM_THREAD_H */
