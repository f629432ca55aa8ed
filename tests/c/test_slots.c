/*
 * test_slots.c - the process-wide slot index allocator: word format, double
 * and stale frees, liveness, bulk calls, accounting, cross-thread frees and
 * thread-exit cache return. Public API only.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"


#define NTHREADS 8
#define GEN_STEP (1ULL << 32)

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- api ----------------------------------------------------------------- */

START_TEST(test_alloc_free_basic) {
    size_t base = ftk_slot_live_approx();
    uint64_t w;
    ck_assert_int_eq(ftk_slot_alloc(&w), FTK_OK);
    ck_assert(w != 0);
    ck_assert_uint_ge(FTK_SLOT_INDEX(w), 1);
    ck_assert_uint_lt(FTK_SLOT_INDEX(w), ftk_slot_capacity());
    ck_assert_int_eq(ftk_slot_is_live(w), 1);
    ck_assert_uint_eq(ftk_slot_live_approx(), base + 1);

    ck_assert_int_eq(ftk_slot_free(w), FTK_OK);
    ck_assert_int_eq(ftk_slot_is_live(w), 0);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    /* double free */
    ck_assert_int_eq(ftk_slot_free(w), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_free(w), FTK_EINVAL);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);

    ck_assert_int_eq(ftk_slot_alloc(NULL), FTK_EINVAL);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
}
END_TEST

START_TEST(test_stale_word_after_reuse) {
    size_t base = ftk_slot_live_approx();
    uint64_t w1, w2 = 0;
    ck_assert_int_eq(ftk_slot_alloc(&w1), FTK_OK);
    ck_assert_int_eq(ftk_slot_free(w1), FTK_OK);
    /* allocate until the index comes back (at once with a LIFO cache) */
    size_t limit = ftk_slot_capacity() + 4 * FTK_SLOT_BATCH, n = 0;
    uint64_t *others = malloc(limit * sizeof *others);
    ck_assert_ptr_nonnull(others);
    for (;;) {
        ck_assert_uint_lt(n, limit);
        ck_assert_int_eq(ftk_slot_alloc(&w2), FTK_OK);
        if (FTK_SLOT_INDEX(w2) == FTK_SLOT_INDEX(w1)) break;
        others[n++] = w2;
    }
    ck_assert(w2 != w1);
    ck_assert_uint_ne(FTK_SLOT_GENERATION(w2), FTK_SLOT_GENERATION(w1));
    ck_assert_int_eq(ftk_slot_is_live(w1), 0);
    ck_assert_int_eq(ftk_slot_is_live(w2), 1);
    /* freeing the stale word must not release the new owner's slot */
    ck_assert_int_eq(ftk_slot_free(w1), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_is_live(w2), 1);
    ck_assert_int_eq(ftk_slot_free(w2), FTK_OK);
    ck_assert_int_eq(ftk_slot_free_many(others, n, NULL), FTK_OK);
    free(others);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);

    /* many alloc/free cycles: a word is never handed out twice, and every
     * freed word stays stale */
    enum { CYCLES = 2000 };
    uint64_t *seen = malloc(CYCLES * sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    for (int i = 0; i < CYCLES; i++) {
        REQUIRE(ftk_slot_alloc(&seen[i]) == FTK_OK);
        REQUIRE(ftk_slot_free(seen[i]) == FTK_OK);
    }
    for (int i = 0; i < CYCLES; i++) {
        for (int k = 0; k < i; k++) REQUIRE(seen[k] != seen[i]);
        REQUIRE(ftk_slot_is_live(seen[i]) == 0);
        REQUIRE(ftk_slot_free(seen[i]) == FTK_EINVAL);
    }
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(seen);
}
END_TEST

/* Words that were never handed out are neither live nor freeable. Freeing
 * one must not put its index into circulation a second time. */
START_TEST(test_never_issued_words) {
    size_t base = ftk_slot_live_approx();
    ck_assert_int_eq(ftk_slot_is_live(0), 0);
    ck_assert_int_eq(ftk_slot_free(0), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_free(0xffffffff00000000ULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_free(UINT64_MAX), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_is_live(UINT64_MAX), 0);
    /* an index beyond the capacity */
    uint64_t beyond = (uint64_t)ftk_slot_capacity() + 10;
    ck_assert_int_eq(ftk_slot_is_live(beyond), 0);
    ck_assert_int_eq(ftk_slot_free(beyond), FTK_EINVAL);

    uint64_t w;
    ck_assert_int_eq(ftk_slot_alloc(&w), FTK_OK);
    uint32_t idx = FTK_SLOT_INDEX(w);
    /* the live word with any other generation is not live */
    for (uint64_t d = 1; d < 8; d++) {
        ck_assert_int_eq(ftk_slot_is_live(w + d * GEN_STEP), 0);
        ck_assert_int_eq(ftk_slot_is_live(w - d * GEN_STEP), 0);
        ck_assert_int_eq(ftk_slot_free(w + d * GEN_STEP), FTK_EINVAL);
        ck_assert_int_eq(ftk_slot_free(w - d * GEN_STEP), FTK_EINVAL);
    }
    ck_assert_int_eq(ftk_slot_is_live(w), 1);
    ck_assert_int_eq(ftk_slot_free(w), FTK_OK);

    /* after the free the index is unowned: no generation makes it live */
    for (uint64_t g = 0; g < 64; g++) {
        uint64_t forged = (g << 32) | idx;
        ck_assert_msg(ftk_slot_is_live(forged) == 0, "forged word %#llx live",
                      (unsigned long long)forged);
        ck_assert_msg(ftk_slot_free(forged) == FTK_EINVAL, "forged word %#llx freed",
                      (unsigned long long)forged);
    }
    /* ...so the index is handed out exactly once */
    uint64_t a, b;
    ck_assert_int_eq(ftk_slot_alloc(&a), FTK_OK);
    ck_assert_int_eq(ftk_slot_alloc(&b), FTK_OK);
    ck_assert(FTK_SLOT_INDEX(a) != FTK_SLOT_INDEX(b));
    ck_assert_int_eq(ftk_slot_free(a), FTK_OK);
    ck_assert_int_eq(ftk_slot_free(b), FTK_OK);

    /* indices below the capacity that sit unused in a cache are not live */
    uint64_t cap = ftk_slot_capacity();
    ck_assert_uint_gt(cap, 1);
    for (uint64_t i = 1; i < cap; i++)
        for (uint64_t g = 0; g < 4; g++) REQUIRE(ftk_slot_is_live((g << 32) | i) == 0);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
}
END_TEST

START_TEST(test_alloc_v) {
    uint64_t w = ftk_slot_alloc_v();
    ck_assert(w != 0);
    ck_assert_int_eq(ftk_slot_is_live(w), 1);
    ck_assert_int_eq(ftk_slot_free(w), FTK_OK);
}
END_TEST

START_TEST(test_alloc_many_free_many) {
    size_t base = ftk_slot_live_approx();
    enum { N = 300 };
    uint64_t w[N];
    ck_assert_int_eq(ftk_slot_alloc_many(NULL, 0), FTK_OK);
    ck_assert_int_eq(ftk_slot_alloc_many(NULL, 3), FTK_EINVAL);
    ck_assert_int_eq(ftk_slot_alloc_many(w, 0), FTK_OK);
    ck_assert_int_eq(ftk_slot_alloc_many(w, N), FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base + N);
    for (int i = 0; i < N; i++) {
        REQUIRE(w[i] != 0);
        REQUIRE(ftk_slot_is_live(w[i]) == 1);
        REQUIRE(FTK_SLOT_INDEX(w[i]) < ftk_slot_capacity());
        for (int k = 0; k < i; k++) REQUIRE(FTK_SLOT_INDEX(w[k]) != FTK_SLOT_INDEX(w[i]));
    }

    size_t done = 12345;
    ck_assert_int_eq(ftk_slot_free_many(NULL, 0, &done), FTK_OK);
    ck_assert_uint_eq(done, 0);
    done = 12345;
    ck_assert_int_eq(ftk_slot_free_many(NULL, 2, &done), FTK_EINVAL);
    ck_assert_uint_eq(done, 0);
    ck_assert_int_eq(ftk_slot_free_many(w, 0, NULL), FTK_OK);

    /* free the first 100 */
    done = 0;
    ck_assert_int_eq(ftk_slot_free_many(w, 100, &done), FTK_OK);
    ck_assert_uint_eq(done, 100);
    ck_assert_uint_eq(ftk_slot_live_approx(), base + N - 100);

    /* partial failure: words [100..150) live, then an already freed word */
    uint64_t mixed[60];
    memcpy(mixed, &w[100], 50 * sizeof *mixed);
    mixed[50] = w[0]; /* freed above */
    memcpy(&mixed[51], &w[150], 9 * sizeof *mixed);
    done = 999;
    ck_assert_int_eq(ftk_slot_free_many(mixed, 60, &done), FTK_EINVAL);
    ck_assert_uint_eq(done, 50);
    for (int i = 100; i < 150; i++) ck_assert_int_eq(ftk_slot_is_live(w[i]), 0);
    for (int i = 150; i < N; i++) ck_assert_int_eq(ftk_slot_is_live(w[i]), 1);
    ck_assert_uint_eq(ftk_slot_live_approx(), base + N - 150);

    /* a duplicate inside one call: the second copy fails */
    uint64_t dup[3] = {w[150], w[151], w[150]};
    done = 999;
    ck_assert_int_eq(ftk_slot_free_many(dup, 3, &done), FTK_EINVAL);
    ck_assert_uint_eq(done, 2);
    /* failure on the very first word; done may be NULL */
    ck_assert_int_eq(ftk_slot_free_many(dup, 3, NULL), FTK_EINVAL);
    done = 999;
    ck_assert_int_eq(ftk_slot_free_many(dup, 3, &done), FTK_EINVAL);
    ck_assert_uint_eq(done, 0);

    done = 0;
    ck_assert_int_eq(ftk_slot_free_many(&w[152], N - 152, &done), FTK_OK);
    ck_assert_uint_eq(done, (size_t)(N - 152));
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
}
END_TEST

START_TEST(test_capacity_and_live_accounting) {
    size_t base = ftk_slot_live_approx();
    size_t cap0 = ftk_slot_capacity();
    enum { N = 1000 };
    uint64_t *w = malloc(N * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(ftk_slot_alloc(&w[i]), FTK_OK);
        ck_assert_uint_eq(ftk_slot_live_approx(), base + (size_t)i + 1);
        /* capacity is one more than the highest index handed out */
        ck_assert_uint_gt(ftk_slot_capacity(), FTK_SLOT_INDEX(w[i]));
    }
    size_t cap1 = ftk_slot_capacity();
    ck_assert_uint_ge(cap1, cap0);
    ck_assert_uint_ge(cap1, (size_t)N + 1);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(ftk_slot_free(w[i]), FTK_OK);
        ck_assert_uint_eq(ftk_slot_live_approx(), base + (size_t)(N - i - 1));
    }
    /* capacity never shrinks, and freed indices are reused before new ones */
    ck_assert_uint_eq(ftk_slot_capacity(), cap1);
    for (int i = 0; i < N; i++) ck_assert_int_eq(ftk_slot_alloc(&w[i]), FTK_OK);
    ck_assert_uint_eq(ftk_slot_capacity(), cap1);
    ck_assert_int_eq(ftk_slot_free_many(w, N, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(w);
}
END_TEST

/* ---- single: cache/depot exchanges on one thread -------------------------- */

START_TEST(test_single_large) {
    enum { N = 100000 };
    size_t base = ftk_slot_live_approx();
    uint64_t *w = malloc(N * sizeof *w);
    uint8_t *used = NULL;
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ftk_slot_alloc_many(w, N), FTK_OK);
    size_t cap = ftk_slot_capacity();
    used = calloc(cap, 1);
    ck_assert_ptr_nonnull(used);
    for (int i = 0; i < N; i++) {
        uint32_t idx = FTK_SLOT_INDEX(w[i]);
        REQUIRE(idx < cap);
        if (used[idx]) ck_abort_msg("index %u handed out twice", idx);
        used[idx] = 1;
    }
    ck_assert_uint_eq(ftk_slot_live_approx(), base + N);
    /* free in a scrambled order, re-allocate half, free everything */
    uint64_t seed = 42;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(rng_next(&seed) % (uint64_t)(i + 1));
        uint64_t t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
    for (int i = 0; i < N; i++) REQUIRE(ftk_slot_free(w[i]) == FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    ck_assert_int_eq(ftk_slot_alloc_many(w, N / 2), FTK_OK);
    ck_assert_uint_eq(ftk_slot_capacity(), cap);
    memset(used, 0, cap);
    for (int i = 0; i < N / 2; i++) {
        uint32_t idx = FTK_SLOT_INDEX(w[i]);
        REQUIRE(!used[idx]);
        used[idx] = 1;
    }
    ck_assert_int_eq(ftk_slot_free_many(w, N / 2, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(used);
    free(w);
}
END_TEST

/* ---- concurrent: cross-thread frees ---------------------------------------- */

#define OWNER_MAX (1u << 21)
#define MAILBOXES 2048

struct cross {
    int iters;
    _Atomic uint64_t *owner;             /* index -> live word, 0 if free */
    _Atomic uint64_t mailbox[MAILBOXES]; /* words in transit between threads */
    _Atomic long cross_frees;
};

/* Record that w was handed out; no index may be handed out while live. */
static void claim(struct cross *c, uint64_t w) {
    uint32_t idx = FTK_SLOT_INDEX(w);
    TCHECK(w != 0 && idx != 0);
    TCHECK(idx < OWNER_MAX);
    if (idx == 0 || idx >= OWNER_MAX) return;
    uint64_t none = 0;
    TCHECK(atomic_compare_exchange_strong(&c->owner[idx], &none, w));
}

/* Give up w (record first: the index may be reused the moment it is freed),
 * free it, and check that the word is stale afterwards. */
static void release(struct cross *c, uint64_t w, uint64_t *seed) {
    uint32_t idx = FTK_SLOT_INDEX(w);
    if (idx == 0 || idx >= OWNER_MAX) return;
    uint64_t mine = w;
    TCHECK(atomic_compare_exchange_strong(&c->owner[idx], &mine, 0));
    TCHECK(ftk_slot_is_live(w) == 1);
    TCHECK(ftk_slot_free(w) == FTK_OK);
    if ((rng_next(seed) & 7) == 0) {
        TCHECK(ftk_slot_is_live(w) == 0);
        TCHECK(ftk_slot_free(w) == FTK_EINVAL); /* stale, even if reused */
    }
}

static void cross_worker(void *arg, int t) {
    struct cross *c = arg;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
    uint64_t local[16];
    for (int k = 0; k < c->iters; k++) {
        uint64_t r = rng_next(&seed);
        if ((r & 63) == 0) {
            /* bulk path */
            TCHECK(ftk_slot_alloc_many(local, 16) == FTK_OK);
            for (int i = 0; i < 16; i++) claim(c, local[i]);
            for (int i = 0; i < 16; i++) {
                uint32_t idx = FTK_SLOT_INDEX(local[i]);
                if (idx < OWNER_MAX) {
                    uint64_t mine = local[i];
                    TCHECK(atomic_compare_exchange_strong(&c->owner[idx], &mine, 0));
                }
            }
            size_t done = 0;
            TCHECK(ftk_slot_free_many(local, 16, &done) == FTK_OK && done == 16);
            continue;
        }
        uint64_t w;
        TCHECK(ftk_slot_alloc(&w) == FTK_OK);
        claim(c, w);
        if ((r >> 8) % 4 == 0) {
            release(c, w, &seed); /* same-thread free */
        } else {
            /* post it; whatever was there is freed by us, usually a word
             * another thread allocated */
            uint64_t old = atomic_exchange(&c->mailbox[(r >> 16) % MAILBOXES], w);
            if (old != 0) {
                release(c, old, &seed);
                atomic_fetch_add_explicit(&c->cross_frees, 1, memory_order_relaxed);
            }
        }
    }
}

START_TEST(test_concurrent_cross_thread_free) {
    atomic_store(&g_fail, 0);
    /* warm up this thread so that its own cache counts in the baseline */
    uint64_t w0;
    ck_assert_int_eq(ftk_slot_alloc(&w0), FTK_OK);
    ck_assert_int_eq(ftk_slot_free(w0), FTK_OK);
    size_t base = ftk_slot_live_approx();

    struct cross *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->owner = calloc(OWNER_MAX, sizeof *c->owner);
    ck_assert_ptr_nonnull(c->owner);
    c->iters = FTK_SCALED(200000);
    ftk_test_run_threads(NTHREADS, cross_worker, c);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_gt(atomic_load(&c->cross_frees), 0);

    /* the words still in transit are live and are freed by this thread */
    size_t in_transit = 0;
    for (int i = 0; i < MAILBOXES; i++)
        if (atomic_load(&c->mailbox[i]) != 0) in_transit++;
    ck_assert_uint_eq(ftk_slot_live_approx(), base + in_transit);
    uint64_t seed = 7;
    for (int i = 0; i < MAILBOXES; i++) {
        uint64_t w = atomic_load(&c->mailbox[i]);
        if (w != 0) release(c, w, &seed);
    }
    ASSERT_NO_THREAD_FAILURES();
    /* the worker threads have exited: the count is back to the baseline */
    ck_assert_uint_eq(ftk_slot_live_approx(), base);

    /* and their caches went back to the depot: every free index below the
     * capacity can be allocated again without growing it */
    size_t cap = ftk_slot_capacity();
    size_t free_idx = cap - 1 - base;
    uint64_t *w = malloc(free_idx * sizeof *w);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ftk_slot_alloc_many(w, free_idx), FTK_OK);
    ck_assert_uint_eq(ftk_slot_capacity(), cap);
    ck_assert_int_eq(ftk_slot_free_many(w, free_idx, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(w);
    free(c->owner);
    free(c);
}
END_TEST

/* Two threads race to free each word: exactly one wins. */
struct race {
    int n;
    uint64_t *w;
    _Atomic int *wins;
};

static void race_worker(void *arg, int t) {
    struct race *r = arg;
    for (int k = 0; k < r->n; k++) {
        int i = (t & 1) ? r->n - 1 - k : k;
        int st = ftk_slot_free(r->w[i]);
        TCHECK(st == FTK_OK || st == FTK_EINVAL);
        if (st == FTK_OK) atomic_fetch_add(&r->wins[i], 1);
    }
}

START_TEST(test_concurrent_racing_free) {
    atomic_store(&g_fail, 0);
    size_t base = ftk_slot_live_approx();
    struct race r;
    r.n = FTK_SCALED(50000);
    r.w = malloc((size_t)r.n * sizeof *r.w);
    r.wins = calloc((size_t)r.n, sizeof *r.wins);
    ck_assert(r.w && r.wins);
    ck_assert_int_eq(ftk_slot_alloc_many(r.w, (size_t)r.n), FTK_OK);
    ftk_test_run_threads(NTHREADS, race_worker, &r);
    ASSERT_NO_THREAD_FAILURES();
    for (int i = 0; i < r.n; i++) REQUIRE(atomic_load(&r.wins[i]) == 1);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(r.w);
    free(r.wins);
}
END_TEST

/* ---- stress: many short-lived threads -------------------------------------- */

#define WAVE 8

struct shortlived {
    _Atomic uint64_t *kept;    /* one word per thread, still live at the end */
    _Atomic uint64_t *handoff; /* one word per thread, freed by a later thread */
    int nthreads;
    int wave_base;
};

static void shortlived_worker(void *arg, int i) {
    struct shortlived *s = arg;
    int me = s->wave_base + i;
    uint64_t w[4];
    TCHECK(ftk_slot_alloc_many(w, 3) == FTK_OK);
    w[3] = ftk_slot_alloc_v();
    TCHECK(w[3] != 0);
    TCHECK(ftk_slot_free(w[0]) == FTK_OK);
    TCHECK(ftk_slot_free(w[1]) == FTK_OK);
    atomic_store(&s->kept[me], w[2]);
    atomic_store(&s->handoff[me], w[3]);
    /* free the word a thread of the previous wave left behind; that thread
     * has exited by now */
    if (me >= WAVE) {
        uint64_t prev = atomic_exchange(&s->handoff[me - WAVE], 0);
        TCHECK(prev != 0);
        TCHECK(ftk_slot_is_live(prev) == 1);
        TCHECK(ftk_slot_free(prev) == FTK_OK);
    }
}

START_TEST(test_stress_short_lived_threads) {
    atomic_store(&g_fail, 0);
    uint64_t w0;
    ck_assert_int_eq(ftk_slot_alloc(&w0), FTK_OK);
    ck_assert_int_eq(ftk_slot_free(w0), FTK_OK);
    size_t base = ftk_slot_live_approx();
    size_t cap0 = ftk_slot_capacity();

    struct shortlived s;
    s.nthreads = FTK_SCALED(4000) / WAVE * WAVE;
    if (s.nthreads < 2 * WAVE) s.nthreads = 2 * WAVE;
    s.kept = calloc((size_t)s.nthreads, sizeof *s.kept);
    s.handoff = calloc((size_t)s.nthreads, sizeof *s.handoff);
    ck_assert(s.kept && s.handoff);
    for (s.wave_base = 0; s.wave_base < s.nthreads; s.wave_base += WAVE) {
        ftk_test_run_threads(WAVE, shortlived_worker, &s);
        /* the exited threads' counts moved to the global tally */
        size_t expect = base + (size_t)(s.wave_base + WAVE) + WAVE;
        ck_assert_uint_eq(ftk_slot_live_approx(), expect);
    }
    ASSERT_NO_THREAD_FAILURES();

    /* each thread took a whole batch of indices; without returning its cache
     * at exit the capacity would grow by about FTK_SLOT_BATCH per thread */
    size_t grown = ftk_slot_capacity() - cap0;
    ck_assert_msg(grown <= (size_t)s.nthreads + (size_t)(4 * WAVE * FTK_SLOT_BATCH),
                  "capacity grew by %zu for %d threads", grown, s.nthreads);

    for (int i = 0; i < s.nthreads; i++) {
        uint64_t w = atomic_load(&s.kept[i]);
        ck_assert_int_eq(ftk_slot_is_live(w), 1);
        ck_assert_int_eq(ftk_slot_free(w), FTK_OK);
        w = atomic_load(&s.handoff[i]);
        if (w != 0) ck_assert_int_eq(ftk_slot_free(w), FTK_OK);
    }
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    free(s.kept);
    free(s.handoff);
}
END_TEST

/* A thread that calls into the library again from its own thread-exit
 * destructor (after the library's destructor may already have run) must be
 * cleaned up again, not left dangling in the library's thread registry. */
static pthread_key_t late_key;
static _Atomic uint64_t late_kept[WAVE];

static void late_destructor(void *arg) {
    int i = (int)(intptr_t)arg - 1;
    uint64_t a = ftk_slot_alloc_v(), b = ftk_slot_alloc_v();
    TCHECK(a != 0 && b != 0);
    TCHECK(ftk_slot_free(a) == FTK_OK);
    atomic_store(&late_kept[i], b);
}

static void late_worker(void *arg, int i) {
    (void)arg;
    uint64_t w = ftk_slot_alloc_v();
    TCHECK(w != 0);
    TCHECK(ftk_slot_free(w) == FTK_OK);
    pthread_setspecific(late_key, (void *)(intptr_t)(i + 1));
}

START_TEST(test_stress_use_in_thread_destructor) {
    atomic_store(&g_fail, 0);
    uint64_t w0;
    ck_assert_int_eq(ftk_slot_alloc(&w0), FTK_OK); /* library key exists now */
    ck_assert_int_eq(ftk_slot_free(w0), FTK_OK);
    ck_assert_int_eq(pthread_key_create(&late_key, late_destructor), 0);
    size_t base = ftk_slot_live_approx();
    size_t cap0 = ftk_slot_capacity();
    int rounds = FTK_SCALED(200);
    for (int r = 0; r < rounds; r++) {
        ftk_test_run_threads(WAVE, late_worker, NULL);
        ck_assert_uint_eq(ftk_slot_live_approx(), base + WAVE);
        for (int i = 0; i < WAVE; i++) {
            uint64_t w = atomic_exchange(&late_kept[i], 0);
            ck_assert_int_eq(ftk_slot_is_live(w), 1);
            ck_assert_int_eq(ftk_slot_free(w), FTK_OK);
        }
        ck_assert_uint_eq(ftk_slot_live_approx(), base);
    }
    ASSERT_NO_THREAD_FAILURES();
    size_t grown = ftk_slot_capacity() - cap0;
    ck_assert_msg(grown <= (size_t)(4 * WAVE * FTK_SLOT_BATCH), "capacity grew by %zu",
                  grown);
    pthread_key_delete(late_key);
}
END_TEST

/* ftk_slot_live_approx is exact when no thread allocates or frees, even
 * while threads exit (an exiting thread moves its count to a global tally).
 * An observer polls during rounds in which short-lived threads have finished
 * allocating and are exiting. */
#define EXIT_WORKERS 2
#define EXIT_WORDS 3

struct exit_watch {
    pthread_barrier_t allocated;
    _Atomic unsigned long phase; /* odd: nobody allocates or frees now */
    _Atomic size_t expect;
    _Atomic int stop;
    _Atomic long checked, wrong;
    uint64_t *words;
};

static void *exit_worker(void *arg) {
    struct exit_watch *x = arg;
    uint64_t *w = malloc(EXIT_WORDS * sizeof *w);
    TCHECK(w != NULL);
    if (w != NULL) TCHECK(ftk_slot_alloc_many(w, EXIT_WORDS) == FTK_OK);
    pthread_barrier_wait(&x->allocated);
    return w; /* the words stay live; the test frees them */
}

static void *exit_observer(void *arg) {
    struct exit_watch *x = arg;
    while (!atomic_load(&x->stop)) {
        unsigned long p1 = atomic_load(&x->phase);
        size_t expect = atomic_load(&x->expect);
        size_t v = ftk_slot_live_approx();
        unsigned long p2 = atomic_load(&x->phase);
        if (p1 == p2 && (p1 & 1)) {
            atomic_fetch_add_explicit(&x->checked, 1, memory_order_relaxed);
            if (v != expect) atomic_fetch_add_explicit(&x->wrong, 1, memory_order_relaxed);
        }
    }
    return NULL;
}

START_TEST(test_stress_live_count_during_thread_exit) {
    atomic_store(&g_fail, 0);
    size_t base = ftk_slot_live_approx();
    struct exit_watch *x = calloc(1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    int rounds = FTK_SCALED(4000);
    x->words = malloc((size_t)rounds * EXIT_WORKERS * EXIT_WORDS * sizeof *x->words);
    ck_assert_ptr_nonnull(x->words);
    ck_assert_int_eq(pthread_barrier_init(&x->allocated, NULL, EXIT_WORKERS + 1), 0);
    pthread_t obs;
    ck_assert_int_eq(pthread_create(&obs, NULL, exit_observer, x), 0);
    size_t n = 0;
    for (int r = 0; r < rounds; r++) {
        pthread_t th[EXIT_WORKERS];
        for (int i = 0; i < EXIT_WORKERS; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, exit_worker, x), 0);
        pthread_barrier_wait(&x->allocated); /* all allocations done */
        atomic_store(&x->expect, base + n + EXIT_WORKERS * EXIT_WORDS);
        atomic_fetch_add(&x->phase, 1); /* odd: threads only exit now */
        for (int i = 0; i < EXIT_WORKERS; i++) {
            void *ret = NULL;
            pthread_join(th[i], &ret);
            ck_assert_ptr_nonnull(ret);
            memcpy(&x->words[n], ret, EXIT_WORDS * sizeof *x->words);
            n += EXIT_WORDS;
            free(ret);
        }
        atomic_fetch_add(&x->phase, 1); /* even */
        ck_assert_uint_eq(ftk_slot_live_approx(), base + n);
    }
    atomic_store(&x->stop, 1);
    pthread_join(obs, NULL);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_msg(atomic_load(&x->wrong) == 0, "%ld of %ld counts wrong while threads exit",
                  atomic_load(&x->wrong), atomic_load(&x->checked));
    ck_assert_int_eq(ftk_slot_free_many(x->words, n, NULL), FTK_OK);
    ck_assert_uint_eq(ftk_slot_live_approx(), base);
    pthread_barrier_destroy(&x->allocated);
    free(x->words);
    free(x);
}
END_TEST

static Suite *slots_suite(void) {
    Suite *s = suite_create("slots");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_alloc_free_basic);
    tcase_add_test(api, test_stale_word_after_reuse);
    tcase_add_test(api, test_never_issued_words);
    tcase_add_test(api, test_alloc_v);
    tcase_add_test(api, test_alloc_many_free_many);
    tcase_add_test(api, test_capacity_and_live_accounting);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_single_large);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_concurrent_cross_thread_free);
    tcase_add_test(conc, test_concurrent_racing_free);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_short_lived_threads);
    tcase_add_test(stress, test_stress_use_in_thread_destructor);
    tcase_add_test(stress, test_stress_live_count_during_thread_exit);
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(slots_suite()); }
