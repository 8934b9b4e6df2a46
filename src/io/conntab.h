/*
 * Connection table: admission, deadlines and eviction for a server's
 * connections, sans-I/O (no sockets, no clock: times are given), so the
 * same policy serves the gRPC port and the metrics port whatever carries
 * their bytes (plain TCP or TLS).
 *
 * Each connection embeds a conntab_ent and is, at any time, in one of
 * CONNTAB_LISTS lists or in none ("busy": doing useful work, never timed
 * out or evicted).  The owner says what each list means, e.g. for gRPC:
 * 0 = handshake not finished, 1 = no open stream, 2 = closing.  An entry
 * enters a list at the tail with since = now, so every list is ordered by
 * since and its head is both its oldest entry and its earliest deadline
 * (since + the list's timeout).
 *
 * Admission: when the table is full, or the newcomer's peer already holds
 * per_peer entries, the oldest listed entry (of that peer, in the second
 * case) is named as the victim to close, instead of refusing the newcomer:
 * an attacker holding idle connections cannot lock out a new client; only
 * when every candidate is busy is the newcomer refused.
 *
 * Peers are counted by a 32-bit key (a hash of the address without port)
 * in a fixed array of counters; keys that collide share one budget, which
 * errs on the strict side.  No allocation after conntab_init().
 */
#ifndef CPLANE_IO_CONNTAB_H
#define CPLANE_IO_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

#define CONNTAB_LISTS 3
#define CONNTAB_BUSY (-1)
#define CONNTAB_PEER_SLOTS 1024

typedef struct conntab_ent {
	struct conntab_ent *prev, *next;
	int64_t since;		/* ms: when it entered its list */
	uint32_t peer;
	int list;		/* 0..CONNTAB_LISTS-1, or CONNTAB_BUSY */
	int in_table;
} conntab_ent;

typedef struct conntab {
	size_t cap;		/* entries at most (>= 1) */
	size_t per_peer;	/* entries per peer key at most; 0 = no limit */
	int64_t timeout_ms[CONNTAB_LISTS];	/* 0 = no deadline in that list */
	size_t n;
	struct {
		conntab_ent *head, *tail;
		size_t n;
	} lists[CONNTAB_LISTS];
	uint16_t peer_count[CONNTAB_PEER_SLOTS];
} conntab;

/* Zeroes t and sets the limits; timeouts stay 0 until the owner sets them. */
void conntab_init(conntab *t, size_t cap, size_t per_peer);

enum conntab_admit {
	CONNTAB_ADMIT = 0,	/* room: add the newcomer */
	CONNTAB_EVICT = 1,	/* close *victim first (conntab_remove it), then add the newcomer */
	CONNTAB_REFUSE = -1,	/* full of busy entries: refuse the newcomer */
};
/* Decides about a newcomer from peer; *victim is set only with CONNTAB_EVICT. */
enum conntab_admit conntab_admit(const conntab *t, uint32_t peer, conntab_ent **victim);

/* Adds e (not in a table) into list at now.  The caller has admitted it (never fails). */
void conntab_add(conntab *t, conntab_ent *e, uint32_t peer, int list, int64_t now);
/* Moves e to the tail of list (or CONNTAB_BUSY), since = now.  Moving to its own list restarts it. */
void conntab_move(conntab *t, conntab_ent *e, int list, int64_t now);
/* Takes e out of the table; harmless when it is not in one. */
void conntab_remove(conntab *t, conntab_ent *e);

/* Earliest deadline of any listed entry (ms), or -1 for none. */
int64_t conntab_next_deadline(const conntab *t);
/* An entry whose deadline is <= now (the earliest), or NULL.  It stays in the table. */
conntab_ent *conntab_expired(const conntab *t, int64_t now);

/* The oldest listed entry of any list (the one to close when fds run out), or NULL. */
conntab_ent *conntab_oldest(const conntab *t);

size_t conntab_peer_count(const conntab *t, uint32_t peer);

/* 32-bit key of an address's host part (IPv4 or IPv6, port ignored; IPv4-mapped IPv6 = IPv4). */
struct sockaddr;
uint32_t conntab_peer_key(const struct sockaddr *sa);

#endif
