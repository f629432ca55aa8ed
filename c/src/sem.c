/*
 * sem.c - FIFO-fair counting semaphore whose waiters are words or threads
 * (contract in ftkit/sem.h).
 *
 * State word. `state` packs the free permits (low 63 bits) and Q (bit 63):
 * "the queue is non-empty". Invariant, kept under the lock: Q is set
 * exactly while the queue holds an entry, and then the count is 0 (state
 * == Q). So the lock-free paths need only the state word:
 *   - try_acquire: CAS count -> count - 1 while Q is clear and count > 0;
 *   - release with Q clear: CAS count -> count + 1 (FTK_EOVERFLOW at max).
 * Both CAS the whole word, so a CAS from a value read before Q was set
 * fails. Everything that sets or clears Q, or changes the state while Q is
 * set, holds the lock: enqueue (count 0 -> Q, a CAS, since a lock-free
 * release may raise the count meanwhile: then the enqueuer takes that
 * permit instead), the hand-over (pops the head; the last pop stores 0),
 * cancel and a thread waiter's withdrawal (the last removal stores 0).
 * While Q is set nothing changes the state without the lock.
 *
 * Why this is FIFO: a permit released while anyone is queued never reaches
 * the count (it goes to the head under the lock), and an arriving acquirer
 * sees Q and queues behind.
 *
 * The queue is a ring buffer of entries (word, thread node) guarded by a
 * per-semaphore spinlock (deque.c's: spin with a pause, then yield). A
 * thread waiter's node lives on its stack: it holds an eventcount (its own
 * futex word, so a release wakes exactly the granted thread) and `granted`.
 * The releaser sets `granted` and notifies while holding the lock, and the
 * waiter takes the lock before it returns (to withdraw, or to confirm the
 * grant), so no releaser touches a node after its owner left.
 *
 * The object is freed through EBR and the blocking layer (block.h):
 * sleepers hold references, freeing wakes them with FTK_ECLOSED.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "internal.h"

#define Q_BIT (UINT64_C(1) << 63)
#define MIN_CAP 8u

typedef struct tnode {
    ftk_ec ec;
    _Atomic int granted;
} tnode;

typedef struct qent {
    uint64_t word; /* words: the caller's word; threads: 0 */
    tnode *t;      /* threads: the waiter's node; words: NULL */
} qent;

typedef struct sem {
    /* read-only after creation */
    ftk_handle_t handle; /* ftk_obj header */
    uint64_t max;
    ftk_waitable w;

    /* the lock-free paths touch only this line */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t state;

    /* the lock and what it guards */
    _Alignas(FTK_CACHE_LINE) _Atomic uint32_t lock;
    qent *buf;
    size_t cap; /* a power of two */
    size_t head;
    size_t len;
} sem;

/* What the calling thread's last try_acquire / acquire_or_enqueue / release
 * returned, and on which semaphore (ftk_sem_last). */
static _Thread_local struct {
    uint64_t handle;
    int64_t result;
} sem_tls;

static inline void note(ftk_handle_t h, int64_t result) {
    sem_tls.handle = ftk_h2u(h);
    sem_tls.result = result;
}

/* ---- lock ------------------------------------------------------------------ */

static inline void sem_lock(sem *s) { ftk_spin_lock(&s->lock); }
static inline void sem_unlock(sem *s) { ftk_spin_unlock(&s->lock); }

/* ---- queue (under the lock) -------------------------------------------------- */

static inline qent *at(sem *s, size_t i) { return &s->buf[(s->head + i) & (s->cap - 1)]; }

static bool resize(sem *s, size_t ncap) {
    qent *nb = malloc(ncap * sizeof(qent));
    if (nb == NULL) return false;
    for (size_t i = 0; i < s->len; i++) nb[i] = *at(s, i);
    free(s->buf);
    s->buf = nb;
    s->cap = ncap;
    s->head = 0;
    return true;
}

/* Room for one more entry. */
static inline bool reserve1(sem *s) {
    if (s->len < s->cap) return true;
    if (s->cap > SIZE_MAX / 4 / sizeof(qent)) return false;
    return resize(s, s->cap * 2);
}

static inline void maybe_shrink(sem *s) {
    /* best effort: a failed shrink keeps the larger buffer */
    if (s->cap > MIN_CAP && s->len <= s->cap / 8) resize(s, s->cap / 2);
}

static void remove_at(sem *s, size_t k) {
    for (size_t i = k; i + 1 < s->len; i++) *at(s, i) = *at(s, i + 1);
    s->len--;
}

/* The queue just became empty: clear Q (count stays 0). */
static inline void queue_emptied(sem *s) {
    /* release: nobody changes the state while Q is set, so a plain store;
     * pairs with the acquire CAS of the next lock-free acquirer */
    atomic_store_explicit(&s->state, 0, memory_order_release);
}

/* ---- state ---------------------------------------------------------------- */

static inline int try_take(sem *s) {
    /* relaxed: the CAS decides */
    uint64_t v = atomic_load_explicit(&s->state, memory_order_relaxed);
    while (v != 0 && !(v & Q_BIT)) {
        /* acquire: pairs with the release that put the permit in */
        if (atomic_compare_exchange_weak_explicit(&s->state, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return FTK_OK;
    }
    return FTK_EBUSY;
}

/* Under the lock, with room for one entry reserved: take a permit (FTK_OK)
 * or queue `e` (FTK_SEM_QUEUED). */
static int take_or_queue(sem *s, qent e) {
    uint64_t v = atomic_load_explicit(&s->state, memory_order_relaxed);
    for (;;) {
        if (v != 0 && !(v & Q_BIT)) {
            /* acquire: as try_take */
            if (atomic_compare_exchange_weak_explicit(&s->state, &v, v - 1, memory_order_acquire,
                                                      memory_order_relaxed))
                return FTK_OK;
            continue;
        }
        if (v == 0) {
            /* count 0, queue empty: set Q unless a lock-free release adds a
             * permit first (then the loop takes it). relaxed: Q publishes
             * nothing the lock does not already order */
            if (!atomic_compare_exchange_weak_explicit(&s->state, &v, Q_BIT, memory_order_relaxed,
                                                       memory_order_relaxed))
                continue;
        }
        *at(s, s->len) = e;
        s->len++;
        return FTK_SEM_QUEUED;
    }
}

/* Release; *handoff receives the granted word (FTK_SEM_HANDOFF). */
static int do_release(sem *s, uint64_t *handoff) {
    *handoff = 0;
    /* relaxed: the CAS decides */
    uint64_t v = atomic_load_explicit(&s->state, memory_order_relaxed);
    while (!(v & Q_BIT)) {
        if (v >= s->max) return FTK_EOVERFLOW;
        /* release: the holder's writes reach the next acquirer */
        if (atomic_compare_exchange_weak_explicit(&s->state, &v, v + 1, memory_order_release,
                                                  memory_order_relaxed))
            return FTK_OK;
    }
    sem_lock(s);
    v = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (!(v & Q_BIT)) {
        /* the queue emptied meanwhile: the lock-free path again */
        sem_unlock(s);
        return do_release(s, handoff);
    }
    qent e = *at(s, 0);
    s->head = (s->head + 1) & (s->cap - 1);
    s->len--;
    if (s->len == 0) queue_emptied(s);
    maybe_shrink(s);
    int st = FTK_OK;
    if (e.t != NULL) {
        /* seq_cst: the eventcount condition (and release: the permit) */
        atomic_store(&e.t->granted, 1);
        ftk_ec_notify(&e.t->ec, 1); /* under the lock: the node is alive */
    } else {
        *handoff = e.word;
        st = FTK_SEM_HANDOFF;
    }
    sem_unlock(s);
    return st;
}

/* ---- API ------------------------------------------------------------------- */

static void sem_destroy(void *p) {
    sem *s = p;
    free(s->buf);
    free(s);
}

int ftk_sem_new(int64_t value, ftk_handle_t *out) {
    if (out == NULL || value < 1) return FTK_EINVAL;
    sem *s = aligned_alloc(FTK_CACHE_LINE, sizeof(sem));
    if (s == NULL) return FTK_ENOMEM;
    memset(s, 0, sizeof *s);
    s->buf = malloc(MIN_CAP * sizeof(qent));
    if (s->buf == NULL) {
        free(s);
        return FTK_ENOMEM;
    }
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_SEM, &e, &h);
    if (st != FTK_OK) {
        free(s->buf);
        free(s);
        return st;
    }
    s->handle = h;
    s->max = (uint64_t)value;
    s->cap = MIN_CAP;
    ftk_waitable_init(&s->w, s, sem_destroy);
    atomic_init(&s->state, (uint64_t)value);
    atomic_init(&s->lock, 0);
    atomic_store_explicit(&e->obj, s, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h);
    *out = h;
    return FTK_OK;
}

/* Wake every thread waiter (free, wake); they re-check and withdraw. */
static void notify_threads(sem *s) {
    sem_lock(s);
    for (size_t i = 0; i < s->len; i++) {
        qent *q = at(s, i);
        if (q->t != NULL) ftk_ec_notify(&q->t->ec, FTK_EC_ALL);
    }
    sem_unlock(s);
}

int ftk_sem_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_SEM, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    sem *s = obj;
    ftk_waitable_close(&s->w);
    notify_threads(s);
    ftk_waitable_unref(&s->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_sem_try_acquire(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) {
        note(h, FTK_EBADHANDLE);
        return FTK_EBADHANDLE;
    }
    int st = try_take(s);
    ftk_obj_exit_t(t);
    note(h, st);
    return st;
}

int ftk_sem_acquire_or_enqueue(ftk_handle_t h, uint64_t word) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) {
        note(h, FTK_EBADHANDLE);
        return FTK_EBADHANDLE;
    }
    int st;
    if (word == 0 || word > (uint64_t)INT64_MAX) {
        st = FTK_EINVAL;
    } else if ((st = try_take(s)) != FTK_OK) {
        sem_lock(s);
        st = reserve1(s) ? take_or_queue(s, (qent){word, NULL}) : FTK_ENOMEM;
        sem_unlock(s);
    }
    ftk_obj_exit_t(t);
    note(h, st);
    return st;
}

int ftk_sem_release(ftk_handle_t h, uint64_t *handoff) {
    if (handoff == NULL) {
        note(h, FTK_EINVAL);
        return FTK_EINVAL;
    }
    *handoff = 0;
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) {
        note(h, FTK_EBADHANDLE);
        return FTK_EBADHANDLE;
    }
    int st = do_release(s, handoff);
    ftk_obj_exit_t(t);
    note(h, st == FTK_SEM_HANDOFF ? (int64_t)*handoff : st);
    return st;
}

int64_t ftk_sem_release_word(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) {
        note(h, FTK_EBADHANDLE);
        return FTK_EBADHANDLE;
    }
    uint64_t w;
    int st = do_release(s, &w);
    ftk_obj_exit_t(t);
    int64_t r = st == FTK_SEM_HANDOFF ? (int64_t)w : st; /* words are 1..INT64_MAX */
    note(h, r);
    return r;
}

int64_t ftk_sem_last(ftk_handle_t h) {
    /* no liveness check: the record of a call on a since-freed semaphore
     * stays readable; NULL and other kinds are refused */
    if (h == FTK_NULL_HANDLE || FTK_HANDLE_KIND(h) != FTK_KIND_SEM) return FTK_EBADHANDLE;
    if (sem_tls.handle != ftk_h2u(h)) return FTK_ENOTFOUND;
    return sem_tls.result;
}

int ftk_sem_cancel(ftk_handle_t h, uint64_t word) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    int st = FTK_ENOTFOUND;
    if (word != 0) {
        sem_lock(s);
        for (size_t i = 0; i < s->len; i++) {
            qent *q = at(s, i);
            if (q->t == NULL && q->word == word) {
                remove_at(s, i);
                if (s->len == 0) queue_emptied(s);
                maybe_shrink(s);
                st = FTK_OK;
                break;
            }
        }
        sem_unlock(s);
    }
    ftk_obj_exit_t(t);
    return st;
}

static int node_try(void *arg) {
    tnode *n = arg;
    /* seq_cst: the eventcount condition; pairs with the granting store */
    return atomic_load(&n->granted) ? FTK_OK : FTK_EBUSY;
}

int ftk_sem_acquire_timed(ftk_handle_t h, int64_t timeout_ns) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    int st = try_take(s);
    if (st == FTK_OK || timeout_ns == 0) {
        ftk_obj_exit_t(t);
        return st;
    }
    tnode n;
    ftk_ec_init(&n.ec);
    atomic_init(&n.granted, 0);
    /* Begin the wait (the wake generation it answers to) before the node
     * becomes visible in the queue: a ftk_sem_wake that comes once
     * ftk_sem_waiters counts this call must end it (a wake between the
     * enqueue and the sleep was lost when the generation was read at the
     * first sleep; found by tests/fuzz/fuzz_mods.c). */
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &s->w, timeout_ns);
    sem_lock(s);
    st = reserve1(s) ? take_or_queue(s, (qent){0, &n}) : FTK_ENOMEM;
    sem_unlock(s);
    if (st != FTK_SEM_QUEUED) {
        ftk_obj_exit_t(t);
        return st;
    }
    st = ftk_block_wait(&s->w, &c, &n.ec, node_try, &n, FTK_EBUSY);
    /* Withdraw, or confirm the grant; either way under the lock, so no
     * releaser is still touching the node when we return. */
    sem_lock(s);
    if (atomic_load(&n.granted)) {
        st = FTK_OK;
    } else {
        for (size_t i = 0; i < s->len; i++) {
            if (at(s, i)->t == &n) {
                remove_at(s, i);
                if (s->len == 0) queue_emptied(s);
                maybe_shrink(s);
                break;
            }
        }
    }
    sem_unlock(s);
    ftk_obj_exit_t(t);
    return st;
}

int64_t ftk_sem_value(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    uint64_t v = atomic_load(&s->state);
    ftk_obj_exit_t(t);
    return (v & Q_BIT) ? 0 : (int64_t)v;
}

int64_t ftk_sem_waiters(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    sem_lock(s);
    int64_t n = (int64_t)s->len;
    sem_unlock(s);
    ftk_obj_exit_t(t);
    return n;
}

int64_t ftk_sem_initial(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    int64_t v = (int64_t)s->max;
    ftk_obj_exit_t(t);
    return v;
}

int ftk_sem_wake(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    sem *s = ftk_obj_enter_t(t, h, FTK_KIND_SEM);
    if (s == NULL) return FTK_EBADHANDLE;
    ftk_waitable_wake(&s->w);
    notify_threads(s);
    ftk_obj_exit_t(t);
    return FTK_OK;
}
