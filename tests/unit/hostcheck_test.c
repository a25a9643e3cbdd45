/*
 * Unit tests of server/net/hostcheck.c: which Host and Origin values the
 * dashboard answers (DNS rebinding, cross-origin writes).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "net/hostcheck.h"

static const struct hostcheck_names names = {
	.listen = "127.0.0.1:7452",
	.allowed = " dash.example.com , metrics.internal.,",
};

static bool
host(const char *h)
{
	return hostcheck_host_allowed(&names, h);
}

Test(hostcheck, own_names_and_addresses)
{
	cr_expect(host("127.0.0.1:7452"));
	cr_expect(host("127.0.0.1"), "without the port");
	cr_expect(host("localhost:7452"));
	cr_expect(host("LocalHost:7452"), "case is ignored");
	cr_expect(host("localhost.:7452"), "the FQDN form");
	cr_expect(host("localhost"));
	cr_expect(host("localhost:2222"), "an SSH tunnel's port");
	cr_expect(host("[::1]:7452"));
	cr_expect(host("[::1]"));
	cr_expect(host("10.1.2.3:7452"), "an IP literal cannot be rebound");
	cr_expect(host("[fe80::1]:7452"));
	cr_expect(host("dash.example.com"), "configured");
	cr_expect(host("DASH.example.com:443"), "configured, any port");
	cr_expect(host("metrics.internal:7452"), "configured with a dot");
	cr_expect(host(" 127.0.0.1:7452 "), "spaces around the value");
}

Test(hostcheck, other_names)
{
	cr_expect(!host("evil.example"));
	cr_expect(!host("evil.example:7452"));
	cr_expect(!host("localhost.evil.example:7452"));
	cr_expect(!host("127.0.0.1.evil.example:7452"), "a name, not an IP");
	cr_expect(!host("example.com"), "a suffix of a configured name");
	cr_expect(!host("x.dash.example.com"), "a subdomain of one");
	cr_expect(!host("2130706433:7452"), "a number is a name");
	cr_expect(!host(NULL));
}

Test(hostcheck, malformed_hosts)
{
	cr_expect(!host(""));
	cr_expect(!host(":7452"));
	cr_expect(!host("."));
	cr_expect(!host("localhost:74520"), "port over 65535");
	cr_expect(!host("localhost:123456"), "six digits");
	cr_expect(!host("localhost:x"));
	cr_expect(!host("localhost:7452:1"));
	cr_expect(!host("localhost, evil.example"), "two Host lines joined");
	cr_expect(!host("user@localhost"));
	cr_expect(!host("local%68ost"));
	cr_expect(!host("[::1"));
	cr_expect(!host("[evil.example]"));
	cr_expect(!host("[::1]x"));
}

Test(hostcheck, the_listen_name_is_allowed)
{
	struct hostcheck_names n = { .listen = "app-host:7452" };
	cr_expect(hostcheck_host_allowed(&n, "app-host:7452"));
	cr_expect(hostcheck_host_allowed(&n, "APP-HOST"));
	cr_expect(!hostcheck_host_allowed(&n, "dash.example.com"),
	        "nothing configured");
	n.listen = NULL;
	cr_expect(!hostcheck_host_allowed(&n, "app-host:7452"));
	cr_expect(hostcheck_host_allowed(&n, "localhost:7452"));
}

Test(hostcheck, origins)
{
	const char *h = "127.0.0.1:7452";
	cr_expect(
	        hostcheck_origin_allowed(&names, "http://127.0.0.1:7452", h));
	cr_expect(
	        hostcheck_origin_allowed(&names, "HTTP://127.0.0.1:7452", h));
	cr_expect(hostcheck_origin_allowed(
	                  &names, "https://dash.example.com", h),
	        "a configured name, behind a proxy that rewrites Host");
	cr_expect(!hostcheck_origin_allowed(&names, "http://evil.example", h));
	cr_expect(
	        !hostcheck_origin_allowed(&names, "http://127.0.0.1:3000", h),
	        "another port is another program");
	cr_expect(
	        !hostcheck_origin_allowed(&names, "http://localhost:7452", h),
	        "another origin of this server is still another origin");
	cr_expect(!hostcheck_origin_allowed(&names, "null", h));
	cr_expect(
	        !hostcheck_origin_allowed(&names, "file://127.0.0.1:7452", h));
	cr_expect(!hostcheck_origin_allowed(
	        &names, "http://127.0.0.1:7452/x", h));
	cr_expect(!hostcheck_origin_allowed(&names, NULL, h));
	cr_expect(!hostcheck_origin_allowed(
	        &names, "http://127.0.0.1:7452", NULL));
}

static enum hostcheck_verdict
judge(const char *method, const char *h, const char *origin, const char *site)
{
	struct hostcheck_req r = { .method = method,
		.host = h,
		.origin = origin,
		.fetch_site = site };
	return hostcheck_request(&names, &r);
}

Test(hostcheck, requests_by_host)
{
	cr_expect_eq(judge("GET", "127.0.0.1:7452", NULL, NULL), HOSTCHECK_OK);
	cr_expect_eq(judge("GET", "evil.example:7452", NULL, NULL),
	        HOSTCHECK_WRONG_HOST);
	cr_expect_eq(judge("HEAD", "evil.example:7452", NULL, NULL),
	        HOSTCHECK_WRONG_HOST);
	cr_expect_eq(judge("POST", "evil.example:7452", NULL, NULL),
	        HOSTCHECK_WRONG_HOST, "the Host is judged first");
	cr_expect_eq(judge("GET", "a b", NULL, NULL), HOSTCHECK_BAD_HOST);
	cr_expect_eq(judge("GET", NULL, NULL, NULL), HOSTCHECK_NO_HOST);
	struct hostcheck_req r10 = { .method = "GET", .http10 = true };
	cr_expect_eq(hostcheck_request(&names, &r10), HOSTCHECK_OK,
	        "HTTP/1.0 may omit Host");
	r10.host = "evil.example";
	cr_expect_eq(hostcheck_request(&names, &r10), HOSTCHECK_WRONG_HOST,
	        "but not send a wrong one");
}

Test(hostcheck, reads_from_anywhere)
{
	/* A page may send a GET anywhere; it cannot read the answer. */
	cr_expect_eq(judge("GET", "127.0.0.1:7452", "http://evil.example",
	                     "cross-site"),
	        HOSTCHECK_OK);
	cr_expect_eq(
	        judge("HEAD", "127.0.0.1:7452", "http://evil.example", NULL),
	        HOSTCHECK_OK);
	cr_expect_eq(judge("OPTIONS", "127.0.0.1:7452", "http://evil.example",
	                     "cross-site"),
	        HOSTCHECK_OK);
}

Test(hostcheck, writes_from_other_origins)
{
	const char *h = "127.0.0.1:7452";
	/* Sec-Fetch-Site, when sent, decides. */
	cr_expect_eq(judge("POST", h, "http://evil.example", "cross-site"),
	        HOSTCHECK_CROSS_ORIGIN);
	cr_expect_eq(
	        judge("POST", h, NULL, "cross-site"), HOSTCHECK_CROSS_ORIGIN);
	cr_expect_eq(judge("POST", h, "http://localhost:3000", "same-site"),
	        HOSTCHECK_CROSS_ORIGIN, "another port on localhost");
	cr_expect_eq(
	        judge("DELETE", h, "http://127.0.0.1:7452", "same-origin"),
	        HOSTCHECK_OK);
	cr_expect_eq(judge("POST", h, NULL, "none"), HOSTCHECK_OK,
	        "typed by the user");
	cr_expect_eq(
	        judge("POST", h, "https://dash.example.com", "cross-site"),
	        HOSTCHECK_OK, "a configured name is this server");
	/* Without it, the Origin must be the Host's own. */
	cr_expect_eq(judge("POST", h, "http://evil.example", NULL),
	        HOSTCHECK_CROSS_ORIGIN);
	cr_expect_eq(judge("PUT", h, "null", NULL), HOSTCHECK_CROSS_ORIGIN);
	cr_expect_eq(
	        judge("POST", h, "http://127.0.0.1:7452", NULL), HOSTCHECK_OK);
	/* Neither header: not a web page (curl, a client library). */
	cr_expect_eq(judge("POST", h, NULL, NULL), HOSTCHECK_OK);
	cr_expect_eq(judge(NULL, h, "http://evil.example", NULL),
	        HOSTCHECK_CROSS_ORIGIN, "no method is not a safe one");
}

Test(hostcheck, allowed_list_syntax)
{
	char err[256];
	cr_expect_eq(hostcheck_check_allowed("", err, sizeof(err)), 0);
	cr_expect_eq(hostcheck_check_allowed(NULL, err, sizeof(err)), 0);
	cr_expect_eq(hostcheck_check_allowed(
	                     "dash.example.com, metrics.internal.,,", err,
	                     sizeof(err)),
	        0);
	cr_expect_eq(hostcheck_check_allowed(
	                     "dash.example.com:443", err, sizeof(err)),
	        -1);
	cr_expect_str_eq(err,
	        "invalid http_allowed_hosts entry 'dash.example.com:443': expected a host name without a port (names are separated by commas)");
	cr_expect_eq(hostcheck_check_allowed("a b", err, sizeof(err)), -1,
	        "names are separated by commas, not spaces");
	cr_expect_eq(hostcheck_check_allowed("*", err, sizeof(err)), -1);
	cr_expect(strstr(err, "'*'") != NULL, "%s", err);
}
