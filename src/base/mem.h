/*
 * The allocation policy (README, "Development"): a size cplane chooses
 * itself — an object, a table slot, a copy of a string already bounded by
 * validation — comes from x*alloc, which never return NULL: on failure they
 * say so on stderr and abort, as redis' zmalloc does.  There is no sensible
 * way to go on without a waiter or a table entry, and a branch nobody can
 * test is a branch that is wrong.  A size a peer picks (bytes off a socket,
 * a length a message declares) comes from mem_try_alloc/mem_try_realloc, the
 * one checked allocator: a NULL from them answers the peer (RST_STREAM,
 * GOAWAY, RESOURCE_EXHAUSTED, a parse error), and tests make them fail
 * (mem_try_fail_after_for_test) to reach each of those branches.
 */
#ifndef CPLANE_BASE_MEM_H
#define CPLANE_BASE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
/* Zeroed; n * size overflowing counts as a failure. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Tests: the n-th x*alloc from now (1 = the next) fails as if memory were exhausted; 0 = never. */
void mem_fail_after_for_test(unsigned long n);

/* A size a peer picked: NULL when memory is exhausted (never for n == 0,
 * which returns a freeable pointer); the caller answers the peer. */
void *mem_try_alloc(size_t n);
/* realloc: NULL on failure, p left as it was. */
void *mem_try_realloc(void *p, size_t n);

/* Tests: the n-th mem_try_* call from now (1 = the next) returns NULL, the
 * others succeed (so the answer to the peer that follows can be written);
 * 0 = never.  Independent of mem_fail_after_for_test: x*alloc keep working. */
void mem_try_fail_after_for_test(unsigned long n);
/* How many mem_try_* calls have been made (tests size their sweeps with it). */
unsigned long mem_try_calls_for_test(void);

#endif
