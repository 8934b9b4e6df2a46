/*
 * PEM bundle → trust anchors on arbitrary text.  Whatever loads must be
 * describable (a key type, a sane size, a DN inside the anchor's own memory),
 * a failure must say why, and loading the same text twice must give the same
 * count, since anchors are independent of what was loaded before.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tls_anchors *ta = tls_anchors_new();
	char err[256];
	int n1, n2;

	if (ta == NULL)
		abort();
	err[0] = '\0';
	n1 = tls_anchors_add_pem(ta, data, size, err, sizeof(err));
	if (n1 < 0 && err[0] == '\0')
		abort();
	if (n1 >= 0 && tls_anchors_count(ta) != (size_t)n1)
		abort();
	for (size_t i = 0; i < tls_anchors_count(ta); i++) {
		const char *type;
		unsigned bits;
		bool ca;
		const uint8_t *dn;
		size_t dn_len;
		volatile uint8_t sum = 0;

		if (tls_anchors_describe(ta, i, &type, &bits, &ca, &dn, &dn_len) != 0)
			abort();
		if (strcmp(type, "RSA") != 0 && strcmp(type, "EC") != 0)
			abort();
		for (size_t j = 0; j < dn_len; j++)
			sum ^= dn[j];	/* ASan checks the DN is readable */
		(void)sum;
	}
	n2 = tls_anchors_add_pem(ta, data, size, NULL, 0);
	if (n2 != n1)
		abort();
	if (n1 >= 0 && tls_anchors_count(ta) != 2 * (size_t)n1)
		abort();
	if (n1 > 0) {
		tls_client *c = tls_client_new(ta, "kubernetes.default.svc", err, sizeof(err));

		tls_client_free(c);
	}
	tls_anchors_free(ta);
	return 0;
}
