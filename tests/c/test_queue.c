/*
 * test_queue.c - the MPMC word queue: every entry point, bad handles, FIFO,
 * exact bounds, timeouts, close/drain/task accounting, wake-ups of blocked
 * pops/pushes/joins, and MPMC stress (exactly once, per-producer order),
 * also with patience 0 (ftk_queue_new_ex) so that consumers skip slots of producers
 * that are a little late and the retry path runs constantly. Public API only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"


#define MS 1000000LL


/* Patience of the queues new_q makes (-1: the default). */
static int64_t g_patience = -1;

static ftk_handle_t new_q(size_t cap) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_queue_new_ex(cap, g_patience, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static size_t qsize(ftk_handle_t h) {
    size_t n = 0;
    ck_assert_int_eq(ftk_queue_size_approx(h, &n), FTK_OK);
    return n;
}

static uint64_t qunfinished(ftk_handle_t h) {
    uint64_t n = 0;
    ck_assert_int_eq(ftk_queue_unfinished(h, &n), FTK_OK);
    return n;
}

static int qclosed(ftk_handle_t h) {
    int c = -1;
    ck_assert_int_eq(ftk_queue_is_closed(h, &c), FTK_OK);
    return c;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Free and make sure everything the queue allocated is reclaimed. */
static void free_q(ftk_handle_t h) {
    ck_assert_int_eq(ftk_queue_free(h), FTK_OK);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_new_free) {
    size_t base = ftk_live_handles();
    ck_assert_int_eq(ftk_queue_new(0, NULL), FTK_EINVAL);
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_queue_new((size_t)FTK_QUEUE_CAPACITY_MAX + 1, &h), FTK_EOVERFLOW);
    ck_assert(h == FTK_NULL_HANDLE);
    ck_assert_int_eq(ftk_queue_new_ex(0, FTK_QUEUE_PATIENCE_MAX + 1, &h), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_new_ex(0, 0, NULL), FTK_EINVAL);
    ck_assert(h == FTK_NULL_HANDLE);
    ck_assert_uint_eq(ftk_live_handles(), base);

    h = new_q(0);
    ftk_handle_t b = new_q(5);
    ftk_handle_t m = new_q((size_t)FTK_QUEUE_CAPACITY_MAX); /* memory follows contents */
    ck_assert_uint_eq(ftk_live_handles(), base + 3);
    size_t cap = 99;
    ck_assert_int_eq(ftk_queue_capacity(h, &cap), FTK_OK);
    ck_assert_uint_eq(cap, 0);
    ck_assert_int_eq(ftk_queue_capacity(b, &cap), FTK_OK);
    ck_assert_uint_eq(cap, 5);
    ck_assert_int_eq(ftk_queue_capacity(m, &cap), FTK_OK);
    ck_assert(cap == (size_t)FTK_QUEUE_CAPACITY_MAX);
    ck_assert_uint_eq(qsize(h), 0);
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_OPEN);
    ck_assert_uint_eq(qunfinished(h), 0);
    ck_assert_int_eq(ftk_queue_push(m, 7, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(b, 8, 0), FTK_OK); /* freed with words inside */

    ck_assert_int_eq(ftk_queue_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_int_eq(ftk_queue_free(h), FTK_OK);
    ck_assert_int_eq(ftk_queue_free(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_free(b), FTK_OK);
    ck_assert_int_eq(ftk_queue_free(m), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* Every entry point on a handle that is not a live queue. */
static void check_all_bad(ftk_handle_t h) {
    uint64_t w = 0, buf[4] = {1, 2, 3, 4}, u = 0;
    size_t n = 0;
    int c = 0;
    ck_assert_int_eq(ftk_queue_try_push(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_push(h, 1, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_push(h, 1, -1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 4, &n, -1), FTK_EBADHANDLE);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 4, &n, -1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_close(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 4, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_size_approx(h, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_capacity(h, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_is_closed(h, &c), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_task_done(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_unfinished(h, &u), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_join(h, -1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_wake(h), FTK_EBADHANDLE);
    if (h != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_queue_free(h), FTK_EBADHANDLE);
}

START_TEST(test_bad_handles) {
    check_all_bad(FTK_NULL_HANDLE);
    check_all_bad(H(12345));
    check_all_bad(H(UINT64_MAX));
    check_all_bad(H((uint64_t)4 << 56 | 1)); /* queue kind, never allocated */

    ftk_handle_t i = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_int64_new(0, &i), FTK_OK);
    check_all_bad(i); /* wrong kind */
    ck_assert_int_eq(ftk_int64_free(i), FTK_OK);

    ftk_handle_t d = new_q(0);
    ck_assert_int_eq(ftk_queue_push(d, 1, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_free(d), FTK_OK);
    check_all_bad(d); /* destroyed */
    ftk_handle_t d2 = new_q(3); /* may reuse the entry: the old handle stays dead */
    check_all_bad(d);
    ck_assert_uint_eq(qsize(d2), 0);
    free_q(d2);

    /* a queue handle is rejected by other kinds */
    ftk_handle_t q = new_q(0);
    int64_t v;
    ck_assert_int_eq(ftk_int64_load(q, &v), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_free(q), FTK_EBADHANDLE);
    free_q(q);
}
END_TEST

START_TEST(test_null_out) {
    ftk_handle_t h = new_q(4);
    uint64_t buf[2] = {1, 2};
    size_t n = 7;
    ck_assert_int_eq(ftk_queue_try_pop(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_pop(h, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_pop_many(h, NULL, 2, &n, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 2, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_push_many(h, NULL, 2, &n, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 2, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_drain(h, NULL, 2, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 2, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_size_approx(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_capacity(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_is_closed(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_unfinished(h, NULL), FTK_EINVAL);
    /* NULL arrays are fine with a zero count */
    ck_assert_int_eq(ftk_queue_push_many(h, NULL, 0, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 0);
    n = 7;
    ck_assert_int_eq(ftk_queue_pop_many(h, NULL, 0, &n, -1), FTK_OK);
    ck_assert_uint_eq(n, 0);
    n = 7;
    ck_assert_int_eq(ftk_queue_drain(h, NULL, 0, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(qsize(h), 0); /* nothing happened */
    free_q(h);
}
END_TEST

START_TEST(test_value_style) {
    ftk_handle_t h = new_q(0);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    ck_assert_uint_eq(ftk_queue_pop_v(h, 5 * MS), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ETIMEDOUT);
    ck_assert_int_eq(ftk_queue_push(h, 0, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(h, UINT64_MAX, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(h, 5, 0), FTK_OK);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0); /* a genuine 0 */
    ck_assert_int_eq(ftk_last_status(), FTK_OK);
    ck_assert(ftk_queue_pop_v(h, -1) == UINT64_MAX);
    ck_assert_uint_eq(ftk_queue_pop_v(h, 0), 5);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_OK);
    ck_assert_uint_eq(ftk_queue_pop_v(h, -1), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ECLOSED);
    free_q(h);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_queue_pop_v(FTK_NULL_HANDLE, -1), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
}
END_TEST

/* ---- single ------------------------------------------------------------------ */

START_TEST(test_fifo_unbounded) {
    ftk_handle_t h = new_q(0);
    const uint64_t n = 1000; /* several blocks */
    uint64_t w;
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_EEMPTY);
    ck_assert_int_eq(ftk_queue_try_push(h, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_try_push(h, UINT64_MAX), FTK_OK);
    for (uint64_t i = 2; i < n; i++)
        ck_assert_int_eq(i % 2 ? ftk_queue_push(h, i * 7919, -1) : ftk_queue_try_push(h, i * 7919),
                         FTK_OK);
    ck_assert_uint_eq(qsize(h), n);
    ck_assert_uint_eq(qunfinished(h), n);
    ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_OK);
    ck_assert_uint_eq(w, 0);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
    ck_assert(w == UINT64_MAX);
    for (uint64_t i = 2; i < n; i++) {
        ck_assert_int_eq(i % 2 ? ftk_queue_pop(h, &w, 5 * MS) : ftk_queue_try_pop(h, &w), FTK_OK);
        ck_assert_uint_eq(w, i * 7919);
    }
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_EEMPTY);
    ck_assert_int_eq(ftk_queue_pop(h, &w, 0), FTK_EEMPTY);
    ck_assert_uint_eq(qsize(h), 0);

    /* a sliding window across many block boundaries */
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 3000; round++) {
        for (int k = 0; k < 3; k++) ck_assert_int_eq(ftk_queue_try_push(h, next_in++), FTK_OK);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
            ck_assert_uint_eq(w, next_out++);
        }
    }
    ck_assert_uint_eq(qsize(h), next_in - next_out);
    while (ftk_queue_try_pop(h, &w) == FTK_OK) ck_assert_uint_eq(w, next_out++);
    ck_assert_uint_eq(next_out, next_in);
    free_q(h);
}
END_TEST

START_TEST(test_bounded_exact) {
    static const size_t caps[] = {1, 2, 3, 127, 128, 129, 300};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        size_t cap = caps[c];
        ftk_handle_t h = new_q(cap);
        uint64_t w, next_in = 0, next_out = 0;
        for (int round = 0; round < 3; round++) {
            while (qsize(h) < cap) ck_assert_int_eq(ftk_queue_try_push(h, next_in++), FTK_OK);
            ck_assert_int_eq(ftk_queue_try_push(h, 999), FTK_EFULL);
            ck_assert_int_eq(ftk_queue_push(h, 999, 0), FTK_EFULL);
            ck_assert_uint_eq(qsize(h), cap);
            ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
            ck_assert_uint_eq(w, next_out++);
            ck_assert_int_eq(ftk_queue_push(h, next_in++, -1), FTK_OK); /* room: no wait */
            ck_assert_int_eq(ftk_queue_try_push(h, 999), FTK_EFULL);
            /* empty it half-way, in order */
            for (size_t k = 0; k < (cap + 1) / 2; k++) {
                ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_OK);
                ck_assert_uint_eq(w, next_out++);
            }
        }
        while (ftk_queue_try_pop(h, &w) == FTK_OK) ck_assert_uint_eq(w, next_out++);
        ck_assert_uint_eq(next_out, next_in);
        free_q(h);
    }
}
END_TEST

START_TEST(test_timeouts) {
    ftk_handle_t h = new_q(2);
    uint64_t w, buf[4] = {1, 2, 3, 4};
    size_t n;
    int64_t t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_pop(h, &w, 50 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 50 * MS);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 4, &n, 20 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 20 * MS);
    ck_assert_uint_eq(n, 0);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_pop(h, &w, 1), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 1);

    /* bounded and full */
    ck_assert_int_eq(ftk_queue_push(h, 1, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(h, 2, 0), FTK_OK);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_push(h, 3, 30 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 30 * MS);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 4, &n, 20 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 20 * MS);
    ck_assert_uint_eq(n, 1); /* the prefix that fitted */
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 4, &n, 0), FTK_EFULL);
    ck_assert_uint_eq(n, 0);

    /* join with unfinished tasks */
    ck_assert_uint_eq(qunfinished(h), 3);
    ck_assert_int_eq(ftk_queue_join(h, 0), FTK_ETIMEDOUT);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_queue_join(h, 30 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 30 * MS);

    /* an absurd timeout does not overflow into "expired" */
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
    ck_assert_int_eq(ftk_queue_pop(h, &w, INT64_MAX), FTK_OK);
    free_q(h);
}
END_TEST

START_TEST(test_close_graceful) {
    ftk_handle_t h = new_q(0);
    uint64_t w, buf[8] = {0};
    size_t n = 9;
    for (uint64_t i = 0; i < 5; i++) ck_assert_int_eq(ftk_queue_push(h, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_OK);
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_CLOSED);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_OK); /* idempotent */
    ck_assert_int_eq(ftk_queue_try_push(h, 9), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_push(h, 9, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 3, &n, -1), FTK_ECLOSED);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(qsize(h), 5);
    /* pops drain what is left, in order, then ECLOSED */
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
    ck_assert_uint_eq(w, 0);
    ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_OK);
    ck_assert_uint_eq(w, 1);
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 8, &n, -1), FTK_OK);
    ck_assert_uint_eq(n, 3);
    for (int i = 0; i < 3; i++) ck_assert_uint_eq(buf[i], 2 + i);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 8, &n, -1), FTK_ECLOSED);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    /* then immediate: allowed */
    ck_assert_int_eq(ftk_queue_close(h, 1), FTK_OK);
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_CLOSED_IMMEDIATE);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_OK); /* immediate stays */
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_CLOSED_IMMEDIATE);
    free_q(h);
}
END_TEST

START_TEST(test_close_immediate_drain) {
    ftk_handle_t h = new_q(300);
    uint64_t w, buf[512];
    size_t n;
    for (uint64_t i = 0; i < 200; i++) ck_assert_int_eq(ftk_queue_push(h, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK); /* one taken, task not done */
    ck_assert_uint_eq(qunfinished(h), 200);
    ck_assert_int_eq(ftk_queue_close(h, 1), FTK_OK);
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_CLOSED_IMMEDIATE);
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_pop(h, &w, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_pop_many(h, buf, 4, &n, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_push(h, 1, -1), FTK_ECLOSED);
    ck_assert_uint_eq(qsize(h), 199);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 50, &n), FTK_OK);
    ck_assert_uint_eq(n, 50);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(buf[i], 1 + i);
    ck_assert_uint_eq(qunfinished(h), 150); /* drained words count as done */
    ck_assert_int_eq(ftk_queue_drain(h, buf, 512, &n), FTK_OK);
    ck_assert_uint_eq(n, 149);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(buf[i], 51 + i);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 512, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(qsize(h), 0);
    ck_assert_uint_eq(qunfinished(h), 1); /* the word taken by a "consumer" */
    ck_assert_int_eq(ftk_queue_task_done(h), FTK_OK);
    ck_assert_int_eq(ftk_queue_join(h, 0), FTK_OK);
    free_q(h);
}
END_TEST

START_TEST(test_drain_open) {
    ftk_handle_t h = new_q(0);
    uint64_t buf[16];
    size_t n;
    for (uint64_t i = 0; i < 10; i++) ck_assert_int_eq(ftk_queue_push(h, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 4, &n), FTK_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(qunfinished(h), 6);
    ck_assert_int_eq(ftk_queue_push(h, 10, 0), FTK_OK); /* still open */
    ck_assert_int_eq(ftk_queue_drain(h, buf, 16, &n), FTK_OK);
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(buf[i], 4 + i);
    ck_assert_uint_eq(qunfinished(h), 0);
    ck_assert_int_eq(qclosed(h), FTK_QUEUE_OPEN);
    /* drain never takes the count below 0 */
    for (uint64_t i = 0; i < 3; i++) ck_assert_int_eq(ftk_queue_push(h, i, 0), FTK_OK);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(ftk_queue_task_done(h), FTK_OK);
    ck_assert_int_eq(ftk_queue_drain(h, buf, 16, &n), FTK_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(qunfinished(h), 0);
    ck_assert_int_eq(ftk_queue_push(h, 1, 0), FTK_OK);
    ck_assert_uint_eq(qunfinished(h), 1);
    free_q(h);
}
END_TEST

START_TEST(test_task_done_join) {
    ftk_handle_t h = new_q(0);
    uint64_t w, buf[10] = {0};
    size_t n;
    ck_assert_int_eq(ftk_queue_task_done(h), FTK_EINVAL);
    ck_assert_uint_eq(qunfinished(h), 0);
    ck_assert_int_eq(ftk_queue_join(h, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_join(h, -1), FTK_OK);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(ftk_queue_push(h, 1, 0), FTK_OK);
    ck_assert_uint_eq(qunfinished(h), 3);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(ftk_queue_pop(h, &w, 0), FTK_OK);
    ck_assert_uint_eq(qunfinished(h), 3); /* popping is not finishing */
    ck_assert_int_eq(ftk_queue_join(h, 0), FTK_ETIMEDOUT);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(ftk_queue_task_done(h), FTK_OK);
    ck_assert_int_eq(ftk_queue_task_done(h), FTK_EINVAL); /* too many: nothing changes */
    ck_assert_uint_eq(qunfinished(h), 0);
    ck_assert_int_eq(ftk_queue_join(h, -1), FTK_OK);
    ck_assert_int_eq(ftk_queue_push_many(h, buf, 10, &n, 0), FTK_OK);
    ck_assert_uint_eq(qunfinished(h), 10);
    ck_assert_int_eq(ftk_queue_task_done(h), FTK_OK); /* before popping: allowed */
    ck_assert_uint_eq(qunfinished(h), 9);
    /* a failed push does not count */
    ftk_handle_t b = new_q(1);
    ck_assert_int_eq(ftk_queue_push(b, 1, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(b, 2, 0), FTK_EFULL);
    ck_assert_int_eq(ftk_queue_close(b, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(b, 3, 0), FTK_ECLOSED);
    ck_assert_uint_eq(qunfinished(b), 1);
    free_q(b);
    free_q(h);
}
END_TEST

START_TEST(test_many) {
    ftk_handle_t h = new_q(0);
    enum { N = 1000 };
    static uint64_t in[N], out[N + 10];
    size_t n = 0;
    for (uint64_t i = 0; i < N; i++) in[i] = i * 3 + 1;
    ck_assert_int_eq(ftk_queue_push_many(h, in, N, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, N);
    ck_assert_uint_eq(qsize(h), N);
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 300, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 300);
    ck_assert_int_eq(ftk_queue_pop_many(h, out + 300, N + 10 - 300, &n, -1), FTK_OK);
    ck_assert_uint_eq(n, N - 300);
    for (size_t i = 0; i < N; i++) ck_assert_uint_eq(out[i], in[i]);
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 5, &n, 0), FTK_EEMPTY);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 0, &n, -1), FTK_OK); /* max 0: no wait */
    ck_assert_uint_eq(n, 0);
    /* interleaving single and batch keeps order */
    ck_assert_int_eq(ftk_queue_push(h, 5, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push_many(h, in, 3, &n, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(h, 6, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 10, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(out[0], 5);
    ck_assert_uint_eq(out[1], in[0]);
    ck_assert_uint_eq(out[3], in[2]);
    ck_assert_uint_eq(out[4], 6);
    free_q(h);

    /* bounded: partial pushes report the prefix that went in */
    h = new_q(100);
    ck_assert_int_eq(ftk_queue_push_many(h, in, 250, &n, 0), FTK_EFULL);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 30, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 30);
    ck_assert_int_eq(ftk_queue_push_many(h, in + 100, 150, &n, 0), FTK_EFULL);
    ck_assert_uint_eq(n, 30);
    ck_assert_uint_eq(qsize(h), 100);
    ck_assert_int_eq(ftk_queue_pop_many(h, out + 30, N, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 100);
    for (size_t i = 0; i < 130; i++) ck_assert_uint_eq(out[i], in[i]);
    free_q(h);
}
END_TEST

START_TEST(test_wake_no_waiters) {
    ftk_handle_t h = new_q(1);
    uint64_t w;
    ck_assert_int_eq(ftk_queue_wake(h), FTK_OK);
    /* only calls in progress are cancelled: later ones behave normally */
    ck_assert_int_eq(ftk_queue_pop(h, &w, 0), FTK_EEMPTY);
    ck_assert_int_eq(ftk_queue_pop(h, &w, 10 * MS), FTK_ETIMEDOUT);
    ck_assert_int_eq(ftk_queue_push(h, 1, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_push(h, 1, 10 * MS), FTK_ETIMEDOUT);
    ck_assert_int_eq(ftk_queue_join(h, 10 * MS), FTK_ETIMEDOUT);
    free_q(h);
}
END_TEST

/* ---- concurrent ------------------------------------------------------------- */

typedef struct {
    ftk_handle_t h;
    int mode; /* what each thread does, see blocked_worker */
    size_t pop_max; /* for DO_POP_MANY; 0 = 4 */
    _Atomic int returned;
    int status[16];
    uint64_t word[16];
    int64_t elapsed[16];
} blocked_ctx;

enum { DO_POP, DO_POP_MANY, DO_PUSH, DO_PUSH_MANY, DO_JOIN, DO_MIXED };

static void blocked_worker(void *arg, int i) {
    blocked_ctx *c = arg;
    int mode = c->mode == DO_MIXED ? i % 5 : c->mode;
    uint64_t buf[4] = {100, 101, 102, 103};
    size_t n = 0;
    int64_t t0 = ftk_test_now_ns();
    switch (mode) {
    case DO_POP: c->status[i] = ftk_queue_pop(c->h, &c->word[i], -1); break;
    case DO_POP_MANY:
        c->status[i] = ftk_queue_pop_many(c->h, buf, c->pop_max ? c->pop_max : 4, &n, -1);
        TCHECK(c->status[i] == FTK_OK ? n >= 1 : n == 0);
        if (n) c->word[i] = buf[0];
        break;
    case DO_PUSH: c->status[i] = ftk_queue_push(c->h, 1000 + (uint64_t)i, -1); break;
    case DO_PUSH_MANY:
        c->status[i] = ftk_queue_push_many(c->h, buf, 4, &n, -1);
        TCHECK(c->status[i] == FTK_OK ? n == 4 : n < 4);
        break;
    case DO_JOIN: c->status[i] = ftk_queue_join(c->h, -1); break;
    }
    c->elapsed[i] = ftk_test_now_ns() - t0;
    atomic_fetch_add(&c->returned, 1);
}

/* Run n blocked workers; `act` runs in an extra thread (index n) after they
 * had time to block. */
typedef struct {
    blocked_ctx *c;
    int n;
    void (*act)(blocked_ctx *c, int n);
} blocked_run;

static void blocked_dispatch(void *arg, int i) {
    blocked_run *r = arg;
    if (i < r->n) {
        blocked_worker(r->c, i);
    } else {
        sleep_ms(50);
        r->act(r->c, r->n);
    }
}

static void run_blocked(blocked_ctx *c, int n, void (*act)(blocked_ctx *, int)) {
    blocked_run r = {c, n, act};
    atomic_store(&c->returned, 0);
    ftk_test_run_threads(n + 1, blocked_dispatch, &r);
    ck_assert_int_eq(atomic_load(&c->returned), n);
    ASSERT_NO_THREAD_FAILURES();
}

static void act_push_each(blocked_ctx *c, int n) {
    for (int i = 0; i < n; i++) TCHECK(ftk_queue_push(c->h, 500 + (uint64_t)i, 0) == FTK_OK);
}

START_TEST(test_push_wakes_poppers) {
    for (int mode = DO_POP; mode <= DO_POP_MANY; mode++) {
        blocked_ctx c = {.h = new_q(0), .mode = mode, .pop_max = 1};
        run_blocked(&c, 4, act_push_each);
        uint64_t seen = 0;
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(c.status[i], FTK_OK);
            ck_assert_uint_ge(c.word[i], 500);
            ck_assert_uint_lt(c.word[i], 504);
            seen |= 1u << (c.word[i] - 500);
        }
        ck_assert_uint_eq(seen, 0xf);
        free_q(c.h);
    }
}
END_TEST

static void act_close_graceful(blocked_ctx *c, int n) {
    (void)n;
    TCHECK(ftk_queue_close(c->h, 0) == FTK_OK);
}
static void act_close_immediate(blocked_ctx *c, int n) {
    (void)n;
    TCHECK(ftk_queue_close(c->h, 1) == FTK_OK);
}

START_TEST(test_close_wakes_poppers) {
    for (int imm = 0; imm < 2; imm++) {
        blocked_ctx c = {.h = new_q(imm ? 3 : 0), .mode = DO_POP};
        run_blocked(&c, 6, imm ? act_close_immediate : act_close_graceful);
        for (int i = 0; i < 6; i++) ck_assert_int_eq(c.status[i], FTK_ECLOSED);
        c.mode = DO_POP_MANY;
        run_blocked(&c, 2, act_close_graceful); /* already closed: return at once */
        for (int i = 0; i < 2; i++) ck_assert_int_eq(c.status[i], FTK_ECLOSED);
        free_q(c.h);
    }
}
END_TEST

START_TEST(test_close_wakes_pushers) {
    for (int imm = 0; imm < 2; imm++) {
        blocked_ctx c = {.h = new_q(2)};
        ck_assert_int_eq(ftk_queue_push(c.h, 1, 0), FTK_OK);
        ck_assert_int_eq(ftk_queue_push(c.h, 2, 0), FTK_OK);
        c.mode = imm ? DO_PUSH_MANY : DO_PUSH;
        run_blocked(&c, 4, imm ? act_close_immediate : act_close_graceful);
        for (int i = 0; i < 4; i++) ck_assert_int_eq(c.status[i], FTK_ECLOSED);
        ck_assert_uint_eq(qsize(c.h), 2);
        uint64_t buf[4];
        size_t n;
        ck_assert_int_eq(ftk_queue_drain(c.h, buf, 4, &n), FTK_OK);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(buf[0], 1);
        ck_assert_uint_eq(buf[1], 2);
        free_q(c.h);
    }
}
END_TEST

/* One pusher blocked on a full queue gets in when a consumer makes room. */
static void act_pop_one(blocked_ctx *c, int n) {
    uint64_t w;
    for (int i = 0; i < n; i++) {
        TCHECK(ftk_queue_pop(c->h, &w, -1) == FTK_OK);
        TCHECK(w == 7 || (w >= 1000 && w < 1000 + (uint64_t)n));
    }
}

START_TEST(test_pop_wakes_pushers) {
    blocked_ctx c = {.h = new_q(1), .mode = DO_PUSH};
    ck_assert_int_eq(ftk_queue_push(c.h, 7, 0), FTK_OK);
    run_blocked(&c, 3, act_pop_one);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(c.status[i], FTK_OK);
    ck_assert_uint_eq(qsize(c.h), 1);
    free_q(c.h);
}
END_TEST

static void act_finish_tasks(blocked_ctx *c, int n) {
    (void)n;
    uint64_t w;
    while (ftk_queue_try_pop(c->h, &w) == FTK_OK) TCHECK(ftk_queue_task_done(c->h) == FTK_OK);
}

START_TEST(test_join_wakes) {
    blocked_ctx c = {.h = new_q(0), .mode = DO_JOIN};
    for (int i = 0; i < 100; i++) ck_assert_int_eq(ftk_queue_push(c.h, 1, 0), FTK_OK);
    run_blocked(&c, 3, act_finish_tasks);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(c.status[i], FTK_OK);
        ck_assert_int_ge(c.elapsed[i], 40 * MS); /* they really waited */
    }
    ck_assert_uint_eq(qunfinished(c.h), 0);
    free_q(c.h);
}
END_TEST

/* Immediate close + drain (queue.Queue.shutdown(immediate=True)): joiners
 * return once the words taken by consumers are finished too. */
static void act_shutdown_immediate(blocked_ctx *c, int n) {
    (void)n;
    uint64_t buf[16];
    size_t k;
    TCHECK(ftk_queue_close(c->h, 1) == FTK_OK);
    sleep_ms(20);
    TCHECK(atomic_load(&c->returned) == 0); /* close alone does not end a join */
    TCHECK(ftk_queue_drain(c->h, buf, 16, &k) == FTK_OK && k == 8);
    sleep_ms(20);
    TCHECK(atomic_load(&c->returned) == 0); /* 2 taken words are unfinished */
    TCHECK(ftk_queue_task_done(c->h) == FTK_OK);
    TCHECK(ftk_queue_task_done(c->h) == FTK_OK);
}

START_TEST(test_join_shutdown_immediate) {
    blocked_ctx c = {.h = new_q(0), .mode = DO_JOIN};
    uint64_t w;
    for (int i = 0; i < 10; i++) ck_assert_int_eq(ftk_queue_push(c.h, 1, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_pop(c.h, &w, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_pop(c.h, &w, 0), FTK_OK);
    run_blocked(&c, 2, act_shutdown_immediate);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(c.status[i], FTK_OK);
    free_q(c.h);
}
END_TEST

/* ftk_queue_wake until every worker returned (a worker that had not started
 * waiting yet is caught by a later wake). */
static void act_wake_all(blocked_ctx *c, int n) {
    while (atomic_load(&c->returned) < n) {
        TCHECK(ftk_queue_wake(c->h) == FTK_OK);
        sleep_ms(5);
    }
}

START_TEST(test_wake_cancels_waiters) {
    /* full bounded queue with unfinished tasks: pops need it empty, so use
     * two queues: one empty for poppers... simpler: one queue per mode */
    for (int mode = DO_POP; mode <= DO_JOIN; mode++) {
        blocked_ctx c = {.h = new_q(1), .mode = mode};
        if (mode >= DO_PUSH) ck_assert_int_eq(ftk_queue_push(c.h, 1, 0), FTK_OK);
        run_blocked(&c, 4, act_wake_all);
        for (int i = 0; i < 4; i++) ck_assert_int_eq(c.status[i], FTK_EINTR);
        /* later calls are not affected */
        uint64_t w;
        if (mode < DO_PUSH)
            ck_assert_int_eq(ftk_queue_pop(c.h, &w, 5 * MS), FTK_ETIMEDOUT);
        else
            ck_assert_int_eq(ftk_queue_push(c.h, 2, 5 * MS), FTK_ETIMEDOUT);
        free_q(c.h);
    }
}
END_TEST

/* Freeing a queue while threads sleep in it: they wake with ECLOSED (or see
 * a dead handle if they had not started), nothing touches freed memory. */
static void act_free(blocked_ctx *c, int n) {
    (void)n;
    TCHECK(ftk_queue_free(c->h) == FTK_OK);
}

START_TEST(test_free_wakes_waiters) {
    size_t base = ftk_live_handles();
    for (int mode = DO_POP; mode <= DO_MIXED; mode++) {
        blocked_ctx c = {.h = new_q(2), .mode = mode};
        if (mode == DO_PUSH || mode == DO_PUSH_MANY || mode == DO_JOIN) {
            ck_assert_int_eq(ftk_queue_push(c.h, 1, 0), FTK_OK);
            ck_assert_int_eq(ftk_queue_push(c.h, 2, 0), FTK_OK);
        }
        run_blocked(&c, 5, act_free);
        for (int i = 0; i < 5; i++) /* mixed: some pushes/pops/joins complete */
            ck_assert(c.status[i] == FTK_ECLOSED || c.status[i] == FTK_EBADHANDLE ||
                      (mode == DO_MIXED && c.status[i] == FTK_OK));
        ck_assert_uint_eq(ftk_live_handles(), base);
        ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    }
}
END_TEST

typedef struct {
    ftk_handle_t h;
    int64_t elapsed;
    int st;
    uint64_t w;
} timed_ctx;

static void timed_worker(void *arg, int i) {
    timed_ctx *c = arg;
    if (i == 0) {
        int64_t t0 = ftk_test_now_ns();
        c->st = ftk_queue_pop(c->h, &c->w, 10000 * MS);
        c->elapsed = ftk_test_now_ns() - t0;
    } else {
        sleep_ms(30);
        TCHECK(ftk_queue_push(c->h, 42, 0) == FTK_OK);
    }
}

START_TEST(test_timed_pop_woken) {
    timed_ctx c = {.h = new_q(0)};
    ftk_test_run_threads(2, timed_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(c.st, FTK_OK);
    ck_assert_uint_eq(c.w, 42);
    ck_assert_int_lt(c.elapsed, 5000 * MS);
    free_q(c.h);
}
END_TEST

/* ---- stress ------------------------------------------------------------------- */

#define NPROD 4
#define NCONS 4

typedef struct {
    ftk_handle_t h;
    size_t cap;
    uint64_t per_producer;
    _Atomic uint8_t *seen; /* [NPROD][per_producer] */
    _Atomic int producers_left;
    _Atomic uint64_t popped;
} mpmc_ctx;

static inline uint64_t item(int p, uint64_t seq) { return (uint64_t)p << 40 | seq; }

static void mpmc_producer(mpmc_ctx *c, int p) {
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(p + 1);
    uint64_t seq = 0, buf[64];
    while (seq < c->per_producer) {
        uint64_t r = rng_next(&rng);
        if (r % 4 == 0) {
            size_t k = 1 + (size_t)(r >> 8) % 64, n = 0;
            if (k > c->per_producer - seq) k = (size_t)(c->per_producer - seq);
            for (size_t j = 0; j < k; j++) buf[j] = item(p, seq + j);
            TCHECK(ftk_queue_push_many(c->h, buf, k, &n, -1) == FTK_OK);
            TCHECK(n == k);
            seq += k;
        } else if (r % 4 == 1 && c->cap) {
            int st = ftk_queue_try_push(c->h, item(p, seq));
            TCHECK(st == FTK_OK || st == FTK_EFULL);
            if (st == FTK_OK) seq++;
        } else {
            TCHECK(ftk_queue_push(c->h, item(p, seq), -1) == FTK_OK);
            seq++;
        }
        if (c->cap && (r >> 20) % 64 == 0) {
            size_t sz = 0;
            TCHECK(ftk_queue_size_approx(c->h, &sz) == FTK_OK);
            TCHECK(sz <= c->cap);
        }
    }
    if (atomic_fetch_sub(&c->producers_left, 1) == 1)
        TCHECK(ftk_queue_close(c->h, 0) == FTK_OK); /* the last one closes */
}

static void mpmc_take(mpmc_ctx *c, uint64_t *last, uint64_t w) {
    int p = (int)(w >> 40);
    uint64_t seq = w & ((1ull << 40) - 1);
    TCHECK(p >= 0 && p < NPROD && seq < c->per_producer);
    if (!(p >= 0 && p < NPROD && seq < c->per_producer)) return;
    /* per-producer order as seen by this consumer */
    TCHECK(last[p] == UINT64_MAX || seq > last[p]);
    last[p] = seq;
    TCHECK(atomic_fetch_add_explicit(&c->seen[(uint64_t)p * c->per_producer + seq], 1,
                                     memory_order_relaxed) == 0);
}

static void mpmc_consumer(mpmc_ctx *c, int id) {
    uint64_t rng = 0x2545f4914f6cdd1dull * (uint64_t)(id + 7);
    uint64_t last[NPROD], buf[64], got = 0;
    for (int p = 0; p < NPROD; p++) last[p] = UINT64_MAX;
    for (;;) {
        uint64_t r = rng_next(&rng);
        int st;
        if (r % 3 == 0) {
            size_t n = 0;
            st = ftk_queue_pop_many(c->h, buf, 1 + (size_t)(r >> 8) % 64, &n, -1);
            TCHECK(st == FTK_OK ? n >= 1 : n == 0);
            for (size_t j = 0; j < n; j++) mpmc_take(c, last, buf[j]);
            got += n;
        } else {
            uint64_t w;
            st = r % 3 == 1 ? ftk_queue_pop(c->h, &w, -1) : ftk_queue_try_pop(c->h, &w);
            if (st == FTK_EEMPTY) {
                sched_yield();
                continue;
            }
            if (st == FTK_OK) {
                mpmc_take(c, last, w);
                got++;
            }
        }
        if (st == FTK_ECLOSED) break;
        TCHECK(st == FTK_OK);
        if (st != FTK_OK) break;
    }
    atomic_fetch_add(&c->popped, got);
}

static void mpmc_worker(void *arg, int i) {
    mpmc_ctx *c = arg;
    if (i < NPROD)
        mpmc_producer(c, i);
    else
        mpmc_consumer(c, i - NPROD);
}

static void run_mpmc(size_t cap, uint64_t per_producer) {
    mpmc_ctx c = {.h = new_q(cap), .cap = cap, .per_producer = per_producer};
    c.seen = calloc(NPROD * per_producer, 1);
    ck_assert_ptr_nonnull(c.seen);
    atomic_store(&c.producers_left, NPROD);
    ftk_test_run_threads(NPROD + NCONS, mpmc_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_uint_eq(atomic_load(&c.popped), NPROD * per_producer);
    for (uint64_t i = 0; i < NPROD * per_producer; i++) ck_assert_uint_eq(c.seen[i], 1);
    ck_assert_uint_eq(qsize(c.h), 0);
    /* task accounting survived the skips: every push counted exactly once */
    ck_assert_uint_eq(qunfinished(c.h), NPROD * per_producer);
    free(c.seen);
    free_q(c.h);
}


/* ---- unpop: giving words back to the front ---------------------------------- */

START_TEST(test_unpop_front_order) {
    ftk_handle_t h = new_q(0);
    for (uint64_t i = 1; i <= 5; i++) ck_assert_int_eq(ftk_queue_try_push(h, i), FTK_OK);
    uint64_t w = 0;
    ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
    ck_assert_uint_eq(w, 1);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 2);
    ck_assert_uint_eq(ftk_last_result(), 2);
    uint64_t back[2] = {1, 2};
    ck_assert_int_eq(ftk_queue_unpop(h, back, 2), FTK_OK);
    ck_assert_uint_eq(qsize(h), 5);
    ck_assert_uint_eq(qunfinished(h), 5); /* never finished: unchanged */
    for (uint64_t i = 1; i <= 5; i++) {
        ck_assert_int_eq(ftk_queue_try_pop(h, &w), FTK_OK);
        ck_assert_uint_eq(w, i);
    }
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0);
    ck_assert_uint_eq(ftk_last_result(), 0);
    ck_assert_int_eq(ftk_queue_unpop(h, NULL, 0), FTK_OK);
    ck_assert_int_eq(ftk_queue_unpop(h, NULL, 1), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_unpop(H(12345), back, 1), FTK_EBADHANDLE);
    /* pop_many / runs take given-back words first, and record k */
    ck_assert_int_eq(ftk_queue_try_push(h, 10), FTK_OK);
    uint64_t b3[3] = {7, 8, 9};
    ck_assert_int_eq(ftk_queue_unpop(h, b3, 3), FTK_OK);
    uint64_t runs[8];
    ck_assert_uint_eq(ftk_queue_pop_runs_v(h, runs, 4, 0), 1);
    ck_assert_uint_eq(ftk_last_result(), 1);
    ck_assert_uint_eq(runs[0], 7);
    ck_assert_uint_eq(runs[1], 4);
    /* unpop_last gives back the last pop's runs, once */
    ck_assert_int_eq(ftk_queue_unpop_last(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_queue_unpop_last(h, runs), FTK_OK);
    ck_assert_uint_eq(qsize(h), 4);
    ck_assert_int_eq(ftk_queue_unpop_last(h, runs), FTK_OK); /* nothing left */
    ck_assert_uint_eq(qsize(h), 4);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 7);
    ck_assert_int_eq(ftk_queue_unpop_last(H(99), NULL), FTK_EBADHANDLE);
    ftk_handle_t other = new_q(0);
    ck_assert_int_eq(ftk_queue_unpop_last(other, NULL), FTK_OK); /* not its pop */
    ck_assert_uint_eq(qsize(other), 0);
    ck_assert_int_eq(ftk_queue_unpop_last(h, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 7);
    for (uint64_t i = 8; i <= 10; i++) ck_assert_uint_eq(ftk_queue_try_pop_v(h), i);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0);
    ck_assert_int_eq(ftk_queue_unpop_last(h, NULL), FTK_OK); /* took nothing */
    ck_assert_uint_eq(qsize(h), 0);
    /* the record survives a push, and a genuine 0 word goes back too */
    ck_assert_int_eq(ftk_queue_try_push(h, 0), FTK_OK);
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_OK);
    ck_assert_int_eq(ftk_queue_try_push(h, 5), FTK_OK); /* last_result = 1 now */
    ck_assert_int_eq(ftk_queue_unpop_last(h, NULL), FTK_OK);
    ck_assert_uint_eq(qsize(h), 2);
    uint64_t w0 = 99;
    ck_assert_int_eq(ftk_queue_try_pop(h, &w0), FTK_OK);
    ck_assert_uint_eq(w0, 0); /* word 0 came back, not a fabricated 1 */
    ck_assert_uint_eq(ftk_queue_try_pop_v(h), 5);
    free_q(other);
    free_q(h);
}
END_TEST

START_TEST(test_unpop_close) {
    ftk_handle_t h = new_q(2);
    uint64_t w[3] = {1, 2, 3};
    ck_assert_int_eq(ftk_queue_try_push(h, 4), FTK_OK);
    ck_assert_int_eq(ftk_queue_unpop(h, w, 3), FTK_OK); /* past the capacity */
    ck_assert_uint_eq(qsize(h), 4);
    ck_assert_int_eq(ftk_queue_close(h, 0), FTK_OK); /* graceful: pops take them */
    ck_assert_int_eq(ftk_queue_unpop(h, w, 1), FTK_OK);
    uint64_t out[8];
    size_t n = 0;
    ck_assert_int_eq(ftk_queue_pop_many(h, out, 8, &n, 0), FTK_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[3], 3);
    ck_assert_uint_eq(out[4], 4);
    ck_assert_int_eq(ftk_queue_unpop(h, w, 2), FTK_OK);
    ck_assert_int_eq(ftk_queue_close(h, 1), FTK_OK); /* immediate: only drain */
    ck_assert_int_eq(ftk_queue_try_pop(h, out), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_unpop(h, w, 1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_queue_drain(h, out, 8, &n), FTK_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 2);
    /* freeing with given-back words inside frees them too (ASan checks) */
    ftk_handle_t g = new_q(0);
    ck_assert_int_eq(ftk_queue_unpop(g, w, 3), FTK_OK);
    free_q(g);
    free_q(h);
}
END_TEST

static void *unpop_later(void *arg) {
    sleep_ms(50);
    uint64_t w = 42;
    TCHECK(ftk_queue_unpop(*(ftk_handle_t *)arg, &w, 1) == FTK_OK);
    return NULL;
}

START_TEST(test_unpop_wakes_popper) {
    ftk_handle_t h = new_q(0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, unpop_later, &h), 0);
    uint64_t w = 0;
    ck_assert_int_eq(ftk_queue_pop(h, &w, 5000 * MS), FTK_OK);
    ck_assert_uint_eq(w, 42);
    pthread_join(t, NULL);
    ASSERT_NO_THREAD_FAILURES();
    free_q(h);
}
END_TEST

/* Consumers give back every other word they pop; every word still comes out
 * exactly once in the end (a consumer that gives back takes again). */
typedef struct {
    ftk_handle_t h;
    uint64_t n;
    _Atomic uint64_t popped;
    _Atomic uint8_t *seen;
} unpop_ctx;

static void unpop_worker(void *arg, int i) {
    unpop_ctx *c = arg;
    if (i < NTHREADS / 2) {
        for (uint64_t k = 0; k < c->n; k++) {
            uint64_t w = (uint64_t)i * c->n + k + 1;
            while (ftk_queue_try_push(c->h, w) != FTK_OK) sched_yield();
        }
        return;
    }
    uint64_t total = c->n * (NTHREADS / 2), turn = 0;
    while (atomic_load(&c->popped) < total) {
        uint64_t w = ftk_queue_try_pop_v(c->h);
        if (w == 0) {
            sched_yield();
            continue;
        }
        TCHECK(ftk_last_result() == w);
        if ((++turn & 1) == 0) {
            TCHECK(ftk_queue_unpop(c->h, &w, 1) == FTK_OK);
            continue;
        }
        TCHECK(atomic_fetch_add(&c->seen[w], 1) == 0);
        atomic_fetch_add(&c->popped, 1);
    }
}

START_TEST(test_stress_unpop) {
    unpop_ctx c = {.h = new_q(0), .n = FTK_SCALED(50000)};
    uint64_t total = c.n * (NTHREADS / 2);
    c.seen = calloc(total + 1, 1);
    ck_assert_ptr_nonnull(c.seen);
    ftk_test_run_threads(NTHREADS, unpop_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    for (uint64_t w = 1; w <= total; w++) REQUIRE(atomic_load(&c.seen[w]) == 1);
    ck_assert_uint_eq(qsize(c.h), 0);
    free(c.seen);
    free_q(c.h);
}
END_TEST

START_TEST(test_stress_mpmc) { run_mpmc(0, FTK_SCALED(250000)); }
END_TEST

START_TEST(test_stress_mpmc_bounded) {
    run_mpmc(8, FTK_SCALED(60000));
    run_mpmc(200, FTK_SCALED(60000));
}
END_TEST

/* Patience 0: a consumer skips any slot whose producer has claimed but not
 * yet filled it, so producers retry constantly (the lock-free path). */
START_TEST(test_stress_mpmc_skipping) {
    g_patience = 0;
    run_mpmc(0, FTK_SCALED(60000));
    run_mpmc(16, FTK_SCALED(30000));
    g_patience = -1;
}
END_TEST

/* Close at a random moment while producers and consumers block. Every push
 * that returned FTK_OK is popped or drained exactly once; pushes after the
 * close fail; nobody hangs. */
#define CP 3
#define CC 3
typedef struct {
    ftk_handle_t h;
    uint64_t max_items;
    _Atomic uint8_t *seen; /* [CP][max_items] */
    uint64_t ok[CP];       /* per producer: pushes that succeeded (a prefix) */
    int immediate;
    int close_after_us;
} close_ctx;

static void close_worker(void *arg, int i) {
    close_ctx *c = arg;
    if (i < CP) {
        uint64_t seq = 0, buf[8];
        int closed = 0;
        while (seq < c->max_items) {
            int st;
            if (seq % 3 == 0 && seq + 8 <= c->max_items) {
                size_t n = 0;
                for (int j = 0; j < 8; j++) buf[j] = item(i, seq + (uint64_t)j);
                st = ftk_queue_push_many(c->h, buf, 8, &n, -1);
                TCHECK(st == FTK_OK ? n == 8 : n < 8);
                seq += n;
            } else {
                st = ftk_queue_push(c->h, item(i, seq), -1);
                if (st == FTK_OK) seq++;
            }
            if (st == FTK_ECLOSED) {
                closed = 1;
                break;
            }
            TCHECK(st == FTK_OK);
            if (st != FTK_OK) break;
        }
        c->ok[i] = seq;
        if (closed) TCHECK(ftk_queue_try_push(c->h, item(i, seq)) == FTK_ECLOSED);
    } else if (i < CP + CC) {
        uint64_t buf[8];
        for (;;) {
            size_t n = 0;
            int st = (i & 1) ? ftk_queue_pop_many(c->h, buf, 8, &n, -1)
                             : (n = 1, ftk_queue_pop(c->h, buf, -1));
            if (st == FTK_ECLOSED) break;
            TCHECK(st == FTK_OK);
            if (st != FTK_OK) break;
            for (size_t j = 0; j < n; j++) {
                int p = (int)(buf[j] >> 40);
                uint64_t seq = buf[j] & ((1ull << 40) - 1);
                TCHECK(p < CP && seq < c->max_items);
                if (p < CP && seq < c->max_items)
                    TCHECK(atomic_fetch_add(&c->seen[(uint64_t)p * c->max_items + seq], 1) == 0);
            }
        }
    } else {
        struct timespec ts = {0, (long)c->close_after_us * 1000L};
        nanosleep(&ts, NULL);
        TCHECK(ftk_queue_close(c->h, c->immediate) == FTK_OK);
    }
}

START_TEST(test_stress_close) {
    int rounds = FTK_SCALED(80);
    uint64_t rng = 12345;
    for (int round = 0; round < rounds; round++) {
        uint64_t r = rng_next(&rng);
        close_ctx c = {.max_items = 20000,
                       .immediate = (int)(r & 1),
                       .close_after_us = (int)((r >> 8) % 3000)};
        c.h = new_q((r >> 4) % 3 == 0 ? 0 : 1 + (r >> 20) % 16);
        c.seen = calloc(CP * c.max_items, 1);
        ck_assert_ptr_nonnull(c.seen);
        ftk_test_run_threads(CP + CC + 1, close_worker, &c);
        ASSERT_NO_THREAD_FAILURES();
        /* whatever is left goes to drain */
        uint64_t buf[256];
        size_t n;
        do {
            ck_assert_int_eq(ftk_queue_drain(c.h, buf, 256, &n), FTK_OK);
            for (size_t j = 0; j < n; j++) {
                int p = (int)(buf[j] >> 40);
                uint64_t seq = buf[j] & ((1ull << 40) - 1);
                ck_assert_int_lt(p, CP);
                ck_assert_uint_lt(seq, c.max_items);
                ck_assert_uint_eq(atomic_fetch_add(&c.seen[(uint64_t)p * c.max_items + seq], 1), 0);
            }
        } while (n > 0);
        for (int p = 0; p < CP; p++)
            for (uint64_t s = 0; s < c.max_items; s++)
                ck_assert_uint_eq(c.seen[(uint64_t)p * c.max_items + s], s < c.ok[p] ? 1 : 0);
        ck_assert_uint_eq(qsize(c.h), 0);
        free(c.seen);
        free_q(c.h);
    }
}
END_TEST

/* Consumers call task_done per word; a joiner waits for all of it. */
typedef struct {
    ftk_handle_t h;
    uint64_t per_producer;
    _Atomic int producers_left;
    _Atomic uint64_t finished; /* words whose task was done */
    int join_status;
    uint64_t finished_at_join;
} join_ctx;

static void join_worker(void *arg, int i) {
    join_ctx *c = arg;
    if (i < 2) {
        for (uint64_t s = 0; s < c->per_producer; s++)
            TCHECK(ftk_queue_push(c->h, s, -1) == FTK_OK);
        atomic_fetch_sub(&c->producers_left, 1);
    } else if (i < 5) {
        uint64_t w;
        while (ftk_queue_pop(c->h, &w, -1) == FTK_OK) {
            atomic_fetch_add_explicit(&c->finished, 1, memory_order_relaxed);
            TCHECK(ftk_queue_task_done(c->h) == FTK_OK);
        }
    } else {
        while (atomic_load(&c->producers_left) > 0) sleep_ms(1);
        c->join_status = ftk_queue_join(c->h, -1);
        /* task_done happens-before the join it lets return */
        c->finished_at_join = atomic_load_explicit(&c->finished, memory_order_relaxed);
        TCHECK(ftk_queue_close(c->h, 0) == FTK_OK); /* let consumers go */
    }
}

START_TEST(test_stress_join) {
    for (int round = 0; round < 5; round++) {
        join_ctx c = {.h = new_q(round % 2 ? 0 : 32), .per_producer = FTK_SCALED(40000)};
        atomic_store(&c.producers_left, 2);
        ftk_test_run_threads(6, join_worker, &c);
        ASSERT_NO_THREAD_FAILURES();
        ck_assert_int_eq(c.join_status, FTK_OK);
        ck_assert_uint_eq(c.finished_at_join, 2 * c.per_producer);
        ck_assert_uint_eq(qunfinished(c.h), 0);
        free_q(c.h);
    }
}
END_TEST

static Suite *queue_suite(void) {
    Suite *s = suite_create("queue");

    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_new_free);
    tcase_add_test(api, test_bad_handles);
    tcase_add_test(api, test_null_out);
    tcase_add_test(api, test_value_style);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_fifo_unbounded);
    tcase_add_test(single, test_bounded_exact);
    tcase_add_test(single, test_timeouts);
    tcase_add_test(single, test_close_graceful);
    tcase_add_test(single, test_close_immediate_drain);
    tcase_add_test(single, test_drain_open);
    tcase_add_test(single, test_task_done_join);
    tcase_add_test(single, test_many);
    tcase_add_test(single, test_wake_no_waiters);
    tcase_add_test(single, test_unpop_front_order);
    tcase_add_test(single, test_unpop_close);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_push_wakes_poppers);
    tcase_add_test(conc, test_close_wakes_poppers);
    tcase_add_test(conc, test_close_wakes_pushers);
    tcase_add_test(conc, test_pop_wakes_pushers);
    tcase_add_test(conc, test_join_wakes);
    tcase_add_test(conc, test_join_shutdown_immediate);
    tcase_add_test(conc, test_wake_cancels_waiters);
    tcase_add_test(conc, test_free_wakes_waiters);
    tcase_add_test(conc, test_timed_pop_woken);
    tcase_add_test(conc, test_unpop_wakes_popper);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_mpmc);
    tcase_add_test(stress, test_stress_mpmc_bounded);
    tcase_add_test(stress, test_stress_mpmc_skipping);
    tcase_add_test(stress, test_stress_close);
    tcase_add_test(stress, test_stress_join);
    tcase_add_test(stress, test_stress_unpop);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(queue_suite()); }
