/* The service's backend over the Kubernetes client (src/k8s/client.h). */
#ifndef CPLANE_WORKER_BACKEND_K8S_H
#define CPLANE_WORKER_BACKEND_K8S_H

#include "k8s/client.h"
#include "worker/service.h"

/* Fills b so the service's API writes and diagnoses go through client. */
void worker_backend_k8s(struct worker_backend *b, k8s_client *client);

#endif
