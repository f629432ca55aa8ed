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
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "ftkit.h"

#ifndef FTK_TEST_DIVISOR
#define FTK_TEST_DIVISOR 1
#endif
#define FTK_SCALED(n) ((n) / FTK_TEST_DIVISOR > 0 ? (n) / FTK_TEST_DIVISOR : 1)

#define NTHREADS 8

/* Check's asserts must run on the test's own thread: worker threads record
 * failures with TCHECK, and the test asserts none happened at the end. */
extern _Atomic int g_fail;
#define TCHECK(c)                                                                 \
    do {                                                                          \
        if (!(c) && atomic_fetch_add(&g_fail, 1) < 10)                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    } while (0)
#define ASSERT_NO_THREAD_FAILURES() ck_assert_int_eq(atomic_load(&g_fail), 0)

/* For hot loops: Check records every passing ck_assert (a write per call),
 * which costs seconds over a million checks; REQUIRE reports only failures. */
#define REQUIRE(c)                                                           \
    do {                                                                     \
        if (!(c)) ck_abort_msg("%s:%d: failed: %s", __FILE__, __LINE__, #c); \
    } while (0)

/* Handles are pointer-typed values carrying 64 bits (see common.h). */
static inline ftk_handle_t H(uint64_t u) { return (ftk_handle_t)(uintptr_t)u; }
static inline uint64_t U(ftk_handle_t h) { return (uint64_t)(uintptr_t)h; }

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
