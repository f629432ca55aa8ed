/*
 * batch.c - batch executor (contract in ftkit/batch.h).
 *
 * State. One 64-bit word:
 *
 *   bits  0..26  next index to claim in the current batch
 *   bit  27      REFILLING: a thread holds the refill role
 *   bit  28      FAILED
 *   bit  29      CLOSED
 *   bits 30..63  epoch: +1 at every fill
 *
 * The current batch is words[0..len). A claim loads the state (seq_cst:
 * it is also a waiter's condition, see block.h), and if index < len it
 * loads words[index] *before* it claims the index with a CAS of the state
 * (acq_rel). A refill only starts once the index reached len (an RMW that
 * sets REFILLING) and publishes the next batch with a new epoch, so a
 * claimer whose index was refilled under it fails its CAS and retries: it
 * never keeps a replaced word. Ordering of that argument: the refiller's
 * REFILLING RMW reads a value from the release sequence headed by the
 * claimer's successful CAS (every later change of the state is an RMW), so
 * the claimer's load of the word happens-before the refiller's overwrite.
 * The words are atomics (relaxed) so that the stale load a failing claimer
 * makes is not a data race. The refiller stores the words and len
 * (relaxed), then publishes with an RMW (seq_cst, so release): a claimer
 * that acquires the new epoch sees them.
 *
 * len is read after the state: it may belong to a later batch than the
 * state read (a refill ran in between), but then the CAS fails. Every
 * decision (claim, take the role) is validated by a CAS on the value read.
 *
 * Given-back words (unload_last) wait in `ret` under a spinlock; claims
 * check `ret_n` (one load of a line that only the rare paths write) and
 * take them first.
 *
 * Waiting: one eventcount, `changed`, notified by fill, abandon, fail,
 * close and give-backs (all seq_cst RMWs before the notify). ftk_block_wait
 * does the spin-then-sleep loop; sleepers hold a waitable reference.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "internal.h"

#define IDX_MASK ((uint64_t)FTK_BATCH_MAX_SIZE)
#define S_REFILLING ((uint64_t)1 << 27)
#define S_FAILED ((uint64_t)1 << 28)
#define S_CLOSED ((uint64_t)1 << 29)
#define S_DONE (S_FAILED | S_CLOSED)
#define EPOCH_SHIFT 30

_Static_assert(FTK_BATCH_MAX_SIZE == (1 << 27) - 1, "index bits");

typedef struct batch {
    /* read-only after creation */
    ftk_handle_t handle; /* ftk_obj header */
    size_t size;
    _Atomic uint64_t *words; /* size words; written by the refiller only */
    ftk_waitable w;

    /* every claim reads these */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t state;
    _Atomic uint32_t len;   /* words in the current batch */
    _Atomic uint32_t ret_n; /* given-back words waiting (exact under ret_lock) */

    /* role and rare paths */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t refiller; /* thread id, 0 = none */
    _Atomic uint32_t ret_lock;
    uint64_t *ret;  /* guarded by ret_lock, FIFO */
    size_t ret_cap; /* guarded by ret_lock */

    _Alignas(FTK_CACHE_LINE) ftk_ec changed;
} batch;

/* The calling thread's last claim (unload_last). */
static _Thread_local struct {
    uint64_t h;
    uint64_t w;
    bool has;
} bt_rec;

static inline void note_begin(ftk_handle_t h) {
    bt_rec.h = ftk_h2u(h);
    bt_rec.has = false;
}

static inline void note_claim(uint64_t w) {
    bt_rec.w = w;
    bt_rec.has = true;
}

static void batch_destroy(void *p) {
    batch *b = p;
    free(b->words);
    free(b->ret);
    free(b);
}

/* ---- the give-back list (rare paths) ----------------------------------- */

static inline void ret_lock(batch *b) { ftk_spin_lock(&b->ret_lock); }
static inline void ret_unlock(batch *b) { ftk_spin_unlock(&b->ret_lock); }

/* Take the oldest given-back word; false if none. */
static bool ret_pop(batch *b, uint64_t *w) {
    ret_lock(b);
    uint32_t n = atomic_load_explicit(&b->ret_n, memory_order_relaxed);
    if (n == 0) {
        ret_unlock(b);
        return false;
    }
    *w = b->ret[0];
    memmove(b->ret, b->ret + 1, (n - 1) * sizeof(uint64_t));
    atomic_store(&b->ret_n, n - 1); /* seq_cst: read as a hint */
    ret_unlock(b);
    return true;
}

/* ---- claims -------------------------------------------------------------- */

/* One non-blocking claim of up to max words (max >= 1). FTK_OK with
 * *got >= 1; FTK_BATCH_REFILL (role taken), FTK_EBUSY, FTK_ECLOSED,
 * FTK_EPERM with *got = 0. */
static int claim(batch *b, uint64_t me, uint64_t *out, size_t max, size_t *got) {
    *got = 0;
    /* seq_cst: also the waiter's re-check after ftk_ec_prepare (block.h);
     * acquire: pairs with the refiller's publication of words and len */
    uint64_t s = atomic_load(&b->state);
    for (;;) {
        if (s & S_DONE) return FTK_ECLOSED;
        if ((s & S_REFILLING) &&
            /* relaxed: equal only if this thread stored it (cleared before
             * every role ends) */
            atomic_load_explicit(&b->refiller, memory_order_relaxed) == me)
            return FTK_EPERM;
        /* seq_cst: a waiter's condition too (give-backs notify) */
        if (__builtin_expect(atomic_load(&b->ret_n) != 0, 0)) {
            if (ret_pop(b, out)) {
                *got = 1;
                return FTK_OK;
            }
            s = atomic_load(&b->state);
            continue;
        }
        if (s & S_REFILLING) return FTK_EBUSY;
        uint64_t i = s & IDX_MASK;
        /* relaxed: ordered after the state's acquire; a len of a later
         * batch makes the CAS below fail */
        uint64_t n = atomic_load_explicit(&b->len, memory_order_relaxed);
        if (i < n) {
            size_t k = n - i < max ? (size_t)(n - i) : max;
            /* relaxed: the words are loaded before the claim; kept only if
             * the CAS proves no refill ran (see the file comment) */
            for (size_t j = 0; j < k; j++)
                out[j] = atomic_load_explicit(&b->words[i + j], memory_order_relaxed);
            /* seq_cst (at least acq_rel: its release heads the sequence the
             * next refill's RMW reads from, so our word loads happen-before
             * its overwrite; the failure load is a waiter's re-check) */
            if (atomic_compare_exchange_weak(&b->state, &s, s + k)) {
                *got = k;
                return FTK_OK;
            }
        } else {
            /* exhausted: take the refill role. seq_cst (acquire pairs with
             * the claims' release: their word loads are done) */
            if (atomic_compare_exchange_weak(&b->state, &s, s | S_REFILLING)) {
                /* relaxed: read only by this thread's re-entrancy check
                 * and by fill/abandon/fail of this thread */
                atomic_store_explicit(&b->refiller, me, memory_order_relaxed);
                return FTK_BATCH_REFILL;
            }
        }
    }
}

struct claim_arg {
    batch *b;
    uint64_t me;
    uint64_t *w;
};

static int claim_one_try(void *arg) {
    struct claim_arg *a = arg;
    size_t got;
    return claim(a->b, a->me, a->w, 1, &got);
}

int ftk_batch_load(ftk_handle_t h, uint64_t *w, int64_t timeout_ns) {
    note_begin(h);
    if (w == NULL) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    uint64_t v = 0;
    struct claim_arg a = {b, t->id, &v};
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &b->w, timeout_ns);
    int st = ftk_block_wait(&b->w, &c, &b->changed, claim_one_try, &a, FTK_EBUSY);
    if (st == FTK_OK) {
        note_claim(v);
        *w = v;
    }
    ftk_obj_exit_t(t);
    return st;
}

uint64_t ftk_batch_load_v(ftk_handle_t h) {
    note_begin(h);
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (__builtin_expect(b == NULL, 0)) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    uint64_t v = 0;
    size_t got;
    int st = claim(b, t->id, &v, 1, &got);
    ftk_obj_exit_t(t);
    if (__builtin_expect(st == FTK_OK, 1)) {
        note_claim(v);
        if (v == 0) ftk_set_last(FTK_OK); /* a genuine 0 word */
        return v;
    }
    ftk_set_last(st);
    return 0;
}

uint64_t ftk_batch_load_timed_v(ftk_handle_t h, int64_t timeout_ns) {
    uint64_t w = 0;
    int st = ftk_batch_load(h, &w, timeout_ns);
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK); /* a genuine 0 word */
    return w;
}

int ftk_batch_take_many(ftk_handle_t h, uint64_t *out, size_t max, size_t *got) {
    note_begin(h);
    if (got == NULL) return FTK_EINVAL;
    *got = 0;
    if (out == NULL || max == 0) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    int st = claim(b, t->id, out, max, got);
    if (st == FTK_OK) note_claim(out[0]);
    ftk_obj_exit_t(t);
    return st;
}

/* ---- the refill role ------------------------------------------------------- */

/* The caller holds the role: REFILLING set and the id is ours. */
static inline bool holds_role(batch *b, uint64_t s, uint64_t me) {
    /* relaxed: equal only if this thread stored it */
    return (s & S_REFILLING) && atomic_load_explicit(&b->refiller, memory_order_relaxed) == me;
}

/* End the role: replace REFILLING by `to` (computed from the current state
 * by fn) unless closed/failed meanwhile. Returns FTK_OK or FTK_ECLOSED (the
 * role is cleared either way). Wakes every sleeper. */
static int end_role(batch *b, uint64_t s, int how, bool claim_first) {
    /* relaxed: our own id; a later role holder stores its own after its
     * RMW, which follows ours */
    atomic_store_explicit(&b->refiller, 0, memory_order_relaxed);
    uint64_t ns;
    int st;
    do {
        if (s & S_DONE) {
            /* index past any len: a fill's words stay the caller's, and a
             * drain must not take them */
            ns = (s & ~(S_REFILLING | IDX_MASK)) | IDX_MASK;
            st = FTK_ECLOSED;
        } else if (how == 0) { /* fill: a new epoch, index 0 or 1 */
            ns = ((s >> EPOCH_SHIFT) + 1) << EPOCH_SHIFT | (claim_first ? 1u : 0u);
            st = FTK_OK;
        } else if (how == 1) { /* abandon */
            ns = s & ~S_REFILLING;
            st = FTK_OK;
        } else { /* fail */
            ns = (s & ~S_REFILLING) | S_FAILED;
            st = FTK_OK;
        }
        /* seq_cst RMW: publishes the words (release) and is the condition
         * change the sleepers' eventcount needs before the notify */
    } while (!atomic_compare_exchange_weak(&b->state, &s, ns));
    ftk_ec_notify(&b->changed, FTK_EC_ALL);
    return st;
}

static int fill_impl(ftk_handle_t h, const uint64_t *w, uint64_t first_word, size_t n,
                     uint64_t *first) {
    note_begin(h);
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    int st;
    uint64_t s = atomic_load(&b->state); /* seq_cst */
    if (!holds_role(b, s, t->id)) {
        st = FTK_EPERM;
    } else if (n == 0 || n > b->size || (w == NULL && first_word + n < first_word)) {
        st = FTK_EINVAL;
    } else {
        /* relaxed stores: published by end_role's RMW */
        for (size_t j = 0; j < n; j++)
            atomic_store_explicit(&b->words[j], w ? w[j] : first_word + j, memory_order_relaxed);
        atomic_store_explicit(&b->len, (uint32_t)n, memory_order_relaxed);
        /* read before publishing: once published, a batch of one word can
         * be exhausted and refilled by others at once */
        uint64_t w0 = w ? w[0] : first_word;
        st = end_role(b, s, 0, first != NULL);
        if (st == FTK_OK && first != NULL) {
            *first = w0;
            note_claim(w0);
        }
    }
    ftk_obj_exit_t(t);
    return st;
}

int ftk_batch_fill(ftk_handle_t h, const uint64_t *w, size_t n, uint64_t *first) {
    if (w == NULL) {
        note_begin(h);
        return FTK_EINVAL;
    }
    return fill_impl(h, w, 0, n, first);
}

int ftk_batch_fill_range(ftk_handle_t h, uint64_t first_word, size_t n, uint64_t *first) {
    return fill_impl(h, NULL, first_word, n, first);
}

static int role_end_call(ftk_handle_t h, int how) {
    note_begin(h);
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    uint64_t s = atomic_load(&b->state); /* seq_cst */
    int st = holds_role(b, s, t->id) ? end_role(b, s, how, false) : FTK_EPERM;
    ftk_obj_exit_t(t);
    return st;
}

int ftk_batch_abandon(ftk_handle_t h) { return role_end_call(h, 1); }

int ftk_batch_fail(ftk_handle_t h) { return role_end_call(h, 2); }

/* ---- close, drain, give back ---------------------------------------------------- */

static void close_impl(batch *b) {
    atomic_fetch_or(&b->state, S_CLOSED); /* seq_cst: every waiter's condition */
    ftk_ec_notify(&b->changed, FTK_EC_ALL);
}

int ftk_batch_close(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    close_impl(b);
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int ftk_batch_drain(ftk_handle_t h, uint64_t *out, size_t max, size_t *got) {
    if (got == NULL) return FTK_EINVAL;
    *got = 0;
    if (out == NULL && max > 0) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    int st = FTK_OK;
    uint64_t s = atomic_load(&b->state); /* seq_cst */
    if (!(s & S_DONE)) {
        st = FTK_EBUSY;
    } else {
        size_t k = 0;
        /* the batch's rest: claims stopped (they check S_DONE first), only
         * drains still move the index */
        while (k == 0 && max > 0) {
            uint64_t i = s & IDX_MASK;
            uint64_t n = atomic_load_explicit(&b->len, memory_order_relaxed);
            if (i >= n || (s & S_REFILLING)) break;
            k = n - i < max ? (size_t)(n - i) : max;
            for (size_t j = 0; j < k; j++)
                out[j] = atomic_load_explicit(&b->words[i + j], memory_order_relaxed);
            /* seq_cst: as a claim */
            if (!atomic_compare_exchange_weak(&b->state, &s, s + k))
                k = 0;
        }
        /* then the given-back words (under the lock, after seeing S_DONE:
         * a give-back that checks the state under the lock after us sees
         * it and refuses, so none is stranded) */
        if (k < max) {
            ret_lock(b);
            uint32_t r = atomic_load_explicit(&b->ret_n, memory_order_relaxed);
            size_t m = r < max - k ? r : max - k;
            if (m) { /* (ret may still be NULL) */
                memcpy(out + k, b->ret, m * sizeof(uint64_t));
                memmove(b->ret, b->ret + m, (r - m) * sizeof(uint64_t));
                atomic_store(&b->ret_n, (uint32_t)(r - m));
            }
            ret_unlock(b);
            k += m;
        }
        *got = k;
    }
    ftk_obj_exit_t(t);
    return st;
}

/* Append n given-back words to the give-back list, under its lock:
 * FTK_ECLOSED once the executor is drained, FTK_ENOMEM if the list cannot
 * grow (nothing appended then). The caller notifies `changed` on FTK_OK. */
static int ret_append(batch *b, const uint64_t *w, size_t n) {
    int st = FTK_OK;
    ret_lock(b);
    if (atomic_load(&b->state) & S_DONE) { /* seq_cst: see ftk_batch_drain */
        st = FTK_ECLOSED;
    } else {
        uint32_t r = atomic_load_explicit(&b->ret_n, memory_order_relaxed);
        if (n > (size_t)(UINT32_MAX - r)) {
            st = FTK_ENOMEM; /* ret_n would overflow */
        } else if (r + n > b->ret_cap) {
            size_t cap = b->ret_cap ? 2 * b->ret_cap : 8;
            while (cap < r + n) cap *= 2;
            if (cap > UINT32_MAX) cap = UINT32_MAX;
            uint64_t *nr = realloc(b->ret, cap * sizeof(uint64_t));
            if (nr == NULL) {
                st = FTK_ENOMEM;
            } else {
                b->ret = nr;
                b->ret_cap = cap;
            }
        }
        if (st == FTK_OK) {
            memcpy(b->ret + r, w, n * sizeof(uint64_t));
            atomic_fetch_add(&b->ret_n, (uint32_t)n); /* seq_cst: a waiter's condition */
        }
    }
    ret_unlock(b);
    return st;
}

int ftk_batch_unload_last(ftk_handle_t h, uint64_t *w) {
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    if (bt_rec.h != ftk_h2u(h) || !bt_rec.has) {
        ftk_obj_exit_t(t);
        return FTK_ENOTFOUND;
    }
    bt_rec.has = false;
    if (w != NULL) *w = bt_rec.w;
    int st = ret_append(b, &bt_rec.w, 1);
    if (st == FTK_OK)
        ftk_ec_notify(&b->changed, FTK_EC_ALL);
    else if (st == FTK_ENOMEM)
        bt_rec.has = true; /* still the caller's; it may retry or release */
    ftk_obj_exit_t(t);
    return st;
}

int ftk_batch_give_back(ftk_handle_t h, const uint64_t *w, size_t n) {
    note_begin(h); /* any batch call ends the unload_last record */
    if (w == NULL && n > 0) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    int st = FTK_OK;
    if (n > 0) {
        st = ret_append(b, w, n);
        if (st == FTK_OK) ftk_ec_notify(&b->changed, FTK_EC_ALL);
    }
    ftk_obj_exit_t(t);
    return st;
}

/* ---- lifecycle and queries ---------------------------------------------------------- */

int ftk_batch_new(size_t size, ftk_handle_t *out) {
    if (out == NULL || size == 0) return FTK_EINVAL;
    if (size > FTK_BATCH_MAX_SIZE) return FTK_EOVERFLOW;
    batch *b = aligned_alloc(FTK_CACHE_LINE, sizeof(batch));
    if (b == NULL) return FTK_ENOMEM;
    memset(b, 0, sizeof *b);
    b->words = malloc(size * sizeof(*b->words));
    if (b->words == NULL) {
        free(b);
        return FTK_ENOMEM;
    }
    for (size_t i = 0; i < size; i++) atomic_init(&b->words[i], 0);
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_BATCH, &e, &h);
    if (st != FTK_OK) {
        free(b->words);
        free(b);
        return st;
    }
    b->handle = h;
    b->size = size;
    ftk_waitable_init(&b->w, b, batch_destroy);
    atomic_init(&b->state, 0); /* epoch 0, index 0, len 0: exhausted */
    atomic_init(&b->len, 0);
    atomic_init(&b->ret_n, 0);
    atomic_init(&b->refiller, 0);
    atomic_init(&b->ret_lock, 0);
    ftk_ec_init(&b->changed);
    atomic_store_explicit(&e->obj, b, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h);
    *out = h;
    return FTK_OK;
}

int ftk_batch_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_BATCH, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    batch *b = obj;
    atomic_fetch_or(&b->state, S_CLOSED); /* seq_cst: waiters' condition */
    ftk_waitable_close(&b->w);
    ftk_ec_notify(&b->changed, FTK_EC_ALL);
    ftk_waitable_unref(&b->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_batch_wake(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    ftk_waitable_wake(&b->w);
    ftk_ec_notify(&b->changed, FTK_EC_ALL);
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int ftk_batch_is_refiller(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    int v = holds_role(b, atomic_load(&b->state), t->id) ? 1 : 0;
    ftk_obj_exit_t(t);
    return v;
}

int ftk_batch_size(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    *out = b->size;
    ftk_obj_exit_t(t);
    return FTK_OK;
}

int ftk_batch_flags(ftk_handle_t h) {
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    uint64_t s = atomic_load(&b->state);
    ftk_obj_exit_t(t);
    return ((s & S_REFILLING) ? FTK_BATCH_REFILLING : 0) | ((s & S_FAILED) ? FTK_BATCH_FAILED : 0) |
           ((s & S_CLOSED) ? FTK_BATCH_CLOSED : 0);
}

int ftk_batch_available(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ftk_thread *t = ftk_thread_self();
    batch *b = ftk_obj_enter_t(t, h, FTK_KIND_BATCH);
    if (b == NULL) return FTK_EBADHANDLE;
    uint64_t s = atomic_load(&b->state);
    /* relaxed: see claim */
    uint64_t n = atomic_load_explicit(&b->len, memory_order_relaxed), i = s & IDX_MASK;
    size_t a = (!(s & S_REFILLING) && i < n) ? (size_t)(n - i) : 0;
    *out = a + atomic_load(&b->ret_n);
    ftk_obj_exit_t(t);
    return FTK_OK;
}
