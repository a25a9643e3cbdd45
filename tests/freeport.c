/* A loopback TCP port outside the ephemeral range: see freeport.h. */
#define _XOPEN_SOURCE 700

#include "freeport.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Ports under FREEPORT_LOW are left to system services. */
#define FREEPORT_LOW 10000
/* The ephemeral range when /proc does not say (Linux's default). */
#define FREEPORT_EPHEMERAL     32768
#define FREEPORT_EPHEMERAL_END 60999

static pthread_mutex_t freeport_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t freeport_pid; /* whose freeport_rng */
static uint64_t freeport_rng;
static unsigned char freeport_given[65536 / 8]; /* the ports returned */

/* xorshift64*: the next of the process's pseudo-random numbers. */
static uint64_t
freeport_random(void)
{
	freeport_rng ^= freeport_rng >> 12;
	freeport_rng ^= freeport_rng << 25;
	freeport_rng ^= freeport_rng >> 27;
	return freeport_rng * 2685821657736338717ULL;
}

/*
 * The ports to pick from, [*lo, *hi): below the ephemeral range when
 * there is room for 1,000 there, else above it; else (a range over
 * nearly all ports) all of them, said once on stderr. The range's last
 * port is left out, so a test that takes its pick's next port as well
 * (cli_watch_test) does not land in the ephemeral range.
 */
static void
freeport_range(int *lo, int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int low = 0;
	int high = 0;
	if (f == NULL || fscanf(f, "%d %d", &low, &high) != 2 || low < 1
	        || high > 65535 || low > high) {
		low = FREEPORT_EPHEMERAL; /* Linux's default */
		high = FREEPORT_EPHEMERAL_END;
	}
	if (f != NULL) {
		fclose(f);
	}
	if (low > FREEPORT_LOW + 1000) {
		*lo = FREEPORT_LOW;
		*hi = low - 1;
	} else if (high < 65535 - 1000) {
		*lo = high + 1;
		*hi = 65535;
	} else {
		static int said; /* under freeport_mu */
		if (!said) {
			fprintf(stderr,
			        "freeport: the ephemeral ports are %d-%d: a "
			        "connection may take a test server's port\n",
			        low, high);
			said = 1;
		}
		*lo = FREEPORT_LOW;
		*hi = 65535;
	}
}

/* Whether a listener could bind port on every IPv4 address now. */
static int
freeport_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return 0;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons((unsigned short) port);
	int ok = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int
freeport_pick(void)
{
	pthread_mutex_lock(&freeport_mu);
	int lo, hi;
	freeport_range(&lo, &hi);
	int span = hi - lo;
	if (freeport_pid != getpid()) {
		/* Seeded per process: a child forked after a pick differs. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		freeport_pid = getpid();
		freeport_rng
		        = ((uint64_t) freeport_pid << 32 ^ (uint64_t) ts.tv_sec
		                  ^ (uint64_t) ts.tv_nsec << 16)
		        | 1;
	}
	/* At random, not in sequence: a test that takes the port after its
	 * pick as well (cli_watch_test) must not meet the next pick there. */
	int port = -1;
	for (int i = 0; i < 4 * span && port < 0; i++) {
		int p = lo + (int) (freeport_random() % (uint64_t) span);
		unsigned char bit = (unsigned char) (1u << (p % 8));
		if ((freeport_given[p / 8] & bit) == 0
		        && freeport_bindable(p)) {
			freeport_given[p / 8] |= bit;
			port = p;
		}
	}
	pthread_mutex_unlock(&freeport_mu);
	return port;
}
