/*
 * argv → mode: the worker (default), the driver (--driver), or the two
 * informational flags.  Each mode parses its own flags.
 */
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "worker/worker.h"

#ifndef CPLANE_VERSION
#define CPLANE_VERSION "0.0.0"
#endif
#ifndef CPLANE_COMMIT
#define CPLANE_COMMIT "unknown"
#endif

static void usage(FILE *f)
{
	fprintf(f,
	    "cplane %s — a light-weight Kubernetes control plane\n"
	    "\n"
	    "Usage:\n"
	    "  cplane [worker flags]              serve cplane.v1.ClusterService over gRPC (the worker)\n"
	    "  cplane --driver [command] [flags]  the client: create, delete, get, list, watch, demo\n"
	    "  cplane --version                   print the version and git commit\n"
	    "  cplane --help                      this text\n"
	    "\n"
	    "Worker flags (each also from CPLANE_<FLAG>, e.g. CPLANE_LISTEN):\n", CPLANE_VERSION);
	worker_print_flags(f);
	fprintf(f, "\nDriver commands and flags:\n");
	driver_print_usage(f);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--version") == 0) {
			printf("cplane %s (commit %s)\n", CPLANE_VERSION, CPLANE_COMMIT);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--driver") == 0) {
			/* Drop "--driver" so the driver sees only its own arguments. */
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(argv[0]));
			return driver_main(argc - 1, argv);
		}
	}
	return worker_main(argc, argv);
}
