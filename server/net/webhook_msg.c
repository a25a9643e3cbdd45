#include "net/webhook_msg.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstr.h"

int64_t
webhook_retry_ms(int64_t now_ms, uint32_t attempts, unsigned max_attempts)
{
	if ((uint64_t) attempts + 1 >= max_attempts) {
		return 0;
	}
	int64_t delay = WEBHOOK_RETRY_MIN_MS;
	for (uint32_t i = 0; i < attempts && delay < WEBHOOK_RETRY_MAX_MS;
	        i++) {
		delay *= 2;
	}
	if (delay > WEBHOOK_RETRY_MAX_MS) {
		delay = WEBHOOK_RETRY_MAX_MS;
	}
	return now_ms + delay;
}

/* A growing string; failed: memory ran out (the rest is dropped). */
struct webhook_buf {
	char *s;
	size_t n, cap;
	bool failed;
};

static void
webhook_buf_put(void *arg, const char *s, size_t n)
{
	struct webhook_buf *b = arg;
	if (b->failed) {
		return;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap * 2 + n + 64;
		char *p = realloc(b->s, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void
webhook_buf_lit(struct webhook_buf *b, const char *s)
{
	webhook_buf_put(b, s, strlen(s));
}

/* ", "key": " then the JSON string of s. */
static void
webhook_buf_str(struct webhook_buf *b, const char *key, const char *s)
{
	webhook_buf_lit(b, key);
	jsonstr_write(s, strlen(s), JSONSTR_SHORT_ESCAPES, webhook_buf_put, b);
}

static void
webhook_buf_int(struct webhook_buf *b, const char *key, int64_t v)
{
	char num[32];
	snprintf(num, sizeof(num), "%" PRId64, v);
	webhook_buf_lit(b, key);
	webhook_buf_lit(b, num);
}

/* An enum's name, or its number when the proto names none. */
static void
webhook_buf_enum(struct webhook_buf *b, const char *key,
        const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev
	        = protobuf_c_enum_descriptor_get_value(d, v);
	if (ev != NULL) {
		webhook_buf_str(b, key, ev->name);
	} else {
		webhook_buf_int(b, key, v);
	}
}

char *
webhook_body(const Clm__V1__LifecycleEvent *ev, size_t *len)
{
	struct webhook_buf b = { 0 };
	webhook_buf_str(&b, "{\"message_id\": ", ev->message_id);
	webhook_buf_str(&b, ", \"journey\": ", ev->journey);
	webhook_buf_int(&b, ", \"step\": ", ev->step);
	webhook_buf_str(&b, ", \"customer_id\": ", ev->customer_id);
	webhook_buf_enum(&b, ", \"recommendation_kind\": ",
	        &clm__v1__recommendation_kind__descriptor,
	        (int) ev->recommendation_kind);
	webhook_buf_str(&b, ", \"action\": ", ev->action);
	webhook_buf_enum(&b, ", \"channel\": ", &clm__v1__channel__descriptor,
	        (int) ev->channel);
	webhook_buf_str(&b, ", \"item\": ", ev->item);
	webhook_buf_int(&b, ", \"at_ms\": ", ev->at_ms);
	char pos[32];
	snprintf(pos, sizeof(pos), "%" PRIu64, ev->position);
	webhook_buf_lit(&b, ", \"position\": ");
	webhook_buf_lit(&b, pos);
	webhook_buf_lit(&b, "}");
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	if (len != NULL) {
		*len = b.n;
	}
	return b.s;
}

void
webhook_hmac_hex(const void *key, size_t key_len, const void *data, size_t len,
        char out[65])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

void
webhook_sign(const char *secret, int64_t ts_s, const char *body, size_t len,
        char out[WEBHOOK_SIG_LEN])
{
	char ts[32];
	int n = snprintf(ts, sizeof(ts), "%" PRId64 ".", ts_s);
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(
	        &st, (const unsigned char *) secret, strlen(secret));
	crypto_auth_hmacsha256_update(
	        &st, (const unsigned char *) ts, (size_t) n);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, WEBHOOK_SIG_LEN - 7, mac, sizeof(mac));
}

void
webhook_url_shown(const char *url, char *out, size_t n)
{
	if (n == 0) {
		return;
	}
	const char *host = strstr(url, "://");
	host = host != NULL ? host + 3 : url;
	size_t auth = strcspn(host, "/?#"); /* the authority's length */
	const char *at = memchr(host, '@', auth);
	if (at != NULL) {
		/* The scheme, then the authority after its '@'. */
		snprintf(out, n, "%.*s%s", (int) (host - url), url, at + 1);
	} else {
		snprintf(out, n, "%s", url);
	}
}
