/*
 * The cluster table: name → struct cluster, O(1) lookup (base/htab.h, the
 * hash table the informer's cache uses too), sorted listing.  Entries are
 * allocated once per cluster (not per event), sized to their name, and stay
 * put (pointers are stable until cluster_table_remove).  The service keeps its
 * waiting calls on the entry via the user pointer.
 */
#ifndef CPLANE_WORKER_TABLE_H
#define CPLANE_WORKER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/cluster.h"

struct cluster {
	struct cluster_observed obs;
	int64_t posted_us;		/* io_loop_clock_us() when that POST was answered (made, or already there); 0 = in flight */
	int64_t deleted_us;		/* io_loop_clock_us() when our DELETE was answered OK; 0 = none (yet) */
	int32_t want_replicas;		/* spec asked by the Create that made it (until observed) */
	uint32_t spec_len;		/* of spec_blob */
	/*
	 * Strings on the heap, sized to fit, shared between entries with the
	 * same text and set only through cluster_set_text(): thousands of
	 * clusters must not each carry fixed 256-byte arrays.
	 */
	char *want_image;		/* while our Create waits to see its Deployment */
	char *image;			/* the Deployment's first container's image */
	char *failure;			/* Progressing message once ProgressDeadlineExceeded */
	/* The spec beyond replicas and image (spec_proto.h blob; NULL when empty) and its hash
	 * (k8s_podspec_hash: the Deployment's annotation, or our Create's while its POST is out). */
	uint8_t *spec_blob;
	char *service_dns;		/* "<name>.<namespace>.svc" when the cluster has a Service */
	void *user;			/* the service's per-cluster state (waiting calls) */
	/* Bytes from here on: one entry per cluster, packed (no padding before name). */
	uint8_t creating;		/* our Create waits to see its Deployment (POST in flight or answered) */
	uint8_t deleting;		/* our Delete was accepted */
	uint8_t delete_after_post;	/* a Delete accepted while the POST was in flight: its DELETE waits for the answer */
	uint8_t sweep_queued;		/* the service will check at the end of the turn whether to drop it */
	uint8_t patching;		/* a PATCH of ours is in flight: the next one waits for its answer */
	uint8_t phase;			/* enum cluster_phase, last derived; the service compares to see changes */
	char spec_hash[17];
	/* The key, sized to fit (the entry is allocated with it). */
	char name[];
};

typedef struct cluster_table cluster_table;

/* Never NULL (allocation failure aborts, base/mem.h). */
cluster_table *cluster_table_new(void);
/* Frees the table and every entry (not their user pointers). */
void cluster_table_free(cluster_table *t);
struct cluster *cluster_table_find(const cluster_table *t, const char *name);
/* Finds or adds (zeroed, phase ABSENT).  NULL only for a name longer than CLUSTER_NAME_MAX. */
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
 * Sets a string of an entry (want_image, image, failure, service_dns) to v
 * (NULL or "" clears it): a shared, counted copy, one per distinct text in
 * the process, so clusters running the same image keep it once.  The slot's
 * text must never be written through, nor freed but by this function.  Does
 * nothing when the value is unchanged, so steady events do not allocate.
 * Cannot fail (base/mem.h).
 */
void cluster_set_text(char **slot, const char *v);

#endif
