/*
 * Validation of a cluster's spec before anything is sent to the API server
 * (DESIGN.md "Richer clusters").  Pure functions.  Each returns 0 when the
 * input is acceptable, else -1 with why (>= 200 bytes advised) holding one
 * line that names the field and the rule, e.g.
 *   env[2].name: "1X" is not a C identifier ([A-Za-z_][A-Za-z0-9_]*)
 */
#ifndef CPLANE_WORKER_SPEC_CHECK_H
#define CPLANE_WORKER_SPEC_CHECK_H

#include <stddef.h>

#include "k8s/podspec.h"

#define SPEC_ENV_MAX 128
#define SPEC_ARGV_MAX 64		/* command and args entries each */
#define SPEC_ARG_BYTES_MAX 4096
#define SPEC_PORTS_MAX 64		/* uniqueness is checked pairwise: the count stays small */
#define SPEC_ANNOTATIONS_BYTES_MAX (256 * 1024)	/* keys and values together */

/* Everything of p for a cluster called name (service: the name must be DNS-1035). */
int spec_check(const char *name, const k8s_podspec *p, char *why, size_t whysz);

/* The four quantities (NULL or "" = unset), each request <= its limit;
 * field names are "<prefix>cpu_request" etc. */
int spec_check_resources(const char *prefix, const char *cpu_request, const char *memory_request,
    const char *cpu_limit, const char *memory_limit, char *why, size_t whysz);

/* Kubernetes' rules for one label (value NULL: an annotation, whose value is free). */
int spec_check_label(const char *field, const char *key, const char *value, char *why, size_t whysz);

#endif
