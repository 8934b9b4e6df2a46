/*
 * Kubernetes resource quantities ("500m", "0.5", "1Gi", "500M", "1e3"):
 * parsed to an exact count of nano-units so any two spellings compare as
 * the API server compares them ("1000m" == "1", "0.1" == "100m").  Pure; no
 * allocation.
 *
 * Grammar (k8s.io/apimachinery resource.Quantity):
 *   quantity := sign? number suffix
 *   number   := digits | digits "." digits? | "." digits
 *   suffix   := "" | n | u | m | k | M | G | T | P | E | Ki | Mi | Gi | Ti | Pi | Ei
 *             | ("e" | "E") sign? digits
 * cplane refuses negative quantities (a request or limit never is), values
 * past 2^63 whole units, and spellings longer than K8S_QUANTITY_MAX_LEN.
 * Precision finer than 1n rounds up, as the API server does.
 */
#ifndef CPLANE_K8S_QUANTITY_H
#define CPLANE_K8S_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#define K8S_QUANTITY_MAX_LEN 64

enum k8s_quantity_err {
	K8S_QTY_EEMPTY = -1,	/* "" */
	K8S_QTY_ESYNTAX = -2,	/* not the grammar above */
	K8S_QTY_ENEGATIVE = -3,	/* below zero */
	K8S_QTY_ERANGE = -4,	/* too large, or too long a spelling */
};

/* value = hi * 2^64 + lo nano-units. */
typedef struct k8s_quantity {
	uint64_t hi, lo;
} k8s_quantity;

/* Parses s[0..len).  0, or a negative k8s_quantity_err. */
int k8s_quantity_parse(const char *s, size_t len, k8s_quantity *q);
/* -1, 0, 1 as a <, ==, > b. */
int k8s_quantity_cmp(const k8s_quantity *a, const k8s_quantity *b);
/* A short phrase for an error code ("not a quantity", ...). */
const char *k8s_quantity_strerror(int err);

#endif
