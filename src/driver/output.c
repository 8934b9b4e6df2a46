#include "driver/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "json/json.h"

const char *output_phase_name(int phase)
{
	static const char *const names[] = { "UNKNOWN", "CREATING", "READY", "DELETING", "FAILED", "DELETED",
	    "UPDATING" };

	return phase >= 0 && phase <= 6 ? names[phase] : "UNKNOWN";
}

const char *output_age(char out[32], int64_t ms)
{
	int64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24, y = d / 365;

	if (ms < -1000)
		snprintf(out, 32, "<invalid>");
	else if (s < 0)
		snprintf(out, 32, "0s");
	else if (s < 120)
		snprintf(out, 32, "%llds", (long long)s);
	else if (m < 10)
		s % 60 ? snprintf(out, 32, "%lldm%llds", (long long)m, (long long)(s % 60)) :
		    snprintf(out, 32, "%lldm", (long long)m);
	else if (m < 180)
		snprintf(out, 32, "%lldm", (long long)m);
	else if (h < 8)
		m % 60 ? snprintf(out, 32, "%lldh%lldm", (long long)h, (long long)(m % 60)) :
		    snprintf(out, 32, "%lldh", (long long)h);
	else if (h < 48)
		snprintf(out, 32, "%lldh", (long long)h);
	else if (h < 24 * 8)
		h % 24 ? snprintf(out, 32, "%lldd%lldh", (long long)d, (long long)(h % 24)) :
		    snprintf(out, 32, "%lldd", (long long)d);
	else if (d < 365 * 2)
		snprintf(out, 32, "%lldd", (long long)d);
	else if (y < 8)
		d % 365 ? snprintf(out, 32, "%lldy%lldd", (long long)y, (long long)(d % 365)) :
		    snprintf(out, 32, "%lldy", (long long)y);
	else
		snprintf(out, 32, "%lldy", (long long)y);
	return out;
}

#define NCOLS 6

/* Cells padded to their column's width and three spaces; the last is not padded. */
static void put_row(buf *out, const char *const *cells, const size_t *width, int *rc)
{
	for (int k = 0; k < NCOLS - 1; k++)
		*rc |= buf_printf(out, "%-*s   ", (int)width[k], cells[k]);
	*rc |= buf_printf(out, "%s\n", cells[NCOLS - 1]);
}

static int table(buf *out, const Cplane__V1__Cluster *const *clusters, size_t n, int64_t now_ms, int header,
    size_t phase_floor)
{
	static const char *const head[NCOLS] = { "NAME", "REPLICAS", "READY", "UPDATED", "PHASE", "AGE" };
	size_t width[NCOLS];
	char cells[NCOLS][72];
	int rc = 0;

	for (int k = 0; k < NCOLS; k++)
		width[k] = strlen(head[k]);
	if (width[4] < phase_floor)
		width[4] = phase_floor;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(clusters[i]->name ? clusters[i]->name : "");
		if (l > width[0])
			width[0] = l;
	}
	for (size_t i = 0; i < n; i++) {
		char age[32];
		int lens[NCOLS];
		lens[1] = snprintf(cells[1], sizeof(cells[1]), "%d", clusters[i]->replicas);
		lens[2] = snprintf(cells[2], sizeof(cells[2]), "%d", clusters[i]->ready_replicas);
		lens[3] = snprintf(cells[3], sizeof(cells[3]), "%d", clusters[i]->updated_replicas);
		lens[4] = (int)strlen(output_phase_name(clusters[i]->phase));
		lens[5] = (int)strlen(clusters[i]->created_unix_ms ?
		    output_age(age, now_ms - clusters[i]->created_unix_ms) : "<unknown>");
		for (int k = 1; k < NCOLS; k++)
			if ((size_t)lens[k] > width[k])
				width[k] = (size_t)lens[k];
	}
	if (header)
		put_row(out, head, width, &rc);
	for (size_t i = 0; i < n; i++) {
		char age[32];
		const Cplane__V1__Cluster *c = clusters[i];
		snprintf(cells[0], sizeof(cells[0]), "%s", c->name ? c->name : "");
		snprintf(cells[1], sizeof(cells[1]), "%d", c->replicas);
		snprintf(cells[2], sizeof(cells[2]), "%d", c->ready_replicas);
		snprintf(cells[3], sizeof(cells[3]), "%d", c->updated_replicas);
		snprintf(cells[4], sizeof(cells[4]), "%s", output_phase_name(c->phase));
		snprintf(cells[5], sizeof(cells[5]), "%s",
		    c->created_unix_ms ? output_age(age, now_ms - c->created_unix_ms) : "<unknown>");
		const char *row[NCOLS] = { cells[0], cells[1], cells[2], cells[3], cells[4], cells[5] };
		put_row(out, row, width, &rc);
	}
	return rc;
}

int output_table(buf *out, const Cplane__V1__Cluster *const *clusters, size_t n, int64_t now_ms)
{
	return table(out, clusters, n, now_ms, 1, 0);
}

int output_table_row(buf *out, const Cplane__V1__Cluster *c, int header, int64_t now_ms)
{
	const Cplane__V1__Cluster *one[1] = { c };

	/* Rows printed one at a time cannot see each other: the longest phase name keeps them aligned. */
	return table(out, one, 1, now_ms, header, strlen("CREATING"));
}

static void write_str(json_writer *w, const char *key, const char *v)
{
	json_write_key(w, key, strlen(key));
	json_write_cstr(w, v ? v : "");
}

/* The spec fields, each only when set (proto3 JSON leaves defaults out). */
static void write_spec(json_writer *w, const Cplane__V1__Cluster *c)
{
	if (c->resources) {
		json_write_key(w, "resources", 9);
		json_write_object_begin(w);
		write_str(w, "cpuRequest", c->resources->cpu_request);
		write_str(w, "memoryRequest", c->resources->memory_request);
		write_str(w, "cpuLimit", c->resources->cpu_limit);
		write_str(w, "memoryLimit", c->resources->memory_limit);
		json_write_object_end(w);
	}
	if (c->n_env) {
		json_write_key(w, "env", 3);
		json_write_array_begin(w);
		for (size_t i = 0; i < c->n_env; i++) {
			json_write_object_begin(w);
			write_str(w, "name", c->env[i]->name);
			write_str(w, "value", c->env[i]->value);
			json_write_object_end(w);
		}
		json_write_array_end(w);
	}
	for (int k = 0; k < 2; k++) {
		size_t n = k ? c->n_args : c->n_command;
		char **v = k ? c->args : c->command;

		if (n == 0)
			continue;
		json_write_key(w, k ? "args" : "command", k ? 4 : 7);
		json_write_array_begin(w);
		for (size_t i = 0; i < n; i++)
			json_write_cstr(w, v[i] ? v[i] : "");
		json_write_array_end(w);
	}
	if (c->n_ports) {
		json_write_key(w, "ports", 5);
		json_write_array_begin(w);
		for (size_t i = 0; i < c->n_ports; i++) {
			json_write_object_begin(w);
			write_str(w, "name", c->ports[i]->name);
			json_write_key(w, "port", 4);
			json_write_int(w, c->ports[i]->port);
			json_write_object_end(w);
		}
		json_write_array_end(w);
	}
	if (c->n_labels) {
		json_write_key(w, "labels", 6);
		json_write_object_begin(w);
		for (size_t i = 0; i < c->n_labels; i++)
			write_str(w, c->labels[i]->key ? c->labels[i]->key : "", c->labels[i]->value);
		json_write_object_end(w);
	}
	if (c->n_annotations) {
		json_write_key(w, "annotations", 11);
		json_write_object_begin(w);
		for (size_t i = 0; i < c->n_annotations; i++)
			write_str(w, c->annotations[i]->key ? c->annotations[i]->key : "", c->annotations[i]->value);
		json_write_object_end(w);
	}
	if (c->service_dns && c->service_dns[0])
		write_str(w, "serviceDns", c->service_dns);
}

static int write_cluster(json_writer *w, const Cplane__V1__Cluster *c)
{
	char ms[24];

	json_write_object_begin(w);
	json_write_key(w, "name", 4);
	json_write_cstr(w, c->name ? c->name : "");
	json_write_key(w, "replicas", 8);
	json_write_int(w, c->replicas);
	json_write_key(w, "readyReplicas", 13);
	json_write_int(w, c->ready_replicas);
	json_write_key(w, "phase", 5);
	json_write_cstr(w, output_phase_name(c->phase));
	json_write_key(w, "message", 7);
	json_write_cstr(w, c->message ? c->message : "");
	json_write_key(w, "image", 5);
	json_write_cstr(w, c->image ? c->image : "");
	json_write_key(w, "createdUnixMs", 13);
	snprintf(ms, sizeof(ms), "%lld", (long long)c->created_unix_ms);
	json_write_cstr(w, ms);	/* proto3 JSON: int64 as a string */
	json_write_key(w, "updatedReplicas", 15);
	json_write_int(w, c->updated_replicas);
	write_spec(w, c);
	json_write_object_end(w);
	return json_writer_finish(w);
}

int output_json(buf *out, const Cplane__V1__Cluster *c)
{
	uint8_t tmp[1024], *big = NULL;
	json_writer w;
	int len, rc = -1;

	json_writer_init(&w, tmp, sizeof(tmp));
	len = write_cluster(&w, c);
	if (len < 0) {
		/* A long message (a pod diagnosis): the writer counted what it needs. */
		size_t need = json_writer_len(&w);
		if (need == 0)
			return -1;
		big = xmalloc(need);
		json_writer_init(&w, big, need);
		len = write_cluster(&w, c);
	}
	if (len >= 0 && buf_append(out, big ? big : tmp, (size_t)len) == 0 && buf_append_byte(out, '\n') == 0)
		rc = 0;
	free(big);
	return rc;
}
