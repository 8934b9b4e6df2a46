/*
 * --allowed-images: which images a Create (or an Update) may run.  The list
 * is comma-separated prefixes; NULL or "" admits every image.  A prefix
 * matches at a boundary of the reference: the image is the prefix itself, or
 * goes on with '/', ':' or '@' right after it, or the prefix itself ends with
 * one of those.  So "registry.k8s.io" admits "registry.k8s.io/pause:3.9" but
 * not "registry.k8s.io.evil/x", and "docker.io/library/nginx" admits
 * "docker.io/library/nginx:1.27" but not "docker.io/library/nginx-evil".
 * Pure functions.
 */
#ifndef CPLANE_WORKER_ALLOWLIST_H
#define CPLANE_WORKER_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

/* The flag's value is well formed (no empty entry, no blanks); else -1 with why. */
int allowlist_check_flag(const char *list, char *why, size_t whysz);

bool allowlist_admits(const char *list, const char *image);

/*
 * 0 when admitted, else -1 with why = "image \"x\" is not allowed (allowed
 * image prefixes: a, b)", what PERMISSION_DENIED carries.
 */
int allowlist_check_image(const char *list, const char *image, char *why, size_t whysz);

#endif
