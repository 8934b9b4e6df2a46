/*
 * Status bodies are small documents; the extractor picks the four fields we
 * need and skips the rest (details.causes can be long).  Anything that is not
 * a Status — a load balancer's HTML, kubectl proxy's text, nothing — still
 * yields a usable error from the HTTP code alone.
 */
#include "k8s/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "json/json.h"

const char *k8s_err_kind_str(int kind)
{
	switch (kind) {
	case K8S_OK: return "ok";
	case K8S_ERR_API: return "api";
	case K8S_ERR_CONNECT: return "connect";
	case K8S_ERR_TLS: return "tls";
	case K8S_ERR_TIMEOUT: return "timeout";
	case K8S_ERR_PROTO: return "protocol";
	case K8S_ERR_NOMEM: return "out of memory";
	case K8S_ERR_CANCELLED: return "cancelled";
	case K8S_ERR_CONFIG: return "config";
	}
	return "unknown";
}

void k8s_error_clear(k8s_error *e)
{
	e->kind = K8S_OK;
	e->code = 0;
	e->retry_after_ms = 0;
	e->reason[0] = '\0';
	e->message[0] = '\0';
}

void k8s_error_set(k8s_error *e, int kind, const char *fmt, ...)
{
	va_list ap;

	k8s_error_clear(e);
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

const char *k8s_reason_for_code(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	}
	return "";
}

enum { P_KIND, P_CODE, P_REASON, P_MESSAGE, P_RETRY, P_N };

static const char *const status_paths[P_N] = {
	"kind", "code", "reason", "message", "details.retryAfterSeconds",
};

struct status_acc {
	k8s_error *e;
	int is_status;
	int got_reason, got_message;
};

static void copy_tok(char *dst, size_t dstsz, const json_token *t)
{
	size_t n = t->len < dstsz - 1 ? t->len : dstsz - 1;

	memcpy(dst, t->str, n);
	dst[n] = '\0';
	/* Status messages go into logs and gRPC messages: no NULs in the middle. */
	for (size_t i = 0; i < n; i++)
		if (dst[i] == '\0')
			dst[i] = ' ';
}

static int status_event(void *ctx, const json_event *ev)
{
	struct status_acc *a = ctx;
	const json_token *t = ev->tok;

	if (ev->kind != JSON_EV_VALUE || ev->path < 0)
		return 0;
	switch (ev->path) {
	case P_KIND:
		a->is_status = t->type == JSON_STRING && t->len == 6 && memcmp(t->str, "Status", 6) == 0;
		break;
	case P_REASON:
		if (t->type == JSON_STRING) {
			copy_tok(a->e->reason, sizeof(a->e->reason), t);
			a->got_reason = t->len > 0;
		}
		break;
	case P_MESSAGE:
		if (t->type == JSON_STRING) {
			copy_tok(a->e->message, sizeof(a->e->message), t);
			a->got_message = t->len > 0;
		}
		break;
	case P_RETRY:
		if (t->type == JSON_INT && t->i > 0 && t->i < 86400)
			a->e->retry_after_ms = t->i * 1000;
		break;
	default:
		break;
	}
	return 0;
}

static void first_line(char *dst, size_t dstsz, const uint8_t *p, size_t len)
{
	size_t n = 0;

	while (n < len && (p[n] == ' ' || p[n] == '\t' || p[n] == '\r' || p[n] == '\n'))
		n++;
	p += n;
	len -= n;
	for (n = 0; n < len && n < dstsz - 1 && p[n] != '\n' && p[n] != '\r'; n++)
		dst[n] = (p[n] >= 0x20 && p[n] < 0x7f) ? (char)p[n] : '?';
	dst[n] = '\0';
}

int k8s_status_parse(const void *body, size_t len, int http_code, k8s_error *e)
{
	json_pathset ps;
	json_extract x;
	char sbuf[8192];
	struct status_acc a = { e, 0, 0, 0 };
	int rc = -1;

	k8s_error_clear(e);
	e->kind = K8S_ERR_API;
	e->code = http_code;
	if (len > 0 && json_pathset_compile(&ps, status_paths, P_N) == 0) {
		json_extract_init(&x, &ps, sbuf, sizeof(sbuf), JSON_SINGLE, status_event, &a);
		rc = json_extract_feed(&x, body, len);
		if (rc >= 0)
			rc = json_extract_finish(&x);
	}
	if (rc < 0 || !a.is_status) {
		/* Not a Status: whatever the extractor copied is not trustworthy. */
		e->retry_after_ms = 0;
		e->reason[0] = '\0';
		e->message[0] = '\0';
		a.got_reason = a.got_message = 0;
		if (len > 0 && rc < 0)
			first_line(e->message, sizeof(e->message), body, len);
	}
	if (!a.got_reason)
		str_copy(e->reason, sizeof(e->reason), k8s_reason_for_code(http_code));
	if (e->message[0] == '\0')
		snprintf(e->message, sizeof(e->message), "HTTP %d%s%s", http_code, e->reason[0] ? " " : "",
		    e->reason);
	return 0;
}

int k8s_error_retryable(const k8s_error *e)
{
	switch (e->kind) {
	case K8S_ERR_CONNECT:
	case K8S_ERR_TIMEOUT:
		return 1;
	case K8S_ERR_API:
		return e->code == 429 || e->code >= 500;
	}
	return 0;
}
