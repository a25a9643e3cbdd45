/*
 * rawhttp: plain HTTP/1.1 over a loopback socket, for the tests of
 * clmd's --http that must send exactly the bytes they mean (raw targets,
 * %00, bodies of any shape) and see exactly what came back. Failures
 * are Criterion assertions.
 */
#ifndef CLM_IT_RAWHTTP_H
#define CLM_IT_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct clmd_proc;

/* The bound of every wait: generous, for a loaded machine. */
#define RAWHTTP_WAIT_MS 30000

/* One response: its status, head and body (NUL-terminated, truncated). */
struct rawhttp_res {
	int status;
	char head[4096];
	char body[32768];
};

/* rawhttp_connect connects to 127.0.0.1:port; returns the socket. */
int rawhttp_connect(int port);

/* rawhttp_send_all sends data[0..n) whole on fd. */
void rawhttp_send_all(int fd, const void *data, size_t n);

/*
 * rawhttp_read reads up to cap - 1 bytes of fd within ms, NUL-terminated:
 * returns the count, 0 when the peer closed, -1 when nothing came.
 */
ssize_t rawhttp_read(int fd, char *buf, size_t cap, int ms);

/*
 * rawhttp_send sends "METHOD target HTTP/1.1" with Host 127.0.0.1:port,
 * the extra header lines hdr (each ending in "\r\n"; "" for none),
 * Content-Length when body is not NULL, and body[0..len).
 */
void rawhttp_send(int fd, int port, const char *method, const char *target,
        const char *hdr, const void *body, size_t len);

/*
 * rawhttp_response reads one whole response (head, then Content-Length
 * bytes) from fd within RAWHTTP_WAIT_MS into *r.
 */
void rawhttp_response(int fd, struct rawhttp_res *r);

/*
 * rawhttp_request sends one request on a new connection and reads its
 * response into *r (rawhttp_send, rawhttp_response).
 */
void rawhttp_request(int port, const char *method, const char *target,
        const char *hdr, const void *body, size_t len, struct rawhttp_res *r);

/*
 * rawhttp_metric returns the value of the unlabelled series name in the
 * GET /metrics of clmd's --http on port (0 when it is absent).
 */
unsigned long long rawhttp_metric(int port, const char *name);

/*
 * rawhttp_start_clmd starts clmd as p on a new temp dir (its name in
 * dir) with --http on a free loopback port, which it returns, and the
 * NULL-terminated extra arguments (extra may be NULL); with faulty,
 * behind the faultfs shim (harness.h), the journal's files failing while
 * the flag file named in flag exists. It returns once --http answers.
 */
int rawhttp_start_clmd(struct clmd_proc *p, char dir[32], char flag[64],
        const char *const *extra, bool faulty);

#endif /* CLM_IT_RAWHTTP_H */
