/*
 * harness.h - shared helpers for the Check runners (one runner per module).
 *
 * Cases are grouped into tcases named api / single / concurrent / stress.
 * Stress sizes are divided by FTK_TEST_DIVISOR (set larger under sanitizers)
 * through FTK_SCALED(), so the same tests run everywhere in bounded time.
 */
#ifndef FTK_TEST_HARNESS_H
#define FTK_TEST_HARNESS_H

#include <check.h>
#include <stdint.h>

#include "ftkit.h"

#ifndef FTK_TEST_DIVISOR
#define FTK_TEST_DIVISOR 1
#endif
#define FTK_SCALED(n) ((n) / FTK_TEST_DIVISOR > 0 ? (n) / FTK_TEST_DIVISOR : 1)

/* Run fn(arg, i) on n threads (i = 0..n-1) released together by a barrier,
 * and join them all. Fails the test if a thread cannot be created. */
void ftk_test_run_threads(int n, void (*fn)(void *arg, int i), void *arg);

/* A tcase with a timeout suited to its kind ("stress" gets 120 s). */
TCase *ftk_test_tcase(const char *name);

/* Run a suite, print Check's summary, return a process exit status. */
int ftk_test_main(Suite *s);

/* Monotonic clock in nanoseconds. */
int64_t ftk_test_now_ns(void);

#endif
