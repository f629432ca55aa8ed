/*
 * thread.c - the per-thread record and its registry.
 *
 * The record is _Thread_local (global-dynamic TLS: the library is dlopen()ed,
 * so initial-exec TLS would be wrong). A pthread key whose destructor runs at
 * thread exit hands the record's caches back to the shared pools.
 */
#include <pthread.h>

#include "internal.h"

static _Thread_local ftk_thread self;
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

static void make_exit_key(void) { (void)pthread_key_create(&exit_key, thread_exit); }

ftk_thread *ftk_thread_self(void) {
    ftk_thread *t = &self;
    if (__builtin_expect(!t->registered, 0)) {
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
