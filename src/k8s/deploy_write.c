/*
 * What cplane writes to the API server about a cluster: the Deployment it
 * POSTs, the merge patch of an UpdateCluster and the headless Service, all
 * through the JSON writer into the caller's buffer.  The one container is
 * written by one function, so the create body and every patch (which
 * replaces the containers list whole) carry the same fields.
 */
#include "k8s/deploy.h"

#include <string.h>

/* ------------------------------------------------------------ create body */

#define KEY(w, s) json_write_key((w), (s), sizeof(s) - 1)

/* Writer calls are not checked one by one: errors are sticky and
 * json_writer_finish() reports the first. */
static int write_labels(json_writer *w, const char *name)
{
	json_write_object_begin(w);
	KEY(w, K8S_LABEL_MANAGED_BY);
	json_write_cstr(w, K8S_MANAGER);
	KEY(w, K8S_LABEL_NAME);
	json_write_cstr(w, name);
	KEY(w, K8S_LABEL_CLUSTER);
	json_write_cstr(w, name);
	return json_write_object_end(w);
}

static int set(const char *s)
{
	return s && s[0];
}

static void write_kv_object(json_writer *w, const k8s_kv *kv, size_t n)
{
	json_write_object_begin(w);
	for (size_t i = 0; i < n; i++) {
		json_write_key(w, kv[i].key, strlen(kv[i].key));
		json_write_cstr(w, kv[i].value ? kv[i].value : "");
	}
	json_write_object_end(w);
}

static void write_quantities(json_writer *w, const char *key, const char *cpu, const char *memory)
{
	if (!set(cpu) && !set(memory))
		return;
	json_write_key(w, key, strlen(key));
	json_write_object_begin(w);
	if (set(cpu)) {
		KEY(w, "cpu");
		json_write_cstr(w, cpu);
	}
	if (set(memory)) {
		KEY(w, "memory");
		json_write_cstr(w, memory);
	}
	json_write_object_end(w);
}

static void write_strings(json_writer *w, const char *key, const char *const *v, size_t n)
{
	if (n == 0)
		return;
	json_write_key(w, key, strlen(key));
	json_write_array_begin(w);
	for (size_t i = 0; i < n; i++)
		json_write_cstr(w, v[i] ? v[i] : "");
	json_write_array_end(w);
}

/* What a cluster's container may not do, whatever image it runs (DESIGN.md "Security"). */
static void write_container_hardening(json_writer *w)
{
	KEY(w, "securityContext");
	json_write_object_begin(w);
	KEY(w, "allowPrivilegeEscalation");
	json_write_bool(w, 0);
	KEY(w, "capabilities");
	json_write_object_begin(w);
	KEY(w, "drop");
	json_write_array_begin(w);
	json_write_cstr(w, "ALL");
	json_write_array_end(w);
	json_write_object_end(w);
	KEY(w, "seccompProfile");
	json_write_object_begin(w);
	KEY(w, "type");
	json_write_cstr(w, "RuntimeDefault");
	json_write_object_end(w);
	json_write_object_end(w);
}

/* The one container, "app": written whole by the create body and by patches. */
static void write_container(json_writer *w, const char *image, const k8s_podspec *p)
{
	json_write_object_begin(w);
	KEY(w, "name");
	json_write_cstr(w, "app");
	KEY(w, "image");
	json_write_cstr(w, image);
	/* in patches too: a merge patch replaces the containers list whole */
	write_container_hardening(w);
	if (p) {
		write_strings(w, "command", p->command, p->n_command);
		write_strings(w, "args", p->args, p->n_args);
		if (p->n_ports) {
			KEY(w, "ports");
			json_write_array_begin(w);
			for (size_t i = 0; i < p->n_ports; i++) {
				json_write_object_begin(w);
				KEY(w, "name");
				json_write_cstr(w, p->ports[i].name);
				KEY(w, "containerPort");
				json_write_int(w, p->ports[i].port);
				KEY(w, "protocol");
				json_write_cstr(w, "TCP");
				json_write_object_end(w);
			}
			json_write_array_end(w);
		}
		if (p->n_env) {
			KEY(w, "env");
			json_write_array_begin(w);
			for (size_t i = 0; i < p->n_env; i++) {
				json_write_object_begin(w);
				KEY(w, "name");
				json_write_cstr(w, p->env[i].key);
				KEY(w, "value");
				json_write_cstr(w, p->env[i].value ? p->env[i].value : "");
				json_write_object_end(w);
			}
			json_write_array_end(w);
		}
		if (set(p->cpu_request) || set(p->memory_request) || set(p->cpu_limit) || set(p->memory_limit)) {
			KEY(w, "resources");
			json_write_object_begin(w);
			write_quantities(w, "requests", p->cpu_request, p->memory_request);
			write_quantities(w, "limits", p->cpu_limit, p->memory_limit);
			json_write_object_end(w);
		}
	}
	json_write_object_end(w);
}

/* metadata.annotations of the Deployment: what every worker compares specs by. */
static void write_our_annotations(json_writer *w, const char *spec_hash, int service)
{
	if (!set(spec_hash) && !service)
		return;
	KEY(w, "annotations");
	json_write_object_begin(w);
	if (set(spec_hash)) {
		KEY(w, K8S_ANN_SPEC_HASH);
		json_write_cstr(w, spec_hash);
	}
	if (service) {
		KEY(w, K8S_ANN_SERVICE);
		json_write_cstr(w, "true");
	}
	json_write_object_end(w);
}

int k8s_deploy_write_body(const k8s_deploy_spec *s, uint8_t *out, size_t cap)
{
	json_writer w;
	const char *eq = NULL;
	const k8s_podspec *p = s->pod;

	if (s->name == NULL || s->name[0] == '\0' || s->image == NULL || s->image[0] == '\0')
		return JSON_EUSAGE;
	if (s->node_selector && s->node_selector[0]) {
		eq = strchr(s->node_selector, '=');
		if (eq == NULL || eq == s->node_selector)
			return JSON_EUSAGE;
	}
	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	KEY(&w, "apiVersion");
	json_write_cstr(&w, "apps/v1");
	KEY(&w, "kind");
	json_write_cstr(&w, "Deployment");
	KEY(&w, "metadata");
	json_write_object_begin(&w);
	KEY(&w, "name");
	json_write_cstr(&w, s->name);
	KEY(&w, "labels");
	write_labels(&w, s->name);
	write_our_annotations(&w, s->spec_hash, p && p->service);
	json_write_object_end(&w);

	KEY(&w, "spec");
	json_write_object_begin(&w);
	KEY(&w, "replicas");
	json_write_int(&w, s->replicas);
	if (s->progress_deadline_s > 0) {
		KEY(&w, "progressDeadlineSeconds");
		json_write_int(&w, s->progress_deadline_s);
	}
	KEY(&w, "selector");
	json_write_object_begin(&w);
	KEY(&w, "matchLabels");
	json_write_object_begin(&w);
	KEY(&w, K8S_LABEL_CLUSTER);
	json_write_cstr(&w, s->name);
	json_write_object_end(&w);
	json_write_object_end(&w);
	KEY(&w, "template");
	json_write_object_begin(&w);
	KEY(&w, "metadata");
	json_write_object_begin(&w);
	KEY(&w, "labels");
	/* Ours, then the caller's: validation keeps their keys off our prefixes,
	 * and a key of ours the caller repeats is dropped, never written twice. */
	json_write_object_begin(&w);
	KEY(&w, K8S_LABEL_MANAGED_BY);
	json_write_cstr(&w, K8S_MANAGER);
	KEY(&w, K8S_LABEL_NAME);
	json_write_cstr(&w, s->name);
	KEY(&w, K8S_LABEL_CLUSTER);
	json_write_cstr(&w, s->name);
	for (size_t i = 0; p && i < p->n_labels; i++) {
		const char *k = p->labels[i].key;

		if (strcmp(k, K8S_LABEL_MANAGED_BY) == 0 || strcmp(k, K8S_LABEL_NAME) == 0 ||
		    strcmp(k, K8S_LABEL_CLUSTER) == 0)
			continue;
		json_write_key(&w, k, strlen(k));
		json_write_cstr(&w, p->labels[i].value ? p->labels[i].value : "");
	}
	json_write_object_end(&w);
	if (p && p->n_annotations) {
		KEY(&w, "annotations");
		write_kv_object(&w, p->annotations, p->n_annotations);
	}
	json_write_object_end(&w);
	KEY(&w, "spec");
	json_write_object_begin(&w);
	KEY(&w, "containers");
	json_write_array_begin(&w);
	write_container(&w, s->image, p);
	json_write_array_end(&w);
	/* callers choose the image, not what it may reach: no API token in the pods */
	KEY(&w, "automountServiceAccountToken");
	json_write_bool(&w, 0);
	if (eq) {
		KEY(&w, "nodeSelector");
		json_write_object_begin(&w);
		json_write_key(&w, s->node_selector, (size_t)(eq - s->node_selector));
		json_write_cstr(&w, eq + 1);
		json_write_object_end(&w);
	}
	json_write_object_end(&w);	/* template.spec */
	json_write_object_end(&w);	/* template */
	json_write_object_end(&w);	/* spec */
	json_write_object_end(&w);
	return json_writer_finish(&w);
}

int k8s_deploy_write_patch(const k8s_deploy_patch *p, uint8_t *out, size_t cap)
{
	json_writer w;
	int container = p->image != NULL || p->pod != NULL;

	if (container && !set(p->image))
		return JSON_EUSAGE;
	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	if (set(p->spec_hash)) {
		KEY(&w, "metadata");
		json_write_object_begin(&w);
		KEY(&w, "annotations");
		json_write_object_begin(&w);
		KEY(&w, K8S_ANN_SPEC_HASH);
		json_write_cstr(&w, p->spec_hash);
		json_write_object_end(&w);
		json_write_object_end(&w);
	}
	if (p->replicas > 0 || container) {
		KEY(&w, "spec");
		json_write_object_begin(&w);
		if (p->replicas > 0) {
			KEY(&w, "replicas");
			json_write_int(&w, p->replicas);
		}
		if (container) {
			KEY(&w, "template");
			json_write_object_begin(&w);
			KEY(&w, "spec");
			json_write_object_begin(&w);
			KEY(&w, "containers");
			json_write_array_begin(&w);
			write_container(&w, p->image, p->pod);
			json_write_array_end(&w);
			json_write_object_end(&w);
			json_write_object_end(&w);
		}
		json_write_object_end(&w);
	}
	json_write_object_end(&w);
	return json_writer_finish(&w);
}

int k8s_service_write_body(const char *name, const k8s_podspec *pod, const char *owner_uid, uint8_t *out,
    size_t cap)
{
	json_writer w;

	if (!set(name) || !set(owner_uid))
		return JSON_EUSAGE;
	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	KEY(&w, "apiVersion");
	json_write_cstr(&w, "v1");
	KEY(&w, "kind");
	json_write_cstr(&w, "Service");
	KEY(&w, "metadata");
	json_write_object_begin(&w);
	KEY(&w, "name");
	json_write_cstr(&w, name);
	KEY(&w, "labels");
	write_labels(&w, name);
	KEY(&w, "ownerReferences");
	json_write_array_begin(&w);
	json_write_object_begin(&w);
	KEY(&w, "apiVersion");
	json_write_cstr(&w, "apps/v1");
	KEY(&w, "kind");
	json_write_cstr(&w, "Deployment");
	KEY(&w, "name");
	json_write_cstr(&w, name);
	KEY(&w, "uid");
	json_write_cstr(&w, owner_uid);
	KEY(&w, "controller");
	json_write_bool(&w, 1);
	KEY(&w, "blockOwnerDeletion");
	json_write_bool(&w, 1);
	json_write_object_end(&w);
	json_write_array_end(&w);
	json_write_object_end(&w);
	KEY(&w, "spec");
	json_write_object_begin(&w);
	KEY(&w, "clusterIP");
	json_write_cstr(&w, "None");
	KEY(&w, "selector");
	json_write_object_begin(&w);
	KEY(&w, K8S_LABEL_CLUSTER);
	json_write_cstr(&w, name);
	json_write_object_end(&w);
	KEY(&w, "publishNotReadyAddresses");
	json_write_bool(&w, 1);
	if (pod && pod->n_ports) {
		KEY(&w, "ports");
		json_write_array_begin(&w);
		for (size_t i = 0; i < pod->n_ports; i++) {
			json_write_object_begin(&w);
			KEY(&w, "name");
			json_write_cstr(&w, pod->ports[i].name);
			KEY(&w, "port");
			json_write_int(&w, pod->ports[i].port);
			KEY(&w, "targetPort");
			json_write_int(&w, pod->ports[i].port);
			KEY(&w, "protocol");
			json_write_cstr(&w, "TCP");
			json_write_object_end(&w);
		}
		json_write_array_end(&w);
	}
	json_write_object_end(&w);
	json_write_object_end(&w);
	return json_writer_finish(&w);
}
