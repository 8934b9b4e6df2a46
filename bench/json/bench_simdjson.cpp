// bench/json: simdjson's on-demand parser (Debian libsimdjson-dev) reading the
// same fields as bench_json.c out of the same stream, one whole document per
// line (on-demand cannot be fed chunks).  A bench-only peer: nothing in the
// binary links it.  Best of 5 runs in thread CPU time; prints key=value lines
// and the checksum that bench_json.c computes, so the run compares equal work.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

extern "C" {
#include "deploy_gen.h"
}

#ifndef EVENTS
#define EVENTS 10000
#endif
#define RUNS 5

using namespace simdjson;

struct fields {
	char type[16], name[64], rv[24], label[64], image[128], created[32];
	int64_t gen, replicas, observed, ready, available, updated;
	int deleting, ncond;
	char cond_reason[4][64], cond_status[4][8];
	uint64_t events, checksum;
};

static void copy(char *dst, size_t cap, std::string_view s)
{
	size_t n = s.size() < cap - 1 ? s.size() : cap - 1;

	memcpy(dst, s.data(), n);
	dst[n] = '\0';
}

static double now()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Fields are visited in document order (iterating objects), the fastest way
// on-demand offers when some keys may be absent.
static void one_event(ondemand::document &doc, fields *f)
{
	for (auto top : doc.get_object()) {
		std::string_view k = top.unescaped_key();

		if (k == "type") {
			copy(f->type, sizeof(f->type), top.value().get_string());
			continue;
		}
		if (k != "object")
			continue;
		for (auto o : top.value().get_object()) {
			std::string_view ok = o.unescaped_key();

			if (ok == "metadata") {
				for (auto m : o.value().get_object()) {
					std::string_view mk = m.unescaped_key();

					if (mk == "name")
						copy(f->name, sizeof(f->name), m.value().get_string());
					else if (mk == "resourceVersion")
						copy(f->rv, sizeof(f->rv), m.value().get_string());
					else if (mk == "generation")
						f->gen = m.value().get_int64();
					else if (mk == "creationTimestamp")
						copy(f->created, sizeof(f->created), m.value().get_string());
					else if (mk == "deletionTimestamp")
						f->deleting = m.value().type() == ondemand::json_type::string;
					else if (mk == "labels") {
						for (auto l : m.value().get_object())
							if (l.unescaped_key() == std::string_view("cplane.dev/cluster"))
								copy(f->label, sizeof(f->label), l.value().get_string());
					}
				}
			} else if (ok == "spec") {
				for (auto s : o.value().get_object()) {
					std::string_view sk = s.unescaped_key();

					if (sk == "replicas") {
						f->replicas = s.value().get_int64();
					} else if (sk == "template") {
						ondemand::object tpl = s.value().get_object();

						for (auto c : tpl["spec"]["containers"].get_array())
							copy(f->image, sizeof(f->image), c["image"].get_string());
					}
				}
			} else if (ok == "status") {
				for (auto s : o.value().get_object()) {
					std::string_view sk = s.unescaped_key();

					if (sk == "observedGeneration")
						f->observed = s.value().get_int64();
					else if (sk == "readyReplicas")
						f->ready = s.value().get_int64();
					else if (sk == "availableReplicas")
						f->available = s.value().get_int64();
					else if (sk == "updatedReplicas")
						f->updated = s.value().get_int64();
					else if (sk == "conditions") {
						for (auto c : s.value().get_array()) {
							int i = f->ncond < 4 ? f->ncond : 3;

							for (auto cf : c.get_object()) {
								std::string_view ck = cf.unescaped_key();

								if (ck == "reason")
									copy(f->cond_reason[i], sizeof(f->cond_reason[0]),
									    cf.value().get_string());
								else if (ck == "status")
									copy(f->cond_status[i], sizeof(f->cond_status[0]),
									    cf.value().get_string());
							}
							if (f->ncond < 4)
								f->ncond++;
						}
					}
				}
			}
		}
	}
	f->events++;
	f->checksum += (uint64_t)f->ready + (uint64_t)f->gen + (uint64_t)f->name[9] +
	    (uint64_t)f->ncond + (uint64_t)f->deleting;
	f->deleting = 0;
	f->ncond = 0;
}

int main()
{
	size_t cap = (size_t)EVENTS * 6000, len = 0, i;
	char *stream = (char *)malloc(cap + SIMDJSON_PADDING);
	size_t *off = (size_t *)malloc((EVENTS + 1) * sizeof(*off));
	deploy_want w;
	static fields f;
	ondemand::parser parser;
	double best = 1e9;

	if (!stream || !off)
		return 1;
	for (i = 0; i < EVENTS; i++) {
		off[i] = len;
		len += deploy_gen_event(stream + len, cap - len, (unsigned)i, &w);
	}
	off[EVENTS] = len;
	memset(stream + len, 0, SIMDJSON_PADDING);
	try {
		for (int run = 0; run < RUNS; run++) {
			double t0;

			memset(&f, 0, sizeof(f));
			t0 = now();
			for (i = 0; i < EVENTS; i++) {
				// The line's padding is the bytes after it in the stream.
				padded_string_view v(stream + off[i], off[i + 1] - off[i],
				    len + SIMDJSON_PADDING - off[i]);
				ondemand::document doc = parser.iterate(v);

				one_event(doc, &f);
			}
			t0 = now() - t0;
			if (t0 < best)
				best = t0;
		}
	} catch (simdjson_error &e) {
		fprintf(stderr, "simdjson: %s\n", e.what());
		return 1;
	}
	printf("simdjson_mb_s=%.0f\n", (double)len / best / 1e6);
	printf("simdjson_checksum=%llu\n", (unsigned long long)f.checksum);
	printf("simdjson_implementation=%s\n",
	    simdjson::get_active_implementation()->name().c_str());
	free(stream);
	free(off);
	return 0;
}
