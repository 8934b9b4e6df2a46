/*
 * io/conntab: admission, eviction and deadlines with an injected clock —
 * the policy behind the gRPC port's and the metrics port's connection
 * limits (issue 18).
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include "harness.h"
#include "io/conntab.h"

enum { HS = 0, IDLE = 1, CLOSING = 2 };

static void test_admit_until_full_then_evict_longest_idle(void)
{
	conntab t;
	conntab_ent e[4];
	conntab_ent *victim = (conntab_ent *)1;

	memset(e, 0, sizeof(e));
	conntab_init(&t, 3, 0);
	t.timeout_ms[HS] = 5000;
	t.timeout_ms[IDLE] = 300000;
	CHECK_EQ_INT(conntab_admit(&t, 7, &victim), CONNTAB_ADMIT);
	CHECK(victim == NULL);
	conntab_add(&t, &e[0], 7, HS, 1000);
	conntab_add(&t, &e[1], 7, HS, 1100);
	conntab_add(&t, &e[2], 7, HS, 1200);
	/* e[0] finishes its handshake and goes idle at 1300: e[1] (handshaking since 1100) is now oldest */
	conntab_move(&t, &e[0], IDLE, 1300);
	CHECK_EQ_INT(conntab_admit(&t, 9, &victim), CONNTAB_EVICT);
	CHECK(victim == &e[1]);
	/* busy entries are never victims */
	conntab_move(&t, &e[1], CONNTAB_BUSY, 1400);
	conntab_move(&t, &e[2], CONNTAB_BUSY, 1400);
	CHECK_EQ_INT(conntab_admit(&t, 9, &victim), CONNTAB_EVICT);
	CHECK(victim == &e[0]);
	conntab_move(&t, &e[0], CONNTAB_BUSY, 1500);
	CHECK_EQ_INT(conntab_admit(&t, 9, &victim), CONNTAB_REFUSE);
	CHECK(victim == NULL);
	CHECK(conntab_next_deadline(&t) == -1);
	/* one leaves: room again */
	conntab_remove(&t, &e[2]);
	conntab_remove(&t, &e[2]);	/* harmless twice */
	CHECK_EQ_INT(t.n, 2);
	CHECK_EQ_INT(conntab_admit(&t, 9, &victim), CONNTAB_ADMIT);
}

static void test_idle_does_not_restart_when_staying_idle_only_when_moved(void)
{
	conntab t;
	conntab_ent a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	conntab_init(&t, 10, 0);
	t.timeout_ms[IDLE] = 1000;
	conntab_add(&t, &a, 1, IDLE, 0);
	conntab_add(&t, &b, 1, IDLE, 500);
	CHECK_EQ_INT(conntab_next_deadline(&t), 1000);
	CHECK(conntab_expired(&t, 999) == NULL);
	CHECK(conntab_expired(&t, 1000) == &a);
	/* a call on a: busy, then idle again at 1200: its clock restarts, b is now first */
	conntab_move(&t, &a, CONNTAB_BUSY, 1100);
	conntab_move(&t, &a, IDLE, 1200);
	CHECK_EQ_INT(conntab_next_deadline(&t), 1500);
	CHECK(conntab_expired(&t, 1499) == NULL);
	CHECK(conntab_expired(&t, 1500) == &b);
	conntab_remove(&t, &b);
	CHECK_EQ_INT(conntab_next_deadline(&t), 2200);
}

/* The metrics port's head deadline: counted from the first byte of a head, never reset by more bytes. */
static void test_head_deadline_not_reset_by_each_byte(void)
{
	enum { WAIT = 0, HEAD = 1, WRITE = 2 };
	conntab t;
	conntab_ent c;
	int64_t now = 0;

	memset(&c, 0, sizeof(c));
	conntab_init(&t, 64, 0);
	t.timeout_ms[WAIT] = 30000;
	t.timeout_ms[HEAD] = 10000;
	t.timeout_ms[WRITE] = 30000;
	conntab_add(&t, &c, 1, WAIT, now);
	now = 5000;
	conntab_move(&t, &c, HEAD, now);	/* first byte */
	for (int i = 1; i < 10; i++) {
		now += 999;
		/* a slowloris byte: the owner asks for HEAD again; a no-op move must not restart it */
		if (c.list != HEAD)
			conntab_move(&t, &c, HEAD, now);
		CHECK(conntab_expired(&t, now) == NULL);
	}
	CHECK_EQ_INT(conntab_next_deadline(&t), 15000);
	CHECK(conntab_expired(&t, 14999) == NULL);
	CHECK(conntab_expired(&t, 15000) == &c);
}

static void test_expired_takes_earliest_across_lists(void)
{
	conntab t;
	conntab_ent hs, idle, closing;

	memset(&hs, 0, sizeof(hs));
	memset(&idle, 0, sizeof(idle));
	memset(&closing, 0, sizeof(closing));
	conntab_init(&t, 10, 0);
	t.timeout_ms[HS] = 5000;
	t.timeout_ms[IDLE] = 300000;
	t.timeout_ms[CLOSING] = 1000;
	conntab_add(&t, &idle, 1, IDLE, 0);
	conntab_add(&t, &hs, 2, HS, 100);
	conntab_add(&t, &closing, 3, CLOSING, 4500);
	CHECK_EQ_INT(conntab_next_deadline(&t), 5100);
	CHECK(conntab_expired(&t, 5500) == &hs);
	conntab_remove(&t, &hs);
	CHECK(conntab_expired(&t, 5500) == &closing);
	conntab_remove(&t, &closing);
	CHECK(conntab_expired(&t, 5500) == NULL);
	CHECK(conntab_oldest(&t) == &idle);
	/* a list without a timeout never expires */
	t.timeout_ms[IDLE] = 0;
	CHECK(conntab_expired(&t, INT64_C(1) << 40) == NULL);
	CHECK_EQ_INT(conntab_next_deadline(&t), -1);
}

static void test_per_peer_limit_evicts_that_peers_oldest(void)
{
	conntab t;
	conntab_ent a[3], other;
	conntab_ent *victim;

	memset(a, 0, sizeof(a));
	memset(&other, 0, sizeof(other));
	conntab_init(&t, 100, 2);
	conntab_add(&t, &other, 50, IDLE, 0);	/* oldest overall, another peer */
	conntab_add(&t, &a[0], 7, IDLE, 10);
	conntab_add(&t, &a[1], 7, HS, 20);
	CHECK_EQ_INT(conntab_peer_count(&t, 7), 2);
	CHECK_EQ_INT(conntab_admit(&t, 50, &victim), CONNTAB_ADMIT);
	CHECK_EQ_INT(conntab_admit(&t, 7, &victim), CONNTAB_EVICT);
	CHECK(victim == &a[0]);		/* not "other", though it is older */
	conntab_move(&t, &a[0], CONNTAB_BUSY, 30);
	conntab_move(&t, &a[1], CONNTAB_BUSY, 30);
	CHECK_EQ_INT(conntab_admit(&t, 7, &victim), CONNTAB_REFUSE);
	conntab_remove(&t, &a[0]);
	CHECK_EQ_INT(conntab_peer_count(&t, 7), 1);
	CHECK_EQ_INT(conntab_admit(&t, 7, &victim), CONNTAB_ADMIT);
	conntab_add(&t, &a[2], 7, HS, 40);
	CHECK_EQ_INT(conntab_peer_count(&t, 7), 2);
}

static void test_peer_key_ignores_port_and_v4_mapping(void)
{
	struct sockaddr_in a4, b4;
	struct sockaddr_in6 m6, o6;

	memset(&a4, 0, sizeof(a4));
	memset(&m6, 0, sizeof(m6));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &a4.sin_addr);
	a4.sin_port = htons(1000);
	b4 = a4;
	b4.sin_port = htons(2000);
	m6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &m6.sin6_addr);
	o6 = m6;
	inet_pton(AF_INET6, "fd00::1", &o6.sin6_addr);
	CHECK(conntab_peer_key((struct sockaddr *)&a4) == conntab_peer_key((struct sockaddr *)&b4));
	CHECK(conntab_peer_key((struct sockaddr *)&a4) == conntab_peer_key((struct sockaddr *)&m6));
	CHECK(conntab_peer_key((struct sockaddr *)&a4) != conntab_peer_key((struct sockaddr *)&o6));
}

int main(void)
{
	RUN(test_admit_until_full_then_evict_longest_idle);
	RUN(test_idle_does_not_restart_when_staying_idle_only_when_moved);
	RUN(test_head_deadline_not_reset_by_each_byte);
	RUN(test_expired_takes_earliest_across_lists);
	RUN(test_per_peer_limit_evicts_that_peers_oldest);
	RUN(test_peer_key_ignores_port_and_v4_mapping);
	return harness_finish();
}
