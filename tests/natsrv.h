/*
 * natsrv: a NATS JetStream cluster of real nats-server processes for the
 * tests (issue 16), usable from unit and integration tests alike.
 *
 * natsrv_start starts 1 or 3 (up to NATSRV_MAX_NODES) `nats-server`
 * processes on free loopback ports, each with a config file of its own
 * (server_name "n<i>", client and monitoring ports, jetstream.store_dir,
 * and with more than one node a cluster block routing to every node) in a
 * new temp dir /tmp/clm-nats-XXXXXX, and waits until each node is ready
 * (its monitoring port answers /healthz and, in a cluster, it knows the
 * JetStream meta leader). Measured on a 2-core machine: ~1.5 s for three.
 *
 * Criterion runs every test in its own process: start the cluster inside
 * the test (or its .init), never at file scope, and call natsrv_stop from
 * the test's .fini too, so a failed test leaves no process and no temp
 * dir behind. The servers also get SIGKILL when the thread that started
 * them dies (PR_SET_PDEATHSIG): start them from the test's main thread.
 *
 * Not thread-safe: call it from one thread.
 */
#ifndef CLM_TESTS_NATSRV_H
#define CLM_TESTS_NATSRV_H

#include <stdbool.h>
#include <sys/types.h>

#ifndef NATSRV_BIN
#define NATSRV_BIN "/usr/sbin/nats-server"
#endif

#define NATSRV_MAX_NODES 5

typedef struct natsrv natsrv;

/*
 * natsrv_start starts a cluster of nodes nodes (1..NATSRV_MAX_NODES; 1 is
 * a single server without a cluster block) and waits up to 15 s for every
 * node to be ready. extra_conf (NULL: none) is appended to every node's
 * config, e.g. "authorization { token: \"s3cret\" }\n". Returns the
 * cluster, or NULL (with the reason and the logs on stderr; nothing is
 * left running). Free it with natsrv_stop.
 */
natsrv *natsrv_start(int nodes, const char *extra_conf);

/* natsrv_size returns the number of nodes. */
int natsrv_size(const natsrv *n);

/*
 * natsrv_urls returns every node's client URL, comma-separated
 * ("nats://127.0.0.1:P0,nats://127.0.0.1:P1,..."): a NATS client's server
 * list. Valid until natsrv_stop.
 */
const char *natsrv_urls(const natsrv *n);

/* natsrv_url returns node i's client URL ("nats://127.0.0.1:P"). */
const char *natsrv_url(const natsrv *n, int i);

/* natsrv_name returns node i's server_name ("n0", "n1", ...). */
const char *natsrv_name(const natsrv *n, int i);

/* natsrv_dir returns the temp dir (node i's store is its "n<i>/"). */
const char *natsrv_dir(const natsrv *n);

/* natsrv_pid returns node i's pid, or 0 when it is not running. */
pid_t natsrv_pid(const natsrv *n, int i);

/*
 * natsrv_kill9 kills node i with SIGKILL and reaps it (its store stays).
 * Returns 0, or -1 when it was not running.
 */
int natsrv_kill9(natsrv *n, int i);

/*
 * natsrv_stop_node stops node i cleanly (SIGTERM; SIGKILL after 10 s),
 * so its store holds everything it had; it stays, for natsrv_restart or
 * a look at the files. Returns 0, or -1 when it was not running or had to
 * be killed.
 */
int natsrv_stop_node(natsrv *n, int i);

/*
 * natsrv_restart starts node i again, on the same ports, config and
 * store, and waits up to 15 s until it is ready. Returns 0 or -1 (the
 * reason on stderr; the node is then not running).
 */
int natsrv_restart(natsrv *n, int i);

/*
 * natsrv_leader waits up to timeout_ms for the stream named stream (of
 * the default account) to have a leader among the running nodes, and
 * returns its index: a leader that a running node reports and that
 * reports itself. With one node, that node once it knows the stream.
 * Returns -1 when there is none in time (dead nodes are not asked; a
 * leader that was killed is never returned).
 */
int natsrv_leader(natsrv *n, const char *stream, int timeout_ms);

/*
 * natsrv_stop stops every node (SIGTERM, then SIGKILL to those still
 * running after 10 s; each by its pid), removes the temp dir and frees n.
 * NULL is a no-op.
 */
void natsrv_stop(natsrv *n);

#endif /* CLM_TESTS_NATSRV_H */
