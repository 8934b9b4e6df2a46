/*
 * kubeconfig selection over arbitrary text: the YAML/JSON reader, then the
 * walk over clusters, contexts and users (current-context and a context
 * picked by name).  Whatever it returns, a success must hold a server and a
 * refusal a message naming the file; nothing may leak or overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = {NULL, "kind-kind"};
	k8s_kubeconfig kc;
	char err[512];

	for (size_t i = 0; i < 2; i++) {
		err[0] = '\0';
		if (k8s_kubeconfig_parse(&kc, "/k/config", data, size, contexts[i], err, sizeof(err)) == 0) {
			if (kc.server[0] == '\0' || kc.context[0] == '\0')
				abort();
			k8s_kubeconfig_free(&kc);
		} else if (strncmp(err, "kubeconfig /k/config: ", 22) != 0) {
			abort();
		}
	}
	return 0;
}
