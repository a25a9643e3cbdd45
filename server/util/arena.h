/*
 * arena: a bump allocator for everything one request needs.
 *
 * Each rpc work item owns one arena. The decoded request (protobuf-c unpacks
 * through arena_pb()), the reply and every temporary string come from it,
 * and arena_reset() frees them all at once when the reply has been packed.
 * After a request that needed several chunks, reset keeps one chunk big
 * enough for it, so steady-state traffic does no malloc at all. A budget
 * (arena_budget) bounds what unpacking a request may take.
 *
 * An arena is used by one thread at a time; handing it to another thread
 * (the writer) must go through a lock or queue that orders the accesses.
 */
#ifndef CLM_ARENA_H
#define CLM_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

typedef struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t total;             /* bytes in all chunks */
	size_t budget;            /* 0: none; see arena_budget */
	size_t spent;             /* bytes handed out since arena_budget */
	bool over;                /* an allocation was refused by the budget */
	ProtobufCAllocator pb;
} arena;

/* arena_init prepares a caller-embedded arena; it allocates nothing yet. */
void arena_init(arena *a);

/* arena_fini frees every chunk; a is then as after arena_init. */
void arena_fini(arena *a);

/*
 * arena_reset frees everything allocated from a, keeping (at most) one chunk
 * the size that the last use needed, capped at 2 MiB (a work item that once
 * carried a large batch does not hold on to its memory), and lifts any
 * budget.
 */
void arena_reset(arena *a);

/*
 * arena_used returns the bytes handed out since the last reset (with their
 * alignment), whereas a->total counts the chunks that hold them.
 */
size_t arena_used(const arena *a);

/*
 * arena_alloc returns n bytes aligned for any type, or NULL when memory is
 * exhausted. The memory is not zeroed; arena_zalloc zeroes it.
 */
void *arena_alloc(arena *a, size_t n);
void *arena_zalloc(arena *a, size_t n);

/* arena_strdup copies s (NUL-terminated), arena_strndup at most n bytes. */
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);

/* arena_printf formats into arena memory; NULL when memory is exhausted. */
char *arena_printf(arena *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);

/*
 * arena_grow makes room for element n of the array v (elements of elem
 * bytes, *cap of them allocated): it returns v itself while n < *cap, else
 * a copy twice as large (at least 16) in arena memory, updating *cap.
 * NULL when memory is exhausted (v is still valid then).
 */
void *arena_grow(arena *a, void *v, size_t n, size_t *cap, size_t elem);

/*
 * arena_budget limits what a may hand out from now on to limit bytes in
 * all (alignment included), or lifts the limit when limit is 0. While a
 * budget is set, an allocation that would go past it returns NULL and
 * marks the arena over budget, and new chunks are cut to what is left of
 * it, so a holds at most its chunk kept by the last reset plus limit
 * (and a chunk header). rpc sets one around unpacking a request, before
 * the request is authenticated or validated (docs/api.md "Limits").
 * Setting or lifting a budget clears the mark; arena_reset lifts it.
 */
void arena_budget(arena *a, size_t limit);

/* arena_over_budget tells whether an allocation was refused by the budget
 * since arena_budget was last called. */
bool arena_over_budget(const arena *a);

/* arena_pb returns a protobuf-c allocator drawing from a (free is a no-op). */
ProtobufCAllocator *arena_pb(arena *a);

#endif /* CLM_ARENA_H */
