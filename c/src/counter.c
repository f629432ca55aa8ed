/*
 * counter.c - striped counter (contract in ftkit/counter.h).
 *
 * Layout. A counter is a base word plus up to FTK_COUNTER_MAX_SLOTS cells,
 * one per thread slot, each on its own cache line. Cells come in chunks of
 * CHUNK cells, allocated the first time a slot in the chunk adds to the
 * counter and published with a CAS into `dir`; a process with two counting
 * threads uses one chunk per counter. Chunks live as long as the counter.
 *
 * Thread slots. Each thread record (internal.h, ftk_thread) carries
 * `ctr_slot`, the thread's slot + 1, taken from a process-wide bitmap (the
 * lowest free slot, so slots stay dense) on the thread's first add to any
 * counter and given back by this module's thread-exit hook (the per-thread
 * hook machinery of thread.c, like sync.c's read holds). The slot's cell in
 * every counter keeps its value when the slot changes hands: the count an
 * exited thread made stays in the total without folding anything, so there
 * is no window where a read could miss it or see it twice. In a fork child
 * the slots of the threads it lacks are given back the same way.
 *
 * Add: enter EBR, validate the handle, one relaxed fetch_add on the
 * caller's cell. An atomic RMW (not a plain load/store by the owner) so
 * that an exchange can take a cell's contents out without losing an add.
 *
 * Read: base + every cell, under a sequence count that sets and exchanges
 * make odd while they run (a seqlock whose writer lock is the sequence word
 * itself): a read that overlapped one retries, so it never mixes the cells
 * before an exchange with the cells after it.
 *
 * Set/exchange: take the sequence word (even -> odd), exchange base with the
 * new value and every cell with 0, summing what comes out, then publish the
 * sequence (odd -> even). An add is one RMW on its cell, so it is ordered
 * before or after the cell's exchange: counted in the returned total or in
 * the new one, exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK_SHIFT 4
#define CHUNK (1u << CHUNK_SHIFT)
#define NCHUNKS (FTK_COUNTER_MAX_SLOTS / CHUNK)
#define NO_SLOT UINT32_MAX
/* Spins (with a pause each) before a waiter for a set/exchange yields. */
#define SPINS 256

_Static_assert(FTK_COUNTER_MAX_SLOTS % CHUNK == 0, "whole chunks");
_Static_assert(FTK_COUNTER_MAX_SLOTS % 64 == 0, "whole bitmap words");

typedef struct cell {
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t v;
} cell;

typedef struct counter {
    ftk_handle_t handle; /* ftk_obj header; read-only after creation */
    /* read by every add: written once per chunk, never again */
    _Alignas(FTK_CACHE_LINE) _Atomic(cell *) dir[NCHUNKS];
    /* dir[k] is NULL for every k >= top (top is raised before a chunk is
     * published): reads and exchanges stop there */
    _Atomic uint32_t top;
    /* reads, sets and overflow adds only */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t seq; /* odd while a set/exchange runs */
    _Atomic uint64_t base;
} counter;

/* ---- thread slots ------------------------------------------------------ */

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t slot_used[FTK_COUNTER_MAX_SLOTS / 64]; /* guarded by slot_lock */

/* The caller's slot + 1, or NO_SLOT when every slot is taken. */
static uint32_t slot_take(ftk_thread *t) {
    uint32_t s = NO_SLOT;
    pthread_mutex_lock(&slot_lock);
    for (unsigned w = 0; w < FTK_COUNTER_MAX_SLOTS / 64; w++) {
        if (slot_used[w] != UINT64_MAX) {
            unsigned b = (unsigned)__builtin_ctzll(~slot_used[w]);
            slot_used[w] |= UINT64_C(1) << b;
            s = w * 64 + b + 1;
            break;
        }
    }
    pthread_mutex_unlock(&slot_lock);
    t->ctr_slot = s;
    return s;
}

/* Give the slot back; the caller holds slot_lock (or is a fork child). */
static void slot_give_locked(ftk_thread *t) {
    uint32_t s = t->ctr_slot;
    if (s != 0 && s != NO_SLOT) slot_used[(s - 1) / 64] &= ~(UINT64_C(1) << ((s - 1) % 64));
    t->ctr_slot = 0;
}

static void counter_thread_exit(ftk_thread *t) {
    if (t->ctr_slot == 0) return;
    pthread_mutex_lock(&slot_lock);
    slot_give_locked(t);
    pthread_mutex_unlock(&slot_lock);
}

/* Fork child: single-threaded, slot_lock held by this thread (fork_lock). */
static void counter_fork_gone(ftk_thread *t) { slot_give_locked(t); }

static ftk_thread_hooks counter_hooks = {
    .name = "counter",
    .order = FTK_HOOKS_COUNTER,
    .exit = counter_thread_exit,
    .fork_gone = counter_fork_gone,
    .fork_lock = &slot_lock,
};

__attribute__((constructor)) static void ftk_counter_init(void) {
    ftk_thread_hooks_add(&counter_hooks);
}

/* ---- helpers ------------------------------------------------------------ */

static inline uint64_t to_u64(int64_t v) { return (uint64_t)v; }
static inline int64_t to_i64(uint64_t u) {
    /* two's complement without implementation-defined conversion */
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static void counter_destroy(void *p) {
    counter *c = p;
    for (unsigned k = 0; k < NCHUNKS; k++)
        free(atomic_load_explicit(&c->dir[k], memory_order_relaxed));
    free(c);
}

/* The chunk holding slot index i (0-based), allocating it; NULL if out of
 * memory. */
static cell *chunk_for(counter *c, uint32_t i) {
    _Atomic(cell *) *slot = &c->dir[i >> CHUNK_SHIFT];
    /* acquire: pairs with the release CAS below (the chunk is zeroed) */
    cell *ch = atomic_load_explicit(slot, memory_order_acquire);
    if (ch != NULL) return ch;
    cell *mine = aligned_alloc(FTK_CACHE_LINE, CHUNK * sizeof(cell));
    if (mine == NULL) return NULL;
    for (unsigned j = 0; j < CHUNK; j++) atomic_init(&mine[j].v, 0);
    /* Raise top past this chunk BEFORE publishing it, so that anyone who
     * finds the chunk (and adds to it) is ordered after the raise: a read
     * that must count such an add sees top high enough. release: pairs
     * with top_of. */
    uint32_t want = (i >> CHUNK_SHIFT) + 1;
    uint32_t top = atomic_load_explicit(&c->top, memory_order_relaxed);
    while (top < want &&
           !atomic_compare_exchange_weak_explicit(&c->top, &top, want, memory_order_release,
                                                  memory_order_relaxed)) {
    }
    /* release: publishes the zeroed chunk (and, after the raise above, the
     * raised top); acquire on failure: the winner's chunk */
    if (atomic_compare_exchange_strong_explicit(slot, &ch, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    free(mine);
    return ch;
}

/* How many dir entries may be set. acquire: pairs with chunk_for. */
static inline uint32_t top_of(counter *c) {
    return atomic_load_explicit(&c->top, memory_order_acquire);
}

/* First add of this thread (no slot yet), of this slot to this counter (no
 * chunk yet), or of a thread without a slot. */
static __attribute__((noinline)) void add_slow(ftk_thread *t, counter *c, uint64_t n) {
    uint32_t s = t->ctr_slot;
    if (s == 0) s = slot_take(t);
    cell *ch = (s != NO_SLOT) ? chunk_for(c, s - 1) : NULL;
    if (ch != NULL)
        /* relaxed: adds order nothing (see counter.h) */
        atomic_fetch_add_explicit(&ch[(s - 1) & (CHUNK - 1)].v, n, memory_order_relaxed);
    else
        /* relaxed: as above; the shared base is exact, only contended */
        atomic_fetch_add_explicit(&c->base, n, memory_order_relaxed);
}

static inline __attribute__((always_inline)) void add_in(ftk_thread *t, counter *c, uint64_t n) {
    uint32_t i = t->ctr_slot - 1; /* 0 and NO_SLOT wrap out of range */
    if (__builtin_expect(i < FTK_COUNTER_MAX_SLOTS, 1)) {
        /* acquire: pairs with chunk_for's publishing CAS */
        cell *ch = atomic_load_explicit(&c->dir[i >> CHUNK_SHIFT], memory_order_acquire);
        if (__builtin_expect(ch != NULL, 1)) {
            /* relaxed: adds order nothing (see counter.h); an RMW so that an
             * exchange's take-out of the cell loses no add */
            atomic_fetch_add_explicit(&ch[i & (CHUNK - 1)].v, n, memory_order_relaxed);
            return;
        }
    }
    add_slow(t, c, n);
}

static inline void wait_a_bit(unsigned *spins) {
    if (*spins < SPINS) {
        ++*spins;
        ftk_cpu_relax();
    } else {
        ftk_os_yield(); /* the set/exchange may have been preempted */
    }
}

/* base + cells, consistent with respect to sets/exchanges. */
static uint64_t sum(counter *c) {
    unsigned spins = 0;
    for (;;) {
        /* acquire: the sums below read at least what the last completed
         * set/exchange left (pairs with its releasing store of seq) */
        uint64_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s1 & 1) {
            wait_a_bit(&spins);
            continue;
        }
        /* relaxed loads: each is atomic; the seqlock check below rejects a
         * sum that overlapped a set/exchange */
        uint64_t total = atomic_load_explicit(&c->base, memory_order_relaxed);
        for (unsigned k = 0, top = top_of(c); k < top; k++) {
            /* acquire: pairs with chunk_for's publishing CAS */
            cell *ch = atomic_load_explicit(&c->dir[k], memory_order_acquire);
            if (ch == NULL) continue;
            for (unsigned j = 0; j < CHUNK; j++)
                total += atomic_load_explicit(&ch[j].v, memory_order_relaxed);
        }
        /* acquire fence: if a load above read a set/exchange's write (or an
         * add after it), the release fence in exchange_in synchronizes with
         * this fence, so the load below sees seq odd or advanced */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&c->seq, memory_order_relaxed) == s1) return total;
    }
}

static uint64_t exchange_in(counter *c, uint64_t v) {
    unsigned spins = 0;
    uint64_t s;
    for (;;) {
        /* relaxed: a hint before the CAS */
        s = atomic_load_explicit(&c->seq, memory_order_relaxed);
        /* acquire: we see the previous set/exchange's writes */
        if (!(s & 1) && atomic_compare_exchange_weak_explicit(&c->seq, &s, s + 1,
                                                              memory_order_acquire,
                                                              memory_order_relaxed))
            break;
        wait_a_bit(&spins);
    }
    /* release fence: orders seq odd before the take-outs below (a reader
     * that sees one of them sees seq changed, see sum) */
    atomic_thread_fence(memory_order_release);
    uint64_t old = atomic_exchange_explicit(&c->base, v, memory_order_relaxed);
    for (unsigned k = 0, top = top_of(c); k < top; k++) {
        /* acquire: pairs with chunk_for's publishing CAS */
        cell *ch = atomic_load_explicit(&c->dir[k], memory_order_acquire);
        if (ch == NULL) continue;
        /* relaxed RMW: each add is before or after it in the cell's order */
        for (unsigned j = 0; j < CHUNK; j++)
            old += atomic_exchange_explicit(&ch[j].v, 0, memory_order_relaxed);
    }
    /* release: readers that see the new seq see the new base and cells */
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
    return old;
}

#define ENTER_OR(t, c, h, fail)                               \
    ftk_thread *t = ftk_thread_self();                        \
    counter *c = ftk_obj_enter_t(t, h, FTK_KIND_COUNTER);     \
    if (c == NULL) {                                          \
        fail;                                                 \
    }

/* ---- public API --------------------------------------------------------- */

int ftk_counter_new(int64_t initial, ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    counter *c = aligned_alloc(FTK_CACHE_LINE, sizeof(counter));
    if (c == NULL) return FTK_ENOMEM;
    memset(c, 0, sizeof *c);
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_COUNTER, &e, &h);
    if (st != FTK_OK) {
        free(c);
        return st;
    }
    c->handle = h;
    for (unsigned k = 0; k < NCHUNKS; k++) atomic_init(&c->dir[k], NULL);
    atomic_init(&c->top, 0);
    atomic_init(&c->seq, 0);
    atomic_init(&c->base, to_u64(initial));
    atomic_store_explicit(&e->obj, c, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h);                                  /* release: c is initialised */
    *out = h;
    return FTK_OK;
}

int ftk_counter_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_COUNTER, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    /* calls still inside (a caller bug) finish on valid memory */
    ftk_ebr_retire(obj, counter_destroy);
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_counter_add(ftk_handle_t h, int64_t n) {
    ENTER_OR(t, c, h, return FTK_EBADHANDLE);
    add_in(t, c, to_u64(n));
    ftk_obj_exit_t(t);
    return FTK_OK;
}

void ftk_counter_add_v(ftk_handle_t h, int64_t n) {
    ENTER_OR(t, c, h, ftk_set_last(FTK_EBADHANDLE); return);
    add_in(t, c, to_u64(n));
    ftk_obj_exit_t(t);
}

int ftk_counter_get(ftk_handle_t h, int64_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR(t, c, h, return FTK_EBADHANDLE);
    *out = to_i64(sum(c));
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int64_t ftk_counter_get_v(ftk_handle_t h) {
    ENTER_OR(t, c, h, ftk_set_last(FTK_EBADHANDLE); return 0);
    int64_t v = to_i64(sum(c));
    ftk_obj_exit_t(t);
    return v;
}

int ftk_counter_exchange(ftk_handle_t h, int64_t v, int64_t *old) {
    ENTER_OR(t, c, h, return FTK_EBADHANDLE);
    uint64_t o = exchange_in(c, to_u64(v));
    ftk_obj_exit_t(t);
    if (old != NULL) *old = to_i64(o);
    return FTK_OK;
}

int64_t ftk_counter_exchange_v(ftk_handle_t h, int64_t v) {
    ENTER_OR(t, c, h, ftk_set_last(FTK_EBADHANDLE); return 0);
    int64_t o = to_i64(exchange_in(c, to_u64(v)));
    ftk_obj_exit_t(t);
    return o;
}

int ftk_counter_set(ftk_handle_t h, int64_t v) { return ftk_counter_exchange(h, v, NULL); }

int ftk_counter_reset(ftk_handle_t h, int64_t *old) { return ftk_counter_exchange(h, 0, old); }

int ftk_counter_cells(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR(t, c, h, return FTK_EBADHANDLE);
    size_t n = 0;
    for (unsigned k = 0; k < NCHUNKS; k++)
        /* relaxed: a count, no access through the pointer */
        if (atomic_load_explicit(&c->dir[k], memory_order_relaxed) != NULL) n += CHUNK;
    ftk_obj_exit_t(t);
    *out = n;
    return FTK_OK;
}
