/* The driver's table, JSON and AGE formatting, byte for byte. */
#include "harness.h"

#include "driver/output.h"

static void test_age(void)
{
	char b[32];

	CHECK_EQ_STR(output_age(b, 0), "0s");
	CHECK_EQ_STR(output_age(b, 45000), "45s");
	CHECK_EQ_STR(output_age(b, 119000), "119s");
	CHECK_EQ_STR(output_age(b, 312000), "5m12s");
	CHECK_EQ_STR(output_age(b, 300000), "5m");
	CHECK_EQ_STR(output_age(b, 42 * 60000), "42m");
	CHECK_EQ_STR(output_age(b, (3 * 60 + 12) * 60000LL), "3h12m");
	CHECK_EQ_STR(output_age(b, 20 * 3600000LL), "20h");
	CHECK_EQ_STR(output_age(b, (2 * 24 + 5) * 3600000LL), "2d5h");
	CHECK_EQ_STR(output_age(b, 400 * 86400000LL), "400d");
	CHECK_EQ_STR(output_age(b, (2 * 365 + 30) * 86400000LL), "2y30d");
	CHECK_EQ_STR(output_age(b, -5000), "<invalid>");
}

static void test_table(void)
{
	Cplane__V1__Cluster a = CPLANE__V1__CLUSTER__INIT, b = CPLANE__V1__CLUSTER__INIT;
	const Cplane__V1__Cluster *list[2] = { &a, &b };
	buf out = BUF_INIT;
	const char *want =
	    "NAME              REPLICAS   READY   UPDATED   PHASE      AGE\n"
	    "demo              30         30      30        READY      5m12s\n"
	    "another-cluster   3          0       0         CREATING   45s\n";

	a.name = "demo";
	a.replicas = 30;
	a.ready_replicas = 30;
	a.updated_replicas = 30;
	a.phase = CPLANE__V1__PHASE__READY;
	a.created_unix_ms = 1000000 - 312000;
	b.name = "another-cluster";
	b.replicas = 3;
	b.phase = CPLANE__V1__PHASE__CREATING;
	b.created_unix_ms = 1000000 - 45000;
	CHECK_EQ_INT(output_table(&out, list, 2, 1000000), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, strlen(want));
	buf_reset(&out);
	CHECK_EQ_INT(output_table(&out, list, 0, 1000000), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "NAME   REPLICAS   READY   UPDATED   PHASE   AGE\n", 48);
	buf_free(&out);
}

static void test_table_rows(void)
{
	Cplane__V1__Cluster a = CPLANE__V1__CLUSTER__INIT;
	buf out = BUF_INIT;
	const char *want =
	    "NAME   REPLICAS   READY   UPDATED   PHASE      AGE\n"
	    "demo   30         30      30        READY      45s\n"
	    "demo   30         30      30        DELETING   46s\n"
	    "demo   5          3       2         UPDATING   47s\n"
	    "demo   30         0       30        DELETED    <unknown>\n";

	a.name = "demo";
	a.replicas = 30;
	a.ready_replicas = 30;
	a.updated_replicas = 30;
	a.phase = CPLANE__V1__PHASE__READY;
	a.created_unix_ms = 1000000 - 45000;
	CHECK_EQ_INT(output_table_row(&out, &a, 1, 1000000), 0);
	a.phase = CPLANE__V1__PHASE__DELETING;
	CHECK_EQ_INT(output_table_row(&out, &a, 0, 1001000), 0);
	{
		Cplane__V1__Cluster u = a;

		u.replicas = 5;
		u.ready_replicas = 3;
		u.updated_replicas = 2;
		u.phase = CPLANE__V1__PHASE__UPDATING;
		CHECK_EQ_INT(output_table_row(&out, &u, 0, 1002000), 0);
	}
	a.phase = CPLANE__V1__PHASE__DELETED;
	a.ready_replicas = 0;
	a.created_unix_ms = 0;
	CHECK_EQ_INT(output_table_row(&out, &a, 0, 1002000), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, strlen(want));
	buf_free(&out);
}

static void test_json(void)
{
	Cplane__V1__Cluster a = CPLANE__V1__CLUSTER__INIT;
	buf out = BUF_INIT;
	const char *want = "{\"name\":\"demo\",\"replicas\":30,\"readyReplicas\":12,\"phase\":\"CREATING\","
			   "\"message\":\"12/30 \\\"replicas\\\" available\",\"image\":\"registry.k8s.io/pause:3.9\","
			   "\"createdUnixMs\":\"1674483619000\",\"updatedReplicas\":0}\n";

	a.name = "demo";
	a.replicas = 30;
	a.ready_replicas = 12;
	a.phase = CPLANE__V1__PHASE__CREATING;
	a.message = "12/30 \"replicas\" available";
	a.image = "registry.k8s.io/pause:3.9";
	a.created_unix_ms = 1674483619000LL;
	CHECK_EQ_INT(output_json(&out, &a), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, strlen(want));
	buf_free(&out);
}

static void test_json_long_message(void)
{
	Cplane__V1__Cluster a = CPLANE__V1__CLUSTER__INIT;
	buf out = BUF_INIT;
	char msg[9000];
	const char *head = "{\"name\":\"d\",\"replicas\":1,\"readyReplicas\":0,\"phase\":\"CREATING\",\"message\":\"";
	const char *tail = "\",\"image\":\"\",\"createdUnixMs\":\"0\",\"updatedReplicas\":0}\n";

	/* Every byte escaped as \u0001: six times the message, past any fixed scratch. */
	memset(msg, 1, sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	a.name = "d";
	a.replicas = 1;
	a.phase = CPLANE__V1__PHASE__CREATING;
	a.message = msg;
	CHECK_EQ_INT(output_json(&out, &a), 0);
	CHECK_EQ_INT((int)buf_len(&out), (int)(strlen(head) + 6 * (sizeof(msg) - 1) + strlen(tail)));
	CHECK_EQ_MEM(buf_data(&out), strlen(head), head, strlen(head));
	CHECK_EQ_MEM(buf_data(&out) + strlen(head), 6, "\\u0001", 6);
	CHECK_EQ_MEM(buf_data(&out) + buf_len(&out) - strlen(tail), strlen(tail), tail, strlen(tail));
	buf_free(&out);
}

/* get -o json: the whole spec, each field only when set. */
static void test_json_whole_spec(void)
{
	Cplane__V1__Cluster a = CPLANE__V1__CLUSTER__INIT;
	Cplane__V1__Resources res = CPLANE__V1__RESOURCES__INIT;
	Cplane__V1__EnvVar e1 = CPLANE__V1__ENV_VAR__INIT, *env[1] = { &e1 };
	Cplane__V1__Port p1 = CPLANE__V1__PORT__INIT, *ports[1] = { &p1 };
	Cplane__V1__Cluster__LabelsEntry l1 = CPLANE__V1__CLUSTER__LABELS_ENTRY__INIT, *labels[1] = { &l1 };
	Cplane__V1__Cluster__AnnotationsEntry n1 = CPLANE__V1__CLUSTER__ANNOTATIONS_ENTRY__INIT, *anns[1] = { &n1 };
	char *cmd[1] = { "/app" }, *args[2] = { "-v", "2" };
	buf out = BUF_INIT;
	const char *want = "{\"name\":\"web\",\"replicas\":3,\"readyReplicas\":3,\"phase\":\"READY\","
			   "\"message\":\"\",\"image\":\"nginx:1\",\"createdUnixMs\":\"5\",\"updatedReplicas\":3,"
			   "\"resources\":{\"cpuRequest\":\"500m\",\"memoryRequest\":\"\",\"cpuLimit\":\"500m\",\"memoryLimit\":\"\"},"
			   "\"env\":[{\"name\":\"MODE\",\"value\":\"peer\"}],\"command\":[\"/app\"],\"args\":[\"-v\",\"2\"],"
			   "\"ports\":[{\"name\":\"http\",\"port\":80}],\"labels\":{\"team\":\"db\"},"
			   "\"annotations\":{\"note\":\"hi\"},\"serviceDns\":\"web.ns.svc\"}\n";

	a.name = "web";
	a.replicas = a.ready_replicas = a.updated_replicas = 3;
	a.phase = CPLANE__V1__PHASE__READY;
	a.image = "nginx:1";
	a.created_unix_ms = 5;
	res.cpu_request = res.cpu_limit = "500m";
	a.resources = &res;
	e1.name = "MODE";
	e1.value = "peer";
	a.n_env = 1;
	a.env = env;
	a.n_command = 1;
	a.command = cmd;
	a.n_args = 2;
	a.args = args;
	p1.name = "http";
	p1.port = 80;
	a.n_ports = 1;
	a.ports = ports;
	l1.key = "team";
	l1.value = "db";
	a.n_labels = 1;
	a.labels = labels;
	n1.key = "note";
	n1.value = "hi";
	a.n_annotations = 1;
	a.annotations = anns;
	a.service_dns = "web.ns.svc";
	CHECK_EQ_INT(output_json(&out, &a), 0);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, strlen(want));
	buf_free(&out);
}

int main(void)
{
	RUN(test_age);
	RUN(test_table);
	RUN(test_table_rows);
	RUN(test_json);
	RUN(test_json_long_message);
	RUN(test_json_whole_spec);
	return harness_finish();
}
