/* clang-format off */
/*
 * ckpt.c - measure LMDB checkpoint cost per touchpoint for clm layouts.
 *
 *   ckpt build DIR N H
 *        build a synthetic store: N customers, H historic touchpoints
 *        each, all tables of all layouts
 *   ckpt run DIR N H LAYOUT C M [w] [bucket_s]
 *        apply M random touchpoints in write txns of C touchpoints each.
 *        LAYOUT: A   today: customers + tp(cid,at,seq) + ev[random eid]
 *                B1r tp_log[gseq] + tp_idx(cid,gseq) + ev[random eid]
 *                B1c tp_log + tp_idx + ev(cid,eid)
 *                B1b tp_log + tp_idx + ev(bucket,eid)
 *                B2c tp_log + seq list in customer record + ev(cid,eid)
 *                B2b tp_log + seq list in customer record + ev(bucket,eid)
 *                B2n tp_log + seq list in customer record, no ev table
 *                    (event-id check from the record / an in-memory filter)
 *        w = MDB_WRITEMAP.  Every txn also rewrites 64 agg counters, the
 *        day's 16 KiB HLL sketch and the meta position (like a checkpoint).
 *
 * Bytes are counted two ways: (1) pwrite/pwritev/write interposed in this
 * executable (liblmdb.so's calls bind to these), exact bytes handed to the
 * kernel; (2) /proc/self/io write_bytes deltas (page-cache pages this task
 * dirtied, counted once per clean->dirty transition; LMDB fdatasyncs every
 * commit so every rewrite counts; also sees MDB_WRITEMAP's mmap stores).
 */
/* clang-format on */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- write interposition ---- */
static uint64_t g_wbytes, g_wcalls, g_syncs;
ssize_t
pwrite(int fd, const void *b, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "pwrite");
	ssize_t r = real(fd, b, n, off);
	if (r > 0) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
ssize_t
pwrite64(int fd, const void *b, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "pwrite64");
	ssize_t r = real(fd, b, n, off);
	if (r > 0) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
ssize_t
pwritev(int fd, const struct iovec *v, int c, off_t off)
{
	static ssize_t (*real)(int, const struct iovec *, int, off_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "pwritev");
	ssize_t r = real(fd, v, c, off);
	if (r > 0) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
ssize_t
pwritev64(int fd, const struct iovec *v, int c, off_t off)
{
	static ssize_t (*real)(int, const struct iovec *, int, off_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "pwritev64");
	ssize_t r = real(fd, v, c, off);
	if (r > 0) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
ssize_t
write(int fd, const void *b, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "write");
	ssize_t r = real(fd, b, n);
	if (r > 0 && fd > 2) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
ssize_t
writev(int fd, const struct iovec *v, int c)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "writev");
	ssize_t r = real(fd, v, c);
	if (r > 0 && fd > 2) {
		g_wbytes += r;
		g_wcalls++;
	}
	return r;
}
int
fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = dlsym(RTLD_NEXT, "fsync");
	g_syncs++;
	return real(fd);
}
int
fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = dlsym(RTLD_NEXT, "fdatasync");
	g_syncs++;
	return real(fd);
}
int
msync(void *a, size_t l, int f)
{
	static int (*real)(void *, size_t, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "msync");
	g_syncs++;
	return real(a, l, f);
}

static uint64_t
io_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	uint64_t v = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "write_bytes: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}
static uint64_t
dev_write_bytes(void)
{
	FILE *f = fopen("/sys/block/vda/stat", "r");
	unsigned long x[7] = { 0 };
	if (f) {
		if (fscanf(f, "%lu %lu %lu %lu %lu %lu %lu", &x[0], &x[1],
		            &x[2], &x[3], &x[4], &x[5], &x[6])
		        != 7)
			x[6] = 0;
		fclose(f);
	}
	return (uint64_t) x[6] * 512;
}
static long
rss_field_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long v = 0;
	size_t n = strlen(name);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, name, n)) {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}
static long
rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long v = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssAnon: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}
static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double
cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6
	        + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* ---- rng ---- */
static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t
rnd(void)
{
	uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static void
be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}
static void
hex16(char *p, uint64_t v)
{
	static const char h[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		p[i] = h[v & 15];
		v >>= 4;
	}
}
static void
fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = rnd();
		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

#define CHK(x)                                                                \
	do {                                                                  \
		int rc_ = (x);                                                \
		if (rc_) {                                                    \
			fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, \
			        #x, mdb_strerror(rc_));                       \
			exit(1);                                              \
		}                                                             \
	} while (0)

enum {
	D_CUST,
	D_TPC,
	D_TPLOG,
	D_TPIDX,
	D_EVR,
	D_EVC,
	D_EVB,
	D_AGG,
	D_META,
	ND
};
static const char *dbn[ND] = { "customers", "tp_cust", "tp_log", "tp_idx",
	"ev_rand", "ev_cid", "ev_bucket", "agg", "meta" };
static MDB_env *env;
static MDB_dbi dbi[ND];

static void
open_env(const char *dir, int writemap, int nosync, size_t mapsize)
{
	CHK(mdb_env_create(&env));
	CHK(mdb_env_set_maxdbs(env, 16));
	CHK(mdb_env_set_mapsize(env, mapsize));
	CHK(mdb_env_open(env, dir,
	        (writemap ? MDB_WRITEMAP : 0) | (nosync ? MDB_NOSYNC : 0)
	                | MDB_NOTLS,
	        0640));
	MDB_txn *t;
	CHK(mdb_txn_begin(env, NULL, 0, &t));
	for (int i = 0; i < ND; i++)
		CHK(mdb_dbi_open(t, dbn[i], MDB_CREATE, &dbi[i]));
	CHK(mdb_txn_commit(t));
}

static size_t
cust_size(uint64_t cid)
{
	return 150 + mix(cid) % 251;
} /* 150..400 */
static size_t
ckey(unsigned char *k, uint64_t cid)
{
	return (size_t) sprintf((char *) k, "cust-%010lu", cid);
}

static void
build(const char *dir, uint64_t N, uint64_t H)
{
	open_env(dir, 0, 1, (size_t) 64 << 30);
	MDB_txn *t = NULL;
	unsigned char k[64], v[512];
	uint64_t n = 0;
#define BEGIN() \
	if (!t) \
	CHK(mdb_txn_begin(env, NULL, 0, &t))
#define TICK()                          \
	if (++n % 200000 == 0) {        \
		CHK(mdb_txn_commit(t)); \
		t = NULL;               \
	}
	double t0 = now();
	/* customers (seq list of H historic gseqs included in the record size)
	 */
	/* RANDFILL=1: insert customers in a scattered order (stride
	 * permutation) so leaves end up ~70% full as in a store grown by
	 * random inserts */
	int randfill = getenv("RANDFILL") != NULL;
	for (uint64_t i = 0; i < N; i++) {
		uint64_t c = randfill ? 1 + (i * 1000003ull) % N : i + 1;
		BEGIN();
		MDB_val kv = { ckey(k, c), k }, vv = { cust_size(c), v };
		fill(v, vv.mv_size);
		CHK(mdb_put(
		        t, dbi[D_CUST], &kv, &vv, randfill ? 0 : MDB_APPEND));
		TICK();
	}
	/* tp_cust: (cid, at, seq), value 60..120 */
	for (uint64_t c = 1; c <= N; c++)
		for (uint64_t j = 0; j < H; j++) {
			BEGIN();
			be64(k, c);
			be64(k + 8, 1700000000000ull + j * 86400000ull + c);
			be64(k + 16, j * N + c);
			MDB_val kv = { 24, k }, vv = { 60 + rnd() % 61, v };
			fill(v, vv.mv_size);
			CHK(mdb_put(t, dbi[D_TPC], &kv, &vv, MDB_APPEND));
			TICK();
		}
	/* tp_idx: (cid, gseq) -> empty */
	for (uint64_t c = 1; c <= N; c++)
		for (uint64_t j = 0; j < H; j++) {
			BEGIN();
			be64(k, c);
			be64(k + 8, j * N + c);
			MDB_val kv = { 16, k }, vv = { 0, v };
			CHK(mdb_put(t, dbi[D_TPIDX], &kv, &vv, MDB_APPEND));
			TICK();
		}
	/* tp_log: historic entries (gseq 1..N*H), value 68..128 */
	for (uint64_t g = 1; g <= N * H; g++) {
		BEGIN();
		be64(k, g);
		MDB_val kv = { 8, k }, vv = { 68 + rnd() % 61, v };
		fill(v, vv.mv_size);
		CHK(mdb_put(t, dbi[D_TPLOG], &kv, &vv, MDB_APPEND));
		TICK();
	}
	/* ev_rand: N*H random-looking 32-hex ids, generated in sorted order */
	uint64_t E = N * H, step = UINT64_MAX / E;
	for (uint64_t i = 0; i < E; i++) {
		BEGIN();
		hex16((char *) k, i * step + rnd() % step);
		hex16((char *) k + 16, rnd());
		MDB_val kv = { 32, k }, vv = { 16, v };
		fill(v, 16);
		CHK(mdb_put(t, dbi[D_EVR], &kv, &vv, MDB_APPEND));
		TICK();
	}
	/* ev_cid: (cid, eid) */
	for (uint64_t c = 1; c <= N; c++)
		for (uint64_t j = 0; j < H; j++) {
			BEGIN();
			be64(k, c);
			hex16((char *) k + 8, (j << 58) | (rnd() >> 6));
			hex16((char *) k + 24, rnd());
			MDB_val kv = { 40, k }, vv = { 16, v };
			fill(v, 16);
			CHK(mdb_put(t, dbi[D_EVC], &kv, &vv, MDB_APPEND));
			TICK();
		}
	/* ev_bucket: historic buckets (hour numbers 0..H*24-1), each E/(H*24)
	 * ids */
	uint64_t nb = H * 24, per = E / nb;
	for (uint64_t b = 0; b < nb; b++)
		for (uint64_t i = 0; i < per; i++) {
			BEGIN();
			be64(k, b);
			hex16((char *) k + 8, i * (UINT64_MAX / per));
			hex16((char *) k + 24, rnd());
			MDB_val kv = { 40, k }, vv = { 16, v };
			fill(v, 16);
			CHK(mdb_put(t, dbi[D_EVB], &kv, &vv, MDB_APPEND));
			TICK();
		}
	if (t)
		CHK(mdb_txn_commit(t));
	CHK(mdb_env_sync(env, 1));
	t = NULL;
	CHK(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
	for (int i = 0; i < ND; i++) {
		MDB_stat st;
		CHK(mdb_stat(t, dbi[i], &st));
		printf("build %-10s entries %10zu depth %u branch %8zu leaf %9zu overflow %zu (%.0f MiB)\n",
		        dbn[i], st.ms_entries, st.ms_depth, st.ms_branch_pages,
		        st.ms_leaf_pages, st.ms_overflow_pages,
		        (st.ms_branch_pages + st.ms_leaf_pages
		                + st.ms_overflow_pages)
		                * 4096.0 / 1048576);
	}
	mdb_txn_abort(t);
	printf("build took %.1f s\n", now() - t0);
	mdb_env_close(env);
}

static void
run(const char *dir, uint64_t N, uint64_t H, const char *layout, uint64_t C,
        uint64_t M, int wmap, uint64_t bucket_s)
{
	size_t mapsize
	        = (size_t) (getenv("MAPGB") ? atoi(getenv("MAPGB")) : 32)
	        << 30;
	open_env(dir, wmap, 0, mapsize);
	int A = !strcmp(layout, "A");
	int B1 = layout[0] == 'B' && layout[1] == '1';
	int B2 = layout[0] == 'B' && layout[1] == '2';
	char ev = A ? 'r' : layout[2]; /* r, c, b, n */
	MDB_txn *t;
	/* next gseq after everything in the store */
	uint64_t gseq, pos = 0;
	{
		CHK(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
		MDB_cursor *cu;
		MDB_val kv, vv;
		CHK(mdb_cursor_open(t, dbi[D_TPLOG], &cu));
		gseq = mdb_cursor_get(cu, &kv, &vv, MDB_LAST) == 0 ? 0 : N * H;
		if (kv.mv_size == 8) {
			gseq = 0;
			for (int i = 0; i < 8; i++)
				gseq = gseq << 8
				        | ((unsigned char *) kv.mv_data)[i];
		}
		mdb_cursor_close(cu);
		mdb_txn_abort(t);
	}
	rs ^= (uint64_t) getpid() * 0x1234567ull ^ (uint64_t) time(NULL);
	uint64_t start_b
	        = 1000000000ull + gseq; /* each run starts a fresh bucket */
	unsigned char k[64], v[1024], hll[16384];
	fill(hll, sizeof hll);
	uint64_t dv0 = dev_write_bytes();
	sleep(1);
	uint64_t dnoise = dev_write_bytes() - dv0;
	uint64_t w0 = g_wbytes, io0 = io_write_bytes(),
	         dev0 = dev_write_bytes(), s0 = g_syncs, wc0 = g_wcalls;
	double c0 = cpu(), t0 = now(), commit_wall = 0, commit_cpu = 0,
	       max_commit = 0;
	long rss_start = rss_anon_kb(), rss_peak = rss_start;
	uint64_t spill_bytes = 0, ncommit = 0;
	int verbose = getenv("TRACE") != NULL;
	for (uint64_t done = 0; done < M; done += C) {
		CHK(mdb_txn_begin(env, NULL, 0, &t));
		uint64_t wtx = g_wbytes;
		for (uint64_t i = 0; i < C && done + i < M; i++) {
			uint64_t cid = 1 + rnd() % N;
			gseq++;
			pos++;
			/* customer profile: read, modify, write back */
			MDB_val kv = { ckey(k, cid), k }, vv;
			CHK(mdb_get(t, dbi[D_CUST], &kv, &vv));
			size_t sz = vv.mv_size;
			memcpy(v, vv.mv_data, sz);
			v[rnd() % sz] ^= 1;
			v[0]++;
			if (B2) {
				if (sz + 8 <= sizeof v) {
					be64(v + sz, gseq);
					sz += 8;
				}
			}
			vv.mv_size = sz;
			vv.mv_data = v;
			CHK(mdb_put(t, dbi[D_CUST], &kv, &vv, 0));
			/* the touchpoint */
			unsigned char tv[160];
			size_t tl = 60 + rnd() % 61;
			fill(tv, tl);
			if (A) {
				be64(k, cid);
				be64(k + 8, 1800000000000ull + gseq);
				be64(k + 16, gseq);
				MDB_val tk = { 24, k }, tvv = { tl, tv };
				CHK(mdb_put(t, dbi[D_TPC], &tk, &tvv, 0));
			} else {
				be64(k, gseq);
				MDB_val tk = { 8, k }, tvv = { tl + 8, tv };
				CHK(mdb_put(t, dbi[D_TPLOG], &tk, &tvv,
				        MDB_APPEND));
				if (B1) {
					be64(k, cid);
					be64(k + 8, gseq);
					MDB_val ik = { 16, k }, iv = { 0, tv };
					CHK(mdb_put(
					        t, dbi[D_TPIDX], &ik, &iv, 0));
				}
			}
			/* idempotency record (put with NOOVERWRITE = check +
			 * insert) */
			MDB_val ek, evv = { 16, tv };
			int d = -1;
			if (ev == 'r') {
				hex16((char *) k, rnd());
				hex16((char *) k + 16, rnd());
				ek.mv_size = 32;
				d = D_EVR;
			} else if (ev == 'c') {
				be64(k, cid);
				hex16((char *) k + 8, rnd());
				hex16((char *) k + 24, rnd());
				ek.mv_size = 40;
				d = D_EVC;
			} else if (ev == 'b') {
				/* clock: 150k touchpoints/s since the run
				 * began */
				uint64_t b
				        = start_b + pos / (150000 * bucket_s);
				be64(k, b);
				hex16((char *) k + 8, rnd());
				hex16((char *) k + 24, rnd());
				ek.mv_size = 40;
				d = D_EVB;
			}
			if (d >= 0) {
				ek.mv_data = k;
				int rc = mdb_put(
				        t, dbi[d], &ek, &evv, MDB_NOOVERWRITE);
				if (rc && rc != MDB_KEYEXIST)
					CHK(rc);
			}
			if (verbose
			        && (i + 1) % (uint64_t) atoi(getenv("TRACE"))
			                == 0)
				fprintf(stderr,
				        "  trace i=%lu rssanon=%ld MiB rssfile=%ld MiB pwritten-in-txn=%lu MiB\n",
				        i + 1, rss_anon_kb() / 1024,
				        rss_field_kb("RssFile") / 1024,
				        (g_wbytes - wtx) >> 20);
		}
		/* per checkpoint: summed agg deltas (64 counters), HLL sketch,
		 * position */
		for (int s = 0; s < 64; s++) {
			k[0] = 'd';
			be64(k + 1, 20000);
			k[9] = s;
			MDB_val ak = { 10, k }, av = { 16, v };
			fill(v, 16);
			CHK(mdb_put(t, dbi[D_AGG], &ak, &av, 0));
		}
		{
			k[0] = 'h';
			be64(k + 1, 20000);
			hll[rnd() % sizeof hll]++;
			MDB_val ak = { 9, k }, av = { sizeof hll, hll };
			CHK(mdb_put(t, dbi[D_AGG], &ak, &av, 0));
			MDB_val mk = { 8, "position" }, mv = { 8, k };
			be64(k, pos);
			CHK(mdb_put(t, dbi[D_META], &mk, &mv, 0));
		}
		long r = rss_anon_kb();
		if (r > rss_peak)
			rss_peak = r;
		spill_bytes += g_wbytes - wtx;
		double cc = cpu(), tc = now();
		CHK(mdb_txn_commit(t));
		double dt = now() - tc;
		commit_wall += dt;
		if (dt > max_commit)
			max_commit = dt;
		commit_cpu += cpu() - cc;
		ncommit++;
	}
	double wall = now() - t0, cp = cpu() - c0;
	uint64_t wb = g_wbytes - w0, iob = io_write_bytes() - io0,
	         devb = dev_write_bytes() - dev0;
	struct stat st;
	char path[512];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	stat(path, &st);
	printf("RESULT N=%lu layout=%s%s C=%lu M=%lu commits=%lu pwrite_B/tp=%.0f io_write_B/tp=%.0f dev_B/tp=%.0f (noise %.1f MiB/s) pages/commit=%.0f "
	       "syncs=%lu writes=%lu cpu_us/tp=%.2f commit_cpu_us/tp=%.2f commit_wall_ms=%.1f max_commit_ms=%.0f wall_s=%.1f "
	       "rssanon_start_MiB=%ld rssanon_peak_MiB=%ld rssanon_end_MiB=%ld spilled_MiB=%.0f file_MiB=%.0f\n",
	        N, layout, wmap ? "+WM" : "", C, M, ncommit, (double) wb / M,
	        (double) iob / M, (double) devb / M, dnoise / 1048576.0,
	        (double) wb / 4096 / ncommit, g_syncs - s0, g_wcalls - wc0,
	        cp * 1e6 / M, commit_cpu * 1e6 / M,
	        commit_wall * 1e3 / ncommit, max_commit * 1e3, wall,
	        rss_start / 1024, rss_peak / 1024, rss_anon_kb() / 1024,
	        spill_bytes / 1048576.0, st.st_size / 1048576.0);
	fflush(stdout);
	mdb_env_close(env);
}

/* ---- key-range chunked checkpoints ----
 * Each checkpoint buffers C touchpoints (the "memtable"), then applies them in
 * K write txns, chunk j holding the j-th key range of every table
 * (customer-keyed tables by cid range, ev_rand by event-id range, tp_log by
 * position range). Per customer, one profile get/put per checkpoint.
 * Agg, HLL and the position go into the last chunk. */
struct tp {
	uint64_t cid, gseq, e1, e2;
	uint32_t tl;
};
static int
by_cid(const void *a, const void *b)
{
	const struct tp *x = a, *y = b;
	return x->cid < y->cid ? -1
	        : x->cid > y->cid
	        ? 1
	        : (x->gseq < y->gseq ? -1 : x->gseq > y->gseq);
}
static int
by_eid(const void *a, const void *b)
{
	const struct tp *x = *(const struct tp **) a,
	                *y = *(const struct tp **) b;
	return x->e1 < y->e1 ? -1 : x->e1 > y->e1;
}
static void
runk(const char *dir, uint64_t N, const char *layout, uint64_t C, uint64_t M,
        uint64_t K, int wmap)
{
	size_t mapsize
	        = (size_t) (getenv("MAPGB") ? atoi(getenv("MAPGB")) : 32)
	        << 30;
	open_env(dir, wmap, 0, mapsize);
	int A = !strcmp(layout, "A");
	int B1 = layout[0] == 'B' && layout[1] == '1';
	int B2 = layout[0] == 'B' && layout[1] == '2';
	char ev = A ? 'r' : layout[2];
	MDB_txn *t;
	uint64_t gseq = 0, pos = 0;
	{
		CHK(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
		MDB_cursor *cu;
		MDB_val kv, vv;
		CHK(mdb_cursor_open(t, dbi[D_TPLOG], &cu));
		if (mdb_cursor_get(cu, &kv, &vv, MDB_LAST) == 0)
			for (int i = 0; i < 8; i++)
				gseq = gseq << 8
				        | ((unsigned char *) kv.mv_data)[i];
		mdb_cursor_close(cu);
		mdb_txn_abort(t);
	}
	rs ^= (uint64_t) getpid() * 0x1234567ull ^ (uint64_t) time(NULL);
	uint64_t start_b = 1000000000ull + gseq;
	struct tp *buf = malloc(C * sizeof *buf),
	          *bycid = malloc(C * sizeof *buf);
	struct tp **byeid = malloc(C * sizeof *byeid);
	unsigned char k[64], v[4096], tv[160], hll[16384];
	fill(hll, sizeof hll);
	long rss_base = rss_anon_kb();
	uint64_t w0 = g_wbytes, io0 = io_write_bytes(),
	         dev0 = dev_write_bytes(), s0 = g_syncs;
	double c0 = cpu(), t0 = now(), ck_wall_max = 0;
	long rss_peak = 0;
	uint64_t spill = 0, ntx = 0;
	for (uint64_t done = 0; done < M; done += C) {
		uint64_t n = C < M - done ? C : M - done;
		for (uint64_t i = 0; i < n; i++) {
			buf[i].cid = 1 + rnd() % N;
			buf[i].gseq = ++gseq;
			buf[i].e1 = rnd();
			buf[i].e2 = rnd();
			buf[i].tl = 60 + rnd() % 61;
		}
		pos += n;
		double tck = now();
		memcpy(bycid, buf, n * sizeof *buf);
		qsort(bycid, n, sizeof *bycid, by_cid);
		for (uint64_t i = 0; i < n; i++)
			byeid[i] = &buf[i];
		if (ev == 'r')
			qsort(byeid, n, sizeof *byeid, by_eid);
		uint64_t ci = 0, ei = 0;
		for (uint64_t j = 0; j < K; j++) {
			uint64_t cid_hi = j + 1 == K ? UINT64_MAX
			                             : 1 + (j + 1) * N / K;
			uint64_t e_hi = j + 1 == K
			        ? UINT64_MAX
			        : (j + 1) * (UINT64_MAX / K);
			uint64_t wtx = g_wbytes;
			CHK(mdb_txn_begin(env, NULL, 0, &t));
			/* customer-keyed tables, one cid range */
			while (ci < n && bycid[ci].cid < cid_hi) {
				uint64_t cid = bycid[ci].cid, cj = ci;
				while (cj < n && bycid[cj].cid == cid)
					cj++;
				MDB_val kv = { ckey(k, cid), k }, vv;
				CHK(mdb_get(t, dbi[D_CUST], &kv, &vv));
				size_t sz = vv.mv_size;
				memcpy(v, vv.mv_data, sz);
				v[rnd() % sz] ^= 1;
				v[0]++;
				/* B2: the record keeps the customer's
				 * touchpoint positions; B2h also an 8-byte
				 * event-id hash next to each (the idempotency
				 * check reads the record, which the apply
				 * reads anyway) */
				if (B2)
					for (uint64_t q = ci;
					        q < cj && sz + 16 <= sizeof v;
					        q++) {
						be64(v + sz, bycid[q].gseq);
						sz += 8;
						if (ev == 'h') {
							be64(v + sz,
							        bycid[q].e1);
							sz += 8;
						}
					}
				vv.mv_size = sz;
				vv.mv_data = v;
				CHK(mdb_put(t, dbi[D_CUST], &kv, &vv, 0));
				for (uint64_t q = ci; q < cj; q++) {
					struct tp *p = &bycid[q];
					if (A) {
						be64(k, cid);
						be64(k + 8,
						        1800000000000ull
						                + p->gseq);
						be64(k + 16, p->gseq);
						fill(tv, p->tl);
						MDB_val tk = { 24, k },
						        tvv = { p->tl, tv };
						CHK(mdb_put(t, dbi[D_TPC], &tk,
						        &tvv, 0));
					}
					if (B1) {
						be64(k, cid);
						be64(k + 8, p->gseq);
						MDB_val ik = { 16, k },
						        iv = { 0, tv };
						CHK(mdb_put(t, dbi[D_TPIDX],
						        &ik, &iv, 0));
					}
					if (ev == 'c') {
						be64(k, cid);
						hex16((char *) k + 8, p->e1);
						hex16((char *) k + 24, p->e2);
						MDB_val ek = { 40, k },
						        evv = { 16, tv };
						int rc = mdb_put(t, dbi[D_EVC],
						        &ek, &evv,
						        MDB_NOOVERWRITE);
						if (rc && rc != MDB_KEYEXIST)
							CHK(rc);
					}
				}
				ci = cj;
			}
			/* event ids by id range */
			if (ev == 'r' || ev == 'b') {
				while (ei < n
				        && (ev == 'b' ? ei < (j + 1) * n / K
				                      : byeid[ei]->e1
				                                < e_hi)) {
					struct tp *p = byeid[ei++];
					MDB_val ek, evv = { 16, tv };
					int d;
					if (ev == 'r') {
						hex16((char *) k, p->e1);
						hex16((char *) k + 16, p->e2);
						ek.mv_size = 32;
						d = D_EVR;
					} else {
						be64(k,
						        start_b
						                + (pos - n
						                          + (p - buf))
						                        / 150000
						                        / 3600);
						hex16((char *) k + 8, p->e1);
						hex16((char *) k + 24, p->e2);
						ek.mv_size = 40;
						d = D_EVB;
					}
					ek.mv_data = k;
					int rc = mdb_put(t, dbi[d], &ek, &evv,
					        MDB_NOOVERWRITE);
					if (rc && rc != MDB_KEYEXIST)
						CHK(rc);
				}
			}
			/* time-ordered log, by position range */
			if (!A)
				for (uint64_t i = j * n / K;
				        i < (j + 1) * n / K; i++) {
					be64(k, buf[i].gseq);
					fill(tv, buf[i].tl + 8);
					MDB_val tk = { 8, k },
					        tvv = { buf[i].tl + 8, tv };
					CHK(mdb_put(t, dbi[D_TPLOG], &tk, &tvv,
					        MDB_APPEND));
				}
			if (j + 1 == K) {
				for (int s = 0; s < 64; s++) {
					k[0] = 'd';
					be64(k + 1, 20000);
					k[9] = s;
					MDB_val ak = { 10, k }, av = { 16, v };
					fill(v, 16);
					CHK(mdb_put(
					        t, dbi[D_AGG], &ak, &av, 0));
				}
				k[0] = 'h';
				be64(k + 1, 20000);
				hll[rnd() % sizeof hll]++;
				MDB_val ak = { 9, k },
				        av = { sizeof hll, hll };
				CHK(mdb_put(t, dbi[D_AGG], &ak, &av, 0));
				MDB_val mk = { 8, "position" }, mv = { 8, k };
				be64(k, pos);
				CHK(mdb_put(t, dbi[D_META], &mk, &mv, 0));
			}
			long r = rss_anon_kb() - rss_base;
			if (r > rss_peak)
				rss_peak = r;
			spill += g_wbytes - wtx;
			CHK(mdb_txn_commit(t));
			ntx++;
		}
		double d = now() - tck;
		if (d > ck_wall_max)
			ck_wall_max = d;
	}
	double wall = now() - t0, cp = cpu() - c0;
	uint64_t wb = g_wbytes - w0, iob = io_write_bytes() - io0,
	         devb = dev_write_bytes() - dev0;
	printf("RESULTK N=%lu layout=%s%s C=%lu K=%lu M=%lu txns=%lu pwrite_B/tp=%.0f io_write_B/tp=%.0f dev_B/tp=%.0f syncs=%lu "
	       "cpu_us/tp=%.2f ckpt_wall_max_s=%.2f wall_s=%.1f rssanon_growth_MiB=%ld memtable_MiB=%.0f spilled_MiB=%.0f\n",
	        N, layout, wmap ? "+WM" : "", C, K, M, ntx, (double) wb / M,
	        (double) iob / M, (double) devb / M, g_syncs - s0,
	        cp * 1e6 / M, ck_wall_max, wall, rss_peak / 1024,
	        C * (2.0 * sizeof *buf + 8) / 1048576, spill / 1048576.0);
	fflush(stdout);
	mdb_env_close(env);
}

int
main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "build")) {
		build(argv[2], strtoull(argv[3], 0, 10),
		        strtoull(argv[4], 0, 10));
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "run")) {
		run(argv[2], strtoull(argv[3], 0, 10),
		        strtoull(argv[4], 0, 10), argv[5],
		        strtoull(argv[6], 0, 10), strtoull(argv[7], 0, 10),
		        argc > 8 && argv[8][0] == 'w',
		        argc > 9 ? strtoull(argv[9], 0, 10) : 3600);
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "runk")) {
		/* runk DIR N LAYOUT C K M [w] */
		runk(argv[2], strtoull(argv[3], 0, 10), argv[4],
		        strtoull(argv[5], 0, 10), strtoull(argv[7], 0, 10),
		        strtoull(argv[6], 0, 10),
		        argc > 8 && argv[8][0] == 'w');
		return 0;
	}
	fprintf(stderr, "usage: see source\n");
	return 2;
}
