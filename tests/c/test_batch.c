/*
 * test_batch.c - batch executor: every entry point, bad input, the refill
 * role (fill, fill_range, abandon, fail), re-entrancy (EPERM), close and
 * drain, give-back (unload_last, give_back), take_many; storms where 8 threads claim
 * while one of them at a time refills: every produced word is claimed
 * exactly once and each thread sees increasing words, also with abandons,
 * give-backs, a close racing everything, and a free racing blocked loads.
 * Public API only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static ftk_handle_t new_batch(size_t size) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_batch_new(size, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_api_bad_input) {
    ftk_handle_t h = FTK_NULL_HANDLE, bogus = H(0x0b00000000000001ull);
    uint64_t w = 0, buf[4];
    size_t n = 0;
    ck_assert_int_eq(ftk_batch_new(0, &h), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_new(4, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_new((size_t)FTK_BATCH_MAX_SIZE + 1, &h), FTK_EOVERFLOW);
    ck_assert_int_eq(ftk_batch_free(FTK_NULL_HANDLE), FTK_OK);
    ftk_handle_t bad[] = {FTK_NULL_HANDLE, bogus};
    for (int k = 0; k < 2; k++) {
        ftk_handle_t b = bad[k];
        ck_assert_int_eq(ftk_batch_load(b, &w, 0), FTK_EBADHANDLE);
        ck_assert_uint_eq(ftk_batch_load_v(b), 0);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_take_many(b, buf, 4, &n), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_fill(b, buf, 1, NULL), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_fill_range(b, 1, 1, NULL), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_abandon(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_fail(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_close(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_drain(b, buf, 4, &n), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_wake(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_give_back(b, buf, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_size(b, &n), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_flags(b), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_batch_available(b, &n), FTK_EBADHANDLE);
    }
    ck_assert_int_eq(ftk_batch_free(bogus), FTK_EBADHANDLE);
    /* another kind's handle */
    ftk_handle_t q;
    ck_assert_int_eq(ftk_counter_new(0, &q), FTK_OK);
    ck_assert_int_eq(ftk_batch_load(q, &w, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_batch_free(q), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_counter_free(q), FTK_OK);

    h = new_batch(4);
    ck_assert_int_eq(ftk_batch_load(h, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_take_many(h, NULL, 4, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 0, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 4, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 4, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_drain(h, NULL, 4, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_size(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_available(h, NULL), FTK_EINVAL);
    /* role functions without the role */
    ck_assert_int_eq(ftk_batch_fill(h, buf, 1, NULL), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_fill_range(h, 1, 1, NULL), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_abandon(h), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_fail(h), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 4, &n), FTK_EBUSY); /* not closed */
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_ENOTFOUND);
    /* with the role: bad sizes */
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill(h, NULL, 1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_fill(h, buf, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_fill(h, buf, 5, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_fill_range(h, UINT64_MAX, 2, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_flags(h), FTK_BATCH_REFILLING);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_free(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_EBADHANDLE);
}
END_TEST

START_TEST(test_api_sequence) {
    ftk_handle_t h = new_batch(3);
    size_t n = 0;
    uint64_t w = 0;
    ck_assert_int_eq(ftk_batch_size(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ftk_batch_available(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_batch_flags(h), 0);
    /* the first claim takes the role */
    ck_assert_uint_eq(ftk_batch_load_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_BATCH_REFILL);
    /* re-entrancy: the refiller's own load */
    ck_assert_int_eq(ftk_batch_load(h, &w, -1), FTK_EPERM);
    ck_assert_uint_eq(ftk_batch_load_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EPERM);
    uint64_t words[3] = {10, 11, 12};
    ck_assert_int_eq(ftk_batch_fill(h, words, 3, NULL), FTK_OK);
    ck_assert_int_eq(ftk_batch_flags(h), 0);
    ck_assert_int_eq(ftk_batch_available(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_OK);
    ck_assert_uint_eq(w, 10);
    ck_assert_uint_eq(ftk_batch_load_v(h), 11);
    ck_assert_uint_eq(ftk_batch_load_v(h), 12);
    /* exhausted: the role, filled with a range and a first word */
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill(h, words, 4, NULL), FTK_EINVAL); /* > size */
    uint64_t first = 0;
    ck_assert_int_eq(ftk_batch_fill_range(h, 20, 2, &first), FTK_OK);
    ck_assert_uint_eq(first, 20);
    /* a partial batch (2 < size) */
    ck_assert_uint_eq(ftk_batch_load_v(h), 21);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    /* a second thread would wait: here timeout 0 on a refilling executor
     * from the refiller is EPERM, never EBUSY */
    ck_assert_int_eq(ftk_batch_abandon(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_abandon(h), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL); /* role again */
    ck_assert_int_eq(ftk_batch_fill_range(h, 30, 3, NULL), FTK_OK);
    /* take_many */
    uint64_t buf[8];
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 2, &n), FTK_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(buf[0], 30);
    ck_assert_uint_eq(buf[1], 31);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(buf[0], 32);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 8, &n), FTK_BATCH_REFILL);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_batch_fill_range(h, 40, 3, NULL), FTK_OK);
    /* give back: the word is handed out again, first */
    ck_assert_uint_eq(ftk_batch_load_v(h), 40);
    uint64_t back = 0;
    ck_assert_int_eq(ftk_batch_unload_last(h, &back), FTK_OK);
    ck_assert_uint_eq(back, 40);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_ENOTFOUND); /* idempotent */
    ck_assert_int_eq(ftk_batch_available(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(ftk_batch_load_v(h), 40);
    ck_assert_uint_eq(ftk_batch_load_v(h), 41);
    /* another call clears the record */
    (void)ftk_batch_flags(h);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_OK); /* flags does not touch it */
    ck_assert_uint_eq(ftk_batch_load_v(h), 41);
    ck_assert_int_eq(ftk_batch_fill_range(h, 1, 1, NULL), FTK_EPERM);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_ENOTFOUND); /* the fill cleared it */
    ck_assert_uint_eq(ftk_batch_load_v(h), 42);
    /* fail */
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fail(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_flags(h), FTK_BATCH_FAILED);
    ck_assert_int_eq(ftk_batch_load(h, &w, -1), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_batch_load_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 8, &n), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_flags(h), FTK_BATCH_FAILED | FTK_BATCH_CLOSED);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);
}
END_TEST

START_TEST(test_api_close_drain) {
    ftk_handle_t h = new_batch(8);
    uint64_t w, buf[8];
    size_t n;
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill_range(h, 100, 8, &w), FTK_OK);
    ck_assert_uint_eq(w, 100);
    ck_assert_uint_eq(ftk_batch_load_v(h), 101);
    ck_assert_uint_eq(ftk_batch_load_v(h), 102);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_OK); /* 102 back */
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK); /* idempotent */
    ck_assert_int_eq(ftk_batch_load(h, &w, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_available(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 6);
    /* the rest of the batch, then the given-back word, in pieces */
    ck_assert_int_eq(ftk_batch_drain(h, buf, 3, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(buf[0], 103);
    ck_assert_uint_eq(buf[2], 105);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(buf[0], 106);
    ck_assert_uint_eq(buf[1], 107);
    ck_assert_uint_eq(buf[2], 102);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_batch_drain(h, NULL, 0, &n), FTK_OK);
    /* a claimed word cannot be given back after close */
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);

    /* close while a refill runs: the fill is refused, nothing to drain */
    h = new_batch(4);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_fill_range(h, 1, 4, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_flags(h), FTK_BATCH_CLOSED);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_batch_fail(h), FTK_EPERM); /* role gone */
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);

    /* give-back refused after close: the word stays the caller's */
    h = new_batch(4);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill_range(h, 1, 4, &w), FTK_OK);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    uint64_t mine = 0;
    ck_assert_int_eq(ftk_batch_unload_last(h, &mine), FTK_ECLOSED);
    ck_assert_uint_eq(mine, 1);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);

    /* abandon and fail after close */
    h = new_batch(4);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_abandon(h), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);
    h = new_batch(4);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_fail(h), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_flags(h), FTK_BATCH_CLOSED);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);
}
END_TEST

/* ---- single: waiting ------------------------------------------------------ */

typedef struct {
    ftk_handle_t h;
    _Atomic int phase;
    _Atomic int result;
    uint64_t w;
} waiter_t;

static void *waiter(void *arg) {
    waiter_t *a = arg;
    atomic_store(&a->phase, 1);
    atomic_store(&a->result, ftk_batch_load(a->h, &a->w, -1));
    return NULL;
}

static int wait_result(waiter_t *a, pthread_t th) {
    pthread_join(th, NULL);
    return atomic_load(&a->result);
}

static void start_waiter(waiter_t *a, pthread_t *th) {
    atomic_store(&a->phase, 0);
    atomic_store(&a->result, 99);
    ck_assert_int_eq(pthread_create(th, NULL, waiter, a), 0);
    while (atomic_load(&a->phase) == 0) sched_yield();
    usleep(20000); /* let it go to sleep (the result is checked either way) */
}

START_TEST(test_single_waiters_wake) {
    waiter_t a = {.h = new_batch(2)};
    pthread_t th;
    uint64_t w;
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_BATCH_REFILL);
    /* a waiter sleeps through the refill and gets the published word */
    start_waiter(&a, &th);
    ck_assert_int_eq(atomic_load(&a.result), 99);
    ck_assert_int_eq(ftk_batch_fill_range(a.h, 7, 2, &w), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_OK);
    ck_assert_uint_eq(a.w, 8);
    /* abandon: the waiter takes the role */
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_BATCH_REFILL);
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_abandon(a.h), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_BATCH_REFILL);
    /* (the role now belongs to the exited thread: nobody can fill; the
     * main thread's loads wait, so use a timeout) */
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_EBUSY);
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 1000000), FTK_ETIMEDOUT);
    /* wake cancels a waiting load */
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_wake(a.h), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_EINTR);
    /* close wakes it with ECLOSED */
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_close(a.h), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_free(a.h), FTK_OK);

    /* fail wakes waiters with ECLOSED; free wakes them too */
    a.h = new_batch(2);
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_BATCH_REFILL);
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_fail(a.h), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_free(a.h), FTK_OK);
    a.h = new_batch(2);
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_BATCH_REFILL);
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_free(a.h), FTK_OK);
    int st = wait_result(&a, th);
    ck_assert(st == FTK_ECLOSED || st == FTK_EBADHANDLE);
    /* a give-back wakes a waiter, which takes that word */
    a.h = new_batch(2);
    ck_assert_int_eq(ftk_batch_load(a.h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill_range(a.h, 5, 1, &w), FTK_OK);
    ck_assert_uint_eq(w, 5);
    uint64_t tmp;
    ck_assert_int_eq(ftk_batch_load(a.h, &tmp, 0), FTK_BATCH_REFILL);
    /* this thread is the refiller now; the first word it claimed was
     * recorded by the fill, and the load above cleared the record */
    ck_assert_int_eq(ftk_batch_unload_last(a.h, NULL), FTK_ENOTFOUND);
    start_waiter(&a, &th);
    ck_assert_int_eq(ftk_batch_fill_range(a.h, 6, 1, NULL), FTK_OK);
    ck_assert_int_eq(wait_result(&a, th), FTK_OK);
    ck_assert_uint_eq(a.w, 6);
    ck_assert_int_eq(ftk_batch_free(a.h), FTK_OK);
}
END_TEST

/* ---- concurrent storms ------------------------------------------------------- */

typedef struct {
    ftk_handle_t h;
    size_t size;
    uint64_t total;      /* words 1..total are produced */
    uint64_t next;       /* next word to produce (refiller only: the role serialises) */
    _Atomic uint8_t *seen;
    bool abandons, givebacks, use_first, closer;
    _Atomic uint64_t produced, claimed, refills;
} storm_t;

static uint64_t rnd(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void own(storm_t *s, uint64_t w) {
    TCHECK(w >= 1 && w <= s->total);
    if (w >= 1 && w <= s->total) TCHECK(atomic_fetch_add(&s->seen[w], 1) == 0);
    atomic_fetch_add(&s->claimed, 1);
}

static void storm_worker(void *arg, int i) {
    storm_t *s = arg;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1), last = 0;
    if (s->closer && i == 0) {
        while (atomic_load(&s->claimed) < s->total / 3) sched_yield();
        TCHECK(ftk_batch_close(s->h) == FTK_OK);
        return;
    }
    for (;;) {
        uint64_t w = 0;
        uint64_t r = rnd(&x) % 3;
        int st = r == 0 ? ftk_batch_load(s->h, &w, -1) : FTK_EAGAIN;
        if (st == FTK_EAGAIN && r == 1) { /* the value-style form, waiting when busy */
            w = ftk_batch_load_v(s->h);
            st = w ? FTK_OK : ftk_last_status();
            if (st == FTK_EBUSY) continue;
        } else if (st == FTK_EAGAIN) { /* a batch claim; all but the first owned here */
            uint64_t ws[4];
            size_t got = 0;
            st = ftk_batch_take_many(s->h, ws, 1 + (size_t)(rnd(&x) % 4), &got);
            if (st == FTK_EBUSY) continue;
            TCHECK((st == FTK_OK) == (got > 0));
            if (s->givebacks && got > 1 && rnd(&x) % 4 == 0) {
                /* a view dropped mid-chunk: the rest goes back to the others */
                int g = ftk_batch_give_back(s->h, ws + 1, got - 1);
                TCHECK(g == FTK_OK || g == FTK_ECLOSED);
                if (g == FTK_OK) { /* (the record of ws[0] ended: own it here) */
                    TCHECK(ftk_batch_unload_last(s->h, NULL) == FTK_ENOTFOUND);
                    own(s, ws[0]);
                    last = 0;
                    continue;
                }
            }
            for (size_t j = 1; j < got; j++) {
                if (!s->givebacks) TCHECK(ws[j] > ws[j - 1]);
                own(s, ws[j]);
            }
            if (got) w = ws[0];
            if (got > 1) { /* the first below: keep the order check on the last */
                if (!s->givebacks) TCHECK(ws[0] > last);
                last = ws[got - 1];
                own(s, ws[0]);
                (void)ftk_batch_available(s->h, &got);
                TCHECK(ftk_batch_flags(s->h) >= 0);
                continue;
            }
        }
        if (st == FTK_OK) {
            if (s->givebacks && rnd(&x) % 8 == 0) {
                int g = ftk_batch_unload_last(s->h, NULL);
                TCHECK(g == FTK_OK || g == FTK_ECLOSED);
                if (g == FTK_OK) continue; /* someone else gets it */
            }
            if (!s->givebacks) TCHECK(w > last); /* claim order = production order */
            last = w;
            own(s, w);
            continue;
        }
        if (st == FTK_BATCH_REFILL) {
            atomic_fetch_add(&s->refills, 1);
            if (s->next > s->total) {
                int f = ftk_batch_fail(s->h);
                TCHECK(f == FTK_OK || f == FTK_ECLOSED);
                break;
            }
            if (s->abandons && rnd(&x) % 4 == 0) {
                int a = ftk_batch_abandon(s->h);
                TCHECK(a == FTK_OK || a == FTK_ECLOSED);
                continue;
            }
            uint64_t base = s->next;
            size_t k = (size_t)(1 + rnd(&x) % s->size); /* partial batches too */
            if (k > s->total - base + 1) k = (size_t)(s->total - base + 1);
            s->next = base + k;
            atomic_fetch_add(&s->produced, k);
            uint64_t first = 0;
            bool f1 = s->use_first && (rnd(&x) & 1);
            int r;
            if (rnd(&x) & 1) {
                r = ftk_batch_fill_range(s->h, base, k, f1 ? &first : NULL);
            } else {
                uint64_t *ws = malloc(k * sizeof(uint64_t));
                for (size_t j = 0; j < k; j++) ws[j] = base + j;
                r = ftk_batch_fill(s->h, ws, k, f1 ? &first : NULL);
                free(ws);
            }
            if (r == FTK_OK) {
                if (f1) {
                    TCHECK(first == base);
                    if (!s->givebacks) TCHECK(first > last);
                    last = first;
                    own(s, first);
                }
            } else {
                TCHECK(r == FTK_ECLOSED); /* the words stay ours */
                for (size_t j = 0; j < k; j++) own(s, base + j);
            }
            continue;
        }
        TCHECK(st == FTK_ECLOSED);
        break;
    }
}

static void run_storm(size_t size, uint64_t total, bool abandons, bool givebacks, bool closer) {
    static storm_t s;
    s = (storm_t){.h = new_batch(size), .size = size, .total = total, .next = 1,
                  .abandons = abandons, .givebacks = givebacks, .use_first = true,
                  .closer = closer};
    s.seen = calloc(total + 1, 1);
    ftk_test_run_threads(NTHREADS, storm_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    int fl = ftk_batch_flags(s.h);
    ck_assert(fl & (FTK_BATCH_FAILED | FTK_BATCH_CLOSED));
    ck_assert(!(fl & FTK_BATCH_REFILLING));
    uint64_t buf[64];
    size_t n;
    do {
        ck_assert_int_eq(ftk_batch_drain(s.h, buf, 64, &n), FTK_OK);
        for (size_t j = 0; j < n; j++) own(&s, buf[j]);
    } while (n);
    ASSERT_NO_THREAD_FAILURES();
    /* every produced word exactly once */
    uint64_t produced = atomic_load(&s.produced);
    ck_assert_uint_eq(atomic_load(&s.claimed), produced);
    for (uint64_t w = 1; w < s.next; w++) REQUIRE(atomic_load(&s.seen[w]) == 1);
    if (!closer) ck_assert_uint_eq(produced, total);
    ck_assert_int_eq(ftk_batch_free(s.h), FTK_OK);
    free(s.seen);
}

START_TEST(test_concurrent_exactly_once_in_order) {
    run_storm(1, FTK_SCALED(20000), false, false, false);
    run_storm(7, FTK_SCALED(100000), false, false, false);
    run_storm(64, FTK_SCALED(300000), false, false, false);
}
END_TEST

START_TEST(test_concurrent_abandons_and_givebacks) {
    run_storm(3, FTK_SCALED(50000), true, false, false);
    run_storm(16, FTK_SCALED(100000), true, true, false);
}
END_TEST

START_TEST(test_concurrent_close_racing) {
    for (int r = 0; r < 8; r++) run_storm(1 + (size_t)r * 9, FTK_SCALED(60000), r & 1, r & 2, true);
}
END_TEST

/* A free racing loads blocked on a refill (a caller bug) stays memory safe. */
typedef struct {
    ftk_handle_t h;
    _Atomic int started;
} free_race_t;

static void free_race_worker(void *arg, int i) {
    free_race_t *s = arg;
    uint64_t w;
    if (i == 0) {
        TCHECK(ftk_batch_load(s->h, &w, 0) == FTK_BATCH_REFILL);
        atomic_fetch_add(&s->started, 1);
        while (atomic_load(&s->started) < NTHREADS) sched_yield();
        TCHECK(ftk_batch_free(s->h) == FTK_OK);
        return;
    }
    while (atomic_load(&s->started) == 0) sched_yield();
    atomic_fetch_add(&s->started, 1);
    for (;;) {
        int st = ftk_batch_load(s->h, &w, -1);
        if (st == FTK_ECLOSED || st == FTK_EBADHANDLE) break;
        TCHECK(st == FTK_OK || st == FTK_BATCH_REFILL);
        if (st == FTK_BATCH_REFILL) {
            st = ftk_batch_fill_range(s->h, 1, 1, NULL);
            TCHECK(st == FTK_OK || st == FTK_ECLOSED || st == FTK_EBADHANDLE);
        }
    }
}

START_TEST(test_concurrent_free_racing_loads) {
    for (int r = 0; r < 10; r++) {
        static free_race_t s;
        s = (free_race_t){.h = new_batch(4)};
        ftk_test_run_threads(NTHREADS, free_race_worker, &s);
        ASSERT_NO_THREAD_FAILURES();
    }
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* give_back: words join the give-back list in order, are claimed first, one
 * per claim, end the unload_last record; refused after close/failure. */
START_TEST(test_api_give_back) {
    ftk_handle_t h = new_batch(8);
    uint64_t w = 0, buf[8];
    size_t n = 0;
    ck_assert_int_eq(ftk_batch_give_back(h, NULL, 1), FTK_EINVAL);
    ck_assert_int_eq(ftk_batch_give_back(h, NULL, 0), FTK_OK);
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    ck_assert_int_eq(ftk_batch_fill_range(h, 10, 8, NULL), FTK_OK);
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 5, &n), FTK_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(buf[0], 10);
    /* keep 10, give back 11..14 */
    ck_assert_int_eq(ftk_batch_give_back(h, buf + 1, 4), FTK_OK);
    ck_assert_int_eq(ftk_batch_unload_last(h, NULL), FTK_ENOTFOUND); /* record ended */
    ck_assert_int_eq(ftk_batch_available(h, &n), FTK_OK);
    ck_assert_uint_eq(n, 3 + 4);
    for (uint64_t e = 11; e <= 14; e++) { /* given back first, one per claim, in order */
        ck_assert_int_eq(ftk_batch_take_many(h, buf, 8, &n), FTK_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(buf[0], e);
    }
    ck_assert_int_eq(ftk_batch_take_many(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(buf[0], 15);
    /* a large give-back grows the list */
    uint64_t many[100];
    for (int i = 0; i < 100; i++) many[i] = 1000 + (uint64_t)i;
    ck_assert_int_eq(ftk_batch_give_back(h, many, 100), FTK_OK);
    for (uint64_t e = 1000; e < 1100; e++) {
        ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_OK);
        ck_assert_uint_eq(w, e);
    }
    ck_assert_int_eq(ftk_batch_load(h, &w, 0), FTK_BATCH_REFILL);
    /* the refiller may give back too; others take them while it refills */
    ck_assert_int_eq(ftk_batch_give_back(h, many, 2), FTK_OK);
    ck_assert_int_eq(ftk_batch_fail(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_give_back(h, many, 1), FTK_ECLOSED); /* failed: refused */
    ck_assert_int_eq(ftk_batch_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 2); /* the two given back before the failure */
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);

    h = new_batch(2);
    ck_assert_int_eq(ftk_batch_close(h), FTK_OK);
    ck_assert_int_eq(ftk_batch_give_back(h, many, 1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_batch_free(h), FTK_OK);
}
END_TEST

/* ---- stress ----------------------------------------------------------------- */

START_TEST(test_stress_mixed) {
    for (int r = 0; r < 4; r++) {
        run_storm(1, FTK_SCALED(50000), r & 1, r & 2, false);
        run_storm(64, FTK_SCALED(500000), r & 1, r & 2, r == 3);
    }
}
END_TEST

static Suite *batch_suite(void) {
    Suite *s = suite_create("batch");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_api_bad_input);
    tcase_add_test(api, test_api_sequence);
    tcase_add_test(api, test_api_close_drain);
    tcase_add_test(api, test_api_give_back);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_single_waiters_wake);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_exactly_once_in_order);
    tcase_add_test(conc, test_concurrent_abandons_and_givebacks);
    tcase_add_test(conc, test_concurrent_close_racing);
    tcase_add_test(conc, test_concurrent_free_racing_loads);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_mixed);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(batch_suite()); }
