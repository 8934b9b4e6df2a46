/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF, fast on
 * short inputs.  The worker's gate uses it, with a key drawn at start, to
 * recognise the authorization value a connection sent last time without
 * hashing it with SHA-256 again and without keeping the token itself: only
 * someone who knows the key can make two values collide.
 */
#ifndef CPLANE_AUTH_SIPHASH_H
#define CPLANE_AUTH_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t auth_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
