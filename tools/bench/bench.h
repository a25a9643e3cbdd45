/*
 * clm-bench's parts: the load (clients, histograms, one measured run),
 * the echo server, the clmd it starts and preloads, and what it reads
 * from the system and from clmd's /metrics around a run (disk.c).
 */
#ifndef CLM_BENCH_H
#define CLM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#define BENCH_MAX_CLIENTS 256
#define BENCH_BUCKETS     512 /* 2^(k/16) ns: about 4 % wide */

/* bench_now returns monotonic seconds; bench_wall wall-clock seconds. */
double bench_now(void);
double bench_wall(void);

/* bench_sleep sleeps seconds (a fraction is fine). */
void bench_sleep(double seconds);

/* A latency histogram: buckets 2^(k/16) ns wide. */
struct bench_hist {
	uint64_t b[BENCH_BUCKETS];
	uint64_t n;
};

/* bench_hist_add counts one latency of seconds. */
void bench_hist_add(struct bench_hist *h, double seconds);

/* bench_hist_merge adds h's counts to into. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h);

/* bench_hist_q returns the q-quantile in microseconds (0 when empty). */
double bench_hist_q(const struct bench_hist *h, double q);

/* One run: a workload at a number of clients against url. */
struct bench_cfg {
	const char *url;
	const char *workload;
	int clients;
	double seconds;
	int customers;
	size_t echo_bytes;
	int http_port; /* clmd's --http on 127.0.0.1 (http-batch), or 0 */
	/*
	 * --rate: items a second for all clients together, each client
	 * sending its calls on a schedule (clients calls at rate / clients,
	 * a call's items each); 0: as fast as the replies come.
	 */
	double rate;
};

/*
 * A snapshot of the clm_journal_* and clm_checkpoint_* figures; ok is
 * false when /metrics could not be read (or has no journal: an older
 * clmd, every value then 0).
 */
struct bench_metrics {
	bool ok;
	double jcommits, jentries, jposition, jbytes;
	double ckpts, ckpt_seconds, ckpt_last_s, ckpt_keys, ckpt_bytes;
	double ckpt_position;
	double recovery_entries, recovery_seconds;
	/* clm_checkpoint_replay_seconds is there: clmd takes SIGUSR1. */
	bool ckpt_on_usr1;
};

/*
 * What bench_run measured. The checkpoint figures come from clmd's
 * /metrics, sampled during the run (so the max is that of the
 * checkpoints that finished in it); they stay 0 without http_port.
 */
struct bench_result {
	double ops_s, items_s, p50, p99, p999, cpu_us;
	double write_b;        /* wchar per item */
	double calls_a_commit; /* write calls per write transaction */
	double jcommits_s;     /* journal commits (fdatasyncs) per second */
	double writer_pct;     /* clmd's clm:writer thread, % of a core */
	double ckpt_pct;       /* its clm:ckpt thread, % of a core */
	uint64_t items;
	uint64_t ckpts;                    /* checkpoints during the run */
	double ckpt_mean_ms, ckpt_max_ms;  /* their durations */
	double ckpt_keys, ckpt_overlay_kb; /* per checkpoint */
	struct bench_metrics end;          /* /metrics at the end */
	uint64_t errors;
};

/*
 * bench_run runs cfg's workload for cfg->seconds and measures it; clmd is
 * the server's pid (its CPU and wchar are read from /proc), or -1.
 */
struct bench_result bench_run(const struct bench_cfg *cfg, pid_t clmd);

/*
 * A keep-alive HTTP/1.1 connection to 127.0.0.1:port (clmd's --http), on
 * a plain TCP socket, opened by the first request and again after the
 * server closed it. One thread at a time.
 */
struct bench_http {
	int fd; /* -1 while not connected */
	int port;
	char *in; /* what was received: the last answer, and what follows */
	size_t in_cap, in_len, in_off;
	char *out; /* the request being sent */
	size_t out_cap;
};

/* An answer: its status and body, valid until the next request. */
struct bench_http_answer {
	int status;
	const char *body;
	size_t len;
};

/* bench_http_init prepares h for 127.0.0.1:port; nothing is opened yet. */
void bench_http_init(struct bench_http *h, int port);

/* bench_http_close closes h's connection (the next request opens one). */
void bench_http_close(struct bench_http *h);

/* bench_http_fini closes h and frees its buffers. */
void bench_http_fini(struct bench_http *h);

/*
 * bench_http_post sends POST path with the extra header lines headers
 * ("Name: value\r\n" each, or NULL) and body[0..len), and reads the
 * answer into *ans (framed by Content-Length, chunked, or the end of the
 * connection). Returns 0 with any status, or -1 when no whole answer came
 * (connect, send or receive failed, 30 s without a byte, a malformed
 * or oversized answer): the connection is then closed.
 */
int bench_http_post(struct bench_http *h, const char *path,
        const char *headers, const char *body, size_t len,
        struct bench_http_answer *ans);

/*
 * bench_http_batch writes into buf (of cap bytes) a Segment /v1/batch
 * body of n track and page items for customers "bench-0" ... spread as
 * track-batch spreads them, with messageIds "<id_prefix>-<seq>-<i>" and
 * the current time. Returns its length, or 0 when cap is too small.
 */
size_t bench_http_batch(char *buf, size_t cap, const char *id_prefix,
        uint64_t seq, int n, int customers, uint32_t *seed);

/* The echo server: a REP socket with one context per client. */
struct bench_echo {
	nng_socket sock;
	struct bench_echo_work *works;
};

/* bench_echo_start listens on url. Returns 0 or -1. */
int bench_echo_start(struct bench_echo *e, const char *url);

/* bench_echo_stop stops every context and closes the socket. */
void bench_echo_stop(struct bench_echo *e);

/*
 * bench_echo_main serves `clm-bench --echo-server URL`: says "ready" on
 * stdout once listening, serves until stdin closes. Returns the exit code.
 */
int bench_echo_main(const char *url);

/*
 * bench_echo_spawn starts `self --echo-server url` and waits for it to
 * listen. Returns its pid, or -1; *feed is the pipe whose closing stops it.
 */
pid_t bench_echo_spawn(const char *self, const char *url, int *feed);

/* bench_cpu returns pid's CPU seconds (utime + stime), or 0. */
double bench_cpu(pid_t pid);

/*
 * bench_thread_cpu returns the CPU seconds of pid's threads named name
 * (clmd names its own: util/thread.h), or 0 when it has none.
 */
double bench_thread_cpu(pid_t pid, const char *name);

/*
 * bench_proc returns a number from a /proc/PID file's "key: value" line
 * (io's wchar, status's RssAnon in kB), or 0.
 */
double bench_proc(pid_t pid, const char *file, const char *key);

/*
 * bench_commits reads clmd's write transactions and the write calls they
 * held so far (ServerStatus); both 0 when it cannot.
 */
void bench_commits(
        const char *url, uint64_t *transactions, uint64_t *requests);

/* bench_free_port returns a TCP port free on 127.0.0.1 now, or 0. */
int bench_free_port(void);

/*
 * bench_start_clmd starts the clmd binary on dir listening on url with
 * --durability durability, --http 127.0.0.1:http_port when http_port is
 * not 0, and the NULL-terminated extra arguments (may be NULL), and waits
 * up to 60 s until it answers ServerStatus. Returns its pid, or -1.
 */
pid_t bench_start_clmd(const char *clmd, const char *dir, const char *url,
        const char *durability, int http_port, const char *const *extra);

/*
 * The segment workload (segment.c): BENCH_SEGMENTS segments of varied
 * shape, named by bench_segment_name (bench-seg-00 ..), which the
 * segment-count workload reads.
 */
#define BENCH_SEGMENTS 20

/* bench_segment_name writes the name of segment i into name. */
void bench_segment_name(int i, char name[32]);

/*
 * bench_segments_define defines the BENCH_SEGMENTS segments through url
 * and waits until none is backfilling; *seconds is how long that took.
 * Returns 0, or -1 (said on stderr).
 */
int bench_segments_define(const char *url, double *seconds);

/*
 * bench_segments_clear deletes the bench's segments, those of
 * bench_segments_define and bench_segment_backfill (the missing ones are
 * no error).
 */
void bench_segments_clear(const char *url);

/*
 * bench_segment_backfill defines one more segment and times its
 * backfill, from the call to the first GetSegment that is no longer
 * backfilling (polled every 5 ms): *seconds, over *customers (ServerStatus
 * before it), with *members in it at the end. Returns 0, or -1 (said on
 * stderr).
 */
int bench_segment_backfill(const char *url, double *seconds,
        uint64_t *customers, uint64_t *members);

/*
 * The journey workload (journey.c): BENCH_JOURNEYS journeys of varied
 * triggers (bench-jny-00 ..), none of whose steps comes due in the bench.
 */
#define BENCH_JOURNEYS 10

/*
 * bench_journeys_define defines the BENCH_JOURNEYS journeys through url.
 * Returns 0, or -1 (said on stderr).
 */
int bench_journeys_define(const char *url);

/*
 * bench_journeys_clear deletes the bench's journeys (the missing ones are
 * no error).
 */
void bench_journeys_clear(const char *url);

/* What bench_journey_fire measured. */
struct bench_fire {
	double enter_s;  /* tracking the PURCHASE of every customer */
	uint64_t active; /* customers in the journey before the move */
	double first_s;  /* from the clock's move to the first step seen */
	double fire_s;   /* from the clock's move to the last step seen */
	double peak_s;   /* the most steps run in one second */
	double cpu_s;    /* clmd's CPU seconds over fire_s (0: unknown) */
	uint64_t fired;  /* steps run: sent or skipped */
	uint64_t sent;
};

/*
 * bench_journey_fire defines one more journey (a PURCHASE, an hour, one
 * message), tracks a PURCHASE for each of the customers through url,
 * then writes an hour into clmd's test clock file clock_file so every
 * step is due, and polls GetJourney every 50 ms until every customer's
 * step ran; clmd (its pid, or -1) is the process whose CPU time it
 * reads. Returns 0, or -1 (said on stderr).
 */
int bench_journey_fire(const char *url, const char *clock_file, int customers,
        pid_t clmd, struct bench_fire *out);

/*
 * bench_preload tracks customers customers with a short history (and
 * history more visits each) through url.
 */
void bench_preload(const char *url, int customers, int history);

/* bench_metrics_read fills m from clmd's /metrics on 127.0.0.1:port. */
void bench_metrics_read(int port, struct bench_metrics *m);

/*
 * The block device that holds a path: its /sys/block name (the whole
 * disk when the path is on a partition), or "" when there is none
 * (tmpfs, overlay without a backing device).
 */
struct bench_dev {
	char name[64];
};

/* bench_dev_find resolves path's device into d. Returns 0 or -1. */
int bench_dev_find(const char *path, struct bench_dev *d);

/*
 * bench_dev_written returns the bytes written to d so far (field 7 of
 * /sys/block/NAME/stat, sectors of 512 bytes), or -1.
 */
double bench_dev_written(const struct bench_dev *d);

/*
 * bench_settle waits (up to timeout seconds) until clmd's last checkpoint
 * covers every journal entry written so far — or, for a clmd without a
 * journal, at once — then syncs the filesystem holding dir, so that a
 * device count read next includes all the writing the work so far
 * caused. *covered is the journal position known to be checkpointed
 * (updated). Returns 0, or -1 on a timeout (the sync happens anyway).
 */
int bench_settle(int port, const char *dir, double *covered, double timeout);

#endif /* CLM_BENCH_H */
