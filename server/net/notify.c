/*
 * notify: the sd_notify datagram protocol (see notify.h).
 *
 * Why not libsystemd: one more library to link and install for two
 * datagrams, and clmd also runs in containers and under other
 * supervisors. The protocol is small and stable: a datagram of KEY=VALUE
 * lines to the AF_UNIX socket named by $NOTIFY_SOCKET, whose leading '@'
 * stands for the NUL byte of an abstract socket name. systemd checks the
 * sender's credentials itself (SO_PASSCRED on its end), so nothing more is
 * needed on ours.
 *
 * A fresh socket per message: notifications are rare (start, stop, a few
 * status lines), and nothing is left open for a fork or a stray fd reuse.
 */
#include "net/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define NOTIFY_MAX_MSG 4096

/*
 * Fills sa from the value of $NOTIFY_SOCKET; returns its length, or 0 when
 * the value is not an absolute path nor an abstract name, or too long.
 */
static socklen_t
notify_addr(const char *path, struct sockaddr_un *sa)
{
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2
	        || len >= sizeof(sa->sun_path)) {
		return 0;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	if (path[0] == '@') {
		/* Abstract: the name is exactly len bytes, no terminator. */
		sa->sun_path[0] = '\0';
		return (socklen_t) (offsetof(struct sockaddr_un, sun_path)
		        + len);
	}
	return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
}

bool
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0') {
		return false;
	}
	int saved = errno;
	struct sockaddr_un sa;
	socklen_t salen = notify_addr(path, &sa);
	if (salen == 0) {
		log_warn(
		        "cannot notify the service manager: unsupported NOTIFY_SOCKET '%s'",
		        path);
		errno = saved;
		return false;
	}
	bool sent = false;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("cannot notify the service manager: socket: %s",
		        strerror(errno));
		errno = saved;
		return false;
	}
	/* Bounds the wait when the receiver's queue is full. */
	struct timeval tv = {
		.tv_sec = NOTIFY_SEND_TIMEOUT_MS / 1000,
		.tv_usec = (NOTIFY_SEND_TIMEOUT_MS % 1000) * 1000,
	};
	(void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	size_t len = strlen(msg);
	ssize_t n;
	do {
		n = sendto(fd, msg, len, MSG_NOSIGNAL,
		        (const struct sockaddr *) &sa, salen);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t) len) {
		sent = true;
	} else {
		log_warn("cannot notify the service manager at '%s': %s", path,
		        n < 0 ? strerror(errno) : "short write");
	}
	close(fd);
	errno = saved;
	return sent;
}

bool
notify_ready(void)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long) getpid());
	return notify_send(msg);
}

bool
notify_stopping(void)
{
	return notify_send("STOPPING=1");
}

bool
notify_status(const char *fmt, ...)
{
	char msg[NOTIFY_MAX_MSG];
	int pre = snprintf(msg, sizeof(msg), "STATUS=");
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg + pre, sizeof(msg) - (size_t) pre, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= sizeof(msg) - (size_t) pre) {
		return false;
	}
	/* One line: systemd would read a second one as another key. */
	char *nl = strchr(msg, '\n');
	if (nl != NULL) {
		*nl = '\0';
	}
	return notify_send(msg);
}
