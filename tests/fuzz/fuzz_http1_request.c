/*
 * The metrics endpoint's request-head parser on arbitrary bytes.  Besides
 * "no crash", it checks the resumability the endpoint relies on: a head that
 * parses whole never parses from a strict prefix of itself (a prefix is
 * "need more" or an error, never a shorter head), and parsing is
 * deterministic.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http1/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	http1_request req, again;
	http1_header h[16], h2[16];
	int whole = http1_parse_request(data, len, &req, h, 16, 8192);
	int twice = http1_parse_request(data, len, &again, h2, 16, 8192);

	if (whole != twice)
		abort();
	if (whole > 0) {
		if ((size_t)whole > len || req.nheaders > 16)
			abort();
		/* every view points inside the input */
		for (size_t i = 0; i < req.nheaders; i++)
			if (h[i].name.p < (const char *)data || h[i].value.p + h[i].value.len > (const char *)data + len)
				abort();
		for (size_t k = 0; k < (size_t)whole; k += 1 + k / 8) {
			http1_request part;
			http1_header hp[16];
			if (http1_parse_request(data, k, &part, hp, 16, 8192) > 0)
				abort();
		}
	}
	return 0;
}
