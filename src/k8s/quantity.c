/*
 * Implementation notes.  The digits become one unsigned 128-bit mantissa
 * (at most 38 significant digits, which is more than any quantity the API
 * server keeps); the suffix and the position of the point become a power of
 * ten and a power of two.  Scaling to nano-units multiplies with an overflow
 * check at every step and divides rounding up, so the result is exact
 * whenever it is representable and refused (ERANGE) when it is not.
 */
#include "k8s/quantity.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128;	/* GCC and clang have it; ISO C does not */

/* 2^63 units: beyond what Kubernetes itself accepts for a quantity. */
#define MAX_NANO ((u128)1000000000u * ((u128)1 << 63))

static int mul_u128(u128 *v, u128 m)
{
	if (m != 0 && *v > MAX_NANO / m)
		return -1;
	*v *= m;
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The suffix: a power of ten (*dec) and a power of 1024 (*bin). */
static int parse_suffix(const char *s, size_t len, int *dec, int *bin)
{
	static const char dec_sfx[] = "numkMGTPE";
	static const int dec_pow[] = { -9, -6, -3, 3, 6, 9, 12, 15, 18 };
	static const char bin_sfx[] = "KMGTPE";

	*dec = 0;
	*bin = 0;
	if (len == 0)
		return 0;
	if (len == 2 && s[1] == 'i') {
		const char *p = memchr(bin_sfx, s[0], sizeof(bin_sfx) - 1);

		if (p == NULL)
			return K8S_QTY_ESYNTAX;
		*bin = (int)(p - bin_sfx) + 1;
		return 0;
	}
	if (s[0] == 'e' || s[0] == 'E') {
		size_t i = 1;
		int neg = 0, e = 0;

		if (len == 1)
			return s[0] == 'E' ? (*dec = 18, 0) : K8S_QTY_ESYNTAX;
		if (s[i] == '+' || s[i] == '-')
			neg = s[i++] == '-';
		if (i == len)
			return K8S_QTY_ESYNTAX;
		for (; i < len; i++) {
			if (!is_digit(s[i]))
				return K8S_QTY_ESYNTAX;
			if (e < 1000)
				e = e * 10 + (s[i] - '0');
		}
		*dec = neg ? -e : e;
		return 0;
	}
	if (len == 1) {
		const char *p = memchr(dec_sfx, s[0], sizeof(dec_sfx) - 1);

		if (p == NULL)
			return K8S_QTY_ESYNTAX;
		*dec = dec_pow[p - dec_sfx];
		return 0;
	}
	return K8S_QTY_ESYNTAX;
}

int k8s_quantity_parse(const char *s, size_t len, k8s_quantity *q)
{
	u128 mant = 0, v;
	size_t i = 0, ndigits = 0, sig = 0;
	int neg = 0, frac = 0, dot = 0, dec, bin, rc, exp10;

	q->hi = q->lo = 0;
	if (len == 0)
		return K8S_QTY_EEMPTY;
	if (len > K8S_QUANTITY_MAX_LEN)
		return K8S_QTY_ERANGE;
	if (s[0] == '+' || s[0] == '-')
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (is_digit(s[i])) {
			ndigits++;
			if (mant == 0 && s[i] == '0') {
				if (dot)
					frac++;
				continue;
			}
			if (++sig > 38)
				return K8S_QTY_ERANGE;
			mant = mant * 10 + (u128)(s[i] - '0');
			if (dot)
				frac++;
		} else if (s[i] == '.' && !dot) {
			dot = 1;
		} else {
			break;
		}
	}
	if (ndigits == 0)
		return K8S_QTY_ESYNTAX;
	rc = parse_suffix(s + i, len - i, &dec, &bin);
	if (rc < 0)
		return rc;
	if (neg && mant != 0)
		return K8S_QTY_ENEGATIVE;
	if (mant == 0)
		return 0;
	exp10 = 9 + dec - frac;
	v = mant;
	if (exp10 < -40)
		v = 1;		/* below 1n: rounds up to it */
	else if (exp10 < 0) {
		u128 div = 1;
		for (int k = 0; k < -exp10; k++) {
			if (div > ~(u128)0 / 10) {
				div = 0;
				break;
			}
			div *= 10;
		}
		v = div == 0 ? 1 : (v + div - 1) / div;
	}
	for (int k = 0; k < exp10; k++)
		if (mul_u128(&v, 10) < 0)
			return K8S_QTY_ERANGE;
	for (int k = 0; k < bin; k++)
		if (mul_u128(&v, 1024) < 0)
			return K8S_QTY_ERANGE;
	if (v > MAX_NANO)
		return K8S_QTY_ERANGE;
	q->hi = (uint64_t)(v >> 64);
	q->lo = (uint64_t)v;
	return 0;
}

int k8s_quantity_cmp(const k8s_quantity *a, const k8s_quantity *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

const char *k8s_quantity_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case K8S_QTY_EEMPTY: return "empty";
	case K8S_QTY_ESYNTAX: return "not a Kubernetes quantity (e.g. 500m, 0.5, 1Gi, 500M, 1e3)";
	case K8S_QTY_ENEGATIVE: return "negative";
	case K8S_QTY_ERANGE: return "too large";
	}
	return "?";
}
