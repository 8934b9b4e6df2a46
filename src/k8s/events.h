/*
 * core/v1 Events as controllers record them (kubectl describe and kubectl
 * get events show them): the JSON of a new Event, and the merge patch that
 * bumps a repeat's count and lastTimestamp.  Sans-I/O: bodies are written
 * into a caller's array; the recorder (worker/recorder.h) sends them.
 */
#ifndef CPLANE_K8S_EVENTS_H
#define CPLANE_K8S_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* source.component and reportingComponent of every Event cplane writes. */
#define K8S_EVENTS_COMPONENT "cplane.dev/worker"

typedef struct k8s_event_spec {
	const char *namespace_;		/* of the Event and of its object */
	const char *name;		/* the Event's own name ("demo.17a9...") */
	const char *object_name;	/* the Deployment */
	const char *object_uid;		/* its uid, or NULL/"" when not known */
	int warning;			/* type Warning, else Normal */
	const char *reason;		/* "Creating", "Failed", ... */
	const char *message;
	const char *instance;		/* reportingInstance (host name), or NULL */
	int64_t first_unix_ms, last_unix_ms;
	int32_t count;
} k8s_event_spec;

/*
 * Writes the Event's JSON into out (cap bytes).  Returns its length, or -1
 * when it does not fit (or a string is not valid UTF-8).
 */
int k8s_event_write_body(const k8s_event_spec *e, uint8_t *out, size_t cap);
/* Writes {"count":N,"lastTimestamp":"..."}; returns its length or -1. */
int k8s_event_write_patch(int32_t count, int64_t last_unix_ms, uint8_t *out, size_t cap);
/* "/api/v1/namespaces/NS/events" (name NULL) or ".../events/NAME"; returns the length or -1. */
int k8s_event_path(const char *namespace_, const char *name, char *out, size_t outsz);

#endif
