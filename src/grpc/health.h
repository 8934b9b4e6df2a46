/*
 * grpc.health.v1.Health (grpc/doc/health-checking.md) on a grpc_server:
 * Check answers a service's status (NOT_FOUND for a service never set),
 * Watch sends the status now and again on every change (SERVICE_UNKNOWN for
 * a service not set yet, and keeps watching).  The empty name "" is the
 * server's overall status, SERVING from registration until set otherwise.
 * Shutdown (grpc_server_shutdown) turns every status NOT_SERVING.
 */
#ifndef CPLANE_GRPC_HEALTH_H
#define CPLANE_GRPC_HEALTH_H

#include "grpc/server.h"

/* Wire values of HealthCheckResponse.ServingStatus. */
enum grpc_health_status {
	GRPC_HEALTH_UNKNOWN = 0,
	GRPC_HEALTH_SERVING = 1,
	GRPC_HEALTH_NOT_SERVING = 2,
	GRPC_HEALTH_SERVICE_UNKNOWN = 3,
};

/* Registers /grpc.health.v1.Health/Check and /Watch.  Returns 0 or GRPC_ERR_*. Once per server. */
int grpc_health_register(grpc_server *s);
/*
 * Sets a service's status (service copied; "" = overall) and notifies its
 * watchers when it changed.  Returns 0 or GRPC_ERR_INVALID (not registered,
 * bad status).
 */
int grpc_health_set(grpc_server *s, const char *service, int status);
/* A service's status, or GRPC_HEALTH_SERVICE_UNKNOWN when never set. */
int grpc_health_get(const grpc_server *s, const char *service);

#endif
