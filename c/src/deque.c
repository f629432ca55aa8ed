/*
 * deque.c - double-ended queue of 64-bit words (contract in ftkit/deque.h).
 *
 * Layout. A ring buffer of `cap` words (a power of two): the front word is
 * buf[head], the word at index i is buf[(head + i) & (cap - 1)]. It doubles
 * when a push finds it full and halves when a pop leaves it at most 1/8
 * full (never below MIN_CAP), so memory follows the contents.
 *
 * Why a lock. Every operation must be linearizable, including the ones a
 * lock-free deque cannot offer cheaply (index get/set, rotate(n), remove of
 * a word in the middle, a consistent snapshot). At FFI speeds the critical
 * sections are tiny (a push or pop is a handful of instructions), so one
 * short spinlock per deque is both simple and fast: measured in C on this
 * project's 2-core machine, a push+pop pair costs ~20 ns on one thread, and
 * the lock is held far shorter than the ~100 ns a binding spends crossing the
 * FFI, so two threads rarely meet it (see docs/design.md, "ConcurrentDeque").
 * Waiters spin with ftk_cpu_relax, then yield the CPU, so a holder that was
 * preempted gets to run. Everything that reads or writes the buffer holds the
 * lock, so an old buffer can be freed as soon as it is replaced: no reader
 * can still be in it.
 *
 * `len_pub` mirrors the size for the lock-free size queries (stored under
 * the lock, loaded without it: an atomic value that was exact at an instant).
 *
 * The deque itself (not its buffers) is freed through EBR: every call runs
 * inside an EBR section (ftk_obj_enter), so a call racing with
 * ftk_deque_free (a caller bug) still works on valid memory. A pop sleeping
 * in the OS leaves its section and holds a sleeper reference instead: the
 * blocking layer (block.h) does that, the wake generation and the wait.
 *
 * Blocking pops: one eventcount (wait.h), not_empty, and ftk_block_wait with
 * the locked pop as its attempt. A waiter registers (prepare), then retries
 * its pop under the lock; a pusher reads the waiter count inside its
 * critical section. The lock orders the two: if the waiter's retry comes
 * first, the waiter's registration happens-before the pusher's read, which
 * therefore sees it and wakes it after unlocking; if the pusher comes first,
 * the retry finds the word. (close sets `closed` under the lock and notifies
 * after unlocking: the same argument.) So no wake-up is lost, and a pusher
 * with nobody waiting pays one load of a line only waiters write.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "internal.h"
#include "wait.h"

#define MIN_CAP 16u
/* Spins (with a pause each) before the lock waits by yielding the CPU. */
/* Checks of the size (no lock) before a blocking pop sleeps. */
#define SPIN_BEFORE_SLEEP 64
#define UNBOUNDED ((size_t)FTK_DEQUE_UNBOUNDED)

_Static_assert(sizeof(size_t) == 8, "libftkit deques need a 64-bit size_t");

typedef struct deque {
    /* read-only after creation */
    ftk_handle_t handle;
    size_t maxlen; /* UNBOUNDED or the bound */

    /* the lock and everything it guards share one line: a holder misses once */
    _Alignas(FTK_CACHE_LINE) _Atomic uint32_t lock;
    bool closed;   /* guarded by the lock */
    uint64_t *buf; /* guarded by the lock */
    size_t cap;    /* guarded by the lock; a power of two */
    size_t head;   /* guarded by the lock */
    size_t len;    /* guarded by the lock */

    /* read without the lock by the size queries */
    _Alignas(FTK_CACHE_LINE) _Atomic size_t len_pub;

    /* written only by waiters; pushers read `waiters` */
    _Alignas(FTK_CACHE_LINE) ftk_ec not_empty;

    /* slow paths only: sleeper references, freed, wake generation */
    _Alignas(FTK_CACHE_LINE) ftk_waitable w;
} deque;

_Static_assert(offsetof(deque, handle) == 0, "the handle comes first (ftk_obj, internal.h)");

/* Per-thread record of the last pop (ftk_deque_last_popped,
 * ftk_deque_unpop_last) and the last evicted word (ftk_deque_evicted_v). */
static _Thread_local struct {
    uint64_t handle;
    size_t n;
    uint64_t w;
    int side;
    int runs;     /* 1: the words are in a pop_runs_v array (`pairs` pairs) */
    size_t pairs;
    uint64_t ev_handle;
    uint64_t evicted;
} dq_tls;

/* Every public pop starts with note_pop_begin (so a pop that fails, even on
 * a bad handle, leaves no stale record) and ends with note_pop. */
static inline void note_pop_begin(ftk_handle_t h, int side) {
    dq_tls.handle = ftk_h2u(h);
    dq_tls.n = 0;
    dq_tls.side = side;
    dq_tls.runs = 0;
}

static inline void note_pop(size_t n, uint64_t w) {
    dq_tls.n = n;
    dq_tls.w = w;
}

/* ---- the lock ---------------------------------------------------------- */

static inline void dq_lock(deque *d) { ftk_spin_lock(&d->lock); }
static inline void dq_unlock(deque *d) { ftk_spin_unlock(&d->lock); }

/* ---- ring buffer (all under the lock) ------------------------------------ */

static inline size_t slot(const deque *d, size_t i) { return (d->head + i) & (d->cap - 1); }

static inline void publish_len(deque *d) {
    /* relaxed: a size that was exact while we held the lock */
    atomic_store_explicit(&d->len_pub, d->len, memory_order_relaxed);
}

/* Move the contents into a new buffer of new_cap >= len words, front at 0. */
static bool resize(deque *d, size_t new_cap) {
    uint64_t *nb = malloc(new_cap * sizeof(uint64_t));
    if (nb == NULL) return false;
    size_t first = d->cap - d->head; /* words from head to the buffer's end */
    if (first >= d->len) {
        memcpy(nb, d->buf + d->head, d->len * sizeof(uint64_t));
    } else {
        memcpy(nb, d->buf + d->head, first * sizeof(uint64_t));
        memcpy(nb + first, d->buf, (d->len - first) * sizeof(uint64_t));
    }
    free(d->buf); /* nobody else can be reading it: we hold the lock */
    d->buf = nb;
    d->cap = new_cap;
    d->head = 0;
    return true;
}

/* Room for `more` further words (no eviction considered). */
static bool reserve(deque *d, size_t more) {
    if (more <= d->cap - d->len) return true;
    if (more > SIZE_MAX / 4 / sizeof(uint64_t)) return false;
    size_t c = d->cap;
    while (c < d->len + more) {
        if (c > SIZE_MAX / 2 / sizeof(uint64_t)) return false;
        c *= 2;
    }
    return resize(d, c);
}

static inline void maybe_shrink(deque *d) {
    /* best effort: a failed shrink keeps the larger buffer */
    if (d->cap > MIN_CAP && d->len <= d->cap / 8) resize(d, d->cap / 2);
}

static inline uint64_t take_front(deque *d) {
    uint64_t w = d->buf[d->head];
    d->head = (d->head + 1) & (d->cap - 1);
    d->len--;
    return w;
}

static inline uint64_t take_back(deque *d) {
    d->len--;
    return d->buf[slot(d, d->len)];
}

static inline void put_back(deque *d, uint64_t w) {
    d->buf[slot(d, d->len)] = w;
    d->len++;
}

static inline void put_front(deque *d, uint64_t w) {
    d->head = (d->head - 1) & (d->cap - 1);
    d->buf[d->head] = w;
    d->len++;
}

/* Push one word with eviction; the caller reserved room unless full.
 * Returns true if *ev received an evicted word. */
static inline bool push_one(deque *d, int side, uint64_t w, uint64_t *ev) {
    bool evicted = false;
    if (d->len == d->maxlen) {
        if (d->maxlen == 0) { /* keeps nothing: the word itself goes */
            *ev = w;
            return true;
        }
        *ev = side == FTK_DEQUE_BACK ? take_front(d) : take_back(d);
        evicted = true;
    }
    if (side == FTK_DEQUE_BACK)
        put_back(d, w);
    else
        put_front(d, w);
    return evicted;
}

/* Normalise a Python-style index; false if out of range. */
static inline bool norm_index(const deque *d, int64_t index, size_t *i) {
    if (index < 0) {
        /* -index in uint64 avoids overflow at INT64_MIN */
        uint64_t back = (uint64_t)0 - (uint64_t)index;
        if (back > d->len) return false;
        *i = d->len - (size_t)back;
        return true;
    }
    if ((uint64_t)index >= d->len) return false;
    *i = (size_t)index;
    return true;
}

/* Remove the word at i, moving the shorter side. */
static void remove_index(deque *d, size_t i) {
    if (i < d->len / 2) {
        for (size_t j = i; j > 0; j--) d->buf[slot(d, j)] = d->buf[slot(d, j - 1)];
        d->head = (d->head + 1) & (d->cap - 1);
    } else {
        for (size_t j = i; j + 1 < d->len; j++) d->buf[slot(d, j)] = d->buf[slot(d, j + 1)];
    }
    d->len--;
}

/* ---- lifetime ------------------------------------------------------------ */

static void deque_destroy(void *p) {
    deque *d = p;
    free(d->buf);
    free(d);
}

#define ENTER_OR_FAIL(h)                                  \
    deque *d = ftk_obj_enter((h), FTK_KIND_DEQUE);        \
    if (d == NULL) return FTK_EBADHANDLE

static inline bool bad_side(int side) { return side != FTK_DEQUE_BACK && side != FTK_DEQUE_FRONT; }

int ftk_deque_new(size_t maxlen, ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    deque *d = aligned_alloc(FTK_CACHE_LINE, sizeof(deque));
    if (d == NULL) return FTK_ENOMEM;
    memset(d, 0, sizeof *d);
    d->buf = malloc(MIN_CAP * sizeof(uint64_t));
    if (d->buf == NULL) {
        free(d);
        return FTK_ENOMEM;
    }
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_DEQUE, &e, &h);
    if (st != FTK_OK) {
        free(d->buf);
        free(d);
        return st;
    }
    d->handle = h;
    d->maxlen = maxlen;
    d->cap = MIN_CAP;
    atomic_init(&d->lock, 0);
    atomic_init(&d->len_pub, 0);
    ftk_ec_init(&d->not_empty);
    ftk_waitable_init(&d->w, d, deque_destroy);
    atomic_store_explicit(&e->obj, d, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h); /* release: d is initialised */
    *out = h;
    return FTK_OK;
}

/* Pops' attempts see `closed` under the lock (see the file comment), so
 * notifying after the unlock wakes every sleeper into FTK_ECLOSED. */
static void close_impl(deque *d) {
    dq_lock(d);
    d->closed = true;
    dq_unlock(d);
    ftk_ec_notify(&d->not_empty, FTK_EC_ALL);
}

int ftk_deque_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_DEQUE, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    deque *d = obj;
    ftk_waitable_close(&d->w); /* seq_cst: every waiter's condition */
    close_impl(d);
    ftk_waitable_unref(&d->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_deque_close(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    close_impl(d);
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_deque_maxlen(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    *out = d->maxlen;
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_deque_size(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    /* relaxed: see publish_len */
    *out = atomic_load_explicit(&d->len_pub, memory_order_relaxed);
    ftk_ebr_exit();
    return FTK_OK;
}

int64_t ftk_deque_len(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    /* relaxed: see publish_len */
    size_t n = atomic_load_explicit(&d->len_pub, memory_order_relaxed);
    ftk_ebr_exit();
    return (int64_t)n;
}

/* ---- pushes ---------------------------------------------------------------- */

/* After a push: wake a sleeping pop if there is one. `waiters` was read
 * inside the critical section (see the file comment). */
static inline void wake_poppers(deque *d, uint32_t waiters, size_t n) {
    if (waiters != 0) ftk_ec_notify_slow(&d->not_empty, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
}

static inline uint32_t read_waiters(deque *d) {
    /* relaxed: ordered after a waiter's registration by the lock */
    return atomic_load_explicit(&d->not_empty.waiters, memory_order_relaxed);
}

static int push_impl(deque *d, int side, uint64_t w, uint64_t *evicted) {
    dq_lock(d);
    if (d->closed) {
        dq_unlock(d);
        return FTK_ECLOSED;
    }
    if (d->len != d->maxlen && !reserve(d, 1)) {
        dq_unlock(d);
        return FTK_ENOMEM;
    }
    uint64_t ev = 0;
    bool did = push_one(d, side, w, &ev);
    publish_len(d);
    uint32_t waiters = read_waiters(d);
    dq_unlock(d);
    wake_poppers(d, waiters, 1);
    if (did) {
        dq_tls.ev_handle = ftk_h2u(d->handle);
        dq_tls.evicted = ev;
        if (evicted) *evicted = ev;
        return FTK_DEQUE_EVICTED;
    }
    return FTK_OK;
}

int ftk_deque_push(ftk_handle_t h, int side, uint64_t w, uint64_t *evicted) {
    if (bad_side(side)) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    int st = push_impl(d, side, w, evicted);
    ftk_ebr_exit();
    return st;
}

int ftk_deque_push_back(ftk_handle_t h, uint64_t w) {
    ENTER_OR_FAIL(h);
    int st = push_impl(d, FTK_DEQUE_BACK, w, NULL);
    ftk_ebr_exit();
    return st;
}

int ftk_deque_push_front(ftk_handle_t h, uint64_t w) {
    ENTER_OR_FAIL(h);
    int st = push_impl(d, FTK_DEQUE_FRONT, w, NULL);
    ftk_ebr_exit();
    return st;
}

uint64_t ftk_deque_evicted_v(ftk_handle_t h) {
    if (ftk_entry_get(h, FTK_KIND_DEQUE) == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    if (dq_tls.ev_handle != ftk_h2u(h)) {
        ftk_set_last(FTK_ENOTFOUND);
        return 0;
    }
    if (dq_tls.evicted == 0) ftk_set_last(FTK_OK);
    return dq_tls.evicted;
}

int ftk_deque_push_many(ftk_handle_t h, int side, const uint64_t *w, size_t n,
                        uint64_t *evicted, size_t *n_evicted) {
    if (n_evicted) *n_evicted = 0;
    if (bad_side(side) || (w == NULL && n > 0)) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    dq_lock(d);
    if (d->closed) {
        dq_unlock(d);
        ftk_ebr_exit();
        return FTK_ECLOSED;
    }
    /* Room for the final contents first, so nothing fails half-way. */
    size_t room = n > d->maxlen - d->len ? d->maxlen - d->len : n; /* UNBOUNDED: n */
    if (!reserve(d, room)) {
        dq_unlock(d);
        ftk_ebr_exit();
        return FTK_ENOMEM;
    }
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t ev;
        if (push_one(d, side, w[i], &ev)) {
            if (evicted) evicted[ne] = ev;
            ne++;
        }
    }
    publish_len(d);
    uint32_t waiters = read_waiters(d);
    dq_unlock(d);
    wake_poppers(d, waiters, n);
    ftk_ebr_exit();
    if (n_evicted) *n_evicted = ne;
    return ne ? FTK_DEQUE_EVICTED : FTK_OK;
}

int ftk_deque_push_range(ftk_handle_t h, int side, uint64_t first, size_t n,
                         uint64_t *evicted, size_t *n_evicted) {
    if (n_evicted) *n_evicted = 0;
    if (bad_side(side) || n > UINT64_MAX - first) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    dq_lock(d);
    if (d->closed) {
        dq_unlock(d);
        ftk_ebr_exit();
        return FTK_ECLOSED;
    }
    size_t room = n > d->maxlen - d->len ? d->maxlen - d->len : n; /* UNBOUNDED: n */
    if (!reserve(d, room)) {
        dq_unlock(d);
        ftk_ebr_exit();
        return FTK_ENOMEM;
    }
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t ev;
        if (push_one(d, side, first + i, &ev)) {
            if (evicted) evicted[ne] = ev;
            ne++;
        }
    }
    publish_len(d);
    uint32_t waiters = read_waiters(d);
    dq_unlock(d);
    wake_poppers(d, waiters, n);
    ftk_ebr_exit();
    if (n_evicted) *n_evicted = ne;
    return ne ? FTK_DEQUE_EVICTED : FTK_OK;
}

/* ---- pops ------------------------------------------------------------------ */

/* Pop up to max words without waiting. FTK_OK with *got >= 1, or FTK_EEMPTY
 * / FTK_ECLOSED with *got = 0. */
static int pop_some(deque *d, int side, uint64_t *out, size_t max, size_t *got) {
    dq_lock(d);
    if (d->closed) {
        dq_unlock(d);
        *got = 0;
        return FTK_ECLOSED;
    }
    size_t k = d->len < max ? d->len : max;
    if (side == FTK_DEQUE_BACK)
        for (size_t i = 0; i < k; i++) out[i] = take_back(d);
    else
        for (size_t i = 0; i < k; i++) out[i] = take_front(d);
    if (k) {
        maybe_shrink(d);
        publish_len(d);
    }
    dq_unlock(d);
    *got = k;
    return k ? FTK_OK : FTK_EEMPTY;
}

typedef struct pop_arg {
    deque *d;
    int side;
    uint64_t *out;
    size_t max;
    size_t *got;
} pop_arg;

static int pop_try(void *arg) {
    pop_arg *a = arg;
    return pop_some(a->d, a->side, a->out, a->max, a->got);
}

/* pop_some, waiting up to timeout_ns for a word (the blocking layer,
 * block.h). Called inside an EBR section; leaves it only while asleep. */
static int pop_wait(deque *d, int side, uint64_t *out, size_t max, size_t *got,
                    int64_t timeout_ns) {
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &d->w, timeout_ns);
    int st = pop_some(d, side, out, max, got);
    if (st != FTK_EEMPTY || timeout_ns == 0) return st;
    /* Spin on the lock-free size, not on the lock (pushers need it). */
    for (int i = 0; i < SPIN_BEFORE_SLEEP; i++) {
        ftk_cpu_relax();
        /* relaxed: a hint; the pop below decides under the lock */
        if (atomic_load_explicit(&d->len_pub, memory_order_relaxed) != 0) {
            st = pop_some(d, side, out, max, got);
            if (st != FTK_EEMPTY) return st;
        }
    }
    c.spins = 0; /* spun above: sleep after the next attempt */
    pop_arg a = {d, side, out, max, got};
    return ftk_block_wait(&d->w, &c, &d->not_empty, pop_try, &a, FTK_EEMPTY);
}

int ftk_deque_pop(ftk_handle_t h, int side, uint64_t *w, int64_t timeout_ns) {
    note_pop_begin(h, side);
    if (w == NULL || bad_side(side)) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    size_t got = 0;
    int st = pop_wait(d, side, w, 1, &got, timeout_ns);
    note_pop(got, got ? *w : 0);
    ftk_ebr_exit();
    return st;
}

static inline uint64_t word_or_status(int st, uint64_t w) {
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK); /* a genuine 0 word: tell it apart */
    return w;
}

static inline uint64_t pop1_v(ftk_handle_t h, int side) {
    note_pop_begin(h, side);
    deque *d = ftk_obj_enter(h, FTK_KIND_DEQUE);
    if (d == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    uint64_t w = 0;
    size_t got;
    int st = pop_some(d, side, &w, 1, &got);
    note_pop(got, w);
    ftk_ebr_exit();
    return word_or_status(st, w);
}

uint64_t ftk_deque_pop_back_v(ftk_handle_t h) { return pop1_v(h, FTK_DEQUE_BACK); }

uint64_t ftk_deque_pop_front_v(ftk_handle_t h) { return pop1_v(h, FTK_DEQUE_FRONT); }

uint64_t ftk_deque_pop_v(ftk_handle_t h, int side, int64_t timeout_ns) {
    uint64_t w = 0;
    int st = ftk_deque_pop(h, side, &w, timeout_ns);
    return word_or_status(st, w);
}

int ftk_deque_pop_many(ftk_handle_t h, int side, uint64_t *out, size_t max, size_t *popped,
                       int64_t timeout_ns) {
    note_pop_begin(h, side);
    if (popped == NULL || (out == NULL && max > 0) || bad_side(side)) return FTK_EINVAL;
    *popped = 0;
    ENTER_OR_FAIL(h);
    if (max == 0) {
        ftk_ebr_exit();
        return FTK_OK;
    }
    size_t got = 0;
    int st = pop_wait(d, side, out, max, &got, timeout_ns);
    note_pop(got, got ? out[0] : 0);
    ftk_ebr_exit();
    *popped = got;
    return st;
}

size_t ftk_deque_pop_many_v(ftk_handle_t h, int side, uint64_t *out, size_t max) {
    note_pop_begin(h, side);
    if (ftk_entry_get(h, FTK_KIND_DEQUE) == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    if (out == NULL || max == 0 || bad_side(side)) {
        ftk_set_last(FTK_EINVAL);
        return 0;
    }
    size_t got = 0;
    int st = ftk_deque_pop_many(h, side, out, max, &got, 0);
    if (st != FTK_OK) ftk_set_last(st);
    return got;
}

/* Encode k words (in pop order) as (first, signed count) pairs into runs;
 * the words may sit in runs[max..max+k) (see ftk_deque_pop_runs_v). */
static size_t encode_runs(const uint64_t *w, size_t k, uint64_t *runs) {
    size_t j = 0, t = 0;
    while (t < k) {
        uint64_t a = w[t];
        size_t c = 1;
        int dir = 0;
        if (t + 1 < k) dir = w[t + 1] == a + 1 ? 1 : (w[t + 1] == a - 1 ? -1 : 0);
        if (dir > 0)
            while (t + c < k && w[t + c] == a + c) c++;
        else if (dir < 0)
            while (t + c < k && w[t + c] == a - c) c++;
        runs[2 * j] = a;
        runs[2 * j + 1] = dir < 0 ? (uint64_t)0 - (uint64_t)c : (uint64_t)c;
        j++;
        t += c;
    }
    return j;
}

size_t ftk_deque_pop_runs_v(ftk_handle_t h, int side, uint64_t *runs, size_t max_items) {
    note_pop_begin(h, side);
    if (ftk_entry_get(h, FTK_KIND_DEQUE) == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    if (runs == NULL || max_items == 0 || bad_side(side) || max_items > SIZE_MAX / 2) {
        ftk_set_last(FTK_EINVAL);
        return 0;
    }
    size_t got = 0;
    /* pop into the upper half; encoding forward never overtakes the reading
     * (pair j is written at 2j, 2j+1 < max_items + j + 1) */
    int st = ftk_deque_pop_many(h, side, runs + max_items, max_items, &got, 0);
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    size_t pairs = encode_runs(runs + max_items, got, runs);
    dq_tls.runs = got > 1;
    dq_tls.pairs = pairs;
    return pairs;
}

int ftk_deque_last_popped(ftk_handle_t h, uint64_t *w, size_t *n) {
    if (n == NULL) return FTK_EINVAL;
    *n = 0;
    if (ftk_entry_get(h, FTK_KIND_DEQUE) == NULL) return FTK_EBADHANDLE;
    if (dq_tls.handle == ftk_h2u(h)) {
        *n = dq_tls.n;
        if (w) *w = dq_tls.w;
    }
    return FTK_OK;
}

int ftk_deque_unpop_last(ftk_handle_t h, const uint64_t *out) {
    ENTER_OR_FAIL(h);
    size_t n = dq_tls.handle == ftk_h2u(h) ? dq_tls.n : 0;
    if (n == 0) {
        ftk_ebr_exit();
        return FTK_OK; /* nothing to give back (or given back already) */
    }
    uint64_t one = dq_tls.w;
    /* one word: the record's (a pop_many of one recorded the same word) */
    const uint64_t *w = n == 1 ? &one : out;
    int runs = n > 1 && dq_tls.runs;
    size_t pairs = dq_tls.pairs;
    if (w == NULL) {
        ftk_ebr_exit();
        return FTK_EINVAL;
    }
    int side = dq_tls.side;
    dq_lock(d);
    int st = FTK_OK;
    if (d->closed)
        st = FTK_ECLOSED;
    else if (d->maxlen != UNBOUNDED && n > d->maxlen - d->len)
        st = FTK_EFULL; /* no room left: the caller drops them, like evictions */
    else if (!reserve(d, n))
        st = FTK_ENOMEM;
    if (st != FTK_OK) {
        dq_unlock(d);
        ftk_ebr_exit();
        return st; /* the record stays for ftk_deque_last_popped */
    }
    /* the pop took the first word first: put the last one back first */
    if (runs) {
        for (size_t j = pairs; j-- > 0;) {
            uint64_t a = w[2 * j], c = w[2 * j + 1];
            int64_t step = (int64_t)c < 0 ? -1 : 1;
            uint64_t len = (int64_t)c < 0 ? (uint64_t)0 - c : c;
            for (uint64_t t = len; t-- > 0;) {
                uint64_t x = a + (uint64_t)((int64_t)t * step);
                if (side == FTK_DEQUE_BACK)
                    put_back(d, x);
                else
                    put_front(d, x);
            }
        }
    } else {
        for (size_t i = n; i-- > 0;) {
            if (side == FTK_DEQUE_BACK)
                put_back(d, w[i]);
            else
                put_front(d, w[i]);
        }
    }
    publish_len(d);
    uint32_t waiters = read_waiters(d);
    dq_unlock(d);
    wake_poppers(d, waiters, n);
    dq_tls.n = 0; /* a second call gives nothing back */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_deque_wake(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    ftk_waitable_wake(&d->w); /* seq_cst: every waiter's condition */
    ftk_ec_notify(&d->not_empty, FTK_EC_ALL);
    ftk_ebr_exit();
    return FTK_OK;
}

/* ---- random access ---------------------------------------------------------- */

/* Lock an open deque inside an EBR section; FTK_OK or a status to return. */
#define LOCK_OPEN_OR_FAIL(h)   \
    ENTER_OR_FAIL(h);          \
    dq_lock(d);                \
    if (d->closed) {           \
        dq_unlock(d);          \
        ftk_ebr_exit();        \
        return FTK_ECLOSED;    \
    }

#define UNLOCK_RETURN(st) \
    do {                  \
        dq_unlock(d);     \
        ftk_ebr_exit();   \
        return (st);      \
    } while (0)

int ftk_deque_get(ftk_handle_t h, int64_t index, uint64_t *w) {
    if (w == NULL) return FTK_EINVAL;
    LOCK_OPEN_OR_FAIL(h);
    size_t i;
    if (!norm_index(d, index, &i)) UNLOCK_RETURN(FTK_ENOTFOUND);
    *w = d->buf[slot(d, i)];
    UNLOCK_RETURN(FTK_OK);
}

uint64_t ftk_deque_get_v(ftk_handle_t h, int64_t index) {
    uint64_t w = 0;
    int st = ftk_deque_get(h, index, &w);
    return word_or_status(st, w);
}

int ftk_deque_set(ftk_handle_t h, int64_t index, uint64_t w, uint64_t *old) {
    LOCK_OPEN_OR_FAIL(h);
    size_t i;
    if (!norm_index(d, index, &i)) UNLOCK_RETURN(FTK_ENOTFOUND);
    size_t s = slot(d, i);
    if (old) *old = d->buf[s];
    d->buf[s] = w;
    UNLOCK_RETURN(FTK_OK);
}

int ftk_deque_insert(ftk_handle_t h, int64_t index, uint64_t w) {
    LOCK_OPEN_OR_FAIL(h);
    if (d->len == d->maxlen) UNLOCK_RETURN(FTK_EFULL);
    if (!reserve(d, 1)) UNLOCK_RETURN(FTK_ENOMEM);
    size_t i;
    if (index < 0) {
        uint64_t back = (uint64_t)0 - (uint64_t)index;
        i = back >= d->len ? 0 : d->len - (size_t)back;
    } else {
        i = (uint64_t)index > d->len ? d->len : (size_t)index;
    }
    if (i < d->len / 2) {
        /* open a gap by moving the first i words one step left */
        d->head = (d->head - 1) & (d->cap - 1);
        for (size_t j = 0; j < i; j++) d->buf[slot(d, j)] = d->buf[slot(d, j + 1)];
    } else {
        for (size_t j = d->len; j > i; j--) d->buf[slot(d, j)] = d->buf[slot(d, j - 1)];
    }
    d->buf[slot(d, i)] = w;
    d->len++;
    publish_len(d);
    uint32_t waiters = read_waiters(d);
    dq_unlock(d);
    wake_poppers(d, waiters, 1);
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_deque_remove_at(ftk_handle_t h, int64_t index, uint64_t *w) {
    LOCK_OPEN_OR_FAIL(h);
    size_t i;
    if (!norm_index(d, index, &i)) UNLOCK_RETURN(FTK_ENOTFOUND);
    if (w) *w = d->buf[slot(d, i)];
    remove_index(d, i);
    maybe_shrink(d);
    publish_len(d);
    UNLOCK_RETURN(FTK_OK);
}

int ftk_deque_remove_word(ftk_handle_t h, uint64_t w) {
    LOCK_OPEN_OR_FAIL(h);
    for (size_t i = 0; i < d->len; i++) {
        if (d->buf[slot(d, i)] == w) {
            remove_index(d, i);
            maybe_shrink(d);
            publish_len(d);
            UNLOCK_RETURN(FTK_OK);
        }
    }
    UNLOCK_RETURN(FTK_ENOTFOUND);
}

int ftk_deque_rotate(ftk_handle_t h, int64_t n) {
    LOCK_OPEN_OR_FAIL(h);
    if (d->len > 1) {
        int64_t len = (int64_t)d->len;
        int64_t r = n % len; /* in (-len, len) */
        if (r < 0) r += len;
        size_t k = (size_t)r; /* steps to the right */
        if (k <= d->len / 2) {
            /* the back word moves to the front, k times (works when full:
             * the new front slot is the old back slot) */
            for (size_t j = 0; j < k; j++) {
                uint64_t w = d->buf[slot(d, d->len - 1)];
                d->head = (d->head - 1) & (d->cap - 1);
                d->buf[d->head] = w;
            }
        } else {
            for (size_t j = 0; j < d->len - k; j++) {
                uint64_t w = d->buf[d->head];
                d->buf[slot(d, d->len)] = w; /* the slot after the back */
                d->head = (d->head + 1) & (d->cap - 1);
            }
        }
    }
    UNLOCK_RETURN(FTK_OK);
}

int ftk_deque_reverse(ftk_handle_t h) {
    LOCK_OPEN_OR_FAIL(h);
    for (size_t i = 0, j = d->len; i + 1 < j; i++, j--) {
        size_t a = slot(d, i), b = slot(d, j - 1);
        uint64_t t = d->buf[a];
        d->buf[a] = d->buf[b];
        d->buf[b] = t;
    }
    UNLOCK_RETURN(FTK_OK);
}

/* Copy the words front to back into out (the caller checked the size). */
static void copy_out(const deque *d, uint64_t *out) {
    if (d->len == 0) return; /* out may be NULL then */
    size_t first = d->cap - d->head;
    if (first >= d->len) {
        memcpy(out, d->buf + d->head, d->len * sizeof(uint64_t));
    } else {
        memcpy(out, d->buf + d->head, first * sizeof(uint64_t));
        memcpy(out + first, d->buf, (d->len - first) * sizeof(uint64_t));
    }
}

int ftk_deque_snapshot(ftk_handle_t h, uint64_t *out, size_t max, size_t *n) {
    if (n == NULL || (out == NULL && max > 0)) return FTK_EINVAL;
    *n = 0;
    LOCK_OPEN_OR_FAIL(h);
    *n = d->len;
    if (d->len > max) UNLOCK_RETURN(FTK_EOVERFLOW);
    copy_out(d, out);
    UNLOCK_RETURN(FTK_OK);
}

int ftk_deque_clear(ftk_handle_t h, uint64_t *out, size_t max, size_t *n) {
    if (n == NULL) return FTK_EINVAL;
    *n = 0;
    ENTER_OR_FAIL(h);
    dq_lock(d); /* also after close: that is how a binding empties it */
    *n = d->len;
    if (out != NULL) {
        if (d->len > max) UNLOCK_RETURN(FTK_EOVERFLOW);
        copy_out(d, out);
    }
    d->len = 0;
    d->head = 0;
    if (d->cap > MIN_CAP) {
        uint64_t *nb = malloc(MIN_CAP * sizeof(uint64_t));
        if (nb != NULL) { /* else keep the big buffer: still correct */
            free(d->buf);
            d->buf = nb;
            d->cap = MIN_CAP;
        }
    }
    publish_len(d);
    UNLOCK_RETURN(FTK_OK);
}
