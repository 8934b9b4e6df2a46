/*
 * Command-line flags from a table, each also read from the environment as
 * CPLANE_<NAME> (upper case, '-' → '_'); the command line wins.
 *
 * Forms: --name value, --name=value; booleans: --name, --name=true|false,
 * --no-name.  Arguments that are not flags are returned as positionals in
 * order; "--" ends flag parsing.  Errors are one line in err (e.g.
 * "unknown flag --foo", "bad value for --replicas: \"x\" (want an integer)");
 * callers print it and exit 2.
 */
#ifndef CPLANE_BASE_FLAGS_H
#define CPLANE_BASE_FLAGS_H

#include <stddef.h>
#include <stdint.h>

enum flag_type {
	FLAG_STRING,	/* const char ** (points into argv/environ; not copied) */
	FLAG_INT,	/* int64_t * */
	FLAG_DURATION,	/* int64_t * milliseconds, Go-style "5m", "2m30s", "250ms" */
	FLAG_BOOL,	/* int * */
	FLAG_LIST,	/* struct flag_list *: every occurrence, in order (command line only, not the environment) */
};

#define FLAG_LIST_MAX 256

struct flag_list {
	const char *v[FLAG_LIST_MAX];	/* point into argv */
	size_t n;
};

struct flag_def {
	const char *name;	/* without dashes */
	enum flag_type type;
	void *target;
	const char *help;
	int64_t min, max;	/* FLAG_INT/FLAG_DURATION range when min < max */
	const char *(*check)(const char *value);	/* FLAG_STRING: NULL = ok, else why not */
};

/*
 * Parses env then argv[1..argc).  positionals (capacity max_pos) receive the
 * non-flag arguments; *npos their count.  Returns 0, or -1 with err set.
 */
int flags_parse(const struct flag_def *defs, size_t ndefs, int argc, char **argv,
    char **positionals, size_t max_pos, size_t *npos, char *err, size_t errsz);
/* Writes "  --name  help" lines to file (a FILE *). */
void flags_print_help(const struct flag_def *defs, size_t ndefs, void *file);

#endif
