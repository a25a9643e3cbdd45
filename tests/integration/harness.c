/* The integration-test harness: see harness.h. */
#define _XOPEN_SOURCE 700

#include "harness.h"

#include "freeport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_MAX_PROCS     16
#define HARNESS_MAX_DIRS      16
#define HARNESS_START_MS      5000
#define HARNESS_STOP_MS       10000
#define HARNESS_CLI_MS        20000
#define HARNESS_MAX_EXTRA     32
#define HARNESS_MAX_CLI_ARGS  64
#define HARNESS_CLOSE_FDS_MAX 4096
#define HARNESS_PORT_TAKEN    1 /* clmd_spawn: start again on new ports */
#define HARNESS_PORT_TRIES    4

/* What harness_fini must undo if a test ends early. */
static pid_t harness_pids[HARNESS_MAX_PROCS];
static char harness_dirs[HARNESS_MAX_DIRS][PATH_MAX];
static char harness_url[64];

static int64_t
harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static void
harness_track_pid(pid_t pid, bool add)
{
	for (int i = 0; i < HARNESS_MAX_PROCS; i++) {
		if (add && harness_pids[i] == 0) {
			harness_pids[i] = pid;
			return;
		}
		if (!add && harness_pids[i] == pid) {
			harness_pids[i] = 0;
			return;
		}
	}
}

static void
harness_track_dir(const char *dir, bool add)
{
	for (int i = 0; i < HARNESS_MAX_DIRS; i++) {
		if (add && harness_dirs[i][0] == '\0') {
			snprintf(harness_dirs[i], PATH_MAX, "%s", dir);
			return;
		}
		if (!add && strcmp(harness_dirs[i], dir) == 0) {
			harness_dirs[i][0] = '\0';
			return;
		}
	}
}

static int
harness_rm_one(
        const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (rc != 0 && errno != ENOENT) {
		fprintf(stderr, "harness: cannot remove '%s': %s\n", path,
		        strerror(errno));
	}
	return 0;
}

int
harness_rm_rf(const char *path)
{
	if (path == NULL || path[0] == '\0') {
		return -1;
	}
	/* Only ever our own temp dirs. */
	if (strncmp(path, "/tmp/clm-it-", 12) != 0) {
		fprintf(stderr, "harness: refusing to remove '%s'\n", path);
		return -1;
	}
	return nftw(path, harness_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
harness_tmpdir(char *path)
{
	snprintf(path, 32, "/tmp/clm-it-XXXXXX");
	if (mkdtemp(path) == NULL) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	harness_track_dir(path, true);
	return 0;
}

int
harness_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return -1;
	}
	int rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) != 0 ? -1 : rc;
}

char *
harness_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			break;
		}
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
	}
	return buf;
}

int
harness_free_port(void)
{
	return freeport_pick();
}

/* Decodes a wait status: the exit code, or 128 + the signal. */
static int
harness_status(int st)
{
	if (WIFEXITED(st)) {
		return WEXITSTATUS(st);
	}
	if (WIFSIGNALED(st)) {
		return 128 + WTERMSIG(st);
	}
	return -1;
}

/* Closes every fd from 3 up (in a child, before exec). */
static void
harness_close_fds(void)
{
	for (int fd = 3; fd < HARNESS_CLOSE_FDS_MAX; fd++) {
		close(fd);
	}
}

/* Waits up to ms for pid to exit; returns its status, or -1. */
static int
harness_wait(pid_t pid, int ms)
{
	int64_t until = harness_now_ms() + ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			return harness_status(st);
		}
		if (r < 0 && errno != EINTR) {
			return -1;
		}
		if (harness_now_ms() >= until) {
			return -1;
		}
		harness_sleep_ms(5);
	}
}

/*
 * Prints clmd's log to stderr: all of it (its last 8 KiB) when all is set,
 * otherwise only when it holds a sanitizer report.
 */
static void
harness_dump_log(const struct clmd_proc *p, bool all)
{
	char *log = harness_read_file(p->log_path);
	if (log == NULL) {
		return;
	}
	bool report = strstr(log, "Sanitizer") != NULL
	        || strstr(log, "runtime error:") != NULL;
	if (all || report) {
		size_t n = strlen(log);
		const char *from = n > 8192 ? log + n - 8192 : log;
		fprintf(stderr, "harness: %s%s:\n%s\n",
		        report ? "SANITIZER REPORT in " : "", p->log_path,
		        from);
	}
	free(log);
}

/* Whether clmd at url answers ServerStatus. */
static bool
harness_answers(const char *url)
{
	clm_conn *c;
	if (clm_open(url, 500, &c) != CLM_OK) {
		return false;
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	/* Any reply means it serves (with tokens: UNAUTHENTICATED). */
	bool answered = e == CLM_OK || resp != NULL;
	clm_response_free(resp);
	clm_close(c);
	return answered;
}

/*
 * Whether the log from offset from says clmd could not bind url or
 * events_url, its own ports (not one a test passed in extra_args): its
 * check before opening the store says "address in use", the listen after
 * it NNG's "Address in use".
 */
static bool
harness_port_taken(const struct clmd_proc *p, long from)
{
	char *log = harness_read_file(p->log_path);
	if (log == NULL) {
		return false;
	}
	char *mine = (long) strlen(log) >= from ? log + from : log;
	for (char *c = mine; *c != '\0'; c++) {
		*c = (char) tolower((unsigned char) *c);
	}
	bool taken = false;
	const char *urls[] = { p->url, p->events_url };
	for (size_t i = 0; i < 2 && !taken; i++) {
		char want[128];
		snprintf(want, sizeof(want), "'%s': address in use", urls[i]);
		taken = strstr(mine, want) != NULL;
	}
	free(log);
	return taken;
}

/*
 * Starts clmd on two new free ports and waits for it (clmd_start_ms):
 * 0, -1, or HARNESS_PORT_TAKEN when it exited at start because one of
 * them was no longer free.
 */
static int
clmd_spawn(struct clmd_proc *p, const char *const *extra_args, int start_ms)
{
	struct stat st_log;
	long log_from
	        = stat(p->log_path, &st_log) == 0 ? (long) st_log.st_size : 0;
	p->pid = 0;
	p->exit_status = 0;
	p->port = harness_free_port();
	do {
		p->events_port = harness_free_port();
	} while (p->events_port == p->port && p->port > 0);
	if (p->port <= 0 || p->events_port <= 0) {
		fprintf(stderr, "harness: no free port\n");
		return -1;
	}
	snprintf(p->url, sizeof(p->url), "tcp://127.0.0.1:%d", p->port);
	snprintf(p->events_url, sizeof(p->events_url), "tcp://127.0.0.1:%d",
	        p->events_port);

	const char *argv[14 + HARNESS_MAX_EXTRA];
	int n = 0;
	argv[n++] = CLMD_BIN;
	argv[n++] = "--data";
	argv[n++] = p->data_dir;
	argv[n++] = "--listen";
	argv[n++] = p->url;
	argv[n++] = "--events";
	argv[n++] = p->events_url;
	/* So tests with auth tokens keep their tcp:// stream (see .h). */
	argv[n++] = "--events-unauthenticated";
	argv[n++] = "true";
	argv[n++] = "--log-level";
	argv[n++] = "warn";
	for (int i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
		if (i == HARNESS_MAX_EXTRA) {
			fprintf(stderr, "harness: too many extra args\n");
			return -1;
		}
		argv[n++] = extra_args[i];
	}
	argv[n] = NULL;

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Die with the test process, even when it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(127);
		}
		int in = open("/dev/null", O_RDONLY);
		int log = open(
		        p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (in < 0 || log < 0) {
			_exit(127);
		}
		dup2(in, 0);
		dup2(log, 1);
		dup2(log, 2);
		harness_close_fds();
		execv(CLMD_BIN, (char *const *) argv);
		_exit(127);
	}
	p->pid = pid;
	harness_track_pid(pid, true);
	harness_cli_url(p->url);

	int64_t until = harness_now_ms() + start_ms;
	while (harness_now_ms() < until) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			p->exit_status = harness_status(st);
			harness_track_pid(pid, false);
			p->pid = 0;
			if (p->exit_status != 0
			        && harness_port_taken(p, log_from)) {
				return HARNESS_PORT_TAKEN;
			}
			fprintf(stderr,
			        "harness: clmd exited with status %d at start (log %s)\n",
			        p->exit_status, p->log_path);
			harness_dump_log(p, true);
			return -1;
		}
		if (harness_answers(p->url)) {
			return 0;
		}
		harness_sleep_ms(20);
	}
	fprintf(stderr, "harness: clmd did not answer within %d ms (log %s)\n",
	        start_ms, p->log_path);
	clmd_kill9(p);
	harness_dump_log(p, true);
	p->exit_status = -1;
	return -1;
}

int
clmd_start(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args)
{
	return clmd_start_ms(p, data_dir, extra_args, HARNESS_START_MS);
}

int
clmd_start_ms(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args, int start_ms)
{
	char dir[PATH_MAX];
	bool restart = data_dir != NULL && p->own_dir
	        && strcmp(data_dir, p->data_dir) == 0;
	if (data_dir != NULL) {
		snprintf(dir, sizeof(dir), "%s", data_dir);
	}
	if (restart) {
		/* Same dir as before: keep base_dir, log and ownership. */
	} else if (data_dir == NULL) {
		memset(p, 0, sizeof(*p));
		if (harness_tmpdir(p->base_dir) != 0) {
			return -1;
		}
		p->own_dir = true;
		snprintf(p->data_dir, sizeof(p->data_dir), "%s/data",
		        p->base_dir);
	} else {
		memset(p, 0, sizeof(*p));
		snprintf(p->data_dir, sizeof(p->data_dir), "%s", dir);
		if (strlen(dir) >= sizeof(p->base_dir)) {
			fprintf(stderr, "harness: data dir path too long\n");
			return -1;
		}
		snprintf(p->base_dir, sizeof(p->base_dir), "%s", dir);
		char *slash = strrchr(p->base_dir, '/');
		if (slash == NULL) {
			snprintf(p->base_dir, sizeof(p->base_dir), ".");
		} else if (slash == p->base_dir) {
			slash[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
	snprintf(p->log_path, sizeof(p->log_path), "%s/clmd.log", p->base_dir);
	/*
	 * A port picked free can still be taken before clmd binds it: by
	 * another test process picking the same one at that moment. Then clmd
	 * exits at start saying so, and it is started again on new ports.
	 */
	for (int attempt = 1;; attempt++) {
		int rc = clmd_spawn(p, extra_args, start_ms);
		if (rc != HARNESS_PORT_TAKEN) {
			return rc;
		}
		if (attempt == HARNESS_PORT_TRIES) {
			fprintf(stderr,
			        "harness: clmd's ports were taken %d times in a row\n",
			        attempt);
			return -1;
		}
		fprintf(stderr,
		        "harness: clmd's port was taken at start; again on new ports\n");
	}
}

int
clmd_stop(struct clmd_proc *p)
{
	if (p->pid <= 0) {
		return -1;
	}
	kill(p->pid, SIGTERM);
	int st = clmd_wait(p, HARNESS_STOP_MS);
	if (st < 0) {
		fprintf(stderr, "harness: clmd %ld did not stop in %d ms\n",
		        (long) p->pid, HARNESS_STOP_MS);
		clmd_kill9(p);
		p->exit_status = -1;
		return -1;
	}
	return st;
}

int
clmd_start_preloaded(struct clmd_proc *p, const char *data_dir,
        const char *const *extra_args, const char *lib, const char *const *env)
{
	enum { MAX_VARS = 10 };
	char asan[1024], preload[1024], name[MAX_VARS][64];
	const char *was = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan),
	        "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
	        was != NULL ? was : "", was != NULL && was[0] ? ":" : "");
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	const char *vars[MAX_VARS] = { asan, preload };
	size_t n = 2;
	for (size_t i = 0; env != NULL && env[i] != NULL && n < MAX_VARS;
	        i++) {
		vars[n++] = env[i];
	}
	/* Set each NAME=VALUE, keeping what was there to put it back. */
	char *old[MAX_VARS] = { NULL };
	bool had[MAX_VARS] = { false };
	int rc = 0;
	size_t done = 0;
	for (; done < n && rc == 0; done++) {
		const char *eq = strchr(vars[done], '=');
		snprintf(name[done], sizeof(name[done]), "%.*s",
		        (int) (eq != NULL ? eq - vars[done] : 0), vars[done]);
		const char *cur = getenv(name[done]);
		had[done] = cur != NULL;
		old[done] = cur != NULL ? strdup(cur) : NULL;
		rc = eq != NULL ? setenv(name[done], eq + 1, 1) : -1;
	}
	if (rc == 0) {
		rc = clmd_start(p, data_dir, extra_args);
	}
	while (done-- > 0) {
		if (had[done]) {
			setenv(name[done], old[done], 1);
		} else {
			unsetenv(name[done]);
		}
		free(old[done]);
	}
	return rc;
}

int
clmd_wait(struct clmd_proc *p, int ms)
{
	if (p->pid <= 0) {
		return -1;
	}
	int st = harness_wait(p->pid, ms);
	if (st < 0) {
		return -1;
	}
	harness_track_pid(p->pid, false);
	p->pid = 0;
	p->exit_status = st;
	if (st != 0) {
		fprintf(stderr, "harness: clmd exited with status %d\n", st);
	}
	harness_dump_log(p, st != 0);
	return st;
}

void
clmd_kill9(struct clmd_proc *p)
{
	if (p->pid <= 0) {
		return;
	}
	kill(p->pid, SIGKILL);
	int st;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
	}
	harness_track_pid(p->pid, false);
	p->pid = 0;
	p->exit_status = 128 + SIGKILL;
}

void
clmd_cleanup(struct clmd_proc *p)
{
	clmd_kill9(p);
	if (p->log_path[0] != '\0') {
		harness_dump_log(p, false);
	}
	if (p->own_dir && p->base_dir[0] != '\0') {
		harness_rm_rf(p->base_dir);
		harness_track_dir(p->base_dir, false);
		p->own_dir = false;
	}
}

void
harness_fini(void)
{
	for (int i = 0; i < HARNESS_MAX_PROCS; i++) {
		if (harness_pids[i] > 0) {
			int st;
			kill(harness_pids[i], SIGKILL);
			while (waitpid(harness_pids[i], &st, 0) < 0
			        && errno == EINTR) {
			}
			harness_pids[i] = 0;
		}
	}
	for (int i = 0; i < HARNESS_MAX_DIRS; i++) {
		if (harness_dirs[i][0] != '\0') {
			harness_rm_rf(harness_dirs[i]);
			harness_dirs[i][0] = '\0';
		}
	}
}

void
harness_cli_url(const char *url)
{
	snprintf(harness_url, sizeof(harness_url), "%s", url ? url : "");
}

/* Appends len bytes to a growing buffer; returns 0 or -1. */
static int
harness_buf_add(
        char **buf, size_t *n, size_t *cap, const char *data, size_t len)
{
	if (*n + len + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (*n + len + 1 > nc) {
			nc *= 2;
		}
		char *nb = realloc(*buf, nc);
		if (nb == NULL) {
			return -1;
		}
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *n, data, len);
	*n += len;
	(*buf)[*n] = '\0';
	return 0;
}

int
run_cmd(const char *path, const char *const argv[], const char *stdin_text,
        int timeout_ms, char **out, char **err)
{
	int pin[2], pout[2], perr[2];
	if (out != NULL) {
		*out = NULL;
	}
	if (err != NULL) {
		*err = NULL;
	}
	if (pipe(pin) != 0) {
		return -1;
	}
	if (pipe(pout) != 0) {
		close(pin[0]);
		close(pin[1]);
		return -1;
	}
	if (pipe(perr) != 0) {
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		return -1;
	}
	/* A child that exits before reading stdin must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		for (int i = 0; i < 2; i++) {
			close(pin[i]);
			close(pout[i]);
			close(perr[i]);
		}
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(127);
		}
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		harness_close_fds();
		execv(path, (char *const *) argv);
		_exit(127);
	}
	harness_track_pid(pid, true);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	const char *in = stdin_text ? stdin_text : "";
	size_t in_len = strlen(in), in_off = 0;
	int in_fd = pin[1];
	fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	if (in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	char *bufs[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 }, caps[2] = { 0, 0 };
	int fds[2] = { pout[0], perr[0] };
	int64_t until = harness_now_ms() + timeout_ms;
	bool timed_out = false;
	while (fds[0] >= 0 || fds[1] >= 0 || in_fd >= 0) {
		int64_t left = until - harness_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf[3];
		int np = 0;
		for (int i = 0; i < 2; i++) {
			pf[np].fd = fds[i];
			pf[np].events = POLLIN;
			pf[np].revents = 0;
			np++;
		}
		pf[np].fd = in_fd;
		pf[np].events = POLLOUT;
		pf[np].revents = 0;
		np++;
		int r = poll(pf, (nfds_t) np, (int) left);
		if (r < 0 && errno != EINTR) {
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || pf[i].revents == 0) {
				continue;
			}
			char chunk[4096];
			ssize_t got = read(fds[i], chunk, sizeof(chunk));
			if (got > 0) {
				harness_buf_add(&bufs[i], &lens[i], &caps[i],
				        chunk, (size_t) got);
			} else if (got == 0 || errno != EINTR) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (in_fd >= 0 && pf[2].revents != 0) {
			ssize_t w = write(in_fd, in + in_off, in_len - in_off);
			if (w > 0) {
				in_off += (size_t) w;
			}
			if ((w < 0 && errno != EAGAIN && errno != EINTR)
			        || in_off == in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
		if (bufs[i] == NULL) {
			bufs[i] = calloc(1, 1);
		}
	}
	if (in_fd >= 0) {
		close(in_fd);
	}
	if (timed_out) {
		kill(pid, SIGKILL);
	}
	int st = harness_wait(pid, timed_out ? 5000 : timeout_ms);
	if (st < 0) {
		kill(pid, SIGKILL);
		harness_wait(pid, 5000);
	}
	harness_track_pid(pid, false);
	if (out != NULL) {
		*out = bufs[0];
	} else {
		free(bufs[0]);
	}
	if (err != NULL) {
		*err = bufs[1];
	} else {
		free(bufs[1]);
	}
	if (timed_out) {
		fprintf(stderr, "harness: '%s' timed out after %d ms\n", path,
		        timeout_ms);
		return -1;
	}
	return st;
}

int
run_cli(const char *const argv[], const char *stdin_text, char **out,
        char **err)
{
	const char *args[HARNESS_MAX_CLI_ARGS + 4];
	int n = 0;
	bool has_url = false;
	for (int i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--url") == 0) {
			has_url = true;
		}
	}
	args[n++] = CLM_BIN;
	if (!has_url && harness_url[0] != '\0') {
		args[n++] = "--url";
		args[n++] = harness_url;
	}
	for (int i = 0; argv[i] != NULL; i++) {
		if (i == HARNESS_MAX_CLI_ARGS) {
			fprintf(stderr, "harness: too many CLI args\n");
			return -1;
		}
		args[n++] = argv[i];
	}
	args[n] = NULL;
	return run_cmd(CLM_BIN, args, stdin_text, HARNESS_CLI_MS, out, err);
}

bool
tp_batch_init(struct tp_batch *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->tp = calloc(cap, sizeof(*b->tp));
	b->ptr = calloc(cap, sizeof(*b->ptr));
	b->eid = calloc(cap, sizeof(*b->eid));
	b->cid = calloc(cap, sizeof(*b->cid));
	b->cap = cap;
	return b->tp != NULL && b->ptr != NULL && b->eid != NULL
	        && b->cid != NULL;
}

void
tp_batch_fini(struct tp_batch *b)
{
	free(b->tp);
	free(b->ptr);
	free(b->eid);
	free(b->cid);
	memset(b, 0, sizeof(*b));
}

uint64_t
tp_track_new(clm_conn *c, const char *prefix, int round, size_t n)
{
	struct tp_batch b;
	if (!tp_batch_init(&b, n)) {
		tp_batch_fini(&b);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		Clm__V1__Touchpoint *tp = &b.tp[i];
		clm__v1__touchpoint__init(tp);
		snprintf(b.cid[i], sizeof(b.cid[i]), "%s-%d-%zu", prefix,
		        round, i);
		snprintf(b.eid[i], sizeof(b.eid[i]), "%s-e-%d-%zu", prefix,
		        round, i);
		tp->customer_id = b.cid[i];
		tp->event_id = b.eid[i];
		tp->type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
		tp->channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		b.ptr[i] = tp;
	}
	Clm__V1__Response *resp = NULL;
	uint64_t pos = 0;
	if (clm_track(c, b.ptr, n, &resp) == CLM_OK && resp->track != NULL
	        && resp->track->accepted == n) {
		pos = resp->position;
	}
	clm_response_free(resp);
	tp_batch_fini(&b);
	return pos;
}

double
harness_metric(int port, const char *name)
{
	char *body = harness_metrics(port);
	if (body == NULL) {
		return -1;
	}
	char want[160];
	snprintf(want, sizeof(want), "\n%s ", name);
	const char *p = strstr(body, want);
	double v = p != NULL ? strtod(p + strlen(want), NULL) : -1;
	free(body);
	return v;
}

char *
harness_metrics(int port)
{
	int fd = -1;
	for (int i = 0; i < 2000 && fd < 0; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			return NULL;
		}
		struct sockaddr_in sa = { 0 };
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t) port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
			close(fd);
			fd = -1;
			harness_sleep_ms(10); /* a retry, bounded above */
		}
	}
	if (fd < 0) {
		return NULL;
	}
	struct timeval tv = { 20, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char req[256];
	int n = snprintf(req, sizeof(req),
	        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	        port);
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	ssize_t got = -1;
	if (buf != NULL && write(fd, req, (size_t) n) == n) {
		while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
			len += (size_t) got;
		}
	}
	close(fd);
	if (got < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Whether the n bytes at p contain needle (nl bytes, nl > 0). */
static bool
harness_bytes_hold(const char *p, size_t n, const char *needle, size_t nl)
{
	for (size_t i = 0; i + nl <= n; i++) {
		if (p[i] == needle[0] && memcmp(p + i, needle, nl) == 0) {
			return true;
		}
	}
	return false;
}

int
harness_files_holding(
        const char *dir, const char *needle, char *first, size_t len)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		return -1;
	}
	int n = 0;
	size_t nl = strlen(needle);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			continue;
		}
		FILE *f = fopen(path, "rb");
		if (f == NULL) {
			continue; /* renamed or deleted meanwhile */
		}
		size_t cap = (size_t) st.st_size + 1, got = 0, r;
		char *data = malloc(cap);
		while (data != NULL
		        && (r = fread(data + got, 1, cap - got, f)) > 0) {
			got += r;
			if (got == cap) {
				char *more = realloc(data, cap * 2);
				if (more == NULL) {
					free(data);
				}
				data = more;
				cap *= 2;
			}
		}
		fclose(f);
		if (data == NULL) {
			n = -1;
			break;
		}
		if (nl > 0 && harness_bytes_hold(data, got, needle, nl)) {
			if (n++ == 0 && len > 0) {
				snprintf(first, len, "%s", de->d_name);
			}
		}
		free(data);
	}
	closedir(d);
	return n;
}
