/*
 * test_deque.c - the word deque: every entry point, bad handles, a model-based
 * random test against a plain array, maxlen eviction (single and batch),
 * random access, rotate/reverse, snapshot/clear, close, blocking pops and
 * their wake-ups, the pop record, and 8-thread storms (every word exactly
 * once, per-producer order, atomic rotate/reverse/snapshot under churn).
 * Public API only.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define MS 1000000LL
#define BACK FTK_DEQUE_BACK
#define FRONT FTK_DEQUE_FRONT
#define UNB ((size_t)FTK_DEQUE_UNBOUNDED)

static ftk_handle_t new_d(size_t maxlen) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_deque_new(maxlen, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static size_t dsize(ftk_handle_t h) {
    size_t n = 99;
    ck_assert_int_eq(ftk_deque_size(h, &n), FTK_OK);
    ck_assert_int_eq(ftk_deque_len(h), (int64_t)n);
    return n;
}

/* ftk_deque_last_popped's count (status asserted OK). */
static size_t lastp(ftk_handle_t h, uint64_t *w) {
    size_t n = 99;
    REQUIRE(ftk_deque_last_popped(h, w, &n) == FTK_OK);
    return n;
}

static void free_d(ftk_handle_t h) {
    ck_assert_int_eq(ftk_deque_free(h), FTK_OK);
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

/* The whole contents, front to back (n words, asserted). */
static void expect_words(ftk_handle_t h, const uint64_t *want, size_t n) {
    uint64_t *got = malloc((n + 1) * sizeof *got);
    size_t m = 0;
    ck_assert_int_eq(ftk_deque_snapshot(h, got, n + 1, &m), FTK_OK);
    ck_assert_uint_eq(m, n);
    for (size_t i = 0; i < n; i++) REQUIRE(got[i] == want[i]);
    free(got);
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_new_free) {
    size_t base = ftk_live_handles();
    ck_assert_int_eq(ftk_deque_new(0, NULL), FTK_EINVAL);
    ftk_handle_t a = new_d(UNB), b = new_d(3), z = new_d(0);
    ck_assert_uint_eq(ftk_live_handles(), base + 3);
    size_t m = 0;
    ck_assert_int_eq(ftk_deque_maxlen(a, &m), FTK_OK);
    ck_assert(m == UNB);
    ck_assert_int_eq(ftk_deque_maxlen(b, &m), FTK_OK);
    ck_assert_uint_eq(m, 3);
    ck_assert_int_eq(ftk_deque_maxlen(z, &m), FTK_OK);
    ck_assert_uint_eq(m, 0);
    ck_assert_uint_eq(dsize(a), 0);
    for (uint64_t i = 0; i < 1000; i++) ck_assert_int_eq(ftk_deque_push_back(a, i), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_back(b, 1), FTK_OK); /* freed with words inside */
    ck_assert_int_eq(ftk_deque_free(FTK_NULL_HANDLE), FTK_OK);
    ck_assert_int_eq(ftk_deque_free(a), FTK_OK);
    ck_assert_int_eq(ftk_deque_free(a), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_free(b), FTK_OK);
    ck_assert_int_eq(ftk_deque_free(z), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

/* Every entry point on a handle that is not a live deque. */
static void check_all_bad(ftk_handle_t h) {
    uint64_t w = 7, buf[4] = {1, 2, 3, 4}, ev[4];
    size_t n = 9;
    ck_assert_int_eq(ftk_deque_close(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_maxlen(h, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_size(h, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_len(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_push(h, BACK, 1, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_push_back(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_push_front(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_push_many(h, FRONT, buf, 4, ev, &n), FTK_EBADHANDLE);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, -1), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_deque_pop_v(h, FRONT, -1), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_pop_many(h, BACK, buf, 4, &n, -1), FTK_EBADHANDLE);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(ftk_deque_pop_many_v(h, BACK, buf, 4), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_last_popped(h, &w, &n), FTK_EBADHANDLE);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(ftk_deque_evicted_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_unpop_last(h, buf), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_push_range(h, BACK, 1, 2, ev, &n), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_deque_pop_runs_v(h, BACK, buf, 2), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_wake(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_get(h, 0, &w), FTK_EBADHANDLE);
    ck_assert_uint_eq(ftk_deque_get_v(h, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_set(h, 0, 1, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_insert(h, 0, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_remove_at(h, 0, &w), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_remove_word(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_rotate(h, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_reverse(h), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_snapshot(h, buf, 4, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_clear(h, buf, 4, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_deque_clear(h, NULL, 0, &n), FTK_EBADHANDLE);
    if (h != FTK_NULL_HANDLE) ck_assert_int_eq(ftk_deque_free(h), FTK_EBADHANDLE);
}

START_TEST(test_bad_handles) {
    check_all_bad(FTK_NULL_HANDLE);
    check_all_bad(H(12345));
    check_all_bad(H(UINT64_MAX));
    check_all_bad(H((uint64_t)7 << 56 | 1)); /* deque kind, never allocated */

    ftk_handle_t q = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_queue_new(0, &q), FTK_OK);
    check_all_bad(q); /* wrong kind */
    ck_assert_int_eq(ftk_queue_free(q), FTK_OK);

    ftk_handle_t d = new_d(UNB);
    ck_assert_int_eq(ftk_deque_push_back(d, 1), FTK_OK);
    ck_assert_uint_eq(ftk_deque_pop_back_v(d), 1);
    ck_assert_int_eq(ftk_deque_free(d), FTK_OK);
    check_all_bad(d); /* destroyed (also: no stale pop record) */
    ftk_handle_t d2 = new_d(4); /* may reuse the entry: the old handle stays dead */
    check_all_bad(d);
    ck_assert_uint_eq(dsize(d2), 0);
    /* a deque handle is rejected by other kinds */
    ck_assert_int_eq(ftk_queue_try_push(d2, 1), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_queue_free(d2), FTK_EBADHANDLE);
    free_d(d2);
}
END_TEST

START_TEST(test_bad_arguments) {
    ftk_handle_t h = new_d(UNB);
    uint64_t w = 0, buf[2] = {1, 2};
    size_t n = 7;
    ck_assert_int_eq(ftk_deque_push(h, 2, 1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_push(h, -1, 1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_push_many(h, 5, buf, 2, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, NULL, 2, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop(h, BACK, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop(h, 3, &w, 0), FTK_EINVAL);
    ck_assert_uint_eq(ftk_deque_pop_v(h, 3, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop_many(h, BACK, NULL, 2, &n, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop_many(h, BACK, buf, 2, NULL, 0), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop_many(h, 9, buf, 2, &n, 0), FTK_EINVAL);
    ck_assert_uint_eq(ftk_deque_pop_many_v(h, BACK, NULL, 2), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EINVAL);
    ck_assert_uint_eq(ftk_deque_pop_many_v(h, BACK, buf, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_maxlen(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_size(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_get(h, 0, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_snapshot(h, NULL, 2, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_snapshot(h, buf, 2, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_clear(h, buf, 2, NULL), FTK_EINVAL);
    /* zero counts are fine with NULL arrays */
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, NULL, 0, NULL, NULL), FTK_OK);
    n = 7;
    ck_assert_int_eq(ftk_deque_pop_many(h, BACK, NULL, 0, &n, -1), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_deque_snapshot(h, NULL, 0, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(dsize(h), 0); /* nothing happened */
    free_d(h);
}
END_TEST

START_TEST(test_value_style) {
    ftk_handle_t h = new_d(UNB);
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    ck_assert_uint_eq(ftk_deque_pop_v(h, BACK, 2 * MS), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ETIMEDOUT);
    ck_assert_uint_eq(ftk_deque_get_v(h, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_deque_push_back(h, 0), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_back(h, UINT64_MAX), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_front(h, 5), FTK_OK); /* 5 0 MAX */
    ck_assert_uint_eq(ftk_deque_get_v(h, 1), 0); /* a genuine 0 */
    ck_assert_int_eq(ftk_last_status(), FTK_OK);
    ck_assert(ftk_deque_get_v(h, -1) == UINT64_MAX);
    ck_assert_uint_eq(ftk_deque_get_v(h, -3), 5);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 5);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_OK);
    ck_assert(ftk_deque_pop_v(h, FRONT, -1) == UINT64_MAX);
    uint64_t buf[4];
    ck_assert_uint_eq(ftk_deque_pop_many_v(h, BACK, buf, 4), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    free_d(h);
}
END_TEST

/* ---- single ------------------------------------------------------------------ */

/* Decode pop_runs_v pairs into words (pop order); returns how many. */
static size_t decode_runs(const uint64_t *runs, size_t k, uint64_t *out) {
    size_t n = 0;
    for (size_t j = 0; j < k; j++) {
        uint64_t a = runs[2 * j], c = runs[2 * j + 1];
        int neg = (int64_t)c < 0;
        uint64_t len = neg ? (uint64_t)0 - c : c;
        ck_assert_uint_ge(len, 1);
        for (uint64_t t = 0; t < len; t++) out[n++] = neg ? a - t : a + t;
    }
    return n;
}

/* A plain-array model of the deque. */
typedef struct {
    uint64_t *a;
    size_t n, maxlen;
} model;

static void m_insert(model *m, size_t i, uint64_t w) {
    memmove(m->a + i + 1, m->a + i, (m->n - i) * sizeof(uint64_t));
    m->a[i] = w;
    m->n++;
}

static uint64_t m_remove(model *m, size_t i) {
    uint64_t w = m->a[i];
    memmove(m->a + i, m->a + i + 1, (m->n - i - 1) * sizeof(uint64_t));
    m->n--;
    return w;
}

/* push with eviction; returns 1 and *ev if something was evicted */
static int m_push(model *m, int side, uint64_t w, uint64_t *ev) {
    int evicted = 0;
    if (m->n == m->maxlen) {
        if (m->maxlen == 0) {
            *ev = w;
            return 1;
        }
        *ev = m_remove(m, side == BACK ? 0 : m->n - 1);
        evicted = 1;
    }
    m_insert(m, side == BACK ? m->n : 0, w);
    return evicted;
}

static void model_run(size_t maxlen, uint64_t seed, int steps) {
    ftk_handle_t h = new_d(maxlen);
    model m = {malloc(sizeof(uint64_t) * 4096), 0, maxlen};
    uint64_t next = 1, buf[64], ev[64], w;
    size_t n, ne;
    for (int s = 0; s < steps; s++) {
        uint64_t r = rng_next(&seed);
        int side = (int)(r >> 8 & 1);
        unsigned op = (unsigned)(r % 16);
        if (m.n > 3000) op = 4; /* keep it bounded */
        switch (op) {
        case 0:
        case 1:
        case 2: { /* push */
            uint64_t mev = 0, dev = 0;
            int me = m_push(&m, side, next, &mev);
            int st = op == 0 ? ftk_deque_push(h, side, next, &dev)
                             : (side == BACK ? ftk_deque_push_back(h, next)
                                             : ftk_deque_push_front(h, next));
            if (op != 0 && st == FTK_DEQUE_EVICTED) dev = ftk_deque_evicted_v(h);
            REQUIRE(st == (me ? FTK_DEQUE_EVICTED : FTK_OK));
            if (me) REQUIRE(dev == mev);
            next++;
            break;
        }
        case 3:
        case 4:
        case 5: { /* pop */
            uint64_t got = side == BACK ? ftk_deque_pop_back_v(h) : ftk_deque_pop_front_v(h);
            if (m.n == 0) {
                REQUIRE(got == 0 && ftk_last_status() == FTK_EEMPTY);
                REQUIRE(lastp(h, &w) == 0);
            } else {
                REQUIRE(got == m_remove(&m, side == BACK ? m.n - 1 : 0));
                REQUIRE(lastp(h, &w) == 1 && w == got);
            }
            break;
        }
        case 6: { /* push_many */
            size_t k = (size_t)(r >> 16) % 40;
            uint64_t mev[64];
            size_t mne = 0;
            for (size_t i = 0; i < k; i++) {
                buf[i] = next++;
                if (m_push(&m, side, buf[i], &mev[mne])) mne++;
            }
            int st = (r >> 40 & 1) && k > 0
                         ? ftk_deque_push_range(h, side, buf[0], k, ev, &ne) /* buf is a range */
                         : ftk_deque_push_many(h, side, buf, k, ev, &ne);
            REQUIRE(st == (mne ? FTK_DEQUE_EVICTED : FTK_OK));
            REQUIRE(ne == mne);
            for (size_t i = 0; i < ne; i++) REQUIRE(ev[i] == mev[i]);
            break;
        }
        case 7: { /* pop_many */
            size_t k = 1 + (size_t)(r >> 16) % 40;
            int st;
            if (r >> 40 & 1) { /* run-length encoded form */
                uint64_t runs[2 * 64];
                size_t pairs = ftk_deque_pop_runs_v(h, side, runs, k);
                st = pairs ? FTK_OK : ftk_last_status();
                n = decode_runs(runs, pairs, buf);
            } else {
                st = ftk_deque_pop_many(h, side, buf, k, &n, 0);
            }
            if (m.n == 0) {
                REQUIRE(st == FTK_EEMPTY && n == 0);
            } else {
                REQUIRE(st == FTK_OK && n == (k < m.n ? k : m.n));
                for (size_t i = 0; i < n; i++)
                    REQUIRE(buf[i] == m_remove(&m, side == BACK ? m.n - 1 : 0));
                REQUIRE(lastp(h, NULL) == n);
            }
            break;
        }
        case 8: { /* get / set by index, both signs, out of range too */
            int64_t len = (int64_t)m.n;
            int64_t idx = (int64_t)((r >> 16) % (uint64_t)(2 * len + 3)) - len - 1;
            int ok = idx >= -len && idx < len;
            size_t mi = ok ? (size_t)(idx < 0 ? idx + len : idx) : 0;
            if (r >> 40 & 1) {
                int st = ftk_deque_get(h, idx, &w);
                REQUIRE(st == (ok ? FTK_OK : FTK_ENOTFOUND));
                if (ok) REQUIRE(w == m.a[mi]);
            } else {
                uint64_t old = 0;
                int st = ftk_deque_set(h, idx, next, &old);
                REQUIRE(st == (ok ? FTK_OK : FTK_ENOTFOUND));
                if (ok) {
                    REQUIRE(old == m.a[mi]);
                    m.a[mi] = next;
                }
                next++;
            }
            break;
        }
        case 9: { /* insert, clamped like list.insert */
            int64_t len = (int64_t)m.n;
            int64_t idx = (int64_t)((r >> 16) % (uint64_t)(2 * len + 5)) - len - 2;
            int st = ftk_deque_insert(h, idx, next);
            if (m.n == m.maxlen) {
                REQUIRE(st == FTK_EFULL);
            } else {
                REQUIRE(st == FTK_OK);
                int64_t i = idx < 0 ? idx + len : idx;
                if (i < 0) i = 0;
                if (i > len) i = len;
                m_insert(&m, (size_t)i, next);
            }
            next++;
            break;
        }
        case 10: { /* remove_at */
            int64_t len = (int64_t)m.n;
            int64_t idx = (int64_t)((r >> 16) % (uint64_t)(2 * len + 3)) - len - 1;
            int ok = idx >= -len && idx < len;
            int st = ftk_deque_remove_at(h, idx, &w);
            REQUIRE(st == (ok ? FTK_OK : FTK_ENOTFOUND));
            if (ok) REQUIRE(w == m_remove(&m, (size_t)(idx < 0 ? idx + len : idx)));
            break;
        }
        case 11: { /* remove_word: present or not */
            if (m.n && (r >> 20 & 1)) {
                size_t i = (size_t)(r >> 24) % m.n;
                uint64_t target = m.a[i];
                REQUIRE(ftk_deque_remove_word(h, target) == FTK_OK);
                m_remove(&m, i);
            } else {
                REQUIRE(ftk_deque_remove_word(h, next + 1000000) == FTK_ENOTFOUND);
            }
            break;
        }
        case 12: { /* rotate by any amount */
            int64_t k = (int64_t)((r >> 16) % 2001) - 1000;
            if (r >> 50 & 1) k = (r >> 51 & 1) ? INT64_MIN : INT64_MAX;
            REQUIRE(ftk_deque_rotate(h, k) == FTK_OK);
            if (m.n > 1) {
                int64_t len = (int64_t)m.n, rr = k % len;
                if (rr < 0) rr += len;
                for (int64_t j = 0; j < rr; j++) m_insert(&m, 0, m_remove(&m, m.n - 1));
            }
            break;
        }
        case 13: /* reverse */
            REQUIRE(ftk_deque_reverse(h) == FTK_OK);
            for (size_t i = 0, j = m.n; i + 1 < j; i++, j--) {
                uint64_t t = m.a[i];
                m.a[i] = m.a[j - 1];
                m.a[j - 1] = t;
            }
            break;
        case 14: /* snapshot, also with a too-small array */
            if (m.n > 0) {
                REQUIRE(ftk_deque_snapshot(h, buf, 0, &n) == FTK_EOVERFLOW && n == m.n);
            }
            expect_words(h, m.a, m.n);
            break;
        default: /* clear, rarely */
            if ((r >> 30) % 8 == 0) {
                uint64_t *out = malloc((m.n + 1) * sizeof *out);
                if (m.n > 0) REQUIRE(ftk_deque_clear(h, out, m.n - 1, &n) == FTK_EOVERFLOW);
                REQUIRE(dsize(h) == m.n);
                REQUIRE(ftk_deque_clear(h, out, m.n, &n) == FTK_OK && n == m.n);
                for (size_t i = 0; i < n; i++) REQUIRE(out[i] == m.a[i]);
                m.n = 0;
                free(out);
            }
            break;
        }
        REQUIRE(dsize(h) == m.n);
    }
    expect_words(h, m.a, m.n);
    free(m.a);
    free_d(h);
}

START_TEST(test_model_unbounded) { model_run(UNB, 0x9e3779b97f4a7c15ull, 60000); }
END_TEST

START_TEST(test_model_bounded) {
    static const size_t maxlens[] = {0, 1, 2, 3, 16, 17, 100};
    for (size_t i = 0; i < sizeof maxlens / sizeof maxlens[0]; i++)
        model_run(maxlens[i], 12345 + i, 12000);
}
END_TEST

START_TEST(test_ends_and_growth) {
    ftk_handle_t h = new_d(UNB);
    const uint64_t n = 100000; /* many doublings, then halvings */
    for (uint64_t i = 0; i < n; i++)
        ck_assert_int_eq(i % 2 ? ftk_deque_push_back(h, i) : ftk_deque_push_front(h, i), FTK_OK);
    ck_assert_uint_eq(dsize(h), n);
    /* front: even numbers descending, then odd ascending */
    for (uint64_t i = 0; i < n / 2; i++) REQUIRE(ftk_deque_pop_front_v(h) == n - 2 - 2 * i);
    for (uint64_t i = 0; i < n / 2; i++) REQUIRE(ftk_deque_pop_back_v(h) == n - 1 - 2 * i);
    ck_assert_uint_eq(dsize(h), 0);
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    /* a sliding window wraps the ring many times */
    uint64_t in = 0, out = 0;
    for (int r = 0; r < 20000; r++) {
        for (int k = 0; k < 3; k++) REQUIRE(ftk_deque_push_back(h, in++) == FTK_OK);
        for (int k = 0; k < 2; k++) REQUIRE(ftk_deque_pop_front_v(h) == out++);
    }
    while (dsize(h)) REQUIRE(ftk_deque_pop_front_v(h) == out++);
    ck_assert_uint_eq(out, in);
    free_d(h);
}
END_TEST

START_TEST(test_maxlen) {
    ftk_handle_t h = new_d(3);
    uint64_t ev = 0, buf[8] = {10, 11, 12, 13, 14}, evs[8];
    size_t ne = 9;
    for (uint64_t i = 1; i <= 3; i++) ck_assert_int_eq(ftk_deque_push_back(h, i), FTK_OK);
    ck_assert_int_eq(ftk_deque_push(h, BACK, 4, &ev), FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ev, 1);
    ck_assert_uint_eq(ftk_deque_evicted_v(h), 1);
    ck_assert_int_eq(ftk_deque_push_front(h, 0), FTK_DEQUE_EVICTED); /* evicts 4 */
    ck_assert_uint_eq(ftk_deque_evicted_v(h), 4);
    ftk_handle_t other = new_d(UNB);
    ck_assert_uint_eq(ftk_deque_evicted_v(other), 0); /* no eviction on that one */
    ck_assert_int_eq(ftk_last_status(), FTK_ENOTFOUND);
    free_d(other);
    expect_words(h, (uint64_t[]){0, 2, 3}, 3);
    ck_assert_int_eq(ftk_deque_insert(h, 1, 9), FTK_EFULL);
    ck_assert_int_eq(ftk_deque_push(h, FRONT, 5, NULL), FTK_DEQUE_EVICTED); /* NULL ok */
    /* extend by more than maxlen: the old words, then the first new ones go */
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, buf, 5, evs, &ne), FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ne, 5);
    uint64_t want_ev[] = {5, 0, 2, 10, 11};
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(evs[i], want_ev[i]);
    expect_words(h, (uint64_t[]){12, 13, 14}, 3);
    /* extendleft: reversed, evicting from the back */
    ck_assert_int_eq(ftk_deque_push_many(h, FRONT, (uint64_t[]){1, 2}, 2, NULL, &ne),
                     FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ne, 2);
    expect_words(h, (uint64_t[]){2, 1, 12}, 3);
    ck_assert_int_eq(ftk_deque_pop_back_v(h), 12);
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, (uint64_t[]){7}, 1, evs, NULL), FTK_OK);
    expect_words(h, (uint64_t[]){2, 1, 7}, 3);
    free_d(h);

    /* maxlen 0 keeps nothing */
    h = new_d(0);
    ck_assert_int_eq(ftk_deque_push(h, BACK, 42, &ev), FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ev, 42);
    ck_assert_int_eq(ftk_deque_push_many(h, FRONT, buf, 3, evs, &ne), FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ne, 3);
    ck_assert_uint_eq(evs[2], 12);
    ck_assert_int_eq(ftk_deque_insert(h, 0, 1), FTK_EFULL);
    ck_assert_uint_eq(dsize(h), 0);
    free_d(h);
}
END_TEST

START_TEST(test_rotate_extremes) {
    ftk_handle_t h = new_d(UNB);
    ck_assert_int_eq(ftk_deque_rotate(h, 5), FTK_OK); /* empty */
    ck_assert_int_eq(ftk_deque_reverse(h), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_back(h, 1), FTK_OK);
    ck_assert_int_eq(ftk_deque_rotate(h, INT64_MIN), FTK_OK);
    expect_words(h, (uint64_t[]){1}, 1);
    /* full ring (16 words, the initial capacity): rotations reuse the slots */
    uint64_t want[16];
    for (uint64_t i = 2; i <= 16; i++) ck_assert_int_eq(ftk_deque_push_back(h, i), FTK_OK);
    ck_assert_int_eq(ftk_deque_rotate(h, 3), FTK_OK);
    for (int i = 0; i < 16; i++) want[i] = (uint64_t)((i + 13) % 16 + 1);
    expect_words(h, want, 16);
    ck_assert_int_eq(ftk_deque_rotate(h, -3 - 16 * 1000), FTK_OK);
    for (int i = 0; i < 16; i++) want[i] = (uint64_t)i + 1;
    expect_words(h, want, 16);
    ck_assert_int_eq(ftk_deque_rotate(h, 12), FTK_OK); /* the long way round: 4 left */
    for (int i = 0; i < 16; i++) want[i] = (uint64_t)((i + 4) % 16 + 1);
    expect_words(h, want, 16);
    free_d(h);
}
END_TEST

START_TEST(test_close) {
    ftk_handle_t h = new_d(UNB);
    uint64_t w, buf[8];
    size_t n;
    for (uint64_t i = 1; i <= 5; i++) ck_assert_int_eq(ftk_deque_push_back(h, i), FTK_OK);
    ck_assert_int_eq(ftk_deque_close(h), FTK_OK);
    ck_assert_int_eq(ftk_deque_close(h), FTK_OK); /* idempotent */
    ck_assert_int_eq(ftk_deque_push_back(h, 9), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_push_front(h, 9), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, buf, 2, NULL, &n), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, -1), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_pop_many(h, FRONT, buf, 8, &n, -1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_get(h, 0, &w), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_set(h, 0, 1, NULL), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_insert(h, 0, 1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_remove_at(h, 0, NULL), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_remove_word(h, 1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_rotate(h, 1), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_reverse(h), FTK_ECLOSED);
    ck_assert_int_eq(ftk_deque_snapshot(h, buf, 8, &n), FTK_ECLOSED);
    ck_assert_uint_eq(dsize(h), 5); /* still answers */
    ck_assert_int_eq(ftk_deque_maxlen(h, &n), FTK_OK);
    ck_assert_int_eq(ftk_deque_clear(h, buf, 8, &n), FTK_OK); /* how a binding empties it */
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < 5; i++) ck_assert_uint_eq(buf[i], i + 1);
    ck_assert_uint_eq(dsize(h), 0);
    free_d(h);
}
END_TEST

START_TEST(test_clear_discard_and_shrink) {
    ftk_handle_t h = new_d(UNB);
    size_t n;
    for (uint64_t i = 0; i < 5000; i++) ck_assert_int_eq(ftk_deque_push_back(h, i), FTK_OK);
    ck_assert_int_eq(ftk_deque_clear(h, NULL, 0, &n), FTK_OK); /* words dropped */
    ck_assert_uint_eq(n, 5000);
    ck_assert_uint_eq(dsize(h), 0);
    for (uint64_t i = 0; i < 40; i++) ck_assert_int_eq(ftk_deque_push_front(h, i), FTK_OK);
    ck_assert_uint_eq(ftk_deque_get_v(h, 0), 39);
    ck_assert_uint_eq(ftk_deque_get_v(h, -1), 0);
    free_d(h);
}
END_TEST

START_TEST(test_timeouts) {
    ftk_handle_t h = new_d(UNB);
    uint64_t w, buf[4];
    size_t n;
    int64_t t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, 30 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 30 * MS);
    t0 = ftk_test_now_ns();
    ck_assert_int_eq(ftk_deque_pop_many(h, FRONT, buf, 4, &n, 20 * MS), FTK_ETIMEDOUT);
    ck_assert_int_ge(ftk_test_now_ns() - t0, 20 * MS);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, 0), FTK_EEMPTY);
    ck_assert_int_eq(ftk_deque_push_back(h, 3), FTK_OK);
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, INT64_MAX), FTK_OK); /* no overflow */
    ck_assert_uint_eq(w, 3);
    free_d(h);
}
END_TEST

START_TEST(test_pop_record) {
    ftk_handle_t a = new_d(UNB), b = new_d(UNB);
    uint64_t w = 0, buf[4];
    size_t n;
    ck_assert_int_eq(ftk_deque_push_many(a, BACK, (uint64_t[]){1, 2, 3, 4}, 4, NULL, NULL),
                     FTK_OK);
    ck_assert_uint_eq(ftk_deque_pop_back_v(a), 4);
    ck_assert_uint_eq(lastp(a, &w), 1);
    ck_assert_uint_eq(w, 4);
    ck_assert_uint_eq(lastp(b, &w), 0); /* another deque */
    n = 7;
    ck_assert_int_eq(ftk_deque_last_popped(FTK_NULL_HANDLE, &w, &n), FTK_EBADHANDLE);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_deque_last_popped(a, &w, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_pop_many(a, FRONT, buf, 2, &n, 0), FTK_OK);
    ck_assert_uint_eq(lastp(a, NULL), 2);
    ck_assert_uint_eq(ftk_deque_pop_back_v(b), 0); /* empty: the record moves to b */
    ck_assert_uint_eq(lastp(a, &w), 0);
    ck_assert_uint_eq(lastp(b, &w), 0);
    ck_assert_uint_eq(ftk_deque_pop_v(a, FRONT, 0), 3);
    ck_assert_uint_eq(lastp(a, &w), 1);
    ck_assert_uint_eq(w, 3);
    free_d(a);
    free_d(b);
}
END_TEST

START_TEST(test_unpop_last) {
    ftk_handle_t h = new_d(UNB), other = new_d(UNB);
    uint64_t buf[8], w;
    size_t n;
    ck_assert_int_eq(ftk_deque_push_many(h, BACK, (uint64_t[]){1, 2, 3, 4, 5}, 5, NULL, NULL),
                     FTK_OK);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK); /* nothing popped yet */
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 5);
    ck_assert_int_eq(ftk_deque_unpop_last(other, NULL), FTK_OK); /* another deque: nothing */
    ck_assert_uint_eq(dsize(other), 0);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK); /* idempotent */
    expect_words(h, (uint64_t[]){1, 2, 3, 4, 5}, 5);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 1);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK);
    expect_words(h, (uint64_t[]){1, 2, 3, 4, 5}, 5);
    ck_assert_uint_eq(ftk_deque_pop_many_v(h, BACK, buf, 3), 3); /* 5 4 3 */
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_unpop_last(h, buf), FTK_OK);
    expect_words(h, (uint64_t[]){1, 2, 3, 4, 5}, 5);
    ck_assert_int_eq(ftk_deque_pop_many(h, FRONT, buf, 2, &n, 0), FTK_OK); /* 1 2 */
    ck_assert_int_eq(ftk_deque_push_back(h, 6), FTK_OK); /* others act meanwhile */
    ck_assert_int_eq(ftk_deque_unpop_last(h, buf), FTK_OK);
    expect_words(h, (uint64_t[]){1, 2, 3, 4, 5, 6}, 6);
    ck_assert_uint_eq(ftk_deque_pop_v(h, BACK, 0), 6);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_deque_get_v(h, -1), 6);
    free_d(h);
    free_d(other);

    /* bounded and refilled meanwhile: no room, nothing changes, record kept */
    h = new_d(2);
    ck_assert_int_eq(ftk_deque_push_back(h, 1), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_back(h, 2), FTK_OK);
    ck_assert_uint_eq(ftk_deque_pop_front_v(h), 1);
    ck_assert_int_eq(ftk_deque_push_back(h, 3), FTK_OK);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_EFULL);
    ck_assert_uint_eq(lastp(h, &w), 1);
    ck_assert_uint_eq(w, 1);
    expect_words(h, (uint64_t[]){2, 3}, 2);
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 3);
    ck_assert_int_eq(ftk_deque_close(h), FTK_OK);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_ECLOSED);
    free_d(h);
}
END_TEST

START_TEST(test_ranges_and_runs) {
    ftk_handle_t h = new_d(UNB);
    uint64_t runs[2 * 64], words[64], ev[8];
    size_t ne = 9;
    ck_assert_int_eq(ftk_deque_push_range(h, BACK, 100, 5, NULL, &ne), FTK_OK); /* 100..104 */
    ck_assert_uint_eq(ne, 0);
    ck_assert_int_eq(ftk_deque_push_back(h, 7), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_range(h, FRONT, 10, 3, NULL, NULL), FTK_OK); /* 12 11 10 */
    ck_assert_int_eq(ftk_deque_push_range(h, BACK, 0, 0, NULL, NULL), FTK_OK);
    ck_assert_int_eq(ftk_deque_push_range(h, BACK, UINT64_MAX, 2, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_deque_push_range(h, 4, 1, 2, NULL, NULL), FTK_EINVAL);
    expect_words(h, (uint64_t[]){12, 11, 10, 100, 101, 102, 103, 104, 7}, 9);
    /* from the front: 12 11 10 is one descending run, 100..104 ascending */
    size_t k = ftk_deque_pop_runs_v(h, FRONT, runs, 8);
    ck_assert_uint_eq(k, 2);
    ck_assert_uint_eq(runs[0], 12);
    ck_assert_int_eq((int64_t)runs[1], -3);
    ck_assert_uint_eq(runs[2], 100);
    ck_assert_int_eq((int64_t)runs[3], 5);
    ck_assert_uint_eq(lastp(h, NULL), 8);
    ck_assert_int_eq(ftk_deque_unpop_last(h, runs), FTK_OK); /* all back, in order */
    expect_words(h, (uint64_t[]){12, 11, 10, 100, 101, 102, 103, 104, 7}, 9);
    /* from the back: 7, then 104 down to 100, then 10 11 */
    k = ftk_deque_pop_runs_v(h, BACK, runs, 64);
    ck_assert_uint_eq(decode_runs(runs, k, words), 9);
    uint64_t want[] = {7, 104, 103, 102, 101, 100, 10, 11, 12};
    for (int i = 0; i < 9; i++) ck_assert_uint_eq(words[i], want[i]);
    ck_assert_uint_eq(k, 3);
    ck_assert_int_eq(ftk_deque_unpop_last(h, runs), FTK_OK);
    expect_words(h, (uint64_t[]){12, 11, 10, 100, 101, 102, 103, 104, 7}, 9);
    ck_assert_uint_eq(ftk_deque_pop_runs_v(h, BACK, runs, 1), 1); /* one word */
    ck_assert_uint_eq(runs[0], 7);
    ck_assert_uint_eq(runs[1], 1);
    ck_assert_int_eq(ftk_deque_unpop_last(h, NULL), FTK_OK); /* a single: the record */
    ck_assert_uint_eq(ftk_deque_get_v(h, -1), 7);
    ck_assert_uint_eq(ftk_deque_pop_runs_v(h, BACK, NULL, 4), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EINVAL);
    ck_assert_uint_eq(ftk_deque_pop_runs_v(h, BACK, runs, 0), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EINVAL);
    size_t n;
    ck_assert_int_eq(ftk_deque_clear(h, NULL, 0, &n), FTK_OK);
    ck_assert_uint_eq(ftk_deque_pop_runs_v(h, FRONT, runs, 4), 0);
    ck_assert_int_eq(ftk_last_status(), FTK_EEMPTY);
    free_d(h);
    /* bounded: evictions as push_many */
    h = new_d(3);
    ck_assert_int_eq(ftk_deque_push_range(h, BACK, 1, 5, ev, &ne), FTK_DEQUE_EVICTED);
    ck_assert_uint_eq(ne, 2);
    ck_assert_uint_eq(ev[0], 1);
    ck_assert_uint_eq(ev[1], 2);
    expect_words(h, (uint64_t[]){3, 4, 5}, 3);
    free_d(h);
}
END_TEST

/* ---- concurrent ------------------------------------------------------------- */

typedef struct {
    ftk_handle_t h;
    int status;
    uint64_t word;
    _Atomic int started;
} waiter_ctx;

static void waiter(void *arg, int i) {
    waiter_ctx *c = arg;
    if (i == 0) {
        atomic_store(&c->started, 1);
        c->status = ftk_deque_pop(c->h, FRONT, &c->word, -1);
    }
}

/* Start a blocked pop, run `act` from this thread, return the pop's status. */
typedef void (*action)(ftk_handle_t h);

typedef struct {
    waiter_ctx *w;
    action act;
} pair_ctx;

static void pair_fn(void *arg, int i) {
    pair_ctx *p = arg;
    if (i == 0) {
        waiter(p->w, 0);
    } else {
        while (!atomic_load(&p->w->started)) sched_yield();
        sleep_ms(30); /* let it go to sleep */
        p->act(p->w->h);
    }
}

static int run_waiter(ftk_handle_t h, action act, uint64_t *word) {
    waiter_ctx w = {.h = h, .status = 99};
    pair_ctx p = {&w, act};
    ftk_test_run_threads(2, pair_fn, &p);
    if (word) *word = w.word;
    return w.status;
}

static void act_push(ftk_handle_t h) { TCHECK(ftk_deque_push_back(h, 77) == FTK_OK); }
static void act_push_many(ftk_handle_t h) {
    TCHECK(ftk_deque_push_many(h, FRONT, (uint64_t[]){5, 6}, 2, NULL, NULL) == FTK_OK);
}
static void act_insert(ftk_handle_t h) { TCHECK(ftk_deque_insert(h, 0, 8) == FTK_OK); }
static void act_close(ftk_handle_t h) { TCHECK(ftk_deque_close(h) == FTK_OK); }
static void act_wake(ftk_handle_t h) { TCHECK(ftk_deque_wake(h) == FTK_OK); }
static void act_free(ftk_handle_t h) { TCHECK(ftk_deque_free(h) == FTK_OK); }

START_TEST(test_wakeups) {
    uint64_t w;
    ftk_handle_t h = new_d(UNB);
    ck_assert_int_eq(run_waiter(h, act_push, &w), FTK_OK);
    ck_assert_uint_eq(w, 77);
    ck_assert_int_eq(run_waiter(h, act_push_many, &w), FTK_OK);
    ck_assert_uint_eq(w, 6); /* extendleft put 6 in front */
    ck_assert_uint_eq(ftk_deque_pop_back_v(h), 5);
    ck_assert_int_eq(run_waiter(h, act_insert, &w), FTK_OK);
    ck_assert_uint_eq(w, 8);
    ck_assert_int_eq(run_waiter(h, act_wake, &w), FTK_EINTR);
    ck_assert_int_eq(ftk_deque_push_back(h, 1), FTK_OK); /* later calls unaffected */
    ck_assert_int_eq(ftk_deque_pop(h, BACK, &w, 10 * MS), FTK_OK);
    ck_assert_int_eq(run_waiter(h, act_close, &w), FTK_ECLOSED);
    free_d(h);
    h = new_d(UNB);
    ck_assert_int_eq(run_waiter(h, act_free, &w), FTK_ECLOSED);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
    ASSERT_NO_THREAD_FAILURES();
}
END_TEST

typedef struct {
    ftk_handle_t h;
    _Atomic int phase;
    int status;
    int64_t waited;
} timed_ctx;

static void timed_fn(void *arg, int i) {
    timed_ctx *c = arg;
    if (i == 0) {
        uint64_t w;
        int64_t t0 = ftk_test_now_ns();
        atomic_store(&c->phase, 1);
        c->status = ftk_deque_pop(c->h, BACK, &w, 5000 * MS);
        c->waited = ftk_test_now_ns() - t0;
    } else {
        while (!atomic_load(&c->phase)) sched_yield();
        sleep_ms(20);
        TCHECK(ftk_deque_push_front(c->h, 3) == FTK_OK);
    }
}

START_TEST(test_timed_pop_woken) {
    timed_ctx c = {.h = new_d(UNB)};
    ftk_test_run_threads(2, timed_fn, &c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_eq(c.status, FTK_OK);
    ck_assert_int_lt(c.waited, 2000 * MS); /* woken, not timed out */
    free_d(c.h);
}
END_TEST

/* ---- stress ----------------------------------------------------------------- */

/* Producers push (p << 40 | seq) at the back, with push_back, push and
 * push_many; consumers pop from the front, one by one, in batches and with
 * blocking pops. Every word comes out exactly once and each producer's words
 * come out in order (FIFO per producer through back-push/front-pop). */
typedef struct {
    ftk_handle_t h;
    uint64_t per_producer;
    _Atomic int producers_left;
    _Atomic uint64_t consumed;
    _Atomic unsigned char *seen;
} mpmc_ctx;

#define NP 4
#define NC 4

static void mpmc_worker(void *arg, int i) {
    mpmc_ctx *c = arg;
    if (i < NP) {
        uint64_t s = 0, buf[16];
        while (s < c->per_producer) {
            uint64_t k = (s % 7 == 3) ? 16 : 1;
            if (k > c->per_producer - s) k = c->per_producer - s;
            if (k == 1) {
                TCHECK((s % 2 ? ftk_deque_push_back(c->h, (uint64_t)i << 40 | s)
                              : ftk_deque_push(c->h, BACK, (uint64_t)i << 40 | s, NULL)) ==
                       FTK_OK);
            } else {
                for (uint64_t j = 0; j < k; j++) buf[j] = (uint64_t)i << 40 | (s + j);
                TCHECK(ftk_deque_push_many(c->h, BACK, buf, k, NULL, NULL) == FTK_OK);
            }
            s += k;
        }
        atomic_fetch_sub(&c->producers_left, 1);
        return;
    }
    uint64_t next[NP] = {0};
    uint64_t buf[8];
    uint64_t total = c->per_producer * NP;
    for (unsigned it = 0;; it++) {
        size_t n = 0;
        if (it % 3 == 0) {
            n = ftk_deque_pop_many_v(c->h, FRONT, buf, 8);
        } else if (it % 3 == 1) {
            uint64_t w = 0;
            int st = ftk_deque_pop(c->h, FRONT, &w, 1 * MS);
            if (st == FTK_OK) {
                buf[0] = w;
                n = 1;
            }
        } else {
            buf[0] = ftk_deque_pop_front_v(c->h);
            n = (buf[0] != 0 || ftk_last_status() == FTK_OK) ? 1 : 0;
        }
        for (size_t j = 0; j < n; j++) {
            uint64_t p = buf[j] >> 40, s = buf[j] & ((1ull << 40) - 1);
            TCHECK(p < NP && s < c->per_producer);
            if (p >= NP || s >= c->per_producer) continue;
            TCHECK(s >= next[p]); /* per-producer order, as seen by this consumer */
            next[p] = s + 1;
            TCHECK(atomic_fetch_add(&c->seen[p * c->per_producer + s], 1) == 0);
        }
        uint64_t done = atomic_fetch_add(&c->consumed, n) + n;
        if (done >= total) return;
        if (n == 0 && atomic_load(&c->producers_left) == 0 && ftk_deque_len(c->h) == 0 &&
            atomic_load(&c->consumed) >= total)
            return;
    }
}

START_TEST(test_stress_mpmc) {
    mpmc_ctx c = {.h = new_d(UNB), .per_producer = FTK_SCALED(200000)};
    atomic_store(&c.producers_left, NP);
    c.seen = calloc(NP * c.per_producer, 1);
    ftk_test_run_threads(NP + NC, mpmc_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    for (uint64_t i = 0; i < NP * c.per_producer; i++) REQUIRE(c.seen[i] == 1);
    ck_assert_uint_eq(dsize(c.h), 0);
    free(c.seen);
    free_d(c.h);
}
END_TEST

/* Both ends, a bounded deque: words pushed at random ends are popped at
 * random ends, or evicted; pushed = popped + evicted + left, each once. */
typedef struct {
    ftk_handle_t h;
    uint64_t per_thread;
    _Atomic unsigned char *seen;
} evict_ctx;

static void mark(evict_ctx *c, uint64_t w) {
    uint64_t t = w >> 40, s = w & ((1ull << 40) - 1);
    TCHECK(t < NTHREADS && s < c->per_thread);
    if (t < NTHREADS && s < c->per_thread)
        TCHECK(atomic_fetch_add(&c->seen[t * c->per_thread + s], 1) == 0);
}

static void evict_worker(void *arg, int i) {
    evict_ctx *c = arg;
    uint64_t seed = 0x1234567ull * (uint64_t)(i + 1), buf[8], ev[8];
    for (uint64_t s = 0; s < c->per_thread;) {
        uint64_t r = rng_next(&seed);
        int side = (int)(r & 1);
        if (r >> 1 & 1) {
            uint64_t k = 1 + (r >> 8) % 4;
            if (k > c->per_thread - s) k = c->per_thread - s;
            for (uint64_t j = 0; j < k; j++) buf[j] = (uint64_t)i << 40 | (s + j);
            size_t ne = 0;
            int st = ftk_deque_push_many(c->h, side, buf, k, ev, &ne);
            TCHECK(st == FTK_OK || st == FTK_DEQUE_EVICTED);
            for (size_t j = 0; j < ne; j++) mark(c, ev[j]);
            s += k;
        } else {
            size_t n = ftk_deque_pop_many_v(c->h, side, buf, 1 + (r >> 8) % 3);
            for (size_t j = 0; j < n; j++) mark(c, buf[j]);
            uint64_t w = 0;
            if ((r >> 12 & 3) == 0 && ftk_deque_pop(c->h, side ^ 1, &w, 0) == FTK_OK) mark(c, w);
        }
    }
}

START_TEST(test_stress_evict) {
    static const size_t maxlens[] = {1, 7, 64};
    for (size_t m = 0; m < 3; m++) {
        evict_ctx c = {.h = new_d(maxlens[m]), .per_thread = FTK_SCALED(40000)};
        c.seen = calloc(NTHREADS * c.per_thread, 1);
        ftk_test_run_threads(NTHREADS, evict_worker, &c);
        ASSERT_NO_THREAD_FAILURES();
        ck_assert_uint_le(dsize(c.h), maxlens[m]);
        uint64_t buf[64];
        size_t n;
        ck_assert_int_eq(ftk_deque_clear(c.h, buf, 64, &n), FTK_OK);
        for (size_t j = 0; j < n; j++) mark(&c, buf[j]);
        ASSERT_NO_THREAD_FAILURES();
        for (uint64_t i = 0; i < NTHREADS * c.per_thread; i++) REQUIRE(c.seen[i] == 1);
        free(c.seen);
        free_d(c.h);
    }
}
END_TEST

/* A fixed population of distinct words churned by rotate, reverse, remove
 * and re-insert, set-swaps and pop/push at both ends, while readers take
 * snapshots: every snapshot holds distinct words from the population, and
 * its size is the population minus the words in flight (each thread holds at
 * most one word out at a time). At the end every word is there once. */
#define POP_N 512

typedef struct {
    ftk_handle_t h;
    int rounds;
} churn_ctx;

static void churn_worker(void *arg, int i) {
    churn_ctx *c = arg;
    uint64_t seed = 0xabcdefull + (uint64_t)i * 7919, snap[POP_N + 8];
    unsigned char mark[POP_N + 1];
    for (int r = 0; r < c->rounds; r++) {
        uint64_t x = rng_next(&seed);
        switch (x % 9) {
        case 0:
            TCHECK(ftk_deque_rotate(c->h, (int64_t)(x >> 8) % 1000 - 500) == FTK_OK);
            break;
        case 1:
            TCHECK(ftk_deque_reverse(c->h) == FTK_OK);
            break;
        case 2: { /* take one out by index, put it back at an index */
            uint64_t w = 0;
            int64_t idx = (int64_t)((x >> 8) % POP_N) - POP_N / 2;
            if (ftk_deque_remove_at(c->h, idx, &w) == FTK_OK)
                TCHECK(ftk_deque_insert(c->h, (int64_t)(x >> 20) % POP_N, w) == FTK_OK);
            break;
        }
        case 3: { /* pop at one end, push at the other */
            uint64_t w = 0;
            if (ftk_deque_pop(c->h, (int)(x >> 8 & 1), &w, 0) == FTK_OK)
                TCHECK(ftk_deque_push(c->h, (int)(x >> 9 & 1), w, NULL) == FTK_OK);
            break;
        }
        case 4: { /* remove a word found by get, re-append it */
            uint64_t w = 0;
            if (ftk_deque_get(c->h, (int64_t)(x >> 8) % POP_N, &w) == FTK_OK &&
                ftk_deque_remove_word(c->h, w) == FTK_OK)
                TCHECK(ftk_deque_push_back(c->h, w) == FTK_OK);
            break;
        }
        case 5: { /* swap two slots through set */
            uint64_t a = 0, b = 0;
            int64_t i1 = (int64_t)((x >> 8) % POP_N), i2 = (int64_t)((x >> 20) % POP_N);
            if (ftk_deque_remove_at(c->h, i1, &a) == FTK_OK) {
                if (ftk_deque_set(c->h, i2, a, &b) == FTK_OK)
                    TCHECK(ftk_deque_push_front(c->h, b) == FTK_OK);
                else
                    TCHECK(ftk_deque_push_front(c->h, a) == FTK_OK);
            }
            break;
        }
        default: { /* snapshot invariants */
            size_t n = 0;
            TCHECK(ftk_deque_snapshot(c->h, snap, POP_N + 8, &n) == FTK_OK);
            TCHECK(n <= POP_N && n + NTHREADS >= POP_N);
            memset(mark, 0, sizeof mark);
            for (size_t j = 0; j < n; j++) {
                TCHECK(snap[j] >= 1 && snap[j] <= POP_N);
                if (snap[j] >= 1 && snap[j] <= POP_N) {
                    TCHECK(mark[snap[j]] == 0);
                    mark[snap[j]] = 1;
                }
            }
            break;
        }
        }
    }
}

START_TEST(test_stress_churn) {
    churn_ctx c = {.h = new_d(UNB), .rounds = FTK_SCALED(60000)};
    for (uint64_t w = 1; w <= POP_N; w++) ck_assert_int_eq(ftk_deque_push_back(c.h, w), FTK_OK);
    ftk_test_run_threads(NTHREADS, churn_worker, &c);
    ASSERT_NO_THREAD_FAILURES();
    uint64_t snap[POP_N];
    size_t n;
    ck_assert_int_eq(ftk_deque_snapshot(c.h, snap, POP_N, &n), FTK_OK);
    ck_assert_uint_eq(n, POP_N);
    unsigned char mark[POP_N + 1] = {0};
    for (size_t j = 0; j < n; j++) {
        ck_assert(snap[j] >= 1 && snap[j] <= POP_N);
        ck_assert_int_eq(mark[snap[j]]++, 0);
    }
    free_d(c.h);
}
END_TEST

/* Blocking pops against pushers and a closer: every pushed word is popped
 * or left for the final clear; every pop ends (closed at the end). */
typedef struct {
    ftk_handle_t h;
    uint64_t per_producer;
    _Atomic int producers_left;
    _Atomic unsigned char *seen;
} close_ctx;

static void close_worker(void *arg, int i) {
    close_ctx *c = arg;
    if (i < 3) {
        for (uint64_t s = 0; s < c->per_producer; s++)
            TCHECK(ftk_deque_push(c->h, (int)(s & 1), (uint64_t)i << 40 | s, NULL) == FTK_OK);
        if (atomic_fetch_sub(&c->producers_left, 1) == 1) TCHECK(ftk_deque_close(c->h) == FTK_OK);
        return;
    }
    for (;;) {
        uint64_t w = 0;
        int st = ftk_deque_pop(c->h, (int)(i & 1), &w, -1);
        if (st == FTK_ECLOSED) return;
        TCHECK(st == FTK_OK);
        uint64_t p = w >> 40, s = w & ((1ull << 40) - 1);
        TCHECK(p < 3 && s < c->per_producer);
        if (p < 3 && s < c->per_producer)
            TCHECK(atomic_fetch_add(&c->seen[p * c->per_producer + s], 1) == 0);
    }
}

START_TEST(test_stress_close) {
    for (int round = 0; round < 3; round++) {
        close_ctx c = {.h = new_d(UNB), .per_producer = FTK_SCALED(50000)};
        atomic_store(&c.producers_left, 3);
        c.seen = calloc(3 * c.per_producer, 1);
        ftk_test_run_threads(NTHREADS, close_worker, &c);
        ASSERT_NO_THREAD_FAILURES();
        size_t n = 0;
        ck_assert_int_eq(ftk_deque_clear(c.h, NULL, 0, &n), FTK_OK); /* uncounted leftovers */
        uint64_t seen = 0;
        for (uint64_t i = 0; i < 3 * c.per_producer; i++) {
            REQUIRE(c.seen[i] <= 1);
            seen += c.seen[i];
        }
        ck_assert_uint_eq(seen + n, 3 * c.per_producer);
        free(c.seen);
        free_d(c.h);
    }
}
END_TEST

static Suite *deque_suite(void) {
    Suite *s = suite_create("deque");

    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_new_free);
    tcase_add_test(api, test_bad_handles);
    tcase_add_test(api, test_bad_arguments);
    tcase_add_test(api, test_value_style);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_model_unbounded);
    tcase_add_test(single, test_model_bounded);
    tcase_add_test(single, test_ends_and_growth);
    tcase_add_test(single, test_maxlen);
    tcase_add_test(single, test_rotate_extremes);
    tcase_add_test(single, test_close);
    tcase_add_test(single, test_clear_discard_and_shrink);
    tcase_add_test(single, test_timeouts);
    tcase_add_test(single, test_pop_record);
    tcase_add_test(single, test_unpop_last);
    tcase_add_test(single, test_ranges_and_runs);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_wakeups);
    tcase_add_test(conc, test_timed_pop_woken);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_mpmc);
    tcase_add_test(stress, test_stress_evict);
    tcase_add_test(stress, test_stress_churn);
    tcase_add_test(stress, test_stress_close);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(deque_suite()); }
