/*
 * sync.c - locks (contract in ftkit/sync.h): the reader-writer lock and the
 * interval lock, on the blocking layer (block.h).
 *
 * ---- rwlock ----------------------------------------------------------------
 *
 * One 64-bit state word holds the lock's shared part:
 *
 *   RBIAS   readers may use the fast path (visible reader slots)
 *   WRITER  a writer holds the lock (or is revoking the fast path to get it)
 *   GEN     flips at every write release (phase of the blocked readers)
 *   WW      writers waiting (registered in the slow path)
 *   RB      readers blocked (registered in the slow path)
 *   E       blocked readers entitled to enter before the next writer
 *   R       readers holding the lock through this counter
 *
 * Fast path (BRAVO-style visible readers). While RBIAS is set a reader
 * publishes the lock's handle in a slot of its own thread record (`vis`),
 * then re-reads the state: RBIAS still set means it holds the read lock,
 * having written nothing shared. Release clears the slot. A writer takes
 * WRITER and clears RBIAS in one CAS, then waits until no thread record has
 * `vis` == this lock (it scans the thread registry). The reader's store of
 * `vis` and its load of the state, and the writer's CAS and its scan, form a
 * Dekker pair. With asymmetric fences (os.h: Linux membarrier) the reader
 * pays only a compiler barrier and the writer a heavy fence before its
 * scan; otherwise both sides are seq_cst. After a revocation the fast path
 * stays off for 9x as long as the revocation took (ticks, os.h), and
 * readers use R meanwhile; the first reader on R after that turns RBIAS
 * back on. A writer therefore pays for at most one revocation per such
 * window, and readers of a read-mostly lock stay on the fast path.
 *
 * Shared counter path and waiting. A reader enters through R when no writer
 * holds or waits (writer preference); otherwise it registers in RB and
 * waits. A writer acquires when WRITER, R and E are all clear (barging among
 * writers is allowed); otherwise it registers in WW and waits. A write
 * release clears WRITER, flips GEN and sets E = RB: the readers blocked at
 * that moment are entitled (their GEN differs from the one they registered
 * under) and enter even though writers wait; writers wait for E = 0, so a
 * blocked reader waits for at most one writer after the one it queued
 * behind, and a writer for at most the readers that were already queued.
 * GEN needs one bit: an entitled reader cannot see a second flip, because
 * no writer acquires while E counts it.
 *
 * Ownership. Each thread keeps its read holds in a small open-addressed
 * table in its record (lock handle, nesting depth, which path); holds of
 * more than FTK_RD_SLOTS locks at once go to a private array and use R.
 * The writer's thread id is stored in the lock. So unlocking what one does
 * not hold is FTK_EPERM, nested reads cost no shared access, and a thread
 * that exits drops its read holds (sync_thread_exit).
 *
 * Eventcounts (wait.h): rd_ec (blocked readers), wr_ec (waiting writers),
 * drain_ec (a writer waiting for fast-path readers to leave). Every change
 * that can let a waiter in is a seq_cst RMW on the state (or a seq_cst store
 * of `vis`, or a fence before the notify) followed by a notify, which costs
 * one load when nobody waits.
 *
 * ---- ilock -----------------------------------------------------------------
 *
 * owner (thread id or 0), waiters (threads in the slow path), prev (the last
 * owner that released while others waited; cleared by the next acquirer)
 * and since (when the lock became contended). Acquire is a CAS of owner
 * from 0. Hand-over: a thread with prev == its id does not acquire while
 * other threads wait, until one of them has had the lock.
 */
#include <stdlib.h>
#include <string.h>

#include "block.h"

/* ---- rwlock state word ------------------------------------------------- */

#define S_RBIAS ((uint64_t)1 << 0)
#define S_WRITER ((uint64_t)1 << 1)
#define S_GEN ((uint64_t)1 << 2)
#define WW_SHIFT 3
#define RB_SHIFT 18
#define E_SHIFT 33
#define R_SHIFT 48
#define F15 ((uint64_t)0x7fff)
#define F16 ((uint64_t)0xffff)
#define WW_ONE ((uint64_t)1 << WW_SHIFT)
#define RB_ONE ((uint64_t)1 << RB_SHIFT)
#define E_ONE ((uint64_t)1 << E_SHIFT)
#define R_ONE ((uint64_t)1 << R_SHIFT)

static inline uint64_t s_ww(uint64_t s) { return (s >> WW_SHIFT) & F15; }
static inline uint64_t s_rb(uint64_t s) { return (s >> RB_SHIFT) & F15; }
static inline uint64_t s_e(uint64_t s) { return (s >> E_SHIFT) & F15; }
static inline uint64_t s_r(uint64_t s) { return (s >> R_SHIFT) & F16; }

/* Revocations make the fast path wait INHIBIT_FACTOR times their cost. */
#define INHIBIT_FACTOR 9
/* Registry scans a revoking writer makes before it sleeps. */
#define DRAIN_SPINS 8

typedef struct rwlock {
    ftk_handle_t handle; /* ftk_obj header: read-only after creation */
    ftk_waitable w;
    /* read by every reader; written by writers and shared-counter readers */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t state;
    _Atomic uint64_t owner;         /* the writer's thread id, or 0 */
    _Atomic uint64_t inhibit_until; /* ticks: RBIAS stays off until then */
    _Alignas(FTK_CACHE_LINE) ftk_ec rd_ec;
    ftk_ec wr_ec;
    ftk_ec drain_ec;
} rwlock;

static inline bool asym(void) {
    /* relaxed: set once at load time */
    return atomic_load_explicit(&ftk_os_asym, memory_order_relaxed) != 0;
}

/* ---- the caller's read holds ------------------------------------------- */

static inline unsigned rd_home(uint64_t id) {
    return (unsigned)id & (FTK_RD_SLOTS - 1); /* low bits of the entry index */
}

/* The caller's hold of lock `id` (count > 0), or NULL. */
static inline __attribute__((always_inline)) ftk_rd *rd_find(ftk_thread *t, uint64_t id) {
    if (t->rd_used != 0) {
        unsigned h = rd_home(id);
        for (unsigned i = 0; i < FTK_RD_SLOTS; i++) {
            ftk_rd *r = &t->rd[(h + i) & (FTK_RD_SLOTS - 1)];
            if (r->id == id) return r;
        }
    }
    for (uint32_t i = 0; i < t->rd_more_n; i++)
        if (t->rd_more[i].id == id) return &t->rd_more[i];
    return NULL;
}

/* Forget a hold whose count reached 0. */
static inline __attribute__((always_inline)) void rd_forget(ftk_thread *t, ftk_rd *r) {
    r->id = 0;
    r->central = 0;
    if (r >= t->rd && r < t->rd + FTK_RD_SLOTS) {
        t->rd_used--;
    } else {
        *r = t->rd_more[--t->rd_more_n]; /* move the last one into the gap */
        if (t->rd_more_n == 0) {
            free(t->rd_more);
            t->rd_more = NULL;
            t->rd_more_cap = 0;
        }
    }
}

/* All slots taken: drop holds of locks that were freed while held (a caller
 * bug, but their slots must not be lost for good), in rd[] and in the
 * overflow array. The overflow array's were once kept: a thread that kept
 * freeing locks it read-held beyond FTK_RD_SLOTS grew it without bound, and
 * every rd_find scanned it (found by tests/fuzz/fuzz_mods.c). Rare. */
static void rd_sweep(ftk_thread *t) {
    for (unsigned i = 0; i < FTK_RD_SLOTS; i++) {
        ftk_rd *r = &t->rd[i];
        if (r->id != 0 && ftk_entry_get(ftk_u2h(r->id), FTK_KIND_LOCK) == NULL) {
            atomic_store_explicit(&r->vis, 0, memory_order_relaxed); /* nobody looks */
            atomic_store_explicit(&r->count, 0, memory_order_relaxed);
            r->id = 0;
            r->central = 0;
            t->rd_used--;
        }
    }
    /* Only this thread touches rd_more (and thread exit / fork, on this
     * thread's behalf). Backwards: rd_forget moves the last entry, already
     * looked at, into the gap. Holds there are on the shared counter of a
     * lock that is gone: nothing to release. */
    for (uint32_t i = t->rd_more_n; i-- > 0;) {
        ftk_rd *r = &t->rd_more[i];
        if (ftk_entry_get(ftk_u2h(r->id), FTK_KIND_LOCK) == NULL) {
            atomic_store_explicit(&r->count, 0, memory_order_relaxed);
            rd_forget(t, r);
        }
    }
}

/* A free slot of rd[] for a new hold, or NULL if all are taken. */
static inline __attribute__((always_inline)) ftk_rd *rd_free_slot(ftk_thread *t, uint64_t id) {
    if (__builtin_expect(t->rd_used == FTK_RD_SLOTS, 0)) {
        rd_sweep(t);
        if (t->rd_used == FTK_RD_SLOTS) return NULL;
    }
    unsigned h = rd_home(id);
    for (unsigned i = 0; i < FTK_RD_SLOTS; i++) {
        ftk_rd *r = &t->rd[(h + i) & (FTK_RD_SLOTS - 1)];
        if (r->id == 0) return r;
    }
    return NULL;
}

/* A new entry in the overflow array, or NULL (FTK_ENOMEM). */
static ftk_rd *rd_more_add(ftk_thread *t) {
    if (t->rd_more_n == t->rd_more_cap) {
        uint32_t cap = t->rd_more_cap ? 2 * t->rd_more_cap : 8;
        ftk_rd *v = realloc(t->rd_more, cap * sizeof *v);
        if (v == NULL) return NULL;
        t->rd_more = v;
        t->rd_more_cap = cap;
    }
    ftk_rd *r = &t->rd_more[t->rd_more_n++];
    memset(r, 0, sizeof *r);
    return r;
}

static inline void rd_count_set(ftk_rd *r, uint32_t c) {
    /* relaxed: only the owner writes it; queries read it */
    atomic_store_explicit(&r->count, c, memory_order_relaxed);
}
static inline uint32_t rd_count(ftk_rd *r) {
    return atomic_load_explicit(&r->count, memory_order_relaxed);
}


/* ---- rwlock: shared-counter path ------------------------------------ */

static inline bool bias_may_return(rwlock *l) {
    /* relaxed: a heuristic deadline */
    return ftk_os_ticks() >= atomic_load_explicit(&l->inhibit_until, memory_order_relaxed);
}

/* Enter through R if no writer holds or waits. FTK_OK, FTK_EBUSY,
 * FTK_EOVERFLOW. seq_cst: eventcount condition. */
static int central_try(rwlock *l) {
    uint64_t s = atomic_load(&l->state);
    bool bias = !(s & S_RBIAS) && bias_may_return(l);
    for (;;) {
        if ((s & S_WRITER) || s_ww(s) != 0) return FTK_EBUSY;
        if (s_r(s) == F16) return FTK_EOVERFLOW;
        uint64_t ns = s + R_ONE;
        if (bias) ns |= S_RBIAS;
        if (atomic_compare_exchange_weak(&l->state, &s, ns)) return FTK_OK;
    }
}

static void central_release(rwlock *l) {
    /* seq_cst (release part: the reader's accesses before a writer's) */
    uint64_t s = atomic_fetch_sub(&l->state, R_ONE) - R_ONE;
    if (s_r(s) == 0 && s_ww(s) != 0) ftk_ec_notify(&l->wr_ec, FTK_EC_ALL);
}

typedef struct rd_wait {
    rwlock *l;
    uint64_t gen; /* S_GEN when the reader registered */
} rd_wait;

static inline bool rd_entitled(uint64_t s, const rd_wait *a) {
    return (s & S_GEN) != a->gen && s_e(s) != 0;
}

/* A registered (blocked) reader tries to enter. */
static int rd_blocked_try(void *arg) {
    rd_wait *a = arg;
    rwlock *l = a->l;
    uint64_t s = atomic_load(&l->state); /* seq_cst: eventcount condition */
    for (;;) {
        bool ent = rd_entitled(s, a);
        if ((s & S_WRITER) || (s_ww(s) != 0 && !ent)) return FTK_EBUSY;
        if (s_r(s) == F16) return FTK_EBUSY; /* wait for room */
        uint64_t ns = s - RB_ONE + R_ONE - (ent ? E_ONE : 0);
        if (atomic_compare_exchange_weak(&l->state, &s, ns)) return FTK_OK;
    }
}

/* A registered reader gives up (timeout, wake, free). */
static void rd_blocked_cancel(rd_wait *a) {
    rwlock *l = a->l;
    uint64_t s = atomic_load(&l->state), ns;
    bool ent;
    do {
        ent = rd_entitled(s, a);
        ns = s - RB_ONE - (ent ? E_ONE : 0);
    } while (!atomic_compare_exchange_weak(&l->state, &s, ns));
    if (ent && s_e(ns) == 0 && s_ww(ns) != 0) ftk_ec_notify(&l->wr_ec, FTK_EC_ALL);
}

/* Slow path of read_lock: through R, waiting as needed. */
static int read_slow(rwlock *l, int64_t timeout_ns) {
    int st = central_try(l);
    if (st != FTK_EBUSY || timeout_ns == 0) return st;
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &l->w, timeout_ns); /* the wake generation before registering */
    /* Register as blocked (or enter, if the lock became free meanwhile). */
    rd_wait a = {l, 0};
    uint64_t s = atomic_load(&l->state);
    for (;;) {
        if (!(s & S_WRITER) && s_ww(s) == 0) {
            st = central_try(l);
            if (st != FTK_EBUSY) return st;
            s = atomic_load(&l->state);
            continue;
        }
        if (s_rb(s) == F15) return FTK_EOVERFLOW;
        /* seq_cst: the write release reads RB to set E */
        if (atomic_compare_exchange_weak(&l->state, &s, s + RB_ONE)) break;
    }
    a.gen = s & S_GEN;
    st = ftk_block_wait(&l->w, &c, &l->rd_ec, rd_blocked_try, &a, FTK_EBUSY);
    if (st != FTK_OK) {
        rd_blocked_cancel(&a);
        if (st == FTK_EBUSY) st = FTK_ETIMEDOUT; /* cannot happen: timeout != 0 */
    }
    return st;
}

/* ---- rwlock: fast path -------------------------------------------------- */

/* Withdraw a published `vis` (the fast path was revoked meanwhile); a
 * revoking writer may be waiting for it. */
static void vis_withdraw(rwlock *l, ftk_rd *r) {
    /* seq_cst store, then the notify's seq_cst load: Dekker with the
     * writer's ftk_ec_prepare and seq_cst scan */
    atomic_store(&r->vis, 0);
    ftk_ec_notify(&l->drain_ec, FTK_EC_ALL);
}

/* Try the fast path with slot r. True: the caller holds the read lock. */
static inline __attribute__((always_inline)) bool fast_try(rwlock *l, ftk_rd *r, uint64_t id) {
    /* relaxed: a hint; the decisive load follows the publication */
    if (!(atomic_load_explicit(&l->state, memory_order_relaxed) & S_RBIAS)) return false;
    uint64_t s;
    if (asym()) {
        /* relaxed store + compiler barrier: the revoking writer's heavy
         * fence orders it before its scan; acquire: the critical section
         * stays after the check (and sees the last writer's release) */
        atomic_store_explicit(&r->vis, id, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
        s = atomic_load_explicit(&l->state, memory_order_acquire);
    } else {
        atomic_store(&r->vis, id); /* seq_cst: Dekker with the writer */
        s = atomic_load(&l->state);
    }
    if (s & S_RBIAS) return true;
    vis_withdraw(l, r);
    return false;
}

static inline __attribute__((always_inline)) void fast_release(rwlock *l, ftk_rd *r) {
    uint64_t s;
    if (asym()) {
        /* release: the critical section's accesses before a writer that
         * sees the slot empty. A writer that revoked before this store
         * became visible to its scan ran its heavy fence first, so the
         * load below then sees RBIAS clear and we notify it. */
        atomic_store_explicit(&r->vis, 0, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
        s = atomic_load_explicit(&l->state, memory_order_relaxed);
        if (__builtin_expect(!(s & S_RBIAS), 0)) {
            /* seq_cst store (again) and the notify's seq_cst load: Dekker
             * with the writer's ftk_ec_prepare and seq_cst scan */
            atomic_store(&r->vis, 0);
            ftk_ec_notify(&l->drain_ec, FTK_EC_ALL);
        }
    } else {
        atomic_store(&r->vis, 0);
        s = atomic_load(&l->state);
        if (!(s & S_RBIAS)) ftk_ec_notify(&l->drain_ec, FTK_EC_ALL);
    }
}

/* ---- rwlock: writers ---------------------------------------------------- */

static inline bool wr_can(uint64_t s) {
    return !(s & S_WRITER) && s_r(s) == 0 && s_e(s) == 0;
}

/* A fresh writer: acquire if free. *bias: RBIAS was set (revoke). */
static int wr_try(rwlock *l, bool *bias) {
    uint64_t s = atomic_load(&l->state); /* seq_cst: eventcount condition */
    while (wr_can(s)) {
        if (atomic_compare_exchange_weak(&l->state, &s, (s | S_WRITER) & ~S_RBIAS)) {
            *bias = (s & S_RBIAS) != 0;
            return FTK_OK;
        }
    }
    return FTK_EBUSY;
}

typedef struct wr_wait {
    rwlock *l;
    bool bias;
} wr_wait;

/* A registered writer: acquire and unregister in one CAS. */
static int wr_waiting_try(void *arg) {
    wr_wait *a = arg;
    uint64_t s = atomic_load(&a->l->state);
    while (wr_can(s)) {
        if (atomic_compare_exchange_weak(&a->l->state, &s,
                                         ((s | S_WRITER) & ~S_RBIAS) - WW_ONE)) {
            a->bias = (s & S_RBIAS) != 0;
            return FTK_OK;
        }
    }
    return FTK_EBUSY;
}

/* Release WRITER (unlock, or a revocation that gave up): flip GEN, entitle
 * the blocked readers, wake who can go on. A revocation that gave up leaves
 * readers inside on the fast path: it turns RBIAS back on (`bias`), so that
 * the next writer revokes (and waits for them) again. */
static void wr_release(rwlock *l, bool bias) {
    uint64_t s = atomic_load(&l->state), ns;
    do {
        ns = ((s & ~S_WRITER) ^ S_GEN) & ~(F15 << E_SHIFT);
        ns |= s_rb(s) << E_SHIFT;
        if (bias) ns |= S_RBIAS;
        /* seq_cst (release: the writer's accesses before the next owner's) */
    } while (!atomic_compare_exchange_weak(&l->state, &s, ns));
    if (s_rb(ns) != 0)
        ftk_ec_notify(&l->rd_ec, FTK_EC_ALL);
    else if (s_ww(ns) != 0)
        ftk_ec_notify(&l->wr_ec, FTK_EC_ALL);
}

struct scan_arg {
    uint64_t id;
    int64_t n;
};

static void count_vis(ftk_thread *t, void *arg) {
    struct scan_arg *a = arg;
    for (unsigned i = 0; i < FTK_RD_SLOTS; i++)
        /* seq_cst: the scan half of the Dekker pair (acquire: the reader's
         * critical section happened before it cleared its slot) */
        if (atomic_load(&t->rd[i].vis) == a->id) a->n++;
}

static int64_t fast_readers(uint64_t id) {
    struct scan_arg a = {id, 0};
    ftk_thread_foreach(count_vis, &a);
    return a.n;
}

static int drain_try(void *arg) {
    return fast_readers(*(uint64_t *)arg) == 0 ? FTK_OK : FTK_EBUSY;
}

/* We hold WRITER and cleared RBIAS: wait for the fast-path readers. */
static int revoke(rwlock *l, uint64_t id, ftk_wait_ctx *c) {
    uint64_t t0 = ftk_os_ticks();
    ftk_os_heavy_fence(); /* every published `vis` is visible to the scan */
    unsigned spins = c->spins;
    c->spins = DRAIN_SPINS;
    int st = ftk_block_wait(&l->w, c, &l->drain_ec, drain_try, &id, FTK_EBUSY);
    c->spins = spins;
    uint64_t t1 = ftk_os_ticks();
    if (t1 > t0) /* relaxed: a heuristic */
        atomic_store_explicit(&l->inhibit_until, t1 + INHIBIT_FACTOR * (t1 - t0),
                              memory_order_relaxed);
    return st;
}

/* ---- rwlock: API -------------------------------------------------------- */

static void rwlock_destroy(void *p) { free(p); }

int ftk_rwlock_new(ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    rwlock *l = aligned_alloc(FTK_CACHE_LINE, sizeof(rwlock));
    if (l == NULL) return FTK_ENOMEM;
    memset(l, 0, sizeof *l);
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_LOCK, &e, &h);
    if (st != FTK_OK) {
        free(l);
        return st;
    }
    l->handle = h;
    ftk_waitable_init(&l->w, l, rwlock_destroy);
    atomic_init(&l->state, S_RBIAS);
    atomic_init(&l->owner, 0);
    atomic_init(&l->inhibit_until, 0);
    ftk_ec_init(&l->rd_ec);
    ftk_ec_init(&l->wr_ec);
    ftk_ec_init(&l->drain_ec);
    atomic_store_explicit(&e->obj, l, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h);
    *out = h;
    return FTK_OK;
}

static void rwlock_notify_all(rwlock *l) {
    ftk_ec_notify(&l->rd_ec, FTK_EC_ALL);
    ftk_ec_notify(&l->wr_ec, FTK_EC_ALL);
    ftk_ec_notify(&l->drain_ec, FTK_EC_ALL);
}

int ftk_rwlock_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_LOCK, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    rwlock *l = obj;
    ftk_waitable_close(&l->w);
    rwlock_notify_all(l);
    ftk_waitable_unref(&l->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_rwlock_read_lock(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    uint64_t id = ftk_h2u(h);
    int st = FTK_OK;
    ftk_rd *r = rd_find(t, id);
    if (r != NULL) { /* nested: never waits */
        uint32_t c = rd_count(r);
        if (c == UINT32_MAX)
            st = FTK_EOVERFLOW;
        else
            rd_count_set(r, c + 1);
        goto out;
    }
    /* relaxed: only this thread can have stored its own id there */
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == t->id) {
        st = FTK_EPERM;
        goto out;
    }
    r = rd_free_slot(t, id);
    if (__builtin_expect(r != NULL, 1)) {
        if (fast_try(l, r, id)) {
            r->id = id;
            r->central = 0;
            rd_count_set(r, 1);
            t->rd_used++;
            goto out;
        }
    }
    st = read_slow(l, timeout_ns);
    if (st == FTK_OK) {
        if (r == NULL) r = rd_more_add(t);
        if (r == NULL) {
            central_release(l);
            st = FTK_ENOMEM;
            goto out;
        }
        if (r >= t->rd && r < t->rd + FTK_RD_SLOTS) t->rd_used++;
        r->id = id;
        r->central = 1;
        rd_count_set(r, 1);
    }
out:
    ftk_obj_exit_t(t);
    return st;
}

/* Drop one hold (r is the caller's hold of l). */
static inline __attribute__((always_inline)) void read_release(ftk_thread *t, rwlock *l, ftk_rd *r) {
    uint32_t c = rd_count(r);
    if (c > 1) {
        rd_count_set(r, c - 1);
        return;
    }
    rd_count_set(r, 0);
    if (r->central)
        central_release(l);
    else
        fast_release(l, r);
    rd_forget(t, r);
}

int ftk_rwlock_read_unlock(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    ftk_rd *r = rd_find(t, ftk_h2u(h));
    int st = FTK_EPERM;
    if (r != NULL) {
        read_release(t, l, r);
        st = FTK_OK;
    }
    ftk_obj_exit_t(t);
    return st;
}

int ftk_rwlock_write_lock(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    uint64_t id = ftk_h2u(h);
    int st;
    /* relaxed: only this thread can have stored its own id there */
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == t->id ||
        rd_find(t, id) != NULL) {
        st = FTK_EPERM;
        goto out;
    }
    ftk_wait_ctx c;
    /* the wake generation before registering: a ftk_rwlock_wake once
     * writers_waiting counts this call must end it */
    ftk_wait_begin(&c, &l->w, timeout_ns);
    wr_wait a = {l, false};
    st = wr_try(l, &a.bias);
    if (st == FTK_EBUSY && timeout_ns != 0) {
        /* register as waiting (or take it, if it became free meanwhile) */
        uint64_t s = atomic_load(&l->state);
        for (;;) {
            if (wr_can(s)) {
                st = wr_try(l, &a.bias);
                if (st == FTK_OK) break;
                s = atomic_load(&l->state);
                continue;
            }
            if (s_ww(s) == F15) {
                st = FTK_EOVERFLOW;
                break;
            }
            if (atomic_compare_exchange_weak(&l->state, &s, s + WW_ONE)) {
                st = ftk_block_wait(&l->w, &c, &l->wr_ec, wr_waiting_try, &a, FTK_EBUSY);
                if (st != FTK_OK) {
                    uint64_t ns = atomic_fetch_sub(&l->state, WW_ONE) - WW_ONE;
                    /* readers held back only by waiting writers may go */
                    if (s_ww(ns) == 0 && s_rb(ns) != 0) ftk_ec_notify(&l->rd_ec, FTK_EC_ALL);
                }
                break;
            }
        }
    }
    if (st == FTK_OK && a.bias) {
        st = revoke(l, id, &c);
        if (st != FTK_OK) wr_release(l, true);
    }
    if (st == FTK_OK) /* relaxed: read back only by this thread (EPERM checks) */
        atomic_store_explicit(&l->owner, t->id, memory_order_relaxed);
out:
    ftk_obj_exit_t(t);
    return st;
}

int ftk_rwlock_write_unlock(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    int st = FTK_EPERM;
    /* relaxed: equal only if this thread stored it */
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == t->id) {
        atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
        wr_release(l, false);
        st = FTK_OK;
    }
    ftk_obj_exit_t(t);
    return st;
}

int ftk_rwlock_wake(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    ftk_waitable_wake(&l->w);
    rwlock_notify_all(l);
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int64_t ftk_rwlock_readers(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    int64_t n = (int64_t)s_r(atomic_load(&l->state)) + fast_readers(ftk_h2u(h));
    ftk_obj_exit_t(t);
    return n;
}

int64_t ftk_rwlock_writers_waiting(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    int64_t n = (int64_t)s_ww(atomic_load(&l->state));
    ftk_obj_exit_t(t);
    return n;
}

int ftk_rwlock_writer_locked(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    int v = (atomic_load(&l->state) & S_WRITER) != 0;
    ftk_obj_exit_t(t);
    return v;
}

int64_t ftk_rwlock_read_held(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    ftk_rd *r = rd_find(t, ftk_h2u(h));
    int64_t n = r ? (int64_t)rd_count(r) : 0;
    ftk_obj_exit_t(t);
    return n;
}

int ftk_rwlock_write_held(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    rwlock *l = ftk_obj_enter_t(t, h, FTK_KIND_LOCK);
    if (l == NULL) return FTK_EBADHANDLE;
    /* relaxed: equal only if this thread stored it */
    int v = atomic_load_explicit(&l->owner, memory_order_relaxed) == t->id;
    ftk_obj_exit_t(t);
    return v;
}

/* ---- per-thread hooks ---------------------------------------------------- */

/* Thread exit: release the read holds (a reader that is gone reads
 * nothing). Write holds and ilocks stay held (see sync.h). */
static void release_all(ftk_thread *t, ftk_rd *r) {
    if (r->id == 0) return;
    rwlock *l = ftk_obj_enter_t(t, ftk_u2h(r->id), FTK_KIND_LOCK);
    if (l == NULL) { /* freed while held: nothing to release */
        atomic_store_explicit(&r->vis, 0, memory_order_relaxed);
        rd_count_set(r, 0);
        rd_forget(t, r);
        return;
    }
    rd_count_set(r, 1);
    read_release(t, l, r);
    ftk_obj_exit_t(t);
}

static void sync_thread_exit(ftk_thread *t) {
    for (unsigned i = 0; i < FTK_RD_SLOTS; i++) release_all(t, &t->rd[i]);
    while (t->rd_more_n > 0) release_all(t, &t->rd_more[t->rd_more_n - 1]);
}

/* A lock by handle without EBR (fork child: single-threaded). */
static rwlock *lookup_quiet(uint64_t id) {
    ftk_entry *e = ftk_entry_get(ftk_u2h(id), FTK_KIND_LOCK);
    if (e == NULL) return NULL;
    rwlock *l = atomic_load_explicit(&e->obj, memory_order_acquire);
    return (l != NULL && l->handle == ftk_u2h(id)) ? l : NULL;
}

/* Fork child: a thread of the parent that held read locks on the fast path
 * does not exist here, and its record leaves the registry, so writers
 * would no longer see those holds. Move them to the shared counter: the
 * child sees the locks read-held (as it sees holds on the counter, and
 * write holds, of threads it lacks). */
static void sync_fork_gone(ftk_thread *t) {
    for (unsigned i = 0; i < FTK_RD_SLOTS; i++) {
        ftk_rd *r = &t->rd[i];
        uint64_t v = atomic_load_explicit(&r->vis, memory_order_relaxed);
        if (r->id == 0 || r->central || v != r->id) continue;
        rwlock *l = lookup_quiet(r->id);
        if (l != NULL) atomic_fetch_add(&l->state, R_ONE);
    }
}

static ftk_thread_hooks sync_hooks = {
    .name = "sync",
    .order = FTK_HOOKS_SYNC,
    .exit = sync_thread_exit,
    .fork_gone = sync_fork_gone,
};

__attribute__((constructor)) static void ftk_sync_init(void) { ftk_thread_hooks_add(&sync_hooks); }

/* ---- ilock ---------------------------------------------------------------- */

typedef struct ilock {
    ftk_handle_t handle; /* ftk_obj header */
    int64_t interval_ns;
    ftk_waitable w;
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t owner; /* thread id or 0 */
    _Atomic uint64_t prev;     /* released while others waited; see header */
    _Atomic uint32_t waiters;  /* threads in the slow path */
    _Atomic int64_t since;     /* contended since (ns), 0 = not yet */
    _Alignas(FTK_CACHE_LINE) ftk_ec ec;
} ilock;

static void ilock_destroy(void *p) { free(p); }

int ftk_ilock_new(int64_t interval_ns, ftk_handle_t *out) {
    if (out == NULL || interval_ns < 0) return FTK_EINVAL;
    ilock *k = aligned_alloc(FTK_CACHE_LINE, sizeof(ilock));
    if (k == NULL) return FTK_ENOMEM;
    memset(k, 0, sizeof *k);
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_ILOCK, &e, &h);
    if (st != FTK_OK) {
        free(k);
        return st;
    }
    k->handle = h;
    k->interval_ns = interval_ns;
    ftk_waitable_init(&k->w, k, ilock_destroy);
    atomic_init(&k->owner, 0);
    atomic_init(&k->prev, 0);
    atomic_init(&k->waiters, 0);
    atomic_init(&k->since, 0);
    ftk_ec_init(&k->ec);
    atomic_store_explicit(&e->obj, k, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h);
    *out = h;
    return FTK_OK;
}

int ftk_ilock_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_ILOCK, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    ilock *k = obj;
    ftk_waitable_close(&k->w);
    ftk_ec_notify(&k->ec, FTK_EC_ALL);
    ftk_waitable_unref(&k->w);
    ftk_ebr_exit();
    return FTK_OK;
}

/* The new owner's bookkeeping: hand-over done, contention stamp. */
static void il_acquired(ilock *k, uint64_t me, uint32_t others) {
    /* relaxed: prev and since are written by owners (ordered by the
     * owner CAS/store) and read as hints */
    if (atomic_load_explicit(&k->prev, memory_order_relaxed) != 0)
        atomic_store_explicit(&k->prev, 0, memory_order_relaxed);
    (void)me;
    atomic_store_explicit(&k->since, others ? ftk_now_ns() : 0, memory_order_relaxed);
}

struct il_wait {
    ilock *k;
    uint64_t me;
};

/* A registered waiter tries to acquire. */
static int il_try(void *arg) {
    struct il_wait *a = arg;
    ilock *k = a->k;
    uint64_t o = atomic_load(&k->owner); /* seq_cst: eventcount condition */
    if (o != 0) return FTK_EBUSY;
    /* hand-over: the last releaser waits while another thread waits */
    if (atomic_load_explicit(&k->prev, memory_order_relaxed) == a->me &&
        atomic_load(&k->waiters) > 1)
        return FTK_EBUSY;
    if (!atomic_compare_exchange_strong(&k->owner, &o, a->me)) return FTK_EBUSY;
    return FTK_OK;
}

/* Acquire; the caller is inside ftk_obj_enter and does not own k. */
static int il_lock(ilock *k, uint64_t me, int64_t timeout_ns) {
    uint64_t o = 0;
    /* fast path: free, and no hand-over owed (relaxed hints; the CAS
     * decides) */
    if (atomic_load_explicit(&k->owner, memory_order_relaxed) == 0 &&
        (atomic_load_explicit(&k->prev, memory_order_relaxed) != me ||
         atomic_load_explicit(&k->waiters, memory_order_relaxed) == 0) &&
        /* seq_cst (acquire: the previous owner's release) */
        atomic_compare_exchange_strong(&k->owner, &o, me)) {
        il_acquired(k, me, atomic_load_explicit(&k->waiters, memory_order_relaxed));
        return FTK_OK;
    }
    if (timeout_ns == 0) return FTK_EBUSY;
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &k->w, timeout_ns); /* the wake generation before registering */
    atomic_fetch_add(&k->waiters, 1); /* seq_cst: read by releasers */
    int64_t zero = 0;
    /* relaxed: the contention stamp is a hint for poll */
    if (atomic_load_explicit(&k->since, memory_order_relaxed) == 0)
        atomic_compare_exchange_strong_explicit(&k->since, &zero, ftk_now_ns(),
                                                memory_order_relaxed, memory_order_relaxed);
    struct il_wait a = {k, me};
    int st = ftk_block_wait(&k->w, &c, &k->ec, il_try, &a, FTK_EBUSY);
    uint32_t left = atomic_fetch_sub(&k->waiters, 1) - 1;
    if (st == FTK_OK) {
        il_acquired(k, me, left);
    } else {
        /* a wake-up meant for us may be lost with us; a thread held back
         * by the hand-over may now go: wake them (rare path) */
        if (atomic_load(&k->owner) == 0) ftk_ec_notify(&k->ec, FTK_EC_ALL);
    }
    return st;
}

static void il_unlock(ilock *k, uint64_t me) {
    /* relaxed: read by the waiters as a hint; ordered before the release
     * of owner below */
    if (atomic_load(&k->waiters) != 0) atomic_store_explicit(&k->prev, me, memory_order_relaxed);
    atomic_store(&k->owner, 0); /* seq_cst: release, and eventcount condition */
    ftk_ec_notify(&k->ec, 1);
}

int ftk_ilock_lock(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    uint64_t me = t->id;
    int st = atomic_load_explicit(&k->owner, memory_order_relaxed) == me
                 ? FTK_EPERM
                 : il_lock(k, me, timeout_ns);
    ftk_obj_exit_t(t);
    return st;
}

int ftk_ilock_unlock(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    uint64_t me = t->id;
    int st = FTK_EPERM;
    /* relaxed: equal only if this thread stored it */
    if (atomic_load_explicit(&k->owner, memory_order_relaxed) == me) {
        il_unlock(k, me);
        st = FTK_OK;
    }
    ftk_obj_exit_t(t);
    return st;
}

/* Cede if `force` or the interval has passed; caller inside enter. */
static int il_cede(ftk_thread *t, ilock *k, bool force, int64_t timeout_ns) {
    uint64_t me = t->id;
    /* relaxed: equal only if this thread stored it */
    if (atomic_load_explicit(&k->owner, memory_order_relaxed) != me) return FTK_EPERM;
    if (atomic_load(&k->waiters) == 0) return FTK_OK; /* nobody to cede to */
    if (!force) {
        /* relaxed: a hint (see il_acquired) */
        int64_t s = atomic_load_explicit(&k->since, memory_order_relaxed), now = ftk_now_ns();
        if (s == 0) {
            /* a waiter raced with our acquisition: count from now */
            atomic_compare_exchange_strong_explicit(&k->since, &s, now, memory_order_relaxed,
                                                    memory_order_relaxed);
            return FTK_OK;
        }
        if (now - s < k->interval_ns) return FTK_OK;
    }
    il_unlock(k, me);
    return il_lock(k, me, timeout_ns);
}

int ftk_ilock_poll(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    int st = il_cede(t, k, false, timeout_ns);
    ftk_obj_exit_t(t);
    return st;
}

int ftk_ilock_cede(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    int st = il_cede(t, k, true, timeout_ns);
    ftk_obj_exit_t(t);
    return st;
}

int ftk_ilock_wake(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    ftk_waitable_wake(&k->w);
    ftk_ec_notify(&k->ec, FTK_EC_ALL);
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int ftk_ilock_locked(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    int v = atomic_load(&k->owner) != 0;
    ftk_obj_exit_t(t);
    return v;
}

int ftk_ilock_held(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    ilock *k = ftk_obj_enter_t(t, h, FTK_KIND_ILOCK);
    if (k == NULL) return FTK_EBADHANDLE;
    /* relaxed: equal only if this thread stored it */
    int v = atomic_load_explicit(&k->owner, memory_order_relaxed) == t->id;
    ftk_obj_exit_t(t);
    return v;
}
