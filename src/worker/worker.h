/* The worker: serves cplane.v1.ClusterService backed by Kubernetes Deployments. */
#ifndef CPLANE_WORKER_WORKER_H
#define CPLANE_WORKER_WORKER_H

#include <stdio.h>

/* argv[0] is the program; returns the process exit status (2 for bad flags). */
int worker_main(int argc, char **argv);
void worker_print_flags(FILE *f);

#endif
