/*
 * reclaim.c - epoch-based reclamation (EBR) for container internals.
 *
 * A global epoch E. A thread inside a read-side section publishes the epoch
 * it saw. Memory retired at epoch e is unreachable for sections that start
 * later; once every active thread has been seen at an epoch > e... more
 * precisely, the epoch only advances from E to E+1 when every active thread
 * announced E, so anything retired at epoch <= E-2 can no longer be seen by
 * any section and is freed.
 *
 * The read side must order its announcement (a store) before the section's
 * loads: a store-load fence, ~9 ns as a seq_cst store on x86 (measured in
 * bench/c: half the fixed cost of a queue or map call). On Linux we make it
 * asymmetric, as liburcu's "memb" flavour does: readers store relaxed behind
 * a compiler barrier, and the rare scanner (every SCAN_EVERY retires) runs
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) first, which executes a full
 * fence on every CPU running one of our threads, so every announcement made
 * before it is visible to the scan. Where membarrier is unavailable, and
 * under ThreadSanitizer (which cannot see the fences membarrier implies),
 * readers use the seq_cst store.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define FTK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FTK_TSAN 1
#endif
#endif

/* Retires between scans. In asymmetric mode a scan also costs a membarrier
 * (an IPI to the other CPUs running our threads), so scans are additionally
 * rate-limited in time (see collect). */
#define SCAN_EVERY FTK_EBR_SCAN_EVERY
#define HEAVY_FENCE_MIN_NS 1000000 /* at most ~1000 membarriers per second */
#define LIMBO_FORCE 8192           /* ...unless a thread's limbo grows this big */

/* 1 once membarrier private-expedited is registered for this process. */
_Atomic int ftk_ebr_asym; /* relaxed: set once at load time */
#define asym_fences ftk_ebr_asym
static _Atomic int64_t last_heavy_ns;

__attribute__((constructor)) static void ftk_reclaim_init(void) {
#if defined(__linux__) && !defined(FTK_TSAN)
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        asym_fences = 1;
#endif
}

/* The scanner's half of the asymmetric fence. In symmetric mode nothing is
 * needed: readers' seq_cst stores and the scanner's seq_cst loads are
 * totally ordered already. */
static void heavy_fence(void) {
#if defined(__linux__)
    if (asym_fences &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        /* Cannot fail once registered. If it ever did, readers still using
         * relaxed stores could be missed: refuse to run unsafely. */
        abort();
    }
#endif
}

_Atomic uint64_t ftk_ebr_epoch = 2;
#define global_epoch ftk_ebr_epoch
pthread_mutex_t ftk_orphan_lock = PTHREAD_MUTEX_INITIALIZER;
#define orphan_lock ftk_orphan_lock
static ftk_retired *orphans; /* limbo of exited threads */
static _Atomic size_t pending; /* retired, not yet freed */

static void collect(ftk_thread *t, bool force);

void ftk_ebr_scan_after_exit(ftk_thread *t) {
    /* retires made inside the section scan here, once we are outside */
    t->ebr_since_scan = 0;
    collect(t, false);
}

struct scan { uint64_t epoch; bool ok; };

static void check_thread(ftk_thread *t, void *arg) {
    struct scan *s = arg;
    uint64_t st = atomic_load(&t->ebr_state);
    if ((st & 1) && (st >> 1) != s->epoch) s->ok = false;
}

/* Advance the epoch if every active thread has seen the current one.
 * Returns the (possibly new) epoch. */
static uint64_t try_advance(void) {
    heavy_fence(); /* make every reader's announcement visible before we look */
    struct scan s = {atomic_load(&global_epoch), true};
    ftk_thread_foreach(check_thread, &s);
    if (s.ok) {
        uint64_t e = s.epoch;
        atomic_compare_exchange_strong(&global_epoch, &e, s.epoch + 1);
    }
    return atomic_load(&global_epoch);
}

/* Free the entries of *list retired at or before `safe`; keep the rest. */
static size_t free_list(ftk_retired **list, uint64_t safe) {
    size_t freed = 0;
    ftk_retired **pp = list;
    while (*pp) {
        ftk_retired *r = *pp;
        if (r->epoch <= safe) {
            *pp = r->next;
            r->fn(r->ptr);
            free(r);
            freed++;
        } else {
            pp = &r->next;
        }
    }
    atomic_fetch_sub_explicit(&pending, freed, memory_order_relaxed);
    return freed;
}

static void collect_orphans(uint64_t safe) {
    pthread_mutex_lock(&orphan_lock);
    ftk_retired *list = orphans;
    orphans = NULL;
    pthread_mutex_unlock(&orphan_lock);
    if (list == NULL) return;
    free_list(&list, safe);
    if (list) { /* put back what is not yet safe */
        ftk_retired *tail = list;
        while (tail->next) tail = tail->next;
        pthread_mutex_lock(&orphan_lock);
        tail->next = orphans;
        orphans = list;
        pthread_mutex_unlock(&orphan_lock);
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void collect(ftk_thread *t, bool force) {
    if (asym_fences && !force && t->limbo_len < LIMBO_FORCE) {
        /* relaxed: a rate limit, not a synchronisation */
        int64_t now = now_ns();
        if (now - atomic_load_explicit(&last_heavy_ns, memory_order_relaxed) <
            HEAVY_FENCE_MIN_NS)
            return;
        atomic_store_explicit(&last_heavy_ns, now, memory_order_relaxed);
    }
    uint64_t e = try_advance();
    t->limbo_len -= free_list(&t->limbo, e - 2);
    collect_orphans(e - 2);
}

void ftk_ebr_retire(void *ptr, void (*fn)(void *)) {
    ftk_thread *t = ftk_thread_self();
    ftk_retired *r = malloc(sizeof *r);
    if (r == NULL) {
        /* Cannot defer: leak rather than free memory a reader may hold. */
        return;
    }
    r->fn = fn;
    r->ptr = ptr;
    r->epoch = atomic_load(&global_epoch);
    r->next = t->limbo;
    t->limbo = r;
    t->limbo_len++;
    atomic_fetch_add_explicit(&pending, 1, memory_order_relaxed);
    if (++t->ebr_since_scan >= SCAN_EVERY && t->ebr_nest == 0) {
        t->ebr_since_scan = 0;
        collect(t, false);
    }
}

void ftk_reclaim_thread_exit(ftk_thread *t) {
    if (t->limbo == NULL) return;
    ftk_retired *tail = t->limbo;
    while (tail->next) tail = tail->next;
    pthread_mutex_lock(&orphan_lock);
    tail->next = orphans;
    orphans = t->limbo;
    pthread_mutex_unlock(&orphan_lock);
    t->limbo = NULL;
    t->limbo_len = 0;
}

size_t ftk_reclaim_collect(void) {
    ftk_thread *t = ftk_thread_self();
    if (t->ebr_nest == 0) {
        /* Three advances move everything retired so far past the safe line
         * when no other thread sits inside a section. */
        for (int i = 0; i < 3; i++) collect(t, true);
    }
    return atomic_load_explicit(&pending, memory_order_relaxed);
}
