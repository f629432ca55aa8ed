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
 * Cost on the read side: one TLS access and one seq_cst store (the store
 * must be ordered before the section's loads: a store-load fence). Scans of
 * the thread registry happen every SCAN_EVERY retires, not per operation.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define SCAN_EVERY 32

static _Atomic uint64_t global_epoch = 2;
pthread_mutex_t ftk_orphan_lock = PTHREAD_MUTEX_INITIALIZER;
#define orphan_lock ftk_orphan_lock
static ftk_retired *orphans; /* limbo of exited threads */
static _Atomic size_t pending; /* retired, not yet freed */

void ftk_ebr_enter(void) {
    ftk_thread *t = ftk_thread_self();
    if (t->ebr_nest++ == 0) {
        uint64_t e = atomic_load_explicit(&global_epoch, memory_order_relaxed);
        /* seq_cst: orders this announcement before the section's loads */
        atomic_store(&t->ebr_state, (e << 1) | 1);
    }
}

static void collect(ftk_thread *t);

void ftk_ebr_exit(void) {
    ftk_thread *t = ftk_thread_self();
    if (--t->ebr_nest == 0) {
        /* release: the section's loads complete before we look inactive */
        atomic_store_explicit(&t->ebr_state, 0, memory_order_release);
        /* retires made inside the section scan here, once we are outside */
        if (t->ebr_since_scan >= SCAN_EVERY) {
            t->ebr_since_scan = 0;
            collect(t);
        }
    }
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

static void collect(ftk_thread *t) {
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
        collect(t);
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
        for (int i = 0; i < 3; i++) collect(t);
    }
    return atomic_load_explicit(&pending, memory_order_relaxed);
}
