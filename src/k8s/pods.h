/*
 * Why a cluster's replicas are not available, in one line, from its pods:
 *
 *   0/30 available; pod demo-7d9c5b8f4-x2x9q: Unschedulable: 0/1 nodes are
 *   available: 1 node(s) didn't match Pod's node affinity/selector. (and 29
 *   more pods like it)
 *
 * A k8s_diag is fed the bytes of a PodList (any split) or individual pod
 * summaries; pods are grouped by what is wrong with them and the two most
 * telling groups are quoted (unschedulable first, then container problems
 * such as ImagePullBackOff or CrashLoopBackOff, then pods still starting).
 */
#ifndef CPLANE_K8S_PODS_H
#define CPLANE_K8S_PODS_H

#include <stddef.h>
#include <stdint.h>

#define K8S_POD_NAME_MAX 254
#define K8S_DIAG_MAX 1024	/* longest diagnosis string, NUL included */

typedef struct k8s_pod_info {
	char name[K8S_POD_NAME_MAX];
	char phase[16];			/* "Pending", "Running", "Failed", ... */
	uint8_t deleting;		/* metadata.deletionTimestamp set */
	uint8_t ready;			/* condition Ready=True */
	uint8_t sched_status;		/* enum k8s_cond_status of PodScheduled */
	char sched_reason[64];		/* "Unschedulable" */
	char sched_message[384];
	char wait_container[64];	/* first container waiting with a reason */
	char wait_reason[64];		/* "ImagePullBackOff", "CrashLoopBackOff", "ContainerCreating" */
	char wait_message[256];
	int32_t restarts;		/* sum of restartCount over containers */
} k8s_pod_info;

typedef struct k8s_diag k8s_diag;

/* available/replicas are quoted at the start of the line.  Never NULL (base/mem.h). */
k8s_diag *k8s_diag_new(int32_t available, int32_t replicas);
void k8s_diag_free(k8s_diag *d);

/* Feeds PodList bytes (any split); returns len or a negative JSON_E* error (sticky). */
int k8s_diag_feed(k8s_diag *d, const void *data, size_t len);
/* End of the PodList: 0 or a negative JSON_E* error. */
int k8s_diag_finish(k8s_diag *d);

/* Adds one pod directly (what the decoder does for each item). */
void k8s_diag_add_pod(k8s_diag *d, const k8s_pod_info *pod);
/* Pods seen so far, and how many of them were Ready. */
size_t k8s_diag_pods(const k8s_diag *d);
size_t k8s_diag_ready(const k8s_diag *d);

/* Writes the line (NUL-terminated, truncated to cap); returns its length. */
size_t k8s_diag_format(const k8s_diag *d, char *out, size_t cap);

#endif
