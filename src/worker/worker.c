/*
 * Worker entry point.  The service itself (gRPC server, informer, cluster
 * table) is wired in by src/worker/service.c as it lands; until then the
 * worker validates its flags and says it cannot serve yet.
 */
#include "worker/worker.h"

#include "base/log.h"
#include "worker/config.h"

int worker_main(int argc, char **argv)
{
	struct worker_config cfg;
	enum log_level level;
	enum log_format format;

	if (worker_config_parse(&cfg, argc, argv) < 0)
		return 2;
	log_parse_level(cfg.log_level, &level);
	log_parse_format(cfg.log_format, &format);
	log_set_level(level);
	log_set_format(format);
	log_error("worker is not implemented in this build", "listen", cfg.listen, NULL);
	return 1;
}

void worker_print_flags(FILE *f)
{
	worker_config_print_flags(f);
}
