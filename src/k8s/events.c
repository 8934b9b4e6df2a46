/*
 * Field by field what the Kubernetes event recorder (client-go's
 * record.EventRecorder) writes for a controller: involvedObject, reason,
 * message, type, source.component, first/lastTimestamp, count, and the
 * newer reportingComponent/reportingInstance.  eventTime stays unset, as
 * with core/v1 recorders.
 */
#include "k8s/events.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "json/json.h"

static void write_time(json_writer *w, const char *key, int64_t unix_ms)
{
	char ts[32];

	clock_format_rfc3339(unix_ms / 1000, ts, sizeof(ts));
	json_write_key(w, key, strlen(key));
	json_write_cstr(w, ts);
}

static void key(json_writer *w, const char *k)
{
	json_write_key(w, k, strlen(k));
}

static void kv(json_writer *w, const char *k, const char *v)
{
	key(w, k);
	json_write_cstr(w, v);
}

int k8s_event_write_body(const k8s_event_spec *e, uint8_t *out, size_t cap)
{
	json_writer w;
	int n;

	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	kv(&w, "apiVersion", "v1");
	kv(&w, "kind", "Event");
	key(&w, "metadata");
	json_write_object_begin(&w);
	kv(&w, "name", e->name);
	kv(&w, "namespace", e->namespace_);
	json_write_object_end(&w);
	key(&w, "involvedObject");
	json_write_object_begin(&w);
	kv(&w, "apiVersion", "apps/v1");
	kv(&w, "kind", "Deployment");
	kv(&w, "name", e->object_name);
	kv(&w, "namespace", e->namespace_);
	if (e->object_uid && e->object_uid[0])
		kv(&w, "uid", e->object_uid);
	json_write_object_end(&w);
	kv(&w, "reason", e->reason);
	kv(&w, "message", e->message);
	kv(&w, "type", e->warning ? "Warning" : "Normal");
	key(&w, "source");
	json_write_object_begin(&w);
	kv(&w, "component", K8S_EVENTS_COMPONENT);
	json_write_object_end(&w);
	kv(&w, "reportingComponent", K8S_EVENTS_COMPONENT);
	kv(&w, "reportingInstance", e->instance && e->instance[0] ? e->instance : K8S_EVENTS_COMPONENT);
	write_time(&w, "firstTimestamp", e->first_unix_ms);
	write_time(&w, "lastTimestamp", e->last_unix_ms);
	key(&w, "count");
	json_write_int(&w, e->count);
	json_write_object_end(&w);
	n = json_writer_finish(&w);
	return n < 0 ? -1 : n;
}

int k8s_event_write_patch(int32_t count, int64_t last_unix_ms, uint8_t *out, size_t cap)
{
	json_writer w;
	int n;

	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	key(&w, "count");
	json_write_int(&w, count);
	write_time(&w, "lastTimestamp", last_unix_ms);
	json_write_object_end(&w);
	n = json_writer_finish(&w);
	return n < 0 ? -1 : n;
}

int k8s_event_path(const char *namespace_, const char *name, char *out, size_t outsz)
{
	int n = name ? snprintf(out, outsz, "/api/v1/namespaces/%s/events/%s", namespace_, name) :
	    snprintf(out, outsz, "/api/v1/namespaces/%s/events", namespace_);

	return n < 0 || (size_t)n >= outsz ? -1 : n;
}
