/*
 * tests/fuzz/fuzz_api.c - libFuzzer harness for the libftkit C API.
 *
 * The input is a program. Each op is a selector byte (the op group) followed
 * by its operand bytes; bytes past the end read as 0, so every input is a
 * valid program. Ops create and destroy objects in a small table of handle
 * slots and call every public ftk_* function with valid, stale (freed),
 * NULL, garbage and wrong-kind handles, odd sizes (0, huge, more than
 * FTK_QUEUE_RUNS_MAX) and NULL out-pointers. Each status and value is
 * compared with a model of the header contracts:
 *   - atomics: the value, with wrapping arithmetic and Python floor division;
 *   - queues: the FIFO contents, capacity, closed state and unfinished-task
 *     count (single-threaded results are exact);
 *   - maps: the entries in insertion order (find returns candidates newest
 *     first), stamps (an insert with a stamp from find fails exactly when an
 *     entry with that hash was added since and is still present), iteration
 *     (entries present throughout are returned exactly once), drain;
 *   - slots: the set of live slot words;
 *   - ftk_last_status() after every value-style call, ftk_last_result() after
 *     the queue calls that set it, ftk_queue_unpop_last's record.
 * FTK_EINTR is accepted from any wait that sleeps: besides ftk_queue_wake,
 * libFuzzer's -timeout timer (SIGALRM) interrupts sleeps.
 * A disagreement aborts with a message naming the call.
 *
 * Thread ops start a second thread: it frees, closes or wakes a handle while
 * the main thread keeps calling into it (checked: only documented statuses,
 * nothing that contradicts a state the object can have been in, and after
 * one FTK_EBADHANDLE every later call fails), or it runs its own producer /
 * consumer / writer program on the same object (checked: every queue word
 * comes out exactly once and in per-producer order, task counts add up;
 * map entries in disjoint hash ranges are exact in both threads; slot words
 * are unique).
 *
 * Every execution frees what it created and ends with ftk_reclaim_collect()
 * == 0, ftk_live_handles() == 0 and ftk_slot_live_approx() == 0, so
 * LeakSanitizer, run by libFuzzer, sees any leak.
 *
 * Build and run: scripts/fuzz.sh. Seed corpus: tests/fuzz/make_corpus.py.
 * The newer modules (deque, counter, locks, batch, sem, gather) have their
 * own harness, tests/fuzz/fuzz_mods.c, run by the same script. What the two
 * share (the input reader, CHECK/EXPECT and the failure trace, the handle
 * table and pick_handle, gate, slot lifetimes) is tests/fuzz/fuzz_common.h.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "ftkit.h"

/* ---- limits (and NH, NSTALE, MAX_OPS, ... in fuzz_common.h) ---------------------- */

#define QMAX 2048       /* words a queue model holds */
#define MMAX 384        /* entries a map model holds */
#define RMAX 1024       /* items logged per map iteration */
#define SMAX 512        /* live slot words */
#define NSTAMP 16       /* remembered map stamps */

/* ftk_queue_push_many(live queue, NULL, 0, ...) once computed NULL + 0 in
 * queue.c (try_push_op), undefined behaviour that UBSan reported (found by
 * this harness; fixed: n == 0 returns before). The call is made; set to 0
 * to leave it out. */
#ifndef FUZZ_QUEUE_NULL_EMPTY_PUSH
#define FUZZ_QUEUE_NULL_EMPTY_PUSH 1
#endif

/* ftk_queue_unpop_last once gave back ftk_last_result(), which a push made
 * after the pop overwrites (it then gave back the push count as a word),
 * and gave back nothing after a pop that took the word 0 (found by this
 * harness; fixed: the pop record is its own). Both cases are exercised;
 * set these to 0 to leave them out. */
#ifndef FUZZ_UNPOP_LAST_AFTER_PUSH
#define FUZZ_UNPOP_LAST_AFTER_PUSH 1
#endif
#ifndef FUZZ_UNPOP_LAST_ZERO
#define FUZZ_UNPOP_LAST_ZERO 1
#endif

/* Op groups: the first byte of an op, modulo NGROUPS. make_corpus.py uses
 * the same numbers. */
enum {
    G_INT64, G_FLAG, G_REF, G_QUEUE, G_QUEUE2, G_MAP, G_MAP2, G_SLOTS, G_MISC,
    G_RACE, G_MPMC, G_MAP_MT, G_SLOTS_MT, NGROUPS
};

/* ---- the handle table's kinds and slots (fuzz_common.h keeps the table) ---------- */

enum { K_NONE, K_INT64, K_FLAG, K_REF, K_QUEUE, K_MAP, K_COUNT };

typedef struct hslot {
    int kind;
    bool live;
    ftk_handle_t h; /* the handle; kept after free (a stale handle) */
    uint64_t uid;   /* object identity, for stamps */
    uint64_t val;   /* atomics */
} hslot;

static int (*const free_fn[K_COUNT])(ftk_handle_t) = {
    NULL, ftk_int64_free, ftk_flag_free, ftk_ref_free, ftk_queue_free, ftk_map_free};

#define FUZZ_NAME "fuzz_api"
#include "fuzz_common.h"

/* ---- operands ---------------------------------------------------------------------- */

/* A word operand: special values often, anything sometimes. */
static uint64_t pick_word(rd *r) {
    switch (u8(r) % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT64_MAX;
    case 3: return (uint64_t)1 << 63;
    case 4: return INT64_MAX;
    case 5: return u8(r);
    default: return u64(r);
    }
}

/* ---- models ---------------------------------------------------------------------- */

typedef struct qmodel {
    uint64_t w[QMAX];
    size_t head, n;
    uint64_t cap;        /* 0 = unbounded */
    int closed;          /* FTK_QUEUE_OPEN / CLOSED / CLOSED_IMMEDIATE */
    uint64_t unfinished;
    size_t nfront;       /* the first nfront words were given back by unpop:
                          * they do not count against the capacity */
} qmodel;

typedef struct ment {
    uint64_t hash, key, val, clock;
    bool thru; /* present since the current iteration started */
    bool vchg; /* value changed since then */
    bool inpass; /* present when the current drain pass began */
} ment;

typedef struct trip {
    uint64_t hash, key, val;
} trip;

typedef struct mmodel {
    ment e[MMAX]; /* insertion order: the newest is last */
    int n;
    uint64_t clock;       /* inserts so far */
    uint64_t stamp_floor; /* stamps recorded before this clock are not exact */
    size_t cap_seen;
    /* iteration in progress */
    bool it_on, it_exact;
    uint64_t cursor;
    trip ret[RMAX]; /* returned so far */
    int nret;
    trip chg[RMAX]; /* (hash, key) added or removed meanwhile */
    int nchg;
    /* drain pass in progress */
    bool pass_on, pass_exact;
    uint64_t pass[2];
} mmodel;

static qmodel Q[NH];
static mmodel MM[NH];
static uint64_t uid_next = 1;

static struct {
    uint64_t uid, hash, stamp, clock;
} stamps[NSTAMP];
static unsigned stamp_pos;

static uint64_t live_slots[SMAX];
static int nlive_slots;
static uint64_t stale_slots[16];
static unsigned stale_slot_pos;

static int model_last; /* what ftk_last_status() must return */

/* The calling thread's last value-style queue pop (ftk_queue_unpop_last). */
enum { LP_NONE, LP_WORD, LP_RUNS };
static struct {
    bool known;  /* false after calls the model does not follow */
    bool pushed; /* a push set ftk_last_result since */
    int kind;
    ftk_handle_t h;
    bool took;   /* it took words */
    uint64_t word, nruns;
} lp;

/* A fresh value word, unique within the process run. */
static uint64_t fresh_word(void) { return 0x8000000000000000ULL | ++fresh_ctr; }

/* ---- race state (see op_race) --------------------------------------------------- */

static int g_race_qmax;    /* highest closed state the queue can reach */
static int g_race_qobs;    /* closed state observed so far */
static uint64_t g_hash_mask = UINT64_MAX; /* map ops' hashes (map_mt) */
static bool g_map_shared; /* another thread writes the map: no size/drain/iter */
static int g_mlimit = MMAX;  /* entries the main thread may add (map_mt leaves room) */

/* For value-style calls: a 0 result with ftk_last_status() == EBADHANDLE. */
static bool gate_v(int s, uint64_t ret, const char *what) {
    int ls = ftk_last_status();
    if (g_race) {
        if (ret == 0 && ls == FTK_EBADHANDLE && ls != model_last) {
            CHECK(g_race_may_die, "%s: FTK_EBADHANDLE on a handle nobody freed", what);
            g_race_dead = true;
            model_last = FTK_EBADHANDLE;
            return true;
        }
        if (g_race_dead) {
            CHECK(ret == 0 && ls == FTK_EBADHANDLE,
                  "%s: returned %#llx / last status %s after the handle was seen freed", what,
                  (unsigned long long)ret, SN(ls));
            model_last = FTK_EBADHANDLE;
            return true;
        }
        return false;
    }
    if (s < 0) {
        EQ64(ret, 0, what);
        model_last = FTK_EBADHANDLE;
        EXPECT(ls, FTK_EBADHANDLE, what);
        return true;
    }
    return false;
}

static void check_last(const char *what) {
    int ls = ftk_last_status();
    CHECK(ls == model_last, "%s: ftk_last_status() is %s, expected %s", what, SN(ls),
          SN(model_last));
}

/* ---- object creation and destruction ------------------------------------------------ */

/* new_slot, destroy_slot, op_free: fuzz_common.h */

static void install(int i, int kind, ftk_handle_t h) {
    check_new_handle(h, "new object");
    H[i].kind = kind;
    H[i].live = true;
    H[i].h = h;
    H[i].uid = uid_next++;
    H[i].val = 0;
}

/* Subs 0 and 1 of an atomic (int64, flag, ref): 0 makes a new object in a
 * slot the input picks, from an initial value read next (a flag's: a signed
 * byte; else a word), with a NULL out-pointer sometimes (FTK_EINVAL); 1 is
 * op_free. False for the other subs. */
static bool atomic_new_or_free(rd *r, unsigned sub, int kind) {
    if (sub == 1) {
        op_free(r, kind);
        return true;
    }
    if (sub != 0) return false;
    int i = new_slot(r);
    uint64_t init = kind == K_FLAG ? (uint64_t)(int8_t)u8(r) : pick_word(r);
    bool nullout = u8(r) % 16 == 0;
    ftk_handle_t h = FTK_NULL_HANDLE, *out = nullout ? NULL : &h;
    int st;
    const char *what;
    switch (kind) {
    case K_INT64: what = "int64_new"; st = ftk_int64_new(i64(init), out); break;
    case K_FLAG: what = "flag_new"; st = ftk_flag_new((int)i64(init), out); break;
    default: what = "ref_new"; st = ftk_ref_new(init, out); break;
    }
    if (nullout) {
        CHECK(st == FTK_EINVAL, "%s(out NULL): returned %s, expected FTK_EINVAL", what, SN(st));
        return true;
    }
    EXPECT(st, FTK_OK, what);
    install(i, kind, h);
    H[i].val = kind == K_FLAG ? init != 0 : init;
    return true;
}

/* ---- int64 ----------------------------------------------------------------------- */

/* Python's floor division on int64, INT64_MIN // -1 wrapping to INT64_MIN,
 * computed in 128 bits (independently of the library's formula). */
static uint64_t floordiv_model(uint64_t a, uint64_t b) {
    __int128 x = i64(a), y = i64(b);
    __int128 q = x / y;
    if (q * y != x && ((x < 0) != (y < 0))) q--;
    return (uint64_t)q;
}

static void int64_call(rd *r, unsigned sub) {
    TRACE("  int64_call sub %u\n", sub);
    if (atomic_new_or_free(r, sub, K_INT64)) return;
    int s;
    ftk_handle_t h = pick_handle(r, K_INT64, &s);
    uint64_t v = pick_word(r);
    bool nullout = u8(r) % 16 == 0;
    uint64_t *cur = s >= 0 ? &H[s].val : NULL;
    int64_t out = 0x5a5a;
    int st;
    switch (sub) {
    case 2:
        st = ftk_int64_load(h, nullout ? NULL : &out);
        if (gate(s, st, nullout, "int64_load")) break;
        EXPECT(st, FTK_OK, "int64_load");
        EQ64(out, *cur, "int64_load value");
        break;
    case 3:
        st = ftk_int64_store(h, i64(v));
        if (gate(s, st, false, "int64_store")) break;
        EXPECT(st, FTK_OK, "int64_store");
        *cur = v;
        break;
    case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11: {
        static int (*const fns[])(ftk_handle_t, int64_t, int64_t *) = {
            ftk_int64_fetch_add, ftk_int64_fetch_sub, ftk_int64_fetch_and,
            ftk_int64_fetch_or, ftk_int64_fetch_xor, ftk_int64_fetch_mul,
            ftk_int64_fetch_floordiv, ftk_int64_exchange};
        static const char *const names[] = {"fetch_add", "fetch_sub", "fetch_and", "fetch_or",
                                            "fetch_xor", "fetch_mul", "fetch_floordiv",
                                            "exchange"};
        unsigned k = sub - 4;
        /* *old may be NULL: not an error */
        st = fns[k](h, i64(v), nullout ? NULL : &out);
        if (k == 6 && v == 0) {
            if (s < 0 && !g_race)
                EXPECT2(st, FTK_EBADHANDLE, FTK_EINVAL, "int64_fetch_floordiv(0), bad handle");
            else if (!gate(s, st, false, "int64_fetch_floordiv(0)"))
                EXPECT(st, FTK_EINVAL, "int64_fetch_floordiv(0)");
            break;
        }
        if (gate(s, st, false, names[k])) break;
        EXPECT(st, FTK_OK, names[k]);
        if (!nullout) EQ64(out, *cur, names[k]);
        uint64_t c = *cur;
        switch (k) {
        case 0: c += v; break;
        case 1: c -= v; break;
        case 2: c &= v; break;
        case 3: c |= v; break;
        case 4: c ^= v; break;
        case 5: c *= v; break;
        case 6: c = floordiv_model(c, v); break;
        default: c = v; break;
        }
        *cur = c;
        break;
    }
    case 12: {
        int64_t exp = (s >= 0 && (v & 1)) ? i64(*cur) : i64(pick_word(r));
        int64_t e0 = exp;
        uint64_t des = pick_word(r);
        st = ftk_int64_compare_exchange(h, nullout ? NULL : &exp, i64(des));
        if (gate(s, st, nullout, "int64_compare_exchange")) break;
        if ((uint64_t)e0 == *cur) {
            EXPECT(st, FTK_OK, "int64_compare_exchange (equal)");
            EQ64(exp, e0, "int64_compare_exchange *expected untouched");
            *cur = des;
        } else {
            EXPECT(st, FTK_EAGAIN, "int64_compare_exchange (different)");
            EQ64(exp, *cur, "int64_compare_exchange *expected updated");
        }
        break;
    }
    case 13: {
        int64_t got = ftk_int64_load_v(h);
        if (gate_v(s, (uint64_t)got, "int64_load_v")) break;
        EQ64(got, *cur, "int64_load_v");
        check_last("int64_load_v");
        break;
    }
    case 14:
        ftk_int64_store_v(h, i64(v));
        if (s < 0 && !g_race) {
            model_last = FTK_EBADHANDLE;
            check_last("int64_store_v (bad handle)");
            break;
        }
        if (g_race && ftk_last_status() == FTK_EBADHANDLE && model_last != FTK_EBADHANDLE) {
            CHECK(g_race_may_die, "int64_store_v: EBADHANDLE, nobody freed");
            g_race_dead = true;
            model_last = FTK_EBADHANDLE;
            break;
        }
        if (g_race_dead) break; /* cannot tell: last status already EBADHANDLE */
        check_last("int64_store_v");
        *cur = v;
        break;
    case 15: case 16: case 17: case 18: case 19: case 20: case 21: {
        static int64_t (*const fns[])(ftk_handle_t, int64_t) = {
            ftk_int64_add_v, ftk_int64_fetch_add_v, ftk_int64_fetch_sub_v, ftk_int64_fetch_and_v,
            ftk_int64_fetch_or_v, ftk_int64_fetch_xor_v, ftk_int64_exchange_v};
        static const char *const names[] = {"add_v", "fetch_add_v", "fetch_sub_v",
                                            "fetch_and_v", "fetch_or_v", "fetch_xor_v",
                                            "exchange_v"};
        unsigned k = sub - 15;
        int64_t got = fns[k](h, i64(v));
        /* add_v returns the new value: a genuine 0 is possible, so tell bad
         * handles apart by the model's validity, not by the result */
        if (gate_v(s, (uint64_t)got, names[k])) break;
        if (g_race_dead) break;
        uint64_t c = *cur, n;
        switch (k) {
        case 0: case 1: n = c + v; break;
        case 2: n = c - v; break;
        case 3: n = c & v; break;
        case 4: n = c | v; break;
        case 5: n = c ^ v; break;
        default: n = v; break;
        }
        EQ64(got, k == 0 ? n : c, names[k]);
        check_last(names[k]);
        *cur = n;
        break;
    }
    default: { /* cas_v */
        uint64_t exp = (s >= 0 && (v & 1)) ? *cur : pick_word(r);
        uint64_t des = pick_word(r);
        int got = ftk_int64_cas_v(h, i64(exp), i64(des));
        if (gate_v(s, (uint64_t)got, "int64_cas_v")) break;
        if (g_race_dead) break;
        EXPECT(got, exp == *cur, "int64_cas_v result");
        check_last("int64_cas_v");
        if (got) *cur = des;
        break;
    }
    }
}

static void op_int64(rd *r) { int64_call(r, u8(r) % 23); }

/* ---- flag ---------------------------------------------------------------------------- */

static void flag_call(rd *r, unsigned sub) {
    TRACE("  flag_call sub %u\n", sub);
    if (atomic_new_or_free(r, sub, K_FLAG)) return;
    int s;
    ftk_handle_t h = pick_handle(r, K_FLAG, &s);
    int v = (int8_t)u8(r);
    bool nullout = u8(r) % 16 == 0;
    uint64_t *cur = s >= 0 ? &H[s].val : NULL;
    int out = 77, st;
    switch (sub) {
    case 2:
        st = ftk_flag_load(h, nullout ? NULL : &out);
        if (gate(s, st, nullout, "flag_load")) break;
        EXPECT(st, FTK_OK, "flag_load");
        EQ64(out, *cur, "flag_load value");
        break;
    case 3:
        st = ftk_flag_store(h, v);
        if (gate(s, st, false, "flag_store")) break;
        EXPECT(st, FTK_OK, "flag_store");
        *cur = v != 0;
        break;
    case 4:
        st = ftk_flag_exchange(h, v, nullout ? NULL : &out);
        if (gate(s, st, false, "flag_exchange")) break;
        EXPECT(st, FTK_OK, "flag_exchange");
        if (!nullout) EQ64(out, *cur, "flag_exchange old");
        *cur = v != 0;
        break;
    case 5: {
        int exp = (int8_t)u8(r), e0 = exp, des = (int8_t)u8(r);
        st = ftk_flag_compare_exchange(h, nullout ? NULL : &exp, des);
        if (gate(s, st, nullout, "flag_compare_exchange")) break;
        if ((uint64_t)(e0 != 0) == *cur) {
            EXPECT(st, FTK_OK, "flag_compare_exchange (equal)");
            *cur = des != 0;
        } else {
            EXPECT(st, FTK_EAGAIN, "flag_compare_exchange (different)");
            EQ64(exp, *cur, "flag_compare_exchange *expected updated");
        }
        break;
    }
    case 6: {
        int got = ftk_flag_load_v(h);
        if (gate_v(s, (uint64_t)got, "flag_load_v") || g_race_dead) break;
        EQ64(got, *cur, "flag_load_v");
        check_last("flag_load_v");
        break;
    }
    case 7:
        ftk_flag_store_v(h, v);
        if (s < 0 && !g_race) {
            model_last = FTK_EBADHANDLE;
            check_last("flag_store_v (bad handle)");
            break;
        }
        if (g_race && ftk_last_status() == FTK_EBADHANDLE && model_last != FTK_EBADHANDLE) {
            CHECK(g_race_may_die, "flag_store_v: EBADHANDLE, nobody freed");
            g_race_dead = true;
            model_last = FTK_EBADHANDLE;
            break;
        }
        if (g_race_dead) break;
        check_last("flag_store_v");
        *cur = v != 0;
        break;
    case 8: {
        int got = ftk_flag_exchange_v(h, v);
        if (gate_v(s, (uint64_t)got, "flag_exchange_v") || g_race_dead) break;
        EQ64(got, *cur, "flag_exchange_v");
        check_last("flag_exchange_v");
        *cur = v != 0;
        break;
    }
    default: {
        int exp = (int8_t)u8(r), des = (int8_t)u8(r);
        int got = ftk_flag_cas_v(h, exp, des);
        if (gate_v(s, (uint64_t)got, "flag_cas_v") || g_race_dead) break;
        bool eq = (uint64_t)(exp != 0) == *cur;
        EXPECT(got, eq, "flag_cas_v");
        check_last("flag_cas_v");
        if (eq) *cur = des != 0;
        break;
    }
    }
}

static void op_flag(rd *r) { flag_call(r, u8(r) % 11); }

/* ---- word reference -------------------------------------------------------------------- */

static void ref_call(rd *r, unsigned sub) {
    TRACE("  ref_call sub %u\n", sub);
    if (atomic_new_or_free(r, sub, K_REF)) return;
    int s;
    ftk_handle_t h = pick_handle(r, K_REF, &s);
    uint64_t v = pick_word(r);
    bool nullout = u8(r) % 16 == 0;
    uint64_t *cur = s >= 0 ? &H[s].val : NULL;
    uint64_t out = 0x77;
    int st;
    switch (sub) {
    case 2:
        st = ftk_ref_load(h, nullout ? NULL : &out);
        if (gate(s, st, nullout, "ref_load")) break;
        EXPECT(st, FTK_OK, "ref_load");
        EQ64(out, *cur, "ref_load value");
        break;
    case 3:
        st = ftk_ref_exchange(h, v, nullout ? NULL : &out);
        if (gate(s, st, false, "ref_exchange")) break;
        EXPECT(st, FTK_OK, "ref_exchange");
        if (!nullout) EQ64(out, *cur, "ref_exchange old");
        *cur = v;
        break;
    case 4: {
        uint64_t exp = (s >= 0 && (v & 1)) ? *cur : pick_word(r), e0 = exp;
        st = ftk_ref_compare_exchange(h, nullout ? NULL : &exp, v);
        if (gate(s, st, nullout, "ref_compare_exchange")) break;
        if (e0 == *cur) {
            EXPECT(st, FTK_OK, "ref_compare_exchange (equal)");
            *cur = v;
        } else {
            EXPECT(st, FTK_EAGAIN, "ref_compare_exchange (different)");
            EQ64(exp, *cur, "ref_compare_exchange *expected updated");
        }
        break;
    }
    case 5: {
        uint64_t got = ftk_ref_load_v(h);
        if (gate_v(s, got, "ref_load_v") || g_race_dead) break;
        EQ64(got, *cur, "ref_load_v");
        check_last("ref_load_v");
        break;
    }
    case 6: {
        uint64_t got = ftk_ref_exchange_v(h, v);
        if (gate_v(s, got, "ref_exchange_v") || g_race_dead) break;
        EQ64(got, *cur, "ref_exchange_v");
        check_last("ref_exchange_v");
        *cur = v;
        break;
    }
    default: {
        uint64_t exp = (s >= 0 && (v & 1)) ? *cur : pick_word(r);
        int got = ftk_ref_cas_v(h, exp, v);
        if (gate_v(s, (uint64_t)got, "ref_cas_v") || g_race_dead) break;
        EXPECT(got, exp == *cur, "ref_cas_v");
        check_last("ref_cas_v");
        if (exp == *cur) *cur = v;
        break;
    }
    }
}

static void op_ref(rd *r) { ref_call(r, u8(r) % 9); }

/* ---- queue --------------------------------------------------------------------------------- */

static uint64_t qin[QMAX + 512], qout[QMAX + 512];
static uint64_t runs[2 * FTK_QUEUE_RUNS_MAX + 8];

static uint64_t q_at(const qmodel *q, size_t i) { return q->w[(q->head + i) % QMAX]; }
static void q_append(qmodel *q, uint64_t w) {
    CHECK(q->n < QMAX, "harness: queue model overflow");
    q->w[(q->head + q->n) % QMAX] = w;
    q->n++;
    q->unfinished++;
}
static void q_take(qmodel *q, size_t k) {
    q->head = (q->head + k) % QMAX;
    q->n -= k;
    q->nfront = q->nfront > k ? q->nfront - k : 0;
}
/* Words given back go to the front, w[0] first. */
static void q_unpop(qmodel *q, const uint64_t *w, size_t k) {
    CHECK(q->n + k <= QMAX, "harness: queue model overflow");
    for (size_t i = k; i-- > 0;) {
        q->head = (q->head + QMAX - 1) % QMAX;
        q->w[q->head] = w[i];
    }
    q->n += k;
    q->nfront += k;
}
/* Room the contract gives a push (UINT64_MAX: unbounded). Words given back
 * by unpop may take a bounded queue past its capacity and do not count. */
static uint64_t q_caproom(const qmodel *q) {
    uint64_t ring = q->n - q->nfront;
    return q->cap ? (q->cap > ring ? q->cap - ring : 0) : UINT64_MAX;
}

/* ftk_last_result() after the calls that set it */
static void check_result(uint64_t want, const char *what) {
    uint64_t got = ftk_last_result();
    CHECK(got == want, "%s: ftk_last_result() is %llu, expected %llu", what,
          (unsigned long long)got, (unsigned long long)want);
}
/* Largest request the model can absorb: every word might go in. */
static uint64_t q_modelroom(const qmodel *q) {
    uint64_t room = q_caproom(q), m = QMAX - q->n;
    return room < m ? room : m;
}
/* closed state bounds for a check: exact outside races */
static int q_obs(const qmodel *q) { return g_race ? g_race_qobs : q->closed; }
static int q_max(const qmodel *q) { return g_race ? g_race_qmax : q->closed; }
static void q_observe(qmodel *q, int state) {
    if (g_race) {
        if (state > g_race_qobs) g_race_qobs = state;
    } else {
        (void)q;
    }
}

/* Check a push of n words that returned st having pushed `pushed`;
 * updates the model. words: what was pushed (pushed ones appended). */
static void q_check_push(qmodel *q, int st, uint64_t n, uint64_t pushed, const uint64_t *words,
                         int64_t t, int64_t elapsed, const char *what) {
    int obs = q_obs(q), max = q_max(q);
    uint64_t room = q_caproom(q);
    uint64_t acc = n < room ? n : room;
    if (n == 0) {
        EXPECT(st, FTK_OK, what);
        EQ64(pushed, 0, what);
        return;
    }
    switch (st) {
    case FTK_OK:
        CHECK(obs == FTK_QUEUE_OPEN, "%s: FTK_OK on a closed queue", what);
        CHECK(acc == n, "%s: FTK_OK beyond the capacity (size %zu, cap %llu, n %llu)", what, q->n,
              (unsigned long long)q->cap, (unsigned long long)n);
        EQ64(pushed, n, what);
        break;
    case FTK_ECLOSED:
        CHECK(max >= FTK_QUEUE_CLOSED, "%s: FTK_ECLOSED on an open queue", what);
        if (obs >= FTK_QUEUE_CLOSED) EQ64(pushed, 0, "push on a closed queue: pushed");
        CHECK(pushed <= acc, "%s: pushed %llu > room %llu", what, (unsigned long long)pushed,
              (unsigned long long)acc);
        q_observe(q, FTK_QUEUE_CLOSED);
        break;
    case FTK_EFULL:
    case FTK_ETIMEDOUT:
    case FTK_EINTR:
        CHECK(obs == FTK_QUEUE_OPEN, "%s: %s on a closed queue", what, SN(st));
        CHECK(acc < n, "%s: %s with room (size %zu, cap %llu, n %llu)", what, SN(st), q->n,
              (unsigned long long)q->cap, (unsigned long long)n);
        EQ64(pushed, acc, what);
        if (st == FTK_EFULL) CHECK(t == 0, "%s: FTK_EFULL with timeout %lld", what, (long long)t);
        if (st == FTK_ETIMEDOUT) {
            CHECK(t > 0, "%s: FTK_ETIMEDOUT with timeout %lld", what, (long long)t);
            CHECK(elapsed >= t, "%s: timed out after %lld ns < %lld", what, (long long)elapsed,
                  (long long)t);
        }
        /* FTK_EINTR: ftk_queue_wake, or a signal during the sleep (libFuzzer's
         * -timeout uses SIGALRM): only a call that waited can see it */
        if (st == FTK_EINTR) CHECK(t != 0, "%s: FTK_EINTR from a call that does not wait", what);
        break;
    default: fail(__LINE__, "%s: unexpected status %s", what, SN(st));
    }
    for (uint64_t i = 0; i < pushed; i++) q_append(q, words[i]);
}

/* Check a pop of up to max words that returned st with `got` words in out. */
static void q_check_pop(qmodel *q, int st, uint64_t max, uint64_t got, const uint64_t *out,
                        int64_t t, int64_t elapsed, const char *what) {
    int obs = q_obs(q), maxs = q_max(q);
    if (max == 0) {
        EXPECT(st, FTK_OK, what);
        EQ64(got, 0, what);
        return;
    }
    uint64_t avail = max < q->n ? max : q->n;
    switch (st) {
    case FTK_OK:
        CHECK(obs < FTK_QUEUE_CLOSED_IMMEDIATE, "%s: FTK_OK after an immediate close", what);
        CHECK(q->n > 0, "%s: FTK_OK from an empty queue", what);
        if (g_race && maxs == FTK_QUEUE_CLOSED_IMMEDIATE)
            CHECK(got >= 1 && got <= avail, "%s: got %llu of %llu", what,
                  (unsigned long long)got, (unsigned long long)avail);
        else
            EQ64(got, avail, what);
        for (uint64_t i = 0; i < got; i++) {
            CHECK(out[i] == q_at(q, i), "%s: word %llu is %#llx, expected %#llx (FIFO)", what,
                  (unsigned long long)i, (unsigned long long)out[i],
                  (unsigned long long)q_at(q, i));
        }
        q_take(q, got);
        break;
    case FTK_ECLOSED:
        EQ64(got, 0, what);
        if (q->n > 0) {
            CHECK(maxs == FTK_QUEUE_CLOSED_IMMEDIATE,
                  "%s: FTK_ECLOSED with %zu words inside and no immediate close", what, q->n);
            q_observe(q, FTK_QUEUE_CLOSED_IMMEDIATE);
        } else {
            CHECK(maxs >= FTK_QUEUE_CLOSED, "%s: FTK_ECLOSED on an open queue", what);
            q_observe(q, FTK_QUEUE_CLOSED);
        }
        break;
    case FTK_EEMPTY:
    case FTK_ETIMEDOUT:
    case FTK_EINTR:
        EQ64(got, 0, what);
        CHECK(obs == FTK_QUEUE_OPEN, "%s: %s on a closed queue", what, SN(st));
        CHECK(q->n == 0, "%s: %s with %zu words inside", what, SN(st), q->n);
        if (st == FTK_EEMPTY) CHECK(t == 0, "%s: FTK_EEMPTY with timeout %lld", what, (long long)t);
        if (st == FTK_ETIMEDOUT) {
            CHECK(t > 0, "%s: FTK_ETIMEDOUT with timeout %lld", what, (long long)t);
            CHECK(elapsed >= t, "%s: timed out after %lld ns < %lld", what, (long long)elapsed,
                  (long long)t);
        }
        /* FTK_EINTR: ftk_queue_wake, or a signal during the sleep (libFuzzer's
         * -timeout uses SIGALRM): only a call that waited can see it */
        if (st == FTK_EINTR) CHECK(t != 0, "%s: FTK_EINTR from a call that does not wait", what);
        break;
    default: fail(__LINE__, "%s: unexpected status %s", what, SN(st));
    }
}

/* Can a pop wait forever (empty, and nothing will close the queue)? */
static bool q_pop_blocks(const qmodel *q) {
    if (q == NULL) return false;
    if (g_race) return q->n == 0 && g_race_qmax == FTK_QUEUE_OPEN;
    return q->n == 0 && q->closed == FTK_QUEUE_OPEN;
}
static bool q_push_blocks(const qmodel *q, uint64_t n) {
    if (q == NULL || n == 0) return false;
    if (g_race) return n > q_caproom(q) && g_race_qmax == FTK_QUEUE_OPEN;
    return n > q_caproom(q) && q->closed == FTK_QUEUE_OPEN;
}

/* A request size: small, block-boundary, or huge (only where the call
 * cannot take more than the model can hold). */
static uint64_t pick_count(rd *r, uint64_t model_room, bool huge_ok) {
    uint64_t n;
    switch (u8(r) % 8) {
    case 0: n = 0; break;
    case 1: n = 1; break;
    case 2: n = 127 + u8(r) % 3; break;
    case 3: n = huge_ok ? SIZE_MAX : 1; break;
    case 4: n = huge_ok ? (uint64_t)FTK_QUEUE_RUNS_MAX + 1 + u8(r) : 2; break;
    default: n = 1 + u8(r) % 64; break;
    }
    if (!huge_ok && n > model_room) n = model_room;
    return n;
}

static void fill_words(rd *r, uint64_t n) {
    uint64_t base = u8(r) % 4 == 0 ? pick_word(r) : fresh_word();
    if (n > QMAX + 256) n = QMAX + 256;
    for (uint64_t i = 0; i < n; i++) qin[i] = base + i;
}

static void op_queue_new(rd *r) {
    int i = new_slot(r);
    uint64_t cap;
    switch (u8(r) % 8) {
    case 0: cap = 0; break;
    case 1: cap = 1; break;
    case 2: cap = 2 + u8(r) % 8; break;
    case 3: cap = 127 + u8(r) % 3; break;
    case 4: cap = FTK_QUEUE_CAPACITY_MAX; break;
    case 5: cap = FTK_QUEUE_CAPACITY_MAX + 1 + u8(r); break;
    case 6: cap = SIZE_MAX; break;
    default: cap = u16(r); break;
    }
    if (u8(r) % 16 == 0) {
        EXPECT(ftk_queue_new((size_t)cap, NULL), FTK_EINVAL, "queue_new(out NULL)");
        return;
    }
    ftk_handle_t h = FTK_NULL_HANDLE;
    int st = ftk_queue_new((size_t)cap, &h);
    if (cap > FTK_QUEUE_CAPACITY_MAX) {
        EXPECT(st, FTK_EOVERFLOW, "queue_new(capacity > FTK_QUEUE_CAPACITY_MAX)");
        return;
    }
    EXPECT(st, FTK_OK, "queue_new");
    install(i, K_QUEUE, h);
    qmodel *q = &Q[i];
    q->head = q->n = 0;
    q->cap = cap;
    q->closed = FTK_QUEUE_OPEN;
    q->unfinished = 0;
    q->nfront = 0;
}

/* One queue call (sub 2..20) on handle h / model slot s. */
static void queue_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  queue sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    qmodel *q = s >= 0 ? &Q[s] : NULL;
    bool nullout = u8(r) % 16 == 0;
    int st;
    int64_t t = 0, t0;
    switch (sub) {
    case 2: case 3: { /* try_push, push */
        uint64_t w = pick_word(r);
        if (sub == 3) t = pick_timeout(r, q_push_blocks(q, 1));
        if (q && q_modelroom(q) == 0 && q_caproom(q) > 0) break; /* model full */
        t0 = now_ns();
        st = sub == 2 ? ftk_queue_try_push(h, w) : ftk_queue_push(h, w, t);
        check_result(st == FTK_OK, "queue_push");
        lp.pushed = true;
        if (gate(s, st, false, "queue_push")) break;
        q_check_push(q, st, 1, st == FTK_OK, &w, t, now_ns() - t0,
                     sub == 2 ? "queue_try_push" : "queue_push");
        break;
    }
    case 4: { /* push_many */
        bool huge_ok = !q || (q->cap && q->cap <= QMAX) || q_obs(q) > 0;
        uint64_t n = pick_count(r, q ? q_modelroom(q) : 64, huge_ok);
        bool nullw = u8(r) % 16 == 0;
#if !FUZZ_QUEUE_NULL_EMPTY_PUSH
        if (n == 0 && s >= 0) nullw = false; /* see FUZZ_QUEUE_NULL_EMPTY_PUSH */
#endif
        t = pick_timeout(r, q_push_blocks(q, n));
        fill_words(r, n);
        size_t pushed = 12345;
        t0 = now_ns();
        st = ftk_queue_push_many(h, nullw ? NULL : qin, (size_t)n, nullout ? NULL : &pushed, t);
        bool inval = nullout || (nullw && n > 0);
        check_result(inval ? 0 : pushed, "queue_push_many");
        lp.pushed = true;
        if (gate(s, st, inval, "queue_push_many")) break;
        q_check_push(q, st, n, pushed, qin, t, now_ns() - t0, "queue_push_many");
        break;
    }
    case 5: case 6: { /* try_pop, pop */
        if (sub == 6) t = pick_timeout(r, q_pop_blocks(q));
        uint64_t w = 0x1234;
        t0 = now_ns();
        st = sub == 5 ? ftk_queue_try_pop(h, nullout ? NULL : &w)
                      : ftk_queue_pop(h, nullout ? NULL : &w, t);
        if (gate(s, st, nullout, "queue_pop")) break;
        q_check_pop(q, st, 1, st == FTK_OK, &w, t, now_ns() - t0,
                    sub == 5 ? "queue_try_pop" : "queue_pop");
        break;
    }
    case 7: { /* pop_many: any max is safe, the model never holds more than qout */
        uint64_t max = pick_count(r, 0, true);
        bool nullbuf = u8(r) % 16 == 0;
        t = pick_timeout(r, q_pop_blocks(q));
        size_t got = 12345;
        t0 = now_ns();
        st = ftk_queue_pop_many(h, nullbuf ? NULL : qout, (size_t)max, nullout ? NULL : &got, t);
        bool inval = nullout || (nullbuf && max > 0);
        if (gate(s, st, inval, "queue_pop_many")) break;
        q_check_pop(q, st, max, got, qout, t, now_ns() - t0, "queue_pop_many");
        break;
    }
    case 8: { /* close */
        int imm = (int8_t)u8(r) % 3; /* 0, +-1, +-2 */
        st = ftk_queue_close(h, imm);
        if (gate(s, st, false, "queue_close")) break;
        EXPECT(st, FTK_OK, "queue_close");
        int state = imm ? FTK_QUEUE_CLOSED_IMMEDIATE : FTK_QUEUE_CLOSED;
        if (!g_race && state > q->closed) q->closed = state;
        break;
    }
    case 9: { /* drain */
        uint64_t max = pick_count(r, 0, true);
        bool nullbuf = u8(r) % 16 == 0;
        size_t got = 12345;
        st = ftk_queue_drain(h, nullbuf ? NULL : qout, (size_t)max, nullout ? NULL : &got);
        bool inval = nullout || (nullbuf && max > 0);
        if (gate(s, st, inval, "queue_drain")) break;
        EXPECT(st, FTK_OK, "queue_drain");
        uint64_t want = max < q->n ? max : q->n;
        EQ64(got, want, "queue_drain count");
        for (uint64_t i = 0; i < got; i++) EQ64(qout[i], q_at(q, i), "queue_drain word");
        q_take(q, got);
        q->unfinished = q->unfinished > got ? q->unfinished - got : 0;
        break;
    }
    case 10: { /* size_approx */
        size_t n = 777;
        st = ftk_queue_size_approx(h, nullout ? NULL : &n);
        if (gate(s, st, nullout, "queue_size_approx")) break;
        EXPECT(st, FTK_OK, "queue_size_approx");
        EQ64(n, q->n, "queue_size_approx");
        break;
    }
    case 11: {
        size_t c = 777;
        st = ftk_queue_capacity(h, nullout ? NULL : &c);
        if (gate(s, st, nullout, "queue_capacity")) break;
        EXPECT(st, FTK_OK, "queue_capacity");
        EQ64(c, q->cap, "queue_capacity");
        break;
    }
    case 12: {
        int c = 777;
        st = ftk_queue_is_closed(h, nullout ? NULL : &c);
        if (gate(s, st, nullout, "queue_is_closed")) break;
        EXPECT(st, FTK_OK, "queue_is_closed");
        CHECK(c >= q_obs(q) && c <= q_max(q), "queue_is_closed: %d, expected %d..%d", c,
              q_obs(q), q_max(q));
        q_observe(q, c);
        break;
    }
    case 13:
        st = ftk_queue_task_done(h);
        if (gate(s, st, false, "queue_task_done")) break;
        if (q->unfinished > 0) {
            EXPECT(st, FTK_OK, "queue_task_done");
            q->unfinished--;
        } else {
            EXPECT(st, FTK_EINVAL, "queue_task_done with no unfinished task");
        }
        break;
    case 14: {
        uint64_t u = 777;
        st = ftk_queue_unfinished(h, nullout ? NULL : &u);
        if (gate(s, st, nullout, "queue_unfinished")) break;
        EXPECT(st, FTK_OK, "queue_unfinished");
        EQ64(u, q->unfinished, "queue_unfinished");
        break;
    }
    case 15: { /* join: only a free can end an unbounded wait */
        bool forever = q && q->unfinished > 0 && !(g_race && g_race_may_die);
        t = pick_timeout(r, forever);
        t0 = now_ns();
        st = ftk_queue_join(h, t);
        int64_t el = now_ns() - t0;
        if (gate(s, st, false, "queue_join")) break;
        if (q->unfinished == 0) {
            EXPECT(st, FTK_OK, "queue_join with no unfinished task");
        } else if (st == FTK_ECLOSED) {
            CHECK(g_race && g_race_may_die, "queue_join: FTK_ECLOSED, queue not freed");
        } else if (st == FTK_EINTR) {
            CHECK(t != 0, "queue_join: FTK_EINTR from a call that does not wait");
        } else {
            EXPECT(st, FTK_ETIMEDOUT, "queue_join with unfinished tasks");
            CHECK(t >= 0 && el >= t, "queue_join: timed out after %lld ns < %lld",
                  (long long)el, (long long)t);
        }
        break;
    }
    case 16:
        st = ftk_queue_wake(h);
        if (gate(s, st, false, "queue_wake")) break;
        EXPECT(st, FTK_OK, "queue_wake");
        break;
    case 17: case 18: { /* try_pop_v, pop_v */
        if (sub == 18) t = pick_timeout(r, q_pop_blocks(q));
        t0 = now_ns();
        uint64_t w = sub == 17 ? ftk_queue_try_pop_v(h) : ftk_queue_pop_v(h, t);
        int64_t el = now_ns() - t0;
        check_result(w, "queue_pop_v");
        lp.known = true;
        lp.pushed = false;
        lp.kind = LP_WORD;
        lp.h = h;
        lp.took = false;
        lp.word = w;
        const char *what = sub == 17 ? "queue_try_pop_v" : "queue_pop_v";
        if (gate_v(s, w, what)) break;
        int ls = ftk_last_status();
        if (w != 0) {
            check_last(what); /* unchanged by a success */
            st = FTK_OK;
        } else {
            st = ls; /* FTK_OK: a genuine 0 word */
            model_last = ls;
        }
        lp.took = st == FTK_OK;
        q_check_pop(q, st, 1, st == FTK_OK, &w, t, el, what);
        break;
    }
    case 19: { /* push_range_v */
        bool huge_ok = !q || (q->cap && q->cap <= QMAX) || q_obs(q) > 0;
        uint64_t n = pick_count(r, q ? q_modelroom(q) : 64, huge_ok);
        uint64_t first = u8(r) % 4 == 0 ? UINT64_MAX - u8(r) : fresh_word();
        t = pick_timeout(r, q_push_blocks(q, n));
        int before = model_last;
        t0 = now_ns();
        size_t k = ftk_queue_push_range_v(h, first, (size_t)n, t);
        int64_t el = now_ns() - t0;
        check_result(k, "queue_push_range_v");
        lp.pushed = true;
        if (n == 0) {
            EQ64(k, 0, "queue_push_range_v(n = 0)");
            check_last("queue_push_range_v(n = 0)"); /* nothing to report */
            break;
        }
        CHECK(k <= n, "queue_push_range_v: %zu > n", k);
        int ls = ftk_last_status();
        if (k < n) {
            st = ls;
            model_last = ls;
            if (gate(s, st, false, "queue_push_range_v")) {
                if (!g_race) EQ64(k, 0, "queue_push_range_v, bad handle");
                break;
            }
        } else {
            st = FTK_OK;
            if (g_race_dead || (s < 0 && !g_race)) fail(__LINE__, "queue_push_range_v: pushed on a bad handle");
            CHECK(ls == before, "queue_push_range_v: a full success changed the last status to %s",
                  SN(ls));
        }
        /* the words went in by chunks of <= 256 */
        uint64_t m = k < QMAX + 256 ? k : QMAX + 256;
        for (uint64_t i = 0; i < m; i++) qin[i] = first + i;
        q_check_push(q, st, n, k, qin, t, el, "queue_push_range_v");
        break;
    }
    case 21: { /* unpop */
        uint64_t n = pick_count(r, q ? QMAX - q->n : 64, false);
        bool nullw = u8(r) % 16 == 0;
        fill_words(r, n);
        if (nullw && u8(r) % 2) n = SIZE_MAX;
        st = ftk_queue_unpop(h, nullw ? NULL : qin, (size_t)n);
        if (gate(s, st, nullw && n > 0, "queue_unpop")) break;
        if (n == 0) {
            /* "n == 0 is FTK_OK"; after an immediate close the code reports
             * FTK_ECLOSED first (either reading of the header is accepted) */
            if (st == FTK_ECLOSED)
                CHECK(q_max(q) == FTK_QUEUE_CLOSED_IMMEDIATE, "queue_unpop(n = 0): FTK_ECLOSED");
            else
                EXPECT(st, FTK_OK, "queue_unpop(n = 0)");
            break;
        }
        if (st == FTK_ECLOSED) {
            CHECK(q_max(q) == FTK_QUEUE_CLOSED_IMMEDIATE,
                  "queue_unpop: FTK_ECLOSED without an immediate close");
            q_observe(q, FTK_QUEUE_CLOSED_IMMEDIATE);
            break;
        }
        EXPECT(st, FTK_OK, "queue_unpop");
        CHECK(q_obs(q) < FTK_QUEUE_CLOSED_IMMEDIATE, "queue_unpop: FTK_OK after an immediate close");
        q_unpop(q, qin, (size_t)n);
        break;
    }
    case 22: { /* unpop_last */
        bool nullruns = u8(r) % 8 == 0;
        if (!lp.known) break;
        bool mine = lp.h == h && lp.kind != LP_NONE && lp.took;
        if (lp.h == h && lp.kind != LP_NONE && lp.pushed && !FUZZ_UNPOP_LAST_AFTER_PUSH) break;
        if (mine && lp.kind == LP_WORD && lp.word == 0 && !FUZZ_UNPOP_LAST_ZERO) break;
        /* the words the record says were taken */
        size_t k = 0;
        if (mine && lp.kind == LP_WORD) {
            qout[k++] = lp.word;
        } else if (mine) {
            for (uint64_t i = 0; i < lp.nruns; i++)
                for (uint64_t j = 0; j < runs[2 * i + 1]; j++) qout[k++] = runs[2 * i] + j;
        }
        if (q && q->n + k > QMAX) break; /* the model could not hold them */
        uint64_t res0 = ftk_last_result();
        st = ftk_queue_unpop_last(h, nullruns ? NULL : runs);
        if (gate(s, st, false, "queue_unpop_last")) break;
        if (!mine) {
            EXPECT(st, FTK_OK, "queue_unpop_last with nothing to give back");
            check_result(res0, "queue_unpop_last with nothing to give back");
            break;
        }
        if (lp.kind == LP_RUNS && nullruns) {
            EXPECT(st, FTK_EINVAL, "queue_unpop_last(runs NULL) after pop_runs_v");
            break;
        }
        if (st == FTK_ECLOSED) {
            CHECK(q_max(q) == FTK_QUEUE_CLOSED_IMMEDIATE,
                  "queue_unpop_last: FTK_ECLOSED without an immediate close");
            q_observe(q, FTK_QUEUE_CLOSED_IMMEDIATE);
            check_result(res0, "queue_unpop_last failed: the record stays");
            break;
        }
        EXPECT(st, FTK_OK, "queue_unpop_last");
        CHECK(q_obs(q) < FTK_QUEUE_CLOSED_IMMEDIATE,
              "queue_unpop_last: FTK_OK after an immediate close");
        q_unpop(q, qout, k);
        lp.took = false; /* the record is cleared: a second call gives back nothing */
        lp.kind = LP_NONE;
        check_result(0, "queue_unpop_last gave back");
        break;
    }
    default: { /* pop_runs_v */
        uint64_t max = pick_count(r, 0, true);
        bool nullbuf = u8(r) % 16 == 0;
        t = pick_timeout(r, q_pop_blocks(q));
        t0 = now_ns();
        size_t k = ftk_queue_pop_runs_v(h, nullbuf ? NULL : runs, (size_t)max, t);
        int64_t el = now_ns() - t0;
        check_result(k, "queue_pop_runs_v");
        lp.known = true;
        lp.pushed = false;
        lp.kind = LP_RUNS;
        lp.h = h;
        lp.took = k > 0;
        lp.nruns = k;
        int ls = ftk_last_status();
        if (k == 0) {
            model_last = ls;
            if (g_race) {
                if (ls == FTK_EBADHANDLE) {
                    CHECK(g_race_may_die, "queue_pop_runs_v: EBADHANDLE, nobody freed");
                    g_race_dead = true;
                    break;
                }
                CHECK(!g_race_dead, "queue_pop_runs_v: %s after the handle was seen freed", SN(ls));
            } else if (s < 0) {
                EXPECT(ls, FTK_EBADHANDLE, "queue_pop_runs_v, bad handle"); /* handle first */
                break;
            }
            if (nullbuf || max == 0) {
                EXPECT(ls, FTK_EINVAL, "queue_pop_runs_v(runs NULL or max_items 0)");
                break;
            }
            CHECK(ls != FTK_OK, "queue_pop_runs_v: 0 runs with last status FTK_OK");
            uint64_t eff = max < FTK_QUEUE_RUNS_MAX ? max : FTK_QUEUE_RUNS_MAX;
            q_check_pop(q, ls, eff, 0, NULL, t, el, "queue_pop_runs_v");
            break;
        }
        CHECK(!nullbuf && max > 0 && (s >= 0 || g_race) && !g_race_dead,
              "queue_pop_runs_v: %zu runs from an invalid call", k);
        uint64_t eff = max < FTK_QUEUE_RUNS_MAX ? max : FTK_QUEUE_RUNS_MAX;
        uint64_t total = 0;
        for (size_t i = 0; i < k; i++) {
            CHECK(runs[2 * i + 1] >= 1, "queue_pop_runs_v: run %zu has count 0", i);
            CHECK(total + runs[2 * i + 1] <= eff, "queue_pop_runs_v: more than %llu words",
                  (unsigned long long)eff);
            for (uint64_t j = 0; j < runs[2 * i + 1]; j++) qout[total++] = runs[2 * i] + j;
        }
        check_last("queue_pop_runs_v");
        q_check_pop(q, FTK_OK, eff, total, qout, t, el, "queue_pop_runs_v");
        break;
    }
    }
}

static void op_queue(rd *r) {
    unsigned sub = u8(r) % 23;
    if (sub == 0) {
        op_queue_new(r);
        return;
    }
    free_or_call(r, sub, K_QUEUE, queue_call);
}

/* ---- map ------------------------------------------------------------------------------------ */

static uint64_t mk[MMAX + 64], mv[MMAX + 64], mh[MMAX + 64], mn[MMAX + 64], mst[MMAX + 64];
/* map.h takes and returns hashes as int64_t; the model keeps uint64_t (the
 * same 64 bits: signed and unsigned variants of a type may alias) */
#define MH ((int64_t *)mh)
static int mstatus[MMAX + 64];

static uint64_t pick_hash(rd *r, const mmodel *m) {
    uint64_t hv;
    switch (u8(r) % 5) {
    case 0:
    case 1:
        if (m && m->n > 0) {
            hv = m->e[u8(r) % m->n].hash;
            break;
        }
        /* fall through */
    case 2: hv = u8(r) % 16; break;
    case 3: hv = pick_word(r); break;
    default: hv = u64(r); break;
    }
    return hv & g_hash_mask;
}

/* A key for hash hv: an existing entry's key usually. */
static uint64_t pick_key(rd *r, const mmodel *m, uint64_t hv) {
    uint8_t sel = u8(r);
    if (m && (sel & 3) != 0) {
        for (int i = m->n - 1; i >= 0; i--)
            if (m->e[i].hash == hv && (sel & 3) != 3) return m->e[i].key;
        if ((sel & 3) == 3 && m->n > 0) return m->e[(sel >> 2) % m->n].key;
    }
    return (sel & 4) ? u8(r) % 8 : u64(r);
}

static uint64_t pick_value(rd *r) { return u8(r) % 8 == 0 ? 0 : fresh_word(); }

/* Index of the newest entry (hash, key), or -1. */
static int m_locate(const mmodel *m, uint64_t hv, uint64_t key) {
    for (int i = m->n - 1; i >= 0; i--)
        if (m->e[i].hash == hv && m->e[i].key == key) return i;
    return -1;
}

static void m_log_chg(mmodel *m, uint64_t hv, uint64_t key) {
    if (!m->it_on) return;
    if (m->nchg == RMAX) {
        m->it_exact = false;
        return;
    }
    m->chg[m->nchg++] = (trip){hv, key, 0};
}

static void m_remove_at(mmodel *m, int i) {
    TRACE("    removed (%#llx, %#llx)\n", (unsigned long long)m->e[i].hash,
          (unsigned long long)m->e[i].key);
    m_log_chg(m, m->e[i].hash, m->e[i].key);
    memmove(&m->e[i], &m->e[i + 1], (size_t)(m->n - i - 1) * sizeof(ment));
    m->n--;
}

static void m_add(mmodel *m, uint64_t hv, uint64_t key, uint64_t val) {
    CHECK(m->n < MMAX, "harness: map model overflow");
    m->e[m->n++] = (ment){hv, key, val, ++m->clock, false, false, false};
    m_log_chg(m, hv, key);
}

static void stamp_record(int s, uint64_t hv, uint64_t stamp) {
    unsigned i = stamp_pos++ % NSTAMP;
    stamps[i].uid = H[s].uid;
    stamps[i].hash = hv;
    stamps[i].stamp = stamp;
    stamps[i].clock = MM[s].clock;
}

/* A stamp operand: 0, ANY, a recorded one, or anything. */
static uint64_t pick_stamp(rd *r, uint64_t hv, int s) {
    uint8_t sel = u8(r);
    switch (sel % 6) {
    case 0: return 0;
    case 1: return FTK_MAP_STAMP_ANY;
    case 2:
    case 3:
    case 4: /* the newest recorded stamp for this map and hash */
        if (s >= 0)
            for (unsigned k = 0; k < NSTAMP; k++) {
                unsigned i = (stamp_pos - 1 - k) % NSTAMP;
                if (stamps[i].uid == H[s].uid && stamps[i].hash == hv) return stamps[i].stamp;
            }
        return stamps[(sel >> 3) % NSTAMP].stamp;
    default: return pick_word(r);
    }
}

/* Whether the insert's outcome is determined by the model. */
static bool stamp_known(int s, uint64_t hv, uint64_t stamp) {
    if (stamp == 0 || stamp == FTK_MAP_STAMP_ANY) return true;
    for (unsigned i = 0; i < NSTAMP; i++)
        if (stamps[i].uid == H[s].uid && stamps[i].hash == hv && stamps[i].stamp == stamp &&
            stamps[i].clock >= MM[s].stamp_floor)
            return true;
    return false;
}

/* Expected insert status: FTK_OK or FTK_EAGAIN, or -100 when the stamp was
 * not obtained from a find on this map for this hash (either is right). */
static int m_expect_insert(int s, uint64_t hv, uint64_t stamp) {
    const mmodel *m = &MM[s];
    if (stamp == FTK_MAP_STAMP_ANY) return FTK_OK;
    uint64_t since;
    if (stamp == 0) {
        since = 0;
    } else {
        bool found = false;
        since = 0;
        for (unsigned k = 0; k < NSTAMP && !found; k++) {
            unsigned i = (stamp_pos - 1 - k) % NSTAMP;
            if (stamps[i].uid == H[s].uid && stamps[i].hash == hv && stamps[i].stamp == stamp &&
                stamps[i].clock >= m->stamp_floor) {
                found = true;
                since = stamps[i].clock;
            }
        }
        if (!found) return -100;
    }
    for (int i = 0; i < m->n; i++)
        if (m->e[i].hash == hv && m->e[i].clock > since) return FTK_EAGAIN;
    return FTK_OK;
}

static void m_check_insert(int s, int st, uint64_t hv, uint64_t key, uint64_t val,
                           uint64_t stamp, const char *what) {
    int want = m_expect_insert(s, hv, stamp);
    TRACE("    insert (%#llx, %#llx) stamp %#llx: %s\n", (unsigned long long)hv,
          (unsigned long long)key, (unsigned long long)stamp, SN(st));
    if (want == -100)
        EXPECT2(st, FTK_OK, FTK_EAGAIN, what);
    else
        CHECK(st == want, "%s: hash %#llx stamp %#llx: returned %s, expected %s", what,
              (unsigned long long)hv, (unsigned long long)stamp, SN(st), SN(want));
    if (st == FTK_OK) m_add(&MM[s], hv, key, val);
}

/* Candidates of hash hv: newest first into ck/cv; returns the count. */
static int m_candidates(const mmodel *m, uint64_t hv, uint64_t *ck, uint64_t *cv) {
    int c = 0;
    for (int i = m->n - 1; i >= 0; i--)
        if (m->e[i].hash == hv) {
            if (ck) ck[c] = m->e[i].key;
            if (cv) cv[c] = m->e[i].val;
            c++;
        }
    return c;
}

static void m_check_capacity(int s, size_t c, const char *what) {
    mmodel *m = &MM[s];
    CHECK(c >= 8 && (c & (c - 1)) == 0, "%s: %zu buckets is not a power of two >= 8", what, c);
    CHECK(c >= m->cap_seen, "%s: shrank from %zu to %zu buckets", what, m->cap_seen, c);
    m->cap_seen = c;
}

/* Rebuild the model from a full iteration after an ambiguous drain: keeps
 * each model entry (newest first) that the map still holds. */
static void m_resync(int s, int expect_n) {
    mmodel *m = &MM[s];
    uint64_t cur = 0;
    size_t n = 0;
    int st = ftk_map_iter(H[s].h, &cur, mk, mv, MH, MMAX + 64, &n);
    if (g_race && st == FTK_EBADHANDLE) { /* freed by the other thread meanwhile */
        CHECK(g_race_may_die, "map_iter (resync): FTK_EBADHANDLE, nobody freed");
        g_race_dead = true;
        /* the model was not rebuilt: nothing it says about a pass or an
         * iteration in progress holds (a drain_pass that ended in the same
         * call checked its "was there" entries against it) */
        m->it_exact = false;
        m->pass_exact = false;
        return;
    }
    EXPECT(st, FTK_OK, "map_iter (resync)");
    EQ64(cur, FTK_MAP_CURSOR_END, "map_iter (resync) cursor");
    EQ64(n, expect_n, "map_iter (resync) count");
    bool used[MMAX + 64] = {false};
    int keep = 0;
    bool kept[MMAX] = {false};
    for (int i = m->n - 1; i >= 0; i--) {
        for (size_t j = 0; j < n; j++)
            if (!used[j] && mh[j] == m->e[i].hash && mk[j] == m->e[i].key && mv[j] == m->e[i].val) {
                used[j] = true;
                kept[i] = true;
                keep++;
                break;
            }
    }
    EQ64(keep, n, "map drain resync: entries the model does not know");
    int w = 0;
    for (int i = 0; i < m->n; i++)
        if (kept[i]) m->e[w++] = m->e[i];
    m->n = w;
    m->stamp_floor = m->clock + 1; /* which duplicate went is unknown */
    m->it_exact = false;
    m->pass_exact = false;
}

/* End of an iteration: every entry present throughout came back exactly
 * once; others at most as often as they existed. */
static void m_iter_finish(mmodel *m) {
    m->it_on = false;
    if (!m->it_exact) return;
    /* for each distinct (hash, key) among entries, returned and changed */
    for (int pass = 0; pass < 3; pass++) {
        int cnt = pass == 0 ? m->n : pass == 1 ? m->nret : m->nchg;
        for (int i = 0; i < cnt; i++) {
            uint64_t hv = pass == 0 ? m->e[i].hash : pass == 1 ? m->ret[i].hash : m->chg[i].hash;
            uint64_t key = pass == 0 ? m->e[i].key : pass == 1 ? m->ret[i].key : m->chg[i].key;
            int T = 0, R = 0, C = 0, Tv = 0;
            uint64_t val = 0;
            for (int j = 0; j < m->n; j++)
                if (m->e[j].hash == hv && m->e[j].key == key && m->e[j].thru) {
                    T++;
                    if (!m->e[j].vchg) {
                        Tv++;
                        val = m->e[j].val;
                    }
                }
            for (int j = 0; j < m->nret; j++)
                if (m->ret[j].hash == hv && m->ret[j].key == key) R++;
            for (int j = 0; j < m->nchg; j++)
                if (m->chg[j].hash == hv && m->chg[j].key == key) C++;
            CHECK(R >= T && R <= T + C,
                  "map_iter: entry (hash %#llx, key %#llx) returned %d times; present throughout "
                  "%d, changed %d",
                  (unsigned long long)hv, (unsigned long long)key, R, T, C);
            if (T == 1 && Tv == 1 && C == 0 && R == 1)
                for (int j = 0; j < m->nret; j++)
                    if (m->ret[j].hash == hv && m->ret[j].key == key)
                        EQ64(m->ret[j].val, val, "map_iter value");
        }
    }
}

static void op_map_new(rd *r) {
    int i = new_slot(r);
    uint64_t cap;
    bool huge = false;
    switch (u8(r) % 6) {
    case 0: cap = 0; break;
    case 1: cap = u8(r); break;
    case 2: cap = u16(r) % 4097; break;
    case 3: cap = 6 + u8(r) % 8; break;
    case 4: cap = ((uint64_t)1 << 41) + u64(r) % ((uint64_t)1 << 60); huge = true; break;
    default: cap = SIZE_MAX - u8(r); huge = true; break;
    }
    if (u8(r) % 16 == 0) {
        EXPECT(ftk_map_new((size_t)cap, NULL), FTK_EINVAL, "map_new(out NULL)");
        return;
    }
    ftk_handle_t h = FTK_NULL_HANDLE;
    int st = ftk_map_new((size_t)cap, &h);
    if (huge) {
        EXPECT2(st, FTK_EOVERFLOW, FTK_ENOMEM, "map_new(absurd capacity)");
        return;
    }
    EXPECT(st, FTK_OK, "map_new");
    install(i, K_MAP, h);
    mmodel *m = &MM[i];
    m->n = 0;
    m->clock = 0;
    m->stamp_floor = 0;
    m->cap_seen = 0;
    m->it_on = false;
    m->pass_on = false;
    size_t c = 0;
    EXPECT(ftk_map_capacity(h, &c), FTK_OK, "map_capacity");
    m_check_capacity(i, c, "map_capacity after new");
    CHECK(c / 4 * 3 >= cap, "map_new(%llu): %zu buckets hold fewer at load 0.75",
          (unsigned long long)cap, c);
}

/* A model entry (usually), else anything: for set/cas/remove. */
static void pick_entry(rd *r, const mmodel *m, uint64_t *hv, uint64_t *key) {
    uint8_t sel = u8(r);
    if (m && m->n > 0 && sel % 4 != 0) {
        const ment *e = &m->e[(sel >> 2) % m->n];
        *hv = e->hash;
        *key = e->key;
        if (sel % 16 == 1) *key ^= 1; /* same hash, other key */
        return;
    }
    *hv = pick_hash(r, m);
    *key = pick_key(r, m, *hv);
}

static void map_call(rd *r, unsigned sub, ftk_handle_t h, int s) {
    TRACE("  map sub %u handle %#llx slot %d\n", sub, (unsigned long long)h2u(h), s);
    mmodel *m = s >= 0 ? &MM[s] : NULL;
    bool nullout = u8(r) % 16 == 0;
    int st;
    switch (sub) {
    case 2: { /* find */
        uint64_t hv = pick_hash(r, m);
        uint64_t max = pick_count(r, 0, true);
        if (max > MMAX + 64 && max < SIZE_MAX) max = MMAX + 64;
        bool nullbuf = u8(r) % 16 == 0, nullstamp = u8(r) % 4 == 0;
        size_t n = 777;
        uint64_t stamp = 0x99;
        st = ftk_map_find(h, hv, nullbuf ? NULL : mk, nullbuf ? NULL : mv, (size_t)max,
                          nullout ? NULL : &n, nullstamp ? NULL : &stamp);
        if (gate(s, st, nullout || (nullbuf && max > 0), "map_find")) break;
        uint64_t ck[MMAX], cv[MMAX];
        int c = m_candidates(m, hv, ck, cv);
        EQ64(n, c, "map_find candidate count");
        EXPECT(st, (uint64_t)c > max ? FTK_EOVERFLOW : FTK_OK, "map_find");
        for (int i = 0; i < c && (uint64_t)i < max; i++) {
            EQ64(mk[i], ck[i], "map_find key (newest first)");
            EQ64(mv[i], cv[i], "map_find value");
        }
        if (!nullstamp) {
            CHECK(stamp != FTK_MAP_STAMP_ANY, "map_find returned the ANY stamp");
            if (!g_race || !g_race_may_die) stamp_record(s, hv, stamp);
        }
        break;
    }
    case 3: { /* find_many */
        uint64_t count = u8(r) % 17;
        bool nulls = u8(r) % 16 == 0, nullstamps = u8(r) % 4 == 0;
        for (uint64_t i = 0; i < count; i++) mh[i] = pick_hash(r, m);
        if (u8(r) % 32 == 0) count = SIZE_MAX; /* with NULL arrays only */
        if (count == SIZE_MAX) nulls = true;
        st = ftk_map_find_many(h, nulls ? NULL : MH, (size_t)count, nulls ? NULL : mk,
                               nulls ? NULL : mv, nulls ? NULL : mn, nullstamps ? NULL : mst);
        if (gate(s, st, nulls && count > 0, "map_find_many")) break;
        EXPECT(st, FTK_OK, "map_find_many");
        for (uint64_t i = 0; i < count; i++) {
            uint64_t ck[MMAX], cv[MMAX];
            int c = m_candidates(m, mh[i], ck, cv);
            EQ64(mn[i], c, "map_find_many ncand");
            EQ64(mk[i], c ? ck[0] : 0, "map_find_many key");
            EQ64(mv[i], c ? cv[0] : 0, "map_find_many value");
            if (!nullstamps && !(g_race && g_race_may_die)) stamp_record(s, mh[i], mst[i]);
        }
        break;
    }
    case 4: { /* insert */
        uint64_t hv = pick_hash(r, m), key = pick_key(r, m, hv), val = pick_value(r);
        uint64_t stamp = pick_stamp(r, hv, s);
        if (m && m->n >= g_mlimit) break;
        st = ftk_map_insert(h, (int64_t)hv, key, val, stamp);
        if (gate(s, st, false, "map_insert")) break;
        m_check_insert(s, st, hv, key, val, stamp, "map_insert");
        break;
    }
    case 19: { /* put, put_v: the bytes of case 4 (19 was insert_sh before ABI 2,
                * then a second insert); the stamp's low bit picks put_v */
        uint64_t hv = pick_hash(r, m), key = pick_key(r, m, hv), val = pick_value(r);
        bool value_style = pick_stamp(r, hv, s) & 1;
        if (m && m->n >= g_mlimit) break;
        int i = m ? m_locate(m, hv, key) : -1;
        uint64_t cv[MMAX];
        int c = m ? m_candidates(m, hv, NULL, cv) : 0;
        uint64_t old = 0x77;
        int added = 7;
        if (value_style) {
            old = ftk_map_put_v(h, i64(hv), key, val);
            /* FTK_MAP_SEVERAL with FTK_EBADHANDLE is this call's "0 + status" */
            bool bad = old == FTK_MAP_SEVERAL && ftk_last_status() == FTK_EBADHANDLE;
            if (gate_v(s, bad ? 0 : old, "map_put_v")) break;
            CHECK(!bad, "map_put_v: FTK_EBADHANDLE on a live map");
            if (i >= 0 || c == 0) {
                st = FTK_OK;
                added = i < 0;
            } else {
                st = c == 1 ? FTK_EAGAIN : FTK_EOVERFLOW;
                added = 0;
            }
            if (!added) model_last = st;
            check_last("map_put_v");
            if (c >= 2 && i < 0) EQ64(old, FTK_MAP_SEVERAL, "map_put_v with several others");
        } else {
            st = ftk_map_put(h, i64(hv), key, val, nullout ? NULL : &old,
                             nullout ? NULL : &added);
            if (gate(s, st, false, "map_put")) break;
            if (i >= 0 || c == 0)
                EXPECT(st, FTK_OK, "map_put");
            else
                EXPECT(st, c == 1 ? FTK_EAGAIN : FTK_EOVERFLOW, "map_put (other keys)");
        }
        TRACE("    put%s (%#llx, %#llx): %s\n", value_style ? "_v" : "", (unsigned long long)hv,
              (unsigned long long)key, SN(st));
        bool outs = value_style || !nullout;
        if (i >= 0) { /* replaced */
            if (outs) EQ64(old, m->e[i].val, "map_put old value");
            if (outs) EQ64(added, 0, "map_put added (replaced)");
            m->e[i].val = val;
            m->e[i].vchg = true;
        } else if (c == 0) { /* added */
            if (outs) EQ64(old, 0, "map_put old (added)");
            if (outs) EQ64(added, 1, "map_put added");
            m_add(m, hv, key, val);
        } else if (c == 1 && outs) {
            EQ64(old, cv[0], "map_put: the other entry's value word");
        } else if (!value_style && outs) {
            EQ64(old, 0, "map_put: several others");
        }
        break;
    }
    case 5: { /* insert_many */
        uint64_t count = u8(r) % 17;
        if (m && count > (uint64_t)(g_mlimit - m->n)) count = (uint64_t)(g_mlimit - m->n);
        bool nulls = u8(r) % 16 == 0, nullstatus = u8(r) % 4 == 0 && !g_race;
        uint64_t hs[16], ks[16], vs[16], ss[16];
        for (uint64_t i = 0; i < count; i++) {
            hs[i] = pick_hash(r, m);
            ks[i] = pick_key(r, m, hs[i]);
            vs[i] = pick_value(r);
            ss[i] = pick_stamp(r, hs[i], s);
            /* without per-item statuses only exact stamps can be checked */
            if (nullstatus && s >= 0 && !stamp_known(s, hs[i], ss[i])) ss[i] = FTK_MAP_STAMP_ANY;
        }
        for (int i = 0; i < 16; i++) mstatus[i] = 777;
        st = ftk_map_insert_many(h, nulls ? NULL : (const int64_t *)hs, nulls ? NULL : ks, nulls ? NULL : vs,
                                 nulls ? NULL : ss, (size_t)count, nullstatus ? NULL : mstatus);
        if (gate(s, st, nulls && count > 0, "map_insert_many")) break;
        /* in a race the items after a free fail with EBADHANDLE */
        int first = FTK_OK;
        for (uint64_t i = 0; i < count; i++) {
            int sti = nullstatus ? m_expect_insert(s, hs[i], ss[i]) : mstatus[i];
            if (!nullstatus && g_race && sti == FTK_EBADHANDLE) {
                CHECK(g_race_may_die, "map_insert_many: item EBADHANDLE, nobody freed");
                g_race_dead = true;
                for (uint64_t j = i; j < count; j++)
                    EXPECT(mstatus[j], FTK_EBADHANDLE, "map_insert_many items after a free");
                if (first == FTK_OK) first = FTK_EBADHANDLE;
                break;
            }
            m_check_insert(s, sti, hs[i], ks[i], vs[i], ss[i], "map_insert_many item");
            if (sti != FTK_OK && first == FTK_OK) first = sti;
        }
        EXPECT(st, first, "map_insert_many (status of the first failure)");
        break;
    }
    case 6: case 17: { /* set_value, set_value_v */
        uint64_t hv, key;
        pick_entry(r, m, &hv, &key);
        uint64_t val = pick_value(r), old = 0x77;
        int i = m ? m_locate(m, hv, key) : -1;
        if (sub == 6) {
            st = ftk_map_set_value(h, hv, key, val, nullout ? NULL : &old);
            if (gate(s, st, false, "map_set_value")) break;
        } else {
            old = ftk_map_set_value_v(h, i64(hv), key, val);
            if (gate_v(s, old, "map_set_value_v")) break;
            st = old == 0 ? ftk_last_status() : FTK_OK;
            if (old == 0)
                model_last = st;
            else
                check_last("map_set_value_v");
        }
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "map_set_value of a missing entry");
            break;
        }
        EXPECT(st, FTK_OK, "map_set_value");
        if (sub == 17 || !nullout) EQ64(old, m->e[i].val, "map_set_value old");
        m->e[i].val = val;
        m->e[i].vchg = true;
        break;
    }
    case 7: case 20: { /* cas_value; 20 (cas_value_sh before ABI 2): no out-pointer */
        uint64_t hv, key;
        pick_entry(r, m, &hv, &key);
        int i = m ? m_locate(m, hv, key) : -1;
        uint64_t exp = (i >= 0 && u8(r) % 2) ? m->e[i].val : pick_value(r);
        uint64_t des = pick_value(r), actual = 0x77;
        st = sub == 7 ? ftk_map_cas_value(h, hv, key, exp, des, nullout ? NULL : &actual)
                      : ftk_map_cas_value(h, i64(hv), key, exp, des, NULL);
        if (gate(s, st, false, "map_cas_value")) break;
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "map_cas_value of a missing entry");
            break;
        }
        if (sub == 7 && !nullout) EQ64(actual, m->e[i].val, "map_cas_value *actual");
        if (m->e[i].val == exp) {
            EXPECT(st, FTK_OK, "map_cas_value (equal)");
            m->e[i].val = des;
            m->e[i].vchg = true;
        } else {
            EXPECT(st, FTK_EAGAIN, "map_cas_value (different)");
        }
        break;
    }
    case 8: { /* cas_value_many */
        uint64_t count = u8(r) % 9;
        bool nulls = u8(r) % 16 == 0, nullactual = u8(r) % 4 == 0,
             nullstatus = u8(r) % 4 == 0 && !g_race;
        uint64_t hs[8], ks[8], es[8], ds[8], act[8];
        for (uint64_t i = 0; i < count; i++) {
            pick_entry(r, m, &hs[i], &ks[i]);
            int j = m ? m_locate(m, hs[i], ks[i]) : -1;
            es[i] = (j >= 0 && u8(r) % 2) ? m->e[j].val : pick_value(r);
            ds[i] = pick_value(r);
        }
        st = ftk_map_cas_value_many(h, nulls ? NULL : (const int64_t *)hs, nulls ? NULL : ks, nulls ? NULL : es,
                                    nulls ? NULL : ds, (size_t)count, nullactual ? NULL : act,
                                    nullstatus ? NULL : mstatus);
        if (gate(s, st, nulls && count > 0, "map_cas_value_many")) break;
        int first = FTK_OK;
        for (uint64_t i = 0; i < count; i++) {
            int j = m_locate(m, hs[i], ks[i]);
            int want = j < 0 ? FTK_ENOTFOUND : m->e[j].val == es[i] ? FTK_OK : FTK_EAGAIN;
            if (g_race && !nullstatus && mstatus[i] == FTK_EBADHANDLE) {
                CHECK(g_race_may_die, "map_cas_value_many: EBADHANDLE, nobody freed");
                g_race_dead = true;
                if (first == FTK_OK) first = FTK_EBADHANDLE;
                break;
            }
            if (!nullstatus) EXPECT(mstatus[i], want, "map_cas_value_many item");
            if (!nullactual && j >= 0) EQ64(act[i], m->e[j].val, "map_cas_value_many actual");
            if (want == FTK_OK) {
                m->e[j].val = ds[i];
                m->e[j].vchg = true;
            }
            if (want != FTK_OK && first == FTK_OK) first = want;
        }
        EXPECT(st, first, "map_cas_value_many");
        break;
    }
    case 9: case 18: { /* remove, remove_v */
        uint64_t hv, key, old = 0x77;
        pick_entry(r, m, &hv, &key);
        int i = m ? m_locate(m, hv, key) : -1;
        if (sub == 9) {
            st = ftk_map_remove(h, hv, key, nullout ? NULL : &old);
            if (gate(s, st, false, "map_remove")) break;
        } else {
            old = ftk_map_remove_v(h, i64(hv), key);
            if (gate_v(s, old, "map_remove_v")) break;
            st = old == 0 ? ftk_last_status() : FTK_OK;
            if (old == 0)
                model_last = st;
            else
                check_last("map_remove_v");
        }
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "map_remove of a missing entry");
            break;
        }
        EXPECT(st, FTK_OK, "map_remove");
        if (sub == 18 || !nullout) EQ64(old, m->e[i].val, "map_remove old value");
        m_remove_at(m, i);
        break;
    }
    case 10: { /* remove_if */
        uint64_t hv, key;
        pick_entry(r, m, &hv, &key);
        int i = m ? m_locate(m, hv, key) : -1;
        uint64_t exp = (i >= 0 && u8(r) % 2) ? m->e[i].val : pick_value(r);
        st = ftk_map_remove_if(h, hv, key, exp);
        if (gate(s, st, false, "map_remove_if")) break;
        if (i < 0) {
            EXPECT(st, FTK_ENOTFOUND, "map_remove_if of a missing entry");
        } else if (m->e[i].val == exp) {
            EXPECT(st, FTK_OK, "map_remove_if (equal)");
            m_remove_at(m, i);
        } else {
            EXPECT(st, FTK_EAGAIN, "map_remove_if (different)");
        }
        break;
    }
    case 11: case 21: { /* size, size_v */
        if (g_map_shared) break;
        size_t n = 777;
        if (sub == 11) {
            st = ftk_map_size(h, nullout ? NULL : &n);
            if (gate(s, st, nullout, "map_size")) break;
            EXPECT(st, FTK_OK, "map_size");
        } else {
            n = ftk_map_size_v(h);
            st = ftk_last_status();
            model_last = st;
            if (gate(s, st, false, "map_size_v")) {
                EQ64(n, 0, "map_size_v, bad handle");
                break;
            }
            EXPECT(st, FTK_OK, "map_size_v sets the last status");
        }
        EQ64(n, m->n, "map_size");
        break;
    }
    case 12: {
        size_t c = 777;
        st = ftk_map_capacity(h, nullout ? NULL : &c);
        if (gate(s, st, nullout, "map_capacity")) break;
        EXPECT(st, FTK_OK, "map_capacity");
        m_check_capacity(s, c, "map_capacity");
        break;
    }
    case 13: { /* one step of an iteration (starts one if none) */
        if (g_map_shared) break;
        uint64_t max = pick_count(r, 0, true);
        if (max > MMAX + 64 && max < SIZE_MAX) max = MMAX + 64;
        uint64_t cur = (m && m->it_on) ? m->cursor : 0;
        bool foreign = u8(r) % 32 == 0;
        if (foreign) cur = pick_word(r); /* a cursor never handed out */
        bool owncur = m && !foreign;
        size_t n = 777;
        uint64_t cur0 = cur;
        st = ftk_map_iter(h, nullout ? NULL : &cur, mk, mv, MH, (size_t)max, &n);
        if (gate(s, st, nullout, "map_iter")) break;
        if (!owncur) { /* a foreign cursor: only "no crash, sane answer" */
            EXPECT2(st, FTK_OK, FTK_EOVERFLOW, "map_iter (foreign cursor)");
            CHECK(n <= (size_t)m->n, "map_iter (foreign cursor): %zu > %d entries", n, m->n);
            break;
        }
        if (!m->it_on) { /* start */
            TRACE("    iteration starts with %d entries\n", m->n);
            m->it_on = true;
            m->it_exact = true;
            m->cursor = cur0;
            m->nret = m->nchg = 0;
            for (int i = 0; i < m->n; i++) {
                m->e[i].thru = true;
                m->e[i].vchg = false;
            }
        }
        if (cur0 == FTK_MAP_CURSOR_END) {
            EXPECT(st, FTK_OK, "map_iter at the end");
            EQ64(n, 0, "map_iter at the end");
            m->it_on = false;
            break;
        }
        if (st == FTK_EOVERFLOW) {
            TRACE("    iter step: cursor %#llx, FTK_EOVERFLOW: %zu > max %llu\n",
                  (unsigned long long)cur0, n, (unsigned long long)max);
            EQ64(cur, cur0, "map_iter FTK_EOVERFLOW leaves the cursor");
            CHECK(n > max && n <= (size_t)m->n, "map_iter FTK_EOVERFLOW: room %zu for max %llu",
                  n, (unsigned long long)max);
            break;
        }
        EXPECT(st, FTK_OK, "map_iter");
        TRACE("    iter step: cursor %#llx -> %#llx, %zu entries of max %llu\n",
              (unsigned long long)cur0, (unsigned long long)cur, n, (unsigned long long)max);
        CHECK(n <= max, "map_iter: %zu > max", n);
        CHECK(n > 0 || cur == FTK_MAP_CURSOR_END, "map_iter: 0 entries before the end");
        for (size_t i = 0; i < n; i++) {
            if (m->nret == RMAX) {
                m->it_exact = false;
                break;
            }
            m->ret[m->nret++] = (trip){mh[i], mk[i], mv[i]};
        }
        m->cursor = cur;
        if (cur == FTK_MAP_CURSOR_END) m_iter_finish(m);
        break;
    }
    case 14: { /* whole iteration in one call, some arrays NULL: counts only */
        if (g_map_shared) break;
        uint64_t cur = 0;
        size_t n = 777;
        uint8_t sel = u8(r);
        st = ftk_map_iter(h, &cur, (sel & 1) ? NULL : mk, (sel & 2) ? NULL : mv,
                          (sel & 4) ? NULL : MH, SIZE_MAX, nullout ? NULL : &n);
        if (gate(s, st, nullout, "map_iter (whole)")) break;
        EXPECT(st, FTK_OK, "map_iter (whole)");
        EQ64(n, m->n, "map_iter (whole) count");
        EQ64(cur, FTK_MAP_CURSOR_END, "map_iter (whole) cursor");
        if ((sel & 7) == 0) { /* all arrays: the exact multiset */
            bool used[MMAX] = {false};
            for (size_t j = 0; j < n; j++) {
                bool found = false;
                for (int i = 0; i < m->n && !found; i++)
                    if (!used[i] && m->e[i].hash == mh[j] && m->e[i].key == mk[j] &&
                        m->e[i].val == mv[j])
                        used[i] = found = true;
                CHECK(found, "map_iter (whole): entry (%#llx, %#llx, %#llx) not in the model",
                      (unsigned long long)mh[j], (unsigned long long)mk[j],
                      (unsigned long long)mv[j]);
            }
        }
        break;
    }
    case 15: { /* drain */
        if (g_map_shared) break;
        uint64_t max = pick_count(r, 0, true);
        bool nullbuf = u8(r) % 16 == 0;
        size_t n = 777;
        st = ftk_map_drain(h, nullbuf ? NULL : mk, nullbuf ? NULL : mv, (size_t)max,
                           nullout ? NULL : &n);
        if (gate(s, st, nullout || (nullbuf && max > 0), "map_drain")) break;
        EXPECT(st, FTK_OK, "map_drain");
        uint64_t want = max < (uint64_t)m->n ? max : (uint64_t)m->n;
        EQ64(n, want, "map_drain count");
        int before = m->n;
        bool ambiguous = false;
        for (size_t j = 0; j < n && !ambiguous; j++) {
            int hit = -1, hits = 0;
            for (int i = 0; i < m->n; i++)
                if (m->e[i].key == mk[j] && m->e[i].val == mv[j]) {
                    hits++;
                    hit = i;
                }
            CHECK(hits > 0, "map_drain: (key %#llx, value %#llx) not in the model",
                  (unsigned long long)mk[j], (unsigned long long)mv[j]);
            if (hits > 1)
                ambiguous = true;
            else
                m_remove_at(m, hit);
        }
        if (ambiguous) m_resync(s, before - (int)n);
        break;
    }
    case 23: { /* drain_pass */
        if (g_map_shared) break;
        uint64_t max = pick_count(r, 0, true);
        bool nullbuf = u8(r) % 16 == 0, foreign = u8(r) % 32 == 0;
        uint64_t pst[2] = {0, 0};
        if (foreign) {
            pst[0] = pick_word(r);
            pst[1] = pick_word(r);
        } else if (m && m->pass_on) {
            pst[0] = m->pass[0];
            pst[1] = m->pass[1];
        }
        uint64_t p0 = pst[0];
        size_t n = 777;
        st = ftk_map_drain_pass(h, nullout ? NULL : pst, nullbuf ? NULL : mk, nullbuf ? NULL : mv,
                                (size_t)max, &n);
        if (gate(s, st, nullout || (nullbuf && max > 0), "map_drain_pass")) break;
        EXPECT(st, FTK_OK, "map_drain_pass");
        CHECK(n <= max && n <= (size_t)m->n, "map_drain_pass: %zu entries (max %llu, %d inside)",
              n, (unsigned long long)max, m->n);
        TRACE("    drain_pass: cursor %#llx -> %#llx, %zu entries\n", (unsigned long long)p0,
              (unsigned long long)pst[0], n);
        if (foreign) { /* only sane answers: resynchronise with what is left */
            if (n > 0) m_resync(s, m->n - (int)n);
            break;
        }
        if (p0 == FTK_MAP_CURSOR_END || max == 0) {
            EQ64(n, 0, "map_drain_pass with nothing to do");
            EQ64(pst[0], p0, "map_drain_pass with nothing to do: cursor");
            if (p0 == FTK_MAP_CURSOR_END) m->pass_on = false;
            break;
        }
        if (!m->pass_on) { /* the first call began the pass */
            CHECK(pst[1] != 0, "map_drain_pass: first call recorded no start");
            m->pass_on = true;
            m->pass_exact = true;
            for (int i = 0; i < m->n; i++) m->e[i].inpass = true;
        }
        m->pass[0] = pst[0];
        m->pass[1] = pst[1];
        int before = m->n;
        bool ambiguous = false;
        for (size_t j = 0; j < n && !ambiguous; j++) {
            int hit = -1, hits = 0;
            for (int i = 0; i < m->n; i++)
                if (m->e[i].key == mk[j] && m->e[i].val == mv[j]) {
                    hits++;
                    hit = i;
                }
            CHECK(hits > 0, "map_drain_pass: (key %#llx, value %#llx) not in the model",
                  (unsigned long long)mk[j], (unsigned long long)mv[j]);
            if (hits > 1) {
                ambiguous = true;
                break;
            }
            CHECK(m->e[hit].inpass || !m->pass_exact,
                  "map_drain_pass: took (hash %#llx, key %#llx), inserted after the pass began",
                  (unsigned long long)m->e[hit].hash, (unsigned long long)m->e[hit].key);
            m_remove_at(m, hit);
        }
        if (ambiguous) m_resync(s, before - (int)n);
        if (pst[0] == FTK_MAP_CURSOR_END) {
            m->pass_on = false;
            if (m->pass_exact)
                for (int i = 0; i < m->n; i++)
                    CHECK(!m->e[i].inpass,
                          "map_drain_pass: pass over, (hash %#llx, key %#llx) was there and stays",
                          (unsigned long long)m->e[i].hash, (unsigned long long)m->e[i].key);
        }
        break;
    }
    case 16: { /* find1_v */
        uint64_t hv = pick_hash(r, m);
        uint64_t w = ftk_map_find1_v(h, i64(hv));
        if (gate_v(s, w, "map_find1_v")) break;
        uint64_t cv[MMAX];
        int c = m_candidates(m, hv, NULL, cv);
        if (c == 1) {
            EQ64(w, cv[0], "map_find1_v");
            if (w == 0) model_last = FTK_OK;
        } else {
            EQ64(w, 0, "map_find1_v without exactly one candidate");
            model_last = c == 0 ? FTK_ENOTFOUND : FTK_EOVERFLOW;
        }
        check_last("map_find1_v");
        break;
    }
    default: { /* burst of inserts: chains, resizes (x2 and x4) */
        if (!m) break;
        unsigned n = 1 + u8(r) % 200;
        uint64_t base = (u8(r) % 3 == 0) ? (u64(r) & g_hash_mask) : fresh_word();
        unsigned stride = 1 + u8(r) % 4;
        uint64_t stamp = u8(r) % 2 ? FTK_MAP_STAMP_ANY : 0;
        TRACE("    burst of %u, hashes from %#llx / %u\n", n, (unsigned long long)base, stride);
        for (unsigned i = 0; i < n && m->n < g_mlimit; i++) {
            uint64_t hv = (base + (uint64_t)(i / stride)) & g_hash_mask;
            uint64_t key = fresh_word(), val = fresh_word();
            st = ftk_map_insert(h, hv, key, val, stamp);
            if (gate(s, st, false, "map_insert (burst)")) break;
            m_check_insert(s, st, hv, key, val, stamp, "map_insert (burst)");
        }
        break;
    }
    }
}

static void op_map(rd *r) {
    unsigned sub = u8(r) % 24;
    if (sub == 0) {
        op_map_new(r);
        return;
    }
    free_or_call(r, sub, K_MAP, map_call);
}

/* ---- slots ------------------------------------------------------------------------------------ */

static int slot_find(uint64_t w) {
    for (int i = 0; i < nlive_slots; i++)
        if (live_slots[i] == w) return i;
    return -1;
}

static void slot_new(uint64_t w, const char *what) {
    CHECK(w != 0, "%s: the word 0", what);
    CHECK(FTK_SLOT_INDEX(w) >= 1, "%s: index 0", what);
    CHECK(FTK_SLOT_GENERATION(w) & 1, "%s: even generation in %#llx", what, (unsigned long long)w);
    CHECK(slot_find(w) < 0, "%s: %#llx handed out twice", what, (unsigned long long)w);
    CHECK(ftk_slot_is_live(w) == 1, "%s: new word not live", what);
    CHECK(FTK_SLOT_INDEX(w) < ftk_slot_capacity(), "%s: index beyond ftk_slot_capacity()", what);
    live_slots[nlive_slots++] = w;
}

static void slot_gone(int i) {
    stale_slots[stale_slot_pos++ % 16] = live_slots[i];
    live_slots[i] = live_slots[--nlive_slots];
}

static uint64_t pick_slot_word(rd *r) {
    uint8_t sel = u8(r);
    uint64_t w;
    switch (sel % 8) {
    case 0: case 1: case 2:
        if (nlive_slots > 0) return live_slots[(sel >> 3) % nlive_slots];
        return 0;
    case 3: return stale_slots[(sel >> 3) % 16];
    case 4: /* a live word's index with another generation (odd: +2, even: +1) */
        w = nlive_slots > 0 ? live_slots[(sel >> 3) % nlive_slots] : 0;
        return w + ((uint64_t)(1 + (sel >> 7)) << 32);
    case 5: return 0;
    default: return pick_word(r);
    }
}

static void op_slots(rd *r) {
    unsigned sub = u8(r) % 8;
    int st;
    switch (sub) {
    case 0: {
        if (nlive_slots >= SMAX) break;
        if (u8(r) % 16 == 0) {
            EXPECT(ftk_slot_alloc(NULL), FTK_EINVAL, "slot_alloc(NULL)");
            break;
        }
        uint64_t w = 0;
        EXPECT(ftk_slot_alloc(&w), FTK_OK, "slot_alloc");
        slot_new(w, "slot_alloc");
        break;
    }
    case 1: {
        if (nlive_slots >= SMAX) break;
        uint64_t w = ftk_slot_alloc_v();
        CHECK(w != 0, "slot_alloc_v failed: %s", SN(ftk_last_status()));
        check_last("slot_alloc_v");
        slot_new(w, "slot_alloc_v");
        break;
    }
    case 2: {
        uint64_t w = pick_slot_word(r);
        int i = slot_find(w);
        st = ftk_slot_free(w);
        if (i >= 0) {
            EXPECT(st, FTK_OK, "slot_free of a live word");
            slot_gone(i);
            CHECK(!ftk_slot_is_live(w), "slot_free: word still live");
            EXPECT(ftk_slot_free(w), FTK_EINVAL, "second slot_free");
        } else {
            EXPECT(st, FTK_EINVAL, "slot_free of a word that is not live");
        }
        break;
    }
    case 3: {
        uint64_t n = u8(r) % 65;
        bool nullw = u8(r) % 16 == 0;
        if (nullw && u8(r) % 2) n = SIZE_MAX;
        if (!nullw && n > (uint64_t)(SMAX - nlive_slots)) n = (uint64_t)(SMAX - nlive_slots);
        st = ftk_slot_alloc_many(nullw ? NULL : mk, (size_t)n);
        if (nullw) {
            EXPECT(st, n ? FTK_EINVAL : FTK_OK, "slot_alloc_many(NULL)");
            break;
        }
        EXPECT(st, FTK_OK, "slot_alloc_many");
        for (uint64_t i = 0; i < n; i++) slot_new(mk[i], "slot_alloc_many");
        break;
    }
    case 4: {
        uint64_t n = u8(r) % 17;
        bool nullw = u8(r) % 16 == 0, nulldone = u8(r) % 4 == 0;
        for (uint64_t i = 0; i < n; i++) mk[i] = pick_slot_word(r);
        if (nullw && u8(r) % 2) n = SIZE_MAX;
        size_t done = 777;
        st = ftk_slot_free_many(nullw ? NULL : mk, (size_t)n, nulldone ? NULL : &done);
        if (nullw) {
            EXPECT(st, n ? FTK_EINVAL : FTK_OK, "slot_free_many(NULL)");
            if (!nulldone) EQ64(done, 0, "slot_free_many(NULL) done");
            break;
        }
        uint64_t i = 0;
        int want = FTK_OK;
        for (; i < n; i++) {
            int j = slot_find(mk[i]);
            if (j < 0) {
                want = FTK_EINVAL;
                break;
            }
            slot_gone(j);
        }
        EXPECT(st, want, "slot_free_many");
        if (!nulldone) EQ64(done, i, "slot_free_many done");
        break;
    }
    case 5: {
        uint64_t w = pick_slot_word(r);
        EXPECT(ftk_slot_is_live(w), slot_find(w) >= 0, "slot_is_live");
        break;
    }
    case 6: {
        size_t c = ftk_slot_capacity();
        for (int i = 0; i < nlive_slots; i++)
            CHECK(FTK_SLOT_INDEX(live_slots[i]) < c, "slot_capacity %zu <= a live index", c);
        break;
    }
    default:
        EQ64(ftk_slot_live_approx(), nlive_slots, "slot_live_approx");
        break;
    }
}

/* ---- misc ------------------------------------------------------------------------------------- */

static void op_misc(rd *r) {
    switch (u8(r) % 6) {
    case 0: {
        int st = (int)(int32_t)(uint32_t)u64(r);
        if (u8(r) % 2) st = -(int)(u8(r) % 16);
        const char *msg = ftk_strerror(st), *name = ftk_err_name(st);
        CHECK(msg != NULL && name != NULL, "strerror/err_name returned NULL for %d", st);
        if (st <= 0 && st >= FTK_STATUS_MIN) {
            CHECK(strncmp(name, "FTK_", 4) == 0 && strcmp(name, "FTK_UNKNOWN") != 0,
                  "err_name(%d) = %s", st, name);
            CHECK(strcmp(msg, "unknown status code") != 0, "strerror(%d) unknown", st);
        } else {
            CHECK(strcmp(name, "FTK_UNKNOWN") == 0, "err_name(%d) = %s", st, name);
            CHECK(strcmp(msg, "unknown status code") == 0, "strerror(%d) = %s", st, msg);
        }
        break;
    }
    case 1:
        EQ64(ftk_version(),
             (FTK_VERSION_MAJOR << 16) | (FTK_VERSION_MINOR << 8) | FTK_VERSION_PATCH,
             "ftk_version");
        CHECK(strcmp(ftk_version_string(), FTK_VERSION_STRING) == 0, "ftk_version_string");
        EQ64(ftk_abi_version(), FTK_ABI_VERSION, "ftk_abi_version");
        break;
    case 2: EQ64(ftk_live_handles(), live_handle_count(), "ftk_live_handles"); break;
    case 3: EQ64(ftk_reclaim_collect(), 0, "ftk_reclaim_collect with no thread inside"); break;
    case 4: check_last("ftk_last_status"); break;
    default: EQ64(ftk_slot_live_approx(), nlive_slots, "slot_live_approx"); break;
    }
}

/* ---- race: another thread frees / closes / wakes a handle ------------------------------------- */

enum { RA_FREE, RA_CLOSE, RA_CLOSE_IMM, RA_WAKE, RA_DOUBLE_FREE, RA_ADD, RA_COUNT };

typedef struct race {
    int kind, action;
    ftk_handle_t h;
    unsigned delay;
    int64_t add;  /* RA_ADD */
    unsigned adds;
    _Atomic int go, done;
    _Atomic unsigned passes; /* main thread's passes (FUZZ_RACE_AFTER) */
    unsigned after;
    int st;
} race;

static void *race_thread(void *arg) {
    race *x = arg;
    while (!atomic_load(&x->go)) relax();
    race_delay(x->delay);
    /* debugging a reproducer: act only after the main thread's Nth pass */
    while (atomic_load(&x->passes) < x->after) sched_yield();
    switch (x->action) {
    case RA_FREE:
    case RA_DOUBLE_FREE: x->st = free_fn[x->kind](x->h); break;
    case RA_CLOSE: x->st = ftk_queue_close(x->h, 0); break;
    case RA_CLOSE_IMM: x->st = ftk_queue_close(x->h, 1); break;
    case RA_WAKE:
        x->st = FTK_OK;
        for (int i = 0; i < 8 && x->st == FTK_OK; i++) {
            x->st = ftk_queue_wake(x->h);
            for (unsigned j = 0; j < 500; j++) relax();
        }
        break;
    default:
        x->st = FTK_OK;
        for (unsigned i = 0; i < x->adds; i++) {
            int st = ftk_int64_fetch_add(x->h, x->add, NULL);
            if (st != FTK_OK) x->st = st;
        }
        break;
    }
    atomic_store(&x->done, 1);
    return NULL;
}

/* The burst: the main thread's ops, recorded from the input, replayed until
 * the other thread has acted (the same bytes each pass). */
static void op_race(rd *r) {
    int s = u8(r) % NH;
    if (!H[s].live || thread_ops >= MAX_THREAD_OPS) return;
    thread_ops++;
    race x;
    memset(&x, 0, sizeof x);
    x.kind = H[s].kind;
    x.h = H[s].h;
    x.action = u8(r) % RA_COUNT;
    if (x.kind != K_QUEUE && (x.action == RA_CLOSE || x.action == RA_CLOSE_IMM || x.action == RA_WAKE))
        x.action = RA_FREE;
    if (x.action == RA_ADD && x.kind != K_INT64) x.action = RA_DOUBLE_FREE;
    x.delay = u16(r) % 4096;
    x.add = i64(pick_word(r));
    x.adds = 1 + u8(r) % 64;
    bool may_die = x.action == RA_FREE || x.action == RA_DOUBLE_FREE;

    /* the recorded ops: a sub-op number and operand bytes each */
    burst b;
    read_burst(r, &b);
    unsigned nops = b.n;

    g_race = true;
    g_race_may_die = may_die;
    g_race_dead = false;
    g_race_qmax = x.action == RA_CLOSE ? FTK_QUEUE_CLOSED
                  : (x.action == RA_CLOSE_IMM || may_die) ? FTK_QUEUE_CLOSED_IMMEDIATE
                                                           : FTK_QUEUE_OPEN;
    if (x.kind == K_QUEUE && Q[s].closed > g_race_qmax) g_race_qmax = Q[s].closed;
    g_race_qobs = x.kind == K_QUEUE ? Q[s].closed : 0;
    g_force_h = x.h;
    g_force_slot = s;
    if (x.kind == K_MAP) MM[s].it_on = false; /* a free mid-iteration: start over */

    /* A value-style call that fails with FTK_EBADHANDLE must be told from
     * one that succeeded: start from another last status. */
    if (ftk_last_status() == FTK_EBADHANDLE) {
        ftk_handle_t t;
        EXPECT(ftk_queue_new(0, &t), FTK_OK, "queue_new");
        EQ64(ftk_queue_try_pop_v(t), 0, "queue_try_pop_v (empty)");
        EXPECT(ftk_queue_free(t), FTK_OK, "queue_free");
        EXPECT(ftk_last_status(), FTK_EEMPTY, "ftk_last_status after a pop from an empty queue");
        lp.known = false;
    }
    model_last = ftk_last_status();

    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, race_thread, &x) == 0, "pthread_create");
    atomic_store(&x.go, 1);
    int main_free_st = 1;
    uint64_t main_adds = 0;
    if (x.action == RA_ADD) { /* both threads add; values are checked at the end */
        while (!atomic_load(&x.done) || main_adds < 64) {
            int64_t old;
            EXPECT(ftk_int64_fetch_add(x.h, x.add ^ 1, &old), FTK_OK, "fetch_add (racing adds)");
            main_adds++;
        }
        nops = 0;
    }
    const char *after = getenv("FUZZ_RACE_AFTER");
    x.after = after ? (unsigned)atoi(after) : 0;
    for (unsigned pass = 0; pass < 64 && nops > 0; pass++) {
        atomic_store(&x.passes, pass);
        TRACE("  race pass %u\n", pass);
        bool other_done = atomic_load(&x.done);
        for (unsigned i = 0; i < nops; i++) {
            rd a = b.arg[i];
            switch (x.kind) {
            case K_INT64: int64_call(&a, 2 + b.sub[i] % 21); break;
            case K_FLAG: flag_call(&a, 2 + b.sub[i] % 9); break;
            case K_REF: ref_call(&a, 2 + b.sub[i] % 7); break;
            case K_QUEUE: {
                unsigned sub = 2 + b.sub[i] % 21;
                if (sub == 8) sub = 12; /* close is the other thread's */
                queue_call(&a, sub, x.h, g_race_dead ? -1 : s);
                break;
            }
            default: {
                unsigned sub = 2 + b.sub[i] % 22;
                map_call(&a, sub, x.h, g_race_dead ? -1 : s);
                break;
            }
            }
            if (x.action == RA_DOUBLE_FREE && i == nops / 2 && main_free_st == 1) {
                main_free_st = free_fn[x.kind](x.h);
                if (main_free_st == FTK_OK) g_race_dead = true;
            }
        }
        if (other_done) break;
    }
    atomic_store(&x.passes, UINT32_MAX);
    pthread_join(tid, NULL);
    if (x.action == RA_DOUBLE_FREE && main_free_st == 1) main_free_st = free_fn[x.kind](x.h);
    g_race = false;
    g_force_h = FTK_NULL_HANDLE;

    switch (x.action) {
    case RA_FREE:
    case RA_DOUBLE_FREE:
        race_free_outcome(s, x.action == RA_DOUBLE_FREE, x.st, main_free_st);
        break;
    case RA_CLOSE:
    case RA_CLOSE_IMM: {
        EXPECT(x.st, FTK_OK, "racing close");
        int state = x.action == RA_CLOSE ? FTK_QUEUE_CLOSED : FTK_QUEUE_CLOSED_IMMEDIATE;
        if (state > Q[s].closed) Q[s].closed = state;
        int c = -1;
        EXPECT(ftk_queue_is_closed(x.h, &c), FTK_OK, "queue_is_closed after a race");
        EXPECT(c, Q[s].closed, "queue_is_closed after a race");
        break;
    }
    case RA_WAKE: EXPECT(x.st, FTK_OK, "racing wake"); break;
    default: {
        EXPECT(x.st, FTK_OK, "racing fetch_add");
        H[s].val += (uint64_t)x.add * x.adds + ((uint64_t)x.add ^ 1) * main_adds;
        int64_t v = 0;
        EXPECT(ftk_int64_load(x.h, &v), FTK_OK, "int64_load after racing adds");
        EQ64(v, H[s].val, "int64 after racing adds");
        break;
    }
    }
    g_race_dead = false;
    /* the burst's value-style calls left whatever they left */
    model_last = ftk_last_status();
}

/* ---- MPMC: a second producer and/or consumer on a fresh queue ---------------------------------- */

#define TAG_A 0xA000000000000000ULL
#define TAG_B 0xB000000000000000ULL
#define MP_MAX 300

typedef struct mpmc {
    ftk_handle_t q;
    unsigned role; /* bit 0: produce, bit 1: consume */
    unsigned nprod, style;
    bool task_done;
    _Atomic int go, stop, prod_done;
    _Atomic unsigned moved; /* words this thread pushed or popped (progress) */
    unsigned pushed;
    uint64_t got[2 * MP_MAX + 8];
    unsigned ngot, tdone;
    int err_line;
    char err[160];
} mpmc;

#define MP_WAIT 200000 /* 200 us */

static bool mp_consume(mpmc *x, ftk_handle_t q, uint64_t *got, unsigned *ngot, unsigned cap,
                       unsigned style, unsigned *tdone, bool task_done, int *line, char *err,
                       size_t errlen) {
    uint64_t buf[8];
    size_t n = 0;
    int st;
    switch (style % 4) {
    case 0: st = ftk_queue_try_pop(q, buf); n = st == FTK_OK; break;
    case 1: st = ftk_queue_pop_many(q, buf, 1 + style % 8, &n, MP_WAIT); break;
    case 2: {
        uint64_t w = ftk_queue_pop_v(q, MP_WAIT);
        st = ftk_last_status();
        if (w != 0) st = FTK_OK;
        buf[0] = w;
        n = st == FTK_OK;
        break;
    }
    default: {
        uint64_t rr[16];
        size_t k = ftk_queue_pop_runs_v(q, rr, 1 + style % 8, MP_WAIT);
        st = k ? FTK_OK : ftk_last_status();
        for (size_t i = 0; i < k; i++)
            for (uint64_t j = 0; j < rr[2 * i + 1] && n < 8; j++) buf[n++] = rr[2 * i] + j;
        break;
    }
    }
    (void)x;
    if (st != FTK_OK && st != FTK_EEMPTY && st != FTK_ETIMEDOUT && st != FTK_ECLOSED &&
        st != FTK_EINTR) { /* EINTR: a signal (libFuzzer's timer) during a sleep */
        if (!*line) {
            *line = __LINE__;
            snprintf(err, errlen, "consumer: unexpected status %s", SN(st));
        }
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (*ngot < cap) got[(*ngot)++] = buf[i];
        if (task_done) {
            int t = ftk_queue_task_done(q);
            if (t != FTK_OK && !*line) {
                *line = __LINE__;
                snprintf(err, errlen, "task_done for a popped word: %s", SN(t));
            }
            (*tdone)++;
        }
    }
    return st == FTK_OK;
}

/* Push word i.. of a producer; returns how many went in, or -1 to stop. */
static int mp_produce(ftk_handle_t q, uint64_t tag, unsigned i, unsigned left, unsigned style,
                      int *line, char *err, size_t errlen) {
    uint64_t buf[16];
    unsigned k = 1 + style % 16;
    if (k > left) k = left;
    for (unsigned j = 0; j < k; j++) buf[j] = tag | (i + j);
    int st;
    size_t pushed = 0;
    switch (style % 4) {
    case 0: st = ftk_queue_try_push(q, buf[0]); pushed = st == FTK_OK; break;
    case 1: st = ftk_queue_push(q, buf[0], MP_WAIT); pushed = st == FTK_OK; break;
    case 2: st = ftk_queue_push_many(q, buf, k, &pushed, MP_WAIT); break;
    default:
        pushed = ftk_queue_push_range_v(q, tag | i, k, MP_WAIT);
        st = pushed == k ? FTK_OK : ftk_last_status();
        break;
    }
    if (st == FTK_ECLOSED) return pushed ? (int)pushed : -1;
    if (st != FTK_OK && st != FTK_EFULL && st != FTK_ETIMEDOUT && st != FTK_EINTR && !*line) {
        *line = __LINE__;
        snprintf(err, errlen, "producer: unexpected status %s", SN(st));
        return -1;
    }
    return (int)pushed;
}

static void *mpmc_thread(void *arg) {
    mpmc *x = arg;
    while (!atomic_load(&x->go)) relax();
    unsigned style = x->style;
    bool producing = (x->role & 1) && x->nprod > 0;
    if (!producing) atomic_store(&x->prod_done, 1);
    while (producing || ((x->role & 2) && !atomic_load(&x->stop))) {
        if (producing) {
            int k = mp_produce(x->q, TAG_A, x->pushed, x->nprod - x->pushed, style, &x->err_line,
                               x->err, sizeof x->err);
            if (k < 0 || (k == 0 && atomic_load(&x->stop))) {
                producing = false;
            } else {
                x->pushed += (unsigned)k;
                atomic_fetch_add(&x->moved, (unsigned)k);
                if (x->pushed == x->nprod) producing = false;
            }
            if (!producing) atomic_store(&x->prod_done, 1);
        }
        if ((x->role & 2) &&
            mp_consume(x, x->q, x->got, &x->ngot, 2 * MP_MAX, style >> 2, &x->tdone, x->task_done,
                       &x->err_line, x->err, sizeof x->err))
            atomic_fetch_add(&x->moved, 1);
        style = style * 1103515245u + 12345u;
    }
    atomic_store(&x->prod_done, 1);
    return NULL;
}

static void mp_check_order(const uint64_t *w, unsigned n, const char *who) {
    uint64_t lastA = 0, lastB = 0;
    bool seenA = false, seenB = false;
    for (unsigned i = 0; i < n; i++) {
        uint64_t tag = w[i] & 0xF000000000000000ULL, idx = w[i] & 0x0FFFFFFFFFFFFFFFULL;
        if (tag == TAG_A) {
            CHECK(!seenA || idx > lastA, "mpmc: %s saw producer A's %llu after %llu", who,
                  (unsigned long long)idx, (unsigned long long)lastA);
            lastA = idx;
            seenA = true;
        } else {
            CHECK(tag == TAG_B, "mpmc: %s popped a foreign word %#llx", who,
                  (unsigned long long)w[i]);
            CHECK(!seenB || idx > lastB, "mpmc: %s saw producer B's %llu after %llu", who,
                  (unsigned long long)idx, (unsigned long long)lastB);
            lastB = idx;
            seenB = true;
        }
    }
}

static void op_mpmc(rd *r) {
    if (thread_ops >= MAX_THREAD_OPS) return;
    thread_ops++;
    static mpmc x; /* big: not on the stack */
    memset(&x, 0, sizeof x);
    uint64_t caps[] = {0, 1, 2, 3, 7, 128, 129, 200};
    uint64_t cap = caps[u8(r) % 8];
    bool patient = u8(r) % 2;
    x.role = 1 + u8(r) % 3;
    x.nprod = u16(r) % (MP_MAX + 1);
    x.style = u8(r) | (unsigned)u8(r) << 8;
    x.task_done = u8(r) % 2;
    unsigned nmain = u16(r) % (MP_MAX + 1);
    unsigned mstyle = u8(r) | (unsigned)u8(r) << 8;
    unsigned close_at = u16(r); /* main step at which it closes (if < steps) */
    bool close_imm = u8(r) % 2;

    /* patience 0 exercises the skip path */
    EXPECT(ftk_queue_new_ex((size_t)cap, patient ? 64 : 0, &x.q), FTK_OK, "queue_new (mpmc)");

    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, mpmc_thread, &x) == 0, "pthread_create");
    atomic_store(&x.go, 1);

    static uint64_t mgot[2 * MP_MAX + 8], dgot[2 * MP_MAX + 8];
    unsigned nmgot = 0, ndgot = 0, mpushed = 0, mtdone = 0, step = 0;
    bool mproducing = nmain > 0, closed = false;
    unsigned last_moved = 0;
    int64_t last_progress = now_ns();
    int mline = 0;
    char merr[160] = "";
    while (mproducing || !atomic_load(&x.prod_done)) {
        if (step == close_at && !closed) {
            EXPECT(ftk_queue_close(x.q, close_imm), FTK_OK, "queue_close (mpmc)");
            closed = true;
        }
        if (mproducing && (mstyle & 1)) {
            int k = mp_produce(x.q, TAG_B, mpushed, nmain - mpushed, mstyle >> 1, &mline, merr,
                               sizeof merr);
            if (k < 0) {
                mproducing = false;
            } else {
                mpushed += (unsigned)k;
                if (mpushed == nmain) mproducing = false;
            }
        } else {
            mp_consume(&x, x.q, mgot, &nmgot, 2 * MP_MAX, mstyle >> 3, &mtdone, x.task_done,
                       &mline, merr, sizeof merr);
        }
        CHECK(!mline, "mpmc main thread (line %d): %s", mline, merr);
        mstyle = mstyle * 1103515245u + 12345u;
        step++;
        /* progress: anything pushed or popped by either thread */
        unsigned moved = mpushed + nmgot + atomic_load(&x.moved);
        if (moved != last_moved) {
            last_moved = moved;
            last_progress = now_ns();
        } else if ((step & 1023) == 0 && now_ns() - last_progress > 10 * 1000000000LL) {
            fail(__LINE__, "mpmc: no word moved for 10 s (step %u)", step);
        }
    }
    atomic_store(&x.stop, 1);
    pthread_join(tid, NULL);
    CHECK(!x.err_line, "mpmc other thread (line %d): %s", x.err_line, x.err);

    /* what is left, by drain (also after an immediate close) */
    for (;;) {
        size_t n = 0;
        EXPECT(ftk_queue_drain(x.q, dgot + ndgot, 2 * MP_MAX - ndgot, &n), FTK_OK,
               "queue_drain (mpmc)");
        ndgot += (unsigned)n;
        if (n == 0 || ndgot >= 2 * MP_MAX) break;
    }

    /* every pushed word exactly once; none that was not pushed */
    static uint8_t seenA[MP_MAX + 1], seenB[MP_MAX + 1];
    memset(seenA, 0, sizeof seenA);
    memset(seenB, 0, sizeof seenB);
    const uint64_t *lists[3] = {x.got, mgot, dgot};
    unsigned lens[3] = {x.ngot, nmgot, ndgot};
    for (int l = 0; l < 3; l++)
        for (unsigned i = 0; i < lens[l]; i++) {
            uint64_t w = lists[l][i], idx = w & 0x0FFFFFFFFFFFFFFFULL;
            bool a = (w & 0xF000000000000000ULL) == TAG_A;
            CHECK(a || (w & 0xF000000000000000ULL) == TAG_B, "mpmc: foreign word %#llx",
                  (unsigned long long)w);
            CHECK(idx < (a ? x.pushed : mpushed), "mpmc: word %#llx was never pushed",
                  (unsigned long long)w);
            uint8_t *seen = a ? seenA : seenB;
            CHECK(!seen[idx], "mpmc: word %#llx popped twice", (unsigned long long)w);
            seen[idx] = 1;
        }
    for (unsigned i = 0; i < x.pushed; i++) CHECK(seenA[i], "mpmc: producer A's word %u lost", i);
    for (unsigned i = 0; i < mpushed; i++) CHECK(seenB[i], "mpmc: producer B's word %u lost", i);
    mp_check_order(x.got, x.ngot, "the other thread");
    /* the main thread's pops, then its drain: one consumer */
    static uint64_t mall[4 * MP_MAX + 16];
    memcpy(mall, mgot, nmgot * sizeof(uint64_t));
    memcpy(mall + nmgot, dgot, ndgot * sizeof(uint64_t));
    mp_check_order(mall, nmgot + ndgot, "the main thread");

    /* tasks: pushes - task_done - drained */
    uint64_t want = (uint64_t)x.pushed + mpushed - x.tdone - mtdone - ndgot, u = 0;
    EXPECT(ftk_queue_unfinished(x.q, &u), FTK_OK, "queue_unfinished (mpmc)");
    EQ64(u, want, "queue_unfinished after mpmc");
    EXPECT(ftk_queue_join(x.q, 0), want ? FTK_ETIMEDOUT : FTK_OK, "queue_join(0) after mpmc");
    size_t sz = 1;
    EXPECT(ftk_queue_size_approx(x.q, &sz), FTK_OK, "queue_size_approx (mpmc)");
    EQ64(sz, 0, "queue_size_approx after the drain");
    EXPECT(ftk_queue_free(x.q), FTK_OK, "queue_free (mpmc)");
    model_last = ftk_last_status(); /* the main thread's value-style pops */
    lp.known = false;
}

/* ---- map_mt: another thread writes its own hash range of the same map --------------------------- */

#define HELPER_HASH_BIT ((uint64_t)1 << 62)
#define MT_MAX 96

typedef struct mapmt {
    ftk_handle_t h;
    const uint8_t *prog;
    size_t len;
    _Atomic int go;
    trip e[MT_MAX]; /* the other thread's model, insertion order */
    int n;
    uint64_t ctr;
    int err_line;
    char err[200];
} mapmt;

#define MT_FAIL(...)                                                  \
    do {                                                              \
        if (!x->err_line) {                                           \
            x->err_line = __LINE__;                                   \
            snprintf(x->err, sizeof x->err, __VA_ARGS__);             \
        }                                                             \
        return NULL;                                                  \
    } while (0)

static void *mapmt_thread(void *arg) {
    mapmt *x = arg;
    while (!atomic_load(&x->go)) relax();
    rd r = {x->prog, x->len};
    for (int step = 0; step < 400 && (r.n > 0 || step < 40); step++) {
        uint8_t op = u8(&r);
        uint64_t hv = HELPER_HASH_BIT | (u8(&r) % 12);
        int st;
        switch (op % 5) {
        case 0:
        case 1: { /* insert with stamp 0 or ANY */
            if (x->n >= MT_MAX) break;
            uint64_t key = 0xC000000000000000ULL | ++x->ctr, val = 0xD000000000000000ULL | x->ctr;
            uint64_t stamp = op % 2 ? FTK_MAP_STAMP_ANY : 0;
            bool have = false;
            for (int i = 0; i < x->n; i++) have |= x->e[i].hash == hv;
            st = ftk_map_insert(x->h, hv, key, val, stamp);
            int want = (stamp == 0 && have) ? FTK_EAGAIN : FTK_OK;
            if (st != want) MT_FAIL("map_insert: %s, expected %s", SN(st), SN(want));
            if (st == FTK_OK) x->e[x->n++] = (trip){hv, key, val};
            break;
        }
        case 2: { /* remove an entry of ours, or a missing one */
            uint8_t sel = u8(&r);
            if (x->n > 0 && sel % 4) {
                int i = sel % x->n;
                uint64_t old = 0;
                st = ftk_map_remove(x->h, x->e[i].hash, x->e[i].key, &old);
                if (st != FTK_OK || old != x->e[i].val)
                    MT_FAIL("map_remove: %s, old %#llx", SN(st), (unsigned long long)old);
                memmove(&x->e[i], &x->e[i + 1], (size_t)(x->n - i - 1) * sizeof(trip));
                x->n--;
            } else {
                st = ftk_map_remove(x->h, hv, 0x1234, NULL);
                if (st != FTK_ENOTFOUND) MT_FAIL("map_remove (missing): %s", SN(st));
            }
            break;
        }
        case 3: { /* find: candidates newest first */
            uint64_t ks[MT_MAX], vs[MT_MAX];
            size_t n = 0;
            st = ftk_map_find(x->h, hv, ks, vs, MT_MAX, &n, NULL);
            if (st != FTK_OK) MT_FAIL("map_find: %s", SN(st));
            size_t c = 0;
            for (int i = x->n - 1; i >= 0; i--)
                if (x->e[i].hash == hv) {
                    if (c >= n || ks[c] != x->e[i].key || vs[c] != x->e[i].val)
                        MT_FAIL("map_find: candidate %zu differs", c);
                    c++;
                }
            if (c != n) MT_FAIL("map_find: %zu candidates, expected %zu", n, c);
            break;
        }
        default: { /* set_value */
            if (x->n == 0) break;
            int i = u8(&r) % x->n;
            uint64_t old = 0, val = 0xE000000000000000ULL | ++x->ctr;
            st = ftk_map_set_value(x->h, x->e[i].hash, x->e[i].key, val, &old);
            if (st != FTK_OK || old != x->e[i].val) MT_FAIL("map_set_value: %s", SN(st));
            x->e[i].val = val;
            break;
        }
        }
    }
    return NULL;
}

static void op_map_mt(rd *r) {
    int s = u8(r) % NH;
    if (!H[s].live || H[s].kind != K_MAP || thread_ops >= MAX_THREAD_OPS) return;
    thread_ops++;
    mmodel *m = &MM[s];
    if (m->n > MMAX - MT_MAX) return;
    for (int i = 0; i < m->n; i++)
        if (m->e[i].hash & HELPER_HASH_BIT) return; /* the other thread's range is taken */
    static mapmt x;
    memset(&x, 0, sizeof x);
    x.h = H[s].h;
    size_t len = u8(r);
    if (len > r->n) len = r->n;
    x.prog = r->p;
    x.len = len;
    r->p += len;
    r->n -= len;
    unsigned nops = 1 + u8(r) % 32;
    m->it_on = false;

    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, mapmt_thread, &x) == 0, "pthread_create");
    atomic_store(&x.go, 1);
    g_hash_mask = ~HELPER_HASH_BIT;
    g_map_shared = true;
    g_mlimit = MMAX - MT_MAX;
    for (unsigned i = 0; i < nops && r->n > 0; i++) {
        unsigned sub = 2 + u8(r) % 21;
        int slot;
        pick_handle(r, K_MAP, &slot); /* consumed for a stable format */
        map_call(r, sub, H[s].h, s);
    }
    pthread_join(tid, NULL);
    g_hash_mask = UINT64_MAX;
    g_map_shared = false;
    g_mlimit = MMAX;
    CHECK(!x.err_line, "map_mt other thread (line %d): %s", x.err_line, x.err);

    /* merge its entries (its insertion order) and compare the whole map */
    for (int i = 0; i < x.n; i++) m_add(m, x.e[i].hash, x.e[i].key, x.e[i].val);
    size_t n = 0;
    EXPECT(ftk_map_size(H[s].h, &n), FTK_OK, "map_size after map_mt");
    EQ64(n, m->n, "map_size after map_mt");
    uint64_t cur = 0;
    EXPECT(ftk_map_iter(H[s].h, &cur, mk, mv, MH, MMAX + 64, &n), FTK_OK, "map_iter after map_mt");
    EQ64(n, m->n, "map_iter count after map_mt");
    bool used[MMAX] = {false};
    for (size_t j = 0; j < n; j++) {
        bool found = false;
        for (int i = 0; i < m->n && !found; i++)
            if (!used[i] && m->e[i].hash == mh[j] && m->e[i].key == mk[j] && m->e[i].val == mv[j])
                used[i] = found = true;
        CHECK(found, "map after map_mt: entry (%#llx, %#llx, %#llx) not in the model",
              (unsigned long long)mh[j], (unsigned long long)mk[j], (unsigned long long)mv[j]);
    }
    size_t c = 0;
    EXPECT(ftk_map_capacity(H[s].h, &c), FTK_OK, "map_capacity after map_mt");
    m_check_capacity(s, c, "map_capacity after map_mt");
}

/* ---- slots_mt: two threads allocate and free slot words at once --------------------------------- */

typedef struct slotsmt {
    unsigned n, nfree;
    _Atomic int go;
    uint64_t w[256];
    int err;
} slotsmt;

static void *slotsmt_thread(void *arg) {
    slotsmt *x = arg;
    while (!atomic_load(&x->go)) relax();
    unsigned i = 0;
    while (i < x->n) {
        unsigned k = x->n - i < 16 ? x->n - i : 16;
        if (i % 3 == 0) {
            if (ftk_slot_alloc_many(&x->w[i], k) != FTK_OK) x->err = 1;
            i += k;
        } else {
            x->w[i] = ftk_slot_alloc_v();
            if (x->w[i] == 0) x->err = 2;
            i++;
        }
    }
    /* free some of them here: the rest outlive this thread */
    size_t done = 0;
    if (ftk_slot_free_many(x->w, x->nfree, &done) != FTK_OK || done != x->nfree) x->err = 3;
    return NULL;
}

static void op_slots_mt(rd *r) {
    if (thread_ops >= MAX_THREAD_OPS) return;
    thread_ops++;
    static slotsmt x;
    memset(&x, 0, sizeof x);
    x.n = u8(r);
    x.nfree = x.n ? u8(r) % (x.n + 1) : 0;
    unsigned nmain = u8(r);
    static uint64_t w[256];
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, slotsmt_thread, &x) == 0, "pthread_create");
    atomic_store(&x.go, 1);
    for (unsigned i = 0; i < nmain; i++) {
        EXPECT(ftk_slot_alloc(&w[i]), FTK_OK, "slot_alloc (slots_mt)");
        if (i % 5 == 4) { /* free one and take it again */
            EXPECT(ftk_slot_free(w[i]), FTK_OK, "slot_free (slots_mt)");
            EXPECT(ftk_slot_alloc(&w[i]), FTK_OK, "slot_alloc (slots_mt)");
        }
    }
    pthread_join(tid, NULL);
    CHECK(!x.err, "slots_mt other thread failed (%d)", x.err);
    /* live words: the other thread's unfreed ones, all of ours, the model's */
    for (unsigned i = x.nfree; i < x.n; i++) {
        CHECK(ftk_slot_is_live(x.w[i]), "slots_mt: other thread's word not live");
        for (unsigned j = 0; j < nmain; j++)
            CHECK(w[j] != x.w[i], "slots_mt: %#llx handed to two threads",
                  (unsigned long long)w[j]);
        CHECK(slot_find(x.w[i]) < 0, "slots_mt: word handed out twice");
    }
    for (unsigned i = 0; i < x.nfree; i++) CHECK(!ftk_slot_is_live(x.w[i]), "slots_mt: freed word live");
    for (unsigned j = 0; j < nmain; j++) {
        CHECK(slot_find(w[j]) < 0, "slots_mt: word handed out twice");
        for (unsigned k = 0; k < j; k++) CHECK(w[k] != w[j], "slots_mt: duplicate word");
    }
    EQ64(ftk_slot_live_approx(), nlive_slots + (x.n - x.nfree) + nmain,
         "slot_live_approx after slots_mt");
    size_t done = 0;
    EXPECT(ftk_slot_free_many(x.w + x.nfree, x.n - x.nfree, &done), FTK_OK,
           "slot_free_many (another thread's words)");
    EXPECT(ftk_slot_free_many(w, nmain, &done), FTK_OK, "slot_free_many (slots_mt)");
    EQ64(ftk_slot_live_approx(), nlive_slots, "slot_live_approx after slots_mt");
}

/* ---- driver ------------------------------------------------------------------------------------ */

static void reset_models(void) {
    reset_table();
    nlive_slots = 0;
    for (int i = 0; i < 16; i++) stale_slots[i] = 0;
    memset(stamps, 0, sizeof stamps);
    model_last = ftk_last_status();
    lp.known = false;
    fresh_reset();
}

static void cleanup(void) {
    for (int i = 0; i < NH; i++) destroy_slot(i);
    for (int i = nlive_slots - 1; i >= 0; i--) {
        EXPECT(ftk_slot_free(live_slots[i]), FTK_OK, "slot_free (cleanup)");
        nlive_slots--;
    }
    EQ64(ftk_reclaim_collect(), 0, "ftk_reclaim_collect at the end");
    EQ64(ftk_live_handles(), 0, "ftk_live_handles at the end");
    EQ64(ftk_slot_live_approx(), 0, "ftk_slot_live_approx at the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rd r = {data, size};
    fuzz_init();
    TRACE("---- new input (%zu bytes)\n", size);
    reset_models();
    EQ64(ftk_live_handles(), 0, "ftk_live_handles at the start");
    for (int ops = 0; r.n > 0 && ops < MAX_OPS; ops++) {
        unsigned g = u8(&r) % NGROUPS;
        TRACE("op %d: group %u\n", ops, g);
        switch (g) {
        case G_INT64: op_int64(&r); break;
        case G_FLAG: op_flag(&r); break;
        case G_REF: op_ref(&r); break;
        case G_QUEUE:
        case G_QUEUE2: op_queue(&r); break;
        case G_MAP:
        case G_MAP2: op_map(&r); break;
        case G_SLOTS: op_slots(&r); break;
        case G_MISC: op_misc(&r); break;
        case G_RACE: op_race(&r); break;
        case G_MPMC: op_mpmc(&r); break;
        case G_MAP_MT: op_map_mt(&r); break;
        default: op_slots_mt(&r); break;
        }
    }
    cleanup();
    return 0;
}
