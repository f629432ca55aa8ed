/*
 * test_sem.c - FIFO-fair semaphore: every entry point, bad input, FIFO
 * order across words and threads, cancel before/after a grant, timeouts,
 * wake, free waking sleepers, storms with exact invariants (never more
 * holders than permits, every permit back at the end) and free racing
 * every operation. Public API only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static ftk_handle_t new_sem(int64_t v) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_sem_new(v, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static void wait_waiters(ftk_handle_t h, int64_t n) {
    while (ftk_sem_waiters(h) != n) sched_yield();
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_api_basic) {
    ftk_handle_t h = new_sem(2);
    ck_assert_int_eq(ftk_sem_initial(h), 2);
    ck_assert_int_eq(ftk_sem_value(h), 2);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_timed(h, 0), FTK_OK);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_EBUSY);
    ck_assert_int_eq(ftk_sem_acquire_timed(h, 0), FTK_EBUSY);
    ck_assert_int_eq(ftk_sem_value(h), 0);
    uint64_t w = 99;
    ck_assert_int_eq(ftk_sem_release(h, &w), FTK_OK);
    ck_assert_uint_eq(w, 0);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_release_word(h), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_sem_release(h, &w), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_sem_value(h), 2);
    /* enqueue with a free permit takes it */
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 5), FTK_OK);
    ck_assert_int_eq(ftk_sem_value(h), 1);
    ck_assert_int_eq(ftk_sem_cancel(h, 5), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_sem_acquire_timed(h, -1), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_timed(h, 1000000), FTK_ETIMEDOUT);
    ck_assert_int_eq(ftk_sem_waiters(h), 0);
    ck_assert_int_eq(ftk_sem_wake(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_value(h), 2);
    /* the per-thread record of the last call on this semaphore */
    ftk_handle_t other = new_sem(1);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_last(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_try_acquire(other), FTK_OK);
    ck_assert_int_eq(ftk_sem_last(h), FTK_ENOTFOUND); /* last call was on another */
    ck_assert_int_eq(ftk_sem_last(other), FTK_OK);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_EBUSY);
    ck_assert_int_eq(ftk_sem_last(h), FTK_EBUSY);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 42), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_last(h), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_release_word(h), 42);
    ck_assert_int_eq(ftk_sem_last(h), 42);
    ck_assert_int_eq(ftk_sem_release(h, &w), FTK_OK);
    ck_assert_int_eq(ftk_sem_last(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_release_word(h), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_sem_last(h), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_sem_last(FTK_NULL_HANDLE), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_sem_free(other), FTK_OK);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
    ftk_handle_t big = new_sem(INT64_MAX);
    ck_assert_int_eq(ftk_sem_value(big), INT64_MAX);
    ck_assert_int_eq(ftk_sem_release_word(big), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_sem_try_acquire(big), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(big), 0);
    ck_assert_int_eq(ftk_sem_free(big), FTK_OK);
}
END_TEST

START_TEST(test_api_bad_input) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_sem_new(0, &h), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_new(-5, &h), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_new(INT64_MIN, &h), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_new(1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_free(FTK_NULL_HANDLE), FTK_OK);
    h = new_sem(1);
    ck_assert_int_eq(ftk_sem_release(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, (uint64_t)INT64_MAX + 1), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, UINT64_MAX), FTK_EINVAL);
    ck_assert_int_eq(ftk_sem_waiters(h), 0);
    ck_assert_int_eq(ftk_sem_cancel(h, 0), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_free(h), FTK_EBADHANDLE);
    ftk_handle_t wrong = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_int64_new(0, &wrong), FTK_OK);
    ftk_handle_t bad[] = {FTK_NULL_HANDLE, h, wrong, H(0x0123456789ABCDEFull),
                          H(0x0C000000FFFFFFFFull)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftk_handle_t b = bad[i];
        uint64_t w = 7;
        ck_assert_int_eq(ftk_sem_try_acquire(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_acquire_or_enqueue(b, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_release(b, &w), FTK_EBADHANDLE);
        ck_assert_uint_eq(w, 0);
        ck_assert_int_eq(ftk_sem_release_word(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_cancel(b, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_acquire_timed(b, -1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_value(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_waiters(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_initial(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_sem_wake(b), FTK_EBADHANDLE);
        /* the bad-handle failure above was recorded (or the handle is refused) */
        ck_assert_int_eq(ftk_sem_last(b), FTK_EBADHANDLE);
        if (b != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_sem_free(b), FTK_EBADHANDLE);
    }
    ck_assert_int_eq(ftk_int64_free(wrong), FTK_OK);
}
END_TEST

/* ---- single ------------------------------------------------------------------ */

START_TEST(test_single_fifo_words_and_cancel) {
    enum { N = 200 };
    ftk_handle_t h = new_sem(1);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    for (uint64_t w = 1; w <= N; w++)
        ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, w), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_waiters(h), N);
    ck_assert_int_eq(ftk_sem_value(h), 0);
    /* cancel every third word (the first, a middle one, the last included) */
    for (uint64_t w = 1; w <= N; w += 3) ck_assert_int_eq(ftk_sem_cancel(h, w), FTK_OK);
    ck_assert_int_eq(ftk_sem_cancel(h, 1), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_sem_cancel(h, N + 1), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_sem_cancel(h, N), FTK_OK);
    for (uint64_t w = 1; w <= N; w++) {
        if (w % 3 == 1 || w == N) continue;
        /* nobody may barge while others are queued */
        ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_EBUSY);
        ck_assert_int_eq(ftk_sem_acquire_timed(h, 0), FTK_EBUSY);
        uint64_t got = 0;
        ck_assert_int_eq(ftk_sem_release(h, &got), FTK_SEM_HANDOFF);
        ck_assert_uint_eq(got, w);
        /* granted: cancel no longer finds it; the owner holds the permit */
        ck_assert_int_eq(ftk_sem_cancel(h, w), FTK_ENOTFOUND);
    }
    ck_assert_int_eq(ftk_sem_waiters(h), 0);
    ck_assert_int_eq(ftk_sem_value(h), 0);
    ck_assert_int_eq(ftk_sem_release_word(h), 0); /* the last owner's permit */
    ck_assert_int_eq(ftk_sem_value(h), 1);
    ck_assert_int_eq(ftk_sem_release_word(h), FTK_EOVERFLOW);
    /* cancelling the only queued word empties the queue: permits flow again */
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 77), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_cancel(h, 77), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    /* large words up to INT64_MAX come back intact from the value form */
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, INT64_MAX), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_release_word(h), INT64_MAX);
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
}
END_TEST

typedef struct {
    ftk_handle_t h;
    int64_t timeout;
    _Atomic int st;
    _Atomic int done;
} tw_arg;

static void *timed_waiter(void *p) {
    tw_arg *a = p;
    atomic_store(&a->st, ftk_sem_acquire_timed(a->h, a->timeout));
    atomic_store(&a->done, 1);
    return NULL;
}

START_TEST(test_single_threads_queue_fifo_with_words) {
    ftk_handle_t h = new_sem(1);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 10), FTK_SEM_QUEUED);
    tw_arg a = {.h = h, .timeout = -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, timed_waiter, &a), 0);
    wait_waiters(h, 2);
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 20), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_release_word(h), 10); /* word 10 first */
    ck_assert_int_eq(atomic_load(&a.done), 0);
    ck_assert_int_eq(ftk_sem_release_word(h), 0); /* 10's owner: to the thread */
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(atomic_load(&a.st), FTK_OK);
    ck_assert_int_eq(ftk_sem_release_word(h), 20); /* the thread's permit to 20 */
    ck_assert_int_eq(ftk_sem_release_word(h), 0);
    ck_assert_int_eq(ftk_sem_value(h), 1);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
}
END_TEST

START_TEST(test_single_timeout_wake_free_leave_the_queue) {
    ftk_handle_t h = new_sem(1);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    /* timeout */
    int64_t t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_sem_acquire_timed(h, 20000000), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 20000000);
    ck_assert_int_eq(ftk_sem_waiters(h), 0);
    /* wake */
    tw_arg a = {.h = h, .timeout = -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, timed_waiter, &a), 0);
    wait_waiters(h, 1);
    while (!atomic_load(&a.done)) {
        ck_assert_int_eq(ftk_sem_wake(h), FTK_OK);
        usleep(1000);
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(atomic_load(&a.st), FTK_EINTR);
    ck_assert_int_eq(ftk_sem_waiters(h), 0);
    /* the permit still flows to a word queued after the withdrawn thread */
    ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, 3), FTK_SEM_QUEUED);
    ck_assert_int_eq(ftk_sem_release_word(h), 3);
    /* free wakes a sleeper with FTK_ECLOSED */
    tw_arg b = {.h = h, .timeout = -1};
    ck_assert_int_eq(pthread_create(&t, NULL, timed_waiter, &b), 0);
    wait_waiters(h, 1);
    usleep(2000);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(atomic_load(&b.st), FTK_ECLOSED);
    /* a semaphore freed with words queued leaks nothing (ASan) */
    h = new_sem(1);
    ck_assert_int_eq(ftk_sem_try_acquire(h), FTK_OK);
    for (uint64_t w = 1; w <= 100; w++) ck_assert_int_eq(ftk_sem_acquire_or_enqueue(h, w), 1);
    ck_assert_int_eq(ftk_sem_free(h), FTK_OK);
    ftk_reclaim_collect();
}
END_TEST

/* ---- concurrent ------------------------------------------------------------------ */

/*
 * A storm: threads acquire through every path and hold a permit briefly.
 * Words emulate async waiters: thread i's word carries i, a releaser that
 * gets it posts the grant in thread i's mailbox, and thread i, which spins
 * on its mailbox, sometimes "cancels" first: ftk_sem_cancel OK means no
 * permit; FTK_ENOTFOUND means it was granted and must pass it on.
 */
typedef struct {
    ftk_handle_t h;
    int64_t value;
    long iters;
    _Atomic int64_t inside, max_inside;
    _Atomic uint64_t mailbox[NTHREADS];
    _Atomic long grants, cancels_before, cancels_after;
} storm;

static void deliver(storm *s, int64_t r) {
    TCHECK(r >= 0);
    if (r > 0) {
        int owner = (int)(r >> 32);
        TCHECK(owner >= 0 && owner < NTHREADS);
        uint64_t prev = atomic_exchange(&s->mailbox[owner], (uint64_t)r);
        TCHECK(prev == 0);
        atomic_fetch_add(&s->grants, 1);
    }
}

static void hold(storm *s) {
    int64_t n = atomic_fetch_add(&s->inside, 1) + 1;
    int64_t m = atomic_load(&s->max_inside);
    while (n > m && !atomic_compare_exchange_weak(&s->max_inside, &m, n)) {
    }
    TCHECK(n <= s->value);
    sched_yield(); /* let others in while holding: contention */
    atomic_fetch_sub(&s->inside, 1);
}

static void storm_worker(void *arg, int i) {
    storm *s = arg;
    unsigned seed = (unsigned)i * 2654435761u + 1;
    uint64_t seq = 0;
    for (long k = 0; k < s->iters; k++) {
        int how = rand_r(&seed) % 4;
        bool have = false;
        if (how == 0) {
            have = ftk_sem_try_acquire(s->h) == FTK_OK;
        } else if (how == 1) {
            int st = ftk_sem_acquire_timed(s->h, (rand_r(&seed) % 2) ? -1 : 50000);
            TCHECK(st == FTK_OK || st == FTK_ETIMEDOUT);
            have = st == FTK_OK;
        } else {
            uint64_t w = ((uint64_t)i << 32) | (++seq & 0xffffffffu);
            int st = ftk_sem_acquire_or_enqueue(s->h, w);
            TCHECK(st == FTK_OK || st == FTK_SEM_QUEUED);
            if (st == FTK_OK) {
                have = true;
            } else {
                bool cancel = how == 3 && rand_r(&seed) % 2;
                for (unsigned spin = 0;; spin++) {
                    if (atomic_load(&s->mailbox[i]) == w) break;
                    if (cancel && spin > (unsigned)(rand_r(&seed) % 64)) {
                        int cs = ftk_sem_cancel(s->h, w);
                        if (cs == FTK_OK) {
                            atomic_fetch_add(&s->cancels_before, 1);
                            break;
                        }
                        TCHECK(cs == FTK_ENOTFOUND);
                        /* granted already: wait for the post, pass it on */
                        while (atomic_load(&s->mailbox[i]) != w) sched_yield();
                        atomic_store(&s->mailbox[i], 0);
                        atomic_fetch_add(&s->cancels_after, 1);
                        deliver(s, ftk_sem_release_word(s->h));
                        cancel = false;
                        w = 0;
                        break;
                    }
                    if (spin > 16) sched_yield();
                }
                if (w != 0 && atomic_load(&s->mailbox[i]) == w) {
                    atomic_store(&s->mailbox[i], 0);
                    have = true;
                }
            }
        }
        if (have) {
            hold(s);
            deliver(s, ftk_sem_release_word(s->h));
        }
    }
}

static void run_storm(int64_t value, long iters) {
    static storm s;
    s = (storm){.h = new_sem(value), .value = value, .iters = iters};
    ftk_test_run_threads(NTHREADS, storm_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_le(atomic_load(&s.max_inside), value);
    ck_assert_int_eq(ftk_sem_waiters(s.h), 0);
    ck_assert_int_eq(ftk_sem_value(s.h), value); /* every permit came back */
    for (int i = 0; i < NTHREADS; i++) ck_assert_uint_eq(atomic_load(&s.mailbox[i]), 0);
    ck_assert_int_eq(ftk_sem_free(s.h), FTK_OK);
    fprintf(stderr, "sem storm value=%lld: max inside %lld, grants %ld, cancels %ld before / %ld after\n",
            (long long)value, (long long)atomic_load(&s.max_inside), atomic_load(&s.grants),
            atomic_load(&s.cancels_before), atomic_load(&s.cancels_after));
}

START_TEST(test_concurrent_storm_value_1) { run_storm(1, FTK_SCALED(20000)); }
END_TEST

START_TEST(test_concurrent_storm_value_3) { run_storm(3, FTK_SCALED(20000)); }
END_TEST

/* A free racing with every operation (a caller bug) is memory safe; calls
 * after it report FTK_EBADHANDLE, sleepers FTK_ECLOSED. */
typedef struct {
    ftk_handle_t h;
    _Atomic long ops;
} fr;

static void free_race_worker(void *arg, int i) {
    fr *s = arg;
    if (i == 0) {
        while (atomic_load(&s->ops) < 2000) sched_yield();
        TCHECK(ftk_sem_free(s->h) == FTK_OK);
        return;
    }
    uint64_t seq = 0;
    for (;;) {
        int st;
        switch ((i + seq) % 4) {
        case 0:
            st = ftk_sem_try_acquire(s->h);
            TCHECK(st == FTK_OK || st == FTK_EBUSY || st == FTK_EBADHANDLE);
            break;
        case 1:
            st = ftk_sem_acquire_timed(s->h, 100000);
            TCHECK(st == FTK_OK || st == FTK_ETIMEDOUT || st == FTK_ECLOSED ||
                   st == FTK_EBADHANDLE);
            break;
        case 2: {
            uint64_t w = ((uint64_t)i << 32) | ++seq;
            st = ftk_sem_acquire_or_enqueue(s->h, w);
            TCHECK(st == FTK_OK || st == FTK_SEM_QUEUED || st == FTK_EBADHANDLE);
            if (st == FTK_SEM_QUEUED) {
                int cs = ftk_sem_cancel(s->h, w);
                TCHECK(cs == FTK_OK || cs == FTK_ENOTFOUND || cs == FTK_EBADHANDLE);
            }
            break;
        }
        default: {
            int64_t r = ftk_sem_release_word(s->h);
            TCHECK(r >= 0 || r == FTK_EOVERFLOW || r == FTK_EBADHANDLE);
            st = r < 0 && r != FTK_EOVERFLOW ? (int)r : FTK_OK;
            (void)ftk_sem_value(s->h);
            (void)ftk_sem_waiters(s->h);
            break;
        }
        }
        seq++;
        atomic_fetch_add(&s->ops, 1);
        if (st == FTK_EBADHANDLE || st == FTK_ECLOSED) break;
    }
}

/* ftk_sem_wake ends every acquire_timed in progress, including one that is
 * already queued (ftk_sem_waiters counts it) but has not begun to sleep.
 * The wake generation was read only when the sleep began, after the
 * enqueue, so a wake in between was lost and the waiter slept until a
 * release (found by tests/fuzz/fuzz_mods.c as a hang). Each round: the
 * waiter queues with a long timeout; the moment it is counted, the main
 * thread wakes it once; it must return FTK_EINTR, not time out. */
typedef struct {
    ftk_handle_t h;
    _Atomic int round, done_round;
    int rounds;
    _Atomic int bad;
} wake_ctx;

static void wake_waiter(void *arg, int i) {
    wake_ctx *c = arg;
    if (i != 0) return;
    for (int r = 1; r <= c->rounds; r++) {
        while (atomic_load(&c->round) < r) sched_yield();
        if (atomic_load(&c->bad)) return;
        int st = ftk_sem_acquire_timed(c->h, 2000000000LL);
        if (st != FTK_EINTR && atomic_fetch_add(&c->bad, 1) < 5)
            fprintf(stderr, "round %d: acquire_timed returned %s\n", r, ftk_err_name(st));
        atomic_store(&c->done_round, r);
    }
}

static void wake_main(void *arg, int i) {
    wake_ctx *c = arg;
    if (i != 1) return;
    for (int r = 1; r <= c->rounds && atomic_load(&c->bad) == 0; r++) {
        atomic_store(&c->round, r);
        while (ftk_sem_waiters(c->h) != 1) {
        }
        TCHECK(ftk_sem_wake(c->h) == FTK_OK);
        while (atomic_load(&c->done_round) < r) sched_yield();
    }
    atomic_store(&c->round, c->rounds); /* let the waiter finish early on failure */
}

static void wake_both(void *arg, int i) {
    if (i == 0) wake_waiter(arg, i);
    else wake_main(arg, i);
}

START_TEST(test_concurrent_wake_of_a_queued_waiter) {
    wake_ctx c = {.h = new_sem(1), .rounds = FTK_SCALED(20000)};
    ck_assert_int_eq(ftk_sem_try_acquire(c.h), FTK_OK); /* no permit left */
    ftk_test_run_threads(2, wake_both, &c);
    ck_assert_int_eq(atomic_load(&c.bad), 0);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(ftk_sem_waiters(c.h), 0);
    ck_assert_int_eq(ftk_sem_free(c.h), FTK_OK);
}
END_TEST

START_TEST(test_concurrent_free_racing_everything) {
    for (int r = 0; r < FTK_SCALED(20); r++) {
        static fr s;
        s = (fr){.h = new_sem(2)};
        ftk_test_run_threads(5, free_race_worker, &s);
        ASSERT_NO_THREAD_FAILURES();
    }
    ftk_reclaim_collect();
}
END_TEST

/* ---- stress ---------------------------------------------------------------- */

START_TEST(test_stress_storm) {
    run_storm(2, FTK_SCALED(60000));
    run_storm(NTHREADS + 1, FTK_SCALED(50000)); /* never contended */
}
END_TEST

static Suite *sem_suite(void) {
    Suite *s = suite_create("sem");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_api_basic);
    tcase_add_test(api, test_api_bad_input);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_single_fifo_words_and_cancel);
    tcase_add_test(single, test_single_threads_queue_fifo_with_words);
    tcase_add_test(single, test_single_timeout_wake_free_leave_the_queue);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_storm_value_1);
    tcase_add_test(conc, test_concurrent_storm_value_3);
    tcase_add_test(conc, test_concurrent_free_racing_everything);
    tcase_add_test(conc, test_concurrent_wake_of_a_queued_waiter);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_storm);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(sem_suite()); }
