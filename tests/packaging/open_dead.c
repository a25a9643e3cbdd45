/*
 * open_dead: a program built against an installed libclm, with only
 * `pkg-config --cflags --libs clm` (tests/packaging/install_test.sh). It
 * uses the generated protobuf header that client.h includes and calls
 * clm_open on a loopback port where nothing listens: clm_open must fail
 * with UNAVAILABLE and say which address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <clm/client.h>

/*
 * open_dead_port binds a TCP socket to 127.0.0.1 on a free port without
 * listening, so a connect there is refused while *fd stays open. Returns
 * the port, or 0 on failure.
 */
static int
open_dead_port(int *fd)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*fd < 0) {
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(*fd, (struct sockaddr *) &a, sizeof(a)) != 0
	        || getsockname(*fd, (struct sockaddr *) &a, &n) != 0) {
		close(*fd);
		return 0;
	}
	return ntohs(a.sin_port);
}

int
main(void)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	clm_conn *c = NULL;
	char url[64], want[64];
	int fd, port;

	tp.customer_id = "c1";
	if (protobuf_c_message_get_packed_size(&tp.base) == 0) {
		fprintf(stderr, "open_dead: a touchpoint packed to nothing\n");
		return 1;
	}
	port = open_dead_port(&fd);
	if (port == 0) {
		perror("open_dead: cannot bind 127.0.0.1");
		return 1;
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	clm_err err = clm_open(url, 2000, &c);
	close(fd);
	if (err != CLM_UNAVAILABLE || c != NULL) {
		fprintf(stderr, "open_dead: clm_open('%s') gave %s, want %s\n",
		        url, clm_errname(err), clm_errname(CLM_UNAVAILABLE));
		clm_close(c);
		return 1;
	}
	if (strstr(clm_open_error(), want) == NULL) {
		fprintf(stderr, "open_dead: '%s' does not name '%s'\n",
		        clm_open_error(), want);
		return 1;
	}
	printf("open_dead: %s (%s)\n", clm_open_error(), clm_strerror(err));
	return 0;
}
