/*
 * grpc/pbstrings on arbitrary bytes read as a CreateClusterRequest, against
 * its contract: a refusal names a field (non-empty path) and an offset inside
 * the message; when it passes and protobuf-c unpacks the bytes, every string
 * protobuf-c made is valid UTF-8 (no NUL inside: strlen saw it whole).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cplane/v1/cplane.pb-c.h"
#include "grpc/pbstrings.h"

static void utf8_or_die(const char *s)
{
	if (s && pbstrings_utf8_bad_at((const uint8_t *)s, strlen(s)) >= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	size_t at = 0;
	enum pbstrings_result r = pbstrings_check(&cplane__v1__create_cluster_request__descriptor, data, size,
	    path, sizeof(path), &at);
	Cplane__V1__CreateClusterRequest *m;

	if (r == PBSTRINGS_NUL || r == PBSTRINGS_BAD_UTF8) {
		if (path[0] == '\0' || at >= size)
			abort();
		return 0;
	}
	if (r != PBSTRINGS_OK)
		return 0;
	m = cplane__v1__create_cluster_request__unpack(NULL, size, data);
	if (m == NULL)
		return 0;
	utf8_or_die(m->name);
	utf8_or_die(m->image);
	for (size_t i = 0; i < m->n_env; i++) {
		utf8_or_die(m->env[i]->name);
		utf8_or_die(m->env[i]->value);
	}
	for (size_t i = 0; i < m->n_command; i++)
		utf8_or_die(m->command[i]);
	for (size_t i = 0; i < m->n_labels; i++) {
		utf8_or_die(m->labels[i]->key);
		utf8_or_die(m->labels[i]->value);
	}
	cplane__v1__create_cluster_request__free_unpacked(m, NULL);
	return 0;
}
