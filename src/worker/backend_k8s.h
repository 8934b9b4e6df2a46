/* The service's backend over the Kubernetes client (src/k8s/client.h). */
#ifndef CPLANE_WORKER_BACKEND_K8S_H
#define CPLANE_WORKER_BACKEND_K8S_H

#include "k8s/client.h"
#include "worker/service.h"

typedef struct worker_backend_k8s worker_backend_k8s;

/*
 * Fills b so the service's API writes and diagnoses go through client
 * (b->impl is the returned state).  NULL on ENOMEM.
 */
worker_backend_k8s *worker_backend_k8s_new(struct worker_backend *b, k8s_client *client);
/*
 * Cancels the requests still in flight (their completions never run, so the
 * service must not wait for them: it frees its own side) and frees the state.
 * Before k8s_client_free().  NULL is fine.
 */
void worker_backend_k8s_free(worker_backend_k8s *k);

#endif
