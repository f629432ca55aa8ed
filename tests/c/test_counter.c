/*
 * test_counter.c - striped counter: every entry point, bad input, wrapping,
 * exactness after joins, reads bounded by the adds before/after them and
 * monotone for increment-only use, exchange conservation, thread exit
 * (cells of exited threads stay counted, slots are reused), fork, and a
 * free racing with adds. Public API only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static ftk_handle_t new_ctr(int64_t v) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_counter_new(v, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static int64_t get_ctr(ftk_handle_t h) {
    int64_t v = 0;
    REQUIRE(ftk_counter_get(h, &v) == FTK_OK);
    return v;
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_api_basic) {
    ftk_handle_t h = new_ctr(5);
    ck_assert_int_eq(get_ctr(h), 5);
    ck_assert_int_eq(ftk_counter_add(h, 3), FTK_OK);
    ftk_counter_add_v(h, -10);
    ck_assert_int_eq(get_ctr(h), -2);
    ck_assert_int_eq(ftk_counter_get_v(h), -2);
    int64_t old = 0;
    ck_assert_int_eq(ftk_counter_exchange(h, 100, &old), FTK_OK);
    ck_assert_int_eq(old, -2);
    ck_assert_int_eq(ftk_counter_exchange(h, 7, NULL), FTK_OK);
    ck_assert_int_eq(ftk_counter_exchange_v(h, 9), 7);
    ck_assert_int_eq(ftk_counter_set(h, 42), FTK_OK);
    ftk_counter_add_v(h, 1);
    ck_assert_int_eq(ftk_counter_reset(h, &old), FTK_OK);
    ck_assert_int_eq(old, 43);
    ck_assert_int_eq(get_ctr(h), 0);
    ck_assert_int_eq(ftk_counter_reset(h, NULL), FTK_OK);
    size_t cells = 0;
    ck_assert_int_eq(ftk_counter_cells(h, &cells), FTK_OK);
    ck_assert_uint_ge(cells, 1); /* this thread added: its chunk exists */
    ck_assert_int_eq(ftk_counter_free(h), FTK_OK);
}
END_TEST

START_TEST(test_api_bad_input) {
    int64_t v = 0;
    size_t n = 0;
    ck_assert_int_eq(ftk_counter_new(0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_counter_free(FTK_NULL_HANDLE), FTK_OK);
    ftk_handle_t h = new_ctr(1);
    ck_assert_int_eq(ftk_counter_get(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_counter_cells(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_counter_free(h), FTK_OK);
    ck_assert_int_eq(ftk_counter_free(h), FTK_EBADHANDLE); /* double free */
    ftk_handle_t wrong = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_int64_new(0, &wrong), FTK_OK);
    ftk_handle_t bad[] = {FTK_NULL_HANDLE, h, wrong, H(0x0123456789ABCDEFull),
                          H(0x09000000FFFFFFFFull)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftk_handle_t b = bad[i];
        ck_assert_int_eq(ftk_counter_add(b, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_get(b, &v), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_set(b, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_exchange(b, 1, &v), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_reset(b, NULL), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_cells(b, &n), FTK_EBADHANDLE);
        if (b != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_counter_free(b), FTK_EBADHANDLE);
        ftk_counter_add_v(b, 1);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_get_v(b), 0);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_counter_exchange_v(b, 5), 0);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    }
    /* the int64 is untouched by the counter calls */
    ck_assert_int_eq(ftk_int64_load(wrong, &v), FTK_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(ftk_int64_free(wrong), FTK_OK);
}
END_TEST

/* ---- single ----------------------------------------------------------------- */

START_TEST(test_single_wrap) {
    ftk_handle_t h = new_ctr(INT64_MAX);
    ftk_counter_add_v(h, 1);
    ck_assert(get_ctr(h) == INT64_MIN); /* wraps like C int64 (two's complement) */
    ftk_counter_add_v(h, -1);
    ck_assert(get_ctr(h) == INT64_MAX);
    ck_assert_int_eq(ftk_counter_set(h, INT64_MIN), FTK_OK);
    ftk_counter_add_v(h, -2);
    ck_assert(get_ctr(h) == INT64_MAX - 1);
    int64_t old = 0;
    ck_assert_int_eq(ftk_counter_exchange(h, -1, &old), FTK_OK);
    ck_assert(old == INT64_MAX - 1);
    ck_assert_int_eq(get_ctr(h), -1);
    ck_assert_int_eq(ftk_counter_free(h), FTK_OK);
}
END_TEST

START_TEST(test_single_many_counters) {
    enum { N = 64 };
    ftk_handle_t hs[N];
    for (int i = 0; i < N; i++) hs[i] = new_ctr(i);
    for (int r = 0; r < 100; r++)
        for (int i = 0; i < N; i++) ftk_counter_add_v(hs[i], i);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(get_ctr(hs[i]), i + 100 * i);
        ck_assert_int_eq(ftk_counter_free(hs[i]), FTK_OK);
    }
}
END_TEST

/* ---- concurrent --------------------------------------------------------------- */

typedef struct {
    ftk_handle_t h;
    long n;
    _Atomic long started[NTHREADS];
    _Atomic long done[NTHREADS];
    _Atomic int stop;
    _Atomic int64_t taken;
} shared;

static void add_worker(void *arg, int i) {
    shared *s = arg;
    for (long k = 0; k < s->n; k++) {
        if (k % 3 == 2)
            TCHECK(ftk_counter_add(s->h, -1) == FTK_OK);
        else
            ftk_counter_add_v(s->h, 2);
    }
    (void)i;
}

START_TEST(test_concurrent_exact_after_join) {
    shared s = {.h = new_ctr(11), .n = FTK_SCALED(300000)};
    ftk_test_run_threads(NTHREADS, add_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    long per = 0;
    for (long k = 0; k < s.n; k++) per += (k % 3 == 2) ? -1 : 2;
    ck_assert_int_eq(get_ctr(s.h), 11 + NTHREADS * per);
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

/* Adders (threads 1..) count `started` before and `done` after each incr;
 * thread 0 reads: every read lies between the dones before it and the
 * starteds after it, and never decreases. */
static void bounded_worker(void *arg, int i) {
    shared *s = arg;
    if (i == 0) {
        int64_t last = 0;
        long reads = 0;
        while (!atomic_load(&s->stop) || reads < 10) {
            long lo = 0, hi = 0;
            for (int j = 1; j < NTHREADS; j++) lo += atomic_load(&s->done[j]);
            atomic_thread_fence(memory_order_seq_cst);
            int64_t v = get_ctr(s->h);
            atomic_thread_fence(memory_order_seq_cst);
            for (int j = 1; j < NTHREADS; j++) hi += atomic_load(&s->started[j]);
            TCHECK(lo <= v && v <= hi);
            TCHECK(v >= last);
            last = v;
            reads++;
        }
        return;
    }
    for (long k = 0; k < s->n; k++) {
        atomic_fetch_add(&s->started[i], 1);
        atomic_thread_fence(memory_order_seq_cst);
        ftk_counter_add_v(s->h, 1);
        atomic_thread_fence(memory_order_seq_cst);
        atomic_fetch_add(&s->done[i], 1);
    }
    if (atomic_fetch_add(&s->taken, 1) == NTHREADS - 2) atomic_store(&s->stop, 1);
}

START_TEST(test_concurrent_get_bounded_monotone) {
    static shared s;
    s = (shared){.h = new_ctr(0), .n = FTK_SCALED(100000)};
    ftk_test_run_threads(NTHREADS, bounded_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(get_ctr(s.h), (NTHREADS - 1) * s.n);
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

/* Thread 0 takes the total out with exchange/reset while the others add:
 * everything taken + what is left == everything added. */
static void exchange_worker(void *arg, int i) {
    shared *s = arg;
    if (i == 0) {
        int64_t sum = 0;
        long rounds = 0;
        while (!atomic_load(&s->stop) || rounds < 10) {
            int64_t old = 0;
            if (rounds % 2)
                TCHECK(ftk_counter_reset(s->h, &old) == FTK_OK);
            else
                old = ftk_counter_exchange_v(s->h, 0);
            sum += old;
            rounds++;
        }
        atomic_store(&s->taken, sum);
        return;
    }
    for (long k = 0; k < s->n; k++) ftk_counter_add_v(s->h, 1);
    if (atomic_fetch_add(&s->done[0], 1) == NTHREADS - 2) atomic_store(&s->stop, 1);
}

START_TEST(test_concurrent_exchange_conserves) {
    static shared s;
    s = (shared){.h = new_ctr(0), .n = FTK_SCALED(200000)};
    ftk_test_run_threads(NTHREADS, exchange_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(atomic_load(&s.taken) + get_ctr(s.h), (NTHREADS - 1) * s.n);
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

/* Reads concurrent with sets: adders add +1 and -1 in pairs on their own
 * cell (net 0 after each pair), a setter stores multiples of 1000; every
 * read is a stored value give or take one in-flight add per adder. */
static void torn_worker(void *arg, int i) {
    shared *s = arg;
    if (i == 0) {
        for (long k = 0; k < s->n / 10; k++) TCHECK(ftk_counter_set(s->h, (k % 7) * 1000) == FTK_OK);
        atomic_store(&s->stop, 1);
    } else if (i == 1) {
        while (!atomic_load(&s->stop)) {
            int64_t v = get_ctr(s->h);
            int64_t r = ((v % 1000) + 1000) % 1000;
            TCHECK(r <= NTHREADS || r >= 1000 - NTHREADS);
        }
    } else {
        while (!atomic_load(&s->stop)) {
            ftk_counter_add_v(s->h, 1);
            ftk_counter_add_v(s->h, -1);
        }
    }
}

START_TEST(test_concurrent_get_not_torn_by_set) {
    static shared s;
    s = (shared){.h = new_ctr(0), .n = FTK_SCALED(100000)};
    ftk_test_run_threads(NTHREADS, torn_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    int64_t r = ((get_ctr(s.h) % 1000) + 1000) % 1000; /* a pair split by the last set */
    ck_assert(r <= NTHREADS || r >= 1000 - NTHREADS);
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

/* Threads that add and exit before anyone reads: nothing is lost, and
 * the slots they give back are reused (cells stay few). */
static void *exit_thread(void *arg) {
    shared *s = arg;
    for (long k = 0; k < s->n; k++) ftk_counter_add_v(s->h, 1);
    return NULL;
}

START_TEST(test_concurrent_thread_exit_keeps_counts) {
    shared s = {.h = new_ctr(0), .n = FTK_SCALED(20000)};
    enum { WAVES = 6, PER = 4 };
    for (int w = 0; w < WAVES; w++) {
        pthread_t t[PER];
        for (int i = 0; i < PER; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, exit_thread, &s), 0);
        for (int i = 0; i < PER; i++) ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(get_ctr(s.h), (int64_t)(w + 1) * PER * s.n);
    }
    size_t cells = 0;
    ck_assert_int_eq(ftk_counter_cells(s.h, &cells), FTK_OK);
    ck_assert_uint_le(cells, 16); /* 24 threads, never more than 4 at once */
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

static pthread_barrier_t fork_bar;
static void *fork_holder(void *arg) {
    shared *s = arg;
    ftk_counter_add_v(s->h, 1000);
    pthread_barrier_wait(&fork_bar); /* added */
    pthread_barrier_wait(&fork_bar); /* forked */
    return NULL;
}

START_TEST(test_concurrent_fork_child) {
    shared s = {.h = new_ctr(1)};
    pthread_t t;
    pthread_barrier_init(&fork_bar, NULL, 2);
    ck_assert_int_eq(pthread_create(&t, NULL, fork_holder, &s), 0);
    pthread_barrier_wait(&fork_bar);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the holder thread does not exist here; its count does */
        int ok = ftk_counter_get_v(s.h) == 1001;
        ftk_counter_add_v(s.h, 1);
        ok = ok && ftk_counter_get_v(s.h) == 1002;
        int64_t old = 0;
        ok = ok && ftk_counter_exchange(s.h, 5, &old) == FTK_OK && old == 1002;
        ok = ok && ftk_counter_get_v(s.h) == 5;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    pthread_barrier_wait(&fork_bar);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&fork_bar);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(get_ctr(s.h), 1001);
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

/* A free racing with adds (a caller bug) is memory safe: adds after it
 * report FTK_EBADHANDLE. */
static void free_race_worker(void *arg, int i) {
    shared *s = arg;
    if (i == 0) {
        while (atomic_load(&s->done[1]) < 1000) sched_yield();
        TCHECK(ftk_counter_free(s->h) == FTK_OK);
        return;
    }
    for (;;) {
        int st = ftk_counter_add(s->h, 1);
        if (st != FTK_OK) {
            TCHECK(st == FTK_EBADHANDLE);
            break;
        }
        int64_t v;
        st = ftk_counter_get(s->h, &v);
        TCHECK(st == FTK_OK || st == FTK_EBADHANDLE);
        atomic_fetch_add(&s->done[i], 1);
    }
}

START_TEST(test_concurrent_free_racing_adds) {
    for (int r = 0; r < 10; r++) {
        static shared s;
        s = (shared){.h = new_ctr(0)};
        ftk_test_run_threads(4, free_race_worker, &s);
        ASSERT_NO_THREAD_FAILURES();
    }
}
END_TEST

/* ---- stress ---------------------------------------------------------------- */

static void stress_worker(void *arg, int i) {
    shared *s = arg;
    int64_t mine = 0;
    for (long k = 0; k < s->n; k++) {
        ftk_counter_add_v(s->h, i + 1);
        mine += i + 1;
        if (k % 1024 == 0) (void)ftk_counter_get_v(s->h);
        if (i == 0 && k % 4096 == 0) atomic_fetch_add(&s->taken, ftk_counter_exchange_v(s->h, 0));
    }
    atomic_fetch_add(&s->done[0], mine);
}

START_TEST(test_stress_mixed) {
    enum { T = 16 };
    static shared s;
    s = (shared){.h = new_ctr(0), .n = FTK_SCALED(200000)};
    ftk_test_run_threads(T, stress_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(atomic_load(&s.taken) + get_ctr(s.h), atomic_load(&s.done[0]));
    ck_assert_int_eq(ftk_counter_free(s.h), FTK_OK);
}
END_TEST

static Suite *counter_suite(void) {
    Suite *s = suite_create("counter");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_api_basic);
    tcase_add_test(api, test_api_bad_input);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_single_wrap);
    tcase_add_test(single, test_single_many_counters);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_exact_after_join);
    tcase_add_test(conc, test_concurrent_get_bounded_monotone);
    tcase_add_test(conc, test_concurrent_exchange_conserves);
    tcase_add_test(conc, test_concurrent_get_not_torn_by_set);
    tcase_add_test(conc, test_concurrent_thread_exit_keeps_counts);
    tcase_add_test(conc, test_concurrent_fork_child);
    tcase_add_test(conc, test_concurrent_free_racing_adds);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_mixed);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(counter_suite()); }
