/*
 * Implementation notes.
 *
 * Lists are intrusive and ordered by since because entries only ever join
 * at the tail with since = now (the owner's loop time never goes back), so
 * the hot path — a gRPC connection going busy and idle once per call — is
 * two O(1) unlink/append operations.  Only admission at capacity scans, and
 * only the per-peer case scans further than list heads: that cost falls on
 * the moment a peer floods, not on steady traffic.
 */
#include "io/conntab.h"
#include "base/htab.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static size_t peer_slot(uint32_t peer)
{
	return peer % CONNTAB_PEER_SLOTS;
}

void conntab_init(conntab *t, size_t cap, size_t per_peer)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap ? cap : 1;
	t->per_peer = per_peer;
}

static void unlink_ent(conntab *t, conntab_ent *e)
{
	if (e->list < 0)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		t->lists[e->list].head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->lists[e->list].tail = e->prev;
	t->lists[e->list].n--;
	e->prev = e->next = NULL;
	e->list = CONNTAB_BUSY;
}

static void append_ent(conntab *t, conntab_ent *e, int list, int64_t now)
{
	e->since = now;
	e->list = list;
	e->prev = e->next = NULL;
	if (list < 0 || list >= CONNTAB_LISTS) {
		e->list = CONNTAB_BUSY;
		return;
	}
	e->prev = t->lists[list].tail;
	if (e->prev)
		e->prev->next = e;
	else
		t->lists[list].head = e;
	t->lists[list].tail = e;
	t->lists[list].n++;
}

conntab_ent *conntab_oldest(const conntab *t)
{
	conntab_ent *best = NULL;

	for (int i = 0; i < CONNTAB_LISTS; i++) {
		conntab_ent *h = t->lists[i].head;
		if (h && (best == NULL || h->since < best->since))
			best = h;
	}
	return best;
}

static conntab_ent *oldest_of_peer(const conntab *t, uint32_t peer)
{
	conntab_ent *best = NULL;
	size_t slot = peer_slot(peer);

	for (int i = 0; i < CONNTAB_LISTS; i++) {
		/* The first match in a list is its oldest of that peer. */
		for (conntab_ent *e = t->lists[i].head; e; e = e->next) {
			if (peer_slot(e->peer) != slot)
				continue;
			if (best == NULL || e->since < best->since)
				best = e;
			break;
		}
	}
	return best;
}

enum conntab_admit conntab_admit(const conntab *t, uint32_t peer, conntab_ent **victim)
{
	*victim = NULL;
	if (t->per_peer && t->peer_count[peer_slot(peer)] >= t->per_peer) {
		*victim = oldest_of_peer(t, peer);
		return *victim ? CONNTAB_EVICT : CONNTAB_REFUSE;
	}
	if (t->n < t->cap)
		return CONNTAB_ADMIT;
	*victim = conntab_oldest(t);
	return *victim ? CONNTAB_EVICT : CONNTAB_REFUSE;
}

void conntab_add(conntab *t, conntab_ent *e, uint32_t peer, int list, int64_t now)
{
	e->peer = peer;
	e->in_table = 1;
	e->list = CONNTAB_BUSY;
	t->n++;
	if (t->peer_count[peer_slot(peer)] < UINT16_MAX)
		t->peer_count[peer_slot(peer)]++;
	append_ent(t, e, list, now);
}

void conntab_move(conntab *t, conntab_ent *e, int list, int64_t now)
{
	if (!e->in_table)
		return;
	unlink_ent(t, e);
	append_ent(t, e, list, now);
}

void conntab_remove(conntab *t, conntab_ent *e)
{
	if (!e->in_table)
		return;
	unlink_ent(t, e);
	e->in_table = 0;
	t->n--;
	if (t->peer_count[peer_slot(e->peer)] > 0)
		t->peer_count[peer_slot(e->peer)]--;
}

int64_t conntab_next_deadline(const conntab *t)
{
	int64_t best = -1;

	for (int i = 0; i < CONNTAB_LISTS; i++) {
		const conntab_ent *h = t->lists[i].head;
		int64_t d;
		if (h == NULL || t->timeout_ms[i] <= 0)
			continue;
		d = h->since + t->timeout_ms[i];
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

conntab_ent *conntab_expired(const conntab *t, int64_t now)
{
	conntab_ent *best = NULL;
	int64_t best_d = 0;

	for (int i = 0; i < CONNTAB_LISTS; i++) {
		conntab_ent *h = t->lists[i].head;
		int64_t d;
		if (h == NULL || t->timeout_ms[i] <= 0)
			continue;
		d = h->since + t->timeout_ms[i];
		if (d <= now && (best == NULL || d < best_d)) {
			best = h;
			best_d = d;
		}
	}
	return best;
}

size_t conntab_peer_count(const conntab *t, uint32_t peer)
{
	return t->peer_count[peer_slot(peer)];
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	return base_fnv1a(BASE_FNV1A_INIT, p, n);
}

uint32_t conntab_peer_key(const struct sockaddr *sa)
{
	/* Copies, not casts: a struct sockaddr may be less aligned (clang -Wcast-align). */
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in s4;
		memcpy(&s4, sa, sizeof(s4));
		return fnv1a((const uint8_t *)&s4.sin_addr, 4);
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, sa, sizeof(s6));
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
			return fnv1a(s6.sin6_addr.s6_addr + 12, 4);
		return fnv1a(s6.sin6_addr.s6_addr, 16);
	}
	return 0;
}
