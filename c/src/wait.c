/*
 * wait.c - the eventcount behind every blocking call (see wait.h).
 */
#include "wait.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "internal.h"

#if defined(__linux__) && !defined(FTK_WAIT_PORTABLE)
#define FTK_WAIT_FUTEX 1
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <pthread.h>
#endif

void ftk_ec_init(ftk_ec *ec) {
    atomic_init(&ec->seq, 0);
    atomic_init(&ec->waiters, 0);
}

int64_t ftk_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ftk_deadline_after(int64_t timeout_ns) {
    if (timeout_ns < 0) return FTK_DEADLINE_NEVER;
    int64_t now = ftk_now_ns();
    if (timeout_ns >= FTK_DEADLINE_NEVER - now) return FTK_DEADLINE_NEVER;
    return now + timeout_ns;
}

#ifdef FTK_WAIT_FUTEX

int ftk_ec_wait(ftk_ec *ec, uint32_t key, int64_t deadline_ns) {
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
    /* Sleeps only while seq == key (checked atomically by the kernel).
     * BITSET with an absolute timeout measures CLOCK_MONOTONIC. */
    if (syscall(SYS_futex, (uint32_t *)&ec->seq, FUTEX_WAIT_BITSET_PRIVATE, key, tsp,
                NULL, FUTEX_BITSET_MATCH_ANY) == -1 &&
        errno == ETIMEDOUT)
        st = FTK_ETIMEDOUT;
out:
    errno = saved;
    /* relaxed: a counter hint for notifiers (see ftk_ec_cancel) */
    atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
    return st;
}

void ftk_ec_notify_slow(ftk_ec *ec, uint32_t n) {
    /* seq_cst: a waiter whose key predates this bump must not sleep */
    atomic_fetch_add(&ec->seq, 1);
    int saved = errno;
    syscall(SYS_futex, (uint32_t *)&ec->seq, FUTEX_WAKE_PRIVATE,
            n > (uint32_t)INT_MAX ? INT_MAX : (int)n, NULL, NULL, 0);
    errno = saved;
}

#else /* portable fallback: parking buckets of mutex + condvar */

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

static struct bucket *bucket_of(ftk_ec *ec) {
    pthread_once(&buckets_once, buckets_init);
    uintptr_t a = (uintptr_t)ec;
    return &buckets[((a >> 6) ^ (a >> 12)) % NBUCKETS];
}

int ftk_ec_wait(ftk_ec *ec, uint32_t key, int64_t deadline_ns) {
    int st = FTK_OK;
    struct bucket *b = bucket_of(ec);
    pthread_mutex_lock(&b->mutex);
    /* seq is bumped before the notifier takes the mutex, so checking it
     * under the mutex cannot miss a notify */
    while (atomic_load(&ec->seq) == key) {
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
    /* relaxed: a counter hint for notifiers (see ftk_ec_cancel) */
    atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
    return st;
}

void ftk_ec_notify_slow(ftk_ec *ec, uint32_t n) {
    (void)n; /* a condvar cannot wake "n of this address": wake the bucket */
    atomic_fetch_add(&ec->seq, 1);
    struct bucket *b = bucket_of(ec);
    pthread_mutex_lock(&b->mutex);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mutex);
}

#endif
