/*
 * A cluster's spec between its protobuf forms and k8s_podspec:
 *  - a view of a CreateClusterRequest's fields 4-11 as a k8s_podspec;
 *  - the compact copy the worker keeps per cluster ("blob"): the protobuf
 *    encoding of cplane.v1.Cluster fields 8-14 (resources, env, command,
 *    args, ports, labels, annotations), so Get/List/Watch answer with it by
 *    unpacking, and nothing is stored in fixed arrays.
 */
#ifndef CPLANE_WORKER_SPEC_PROTO_H
#define CPLANE_WORKER_SPEC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "cplane/v1/cplane.pb-c.h"
#include "k8s/podspec.h"

typedef struct spec_view {
	k8s_podspec pod;	/* points into the request and into mem */
	void *mem;		/* one allocation for the arrays */
} spec_view;

/* Views r's spec (r must outlive v); cannot fail (base/mem.h).  spec_view_free after. */
void spec_view_of_request(spec_view *v, const Cplane__V1__CreateClusterRequest *r);
/* The same for a Cluster's fields 8-14 (service is left 0). */
void spec_view_of_cluster(spec_view *v, const Cplane__V1__Cluster *c);
void spec_view_free(spec_view *v);

/* Packs p's fields into a new heap blob (*out, *len; *out NULL and *len 0
 * for an empty spec); cannot fail (base/mem.h). */
void spec_blob_pack(const k8s_podspec *p, uint8_t **out, size_t *len);
/*
 * Unpacks a blob into a Cluster holding only fields 8-14 (NULL for an empty
 * blob or one that does not parse); free it with spec_blob_free.  spec_blob_lend moves
 * those fields into m (pointers shared with from) and spec_blob_unlend takes
 * them back before from is freed.
 */
Cplane__V1__Cluster *spec_blob_unpack(const uint8_t *blob, size_t len);
void spec_blob_free(Cplane__V1__Cluster *from);
void spec_blob_lend(Cplane__V1__Cluster *m, const Cplane__V1__Cluster *from);
void spec_blob_unlend(Cplane__V1__Cluster *m);

#endif
