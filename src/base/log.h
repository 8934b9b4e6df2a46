/*
 * Logging in logrus' text format, the reference's:
 *   time="2023-01-23T14:20:19Z" level=info msg="Creating cluster" name=demo replicas=30
 * or, with LOG_FORMAT_JSON, one JSON object a line:
 *   {"level":"info","msg":"Creating cluster","name":"demo","replicas":30,"time":"2023-01-23T14:20:19Z"}
 *
 * Fields are key/value pairs passed as a NULL-terminated list of
 * (const char *key, const char *value) strings:
 *   log_info("Creating cluster", "name", name, "replicas", "30", NULL);
 * Text values are quoted only when they need it (as logrus: any byte that is
 * not [A-Za-z0-9-._/@^+]; an empty value stays bare, "name="), with \" \\ \n
 * \r \t and \xNN escapes for other control bytes; UTF-8 passes through.  In
 * JSON, values that are plain decimal integers are written as numbers.  One
 * write(2) per line, to stderr by default.  Levels print as logrus does:
 * debug, info, warning, error.
 */
#ifndef CPLANE_BASE_LOG_H
#define CPLANE_BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* Where lines go (default 2); tests point it at a pipe. */
void log_set_fd(int fd);
/* Replaces the clock for tests (unix seconds); NULL restores the real one. */
void log_set_time_source(int64_t (*now_unix_s)(void));
/* "debug", "info", "warn"/"warning", "error" → level; returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
/* "logfmt"/"text", "json" → format; returns 0 or -1. */
int log_parse_format(const char *s, enum log_format *out);
int log_enabled(enum log_level level);

/* Key/value list ends with NULL.  A NULL value is skipped. */
void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/*
 * Formats one line into out (no trailing NUL guarantee beyond returned length),
 * keys/values as arrays; returns the line length including '\n', or -1 if
 * outsz is too small.  Exposed for tests and for callers that hold arrays.
 */
int log_format_line(char *out, size_t outsz, enum log_format format, int64_t unix_s,
    enum log_level level, const char *msg, const char *const *kv, size_t nkv);

/* Helpers to format values for the kv list; they write into caller storage and return it. */
const char *log_i64(char buf[24], int64_t v);
/* Duration like logrus/Go's time.Duration: "25.1s", "310ms", "1m2.5s". */
const char *log_duration_ms(char buf[32], int64_t ms);

#endif
