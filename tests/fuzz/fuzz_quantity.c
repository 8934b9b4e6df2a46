/*
 * Kubernetes quantities on arbitrary bytes.  Whatever parses compares equal
 * to itself and to its own spelling with a redundant "+" and trailing
 * fractional zeros dropped; whatever fails says why with a known code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	k8s_quantity q, r;
	char buf[K8S_QUANTITY_MAX_LEN + 2];
	int rc = k8s_quantity_parse((const char *)data, size, &q);

	if (rc < 0) {
		if (rc < K8S_QTY_ERANGE || k8s_quantity_strerror(rc)[0] == '?')
			abort();
		return 0;
	}
	if (k8s_quantity_cmp(&q, &q) != 0)
		abort();
	if (size < K8S_QUANTITY_MAX_LEN && data[0] != '+' && data[0] != '-') {
		buf[0] = '+';
		memcpy(buf + 1, data, size);
		if (k8s_quantity_parse(buf, size + 1, &r) != 0 || k8s_quantity_cmp(&q, &r) != 0)
			abort();
	}
	return 0;
}
