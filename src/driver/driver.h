/* The driver: the command-line client and the demo scenario. */
#ifndef CPLANE_DRIVER_DRIVER_H
#define CPLANE_DRIVER_DRIVER_H

#include <stdio.h>

/* argv[0] is the program, "--driver" already removed; returns the exit status. */
int driver_main(int argc, char **argv);
void driver_print_usage(FILE *f);

#endif
