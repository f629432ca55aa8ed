/*
 * internal.h - private to libftkit: handle table, thread registry, helpers.
 * Nothing here is exported (the library builds with -fvisibility=hidden).
 */
#ifndef FTKIT_INTERNAL_H
#define FTKIT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ftkit.h"
#include "os.h"

/* Destructive interference size; 128 covers adjacent-line prefetch pairs. */
#define FTK_CACHE_LINE 128

/* Object kinds, encoded in the top byte of every handle. */
enum ftk_kind {
    FTK_KIND_INT64 = 1,
    FTK_KIND_FLAG = 2,
    FTK_KIND_REF = 3,
    FTK_KIND_QUEUE = 4,
    FTK_KIND_MAP = 5,
    FTK_KIND_LOCK = 6, /* ftk_rwlock (sync.c) */
    FTK_KIND_DEQUE = 7,
    FTK_KIND_ILOCK = 8, /* ftk_ilock (sync.c) */
    FTK_KIND_COUNTER = 9, /* ftk_counter (counter.c) */
    FTK_KIND_GATHER = 10, /* ftk_gather (gather.c) */
    FTK_KIND_BATCH = 11, /* ftk_batch (batch.c) */
    FTK_KIND_SEM = 12, /* ftk_sem (sem.c) */
    FTK_KIND_MAX = 255
};

/*
 * One handle-table entry. Entries are type-stable: segments are allocated
 * once and never freed, so a stale handle always reads valid memory and is
 * rejected by comparing the stored handle. Atomics keep their value inline,
 * on the entry's second 64-byte line (an entry is 128 bytes: the handle
 * word every validation reads on one line, the value on the other, so
 * different atomics never share a line and a contended value does not slow
 * validation); containers point `obj` at their heap state.
 */
typedef struct ftk_entry {
    _Atomic uint64_t handle; /* live handle value, 0 when free */
    _Atomic(void *) obj;     /* heap state for containers (atomic: a free racing a
                              * call is a caller bug, but must not be a data race) */
    uint32_t next_free;      /* free-list link, guarded by the table lock */
    uint32_t gen;            /* generation of the next handle at this index */
    /* The atomics' value on its own line: every validation reads `handle`,
     * and sharing its line with a contended value made each add fetch the
     * line shared, then upgrade it (measured: 2-thread counter 42 -> 57+
     * Mops/s in C when split). */
    _Alignas(64) _Atomic uint64_t value;
} __attribute__((aligned(64))) ftk_entry;

/* Allocate an entry of `kind`; *handle receives its handle. The caller
 * initialises value/obj before publishing with ftk_entry_publish. */
int ftk_entry_alloc(unsigned kind, ftk_entry **entry, ftk_handle_t *handle);
/* Make the entry visible under its handle (release). */
void ftk_entry_publish(ftk_entry *e, ftk_handle_t handle);
/* Atomically retire a live handle; NULL if it was not live (double free,
 * wrong kind, garbage). The entry's index is recycled. Returns the entry so
 * the caller can tear down `obj` (read it before any other call). */
ftk_entry *ftk_entry_retire(ftk_handle_t h, unsigned kind, void **obj);

_Static_assert(sizeof(void *) == 8, "libftkit handles need 64-bit pointers");
static inline uint64_t ftk_h2u(ftk_handle_t h) { return (uint64_t)(uintptr_t)h; }
static inline ftk_handle_t ftk_u2h(uint64_t u) { return (ftk_handle_t)(uintptr_t)u; }
#define FTK_HANDLE_INDEX(h) ((uint32_t)(ftk_h2u(h) & 0xffffffffu))
#define FTK_HANDLE_KIND(h) ((unsigned)(ftk_h2u(h) >> 56))
#define FTK_SEG_SHIFT 10
#define FTK_SEG_SIZE (1u << FTK_SEG_SHIFT)
#define FTK_MAX_SEGS (1u << 16)

extern _Atomic(ftk_entry *) ftk_entry_segs[FTK_MAX_SEGS];

/* Validate a handle of the given kind; NULL if NULL/destroyed/wrong kind.
 * Lock-free: two loads and a compare. */
static inline ftk_entry *ftk_entry_get(ftk_handle_t h, unsigned kind) {
    uint32_t idx = FTK_HANDLE_INDEX(h);
    if (FTK_HANDLE_KIND(h) != kind || idx == 0) return NULL;
    uint32_t s = idx >> FTK_SEG_SHIFT;
    if (s >= FTK_MAX_SEGS) return NULL;
    /* acquire: pairs with the release that published the segment */
    ftk_entry *seg = atomic_load_explicit(&ftk_entry_segs[s], memory_order_acquire);
    if (seg == NULL) return NULL;
    ftk_entry *e = &seg[idx & (FTK_SEG_SIZE - 1)];
    /* acquire: pairs with ftk_entry_publish, so value/obj are initialised */
    if (atomic_load_explicit(&e->handle, memory_order_acquire) != ftk_h2u(h)) return NULL;
    return e;
}

/* ---- per-thread state (thread.c) --------------------------------------- */

/* Read holds of ftk_rwlocks (sync.c): a small open-addressed table in each
 * thread's record. `vis` is what writers look for when they revoke the
 * readers' fast path (they scan every registered record); everything else
 * is private to the owner thread. */
#define FTK_RD_SLOTS 8
typedef struct ftk_rd {
    _Atomic uint64_t vis;    /* lock handle while read-held on the fast path */
    uint64_t id;             /* lock handle while read-held (any path), 0 = free */
    _Atomic uint32_t count;  /* nesting depth; owner writes, queries read */
    uint32_t central;        /* 1: held through the lock's shared counter */
} ftk_rd;

#define FTK_SLOT_CACHE_MAX (2 * FTK_SLOT_BATCH)

typedef struct ftk_retired {
    struct ftk_retired *next;
    void (*fn)(void *);
    void *ptr;
    uint64_t epoch;
} ftk_retired;

/*
 * Everything a thread caches on the C side. One record per thread that has
 * used the library, linked in a registry (mutex, touched only on thread
 * start/exit and on slow paths); returned to shared pools at thread exit.
 */
typedef struct ftk_thread {
    /* EBR: (epoch << 1) | 1 while inside a read-side section, else 0. Read
     * by other threads when advancing the epoch. */
    _Atomic uint64_t ebr_state;
    unsigned ebr_nest;
    unsigned ebr_since_scan;
    ftk_retired *limbo; /* retired by this thread, newest first */
    size_t limbo_len;
    /* slot index cache (slots.c) */
    uint32_t slot_n;
    uint32_t slot_idx[FTK_SLOT_CACHE_MAX];
    _Atomic int64_t slot_live; /* allocs - frees by this thread (owner writes) */
    /* rwlock read holds (sync.c) */
    ftk_rd rd[FTK_RD_SLOTS];
    uint32_t rd_used;            /* slots of rd[] with an id */
    uint32_t rd_more_n, rd_more_cap;
    ftk_rd *rd_more;             /* holds of more locks (shared counter only) */
    uint64_t id; /* unique, never reused, > 0: lock owner identity */
    /* counter.c: 1 + this thread's counter cell slot, 0 = none yet,
     * UINT32_MAX = none available (adds go to the shared base). Owner only. */
    uint32_t ctr_slot;
    struct ftk_thread *prev, *next;
    bool registered;
} ftk_thread;

/* The calling thread's record, registered on first use. Inline so that a
 * function touching it several times computes the TLS address once. */
extern _Thread_local ftk_thread ftk_tls_self;
ftk_thread *ftk_thread_register(ftk_thread *t);
static inline ftk_thread *ftk_thread_self(void) {
    ftk_thread *t = &ftk_tls_self;
    /* An opaque copy: GCC otherwise rematerialises the address (a TLS-
     * descriptor call, -mtls-dialect=gnu2) at every use of t instead of
     * keeping it in a register (measured: 14 such calls in one rwlock read
     * lock, ~30% of a read pair). */
    __asm__("" : "+r"(t));
    if (__builtin_expect(!t->registered, 0)) ftk_thread_register(t);
    return t;
}
/* Call fn(t) for every registered thread under the registry lock. */
void ftk_thread_foreach(void (*fn)(ftk_thread *, void *), void *arg);

/*
 * Per-thread hooks. A module that keeps per-thread state or a process-wide
 * mutex registers one of these (from a constructor, with static storage)
 * instead of being called by name from thread.c:
 *   exit         runs on the exiting thread while its record is still
 *                registered (it may use EBR and handles); in `order`, lower
 *                first (reclaim.c runs last: the others may retire memory)
 *   exit_locked  runs under the registry lock as the record is unlinked
 *                (for statistics that must move atomically with it)
 *   fork_gone    in a fork child, once for each record of a thread that does
 *                not exist there, before it is dropped from the registry
 *                (single-threaded, registry lock held: no EBR, no locks)
 *   fork_lock    a process-wide mutex held across fork() (pthread_atfork),
 *                so a child never inherits it locked by a thread it lacks
 * Any of them may be NULL.
 */
#include <pthread.h>
typedef struct ftk_thread_hooks {
    const char *name;
    int order;
    void (*exit)(ftk_thread *t);
    void (*exit_locked)(ftk_thread *t);
    void (*fork_gone)(ftk_thread *t);
    pthread_mutex_t *fork_lock;
    struct ftk_thread_hooks *next; /* thread.c's list */
} ftk_thread_hooks;
void ftk_thread_hooks_add(ftk_thread_hooks *h);
/* Hook orders in use. */
enum { FTK_HOOKS_SYNC = 10, FTK_HOOKS_SLOTS = 20, FTK_HOOKS_COUNTER = 30, FTK_HOOKS_RECLAIM = 90 };

/* The handle table's mutex (handle.c; never on a hot path), held across
 * fork() by thread.c itself. */
extern pthread_mutex_t ftk_table_lock;

/* ---- epoch-based reclamation (reclaim.c) ------------------------------- */
/* Enter/leave a read-side section: memory retired while any thread is inside
 * a section that began before the retire is not freed until it leaves.
 * Nestable. Cost: one TLS access and one seq_cst store. */
#define FTK_EBR_SCAN_EVERY 32u /* retires between reclamation scans */
extern _Atomic uint64_t ftk_ebr_epoch;
void ftk_ebr_scan_after_exit(ftk_thread *t);
/* The _t forms take the caller's record (one TLS access per call instead of
 * one per helper: each costs a TLS-descriptor call, measured ~30% of an
 * rwlock read pair before). */
static inline __attribute__((always_inline)) void ftk_ebr_enter_t(ftk_thread *t) {
    if (t->ebr_nest++ == 0) {
        uint64_t e = atomic_load_explicit(&ftk_ebr_epoch, memory_order_relaxed);
        if (atomic_load_explicit(&ftk_os_asym, memory_order_relaxed)) {
            /* relaxed + compiler barrier: the scanner's heavy fence supplies
             * the store-load ordering (see reclaim.c, os.h) */
            atomic_store_explicit(&t->ebr_state, (e << 1) | 1, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst);
        } else {
            /* seq_cst: orders this announcement before the section's loads */
            atomic_store(&t->ebr_state, (e << 1) | 1);
        }
    }
}
static inline __attribute__((always_inline)) void ftk_ebr_exit_t(ftk_thread *t) {
    if (--t->ebr_nest == 0) {
        /* release: the section's loads complete before we look inactive */
        atomic_store_explicit(&t->ebr_state, 0, memory_order_release);
        if (__builtin_expect(t->ebr_since_scan >= FTK_EBR_SCAN_EVERY, 0))
            ftk_ebr_scan_after_exit(t);
    }
}
static inline void ftk_ebr_enter(void) { ftk_ebr_enter_t(ftk_thread_self()); }
static inline void ftk_ebr_exit(void) { ftk_ebr_exit_t(ftk_thread_self()); }
/* Free ptr with fn(ptr) once no section that could see it is active. */
void ftk_ebr_retire(void *ptr, void (*fn)(void *));

/* ---- entering an object ------------------------------------------------ */
/*
 * Every heap-allocated object (queue, map, locks, ...) starts with its own
 * handle, so that a call can tell its object from another one that recycled
 * the entry between the lookup and the read of `obj` (a free racing the
 * call: a caller bug, which must still be memory safe).
 */
typedef struct ftk_obj {
    ftk_handle_t handle;
} ftk_obj;

/* Enter an EBR section and validate a handle of `kind`: the object, valid
 * until ftk_obj_exit(), or NULL (section already left) for a NULL,
 * destroyed or wrong-kind handle. Lock-free: the entry lookup, one acquire
 * load of obj (pairs with the release store that published it, so the
 * object is initialised even if the entry was recycled under us) and a
 * compare. */
/* The validation alone, for a caller already inside an EBR section. */
static inline __attribute__((always_inline)) void *ftk_obj_get(ftk_handle_t h, unsigned kind) {
    ftk_entry *e = ftk_entry_get(h, kind);
    if (__builtin_expect(e != NULL, 1)) {
        ftk_obj *o = atomic_load_explicit(&e->obj, memory_order_acquire);
        if (__builtin_expect(o != NULL && o->handle == h, 1)) return o;
    }
    return NULL;
}
static inline __attribute__((always_inline)) void *ftk_obj_enter_t(ftk_thread *t,
                                                                    ftk_handle_t h,
                                                                    unsigned kind) {
    ftk_ebr_enter_t(t);
    void *o = ftk_obj_get(h, kind);
    if (__builtin_expect(o == NULL, 0)) ftk_ebr_exit_t(t);
    return o;
}
static inline __attribute__((always_inline)) void ftk_obj_exit_t(ftk_thread *t) {
    ftk_ebr_exit_t(t);
}
static inline void *ftk_obj_enter(ftk_handle_t h, unsigned kind) {
    return ftk_obj_enter_t(ftk_thread_self(), h, kind);
}
static inline void ftk_obj_exit(void) { ftk_ebr_exit(); }

/* Per-thread "last status" for the value-style (_v) functions. */
extern _Thread_local int ftk_tls_last_status;
static inline void ftk_set_last(int st) { ftk_tls_last_status = st; }
/* Per-thread "last result" of the value-style calls that hand words out
 * (see ftk_last_result in common.h). */
extern _Thread_local uint64_t ftk_tls_last_result;
static inline void ftk_set_last_result(uint64_t v) { ftk_tls_last_result = v; }

#endif /* FTKIT_INTERNAL_H */
