/*
 * bench_lock_cpu.c - one thread, lock + unlock pairs timed in thread CPU
 * time (CLOCK_THREAD_CPUTIME_ID), best of 9 rounds: ftkit rwlock read pair
 * and ilock pair next to CK ck_brlock / ck_bytelock, pthread, and the floor
 * of two library calls. CPU time keeps the comparison meaningful on a
 * machine that other processes load (the main suite measures wall time).
 *
 *   build-bench-c/ftkit-lock-cpu
 */
#include <ck_brlock.h>
#include <ck_bytelock.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <ftkit.h>

static int64_t cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

enum { N = 2000000, ROUNDS = 9, ROWS = 9 };

static ck_brlock_t br = CK_BRLOCK_INITIALIZER;
static ck_bytelock_t by = CK_BYTELOCK_INITIALIZER;
static pthread_rwlock_t prw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

int main(void) {
    ftk_handle_t rw, il, a, q;
    if (ftk_rwlock_new(&rw) || ftk_ilock_new(5000000, &il) || ftk_int64_new(0, &a) ||
        ftk_queue_new(0, &q))
        return 1;
    ck_brlock_reader_t rd;
    ck_brlock_read_register(&br, &rd);
    const char *names[ROWS] = {"two calls of ftk_version() (PLT floor)",
                               "two handle-validating calls (ftk_int64_load_v)",
                               "two calls with EBR + validation (ftk_queue_capacity)",
                               "ftk_rwlock read pair",
                               "CK ck_brlock read pair",
                               "CK ck_bytelock read pair",
                               "pthread_rwlock read pair",
                               "ftk_ilock pair",
                               "pthread_mutex pair"};
    double best[ROWS];
    for (int k = 0; k < ROWS; k++) best[k] = 1e18;
    volatile uint64_t sink = 0;
    size_t cap;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t[ROWS + 1];
        t[0] = cpu_ns();
        for (int i = 0; i < N; i++) sink += ftk_version() + ftk_version();
        t[1] = cpu_ns();
        for (int i = 0; i < N; i++) sink += (uint64_t)(ftk_int64_load_v(a) + ftk_int64_load_v(a));
        t[2] = cpu_ns();
        for (int i = 0; i < N; i++) sink += (uint64_t)(ftk_queue_capacity(q, &cap) + ftk_queue_capacity(q, &cap));
        t[3] = cpu_ns();
        for (int i = 0; i < N; i++) sink += (uint64_t)(ftk_rwlock_read_lock(rw, -1) + ftk_rwlock_read_unlock(rw));
        t[4] = cpu_ns();
        for (int i = 0; i < N; i++) {
            ck_brlock_read_lock(&br, &rd);
            ck_brlock_read_unlock(&rd);
        }
        t[5] = cpu_ns();
        for (int i = 0; i < N; i++) {
            ck_bytelock_read_lock(&by, 1);
            ck_bytelock_read_unlock(&by, 1);
        }
        t[6] = cpu_ns();
        for (int i = 0; i < N; i++) {
            pthread_rwlock_rdlock(&prw);
            pthread_rwlock_unlock(&prw);
        }
        t[7] = cpu_ns();
        for (int i = 0; i < N; i++) sink += (uint64_t)(ftk_ilock_lock(il, -1) + ftk_ilock_unlock(il));
        t[8] = cpu_ns();
        for (int i = 0; i < N; i++) {
            pthread_mutex_lock(&mu);
            pthread_mutex_unlock(&mu);
        }
        t[9] = cpu_ns();
        for (int k = 0; k < ROWS; k++) {
            double v = (double)(t[k + 1] - t[k]) / N;
            if (v < best[k]) best[k] = v;
        }
    }
    printf("| per pair, 1 thread, thread CPU time, best of %d | ns |\n|---|---:|\n", ROUNDS);
    for (int k = 0; k < ROWS; k++) printf("| %s | %.1f |\n", names[k], best[k]);
    ck_brlock_read_unregister(&br, &rd);
    return sink == 1 ? 2 : 0; /* sink is never 1: keeps the loops */
}
