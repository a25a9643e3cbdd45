/*
 * exposure: the one rule for what clmd may listen on. A loopback address
 * is always allowed; anything reachable from other hosts only when the
 * listener is guarded (auth tokens, or TLS client certificates), which the
 * event stream never is. Pure string checks: no socket is opened.
 */
#ifndef CLM_NET_EXPOSURE_H
#define CLM_NET_EXPOSURE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * exposure_is_loopback tells whether host[0..n) (the host of a tcp:// URL)
 * is the loopback interface: "localhost", "[::1]", or a dotted-quad IPv4
 * literal in 127.0.0.0/8. Names that merely start with "127." are not.
 */
bool exposure_is_loopback(const char *host, size_t n);

/*
 * exposure_is_ipv4 tells whether s[0..n) is a dotted-quad IPv4 literal:
 * four decimal parts of 0..255, at most three digits each.
 */
bool exposure_is_ipv4(const char *s, size_t n);

/*
 * exposure_check_url refuses URLs clmd must not listen on: unknown schemes,
 * and a non-loopback address unless the listener is guarded: tcp:// by auth
 * tokens (tokens), tls+tcp:// by tokens or required client certificates
 * (client_certs). Returns 0, or -1 with the reason in err.
 */
int exposure_check_url(const char *url, bool tokens, bool client_certs,
        char *err, size_t errlen);

/*
 * exposure_check_events_url is exposure_check_url for the --events URL: the
 * event stream has no authentication, so a non-loopback address is always
 * refused, with a reason that says so. When auth tokens guard the requests
 * (tokens), any tcp:// or tls+tcp:// stream, loopback too, is refused as
 * well unless the operator said it may be unauthenticated
 * (unauthenticated, events_unauthenticated = true): other local users
 * could read it. Returns 0, or -1 with the reason in err.
 */
int exposure_check_events_url(const char *url, bool tokens,
        bool unauthenticated, char *err, size_t errlen);

#endif /* CLM_NET_EXPOSURE_H */
