/* A loopback TCP port below the ephemeral range: see freeport.h. */
#define _XOPEN_SOURCE 700

#include "freeport.h"

#include <netinet/in.h>
#include <pthread.h>
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
static int freeport_next; /* 0 until the first pick */

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
	if (freeport_next == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned long mix = (unsigned long) getpid() * 2654435761UL
		        ^ (unsigned long) ts.tv_nsec ^ (unsigned long) ts.tv_sec;
		freeport_next = FREEPORT_LOW + (int) (mix % (unsigned long) span);
	}
	int port = -1;
	for (int i = 0; i < span && port < 0; i++) {
		int p = freeport_next;
		freeport_next = p + 1 < high ? p + 1 : FREEPORT_LOW;
		if (freeport_bindable(p)) {
			port = p;
		}
	}
	pthread_mutex_unlock(&freeport_mu);
	return port;
}
