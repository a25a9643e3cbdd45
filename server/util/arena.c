#include "util/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN_CHUNK (16u * 1024u)
#define ARENA_KEEP_MAX  (2u * 1024u * 1024u)
#define ARENA_ALIGN     16u

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes in data */
	size_t used;
	_Alignas(16) unsigned char data[];
};

static void *
arena_pb_alloc(void *ud, size_t n)
{
	return arena_alloc(ud, n);
}

static void
arena_pb_free(void *ud, void *p)
{
	/* Memory goes back with arena_reset(). */
	(void) ud;
	(void) p;
}

void
arena_init(arena *a)
{
	a->head = NULL;
	a->total = 0;
	a->budget = 0;
	a->spent = 0;
	a->over = false;
	a->pb.alloc = arena_pb_alloc;
	a->pb.free = arena_pb_free;
	a->pb.allocator_data = a;
}

static void
arena_free_chunks(arena *a)
{
	struct arena_chunk *c = a->head;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
}

void
arena_fini(arena *a)
{
	arena_free_chunks(a);
	arena_budget(a, 0);
}

static struct arena_chunk *
arena_chunk_new(size_t size)
{
	struct arena_chunk *c = malloc(sizeof(*c) + size);
	if (c == NULL) {
		return NULL;
	}
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void
arena_reset(arena *a)
{
	arena_budget(a, 0);
	if (a->head == NULL) {
		return;
	}
	if (a->head->next == NULL) {
		a->head->used = 0;
		return;
	}
	/* Several chunks: replace them with one that fits the whole use. */
	size_t want = a->total;
	arena_free_chunks(a);
	if (want > ARENA_KEEP_MAX) {
		want = ARENA_KEEP_MAX;
	}
	a->head = arena_chunk_new(want);
	if (a->head != NULL) {
		a->total = want;
	}
}

size_t
arena_used(const arena *a)
{
	size_t n = 0;
	for (const struct arena_chunk *c = a->head; c != NULL; c = c->next) {
		n += c->used;
	}
	return n;
}

void *
arena_alloc(arena *a, size_t n)
{
	if (n == 0) {
		n = 1;
	}
	if (n > SIZE_MAX / 2) {
		return NULL;
	}
	n = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	size_t room = SIZE_MAX; /* what the budget leaves */
	if (a->budget != 0) {
		room = a->budget - a->spent;
		if (n > room) {
			a->over = true;
			return NULL;
		}
	}
	struct arena_chunk *c = a->head;
	if (c == NULL || c->size - c->used < n) {
		size_t size = a->total < ARENA_MIN_CHUNK ? ARENA_MIN_CHUNK
		                                         : a->total;
		if (size > room) {
			size = room; /* the rest could never be handed out */
		}
		if (size < n) {
			size = n;
		}
		c = arena_chunk_new(size);
		if (c == NULL) {
			return NULL;
		}
		c->next = a->head;
		a->head = c;
		a->total += size;
	}
	void *p = c->data + c->used;
	c->used += n;
	if (a->budget != 0) {
		a->spent += n;
	}
	return p;
}

void *
arena_zalloc(arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	if (p != NULL) {
		memset(p, 0, n);
	}
	return p;
}

char *
arena_strndup(arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = arena_alloc(a, len + 1);
	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

char *
arena_strdup(arena *a, const char *s)
{
	return arena_strndup(a, s, SIZE_MAX);
}

char *
arena_vprintf(arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		return NULL;
	}
	char *p = arena_alloc(a, (size_t) n + 1);
	if (p != NULL) {
		vsnprintf(p, (size_t) n + 1, fmt, ap);
	}
	return p;
}

char *
arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void *
arena_grow(arena *a, void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap) {
		return v;
	}
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / elem) {
		return NULL;
	}
	void *nv = arena_alloc(a, ncap * elem);
	if (nv == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(nv, v, n * elem);
	}
	*cap = ncap;
	return nv;
}

void
arena_budget(arena *a, size_t limit)
{
	a->budget = limit;
	a->spent = 0;
	a->over = false;
}

bool
arena_over_budget(const arena *a)
{
	return a->over;
}

ProtobufCAllocator *
arena_pb(arena *a)
{
	return &a->pb;
}
