/*
 * The new request validation on arbitrary CreateClusterRequest bytes: a
 * refusal always says why (naming a field), the spec hash is the same for
 * the view and for the blob the worker keeps, and the blob unpacks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/spec_check.h"
#include "worker/spec_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Cplane__V1__CreateClusterRequest *r = cplane__v1__create_cluster_request__unpack(NULL, size, data);
	Cplane__V1__Cluster *c;
	spec_view v, w;
	char why[512], h1[K8S_SPEC_HASH_LEN + 1], h2[K8S_SPEC_HASH_LEN + 1];
	uint8_t *blob;
	size_t len;

	if (r == NULL)
		return 0;
	spec_view_of_request(&v, r);
	why[0] = '\0';
	if (spec_check(r->name, &v.pod, why, sizeof(why)) != 0 && (why[0] == '\0' || strchr(why, ':') == NULL))
		abort();
	k8s_podspec_hash(&v.pod, h1);
	spec_blob_pack(&v.pod, &blob, &len);
	c = spec_blob_unpack(blob, len);
	if (len && c == NULL)
		abort();
	if (c) {
		spec_view_of_cluster(&w, c);
		w.pod.service = v.pod.service;
		/* A blob keeps everything the hash covers. */
		k8s_podspec_hash(&w.pod, h2);
		if (strcmp(h1, h2) != 0)
			abort();
		spec_view_free(&w);
		spec_blob_free(c);
	}
	free(blob);
	spec_view_free(&v);
	cplane__v1__create_cluster_request__free_unpacked(r, NULL);
	return 0;
}
