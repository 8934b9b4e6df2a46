/*
 * gRPC server reflection (grpc/proposal A15): the bidirectional
 * ServerReflectionInfo stream of grpc.reflection.v1 and of v1alpha (the same
 * messages; grpcurl 1.8 asks v1alpha, newer tools v1), answering from a
 * FileDescriptorSet compiled into the binary (protoc --descriptor_set_out
 * --include_imports).
 *
 * Every request gets exactly one response, in order; a request that cannot
 * be parsed or that asks for nothing known gets an error_response and the
 * stream goes on:
 *
 *   list_services                  every service declared in the set, sorted
 *   file_by_filename               that file, then every file it imports (transitively)
 *   file_containing_symbol         same, for the file declaring a service, method,
 *                                  message, enum (nested names too: "pkg.Msg.Inner")
 *   file_containing_extension      error_response NOT_FOUND (no extensions here)
 *   all_extension_numbers_of_type  a message of the set: an empty list; else NOT_FOUND
 *   anything else                  error_response UNIMPLEMENTED; unparsable: INVALID_ARGUMENT
 *
 * Reflection reveals only the API's shape, never data: it needs no token
 * (DESIGN.md, security).  An authentication layer exempts the paths below.
 */
#ifndef CPLANE_GRPC_REFLECTION_H
#define CPLANE_GRPC_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "grpc/server.h"

/* The :path of each reflection method, and the prefix both share (exempt from auth). */
#define GRPC_REFLECTION_V1_PATH "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
#define GRPC_REFLECTION_V1ALPHA_PATH "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
#define GRPC_REFLECTION_PATH_PREFIX "/grpc.reflection."

typedef struct grpc_reflection grpc_reflection;

/*
 * Indexes a serialized FileDescriptorSet once (files, symbols, services).
 * set must stay valid and unchanged for the object's life (answers point
 * into it).  Every import must be in the set.  NULL with a reason in err
 * when the set is malformed (allocation failure aborts, base/mem.h).
 */
grpc_reflection *grpc_reflection_new(const uint8_t *set, size_t len, char *err, size_t errsz);
void grpc_reflection_free(grpc_reflection *r);

/*
 * Registers both reflection methods on s, answering from r.  r must outlive
 * s (free it after grpc_server_free()).  Returns 0 or GRPC_ERR_*.
 */
int grpc_reflection_register(grpc_reflection *r, grpc_server *s);

/*
 * The sans-I/O core: one serialized ServerReflectionRequest in, the
 * serialized ServerReflectionResponse appended to out.  Returns 0, or
 * GRPC_ERR_NOMEM (out unchanged in length).
 */
int grpc_reflection_answer(const grpc_reflection *r, const uint8_t *req, size_t len, buf *out);

/* What the index holds: services (sorted) and symbols, for tests and logs. */
size_t grpc_reflection_service_count(const grpc_reflection *r);
const char *grpc_reflection_service_name(const grpc_reflection *r, size_t i);
size_t grpc_reflection_symbol_count(const grpc_reflection *r);
/* The name of the file declaring symbol ("cplane.v1.Cluster"), or NULL. */
const char *grpc_reflection_file_of(const grpc_reflection *r, const char *symbol);

#endif
