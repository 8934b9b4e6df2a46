/* The service's backend over the Kubernetes client (src/k8s/client.h). */
#ifndef CPLANE_WORKER_BACKEND_K8S_H
#define CPLANE_WORKER_BACKEND_K8S_H

#include "k8s/client.h"
#include "worker/service.h"

/*
 * Fills b so the service's API writes and diagnoses go through client
 * (b->impl is the client; nothing is allocated).  The service's completions
 * have the client's own signatures, so they are handed to it unchanged;
 * k8s_client_free() drops requests still in flight without calling back, and
 * the service frees its side itself.
 */
void worker_backend_k8s_init(struct worker_backend *b, k8s_client *client);

#endif
