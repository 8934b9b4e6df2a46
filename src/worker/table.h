/*
 * The cluster table: name → struct cluster, O(1) lookup, sorted listing.
 * Entries are allocated once per cluster (not per event) and stay put
 * (pointers are stable until cluster_table_remove).  The service keeps its
 * waiting calls on the entry via the user pointer.
 */
#ifndef CPLANE_WORKER_TABLE_H
#define CPLANE_WORKER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/cluster.h"

struct cluster {
	char name[CLUSTER_NAME_MAX + 1];
	struct cluster_observed obs;
	int creating;			/* our Create waits to see its Deployment (POST in flight or answered) */
	int deleting;			/* our Delete was accepted */
	int64_t posted_us;		/* io_loop_clock_us() when that POST was answered (made, or already there); 0 = in flight */
	int delete_after_post;		/* a Delete accepted while the POST was in flight: its DELETE waits for the answer */
	int64_t deleted_us;		/* io_loop_clock_us() when our DELETE was answered OK; 0 = none (yet) */
	int32_t want_replicas;		/* spec asked by the Create that made it (until observed) */
	/*
	 * Strings on the heap, sized to fit and owned by the entry (freed with it):
	 * thousands of clusters must not each carry fixed 256-byte arrays.
	 */
	char *want_image;		/* while our Create waits to see its Deployment */
	char *image;			/* the Deployment's first container's image */
	char *failure;			/* Progressing message once ProgressDeadlineExceeded */
	/* The spec beyond replicas and image (spec_proto.h blob; NULL when empty) and its hash
	 * (k8s_podspec_hash: the Deployment's annotation, or our Create's while its POST is out). */
	uint8_t *spec_blob;
	uint32_t spec_len;
	char spec_hash[17];
	char *service_dns;		/* "<name>.<namespace>.svc" when the cluster has a Service */
	enum cluster_phase phase;	/* last derived; the service compares to see changes */
	void *user;			/* the service's per-cluster state (waiting calls) */
	int sweep_queued;		/* the service will check at the end of the turn whether to drop it */
	/* private */
	struct cluster *next_in_bucket;
	uint32_t hash;
};

typedef struct cluster_table cluster_table;

cluster_table *cluster_table_new(void);
/* Frees the table and every entry (not their user pointers). */
void cluster_table_free(cluster_table *t);
struct cluster *cluster_table_find(const cluster_table *t, const char *name);
/* Finds or adds (zeroed, phase ABSENT).  NULL on ENOMEM or a name longer than CLUSTER_NAME_MAX. */
struct cluster *cluster_table_get_or_add(cluster_table *t, const char *name);
void cluster_table_remove(cluster_table *t, struct cluster *c);
size_t cluster_table_count(const cluster_table *t);
/*
 * Fills out (caller-allocated, cluster_table_count() slots) with every entry
 * sorted by name; returns the count.
 */
size_t cluster_table_sorted(const cluster_table *t, struct cluster **out);
/* Calls fn for every entry in no particular order; fn must not add or remove. */
void cluster_table_foreach(const cluster_table *t, void (*fn)(struct cluster *c, void *arg), void *arg);
/*
 * Sets a string of an entry to a copy of v (NULL or "" clears it).  Does
 * nothing when the value is unchanged, so steady events do not allocate.
 * Returns 0, or -1 on ENOMEM (the old value stays).
 */
int cluster_set_text(char **slot, const char *v);

#endif
