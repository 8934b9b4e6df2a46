/*
 * Server reflection's core: indexing a FileDescriptorSet (a hand-encoded one
 * with byte-exact answers, malformed ones, and the set compiled into the
 * binary) and answering ServerReflectionRequests.
 */
#include "base/mem.h"
#include "harness.h"

#include "grpc/reflection.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "worker/descriptor_set.h"

/* a.proto: package p; message M { message N {} enum E {} } service S { rpc R } */
static const uint8_t file_a[] = {
	0x0a, 7, 'a', '.', 'p', 'r', 'o', 't', 'o',
	0x12, 1, 'p',
	0x22, 13, 0x0a, 1, 'M', 0x1a, 3, 0x0a, 1, 'N', 0x22, 3, 0x0a, 1, 'E',
	0x32, 8, 0x0a, 1, 'S', 0x12, 3, 0x0a, 1, 'R',
};
/* b.proto: package q; import "a.proto"; enum F {} */
static const uint8_t file_b[] = {
	0x0a, 7, 'b', '.', 'p', 'r', 'o', 't', 'o',
	0x12, 1, 'q',
	0x1a, 7, 'a', '.', 'p', 'r', 'o', 't', 'o',
	0x2a, 3, 0x0a, 1, 'F',
};

static size_t put_file(uint8_t *out, const uint8_t *f, size_t len)
{
	out[0] = 0x0a;
	out[1] = (uint8_t)len;
	memcpy(out + 2, f, len);
	return len + 2;
}

static size_t small_set(uint8_t *out)
{
	size_t n = put_file(out, file_a, sizeof(file_a));

	return n + put_file(out + n, file_b, sizeof(file_b));
}

static void test_small_set_index(void)
{
	uint8_t set[128];
	size_t len = small_set(set);
	char err[256] = "";
	grpc_reflection *r = grpc_reflection_new(set, len, err, sizeof(err));

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ_INT(grpc_reflection_service_count(r), 1);
	CHECK_EQ_STR(grpc_reflection_service_name(r, 0), "p.S");
	CHECK(grpc_reflection_service_name(r, 1) == NULL);
	CHECK_EQ_INT(grpc_reflection_symbol_count(r), 6);
	CHECK_EQ_STR(grpc_reflection_file_of(r, "p.M"), "a.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "p.M.N"), "a.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "p.M.E"), "a.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "p.S.R"), "a.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, ".p.S"), "a.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "q.F"), "b.proto");
	CHECK(grpc_reflection_file_of(r, "p") == NULL);
	CHECK(grpc_reflection_file_of(r, "p.M.X") == NULL);
	CHECK(grpc_reflection_file_of(r, "") == NULL);
	grpc_reflection_free(r);
}

static void test_small_set_answers(void)
{
	uint8_t set[128], want[256];
	size_t len = small_set(set), n;
	char err[256] = "";
	grpc_reflection *r = grpc_reflection_new(set, len, err, sizeof(err));
	buf out = BUF_INIT;
	static const uint8_t list_req[] = {0x3a, 0};
	static const uint8_t list_resp[] = {0x12, 2, 0x3a, 0, 0x32, 7, 0x0a, 5, 0x0a, 3, 'p', '.', 'S'};
	static const uint8_t by_name[] = {0x1a, 7, 'b', '.', 'p', 'r', 'o', 't', 'o'};
	static const uint8_t by_symbol[] = {0x0a, 1, 'h', 0x22, 5, 'p', '.', 'M', '.', 'N'};

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ_INT(grpc_reflection_answer(r, list_req, sizeof(list_req), &out), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), list_resp, sizeof(list_resp));

	/* b.proto, then what it imports; original_request echoed as field 2. */
	buf_reset(&out);
	CHECK_EQ_INT(grpc_reflection_answer(r, by_name, sizeof(by_name), &out), 0);
	n = 0;
	want[n++] = 0x12;
	want[n++] = sizeof(by_name);
	memcpy(want + n, by_name, sizeof(by_name));
	n += sizeof(by_name);
	want[n++] = 0x22;
	want[n++] = (uint8_t)(4 + sizeof(file_b) + sizeof(file_a));
	n += put_file(want + n, file_b, sizeof(file_b));
	n += put_file(want + n, file_a, sizeof(file_a));
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, n);

	/* host echoed as valid_host (field 1); a nested symbol resolves to its file alone. */
	buf_reset(&out);
	CHECK_EQ_INT(grpc_reflection_answer(r, by_symbol, sizeof(by_symbol), &out), 0);
	n = 0;
	memcpy(want, (const uint8_t[]){0x0a, 1, 'h', 0x12, sizeof(by_symbol)}, 5);
	n = 5;
	memcpy(want + n, by_symbol, sizeof(by_symbol));
	n += sizeof(by_symbol);
	want[n++] = 0x22;
	want[n++] = (uint8_t)(2 + sizeof(file_a));
	n += put_file(want + n, file_a, sizeof(file_a));
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, n);
	buf_free(&out);
	grpc_reflection_free(r);
}

/* Unpacks an answer to req and returns it (caller frees), checking it parses. */
static Grpc__Reflection__V1__ServerReflectionResponse *ask(grpc_reflection *r, const uint8_t *req, size_t len)
{
	buf out = BUF_INIT;
	Grpc__Reflection__V1__ServerReflectionResponse *resp;

	CHECK_EQ_INT(grpc_reflection_answer(r, req, len, &out), 0);
	resp = grpc__reflection__v1__server_reflection_response__unpack(NULL, buf_len(&out), buf_data(&out));
	CHECK(resp != NULL);
	buf_free(&out);
	return resp;
}

static int error_code_of(grpc_reflection *r, const uint8_t *req, size_t len)
{
	Grpc__Reflection__V1__ServerReflectionResponse *resp = ask(r, req, len);
	int code = -1;

	if (resp && resp->message_response_case ==
	    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE) {
		code = resp->error_response->error_code;
		CHECK(resp->error_response->error_message[0] != '\0');
	}
	if (resp)
		grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
	return code;
}

static void test_errors_and_extensions(void)
{
	uint8_t set[128];
	size_t len = small_set(set);
	char err[256];
	grpc_reflection *r = grpc_reflection_new(set, len, err, sizeof(err));
	static const uint8_t garbage[] = {0xff, 0xff, 0xff};
	static const uint8_t truncated[] = {0x22, 5, 'p'};
	static const uint8_t nothing[] = {0x0a, 1, 'h'};
	static const uint8_t unknown_field[] = {0x78, 1};	/* field 15 varint */
	static const uint8_t field0[] = {0x80, 0x00, 0x00};	/* a tag-0 field protobuf-c lets through */
	static const uint8_t no_sym[] = {0x22, 3, 'p', '.', 'X'};
	static const uint8_t no_file[] = {0x1a, 1, 'z'};
	static const uint8_t ext[] = {0x2a, 7, 0x0a, 3, 'p', '.', 'M', 0x10, 5};
	static const uint8_t ext_nums[] = {0x32, 3, 'p', '.', 'M'};
	static const uint8_t ext_nums_enum[] = {0x32, 3, 'q', '.', 'F'};
	Grpc__Reflection__V1__ServerReflectionResponse *resp;

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ_INT(error_code_of(r, garbage, sizeof(garbage)), 3);
	CHECK_EQ_INT(error_code_of(r, truncated, sizeof(truncated)), 3);
	CHECK_EQ_INT(error_code_of(r, nothing, sizeof(nothing)), 12);
	CHECK_EQ_INT(error_code_of(r, NULL, 0), 12);
	CHECK_EQ_INT(error_code_of(r, unknown_field, sizeof(unknown_field)), 12);
	/* Answered, and the echoed request (unknown fields left out) still parses. */
	CHECK_EQ_INT(error_code_of(r, field0, sizeof(field0)), 12);
	CHECK_EQ_INT(error_code_of(r, no_sym, sizeof(no_sym)), 5);
	CHECK_EQ_INT(error_code_of(r, no_file, sizeof(no_file)), 5);
	CHECK_EQ_INT(error_code_of(r, ext, sizeof(ext)), 5);
	CHECK_EQ_INT(error_code_of(r, ext_nums_enum, sizeof(ext_nums_enum)), 5);
	resp = ask(r, ext_nums, sizeof(ext_nums));
	if (resp) {
		CHECK_EQ_INT(resp->message_response_case,
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE);
		CHECK_EQ_STR(resp->all_extension_numbers_response->base_type_name, "p.M");
		CHECK_EQ_INT(resp->all_extension_numbers_response->n_extension_number, 0);
		grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
	}
	grpc_reflection_free(r);
}

static void test_malformed_sets(void)
{
	uint8_t set[256];
	size_t len = small_set(set), n;
	char err[256];
	grpc_reflection *r;
	uint8_t renamed[sizeof(file_a)];

	/* Every strict prefix that cuts a file short is refused, never read past. */
	for (size_t cut = 1; cut < len; cut++) {
		err[0] = '\0';
		r = grpc_reflection_new(set, cut, err, sizeof(err));
		if (cut == sizeof(file_a) + 2) {
			CHECK(r != NULL);	/* a.proto alone is a complete set */
			grpc_reflection_free(r);
			continue;
		}
		CHECK(r == NULL);
		CHECK(err[0] != '\0');
		grpc_reflection_free(r);
	}
	/* b.proto without a.proto: its import is missing. */
	n = put_file(set, file_b, sizeof(file_b));
	r = grpc_reflection_new(set, n, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "imports \"a.proto\"") != NULL);
	/* The same declarations in a second file. */
	memcpy(renamed, file_a, sizeof(file_a));
	renamed[2] = 'c';
	n = put_file(set, file_a, sizeof(file_a));
	n += put_file(set + n, renamed, sizeof(renamed));
	r = grpc_reflection_new(set, n, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "declared twice") != NULL);
	/* The same file twice. */
	n = put_file(set, file_b, sizeof(file_b));
	n += put_file(set + n, file_b, sizeof(file_b));
	r = grpc_reflection_new(set, n, err, sizeof(err));
	CHECK(r == NULL);
	/* An empty set is valid: nothing to list. */
	r = grpc_reflection_new(set, 0, err, sizeof(err));
	CHECK(r != NULL);
	if (r)
		CHECK_EQ_INT(grpc_reflection_service_count(r), 0);
	grpc_reflection_free(r);
}

static void test_embedded_set(void)
{
	char err[256] = "";
	grpc_reflection *r = grpc_reflection_new(cplane_descriptor_set, cplane_descriptor_set_len, err, sizeof(err));
	static const char *const services[] = {"cplane.v1.ClusterService", "grpc.health.v1.Health",
	    "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"};

	CHECK(r != NULL);
	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ_INT(grpc_reflection_service_count(r), 4);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_STR(grpc_reflection_service_name(r, i), services[i]);
	CHECK_EQ_STR(grpc_reflection_file_of(r, "cplane.v1.ClusterService"), "cplane/v1/cplane.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "cplane.v1.ClusterService.WatchCluster"), "cplane/v1/cplane.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "cplane.v1.Cluster"), "cplane/v1/cplane.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "cplane.v1.Phase"), "cplane/v1/cplane.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "grpc.health.v1.HealthCheckResponse.ServingStatus"),
	    "grpc/health/v1/health.proto");
	CHECK_EQ_STR(grpc_reflection_file_of(r, "grpc.reflection.v1alpha.ServerReflectionRequest"),
	    "grpc/reflection/v1alpha/reflection.proto");
	grpc_reflection_free(r);
}

/*
 * The request is the peer's to size, so protobuf-c unpacks it through the
 * checked allocator: each of its allocations failing in turn gives the
 * peer INVALID_ARGUMENT (as an unparsable request does), and the answer's
 * own buf failing gives GRPC_ERR_NOMEM (the stream answers
 * RESOURCE_EXHAUSTED); nothing leaks.
 */
static void test_checked_allocations_fail(void)
{
	uint8_t set[128];
	size_t len = small_set(set);
	char err[256] = "";
	grpc_reflection *r = grpc_reflection_new(set, len, err, sizeof(err));
	static const uint8_t by_symbol[] = {0x0a, 1, 'h', 0x22, 5, 'p', '.', 'M', '.', 'N'};
	unsigned long before = mem_try_calls_for_test(), total;
	int invalid = 0, nomem = 0;
	buf out = BUF_INIT;

	CHECK_EQ_INT(grpc_reflection_answer(r, by_symbol, sizeof(by_symbol), &out), 0);
	total = mem_try_calls_for_test() - before;
	CHECK(total >= 2);
	for (unsigned long n = 1; n <= total; n++) {
		Grpc__Reflection__V1__ServerReflectionResponse *resp;
		int rc;

		buf_free(&out);
		mem_try_fail_after_for_test(n);
		rc = grpc_reflection_answer(r, by_symbol, sizeof(by_symbol), &out);
		mem_try_fail_after_for_test(0);
		if (rc == GRPC_ERR_NOMEM) {
			CHECK_EQ_INT(buf_len(&out), 0);
			nomem++;
			continue;
		}
		CHECK_EQ_INT(rc, 0);
		resp = grpc__reflection__v1__server_reflection_response__unpack(NULL, buf_len(&out), buf_data(&out));
		CHECK(resp != NULL);
		if (resp && resp->message_response_case ==
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE) {
			CHECK_EQ_INT(resp->error_response->error_code, GRPC_INVALID_ARGUMENT);
			invalid++;
		}
		if (resp)
			grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
	}
	CHECK(invalid > 0);
	CHECK(nomem > 0);
	buf_free(&out);
	grpc_reflection_free(r);
}

int main(void)
{
	RUN(test_small_set_index);
	RUN(test_small_set_answers);
	RUN(test_errors_and_extensions);
	RUN(test_malformed_sets);
	RUN(test_embedded_set);
	RUN(test_checked_allocations_fail);
	return harness_finish();
}
