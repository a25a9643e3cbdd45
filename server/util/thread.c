/* thread: clmd's own threads, started with a name (thread.h). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "util/thread.h"

#include <string.h>

int
thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	int rc = pthread_create(t, NULL, fn, arg);
	if (rc == 0) {
		char buf[16];
		size_t n = strlen(name);
		n = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
		memcpy(buf, name, n);
		buf[n] = '\0';
		(void) pthread_setname_np(*t, buf);
	}
	return rc;
}
