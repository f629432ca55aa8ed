/*
 * slots.c - the process-wide slot index allocator (see ftkit/slots.h).
 *
 * Fast path: a thread pops/pushes indices in its own cache (plain memory,
 * no atomics) and CASes the slot's generation on free (a line owned by that
 * slot, not shared). Every FTK_SLOT_BATCH operations a cache trades one
 * batch with the depot under a mutex; never-used indices come from an
 * atomic bump counter in batches. A thread's cache is returned to the depot
 * by a pthread key destructor when the thread exits.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define GEN_SEG_SHIFT 16
#define GEN_SEG_SIZE (1u << GEN_SEG_SHIFT)
#define GEN_MAX_SEGS (1u << 16) /* 2**32 indices */

/* Generation per index. Odd while the index is live (the live word carries
 * it), even while it is free (in a cache, the depot, or never handed out):
 * alloc bumps even -> odd, free bumps odd -> even. Without the parity a free
 * index would accept the word of its *next* generation, and freeing that
 * forged word would put the index into circulation twice. Segments start
 * zeroed (free) and are never freed. */
static _Atomic(_Atomic uint32_t *) gen_segs[GEN_MAX_SEGS];
static _Atomic uint64_t fresh_next = 1; /* next never-used index */

typedef struct batch {
    struct batch *next;
    uint32_t n;
    uint32_t idx[FTK_SLOT_BATCH];
} batch;

pthread_mutex_t ftk_depot_lock = PTHREAD_MUTEX_INITIALIZER;
static batch *depot_full;  /* batches of free indices */
static batch *depot_spare; /* empty batch nodes for reuse */

_Atomic int64_t ftk_slots_exited_live;

static _Atomic uint32_t *gen_ptr(uint32_t idx) {
    _Atomic uint32_t *seg =
        atomic_load_explicit(&gen_segs[idx >> GEN_SEG_SHIFT], memory_order_acquire);
    return seg ? &seg[idx & (GEN_SEG_SIZE - 1)] : NULL;
}

/* Hand n (1..FTK_SLOT_BATCH) free indices to the depot. */
static void depot_put(const uint32_t *idx, uint32_t n) {
    pthread_mutex_lock(&ftk_depot_lock);
    batch *b = depot_spare;
    if (b) {
        depot_spare = b->next;
    } else if ((b = malloc(sizeof *b)) == NULL) {
        /* Out of memory: the indices are dropped (never reused). That wastes
         * index space, never correctness. */
        pthread_mutex_unlock(&ftk_depot_lock);
        return;
    }
    memcpy(b->idx, idx, n * sizeof(uint32_t));
    b->n = n;
    b->next = depot_full;
    depot_full = b;
    pthread_mutex_unlock(&ftk_depot_lock);
}

/* Take one batch of free indices; returns how many (0 if the depot is empty). */
static uint32_t depot_take(uint32_t *idx) {
    uint32_t n = 0;
    pthread_mutex_lock(&ftk_depot_lock);
    batch *b = depot_full;
    if (b) {
        depot_full = b->next;
        n = b->n;
        memcpy(idx, b->idx, n * sizeof(uint32_t));
        b->next = depot_spare;
        depot_spare = b;
    }
    pthread_mutex_unlock(&ftk_depot_lock);
    return n;
}

/* Reserve FTK_SLOT_BATCH never-used indices, creating generation segments. */
static int fresh_take(uint32_t *idx) {
    uint64_t first = atomic_fetch_add_explicit(&fresh_next, FTK_SLOT_BATCH,
                                               memory_order_relaxed);
    if (first + FTK_SLOT_BATCH > UINT32_MAX) {
        atomic_fetch_sub_explicit(&fresh_next, FTK_SLOT_BATCH, memory_order_relaxed);
        return FTK_ENOMEM;
    }
    for (uint64_t i = first; i < first + FTK_SLOT_BATCH; i++) {
        uint32_t s = (uint32_t)(i >> GEN_SEG_SHIFT);
        if (atomic_load_explicit(&gen_segs[s], memory_order_acquire) == NULL) {
            _Atomic uint32_t *seg = calloc(GEN_SEG_SIZE, sizeof *seg);
            if (seg == NULL) return FTK_ENOMEM;
            _Atomic uint32_t *none = NULL;
            /* release: the zeroed segment is visible before its pointer */
            if (!atomic_compare_exchange_strong_explicit(&gen_segs[s], &none, seg,
                                                         memory_order_acq_rel,
                                                         memory_order_acquire))
                free(seg); /* another thread installed it first */
        }
        idx[i - first] = (uint32_t)i;
    }
    return FTK_OK;
}

static void slots_thread_exit(ftk_thread *c) {
    while (c->slot_n > 0) {
        uint32_t k = c->slot_n < FTK_SLOT_BATCH ? c->slot_n : FTK_SLOT_BATCH;
        c->slot_n -= k;
        depot_put(&c->slot_idx[c->slot_n], k);
    }
}

static inline void live_add(ftk_thread *c, int64_t d) {
    /* relaxed: a statistic; only this thread writes it */
    atomic_store_explicit(&c->slot_live, atomic_load_explicit(&c->slot_live, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

int ftk_slot_alloc(uint64_t *word) {
    if (word == NULL) return FTK_EINVAL;
    ftk_thread *c = ftk_thread_self();
    if (c->slot_n == 0) {
        c->slot_n = depot_take(c->slot_idx);
        if (c->slot_n == 0) {
            int st = fresh_take(c->slot_idx);
            if (st != FTK_OK) return st;
            c->slot_n = FTK_SLOT_BATCH;
        }
    }
    uint32_t idx = c->slot_idx[--c->slot_n];
    /* relaxed: the generation was last written by the free that put idx in
     * a cache, which is ordered before us by the depot mutex or by program
     * order in this thread. Only the thread holding a free index writes its
     * (even) generation: frees CAS only odd values. The new word reaches
     * other threads through the caller's own synchronisation. */
    _Atomic uint32_t *g = gen_ptr(idx);
    uint32_t gen = atomic_load_explicit(g, memory_order_relaxed) + 1;
    atomic_store_explicit(g, gen, memory_order_relaxed);
    live_add(c, 1);
    *word = ((uint64_t)gen << 32) | idx;
    return FTK_OK;
}

uint64_t ftk_slot_alloc_v(void) {
    uint64_t w = 0;
    int st = ftk_slot_alloc(&w);
    if (st != FTK_OK) ftk_set_last(st);
    return w;
}

int ftk_slot_free(uint64_t word) {
    uint32_t idx = FTK_SLOT_INDEX(word), gen = FTK_SLOT_GENERATION(word);
    if ((gen & 1) == 0) return FTK_EINVAL; /* never a live word */
    if (idx == 0 || idx >= atomic_load_explicit(&fresh_next, memory_order_relaxed))
        return FTK_EINVAL;
    _Atomic uint32_t *g = gen_ptr(idx);
    if (g == NULL) return FTK_EINVAL;
    /* The CAS makes double frees (and frees of stale words) fail, even when
     * two threads race to free the same word. */
    if (!atomic_compare_exchange_strong_explicit(g, &gen, gen + 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return FTK_EINVAL;
    ftk_thread *c = ftk_thread_self();
    if (c->slot_n == FTK_SLOT_CACHE_MAX) {
        c->slot_n -= FTK_SLOT_BATCH;
        depot_put(&c->slot_idx[c->slot_n], FTK_SLOT_BATCH);
    }
    c->slot_idx[c->slot_n++] = idx;
    live_add(c, -1);
    return FTK_OK;
}

int ftk_slot_alloc_many(uint64_t *words, size_t n) {
    if (words == NULL && n > 0) return FTK_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int st = ftk_slot_alloc(&words[i]);
        if (st != FTK_OK) {
            while (i > 0) ftk_slot_free(words[--i]);
            return st;
        }
    }
    return FTK_OK;
}

int ftk_slot_free_many(const uint64_t *words, size_t n, size_t *done) {
    size_t i = 0;
    int st = FTK_OK;
    if (words == NULL && n > 0) st = FTK_EINVAL;
    for (; st == FTK_OK && i < n; i++) {
        st = ftk_slot_free(words[i]);
        if (st != FTK_OK) break;
    }
    if (done) *done = i;
    return st;
}

int ftk_slot_is_live(uint64_t word) {
    uint32_t idx = FTK_SLOT_INDEX(word);
    if ((FTK_SLOT_GENERATION(word) & 1) == 0) return 0; /* free generations are even */
    if (idx == 0 || idx >= atomic_load_explicit(&fresh_next, memory_order_relaxed)) return 0;
    _Atomic uint32_t *g = gen_ptr(idx);
    if (g == NULL) return 0;
    /* an odd generation equal to the word's: this word is the live one */
    return atomic_load_explicit(g, memory_order_acquire) == FTK_SLOT_GENERATION(word);
}

size_t ftk_slot_capacity(void) {
    return (size_t)atomic_load_explicit(&fresh_next, memory_order_relaxed);
}

struct live_sum {
    int64_t total;
    bool exited_read;
};

static void sum_live(ftk_thread *t, void *arg) {
    struct live_sum *s = arg;
    if (!s->exited_read) {
        /* Read the exited threads' tally under the registry lock, like the
         * per-thread counts: a thread moves its count from one to the other
         * under that lock at exit, so reading the tally after the lock was
         * released counted an exiting thread twice. */
        s->total += atomic_load_explicit(&ftk_slots_exited_live, memory_order_relaxed);
        s->exited_read = true;
    }
    s->total += atomic_load_explicit(&t->slot_live, memory_order_relaxed);
}

size_t ftk_slot_live_approx(void) {
    struct live_sum s = {0, false};
    ftk_thread_foreach(sum_live, &s);
    if (!s.exited_read) /* no registered thread: every count is in the tally */
        s.total += atomic_load_explicit(&ftk_slots_exited_live, memory_order_relaxed);
    return s.total > 0 ? (size_t)s.total : 0;
}

/* Thread exit, under the registry lock as the record is unlinked: move the
 * thread's live count to the exited tally (see sum_live). */
static void slots_exit_locked(ftk_thread *t) {
    atomic_fetch_add_explicit(&ftk_slots_exited_live,
                              atomic_load_explicit(&t->slot_live, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&t->slot_live, 0, memory_order_relaxed);
}

static ftk_thread_hooks slots_hooks = {
    .name = "slots",
    .order = FTK_HOOKS_SLOTS,
    .exit = slots_thread_exit,
    .exit_locked = slots_exit_locked,
    .fork_lock = &ftk_depot_lock,
};

__attribute__((constructor)) static void ftk_slots_init(void) { ftk_thread_hooks_add(&slots_hooks); }
