/*
 * A deterministic generator of Kubernetes Deployment watch events shaped the
 * way the API server sends them (compact JSON, one event a line, managedFields
 * included).  Used by bench/json and by tests/unit/test_json_extract.c, which
 * checks the extracted fields against the values recorded here.
 */
#ifndef CPLANE_BENCH_DEPLOY_GEN_H
#define CPLANE_BENCH_DEPLOY_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct deploy_want {
	char name[32];
	char rv[24];
	int64_t generation, observed, replicas, ready, available, updated;
	char image[64];
	char created[32];
	int deleting;
	char cond_reason[2][48];
	char cond_status[2][8];
} deploy_want;

static uint32_t deploy_gen_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/*
 * Writes event number i (with its trailing newline) into out[0..cap) and
 * returns its length, or 0 if it does not fit.  *w receives the values.
 */
static size_t deploy_gen_event(char *out, size_t cap, unsigned i, deploy_want *w)
{
	uint32_t s = 2654435761u * (i + 1);
	unsigned rep = 1 + deploy_gen_rand(&s) % 30;
	unsigned ready = deploy_gen_rand(&s) % (rep + 1);
	unsigned gen = 1 + deploy_gen_rand(&s) % 4;
	unsigned minute = deploy_gen_rand(&s) % 60, sec = deploy_gen_rand(&s) % 60;
	int progressing_ok = ready == rep;
	const char *images[] = { "registry.k8s.io/pause:3.9", "nginx:1.25.3",
		"ghcr.io/example/app@sha256:3f1ab5c4d2e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4" };
	const char *image = images[i % 3];
	int n;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "demo-%05u", i);
	snprintf(w->rv, sizeof(w->rv), "%u", 1000000u + i * 7u);
	w->generation = gen;
	w->observed = gen - (i % 5 == 0 && gen > 1);
	w->replicas = rep;
	w->ready = ready;
	w->available = ready;
	w->updated = rep;
	snprintf(w->image, sizeof(w->image), "%s", image);
	snprintf(w->created, sizeof(w->created), "2026-11-25T12:%02u:%02uZ", minute, sec);
	w->deleting = i % 7 == 3;
	snprintf(w->cond_reason[0], sizeof(w->cond_reason[0]), "%s",
	    progressing_ok ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable");
	snprintf(w->cond_status[0], sizeof(w->cond_status[0]), "%s", progressing_ok ? "True" : "False");
	snprintf(w->cond_reason[1], sizeof(w->cond_reason[1]), "%s",
	    progressing_ok ? "NewReplicaSetAvailable" : "ReplicaSetUpdated");
	snprintf(w->cond_status[1], sizeof(w->cond_status[1]), "True");

	n = snprintf(out, cap,
	    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"cplane\","
	    "\"uid\":\"%08x-5f0c-4f7e-9d2a-%012x\",\"resourceVersion\":\"%s\",\"generation\":%u,"
	    "\"creationTimestamp\":\"%s\",%s"
	    "\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"%s\","
	    "\"cplane.dev/cluster\":\"%s\"},"
	    "\"annotations\":{\"deployment.kubernetes.io/revision\":\"%u\","
	    "\"cplane.dev/note\":\"d\\u00e9ploy\\u00e9 \\\"%s\\\" \\u2014 \xe2\x9c\x93\"},"
	    "\"managedFields\":[{\"manager\":\"cplane\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\","
	    "\"time\":\"%s\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":"
	    "{\".\":{},\"f:cplane.dev/note\":{}},\"f:labels\":{\".\":{},\"f:app.kubernetes.io/managed-by\":{},"
	    "\"f:app.kubernetes.io/name\":{},\"f:cplane.dev/cluster\":{}}},\"f:spec\":{"
	    "\"f:progressDeadlineSeconds\":{},\"f:replicas\":{},\"f:revisionHistoryLimit\":{},"
	    "\"f:selector\":{},\"f:strategy\":{\"f:rollingUpdate\":{\".\":{},\"f:maxSurge\":{},"
	    "\"f:maxUnavailable\":{}},\"f:type\":{}},\"f:template\":{\"f:metadata\":{\"f:labels\":{\".\":{},"
	    "\"f:app.kubernetes.io/managed-by\":{},\"f:app.kubernetes.io/name\":{},"
	    "\"f:cplane.dev/cluster\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"main\\\"}\":{"
	    "\".\":{},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},\"f:resources\":{},"
	    "\"f:terminationMessagePath\":{},\"f:terminationMessagePolicy\":{}}},\"f:dnsPolicy\":{},"
	    "\"f:nodeSelector\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{},\"f:securityContext\":{},"
	    "\"f:terminationGracePeriodSeconds\":{}}}}}},"
	    "{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\","
	    "\"time\":\"%s\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":{"
	    "\"f:deployment.kubernetes.io/revision\":{}}},\"f:status\":{\"f:availableReplicas\":{},"
	    "\"f:conditions\":{\".\":{},\"k:{\\\"type\\\":\\\"Available\\\"}\":{\".\":{},"
	    "\"f:lastTransitionTime\":{},\"f:lastUpdateTime\":{},\"f:message\":{},\"f:reason\":{},"
	    "\"f:status\":{},\"f:type\":{}},\"k:{\\\"type\\\":\\\"Progressing\\\"}\":{\".\":{},"
	    "\"f:lastTransitionTime\":{},\"f:lastUpdateTime\":{},\"f:message\":{},\"f:reason\":{},"
	    "\"f:status\":{},\"f:type\":{}}},\"f:observedGeneration\":{},\"f:readyReplicas\":{},"
	    "\"f:replicas\":{},\"f:updatedReplicas\":{}}},\"subresource\":\"status\"}]},"
	    "\"spec\":{\"replicas\":%u,\"selector\":{\"matchLabels\":{\"cplane.dev/cluster\":\"%s\"}},"
	    "\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":{"
	    "\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"%s\","
	    "\"cplane.dev/cluster\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"%s\","
	    "\"resources\":{},\"terminationMessagePath\":\"/dev/termination-log\","
	    "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],"
	    "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\","
	    "\"nodeSelector\":{\"cplane.dev/pool\":\"subtask-topology-aware\"},\"securityContext\":{},"
	    "\"schedulerName\":\"default-scheduler\"}},\"strategy\":{\"type\":\"RollingUpdate\","
	    "\"rollingUpdate\":{\"maxUnavailable\":\"25%%\",\"maxSurge\":\"25%%\"}},"
	    "\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":300},"
	    "\"status\":{\"observedGeneration\":%u,\"replicas\":%u,\"updatedReplicas\":%u,"
	    "\"readyReplicas\":%u,\"availableReplicas\":%u,%s\"conditions\":["
	    "{\"type\":\"Available\",\"status\":\"%s\",\"lastUpdateTime\":\"%s\",\"lastTransitionTime\":\"%s\","
	    "\"reason\":\"%s\",\"message\":\"Deployment %s minimum availability.\"},"
	    "{\"type\":\"Progressing\",\"status\":\"True\",\"lastUpdateTime\":\"%s\","
	    "\"lastTransitionTime\":\"%s\",\"reason\":\"%s\","
	    "\"message\":\"ReplicaSet \\\"%s-7d9c8b5f4\\\" %s.\"}]}}}\n",
	    w->name, i * 2654435761u, i * 40503u, w->rv, gen, w->created,
	    w->deleting ? "\"deletionTimestamp\":\"2026-11-25T13:00:00Z\",\"deletionGracePeriodSeconds\":0,"
	    "\"finalizers\":[\"foregroundDeletion\"]," : "",
	    w->name, w->name, gen, w->name, w->created, w->created,
	    rep, w->name, w->name, w->name, image,
	    (unsigned)w->observed, rep, rep, ready, ready,
	    ready == 0 ? "\"unavailableReplicas\":1," : "",
	    w->cond_status[0], w->created, w->created, w->cond_reason[0],
	    progressing_ok ? "has" : "does not have",
	    w->created, w->created, w->cond_reason[1], w->name,
	    progressing_ok ? "has successfully progressed" : "is progressing");
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

#endif
