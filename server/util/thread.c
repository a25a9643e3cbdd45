/* thread: names for clmd's own threads (thread.h). */
#include "util/thread.h"

#include <string.h>
#include <sys/prctl.h>

void
thread_name(const char *name)
{
	char buf[16];
	size_t n = strlen(name);
	n = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
	memcpy(buf, name, n);
	buf[n] = '\0';
	(void) prctl(PR_SET_NAME, buf, 0, 0, 0);
}
