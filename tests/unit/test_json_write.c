/*
 * The JSON writer: exact bytes for escapes, numbers and nesting; misuse and
 * a too-small array are errors; what it writes re-parses to the same value.
 */
#include "harness.h"
#include "json/json.h"

#include <math.h>

static void test_exact_output(void)
{
	char out[512];
	json_writer w;
	int n;

	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_object_begin(&w), 0);
	CHECK_EQ_INT(json_write_key(&w, "apiVersion", 10), 0);
	CHECK_EQ_INT(json_write_cstr(&w, "apps/v1"), 0);
	CHECK_EQ_INT(json_write_key(&w, "spec", 4), 0);
	CHECK_EQ_INT(json_write_object_begin(&w), 0);
	CHECK_EQ_INT(json_write_key(&w, "replicas", 8), 0);
	CHECK_EQ_INT(json_write_int(&w, 30), 0);
	CHECK_EQ_INT(json_write_key(&w, "args", 4), 0);
	CHECK_EQ_INT(json_write_array_begin(&w), 0);
	CHECK_EQ_INT(json_write_array_end(&w), 0);
	CHECK_EQ_INT(json_write_key(&w, "list", 4), 0);
	CHECK_EQ_INT(json_write_array_begin(&w), 0);
	CHECK_EQ_INT(json_write_int(&w, INT64_MIN), 0);
	CHECK_EQ_INT(json_write_int(&w, INT64_MAX), 0);
	CHECK_EQ_INT(json_write_int(&w, 0), 0);
	CHECK_EQ_INT(json_write_bool(&w, 1), 0);
	CHECK_EQ_INT(json_write_bool(&w, 0), 0);
	CHECK_EQ_INT(json_write_null(&w), 0);
	CHECK_EQ_INT(json_write_double(&w, 0.5), 0);
	CHECK_EQ_INT(json_write_double(&w, 3.0), 0);
	CHECK_EQ_INT(json_write_object_begin(&w), 0);
	CHECK_EQ_INT(json_write_object_end(&w), 0);
	CHECK_EQ_INT(json_write_array_end(&w), 0);
	CHECK_EQ_INT(json_write_object_end(&w), 0);
	CHECK_EQ_INT(json_write_key(&w, "s", 1), 0);
	CHECK_EQ_INT(json_write_string(&w, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\0z \xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80",
	    26), 0);
	CHECK_EQ_INT(json_write_object_end(&w), 0);
	n = json_writer_finish(&w);
	{
		static const char want[] =
		    "{\"apiVersion\":\"apps/v1\",\"spec\":{\"replicas\":30,\"args\":[],\"list\":"
		    "[-9223372036854775808,9223372036854775807,0,true,false,null,0.5,3.0,{}]},"
		    "\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000z \xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80\"}";

		CHECK_EQ_INT(n, sizeof(want) - 1);
		CHECK_EQ_MEM(out, (size_t)(n > 0 ? n : 0), want, sizeof(want) - 1);
	}
}

static void test_errors(void)
{
	char out[64];
	json_writer w;

	/* Value where a key is due; key in an array; mismatched close. */
	json_writer_init(&w, out, sizeof(out));
	json_write_object_begin(&w);
	CHECK_EQ_INT(json_write_int(&w, 1), JSON_EUSAGE);
	CHECK_EQ_INT(json_write_object_end(&w), JSON_EUSAGE);	/* sticky */
	json_writer_init(&w, out, sizeof(out));
	json_write_array_begin(&w);
	CHECK_EQ_INT(json_write_key(&w, "a", 1), JSON_EUSAGE);
	json_writer_init(&w, out, sizeof(out));
	json_write_array_begin(&w);
	CHECK_EQ_INT(json_write_object_end(&w), JSON_EUSAGE);
	json_writer_init(&w, out, sizeof(out));
	json_write_object_begin(&w);
	json_write_key(&w, "a", 1);
	CHECK_EQ_INT(json_write_object_end(&w), JSON_EUSAGE);	/* key without value */
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_writer_finish(&w), JSON_EUSAGE);	/* nothing written */
	json_writer_init(&w, out, sizeof(out));
	json_write_array_begin(&w);
	CHECK_EQ_INT(json_writer_finish(&w), JSON_EUSAGE);	/* unbalanced */
	json_writer_init(&w, out, sizeof(out));
	json_write_int(&w, 1);
	CHECK_EQ_INT(json_write_int(&w, 2), JSON_EUSAGE);	/* second top-level value */
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_double(&w, NAN), JSON_EUSAGE);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_double(&w, INFINITY), JSON_EUSAGE);
	/* Invalid UTF-8 is refused and leaves nothing behind. */
	json_writer_init(&w, out, sizeof(out));
	json_write_array_begin(&w);
	CHECK_EQ_INT(json_write_string(&w, "\xc3", 1), JSON_EUTF8);
	CHECK_EQ_INT(json_writer_len(&w), 1);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_string(&w, "\xed\xa0\x80", 3), JSON_EUTF8);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_string(&w, "\xc0\x80", 2), JSON_EUTF8);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_string(&w, "\xf4\x90\x80\x80", 4), JSON_EUTF8);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_string(&w, "\xe2\x82", 2), JSON_EUTF8);
	json_writer_init(&w, out, sizeof(out));
	CHECK_EQ_INT(json_write_cstr(&w, NULL), JSON_EUSAGE);
}

static void test_enospc(void)
{
	char small[8];
	static char big[64];
	json_writer w;
	size_t need;

	json_writer_init(&w, small, sizeof(small));
	json_write_object_begin(&w);
	json_write_key(&w, "name", 4);
	CHECK_EQ_INT(json_write_cstr(&w, "demo-cluster"), JSON_ENOSPC);
	json_write_object_end(&w);
	CHECK_EQ_INT(json_writer_finish(&w), JSON_ENOSPC);
	need = json_writer_len(&w);
	CHECK_EQ_INT(need, strlen("{\"name\":\"demo-cluster\"}"));
	CHECK_EQ_MEM(small, 8, "{\"name\":", 8);
	json_writer_init(&w, big, need);
	json_write_object_begin(&w);
	json_write_key(&w, "name", 4);
	json_write_cstr(&w, "demo-cluster");
	json_write_object_end(&w);
	CHECK_EQ_INT(json_writer_finish(&w), (int)need);
	/* A NULL array just measures. */
	json_writer_init(&w, NULL, 100);
	json_write_cstr(&w, "abc");
	CHECK_EQ_INT(json_writer_finish(&w), JSON_ENOSPC);
	CHECK_EQ_INT(json_writer_len(&w), 5);
}

/* Writes a token stream back out: the writer's inverse of the parser. */
static int rewrite(const char *in, size_t len, char *out, size_t cap)
{
	json_parser p;
	json_token t;
	json_writer w;
	static char sb[1024];
	int r;

	json_parser_init(&p, sb, sizeof(sb), JSON_SINGLE);
	json_writer_init(&w, out, cap);
	json_feed(&p, in, len);
	json_feed_end(&p);
	while ((r = json_next(&p, &t)) == 1) {
		switch (t.type) {
		case JSON_OBJECT_BEGIN: json_write_object_begin(&w); break;
		case JSON_OBJECT_END: json_write_object_end(&w); break;
		case JSON_ARRAY_BEGIN: json_write_array_begin(&w); break;
		case JSON_ARRAY_END: json_write_array_end(&w); break;
		case JSON_KEY: json_write_key(&w, t.str, t.len); break;
		case JSON_STRING: json_write_string(&w, t.str, t.len); break;
		case JSON_INT: json_write_int(&w, t.i); break;
		case JSON_DOUBLE: json_write_double(&w, t.d); break;
		case JSON_TRUE: json_write_bool(&w, 1); break;
		case JSON_FALSE: json_write_bool(&w, 0); break;
		case JSON_NULL: json_write_null(&w); break;
		}
	}
	if (r < 0)
		return r;
	return json_writer_finish(&w);
}

static void test_round_trip(void)
{
	static const char *const docs[] = {
		"{\"a\":[1,-2,3.25,true,false,null,\"x\\u0000y\",{\"\":{}}],\"b\":\"\\ud83d\\ude80\\n\"}",
		"[\"\\u00e9\\u2603\",\"caf\xc3\xa9\",1e300,-0.0,123456789012345678,0.1]",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u001f\"",
		"{\"metadata\":{\"name\":\"demo\",\"labels\":{\"cplane.dev/cluster\":\"demo\"}},"
		"\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\","
		"\"image\":\"registry.k8s.io/pause:3.9\"}]}}}}",
	};
	static char a[2048], b[2048];
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		int n1 = rewrite(docs[i], strlen(docs[i]), a, sizeof(a));
		int n2;

		CHECK(n1 > 0);
		if (n1 <= 0)
			continue;
		/* Canonical after one pass: the second rewrite is byte-identical. */
		n2 = rewrite(a, (size_t)n1, b, sizeof(b));
		CHECK_EQ_INT(n2, n1);
		CHECK_EQ_MEM(b, (size_t)(n2 > 0 ? n2 : 0), a, (size_t)n1);
	}
	/* Doubles survive exactly (%.17g), integral doubles stay doubles. */
	{
		static const double v[] = { 0.1, 1.0 / 3, 1e300, -2.5e-300, 3.0, 9007199254740993.0 };
		json_parser p;
		json_token t;
		json_writer w;
		char sb[64];

		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			json_writer_init(&w, a, sizeof(a));
			json_write_double(&w, v[i]);
			CHECK(json_writer_finish(&w) > 0);
			json_parser_init(&p, sb, sizeof(sb), JSON_SINGLE);
			json_feed(&p, a, json_writer_len(&w));
			json_feed_end(&p);
			CHECK_EQ_INT(json_next(&p, &t), 1);
			CHECK_EQ_INT(t.type, JSON_DOUBLE);
			CHECK(t.d == v[i]);
		}
	}
}

int main(void)
{
	RUN(test_exact_output);
	RUN(test_errors);
	RUN(test_enospc);
	RUN(test_round_trip);
	return harness_finish();
}
