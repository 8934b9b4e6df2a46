/*
 * Lines are formatted into a stack buffer and written with one write(2), so
 * lines from one process never interleave and a log call never allocates.
 * A line longer than the buffer is cut (and says so) rather than dropped.
 */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

#define LOG_MAX_FIELDS 32
#define LOG_LINE_MAX 8192

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_FORMAT_TEXT;
static int cur_fd = 2;
static int64_t (*time_source)(void);

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void log_set_level(enum log_level level) { cur_level = level; }
void log_set_format(enum log_format format) { cur_format = format; }
void log_set_fd(int fd) { cur_fd = fd; }
void log_set_time_source(int64_t (*now_unix_s)(void)) { time_source = now_unix_s; }
int log_enabled(enum log_level level) { return level >= cur_level; }

int log_parse_level(const char *s, enum log_level *out)
{
	if (strcmp(s, "debug") == 0 || strcmp(s, "trace") == 0)
		*out = LOG_DEBUG;
	else if (strcmp(s, "info") == 0)
		*out = LOG_INFO;
	else if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
		*out = LOG_WARN;
	else if (strcmp(s, "error") == 0)
		*out = LOG_ERROR;
	else
		return -1;
	return 0;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0 || strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* A tiny bounded writer: sets overflow instead of failing each call. */
struct line {
	char *p;
	size_t len, cap;
	int overflow;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > l->cap) {
		n = l->cap - l->len;
		l->overflow = 1;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static int text_needs_quoting(const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^' || c == '+'))
			return 1;
	}
	return 0;
}

/* Escapes for a double-quoted value; json selects \u00XX over \xNN. */
static void put_escaped(struct line *l, const char *v, int json)
{
	char tmp[8];

	put(l, "\"", 1);
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		switch (c) {
		case '"': put(l, "\\\"", 2); break;
		case '\\': put(l, "\\\\", 2); break;
		case '\n': put(l, "\\n", 2); break;
		case '\r': put(l, "\\r", 2); break;
		case '\t': put(l, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof(tmp), json ? "\\u%04x" : "\\x%02x", c);
				puts_(l, tmp);
			} else {
				put(l, (const char *)&c, 1);
			}
		}
	}
	put(l, "\"", 1);
}

static int is_plain_integer(const char *v)
{
	const char *p = v;

	if (*p == '-')
		p++;
	if (*p == '\0' || (*p == '0' && p[1] != '\0'))
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return p - v < 19;
}

static void put_text_value(struct line *l, const char *v)
{
	if (text_needs_quoting(v))
		put_escaped(l, v, 0);
	else
		puts_(l, v);
}

int log_format_line(char *out, size_t outsz, enum log_format format, int64_t unix_s,
    enum log_level level, const char *msg, const char *const *kv, size_t nkv)
{
	struct line l = { out, 0, outsz, 0 };
	char ts[32];
	size_t i;

	clock_format_rfc3339(unix_s, ts, sizeof(ts));
	if ((unsigned)level > LOG_ERROR)
		level = LOG_ERROR;
	if (format == LOG_FORMAT_JSON) {
		puts_(&l, "{\"time\":\"");
		puts_(&l, ts);
		puts_(&l, "\",\"level\":\"");
		puts_(&l, level_names[level]);
		puts_(&l, "\",\"msg\":");
		put_escaped(&l, msg, 1);
		for (i = 0; i + 1 < nkv; i += 2) {
			if (kv[i + 1] == NULL)
				continue;
			put(&l, ",", 1);
			put_escaped(&l, kv[i], 1);
			put(&l, ":", 1);
			if (is_plain_integer(kv[i + 1]))
				puts_(&l, kv[i + 1]);
			else
				put_escaped(&l, kv[i + 1], 1);
		}
		puts_(&l, "}");
	} else {
		puts_(&l, "time=\"");
		puts_(&l, ts);
		puts_(&l, "\" level=");
		puts_(&l, level_names[level]);
		puts_(&l, " msg=");
		put_text_value(&l, msg);
		for (i = 0; i + 1 < nkv; i += 2) {
			if (kv[i + 1] == NULL)
				continue;
			put(&l, " ", 1);
			puts_(&l, kv[i]);
			put(&l, "=", 1);
			put_text_value(&l, kv[i + 1]);
		}
	}
	if (l.overflow)
		return -1;
	put(&l, "\n", 1);
	return l.overflow ? -1 : (int)l.len;
}

void log_msg(enum log_level level, const char *msg, ...)
{
	const char *kv[LOG_MAX_FIELDS * 2];
	char line[LOG_LINE_MAX];
	size_t nkv = 0;
	int64_t now;
	va_list ap;
	int n;

	if (level < cur_level)
		return;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;
		if (k == NULL)
			break;
		v = va_arg(ap, const char *);
		if (nkv + 2 <= sizeof(kv) / sizeof(kv[0])) {
			kv[nkv++] = k;
			kv[nkv++] = v;
		}
	}
	va_end(ap);
	now = time_source ? time_source() : clock_wall_ms() / 1000;
	n = log_format_line(line, sizeof(line), cur_format, now, level, msg, kv, nkv);
	if (n < 0) {
		/* Too long: say so within the bound rather than lose the event. */
		const char *cut[] = { "truncated", "true" };
		n = log_format_line(line, sizeof(line), cur_format, now, level, msg, cut, 2);
		if (n < 0)
			return;
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(cur_fd, line + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

const char *log_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

/* Go's time.Duration.String() shapes: 310ms, 25.1s, 1m2.5s, 1h0m0s (we round to ms). */
const char *log_duration_ms(char buf[32], int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(buf, 32, "%lldms", (long long)ms);
	} else if (ms < 60000) {
		snprintf(buf, 32, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
	} else if (ms < 3600000) {
		snprintf(buf, 32, "%lldm%lld.%03llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60), (long long)(ms % 1000));
	} else {
		snprintf(buf, 32, "%lldh%lldm%lld.%03llds", (long long)(ms / 3600000),
		    (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
	}
	/* Trim trailing zeros of the fraction like Go ("25.100s" → "25.1s", "2.000s" → "2s"). */
	{
		char *s = strchr(buf, 's');
		char *dot = strrchr(buf, '.');
		if (s && dot && dot < s && s[-1] != 'm') {
			char *e = s;
			while (e[-1] == '0')
				e--;
			if (e[-1] == '.')
				e--;
			memmove(e, s, strlen(s) + 1);
		}
	}
	return buf;
}
