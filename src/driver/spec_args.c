#include "driver/spec_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

void driver_spec_free(struct driver_spec_req *r)
{
	free(r->env);
	free(r->envp);
	free(r->ports);
	free(r->portp);
	free(r->labels);
	free(r->labelp);
	free(r->anns);
	free(r->annp);
	free(r->strs);
	memset(r, 0, sizeof(*r));
}

/* Copies "K=V" into the string block and splits it.  -1 when there is no '=' or no K. */
static int split_kv(char **cur, const char *s, char **k, char **v)
{
	const char *eq = strchr(s, '=');
	size_t n = strlen(s) + 1;

	if (eq == NULL || eq == s)
		return -1;
	memcpy(*cur, s, n);
	*k = *cur;
	(*k)[eq - s] = '\0';
	*v = *k + (eq - s) + 1;
	*cur += n;
	return 0;
}

/* The flags into request parts; the worker checks the rules, this only the shapes.  0, or -1 with err. */
int driver_spec_build(struct driver_spec_req *r, const struct driver_spec_flags *f, char *err, size_t errsz)
{
	size_t total = 1;
	char *cur;
	const struct flag_list *kvs[3] = { &f->env, &f->label, &f->annotation };
	static const char *const kvname[3] = { "env", "label", "annotation" };

	memset(r, 0, sizeof(*r));
	cplane__v1__resources__init(&r->res);
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < kvs[k]->n; i++)
			total += strlen(kvs[k]->v[i]) + 1;
	for (size_t i = 0; i < f->port.n; i++)
		total += strlen(f->port.v[i]) + 1;
	r->strs = xmalloc(total);
	r->env = xcalloc(f->env.n + 1, sizeof(*r->env));
	r->envp = xcalloc(f->env.n + 1, sizeof(*r->envp));
	r->ports = xcalloc(f->port.n + 1, sizeof(*r->ports));
	r->portp = xcalloc(f->port.n + 1, sizeof(*r->portp));
	r->labels = xcalloc(f->label.n + 1, sizeof(*r->labels));
	r->labelp = xcalloc(f->label.n + 1, sizeof(*r->labelp));
	r->anns = xcalloc(f->annotation.n + 1, sizeof(*r->anns));
	r->annp = xcalloc(f->annotation.n + 1, sizeof(*r->annp));
	cur = r->strs;
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < kvs[k]->n; i++) {
			char *key, *val;

			if (split_kv(&cur, kvs[k]->v[i], &key, &val) < 0) {
				snprintf(err, errsz, "bad value for --%s: \"%s\" (want KEY=VALUE)", kvname[k], kvs[k]->v[i]);
				return -1;
			}
			if (k == 0) {
				cplane__v1__env_var__init(&r->env[i]);
				r->env[i].name = key;
				r->env[i].value = val;
				r->envp[r->n_env++] = &r->env[i];
			} else if (k == 1) {
				cplane__v1__create_cluster_request__labels_entry__init(&r->labels[i]);
				r->labels[i].key = key;
				r->labels[i].value = val;
				r->labelp[r->n_labels++] = &r->labels[i];
			} else {
				cplane__v1__create_cluster_request__annotations_entry__init(&r->anns[i]);
				r->anns[i].key = key;
				r->anns[i].value = val;
				r->annp[r->n_anns++] = &r->anns[i];
			}
		}
	}
	for (size_t i = 0; i < f->port.n; i++) {
		const char *s = f->port.v[i], *colon = strrchr(s, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;

		if (colon == NULL || colon == s || colon[1] == '\0' || *end != '\0' || port < 0 || port > 1000000) {
			snprintf(err, errsz, "bad value for --port: \"%s\" (want NAME:PORT)", s);
			return -1;
		}
		cplane__v1__port__init(&r->ports[i]);
		/* The name is the flag's text up to the colon: cut a copy out of the string block. */
		memcpy(cur, s, (size_t)(colon - s));
		cur[colon - s] = '\0';
		r->ports[i].name = cur;
		cur += colon - s + 1;
		r->ports[i].port = (int32_t)port;
		r->portp[r->n_ports++] = &r->ports[i];
	}
	return 0;
}

void driver_spec_fill(struct driver_spec_req *r, const struct driver_spec_flags *f, Cplane__V1__CreateClusterRequest *req)
{
	if (f->cpu || f->memory) {
		r->res.cpu_request = r->res.cpu_limit = (char *)(f->cpu ? f->cpu : "");
		r->res.memory_request = r->res.memory_limit = (char *)(f->memory ? f->memory : "");
		req->resources = &r->res;
	}
	req->n_env = r->n_env;
	req->env = r->envp;
	req->n_ports = r->n_ports;
	req->ports = r->portp;
	req->n_labels = r->n_labels;
	req->labels = r->labelp;
	req->n_annotations = r->n_anns;
	req->annotations = r->annp;
	req->n_command = f->command.n;
	req->command = (char **)f->command.v;
	req->n_args = f->arg.n;
	req->args = (char **)f->arg.v;
	req->service = f->service;
}
