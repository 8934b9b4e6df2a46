/*
 * What a caller may set on a cluster's pods beyond replicas and image
 * (DESIGN.md "Richer clusters"): views of strings the caller owns, and the
 * canonical hash that every worker compares specs by.
 */
#ifndef CPLANE_K8S_PODSPEC_H
#define CPLANE_K8S_PODSPEC_H

#include <stddef.h>
#include <stdint.h>

#define K8S_SPEC_HASH_LEN 16		/* hex digits of the spec hash */
#define K8S_ANN_SPEC_HASH "cplane.dev/spec-hash"
#define K8S_ANN_SERVICE "cplane.dev/service"

typedef struct k8s_kv {
	const char *key;
	const char *value;
} k8s_kv;

typedef struct k8s_port {
	const char *name;
	int32_t port;
} k8s_port;

typedef struct k8s_podspec {
	/* Kubernetes quantities; NULL or "" = not set. */
	const char *cpu_request, *memory_request, *cpu_limit, *memory_limit;
	const k8s_kv *env;		/* in order */
	size_t n_env;
	const char *const *command;
	size_t n_command;
	const char *const *args;
	size_t n_args;
	const k8s_port *ports;		/* TCP container ports */
	size_t n_ports;
	const k8s_kv *labels;		/* the caller's pod-template labels, any order */
	size_t n_labels;
	const k8s_kv *annotations;	/* the caller's pod-template annotations, any order */
	size_t n_annotations;
	int service;			/* a headless Service named after the cluster */
} k8s_podspec;

/*
 * The spec hash: SHA-256 over a canonical encoding of everything in *p
 * (resources, env in order, command, args, ports in order, labels and
 * annotations sorted by key, service; NULL and "" alike), its first 8 bytes
 * as 16 lower-case hex digits and a NUL in out.  Replicas and image are not
 * in it: they are compared with the Deployment's own fields, which an
 * Update or `kubectl scale` changes.  p may be NULL (an empty spec).
 * Cannot fail (base/mem.h).
 */
void k8s_podspec_hash(const k8s_podspec *p, char out[K8S_SPEC_HASH_LEN + 1]);

#endif
