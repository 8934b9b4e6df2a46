/* Internal to src/k8s: submitting with a context the client frees with the request. */
#ifndef CPLANE_K8S_CLIENT_INT_H
#define CPLANE_K8S_CLIENT_INT_H

#include "k8s/client.h"

/* As k8s_submit; free_ctx(ctx) runs when the request is freed (completed or
 * cancelled), after on_done.  Never NULL. */
k8s_req *k8s__submit(k8s_client *c, const k8s_request *q, void (*free_ctx)(void *ctx));

#endif
