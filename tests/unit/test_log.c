/* Exact bytes of log lines in logrus' text format and in JSON. */
#include "harness.h"

#include <unistd.h>

#include "base/log.h"

#define T0 1674483619	/* 2023-01-23T14:20:19Z */

static const char *fmt(enum log_format f, enum log_level lv, const char *msg, const char *const *kv, size_t n)
{
	static char out[1024];
	int len = log_format_line(out, sizeof(out) - 1, f, T0, lv, msg, kv, n);

	if (len < 0)
		return "(overflow)";
	out[len] = '\0';
	return out;
}

static void test_text_reference_line(void)
{
	const char *kv[] = { "name", "demo", "replicas", "30" };

	CHECK_EQ_STR(fmt(LOG_FORMAT_TEXT, LOG_INFO, "Creating cluster", kv, 4),
	    "time=\"2023-01-23T14:20:19Z\" level=info msg=\"Creating cluster\" name=demo replicas=30\n");
}

static void test_text_quoting(void)
{
	const char *kv[] = {
		"plain", "a-b_c.d/e@f^g+h",
		"space", "a b",
		"quote", "say \"hi\"",
		"bs", "c:\\dir",
		"nl", "line1\nline2\tx\ry",
		"ctl", "\x01\x7f",
		"utf8", "h\xc3\xa9llo",
		"empty", "",
		"eq", "a=b",
		"skipped", NULL,
	};

	CHECK_EQ_STR(fmt(LOG_FORMAT_TEXT, LOG_WARN, "ok", kv, 20),
	    "time=\"2023-01-23T14:20:19Z\" level=warning msg=ok plain=a-b_c.d/e@f^g+h space=\"a b\" "
	    "quote=\"say \\\"hi\\\"\" bs=\"c:\\\\dir\" nl=\"line1\\nline2\\tx\\ry\" ctl=\"\\x01\\x7f\" "
	    "utf8=\"h\xc3\xa9llo\" empty= eq=\"a=b\"\n");
}

static void test_json(void)
{
	const char *kv[] = { "name", "demo", "replicas", "30", "took", "25.1s", "neg", "-4", "lead0", "007",
		"msg2", "a\"b\\c\n\x01" };

	CHECK_EQ_STR(fmt(LOG_FORMAT_JSON, LOG_ERROR, "Created \"x\"", kv, 12),
	    "{\"time\":\"2023-01-23T14:20:19Z\",\"level\":\"error\",\"msg\":\"Created \\\"x\\\"\","
	    "\"name\":\"demo\",\"replicas\":30,\"took\":\"25.1s\",\"neg\":-4,\"lead0\":\"007\","
	    "\"msg2\":\"a\\\"b\\\\c\\n\\u0001\"}\n");
}

static void test_overflow(void)
{
	char small[40];
	const char *kv[] = { "k", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" };

	CHECK_EQ_INT(log_format_line(small, sizeof(small), LOG_FORMAT_TEXT, T0, LOG_INFO, "m", kv, 2), -1);
}

static void test_levels_and_parse(void)
{
	enum log_level lv;
	enum log_format f;

	CHECK_EQ_INT(log_parse_level("warn", &lv), 0);
	CHECK_EQ_INT(lv, LOG_WARN);
	CHECK_EQ_INT(log_parse_level("loud", &lv), -1);
	CHECK_EQ_INT(log_parse_format("json", &f), 0);
	CHECK_EQ_INT(f, LOG_FORMAT_JSON);
	CHECK_EQ_INT(log_parse_format("xml", &f), -1);
}

static int64_t fixed_now(void)
{
	return T0;
}

/* log_msg writes one line per call to the chosen fd and filters by level. */
static void test_log_msg_to_pipe(void)
{
	int p[2];
	char got[512];
	ssize_t n;

	CHECK_EQ_INT(pipe(p), 0);
	log_set_fd(p[1]);
	log_set_time_source(fixed_now);
	log_set_level(LOG_INFO);
	log_debug("hidden", NULL);
	log_info("Deleted cluster", "name", "demo", "took", "1.2s", NULL);
	close(p[1]);
	n = read(p[0], got, sizeof(got) - 1);
	CHECK(n > 0);
	got[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(got, "time=\"2023-01-23T14:20:19Z\" level=info msg=\"Deleted cluster\" name=demo took=1.2s\n");
	close(p[0]);
	log_set_fd(2);
	log_set_time_source(NULL);
}

static void test_durations(void)
{
	char b[32];

	CHECK_EQ_STR(log_duration_ms(b, 310), "310ms");
	CHECK_EQ_STR(log_duration_ms(b, 25100), "25.1s");
	CHECK_EQ_STR(log_duration_ms(b, 2000), "2s");
	CHECK_EQ_STR(log_duration_ms(b, 62500), "1m2.5s");
	CHECK_EQ_STR(log_duration_ms(b, 3600000), "1h0m0s");
	CHECK_EQ_STR(log_duration_ms(b, 0), "0ms");
}

int main(void)
{
	RUN(test_text_reference_line);
	RUN(test_text_quoting);
	RUN(test_json);
	RUN(test_overflow);
	RUN(test_levels_and_parse);
	RUN(test_log_msg_to_pipe);
	RUN(test_durations);
	return harness_finish();
}
