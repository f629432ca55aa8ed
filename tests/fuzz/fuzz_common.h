/*
 * tests/fuzz/fuzz_common.h - what the two libFuzzer harnesses share.
 *
 * Included by tests/fuzz/fuzz_api.c and tests/fuzz/fuzz_mods.c (and by
 * nothing else: each harness is one translation unit, so everything here is
 * static, except the ASan options hook). It provides
 *   - the limits both use: NH, NSTALE, MAX_OPS, MAX_THREAD_OPS, BURST_MAX,
 *     SHORT_NS, LONG_NS;
 *   - failure reporting: fail() with the last trace lines, CHECK, EXPECT,
 *     EXPECT2, EQ64, SN, TRACE, fuzz_init() (FUZZ_TRACE, the main thread);
 *   - conversions and time: i64, u2h, h2u, now_ns, relax, race_delay;
 *   - the input reader: rd, u8, u16, u64, rd_split, read_burst; fresh-word
 *     counter reset (FUZZ_FRESH_BASE); pick_timeout;
 *   - the handle table: H[NH], the remembered freed handles, the race
 *     flags, pick_handle (the handle selector byte), resolve, gate,
 *     check_new_handle, live_handle_count, and the
 *     slot lifetimes (new_slot, destroy_slot, slot_dead, op_free,
 *     free_or_call, race_free_outcome, reset_table).
 * The byte formats are those of the harnesses (tests/fuzz/make_corpus.py
 * writes seeds for both): a reader consumes the same bytes in the same
 * order and widths in either harness.
 *
 * Before including it, the harness defines
 *   FUZZ_NAME    its name as a string ("fuzz_api"), for failure messages;
 *   K_NONE..K_COUNT, its object kinds (K_NONE == 0);
 *   hslot        its table slot type, with at least `int kind; bool live;
 *                ftk_handle_t h;` (kind K_NONE and h FTK_NULL_HANDLE when
 *                zeroed);
 *   free_fn      int (*const free_fn[K_COUNT])(ftk_handle_t): each kind's
 *                free function;
 * and includes ftkit.h.
 */
#ifndef FTKIT_FUZZ_COMMON_H
#define FTKIT_FUZZ_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftkit.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME (the harness's name) before including fuzz_common.h"
#endif

/* ---- limits both harnesses use ------------------------------------------------ */

#define NH 6             /* handle slots */
#define NSTALE 8         /* remembered freed handles */
#define MAX_OPS 512      /* ops per input */
#define MAX_THREAD_OPS 3 /* thread-starting ops per input */
#define BURST_MAX 24     /* ops in a race burst */
#define SHORT_NS 20000   /* the finite wait used where a wait must end */
#define LONG_NS 300000   /* a wait that spins, then sleeps */

/* ---- failure reporting ------------------------------------------------------- */

static pthread_t g_main_thread;
static int g_trace;
#define TRACE_N 64
static char trace_ring[TRACE_N][120];
static unsigned trace_pos;

/* Once per process, from the first input: FUZZ_TRACE=1 in the environment
 * prints every trace line; failures on the main thread print the last
 * ones. */
static inline void fuzz_init(void) {
    static bool inited;
    if (inited) return;
    g_trace = getenv("FUZZ_TRACE") != NULL;
    g_main_thread = pthread_self();
    inited = true;
}

__attribute__((noreturn, format(printf, 2, 3))) static inline void fail(int line,
                                                                       const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (g_trace <= 0 && pthread_equal(pthread_self(), g_main_thread)) {
        fprintf(stderr, "\n==" FUZZ_NAME "== the last ops before the failure:\n");
        for (unsigned i = 0; i < TRACE_N; i++) {
            unsigned k = (trace_pos + i) % TRACE_N;
            if (trace_ring[k][0]) fputs(trace_ring[k], stderr);
        }
    }
    fprintf(stderr, "\n==" FUZZ_NAME "== contract violation (" FUZZ_NAME ".c:%d): ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
#define CHECK(c, ...)                          \
    do {                                       \
        if (!(c)) fail(__LINE__, __VA_ARGS__); \
    } while (0)
#define SN(st) ftk_err_name(st)
#define EXPECT(got, want, what)                                                          \
    do {                                                                                 \
        int g_ = (got), w_ = (want);                                                     \
        CHECK(g_ == w_, "%s: returned %s (%d), expected %s (%d)", (what), SN(g_), g_, SN(w_), \
              w_);                                                                       \
    } while (0)
#define EXPECT2(got, a, b, what)                                                      \
    do {                                                                              \
        int g_ = (got);                                                               \
        CHECK(g_ == (a) || g_ == (b), "%s: returned %s, expected %s or %s", (what),    \
              SN(g_), SN(a), SN(b));                                                  \
    } while (0)
#define EQ64(got, want, what)                                                            \
    do {                                                                                 \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                            \
        CHECK(g_ == w_, "%s: got %#llx, expected %#llx", (what), (unsigned long long)g_,  \
              (unsigned long long)w_);                                                   \
    } while (0)

/* The last TRACE_N trace lines of the main thread are kept and printed
 * with a failure (for failures that depend on timing); FUZZ_TRACE=1 in the
 * environment prints every line as it happens. */
#define TRACE(...)                                                       \
    do {                                                                 \
        char *line_ = trace_ring[trace_pos++ % TRACE_N];                 \
        snprintf(line_, sizeof trace_ring[0], __VA_ARGS__);              \
        if (g_trace > 0) fputs(line_, stderr);                           \
    } while (0)

/* make -fsanitize=address tolerate the absurd allocations a caller may ask
 * for (they must come back as FTK_ENOMEM, not abort the process) */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- conversions and time -------------------------------------------------------- */

static inline int64_t i64(uint64_t u) {
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}
static inline ftk_handle_t u2h(uint64_t u) { return (ftk_handle_t)(uintptr_t)u; }
static inline uint64_t h2u(ftk_handle_t h) { return (uint64_t)(uintptr_t)h; }

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* The other thread of a race waits `delay` (0..4095) before it acts: below
 * 2048, that many spins (likely while a call of the main thread runs);
 * from 2048 on, (delay - 2048) us asleep (likely while the main thread
 * sleeps in a wait). */
static inline void race_delay(unsigned delay) {
    if (delay < 2048) {
        for (unsigned i = 0; i < delay; i++) relax();
    } else {
        struct timespec ts = {0, (long)(delay - 2048) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- input reader -------------------------------------------------------------- */

/* The input cursor: bytes past the end read as 0. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static inline uint8_t u8(rd *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}
static inline uint16_t u16(rd *r) {
    uint16_t lo = u8(r);
    return (uint16_t)(lo | (uint16_t)(u8(r) << 8));
}
static inline uint64_t u64(rd *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)u8(r) << (8 * i);
    return v;
}

/* The next len bytes (fewer at the end of the input) as a reader of their
 * own; r moves past them. */
static inline rd rd_split(rd *r, size_t len) {
    if (len > r->n) len = r->n;
    rd a = {r->p, len};
    r->p += len;
    r->n -= len;
    return a;
}

/* A race burst: the main thread's ops, recorded from the input and
 * replayed while the other thread acts. The format: a count byte
 * (1 + b % BURST_MAX ops), then per op a sub-op byte, a length byte
 * (b % 24) and that many operand bytes. */
typedef struct burst {
    unsigned n;
    uint8_t sub[BURST_MAX];
    rd arg[BURST_MAX]; /* replay from a copy: each pass reads the same bytes */
} burst;

static inline void read_burst(rd *r, burst *b) {
    b->n = 1 + u8(r) % BURST_MAX;
    for (unsigned i = 0; i < b->n; i++) {
        b->sub[i] = u8(r);
        b->arg[i] = rd_split(r, u8(r) % 24);
    }
}

/* Fresh words (each harness's fresh_word() tags ++fresh_ctr) depend on the
 * input only, so a reproducer reproduces; FUZZ_FRESH_BASE moves them. */
static uint64_t fresh_ctr;
static inline void fresh_reset(void) {
    static uint64_t fresh_base = UINT64_MAX;
    if (fresh_base == UINT64_MAX) {
        const char *e = getenv("FUZZ_FRESH_BASE");
        fresh_base = e ? strtoull(e, NULL, 0) : 0;
    }
    fresh_ctr = fresh_base;
}

/* Timeout operand: 0 by default. could_block_forever: the caller's model
 * says the wait might never end; then an unbounded timeout becomes a short
 * finite one, unless g_forever_ok (fuzz_mods sets it in a race whose free
 * ends every wait; fuzz_api's callers pass false where the other thread's
 * action is sure to end the wait). */
static bool g_forever_ok;
static inline int64_t pick_timeout(rd *r, bool could_block_forever) {
    int64_t t;
    switch (u8(r) % 7) {
    case 0: t = 0; break;
    case 1: t = 1; break;
    case 2: t = SHORT_NS; break;
    case 3: t = -1; break;
    case 4: t = INT64_MAX; break;
    case 5: t = INT64_MIN; break;
    default: t = LONG_NS; break; /* long enough to go to sleep in the OS */
    }
    if ((t < 0 || t == INT64_MAX) && could_block_forever && !g_forever_ok) t = SHORT_NS;
    return t;
}

/* ---- the handle table -------------------------------------------------------------- */

static hslot H[NH];
static ftk_handle_t stale[NSTALE]; /* freed handles, most recent last (a ring) */
static unsigned stale_pos;
static int thread_ops; /* thread-starting ops in this input (MAX_THREAD_OPS) */

/* Race state: set around a race burst. */
static bool g_race;            /* inside a race burst */
static bool g_race_may_die;    /* the other thread frees the handle */
static bool g_race_dead;       /* an FTK_EBADHANDLE was seen */
static ftk_handle_t g_force_h; /* pick_handle returns this in a burst */
static int g_force_slot;

/* Handle to slot: the slot whose live handle is h, if it is of `kind`. */
static inline int resolve(ftk_handle_t h, int kind) {
    if (h == FTK_NULL_HANDLE) return -1;
    for (int i = 0; i < NH; i++)
        if (H[i].live && H[i].h == h) return H[i].kind == kind ? i : -1;
    return -1;
}

static inline bool is_live_handle(ftk_handle_t h) {
    for (int i = 0; i < NH; i++)
        if (H[i].live && H[i].h == h) return true;
    return false;
}

static inline size_t live_handle_count(void) {
    size_t n = 0;
    for (int i = 0; i < NH; i++) n += H[i].live;
    return n;
}

/* Choose a handle for a call that wants `kind` (a selector byte, 0 = the
 * first live one of that kind): usually a live one of that kind; otherwise
 * whatever a slot holds, a stale, NULL, garbage or forged one. *slot is
 * the model slot when the handle is valid for `kind`, else -1. In a race
 * burst: the raced handle (its slot until it was seen freed). */
static inline ftk_handle_t pick_handle(rd *r, int kind, int *slot) {
    uint8_t sel = u8(r);
    if (g_force_h) {
        *slot = g_race_dead ? -1 : g_force_slot;
        return g_force_h;
    }
    unsigned start = (unsigned)(sel >> 3) % NH;
    ftk_handle_t h;
    switch (sel & 7) {
    case 0:
    case 1:
    case 2: /* the first live slot of this kind from `start` on */
        h = H[start].h;
        for (unsigned i = 0; i < NH; i++) {
            hslot *s = &H[(start + i) % NH];
            if (s->live && s->kind == kind) {
                h = s->h;
                break;
            }
        }
        break;
    case 3: h = H[start].h; break; /* whatever the slot holds (kind, liveness) */
    case 4: h = stale[start % NSTALE]; break;
    case 5: h = FTK_NULL_HANDLE; break;
    case 6: h = u2h(u64(r)); break;
    default: { /* forged from a table handle */
        uint64_t u = h2u(H[start].h);
        switch (u8(r) % 4) {
        case 0: u = (u & ~(0xffULL << 56)) | ((uint64_t)u8(r) << 56); break; /* kind */
        case 1: u += (uint64_t)(u8(r) | 1) << 32; break;                       /* generation */
        case 2: u ^= (uint64_t)(u8(r) | 1); break;                            /* index */
        default: u = (u & (0xffULL << 56)) | (u64(r) >> 8); break;             /* the rest */
        }
        h = u2h(u);
    }
    }
    *slot = resolve(h, kind);
    return h;
}

/* The prologue of every check. s < 0: an invalid handle (FTK_EBADHANDLE);
 * inval: a NULL out-pointer or another invalid argument (FTK_EINVAL; either
 * when both apply: the order of the checks is not part of the contract).
 * In a race the handle may be freed by the other thread at any moment:
 * after one FTK_EBADHANDLE every call must fail. Returns true when the
 * call failed for one of these reasons (nothing more to check). */
static inline bool gate(int s, int st, bool inval, const char *what) {
    if (g_race) {
        if (st == FTK_EBADHANDLE) {
            CHECK(g_race_may_die, "%s: FTK_EBADHANDLE on a handle nobody freed", what);
            if (!g_race_dead) TRACE("    %s: the handle was freed\n", what);
            g_race_dead = true;
            return true;
        }
        if (inval) {
            EXPECT(st, FTK_EINVAL, what);
            return true;
        }
        CHECK(!g_race_dead, "%s: returned %s after a call saw the handle freed", what, SN(st));
        return false;
    }
    if (s < 0) {
        if (inval)
            EXPECT2(st, FTK_EBADHANDLE, FTK_EINVAL, what);
        else
            EXPECT(st, FTK_EBADHANDLE, what);
        return true;
    }
    if (inval) {
        EXPECT(st, FTK_EINVAL, what);
        return true;
    }
    return false;
}

/* ---- slot lifetimes ------------------------------------------------------------------ */

static inline void slot_dead(int i) {
    H[i].live = false;
    stale[stale_pos++ % NSTALE] = H[i].h;
}

static inline void destroy_slot(int i) {
    if (!H[i].live) return;
    EXPECT(free_fn[H[i].kind](H[i].h), FTK_OK, "free of a live handle");
    slot_dead(i);
}

/* A slot for a new object (freeing what it held). */
static inline int new_slot(rd *r) {
    int i = u8(r) % NH;
    destroy_slot(i);
    return i;
}

/* A new object's handle: not NULL, not a live or a remembered freed one. */
static inline void check_new_handle(ftk_handle_t h, const char *what) {
    CHECK(h != FTK_NULL_HANDLE, "%s: FTK_NULL_HANDLE returned with FTK_OK", what);
    CHECK(!is_live_handle(h), "%s: handle %#llx equals a live handle", what,
          (unsigned long long)h2u(h));
    for (unsigned j = 0; j < NSTALE; j++)
        CHECK(stale[j] != h, "%s: handle %#llx equals a freed handle", what,
              (unsigned long long)h2u(h));
}

/* free of a handle picked for `kind`: the object's own free function. */
static inline void op_free(rd *r, int kind) {
    int s;
    ftk_handle_t h = pick_handle(r, kind, &s);
    int st = free_fn[kind](h);
    if (h == FTK_NULL_HANDLE) {
        EXPECT(st, FTK_OK, "free(FTK_NULL_HANDLE)");
        return;
    }
    if (s < 0) {
        EXPECT(st, FTK_EBADHANDLE, "free of an invalid handle");
        return;
    }
    EXPECT(st, FTK_OK, "free of a live handle");
    slot_dead(s);
    /* a second free always fails */
    EXPECT(free_fn[kind](h), FTK_EBADHANDLE, "second free");
}

/* The rest of an op group once its sub 0 (the kind's own new) is handled:
 * sub 1 is op_free; the others call `call` on a handle picked for `kind`
 * (s: its model slot, -1 when it is not a live one of that kind). */
typedef void (*kind_call_fn)(rd *r, unsigned sub, ftk_handle_t h, int s);
static inline void free_or_call(rd *r, unsigned sub, int kind, kind_call_fn call) {
    if (sub == 1) {
        op_free(r, kind);
        return;
    }
    int s;
    ftk_handle_t h = pick_handle(r, kind, &s);
    call(r, sub, h, s);
}

/* The outcome of a race whose other thread freed slot s (double: the main
 * thread freed it too, with status main_st): exactly one free wins, the
 * slot is dead. */
static inline void race_free_outcome(int s, bool double_free, int other_st, int main_st) {
    if (!double_free) {
        EXPECT(other_st, FTK_OK, "racing free");
    } else {
        CHECK((other_st == FTK_OK) != (main_st == FTK_OK),
              "two racing frees: %s and %s (exactly one must win)", SN(other_st), SN(main_st));
        EXPECT(other_st == FTK_OK ? main_st : other_st, FTK_EBADHANDLE, "the losing free");
    }
    slot_dead(s);
}

/* Each input starts with an empty table and no remembered handles. */
static inline void reset_table(void) {
    memset(H, 0, sizeof H);
    for (int i = 0; i < NSTALE; i++) stale[i] = FTK_NULL_HANDLE;
    thread_ops = 0;
}

#endif /* FTKIT_FUZZ_COMMON_H */
