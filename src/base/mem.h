/*
 * The allocation policy (README, "Development"): a size cplane chooses
 * itself — an object, a table slot, a copy of a string already bounded by
 * validation — comes from x*alloc, which never return NULL: on failure they
 * say so on stderr and abort, as redis' zmalloc does.  There is no sensible
 * way to go on without a waiter or a table entry, and a branch nobody can
 * test is a branch that is wrong.  A size a peer picks (bytes off a socket,
 * a length a message declares) keeps plain malloc and a checked failure that
 * answers the peer; tests reach those branches.
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

#endif
