/*
 * freeport: a loopback TCP port for a process a test is about to start.
 *
 * The port is not the kernel's pick for a bind to port 0. That comes from
 * the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), the range
 * every outbound connect() takes its local port from too, so between the
 * test's close and the server's bind another test's connection could take
 * it: clmd then fails with "Address in use" (seen in CI). The kernel never
 * hands out a port outside that range by itself, so freeport picks there
 * (below it, from 10000, or above it when it starts that low), at
 * random, a port that can be bound on every IPv4 address right now.
 * Two test processes pick the same port at the same moment about once in
 * 20,000 picks; one process never returns a port twice.
 */
#ifndef CLM_TESTS_FREEPORT_H
#define CLM_TESTS_FREEPORT_H

/* freeport_pick returns a TCP port free on 0.0.0.0 right now, or -1. */
int freeport_pick(void);

#endif
