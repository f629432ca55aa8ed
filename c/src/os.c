/*
 * os.c - the OS-specific primitives behind os.h: clock, yield, futex (or its
 * condvar emulation) and the membarrier heavy fence.
 */
#include "os.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "ftkit.h"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#if !defined(FTK_WAIT_PORTABLE)
#define FTK_OS_FUTEX 1
#include <linux/futex.h>
#endif
#endif

int64_t ftk_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ftk_os_yield(void) { sched_yield(); }

void ftk_spin_lock_slow(ftk_spinlock *l) {
    for (unsigned i = 0;; i++) {
        /* relaxed: only a hint before the acquiring exchange */
        if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
            /* acquire: the section sees the previous holder's writes */
            atomic_exchange_explicit(l, 1, memory_order_acquire) == 0)
            return;
        if (i < FTK_SPIN_RELAX)
            ftk_cpu_relax();
        else
            ftk_os_yield(); /* the holder may have been preempted: let it run */
    }
}

/* ---- futex -------------------------------------------------------------- */

#ifdef FTK_OS_FUTEX

int ftk_os_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns) {
    int st = FTK_OK;
    int saved = errno; /* do not leak our errno into the embedder's */
    struct timespec ts, *tsp = NULL;
    if (deadline_ns != FTK_DEADLINE_NEVER) {
        if (ftk_now_ns() >= deadline_ns) {
            st = FTK_ETIMEDOUT;
            goto out;
        }
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tsp = &ts;
    }
    /* Sleeps only while *addr == expected (checked atomically by the
     * kernel). BITSET with an absolute timeout measures CLOCK_MONOTONIC. */
    if (syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, expected, tsp, NULL,
                FUTEX_BITSET_MATCH_ANY) == -1) {
        if (errno == ETIMEDOUT)
            st = FTK_ETIMEDOUT;
        else if (errno == EINTR)
            st = FTK_EINTR; /* a signal handler ran in this thread */
    }
out:
    errno = saved;
    return st;
}

void ftk_os_wake(_Atomic uint32_t *addr, uint32_t n) {
    int saved = errno;
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE,
            n > (uint32_t)INT_MAX ? INT_MAX : (int)n, NULL, NULL, 0);
    errno = saved;
}

#else /* portable emulation: parking buckets of mutex + condvar */

#define NBUCKETS 64

static struct bucket {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
} buckets[NBUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void buckets_init(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
#if !defined(__APPLE__)
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
    for (int i = 0; i < NBUCKETS; i++) {
        pthread_mutex_init(&buckets[i].mutex, NULL);
        pthread_cond_init(&buckets[i].cond, &attr);
    }
    pthread_condattr_destroy(&attr);
}

static struct bucket *bucket_of(const void *p) {
    pthread_once(&buckets_once, buckets_init);
    uintptr_t a = (uintptr_t)p;
    return &buckets[((a >> 6) ^ (a >> 12)) % NBUCKETS];
}

int ftk_os_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns) {
    int st = FTK_OK;
    struct bucket *b = bucket_of(addr);
    pthread_mutex_lock(&b->mutex);
    /* the waker changes *addr before it takes the mutex, so checking it
     * under the mutex cannot miss a wake-up */
    while (atomic_load(addr) == expected) {
        if (deadline_ns == FTK_DEADLINE_NEVER) {
            pthread_cond_wait(&b->cond, &b->mutex);
            continue;
        }
        int64_t now = ftk_now_ns();
        if (now >= deadline_ns) {
            st = FTK_ETIMEDOUT;
            break;
        }
#if defined(__APPLE__)
        int64_t rel = deadline_ns - now;
        struct timespec ts = {(time_t)(rel / 1000000000), (long)(rel % 1000000000)};
        pthread_cond_timedwait_relative_np(&b->cond, &b->mutex, &ts);
#else
        struct timespec ts = {(time_t)(deadline_ns / 1000000000),
                              (long)(deadline_ns % 1000000000)};
        pthread_cond_timedwait(&b->cond, &b->mutex, &ts);
#endif
    }
    pthread_mutex_unlock(&b->mutex);
    return st;
}

void ftk_os_wake(_Atomic uint32_t *addr, uint32_t n) {
    (void)n; /* a condvar cannot wake "n of this address": wake the bucket */
    struct bucket *b = bucket_of(addr);
    pthread_mutex_lock(&b->mutex);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mutex);
}

#endif

/* ---- heavy fence (membarrier) ------------------------------------------- */

_Atomic int ftk_os_asym;

__attribute__((constructor)) static void ftk_os_init(void) {
#if defined(__linux__) && !defined(FTK_TSAN)
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        atomic_store_explicit(&ftk_os_asym, 1, memory_order_relaxed);
#endif
}

void ftk_os_heavy_fence(void) {
#if defined(__linux__)
    if (atomic_load_explicit(&ftk_os_asym, memory_order_relaxed)) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
            /* Cannot fail once registered. If it ever did, hot paths still
             * using compiler barriers could be missed: refuse to run
             * unsafely. */
            abort();
        }
    }
#endif
    /* Symmetric mode: the hot side uses seq_cst operations, which are
     * totally ordered with the caller's; nothing to do. */
}
