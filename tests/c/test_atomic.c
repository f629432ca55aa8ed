/*
 * test_atomic.c - atomic int64, flag and word reference: every entry point,
 * wrapping arithmetic, Python floor division, both call styles, bad handles,
 * and linearizability checks under 8 threads. Public API only.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"


#define NTHREADS 8


static ftk_handle_t new_i64(int64_t v) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_int64_new(v, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static int64_t get_i64(ftk_handle_t h) {
    int64_t v = 0;
    ck_assert_int_eq(ftk_int64_load(h, &v), FTK_OK);
    return v;
}

/* a handle that is certainly dead: created and freed */
static ftk_handle_t dead_handle(void) {
    ftk_handle_t h = new_i64(0);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
    return h;
}

/* ---- api: int64 ---------------------------------------------------------- */

START_TEST(test_int64_basic) {
    size_t base = ftk_live_handles();
    ftk_handle_t h = new_i64(-5);
    ck_assert_uint_eq(ftk_live_handles(), base + 1);
    ck_assert_int_eq(get_i64(h), -5);
    ck_assert_int_eq(ftk_int64_store(h, INT64_MIN), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MIN);
    ck_assert_int_eq(ftk_int64_store(h, INT64_MAX), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MAX);
    ck_assert_int_eq(ftk_int64_load(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);

    ftk_handle_t e1 = new_i64(INT64_MIN), e2 = new_i64(INT64_MAX), e3 = new_i64(0);
    ck_assert_int_eq(get_i64(e1), INT64_MIN);
    ck_assert_int_eq(get_i64(e2), INT64_MAX);
    ck_assert_int_eq(get_i64(e3), 0);
    ck_assert_int_eq(ftk_int64_free(e1), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(e2), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(e3), FTK_OK);
}
END_TEST

START_TEST(test_int64_add_sub_wrap) {
    ftk_handle_t h = new_i64(10);
    int64_t old = 0;
    ck_assert_int_eq(ftk_int64_fetch_add(h, 5, &old), FTK_OK);
    ck_assert_int_eq(old, 10);
    ck_assert_int_eq(get_i64(h), 15);
    ck_assert_int_eq(ftk_int64_fetch_sub(h, 20, &old), FTK_OK);
    ck_assert_int_eq(old, 15);
    ck_assert_int_eq(get_i64(h), -5);
    ck_assert_int_eq(ftk_int64_fetch_add(h, 5, NULL), FTK_OK); /* old may be NULL */
    ck_assert_int_eq(ftk_int64_fetch_sub(h, 1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), -1);

    /* wrap at both ends */
    ck_assert_int_eq(ftk_int64_store(h, INT64_MAX), FTK_OK);
    ck_assert_int_eq(ftk_int64_fetch_add(h, 1, &old), FTK_OK);
    ck_assert_int_eq(old, INT64_MAX);
    ck_assert_int_eq(get_i64(h), INT64_MIN);
    ck_assert_int_eq(ftk_int64_fetch_sub(h, 1, &old), FTK_OK);
    ck_assert_int_eq(old, INT64_MIN);
    ck_assert_int_eq(get_i64(h), INT64_MAX);
    ck_assert_int_eq(ftk_int64_fetch_add(h, INT64_MAX, &old), FTK_OK);
    ck_assert_int_eq(get_i64(h), -2);
    ck_assert_int_eq(ftk_int64_store(h, INT64_MIN), FTK_OK);
    ck_assert_int_eq(ftk_int64_fetch_add(h, INT64_MIN, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), 0);
    ck_assert_int_eq(ftk_int64_fetch_sub(h, INT64_MIN, NULL), FTK_OK); /* 0 - MIN */
    ck_assert_int_eq(get_i64(h), INT64_MIN);
    ck_assert_int_eq(ftk_int64_fetch_add(h, -1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MAX);
    ck_assert_int_eq(ftk_int64_fetch_sub(h, -1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MIN);

    /* value style */
    ck_assert_int_eq(ftk_int64_store(h, INT64_MAX - 1), FTK_OK);
    ck_assert_int_eq(ftk_int64_add_v(h, 1), INT64_MAX);           /* new value */
    ck_assert_int_eq(ftk_int64_add_v(h, 1), INT64_MIN);           /* wraps */
    ck_assert_int_eq(ftk_int64_fetch_add_v(h, -1), INT64_MIN);    /* old value */
    ck_assert_int_eq(ftk_int64_fetch_add_v(h, 3), INT64_MAX);
    ck_assert_int_eq(ftk_int64_load_v(h), INT64_MIN + 2);
    ck_assert_int_eq(ftk_int64_add_v(h, -3), INT64_MAX);
    ck_assert_int_eq(ftk_int64_add_v(h, 0), INT64_MAX);
    ck_assert_int_eq(ftk_int64_fetch_sub_v(h, -1), INT64_MAX);    /* old value */
    ck_assert_int_eq(ftk_int64_fetch_sub_v(h, 1), INT64_MIN);     /* wraps back */
    ck_assert_int_eq(ftk_int64_fetch_sub_v(h, INT64_MIN), INT64_MAX);
    ck_assert_int_eq(ftk_int64_load_v(h), -1);
    ck_assert_int_eq(ftk_int64_fetch_sub_v(h, 0), -1);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
}
END_TEST

START_TEST(test_int64_bitwise) {
    ftk_handle_t h = new_i64(0x0ff0);
    int64_t old;
    ck_assert_int_eq(ftk_int64_fetch_and(h, 0x00ff, &old), FTK_OK);
    ck_assert_int_eq(old, 0x0ff0);
    ck_assert_int_eq(get_i64(h), 0x00f0);
    ck_assert_int_eq(ftk_int64_fetch_or(h, 0x0f0f, &old), FTK_OK);
    ck_assert_int_eq(old, 0x00f0);
    ck_assert_int_eq(get_i64(h), 0x0fff);
    ck_assert_int_eq(ftk_int64_fetch_xor(h, 0x0ff0, &old), FTK_OK);
    ck_assert_int_eq(old, 0x0fff);
    ck_assert_int_eq(get_i64(h), 0x000f);
    /* negative operands: two's complement bit patterns */
    ck_assert_int_eq(ftk_int64_fetch_or(h, INT64_MIN, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MIN | 0x0f);
    ck_assert_int_eq(ftk_int64_fetch_xor(h, -1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), ~(INT64_MIN | 0x0f));
    ck_assert_int_eq(ftk_int64_fetch_and(h, -16, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MAX & -16);
    ck_assert_int_eq(ftk_int64_fetch_and(h, 0, &old), FTK_OK);
    ck_assert_int_eq(old, INT64_MAX & -16);
    ck_assert_int_eq(get_i64(h), 0);
    ck_assert_int_eq(ftk_int64_fetch_or(h, -1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), -1);
    ck_assert_int_eq(ftk_int64_fetch_xor(h, INT64_MAX, &old), FTK_OK);
    ck_assert_int_eq(old, -1);
    ck_assert_int_eq(get_i64(h), INT64_MIN);

    /* value style returns the old value */
    ck_assert_int_eq(ftk_int64_fetch_or_v(h, 0x0f), INT64_MIN);
    ck_assert_int_eq(ftk_int64_fetch_and_v(h, 0x3c), INT64_MIN | 0x0f);
    ck_assert_int_eq(ftk_int64_fetch_xor_v(h, -1), 0x0c);
    ck_assert_int_eq(ftk_int64_fetch_and_v(h, INT64_MIN), ~(int64_t)0x0c);
    ck_assert_int_eq(ftk_int64_fetch_or_v(h, 0), INT64_MIN);
    ck_assert_int_eq(ftk_int64_fetch_xor_v(h, INT64_MIN), INT64_MIN);
    ck_assert_int_eq(get_i64(h), 0);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
}
END_TEST

START_TEST(test_int64_mul_wrap) {
    struct { int64_t a, b, want; } cases[] = {
        {3, 4, 12},
        {-3, 4, -12},
        {-3, -4, 12},
        {0, INT64_MIN, 0},
        {INT64_MAX, 0, 0},
        {INT64_MAX, 1, INT64_MAX},
        {INT64_MAX, 2, -2},
        {INT64_MAX, -1, INT64_MIN + 1},
        {INT64_MIN, -1, INT64_MIN},
        {-1, INT64_MIN, INT64_MIN},
        {INT64_MIN, 2, 0},
        {INT64_MIN, INT64_MIN, 0},
        {INT64_MAX, INT64_MAX, 1},
        {(int64_t)1 << 32, (int64_t)1 << 32, 0},
        {((int64_t)1 << 32) + 1, ((int64_t)1 << 32) + 1, ((int64_t)1 << 33) + 1},
        {(int64_t)1 << 62, 2, INT64_MIN},
        {(int64_t)1 << 62, -2, INT64_MIN},
        {(int64_t)1 << 62, 4, 0},
        {0x123456789LL, 0x987654321LL, (int64_t)(0x123456789ULL * 0x987654321ULL)},
    };
    ftk_handle_t h = new_i64(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(ftk_int64_store(h, cases[i].a), FTK_OK);
        int64_t old = 0;
        ck_assert_int_eq(ftk_int64_fetch_mul(h, cases[i].b, &old), FTK_OK);
        ck_assert_int_eq(old, cases[i].a);
        ck_assert_msg(get_i64(h) == cases[i].want, "%lld * %lld = %lld, want %lld",
                      (long long)cases[i].a, (long long)cases[i].b, (long long)get_i64(h),
                      (long long)cases[i].want);
    }
    ck_assert_int_eq(ftk_int64_store(h, 7), FTK_OK);
    ck_assert_int_eq(ftk_int64_fetch_mul(h, 6, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(h), 42);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
}
END_TEST

/* Python: q = a // b is floor(a / b), r = a - q*b has the sign of b and
 * |r| < |b|. Checked in 128-bit arithmetic, independent of any formula. */
static void check_floordiv(ftk_handle_t h, int64_t a, int64_t b) {
    ck_assert_int_eq(ftk_int64_store(h, a), FTK_OK);
    int64_t old = 0;
    ck_assert_int_eq(ftk_int64_fetch_floordiv(h, b, &old), FTK_OK);
    ck_assert_int_eq(old, a);
    int64_t q = get_i64(h);
    if (a == INT64_MIN && b == -1) {
        ck_assert_int_eq(q, INT64_MIN); /* 2**63 wraps */
        return;
    }
    __int128 r = (__int128)a - (__int128)q * b;
    if (b > 0)
        ck_assert_msg(r >= 0 && r < b, "%lld // %lld = %lld", (long long)a, (long long)b,
                      (long long)q);
    else
        ck_assert_msg(r <= 0 && r > b, "%lld // %lld = %lld", (long long)a, (long long)b,
                      (long long)q);
}

START_TEST(test_int64_floordiv) {
    ftk_handle_t h = new_i64(0);
    /* known Python results */
    struct { int64_t a, b, want; } known[] = {
        {7, 2, 3},     {-7, 2, -4},    {7, -2, -4},   {-7, -2, 3},
        {6, 3, 2},     {-6, 3, -2},    {6, -3, -2},   {-6, -3, 2},
        {1, 2, 0},     {-1, 2, -1},    {1, -2, -1},   {-1, -2, 0},
        {0, 5, 0},     {0, -5, 0},     {5, 1, 5},     {5, -1, -5},
        {INT64_MIN, -1, INT64_MIN},    {INT64_MIN, 1, INT64_MIN},
        {INT64_MAX, -1, -INT64_MAX},   {INT64_MIN, 2, INT64_MIN / 2},
        {INT64_MIN, -2, (int64_t)1 << 62},
        {INT64_MIN, INT64_MAX, -2},    {INT64_MAX, INT64_MIN, -1},
        {INT64_MIN, INT64_MIN, 1},     {INT64_MAX, INT64_MAX, 1},
        {-INT64_MAX, INT64_MIN, 0},    {INT64_MIN + 1, -1, INT64_MAX},
        {INT64_MAX, 2, INT64_MAX / 2}, {INT64_MIN + 1, 2, INT64_MIN / 2},
        {-1000000007, 1000, -1000001}, {1000000007, -1000, -1000001},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ck_assert_int_eq(ftk_int64_store(h, known[i].a), FTK_OK);
        ck_assert_int_eq(ftk_int64_fetch_floordiv(h, known[i].b, NULL), FTK_OK);
        ck_assert_msg(get_i64(h) == known[i].want, "%lld // %lld = %lld, want %lld",
                      (long long)known[i].a, (long long)known[i].b, (long long)get_i64(h),
                      (long long)known[i].want);
    }
    /* all sign combinations over a grid, including the extremes */
    const int64_t vals[] = {INT64_MIN, INT64_MIN + 1, -1000000007, -65536, -7, -6, -3,
                            -2,        -1,            0,           1,      2,  3,  6,
                            7,         65536,         1000000007,  INT64_MAX - 1,
                            INT64_MAX};
    const size_t nv = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < nv; j++)
            if (vals[j] != 0) check_floordiv(h, vals[i], vals[j]);

    /* division by zero: EINVAL, value and *old untouched */
    ck_assert_int_eq(ftk_int64_store(h, 1234), FTK_OK);
    int64_t old = -77;
    ck_assert_int_eq(ftk_int64_fetch_floordiv(h, 0, &old), FTK_EINVAL);
    ck_assert_int_eq(old, -77);
    ck_assert_int_eq(get_i64(h), 1234);
    ck_assert_int_eq(ftk_int64_fetch_floordiv(h, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_int64_store(h, 0), FTK_OK);
    ck_assert_int_eq(ftk_int64_fetch_floordiv(h, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(get_i64(h), 0);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
}
END_TEST

START_TEST(test_int64_exchange_cas) {
    ftk_handle_t h = new_i64(1);
    int64_t old = 0;
    ck_assert_int_eq(ftk_int64_exchange(h, INT64_MIN, &old), FTK_OK);
    ck_assert_int_eq(old, 1);
    ck_assert_int_eq(ftk_int64_exchange(h, 2, NULL), FTK_OK);
    ck_assert_int_eq(ftk_int64_exchange_v(h, INT64_MAX), 2);
    ck_assert_int_eq(ftk_int64_exchange_v(h, -3), INT64_MAX);
    ck_assert_int_eq(get_i64(h), -3);

    /* success: replaced, *expected untouched */
    int64_t expected = -3;
    ck_assert_int_eq(ftk_int64_compare_exchange(h, &expected, 40), FTK_OK);
    ck_assert_int_eq(expected, -3);
    ck_assert_int_eq(get_i64(h), 40);
    /* failure: EAGAIN, value untouched, *expected = current */
    expected = 39;
    ck_assert_int_eq(ftk_int64_compare_exchange(h, &expected, 0), FTK_EAGAIN);
    ck_assert_int_eq(expected, 40);
    ck_assert_int_eq(get_i64(h), 40);
    /* the updated expected now succeeds */
    ck_assert_int_eq(ftk_int64_compare_exchange(h, &expected, INT64_MIN), FTK_OK);
    ck_assert_int_eq(get_i64(h), INT64_MIN);
    expected = INT64_MAX;
    ck_assert_int_eq(ftk_int64_compare_exchange(h, &expected, 0), FTK_EAGAIN);
    ck_assert_int_eq(expected, INT64_MIN);
    ck_assert_int_eq(ftk_int64_compare_exchange(h, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(get_i64(h), INT64_MIN);

    ck_assert_int_eq(ftk_int64_cas_v(h, INT64_MIN, 5), 1);
    ck_assert_int_eq(ftk_int64_cas_v(h, INT64_MIN, 6), 0);
    ck_assert_int_eq(ftk_int64_load_v(h), 5);
    ck_assert_int_eq(ftk_int64_cas_v(h, 5, 5), 1);
    ck_assert_int_eq(ftk_int64_load_v(h), 5);

    ftk_int64_store_v(h, -9);
    ck_assert_int_eq(ftk_int64_load_v(h), -9);
    ftk_int64_store_v(h, INT64_MIN);
    ck_assert_int_eq(get_i64(h), INT64_MIN);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
}
END_TEST

START_TEST(test_int64_bad_handles) {
    ftk_handle_t flag;
    ck_assert_int_eq(ftk_flag_new(1, &flag), FTK_OK);
    const ftk_handle_t bad[] = {FTK_NULL_HANDLE, dead_handle(), H(0xdeadbeefULL),
                                H(UINT64_MAX), flag};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftk_handle_t h = bad[i];
        int64_t out = 17, exp = 3;
        ck_assert_int_eq(ftk_int64_load(h, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_store(h, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_add(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_sub(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_and(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_or(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_xor(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_mul(h, 2, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_fetch_floordiv(h, 2, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_exchange(h, 1, &out), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_compare_exchange(h, &exp, 1), FTK_EBADHANDLE);
        ck_assert_int_eq(out, 17);
        ck_assert_int_eq(exp, 3);
        ck_assert_int_eq(ftk_int64_load_v(h), 0);
        ck_assert_int_eq(ftk_int64_add_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_fetch_add_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_fetch_sub_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_fetch_and_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_fetch_or_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_fetch_xor_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_exchange_v(h, 5), 0);
        ck_assert_int_eq(ftk_int64_cas_v(h, 0, 5), 0);
        ftk_int64_store_v(h, 5);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        if (h != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_int64_free(h), FTK_EBADHANDLE);
    }
    /* the flag survived all that */
    int f = 0;
    ck_assert_int_eq(ftk_flag_load(flag, &f), FTK_OK);
    ck_assert_int_eq(f, 1);
    ck_assert_int_eq(ftk_flag_free(flag), FTK_OK);
}
END_TEST

/* ---- api: every _v function records FTK_EBADHANDLE ------------------------ */

typedef int (*vcall_fn)(ftk_handle_t h); /* returns 1 if the result was 0 */

static int v_i64_load(ftk_handle_t h) { return ftk_int64_load_v(h) == 0; }
static int v_i64_store(ftk_handle_t h) { ftk_int64_store_v(h, 9); return 1; }
static int v_i64_add(ftk_handle_t h) { return ftk_int64_add_v(h, 9) == 0; }
static int v_i64_fetch_add(ftk_handle_t h) { return ftk_int64_fetch_add_v(h, 9) == 0; }
static int v_i64_fetch_sub(ftk_handle_t h) { return ftk_int64_fetch_sub_v(h, 9) == 0; }
static int v_i64_fetch_and(ftk_handle_t h) { return ftk_int64_fetch_and_v(h, 9) == 0; }
static int v_i64_fetch_or(ftk_handle_t h) { return ftk_int64_fetch_or_v(h, 9) == 0; }
static int v_i64_fetch_xor(ftk_handle_t h) { return ftk_int64_fetch_xor_v(h, 9) == 0; }
static int v_i64_exchange(ftk_handle_t h) { return ftk_int64_exchange_v(h, 9) == 0; }
static int v_i64_cas(ftk_handle_t h) { return ftk_int64_cas_v(h, 0, 9) == 0; }
static int v_flag_load(ftk_handle_t h) { return ftk_flag_load_v(h) == 0; }
static int v_flag_store(ftk_handle_t h) { ftk_flag_store_v(h, 1); return 1; }
static int v_flag_exchange(ftk_handle_t h) { return ftk_flag_exchange_v(h, 1) == 0; }
static int v_flag_cas(ftk_handle_t h) { return ftk_flag_cas_v(h, 0, 1) == 0; }
static int v_ref_load(ftk_handle_t h) { return ftk_ref_load_v(h) == 0; }
static int v_ref_exchange(ftk_handle_t h) { return ftk_ref_exchange_v(h, 9) == 0; }
static int v_ref_cas(ftk_handle_t h) { return ftk_ref_cas_v(h, 0, 9) == 0; }

struct vprobe {
    vcall_fn fn;
    ftk_handle_t h;
    int before, zero, after;
};

static void vprobe_thread(void *arg, int i) {
    (void)i;
    struct vprobe *p = arg;
    p->before = ftk_last_status();
    p->zero = p->fn(p->h);
    p->after = ftk_last_status();
}

START_TEST(test_v_variants_last_status) {
    const struct { const char *name; vcall_fn fn; } fns[] = {
        {"int64_load_v", v_i64_load},       {"int64_store_v", v_i64_store},
        {"int64_add_v", v_i64_add},         {"int64_fetch_add_v", v_i64_fetch_add},
        {"int64_fetch_sub_v", v_i64_fetch_sub}, {"int64_fetch_and_v", v_i64_fetch_and},
        {"int64_fetch_or_v", v_i64_fetch_or}, {"int64_fetch_xor_v", v_i64_fetch_xor},
        {"int64_exchange_v", v_i64_exchange}, {"int64_cas_v", v_i64_cas},
        {"flag_load_v", v_flag_load},       {"flag_store_v", v_flag_store},
        {"flag_exchange_v", v_flag_exchange}, {"flag_cas_v", v_flag_cas},
        {"ref_load_v", v_ref_load},         {"ref_exchange_v", v_ref_exchange},
        {"ref_cas_v", v_ref_cas},
    };
    /* a live object of the wrong kind for each family, and a dead handle */
    ftk_handle_t wrong_for_i64, wrong_for_other = new_i64(1);
    ck_assert_int_eq(ftk_ref_new(0, &wrong_for_i64), FTK_OK);
    const ftk_handle_t dead = dead_handle();
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        const ftk_handle_t cand[] = {FTK_NULL_HANDLE, dead, H(0xdeadbeefULL),
                                     strncmp(fns[i].name, "int64", 5) == 0 ? wrong_for_i64
                                                                           : wrong_for_other};
        for (size_t j = 0; j < sizeof cand / sizeof cand[0]; j++) {
            struct vprobe p = {fns[i].fn, cand[j], -1, 0, -1};
            ftk_test_run_threads(1, vprobe_thread, &p); /* fresh thread: clean status */
            ck_assert_msg(p.before == FTK_OK, "%s: fresh thread status %d", fns[i].name,
                          p.before);
            ck_assert_msg(p.zero, "%s: bad handle did not return 0", fns[i].name);
            ck_assert_msg(p.after == FTK_EBADHANDLE, "%s: last status %d", fns[i].name,
                          p.after);
        }
    }
    /* the wrong-kind objects were not modified */
    uint64_t w = 1;
    ck_assert_int_eq(ftk_ref_load(wrong_for_i64, &w), FTK_OK);
    ck_assert_uint_eq(w, 0);
    ck_assert_int_eq(get_i64(wrong_for_other), 1);
    ck_assert_int_eq(ftk_ref_free(wrong_for_i64), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(wrong_for_other), FTK_OK);
    /* a successful call returning 0 records no failure */
    struct vprobe p = {v_i64_load, new_i64(0), -1, 0, -1};
    ftk_test_run_threads(1, vprobe_thread, &p);
    ck_assert_int_eq(p.after, FTK_OK);
    ck_assert(p.zero);
    ck_assert_int_eq(ftk_int64_free(p.h), FTK_OK);
}
END_TEST

/* ---- api: flag ----------------------------------------------------------- */

START_TEST(test_flag) {
    ftk_handle_t h;
    int f = -1, old = -1;
    ck_assert_int_eq(ftk_flag_new(0, &h), FTK_OK);
    ck_assert_int_eq(ftk_flag_load(h, &f), FTK_OK);
    ck_assert_int_eq(f, 0);
    ck_assert_int_eq(ftk_flag_load(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_flag_store(h, 7), FTK_OK); /* any nonzero is true */
    ck_assert_int_eq(ftk_flag_load_v(h), 1);
    ck_assert_int_eq(ftk_flag_exchange(h, 0, &old), FTK_OK);
    ck_assert_int_eq(old, 1);
    ck_assert_int_eq(ftk_flag_exchange(h, 0, &old), FTK_OK);
    ck_assert_int_eq(old, 0);
    ck_assert_int_eq(ftk_flag_exchange(h, 1, NULL), FTK_OK);
    ck_assert_int_eq(ftk_flag_exchange_v(h, 0), 1); /* test-and-clear */
    ck_assert_int_eq(ftk_flag_exchange_v(h, 1), 0); /* test-and-set */
    ck_assert_int_eq(ftk_flag_exchange_v(h, 1), 1);

    int expected = 1;
    ck_assert_int_eq(ftk_flag_compare_exchange(h, &expected, 0), FTK_OK);
    ck_assert_int_eq(expected, 1);
    ck_assert_int_eq(ftk_flag_load_v(h), 0);
    expected = 1;
    ck_assert_int_eq(ftk_flag_compare_exchange(h, &expected, 0), FTK_EAGAIN);
    ck_assert_int_eq(expected, 0);
    ck_assert_int_eq(ftk_flag_compare_exchange(h, &expected, 1), FTK_OK);
    ck_assert_int_eq(ftk_flag_load_v(h), 1);
    ck_assert_int_eq(ftk_flag_compare_exchange(h, NULL, 1), FTK_EINVAL);

    ck_assert_int_eq(ftk_flag_cas_v(h, 0, 1), 0);
    ck_assert_int_eq(ftk_flag_cas_v(h, 1, 0), 1);
    ck_assert_int_eq(ftk_flag_cas_v(h, 0, 0), 1);
    ck_assert_int_eq(ftk_flag_load_v(h), 0);
    ftk_flag_store_v(h, 1);
    ck_assert_int_eq(ftk_flag_load_v(h), 1);
    ftk_flag_store_v(h, 0);
    ck_assert_int_eq(ftk_flag_load_v(h), 0);
    ck_assert_int_eq(ftk_flag_free(h), FTK_OK);

    ck_assert_int_eq(ftk_flag_new(-3, &h), FTK_OK);
    ck_assert_int_eq(ftk_flag_load_v(h), 1);
    ck_assert_int_eq(ftk_flag_free(h), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_load(h, &f), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_store(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_exchange(h, 1, &old), FTK_EBADHANDLE);
    expected = 1;
    ck_assert_int_eq(ftk_flag_compare_exchange(h, &expected, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(expected, 1);
}
END_TEST

/* ---- api: word reference ------------------------------------------------- */

START_TEST(test_ref_words) {
    const uint64_t words[] = {0,
                              1,
                              UINT64_MAX,
                              0x8000000000000000ULL,
                              0x7fffffffffffffffULL,
                              0xdeadbeefcafebabeULL,
                              0x00000001ffffffffULL,
                              0xffffffff00000000ULL};
    const size_t n = sizeof words / sizeof words[0];
    for (size_t i = 0; i < n; i++) {
        ftk_handle_t h;
        uint64_t w = 12345, old = 12345;
        ck_assert_int_eq(ftk_ref_new(words[i], &h), FTK_OK);
        ck_assert_int_eq(ftk_ref_load(h, &w), FTK_OK);
        ck_assert_uint_eq(w, words[i]);
        ck_assert_uint_eq(ftk_ref_load_v(h), words[i]);
        const uint64_t next = words[(i + 1) % n];
        ck_assert_int_eq(ftk_ref_exchange(h, next, &old), FTK_OK);
        ck_assert_uint_eq(old, words[i]);
        ck_assert_uint_eq(ftk_ref_exchange_v(h, words[i]), next);
        ck_assert_int_eq(ftk_ref_exchange(h, words[i], NULL), FTK_OK);

        /* compare_exchange: success keeps *expected, failure updates it */
        uint64_t expected = words[i];
        ck_assert_int_eq(ftk_ref_compare_exchange(h, &expected, next), FTK_OK);
        ck_assert_uint_eq(expected, words[i]);
        ck_assert_uint_eq(ftk_ref_load_v(h), next);
        expected = ~next;
        ck_assert_int_eq(ftk_ref_compare_exchange(h, &expected, 0), FTK_EAGAIN);
        ck_assert_uint_eq(expected, next);
        ck_assert_uint_eq(ftk_ref_load_v(h), next);

        ck_assert_int_eq(ftk_ref_cas_v(h, ~next, words[i]), 0);
        ck_assert_int_eq(ftk_ref_cas_v(h, next, words[i]), 1);
        ck_assert_uint_eq(ftk_ref_load_v(h), words[i]);
        ck_assert_int_eq(ftk_ref_free(h), FTK_OK);

        ck_assert_int_eq(ftk_ref_load(h, &w), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_ref_exchange(h, 1, &old), FTK_EBADHANDLE);
        expected = 5;
        ck_assert_int_eq(ftk_ref_compare_exchange(h, &expected, 1), FTK_EBADHANDLE);
        ck_assert_uint_eq(expected, 5);
        ck_assert_int_eq(ftk_ref_free(h), FTK_EBADHANDLE);
    }
    ftk_handle_t h;
    ck_assert_int_eq(ftk_ref_new(3, &h), FTK_OK);
    ck_assert_int_eq(ftk_ref_load(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_ref_compare_exchange(h, NULL, 1), FTK_EINVAL);
    ck_assert_uint_eq(ftk_ref_load_v(h), 3);
    ck_assert_int_eq(ftk_ref_free(h), FTK_OK);
}
END_TEST

/* ---- concurrent ---------------------------------------------------------- */

/* fetch_add in all its spellings; every returned old value is distinct. */
struct adders {
    ftk_handle_t h;
    int iters;
    _Atomic unsigned char *seen; /* old value -> times returned */
};

static void adder(void *arg, int t) {
    struct adders *a = arg;
    int64_t last = -1;
    for (int k = 0; k < a->iters; k++) {
        int64_t old = -1;
        switch ((k + t) % 5) {
        case 0: TCHECK(ftk_int64_fetch_add(a->h, 1, &old) == FTK_OK); break;
        case 1: old = ftk_int64_fetch_add_v(a->h, 1); break;
        case 2: old = ftk_int64_add_v(a->h, 1) - 1; break;
        case 3: TCHECK(ftk_int64_fetch_sub(a->h, -1, &old) == FTK_OK); break;
        default: old = ftk_int64_fetch_sub_v(a->h, -1); break;
        }
        TCHECK(old > last); /* per-thread view is monotonic */
        last = old;
        if (old >= 0 && old < (int64_t)NTHREADS * a->iters)
            TCHECK(atomic_fetch_add(&a->seen[old], 1) == 0);
        else
            TCHECK(0);
    }
}

START_TEST(test_concurrent_fetch_add) {
    atomic_store(&g_fail, 0);
    struct adders a = {new_i64(0), FTK_SCALED(100000), NULL};
    a.seen = calloc((size_t)NTHREADS * (size_t)a.iters, 1);
    ck_assert_ptr_nonnull(a.seen);
    ftk_test_run_threads(NTHREADS, adder, &a);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(get_i64(a.h), (int64_t)NTHREADS * a.iters);
    for (int64_t i = 0; i < (int64_t)NTHREADS * a.iters; i++) REQUIRE(a.seen[i] == 1);
    ck_assert_int_eq(ftk_int64_free(a.h), FTK_OK);
    free(a.seen);
}
END_TEST

/* Increments built from compare-exchange loops. The status style reuses the
 * value the failed CAS wrote to *expected (no reload). */
struct casers {
    ftk_handle_t h;
    int iters;
    _Atomic long retries;
};

static void caser(void *arg, int t) {
    struct casers *c = arg;
    long retries = 0;
    if (t & 1) {
        int64_t cur = ftk_int64_load_v(c->h);
        for (int k = 0; k < c->iters; k++) {
            int st;
            while ((st = ftk_int64_compare_exchange(c->h, &cur, cur + 1)) == FTK_EAGAIN)
                retries++;
            TCHECK(st == FTK_OK);
            cur++; /* what we stored is our next guess */
        }
    } else {
        for (int k = 0; k < c->iters; k++) {
            for (;;) {
                int64_t cur = ftk_int64_load_v(c->h);
                if (ftk_int64_cas_v(c->h, cur, cur + 1)) break;
                retries++;
            }
        }
    }
    atomic_fetch_add(&c->retries, retries);
}

START_TEST(test_concurrent_cas_loop) {
    atomic_store(&g_fail, 0);
    struct casers c = {new_i64(-1000), FTK_SCALED(100000), 0};
    ftk_test_run_threads(NTHREADS, caser, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(get_i64(c.h), -1000 + (int64_t)NTHREADS * c.iters);
    ck_assert_int_eq(ftk_int64_free(c.h), FTK_OK);
}
END_TEST

/* Each thread owns bits of one word and toggles them with or/and/xor while
 * the others do the same: every old value must show our bits as we left them. */
struct bits {
    ftk_handle_t h;
    int iters;
};

static void bit_owner(void *arg, int t) {
    struct bits *b = arg;
    const int64_t set_bit = (int64_t)1 << t, xor_bit = (int64_t)1 << (16 + t);
    int xor_state = 0;
    for (int k = 0; k < b->iters; k++) {
        int64_t old;
        const int value_style = (k + t) & 1;
        if (value_style)
            old = ftk_int64_fetch_or_v(b->h, set_bit);
        else
            TCHECK(ftk_int64_fetch_or(b->h, set_bit, &old) == FTK_OK);
        TCHECK((old & set_bit) == 0);
        TCHECK(((old & xor_bit) != 0) == xor_state);
        if (value_style)
            old = ftk_int64_fetch_xor_v(b->h, xor_bit);
        else
            TCHECK(ftk_int64_fetch_xor(b->h, xor_bit, &old) == FTK_OK);
        TCHECK(((old & xor_bit) != 0) == xor_state);
        TCHECK((old & set_bit) != 0);
        xor_state ^= 1;
        if (value_style)
            old = ftk_int64_fetch_and_v(b->h, ~set_bit);
        else
            TCHECK(ftk_int64_fetch_and(b->h, ~set_bit, &old) == FTK_OK);
        TCHECK((old & set_bit) != 0);
        TCHECK(((old & xor_bit) != 0) == xor_state);
        /* a bit outside every thread's range is never disturbed */
        TCHECK((old & INT64_MIN) != 0);
    }
}

START_TEST(test_concurrent_bitwise) {
    atomic_store(&g_fail, 0);
    struct bits b = {new_i64(INT64_MIN), FTK_SCALED(50000)};
    ftk_test_run_threads(NTHREADS, bit_owner, &b);
    ASSERT_NO_THREAD_FAILURES();
    int64_t expect = INT64_MIN;
    if (b.iters & 1)
        for (int t = 0; t < NTHREADS; t++) expect |= (int64_t)1 << (16 + t);
    ck_assert_int_eq(get_i64(b.h), expect);
    ck_assert_int_eq(ftk_int64_free(b.h), FTK_OK);
}
END_TEST

/* fetch_mul(-1) and fetch_floordiv(-1) both negate: any lost update in their
 * CAS loops would leave the sign wrong; every old value is +-5. */
static void negator(void *arg, int t) {
    struct bits *b = arg;
    (void)t;
    for (int k = 0; k < b->iters; k++) {
        int64_t old = 0;
        if (k & 1)
            TCHECK(ftk_int64_fetch_mul(b->h, -1, &old) == FTK_OK);
        else
            TCHECK(ftk_int64_fetch_floordiv(b->h, -1, &old) == FTK_OK);
        TCHECK(old == 5 || old == -5);
        TCHECK(ftk_int64_fetch_floordiv(b->h, 0, &old) == FTK_EINVAL);
    }
}

START_TEST(test_concurrent_mul_floordiv) {
    atomic_store(&g_fail, 0);
    struct bits b = {new_i64(5), FTK_SCALED(50000) | 1}; /* odd per thread */
    ftk_test_run_threads(NTHREADS, negator, &b);
    ASSERT_NO_THREAD_FAILURES();
    /* NTHREADS * odd negations: even in total since NTHREADS is even */
    ck_assert_int_eq(get_i64(b.h), 5);
    ck_assert_int_eq(ftk_int64_fetch_mul(b.h, -1, NULL), FTK_OK);
    ck_assert_int_eq(get_i64(b.h), -5);
    ck_assert_int_eq(ftk_int64_free(b.h), FTK_OK);
}
END_TEST

/* Token passing by exchange: every thread swaps in fresh words and takes out
 * whatever was there. Every word ever put in is taken out exactly once (or
 * is the final value). Words are spread over all 64 bits by an invertible
 * map so that high bits, sign bit and zero bytes are all exercised. */
#define MIX_C 0x9E3779B97F4A7C15ULL
#define MIX_K 0xA5A5F00DDEADBEEFULL

static uint64_t mix(uint64_t x) { return (x * MIX_C) ^ MIX_K; }
static uint64_t unmix(uint64_t w) {
    uint64_t inv = MIX_C; /* Newton iteration for the inverse mod 2**64 */
    for (int i = 0; i < 6; i++) inv *= 2 - MIX_C * inv;
    return (w ^ MIX_K) * inv;
}

struct tokens {
    ftk_handle_t h;
    int use_ref; /* 1: ref, 0: int64 */
    int iters;
    _Atomic unsigned char *seen; /* [t * iters + k], plus the initial token at the end */
};

static void token_account(struct tokens *s, uint64_t w) {
    uint64_t x = unmix(w);
    size_t total = (size_t)NTHREADS * (size_t)s->iters;
    size_t slot;
    if (x == 0) {
        slot = total; /* the initial token */
    } else {
        uint64_t t = (x >> 40) - 1, k = x & ((1ULL << 40) - 1);
        if (t >= NTHREADS || k >= (uint64_t)s->iters) {
            TCHECK(0); /* a word nobody put in */
            return;
        }
        slot = (size_t)(t * (uint64_t)s->iters + k);
    }
    TCHECK(atomic_fetch_add(&s->seen[slot], 1) == 0);
}

static void token_passer(void *arg, int t) {
    struct tokens *s = arg;
    for (int k = 0; k < s->iters; k++) {
        uint64_t w = mix(((uint64_t)(t + 1) << 40) | (uint64_t)k), old = 0;
        if (s->use_ref) {
            if (k & 1)
                old = ftk_ref_exchange_v(s->h, w);
            else
                TCHECK(ftk_ref_exchange(s->h, w, &old) == FTK_OK);
        } else {
            int64_t o = 0;
            if (k & 1)
                o = ftk_int64_exchange_v(s->h, (int64_t)w);
            else
                TCHECK(ftk_int64_exchange(s->h, (int64_t)w, &o) == FTK_OK);
            old = (uint64_t)o;
        }
        token_account(s, old);
    }
}

static void run_tokens(int use_ref) {
    atomic_store(&g_fail, 0);
    struct tokens s;
    s.use_ref = use_ref;
    s.iters = FTK_SCALED(100000);
    size_t total = (size_t)NTHREADS * (size_t)s.iters;
    s.seen = calloc(total + 1, 1);
    ck_assert_ptr_nonnull(s.seen);
    ck_assert_uint_eq(unmix(mix(0x123456789abcULL)), 0x123456789abcULL);
    if (use_ref)
        ck_assert_int_eq(ftk_ref_new(mix(0), &s.h), FTK_OK);
    else
        s.h = new_i64((int64_t)mix(0));
    ftk_test_run_threads(NTHREADS, token_passer, &s);
    ASSERT_NO_THREAD_FAILURES();
    /* the last word is still inside */
    uint64_t last;
    if (use_ref) {
        ck_assert_int_eq(ftk_ref_load(s.h, &last), FTK_OK);
        ck_assert_int_eq(ftk_ref_free(s.h), FTK_OK);
    } else {
        last = (uint64_t)get_i64(s.h);
        ck_assert_int_eq(ftk_int64_free(s.h), FTK_OK);
    }
    token_account(&s, last);
    ASSERT_NO_THREAD_FAILURES();
    for (size_t i = 0; i <= total; i++)
        if (s.seen[i] != 1) ck_abort_msg("token %zu seen %d times", i, s.seen[i]);
    free(s.seen);
}

START_TEST(test_concurrent_ref_token_passing) { run_tokens(1); }
END_TEST

START_TEST(test_concurrent_int64_token_passing) { run_tokens(0); }
END_TEST

/* A test-and-set spin lock built on a flag protects a plain counter. TSan
 * checks that the flag operations order the critical sections. */
struct spin {
    ftk_handle_t flag;
    int iters;
    long counter; /* not atomic on purpose */
    int inside;   /* not atomic on purpose */
};

static void spin_acquire(ftk_handle_t flag, int style) {
    for (;;) {
        int got;
        if (style == 0) {
            got = ftk_flag_exchange_v(flag, 1) == 0;
        } else if (style == 1) {
            got = ftk_flag_cas_v(flag, 0, 1);
        } else {
            int expected = 0;
            got = ftk_flag_compare_exchange(flag, &expected, 1) == FTK_OK;
            TCHECK(got || expected == 1);
        }
        if (got) return;
        while (ftk_flag_load_v(flag)) sched_yield();
    }
}

static void spin_worker(void *arg, int t) {
    struct spin *s = arg;
    for (int k = 0; k < s->iters; k++) {
        spin_acquire(s->flag, (t + k) % 3);
        TCHECK(s->inside == 0);
        s->inside = 1;
        s->counter++;
        s->inside = 0;
        if (k & 1) {
            TCHECK(ftk_flag_store(s->flag, 0) == FTK_OK);
        } else {
            int old = 0;
            TCHECK(ftk_flag_exchange(s->flag, 0, &old) == FTK_OK);
            TCHECK(old == 1);
        }
    }
}

START_TEST(test_concurrent_flag_mutex) {
    atomic_store(&g_fail, 0);
    struct spin s = {FTK_NULL_HANDLE, FTK_SCALED(100000), 0, 0};
    ck_assert_int_eq(ftk_flag_new(0, &s.flag), FTK_OK);
    ftk_test_run_threads(NTHREADS, spin_worker, &s);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(s.counter, (long)NTHREADS * s.iters);
    ck_assert_int_eq(ftk_flag_load_v(s.flag), 0);
    ck_assert_int_eq(ftk_flag_free(s.flag), FTK_OK);
}
END_TEST

/* ---- stress: hand-off through one ref cell by compare-exchange ------------ */

struct handoff {
    ftk_handle_t cell; /* 0 = empty, else a word waiting for a consumer */
    int per_producer;
    _Atomic long consumed;
    _Atomic unsigned char *seen;
};

static void handoff_worker(void *arg, int t) {
    struct handoff *h = arg;
    const long total = (long)(NTHREADS / 2) * h->per_producer;
    if (t < NTHREADS / 2) { /* producer */
        for (int k = 0; k < h->per_producer; k++) {
            uint64_t w = mix(((uint64_t)(t + 1) << 40) | (uint64_t)k);
            TCHECK(w != 0);
            int spins = 0;
            while (!ftk_ref_cas_v(h->cell, 0, w))
                if (++spins % 16 == 0) sched_yield();
        }
    } else { /* consumer */
        int spins = 0;
        while (atomic_load(&h->consumed) < total) {
            uint64_t w = 0;
            int st = ftk_ref_load(h->cell, &w);
            TCHECK(st == FTK_OK);
            if (w == 0) {
                if (++spins % 16 == 0) sched_yield();
                continue;
            }
            uint64_t expected = w;
            st = ftk_ref_compare_exchange(h->cell, &expected, 0);
            if (st != FTK_OK) {
                TCHECK(st == FTK_EAGAIN && expected != w);
                continue;
            }
            uint64_t x = unmix(w), p = (x >> 40) - 1, k = x & ((1ULL << 40) - 1);
            if (p < NTHREADS / 2 && k < (uint64_t)h->per_producer)
                TCHECK(atomic_fetch_add(&h->seen[p * (uint64_t)h->per_producer + k], 1) == 0);
            else
                TCHECK(0);
            atomic_fetch_add(&h->consumed, 1);
        }
    }
}

START_TEST(test_stress_ref_handoff) {
    atomic_store(&g_fail, 0);
    struct handoff h;
    h.per_producer = FTK_SCALED(40000);
    atomic_init(&h.consumed, 0);
    size_t total = (size_t)(NTHREADS / 2) * (size_t)h.per_producer;
    h.seen = calloc(total, 1);
    ck_assert_ptr_nonnull(h.seen);
    ck_assert_int_eq(ftk_ref_new(0, &h.cell), FTK_OK);
    ftk_test_run_threads(NTHREADS, handoff_worker, &h);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(atomic_load(&h.consumed), (long)total);
    for (size_t i = 0; i < total; i++) REQUIRE(h.seen[i] == 1);
    ck_assert_uint_eq(ftk_ref_load_v(h.cell), 0);
    ck_assert_int_eq(ftk_ref_free(h.cell), FTK_OK);
    free(h.seen);
}
END_TEST

static Suite *atomic_suite(void) {
    Suite *s = suite_create("atomic");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_int64_basic);
    tcase_add_test(api, test_int64_bad_handles);
    tcase_add_test(api, test_v_variants_last_status);
    tcase_add_test(api, test_flag);
    tcase_add_test(api, test_ref_words);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_int64_add_sub_wrap);
    tcase_add_test(single, test_int64_bitwise);
    tcase_add_test(single, test_int64_mul_wrap);
    tcase_add_test(single, test_int64_floordiv);
    tcase_add_test(single, test_int64_exchange_cas);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_fetch_add);
    tcase_add_test(conc, test_concurrent_cas_loop);
    tcase_add_test(conc, test_concurrent_bitwise);
    tcase_add_test(conc, test_concurrent_mul_floordiv);
    tcase_add_test(conc, test_concurrent_ref_token_passing);
    tcase_add_test(conc, test_concurrent_int64_token_passing);
    tcase_add_test(conc, test_concurrent_flag_mutex);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_ref_handoff);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(atomic_suite()); }
