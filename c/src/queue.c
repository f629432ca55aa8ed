/*
 * queue.c - MPMC FIFO of 64-bit words (contract in ftkit/queue.h).
 *
 * Layout. Queue positions 0, 1, 2, ... are 64-bit counters: `tail` is the
 * next position a producer claims, `head` the next one a consumer claims
 * (both stored shifted left by one; the low bit of tail means "closed", the
 * low bit of head "closed immediately"). Position p lives in slot p % 128 of
 * block p / 128; blocks form a singly linked list, oldest first. A slot is
 * {word, state} with state EMPTY -> FULL (producer) or EMPTY -> SKIPPED
 * (a consumer gave up waiting for a stalled producer; the producer retries).
 *
 * Push: CAS tail from p to p+k (k >= 1 positions in one block; bounded: only
 * while p + k - head <= capacity), store the words, CAS each slot EMPTY ->
 * FULL. A producer that is about to claim the last position of a block first
 * links the next block (any producer may do it: CAS on `next`), so the block
 * of every claimed position exists and producers never wait for each other.
 * Pop: CAS head from h to h+k while h+k <= tail, then read each slot once it
 * is FULL; a slot still EMPTY after `patience` spins is CASed to SKIPPED.
 * Either CAS on the slot wins, so each word is taken exactly once; a skipped
 * producer pushes the word again at the tail (before its next word, so per
 * producer FIFO holds). Hence lock-free: nobody waits unboundedly for a
 * thread that does not run.
 *
 * Finding blocks: `tail_blk`/`head_blk` are hints, only ever moved forward,
 * that point at or before the block of the current tail/head. A thread
 * loads the hint *before* the position it then claims, so it can walk
 * forward from the hint to its block.
 *
 * Fewer shared reads: consumers keep `tail_seen`, producers of a bounded
 * queue `head_seen`, lower bounds of the other side's counter (both only
 * grow); the other side's line is read only when the bound says empty/full.
 *
 * Reclamation: the consumer that claims the last position of a block moves
 * both hints past it and retires it through EBR once it has left its section
 * (a retire inside a section cannot scan). Every call runs inside an EBR
 * section, so a block or the queue itself is freed only after every thread
 * that could still hold a pointer to it has left. A thread sleeping in a
 * blocking call is outside any section (so it does not stall reclamation)
 * and holds a reference on the queue instead (block.h).
 *
 * Task accounting: unfinished = tail - skipped - done, where `skipped`
 * counts skipped slots (rare) and `done` counts task_done calls and drained
 * words. Pushes pay nothing for it.
 *
 * Waiting: the blocking layer (block.h: sleeper references, wake generation
 * for ftk_queue_wake, the attempt-or-wait loop) with three eventcounts
 * (wait.h): not_empty (poppers), not_full (pushers of a bounded queue), idle
 * (joiners). Producers check for sleeping consumers with one load of a line
 * that only sleepers write; no syscall when nobody sleeps.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"

#define QB_SHIFT 7
#define QB_CAP ((uint64_t)1 << QB_SHIFT)
#define QB_MASK (QB_CAP - 1)

#define Q_CLOSED 1u    /* low bit of tail */
#define Q_IMMEDIATE 1u /* low bit of head */

/* Default patience with a stalled producer: spins before skipping a slot
 * (every 64th spin yields the CPU, so a preempted producer can run).
 * ftk_queue_new_ex sets another per queue (tests use 0 to exercise the skip
 * path). */
#define DEFAULT_PATIENCE 1024

enum { SLOT_EMPTY = 0, SLOT_FULL = 1, SLOT_SKIPPED = 2 };

typedef struct qslot {
    _Atomic uint64_t word;
    _Atomic uint32_t state;
    uint32_t pad_;
} qslot;

/* A word given back by ftk_queue_unpop: a node of the front stack, which
 * pops empty before the ring. Nodes are never pushed twice and are freed
 * through EBR, so the Treiber stack has no ABA. */
typedef struct qfront {
    struct qfront *next;
    uint64_t word;
} qfront;

typedef struct qblock {
    uint64_t id;                   /* holds positions [id*QB_CAP, (id+1)*QB_CAP) */
    _Atomic(struct qblock *) next; /* set once, before its first position is claimed */
    struct qblock *retire_link;    /* private list of the thread retiring it */
    char pad_[64 - 3 * sizeof(void *)];
    qslot slots[QB_CAP];
} qblock;

_Static_assert(sizeof(uint64_t) == sizeof(void *), "64-bit targets only");
_Static_assert(offsetof(qblock, slots) == 64, "block header is one line");

typedef struct queue {
    /* read-only after creation */
    ftk_handle_t handle; /* ftk_obj header (internal.h) */
    uint64_t cap;        /* 0 = unbounded */
    uint32_t patience;

    /* producers */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t tail; /* pos << 1 | Q_CLOSED */
    _Atomic(qblock *) tail_blk;
    _Atomic uint64_t head_seen; /* a past head position (bounded only) */

    /* consumers */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t head; /* pos << 1 | Q_IMMEDIATE */
    _Atomic(qblock *) head_blk;
    _Atomic uint64_t tail_seen; /* a past tail position */
    /* Words given back by ftk_queue_unpop (rare): popped before the ring.
     * On the consumers' line, which every pop reads anyway. */
    _Atomic(qfront *) front;
    _Atomic uint64_t nfront;

    /* task accounting: written by task_done/drain and (rarely) skips */
    _Alignas(FTK_CACHE_LINE) _Atomic uint64_t done;
    _Atomic uint64_t skipped;

    _Alignas(FTK_CACHE_LINE) ftk_ec not_empty;
    _Alignas(FTK_CACHE_LINE) ftk_ec not_full;
    _Alignas(FTK_CACHE_LINE) ftk_ec idle;

    /* slow paths only: sleeper references, freed, wake generation */
    _Alignas(FTK_CACHE_LINE) ftk_waitable w;
} queue;

/* ---- blocks --------------------------------------------------------------- */

static qblock *block_new(uint64_t id) {
    qblock *b = aligned_alloc(64, sizeof(qblock));
    if (b == NULL) return NULL;
    memset(b, 0, sizeof *b); /* every slot EMPTY; published by a release */
    b->id = id;
    atomic_init(&b->next, NULL);
    b->retire_link = NULL;
    return b;
}

/* Walk forward from b (alive: loaded from a hint inside our section, so no
 * block at or after it has been freed) to block `id` >= b->id, which exists. */
static inline qblock *walk(qblock *b, uint64_t id) {
    while (b->id < id)
        /* acquire: pairs with the release CAS that linked the block */
        b = atomic_load_explicit(&b->next, memory_order_acquire);
    return b;
}

/* Move a hint forward to `to` unless it is already there or beyond. */
static inline void hint_forward(_Atomic(qblock *) *hint, qblock *cur, qblock *to) {
    while (cur->id < to->id &&
           /* release: a thread that loads the hint sees `to` initialised;
            * acquire (also on failure): cur is then dereferenced */
           !atomic_compare_exchange_weak_explicit(hint, &cur, to, memory_order_acq_rel,
                                                  memory_order_acquire)) {
    }
}

/* Consumers finished claiming block b: move both hints past it (so that no
 * thread entering a section later can reach it) and queue it for retirement. */
static void block_finish(queue *q, qblock *b, qblock **retire) {
    /* acquire: pairs with the link; non-NULL since b's last position was
     * claimed by a producer, which links the next block first */
    qblock *nx = atomic_load_explicit(&b->next, memory_order_acquire);
    /* acquire: hint_forward dereferences the current hints */
    hint_forward(&q->head_blk, atomic_load_explicit(&q->head_blk, memory_order_acquire), nx);
    hint_forward(&q->tail_blk, atomic_load_explicit(&q->tail_blk, memory_order_acquire), nx);
    b->retire_link = *retire;
    *retire = b;
}

static void retire_flush(qblock *list) {
    while (list) {
        qblock *nx = list->retire_link;
        ftk_ebr_retire(list, free);
        list = nx;
    }
}

static void queue_destroy(void *p) {
    queue *q = p;
    /* No thread can reach q any more. Blocks before head_blk were retired
     * by their last consumer; free head_blk and everything after it. */
    /* acquire: EBR ordered us after every user; these are for form's sake */
    qblock *b = atomic_load_explicit(&q->head_blk, memory_order_acquire);
    while (b) {
        qblock *nx = atomic_load_explicit(&b->next, memory_order_acquire);
        free(b);
        b = nx;
    }
    /* relaxed: as above, no other thread can reach q */
    qfront *f = atomic_load_explicit(&q->front, memory_order_relaxed);
    while (f) {
        qfront *nx = f->next;
        free(f);
        f = nx;
    }
    free(q);
}

/* ---- task accounting ------------------------------------------------------ */

/* unfinished = tail - skipped - done. Read done and skipped before tail: the
 * result is never below the count at the moment done was read, so 0 means
 * the count really was 0 (join's test), and task_done never rejects a task
 * that was there. seq_cst: these loads take part in the join eventcount. */
static uint64_t unfinished_at(queue *q, uint64_t done) {
    uint64_t s = atomic_load(&q->skipped);
    uint64_t t = atomic_load(&q->tail) >> 1;
    uint64_t u = t - s - done;
    return (int64_t)u > 0 ? u : 0; /* excess task_done racing with skips */
}

static uint64_t unfinished(queue *q) { return unfinished_at(q, atomic_load(&q->done)); }

static void maybe_wake_joiners(queue *q) {
    if (atomic_load(&q->idle.waiters) != 0 && unfinished(q) == 0)
        ftk_ec_notify_slow(&q->idle, FTK_EC_ALL);
}

/* Count n more finished tasks, never more than are unfinished. Returns how
 * many were counted. */
static uint64_t tasks_done(queue *q, uint64_t n) {
    uint64_t d = atomic_load(&q->done);
    uint64_t take;
    do {
        uint64_t u = unfinished_at(q, d);
        take = n < u ? n : u;
        if (take == 0) return 0;
        /* seq_cst: the joiners' eventcount condition */
    } while (!atomic_compare_exchange_weak(&q->done, &d, d + take));
    maybe_wake_joiners(q);
    return take;
}

static void note_skipped(queue *q, uint64_t n) {
    if (n == 0) return;
    atomic_fetch_add(&q->skipped, n); /* seq_cst: joiners' condition */
    maybe_wake_joiners(q);
}

/* ---- producers -------------------------------------------------------------- */

/* Claim 1 <= *k <= n consecutive positions starting at *pos, all in block
 * *blk. FTK_OK, FTK_ECLOSED, FTK_EFULL or FTK_ENOMEM (nothing claimed). */
static int push_claim(queue *q, uint64_t n, uint64_t *pos, qblock **blk, uint64_t *k) {
    for (;;) {
        /* hint first (acquire: the block is initialised), then tail: the
         * hint is then at or before the block of any position we claim */
        qblock *hint = atomic_load_explicit(&q->tail_blk, memory_order_acquire);
        uint64_t t = atomic_load(&q->tail); /* seq_cst: eventcount condition */
        if (t & Q_CLOSED) return FTK_ECLOSED;
        uint64_t p = t >> 1, want = n;
        if (q->cap) {
            /* Room is p - head. A head seen earlier is a lower bound (head
             * only grows) and saves reading the consumers' line; read the
             * real head only when the bound says "full" (so that a waiting
             * pusher's re-check reads it: eventcount). relaxed: a number. */
            uint64_t hp = atomic_load_explicit(&q->head_seen, memory_order_relaxed);
            if (p - hp >= q->cap || want > q->cap - (p - hp)) {
                hp = atomic_load(&q->head) >> 1; /* seq_cst: eventcount */
                if (hp > p) continue;            /* t is stale */
                atomic_store_explicit(&q->head_seen, hp, memory_order_relaxed);
                /* head read after tail: tail - head was >= p - hp then */
                if (p - hp >= q->cap) return FTK_EFULL;
                if (want > q->cap - (p - hp)) want = q->cap - (p - hp);
            }
        }
        uint64_t off = p & QB_MASK;
        if (want > QB_CAP - off) want = QB_CAP - off;
        if (hint->id > (p >> QB_SHIFT)) continue; /* t is stale */
        qblock *b = walk(hint, p >> QB_SHIFT);
        if (off + want == QB_CAP &&
            atomic_load_explicit(&b->next, memory_order_acquire) == NULL) {
            /* we may claim the block's last position: link the next first */
            qblock *nb = block_new(b->id + 1), *expected = NULL;
            if (nb == NULL) return FTK_ENOMEM;
            /* release: publishes the zeroed block */
            if (!atomic_compare_exchange_strong_explicit(&b->next, &expected, nb,
                                                         memory_order_release,
                                                         memory_order_relaxed))
                free(nb); /* another producer linked one */
        }
        /* seq_cst: the linearization point, and the eventcount condition */
        if (atomic_compare_exchange_weak(&q->tail, &t, (p + want) << 1)) {
            if (b != hint) hint_forward(&q->tail_blk, hint, b);
            *pos = p;
            *blk = b;
            *k = want;
            return FTK_OK;
        }
        ftk_cpu_relax();
    }
}

/* Fill a claimed slot. False if a consumer skipped it meanwhile. */
static inline bool slot_put(qslot *s, uint64_t w) {
    /* relaxed: published by the release CAS below */
    atomic_store_explicit(&s->word, w, memory_order_relaxed);
    uint32_t expected = SLOT_EMPTY;
    /* release: the consumer that acquires FULL sees the word (and everything
     * the producer did before pushing) */
    return atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_FULL,
                                                   memory_order_release, memory_order_relaxed);
}

/* Push up to n words without waiting. *done = how many went in. FTK_OK when
 * all did; otherwise what stopped it (FTK_EFULL/ECLOSED/ENOMEM). */
static int push_some(queue *q, const uint64_t *w, size_t n, size_t *done) {
    size_t i = 0;
    int st = FTK_OK;
    uint64_t skipped = 0;
    while (i < n) {
        uint64_t p, k;
        qblock *b;
        st = push_claim(q, n - i, &p, &b, &k);
        if (st != FTK_OK) break;
        qslot *s = &b->slots[p & QB_MASK];
        uint64_t j = 0;
        while (j < k && slot_put(&s[j], w[i + j])) j++;
        i += j;
        /* one wake-up per claimed range (j <= 128); one load if nobody sleeps */
        if (j > 0) ftk_ec_notify(&q->not_empty, (uint32_t)j);
        if (j < k) {
            /* Slot j was skipped by a consumer: give up the rest of this
             * claim (skip it ourselves) and push w[i..] again at the tail. */
            for (uint64_t r = j + 1; r < k; r++) {
                uint32_t expected = SLOT_EMPTY;
                /* relaxed: the slot carries nothing; consumers only need to
                 * see a state other than EMPTY */
                if (atomic_compare_exchange_strong_explicit(&s[r].state, &expected, SLOT_SKIPPED,
                                                            memory_order_relaxed,
                                                            memory_order_relaxed))
                    skipped++;
            }
        }
    }
    note_skipped(q, skipped);
    *done = i;
    return i == n ? FTK_OK : st;
}

/* ---- consumers -------------------------------------------------------------- */

/* Claim 1 <= *k <= n positions below tail, starting at *pos, in block *blk.
 * FTK_OK, FTK_EEMPTY or FTK_ECLOSED. `drain` ignores an immediate close. */
static int pop_claim(queue *q, uint64_t n, bool drain, uint64_t *pos, qblock **blk,
                     uint64_t *k) {
    for (;;) {
        /* hint before head (see push_claim); acquire: block initialised */
        qblock *hint = atomic_load_explicit(&q->head_blk, memory_order_acquire);
        uint64_t hw = atomic_load(&q->head); /* seq_cst: eventcount condition */
        if ((hw & Q_IMMEDIATE) && !drain) return FTK_ECLOSED;
        uint64_t h = hw >> 1;
        /* A tail seen earlier is a lower bound (tail only grows): positions
         * below it are claimed by producers. Read the producers' line only
         * when the bound says "empty". acquire: pairs with the release
         * below, so the blocks of those positions are visibly linked. */
        uint64_t t = atomic_load_explicit(&q->tail_seen, memory_order_acquire);
        if (h >= t) {
            uint64_t tw = atomic_load(&q->tail); /* seq_cst: eventcount condition */
            t = tw >> 1;
            /* tail read after head, and head <= tail always: h == t means
             * the queue was empty when tail was read */
            if (h >= t) return (tw & Q_CLOSED) ? FTK_ECLOSED : FTK_EEMPTY;
            atomic_store_explicit(&q->tail_seen, t, memory_order_release);
        }
        uint64_t off = h & QB_MASK, want = n;
        if (want > t - h) want = t - h;
        if (want > QB_CAP - off) want = QB_CAP - off;
        if (hint->id > (h >> QB_SHIFT)) continue; /* hw is stale */
        /* seq_cst: the linearization point, and the not_full condition */
        if (atomic_compare_exchange_weak(&q->head, &hw, ((h + want) << 1) | (hw & Q_IMMEDIATE))) {
            qblock *b = walk(hint, h >> QB_SHIFT);
            if (b != hint) hint_forward(&q->head_blk, hint, b);
            *pos = h;
            *blk = b;
            *k = want;
            return FTK_OK;
        }
        ftk_cpu_relax();
    }
}

/* Take the word of a claimed slot, waiting for its producer at most
 * q->patience spins. False if the slot was skipped (by us or its producer). */
static bool slot_take(queue *q, qslot *s, uint64_t *out) {
    for (uint32_t i = 0;; i++) {
        /* acquire: pairs with slot_put's release */
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_FULL) {
            /* relaxed: ordered after the acquire load of FULL */
            *out = atomic_load_explicit(&s->word, memory_order_relaxed);
            return true;
        }
        if (st == SLOT_SKIPPED) return false;
        if (i >= q->patience) {
            uint32_t expected = SLOT_EMPTY;
            /* relaxed: a skipped slot carries nothing; if the CAS fails the
             * slot just became FULL and the acquire load above re-reads it */
            if (atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_SKIPPED,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed)) {
                note_skipped(q, 1);
                return false;
            }
            continue;
        }
        if ((i & 63) == 63)
            ftk_os_yield(); /* let a preempted producer run */
        else
            ftk_cpu_relax();
    }
}

/* Take up to max words from the front stack (words given back by
 * ftk_queue_unpop). Caller is inside an EBR section: a node it loaded stays
 * allocated until it leaves, and nodes are never re-pushed, so no ABA. */
static size_t front_take(queue *q, uint64_t *out, size_t max) {
    size_t n = 0;
    while (n < max) {
        /* acquire: pairs with unpop's publishing CAS (node initialised) */
        qfront *f = atomic_load_explicit(&q->front, memory_order_acquire);
        if (f == NULL) break;
        /* acq_rel: another taker that acquires the new top sees our read */
        if (atomic_compare_exchange_weak_explicit(&q->front, &f, f->next, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            out[n++] = f->word;
            /* relaxed: a size estimate only */
            atomic_fetch_sub_explicit(&q->nfront, 1, memory_order_relaxed);
            ftk_ebr_retire(f, free);
        }
    }
    return n;
}

/* Take up to max words without waiting. FTK_OK with *got >= 1, or
 * FTK_EEMPTY/FTK_ECLOSED with *got = 0 (drain: FTK_OK with *got >= 0). */
static int pop_some(queue *q, uint64_t *out, size_t max, size_t *got, bool drain,
                    qblock **retire) {
    size_t n = 0;
    int st = FTK_OK;
    /* seq_cst: part of a waiting pop's eventcount condition (unpop pushes
     * with a seq_cst CAS before it notifies); a plain load on x86 */
    if (__builtin_expect(atomic_load(&q->front) != NULL, 0)) {
        if (!drain && (atomic_load(&q->head) & Q_IMMEDIATE)) {
            *got = 0;
            return FTK_ECLOSED;
        }
        n = front_take(q, out, max);
    }
    while (n < max) {
        uint64_t p, k;
        qblock *b;
        st = pop_claim(q, max - n, drain, &p, &b, &k);
        if (st != FTK_OK) break;
        uint64_t off = p & QB_MASK;
        for (uint64_t j = 0; j < k; j++)
            if (slot_take(q, &b->slots[off + j], &out[n])) n++;
        if (off + k == QB_CAP) block_finish(q, b, retire);
        /* room for k pushers; one load if nobody sleeps */
        if (q->cap) ftk_ec_notify(&q->not_full, (uint32_t)k);
    }
    *got = n;
    return (n > 0 || drain) ? FTK_OK : st;
}

/* ---- blocking --------------------------------------------------------------- */

typedef struct attempt {
    queue *q;
    /* operands */
    const uint64_t *in;
    uint64_t *out;
    size_t n, done;
    qblock *retire;
} attempt;

/* One non-waiting try each (ftk_attempt_fn): FTK_EFULL / FTK_EEMPTY /
 * FTK_EBUSY while the caller must wait. */
static int try_push_op(void *arg) {
    attempt *a = arg;
    size_t k = 0;
    int st = push_some(a->q, a->in + a->done, a->n - a->done, &k);
    a->done += k;
    return st;
}

static int try_pop_op(void *arg) {
    attempt *a = arg;
    return pop_some(a->q, a->out, a->n, &a->done, false, &a->retire);
}

static int try_join_op(void *arg) {
    attempt *a = arg;
    return unfinished(a->q) == 0 ? FTK_OK : FTK_EBUSY;
}

/* Run fn until it stops returning `again`, sleeping on ec in between
 * (block.h). Called inside the EBR section of ftk_obj_enter. */
static int wait_until(queue *q, ftk_ec *ec, ftk_attempt_fn fn, attempt *a, int again,
                      int64_t timeout_ns) {
    ftk_wait_ctx c;
    ftk_wait_begin(&c, &q->w, timeout_ns);
    return ftk_block_wait(&q->w, &c, ec, fn, a, again);
}

/* ---- API -------------------------------------------------------------------- */

/* Enter the queue's EBR section (ftk_obj_enter) or fail; LEAVE() leaves it.
 * The caller's thread record is looked up once per call. */
#define ENTER_OR_FAIL(h)                                      \
    ftk_thread *self_ = ftk_thread_self();                    \
    queue *q = ftk_obj_enter_t(self_, (h), FTK_KIND_QUEUE);   \
    if (q == NULL) return FTK_EBADHANDLE
#define LEAVE() ftk_obj_exit_t(self_)

int ftk_queue_new(size_t capacity, ftk_handle_t *out) {
    return ftk_queue_new_ex(capacity, -1, out);
}

int ftk_queue_new_ex(size_t capacity, int64_t patience, ftk_handle_t *out) {
    if (out == NULL || patience > FTK_QUEUE_PATIENCE_MAX) return FTK_EINVAL;
    if ((uint64_t)capacity > FTK_QUEUE_CAPACITY_MAX) return FTK_EOVERFLOW;
    queue *q = aligned_alloc(FTK_CACHE_LINE, sizeof(queue));
    if (q == NULL) return FTK_ENOMEM;
    memset(q, 0, sizeof *q);
    qblock *b = block_new(0);
    if (b == NULL) {
        free(q);
        return FTK_ENOMEM;
    }
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_QUEUE, &e, &h);
    if (st != FTK_OK) {
        free(b);
        free(q);
        return st;
    }
    q->cap = capacity;
    q->patience = patience < 0 ? DEFAULT_PATIENCE : (uint32_t)patience;
    q->handle = h;
    atomic_init(&q->tail, 0);
    atomic_init(&q->tail_blk, b);
    atomic_init(&q->head, 0);
    atomic_init(&q->head_blk, b);
    atomic_init(&q->head_seen, 0);
    atomic_init(&q->tail_seen, 0);
    atomic_init(&q->front, NULL);
    atomic_init(&q->nfront, 0);
    atomic_init(&q->done, 0);
    atomic_init(&q->skipped, 0);
    ftk_ec_init(&q->not_empty);
    ftk_ec_init(&q->not_full);
    ftk_ec_init(&q->idle);
    ftk_waitable_init(&q->w, q, queue_destroy);
    atomic_store_explicit(&e->obj, q, memory_order_release); /* see ftk_obj_enter */
    ftk_entry_publish(e, h); /* release: q and its first block are initialised */
    *out = h;
    return FTK_OK;
}

static void close_impl(queue *q, bool immediate) {
    /* seq_cst RMWs: eventcount conditions for every waiter */
    atomic_fetch_or(&q->tail, Q_CLOSED);
    if (immediate) atomic_fetch_or(&q->head, Q_IMMEDIATE);
    ftk_ec_notify(&q->not_empty, FTK_EC_ALL);
    ftk_ec_notify(&q->not_full, FTK_EC_ALL);
    ftk_ec_notify(&q->idle, FTK_EC_ALL);
}

int ftk_queue_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    ftk_ebr_enter();
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_QUEUE, &obj) == NULL) {
        ftk_ebr_exit();
        return FTK_EBADHANDLE;
    }
    queue *q = obj;
    ftk_waitable_close(&q->w); /* seq_cst: every waiter's condition */
    close_impl(q, true);
    ftk_waitable_unref(&q->w); /* the handle's reference; sleepers hold theirs */
    ftk_ebr_exit();
    return FTK_OK;
}

int ftk_queue_try_push(ftk_handle_t h, uint64_t w) {
    ftk_set_last_result(0);
    ENTER_OR_FAIL(h);
    size_t k;
    int st = push_some(q, &w, 1, &k);
    LEAVE();
    ftk_set_last_result(k); /* 1 when the word went in (see ftk_last_result) */
    return st;
}

int ftk_queue_push(ftk_handle_t h, uint64_t w, int64_t timeout_ns) {
    return ftk_queue_push_many(h, &w, 1, &(size_t){0}, timeout_ns);
}

int ftk_queue_push_many(ftk_handle_t h, const uint64_t *w, size_t n, size_t *pushed,
                        int64_t timeout_ns) {
    ftk_set_last_result(0);
    if (pushed == NULL || (w == NULL && n > 0)) return FTK_EINVAL;
    *pushed = 0;
    ENTER_OR_FAIL(h);
    if (n == 0) { /* nothing to push (and w may be NULL: no pointer arithmetic on it) */
        LEAVE();
        return FTK_OK;
    }
    attempt a = {.q = q, .in = w, .n = n};
    int st = wait_until(q, &q->not_full, try_push_op, &a, FTK_EFULL, timeout_ns);
    LEAVE();
    *pushed = a.done;
    ftk_set_last_result(a.done); /* how many went in (see ftk_last_result) */
    return st;
}

int ftk_queue_try_pop(ftk_handle_t h, uint64_t *w) {
    if (w == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    qblock *retire = NULL;
    size_t n;
    int st = pop_some(q, w, 1, &n, false, &retire);
    LEAVE();
    retire_flush(retire);
    return st;
}

int ftk_queue_pop(ftk_handle_t h, uint64_t *w, int64_t timeout_ns) {
    if (w == NULL) return FTK_EINVAL;
    size_t n;
    return ftk_queue_pop_many(h, w, 1, &n, timeout_ns);
}

int ftk_queue_pop_many(ftk_handle_t h, uint64_t *out, size_t max, size_t *popped,
                       int64_t timeout_ns) {
    if (popped == NULL || (out == NULL && max > 0)) return FTK_EINVAL;
    *popped = 0;
    ENTER_OR_FAIL(h);
    if (max == 0) {
        LEAVE();
        return FTK_OK;
    }
    attempt a = {.q = q, .out = out, .n = max};
    int st = wait_until(q, &q->not_empty, try_pop_op, &a, FTK_EEMPTY, timeout_ns);
    LEAVE();
    retire_flush(a.retire);
    *popped = a.done;
    return st;
}

int ftk_queue_close(ftk_handle_t h, int immediate) {
    ENTER_OR_FAIL(h);
    close_impl(q, immediate != 0);
    LEAVE();
    return FTK_OK;
}

int ftk_queue_drain(ftk_handle_t h, uint64_t *out, size_t max, size_t *n) {
    if (n == NULL || (out == NULL && max > 0)) return FTK_EINVAL;
    *n = 0;
    ENTER_OR_FAIL(h);
    qblock *retire = NULL;
    size_t got = 0;
    if (max > 0) pop_some(q, out, max, &got, true, &retire);
    if (got > 0) tasks_done(q, got);
    LEAVE();
    retire_flush(retire);
    *n = got;
    return FTK_OK;
}

int ftk_queue_size_approx(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    /* head before tail, so tail >= head (acquire keeps the two loads in
     * that order; the result is a racy estimate anyway) */
    uint64_t hp = atomic_load_explicit(&q->head, memory_order_acquire) >> 1;
    uint64_t tp = atomic_load_explicit(&q->tail, memory_order_acquire) >> 1;
    uint64_t sz = tp > hp ? tp - hp : 0;
    if (q->cap && sz > q->cap) sz = q->cap;
    /* relaxed: an estimate; words given back by unpop count too */
    sz += atomic_load_explicit(&q->nfront, memory_order_relaxed);
    LEAVE();
    *out = sz > SIZE_MAX ? SIZE_MAX : (size_t)sz;
    return FTK_OK;
}

int ftk_queue_capacity(ftk_handle_t h, size_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    *out = (size_t)q->cap;
    LEAVE();
    return FTK_OK;
}

int ftk_queue_is_closed(ftk_handle_t h, int *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    uint64_t hw = atomic_load(&q->head), tw = atomic_load(&q->tail);
    LEAVE();
    *out = (hw & Q_IMMEDIATE) ? FTK_QUEUE_CLOSED_IMMEDIATE
           : (tw & Q_CLOSED)  ? FTK_QUEUE_CLOSED
                              : FTK_QUEUE_OPEN;
    return FTK_OK;
}

int ftk_queue_task_done(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    int st = tasks_done(q, 1) == 1 ? FTK_OK : FTK_EINVAL;
    LEAVE();
    return st;
}

int ftk_queue_unfinished(ftk_handle_t h, uint64_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    *out = unfinished(q);
    LEAVE();
    return FTK_OK;
}

int ftk_queue_join(ftk_handle_t h, int64_t timeout_ns) {
    ENTER_OR_FAIL(h);
    attempt a = {.q = q};
    int st = wait_until(q, &q->idle, try_join_op, &a, FTK_EBUSY, timeout_ns);
    LEAVE();
    return st == FTK_EBUSY ? FTK_ETIMEDOUT : st;
}

int ftk_queue_wake(ftk_handle_t h) {
    ENTER_OR_FAIL(h);
    ftk_waitable_wake(&q->w); /* seq_cst: every waiter's condition */
    ftk_ec_notify(&q->not_empty, FTK_EC_ALL);
    ftk_ec_notify(&q->not_full, FTK_EC_ALL);
    ftk_ec_notify(&q->idle, FTK_EC_ALL);
    LEAVE();
    return FTK_OK;
}

int ftk_queue_unpop(ftk_handle_t h, const uint64_t *w, size_t n) {
    if (w == NULL && n > 0) return FTK_EINVAL;
    ENTER_OR_FAIL(h);
    int st = FTK_OK;
    if (n == 0) {
        /* nothing to give back: FTK_OK, as the header says, even when closed */
    } else if (atomic_load(&q->head) & Q_IMMEDIATE) {
        st = FTK_ECLOSED;
    } else {
        /* a private chain with w[0] on top, then one CAS publishes it */
        qfront *top = NULL, *bottom = NULL;
        for (size_t i = n; i-- > 0;) {
            qfront *f = malloc(sizeof *f);
            if (f == NULL) {
                while (top) {
                    qfront *nx = top->next;
                    free(top);
                    top = nx;
                }
                LEAVE();
                return FTK_ENOMEM;
            }
            f->word = w[i];
            f->next = top;
            top = f;
            if (bottom == NULL) bottom = f;
        }
        /* relaxed: a size estimate; counted before the words are visible */
        atomic_fetch_add_explicit(&q->nfront, n, memory_order_relaxed);
        qfront *old = atomic_load_explicit(&q->front, memory_order_relaxed);
        do {
            bottom->next = old;
            /* seq_cst: publishes the chain (release) and makes the poppers'
             * eventcount condition true before the notify */
        } while (!atomic_compare_exchange_weak(&q->front, &old, top));
        ftk_ec_notify(&q->not_empty, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
    }
    LEAVE();
    return st;
}
