/* A loopback TCP port below the ephemeral range: see freeport.h. */
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
/* The ephemeral range's start when /proc does not say (Linux's default). */
#define FREEPORT_EPHEMERAL 32768

static pthread_mutex_t freeport_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t freeport_rng;                   /* 0 until the first pick */
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

/* The first port the kernel may give an outbound connection. */
static int
freeport_ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int low = 0;
	int high = 0;
	if (f != NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2) {
			low = 0;
		}
		fclose(f);
	}
	if (low <= FREEPORT_LOW + 1000 || low > 65535) {
		low = FREEPORT_EPHEMERAL;
	}
	return low;
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
	int high = freeport_ephemeral_low();
	int span = high - FREEPORT_LOW;
	pthread_mutex_lock(&freeport_mu);
	if (freeport_rng == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		freeport_rng
		        = ((uint64_t) getpid() << 32 ^ (uint64_t) ts.tv_sec
		                  ^ (uint64_t) ts.tv_nsec << 16)
		        | 1;
	}
	/* At random, not in sequence: a test that takes the port after its
	 * pick as well (cli_watch_test) must not meet the next pick there. */
	int port = -1;
	for (int i = 0; i < 4 * span && port < 0; i++) {
		int p = FREEPORT_LOW
		        + (int) (freeport_random() % (uint64_t) span);
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
