/*
 * clmd: parse the configuration, open the store, start the writer and the
 * sockets, wait for SIGINT/SIGTERM, then shut down in order: stop
 * listening, let the writer drain and commit, send the last replies, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calls/auth.h"
#include "calls/calls.h"
#include "calls/cluster.h"
#include "calls/replay.h"
#include "calls/waitpos.h"
#include "config.h"
#include "ingest/sdk.h"
#include "journal/journal.h"
#include "journal/jstream.h"
#include "net/addrcheck.h"
#include "net/evring.h"
#include "net/exposure.h"
#include "net/hostcheck.h"
#include "net/http.h"
#include "net/notify.h"
#include "net/pubsub.h"
#include "net/rpc.h"
#include "net/webhook.h"
#include "server.h"
#include "store/agg_rebuild.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "write/writer.h"

/* Keeps fds 0-2 open so no database or socket ever lands on them. */
static void
main_keep_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1) {
			int n = open("/dev/null", O_RDWR);
			if (n > 2) {
				close(n);
			}
		}
	}
}

/*
 * The writer's publish callback: the stage-change stream (the PUB
 * socket, unless events = none) and the events /api/events replays
 * (when http is on).
 */
static void
main_publish(void *arg, const Clm__V1__LifecycleEvent *ev)
{
	const struct server *srv = arg;
	if (srv->ps != NULL) {
		pubsub_publish(srv->ps, ev);
	}
	if (srv->events != NULL) {
		http_publish(srv->events, ev);
	}
}

/*
 * The events URL when none is configured and no auth tokens are: it pairs
 * with the first listen URL as `clm watch` pairs them (docs/operations.md
 * "The clm command line"): tcp://HOST:PORT and tls+tcp://HOST:PORT give
 * tcp://127.0.0.1:PORT+1 (the stream stays on loopback), so the default
 * 7450 gives 7451; ipc://DIR/NAME gives ipc://DIR/events.sock (which
 * only clmd's user can connect to: the umask leaves no one else write
 * permission on it). Writes it into url (len bytes); returns 0, or -1
 * with the reason in err.
 */
static int
main_events_paired(const struct config *cfg, char *url, size_t len, char *err,
        size_t errlen)
{
	const char *first = cfg->n_listen > 0 ? cfg->listen[0] : "";
	if (strncmp(first, "ipc://", 6) == 0) {
		const char *slash = strrchr(first + 6, '/');
		int dir = slash != NULL ? (int) (slash - first) + 1 : 6;
		if (snprintf(url, len, "%.*sevents.sock", dir, first)
		        >= (int) len) {
			snprintf(err, errlen,
			        "listen URL '%.200s' is too long to pair the events socket with: set events",
			        first);
			return -1;
		}
		return 0;
	}
	const char *host = strncmp(first, "tcp://", 6) == 0 ? first + 6
	        : strncmp(first, "tls+tcp://", 10) == 0     ? first + 10
	                                                    : NULL;
	const char *colon = host != NULL ? strrchr(host, ':') : NULL;
	char *end = NULL;
	long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
	if (colon == NULL || end == colon + 1 || *end != '\0' || port < 1
	        || port >= 65535) {
		snprintf(err, errlen,
		        "cannot pair an events port with listen URL '%.200s' (PORT+1): set events = URL or events = none",
		        first);
		return -1;
	}
	snprintf(url, len, "tcp://127.0.0.1:%ld", port + 1);
	return 0;
}

static int
main_events(struct config *cfg, bool tokens, char *err, size_t errlen)
{
	if (cfg->events[0] != '\0') {
		return 0;
	}
	if (!tokens) {
		char url[160];
		return main_events_paired(cfg, url, sizeof(url), err, errlen)
		                != 0
		        ? -1
		        : config_set(cfg, "events", url, err, errlen);
	}
	/* Absolute, so `clm watch` finds it from any directory. */
	char cwd[PATH_MAX] = "";
	const char *data = cfg->data;
	if (data[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(err, errlen,
			        "cannot resolve data dir '%.200s': %s", data,
			        strerror(errno));
			return -1;
		}
		while (data[0] == '.' && data[1] == '/') {
			data += 2;
		}
	}
	/* sun_path holds 108 bytes with its NUL. */
	char url[128];
	int n = snprintf(url, sizeof(url), "ipc://%s%s%s/events.sock", cwd,
	        cwd[0] != '\0' ? "/" : "", data);
	if (n < 0 || (size_t) n - 6 >= 108) {
		snprintf(err, errlen,
		        "data dir '%.200s' is too long a path for the events socket: set events = ipc://SHORTER/PATH or events = none",
		        cfg->data);
		return -1;
	}
	if (config_set(cfg, "events", url, err, errlen) != 0) {
		return -1;
	}
	log_info(
	        "auth tokens are configured, so the stage-change stream listens on the owner-only '%s', not on tcp://: watch it with `clm watch --events %s` (or CLM_EVENTS_URL)",
	        url, url);
	return 0;
}

/*
 * Listens once on every address clmd is going to listen on, before the
 * data dir is made or opened, so that a port another program holds stops
 * clmd with nothing created and nothing to take down (addrcheck.h). The
 * events URL left to its default is checked as the one paired with the
 * listen URL without tokens; with tokens it lies in the data dir, and
 * pubsub_open finds out. Returns 0, or -1 with the reason in err.
 */
static int
main_check_addrs(
        const struct config *cfg, bool tokens, char *err, size_t errlen)
{
	for (int i = 0; i < cfg->n_listen; i++) {
		if (addrcheck_listen(
		            cfg->listen[i], "listen", NULL, err, errlen)
		        != 0) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n,
			        " (another clmd? choose another with --listen URL)");
			return -1;
		}
	}
	char paired[160];
	const char *events = cfg->events[0] != '\0' ? cfg->events
	        : tokens                            ? "none"
	                                            : paired;
	if (events == paired
	        && main_events_paired(cfg, paired, sizeof(paired), err, errlen)
	                != 0) {
		return -1;
	}
	if (strcmp(events, "none") != 0
	        && addrcheck_listen(
	                   events, "listen for events", NULL, err, errlen)
	                != 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n,
		        " (choose another with --events URL, or --events none)");
		return -1;
	}
	if (cfg->http[0] != '\0') {
		/* HOST:PORT or http://HOST:PORT/ (http_check_addr). */
		const char *a = cfg->http;
		if (strncmp(a, "http://", 7) == 0) {
			a += 7;
		}
		char url[300];
		int n = (int) strcspn(a, "/");
		snprintf(url, sizeof(url), "tcp://%.*s", n < 256 ? n : 256, a);
		if (addrcheck_listen(url, "serve http", cfg->http, err, errlen)
		        != 0) {
			return -1;
		}
	}
	return 0;
}

static int
main_fail(const char *msg)
{
	fprintf(stderr, "clmd: %s\n", msg);
	return 1;
}

/*
 * Opens the overlay (DATA/overlay) once the base view is open, for the
 * journal or the stream: docs/architecture.md, "The journal and the
 * overlay". Returns 0, or -1 with the reason in err.
 */
static int
main_overlay(const struct config *cfg, store *st, char *err, size_t errlen)
{
	/*
	 * Each of the two overlays: checkpoint_bytes, when the writer
	 * freezes it, and as much again for the batches that come while
	 * the other one is moved into the base; one that fills anyway is
	 * checkpointed on the writer thread (docs/operations.md). With
	 * checkpoint_bytes = auto, the size for the view as it is now (the
	 * writer grows the maps as the view grows: writer_ckpt_due).
	 */
	uint64_t omap = WRITER_OVERLAY_MAP(cfg->checkpoint_bytes != 0
	                ? (uint64_t) cfg->checkpoint_bytes
	                : writer_ckpt_auto_bytes(store_view_bytes(st)));
	store_set_chunk_keys(st, (uint64_t) cfg->checkpoint_chunk_keys);
	return store_overlay_open(st, omap, err, errlen) == CLM_OK ? 0 : -1;
}

/* Opens the overlay and the journal (DATA/journal): single-node mode. */
static int
main_journal(const struct config *cfg, store *st, journal **out, char *err,
        size_t errlen)
{
	if (main_overlay(cfg, st, err, errlen) != 0) {
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/journal", cfg->data);
	struct journal_opts jo = {
		.dir = dir,
		.sync = strcmp(cfg->durability, "os") != 0,
		.base = store_position(st),
	};
	char jerr[256];
	if (journal_open(&jo, out, jerr, sizeof(jerr)) != CLM_OK) {
		snprintf(err, errlen, "cannot open the journal: %s", jerr);
		return -1;
	}
	return 0;
}

/* The cluster's settings that a file names: "" is none. */
static const char *
main_file_opt(const char *path)
{
	return path[0] != '\0' ? path : NULL;
}

/*
 * Cluster mode (journal = nats://..., docs/cluster.md): the stream replaces
 * the journal, so only the overlay is opened here, and then the stream,
 * with the description StatusReply.journal shows in desc (len bytes); the
 * digest of srv's thresholds is logged, for comparing nodes.
 * Returns 0, or -1 with the reason in err.
 */
static int
main_stream(const struct config *cfg, const struct server *srv, store *st,
        jstream **out, char *desc, size_t len, char *err, size_t errlen)
{
	if ((cfg->journal_tls_cert[0] != '\0')
	        != (cfg->journal_tls_key[0] != '\0')) {
		snprintf(err, errlen,
		        "journal_tls_cert and journal_tls_key go together: set both or neither");
		return -1;
	}
	if (main_overlay(cfg, st, err, errlen) != 0) {
		return -1;
	}
	struct jstream_opts jo = {
		.urls = cfg->journal,
		.stream = cfg->journal_stream,
		.replicas = (int) cfg->journal_replicas,
		.creds_file = main_file_opt(cfg->journal_creds),
		.auth_file = main_file_opt(cfg->journal_auth_file),
		.tls_ca_file = main_file_opt(cfg->journal_tls_ca),
		.tls_cert_file = main_file_opt(cfg->journal_tls_cert),
		.tls_key_file = main_file_opt(cfg->journal_tls_key),
	};
	char jerr[256];
	clm_err e = jstream_open(&jo, out, jerr, sizeof(jerr));
	if (e != CLM_OK) {
		/* jerr names the URLs it tried. */
		snprintf(err, errlen,
		        "cannot join the stream '%.32s': %.250s%s",
		        cfg->journal_stream, jerr,
		        e == CLM_UNAVAILABLE
		                ? " (is nats-server running there, with -js?)"
		                : "");
		return -1;
	}
	snprintf(desc, len, "nats %s", cfg->journal_stream);
	char digest[33];
	call_cluster_settings(srv, digest);
	log_info("cluster mode: apply settings digest %s (thresholds and "
	         "weights: keep it the same on every node)",
	        digest);
	log_info("cluster mode: stream '%s' at %s, entries up to %zu bytes",
	        cfg->journal_stream, cfg->journal, jstream_max_entry(*out));
	return 0;
}

/*
 * The settings of the journal that only cluster mode reads are refused
 * with a local journal, rather than silently ignored.
 */
static int
main_check_journal(const struct config *cfg, char *err, size_t errlen)
{
	if (strcmp(cfg->journal, "local") != 0) {
		return 0;
	}
	const char *set = cfg->journal_creds[0] != '\0' ? "journal_creds"
	        : cfg->journal_auth_file[0] != '\0'     ? "journal_auth_file"
	        : cfg->journal_tls_ca[0] != '\0'        ? "journal_tls_ca"
	        : cfg->journal_tls_cert[0] != '\0'      ? "journal_tls_cert"
	        : cfg->journal_tls_key[0] != '\0'       ? "journal_tls_key"
	                                                : NULL;
	if (set != NULL) {
		snprintf(err, errlen,
		        "%s is set but journal is local: it is for cluster mode (journal = nats://host:port[,...])",
		        set);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	main_keep_std_fds();
	/*
	 * No file or socket clmd makes is ever writable by its group or open
	 * to others, whatever umask it was started with. The kernel applies
	 * the umask when bind() creates an ipc:// socket, before nng narrows
	 * it to 0600, so this also closes that moment to the data dir's group
	 * (connecting needs write permission on the socket). Set before any
	 * thread exists: the umask is per process.
	 */
	umask(umask(0) | 027);
	/*
	 * Large blocks (arena chunks of big batches) come from mmap and go
	 * back to the system when freed: glibc would otherwise raise this
	 * threshold after the first such free and keep them in the heap.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	struct config cfg;
	config_init(&cfg);
	char err[512];
	int rc = config_parse_args(&cfg, argc, argv, stdout, err, sizeof(err));
	if (rc != 0) {
		config_fini(&cfg);
		if (rc > 0) {
			return 0;
		}
		fprintf(stderr, "clmd: %s (see clmd --help)\n", err);
		return 2;
	}
	log_set_level((enum log_level) log_level_parse(cfg.log_level));
	struct auth *auth = NULL;
	if (cfg.auth_token_file[0] != '\0'
	        && auth_load(cfg.auth_token_file, &auth, err, sizeof(err))
	                != 0) {
		config_fini(&cfg);
		return main_fail(err);
	}
	/* The SDK ingest's event table: a bad line stops the start. */
	struct sdk_map *sdk_map = NULL;
	if (sdk_map_load(
	            cfg.sdk_event_map[0] != '\0' ? cfg.sdk_event_map : NULL,
	            &sdk_map, err, sizeof(err))
	        != CLM_OK) {
		auth_free(auth);
		config_fini(&cfg);
		return main_fail(err);
	}
	/*
	 * Requests may leave the machine only when tokens guard them; the
	 * event stream has no token check, so it stays on loopback, and with
	 * tokens off tcp:// unless the operator opts in (exposure.h).
	 */
	bool refused = false;
	for (int i = 0; i < cfg.n_listen && !refused; i++) {
		refused = exposure_check_url(cfg.listen[i], auth != NULL,
		                  cfg.tls_ca_file[0] != '\0', err, sizeof(err))
		        != 0;
	}
	if (!refused && cfg.events[0] != '\0'
	        && strcmp(cfg.events, "none") != 0) {
		refused = exposure_check_events_url(cfg.events, auth != NULL,
		                  strcmp(cfg.events_unauthenticated, "true")
		                          == 0,
		                  err, sizeof(err))
		        != 0;
	}
	if (refused) {
		auth_free(auth);
		sdk_map_free(sdk_map);
		config_fini(&cfg);
		return main_fail(err);
	}

	if ((cfg.http[0] != '\0'
	            && http_check_addr(
	                       cfg.http, auth != NULL, err, sizeof(err))
	                    != 0)
	        || hostcheck_check_allowed(
	                   cfg.http_allowed_hosts, err, sizeof(err))
	                != 0
	        || main_check_addrs(&cfg, auth != NULL, err, sizeof(err)) != 0
	        || main_check_journal(&cfg, err, sizeof(err)) != 0) {
		auth_free(auth);
		sdk_map_free(sdk_map);
		config_fini(&cfg);
		return main_fail(err);
	}

	/* Before any thread reads the clock (util/clock.h). */
	if (clock_set_test_file(cfg.test_clock_file) != 0) {
		auth_free(auth);
		sdk_map_free(sdk_map);
		config_fini(&cfg);
		return main_fail("test_clock_file: the path is too long");
	}
	if (cfg.test_clock_file[0] != '\0') {
		log_warn("test clock on (test_clock_file %s): for tests and "
		         "demos only",
		        cfg.test_clock_file);
	}

	/*
	 * Block the stop signals (and SIGUSR1, checkpoint now) before any
	 * thread exists (nng starts its own), so only sigwait below
	 * receives them.
	 */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Static: if nng wedges at shutdown its threads may still reach the
	 * server through the work items after main returns.
	 */
	static struct server srv;
	static struct telemetry tm; /* srv.tm, for the same reason */
	telemetry_init(&tm);
	server_init(&srv, &cfg, auth, &tm, clock_now_ms());
	srv.sdk_map = sdk_map;
	struct store_opts so = {
		.dir = cfg.data,
		/*
		 * Synced even with durability os: only checkpoints write
		 * data.mdb, and the journal behind one is dropped only once
		 * it is durable (docs/operations.md).
		 */
		.nosync = false,
		.map_bytes = cfg.map_bytes,
		.max_db_bytes = cfg.max_db_bytes,
		.max_readers = (unsigned) cfg.workers + 16,
	};
	rpc *r = NULL;
	http *web = NULL;
	journal *jnl = NULL;
	jstream *js = NULL;
	struct webhook *hooks = NULL;
	static char journal_desc[96] = "local"; /* srv.journal_desc */
	srv.journal_desc = journal_desc;
	bool cluster = strcmp(cfg.journal, "local") != 0;
	int status = 1;
	if (store_open(&so, &srv.st, err, sizeof(err)) != CLM_OK) {
		main_fail(err);
		goto done;
	}
	/* Before the rebuild and the replay, whose lookups it speeds up. */
	if (strcmp(cfg.warm_view, "true") == 0) {
		(void) store_warm_start(srv.st);
	}
	size_t rebuilt;
	int64_t rebuild_start = clock_now_ms();
	clm_err re = agg_rebuild(srv.st, false, &rebuilt);
	if (re != CLM_OK) {
		snprintf(err, sizeof(err), "cannot rebuild the aggregates: %s",
		        clm_strerror(re));
		main_fail(err);
		goto done;
	}
	if (rebuilt > 0) {
		log_info("rebuilt the aggregates of %zu profiles in %lld ms",
		        rebuilt, (long long) (clock_now_ms() - rebuild_start));
	}
	if (main_events(&cfg, auth != NULL, err, sizeof(err)) != 0) {
		main_fail(err);
		goto done;
	}
	if (strcmp(cfg.events, "none") != 0
	        && pubsub_open(
	                   cfg.events, auth != NULL, &srv.ps, err, sizeof(err))
	                != CLM_OK) {
		main_fail(err);
		goto done;
	}
	if (cfg.http[0] != '\0'
	        && evring_open((size_t) cfg.http_events_retained,
	                   (size_t) cfg.http_events_retained_bytes,
	                   store_event_seq(srv.st), &srv.events)
	                != CLM_OK) {
		main_fail("cannot keep events for /api/events: out of memory");
		goto done;
	}
	if (cluster ? main_stream(&cfg, &srv, srv.st, &js, journal_desc,
	                      sizeof(journal_desc), err, sizeof(err))
	                        != 0
	            : main_journal(&cfg, srv.st, &jnl, err, sizeof(err))
	                        != 0) {
		main_fail(err);
		goto done;
	}
	if (waitpos_open(0, srv.tm, &srv.waits) != CLM_OK) {
		main_fail("cannot start waiting for positions: out of memory");
		goto done;
	}
	struct writer_opts wo = {
		.queue_max = (size_t) cfg.write_queue,
		.batch_max = (size_t) cfg.batch_max,
		.batch_items_max = (size_t) cfg.batch_max_touchpoints,
		.publish
		= srv.ps != NULL || srv.events != NULL ? main_publish : NULL,
		.publish_arg = &srv,
		.telemetry = srv.tm,
		.journal = jnl,
		.replay = call_replay,
		.replay_arg = &srv,
		.checkpoint_bytes = (uint64_t) cfg.checkpoint_bytes,
		.checkpoint_interval_ms = cfg.checkpoint_interval * 1000,
		.checkpoint_interval_auto = cfg.checkpoint_interval == 0,
		.stream = js,
		.cluster_ops = js != NULL ? &call_cluster_ops : NULL,
		.cluster_arg = &srv,
		.advanced = waitpos_advanced,
		.advanced_arg = srv.waits,
		.segment_params = &srv.params,
		.fire_job = journey_fire_job,
		.fire_arg = &srv,
		.feed_max = (uint64_t) cfg.journey_feed_max,
	};
	char werr[256];
	if (writer_start(srv.st, &wo, &srv.w, werr, sizeof(werr)) != CLM_OK) {
		snprintf(
		        err, sizeof(err), "cannot start the writer: %s", werr);
		main_fail(err);
		goto done;
	}
	/*
	 * The replay in writer_start took seqs without publishing them:
	 * the ring, opened before it, must learn the seq that comes next,
	 * or a client resuming from before the crash would miss the
	 * replayed events without a gap. No request can reach the writer
	 * yet (no listener is open), so its seq is still the replay's.
	 */
	if (srv.events != NULL) {
		evring_set_next(srv.events, store_event_seq(srv.st));
	}
	/*
	 * Journeys' webhooks (docs/journeys.md), reporting to the writer;
	 * webhooks = false leaves them to another node of a cluster.
	 */
	if (strcmp(cfg.webhooks, "true") == 0
	        && webhook_open(srv.st, srv.w, cfg.webhook_timeout_s,
	                   cfg.webhook_ca_file, &hooks, err, sizeof(err))
	                != CLM_OK) {
		main_fail(err);
		goto done;
	}
	if (rpc_open(&srv, &r, err, sizeof(err)) != CLM_OK) {
		main_fail(err);
		goto done;
	}
	if (cfg.http[0] != '\0'
	        && http_open(&srv, cfg.http, &web, err, sizeof(err))
	                != CLM_OK) {
		main_fail(err);
		goto done;
	}
	char urls[512] = "";
	for (int i = 0; i < cfg.n_listen; i++) {
		size_t n = strlen(urls);
		snprintf(urls + n, sizeof(urls) - n, "%s%s", i ? " " : "",
		        cfg.listen[i]);
	}
	log_info(
	        "clmd %s started: data '%s', listen %s, events %s, durability %s, journal %s, pid %ld",
	        CLM_VERSION, cfg.data, urls, cfg.events, cfg.durability,
	        srv.journal_desc, (long) getpid());
	/* Under systemd (Type=notify): ready once every listener is up. */
	notify_ready();
	notify_status("serving on %s", urls);

	int sig = 0;
	while (sigwait(&stop, &sig) == 0 && sig == SIGUSR1) {
		/* docs/operations.md, "Backups": the base, caught up. */
		log_info("received SIGUSR1: checkpointing what the journal "
		         "holds past the last checkpoint");
		writer_checkpoint_soon(srv.w);
	}
	notify_stopping();
	log_info("received %s: shutting down",
	        sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
done:
	/* The dashboard reads the store: it stops before anything else. */
	http_close(web);
	/* Before the writer stops: it takes the deliveries' outcomes. */
	webhook_close(hooks);
	/*
	 * The writer first: it applies and commits everything queued and
	 * wakes each waiting request, while the connections are still open
	 * for the replies (writes arriving now get UNAVAILABLE, reads are
	 * still served). rpc_close then lets the replies go out and closes.
	 */
	writer_stop(srv.w);
	/* Requests waiting for a position the view will not reach now. */
	waitpos_stop(srv.waits);
	/*
	 * After writer_stop (the writer no longer reads or publishes) and
	 * before writer_free: jstream_close waits for every ack function,
	 * which the writer's pending parts receive.
	 */
	jstream_close(js);
	if (rpc_close(r, 2000)) {
		pubsub_close(srv.ps);
		writer_free(srv.w);
		waitpos_close(srv.waits);
	} else {
		/* nng may still call in: leave what it can reach. */
		pubsub_abandon(srv.ps);
	}

	/* The writer has stopped publishing, and http has stopped. */
	evring_close(srv.events);

	journal_close(jnl);
	store_close(srv.st);
	if (status == 0) {
		log_info("stopped");
	}
	auth_free(auth);
	sdk_map_free(sdk_map);
	config_fini(&cfg);
	return status;
}
