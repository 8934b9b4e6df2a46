/*
 * create's richer spec and update's changes as the command line gives them
 * (--env K=V, --port NAME:PORT, --label, --annotation, --command, --arg,
 * --cpu, --memory, --service), turned into the CreateClusterRequest's
 * fields 4-11.  Only the shapes are checked here ("K=V", "NAME:PORT"); the
 * worker checks the rules and names the field.
 */
#ifndef CPLANE_DRIVER_SPEC_ARGS_H
#define CPLANE_DRIVER_SPEC_ARGS_H

#include <stddef.h>

#include "base/flags.h"
#include "cplane/v1/cplane.pb-c.h"

/* create's richer spec and update's changes, as the flags gave them (DESIGN.md "Richer clusters"). */
struct driver_spec_flags {
	struct flag_list env, port, label, annotation, command, arg;
	const char *cpu, *memory;	/* request = limit */
	int service;
};

/* The CreateClusterRequest fields 4-11 built from spec_flags; freed with driver_spec_free. */
struct driver_spec_req {
	Cplane__V1__Resources res;
	Cplane__V1__EnvVar *env, **envp;
	Cplane__V1__Port *ports, **portp;
	Cplane__V1__CreateClusterRequest__LabelsEntry *labels, **labelp;
	Cplane__V1__CreateClusterRequest__AnnotationsEntry *anns, **annp;
	char *strs;	/* K=V copies split at '=' */
	size_t n_env, n_ports, n_labels, n_anns;
};

/* Builds r from f (r's strings are copies; f's lists must outlive the request).  0, or -1 with
 * err naming the flag and the shape wanted ("bad value for --env: \"X\" (want KEY=VALUE)"). */
int driver_spec_build(struct driver_spec_req *r, const struct driver_spec_flags *f, char *err, size_t errsz);
/* Points req's fields 4-11 at r and f (valid while both are). */
void driver_spec_fill(struct driver_spec_req *r, const struct driver_spec_flags *f,
    Cplane__V1__CreateClusterRequest *req);
/* Frees what driver_spec_build allocated; a zeroed r is fine. */
void driver_spec_free(struct driver_spec_req *r);

#endif
