/*
 * os.h - private to libftkit: every OS- and CPU-specific primitive, in one
 * place (the rest of the library is portable C11 on top of these).
 *
 *   clock       ftk_now_ns (CLOCK_MONOTONIC), ftk_os_ticks (a cheap counter)
 *   CPU         ftk_cpu_relax (spin-wait hint), ftk_os_yield (give up the CPU)
 *   futex       ftk_os_wait / ftk_os_wake: sleep while a 32-bit word holds a
 *               value; Linux futex, or a condvar emulation elsewhere
 *   fences      ftk_os_heavy_fence: the slow half of an asymmetric fence
 *               (Linux membarrier), see ftk_os_asym
 *
 * Implemented in os.c. Define FTK_WAIT_PORTABLE to use the portable futex
 * emulation on Linux too (tests of the fallback).
 */
#ifndef FTKIT_OS_H
#define FTKIT_OS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define FTK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FTK_TSAN 1
#endif
#endif

/* A deadline that never expires. */
#define FTK_DEADLINE_NEVER INT64_MAX

/* CLOCK_MONOTONIC in nanoseconds (vDSO on Linux: ~25 ns measured). */
int64_t ftk_now_ns(void);

/* A cheap, monotonic-per-core tick counter (TSC on x86-64, CNTVCT on arm64,
 * else ftk_now_ns): for heuristics that compare durations with each other
 * and never convert ticks to time (~10 ns vs ~25 ns for the clock). */
static inline uint64_t ftk_os_ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return (uint64_t)ftk_now_ns();
#endif
}

/* Spin-wait hint. */
static inline void ftk_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Give the CPU to another runnable thread (a preempted lock holder). */
void ftk_os_yield(void);

/* Spin politely: `*spins` counts calls; the first 64 relax the CPU, later
 * ones yield it (for short waits on a holder that may be preempted). */
static inline void ftk_spin_wait(unsigned *spins) {
    if (++*spins < 64)
        ftk_cpu_relax();
    else
        ftk_os_yield();
}

/* A spinlock word (0: free, 1: held) for short critical sections (the
 * deque's ring, a gather stripe, the semaphore's queue, the batch's give-back
 * list): test-and-test-and-set, relaxing the CPU for FTK_SPIN_RELAX failed
 * checks, then yielding it (the holder may have been preempted). Not fair,
 * not reentrant; lock is acquire, unlock release, so a holder sees every
 * write of the previous holder's section. */
typedef _Atomic uint32_t ftk_spinlock;
#define FTK_SPIN_RELAX 256
void ftk_spin_lock_slow(ftk_spinlock *l);
static inline void ftk_spin_lock(ftk_spinlock *l) {
    /* acquire: pairs with ftk_spin_unlock's release */
    if (__builtin_expect(atomic_exchange_explicit(l, 1, memory_order_acquire) == 0, 1)) return;
    ftk_spin_lock_slow(l);
}
static inline void ftk_spin_unlock(ftk_spinlock *l) {
    /* release: the next holder sees everything written in the section */
    atomic_store_explicit(l, 0, memory_order_release);
}

/* Sleep while *addr == expected, until ftk_os_wake(addr), the deadline
 * (CLOCK_MONOTONIC ns, FTK_DEADLINE_NEVER for none) or a spurious wake-up.
 * Returns 0, FTK_ETIMEDOUT once the deadline has passed, or FTK_EINTR when
 * a signal handler ran in this thread during the sleep (futex only; the
 * portable emulation never reports it). Never changes errno. The waker
 * must change *addr (seq_cst) before it wakes. */
int ftk_os_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns);
/* Wake up to n threads sleeping in ftk_os_wait(addr) (the emulation wakes
 * them all). */
void ftk_os_wake(_Atomic uint32_t *addr, uint32_t n);

/*
 * Asymmetric fences. When ftk_os_asym is 1 (Linux with membarrier
 * registered, not under TSan, which cannot see its fences), a hot path may
 * replace a store-load fence by a compiler barrier provided that the other
 * side of the Dekker pair calls ftk_os_heavy_fence() between its store and
 * its load: that runs a full fence on every CPU running a thread of this
 * process (membarrier PRIVATE_EXPEDITED; an IPI, microseconds). When
 * ftk_os_asym is 0 both sides must use seq_cst operations (the heavy fence
 * is then a no-op).
 */
extern _Atomic int ftk_os_asym; /* relaxed: set once at load time */
void ftk_os_heavy_fence(void);

#endif /* FTKIT_OS_H */
