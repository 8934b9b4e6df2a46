/*
 * Every writer takes the cursor (NULL once something did not fit) and
 * checks its own room, so the sequence below needs no bookkeeping.
 */
#include "worker/cluster_pb.h"

#include <string.h>

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* int32, enum and int64: a negative value as its 64-bit two's complement
 * (10 bytes), as protobuf does; 0 is left out (proto3). */
static uint8_t *put_int(uint8_t *p, const uint8_t *end, unsigned field, int64_t v)
{
	if (p == NULL || v == 0)
		return p;
	if (end - p < 12)	/* tag (<= 2 bytes) and varint (<= 10) */
		return NULL;
	return put_varint(put_varint(p, field << 3), (uint64_t)v);
}

static uint8_t *put_str(uint8_t *p, const uint8_t *end, unsigned field, const char *s)
{
	size_t n;

	if (p == NULL || s == NULL || s[0] == '\0')
		return p;
	n = strlen(s);
	if ((size_t)(end - p) < 12 || (size_t)(end - p) - 12 < n)	/* tag, length, bytes */
		return NULL;
	p = put_varint(put_varint(p, field << 3 | 2), n);
	memcpy(p, s, n);
	return p + n;
}

size_t cluster_pb_encode(const Cplane__V1__Cluster *m, uint8_t *out, size_t cap)
{
	const uint8_t *end = out + cap;
	uint8_t *p = out;

	if (m->resources || m->n_env || m->n_command || m->n_args || m->n_ports || m->n_labels ||
	    m->n_annotations)
		return 0;
	p = put_str(p, end, 1, m->name);
	p = put_int(p, end, 2, m->replicas);
	p = put_int(p, end, 3, m->ready_replicas);
	p = put_int(p, end, 4, m->phase);
	p = put_str(p, end, 5, m->message);
	p = put_str(p, end, 6, m->image);
	p = put_int(p, end, 7, m->created_unix_ms);
	p = put_str(p, end, 15, m->service_dns);
	p = put_int(p, end, 16, m->updated_replicas);
	return p ? (size_t)(p - out) : 0;
}
