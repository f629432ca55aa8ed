/*
 * tests/fuzz/fuzz_mods.c - libFuzzer harness for the newer libftkit modules:
 * deque (deque.h), counter (counter.h), rwlock and ilock (sync.h), batch
 * (batch.h), sem (sem.h) and gather (gather.h). fuzz_api.c covers atomics,
 * queue, map and slots.
 *
 * The input is a program, as in fuzz_api.c: each op is a group byte followed
 * by its operand bytes; bytes past the end read as 0. Operand bytes are laid
 * out so that 0 means the common, valid case (the first live handle of the
 * wanted kind, a non-NULL out-pointer, side BACK, timeout 0): short inputs
 * and hand-written seeds reach every call. Handles come from a table of six
 * slots and can be valid, stale (freed), NULL, garbage, of another kind, or
 * forged from a valid one (kind byte, generation, index changed).
 *
 * Each status and value is compared with a single-threaded model of the
 * header contracts:
 *   - deque: the words front to back, both ends, maxlen evictions (the words
 *     evicted and their order; ftk_deque_evicted_v's per-thread record),
 *     index calls, rotate, reverse, snapshot, clear, close; the per-thread
 *     pop record (ftk_deque_last_popped) and ftk_deque_unpop_last putting
 *     single, many and run-encoded pops back where they came from;
 *   - counter: the wrapped total through add/set/exchange/reset and the _v
 *     forms;
 *   - rwlock / ilock: the calling thread's holds; FTK_EPERM for unlocks of
 *     what it does not hold and for re-acquisitions that would deadlock;
 *     the queries;
 *   - batch: the state machine (claims in order, given-back words first
 *     and FIFO, the refill role taken by the claim that finds the batch
 *     exhausted, EPERM for the refiller's own claims, fill / fill_range /
 *     abandon / fail / close / drain, flags, available) and the per-thread
 *     claim record of ftk_batch_unload_last;
 *   - sem: free permits, the FIFO queue of words (hand-off order, cancel,
 *     duplicates), over-release (FTK_EOVERFLOW), acquire_timed's try and
 *     timeouts, and ftk_sem_last's per-thread record;
 *   - gather: the words by key (insert, duplicates FTK_EBUSY, take / get
 *     and their _v forms, runs of consecutive keys up to INT64_MAX,
 *     insert_run, ftk_last_result() after insert), fail and close, len, and
 *     drain stripe by stripe (the stripe count follows `scaling` as the
 *     header says; FTK_EOVERFLOW leaves whole stripes).
 * FTK_EINTR is accepted from any wait that sleeps (libFuzzer's -timeout
 * timer, SIGALRM, interrupts sleeps).
 *
 * Race ops start a second thread that frees (or, with the main thread,
 * double-frees), closes or wakes a table object, or adds to a counter,
 * while the main thread replays recorded calls on it (some of them asleep
 * in the OS). The model stays exact up to the other thread's action: a
 * close is accepted at any instant (after the first FTK_ECLOSED the model is
 * closed), a free ends the object: after one FTK_EBADHANDLE (or an
 * FTK_ECLOSED that only the free explains) every later call must fail with
 * FTK_EBADHANDLE, and exactly one of two racing frees wins.
 *
 * Hold ops make the two threads contend with exact outcomes: the other
 * thread holds a lock (write, read, ilock), the batch's refill role or a
 * semaphore wait, or waits in a take / pop, while the main thread checks
 * FTK_EBUSY / FTK_ETIMEDOUT / FTK_EPERM and then sleeps (often without a
 * timeout: a lost wake-up is a hang, which libFuzzer's -timeout reports)
 * until the other thread's release, fill, abandon, fail, grant, insert or
 * push ends its wait; the cede of an ilock to a waiter; wake of a waiter.
 *
 * Every execution frees what it created and ends with ftk_live_handles() ==
 * 0 and ftk_reclaim_collect() == 0, so LeakSanitizer sees any leak.
 *
 * Build and run: scripts/fuzz.sh (both harnesses). Seeds:
 * tests/fuzz/make_corpus.py (tests/fuzz/corpus_mods/). What the two
 * harnesses share (the input reader, CHECK/EXPECT and the failure trace,
 * the handle table and pick_handle, gate, slot lifetimes) is
 * tests/fuzz/fuzz_common.h.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "ftkit.h"

/* NH, NSTALE, MAX_OPS, MAX_THREAD_OPS, BURST_MAX, SHORT_NS, LONG_NS: fuzz_common.h */
#define DMAX 1024       /* words a deque model holds */
#define BMAX 256        /* words a batch model holds (and largest fill) */
#define GMAX 256        /* given-back words */
#define SQMAX 256       /* queued semaphore words */
#define GKMAX 512       /* words a gather model holds */

/* The kind byte of a semaphore handle (internal.h FTK_KIND_SEM): ftk_sem_last
 * tells handles of another kind from unknown semaphores by it. */
#define KIND_SEM_BYTE 12

enum {
    G_DEQUE, G_DEQUE2, G_COUNTER, G_RWLOCK, G_ILOCK, G_BATCH, G_SEM, G_MISC, G_RACE, G_GATHER,
    G_HOLD, NGROUPS
};

/* ---- the handle table's kinds and slots (fuzz_common.h keeps the table) ------ */

enum { K_NONE, K_DEQUE, K_COUNTER, K_RWLOCK, K_ILOCK, K_BATCH, K_SEM, K_GATHER, K_COUNT };
static const char *const kind_name[K_COUNT] = {"none",  "deque", "counter", "rwlock",
                                               "ilock", "batch", "sem",     "gather"};

typedef struct hslot {
    int kind;
    bool live;
    ftk_handle_t h;
    uint64_t total;   /* counter */
    uint64_t rdepth;  /* rwlock: the main thread's read nesting */
    bool held;        /* rwlock write hold / ilock hold */
} hslot;

static int (*const free_fn[K_COUNT])(ftk_handle_t) = {
    NULL,           ftk_deque_free, ftk_counter_free, ftk_rwlock_free,
    ftk_ilock_free, ftk_batch_free, ftk_sem_free,     ftk_gather_free};

#define FUZZ_NAME "fuzz_mods"
#include "fuzz_common.h"

/* ---- operands ------------------------------------------------------------------ */

static uint64_t fresh_word(void) { return 0x4000000000000000ULL | ++fresh_ctr; }

/* A word operand: fresh (unique) by default, special values sometimes. */
static uint64_t pick_word(rd *r) {
    switch (u8(r) % 10) {
    case 1: return 0;
    case 2: return 1;
    case 3: return UINT64_MAX;
    case 4: return (uint64_t)1 << 63;
    case 5: return INT64_MAX;
    case 6: return u8(r) % 8; /* small: duplicates */
    case 7: return u64(r);
    default: return fresh_word();
    }
}

/* A NULL out-pointer? 0 (the default) says no. */
static bool pick_null(rd *r) { return u8(r) % 16 == 15; }

/* A size: small by default; 0, block edges, huge sometimes. */
static uint64_t pick_count(rd *r, uint64_t cap) {
    uint64_t n;
    switch (u8(r) % 8) {
    case 1: n = 0; break;
    case 2: n = 1; break;
    case 3: n = SIZE_MAX; break;
    case 4: n = cap; break;
    case 5: n = cap + 1; break;
    default: n = 1 + u8(r) % 16; break;
    }
    return n;
}

/* ---- handle table ------------------------------------------------------------------ */

typedef struct dmodel {
    uint64_t w[DMAX]; /* front to back */
    size_t n;
    uint64_t maxlen; /* FTK_DEQUE_UNBOUNDED: none */
    bool closed;
} dmodel;

typedef struct bmodel {
    uint64_t rest[BMAX]; /* the current batch's unclaimed words, in order */
    size_t rn;
    uint64_t gb[GMAX]; /* given-back words, oldest first */
    size_t gn;
    uint64_t size;
    bool role, failed, closed;
} bmodel;

typedef struct smodel {
    int64_t value, count;
    uint64_t q[SQMAX]; /* queued words, oldest first */
    size_t qn;
} smodel;

typedef struct gmodel {
    int64_t k[GKMAX];
    uint64_t w[GKMAX]; /* unique words (fresh_word) */
    size_t n;
    uint64_t mask; /* stripes - 1, from `scaling` as gather.h says */
    bool closed, failed;
} gmodel;

static dmodel DM[NH];
static bmodel BM[NH];
static smodel SM[NH];
static gmodel GM[NH];

/* Per-thread records of the main thread, as the headers describe them. */
static struct {
    ftk_handle_t h;   /* the deque of the last pop (any outcome) */
    size_t n;         /* words it delivered */
    uint64_t w[DMAX]; /* those words, in pop order */
    int kind;         /* 0 single / pop_many, 1 runs */
    int side;
} dq_rec;
static struct {
    ftk_handle_t h; /* last single push that evicted */
    uint64_t w;
} dq_ev;
static struct {
    ftk_handle_t h;
    bool has;
    uint64_t w;
} bt_rec;
static struct {
    ftk_handle_t h;
    int64_t result;
} sem_rec;

/* ---- race state ---------------------------------------------------------------------- */

static bool g_race_may_close; /* the other thread closes it (deque, batch) */

/* A status that only the racing free explains (a wait woken by it, a call
 * that saw the object closed by it): the handle is dead from now on. */
static bool race_closed_by_free(int st, bool model_closed, const char *what) {
    if (g_race && g_race_may_die && st == FTK_ECLOSED && !model_closed) {
        if (!g_race_dead) TRACE("    %s: FTK_ECLOSED from the racing free\n", what);
        g_race_dead = true;
        return true;
    }
    return false;
}

/* The racing free closes the object before it goes (a state only the free
 * explains was seen): dead from now on, if a free is racing. */
static bool race_dying(const char *what) {
    if (!(g_race && g_race_may_die)) return false;
    if (!g_race_dead) TRACE("    %s: closed by the racing free\n", what);
    g_race_dead = true;
    return true;
}

/* Value-style: (ret, last status) for a call that reports a bad handle as
 * 0 / FTK_EBADHANDLE. */
static bool gate_v(int s, uint64_t ret, const char *what) {
    int ls = ftk_last_status();
    if (g_race) {
        if (ret == 0 && ls == FTK_EBADHANDLE) {
            CHECK(g_race_may_die, "%s: FTK_EBADHANDLE on a handle nobody freed", what);
            g_race_dead = true;
            return true;
        }
        CHECK(!g_race_dead, "%s: returned %#llx (last status %s) after the handle was freed",
              what, (unsigned long long)ret, SN(ls));
        return false;
    }
    if (s < 0) {
        EQ64(ret, 0, what);
        EXPECT(ls, FTK_EBADHANDLE, what);
        return true;
    }
    return false;
}

/* A known last status before a value-style call, so that a success that
 * leaves it alone is told apart from a failure. */
static void prime_last(void) {
    ftk_handle_t t; /* a queue: its records are not the ones modelled here */
    EXPECT(ftk_queue_new(0, &t), FTK_OK, "queue_new (prime)");
    EQ64(ftk_queue_try_pop_v(t), 0, "queue_try_pop_v (prime)");
    EXPECT(ftk_last_status(), FTK_EEMPTY, "last status after an empty pop");
    EXPECT(ftk_queue_free(t), FTK_OK, "queue_free (prime)");
}

/* Value-style calls that fail with (0, FTK_EBADHANDLE) and leave the last
 * status alone on success (primed to FTK_EEMPTY). True when it failed. */
static bool gate_ls(int s, int ls, uint64_t ret, const char *what) {
    if (ls == FTK_EBADHANDLE) {
        EQ64(ret, 0, what);
        if (g_race) {
            CHECK(g_race_may_die, "%s: FTK_EBADHANDLE on a handle nobody freed", what);
            g_race_dead = true;
        } else {
            CHECK(s < 0, "%s: FTK_EBADHANDLE on a live handle", what);
        }
        return true;
    }
    CHECK((s >= 0 || g_race) && !g_race_dead, "%s: succeeded on an invalid handle", what);
    EXPECT(ls, FTK_EEMPTY, what);
    return false;
}

static void check_wait(int st, int64_t t, int64_t el, const char *what) {
    if (st == FTK_ETIMEDOUT) {
        CHECK(t > 0 && t != INT64_MAX, "%s: FTK_ETIMEDOUT with timeout %lld", what, (long long)t);
        CHECK(el >= t, "%s: timed out after %lld ns < %lld", what, (long long)el, (long long)t);
    }
    if (st == FTK_EINTR) CHECK(t != 0, "%s: FTK_EINTR from a call that does not wait", what);
}

/* ---- lifetimes --------------------------------------------------------------------------- */

/* new_slot, destroy_slot, op_free: fuzz_common.h */

static void install(int i, int kind, ftk_handle_t h) {
    check_new_handle(h, kind_name[kind]);
    memset(&H[i], 0, sizeof H[i]);
    H[i].kind = kind;
    H[i].live = true;
    H[i].h = h;
}

/* ---- word arrays (the models' contents) ------------------------------------------------------ */

/* The index of the first w in a[0..n), n when absent. */
static size_t words_find(const uint64_t *a, size_t n, uint64_t w) {
    size_t i = 0;
    while (i < n && a[i] != w) i++;
    return i;
}

/* Remove a[at..at+k) from a[0..*n), the rest moving down in order. */
static void words_remove(uint64_t *a, size_t *n, size_t at, size_t k) {
    memmove(a + at, a + at + k, (*n - at - k) * sizeof(uint64_t));
    *n -= k;
}

/* ---- deque ---------------------------------------------------------------------------------- */

static uint64_t dbuf[DMAX + 64], dout[DMAX + 64], devb[DMAX + 64];
static uint64_t druns[2 * (DMAX + 64)];

static int pick_side(rd *r) {
    uint8_t b = u8(r);
    switch (b % 16) {
    case 14: return 2;
    case 15: return (int)(int8_t)(b | 0x80); /* negative */
    default: return b & 1;
    }
}
static bool bad_side(int side) { return side != FTK_DEQUE_BACK && side != FTK_DEQUE_FRONT; }

static bool d_bounded(const dmodel *m) { return m->maxlen != FTK_DEQUE_UNBOUNDED; }

/* Push one word at side as the header says; true if *ev was evicted. */
static bool d_push_one(dmodel *m, int side, uint64_t w, uint64_t *ev) {
    if (d_bounded(m) && m->maxlen == 0) {
        *ev = w;
        return true;
    }
    bool did = false;
    if (d_bounded(m) && m->n == m->maxlen) {
        did = true;
        if (side == FTK_DEQUE_BACK) {
            *ev = m->w[0];
            memmove(m->w, m->w + 1, (m->n - 1) * sizeof(uint64_t));
        } else {
            *ev = m->w[m->n - 1];
        }
        m->n--;
    }
    CHECK(m->n < DMAX, "harness: deque model overflow");
    if (side == FTK_DEQUE_BACK) {
        m->w[m->n] = w;
    } else {
        memmove(m->w + 1, m->w, m->n * sizeof(uint64_t));
        m->w[0] = w;
    }
    m->n++;
    return did;
}

static uint64_t d_take(dmodel *m, int side) {
    uint64_t w;
    if (side == FTK_DEQUE_BACK) {
        w = m->w[m->n - 1];
    } else {
        w = m->w[0];
        memmove(m->w, m->w + 1, (m->n - 1) * sizeof(uint64_t));
    }
    m->n--;
    return w;
}

/* Room the model has for k more words (bounded deques never grow past maxlen). */
static bool d_fits(const dmodel *m, uint64_t k) {
    if (k > DMAX) return false;
    if (d_bounded(m) && m->maxlen <= DMAX) return true;
    return m->n + k <= DMAX;
}

static void op_deque_new(rd *r) {
    int i = new_slot(r);
    uint64_t maxlen;
    switch (u8(r) % 8) {
    case 0: maxlen = FTK_DEQUE_UNBOUNDED; break;
    case 1: maxlen = 0; break;
    case 2: maxlen = 1; break;
    case 3: maxlen = 2 + u8(r) % 8; break;
    case 4: maxlen = SIZE_MAX - 1; break;
    default: maxlen = 1 + u8(r) % 64; break;
    }
    if (pick_null(r)) {
        EXPECT(ftk_deque_new((size_t)maxlen, NULL), FTK_EINVAL, "deque_new(out NULL)");
        return;
    }
    ftk_handle_t h;
    EXPECT(ftk_deque_new((size_t)maxlen, &h), FTK_OK, "deque_new");
    install(i, K_DEQUE, h);
    DM[i].n = 0;
    DM[i].maxlen = maxlen;
    DM[i].closed = false;
}

/* The pop record after a pop call on h that delivered k words out[0..k). */
static void d_note_pop(ftk_handle_t h, const uint64_t *out, size_t k, int kind, int side) {
    dq_rec.h = h;
    dq_rec.side = side;
    dq_rec.n = k;
    dq_rec.kind = kind;
    if (k) memcpy(dq_rec.w, out, k * sizeof(uint64_t));
}

/* Check the words popped (pop order) against the model and take them. */
static void d_check_popped(dmodel *m, int side, const uint64_t *out, size_t k, const char *what) {
    CHECK(k <= m->n, "%s: %zu words from a deque of %zu", what, k, m->n);
    for (size_t i = 0; i < k; i++) {
        uint64_t want = d_take(m, side);
        CHECK(out[i] == want, "%s: word %zu is %#llx, expected %#llx (%s end)", what, i,
              (unsigned long long)out[i], (unsigned long long)want,
              side == FTK_DEQUE_BACK ? "back" : "front");
    }
}

/* The status a pop of up to max words (max >= 1) may return; the model
 * decides, a racing close or free, a wake or a signal may intervene. */
static bool d_pop_status(dmodel *m, int st, int64_t t, int64_t el, const char *what) {
    if (race_closed_by_free(st, m->closed, what)) return false;
    if (st == FTK_ECLOSED && g_race_may_close && !m->closed) m->closed = true;
    if (m->closed) {
        EXPECT(st, FTK_ECLOSED, what);
        return false;
    }
    if (m->n > 0) {
        EXPECT(st, FTK_OK, what);
        return true;
    }
    if (t == 0)
        EXPECT(st, FTK_EEMPTY, what);
    else
        CHECK(st == FTK_ETIMEDOUT || st == FTK_EINTR, "%s: %s from an empty deque", what, SN(st));
    check_wait(st, t, el, what);
    return false;
}

/* A status where the model says "ok unless closed". */
static bool d_open(dmodel *m, int st, const char *what) {
    if (race_closed_by_free(st, m->closed, what)) return false;
    if (st == FTK_ECLOSED && g_race_may_close && !m->closed) m->closed = true;
    if (m->closed) {
        EXPECT(st, FTK_ECLOSED, what);
        return false;
    }
    return true;
}

static int64_t pick_index(rd *r, size_t n) {
    uint8_t b = u8(r);
    switch (b % 8) {
    case 5: return -(int64_t)n - 1 - (b >> 5);
    case 6: return (int64_t)n + (b >> 5);
    case 7: return (b & 0x80) ? INT64_MIN : INT64_MAX;
    default:
        if (n == 0) return b >> 4;
        return (b & 0x80) ? -(int64_t)(1 + (b >> 3) % n) : (int64_t)((b >> 3) % n);
    }
}

static int64_t d_norm(const dmodel *m, int64_t idx) {
    int64_t n = (int64_t)m->n;
    if (idx < 0) idx += n;
    return (idx < 0 || idx >= n) ? -1 : idx;
}

static void deque_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  deque sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    dmodel *m = s >= 0 ? &DM[s] : NULL;
    bool nullout = pick_null(r);
    int st;
    int64_t t = 0, t0, el = 0;
    switch (sub) {
    case 2: /* close */
        st = ftk_deque_close(h);
        if (gate(s, st, false, "deque_close")) break;
        EXPECT(st, FTK_OK, "deque_close");
        m->closed = true;
        break;
    case 3: { /* maxlen */
        size_t v = 7;
        st = ftk_deque_maxlen(h, nullout ? NULL : &v);
        if (gate(s, st, nullout, "deque_maxlen")) break;
        EXPECT(st, FTK_OK, "deque_maxlen");
        EQ64(v, m->maxlen, "deque_maxlen");
        break;
    }
    case 4: { /* size, len */
        size_t v = 7;
        st = ftk_deque_size(h, nullout ? NULL : &v);
        if (gate(s, st, nullout, "deque_size")) break;
        EXPECT(st, FTK_OK, "deque_size");
        EQ64(v, m->n, "deque_size");
        int64_t l = ftk_deque_len(h);
        if (l < 0 && gate(s, (int)l, false, "deque_len")) break;
        EQ64(l, m->n, "deque_len");
        break;
    }
    case 5: case 6: { /* push, push_back / push_front */
        uint64_t w = pick_word(r);
        int side = sub == 5 ? pick_side(r) : u8(r) & 1;
        if (m && !d_fits(m, 1)) break;
        uint64_t ev = 0x77;
        if (sub == 5)
            st = ftk_deque_push(h, side, w, nullout ? NULL : &ev);
        else
            st = side == FTK_DEQUE_BACK ? ftk_deque_push_back(h, w) : ftk_deque_push_front(h, w);
        if (gate(s, st, sub == 5 && bad_side(side), "deque_push")) break;
        if (!d_open(m, st, "deque_push")) break;
        uint64_t want_ev;
        bool did = d_push_one(m, side, w, &want_ev);
        EXPECT(st, did ? FTK_DEQUE_EVICTED : FTK_OK, "deque_push");
        if (did) {
            if (sub == 5 && !nullout) EQ64(ev, want_ev, "deque_push evicted word");
            dq_ev.h = h;
            dq_ev.w = want_ev;
        }
        break;
    }
    case 7: { /* evicted_v */
        prime_last();
        uint64_t w = ftk_deque_evicted_v(h);
        if (gate_v(s, w, "deque_evicted_v")) break;
        int ls = ftk_last_status();
        if (dq_ev.h != h) {
            EQ64(w, 0, "deque_evicted_v (no record)");
            EXPECT(ls, FTK_ENOTFOUND, "deque_evicted_v (no record)");
        } else {
            EQ64(w, dq_ev.w, "deque_evicted_v");
            EXPECT(ls, w == 0 ? FTK_OK : FTK_EEMPTY, "deque_evicted_v last status");
        }
        break;
    }
    case 8: case 9: { /* push_many, push_range */
        int side = pick_side(r);
        uint64_t n = pick_count(r, m && d_bounded(m) ? m->maxlen : 64);
        bool nullw = sub == 8 && u8(r) % 8 == 7, nullev = u8(r) % 4 == 3, nullne = pick_null(r);
        uint64_t first = u8(r) % 8 == 7 ? UINT64_MAX - u8(r) % 4 : fresh_word();
        if (n > DMAX && !(nullw && sub == 8) && !(sub == 9 && n > UINT64_MAX - first)) n = DMAX;
        if (m && n <= DMAX && !d_fits(m, n)) n = 0;
        for (uint64_t i = 0; i < n && i < DMAX; i++) dbuf[i] = sub == 8 ? pick_word(r) : first + i;
        size_t ne = 777;
        st = sub == 8 ? ftk_deque_push_many(h, side, nullw ? NULL : dbuf, (size_t)n,
                                             nullev ? NULL : devb, nullne ? NULL : &ne)
                      : ftk_deque_push_range(h, side, first, (size_t)n, nullev ? NULL : devb,
                                             nullne ? NULL : &ne);
        bool inval = bad_side(side) || (sub == 8 && nullw && n > 0) ||
                     (sub == 9 && n > UINT64_MAX - first);
        const char *what = sub == 8 ? "deque_push_many" : "deque_push_range";
        if (!nullne && (st < 0 || inval)) EQ64(ne, 0, what);
        if (gate(s, st, inval, what)) break;
        if (!d_open(m, st, what)) break;
        uint64_t nev = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t ev;
            if (d_push_one(m, side, dbuf[i], &ev)) {
                if (!nullev) CHECK(devb[nev] == ev, "%s: evicted[%llu] is %#llx, expected %#llx",
                                   what, (unsigned long long)nev,
                                   (unsigned long long)devb[nev], (unsigned long long)ev);
                nev++;
            }
        }
        EXPECT(st, nev ? FTK_DEQUE_EVICTED : FTK_OK, what);
        if (!nullne) EQ64(ne, nev, what);
        break;
    }
    case 10: case 11: { /* pop, pop_v */
        int side = pick_side(r);
        t = pick_timeout(r, m && m->n == 0 && !m->closed);
        uint64_t w = 0x77;
        if (sub == 11) prime_last();
        t0 = now_ns();
        if (sub == 10) {
            st = ftk_deque_pop(h, side, nullout ? NULL : &w, t);
        } else {
            nullout = false;
            w = ftk_deque_pop_v(h, side, t);
            st = ftk_last_status();
            if (w != 0) {
                EXPECT(st, FTK_EEMPTY, "deque_pop_v: a success changed the last status");
                st = FTK_OK;
            }
        }
        el = now_ns() - t0;
        d_note_pop(h, &w, st == FTK_OK, 0, side);
        const char *what = sub == 10 ? "deque_pop" : "deque_pop_v";
        if (gate(s, st, nullout || bad_side(side), what)) break;
        if (d_pop_status(m, st, t, el, what)) d_check_popped(m, side, &w, 1, what);
        break;
    }
    case 12: { /* pop_back_v, pop_front_v */
        int side = u8(r) & 1;
        prime_last();
        uint64_t w = side == FTK_DEQUE_BACK ? ftk_deque_pop_back_v(h) : ftk_deque_pop_front_v(h);
        st = w ? FTK_OK : ftk_last_status();
        if (w) EXPECT(ftk_last_status(), FTK_EEMPTY, "deque_pop_*_v: a success changed the last status");
        d_note_pop(h, &w, st == FTK_OK, 0, side);
        if (gate(s, st, false, "deque_pop_*_v")) break;
        if (d_pop_status(m, st, 0, 0, "deque_pop_*_v"))
            d_check_popped(m, side, &w, 1, "deque_pop_*_v");
        break;
    }
    case 13: case 14: case 15: { /* pop_many, pop_many_v, pop_runs_v */
        int side = pick_side(r);
        uint64_t max = pick_count(r, m ? m->n : 8);
        if (max > DMAX + 64 && max != SIZE_MAX) max = DMAX + 64;
        bool nullbuf = u8(r) % 8 == 7;
        if (max == SIZE_MAX) nullbuf = true; /* never a buffer that short */
        size_t got = 777;
        const char *what = sub == 13 ? "deque_pop_many" : sub == 14 ? "deque_pop_many_v"
                                                                    : "deque_pop_runs_v";
        if (sub == 13) {
            t = pick_timeout(r, m && m->n == 0 && !m->closed);
            t0 = now_ns();
            st = ftk_deque_pop_many(h, side, nullbuf ? NULL : dout, (size_t)max,
                                    nullout ? NULL : &got, t);
            el = now_ns() - t0;
            bool inval = nullout || (nullbuf && max > 0) || bad_side(side);
            if (!nullout && st != FTK_OK) EQ64(got, inval ? 777 : 0, what);
            d_note_pop(h, dout, st == FTK_OK ? got : 0, 0, side);
            if (gate(s, st, inval, what)) break;
            if (max == 0) {
                if (race_closed_by_free(st, false, what)) break;
                EXPECT(st, FTK_OK, "deque_pop_many(max 0)");
                EQ64(got, 0, "deque_pop_many(max 0)");
                break;
            }
        } else {
            prime_last();
            if (sub == 14) {
                got = ftk_deque_pop_many_v(h, side, nullbuf ? NULL : dout, (size_t)max);
            } else {
                got = ftk_deque_pop_runs_v(h, side, nullbuf ? NULL : druns, (size_t)max);
            }
            int ls = ftk_last_status();
            st = got ? FTK_OK : ls;
            if (got) EXPECT(ls, FTK_EEMPTY, "a success changed the last status");
            bool inval = nullbuf || max == 0 || bad_side(side);
            if (sub == 15 && got) { /* decode the runs */
                size_t k = 0;
                for (size_t j = 0; j < got; j++) {
                    uint64_t a = druns[2 * j], c = druns[2 * j + 1];
                    bool neg = (int64_t)c < 0;
                    uint64_t len = neg ? 0 - c : c;
                    CHECK(len >= 1 && k + len <= max && k + len <= DMAX,
                          "deque_pop_runs_v: pair %zu has count %#llx", j, (unsigned long long)c);
                    for (uint64_t x = 0; x < len; x++) dout[k++] = neg ? a - x : a + x;
                }
                got = k;
            }
            d_note_pop(h, dout, got, sub == 15 && got > 1, side);
            if (s < 0 && !g_race) { /* the handle is checked first */
                EXPECT(st, FTK_EBADHANDLE, what);
                break;
            }
            if (gate(s, st, inval, what)) break;
        }
        if (d_pop_status(m, st, t, el, what)) {
            uint64_t want = max < m->n ? max : m->n;
            EQ64(got, want, what);
            d_check_popped(m, side, dout, got, what);
        } else if (st != FTK_OK) {
            EQ64(got, 0, what);
        }
        break;
    }
    case 16: { /* last_popped */
        uint64_t w = 0x77;
        size_t n = 777;
        bool nullw = u8(r) % 2;
        st = ftk_deque_last_popped(h, nullw ? NULL : &w, nullout ? NULL : &n);
        if (gate(s, st, nullout, "deque_last_popped")) break;
        EXPECT(st, FTK_OK, "deque_last_popped");
        size_t want = dq_rec.h == h ? dq_rec.n : 0;
        EQ64(n, want, "deque_last_popped count");
        if (want && !nullw) EQ64(w, dq_rec.w[0], "deque_last_popped word");
        break;
    }
    case 17: { /* unpop_last */
        bool nullarr = u8(r) % 8 == 7;
        size_t n = dq_rec.h == h ? dq_rec.n : 0;
        if (m && m->n + n > DMAX) break; /* the model could not hold them */
        const uint64_t *arr = dq_rec.kind == 1 ? druns : dout;
        st = ftk_deque_unpop_last(h, nullarr ? NULL : arr);
        if (gate(s, st, false, "deque_unpop_last")) break;
        if (n == 0) {
            if (race_closed_by_free(st, false, "deque_unpop_last")) break;
            EXPECT(st, FTK_OK, "deque_unpop_last (nothing to give back)");
            break;
        }
        if (n > 1 && nullarr) {
            EXPECT(st, FTK_EINVAL, "deque_unpop_last(out NULL) after a pop_many");
            break;
        }
        if (!d_open(m, st, "deque_unpop_last")) break;
        if (d_bounded(m) && n > m->maxlen - m->n) {
            EXPECT(st, FTK_EFULL, "deque_unpop_last (no room)");
            break;
        }
        EXPECT(st, FTK_OK, "deque_unpop_last");
        /* the pop is undone: the words go back to their end, in their order */
        if (dq_rec.side == FTK_DEQUE_BACK) {
            for (size_t i = n; i-- > 0;) m->w[m->n++] = dq_rec.w[i];
        } else {
            memmove(m->w + n, m->w, m->n * sizeof(uint64_t));
            memcpy(m->w, dq_rec.w, n * sizeof(uint64_t));
            m->n += n;
        }
        dq_rec.n = 0; /* a second call gives nothing back */
        break;
    }
    case 18: /* wake */
        st = ftk_deque_wake(h);
        if (gate(s, st, false, "deque_wake")) break;
        /* also after close (the header's list of calls that still work
         * after close leaves wake out; a no-op either way) */
        EXPECT(st, FTK_OK, "deque_wake");
        break;
    case 19: case 20: { /* get, get_v */
        int64_t idx = pick_index(r, m ? m->n : 4);
        uint64_t w = 0x77;
        if (sub == 19) {
            st = ftk_deque_get(h, idx, nullout ? NULL : &w);
        } else {
            nullout = false;
            prime_last();
            w = ftk_deque_get_v(h, idx);
            st = w ? FTK_OK : ftk_last_status();
            if (w) EXPECT(ftk_last_status(), FTK_EEMPTY, "deque_get_v: success changed the last status");
        }
        if (gate(s, st, nullout, "deque_get")) break;
        if (!d_open(m, st, "deque_get")) break;
        int64_t i = d_norm(m, idx);
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "deque_get out of range");
            break;
        }
        EXPECT(st, FTK_OK, "deque_get");
        EQ64(w, m->w[i], "deque_get word");
        break;
    }
    case 21: { /* set */
        int64_t idx = pick_index(r, m ? m->n : 4);
        uint64_t w = pick_word(r), old = 0x77;
        st = ftk_deque_set(h, idx, w, nullout ? NULL : &old);
        if (gate(s, st, false, "deque_set")) break;
        if (!d_open(m, st, "deque_set")) break;
        int64_t i = d_norm(m, idx);
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "deque_set out of range");
            break;
        }
        EXPECT(st, FTK_OK, "deque_set");
        if (!nullout) EQ64(old, m->w[i], "deque_set old");
        m->w[i] = w;
        break;
    }
    case 22: { /* insert */
        int64_t idx = pick_index(r, m ? m->n : 4);
        uint64_t w = pick_word(r);
        if (m && !d_fits(m, 1)) break;
        st = ftk_deque_insert(h, idx, w);
        if (gate(s, st, false, "deque_insert")) break;
        if (!d_open(m, st, "deque_insert")) break;
        if (d_bounded(m) && m->n >= m->maxlen) {
            EXPECT(st, FTK_EFULL, "deque_insert at maxlen");
            break;
        }
        EXPECT(st, FTK_OK, "deque_insert");
        int64_t n = (int64_t)m->n, at = idx;
        if (at < 0) at = at + n < 0 ? 0 : at + n;
        if (at > n) at = n;
        memmove(m->w + at + 1, m->w + at, (size_t)(n - at) * sizeof(uint64_t));
        m->w[at] = w;
        m->n++;
        break;
    }
    case 23: { /* remove_at */
        int64_t idx = pick_index(r, m ? m->n : 4);
        uint64_t w = 0x77;
        st = ftk_deque_remove_at(h, idx, nullout ? NULL : &w);
        if (gate(s, st, false, "deque_remove_at")) break;
        if (!d_open(m, st, "deque_remove_at")) break;
        int64_t i = d_norm(m, idx);
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "deque_remove_at out of range");
            break;
        }
        EXPECT(st, FTK_OK, "deque_remove_at");
        if (!nullout) EQ64(w, m->w[i], "deque_remove_at word");
        words_remove(m->w, &m->n, (size_t)i, 1);
        break;
    }
    case 24: { /* remove_word */
        uint64_t w;
        uint8_t b = u8(r);
        if (m && m->n > 0 && b % 4 != 3) w = m->w[(b >> 2) % m->n];
        else w = pick_word(r);
        st = ftk_deque_remove_word(h, w);
        if (gate(s, st, false, "deque_remove_word")) break;
        if (!d_open(m, st, "deque_remove_word")) break;
        size_t i = words_find(m->w, m->n, w);
        if (i == m->n) {
            EXPECT(st, FTK_ENOTFOUND, "deque_remove_word (absent)");
            break;
        }
        EXPECT(st, FTK_OK, "deque_remove_word");
        words_remove(m->w, &m->n, i, 1);
        break;
    }
    case 25: { /* rotate */
        int64_t k;
        uint8_t b = u8(r);
        switch (b % 8) {
        case 5: k = INT64_MIN; break;
        case 6: k = INT64_MAX; break;
        case 7: k = i64(u64(r)); break;
        default: k = (int64_t)(int8_t)u8(r); break;
        }
        st = ftk_deque_rotate(h, k);
        if (gate(s, st, false, "deque_rotate")) break;
        if (!d_open(m, st, "deque_rotate")) break;
        EXPECT(st, FTK_OK, "deque_rotate");
        if (m->n > 1) {
            int64_t n = (int64_t)m->n;
            int64_t sh = k % n;
            if (sh < 0) sh += n; /* right by sh: the last sh words go to the front */
            uint64_t tmp[DMAX];
            for (int64_t i = 0; i < n; i++) tmp[(i + sh) % n] = m->w[i];
            memcpy(m->w, tmp, (size_t)n * sizeof(uint64_t));
        }
        break;
    }
    case 26: /* reverse */
        st = ftk_deque_reverse(h);
        if (gate(s, st, false, "deque_reverse")) break;
        if (!d_open(m, st, "deque_reverse")) break;
        EXPECT(st, FTK_OK, "deque_reverse");
        for (size_t i = 0; i < m->n / 2; i++) {
            uint64_t x = m->w[i];
            m->w[i] = m->w[m->n - 1 - i];
            m->w[m->n - 1 - i] = x;
        }
        break;
    case 27: case 28: { /* snapshot, clear */
        uint64_t max = pick_count(r, m ? m->n : 8);
        if (max > DMAX + 64 && max != SIZE_MAX) max = DMAX + 64;
        bool nullbuf = u8(r) % 8 == 7;
        if (max == SIZE_MAX) nullbuf = true;
        size_t n = 777;
        const char *what = sub == 27 ? "deque_snapshot" : "deque_clear";
        if (sub == 27)
            st = ftk_deque_snapshot(h, nullbuf ? NULL : dbuf, (size_t)max, nullout ? NULL : &n);
        else
            st = ftk_deque_clear(h, nullbuf ? NULL : dbuf, (size_t)max, nullout ? NULL : &n);
        bool inval = nullout || (sub == 27 && nullbuf && max > 0);
        if (gate(s, st, inval, what)) break;
        if (sub == 27) {
            if (!d_open(m, st, what)) break;
        } else if (race_closed_by_free(st, false, what)) {
            break;
        }
        EQ64(n, m->n, what);
        if (sub == 28 && nullbuf) { /* dropped */
            EXPECT(st, FTK_OK, what);
            m->n = 0;
            break;
        }
        if (m->n > max) {
            EXPECT(st, FTK_EOVERFLOW, what);
            break;
        }
        EXPECT(st, FTK_OK, what);
        for (size_t i = 0; i < m->n; i++) EQ64(dbuf[i], m->w[i], what);
        if (sub == 28) m->n = 0;
        break;
    }
    default: break;
    }
}

#define DEQUE_SUBS 29
static void op_deque(rd *r) {
    unsigned sub = u8(r) % DEQUE_SUBS;
    if (sub == 0) {
        op_deque_new(r);
        return;
    }
    free_or_call(r, sub, K_DEQUE, deque_call);
}

/* ---- counter ---------------------------------------------------------------------------------- */

static void counter_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  counter sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    uint64_t *tot = s >= 0 ? &H[s].total : NULL;
    bool nullout = pick_null(r);
    uint64_t v = pick_word(r);
    int64_t out = 0x77;
    int st;
    switch (sub) {
    case 2:
        st = ftk_counter_add(h, i64(v));
        if (gate(s, st, false, "counter_add")) break;
        EXPECT(st, FTK_OK, "counter_add");
        *tot += v;
        break;
    case 3:
        st = ftk_counter_get(h, nullout ? NULL : &out);
        if (gate(s, st, nullout, "counter_get")) break;
        EXPECT(st, FTK_OK, "counter_get");
        EQ64(out, *tot, "counter_get");
        break;
    case 4:
        st = ftk_counter_set(h, i64(v));
        if (gate(s, st, false, "counter_set")) break;
        EXPECT(st, FTK_OK, "counter_set");
        *tot = v;
        break;
    case 5: case 6:
        st = sub == 5 ? ftk_counter_exchange(h, i64(v), nullout ? NULL : &out)
                      : ftk_counter_reset(h, nullout ? NULL : &out);
        if (gate(s, st, false, "counter_exchange")) break;
        EXPECT(st, FTK_OK, "counter_exchange");
        if (!nullout) EQ64(out, *tot, "counter_exchange old");
        *tot = sub == 5 ? v : 0;
        break;
    case 7: {
        size_t c = 7777;
        st = ftk_counter_cells(h, nullout ? NULL : &c);
        if (gate(s, st, nullout, "counter_cells")) break;
        EXPECT(st, FTK_OK, "counter_cells");
        CHECK(c <= FTK_COUNTER_MAX_SLOTS, "counter_cells: %zu", c);
        break;
    }
    case 8: {
        prime_last();
        ftk_counter_add_v(h, i64(v));
        if (gate_ls(s, ftk_last_status(), 0, "counter_add_v")) break;
        *tot += v;
        break;
    }
    case 9: case 10: {
        prime_last();
        int64_t got = sub == 9 ? ftk_counter_get_v(h) : ftk_counter_exchange_v(h, i64(v));
        const char *what = sub == 9 ? "counter_get_v" : "counter_exchange_v";
        if (gate_ls(s, ftk_last_status(), (uint64_t)got, what)) break;
        EQ64(got, *tot, what);
        if (sub == 10) *tot = v;
        break;
    }
    default: break;
    }
}

static void op_counter(rd *r) {
    unsigned sub = u8(r) % 11;
    if (sub == 0) {
        int i = new_slot(r);
        uint64_t init = pick_word(r);
        if (pick_null(r)) {
            EXPECT(ftk_counter_new(i64(init), NULL), FTK_EINVAL, "counter_new(out NULL)");
            return;
        }
        ftk_handle_t h;
        EXPECT(ftk_counter_new(i64(init), &h), FTK_OK, "counter_new");
        install(i, K_COUNTER, h);
        H[i].total = init;
        return;
    }
    free_or_call(r, sub, K_COUNTER, counter_call);
}

/* ---- rwlock ------------------------------------------------------------------------------------- */

/* A lock call returned st: the model's status `want`, or (in a race) a
 * wake or the racing free. */
static void lock_status(int st, int want, int64_t t, int64_t el, const char *what) {
    if (race_closed_by_free(st, false, what)) return;
    if (st == FTK_EINTR && want != FTK_OK && want != FTK_EPERM) {
        check_wait(st, t, el, what);
        return;
    }
    EXPECT(st, want, what);
}

static void rwlock_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  rwlock sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    hslot *m = s >= 0 ? &H[s] : NULL;
    int64_t t = pick_timeout(r, false), t0 = now_ns(), el;
    int st;
    int64_t v;
    switch (sub) {
    case 2: /* read_lock */
        st = ftk_rwlock_read_lock(h, t);
        el = now_ns() - t0;
        if (gate(s, st, false, "rwlock_read_lock")) break;
        lock_status(st, m->held ? FTK_EPERM : FTK_OK, t, el, "rwlock_read_lock");
        if (st == FTK_OK) m->rdepth++;
        break;
    case 3:
        st = ftk_rwlock_read_unlock(h);
        if (gate(s, st, false, "rwlock_read_unlock")) break;
        lock_status(st, m->rdepth ? FTK_OK : FTK_EPERM, 0, 0, "rwlock_read_unlock");
        if (st == FTK_OK) m->rdepth--;
        break;
    case 4:
        st = ftk_rwlock_write_lock(h, t);
        el = now_ns() - t0;
        if (gate(s, st, false, "rwlock_write_lock")) break;
        lock_status(st, (m->held || m->rdepth) ? FTK_EPERM : FTK_OK, t, el, "rwlock_write_lock");
        if (st == FTK_OK) m->held = true;
        break;
    case 5:
        st = ftk_rwlock_write_unlock(h);
        if (gate(s, st, false, "rwlock_write_unlock")) break;
        lock_status(st, m->held ? FTK_OK : FTK_EPERM, 0, 0, "rwlock_write_unlock");
        if (st == FTK_OK) m->held = false;
        break;
    case 6:
        st = ftk_rwlock_wake(h);
        if (gate(s, st, false, "rwlock_wake")) break;
        EXPECT(st, FTK_OK, "rwlock_wake");
        break;
    default: { /* queries */
        unsigned q = sub - 7;
        static const char *const names[] = {"rwlock_readers", "rwlock_writers_waiting",
                                            "rwlock_writer_locked", "rwlock_read_held",
                                            "rwlock_write_held"};
        switch (q) {
        case 0: v = ftk_rwlock_readers(h); break;
        case 1: v = ftk_rwlock_writers_waiting(h); break;
        case 2: v = ftk_rwlock_writer_locked(h); break;
        case 3: v = ftk_rwlock_read_held(h); break;
        default: v = ftk_rwlock_write_held(h); break;
        }
        if (v < 0) {
            CHECK(gate(s, (int)v, false, names[q]), "%s: %lld on a live handle", names[q],
                  (long long)v);
            break;
        }
        if (gate(s, FTK_OK, false, names[q])) break;
        int64_t want;
        switch (q) {
        case 0: want = m->rdepth > 0; break;
        case 1: want = 0; break;
        case 2: want = m->held; break;
        case 3: want = (int64_t)m->rdepth; break;
        default: want = m->held; break;
        }
        EQ64(v, want, names[q]);
        break;
    }
    }
}

static void op_rwlock(rd *r) {
    unsigned sub = u8(r) % 12;
    if (sub == 0) {
        int i = new_slot(r);
        if (pick_null(r)) {
            EXPECT(ftk_rwlock_new(NULL), FTK_EINVAL, "rwlock_new(out NULL)");
            return;
        }
        ftk_handle_t h;
        EXPECT(ftk_rwlock_new(&h), FTK_OK, "rwlock_new");
        install(i, K_RWLOCK, h);
        return;
    }
    free_or_call(r, sub, K_RWLOCK, rwlock_call);
}

/* ---- ilock -------------------------------------------------------------------------------------- */

static void ilock_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  ilock sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    hslot *m = s >= 0 ? &H[s] : NULL;
    int64_t t = pick_timeout(r, false), t0 = now_ns(), el;
    int st;
    switch (sub) {
    case 2:
        st = ftk_ilock_lock(h, t);
        el = now_ns() - t0;
        if (gate(s, st, false, "ilock_lock")) break;
        lock_status(st, m->held ? FTK_EPERM : FTK_OK, t, el, "ilock_lock");
        if (st == FTK_OK) m->held = true;
        break;
    case 3:
        st = ftk_ilock_unlock(h);
        if (gate(s, st, false, "ilock_unlock")) break;
        lock_status(st, m->held ? FTK_OK : FTK_EPERM, 0, 0, "ilock_unlock");
        if (st == FTK_OK) m->held = false;
        break;
    case 4: case 5: /* poll, cede: nobody waits, so the holder keeps it */
        st = sub == 4 ? ftk_ilock_poll(h, t) : ftk_ilock_cede(h, t);
        if (gate(s, st, false, "ilock_poll/cede")) break;
        lock_status(st, m->held ? FTK_OK : FTK_EPERM, 0, 0, "ilock_poll/cede");
        break;
    case 6:
        st = ftk_ilock_wake(h);
        if (gate(s, st, false, "ilock_wake")) break;
        EXPECT(st, FTK_OK, "ilock_wake");
        break;
    default: {
        int v = sub == 7 ? ftk_ilock_locked(h) : ftk_ilock_held(h);
        const char *what = sub == 7 ? "ilock_locked" : "ilock_held";
        if (v < 0) {
            CHECK(gate(s, v, false, what), "%s: %s on a live handle", what, SN(v));
            break;
        }
        if (gate(s, FTK_OK, false, what)) break;
        EXPECT(v, m->held, what);
        break;
    }
    }
}

static void op_ilock(rd *r) {
    unsigned sub = u8(r) % 9;
    if (sub == 0) {
        int i = new_slot(r);
        int64_t iv;
        switch (u8(r) % 6) {
        case 0: iv = 5000000; break;
        case 1: iv = 0; break;
        case 2: iv = -1; break;
        case 3: iv = INT64_MIN; break;
        case 4: iv = INT64_MAX; break;
        default: iv = u8(r); break;
        }
        bool nullout = pick_null(r);
        ftk_handle_t h;
        int st = ftk_ilock_new(iv, nullout ? NULL : &h);
        if (nullout || iv < 0) {
            EXPECT(st, FTK_EINVAL, "ilock_new(out NULL or interval < 0)");
            return;
        }
        EXPECT(st, FTK_OK, "ilock_new");
        install(i, K_ILOCK, h);
        return;
    }
    free_or_call(r, sub, K_ILOCK, ilock_call);
}

/* ---- batch ---------------------------------------------------------------------------------------- */

static uint64_t bbuf[BMAX + 64];

/* The calls that start a new per-thread claim record (batch.c note_begin). */
static void b_note_begin(ftk_handle_t h) {
    bt_rec.h = h;
    bt_rec.has = false;
}
static void b_note_claim(uint64_t w) {
    bt_rec.has = true;
    bt_rec.w = w;
}

/* A racing close explains an FTK_ECLOSED the model (neither closed nor
 * failed) does not. */
static void b_race_close(bmodel *m, int st) {
    if (st == FTK_ECLOSED && g_race_may_close && !m->closed && !m->failed) m->closed = true;
}

/* What a claim of up to max words (timeout 0) returns under the model;
 * takes the words into out. */
static int b_claim(bmodel *m, uint64_t *out, size_t max, size_t *got) {
    *got = 0;
    if (m->closed || m->failed) return FTK_ECLOSED;
    if (m->role) return FTK_EPERM;
    if (m->gn) {
        out[0] = m->gb[0];
        words_remove(m->gb, &m->gn, 0, 1);
        *got = 1;
        return FTK_OK;
    }
    if (m->rn) {
        size_t k = m->rn < max ? m->rn : max;
        memcpy(out, m->rest, k * sizeof(uint64_t));
        words_remove(m->rest, &m->rn, 0, k);
        *got = k;
        return FTK_OK;
    }
    m->role = true;
    return FTK_BATCH_REFILL;
}

/* A claim status st under the model (whose state a racing close may have
 * changed): returns the model's status after accounting for the race. */
static int b_expect(bmodel *m, int st, uint64_t *out, size_t max, size_t *got, const char *what) {
    if (race_closed_by_free(st, m->closed || m->failed, what)) return -1000;
    b_race_close(m, st);
    return b_claim(m, out, max, got);
}

static void batch_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  batch sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    bmodel *m = s >= 0 ? &BM[s] : NULL;
    bool nullout = pick_null(r);
    int st;
    uint64_t mw[BMAX + 64];
    size_t mgot;
    switch (sub) {
    case 2: case 3: case 4: { /* load, load_v, load_timed_v */
        int64_t t = pick_timeout(r, false), t0 = now_ns();
        uint64_t w = 0x77;
        const char *what = sub == 2 ? "batch_load" : sub == 3 ? "batch_load_v" : "batch_load_timed_v";
        if (sub == 2) {
            st = ftk_batch_load(h, nullout ? NULL : &w, t);
        } else {
            nullout = false;
            prime_last();
            w = sub == 3 ? ftk_batch_load_v(h) : ftk_batch_load_timed_v(h, t);
            st = w ? FTK_OK : ftk_last_status();
            if (w) EXPECT(ftk_last_status(), FTK_EEMPTY, "batch_load_v: success changed the last status");
        }
        int64_t el = now_ns() - t0;
        b_note_begin(h);
        if (st == FTK_OK) b_note_claim(w);
        if (gate(s, st, nullout, what)) break;
        if (st == FTK_EINTR) { /* a signal (the single-threaded model never waits) */
            check_wait(st, t, el, what);
            break;
        }
        int want = b_expect(m, st, mw, 1, &mgot, what);
        if (want == -1000) break;
        EXPECT(st, want, what);
        if (st == FTK_OK) EQ64(w, mw[0], what);
        break;
    }
    case 5: { /* take_many */
        uint64_t max = pick_count(r, m ? m->rn : 4);
        if (max > BMAX + 64 && max != SIZE_MAX) max = BMAX + 64;
        bool nullbuf = u8(r) % 8 == 7 || max == SIZE_MAX;
        size_t got = 777;
        st = ftk_batch_take_many(h, nullbuf ? NULL : bbuf, (size_t)max, nullout ? NULL : &got);
        b_note_begin(h);
        if (st == FTK_OK) b_note_claim(bbuf[0]);
        bool inval = nullout || nullbuf || max == 0;
        if (!nullout && st != FTK_OK) EQ64(got, 0, "batch_take_many: count on failure");
        if (gate(s, st, inval, "batch_take_many")) break;
        int want = b_expect(m, st, mw, (size_t)max, &mgot, "batch_take_many");
        if (want == -1000) break;
        EXPECT(st, want, "batch_take_many");
        if (st == FTK_OK) {
            EQ64(got, mgot, "batch_take_many count");
            for (size_t i = 0; i < got; i++) EQ64(bbuf[i], mw[i], "batch_take_many word");
        }
        break;
    }
    case 6: case 7: { /* fill, fill_range */
        uint64_t n;
        switch (u8(r) % 6) {
        case 1: n = 0; break;
        case 2: n = m ? m->size + 1 : 2; break;
        case 3: n = SIZE_MAX; break;
        case 4: n = m ? m->size : 1; break;
        default: n = 1 + u8(r) % 8; break;
        }
        if (n > BMAX && m && n <= m->size) n = BMAX;
        bool nullw = sub == 6 && u8(r) % 8 == 7, nullfirst = u8(r) % 2;
        uint64_t fw = u8(r) % 8 == 7 ? UINT64_MAX - u8(r) % 4 : fresh_word();
        for (uint64_t i = 0; i < n && i < BMAX; i++) bbuf[i] = sub == 6 ? pick_word(r) : fw + i;
        uint64_t first = 0x77;
        const char *what = sub == 6 ? "batch_fill" : "batch_fill_range";
        st = sub == 6 ? ftk_batch_fill(h, nullw ? NULL : bbuf, (size_t)n, nullfirst ? NULL : &first)
                      : ftk_batch_fill_range(h, fw, (size_t)n, nullfirst ? NULL : &first);
        b_note_begin(h);
        if (st == FTK_OK && !nullfirst) b_note_claim(bbuf[0]);
        if (gate(s, st, nullw, what)) break;
        if (race_closed_by_free(st, m->closed || m->failed, what)) break;
        b_race_close(m, st);
        int want;
        if (!m->role)
            want = FTK_EPERM;
        else if (n == 0 || n > m->size || (sub == 7 && fw + n < fw))
            want = FTK_EINVAL;
        else if (m->closed || m->failed)
            want = FTK_ECLOSED;
        else
            want = FTK_OK;
        EXPECT(st, want, what);
        if (want == FTK_ECLOSED) m->role = false;
        if (want != FTK_OK) break;
        m->role = false;
        size_t k = nullfirst ? 0 : 1;
        if (!nullfirst) EQ64(first, bbuf[0], "batch_fill first");
        m->rn = (size_t)n - k;
        memcpy(m->rest, bbuf + k, m->rn * sizeof(uint64_t));
        break;
    }
    case 8: case 9: { /* abandon, fail */
        const char *what = sub == 8 ? "batch_abandon" : "batch_fail";
        st = sub == 8 ? ftk_batch_abandon(h) : ftk_batch_fail(h);
        b_note_begin(h);
        if (gate(s, st, false, what)) break;
        if (race_closed_by_free(st, m->closed || m->failed, what)) break;
        b_race_close(m, st);
        int want = !m->role ? FTK_EPERM : (m->closed || m->failed) ? FTK_ECLOSED : FTK_OK;
        EXPECT(st, want, what);
        if (want != FTK_EPERM) m->role = false;
        if (want == FTK_OK && sub == 9) m->failed = true;
        break;
    }
    case 10: /* close */
        st = ftk_batch_close(h);
        if (gate(s, st, false, "batch_close")) break;
        EXPECT(st, FTK_OK, "batch_close");
        m->closed = true;
        break;
    case 11: { /* drain */
        uint64_t max = pick_count(r, m ? m->rn + m->gn : 4);
        if (max > BMAX + 64 && max != SIZE_MAX) max = BMAX + 64;
        bool nullbuf = u8(r) % 8 == 7 || max == SIZE_MAX;
        size_t got = 777;
        st = ftk_batch_drain(h, nullbuf ? NULL : bbuf, (size_t)max, nullout ? NULL : &got);
        bool inval = nullout || (nullbuf && max > 0);
        if (gate(s, st, inval, "batch_drain")) break;
        if (st == FTK_OK && !m->closed && !m->failed && race_dying("batch_drain")) break;
        if (st == FTK_OK && g_race_may_close && !m->closed && !m->failed) m->closed = true;
        if (!(m->closed || m->failed)) {
            EXPECT(st, FTK_EBUSY, "batch_drain before close");
            EQ64(got, 0, "batch_drain before close");
            break;
        }
        EXPECT(st, FTK_OK, "batch_drain");
        size_t k = 0;
        if (!m->role) {
            k = m->rn < max ? m->rn : (size_t)max;
            for (size_t i = 0; i < k; i++) mw[i] = m->rest[i];
            words_remove(m->rest, &m->rn, 0, k);
        }
        size_t g = m->gn < max - k ? m->gn : (size_t)(max - k);
        for (size_t i = 0; i < g; i++) mw[k + i] = m->gb[i];
        words_remove(m->gb, &m->gn, 0, g);
        EQ64(got, k + g, "batch_drain count");
        for (size_t i = 0; i < got; i++) EQ64(bbuf[i], mw[i], "batch_drain word");
        break;
    }
    case 12: { /* unload_last */
        uint64_t w = 0x77;
        st = ftk_batch_unload_last(h, nullout ? NULL : &w);
        if (gate(s, st, false, "batch_unload_last")) break;
        if (race_closed_by_free(st, m->closed || m->failed, "batch_unload_last")) break;
        if (bt_rec.h != h || !bt_rec.has) {
            /* the refiller never has a record on its executor: its claim
             * that took the role started a new one (see the report on
             * the header's "FTK_EPERM") */
            EXPECT(st, FTK_ENOTFOUND, "batch_unload_last (nothing to give back)");
            break;
        }
        b_race_close(m, st);
        bt_rec.has = false;
        if (!nullout) EQ64(w, bt_rec.w, "batch_unload_last word");
        if (m->closed || m->failed) {
            EXPECT(st, FTK_ECLOSED, "batch_unload_last after close");
            break;
        }
        EXPECT(st, FTK_OK, "batch_unload_last");
        CHECK(m->gn < GMAX, "harness: give-back model overflow");
        m->gb[m->gn++] = bt_rec.w;
        break;
    }
    case 13:
        st = ftk_batch_wake(h);
        if (gate(s, st, false, "batch_wake")) break;
        EXPECT(st, FTK_OK, "batch_wake");
        break;
    case 14: {
        int v = ftk_batch_is_refiller(h);
        if (gate(s, v < 0 ? v : FTK_OK, false, "batch_is_refiller")) break;
        EXPECT(v, m->role, "batch_is_refiller");
        break;
    }
    case 15: {
        size_t v = 7;
        st = ftk_batch_size(h, nullout ? NULL : &v);
        if (gate(s, st, nullout, "batch_size")) break;
        EXPECT(st, FTK_OK, "batch_size");
        EQ64(v, m->size, "batch_size");
        break;
    }
    case 16: {
        int v = ftk_batch_flags(h);
        if (gate(s, v < 0 ? v : FTK_OK, false, "batch_flags")) break;
        if ((v & FTK_BATCH_CLOSED) && !m->closed && race_dying("batch_flags")) break;
        if ((v & FTK_BATCH_CLOSED) && g_race_may_close) m->closed = true;
        int want = (m->role ? FTK_BATCH_REFILLING : 0) | (m->failed ? FTK_BATCH_FAILED : 0) |
                   (m->closed ? FTK_BATCH_CLOSED : 0);
        EXPECT(v, want, "batch_flags");
        break;
    }
    default: {
        size_t v = 7;
        st = ftk_batch_available(h, nullout ? NULL : &v);
        if (gate(s, st, nullout, "batch_available")) break;
        EXPECT(st, FTK_OK, "batch_available");
        EQ64(v, (m->role ? 0 : m->rn) + m->gn, "batch_available");
        break;
    }
    }
}

static void op_batch(rd *r) {
    unsigned sub = u8(r) % 18;
    if (sub == 0) {
        int i = new_slot(r);
        uint64_t size;
        switch (u8(r) % 8) {
        case 1: size = 0; break;
        case 2: size = FTK_BATCH_MAX_SIZE + 1ULL; break;
        case 3: size = SIZE_MAX; break;
        case 4: size = 64; break;
        case 5: size = 1 + u16(r) % 4096; break;
        default: size = 1 + u8(r) % 8; break;
        }
        bool nullout = pick_null(r);
        ftk_handle_t h;
        int st = ftk_batch_new((size_t)size, nullout ? NULL : &h);
        if (nullout || size == 0) {
            EXPECT(st, FTK_EINVAL, "batch_new(out NULL or size 0)");
            return;
        }
        if (size > FTK_BATCH_MAX_SIZE) {
            EXPECT(st, FTK_EOVERFLOW, "batch_new(size > FTK_BATCH_MAX_SIZE)");
            return;
        }
        EXPECT(st, FTK_OK, "batch_new");
        install(i, K_BATCH, h);
        memset(&BM[i], 0, sizeof BM[i]);
        BM[i].size = size;
        return;
    }
    free_or_call(r, sub, K_BATCH, batch_call);
}

/* ---- sem ---------------------------------------------------------------------------------------------- */

static void s_note(ftk_handle_t h, int64_t result) {
    sem_rec.h = h;
    sem_rec.result = result;
}

static uint64_t pick_sem_word(rd *r, const smodel *m) {
    uint8_t b = u8(r);
    switch (b % 8) {
    case 1: return 0;
    case 2: return (uint64_t)INT64_MAX + 1 + (b >> 3);
    case 3: return UINT64_MAX;
    case 4: return INT64_MAX;
    case 5: return 1 + (b >> 3) % 4; /* duplicates */
    case 6: return (m && m->qn) ? m->q[(b >> 3) % m->qn] : fresh_word();
    default: return fresh_word();
    }
}

/* try_take under the model */
static int s_try(smodel *m) {
    if (m->qn == 0 && m->count > 0) {
        m->count--;
        return FTK_OK;
    }
    return FTK_EBUSY;
}

static int s_release(smodel *m, uint64_t *handoff) {
    *handoff = 0;
    if (m->qn) {
        *handoff = m->q[0];
        words_remove(m->q, &m->qn, 0, 1);
        return FTK_SEM_HANDOFF;
    }
    if (m->count == m->value) return FTK_EOVERFLOW;
    m->count++;
    return FTK_OK;
}

static void sem_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  sem sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    smodel *m = s >= 0 ? &SM[s] : NULL;
    bool nullout = pick_null(r);
    int st;
    switch (sub) {
    case 2: /* try_acquire */
        st = ftk_sem_try_acquire(h);
        s_note(h, st);
        if (gate(s, st, false, "sem_try_acquire")) break;
        EXPECT(st, s_try(m), "sem_try_acquire");
        break;
    case 3: { /* acquire_or_enqueue */
        uint64_t w = pick_sem_word(r, m);
        if (m && m->qn >= SQMAX) break;
        st = ftk_sem_acquire_or_enqueue(h, w);
        s_note(h, st);
        if (gate(s, st, false, "sem_acquire_or_enqueue")) break;
        if (w == 0 || w > (uint64_t)INT64_MAX) {
            EXPECT(st, FTK_EINVAL, "sem_acquire_or_enqueue(bad word)");
            break;
        }
        int want = s_try(m);
        if (want != FTK_OK) {
            want = FTK_SEM_QUEUED;
            m->q[m->qn++] = w;
        }
        EXPECT(st, want, "sem_acquire_or_enqueue");
        break;
    }
    case 4: case 5: { /* release, release_word */
        uint64_t ho = 0x77;
        int64_t rw = 0;
        if (sub == 4) {
            st = ftk_sem_release(h, nullout ? NULL : &ho);
            s_note(h, st == FTK_SEM_HANDOFF ? (int64_t)ho : st);
        } else {
            nullout = false;
            rw = ftk_sem_release_word(h);
            st = rw > 0 ? FTK_SEM_HANDOFF : (int)rw;
            ho = rw > 0 ? (uint64_t)rw : 0;
            s_note(h, rw);
        }
        if (gate(s, st, nullout, "sem_release")) break;
        uint64_t want_w;
        int want = s_release(m, &want_w);
        EXPECT(st, want, "sem_release");
        EQ64(ho, want_w, "sem_release handoff word (FIFO)");
        break;
    }
    case 6: { /* cancel */
        uint64_t w = pick_sem_word(r, m);
        st = ftk_sem_cancel(h, w);
        if (gate(s, st, false, "sem_cancel")) break;
        size_t i = words_find(m->q, m->qn, w);
        if (i == m->qn) {
            EXPECT(st, FTK_ENOTFOUND, "sem_cancel (not queued)");
            break;
        }
        EXPECT(st, FTK_OK, "sem_cancel");
        words_remove(m->q, &m->qn, i, 1);
        break;
    }
    case 7: { /* acquire_timed */
        bool blocks = m && !(m->qn == 0 && m->count > 0);
        int64_t t = pick_timeout(r, blocks), t0 = now_ns();
        st = ftk_sem_acquire_timed(h, t);
        int64_t el = now_ns() - t0;
        if (gate(s, st, false, "sem_acquire_timed")) break;
        if (race_closed_by_free(st, false, "sem_acquire_timed")) break;
        if (s_try(m) == FTK_OK) {
            EXPECT(st, FTK_OK, "sem_acquire_timed");
            break;
        }
        if (t == 0) {
            EXPECT(st, FTK_EBUSY, "sem_acquire_timed(0)");
            break;
        }
        CHECK(st == FTK_ETIMEDOUT || st == FTK_EINTR, "sem_acquire_timed: %s with no permit", SN(st));
        check_wait(st, t, el, "sem_acquire_timed");
        break;
    }
    case 8: { /* last: no liveness check */
        int64_t v = ftk_sem_last(h);
        uint64_t u = h2u(h);
        if (h == FTK_NULL_HANDLE || (u >> 56) != KIND_SEM_BYTE)
            EQ64(v, FTK_EBADHANDLE, "sem_last(NULL or another kind)");
        else if (sem_rec.h != h)
            EQ64(v, FTK_ENOTFOUND, "sem_last (no record)");
        else
            EQ64(v, sem_rec.result, "sem_last");
        break;
    }
    case 9: case 10: case 11: {
        int64_t v = sub == 9 ? ftk_sem_value(h) : sub == 10 ? ftk_sem_waiters(h) : ftk_sem_initial(h);
        const char *what = sub == 9 ? "sem_value" : sub == 10 ? "sem_waiters" : "sem_initial";
        if (gate(s, v < 0 ? (int)v : FTK_OK, false, what)) break;
        int64_t want = sub == 9 ? (m->qn ? 0 : m->count) : sub == 10 ? (int64_t)m->qn : m->value;
        EQ64(v, want, what);
        break;
    }
    default:
        st = ftk_sem_wake(h);
        if (gate(s, st, false, "sem_wake")) break;
        EXPECT(st, FTK_OK, "sem_wake");
        break;
    }
}

static void op_sem(rd *r) {
    unsigned sub = u8(r) % 13;
    if (sub == 0) {
        int i = new_slot(r);
        int64_t v;
        switch (u8(r) % 8) {
        case 1: v = 0; break;
        case 2: v = -1; break;
        case 3: v = INT64_MIN; break;
        case 4: v = INT64_MAX; break;
        default: v = 1 + u8(r) % 4; break;
        }
        bool nullout = pick_null(r);
        ftk_handle_t h;
        int st = ftk_sem_new(v, nullout ? NULL : &h);
        if (nullout || v < 1) {
            EXPECT(st, FTK_EINVAL, "sem_new(out NULL or value < 1)");
            return;
        }
        EXPECT(st, FTK_OK, "sem_new");
        install(i, K_SEM, h);
        SM[i].value = SM[i].count = v;
        SM[i].qn = 0;
        return;
    }
    free_or_call(r, sub, K_SEM, sem_call);
}

/* ---- gather ------------------------------------------------------------------------------------------- */

static uint64_t gbuf[GKMAX + 64];

static int64_t pick_key(rd *r, const gmodel *m) {
    uint8_t b = u8(r);
    switch (b % 8) {
    case 1: return INT64_MAX - (b >> 3) % 4;
    case 2: return INT64_MIN + (b >> 3) % 4;
    case 3: return -(int64_t)((b >> 3) % 4) - 1;
    case 4: return i64(u64(r));
    case 5: case 6: if (m && m->n) return m->k[(b >> 3) % m->n]; return (b >> 3) % 16;
    default: return (b >> 3) % 16;
    }
}

static ptrdiff_t g_find(const gmodel *m, int64_t key) {
    for (size_t i = 0; i < m->n; i++)
        if (m->k[i] == key) return (ptrdiff_t)i;
    return -1;
}

static void g_remove(gmodel *m, size_t i) {
    m->k[i] = m->k[m->n - 1];
    m->w[i] = m->w[m->n - 1];
    m->n--;
}

/* The model's answer to a take / get / run from `first` (at most max keys,
 * clamped at INT64_MAX) that returned st; checks and applies it. */
static void g_check_run(gmodel *m, int st, int64_t first, uint64_t max, const uint64_t *out,
                        size_t got, bool take, int64_t t, int64_t el, const char *what) {
    if (race_closed_by_free(st, m->closed || m->failed, what)) return;
    if (st == FTK_ECLOSED && g_race_may_close && !m->closed && !m->failed) m->closed = true;
    if (m->closed || m->failed) {
        EXPECT(st, FTK_ECLOSED, what);
        return;
    }
    if (g_find(m, first) < 0) {
        if (t == 0)
            EXPECT(st, FTK_EEMPTY, what);
        else
            CHECK(st == FTK_ETIMEDOUT || st == FTK_EINTR, "%s: %s for an absent key", what, SN(st));
        check_wait(st, t, el, what);
        return;
    }
    EXPECT(st, FTK_OK, what);
    uint64_t lim = (uint64_t)INT64_MAX - (uint64_t)first; /* keys after first */
    size_t n = 0;
    for (;; n++) {
        if (n >= max || (n > 0 && (uint64_t)(n - 1) >= lim)) break;
        ptrdiff_t i = g_find(m, (int64_t)((uint64_t)first + n));
        if (i < 0) break;
        CHECK(n < got, "%s: %zu words, the model has more", what, got);
        CHECK(out[n] == m->w[i], "%s: key %lld gave %#llx, expected %#llx", what,
              (long long)((uint64_t)first + n), (unsigned long long)out[n],
              (unsigned long long)m->w[i]);
        if (take) g_remove(m, (size_t)i);
    }
    EQ64(got, n, what);
}

static bool g_blocks(const gmodel *m, int64_t key) {
    return m && !m->closed && !m->failed && g_find(m, key) < 0;
}

static void gather_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  gather sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    gmodel *m = s >= 0 ? &GM[s] : NULL;
    bool nullout = pick_null(r);
    int st;
    int64_t t0, el;
    switch (sub) {
    case 2: case 3: /* close, fail */
        st = sub == 2 ? ftk_gather_close(h) : ftk_gather_fail(h);
        if (gate(s, st, false, "gather_close/fail")) break;
        EXPECT(st, FTK_OK, "gather_close/fail");
        if (sub == 2) m->closed = true;
        else m->failed = true;
        break;
    case 4:
        st = ftk_gather_wake(h);
        if (gate(s, st, false, "gather_wake")) break;
        EXPECT(st, FTK_OK, "gather_wake");
        break;
    case 5: {
        int v = ftk_gather_state(h);
        if (gate(s, v < 0 ? v : FTK_OK, false, "gather_state")) break;
        if ((v & FTK_GATHER_CLOSED) && !m->closed && race_dying("gather_state")) break;
        if ((v & FTK_GATHER_CLOSED) && g_race_may_close) m->closed = true;
        EXPECT(v, (m->failed ? FTK_GATHER_FAILED : 0) | (m->closed ? FTK_GATHER_CLOSED : 0),
               "gather_state");
        break;
    }
    case 6: { /* insert */
        int64_t key = pick_key(r, m);
        uint64_t w = u8(r) % 8 == 7 ? 0 : fresh_word();
        if (m && m->n >= GKMAX) break;
        st = ftk_gather_insert(h, key, w);
        uint64_t res = ftk_last_result();
        EQ64(res, st == FTK_OK, "gather_insert: ftk_last_result()");
        if (gate(s, st, w == 0, "gather_insert")) break;
        if (race_closed_by_free(st, m->closed, "gather_insert")) break;
        if (st == FTK_ECLOSED && g_race_may_close && !m->closed) m->closed = true;
        if (m->closed) {
            EXPECT(st, FTK_ECLOSED, "gather_insert after close");
            break;
        }
        if (g_find(m, key) >= 0) {
            EXPECT(st, FTK_EBUSY, "gather_insert of a present key");
            break;
        }
        EXPECT(st, FTK_OK, "gather_insert");
        m->k[m->n] = key;
        m->w[m->n++] = w;
        break;
    }
    case 7: case 8: case 9: { /* take, take_v, get_v */
        int64_t key = pick_key(r, m);
        int64_t t = pick_timeout(r, g_blocks(m, key));
        uint64_t w = 0x77;
        const char *what = sub == 7 ? "gather_take" : sub == 8 ? "gather_take_v" : "gather_get_v";
        t0 = now_ns();
        if (sub == 7) {
            st = ftk_gather_take(h, key, t, nullout ? NULL : &w);
        } else {
            nullout = false;
            prime_last();
            w = sub == 8 ? ftk_gather_take_v(h, key, t) : ftk_gather_get_v(h, key, t);
            st = w ? FTK_OK : ftk_last_status();
            if (w) EXPECT(ftk_last_status(), FTK_EEMPTY, "gather _v: a success changed the last status");
        }
        el = now_ns() - t0;
        if (gate(s, st, nullout, what)) break;
        g_check_run(m, st, key, 1, &w, st == FTK_OK, sub != 9, t, el, what);
        break;
    }
    case 10: case 11: { /* take_run, get_run */
        int64_t first = pick_key(r, m);
        uint64_t max = pick_count(r, 8);
        bool nullbuf = u8(r) % 8 == 7, nullgot = u8(r) % 4 == 3;
        if (max > GKMAX + 64 && !nullbuf) max = GKMAX + 64;
        int64_t t = pick_timeout(r, g_blocks(m, first));
        size_t got = 777;
        const char *what = sub == 10 ? "gather_take_run" : "gather_get_run";
        t0 = now_ns();
        int64_t ret = sub == 10 ? ftk_gather_take_run(h, first, (size_t)max, nullbuf ? NULL : gbuf,
                                                      t, nullgot ? NULL : &got)
                                : ftk_gather_get_run(h, first, (size_t)max, nullbuf ? NULL : gbuf,
                                                     t, nullgot ? NULL : &got);
        el = now_ns() - t0;
        st = ret > 0 ? FTK_OK : (int)ret;
        CHECK(ret != 0, "%s returned 0", what);
        if (!nullgot) EQ64(got, ret > 0 ? (uint64_t)ret : 0, "gather run: *got");
        bool inval = nullbuf || max == 0;
        if (gate(s, st, inval, what)) break;
        g_check_run(m, st, first, max, gbuf, ret > 0 ? (size_t)ret : 0, sub == 10, t, el, what);
        break;
    }
    case 12: { /* insert_run */
        int64_t first = pick_key(r, m);
        uint64_t n = pick_count(r, 8);
        bool nullw = u8(r) % 8 == 7, nulldone = u8(r) % 4 == 3 && !g_race, zero = u8(r) % 16 == 15;
        if (n > 64 && !nullw) n = 64;
        if (m && m->n + n > GKMAX) break;
        for (uint64_t j = 0; j < n && j < 64; j++) gbuf[j] = fresh_word();
        if (zero && n > 0 && n <= 64) gbuf[n - 1] = 0;
        size_t done = 777;
        st = ftk_gather_insert_run(h, first, nullw ? NULL : gbuf, (size_t)n, nulldone ? NULL : &done);
        bool past = n > 0 && n - 1 > (uint64_t)INT64_MAX - (uint64_t)first;
        bool inval = (nullw && n > 0) || past || (!nullw && zero && n > 0 && n <= 64);
        if (gate(s, st, inval, "gather_insert_run")) {
            if (!nulldone) EQ64(done, 0, "gather_insert_run: *done on failure");
            break;
        }
        if (race_closed_by_free(st, m->closed, "gather_insert_run")) break;
        size_t kexp = 0; /* the items that would go in */
        for (uint64_t j = 0; j < n; j++)
            if (g_find(m, (int64_t)((uint64_t)first + j)) < 0) kexp++;
        if (g_race_may_close && !m->closed && (st == FTK_ECLOSED || done < kexp)) {
            /* the racing close came part-way: the items before it went in
             * (each item is its own insert), every one after it was refused */
            size_t k = 0;
            for (uint64_t j = 0; j < n && k < done; j++) {
                int64_t key = (int64_t)((uint64_t)first + j);
                if (g_find(m, key) >= 0) continue;
                m->k[m->n] = key;
                m->w[m->n++] = gbuf[j];
                k++;
            }
            EQ64(k, done, "gather_insert_run racing a close: *done");
            m->closed = true;
            break;
        }
        int want = FTK_OK;
        size_t k = 0;
        for (uint64_t j = 0; j < n; j++) {
            int64_t key = (int64_t)((uint64_t)first + j);
            int rj = m->closed ? FTK_ECLOSED : g_find(m, key) >= 0 ? FTK_EBUSY : FTK_OK;
            if (rj == FTK_OK) {
                m->k[m->n] = key;
                m->w[m->n++] = gbuf[j];
                k++;
            } else if (want == FTK_OK) {
                want = rj;
            }
        }
        /* a racing free refuses the items after it (each item is its own
         * insert): fewer went in, the first failure may still be EBUSY */
        if (!nulldone && done < k && race_dying("gather_insert_run")) break;
        EXPECT(st, want, "gather_insert_run");
        if (!nulldone) EQ64(done, k, "gather_insert_run: *done");
        break;
    }
    case 13: {
        int64_t v = ftk_gather_len(h);
        if (gate(s, v < 0 ? (int)v : FTK_OK, false, "gather_len")) break;
        EQ64(v, m->n, "gather_len");
        break;
    }
    default: { /* drain */
        uint64_t cap = pick_count(r, m ? m->n : 8);
        bool nullbuf = u8(r) % 8 == 7;
        if (cap > GKMAX + 64 && !nullbuf) cap = GKMAX + 64;
        size_t got = 777;
        st = ftk_gather_drain(h, nullbuf ? NULL : gbuf, (size_t)cap, nullout ? NULL : &got);
        bool inval = nullout || (nullbuf && cap > 0);
        if (gate(s, st, inval, "gather_drain")) break;
        if (race_closed_by_free(st, false, "gather_drain")) break;
        EXPECT(st, m->n > cap ? FTK_EOVERFLOW : FTK_OK, "gather_drain");
        CHECK(got <= cap && got <= m->n, "gather_drain: %zu words (cap %llu, model %zu)", got,
              (unsigned long long)cap, m->n);
        if (st == FTK_OK) EQ64(got, m->n, "gather_drain count");
        /* each word came from the model, and whole stripes went */
        bool stripe_hit[1024] = {false};
        for (size_t j = 0; j < got; j++) {
            size_t i = 0;
            while (i < m->n && m->w[i] != gbuf[j]) i++;
            CHECK(i < m->n, "gather_drain: word %#llx is not inside", (unsigned long long)gbuf[j]);
            stripe_hit[(uint64_t)m->k[i] & m->mask] = true;
            g_remove(m, i);
        }
        for (size_t i = 0; i < m->n; i++)
            CHECK(!stripe_hit[(uint64_t)m->k[i] & m->mask],
                  "gather_drain: key %lld left in a stripe it drained", (long long)m->k[i]);
        break;
    }
    }
}

#define GATHER_SUBS 15
static void op_gather(rd *r) {
    unsigned sub = u8(r) % GATHER_SUBS;
    if (sub == 0) {
        int i = new_slot(r);
        uint64_t scaling;
        switch (u8(r) % 8) {
        case 1: scaling = 1; break;
        case 2: scaling = 2 + u8(r) % 8; break;
        case 3: scaling = 255; break;
        case 4: scaling = 256; break;
        case 5: scaling = SIZE_MAX; break;
        case 6: scaling = SIZE_MAX / 4 + 1; break;
        default: scaling = 0; break;
        }
        bool nullout = pick_null(r);
        ftk_handle_t h;
        int st = ftk_gather_new((size_t)scaling, nullout ? NULL : &h);
        if (nullout) {
            EXPECT(st, FTK_EINVAL, "gather_new(out NULL)");
            return;
        }
        EXPECT(st, FTK_OK, "gather_new");
        install(i, K_GATHER, h);
        memset(&GM[i], 0, sizeof GM[i]);
        /* stripes: the power of two at or above 4 * scaling (0: 16), 8..1024 */
        uint64_t sc = scaling ? scaling : 16, want = sc > 256 ? 1024 : 4 * sc, n = 8;
        while (n < want) n *= 2;
        GM[i].mask = n - 1;
        return;
    }
    free_or_call(r, sub, K_GATHER, gather_call);
}

/* ---- misc ------------------------------------------------------------------------------------------- */

static void op_many_rwlocks(rd *r) {
    enum { NL = 12 };
    unsigned k = 1 + u8(r) % NL;
    ftk_handle_t L[NL];
    unsigned depth[NL];
    bool dead[NL] = {false};
    TRACE("  many rwlocks: %u\n", k);
    for (unsigned i = 0; i < k; i++) {
        EXPECT(ftk_rwlock_new(&L[i]), FTK_OK, "rwlock_new (many)");
        depth[i] = 1 + u8(r) % 3;
        for (unsigned j = 0; j < depth[i]; j++)
            EXPECT(ftk_rwlock_read_lock(L[i], j ? 0 : SHORT_NS), FTK_OK, "rwlock_read_lock (many)");
    }
    for (unsigned i = 0; i < k; i++) {
        EQ64(ftk_rwlock_read_held(L[i]), depth[i], "rwlock_read_held (many)");
        EQ64(ftk_rwlock_readers(L[i]), 1, "rwlock_readers (many)");
        EXPECT(ftk_rwlock_write_lock(L[i], 0), FTK_EPERM, "rwlock_write_lock while reading (many)");
    }
    for (unsigned step = 0, n = u8(r) % 32; step < n; step++) {
        unsigned i = u8(r) % k;
        switch (u8(r) % 5) {
        case 0: /* free while held */
            EXPECT(ftk_rwlock_free(L[i]), dead[i] ? FTK_EBADHANDLE : FTK_OK, "rwlock_free (many)");
            dead[i] = true;
            break;
        case 1: /* write after the last read hold */
            if (dead[i]) break;
            EXPECT(ftk_rwlock_write_lock(L[i], 0), depth[i] ? FTK_EPERM : FTK_OK,
                   "rwlock_write_lock (many)");
            if (!depth[i]) EXPECT(ftk_rwlock_write_unlock(L[i]), FTK_OK, "rwlock_write_unlock (many)");
            break;
        default: {
            int st = ftk_rwlock_read_unlock(L[i]);
            if (dead[i]) {
                EXPECT(st, FTK_EBADHANDLE, "rwlock_read_unlock of a freed lock (many)");
            } else {
                EXPECT(st, depth[i] ? FTK_OK : FTK_EPERM, "rwlock_read_unlock (many)");
                if (depth[i]) depth[i]--;
                EQ64(ftk_rwlock_read_held(L[i]), depth[i], "rwlock_read_held (many)");
            }
        }
        }
    }
    for (unsigned i = 0; i < k; i++)
        if (!dead[i]) EXPECT(ftk_rwlock_free(L[i]), FTK_OK, "rwlock_free (many, end)");
}

static void op_misc(rd *r) {
    switch (u8(r) % 3) {
    case 2: op_many_rwlocks(r); break;
    case 0: EQ64(ftk_live_handles(), live_handle_count(), "ftk_live_handles"); break;
    default: EQ64(ftk_reclaim_collect(), 0, "ftk_reclaim_collect with no thread inside"); break;
    }
}

/* ---- race: another thread frees / closes / wakes a handle -------------------------------------------- */

enum { RA_FREE, RA_DOUBLE_FREE, RA_CLOSE, RA_WAKE, RA_ADD, RA_COUNT };

typedef struct race {
    int kind, action;
    ftk_handle_t h;
    unsigned delay;
    int64_t add;
    unsigned adds;
    _Atomic int go, done;
    int st;
} race;

static int wake_fn(int kind, ftk_handle_t h) {
    switch (kind) {
    case K_DEQUE: return ftk_deque_wake(h);
    case K_RWLOCK: return ftk_rwlock_wake(h);
    case K_ILOCK: return ftk_ilock_wake(h);
    case K_BATCH: return ftk_batch_wake(h);
    case K_SEM: return ftk_sem_wake(h);
    case K_GATHER: return ftk_gather_wake(h);
    default: return FTK_OK;
    }
}

static void *race_thread(void *arg) {
    race *x = arg;
    while (!atomic_load(&x->go)) relax();
    race_delay(x->delay);
    switch (x->action) {
    case RA_FREE:
    case RA_DOUBLE_FREE: x->st = free_fn[x->kind](x->h); break;
    case RA_CLOSE:
        x->st = x->kind == K_DEQUE   ? ftk_deque_close(x->h)
                : x->kind == K_BATCH ? ftk_batch_close(x->h)
                                     : ftk_gather_close(x->h);
        break;
    case RA_WAKE:
        x->st = FTK_OK;
        for (int i = 0; i < 8 && x->st == FTK_OK; i++) {
            x->st = wake_fn(x->kind, x->h);
            for (unsigned j = 0; j < 500; j++) relax();
        }
        break;
    default:
        x->st = FTK_OK;
        for (unsigned i = 0; i < x->adds; i++) {
            int st = ftk_counter_add(x->h, x->add);
            if (st != FTK_OK) x->st = st;
        }
        break;
    }
    atomic_store(&x->done, 1);
    return NULL;
}

static void op_race(rd *r) {
    int s = u8(r) % NH;
    if (!H[s].live || thread_ops >= MAX_THREAD_OPS) return;
    thread_ops++;
    race x;
    memset(&x, 0, sizeof x);
    x.kind = H[s].kind;
    x.h = H[s].h;
    x.action = u8(r) % RA_COUNT;
    if (x.action == RA_CLOSE && x.kind != K_DEQUE && x.kind != K_BATCH && x.kind != K_GATHER)
        x.action = RA_FREE;
    if (x.action == RA_WAKE && x.kind == K_COUNTER) x.action = RA_ADD;
    if (x.action == RA_ADD && x.kind != K_COUNTER) x.action = RA_DOUBLE_FREE;
    x.delay = u16(r) % 4096;
    x.add = i64(pick_word(r));
    x.adds = 1 + u8(r) % 64;
    bool may_die = x.action == RA_FREE || x.action == RA_DOUBLE_FREE;

    burst b;
    read_burst(r, &b);
    unsigned nops = b.n;
    TRACE("  race on slot %d (%s): action %d, %u ops\n", s, kind_name[x.kind], x.action, nops);

    g_race = true;
    g_race_may_die = may_die;
    g_race_may_close = x.action == RA_CLOSE;
    g_race_dead = false;
    g_forever_ok = may_die; /* a free ends every wait */
    g_force_h = x.h;
    g_force_slot = s;

    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, race_thread, &x) == 0, "pthread_create");
    atomic_store(&x.go, 1);
    int main_free_st = 1;
    uint64_t main_adds = 0;
    /* racing adds: the main thread adds too and, every `xch_every` steps,
     * exchanges (header: every add lands before or after each exchange, so
     * the olds + the final total = the initial total + the adds + the values
     * stored) */
    uint64_t sum_old = 0, sum_stored = 0, xch_every = u8(r) % 8;
    if (x.action == RA_ADD) {
        for (uint64_t i = 0; !atomic_load(&x.done) || i < 64; i++) {
            if (xch_every && i % xch_every == xch_every - 1) {
                int64_t old;
                uint64_t v = i * 0x9E3779B97F4A7C15ULL;
                EXPECT(ftk_counter_exchange(x.h, i64(v), &old), FTK_OK, "counter_exchange (racing adds)");
                sum_old += (uint64_t)old;
                sum_stored += v;
                continue;
            }
            EXPECT(ftk_counter_add(x.h, x.add ^ 1), FTK_OK, "counter_add (racing adds)");
            main_adds++;
        }
        nops = 0;
    }
    for (unsigned pass = 0; pass < 64 && nops > 0; pass++) {
        bool other_done = atomic_load(&x.done);
        for (unsigned i = 0; i < nops; i++) {
            rd a = b.arg[i];
            unsigned sub = b.sub[i];
            int sl = g_race_dead ? -1 : s;
            switch (x.kind) {
            case K_DEQUE: deque_call(&a, 2 + sub % (DEQUE_SUBS - 2), x.h, sl); break;
            case K_COUNTER: counter_call(&a, 2 + sub % 9, x.h, sl); break;
            case K_RWLOCK: rwlock_call(&a, 2 + sub % 10, x.h, sl); break;
            case K_ILOCK: ilock_call(&a, 2 + sub % 7, x.h, sl); break;
            case K_BATCH: batch_call(&a, 2 + sub % 16, x.h, sl); break;
            case K_SEM: sem_call(&a, 2 + sub % 11, x.h, sl); break;
            default: gather_call(&a, 2 + sub % (GATHER_SUBS - 2), x.h, sl); break;
            }
            if (x.action == RA_DOUBLE_FREE && i == nops / 2 && main_free_st == 1) {
                main_free_st = free_fn[x.kind](x.h);
                if (main_free_st == FTK_OK) g_race_dead = true;
            }
        }
        if (other_done) break;
    }
    pthread_join(tid, NULL);
    if (x.action == RA_DOUBLE_FREE && main_free_st == 1) main_free_st = free_fn[x.kind](x.h);
    g_race = false;
    g_race_may_die = g_race_may_close = false;
    g_forever_ok = false;
    g_force_h = FTK_NULL_HANDLE;

    switch (x.action) {
    case RA_FREE:
    case RA_DOUBLE_FREE:
        race_free_outcome(s, x.action == RA_DOUBLE_FREE, x.st, main_free_st);
        break;
    case RA_CLOSE:
        EXPECT(x.st, FTK_OK, "racing close");
        if (x.kind == K_DEQUE) DM[s].closed = true;
        else if (x.kind == K_BATCH) BM[s].closed = true;
        else GM[s].closed = true;
        break;
    case RA_WAKE: EXPECT(x.st, FTK_OK, "racing wake"); break;
    default: {
        EXPECT(x.st, FTK_OK, "racing counter_add");
        H[s].total += (uint64_t)x.add * x.adds + ((uint64_t)x.add ^ 1) * main_adds + sum_stored -
                      sum_old;
        int64_t v = 0;
        EXPECT(ftk_counter_get(x.h, &v), FTK_OK, "counter_get after racing adds");
        EQ64(v, H[s].total, "counter total after racing adds");
        break;
    }
    }
    g_race_dead = false;
}

/* ---- hold: the other thread contends, the outcome is exact ----------------------------------------- */

typedef struct holder {
    int kind, mode;
    ftk_handle_t h;
    unsigned delay_us;
    int64_t key;
    uint64_t w[8];
    size_t n;
    _Atomic int phase; /* 1: the other thread holds / waits; 2: main says go */
    int st[3];
    uint64_t got;
} holder;

static void sleep_us(unsigned us) {
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static void wait_phase(holder *x, int p) {
    while (atomic_load(&x->phase) < p) sched_yield();
}

enum { HM_A, HM_B, HM_C, HM_COUNT };

static void *hold_thread(void *arg) {
    holder *x = arg;
    ftk_handle_t h = x->h;
    switch (x->kind) {
    case K_RWLOCK:
        x->st[0] = x->mode == HM_A ? ftk_rwlock_write_lock(h, -1) : ftk_rwlock_read_lock(h, -1);
        atomic_store(&x->phase, 1);
        wait_phase(x, 2);
        sleep_us(x->delay_us);
        x->st[1] = x->mode == HM_A ? ftk_rwlock_write_unlock(h) : ftk_rwlock_read_unlock(h);
        break;
    case K_ILOCK:
        if (x->mode == HM_A) { /* hold it, release on cue */
            x->st[0] = ftk_ilock_lock(h, -1);
            atomic_store(&x->phase, 1);
            wait_phase(x, 2);
            sleep_us(x->delay_us);
            x->st[1] = ftk_ilock_unlock(h);
        } else { /* wait for the main thread's cede or unlock */
            atomic_store(&x->phase, 1);
            x->st[0] = ftk_ilock_lock(h, -1);
            x->st[1] = ftk_ilock_unlock(h);
        }
        break;
    case K_BATCH: {
        uint64_t w;
        x->st[0] = ftk_batch_load(h, &w, 0);
        atomic_store(&x->phase, 1);
        wait_phase(x, 2);
        sleep_us(x->delay_us);
        x->st[1] = x->mode == HM_A   ? ftk_batch_fill(h, x->w, x->n, NULL)
                   : x->mode == HM_B ? ftk_batch_abandon(h)
                                     : ftk_batch_fail(h);
        break;
    }
    case K_SEM: {
        atomic_store(&x->phase, 1);
        x->st[0] = ftk_sem_acquire_timed(h, -1);
        uint64_t ho = 7;
        if (x->st[0] == FTK_OK) x->st[1] = ftk_sem_release(h, &ho);
        x->got = ho;
        break;
    }
    case K_GATHER:
        if (x->mode == HM_A) { /* insert later */
            sleep_us(x->delay_us);
            x->st[0] = ftk_gather_insert(h, x->key, x->w[0]);
        } else { /* wait for the main thread's insert */
            atomic_store(&x->phase, 1);
            x->st[0] = ftk_gather_take(h, x->key, -1, &x->got);
        }
        break;
    default: /* deque */
        if (x->mode == HM_A) {
            sleep_us(x->delay_us);
            x->st[0] = ftk_deque_push_back(h, x->w[0]);
        } else {
            atomic_store(&x->phase, 1);
            x->st[0] = ftk_deque_pop(h, FTK_DEQUE_FRONT, &x->got, -1);
        }
        break;
    }
    return NULL;
}

/* The main thread's wait: forever (a lost wake-up hangs: a finding) or a
 * generous bound. */
static int64_t hold_timeout(rd *r) { return u8(r) % 2 ? -1 : 5000000000LL; }

static void op_hold(rd *r) {
    int s = u8(r) % NH;
    if (!H[s].live || thread_ops >= MAX_THREAD_OPS) return;
    holder x;
    memset(&x, 0, sizeof x);
    x.kind = H[s].kind;
    x.h = H[s].h;
    x.mode = u8(r) % HM_COUNT;
    x.delay_us = u8(r) * 4u;
    int64_t T = hold_timeout(r);
    hslot *hs = &H[s];
    /* preconditions: states where the outcome is exact */
    switch (x.kind) {
    case K_COUNTER: return;
    case K_RWLOCK:
    case K_ILOCK:
        if (hs->held || hs->rdepth) return;
        if (x.kind == K_RWLOCK && x.mode == HM_C) x.mode = HM_B;
        break;
    case K_BATCH: {
        bmodel *m = &BM[s];
        if (m->rn || m->gn || m->role || m->closed || m->failed) return;
        x.n = 1 + u8(r) % 8;
        if (x.n > m->size) x.n = (size_t)m->size;
        for (size_t i = 0; i < x.n; i++) x.w[i] = fresh_word();
        break;
    }
    case K_SEM:
        if (SM[s].count != 0) return;
        x.mode = x.mode == HM_A ? HM_A : HM_B;
        break;
    case K_GATHER: {
        gmodel *m = &GM[s];
        x.key = pick_key(r, m);
        if (m->closed || m->failed || g_find(m, x.key) >= 0 || m->n >= GKMAX) return;
        x.mode = x.mode == HM_A ? HM_A : HM_B;
        x.w[0] = fresh_word();
        break;
    }
    default:
        if (DM[s].n || DM[s].closed || DM[s].maxlen == 0) return;
        x.mode = x.mode == HM_A ? HM_A : HM_B;
        x.w[0] = fresh_word();
        break;
    }
    thread_ops++;
    TRACE("  hold on slot %d (%s): mode %d, delay %u us, timeout %lld\n", s, kind_name[x.kind],
          x.mode, x.delay_us, (long long)T);
    if (x.kind == K_ILOCK && x.mode != HM_A)
        EXPECT(ftk_ilock_lock(x.h, 0), FTK_OK, "ilock_lock (before the waiter)");
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, hold_thread, &x) == 0, "pthread_create");
    int st;
    int64_t t0, el;
    switch (x.kind) {
    case K_RWLOCK:
        wait_phase(&x, 1);
        EXPECT(x.st[0], FTK_OK, "rwlock lock (other thread)");
        if (x.mode == HM_A) {
            EXPECT(ftk_rwlock_read_lock(x.h, 0), FTK_EBUSY, "rwlock_read_lock(0) while written");
            EXPECT(ftk_rwlock_writer_locked(x.h), 1, "rwlock_writer_locked (other thread)");
            EXPECT(ftk_rwlock_write_held(x.h), 0, "rwlock_write_held (other thread's)");
            EQ64(ftk_rwlock_readers(x.h), 0, "rwlock_readers while written");
        } else {
            EQ64(ftk_rwlock_readers(x.h), 1, "rwlock_readers (the other thread)");
            EXPECT(ftk_rwlock_read_lock(x.h, 0), FTK_OK, "rwlock_read_lock(0) beside a reader");
            EQ64(ftk_rwlock_read_held(x.h), 1, "rwlock_read_held");
            EXPECT(ftk_rwlock_read_unlock(x.h), FTK_OK, "rwlock_read_unlock");
        }
        EXPECT(ftk_rwlock_write_lock(x.h, 0), FTK_EBUSY, "rwlock_write_lock(0) while held");
        t0 = now_ns();
        st = ftk_rwlock_write_lock(x.h, SHORT_NS);
        el = now_ns() - t0;
        CHECK(st == FTK_ETIMEDOUT || st == FTK_EINTR, "rwlock_write_lock(short) while held: %s", SN(st));
        check_wait(st, SHORT_NS, el, "rwlock_write_lock(short)");
        EXPECT(ftk_rwlock_write_unlock(x.h), FTK_EPERM, "rwlock_write_unlock of another's");
        atomic_store(&x.phase, 2);
        do {
            st = u8(r) % 2 ? ftk_rwlock_write_lock(x.h, T) : ftk_rwlock_read_lock(x.h, T);
        } while (st == FTK_EINTR); /* SIGALRM */
        EXPECT(st, FTK_OK, "rwlock lock after the other thread's release");
        EXPECT(ftk_rwlock_write_held(x.h) ? ftk_rwlock_write_unlock(x.h) : ftk_rwlock_read_unlock(x.h),
               FTK_OK, "rwlock unlock");
        pthread_join(tid, NULL);
        EXPECT(x.st[1], FTK_OK, "rwlock unlock (other thread)");
        break;
    case K_ILOCK:
        if (x.mode == HM_A) {
            wait_phase(&x, 1);
            EXPECT(x.st[0], FTK_OK, "ilock_lock (other thread)");
            EXPECT(ftk_ilock_locked(x.h), 1, "ilock_locked (other thread)");
            EXPECT(ftk_ilock_held(x.h), 0, "ilock_held (other thread's)");
            EXPECT(ftk_ilock_lock(x.h, 0), FTK_EBUSY, "ilock_lock(0) while held");
            EXPECT(ftk_ilock_unlock(x.h), FTK_EPERM, "ilock_unlock of another's");
            EXPECT(ftk_ilock_poll(x.h, 0), FTK_EPERM, "ilock_poll of another's");
            atomic_store(&x.phase, 2);
            do st = ftk_ilock_lock(x.h, T); while (st == FTK_EINTR);
            EXPECT(st, FTK_OK, "ilock_lock after the other thread's release");
        } else {
            wait_phase(&x, 1);
            sleep_us(x.delay_us);
            if (x.mode == HM_B) { /* cede: the waiter goes first, then it is ours again */
                do st = ftk_ilock_cede(x.h, T); while (st == FTK_EINTR);
                EXPECT(st, FTK_OK, "ilock_cede to a waiter");
            } else {
                do st = ftk_ilock_poll(x.h, T); while (st == FTK_EINTR);
                EXPECT(st, FTK_OK, "ilock_poll with a waiter");
            }
            EXPECT(ftk_ilock_held(x.h), 1, "ilock_held after cede/poll");
        }
        EXPECT(ftk_ilock_unlock(x.h), FTK_OK, "ilock_unlock");
        pthread_join(tid, NULL);
        EXPECT(x.st[0], FTK_OK, "ilock_lock (other thread)");
        EXPECT(x.st[1], FTK_OK, "ilock_unlock (other thread)");
        break;
    case K_BATCH: {
        bmodel *m = &BM[s];
        wait_phase(&x, 1);
        EXPECT(x.st[0], FTK_BATCH_REFILL, "batch_load (other thread takes the role)");
        EXPECT(ftk_batch_flags(x.h), FTK_BATCH_REFILLING, "batch_flags (other thread refills)");
        EXPECT(ftk_batch_is_refiller(x.h), 0, "batch_is_refiller (not the main thread)");
        uint64_t w = 0;
        size_t got = 9;
        EXPECT(ftk_batch_load(x.h, &w, 0), FTK_EBUSY, "batch_load(0) during a refill");
        EXPECT(ftk_batch_take_many(x.h, &w, 1, &got), FTK_EBUSY, "batch_take_many during a refill");
        t0 = now_ns();
        st = ftk_batch_load(x.h, &w, SHORT_NS);
        el = now_ns() - t0;
        CHECK(st == FTK_ETIMEDOUT || st == FTK_EINTR, "batch_load(short) during a refill: %s", SN(st));
        check_wait(st, SHORT_NS, el, "batch_load(short)");
        EXPECT(ftk_batch_fill_range(x.h, 1, 1, NULL), FTK_EPERM, "batch_fill by a non-refiller");
        EXPECT(ftk_batch_abandon(x.h), FTK_EPERM, "batch_abandon by a non-refiller");
        atomic_store(&x.phase, 2);
        do st = ftk_batch_load(x.h, &w, T); while (st == FTK_EINTR);
        b_note_begin(x.h);
        pthread_join(tid, NULL);
        EXPECT(x.st[1], FTK_OK, "batch fill/abandon/fail (other thread)");
        if (x.mode == HM_A) {
            EXPECT(st, FTK_OK, "batch_load woken by the fill");
            EQ64(w, x.w[0], "batch_load: the first word of the fill");
            b_note_claim(w);
            m->rn = x.n - 1;
            memcpy(m->rest, x.w + 1, m->rn * sizeof(uint64_t));
        } else if (x.mode == HM_B) {
            EXPECT(st, FTK_BATCH_REFILL, "batch_load after an abandon: the role");
            m->role = true;
        } else {
            EXPECT(st, FTK_ECLOSED, "batch_load after a fail");
            m->failed = true;
        }
        break;
    }
    case K_SEM: {
        smodel *m = &SM[s];
        wait_phase(&x, 1);
        int64_t want = (int64_t)m->qn + 1;
        for (int i = 0; ftk_sem_waiters(x.h) != want; i++) {
            CHECK(i < 2000000, "sem_waiters: the other thread never queued (%lld, want %lld)",
                  (long long)ftk_sem_waiters(x.h), (long long)want);
            sched_yield();
        }
        EXPECT(ftk_sem_try_acquire(x.h), FTK_EBUSY, "sem_try_acquire with a thread queued");
        s_note(x.h, FTK_EBUSY);
        EQ64(ftk_sem_value(x.h), 0, "sem_value with a thread queued");
        if (x.mode == HM_A) { /* grant: the words first (FIFO), then the thread */
            for (size_t i = 0; i <= m->qn; i++) {
                uint64_t ho = 7;
                st = ftk_sem_release(x.h, &ho);
                s_note(x.h, st == FTK_SEM_HANDOFF ? (int64_t)ho : st);
                if (i < m->qn) {
                    EXPECT(st, FTK_SEM_HANDOFF, "sem_release to a queued word");
                    EQ64(ho, m->q[i], "sem_release: FIFO word");
                } else {
                    EXPECT(st, FTK_OK, "sem_release to the queued thread");
                    EQ64(ho, 0, "sem_release to a thread: no word");
                }
            }
            m->qn = 0;
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_OK, "sem_acquire_timed granted by a release");
            EXPECT(x.st[1], FTK_OK, "sem_release (other thread)");
            m->count = 1;
        } else { /* wake: the thread leaves the queue */
            EXPECT(ftk_sem_wake(x.h), FTK_OK, "sem_wake");
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_EINTR, "sem_acquire_timed woken by sem_wake");
            EQ64(ftk_sem_waiters(x.h), m->qn, "sem_waiters after the wake");
        }
        break;
    }
    case K_GATHER: {
        gmodel *m = &GM[s];
        if (x.mode == HM_A) {
            uint64_t w = 0;
            bool get = u8(r) % 2;
            do {
                if (get) {
                    w = ftk_gather_get_v(x.h, x.key, T);
                    st = w ? FTK_OK : ftk_last_status();
                } else {
                    st = ftk_gather_take(x.h, x.key, T, &w);
                }
            } while (st == FTK_EINTR);
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_OK, "gather_insert (other thread)");
            EXPECT(st, FTK_OK, "gather take/get woken by the insert");
            EQ64(w, x.w[0], "gather take/get: the inserted word");
            if (get) {
                m->k[m->n] = x.key;
                m->w[m->n++] = w;
            }
        } else {
            wait_phase(&x, 1);
            sleep_us(x.delay_us);
            EXPECT(ftk_gather_insert(x.h, x.key, x.w[0]), FTK_OK, "gather_insert for a waiter");
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_OK, "gather_take (other thread) woken by the insert");
            EQ64(x.got, x.w[0], "gather_take (other thread): the word");
        }
        break;
    }
    default: { /* deque */
        if (x.mode == HM_A) {
            uint64_t w = 0;
            do st = ftk_deque_pop(x.h, FTK_DEQUE_BACK, &w, T); while (st == FTK_EINTR);
            d_note_pop(x.h, &w, st == FTK_OK, 0, FTK_DEQUE_BACK);
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_OK, "deque_push_back (other thread)");
            EXPECT(st, FTK_OK, "deque_pop woken by the push");
            EQ64(w, x.w[0], "deque_pop: the pushed word");
        } else {
            wait_phase(&x, 1);
            sleep_us(x.delay_us);
            EXPECT(ftk_deque_push_front(x.h, x.w[0]), FTK_OK, "deque_push_front for a waiter");
            pthread_join(tid, NULL);
            EXPECT(x.st[0], FTK_OK, "deque_pop (other thread) woken by the push");
            EQ64(x.got, x.w[0], "deque_pop (other thread): the word");
        }
        break;
    }
    }
}

/* ---- driver ---------------------------------------------------------------------------------------------- */

static void reset_models(void) {
    reset_table();
    /* the records outlive an input (thread-local in the library): start
     * from known ones */
    prime_last();
    dq_ev.h = FTK_NULL_HANDLE;
    {
        ftk_handle_t d;
        EXPECT(ftk_deque_new(0, &d), FTK_OK, "deque_new (reset)");
        EQ64(ftk_deque_pop_front_v(d), 0, "deque_pop_front_v (reset)");
        EXPECT(ftk_deque_free(d), FTK_OK, "deque_free (reset)");
        dq_rec.h = d;
        dq_rec.n = 0;
    }
    {
        /* a fresh deque evicting into the record, then freed: evicted_v on
         * any table deque says ENOTFOUND */
        ftk_handle_t t;
        EXPECT(ftk_deque_new(0, &t), FTK_OK, "deque_new (reset)");
        EXPECT(ftk_deque_push_back(t, 5), FTK_DEQUE_EVICTED, "deque_push_back (reset)");
        EXPECT(ftk_deque_free(t), FTK_OK, "deque_free (reset)");
        dq_ev.h = t;
        dq_ev.w = 5;
        EXPECT(ftk_batch_new(1, &t), FTK_OK, "batch_new (reset)");
        uint64_t w;
        EXPECT(ftk_batch_load(t, &w, 0), FTK_BATCH_REFILL, "batch_load (reset)");
        EXPECT(ftk_batch_free(t), FTK_OK, "batch_free (reset)");
        b_note_begin(t);
        EXPECT(ftk_sem_new(1, &t), FTK_OK, "sem_new (reset)");
        EXPECT(ftk_sem_try_acquire(t), FTK_OK, "sem_try_acquire (reset)");
        EXPECT(ftk_sem_free(t), FTK_OK, "sem_free (reset)");
        s_note(t, FTK_OK);
    }
    fresh_reset();
}

static void cleanup(void) {
    for (int i = 0; i < NH; i++) destroy_slot(i);
    EQ64(ftk_reclaim_collect(), 0, "ftk_reclaim_collect at the end");
    EQ64(ftk_live_handles(), 0, "ftk_live_handles at the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rd r = {data, size};
    fuzz_init();
    TRACE("---- new input (%zu bytes)\n", size);
    EQ64(ftk_live_handles(), 0, "ftk_live_handles at the start");
    reset_models();
    for (int ops = 0; r.n > 0 && ops < MAX_OPS; ops++) {
        unsigned g = u8(&r) % NGROUPS;
        TRACE("op %d: group %u\n", ops, g);
        switch (g) {
        case G_DEQUE:
        case G_DEQUE2: op_deque(&r); break;
        case G_COUNTER: op_counter(&r); break;
        case G_RWLOCK: op_rwlock(&r); break;
        case G_ILOCK: op_ilock(&r); break;
        case G_BATCH: op_batch(&r); break;
        case G_SEM: op_sem(&r); break;
        case G_MISC: op_misc(&r); break;
        case G_GATHER: op_gather(&r); break;
        case G_HOLD: op_hold(&r); break;
        default: op_race(&r); break;
        }
    }
    cleanup();
    return 0;
}
