/*
 * The Cluster message written by hand for the common reply: no spec fields
 * (8-14).  Byte for byte what protobuf-c packs (fields in number order, proto3
 * defaults left out), without its two walks over the descriptor: a GetCluster
 * spent ~2,000 instructions there.
 */
#ifndef CPLANE_WORKER_CLUSTER_PB_H
#define CPLANE_WORKER_CLUSTER_PB_H

#include <stddef.h>
#include <stdint.h>

#include "cplane/v1/cplane.pb-c.h"

/* Writes m into out[0..cap) and returns its length; 0 when m carries any of
 * fields 8-14 or does not fit (the caller packs it with protobuf-c then).
 * An empty message is 0 bytes too, which protobuf-c would also give. */
size_t cluster_pb_encode(const Cplane__V1__Cluster *m, uint8_t *out, size_t cap);

#endif
