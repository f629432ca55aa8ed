/*
 * thread.c - the per-thread record, its registry, and the per-thread hooks.
 *
 * The record is _Thread_local (global-dynamic TLS: the library is dlopen()ed,
 * so initial-exec TLS would be wrong). A pthread key whose destructor runs at
 * thread exit runs the registered hooks (internal.h), which hand the
 * record's caches and holds back, then unlinks it.
 */
#include <pthread.h>

#include "internal.h"

_Thread_local ftk_thread ftk_tls_self;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ftk_thread *registry;
static ftk_thread_hooks *hooks; /* sorted by order; guarded by registry_lock */
static uint64_t next_id = 1;    /* guarded by registry_lock */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

void ftk_thread_hooks_add(ftk_thread_hooks *h) {
    pthread_mutex_lock(&registry_lock);
    ftk_thread_hooks **pp = &hooks;
    while (*pp && (*pp)->order <= h->order) pp = &(*pp)->next;
    h->next = *pp;
    *pp = h;
    pthread_mutex_unlock(&registry_lock);
}

static void thread_exit(void *arg) {
    ftk_thread *t = arg;
    /* The list only grows, at load time (constructors); reading it without
     * the lock here would race with nothing, but take it for the reads. */
    pthread_mutex_lock(&registry_lock);
    ftk_thread_hooks *list = hooks;
    pthread_mutex_unlock(&registry_lock);
    for (ftk_thread_hooks *h = list; h; h = h->next)
        if (h->exit) h->exit(t);
    pthread_mutex_lock(&registry_lock);
    for (ftk_thread_hooks *h = hooks; h; h = h->next)
        if (h->exit_locked) h->exit_locked(t);
    if (t->prev) t->prev->next = t->next; else registry = t->next;
    if (t->next) t->next->prev = t->prev;
    t->registered = false;
    pthread_mutex_unlock(&registry_lock);
}

/*
 * fork(): take every process-wide lock before the fork and release it on
 * both sides, so the child never inherits a lock held by a thread that does
 * not exist there. In the child only the forking thread survives: the other
 * threads' records are handed to the fork_gone hooks, then dropped from the
 * registry.
 */
static void fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    pthread_mutex_lock(&ftk_table_lock);
    for (ftk_thread_hooks *h = hooks; h; h = h->next)
        if (h->fork_lock) pthread_mutex_lock(h->fork_lock);
}

static void unlock_hooks(ftk_thread_hooks *h) {
    /* reverse order of fork_prepare */
    if (h == NULL) return;
    unlock_hooks(h->next);
    if (h->fork_lock) pthread_mutex_unlock(h->fork_lock);
}

static void fork_parent(void) {
    unlock_hooks(hooks);
    pthread_mutex_unlock(&ftk_table_lock);
    pthread_mutex_unlock(&registry_lock);
}

static void fork_child(void) {
    ftk_thread *me = ftk_tls_self.registered ? &ftk_tls_self : NULL;
    for (ftk_thread *t = registry; t; t = t->next) {
        if (t == me) continue;
        for (ftk_thread_hooks *h = hooks; h; h = h->next)
            if (h->fork_gone) h->fork_gone(t);
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
    pthread_once(&exit_key_once, make_exit_key);
    (void)pthread_setspecific(exit_key, t);
    pthread_mutex_lock(&registry_lock);
    if (t->id == 0) t->id = next_id++; /* kept across fork by the forker */
    t->prev = NULL;
    t->next = registry;
    if (registry) registry->prev = t;
    registry = t;
    t->registered = true;
    pthread_mutex_unlock(&registry_lock);
    return t;
}

void ftk_thread_foreach(void (*fn)(ftk_thread *, void *), void *arg) {
    pthread_mutex_lock(&registry_lock);
    for (ftk_thread *t = registry; t; t = t->next) fn(t, arg);
    pthread_mutex_unlock(&registry_lock);
}
