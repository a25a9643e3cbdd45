/*
 * addrcheck: whether clmd's addresses can be listened on, asked before
 * anything is created. clmd opens its store before its sockets; without
 * this, a port taken by another program would be found only after the data
 * dir was made and the writer started, and the half-started daemon would
 * have to be taken down again.
 */
#ifndef CLM_NET_ADDRCHECK_H
#define CLM_NET_ADDRCHECK_H

#include <stddef.h>

/*
 * addrcheck_listen listens on url (tcp://, tls+tcp:// as the tcp:// of its
 * host and port, or ipc://) and closes the listener again at once, so the
 * address is free for the real listener a moment later. An ipc:// path in
 * a directory that does not exist yet (the data dir's, before it is made)
 * is not checked; a stale socket file left by a dead clmd is removed as
 * nng's listener removes it. what says what the address is for in the
 * message ("listen", "listen for events"), shown the address as the
 * operator wrote it (NULL: url). Returns 0, or -1 with "cannot WHAT on
 * 'SHOWN': REASON" in err ("address in use" when another program holds
 * it).
 */
int addrcheck_listen(const char *url, const char *what, const char *shown,
        char *err, size_t errlen);

#endif /* CLM_NET_ADDRCHECK_H */
