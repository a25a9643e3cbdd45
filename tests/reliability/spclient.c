/* spclient: a raw SP REQ client for the reliability tests (spclient.h). */
#include "spclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The largest reply accepted. */
#define SPCLIENT_MAX_REPLY (64u << 20)

/* Sends (out) or receives len bytes whole; false when the socket ends. */
static bool
spclient_io(int fd, void *p, size_t len, bool out)
{
	uint8_t *b = p;
	while (len > 0) {
		ssize_t n = out ? send(fd, b, len, MSG_NOSIGNAL)
		                : recv(fd, b, len, 0);
		if (n <= 0) {
			return false;
		}
		b += n;
		len -= (size_t) n;
	}
	return true;
}

static void
spclient_put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		p[i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
	}
}

static uint64_t
spclient_get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

int
spclient_connect(int port, int timeout_ms)
{
	static const uint8_t req[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	static const uint8_t rep[8] = { 0, 'S', 'P', 0, 0x00, 0x31, 0, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t) port);
	int one = 1;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	uint8_t got[8];
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0
	        || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))
	                != 0
	        || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
	        || !spclient_io(fd, (void *) req, sizeof(req), true)
	        || !spclient_io(fd, got, sizeof(got), false)
	        || memcmp(got, rep, sizeof(rep)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

Clm__V1__Response *
spclient_call(int fd, const Clm__V1__Request *req, uint32_t id)
{
	id |= 0x80000000u;
	size_t size = clm__v1__request__get_packed_size(req);
	uint8_t *frame = malloc(12 + size);
	if (frame == NULL) {
		return NULL;
	}
	spclient_put_be(frame, 4 + size, 8);
	spclient_put_be(frame + 8, id, 4);
	clm__v1__request__pack(req, frame + 12);
	bool sent = spclient_io(fd, frame, 12 + size, true);
	free(frame);
	while (sent) {
		uint8_t head[8];
		if (!spclient_io(fd, head, sizeof(head), false)) {
			return NULL;
		}
		uint64_t len = spclient_get_be(head, 8);
		if (len < 4 || len > SPCLIENT_MAX_REPLY) {
			return NULL;
		}
		uint8_t *body = malloc((size_t) len);
		if (body == NULL
		        || !spclient_io(fd, body, (size_t) len, false)) {
			free(body);
			return NULL;
		}
		bool mine = spclient_get_be(body, 4) == id;
		Clm__V1__Response *resp = mine
		        ? clm__v1__response__unpack(
		                NULL, (size_t) len - 4, body + 4)
		        : NULL;
		free(body); /* a reply to an older request is dropped */
		if (mine) {
			return resp;
		}
	}
	return NULL;
}
