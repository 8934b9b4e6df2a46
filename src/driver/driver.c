#include "driver/driver.h"

#include "base/log.h"

int driver_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("driver is not implemented in this build", NULL);
	return 1;
}

void driver_print_usage(FILE *f)
{
	fprintf(f, "  (not implemented in this build)\n");
}
