/* Shared helpers for the Check suites: fixture paths, golden tensors, comparisons. */
#ifndef CS_TESTUTIL_H
#define CS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "clipsurgery.h"
#include "io/safetensors.h"

/* $CS_FIXTURES (default ../shared/fixtures) joined with rel; static buffer per call site is not
 * used: the result is malloc'd and must be freed. Aborts the test with a clear message when the
 * fixtures folder is missing. */
char *tu_fixture(const char *rel);

/* Opens a fixture safetensors file (fails the test when it cannot). */
cs_safetensors *tu_open_golden(const char *rel);
/* Returns a malloc'd f32 copy of tensor `name` (fails the test when absent), with its element
 * count in *n (may be NULL). */
float *tu_golden_f32(const cs_safetensors *st, const char *name, size_t *n);

/* Largest |a[i] - b[i]| over n values (NaN anywhere gives +inf). */
double tu_max_abs_diff(const float *a, const float *b, size_t n);

/* Runs a suite in forking mode and returns the process exit status (0 when all pass). */
int tu_run_suite(Suite *s);

#endif
