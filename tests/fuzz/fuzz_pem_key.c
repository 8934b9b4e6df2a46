/*
 * PEM private keys and certificate chains (src/io/pem_key.c) on arbitrary
 * text.  A failure must say why; a key that loads must be RSA or EC of a sane
 * size; a chain that loads has a certificate whose bytes are readable; when
 * both load, checking the pair must answer (either way) without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/pem_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	pem_key *k;
	pem_chain *c;

	err[0] = '\0';
	k = pem_key_parse(data, size, err, sizeof(err));
	if (k == NULL && err[0] == '\0')
		abort();
	if (k != NULL && pem_key_type(k) != BR_KEYTYPE_RSA && pem_key_type(k) != BR_KEYTYPE_EC)
		abort();
	if (k != NULL && (pem_key_bits(k) == 0 || pem_key_bits(k) > 1u << 16))
		abort();
	err[0] = '\0';
	c = pem_chain_parse(data, size, err, sizeof(err));
	if (c == NULL && err[0] == '\0')
		abort();
	if (c != NULL) {
		volatile uint8_t sum = 0;

		if (pem_chain_len(c) == 0)
			abort();
		for (size_t i = 0; i < pem_chain_len(c); i++)
			for (size_t j = 0; j < pem_chain_certs(c)[i].data_len; j++)
				sum ^= pem_chain_certs(c)[i].data[j];
		(void)sum;
		if (k != NULL)
			(void)pem_chain_matches_key(c, k, err, sizeof(err));
	}
	pem_key_free(k);
	pem_chain_free(c);
	return 0;
}
