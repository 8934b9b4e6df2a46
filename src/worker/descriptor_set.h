/*
 * The FileDescriptorSet of every .proto the worker serves (cplane.v1,
 * grpc.health.v1, grpc.reflection.v1 and v1alpha), imports included:
 * generated at build time by protoc --descriptor_set_out into
 * build/gen/descriptor_set.c, for server reflection.
 */
#ifndef CPLANE_WORKER_DESCRIPTOR_SET_H
#define CPLANE_WORKER_DESCRIPTOR_SET_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t cplane_descriptor_set[];
extern const size_t cplane_descriptor_set_len;

#endif
