/*
 * block.h - private to libftkit: the blocking layer shared by every object
 * whose calls can wait (queue, deque, rwlock, ilock, ...).
 *
 * An object that blocks embeds one ftk_waitable and one or more eventcounts
 * (wait.h). The waitable gives it:
 *
 *   - sleeper references: a thread asleep in a blocking call leaves its EBR
 *     section (so it never holds up reclamation) and holds a reference on the
 *     object instead; the object is retired through EBR when the handle's
 *     reference and every sleeper's are gone (destroy callback);
 *   - `freed`: set when the handle is freed; waits end with FTK_ECLOSED;
 *   - `wake_gen`: bumped by the object's ftk_*_wake; waits in progress end
 *     with FTK_EINTR (bindings wait in slices and check for signals between);
 *   - ftk_block_wait: the "attempt, spin a little, then sleep on an
 *     eventcount until the attempt succeeds or the deadline passes" loop.
 *
 * Usage (inside ftk_obj_enter/ftk_obj_exit, see internal.h):
 *
 *   ftk_wait_ctx c;
 *   ftk_wait_begin(&c, &obj->w, timeout_ns);
 *   int st = ftk_block_wait(&obj->w, &c, &obj->not_empty, try_fn, &arg, FTK_EEMPTY);
 *
 * try_fn(arg) makes one non-blocking attempt and returns `again` while the
 * caller must keep waiting; its loads of the condition must be seq_cst, and
 * whatever makes the condition true must be a seq_cst read-modify-write
 * followed by ftk_ec_notify on the same eventcount (wait.h). One context may
 * be used for several ftk_block_wait calls in a row (phases of one call that
 * share one deadline).
 *
 * Freeing: the object's free function calls ftk_waitable_close (marks it
 * freed), notifies every eventcount, then ftk_waitable_unref (the handle's
 * reference). Waking: ftk_waitable_wake, then notify every eventcount.
 */
#ifndef FTKIT_BLOCK_H
#define FTKIT_BLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "wait.h"

/* Attempts a blocking call makes (spinning) before it sleeps. */
#define FTK_SPIN_BEFORE_SLEEP 64

typedef struct ftk_waitable {
    _Atomic uint32_t refs;     /* 1 for the handle + 1 per sleeper */
    _Atomic uint32_t wake_gen; /* bumped by ftk_*_wake */
    _Atomic bool freed;        /* the handle was freed */
    void (*destroy)(void *obj);
    void *obj;
} ftk_waitable;

/* Initialise (single-threaded, before the object is published) with the
 * handle's reference; destroy(obj) runs through EBR after the last unref. */
void ftk_waitable_init(ftk_waitable *w, void *obj, void (*destroy)(void *obj));

/* Take a sleeper reference; false if the object is being destroyed. Caller
 * is inside an EBR section. */
bool ftk_waitable_ref(ftk_waitable *w);
/* Drop a reference; the last one retires the object (ftk_ebr_retire). The
 * caller is inside an EBR section, so the object stays valid until it
 * leaves. */
void ftk_waitable_unref(ftk_waitable *w);

/* The handle was freed: every wait in progress or to come ends with
 * FTK_ECLOSED (after the caller notifies the eventcounts). seq_cst. */
static inline void ftk_waitable_close(ftk_waitable *w) { atomic_store(&w->freed, true); }

/* Cancel every wait in progress (they end with FTK_EINTR after the caller
 * notifies the eventcounts). seq_cst: every waiter's condition. */
static inline void ftk_waitable_wake(ftk_waitable *w) { atomic_fetch_add(&w->wake_gen, 1); }

typedef struct ftk_wait_ctx {
    int64_t timeout_ns; /* < 0 forever, 0 no wait */
    int64_t deadline;   /* valid once `started` */
    uint32_t gen;       /* wake_gen when the call began (ftk_wait_begin) */
    bool started;
    unsigned spins;     /* attempts before sleeping (FTK_SPIN_BEFORE_SLEEP) */
} ftk_wait_ctx;

/* Begin a blocking call's wait context. The wake generation is read here,
 * at the start of the call, so a ftk_*_wake that comes after this point ends
 * the call even if it lands before the call's first sleep (or before the
 * call shows in a waiter count); the deadline starts at the first failed
 * attempt (no clock read on the fast path). seq_cst load: ordered before the
 * call's attempts and registrations, which the waker's seq_cst increment
 * and eventcount notify follow. */
static inline void ftk_wait_begin(ftk_wait_ctx *c, ftk_waitable *w, int64_t timeout_ns) {
    c->timeout_ns = timeout_ns;
    c->deadline = FTK_DEADLINE_NEVER;
    c->gen = atomic_load(&w->wake_gen);
    c->started = false;
    c->spins = FTK_SPIN_BEFORE_SLEEP;
}

typedef int (*ftk_attempt_fn)(void *arg);

/*
 * Run fn(arg) until it returns something other than `again`, sleeping on ec
 * in between; returns what fn returned, or `again` for a zero timeout whose
 * single attempt failed, FTK_ETIMEDOUT, FTK_EINTR (ftk_waitable_wake) or
 * FTK_ECLOSED (freed). Called inside an EBR section (ftk_obj_enter); leaves
 * it only while asleep. Blocking; the attempts themselves are whatever fn
 * is (usually lock-free).
 */
int ftk_block_wait_slow(ftk_waitable *w, ftk_wait_ctx *c, ftk_ec *ec, ftk_attempt_fn fn,
                        void *arg, int again);
/* Inline, so that the first attempt (the usual, non-waiting case) is a
 * direct call the compiler can inline into the caller; the rest is
 * ftk_block_wait_slow (block.c). */
static inline __attribute__((always_inline)) int ftk_block_wait(ftk_waitable *w, ftk_wait_ctx *c,
                                                                ftk_ec *ec, ftk_attempt_fn fn,
                                                                void *arg, int again) {
    int st = fn(arg);
    if (__builtin_expect(st != again || c->timeout_ns == 0, 1)) return st;
    return ftk_block_wait_slow(w, c, ec, fn, arg, again);
}

#endif /* FTKIT_BLOCK_H */
