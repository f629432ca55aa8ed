/*
 * gather.c - ordered fan-in of (key, word) pairs (contract in ftkit/gather.h).
 *
 * Layout. 2^s stripes; key k lives in stripe k & (2^s - 1), so consecutive
 * keys (the usual fan-in: producers insert i, i+1, ... in any order) go
 * round-robin to different stripes and inserters rarely meet. Each stripe
 * is one cache line: a short spinlock and an open-addressed table of
 * (key, word) entries, linear probing, word 0 = empty, removal by backward
 * shift (no tombstones). The table doubles at load 1/2 and halves at 1/8
 * (never below MIN_LG), so memory follows the words present. Everything
 * that reads or writes a table holds its stripe's lock, so an old table is
 * freed as soon as it is replaced.
 *
 * Why stripes of locked tables rather than a lock-free map: every operation
 * is a handful of instructions under the lock, far shorter than the FFI
 * crossing around it (~100 ns from Python), and a lock makes the wake-up
 * argument below a two-line proof. No lock, counter or line is shared by
 * every insert: an insert touches its stripe's line and reads (only reads)
 * the consumers' publication line and the handle entry.
 *
 * Wake-ups (the targeted Dekker pair). A consumer that must wait for key k
 * publishes k (want[i] = {busy, key}, after counting itself in `active`),
 * registers on the eventcount `arrived` (ftk_ec_prepare), then retries its
 * take under the stripe lock, and only then sleeps. An insert of key k,
 * after its critical section, loads `active`, and if non-zero the published
 * keys; it notifies `arrived` only when one equals k (or `crowd`: more
 * consumers than slots, who are woken by every insert). No wake-up is lost:
 * the two critical sections on k's stripe are ordered by the lock. If the
 * consumer's retry came first, its publication and registration
 * happen-before the inserter's loads (sequenced before its unlock, which
 * synchronizes with the inserter's lock), so the inserter sees `active` != 0,
 * the key k (or a later store by a later waiter, which means ours has
 * stopped waiting) and the eventcount's waiter count, and wakes it (the
 * eventcount's own sequence number makes a wake that lands before the
 * futex sleep a no-op sleep). If the insert came first, the retry finds the
 * word. (The proof needs only the lock's acquire/release; the loads are
 * seq_cst anyway, as the eventcount's contract asks.) So a single consumer
 * is woken by exactly the insert it waits for, and an insert with nobody
 * waiting costs one load of a line that only consumers write.
 *
 * Close, fail, wake and free end waits through the unconditional path:
 * a seq_cst RMW of the condition (`state`, or the waitable's flags) then
 * ftk_ec_notify(ALL); the waiter's retry loads `state` seq_cst after
 * ftk_ec_prepare (the eventcount's Dekker pair, wait.h).
 *
 * Close also refuses inserts: it sets each stripe's `closed` under the
 * stripe's lock, and an insert checks it under the same lock, so once close
 * returns no insert can add a word that a following drain would miss.
 *
 * Interrupt recovery: take_run stores its count in caller memory (*got) as
 * well as returning it, so a binding interrupted before it saw the return
 * value still knows which words it holds; ftk_gather_insert_run puts them
 * back.
 *
 * The gatherer itself is freed through EBR and the blocking layer's sleeper
 * references (block.h), like the queue: every call runs inside an EBR
 * section, and a sleeping consumer holds a reference instead.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "internal.h"
#include "wait.h"

#define MIN_LG 3u     /* smallest table: 8 entries */
#define MAX_LG 60u    /* a table never grows past 2^60 entries */
#define WSLOTS 2      /* consumers that can publish their key */
#define DEFAULT_SCALING 16u
#define MIN_STRIPES 8u
#define MAX_STRIPES 1024u

typedef struct gentry {
    int64_t key;
    uint64_t w; /* 0: empty */
} gentry;

typedef struct stripe {
    _Alignas(FTK_CACHE_LINE) _Atomic uint32_t lock;
    bool closed;           /* guarded by the lock */
    unsigned lg;           /* guarded by the lock; table size 2^lg, 0: no table */
    size_t len;            /* guarded by the lock */
    gentry *tab;           /* guarded by the lock */
    _Atomic size_t len_pub; /* stored under the lock, read without it */
} stripe;

typedef struct gwant {
    _Atomic uint32_t busy; /* a consumer owns this slot */
    _Atomic int64_t key;   /* the key it waits for */
} gwant;

typedef struct gather {
    /* read-only after creation */
    ftk_handle_t handle;
    uint64_t mask;   /* stripes - 1 */
    unsigned sbits;  /* log2(stripes) */
    stripe *stripes;

    /* read by every take; written by close/fail only */
    _Alignas(FTK_CACHE_LINE) _Atomic uint32_t state;

    /* written only by waiting consumers; inserts read `active` */
    _Alignas(FTK_CACHE_LINE) _Atomic uint32_t active; /* published + crowd */
    _Atomic uint32_t crowd;                          /* waiting without a slot */
    gwant want[WSLOTS];
    ftk_ec arrived;

    _Alignas(FTK_CACHE_LINE) ftk_waitable w;
} gather;

/* ---- stripe lock --------------------------------------------------------- */

static inline void s_lock(stripe *s) { ftk_spin_lock(&s->lock); }
static inline void s_unlock(stripe *s) { ftk_spin_unlock(&s->lock); }

/* ---- one stripe's table (all under its lock) ------------------------------ */

static inline size_t home(const gather *g, int64_t key, unsigned lg) {
    /* the bits above the stripe index, Fibonacci-hashed to lg bits */
    uint64_t x = (uint64_t)key >> g->sbits;
    return (size_t)((x * 0x9E3779B97F4A7C15ull) >> (64 - lg));
}

static inline void publish_len(stripe *s) {
    /* relaxed: a count that was exact while we held the lock */
    atomic_store_explicit(&s->len_pub, s->len, memory_order_relaxed);
}

/* Index of key in the table, or -1. */
static inline ptrdiff_t find(const gather *g, const stripe *s, int64_t key) {
    if (s->tab == NULL) return -1;
    size_t mask = ((size_t)1 << s->lg) - 1;
    for (size_t i = home(g, key, s->lg);; i = (i + 1) & mask) {
        const gentry *e = &s->tab[i];
        if (e->w == 0) return -1;
        if (e->key == key) return (ptrdiff_t)i;
    }
}

/* Rehash into a table of 2^lg entries; false (nothing changed) without memory. */
static bool resize(const gather *g, stripe *s, unsigned lg) {
    size_t n = (size_t)1 << lg, mask = n - 1;
    gentry *t = calloc(n, sizeof(gentry));
    if (t == NULL) return false;
    if (s->tab != NULL) {
        size_t old = (size_t)1 << s->lg;
        for (size_t j = 0; j < old; j++) {
            gentry e = s->tab[j];
            if (e.w == 0) continue;
            size_t i = home(g, e.key, lg);
            while (t[i].w != 0) i = (i + 1) & mask;
            t[i] = e;
        }
        free(s->tab); /* nobody else can be reading it: we hold the lock */
    }
    s->tab = t;
    s->lg = lg;
    return true;
}

/* Add (key, w); the key is absent. FTK_OK or FTK_ENOMEM (nothing changed). */
static int table_add(const gather *g, stripe *s, int64_t key, uint64_t w) {
    if (s->tab == NULL) {
        if (!resize(g, s, MIN_LG)) return FTK_ENOMEM;
    } else if ((s->len + 1) * 2 > ((size_t)1 << s->lg)) {
        if (s->lg >= MAX_LG || !resize(g, s, s->lg + 1)) return FTK_ENOMEM;
    }
    size_t mask = ((size_t)1 << s->lg) - 1;
    size_t i = home(g, key, s->lg);
    while (s->tab[i].w != 0) i = (i + 1) & mask;
    s->tab[i].key = key;
    s->tab[i].w = w;
    s->len++;
    publish_len(s);
    return FTK_OK;
}

/* Remove the entry at index i (backward shift: the entries after it in its
 * cluster that may move closer to their home do). */
static void table_remove_at(const gather *g, stripe *s, size_t i) {
    size_t mask = ((size_t)1 << s->lg) - 1;
    gentry *t = s->tab;
    for (size_t j = (i + 1) & mask; t[j].w != 0; j = (j + 1) & mask) {
        size_t k = home(g, t[j].key, s->lg);
        /* t[j] may fill the hole at i if i lies on its probe path k..j */
        if (((j - k) & mask) >= ((j - i) & mask)) {
            t[i] = t[j];
            i = j;
        }
    }
    t[i].w = 0;
    s->len--;
    publish_len(s);
    /* best effort: a failed shrink keeps the larger table */
    if (s->lg > MIN_LG && s->len * 8 <= ((size_t)1 << s->lg)) resize(g, s, s->lg - 1);
}

/* ---- waiting ----------------------------------------------------------- */

/* After an insert of key (its critical section is over): wake the consumer
 * waiting for exactly this key, if one published it (see the top comment). */
static inline void wake_for(gather *g, int64_t key) {
    /* seq_cst (the lock's ordering suffices, see the top comment) */
    if (__builtin_expect(atomic_load(&g->active) == 0, 1)) return;
    bool hit = atomic_load(&g->crowd) != 0;
    for (unsigned i = 0; i < WSLOTS && !hit; i++)
        hit = atomic_load(&g->want[i].busy) && atomic_load(&g->want[i].key) == key;
    if (hit) ftk_ec_notify(&g->arrived, FTK_EC_ALL);
}

/* Publish the key this consumer is about to wait for; the slot's index, or
 * -1 for the crowd. Both before the retry that precedes every sleep. */
static int publish_want(gather *g, int64_t key) {
    atomic_fetch_add(&g->active, 1); /* seq_cst */
    for (int i = 0; i < WSLOTS; i++) {
        uint32_t z = 0;
        if (atomic_compare_exchange_strong(&g->want[i].busy, &z, 1)) {
            atomic_store(&g->want[i].key, key);
            return i;
        }
    }
    atomic_fetch_add(&g->crowd, 1);
    return -1;
}

static void unpublish_want(gather *g, int slot) {
    if (slot < 0)
        atomic_fetch_sub(&g->crowd, 1);
    else
        atomic_store(&g->want[slot].busy, 0);
    atomic_fetch_sub(&g->active, 1);
}

typedef struct attempt {
    gather *g;
    int64_t key;   /* the first key */
    bool take;     /* remove the words (take) or leave them (get) */
    size_t max;    /* keys key..key+max-1 (max >= 1, no int64 overflow) */
    uint64_t *out; /* max words */
    size_t n;      /* out: words found */
} attempt;

/* One non-blocking attempt: the words of the consecutive keys from a->key
 * that are present, up to a->max (each key under its own stripe's lock):
 * FTK_OK (a->n >= 1), FTK_EEMPTY (the first is absent), FTK_ECLOSED. */
static int try_op(void *arg) {
    attempt *a = arg;
    gather *g = a->g;
    /* seq_cst: the eventcount condition for close/fail (wait.h) */
    if (__builtin_expect(atomic_load(&g->state) != 0, 0)) return FTK_ECLOSED;
    size_t n = 0;
    for (; n < a->max; n++) {
        int64_t key = (int64_t)((uint64_t)a->key + n);
        stripe *s = &g->stripes[(uint64_t)key & g->mask];
        s_lock(s);
        ptrdiff_t i = find(g, s, key);
        if (i < 0) {
            s_unlock(s);
            break;
        }
        a->out[n] = s->tab[i].w;
        if (a->take) table_remove_at(g, s, (size_t)i);
        s_unlock(s);
    }
    a->n = n;
    return n ? FTK_OK : FTK_EEMPTY;
}

static int wait_op(gather *g, attempt *a, int64_t timeout_ns) {
    int st = try_op(a);
    if (st != FTK_EEMPTY || timeout_ns == 0) return st;
    int slot = publish_want(g, a->key);
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &g->w, timeout_ns);
    st = ftk_block_wait(&g->w, &c, &g->arrived, try_op, a, FTK_EEMPTY);
    unpublish_want(g, slot);
    return st == FTK_EEMPTY ? FTK_ETIMEDOUT : st;
}

/* ---- API -------------------------------------------------------------------- */

#define ENTER_OR_FAIL(h)                                        \
    ftk_thread *self_ = ftk_thread_self();                      \
    gather *g = ftk_obj_enter_t(self_, (h), FTK_KIND_GATHER);   \
    if (g == NULL) return FTK_EBADHANDLE
#define LEAVE() ftk_obj_exit_t(self_)

static void gather_destroy(void *p) {
    gather *g = p;
    /* No thread can reach g any more (EBR and the sleeper references). */
    for (uint64_t i = 0; i <= g->mask; i++) free(g->stripes[i].tab);
    free(g->stripes);
    free(g);
}

int ftk_gather_new(size_t scaling, ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    if (scaling == 0) scaling = DEFAULT_SCALING;
    size_t want = scaling > MAX_STRIPES / 4 ? MAX_STRIPES : scaling * 4;
    unsigned sbits = 0;
    while (((size_t)1 << sbits) < want || ((size_t)1 << sbits) < MIN_STRIPES) sbits++;
    size_t n = (size_t)1 << sbits;
    gather *g = aligned_alloc(FTK_CACHE_LINE, sizeof(gather));
    if (g == NULL) return FTK_ENOMEM;
    memset(g, 0, sizeof *g);
    stripe *st = aligned_alloc(FTK_CACHE_LINE, n * sizeof(stripe));
    if (st == NULL) {
        free(g);
        return FTK_ENOMEM;
    }
    memset(st, 0, n * sizeof(stripe));
    for (size_t i = 0; i < n; i++) {
        atomic_init(&st[i].lock, 0);
        atomic_init(&st[i].len_pub, 0);
    }
    ftk_entry *e;
    ftk_handle_t h;
    int rc = ftk_entry_alloc(FTK_KIND_GATHER, &e, &h);
    if (rc != FTK_OK) {
        free(st);
        free(g);
        return rc;
    }
    g->handle = h;
    g->mask = n - 1;
    g->sbits = sbits;
    g->stripes = st;
    atomic_init(&g->state, 0);
    atomic_init(&g->active, 0);
    atomic_init(&g->crowd, 0);
    for (int i = 0; i < WSLOTS; i++) {
        atomic_init(&g->want[i].busy, 0);
        atomic_init(&g->want[i].key, 0);
    }
    ftk_ec_init(&g->arrived);
    ftk_waitable_init(&g->w, g, gather_destroy);
    atomic_store_explicit(&e->obj, g, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h); /* release: g and its stripes are initialised */
    *out = h;
    return FTK_OK;
}

int ftk_gather_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_GATHER, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    gather *g = obj;
    ftk_waitable_close(&g->w); /* seq_cst: every waiter's condition */
    atomic_fetch_or(&g->state, FTK_GATHER_CLOSED); /* seq_cst: try_op's condition */
    ftk_ec_notify(&g->arrived, FTK_EC_ALL);
    ftk_waitable_unref(&g->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_gather_close(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    atomic_fetch_or(&g->state, FTK_GATHER_CLOSED); /* seq_cst: try_op's condition */
    ftk_ec_notify(&g->arrived, FTK_EC_ALL);
    for (uint64_t i = 0; i <= g->mask; i++) {
        stripe *s = &g->stripes[i];
        s_lock(s);
        s->closed = true; /* inserts check it under this lock */
        s_unlock(s);
    }
    LEAVE();
    return FTK_OK;
}

int ftk_gather_fail(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    atomic_fetch_or(&g->state, FTK_GATHER_FAILED); /* seq_cst: try_op's condition */
    ftk_ec_notify(&g->arrived, FTK_EC_ALL);
    LEAVE();
    return FTK_OK;
}

int ftk_gather_wake(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    ftk_waitable_wake(&g->w); /* seq_cst: every waiter's condition */
    ftk_ec_notify(&g->arrived, FTK_EC_ALL);
    LEAVE();
    return FTK_OK;
}

int ftk_gather_state(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    int st = (int)atomic_load(&g->state);
    LEAVE();
    return st;
}

static int insert_impl(gather *g, int64_t key, uint64_t w) {
    stripe *s = &g->stripes[(uint64_t)key & g->mask];
    s_lock(s);
    int st;
    /* The state bit too, not only the stripe's flag: close sets the bit
     * before it walks the stripes, so a take may already have returned
     * FTK_ECLOSED while this stripe's flag is still clear; an insert that
     * starts after that take must be refused as well (linearizable close).
     * seq_cst, as the takes read it; the line is written by close/fail
     * only, so reading it costs no contention. */
    if (__builtin_expect(s->closed, 0) ||
        __builtin_expect((atomic_load(&g->state) & FTK_GATHER_CLOSED) != 0, 0))
        st = FTK_ECLOSED;
    else if (find(g, s, key) >= 0)
        st = FTK_EBUSY;
    else
        st = table_add(g, s, key, w);
    s_unlock(s);
    if (st == FTK_OK) wake_for(g, key);
    return st;
}

int ftk_gather_insert(ftk_handle_t h, int64_t key, uint64_t w) {
    ftk_set_last_result(0);
    if (w == 0) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    int st = insert_impl(g, key, w);
    LEAVE();
    ftk_set_last_result(st == FTK_OK); /* 1 when the word went in */
    return st;
}

/* Take or get the run of present keys from `first` (at most max, waiting
 * for the first); FTK_OK and *n >= 1, or a failure status. */
static int run_impl(ftk_handle_t h, int64_t first, size_t max, uint64_t *out, int64_t timeout_ns,
                    bool take, size_t *n) {
    *n = 0;
    ENTER_OR_FAIL(h);
    attempt a = {.g = g, .key = first, .take = take, .max = max, .out = out, .n = 0};
    int st = wait_op(g, &a, timeout_ns);
    LEAVE();
    if (st == FTK_OK) *n = a.n;
    return st;
}

static int take_impl(ftk_handle_t h, int64_t key, int64_t timeout_ns, bool take, uint64_t *w) {
    size_t n;
    return run_impl(h, key, 1, w, timeout_ns, take, &n);
}

/* max (>= 1) clamped so that first + max - 1 does not pass INT64_MAX. */
static size_t clamp_run(int64_t first, size_t max) {
    /* INT64_MAX - first, exact in uint64_t for every first (at most 2^64 - 1) */
    uint64_t last = (uint64_t)INT64_MAX - (uint64_t)first;
    return (uint64_t)max - 1 > last ? (size_t)(last + 1) : max;
}

static int64_t run_v(ftk_handle_t h, int64_t first, size_t max, uint64_t *out, int64_t timeout_ns,
                     bool take, size_t *got) {
    size_t n = 0;
    int st = FTK_EINVAL;
    if (out != NULL && max != 0) st = run_impl(h, first, clamp_run(first, max), out, timeout_ns, take, &n);
    if (got != NULL) *got = n;
    return st == FTK_OK ? (int64_t)n : st;
}

int64_t ftk_gather_take_run(ftk_handle_t h, int64_t first, size_t max, uint64_t *out,
                            int64_t timeout_ns, size_t *got) {
    return run_v(h, first, max, out, timeout_ns, true, got);
}

int64_t ftk_gather_get_run(ftk_handle_t h, int64_t first, size_t max, uint64_t *out,
                           int64_t timeout_ns, size_t *got) {
    return run_v(h, first, max, out, timeout_ns, false, got);
}

int ftk_gather_take(ftk_handle_t h, int64_t key, int64_t timeout_ns, uint64_t *w) {
    if (w == NULL) return FTK_EINVAL;
    return take_impl(h, key, timeout_ns, true, w);
}

uint64_t ftk_gather_take_v(ftk_handle_t h, int64_t key, int64_t timeout_ns) {
    uint64_t w = 0;
    int st = take_impl(h, key, timeout_ns, true, &w);
    if (st != FTK_OK) ftk_set_last(st);
    return w;
}

uint64_t ftk_gather_get_v(ftk_handle_t h, int64_t key, int64_t timeout_ns) {
    uint64_t w = 0;
    int st = take_impl(h, key, timeout_ns, false, &w);
    if (st != FTK_OK) ftk_set_last(st);
    return w;
}

int ftk_gather_insert_run(ftk_handle_t h, int64_t first, const uint64_t *w, size_t n,
                         size_t *done) {
    if (done != NULL) *done = 0;
    if (w == NULL && n > 0) return FTK_EINVAL;
    if (n > 0 && clamp_run(first, n) < n) return FTK_EINVAL;
    for (size_t j = 0; j < n; j++)
        if (w[j] == 0) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    int st = FTK_OK;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        int r = insert_impl(g, (int64_t)((uint64_t)first + j), w[j]);
        if (r == FTK_OK)
            k++;
        else if (st == FTK_OK)
            st = r;
    }
    LEAVE();
    if (done != NULL) *done = k;
    return st;
}

int64_t ftk_gather_len(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    size_t n = 0;
    for (uint64_t i = 0; i <= g->mask; i++)
        /* relaxed: each stripe's count was exact at some instant */
        n += atomic_load_explicit(&g->stripes[i].len_pub, memory_order_relaxed);
    LEAVE();
    return (int64_t)n;
}

int ftk_gather_drain(ftk_handle_t h, uint64_t *out, size_t cap, size_t *got) {
    if (got == NULL || (out == NULL && cap > 0)) return FTK_EINVAL;
    *got = 0;
    ENTER_OR_FAIL(h);
    int st = FTK_OK;
    size_t k = 0;
    for (uint64_t i = 0; i <= g->mask; i++) {
        stripe *s = &g->stripes[i];
        s_lock(s);
        if (s->len > cap - k) {
            s_unlock(s);
            st = FTK_EOVERFLOW;
            break;
        }
        if (s->len > 0) {
            size_t n = (size_t)1 << s->lg;
            for (size_t j = 0; j < n; j++)
                if (s->tab[j].w != 0) out[k++] = s->tab[j].w;
            free(s->tab);
            s->tab = NULL;
            s->lg = 0;
            s->len = 0;
            publish_len(s);
        }
        s_unlock(s);
    }
    LEAVE();
    *got = k;
    return st;
}
