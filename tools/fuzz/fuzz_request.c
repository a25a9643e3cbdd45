/*
 * fuzz_request: a libFuzzer target for clmd's request path.
 *
 * Each input is one request message body, as rpc.c receives it from NNG.
 * It goes through the real code: dispatch_screen on the packed bytes, then
 * clm__v1__request__unpack into an arena under its decode budget,
 * dispatch_request against a real LMDB store in a temp dir with a real
 * writer thread; a write parked with the writer is waited for (its
 * job.done signals a condition variable, where rpc.c would wake the work
 * item) and completed with dispatch_finish. The reply is then packed, and
 * must decode again as a clm.v1.Response carrying a Status with a valid
 * Code and, when the request decoded, its request_id.
 *
 * The same input is also read by pbjson_parse as a JSON Touchpoint (what
 * the CLI reads from NDJSON) and as a JSON Request: a message that parses
 * must print, and the printed text must parse again and print the same.
 *
 * The store outlives inputs (state makes more paths reachable), so a crash
 * may depend on earlier inputs: replay the whole corpus directory, not
 * only the crashing file, when one file alone does not reproduce it. The
 * map starts at 1 MiB (to exercise growing it) and stops at 64 MiB; when a
 * write gets RESOURCE_EXHAUSTED at that ceiling the store is thrown away
 * and made anew, so a long run neither fills the disk nor stops writing.
 *
 * A reply with code INTERNAL or DATA_LOSS is a finding too: clmd says its
 * own data or logic is broken, which no request may cause.
 *
 * Since most inputs that change the store are not kept in the corpus, a
 * state-dependent crash needs the history of writes to reproduce:
 *   CLM_FUZZ_RECORD=FILE  appends every input that went to the writer to
 *                         FILE (each as a 4-byte little-endian length, then
 *                         the bytes); FILE restarts with the store, and
 *                         "%p" in it becomes the process id.
 *   CLM_FUZZ_REPLAY=FILE  runs the inputs of such a file first, at start.
 * So: run with CLM_FUZZ_RECORD=h.bin; after a crash, copy h.bin aside and
 * run `CLM_FUZZ_REPLAY=h.bin fuzz_request CRASH-FILE`.
 *
 * CLM_FUZZ_KEEP=1 leaves the store's data dir behind at exit (for mdb_dump).
 *
 * Environment: CLM_FUZZ_LOG=debug|info|warn|error sets clmd's log level
 * (default: error, to keep the output readable); UBSAN_OPTIONS and
 * ASAN_OPTIONS as usual.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls/dispatch.h"
#include "config.h"
#include "pbjson.h"
#include "pbwire.h"
#include "server.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "write/writer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* The largest Code of clm.v1 (UNAUTHENTICATED). */
#define FUZZ_MAX_CODE 16

struct fuzz {
	struct config cfg;
	struct server srv;
	struct telemetry tm; /* srv.tm */
	store_reader *reader;
	arena arena;
	Clm__V1__Response resp;
	struct call_req dr;
	/* A parked write: fuzz_write_done sets done under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bool open;
	char base[64]; /* the mkdtemp dir; the store is in base/data */
	char data[80];
	unsigned long resets;
	const char *record; /* CLM_FUZZ_RECORD, or NULL */
	int record_fd;
};

/*
 * libFuzzer's entry points take no context, so the server the inputs run
 * against is file-private state, made once by LLVMFuzzerInitialize.
 */
static struct fuzz fuzz;

/* getenv, with an empty value as unset. */
static const char *
fuzz_env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz_request: %s\n", what);
	abort();
}

/*
 * UBSan reports abort the run, so libFuzzer keeps the input as a crash.
 * This is a runtime default rather than -fno-sanitize-recover, so that
 * UBSAN_OPTIONS=suppressions=FILE can let a long run go on past a known
 * report (suppressions only apply to recoverable checks).
 */
const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

/* Called by the writer thread when the parked write is sealed. */
static void
fuzz_write_done(writer_job *job)
{
	(void) job;
	pthread_mutex_lock(&fuzz.mu);
	fuzz.done = true;
	pthread_cond_signal(&fuzz.cv);
	pthread_mutex_unlock(&fuzz.mu);
}

/* Sets the server context up as clmd's main.c does from fuzz.cfg. */
static void
fuzz_server_init(void)
{
	telemetry_init(&fuzz.tm);
	server_init(&fuzz.srv, &fuzz.cfg, NULL, &fuzz.tm, clock_now_ms());
}

/* Opens the store in fuzz.data, starts the writer and makes a reader. */
static void
fuzz_store_open(void)
{
	const struct config *cfg = &fuzz.cfg;
	struct store_opts so = {
		.dir = fuzz.data,
		.nosync = true, /* fsync would only slow the fuzzer down */
		.map_bytes = cfg->map_bytes,
		.max_db_bytes = cfg->max_db_bytes,
		.max_readers = 16,
	};
	char err[512];
	if (store_open(&so, &fuzz.srv.st, err, sizeof(err)) != CLM_OK) {
		fuzz_die(err);
	}
	struct writer_opts wo = {
		.queue_max = (size_t) cfg->write_queue,
		.batch_max = (size_t) cfg->batch_max,
		.telemetry = fuzz.srv.tm,
	};
	if (writer_start(fuzz.srv.st, &wo, &fuzz.srv.w, err, sizeof(err))
	        != CLM_OK) {
		fuzz_die(err);
	}
	if (store_reader_new(fuzz.srv.st, &fuzz.reader) != CLM_OK) {
		fuzz_die("cannot make a store reader");
	}
	fuzz.dr.reader = fuzz.reader;
	fuzz.open = true;
}

static void
fuzz_store_close(void)
{
	if (!fuzz.open) {
		return;
	}
	store_reader_free(fuzz.reader);
	fuzz.reader = NULL;
	fuzz.dr.reader = NULL;
	writer_stop(fuzz.srv.w);
	writer_free(fuzz.srv.w);
	fuzz.srv.w = NULL;
	store_close(fuzz.srv.st);
	fuzz.srv.st = NULL;
	fuzz.open = false;
}

static int
fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) f;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0) {
		fprintf(stderr, "fuzz_request: cannot remove '%s': %s\n", path,
		        strerror(errno));
	}
	return 0;
}

/* Removes dir and everything under it (only our own mkdtemp dirs). */
static void
fuzz_rm_rf(const char *dir)
{
	if (strstr(dir, "/clm-fuzz-") == NULL) {
		return;
	}
	nftw(dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Starts (or restarts) the history of writes, with CLM_FUZZ_RECORD. */
static void
fuzz_record_open(void)
{
	if (fuzz.record == NULL) {
		return;
	}
	if (fuzz.record_fd >= 0) {
		close(fuzz.record_fd);
	}
	/* "%p" becomes the pid, for libFuzzer's -jobs/-workers processes. */
	char path[4096];
	const char *p = strstr(fuzz.record, "%p");
	if (p != NULL) {
		snprintf(path, sizeof(path), "%.*s%ld%s",
		        (int) (p - fuzz.record), fuzz.record, (long) getpid(),
		        p + 2);
	} else {
		snprintf(path, sizeof(path), "%s", fuzz.record);
	}
	fuzz.record_fd
	        = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fuzz.record_fd < 0) {
		fuzz_die("cannot open CLM_FUZZ_RECORD");
	}
}

/*
 * Appends one input to the history with a single unbuffered write, so
 * that it is on disk whatever way the process dies next.
 */
static void
fuzz_record(const uint8_t *data, size_t size)
{
	if (fuzz.record_fd < 0 || size > UINT32_MAX - 4) {
		return;
	}
	uint8_t *buf = malloc(size + 4);
	if (buf == NULL) {
		fuzz_die("out of memory");
	}
	for (int i = 0; i < 4; i++) {
		buf[i] = (uint8_t) (size >> (8 * i));
	}
	memcpy(buf + 4, data, size);
	if (write(fuzz.record_fd, buf, size + 4) != (ssize_t) (size + 4)) {
		fuzz_die("cannot write CLM_FUZZ_RECORD");
	}
	free(buf);
}

/* Throws the store away and makes an empty one (at max_db_bytes). */
static void
fuzz_store_reset(void)
{
	fuzz_store_close();
	fuzz_rm_rf(fuzz.data);
	fuzz_store_open();
	fuzz_record_open();
	fuzz.resets++;
}

static void
fuzz_atexit(void)
{
	if (fuzz.resets > 0) {
		fprintf(stderr,
		        "fuzz_request: the store was full and made anew %lu times\n",
		        fuzz.resets);
	}
	fuzz_store_close();
	if (fuzz_env("CLM_FUZZ_KEEP") != NULL) {
		fprintf(stderr, "fuzz_request: the store is left in '%s'\n",
		        fuzz.data);
	} else {
		fuzz_rm_rf(fuzz.base);
	}
	if (fuzz.record_fd >= 0) {
		close(fuzz.record_fd);
	}
	arena_fini(&fuzz.arena);
	config_fini(&fuzz.cfg);
}

static void fuzz_request(const uint8_t *data, size_t size);

/* Runs the inputs of a CLM_FUZZ_RECORD file (see the top comment). */
static void
fuzz_replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fuzz_die("cannot open CLM_FUZZ_REPLAY");
	}
	uint8_t len[4];
	size_t n = 0;
	while (fread(len, 1, 4, f) == 4) {
		size_t size = (size_t) len[0] | (size_t) len[1] << 8
		        | (size_t) len[2] << 16 | (size_t) len[3] << 24;
		uint8_t *buf = malloc(size > 0 ? size : 1);
		if (buf == NULL || fread(buf, 1, size, f) != size) {
			fuzz_die("CLM_FUZZ_REPLAY: truncated file");
		}
		fuzz_request(buf, size);
		free(buf);
		n++;
	}
	fclose(f);
	fprintf(stderr, "fuzz_request: replayed %zu writes from '%s'\n", n,
	        path);
}

static void
fuzz_config(const char *name, const char *value)
{
	char err[256];
	if (config_set(&fuzz.cfg, name, value, err, sizeof(err)) != 0) {
		fuzz_die(err);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	const char *level = fuzz_env("CLM_FUZZ_LOG");
	int lv = log_level_parse(level != NULL ? level : "error");
	log_set_level(lv < 0 ? LOG_ERROR : (enum log_level) lv);

	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 40) {
		tmp = "/tmp";
	}
	snprintf(fuzz.base, sizeof(fuzz.base), "%s/clm-fuzz-XXXXXX", tmp);
	if (mkdtemp(fuzz.base) == NULL) {
		fuzz_die("cannot make a temp dir");
	}
	snprintf(fuzz.data, sizeof(fuzz.data), "%s/data", fuzz.base);

	config_init(&fuzz.cfg);
	fuzz_config("data", fuzz.data);
	fuzz_config("durability", "os");
	fuzz_config("map_bytes", "1M");
	fuzz_config("max_db_bytes", "64M");
	fuzz_server_init();

	pthread_mutex_init(&fuzz.mu, NULL);
	pthread_cond_init(&fuzz.cv, NULL);
	arena_init(&fuzz.arena);
	fuzz.dr.srv = &fuzz.srv;
	fuzz.dr.resp = &fuzz.resp;
	fuzz.dr.a = &fuzz.arena;
	fuzz.dr.done = fuzz_write_done;
	fuzz_store_open();
	fuzz.record_fd = -1;
	fuzz.record = fuzz_env("CLM_FUZZ_RECORD");
	const char *replay = fuzz_env("CLM_FUZZ_REPLAY");
	if (fuzz.record != NULL && replay != NULL
	        && strcmp(fuzz.record, replay) == 0) {
		fuzz_die("CLM_FUZZ_RECORD and CLM_FUZZ_REPLAY are one file");
	}
	fuzz_record_open();
	if (replay != NULL) {
		fuzz_replay(replay);
	}
	atexit(fuzz_atexit);
	return 0;
}

/*
 * Packs the reply as rpc_send does, into a buffer of exactly the packed
 * size (so ASan sees any overrun), and checks that it decodes again. req
 * is NULL for a request refused before or by decoding; over_budget when
 * decoding outgrew its budget (RESOURCE_EXHAUSTED is then the answer).
 */
static void
fuzz_check_reply(const Clm__V1__Request *req, bool over_budget,
        const Clm__V1__Response *resp)
{
	size_t n = clm__v1__response__get_packed_size(resp);
	uint8_t *buf = malloc(n > 0 ? n : 1);
	if (buf == NULL) {
		fuzz_die("out of memory");
	}
	if (clm__v1__response__pack(resp, buf) != n) {
		fuzz_die("packed reply size differs from get_packed_size");
	}
	Clm__V1__Response *back = clm__v1__response__unpack(NULL, n, buf);
	free(buf);
	if (back == NULL) {
		fuzz_die("the packed reply does not decode as a Response");
	}
	if (back->status == NULL) {
		fuzz_die("reply without a status");
	}
	if ((int) back->status->code < 0
	        || (int) back->status->code > FUZZ_MAX_CODE) {
		fuzz_die("reply status code is not a clm.v1.Code");
	}
	if (back->status->code == CLM__V1__CODE__INTERNAL
	        || back->status->code == CLM__V1__CODE__DATA_LOSS) {
		fprintf(stderr, "fuzz_request: reply %d '%s'\n",
		        (int) back->status->code, back->status->message);
		fuzz_die("reply says INTERNAL or DATA_LOSS");
	}
	if (req == NULL
	        && back->status->code
	                != (over_budget ? CLM__V1__CODE__RESOURCE_EXHAUSTED
	                                : CLM__V1__CODE__INVALID_ARGUMENT)) {
		fuzz_die(
		        "refused request not answered INVALID_ARGUMENT, or RESOURCE_EXHAUSTED over budget");
	}
	if (req != NULL && strcmp(back->request_id, req->request_id) != 0) {
		fuzz_die("reply does not echo the request_id");
	}
	clm__v1__response__free_unpacked(back, NULL);
}

/* The request path, as rpc_handle, rpc_write_done and rpc_send do it. */
static void
fuzz_request(const uint8_t *data, size_t size)
{
	struct call_req *dr = &fuzz.dr;
	dr->now_ms = clock_now_ms();
	dr->arrived_ns = clock_mono_ns();
	dr->wire = pbwire_find_nul(&clm__v1__request__descriptor, data, size,
	        dr->wire_field, sizeof(dr->wire_field));
	dr->req = NULL;
	dr->over_budget = false;
	if (!dispatch_screen(dr, data, size)) {
		fuzz_check_reply(NULL, false, dr->resp);
		arena_reset(&fuzz.arena);
		return;
	}
	arena_budget(&fuzz.arena, dispatch_decode_budget(size));
	dr->req = clm__v1__request__unpack(arena_pb(&fuzz.arena), size, data);
	dr->over_budget = arena_over_budget(&fuzz.arena);
	arena_budget(&fuzz.arena, 0);
	pthread_mutex_lock(&fuzz.mu);
	fuzz.done = false;
	pthread_mutex_unlock(&fuzz.mu);
	bool full = false;
	if (dispatch_request(dr) == DISPATCH_PENDING) {
		fuzz_record(data, size);
		pthread_mutex_lock(&fuzz.mu);
		while (!fuzz.done) {
			pthread_cond_wait(&fuzz.cv, &fuzz.mu);
		}
		pthread_mutex_unlock(&fuzz.mu);
		dispatch_finish(dr);
		full = dr->job.err == CLM_RESOURCE_EXHAUSTED;
	}
	fuzz_check_reply(dr->req, dr->over_budget, dr->resp);
	arena_reset(&fuzz.arena);
	if (full) {
		fuzz_store_reset();
	}
}

/* Parses text as desc; what parses must print and round-trip exactly. */
static void
fuzz_json(const uint8_t *data, size_t size,
        const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *msg = NULL;
	char err[256];
	err[0] = 'x';
	if (pbjson_parse(
	            (const char *) data, size, desc, &msg, err, sizeof(err))
	        != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0') {
			fuzz_die("pbjson_parse failed without a message");
		}
		return;
	}
	char *text = NULL;
	if (pbjson_print(msg, 0, &text) != 0) {
		fuzz_die("pbjson_print failed on a parsed message");
	}
	ProtobufCMessage *again = NULL;
	if (pbjson_parse(text, strlen(text), desc, &again, err, sizeof(err))
	        != 0) {
		fprintf(stderr, "fuzz_request: '%s': %s\n", text, err);
		fuzz_die("pbjson_parse rejects what pbjson_print printed");
	}
	char *text2 = NULL;
	if (pbjson_print(again, PBJSON_PRETTY, &text2) != 0) {
		fuzz_die("pbjson_print failed on a parsed message");
	}
	free(text2);
	if (pbjson_print(again, 0, &text2) != 0) {
		fuzz_die("pbjson_print failed on a parsed message");
	}
	if (strcmp(text, text2) != 0) {
		fprintf(stderr, "fuzz_request: '%s' then '%s'\n", text, text2);
		fuzz_die("pbjson print/parse/print is not stable");
	}
	free(text2);
	free(text);
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(msg, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_json(data, size, &clm__v1__touchpoint__descriptor);
	fuzz_json(data, size, &clm__v1__request__descriptor);
	return 0;
}
