/*
 * evtoken: the event stream's short-lived tokens (evtoken.h). A slot
 * with expires_ms 0 is free; a free or expired slot never matches,
 * since the comparison starts from the expiry's verdict.
 */
#include "net/evtoken.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct evtoken_slot {
	char hex[EVTOKEN_LEN];
	int64_t expires_ms;
};

struct evtoken {
	pthread_mutex_t mu;
	int64_t ttl_ms;
	struct evtoken_slot slots[EVTOKEN_MAX]; /* guarded by mu */
};

clm_err
evtoken_open(int64_t ttl_ms, evtoken **out)
{
	evtoken *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->ttl_ms = ttl_ms;
	*out = t;
	return CLM_OK;
}

void
evtoken_close(evtoken *t)
{
	if (t == NULL) {
		return;
	}
	pthread_mutex_destroy(&t->mu);
	/* Wiped: volatile, so the compiler keeps the stores. */
	volatile unsigned char *p = (volatile unsigned char *) t->slots;
	for (size_t i = 0; i < sizeof(t->slots); i++) {
		p[i] = 0;
	}
	free(t);
}

clm_err
evtoken_issue(evtoken *t, int64_t now_ms, char out[EVTOKEN_LEN + 1])
{
	unsigned char raw[EVTOKEN_BYTES];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw)) {
		return CLM_UNAVAILABLE;
	}
	char hex[EVTOKEN_LEN + 1];
	for (size_t i = 0; i < sizeof(raw); i++) {
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	}
	pthread_mutex_lock(&t->mu);
	struct evtoken_slot *s = &t->slots[0];
	for (size_t i = 1; i < EVTOKEN_MAX; i++) {
		if (t->slots[i].expires_ms < s->expires_ms) {
			s = &t->slots[i];
		}
	}
	memcpy(s->hex, hex, EVTOKEN_LEN);
	s->expires_ms = now_ms + t->ttl_ms;
	pthread_mutex_unlock(&t->mu);
	memcpy(out, hex, sizeof(hex));
	return CLM_OK;
}

bool
evtoken_check(evtoken *t, const char *tok, size_t len, int64_t now_ms)
{
	if (len != EVTOKEN_LEN) {
		return false;
	}
	bool ok = false;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < EVTOKEN_MAX; i++) {
		const struct evtoken_slot *s = &t->slots[i];
		unsigned char diff = s->expires_ms > now_ms ? 0 : 1;
		for (size_t k = 0; k < EVTOKEN_LEN; k++) {
			diff |= (unsigned char) (s->hex[k] ^ tok[k]);
		}
		ok = ok || diff == 0;
	}
	pthread_mutex_unlock(&t->mu);
	return ok;
}
