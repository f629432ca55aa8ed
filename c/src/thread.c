/*
 * thread.c - the per-thread record and its registry.
 *
 * The record is _Thread_local (global-dynamic TLS: the library is dlopen()ed,
 * so initial-exec TLS would be wrong). A pthread key whose destructor runs at
 * thread exit hands the record's caches back to the shared pools.
 */
#include <pthread.h>

#include "internal.h"

_Thread_local ftk_thread ftk_tls_self;
#define self ftk_tls_self
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ftk_thread *registry;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *arg) {
    ftk_thread *t = arg;
    ftk_slots_thread_exit(t);
    ftk_reclaim_thread_exit(t);
    pthread_mutex_lock(&registry_lock);
    atomic_fetch_add_explicit(&ftk_slots_exited_live,
                              atomic_load_explicit(&t->slot_live, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&t->slot_live, 0, memory_order_relaxed);
    if (t->prev) t->prev->next = t->next; else registry = t->next;
    if (t->next) t->next->prev = t->prev;
    t->registered = false;
    pthread_mutex_unlock(&registry_lock);
}

/*
 * fork(): take every process-wide lock before the fork and release it on
 * both sides, so the child never inherits a lock held by a thread that does
 * not exist there. In the child only the forking thread survives: the other
 * threads' records are dropped from the registry (their cached slot indices
 * and pending frees are abandoned: bounded, and never reused).
 */
static void fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    pthread_mutex_lock(&ftk_table_lock);
    pthread_mutex_lock(&ftk_depot_lock);
    pthread_mutex_lock(&ftk_orphan_lock);
}

static void fork_parent(void) {
    pthread_mutex_unlock(&ftk_orphan_lock);
    pthread_mutex_unlock(&ftk_depot_lock);
    pthread_mutex_unlock(&ftk_table_lock);
    pthread_mutex_unlock(&registry_lock);
}

static void fork_child(void) {
    ftk_thread *me = self.registered ? &self : NULL;
    for (ftk_thread *t = registry; t; t = t->next) {
        if (t != me) atomic_store_explicit(&t->ebr_state, 0, memory_order_relaxed);
    }
    registry = me;
    if (me) me->prev = me->next = NULL;
    fork_parent();
}

static void make_exit_key(void) {
    (void)pthread_key_create(&exit_key, thread_exit);
    (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Register the fork handlers when the library is loaded, before any thread
 * can hold one of the locks. */
__attribute__((constructor)) static void ftk_thread_init(void) {
    pthread_once(&exit_key_once, make_exit_key);
}

ftk_thread *ftk_thread_register(ftk_thread *t) {
    {
        pthread_once(&exit_key_once, make_exit_key);
        (void)pthread_setspecific(exit_key, t);
        pthread_mutex_lock(&registry_lock);
        t->prev = NULL;
        t->next = registry;
        if (registry) registry->prev = t;
        registry = t;
        t->registered = true;
        pthread_mutex_unlock(&registry_lock);
    }
    return t;
}

void ftk_thread_foreach(void (*fn)(ftk_thread *, void *), void *arg) {
    pthread_mutex_lock(&registry_lock);
    for (ftk_thread *t = registry; t; t = t->next) fn(t, arg);
    pthread_mutex_unlock(&registry_lock);
}
