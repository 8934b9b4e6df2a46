/*
 * Server reflection's two parsers on their own.  First input byte even: the
 * rest is a ServerReflectionRequest answered from the set compiled into the
 * binary (the answer must be produced and be a parseable response).  Odd:
 * the rest is a FileDescriptorSet to index; when it indexes, every service
 * it lists must resolve to a file, and a list_services request is answered.
 */
#include <stdint.h>
#include <stdlib.h>

#include "grpc/reflection.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "worker/descriptor_set.h"

static grpc_reflection *embedded;

static void answer_must_parse(const grpc_reflection *r, const uint8_t *req, size_t len)
{
	buf out = BUF_INIT;
	Grpc__Reflection__V1__ServerReflectionResponse *resp;

	if (grpc_reflection_answer(r, req, len, &out) < 0) {
		buf_free(&out);
		return;
	}
	resp = grpc__reflection__v1__server_reflection_response__unpack(NULL, buf_len(&out), buf_data(&out));
	if (resp == NULL || resp->message_response_case ==
	    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE__NOT_SET)
		abort();	/* every request gets exactly one well-formed answer */
	grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t list[] = {0x3a, 0};
	grpc_reflection *r;

	if (embedded == NULL &&
	    (embedded = grpc_reflection_new(cplane_descriptor_set, cplane_descriptor_set_len, NULL, 0)) == NULL)
		abort();
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		answer_must_parse(embedded, data + 1, size - 1);
		return 0;
	}
	r = grpc_reflection_new(data + 1, size - 1, NULL, 0);
	if (r == NULL)
		return 0;
	for (size_t i = 0; i < grpc_reflection_service_count(r); i++)
		if (grpc_reflection_file_of(r, grpc_reflection_service_name(r, i)) == NULL)
			abort();
	answer_must_parse(r, list, sizeof(list));
	grpc_reflection_free(r);
	return 0;
}
