/*
 * Kubernetes API errors: a failed call, either from the API server (a
 * metav1.Status body, or at least an HTTP status) or from the way there
 * (connect, TLS, timeout, malformed response).
 *
 * The worker maps these to gRPC codes: look at `code` and `reason` for API
 * errors (AlreadyExists 409, NotFound 404, Forbidden 403, ...) and at `kind`
 * for transport errors (K8S_ERR_CONNECT, K8S_ERR_TLS, K8S_ERR_TIMEOUT: the API
 * server was unreachable after retries → UNAVAILABLE).
 */
#ifndef CPLANE_K8S_STATUS_H
#define CPLANE_K8S_STATUS_H

#include <stddef.h>
#include <stdint.h>

enum k8s_err_kind {
	K8S_OK = 0,
	K8S_ERR_API = -1,	/* the server answered non-2xx: code/reason/message */
	K8S_ERR_CONNECT = -2,	/* TCP connect, reset, EOF before a whole response */
	K8S_ERR_TLS = -3,	/* handshake or certificate failure (message says why in words) */
	K8S_ERR_TIMEOUT = -4,	/* no complete response within the request's timeout */
	K8S_ERR_PROTO = -5,	/* malformed HTTP or JSON from the server */
	K8S_ERR_NOMEM = -6,
	K8S_ERR_CANCELLED = -7,	/* client shut down while the request was queued */
	K8S_ERR_CONFIG = -8,	/* token or CA unreadable */
};

#define K8S_REASON_MAX 64
#define K8S_MESSAGE_MAX 512

typedef struct k8s_error {
	int kind;			/* enum k8s_err_kind; K8S_OK = no error */
	int code;			/* HTTP status for K8S_ERR_API, else 0 */
	int64_t retry_after_ms;		/* from Retry-After or details.retryAfterSeconds; 0 = none */
	char reason[K8S_REASON_MAX];	/* "NotFound", "AlreadyExists", ...; "" for transport errors */
	char message[K8S_MESSAGE_MAX];	/* human text, NUL-terminated, truncated to fit */
} k8s_error;

/* Static name of a kind: "ok", "api", "connect", "tls", "timeout", "protocol", ... */
const char *k8s_err_kind_str(int kind);

/* Resets e to K8S_OK with empty strings. */
void k8s_error_clear(k8s_error *e);
/* Sets a transport (or any) error with a printf message. */
void k8s_error_set(k8s_error *e, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Fills e from a non-2xx response: kind K8S_ERR_API, code = http_code, and
 * reason/message/retry_after from the body when it is a Status object
 * ({"kind":"Status",...,"reason":..,"message":..,"code":..,"details":{
 * "retryAfterSeconds":..}}).  When the body is not a Status (a proxy's
 * text, empty), reason comes from the HTTP code as the apiserver would name
 * it (404 NotFound, 409 Conflict, 410 Expired, 429 TooManyRequests, ...) and
 * message is the body's first line, or "HTTP <code>".  Always returns 0.
 */
int k8s_status_parse(const void *body, size_t len, int http_code, k8s_error *e);

/* The reason Kubernetes uses for an HTTP status ("" when none). */
const char *k8s_reason_for_code(int http_code);

/* True for errors worth retrying: transport failures, 5xx, 429. */
int k8s_error_retryable(const k8s_error *e);

#endif
