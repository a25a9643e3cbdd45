/*
 * Unit tests of net/webhook_msg.c: the HMAC against RFC 4231's vector,
 * the X-Clm-Signature against `openssl dgst -hmac` run by the test, the
 * retry schedule (doubling from 1 s, at most 1 h, dead after
 * max_attempts), and the exact JSON body, escapes included.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/webhook_msg.h"

/* RFC 4231, 4.3 (test case 2): key "Jefe". */
Test(webhook, hmac_rfc4231_case2)
{
	char hex[65];
	const char *data = "what do ya want for nothing?";
	webhook_hmac_hex("Jefe", 4, data, strlen(data), hex);
	cr_assert_str_eq(hex,
	        "5bdcc146bf60754e6a042426089575c7"
	        "5a003f089d2739839dec58b964ec3843");
}

/* RFC 4231, 4.8 (test case 7): a key longer than the block (131 bytes). */
Test(webhook, hmac_rfc4231_case7_long_key)
{
	unsigned char key[131];
	memset(key, 0xaa, sizeof(key));
	const char *data
	        = "This is a test using a larger than block-size key and a "
	          "larger than block-size data. The key needs to be hashed "
	          "before being used by the HMAC algorithm.";
	char hex[65];
	webhook_hmac_hex(key, sizeof(key), data, strlen(data), hex);
	cr_assert_str_eq(hex,
	        "9b09ffa71b942fcb27635fbcd5b0e944"
	        "bfdc63644f0713938a7f51535c3a35e2");
}

/* openssl's HMAC-SHA256 of the file path under key, in hex. */
static void
webhook_test_openssl(const char *key, const char *path, char out[65])
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' '%s'", key,
	        path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char line[256] = "";
	cr_assert_not_null(fgets(line, sizeof(line), p));
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	/* "HMAC-SHA2-256(path)= HEX" (the name varies by version). */
	char *eq = strstr(line, "= ");
	cr_assert_not_null(eq, "unexpected openssl output: %s", line);
	snprintf(out, 65, "%.64s", eq + 2);
}

Test(webhook, signature_matches_openssl)
{
	const char *body = "{\"message_id\": \"jm_0123\", \"journey\": "
	                   "\"caf\xc3\xa9\", \"step\": 1}";
	const char *secret = "s3cr3t-with_punct.!";
	int64_t ts = 1767139200;
	char sig[WEBHOOK_SIG_LEN];
	webhook_sign(secret, ts, body, strlen(body), sig);
	cr_assert_eq(strlen(sig), WEBHOOK_SIG_LEN - 1);
	cr_assert(strncmp(sig, "sha256=", 7) == 0, "%s", sig);

	char path[] = "/tmp/clm-webhook-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fprintf(f, "%" PRId64 ".%s", ts, body);
	cr_assert_eq(fclose(f), 0);
	char want[65];
	webhook_test_openssl(secret, path, want);
	unlink(path);
	cr_assert_str_eq(sig + 7, want);

	/* Another instant signs differently: the timestamp is covered. */
	char sig2[WEBHOOK_SIG_LEN];
	webhook_sign(secret, ts + 1, body, strlen(body), sig2);
	cr_assert_str_neq(sig, sig2);
}

Test(webhook, retry_schedule)
{
	int64_t now = 1000000;
	/* 1 s, 2 s, 4 s, ... for attempts 0, 1, 2, ... (max 100). */
	int64_t want = 1000;
	for (uint32_t a = 0; a < 12; a++) {
		cr_assert_eq(webhook_retry_ms(now, a, 100), now + want,
		        "attempts %u", a);
		want *= 2;
	}
	/* 2^12 s is over an hour: at most 1 h from there on. */
	cr_assert_eq(webhook_retry_ms(now, 12, 100), now + 3600000);
	cr_assert_eq(webhook_retry_ms(now, 98, 100), now + 3600000);
	/* Dead once attempts + 1 reaches max_attempts. */
	cr_assert_eq(webhook_retry_ms(now, 99, 100), 0);
	cr_assert_eq(webhook_retry_ms(now, 0, 1), 0);
	cr_assert_eq(webhook_retry_ms(now, 0, 2), now + 1000);
	cr_assert_eq(webhook_retry_ms(now, 1, 2), 0);
	cr_assert_eq(webhook_retry_ms(now, 8, 10), now + 256000);
	cr_assert_eq(webhook_retry_ms(now, 9, 10), 0);
	/* A count past max (a definition lowered it): dead, no overflow. */
	cr_assert_eq(webhook_retry_ms(now, UINT32_MAX, 10), 0);
}

Test(webhook, body_exact)
{
	Clm__V1__LifecycleEvent ev = CLM__V1__LIFECYCLE_EVENT__INIT;
	ev.kind = CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE;
	ev.message_id = "jm_00112233445566778899aabbccddeeff";
	ev.journey = "cart-recovery";
	ev.step = 2;
	ev.customer_id = "c1";
	ev.recommendation_kind = CLM__V1__RECOMMENDATION_KIND__CART_REMINDER;
	ev.action = "cart_reminder";
	ev.channel = CLM__V1__CHANNEL__EMAIL;
	ev.item = "sku-1";
	ev.at_ms = 1767139200000;
	ev.position = 42;
	size_t len = 0;
	char *body = webhook_body(&ev, &len);
	cr_assert_not_null(body);
	const char *want
	        = "{\"message_id\": \"jm_00112233445566778899aabbccddeeff\", "
	          "\"journey\": \"cart-recovery\", \"step\": 2, "
	          "\"customer_id\": \"c1\", "
	          "\"recommendation_kind\": \"CART_REMINDER\", "
	          "\"action\": \"cart_reminder\", \"channel\": \"EMAIL\", "
	          "\"item\": \"sku-1\", \"at_ms\": 1767139200000, "
	          "\"position\": 42}";
	cr_assert_str_eq(body, want);
	cr_assert_eq(len, strlen(want));
	free(body);
}

Test(webhook, body_escapes_strings)
{
	Clm__V1__LifecycleEvent ev = CLM__V1__LIFECYCLE_EVENT__INIT;
	ev.message_id = "jm_x";
	ev.journey = "j";
	ev.customer_id = "a\"b\\c\nd\x01\xc3\xa9";
	ev.recommendation_kind = CLM__V1__RECOMMENDATION_KIND__WIN_BACK;
	ev.action = "tab\there";
	ev.channel = CLM__V1__CHANNEL__SMS;
	ev.item = ""; /* none: an empty string */
	ev.at_ms = -5;
	ev.position = UINT64_MAX;
	char *body = webhook_body(&ev, NULL);
	cr_assert_not_null(body);
	cr_assert_str_eq(body,
	        "{\"message_id\": \"jm_x\", \"journey\": \"j\", \"step\": 0, "
	        "\"customer_id\": \"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\", "
	        "\"recommendation_kind\": \"WIN_BACK\", "
	        "\"action\": \"tab\\there\", \"channel\": \"SMS\", "
	        "\"item\": \"\", \"at_ms\": -5, "
	        "\"position\": 18446744073709551615}");
	free(body);
}

Test(webhook, body_unnamed_enum_is_a_number)
{
	Clm__V1__LifecycleEvent ev = CLM__V1__LIFECYCLE_EVENT__INIT;
	ev.message_id = "jm_x";
	ev.journey = "j";
	ev.customer_id = "c";
	ev.recommendation_kind = 77;
	ev.action = "a";
	ev.channel = 99;
	ev.item = "i";
	char *body = webhook_body(&ev, NULL);
	cr_assert_not_null(body);
	cr_assert(strstr(body, "\"recommendation_kind\": 77, ") != NULL, "%s",
	        body);
	cr_assert(strstr(body, "\"channel\": 99, ") != NULL, "%s", body);
	free(body);
}

/* Logs show a webhook's URL without the credentials it may carry. */
Test(webhook, url_shown_without_credentials)
{
	char out[64];
	webhook_url_shown(
	        "http://user:pw@hooks.example:8080/a@b?c", out, sizeof(out));
	cr_assert_str_eq(out, "http://hooks.example:8080/a@b?c");
	webhook_url_shown("http://127.0.0.1:9/hook", out, sizeof(out));
	cr_assert_str_eq(out, "http://127.0.0.1:9/hook");
	webhook_url_shown("http://a@b", out, 6);
	cr_assert_str_eq(out, "http:");
}
