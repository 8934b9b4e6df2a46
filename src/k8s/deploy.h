/*
 * Deployments in and out: the body cplane POSTs, and the compact record the
 * informer keeps for every Deployment it watches, decoded straight from the
 * byte stream of a LIST response or a WATCH stream (any chunking) without
 * building a document tree; managedFields, annotations and the rest are
 * skipped in bulk.
 */
#ifndef CPLANE_K8S_DEPLOY_H
#define CPLANE_K8S_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "k8s/podspec.h"
#include "k8s/status.h"

#define K8S_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define K8S_LABEL_NAME "app.kubernetes.io/name"
#define K8S_LABEL_CLUSTER "cplane.dev/cluster"
#define K8S_MANAGER "cplane"
/* The informer's labelSelector, URL-encoded. */
#define K8S_MANAGED_SELECTOR "app.kubernetes.io%2Fmanaged-by%3Dcplane"

/* ------------------------------------------------------------ create body */

typedef struct k8s_deploy_spec {
	const char *name;		/* DNS-1123 label; also every label value */
	int32_t replicas;
	const char *image;
	const char *node_selector;	/* "key=value", or NULL / "" for none */
	int64_t progress_deadline_s;	/* > 0: spec.progressDeadlineSeconds; 0: omitted */
	const k8s_podspec *pod;		/* resources, env, command, args, ports, labels, annotations; NULL = none */
	const char *spec_hash;		/* annotation cplane.dev/spec-hash; NULL = omitted */
} k8s_deploy_spec;

/*
 * Writes the apps/v1 Deployment for spec into out[0..cap): labels
 * managed-by=cplane, name=<name>, cplane.dev/cluster=<name> on the object and
 * the pod template; selector matchLabels cplane.dev/cluster=<name>; one
 * container "app".  Returns the length, JSON_ENOSPC when cap is too small
 * (1 KiB plus the strings always suffices), or JSON_EUSAGE for a missing
 * name/image or a node selector without '='.
 */
int k8s_deploy_write_body(const k8s_deploy_spec *spec, uint8_t *out, size_t cap);

/*
 * A JSON merge patch (RFC 7386, application/merge-patch+json) of a
 * Deployment cplane made: only what changes.  replicas > 0 sets
 * spec.replicas; image or pod (non-NULL) rewrite the one container whole
 * (a merge patch replaces lists) from image and pod; spec_hash sets the
 * annotation.  Returns the length, JSON_ENOSPC, or JSON_EUSAGE when a
 * container is to be written without an image.
 */
typedef struct k8s_deploy_patch {
	int32_t replicas;
	const char *image;
	const k8s_podspec *pod;
	const char *spec_hash;
} k8s_deploy_patch;
int k8s_deploy_write_patch(const k8s_deploy_patch *p, uint8_t *out, size_t cap);

/*
 * The headless Service of a cluster: clusterIP None, selector
 * cplane.dev/cluster=<name>, publishNotReadyAddresses, pod's ports (TCP),
 * our labels, and an ownerReference to the Deployment (owner_uid) so the
 * garbage collector removes it with the Deployment.  Returns the length,
 * JSON_ENOSPC or JSON_EUSAGE.
 */
int k8s_service_write_body(const char *name, const k8s_podspec *pod, const char *owner_uid, uint8_t *out,
    size_t cap);

/* The DeleteOptions body for foreground propagation. */
#define K8S_DELETE_FOREGROUND_BODY \
	"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Foreground\"}"

/* ----------------------------------------------------------------- record */

#define K8S_NAME_MAX 64		/* a DNS-1123 label and its NUL; longer names are not ours */
#define K8S_UID_MAX 40
#define K8S_RV_MAX 32
#define K8S_IMAGE_MAX 256
#define K8S_COND_REASON_MAX 64
#define K8S_COND_MESSAGE_MAX 256

enum k8s_cond_status {
	K8S_COND_ABSENT = 0,
	K8S_COND_TRUE,
	K8S_COND_FALSE,
	K8S_COND_UNKNOWN,
};

/* Available and ReplicaFailure: their status and reason are all anyone reads. */
typedef struct k8s_condition_brief {
	uint8_t status;				/* enum k8s_cond_status */
	char reason[K8S_COND_REASON_MAX];
} k8s_condition_brief;

typedef struct k8s_condition {
	uint8_t status;				/* enum k8s_cond_status */
	char reason[K8S_COND_REASON_MAX];	/* e.g. "ProgressDeadlineExceeded" */
	char message[K8S_COND_MESSAGE_MAX];	/* truncated to fit */
} k8s_condition;

typedef struct k8s_deployment {
	char name[K8S_NAME_MAX];
	char uid[K8S_UID_MAX];
	char resource_version[K8S_RV_MAX];
	char label_name[K8S_NAME_MAX];		/* app.kubernetes.io/name, "" if absent */
	char label_cluster[K8S_NAME_MAX];	/* cplane.dev/cluster, "" if absent */
	uint8_t managed;			/* app.kubernetes.io/managed-by == "cplane" */
	uint8_t deleting;			/* metadata.deletionTimestamp is set */
	int64_t generation;
	int64_t observed_generation;
	int64_t created_unix_ms;		/* metadata.creationTimestamp; 0 if absent */
	int32_t replicas;			/* spec.replicas (1 when absent, as defaulted) */
	int32_t ready_replicas;			/* status.*; 0 when absent */
	int32_t available_replicas;
	int32_t updated_replicas;
	/*
	 * Only Progressing keeps its message (the reason a rollout failed): the
	 * informer holds one record per Deployment, and 256 bytes of text nobody
	 * reads in each of the other two cost 5 MB per 10,000 clusters.
	 */
	k8s_condition_brief available;		/* status.conditions[type=Available] */
	k8s_condition progressing;		/* ... Progressing */
	k8s_condition_brief replica_failure;	/* ... ReplicaFailure */
	char image[K8S_IMAGE_MAX];		/* first container's image, truncated to fit */
	char spec_hash[K8S_SPEC_HASH_LEN + 1];	/* annotation cplane.dev/spec-hash, "" if absent */
	uint8_t service;			/* annotation cplane.dev/service == "true" */
	/*
	 * The first container's resources, env, command, args and ports and the
	 * pod template's labels and annotations other than ours, as decoded:
	 * set in records a decoder hands its callback (valid during the call,
	 * NULL when the spec did not fit the decoder's limits); always NULL in
	 * records a cache holds.
	 */
	const k8s_podspec *pod;
} k8s_deployment;

/* What `kubectl rollout status` calls complete: observedGeneration >=
 * generation, updated == available == spec.replicas, Available=True. */
int k8s_deployment_ready(const k8s_deployment *d);
/* Progressing=False with reason ProgressDeadlineExceeded. */
int k8s_deployment_failed(const k8s_deployment *d);

/* ---------------------------------------------------------------- decoder */

enum k8s_event_type {
	K8S_EV_ADDED = 1,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,	/* only d->resource_version is meaningful */
	K8S_EV_ERROR,		/* status is set (e.g. code 410 reason Expired) */
	K8S_EV_ITEM,		/* one element of a LIST's items */
};

const char *k8s_event_type_str(int type);

/*
 * One decoded event.  d and status are valid only during the callback.
 * A callback returns 0 to go on, anything else to stop decoding
 * (k8s_deploy_decoder_feed then returns JSON_EABORTED).
 */
typedef int (*k8s_deploy_fn)(void *ctx, int type, const k8s_deployment *d, const k8s_error *status);

enum k8s_decode_mode {
	K8S_DECODE_WATCH,	/* a stream of {"type":..,"object":..} values */
	K8S_DECODE_LIST,	/* one DeploymentList document */
	K8S_DECODE_OBJECT,	/* one Deployment document (GET, POST answers): type K8S_EV_ITEM */
};

typedef struct k8s_deploy_decoder k8s_deploy_decoder;

/* Allocates a decoder (about 300 KiB, most of it the string buffer, touched only as long strings need it); never NULL (base/mem.h). */
k8s_deploy_decoder *k8s_deploy_decoder_new(int mode, k8s_deploy_fn fn, void *ctx);
void k8s_deploy_decoder_free(k8s_deploy_decoder *dec);
/* Back to the start of a new stream/document, same mode and callback. */
void k8s_deploy_decoder_reset(k8s_deploy_decoder *dec);
/*
 * Feeds the next bytes (any split).  Callbacks run for each complete event
 * (WATCH), each item (LIST) or the object (OBJECT).  Returns len, or a
 * negative JSON_E* error (sticky).  Events whose object has a name longer
 * than K8S_NAME_MAX - 1 are counted in k8s_deploy_decoder_skipped() and
 * not reported.
 */
int k8s_deploy_decoder_feed(k8s_deploy_decoder *dec, const void *data, size_t len);
/* End of input: 0 if the stream ended between values (LIST/OBJECT: after
 * exactly one document), else a negative JSON_E* error. */
int k8s_deploy_decoder_finish(k8s_deploy_decoder *dec);
/* LIST: metadata.resourceVersion and metadata.continue ("" when absent);
 * valid until the next reset/free. */
const char *k8s_deploy_decoder_list_rv(const k8s_deploy_decoder *dec);
const char *k8s_deploy_decoder_continue(const k8s_deploy_decoder *dec);
uint64_t k8s_deploy_decoder_skipped(const k8s_deploy_decoder *dec);

#endif
