/*
 * block.c - the blocking layer (see block.h): sleeper references, freed and
 * wake generations, and the attempt-or-wait loop.
 */
#include "block.h"

void ftk_waitable_init(ftk_waitable *w, void *obj, void (*destroy)(void *obj)) {
    atomic_init(&w->refs, 1);
    atomic_init(&w->wake_gen, 0);
    atomic_init(&w->freed, false);
    w->destroy = destroy;
    w->obj = obj;
}

bool ftk_waitable_ref(ftk_waitable *w) {
    uint32_t r = atomic_load_explicit(&w->refs, memory_order_relaxed);
    do {
        if (r == 0) return false; /* being destroyed */
        /* relaxed: the object is kept alive by our EBR section until then */
    } while (!atomic_compare_exchange_weak_explicit(&w->refs, &r, r + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

void ftk_waitable_unref(ftk_waitable *w) {
    /* acq_rel: the last owner sees every earlier owner's accesses */
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1)
        ftk_ebr_retire(w->obj, w->destroy);
}

static void start(ftk_wait_ctx *c) {
    if (c->started) return;
    c->started = true;
    c->deadline = ftk_deadline_after(c->timeout_ns);
}

/* The first attempt failed (ftk_block_wait) and the caller may wait. */
int ftk_block_wait_slow(ftk_waitable *w, ftk_wait_ctx *c, ftk_ec *ec, ftk_attempt_fn fn,
                        void *arg, int again) {
    int st;
    start(c);
    for (unsigned i = 0; i < c->spins; i++) {
        ftk_cpu_relax();
        st = fn(arg);
        if (st != again) return st;
    }
    for (;;) {
        if (!ftk_waitable_ref(w)) return FTK_ECLOSED; /* being destroyed */
        uint32_t key = ftk_ec_prepare(ec);
        /* re-check after registering (seq_cst loads inside fn) */
        st = fn(arg);
        if (st == again) {
            if (atomic_load(&w->wake_gen) != c->gen)
                st = FTK_EINTR;
            else if (atomic_load(&w->freed))
                st = FTK_ECLOSED;
            else if (c->deadline != FTK_DEADLINE_NEVER && ftk_now_ns() >= c->deadline)
                st = FTK_ETIMEDOUT;
        }
        if (st != again) {
            ftk_ec_cancel(ec);
            ftk_waitable_unref(w);
            return st;
        }
        ftk_ebr_exit(); /* do not hold up reclamation while asleep */
        int ws = ftk_ec_wait(ec, key, c->deadline);
        ftk_ebr_enter();
        ftk_waitable_unref(w); /* may retire the object: valid inside this section */
        /* A signal interrupted the sleep: return before trying again, so a
         * binding whose signal handler raises finds the call had no effect
         * (a push/pop that succeeded here could not be undone by it). */
        if (ws == FTK_EINTR) return FTK_EINTR;
    }
}
