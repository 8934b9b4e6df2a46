/*
 * One cluster as the worker knows it: what the Deployment says (observed),
 * what a Create asked for while its POST is in flight (pending), and the
 * phase derived from both.  Pure functions; no I/O.
 */
#ifndef CPLANE_WORKER_CLUSTER_H
#define CPLANE_WORKER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NAME_MAX 63
#define CLUSTER_IMAGE_MAX 255
#define CLUSTER_MESSAGE_MAX 512

/* Wire values of cplane.v1.Phase. */
enum cluster_phase {
	PHASE_ABSENT = 0,	/* PHASE_UNSPECIFIED on the wire: no such cluster */
	PHASE_CREATING = 1,
	PHASE_READY = 2,
	PHASE_DELETING = 3,
	PHASE_FAILED = 4,
	PHASE_DELETED = 5,
	PHASE_UPDATING = 6,	/* a changed spec is rolling out */
	PHASE_COUNT
};

const char *cluster_phase_name(enum cluster_phase p);

/* The fields of a Deployment the worker derives state from. */
struct cluster_observed {
	int64_t generation;
	int64_t observed_generation;
	int64_t created_unix_ms;
	int32_t spec_replicas;
	int32_t ready_replicas;
	int32_t available_replicas;
	int32_t updated_replicas;
	/* Flags as bytes: one of these is kept per cluster. */
	uint8_t present;		/* the Deployment exists */
	uint8_t available_true;		/* condition Available=True */
	uint8_t progress_deadline_exceeded;	/* condition Progressing reason ProgressDeadlineExceeded */
	uint8_t deleting;		/* metadata.deletionTimestamp set */
	uint8_t service_pending;	/* the cluster wants a Service not (yet) known to exist: not READY */
	/* The image and the failure text are strings of the table entry (table.h). */
};

/*
 * Phase from what the Deployment says plus what this worker is doing:
 * creating = our Create has not seen its Deployment yet (CREATING before the API answers);
 * deleting = a Delete was accepted (DELETING before the event shows it, and
 * also while the Create it follows still waits for its POST's answer).
 * READY means what `kubectl rollout status` means (and the Service, when
 * wanted, is there).  Not rolled out: CREATING while metadata.generation is
 * 1, UPDATING after (an Update or a scale changed the spec), so a restarted
 * worker tells them apart from the Deployment alone.
 */
enum cluster_phase cluster_derive_phase(const struct cluster_observed *o, int creating, int deleting);

/*
 * Validators, one signature: 0 when fine, else -1 with why filled with a
 * message naming the field and the rule broken (why >= 160 bytes is enough).
 */
int cluster_check_name(const char *name, char *why, size_t whysz);
int cluster_check_replicas(int64_t replicas, int64_t max_replicas, char *why, size_t whysz);
int cluster_check_image(const char *image, char *why, size_t whysz);

#endif
