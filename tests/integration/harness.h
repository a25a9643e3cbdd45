/*
 * Integration-test harness: start and stop real clmd processes on free
 * loopback ports, and run the clm CLI, capturing its output.
 *
 * Criterion runs every test in its own process: start clmd inside the test
 * (or an .init fixture), never at file scope, and call harness_fini() from a
 * .fini fixture so a failed test leaves no clmd and no temp dir behind. The
 * children also get SIGKILL when the test process dies (PR_SET_PDEATHSIG).
 */
#ifndef CLM_IT_HARNESS_H
#define CLM_IT_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "clm/client.h"

#ifndef CLMD_BIN
#error "CLMD_BIN must be defined (absolute path of clmd)"
#endif
#ifndef CLM_BIN
#error "CLM_BIN must be defined (absolute path of clm)"
#endif

struct clmd_proc {
	pid_t pid;                    /* 0 when not running */
	char base_dir[PATH_MAX - 64]; /* data_dir's parent; has clmd.log */
	char data_dir[PATH_MAX];      /* --data */
	char log_path[PATH_MAX];      /* clmd's stdout and stderr (appended) */
	int port;                     /* --listen tcp://127.0.0.1:PORT */
	int events_port;              /* --events tcp://127.0.0.1:PORT */
	char url[64];                 /* tcp://127.0.0.1:PORT */
	char events_url[64];          /* tcp://127.0.0.1:PORT */
	bool own_dir;                 /* base_dir was made by clmd_start */
	int exit_status;              /* of the last exit, see clmd_stop */
};

/*
 * clmd_start starts CLMD_BIN on two free loopback ports with --data
 * data_dir (NULL: a new directory under a new mkdtemp /tmp/clm-it-XXXXXX),
 * --events-unauthenticated true (so the tcp:// events port also works with
 * --auth-token-file), --log-level warn and the NULL-terminated extra_args
 * (may be NULL; a later flag wins: "--events", "" asks for clmd's default
 * events URL, "--events-unauthenticated", "false" drops the opt-in), and
 * waits up to 5 s until it answers ServerStatus. When clmd exits at start
 * because another process took one of its two ports first, it starts again
 * on new ones (up to 4 times). Restarting on the same data dir:
 * clmd_start(p, p->data_dir, ...) is fine. Returns 0, or -1 (clmd
 * exited, or did not answer and was killed; p->exit_status is then set,
 * and the log is in p->log_path).
 */
int clmd_start(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args);

/*
 * clmd_start_ms is clmd_start waiting up to start_ms instead of 5 s (a
 * cluster node first joins its NATS stream and applies what it holds).
 */
int clmd_start_ms(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args, int start_ms);

/*
 * clmd_start_preloaded is clmd_start with the shared library lib in
 * LD_PRELOAD and the NULL-terminated "NAME=VALUE" strings in env set for
 * clmd only (the test process and what it runs later never see them);
 * ASAN_OPTIONS gains verify_asan_link_order=0, which an ASan clmd needs to
 * run behind a preloaded library.
 */
int clmd_start_preloaded(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args, const char *lib,
        const char *const *env);

/*
 * clmd_stop sends SIGTERM and waits up to 10 s for clmd to exit. Returns its
 * exit status (128 + signal when killed by one), or -1 when it did not exit
 * in time (it is then killed with SIGKILL).
 */
int clmd_stop(struct clmd_proc *p);

/*
 * clmd_wait waits up to ms for clmd to exit by itself (after a signal the
 * test sent). Returns its exit status, as clmd_stop, or -1 when it has not
 * exited (it is then left running).
 */
int clmd_wait(struct clmd_proc *p, int ms);

/* clmd_kill9 kills clmd with SIGKILL and reaps it. */
void clmd_kill9(struct clmd_proc *p);

/* clmd_cleanup kills clmd if running and removes the dir it made. */
void clmd_cleanup(struct clmd_proc *p);

/* harness_fini kills every clmd still running and removes every temp dir. */
void harness_fini(void);

/*
 * HARNESS_SUITE declares the Criterion suite `name` (timeout in seconds)
 * of a file whose tests share one clmd, `srv`: zeroed before each test,
 * stopped and removed after it with every other clmd and temp dir. Needs
 * <criterion/criterion.h> and <string.h> included first.
 */
#define HARNESS_SUITE(name, timeout_s)               \
	static struct clmd_proc srv;                 \
	static void harness_suite_setup(void)        \
	{                                            \
		memset(&srv, 0, sizeof(srv));        \
	}                                            \
	static void harness_suite_teardown(void)     \
	{                                            \
		clmd_cleanup(&srv);                  \
		harness_fini();                      \
	}                                            \
	TestSuite(name, .init = harness_suite_setup, \
	        .fini = harness_suite_teardown, .timeout = (timeout_s))

/*
 * harness_metrics returns the body of GET /metrics from clmd's --http on
 * 127.0.0.1:port, malloc'd (with the response's status line and headers
 * before it), or NULL when clmd cannot be reached. clmd starts http after
 * its RPC listeners, so connecting is retried for up to 20 s.
 */
char *harness_metrics(int port);
/*
 * harness_metric returns the value of the unlabelled series name on that
 * /metrics, or -1 when it is not there (or clmd cannot be reached).
 */
double harness_metric(int port, const char *name);

/*
 * harness_free_port returns a TCP port free on 127.0.0.1 right now, outside
 * the ephemeral range so no connection takes it first (freeport.h).
 */
int harness_free_port(void);

/* harness_tmpdir makes a new empty directory under /tmp (removed by
 * harness_fini); path must hold 32 bytes. Returns 0 or -1. */
int harness_tmpdir(char *path);

/* harness_rm_rf removes path and everything under it. Returns 0 or -1. */
int harness_rm_rf(const char *path);

/* harness_read_file returns the malloc'd contents of path, or NULL. */
char *harness_read_file(const char *path);

/* harness_write_file replaces path's contents with text; 0 or -1. */
int harness_write_file(const char *path, const char *text);

/*
 * harness_files_holding counts the regular files of directory dir whose
 * bytes contain needle anywhere (a file renamed or deleted meanwhile is
 * skipped), and names the first one in first (len bytes, may be 0).
 * Returns -1 when dir cannot be opened or memory runs out.
 */
int harness_files_holding(
        const char *dir, const char *needle, char *first, size_t len);

/*
 * run_cmd runs path with the NULL-terminated argv (argv[0] is the program
 * name), feeds it stdin_text (NULL: empty stdin) and captures stdout and
 * stderr into malloc'd NUL-terminated strings (out and err may be NULL).
 * Kills the program after timeout_ms. Returns its exit code, 128 + signal
 * when killed by one, or -1 on timeout or failure to start.
 */
int run_cmd(const char *path, const char *const argv[], const char *stdin_text,
        int timeout_ms, char **out, char **err);

/*
 * run_cli runs CLM_BIN with the NULL-terminated argv (without a program
 * name), preceded by "--url URL" of the clmd started last (unless argv
 * holds its own --url), with a 20 s timeout. See run_cmd.
 */
int run_cli(const char *const argv[], const char *stdin_text, char **out,
        char **err);

/* harness_cli_url sets the URL run_cli passes (NULL: none). */
void harness_cli_url(const char *url);

/* harness_sleep_ms sleeps ms milliseconds. */
void harness_sleep_ms(int ms);

/*
 * A heap batch of up to cap touchpoints with room for their event and
 * customer ids (eid[i], cid[i]); ptr[i] points at tp[i] for clm_track.
 * tp_batch_init returns false when memory runs out.
 */
struct tp_batch {
	Clm__V1__Touchpoint *tp;
	Clm__V1__Touchpoint **ptr;
	char (*eid)[48];
	char (*cid)[32];
	size_t n, cap;
};
bool tp_batch_init(struct tp_batch *b, size_t cap);
void tp_batch_fini(struct tp_batch *b);
/*
 * tp_track_new tracks n page views of new customers PREFIX-ROUND-I, with
 * event ids PREFIX-e-ROUND-I, in one call; the write's position, or 0
 * when the call failed (clm_last_error) or did not accept them all.
 */
uint64_t tp_track_new(clm_conn *c, const char *prefix, int round, size_t n);

#endif /* CLM_IT_HARNESS_H */
