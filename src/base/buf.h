/*
 * Growable byte buffers with explicit ownership.
 *
 * A buf owns its storage; buf_free() releases it.  Readable bytes are
 * [buf_data(b), buf_data(b) + buf_len(b)); consuming from the front moves a
 * start offset instead of copying, and the space is reclaimed by the next
 * reserve that needs it.  Pointers into a buf stay valid until the next call
 * that may grow or compact it (reserve, append, printf).
 *
 * All growing functions return 0 on success and -1 when memory is exhausted
 * or the buffer would pass its limit (buf_set_limit), leaving it unchanged.
 * A buf holds what peers send, so it grows through mem_try_realloc (the
 * checked allocator, base/mem.h) and its callers answer the failure.
 */
#ifndef CPLANE_BASE_BUF_H
#define CPLANE_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
	uint8_t *base;
	size_t start;	/* first readable byte */
	size_t end;	/* one past the last readable byte */
	size_t cap;
	size_t limit;	/* 0 = no limit; else max buf_len() */
} buf;

#define BUF_INIT {NULL, 0, 0, 0, 0}

void buf_init(buf *b);
void buf_free(buf *b);
/* Sets the largest length the buffer may hold (0 = unlimited). */
void buf_set_limit(buf *b, size_t limit);

/* NULL for a buffer never allocated (NULL + 0 is undefined behaviour). */
static inline uint8_t *buf_data(const buf *b) { return b->base ? b->base + b->start : NULL; }
static inline size_t buf_len(const buf *b) { return b->end - b->start; }
/* Writable space after the readable bytes; valid after buf_reserve(). */
static inline uint8_t *buf_tail(const buf *b) { return b->base ? b->base + b->end : NULL; }
static inline size_t buf_tail_room(const buf *b) { return b->cap - b->end; }

/* buf_reserve() when the room is not there already (moves or grows). */
int buf_reserve_slow(buf *b, size_t n);
/* Makes room for at least n more bytes at buf_tail(); 0, or -1 on ENOMEM or
 * past the limit.  Inline: the h2 and gRPC paths reserve ~18 times a call,
 * nearly always into room they have. */
static inline int buf_reserve(buf *b, size_t n)
{
	if (b->cap - b->end >= n && (b->limit == 0 || b->end - b->start + n <= b->limit))
		return 0;
	return buf_reserve_slow(b, n);
}
/* Marks n bytes written at buf_tail() as readable (n <= buf_tail_room). */
static inline void buf_commit(buf *b, size_t n) { b->end += n; }
int buf_append(buf *b, const void *p, size_t n);
int buf_append_byte(buf *b, uint8_t c);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops n bytes (n <= buf_len) from the front. */
void buf_consume(buf *b, size_t n);
/* Empties the buffer, keeping its storage. */
void buf_reset(buf *b);
/* Moves storage out: *out receives a malloc'd pointer the caller frees. */
uint8_t *buf_detach(buf *b, size_t *len);

#endif
