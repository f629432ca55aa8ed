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
 * ftk_os_heavy_fence() first (membarrier PRIVATE_EXPEDITED, os.c), which
 * executes a full fence on every CPU running one of our threads, so every
 * announcement made before it is visible to the scan. Where membarrier is
 * unavailable, and under ThreadSanitizer (which cannot see the fences
 * membarrier implies), ftk_os_asym is 0 and readers use the seq_cst store.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

/* Retires between scans. In asymmetric mode a scan also costs a membarrier
 * (an IPI to the other CPUs running our threads), so scans are additionally
 * rate-limited in time (see collect). */
#define SCAN_EVERY FTK_EBR_SCAN_EVERY
#define HEAVY_FENCE_MIN_NS 1000000 /* at most ~1000 membarriers per second */
#define LIMBO_FORCE 8192           /* ...unless a thread's limbo grows this big */

static _Atomic int64_t last_heavy_ns;

_Atomic uint64_t ftk_ebr_epoch = 2;
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
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
    /* make every reader's announcement visible before we look (in
     * symmetric mode the readers' seq_cst stores already are) */
    ftk_os_heavy_fence();
    struct scan s = {atomic_load(&ftk_ebr_epoch), true};
    ftk_thread_foreach(check_thread, &s);
    if (s.ok) {
        uint64_t e = s.epoch;
        atomic_compare_exchange_strong(&ftk_ebr_epoch, &e, s.epoch + 1);
    }
    return atomic_load(&ftk_ebr_epoch);
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

static void collect(ftk_thread *t, bool force) {
    if (atomic_load_explicit(&ftk_os_asym, memory_order_relaxed) && !force &&
        t->limbo_len < LIMBO_FORCE) {
        /* relaxed: a rate limit, not a synchronisation */
        int64_t now = ftk_now_ns();
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
    r->epoch = atomic_load(&ftk_ebr_epoch);
    r->next = t->limbo;
    t->limbo = r;
    t->limbo_len++;
    atomic_fetch_add_explicit(&pending, 1, memory_order_relaxed);
    if (++t->ebr_since_scan >= SCAN_EVERY && t->ebr_nest == 0) {
        t->ebr_since_scan = 0;
        collect(t, false);
    }
}

static void reclaim_thread_exit(ftk_thread *t) {
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

/* A fork child: threads that do not exist there are no longer inside a
 * section (and their records leave the registry right after this). */
static void reclaim_fork_gone(ftk_thread *t) {
    atomic_store_explicit(&t->ebr_state, 0, memory_order_relaxed);
}

static ftk_thread_hooks reclaim_hooks = {
    .name = "reclaim",
    .order = FTK_HOOKS_RECLAIM, /* last: the other exit hooks may retire */
    .exit = reclaim_thread_exit,
    .fork_gone = reclaim_fork_gone,
    .fork_lock = &orphan_lock,
};

__attribute__((constructor)) static void ftk_reclaim_init(void) {
    ftk_thread_hooks_add(&reclaim_hooks);
}
