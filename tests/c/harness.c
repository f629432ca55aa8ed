/* harness.c - see harness.h */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic int g_fail;

typedef struct {
    void (*fn)(void *, int);
    void *arg;
    int index;
    pthread_barrier_t *start;
} thread_arg;

static void *trampoline(void *p) {
    thread_arg *a = p;
    pthread_barrier_wait(a->start);
    a->fn(a->arg, a->index);
    return NULL;
}

void ftk_test_run_threads(int n, void (*fn)(void *arg, int i), void *arg) {
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    thread_arg *args = calloc((size_t)n, sizeof *args);
    pthread_barrier_t start;
    ck_assert_ptr_nonnull(tids);
    ck_assert_ptr_nonnull(args);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        args[i] = (thread_arg){fn, arg, i, &start};
        ck_assert_int_eq(pthread_create(&tids[i], NULL, trampoline, &args[i]), 0);
    }
    for (int i = 0; i < n; i++) pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&start);
    free(tids);
    free(args);
}

TCase *ftk_test_tcase(const char *name) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, strcmp(name, "stress") == 0 ? 120 : 30);
    return tc;
}

int ftk_test_main(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int64_t ftk_test_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
