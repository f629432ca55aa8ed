/*
 * test_common.c - version, ABI, status codes, last status, the handle table
 * (validation, generations, accounting, concurrency) and the reclaim entry
 * point. Public API only.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Failures inside worker threads are counted and asserted by the main
 * thread (ck_assert from a worker thread is not portable across modes). */

/* Handles are pointer-typed values carrying 64 bits (see common.h); these
 * convert for crafting garbage handles and for sorting. */

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* 1 if h is rejected as FTK_EBADHANDLE by every int64/flag/ref entry point
 * that can be called without side effects on a valid object of another kind. */
static int rejected_everywhere(ftk_handle_t h) {
    int64_t i64;
    int f;
    uint64_t w;
    return ftk_int64_load(h, &i64) == FTK_EBADHANDLE &&
           ftk_flag_load(h, &f) == FTK_EBADHANDLE &&
           ftk_ref_load(h, &w) == FTK_EBADHANDLE;
}

/* ---- api: version, ABI, status codes ----------------------------------- */

START_TEST(test_version) {
    ck_assert_uint_eq(ftk_version(), ((unsigned)FTK_VERSION_MAJOR << 16) |
                                         ((unsigned)FTK_VERSION_MINOR << 8) |
                                         (unsigned)FTK_VERSION_PATCH);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", FTK_VERSION_MAJOR, FTK_VERSION_MINOR,
             FTK_VERSION_PATCH);
    ck_assert_ptr_nonnull(ftk_version_string());
    ck_assert_str_eq(ftk_version_string(), buf);
    ck_assert_str_eq(ftk_version_string(), FTK_VERSION_STRING);
    ck_assert_int_eq(ftk_abi_version(), FTK_ABI_VERSION);
    ck_assert_int_ge(ftk_abi_version(), 1);
}
END_TEST

/* The numbers are part of the ABI: they must never change. */
START_TEST(test_status_numbers) {
    ck_assert_int_eq(FTK_OK, 0);
    ck_assert_int_eq(FTK_EEMPTY, -1);
    ck_assert_int_eq(FTK_EFULL, -2);
    ck_assert_int_eq(FTK_ETIMEDOUT, -3);
    ck_assert_int_eq(FTK_ECLOSED, -4);
    ck_assert_int_eq(FTK_ENOMEM, -5);
    ck_assert_int_eq(FTK_EBADHANDLE, -6);
    ck_assert_int_eq(FTK_EOVERFLOW, -7);
    ck_assert_int_eq(FTK_EINVAL, -8);
    ck_assert_int_eq(FTK_EBUSY, -9);
    ck_assert_int_eq(FTK_EPERM, -10);
    ck_assert_int_eq(FTK_ENOTFOUND, -11);
    ck_assert_int_eq(FTK_EAGAIN, -12);
    ck_assert_int_eq(FTK_EINTR, -13);
    ck_assert_int_eq(FTK_STATUS_MIN, -13);
    ck_assert_uint_eq(sizeof(ftk_handle_t), 8);
    ck_assert(FTK_NULL_HANDLE == 0);
}
END_TEST

static const char *const k_names[] = {
    "FTK_OK",        "FTK_EEMPTY", "FTK_EFULL",     "FTK_ETIMEDOUT", "FTK_ECLOSED",
    "FTK_ENOMEM",    "FTK_EBADHANDLE", "FTK_EOVERFLOW", "FTK_EINVAL", "FTK_EBUSY",
    "FTK_EPERM",     "FTK_ENOTFOUND", "FTK_EAGAIN",  "FTK_EINTR",
};

START_TEST(test_strerror_and_names) {
    ck_assert_uint_eq(sizeof k_names / sizeof k_names[0], (size_t)(1 - FTK_STATUS_MIN));
    for (int st = 0; st >= FTK_STATUS_MIN; st--) {
        const char *name = ftk_err_name(st);
        const char *msg = ftk_strerror(st);
        ck_assert_ptr_nonnull(name);
        ck_assert_ptr_nonnull(msg);
        ck_assert_str_eq(name, k_names[-st]);
        ck_assert_int_gt((int)strlen(msg), 0);
        ck_assert_str_ne(msg, "unknown status code");
        /* messages are distinct */
        for (int other = st + 1; other <= 0; other++)
            ck_assert_str_ne(msg, ftk_strerror(other));
    }
    const int unknown[] = {1, 2, 42, FTK_STATUS_MIN - 1, -14, -100, -1000000,
                           INT_MIN, INT_MIN + 1, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_str_eq(ftk_strerror(unknown[i]), "unknown status code");
        ck_assert_str_eq(ftk_err_name(unknown[i]), "FTK_UNKNOWN");
    }
    /* static storage: the same pointer every time */
    ck_assert_ptr_eq(ftk_strerror(FTK_EEMPTY), ftk_strerror(FTK_EEMPTY));
    ck_assert_ptr_eq(ftk_err_name(FTK_EEMPTY), ftk_err_name(FTK_EEMPTY));
}
END_TEST

/* ---- api: ftk_last_status ---------------------------------------------- */

struct last_status_probe {
    ftk_handle_t bad;
    int before, after, value_ok;
};

static void probe_last_status(void *arg, int i) {
    (void)i;
    struct last_status_probe *p = arg;
    p->before = ftk_last_status();
    p->value_ok = ftk_int64_load_v(p->bad) == 0;
    p->after = ftk_last_status();
}

static void probe_untouched(void *arg, int i) {
    (void)i;
    *(int *)arg = ftk_last_status();
}

START_TEST(test_last_status) {
    ftk_handle_t h;
    ck_assert_int_eq(ftk_int64_new(5, &h), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);

    /* a fresh thread starts at FTK_OK; a failing _v call records the code */
    struct last_status_probe p = {h, -1, -1, 0};
    ftk_test_run_threads(1, probe_last_status, &p);
    ck_assert_int_eq(p.before, FTK_OK);
    ck_assert_int_eq(p.after, FTK_EBADHANDLE);
    ck_assert(p.value_ok);

    /* thread-local: a failure here is not seen by another thread */
    ck_assert_int_eq(ftk_int64_load_v(FTK_NULL_HANDLE), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    int other = -1;
    ftk_test_run_threads(1, probe_untouched, &other);
    ck_assert_int_eq(other, FTK_OK);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
}
END_TEST

/* ---- api: handle validation --------------------------------------------- */

START_TEST(test_null_handle) {
    int64_t i64 = 7;
    int f = 7;
    uint64_t w = 7;
    ck_assert(rejected_everywhere(FTK_NULL_HANDLE));
    ck_assert_int_eq(ftk_int64_store(FTK_NULL_HANDLE, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_fetch_add(FTK_NULL_HANDLE, 1, &i64), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_store(FTK_NULL_HANDLE, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_exchange(FTK_NULL_HANDLE, 1, &w), FTK_EBADHANDLE);
    /* out-parameters untouched on failure */
    ck_assert_int_eq(i64, 7);
    ck_assert_int_eq(f, 7);
    ck_assert_uint_eq(w, 7);
    /* free(NULL) is a no-op */
    size_t live = ftk_live_handles();
    ck_assert_int_eq(ftk_int64_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_int_eq(ftk_ref_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), live);
    /* NULL out-pointer on new is an argument error and creates nothing */
    ck_assert_int_eq(ftk_int64_new(0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_flag_new(0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_ref_new(0, NULL), FTK_EINVAL);
    ck_assert_uint_eq(ftk_live_handles(), live);
}
END_TEST

START_TEST(test_garbage_handles) {
    /* one live object of each kind, so that lookups hit populated memory */
    ftk_handle_t hi, hf, hr;
    ck_assert_int_eq(ftk_int64_new(11, &hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_new(1, &hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_new(13, &hr), FTK_OK);

    const uint64_t fixed[] = {
        0xdeadbeefULL,          0xdeadbeefdeadbeefULL, UINT64_MAX,
        1,                      2,                     0xffffffffULL,
        0x100000000ULL,         0x8000000000000000ULL, 0x7fffffffffffffffULL,
        0x00000000ffffffffULL | (1ULL << 56),
        0x0000000080000000ULL | (1ULL << 56),
        0x0000000004000000ULL | (3ULL << 56),
        0x0000000003ffffffULL | (2ULL << 56),
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        ftk_handle_t g = H(fixed[i]);
        if (g == hi || g == hf || g == hr) continue;
        ck_assert_msg(rejected_everywhere(g), "garbage handle %#llx accepted",
                      (unsigned long long)U(g));
        ck_assert_int_eq(ftk_int64_free(g), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_flag_free(g), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_ref_free(g), FTK_EBADHANDLE);
    }
    /* every top byte with huge, small and mid indices */
    for (uint64_t top = 0; top < 256; top++) {
        const uint64_t lows[] = {0, 1, 2, 1023, 1024, 65535, 1ULL << 20, 1ULL << 26,
                                 (1ULL << 26) - 1, 0x7fffffffULL, 0xfffffffeULL,
                                 0xffffffffULL, 0x00ffffff00000001ULL,
                                 0x0000abcd00001234ULL};
        for (size_t j = 0; j < sizeof lows / sizeof lows[0]; j++) {
            ftk_handle_t g = H((top << 56) | lows[j]);
            if (g == hi || g == hf || g == hr) continue;
            ck_assert_msg(rejected_everywhere(g), "garbage handle %#llx accepted",
                          (unsigned long long)U(g));
        }
    }
    /* any single-bit change of a live handle names no object */
    for (int b = 0; b < 64; b++) {
        ftk_handle_t bases[] = {hi, hf, hr};
        for (int k = 0; k < 3; k++) {
            ftk_handle_t g = H(U(bases[k]) ^ (1ULL << b));
            if (g == hi || g == hf || g == hr) continue;
            ck_assert_msg(rejected_everywhere(g), "bit %d flip of %#llx accepted", b,
                          (unsigned long long)U(bases[k]));
            ck_assert_int_eq(ftk_int64_free(g), FTK_EBADHANDLE);
            ck_assert_int_eq(ftk_flag_free(g), FTK_EBADHANDLE);
            ck_assert_int_eq(ftk_ref_free(g), FTK_EBADHANDLE);
        }
    }
    /* the real objects were not disturbed */
    int64_t v;
    int f;
    uint64_t w;
    ck_assert_int_eq(ftk_int64_load(hi, &v), FTK_OK);
    ck_assert_int_eq(v, 11);
    ck_assert_int_eq(ftk_flag_load(hf, &f), FTK_OK);
    ck_assert_int_eq(f, 1);
    ck_assert_int_eq(ftk_ref_load(hr, &w), FTK_OK);
    ck_assert_uint_eq(w, 13);
    ck_assert_int_eq(ftk_int64_free(hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_free(hr), FTK_OK);
}
END_TEST

START_TEST(test_destroyed_handle_and_double_free) {
    size_t base = ftk_live_handles();
    ftk_handle_t hi, hf, hr;
    ck_assert_int_eq(ftk_int64_new(1, &hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_new(1, &hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_new(1, &hr), FTK_OK);
    ck_assert(hi != FTK_NULL_HANDLE && hf != FTK_NULL_HANDLE && hr != FTK_NULL_HANDLE);
    ck_assert(hi != hf && hf != hr && hi != hr);
    ck_assert_uint_eq(ftk_live_handles(), base + 3);

    ck_assert_int_eq(ftk_int64_free(hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_free(hr), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);

    ck_assert(rejected_everywhere(hi));
    ck_assert(rejected_everywhere(hf));
    ck_assert(rejected_everywhere(hr));
    int64_t old;
    ck_assert_int_eq(ftk_int64_store(hi, 3), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_fetch_add(hi, 3, &old), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_store(hf, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_exchange(hr, 3, NULL), FTK_EBADHANDLE);

    /* double free */
    ck_assert_int_eq(ftk_int64_free(hi), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_free(hf), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_free(hr), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_live_handles(), base);
}
END_TEST

START_TEST(test_wrong_kind) {
    size_t base = ftk_live_handles();
    ftk_handle_t hi, hf, hr;
    ck_assert_int_eq(ftk_int64_new(42, &hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_new(1, &hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_new(0x1234, &hr), FTK_OK);

    /* an int64 handle given to every flag and ref entry point */
    int f = 5, fexp = 0;
    uint64_t w = 5, wexp = 42;
    ck_assert_int_eq(ftk_flag_load(hi, &f), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_store(hi, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_exchange(hi, 0, &f), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_compare_exchange(hi, &fexp, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_load_v(hi), 0);
    ck_assert_int_eq(ftk_flag_exchange_v(hi, 0), 0);
    ck_assert_int_eq(ftk_flag_cas_v(hi, 0, 1), 0);
    ck_assert_int_eq(ftk_flag_free(hi), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_load(hi, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_exchange(hi, 0, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_compare_exchange(hi, &wexp, 1), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_ref_load_v(hi), 0);
    ck_assert_uint_eq(ftk_ref_exchange_v(hi, 0), 0);
    ck_assert_int_eq(ftk_ref_cas_v(hi, 42, 1), 0);
    ck_assert_int_eq(ftk_ref_free(hi), FTK_EBADHANDLE);
    ck_assert_int_eq(f, 5);
    ck_assert_uint_eq(w, 5);
    ck_assert_int_eq(fexp, 0);
    ck_assert_uint_eq(wexp, 42);
    /* ...and it is untouched and still alive */
    int64_t v;
    ck_assert_int_eq(ftk_int64_load(hi, &v), FTK_OK);
    ck_assert_int_eq(v, 42);

    /* flag and ref handles given to int64 entry points, and to each other */
    int64_t iexp = 1;
    ck_assert_int_eq(ftk_int64_load(hf, &v), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_store(hf, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_fetch_add(hf, 1, NULL), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_compare_exchange(hf, &iexp, 0), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_add_v(hf, 1), 0);
    ck_assert_int_eq(ftk_int64_free(hf), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_load(hr, &v), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_exchange(hr, 0, NULL), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_free(hr), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_load(hr, &f), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_flag_free(hr), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_load(hf, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_free(hf), FTK_EBADHANDLE);

    ck_assert_int_eq(ftk_flag_load(hf, &f), FTK_OK);
    ck_assert_int_eq(f, 1);
    ck_assert_int_eq(ftk_ref_load(hr, &w), FTK_OK);
    ck_assert_uint_eq(w, 0x1234);
    ck_assert_uint_eq(ftk_live_handles(), base + 3);
    ck_assert_int_eq(ftk_int64_free(hi), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(hf), FTK_OK);
    ck_assert_int_eq(ftk_ref_free(hr), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
}
END_TEST

/* free then new: a different handle, the old one stays bad, for many rounds */
START_TEST(test_generation_reuse) {
    enum { ROUNDS = 2000 };
    ftk_handle_t *seen = calloc(ROUNDS, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    for (int r = 0; r < ROUNDS; r++) {
        ftk_handle_t h;
        REQUIRE(ftk_int64_new(r, &h) == FTK_OK);
        REQUIRE(h != FTK_NULL_HANDLE);
        for (int k = 0; k < r; k++) REQUIRE(seen[k] != h);
        seen[r] = h;
        int64_t v;
        REQUIRE(ftk_int64_load(h, &v) == FTK_OK);
        REQUIRE(v == r);
        REQUIRE(ftk_int64_free(h) == FTK_OK);
        if (r > 0) {
            REQUIRE(rejected_everywhere(seen[r - 1]));
            REQUIRE(ftk_int64_free(seen[r - 1]) == FTK_EBADHANDLE);
        }
    }
    for (int k = 0; k < ROUNDS; k++) REQUIRE(rejected_everywhere(seen[k]));

    /* the new object at a recycled entry is not reachable through the old
     * handle, and freeing through the old handle does not free it */
    ftk_handle_t a, b;
    ck_assert_int_eq(ftk_int64_new(1, &a), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(a), FTK_OK);
    ck_assert_int_eq(ftk_int64_new(2, &b), FTK_OK);
    ck_assert(a != b);
    ck_assert_int_eq(ftk_int64_store(a, 99), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_int64_free(a), FTK_EBADHANDLE);
    int64_t v;
    ck_assert_int_eq(ftk_int64_load(b, &v), FTK_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(ftk_int64_free(b), FTK_OK);

    /* reuse across kinds: a recycled entry of another kind is not reachable
     * through the old handle either */
    ck_assert_int_eq(ftk_flag_new(1, &a), FTK_OK);
    ck_assert_int_eq(ftk_flag_free(a), FTK_OK);
    ck_assert_int_eq(ftk_ref_new(77, &b), FTK_OK);
    ck_assert(a != b);
    int f;
    ck_assert_int_eq(ftk_flag_load(a, &f), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_ref_free(b), FTK_OK);
    free(seen);
}
END_TEST

START_TEST(test_live_handles_accounting) {
    size_t base = ftk_live_handles();
    ftk_handle_t h[30];
    for (int i = 0; i < 30; i++) {
        int st = i % 3 == 0   ? ftk_int64_new(i, &h[i])
                 : i % 3 == 1 ? ftk_flag_new(i & 1, &h[i])
                              : ftk_ref_new((uint64_t)i, &h[i]);
        ck_assert_int_eq(st, FTK_OK);
        ck_assert_uint_eq(ftk_live_handles(), base + (size_t)i + 1);
    }
    /* failed frees (wrong kind, double) do not change the count */
    ck_assert_int_eq(ftk_flag_free(h[0]), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_live_handles(), base + 30);
    for (int i = 29; i >= 0; i--) {
        int st = i % 3 == 0   ? ftk_int64_free(h[i])
                 : i % 3 == 1 ? ftk_flag_free(h[i])
                              : ftk_ref_free(h[i]);
        ck_assert_int_eq(st, FTK_OK);
        ck_assert_uint_eq(ftk_live_handles(), base + (size_t)i);
        ck_assert_int_eq(ftk_int64_free(h[i]), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_flag_free(h[i]), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_ref_free(h[i]), FTK_EBADHANDLE);
        ck_assert_uint_eq(ftk_live_handles(), base + (size_t)i);
    }
}
END_TEST

static void collect_in_thread(void *arg, int i) {
    (void)i;
    *(size_t *)arg = ftk_reclaim_collect();
}

START_TEST(test_reclaim_collect_quiet) {
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    /* creating and destroying atomics defers nothing */
    ftk_handle_t h;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(ftk_int64_new(i, &h), FTK_OK);
        ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
    }
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    size_t other = 99;
    ftk_test_run_threads(1, collect_in_thread, &other);
    ck_assert_uint_eq(other, 0);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* ---- single: many handles ----------------------------------------------- */

static int cmp_handle(const void *a, const void *b) {
    uint64_t x = U(*(const ftk_handle_t *)a), y = U(*(const ftk_handle_t *)b);
    return x < y ? -1 : x > y;
}

START_TEST(test_many_handles) {
    enum { N = 100000 };
    size_t base = ftk_live_handles();
    ftk_handle_t *h = malloc(N * sizeof *h);
    ftk_handle_t *old = malloc(N * sizeof *old);
    ftk_handle_t *sorted = malloc(2 * (size_t)N * sizeof *sorted);
    ck_assert(h && old && sorted);
    for (int i = 0; i < N; i++) REQUIRE(ftk_int64_new(-i, &h[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base + N);
    for (int i = 0; i < N; i++) {
        int64_t v;
        REQUIRE(ftk_int64_load(h[i], &v) == FTK_OK);
        REQUIRE(v == -i);
    }
    memcpy(sorted, h, N * sizeof *h);
    qsort(sorted, N, sizeof *sorted, cmp_handle);
    ck_assert(sorted[0] != FTK_NULL_HANDLE);
    for (int i = 1; i < N; i++) REQUIRE(sorted[i] != sorted[i - 1]);

    /* free every other one, then the rest */
    for (int i = 0; i < N; i += 2) REQUIRE(ftk_int64_free(h[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base + N / 2);
    for (int i = 0; i < N; i++) {
        int64_t v;
        int st = ftk_int64_load(h[i], &v);
        REQUIRE(st == (i % 2 == 0 ? FTK_EBADHANDLE : FTK_OK));
    }
    for (int i = 1; i < N; i += 2) REQUIRE(ftk_int64_free(h[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
    memcpy(old, h, N * sizeof *h);

    /* a second generation: no new handle equals any old one, old ones stay bad */
    for (int i = 0; i < N; i++) REQUIRE(ftk_ref_new((uint64_t)i, &h[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base + N);
    for (int i = 0; i < N; i++) REQUIRE(rejected_everywhere(old[i]));
    memcpy(sorted, old, N * sizeof *old);
    memcpy(sorted + N, h, N * sizeof *h);
    qsort(sorted, 2 * (size_t)N, sizeof *sorted, cmp_handle);
    for (int i = 1; i < 2 * N; i++) REQUIRE(sorted[i] != sorted[i - 1]);
    for (int i = 0; i < N; i++) {
        uint64_t w;
        REQUIRE(ftk_ref_load(h[i], &w) == FTK_OK);
        REQUIRE(w == (uint64_t)i);
        REQUIRE(ftk_ref_free(h[i]) == FTK_OK);
    }
    ck_assert_uint_eq(ftk_live_handles(), base);
    free(h);
    free(old);
    free(sorted);
}
END_TEST

/* ---- concurrent ---------------------------------------------------------- */

#define NTHREADS 8
#define WINDOW 32

/* Each thread keeps a window of live objects of mixed kinds, each tagged with
 * a value unique to (thread, sequence): if two threads were ever handed the
 * same live entry, one would read the other's tag. Freed handles must stay
 * bad while other threads recycle their entries. */
struct churn {
    int iters;
};

static uint64_t tag_of(int t, int k) {
    return 0x5A00000000000000ULL | ((uint64_t)t << 40) | (uint64_t)k;
}

static void churn_worker(void *arg, int t) {
    struct churn *c = arg;
    ftk_handle_t live[WINDOW] = {0};
    int kind[WINDOW] = {0};
    uint64_t tag[WINDOW] = {0};
    ftk_handle_t dead[WINDOW] = {0};
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
    for (int k = 0; k < c->iters; k++) {
        int s = (int)(rng_next(&seed) % WINDOW);
        if (live[s] != FTK_NULL_HANDLE) {
            /* verify, then free */
            int64_t v;
            int f;
            uint64_t w;
            if (kind[s] == 0) {
                TCHECK(ftk_int64_load(live[s], &v) == FTK_OK && (uint64_t)v == tag[s]);
                TCHECK(ftk_flag_load(live[s], &f) == FTK_EBADHANDLE);
                TCHECK(ftk_int64_free(live[s]) == FTK_OK);
            } else if (kind[s] == 1) {
                TCHECK(ftk_ref_load(live[s], &w) == FTK_OK && w == tag[s]);
                TCHECK(ftk_int64_load(live[s], &v) == FTK_EBADHANDLE);
                TCHECK(ftk_ref_free(live[s]) == FTK_OK);
            } else {
                TCHECK(ftk_flag_load(live[s], &f) == FTK_OK && f == (int)(tag[s] & 1));
                TCHECK(ftk_ref_load(live[s], &w) == FTK_EBADHANDLE);
                TCHECK(ftk_flag_free(live[s]) == FTK_OK);
            }
            TCHECK(rejected_everywhere(live[s]));
            /* a handle freed earlier is still bad although its entry may
             * have been recycled by any thread since */
            if (dead[s] != FTK_NULL_HANDLE) {
                TCHECK(rejected_everywhere(dead[s]));
                TCHECK(ftk_int64_free(dead[s]) == FTK_EBADHANDLE);
                TCHECK(ftk_flag_free(dead[s]) == FTK_EBADHANDLE);
                TCHECK(ftk_ref_free(dead[s]) == FTK_EBADHANDLE);
            }
            dead[s] = live[s];
            live[s] = FTK_NULL_HANDLE;
        } else {
            kind[s] = (int)(rng_next(&seed) % 3);
            tag[s] = tag_of(t, k);
            int st = kind[s] == 0   ? ftk_int64_new((int64_t)tag[s], &live[s])
                     : kind[s] == 1 ? ftk_ref_new(tag[s], &live[s])
                                    : ftk_flag_new((int)(tag[s] & 1), &live[s]);
            TCHECK(st == FTK_OK && live[s] != FTK_NULL_HANDLE);
            /* a freed handle of ours never comes back */
            for (int j = 0; j < WINDOW; j++) TCHECK(dead[j] != live[s]);
        }
        /* the global count includes at least our own live objects */
        if ((k & 63) == 0) {
            size_t mine = 0;
            for (int j = 0; j < WINDOW; j++) mine += live[j] != FTK_NULL_HANDLE;
            TCHECK(ftk_live_handles() >= mine);
        }
    }
    for (int s = 0; s < WINDOW; s++) {
        if (live[s] == FTK_NULL_HANDLE) continue;
        int st = kind[s] == 0   ? ftk_int64_free(live[s])
                 : kind[s] == 1 ? ftk_ref_free(live[s])
                                : ftk_flag_free(live[s]);
        TCHECK(st == FTK_OK);
    }
}

START_TEST(test_concurrent_create_free) {
    atomic_store(&g_fail, 0);
    size_t base = ftk_live_handles();
    struct churn c = {FTK_SCALED(60000)};
    ftk_test_run_threads(NTHREADS, churn_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* All threads race to free the same handles: exactly one free wins each. */
struct racing_free {
    int n;
    ftk_handle_t *h;
    _Atomic int *wins;
};

static void racing_free_worker(void *arg, int t) {
    struct racing_free *r = arg;
    for (int k = 0; k < r->n; k++) {
        int i = (t & 1) ? r->n - 1 - k : (k + t * 97) % r->n;
        int64_t v;
        int st = ftk_int64_load(r->h[i], &v);
        TCHECK(st == FTK_EBADHANDLE || (st == FTK_OK && v == i));
        st = ftk_int64_free(r->h[i]);
        TCHECK(st == FTK_OK || st == FTK_EBADHANDLE);
        if (st == FTK_OK) atomic_fetch_add(&r->wins[i], 1);
        TCHECK(ftk_int64_load(r->h[i], &v) == FTK_EBADHANDLE);
    }
}

START_TEST(test_concurrent_racing_free) {
    atomic_store(&g_fail, 0);
    size_t base = ftk_live_handles();
    struct racing_free r;
    r.n = FTK_SCALED(40000);
    r.h = malloc((size_t)r.n * sizeof *r.h);
    r.wins = calloc((size_t)r.n, sizeof *r.wins);
    ck_assert(r.h && r.wins);
    for (int i = 0; i < r.n; i++) REQUIRE(ftk_int64_new(i, &r.h[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base + (size_t)r.n);
    ftk_test_run_threads(NTHREADS, racing_free_worker, &r);
    ASSERT_NO_THREAD_FAILURES();
    for (int i = 0; i < r.n; i++) REQUIRE(atomic_load(&r.wins[i]) == 1);
    ck_assert_uint_eq(ftk_live_handles(), base);
    free(r.h);
    free(r.wins);
}
END_TEST

/* ---- stress: readers on handles that other threads create and destroy ---- */

#define CELLS 64

struct shared_cells {
    int iters;
    _Atomic(ftk_handle_t) cell[CELLS]; /* int64 handles published by writers */
};

static void cells_worker(void *arg, int t) {
    struct shared_cells *sc = arg;
    uint64_t seed = 0xD1B54A32D192ED03ULL * (uint64_t)(t + 1);
    for (int k = 0; k < sc->iters; k++) {
        int c = (int)(rng_next(&seed) % CELLS);
        if (t % 2 == 0) { /* writer: replace the cell's object */
            ftk_handle_t h;
            TCHECK(ftk_int64_new((int64_t)tag_of(t, k), &h) == FTK_OK);
            ftk_handle_t old = atomic_exchange(&sc->cell[c], h);
            if (old != FTK_NULL_HANDLE) TCHECK(ftk_int64_free(old) == FTK_OK);
        } else { /* reader: the handle is live or reported bad, never a crash */
            ftk_handle_t h = atomic_load(&sc->cell[c]);
            int64_t v;
            int st = ftk_int64_load(h, &v);
            TCHECK(st == FTK_OK || st == FTK_EBADHANDLE);
            if (st == FTK_OK) TCHECK(((uint64_t)v >> 56) == 0x5A);
            int64_t v2 = ftk_int64_fetch_add_v(h, 0);
            TCHECK(v2 == 0 || ((uint64_t)v2 >> 56) == 0x5A);
            TCHECK(ftk_flag_load(h, NULL) == FTK_EINVAL);
            int f;
            TCHECK(ftk_flag_load(h, &f) == FTK_EBADHANDLE);
        }
    }
}

START_TEST(test_stress_readers_vs_free) {
    atomic_store(&g_fail, 0);
    size_t base = ftk_live_handles();
    struct shared_cells *sc = calloc(1, sizeof *sc);
    ck_assert_ptr_nonnull(sc);
    sc->iters = FTK_SCALED(200000);
    ftk_test_run_threads(NTHREADS, cells_worker, sc);
    ASSERT_NO_THREAD_FAILURES();
    size_t n = 0;
    for (int c = 0; c < CELLS; c++) {
        ftk_handle_t h = atomic_load(&sc->cell[c]);
        if (h != FTK_NULL_HANDLE) {
            ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
            n++;
        }
    }
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(ftk_live_handles(), base);
    free(sc);
}
END_TEST

/* Handles carry a finite generation, and a create/free loop reuses one entry
 * (the free list is LIFO). However often an entry is recycled, a handle
 * freed long ago must never become valid again. Full size needs 2**24
 * cycles (under a second); sanitizer builds run a scaled-down version. */
START_TEST(test_stress_generation_exhaustion) {
    const long cycles = (FTK_TEST_DIVISOR <= 4) ? (1L << 24) + 4096 : FTK_SCALED(1L << 22);
    size_t base = ftk_live_handles();
    enum { SAVED = 64 };
    ftk_handle_t saved[SAVED];
    int nsaved = 0;
    ftk_handle_t h0;
    ck_assert_int_eq(ftk_int64_new(-1, &h0), FTK_OK);
    ck_assert_int_eq(ftk_int64_free(h0), FTK_OK);
    saved[nsaved++] = h0;
    const long every = cycles / (SAVED - 1) + 1;
    for (long i = 0; i < cycles; i++) {
        ftk_handle_t h;
        REQUIRE(ftk_int64_new(i, &h) == FTK_OK);
        if (h == h0) ck_abort_msg("a freed handle came back after %ld create/free cycles", i + 1);
        REQUIRE(ftk_int64_free(h) == FTK_OK);
        if (i % every == every - 1 && nsaved < SAVED) saved[nsaved++] = h;
    }
    int64_t v;
    for (int k = 0; k < nsaved; k++) {
        ck_assert_int_eq(ftk_int64_load(saved[k], &v), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_int64_free(saved[k]), FTK_EBADHANDLE);
    }
    /* the table still works, and none of the stale handles names the new object */
    ftk_handle_t h;
    ck_assert_int_eq(ftk_int64_new(7, &h), FTK_OK);
    for (int k = 0; k < nsaved; k++) ck_assert(h != saved[k]);
    ck_assert_int_eq(ftk_int64_load(h, &v), FTK_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(ftk_int64_free(h), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
}
END_TEST

static Suite *common_suite(void) {
    Suite *s = suite_create("common");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_version);
    tcase_add_test(api, test_status_numbers);
    tcase_add_test(api, test_strerror_and_names);
    tcase_add_test(api, test_last_status);
    tcase_add_test(api, test_null_handle);
    tcase_add_test(api, test_garbage_handles);
    tcase_add_test(api, test_destroyed_handle_and_double_free);
    tcase_add_test(api, test_wrong_kind);
    tcase_add_test(api, test_generation_reuse);
    tcase_add_test(api, test_live_handles_accounting);
    tcase_add_test(api, test_reclaim_collect_quiet);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_many_handles);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_create_free);
    tcase_add_test(conc, test_concurrent_racing_free);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_readers_vs_free);
    tcase_add_test(stress, test_stress_generation_exhaustion);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(common_suite()); }
