/*
 * wait.h - private to libftkit: an eventcount for blocking waits.
 *
 * An eventcount lets a thread sleep until some condition, kept elsewhere in
 * atomics, may have become true, without a lock on the fast path and without
 * lost wake-ups:
 *
 *   waiter                                notifier
 *   key = ftk_ec_prepare(ec);             make the condition true (seq_cst RMW)
 *   if (condition) ftk_ec_cancel(ec);     ftk_ec_notify(ec, n);
 *   else ftk_ec_wait(ec, key, deadline);
 *
 * The condition must be re-checked with seq_cst loads after prepare, and made
 * true by a seq_cst read-modify-write before notify. prepare (a seq_cst RMW on
 * `waiters`) and notify (a seq_cst load of `waiters`) then form a Dekker pair:
 * either the notifier sees the waiter, bumps `seq` and wakes it (a waiter that
 * has not yet slept sees `seq` != key and does not sleep), or the waiter's
 * re-check sees the condition. A notifier that finds no waiter costs one
 * load: no syscall, no write to a shared line.
 *
 * Sleeping is ftk_os_wait/ftk_os_wake on the 32-bit `seq` (os.h: a Linux
 * futex with an absolute CLOCK_MONOTONIC deadline, or a condvar emulation).
 * Objects that block build on this through block.h (sleeper references,
 * deadlines, wake generations, the attempt-or-wait loop).
 */
#ifndef FTKIT_WAIT_H
#define FTKIT_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

#include "os.h"

typedef struct ftk_ec {
    _Atomic uint32_t seq;     /* bumped by each notify that finds waiters */
    _Atomic uint32_t waiters; /* threads between prepare and wait/cancel */
} ftk_ec;

/* Wake every waiter. */
#define FTK_EC_ALL UINT32_MAX

void ftk_ec_init(ftk_ec *ec);

/* Register as a waiter; returns the key for ftk_ec_wait. seq_cst. */
static inline uint32_t ftk_ec_prepare(ftk_ec *ec) {
    atomic_fetch_add(&ec->waiters, 1);
    return atomic_load(&ec->seq);
}

/* Unregister without sleeping (the re-check found the condition true). */
static inline void ftk_ec_cancel(ftk_ec *ec) {
    /* relaxed: only a hint for notifiers; a stale non-zero costs a wake-up */
    atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
}

/* Sleep until a notify after prepare, the deadline (CLOCK_MONOTONIC ns,
 * FTK_DEADLINE_NEVER for none), or a spurious wake-up; then unregister.
 * Returns FTK_OK, FTK_ETIMEDOUT, or FTK_EINTR when a signal handler ran in
 * this thread meanwhile (Linux). Callers re-check their condition. */
int ftk_ec_wait(ftk_ec *ec, uint32_t key, int64_t deadline_ns);

void ftk_ec_notify_slow(ftk_ec *ec, uint32_t n);

/* Wake up to n waiters if there are any. One seq_cst load when none. */
static inline void ftk_ec_notify(ftk_ec *ec, uint32_t n) {
    if (atomic_load(&ec->waiters) != 0) ftk_ec_notify_slow(ec, n);
}

/* now + timeout_ns; FTK_DEADLINE_NEVER when timeout_ns < 0 or on overflow
 * (FTK_DEADLINE_NEVER, ftk_now_ns and ftk_cpu_relax come from os.h). */
int64_t ftk_deadline_after(int64_t timeout_ns);

#endif /* FTKIT_WAIT_H */
