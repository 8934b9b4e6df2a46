/*
 * One hash table for records keyed by a NUL-terminated name (the informer's
 * cache, the cluster table), and the one string hash, FNV-1a.
 *
 * The table holds pointers to the caller's records, never copies: a record
 * stays where the caller put it, and the caller frees it.  Open addressing
 * with linear probing over a power-of-two array kept at most 3/4 full, 16
 * bits of each record's hash kept beside its pointer, so a probe touches a
 * record only when those match.  10 bytes a slot (13 to 27 per record), no
 * allocation per record.  Not thread-safe; no iteration order.
 */
#ifndef CPLANE_BASE_HTAB_H
#define CPLANE_BASE_HTAB_H

#include <stddef.h>
#include <stdint.h>

#define BASE_FNV1A_INIT 2166136261u

/* FNV-1a (32 bit) of s[0..n), continuing from h (BASE_FNV1A_INIT to start). */
uint32_t base_fnv1a(uint32_t h, const void *s, size_t n);
/* Of a NUL-terminated string, from BASE_FNV1A_INIT. */
uint32_t base_fnv1a_str(const char *s);

/* The key of a record: its NUL-terminated name. */
typedef const char *(*htab_key_fn)(const void *rec);

typedef struct htab {
	void **rec;		/* cap slots, NULL = empty */
	uint16_t *tag;		/* top 16 bits of rec[i]'s hash: most probes end here */
	size_t cap, count;
	htab_key_fn key;
} htab;

/* An empty table (allocates on first insert). */
void htab_init(htab *t, htab_key_fn key);
/* Frees the slot arrays; the records stay the caller's. */
void htab_free(htab *t);

/*
 * The slot holding the record named key, or NULL.  The caller may store a
 * different record under the same name in it (a record that moved when it
 * grew); anything else in the table must go through htab_insert/remove.
 */
void **htab_slot(const htab *t, const char *key);
/* The record named key, or NULL. */
void *htab_find(const htab *t, const char *key);
/* Adds rec, whose name must not be in the table yet.  Cannot fail: the slot
 * arrays come from xcalloc (base/mem.h). */
void htab_insert(htab *t, void *rec);
/* Takes the record named key out and returns it, or NULL when absent. */
void *htab_remove(htab *t, const char *key);

/*
 * Iteration: *pos starts at 0; returns the next record or NULL at the end.
 * Valid while the table is not modified (storing through htab_slot is fine).
 */
void *htab_next(const htab *t, size_t *pos);

#endif
