/*
 * test_gather.c - the gathering table: every entry point, bad handles, a
 * model-based random test against a plain reference, growth and shrink,
 * close/fail/wake, targeted wake-ups (slots and crowd),
 * runs and putting words back, and storms: 4 producers + 1 ordered consumer (every word exactly once, in
 * key order), several consumers reading without removing, close and free
 * racing inserts and takes (every word accounted for exactly once).
 * Public API only.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define MS 1000000LL

static ftk_handle_t new_g(size_t scaling) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_gather_new(scaling, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static void free_g(ftk_handle_t h) {
    ck_assert_int_eq(ftk_gather_free(h), FTK_OK);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
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

/* take with no wait; the word or 0 */
static uint64_t take0(ftk_handle_t h, int64_t key) {
    uint64_t w = 0;
    int st = ftk_gather_take(h, key, 0, &w);
    REQUIRE(st == FTK_OK || st == FTK_EEMPTY);
    return st == FTK_OK ? w : 0;
}

/* ---- api ------------------------------------------------------------------- */

START_TEST(test_new_free) {
    size_t base = ftk_live_handles();
    ck_assert_int_eq(ftk_gather_new(0, NULL), FTK_EINVAL);
    ftk_handle_t a = new_g(0), b = new_g(1), c = new_g((size_t)-1);
    ck_assert_uint_eq(ftk_live_handles(), base + 3);
    for (int64_t k = 0; k < 1000; k++) ck_assert_int_eq(ftk_gather_insert(a, k, (uint64_t)k + 1), FTK_OK);
    ck_assert_int_eq(ftk_gather_len(a), 1000);
    ck_assert_int_eq(ftk_gather_insert(b, -5, 9), FTK_OK); /* freed with words inside */
    ck_assert_int_eq(ftk_gather_insert(c, INT64_MAX, 9), FTK_OK);
    ck_assert_int_eq(ftk_gather_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_int_eq(ftk_gather_free(a), FTK_OK);
    ck_assert_int_eq(ftk_gather_free(a), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_gather_free(b), FTK_OK);
    ck_assert_int_eq(ftk_gather_free(c), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* Every entry point on a handle that is not a live gatherer. */
START_TEST(test_bad_handles) {
    ftk_handle_t q;
    ck_assert_int_eq(ftk_queue_new(0, &q), FTK_OK);
    ftk_handle_t dead = new_g(0);
    ck_assert_int_eq(ftk_gather_free(dead), FTK_OK);
    ftk_handle_t bad[] = {FTK_NULL_HANDLE, q, dead, H(0x0a00000000000005ull), H(~0ull)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftk_handle_t h = bad[i];
        uint64_t w = 7;
        size_t got = 3;
        if (h != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_gather_free(h), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_close(h), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_fail(h), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_wake(h), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_state(h), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_insert(h, 1, 1), FTK_EBADHANDLE);
        ck_assert_uint_eq(ftk_last_result(), 0);
        ck_assert_int_eq(ftk_gather_take(h, 1, 0, &w), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_take(h, 1, 10 * MS, &w), FTK_EBADHANDLE);
        ck_assert_uint_eq(ftk_gather_take_v(h, 1, -1), 0);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_uint_eq(ftk_gather_get_v(h, 1, -1), 0);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_insert_run(h, 1, &w, 1, &got), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_len(h), FTK_EBADHANDLE);
        got = 5;
        ck_assert_int_eq(ftk_gather_take_run(h, 0, 1, &w, 0, &got), FTK_EBADHANDLE);
        ck_assert_uint_eq(got, 0);
        ck_assert_int_eq(ftk_gather_get_run(h, 0, 1, &w, -1, NULL), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_gather_drain(h, &w, 1, &got), FTK_EBADHANDLE);
        ck_assert_uint_eq(got, 0);
    }
    ck_assert_int_eq(ftk_queue_free(q), FTK_OK);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

START_TEST(test_bad_arguments) {
    ftk_handle_t h = new_g(0);
    uint64_t w;
    size_t got;
    ck_assert_int_eq(ftk_gather_insert(h, 1, 0), FTK_EINVAL);
    ck_assert_uint_eq(ftk_last_result(), 0);
    ck_assert_int_eq(ftk_gather_take(h, 1, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_gather_drain(h, NULL, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_gather_drain(h, NULL, 1, &got), FTK_EINVAL);
    ck_assert_int_eq(ftk_gather_drain(h, NULL, 0, &got), FTK_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(ftk_gather_insert(h, 1, 5), FTK_OK);
    ck_assert_uint_eq(ftk_last_result(), 1);
    ck_assert_int_eq(ftk_gather_insert(h, 1, 6), FTK_EBUSY); /* present: unchanged */
    ck_assert_uint_eq(ftk_last_result(), 0);
    ck_assert_int_eq(ftk_gather_take(h, 1, 0, &w), FTK_OK);
    ck_assert_uint_eq(w, 5);
    ck_assert_int_eq(ftk_gather_insert(h, 1, 6), FTK_OK); /* absent again */
    ck_assert_uint_eq(ftk_gather_get_v(h, 1, 0), 6);
    ck_assert_uint_eq(ftk_gather_get_v(h, 2, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    ck_assert_uint_eq(ftk_gather_take_v(h, 2, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    free_g(h);
}
END_TEST

/* ---- single-threaded ------------------------------------------------------------ */

/* Random operations against a reference array over a small key universe
 * mapped onto spread-out keys (negative, huge, same stripe, neighbours). */
#define MODEL_KEYS 512
static int64_t model_key(unsigned i) {
    switch (i % 4) {
    case 0: return (int64_t)i;                             /* neighbours */
    case 1: return -(int64_t)i * 7919;                     /* negative */
    case 2: return (int64_t)(i * 1024ull);                 /* one stripe */
    default: return INT64_MAX - (int64_t)i * 1000003;      /* huge */
    }
}

static void model_run(size_t scaling, uint64_t seed, int steps) {
    ftk_handle_t h = new_g(scaling);
    uint64_t ref[MODEL_KEYS] = {0};
    int64_t n = 0;
    uint64_t next_w = 1;
    for (int step = 0; step < steps; step++) {
        uint64_t r = rng_next(&seed);
        unsigned i = (unsigned)(r >> 8) % MODEL_KEYS;
        int64_t k = model_key(i);
        switch (r % 8) {
        case 0: case 1: case 2: { /* insert */
            uint64_t w = next_w++;
            int st = ftk_gather_insert(h, k, w);
            if (ref[i]) {
                REQUIRE(st == FTK_EBUSY);
            } else {
                REQUIRE(st == FTK_OK);
                ref[i] = w;
                n++;
            }
            break;
        }
        case 3: case 4: { /* take */
            REQUIRE(take0(h, k) == ref[i]);
            if (ref[i]) n--;
            ref[i] = 0;
            break;
        }
        case 5: /* get */
            REQUIRE(ftk_gather_get_v(h, k, 0) == ref[i]);
            break;
        case 6: /* take + put back */
            if (ref[i]) {
                uint64_t w = take0(h, k);
                REQUIRE(w == ref[i]);
                REQUIRE(ftk_gather_insert_run(h, k, &w, 1, NULL) == FTK_OK);
                REQUIRE(ftk_gather_insert_run(h, k, &w, 1, NULL) == FTK_EBUSY);
            }
            break;
        default:
            if ((r >> 40) % 64 == 0) { /* rarely: drain everything */
                uint64_t buf[MODEL_KEYS];
                size_t got = 0;
                REQUIRE(ftk_gather_drain(h, buf, MODEL_KEYS, &got) == FTK_OK);
                REQUIRE((int64_t)got == n);
                uint64_t sum = 0, refsum = 0;
                for (size_t j = 0; j < got; j++) sum += buf[j];
                for (unsigned j = 0; j < MODEL_KEYS; j++) refsum += ref[j];
                REQUIRE(sum == refsum);
                memset(ref, 0, sizeof ref);
                n = 0;
            }
        }
        REQUIRE(ftk_gather_len(h) == n);
    }
    for (unsigned i = 0; i < MODEL_KEYS; i++) REQUIRE(take0(h, model_key(i)) == ref[i]);
    REQUIRE(ftk_gather_len(h) == 0);
    free_g(h);
}

START_TEST(test_model) {
    model_run(0, 0x9e3779b97f4a7c15ull, 100000);
    model_run(1, 12345, 50000);
}
END_TEST

START_TEST(test_growth_and_shrink) {
    ftk_handle_t h = new_g(2);
    const int64_t n = FTK_SCALED(200000);
    for (int64_t k = n - 1; k >= 0; k--) REQUIRE(ftk_gather_insert(h, k, (uint64_t)k + 1) == FTK_OK);
    ck_assert_int_eq(ftk_gather_len(h), n);
    for (int64_t k = 0; k < n; k++) REQUIRE(take0(h, k) == (uint64_t)k + 1);
    ck_assert_int_eq(ftk_gather_len(h), 0);
    /* reuse after shrinking */
    for (int64_t k = 0; k < 100; k++) REQUIRE(ftk_gather_insert(h, k * 8, 1) == FTK_OK);
    size_t got = 0;
    uint64_t small[10];
    ck_assert_int_eq(ftk_gather_drain(h, small, 10, &got), FTK_EOVERFLOW); /* all in stripe 0 */
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(ftk_gather_len(h), 100);
    uint64_t big[100];
    ck_assert_int_eq(ftk_gather_drain(h, big, 100, &got), FTK_OK);
    ck_assert_uint_eq(got, 100);
    ck_assert_int_eq(ftk_gather_len(h), 0);
    free_g(h);
}
END_TEST

START_TEST(test_close_and_fail) {
    ftk_handle_t h = new_g(0);
    uint64_t w;
    ck_assert_int_eq(ftk_gather_state(h), 0);
    ck_assert_int_eq(ftk_gather_insert(h, 0, 10), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert(h, 1, 11), FTK_OK);
    ck_assert_int_eq(ftk_gather_fail(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_fail(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_state(h), FTK_GATHER_FAILED);
    ck_assert_int_eq(ftk_gather_take(h, 0, 0, &w), FTK_ECLOSED); /* present, but failed */
    ck_assert_int_eq(ftk_gather_take(h, 5, -1, &w), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_gather_get_v(h, 1, -1), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ECLOSED);
    ck_assert_int_eq(ftk_gather_insert(h, 2, 12), FTK_OK); /* inserts still work */
    ck_assert_int_eq(ftk_gather_close(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_close(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_state(h), FTK_GATHER_FAILED | FTK_GATHER_CLOSED);
    ck_assert_int_eq(ftk_gather_insert(h, 3, 13), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_last_result(), 0);
    ck_assert_int_eq(ftk_gather_len(h), 3);
    uint64_t buf[8];
    size_t got = 0;
    ck_assert_int_eq(ftk_gather_drain(h, buf, 8, &got), FTK_OK);
    ck_assert_uint_eq(got, 3);
    ck_assert_uint_eq(buf[0] + buf[1] + buf[2], 33);
    free_g(h);

    h = new_g(0);
    ck_assert_int_eq(ftk_gather_insert(h, 0, 10), FTK_OK);
    ck_assert_int_eq(ftk_gather_close(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_state(h), FTK_GATHER_CLOSED);
    ck_assert_int_eq(ftk_gather_take(h, 0, 0, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_gather_take(h, 1, 10 * MS, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_gather_len(h), 1);
    free_g(h); /* with a word inside */
}
END_TEST

START_TEST(test_timeouts) {
    ftk_handle_t h = new_g(0);
    uint64_t w;
    ck_assert_int_eq(ftk_gather_take(h, 0, 0, &w), FTK_EEMPTY);
    int64_t t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_gather_take(h, 0, 20 * MS, &w), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 20 * MS);
    ck_assert_uint_eq(ftk_gather_get_v(h, 0, 5 * MS), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ETIMEDOUT);
    /* a waiter that timed out unpublished itself: later inserts are quiet */
    ck_assert_int_eq(ftk_gather_insert(h, 0, 3), FTK_OK);
    ck_assert_int_eq(ftk_gather_take(h, 0, 20 * MS, &w), FTK_OK);
    ck_assert_uint_eq(w, 3);
    free_g(h);
}
END_TEST

START_TEST(test_runs) {
    ftk_handle_t h = new_g(0);
    uint64_t out[16] = {0};
    size_t got = 9;
    ck_assert_int_eq(ftk_gather_take_run(h, 0, 0, out, 0, &got), FTK_EINVAL);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(ftk_gather_take_run(h, 0, 4, NULL, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_gather_take_run(h, 0, 4, out, 0, &got), FTK_EEMPTY);
    ck_assert_int_eq(ftk_gather_get_run(h, 0, 4, out, 5 * MS, NULL), FTK_ETIMEDOUT);
    for (int64_t k = 0; k < 10; k++)
        if (k != 6) ck_assert_int_eq(ftk_gather_insert(h, k, (uint64_t)k + 100), FTK_OK);
    ck_assert_int_eq(ftk_gather_get_run(h, 0, 16, out, 0, &got), 6); /* stops at the gap */
    ck_assert_uint_eq(got, 6);
    ck_assert_uint_eq(out[5], 105);
    ck_assert_int_eq(ftk_gather_len(h), 9);
    ck_assert_int_eq(ftk_gather_take_run(h, 1, 3, out, 0, &got), 3); /* at most max */
    ck_assert_uint_eq(got, 3);
    ck_assert_uint_eq(out[0] + out[1] + out[2], 101 + 102 + 103);
    ck_assert_int_eq(ftk_gather_len(h), 6);
    /* put back from index 1: keys 2 and 3 return, key 1 was delivered */
    size_t done = 9;
    ck_assert_int_eq(ftk_gather_insert_run(h, 2, out + 1, 2, &done), FTK_OK);
    ck_assert_uint_eq(done, 2);
    ck_assert_int_eq(ftk_gather_len(h), 8);
    ck_assert_uint_eq(ftk_gather_get_v(h, 1, 0), 0);
    ck_assert_uint_eq(ftk_gather_get_v(h, 2, 0), 102);
    ck_assert_uint_eq(ftk_gather_get_v(h, 3, 0), 103);
    /* a key present: skipped, the others go in */
    uint64_t ws[3] = {7, 8, 9};
    ck_assert_int_eq(ftk_gather_insert_run(h, 20, ws, 3, NULL), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert_run(h, 22, ws, 3, &done), FTK_EBUSY);
    ck_assert_uint_eq(done, 2);
    ck_assert_uint_eq(ftk_gather_get_v(h, 22, 0), 9);
    ck_assert_uint_eq(ftk_gather_get_v(h, 23, 0), 8);
    ck_assert_uint_eq(ftk_gather_get_v(h, 24, 0), 9);
    ck_assert_int_eq(ftk_gather_insert_run(h, 0, NULL, 0, &done), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert_run(h, 0, NULL, 1, &done), FTK_EINVAL);
    uint64_t zero[2] = {1, 0};
    ck_assert_int_eq(ftk_gather_insert_run(h, 40, zero, 2, &done), FTK_EINVAL);
    ck_assert_uint_eq(ftk_gather_get_v(h, 40, 0), 0); /* nothing inserted */
    ck_assert_int_eq(ftk_gather_insert_run(h, INT64_MAX, ws, 2, &done), FTK_EINVAL);
    /* runs end at INT64_MAX, start anywhere */
    ck_assert_int_eq(ftk_gather_insert(h, INT64_MAX - 1, 1), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert(h, INT64_MAX, 2), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert(h, INT64_MIN, 3), FTK_OK);
    ck_assert_int_eq(ftk_gather_take_run(h, INT64_MAX - 1, 16, out, 0, NULL), 2);
    ck_assert_int_eq(ftk_gather_take_run(h, INT64_MIN, 16, out, 0, NULL), 1);
    ck_assert_uint_eq(out[0], 3);
    ck_assert_int_eq(ftk_gather_insert_run(h, -3, ws, 2, NULL), FTK_OK); /* keys -3, -2 */
    ck_assert_int_eq(ftk_gather_take_run(h, -3, (size_t)-1, out, 0, NULL), 2); /* huge max */
    ck_assert_int_eq(ftk_gather_insert_run(h, INT64_MAX - 1, ws, 2, NULL), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert_run(h, INT64_MIN, ws, 2, NULL), FTK_OK);
    ck_assert_int_eq(ftk_gather_take_run(h, INT64_MAX, (size_t)-1, out, 0, NULL), 1);
    ck_assert_int_eq(ftk_gather_take_run(h, INT64_MIN, (size_t)-1, out, 0, NULL), 2);
    ck_assert_int_eq(ftk_gather_close(h), FTK_OK);
    ck_assert_int_eq(ftk_gather_insert_run(h, 50, ws, 2, &done), FTK_ECLOSED);
    ck_assert_uint_eq(done, 0);
    free_g(h);
}
END_TEST

/* ---- concurrent -------------------------------------------------------------- */

typedef struct {
    ftk_handle_t h;
    int action;
    int64_t key;
    _Atomic int started;
    int status;
    uint64_t w;
} waiter_ctx;

enum { ACT_INSERT, ACT_WAKE, ACT_CLOSE, ACT_FAIL, ACT_FREE, ACT_OTHER_KEYS };

static void waiter_fn(void *arg, int i) {
    waiter_ctx *c = arg;
    if (i == 0) {
        atomic_store(&c->started, 1);
        c->status = ftk_gather_take(c->h, c->key, 5000 * MS, &c->w);
        return;
    }
    while (!atomic_load(&c->started)) sched_yield();
    sleep_ms(20); /* most likely asleep by now; correct either way */
    switch (c->action) {
    case ACT_INSERT: TCHECK(ftk_gather_insert(c->h, c->key, 77) == FTK_OK); break;
    case ACT_WAKE: TCHECK(ftk_gather_wake(c->h) == FTK_OK); break;
    case ACT_CLOSE: TCHECK(ftk_gather_close(c->h) == FTK_OK); break;
    case ACT_FAIL: TCHECK(ftk_gather_fail(c->h) == FTK_OK); break;
    case ACT_FREE: TCHECK(ftk_gather_free(c->h) == FTK_OK); break;
    case ACT_OTHER_KEYS:
        /* other keys (same stripe too) do not satisfy it; then its own does */
        for (int64_t k = 1; k < 64; k++) TCHECK(ftk_gather_insert(c->h, c->key + k, 1) == FTK_OK);
        sleep_ms(5);
        TCHECK(ftk_gather_insert(c->h, c->key, 78) == FTK_OK);
        break;
    }
}

static int run_waiter(ftk_handle_t h, int action, int64_t key, uint64_t *w) {
    waiter_ctx c = {.h = h, .action = action, .key = key};
    ftk_test_run_threads(2, waiter_fn, &c);
    *w = c.w;
    return c.status;
}

START_TEST(test_wakeups) {
    uint64_t w;
    ftk_handle_t h = new_g(0);
    ck_assert_int_eq(run_waiter(h, ACT_INSERT, 5, &w), FTK_OK);
    ck_assert_uint_eq(w, 77);
    ck_assert_int_eq(run_waiter(h, ACT_INSERT, -12345, &w), FTK_OK);
    ck_assert_uint_eq(w, 77);
    ck_assert_int_eq(run_waiter(h, ACT_OTHER_KEYS, 1000, &w), FTK_OK);
    ck_assert_uint_eq(w, 78);
    ck_assert_int_eq(run_waiter(h, ACT_WAKE, 5, &w), FTK_EINTR);
    ck_assert_int_eq(ftk_gather_insert(h, 5, 1), FTK_OK); /* later calls unaffected */
    ck_assert_int_eq(ftk_gather_take(h, 5, 10 * MS, &w), FTK_OK);
    ck_assert_int_eq(run_waiter(h, ACT_FAIL, 6, &w), FTK_ECLOSED);
    free_g(h);
    h = new_g(0);
    ck_assert_int_eq(run_waiter(h, ACT_CLOSE, 6, &w), FTK_ECLOSED);
    free_g(h);
    h = new_g(0);
    ck_assert_int_eq(run_waiter(h, ACT_FREE, 6, &w), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    ASSERT_NO_THREAD_FAILURES();
}
END_TEST

/* More waiters than publication slots (the crowd): each waits for its own
 * key; one inserter inserts the keys in reverse order. Every waiter gets
 * exactly its word. */
typedef struct {
    ftk_handle_t h;
    int nwait;
    _Atomic int ready;
} crowd_ctx;

static void crowd_fn(void *arg, int i) {
    crowd_ctx *c = arg;
    if (i < c->nwait) {
        atomic_fetch_add(&c->ready, 1);
        uint64_t w = 0;
        TCHECK(ftk_gather_take(c->h, i * 3, 5000 * MS, &w) == FTK_OK);
        TCHECK(w == (uint64_t)i + 100);
        return;
    }
    while (atomic_load(&c->ready) < c->nwait) sched_yield();
    sleep_ms(20);
    for (int k = c->nwait - 1; k >= 0; k--) {
        TCHECK(ftk_gather_insert(c->h, k * 3, (uint64_t)k + 100) == FTK_OK);
        if (k % 2) sleep_ms(2);
    }
}

START_TEST(test_crowd) {
    crowd_ctx c = {.h = new_g(0), .nwait = 5};
    ftk_test_run_threads(6, crowd_fn, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(ftk_gather_len(c.h), 0);
    free_g(c.h);
}
END_TEST

/* ---- stress ------------------------------------------------------------------ */

/* 4 producers insert keys p, p+4, ... in a shuffled order within windows;
 * one consumer takes 0..n-1 in order (blocking). Every word arrives exactly
 * once, in key order. */
typedef struct {
    ftk_handle_t h;
    int64_t n;
    int producers;
    bool get_only; /* consumers read without removing */
    int consumers;
} fanin_ctx;

static void fanin_fn(void *arg, int i) {
    fanin_ctx *c = arg;
    if (i < c->producers) {
        uint64_t seed = 0x1234567ull + (uint64_t)i;
        const int64_t win = 64;
        for (int64_t base = 0; base < c->n; base += win * c->producers) {
            int64_t keys[64];
            int m = 0;
            for (int64_t j = 0; j < win; j++) {
                int64_t k = base + j * c->producers + i;
                if (k < c->n) keys[m++] = k;
            }
            for (int j = m - 1; j > 0; j--) { /* shuffle the window */
                int r = (int)(rng_next(&seed) % (uint64_t)(j + 1));
                int64_t t = keys[j];
                keys[j] = keys[r];
                keys[r] = t;
            }
            for (int j = 0; j < m; j++)
                TCHECK(ftk_gather_insert(c->h, keys[j], (uint64_t)keys[j] * 2 + 1) == FTK_OK);
        }
        return;
    }
    uint64_t out[32];
    for (int64_t k = 0; k < c->n;) {
        int64_t n;
        if (k % 3 == 0) { /* single steps and runs */
            out[0] = c->get_only ? ftk_gather_get_v(c->h, k, -1) : ftk_gather_take_v(c->h, k, -1);
            n = 1;
        } else {
            size_t max = (size_t)(c->n - k < 32 ? c->n - k : 32);
            n = c->get_only ? ftk_gather_get_run(c->h, k, max, out, -1, NULL)
                            : ftk_gather_take_run(c->h, k, max, out, -1, NULL);
            TCHECK(n >= 1);
            if (n < 1) return;
        }
        for (int64_t j = 0; j < n; j++, k++) {
            if (out[j] != (uint64_t)k * 2 + 1) {
                TCHECK(out[j] == (uint64_t)k * 2 + 1);
                return;
            }
        }
    }
}

START_TEST(test_stress_fanin) {
    for (int round = 0; round < 3; round++) {
        fanin_ctx c = {.h = new_g(4), .n = FTK_SCALED(200000), .producers = 4, .consumers = 1};
        ftk_test_run_threads(5, fanin_fn, &c);
        ASSERT_NO_THREAD_FAILURES();
        ck_assert_int_eq(ftk_gather_len(c.h), 0);
        free_g(c.h);
    }
}
END_TEST

START_TEST(test_stress_readers) {
    fanin_ctx c = {.h = new_g(0), .n = FTK_SCALED(100000), .producers = 4, .get_only = true,
                   .consumers = 4};
    ftk_test_run_threads(NTHREADS, fanin_fn, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(ftk_gather_len(c.h), c.n);
    size_t got = 0;
    uint64_t *buf = malloc((size_t)c.n * sizeof(uint64_t));
    ck_assert_int_eq(ftk_gather_drain(c.h, buf, (size_t)c.n, &got), FTK_OK);
    ck_assert_uint_eq(got, (size_t)c.n);
    free(buf);
    free_g(c.h);
}
END_TEST

/* Close racing inserts and takes: every word is taken exactly once, left
 * for the drain, or refused (FTK_ECLOSED); consumers end with FTK_ECLOSED. */
typedef struct {
    ftk_handle_t h;
    int64_t n;
    bool use_free;
    _Atomic int64_t inserted, refused, taken;
    _Atomic unsigned char *seen;
} close_ctx;

static void close_fn(void *arg, int i) {
    close_ctx *c = arg;
    if (i < 4) { /* producers */
        for (int64_t k = i; k < c->n; k += 4) {
            int st = ftk_gather_insert(c->h, k, (uint64_t)k + 1);
            if (st == FTK_OK) {
                atomic_fetch_add(&c->inserted, 1);
            } else {
                TCHECK(st == FTK_ECLOSED || (c->use_free && st == FTK_EBADHANDLE));
                atomic_fetch_add(&c->refused, 1);
            }
        }
        return;
    }
    if (i == 7) { /* the closer */
        sleep_ms(5);
        if (c->use_free)
            TCHECK(ftk_gather_free(c->h) == FTK_OK);
        else
            TCHECK(ftk_gather_close(c->h) == FTK_OK);
        return;
    }
    /* consumers 4..6: keys i-4, i-4+3, ... each waits for its own keys */
    for (int64_t k = i - 4; k < c->n; k += 3) {
        uint64_t w = 0;
        int st = ftk_gather_take(c->h, k, -1, &w);
        if (st != FTK_OK) {
            TCHECK(st == FTK_ECLOSED || (c->use_free && st == FTK_EBADHANDLE));
            return;
        }
        TCHECK(w == (uint64_t)k + 1);
        TCHECK(atomic_fetch_add(&c->seen[k], 1) == 0);
        atomic_fetch_add(&c->taken, 1);
    }
}

START_TEST(test_stress_close) {
    for (int round = 0; round < 6; round++) {
        close_ctx c = {.h = new_g(0), .n = FTK_SCALED(400000), .use_free = round % 2 == 1};
        c.seen = calloc((size_t)c.n, 1);
        ftk_test_run_threads(NTHREADS, close_fn, &c);
        ASSERT_NO_THREAD_FAILURES();
        ck_assert_int_eq(atomic_load(&c.inserted) + atomic_load(&c.refused), c.n);
        if (!c.use_free) {
            size_t got = 0;
            uint64_t *buf = malloc((size_t)c.n * sizeof(uint64_t));
            ck_assert_int_eq(ftk_gather_drain(c.h, buf, (size_t)c.n, &got), FTK_OK);
            for (size_t j = 0; j < got; j++) {
                REQUIRE(buf[j] >= 1 && buf[j] <= (uint64_t)c.n);
                REQUIRE(c.seen[buf[j] - 1]++ == 0);
            }
            ck_assert_int_eq(atomic_load(&c.taken) + (int64_t)got, atomic_load(&c.inserted));
            free(buf);
            free_g(c.h);
        } else {
            ck_assert_uint_eq(ftk_reclaim_collect(), 0);
        }
        free(c.seen);
    }
}
END_TEST

/* Interrupt-recovery churn: consumers take and give back at random while a
 * producer inserts; in the end every word is taken exactly once. */
typedef struct {
    ftk_handle_t h;
    int64_t n;
    _Atomic int64_t next;
    _Atomic unsigned char *seen;
} untake_ctx;

static void untake_fn(void *arg, int i) {
    untake_ctx *c = arg;
    if (i == 0) {
        for (int64_t k = c->n - 1; k >= 0; k--) TCHECK(ftk_gather_insert(c->h, k, (uint64_t)k + 1) == FTK_OK);
        return;
    }
    uint64_t seed = (uint64_t)i * 977 + 1;
    for (;;) {
        int64_t k = atomic_fetch_add(&c->next, 1);
        if (k >= c->n) return;
        uint64_t w;
        for (;;) {
            TCHECK(ftk_gather_take(c->h, k, -1, &w) == FTK_OK);
            if (rng_next(&seed) % 4) break;
            TCHECK(ftk_gather_insert_run(c->h, k, &w, 1, NULL) == FTK_OK); /* "interrupted": put back */
        }
        TCHECK(w == (uint64_t)k + 1);
        TCHECK(atomic_fetch_add(&c->seen[k], 1) == 0);
    }
}

START_TEST(test_stress_untake) {
    untake_ctx c = {.h = new_g(0), .n = FTK_SCALED(100000)};
    c.seen = calloc((size_t)c.n, 1);
    ftk_test_run_threads(4, untake_fn, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(ftk_gather_len(c.h), 0);
    free(c.seen);
    free_g(c.h);
}
END_TEST

/* Every entry point racing close and free (memory safety under ASan/TSan;
 * every call returns a documented status). Threads 0-5 call everything in
 * a loop until the handle is gone; thread 6 closes, thread 7 frees. */
typedef struct {
    ftk_handle_t h;
    _Atomic int gone;
} chaos_ctx;

static int ok_status(int64_t st) {
    return st >= 0 || st == FTK_EEMPTY || st == FTK_ETIMEDOUT || st == FTK_ECLOSED ||
           st == FTK_EBADHANDLE || st == FTK_EBUSY || st == FTK_EINTR || st == FTK_EOVERFLOW;
}

static void chaos_fn(void *arg, int i) {
    chaos_ctx *c = arg;
    if (i >= 6) {
        sleep_ms(i == 6 ? 3 : 6);
        if (i == 6) {
            int st = ftk_gather_close(c->h);
            TCHECK(st == FTK_OK || st == FTK_EBADHANDLE); /* freed first */
        } else {
            TCHECK(ftk_gather_free(c->h) == FTK_OK);
            atomic_store(&c->gone, 1);
        }
        return;
    }
    uint64_t out[8], w = 0;
    size_t got;
    for (int64_t k = i; !atomic_load(&c->gone); k += 6) {
        int64_t kk = k % 4096;
        uint64_t ws[2] = {(uint64_t)kk + 1, (uint64_t)kk + 2};
        TCHECK(ok_status(ftk_gather_insert(c->h, kk, (uint64_t)kk + 1)));
        TCHECK(ok_status(ftk_gather_insert_run(c->h, kk + 4096, ws, 2, &got)));
        TCHECK(ok_status(ftk_gather_take_run(c->h, kk, 8, out, 1000, &got)));
        TCHECK(ok_status(ftk_gather_get_run(c->h, kk, 8, out, 0, NULL)));
        TCHECK(ok_status(ftk_gather_take(c->h, kk + 1, 0, &w)));
        (void)ftk_gather_get_v(c->h, kk, 0);
        TCHECK(ok_status(ftk_gather_len(c->h)));
        TCHECK(ok_status(ftk_gather_state(c->h)));
        TCHECK(ok_status(ftk_gather_drain(c->h, out, 8, &got)));
        if (k % 64 == 0) {
            TCHECK(ok_status(ftk_gather_wake(c->h)));
            TCHECK(ok_status(ftk_gather_take_run(c->h, -1, 1, out, 200000, NULL))); /* waits */
        }
        if (k % 997 == 0) TCHECK(ok_status(ftk_gather_fail(c->h)));
    }
}

START_TEST(test_stress_chaos_close_free) {
    for (int round = 0; round < 4; round++) {
        chaos_ctx c = {.h = new_g((size_t)round)};
        ftk_test_run_threads(NTHREADS, chaos_fn, &c);
        ASSERT_NO_THREAD_FAILURES();
        ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    }
}
END_TEST

/* Close is linearizable for inserts too: once a take has seen the gatherer
 * closed, an insert that starts later (here, by the same thread) must be
 * refused, in every stripe. Close sets the state bit before it walks the
 * stripes; inserts once checked only their stripe's flag, so an insert into
 * a stripe the walk had not reached went in after a take had returned
 * FTK_ECLOSED (found by tests/fuzz/fuzz_mods.c). */
typedef struct {
    ftk_handle_t h;
    _Atomic int go;
    int accepted;
} close_lin_ctx;

static void close_lin_fn(void *arg, int i) {
    close_lin_ctx *c = arg;
    if (i == 0) {
        while (!atomic_load(&c->go)) {
        }
        TCHECK(ftk_gather_close(c->h) == FTK_OK);
        return;
    }
    uint64_t w;
    atomic_store(&c->go, 1);
    while (ftk_gather_take(c->h, -1, 0, &w) != FTK_ECLOSED) {
    }
    for (int64_t k = 0; k < 1024; k++) { /* a key in every stripe */
        int st = ftk_gather_insert(c->h, k, (uint64_t)k + 1);
        TCHECK(st == FTK_ECLOSED);
        if (st == FTK_OK) c->accepted++;
    }
}

START_TEST(test_close_then_insert) {
    int accepted = 0;
    for (int round = 0; round < FTK_SCALED(2000); round++) {
        close_lin_ctx c = {.h = new_g(round % 2 ? 256 : 0)};
        ftk_test_run_threads(2, close_lin_fn, &c);
        accepted += c.accepted;
        free_g(c.h);
        if (atomic_load(&g_fail)) break;
    }
    ck_assert_int_eq(accepted, 0);
    ASSERT_NO_THREAD_FAILURES();
}
END_TEST

static Suite *gather_suite(void) {
    Suite *s = suite_create("gather");

    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_new_free);
    tcase_add_test(api, test_bad_handles);
    tcase_add_test(api, test_bad_arguments);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_model);
    tcase_add_test(single, test_growth_and_shrink);
    tcase_add_test(single, test_close_and_fail);
    tcase_add_test(single, test_timeouts);
    tcase_add_test(single, test_runs);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_wakeups);
    tcase_add_test(conc, test_crowd);
    tcase_add_test(conc, test_close_then_insert);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_fanin);
    tcase_add_test(stress, test_stress_readers);
    tcase_add_test(stress, test_stress_close);
    tcase_add_test(stress, test_stress_untake);
    tcase_add_test(stress, test_stress_chaos_close_free);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(gather_suite()); }
