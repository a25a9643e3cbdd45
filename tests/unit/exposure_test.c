/*
 * Unit tests of server/net/exposure.c: the one rule for what clmd may
 * listen on (docs/operations.md "Securing it").
 */
#include <criterion/criterion.h>
#include <string.h>

#include "net/exposure.h"

static bool
loopback(const char *host)
{
	return exposure_is_loopback(host, strlen(host));
}

Test(exposure, loopback_hosts)
{
	cr_expect(loopback("localhost"));
	cr_expect(loopback("[::1]"));
	cr_expect(loopback("127.0.0.1"));
	cr_expect(loopback("127.255.3.9"));
	cr_expect(!loopback("127.0.0"), "three parts");
	cr_expect(!loopback("127.0.0.1.example.invalid"), "a name");
	cr_expect(!loopback("127.0.0.256"), "octet over 255");
	cr_expect(!loopback("127.0..1"), "empty part");
	cr_expect(!loopback("127.0.0.1000"), "four digits");
	cr_expect(!loopback("128.0.0.1"));
	cr_expect(!loopback("0.0.0.0"));
	cr_expect(!loopback("[::]"));
	cr_expect(!loopback("localhost.example"));
	cr_expect(!loopback(""));
}

Test(exposure, check_url)
{
	char err[256];
	/* Loopback and ipc:// are always allowed. */
	cr_expect_eq(exposure_check_url("tcp://127.0.0.1:5555", false, false,
	                     err, sizeof(err)),
	        0);
	cr_expect_eq(exposure_check_url("ipc:///tmp/clm.sock", false, false,
	                     err, sizeof(err)),
	        0);
	/* Elsewhere only when guarded. */
	cr_expect_eq(exposure_check_url("tcp://0.0.0.0:5555", false, false,
	                     err, sizeof(err)),
	        -1);
	cr_expect(strstr(err, "not a loopback address") != NULL, "%s", err);
	cr_expect_eq(exposure_check_url("tcp://0.0.0.0:5555", true, false, err,
	                     sizeof(err)),
	        0, "tokens guard tcp://");
	cr_expect_eq(exposure_check_url("tcp://0.0.0.0:5555", false, true, err,
	                     sizeof(err)),
	        -1, "client certificates do not guard plain tcp://");
	cr_expect_eq(exposure_check_url("tls+tcp://0.0.0.0:5555", false, true,
	                     err, sizeof(err)),
	        0, "client certificates guard tls+tcp://");
	/* Unknown schemes and an empty ipc path are refused. */
	cr_expect_eq(exposure_check_url("ws://127.0.0.1:5555", true, true, err,
	                     sizeof(err)),
	        -1);
	cr_expect(strstr(err, "use tcp://HOST:PORT") != NULL, "%s", err);
	cr_expect_eq(
	        exposure_check_url("ipc://", true, true, err, sizeof(err)),
	        -1);
}

Test(exposure, check_events_url)
{
	char err[256];
	cr_expect_eq(exposure_check_events_url("tcp://127.0.0.1:5556", false,
	                     false, err, sizeof(err)),
	        0);
	cr_expect_eq(exposure_check_events_url("ipc:///tmp/clm-events.sock",
	                     false, false, err, sizeof(err)),
	        0);
	/* Nothing guards the stream: elsewhere is refused, and says why. */
	cr_expect_eq(exposure_check_events_url("tcp://0.0.0.0:5556", false,
	                     false, err, sizeof(err)),
	        -1);
	cr_expect_str_eq(err,
	        "refusing to publish events on 'tcp://0.0.0.0:5556': the event stream has no authentication, so it listens only on loopback or ipc://");
	cr_expect_eq(exposure_check_events_url("tls+tcp://[::]:5556", false,
	                     false, err, sizeof(err)),
	        -1);
	cr_expect(strstr(err, "no authentication") != NULL, "%s", err);
	cr_expect_eq(exposure_check_events_url("ws://127.0.0.1:5556", false,
	                     false, err, sizeof(err)),
	        -1);
	cr_expect(strstr(err, "use tcp://HOST:PORT") != NULL, "%s", err);
}

Test(exposure, check_events_url_with_tokens)
{
	char err[512];
	/* With tokens, tcp:// (loopback too) needs the explicit opt-in. */
	cr_expect_eq(exposure_check_events_url("tcp://127.0.0.1:5556", true,
	                     false, err, sizeof(err)),
	        -1);
	cr_expect(strstr(err, "events_unauthenticated = true") != NULL, "%s",
	        err);
	cr_expect_eq(exposure_check_events_url("tls+tcp://127.0.0.1:5556",
	                     true, false, err, sizeof(err)),
	        -1);
	cr_expect_eq(exposure_check_events_url("tcp://127.0.0.1:5556", true,
	                     true, err, sizeof(err)),
	        0);
	/* The opt-in does not open the stream beyond loopback. */
	cr_expect_eq(exposure_check_events_url("tcp://0.0.0.0:5556", true,
	                     true, err, sizeof(err)),
	        -1);
	cr_expect(strstr(err, "listens only on loopback") != NULL, "%s", err);
	cr_expect_eq(exposure_check_events_url("ipc:///tmp/clm-events.sock",
	                     true, false, err, sizeof(err)),
	        0);
}
