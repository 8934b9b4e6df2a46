/*
 * How the driver prints clusters: a table like kubectl's (NAME, REPLICAS,
 * READY, UPDATED, PHASE, AGE; columns separated by three spaces, widths from the
 * widest cell) or one JSON object per cluster (proto3 JSON mapping: lower
 * camel case names, int64 as a string, enums by name).
 */
#ifndef CPLANE_DRIVER_OUTPUT_H
#define CPLANE_DRIVER_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "cplane/v1/cplane.pb-c.h"

/* kubectl's HumanDuration: "45s", "5m12s", "42m", "3h12m", "2d5h", "400d", "2y30d". */
const char *output_age(char out[32], int64_t ms);
const char *output_phase_name(int phase);

/* Appends the table (header + a row per cluster) to out; now_ms is wall-clock ms for AGE. */
int output_table(buf *out, const Cplane__V1__Cluster *const *clusters, size_t n, int64_t now_ms);
/*
 * One row for a stream of changes (watch): the header too when header != 0.
 * PHASE is as wide as the longest phase name so that later rows line up.
 */
int output_table_row(buf *out, const Cplane__V1__Cluster *c, int header, int64_t now_ms);
/* Appends one JSON object and '\n'. */
int output_json(buf *out, const Cplane__V1__Cluster *c);

#endif
