/* Clocks: monotonic milliseconds for timers and durations, wall time for logs and timestamps. */
#ifndef CPLANE_BASE_CLOCK_H
#define CPLANE_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds; never goes backwards. */
int64_t clock_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds (latency measurement). */
int64_t clock_mono_us(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);
/* Formats unix seconds as RFC 3339 UTC "2023-01-23T14:20:19Z" into out (>= 21 bytes); returns length. */
int clock_format_rfc3339(int64_t unix_s, char *out, int outsz);
/* Parses "2023-01-23T14:20:19Z" (optionally with fractional seconds); returns 0 and unix ms, or -1. */
int clock_parse_rfc3339(const char *s, size_t len, int64_t *unix_ms);

#endif
