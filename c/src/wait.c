/*
 * wait.c - the eventcount behind every blocking call (see wait.h); the
 * sleeping itself is ftk_os_wait/ftk_os_wake (os.c).
 */
#include "wait.h"

#include "internal.h"

void ftk_ec_init(ftk_ec *ec) {
    atomic_init(&ec->seq, 0);
    atomic_init(&ec->waiters, 0);
}

int64_t ftk_deadline_after(int64_t timeout_ns) {
    if (timeout_ns < 0) return FTK_DEADLINE_NEVER;
    int64_t now = ftk_now_ns();
    if (timeout_ns >= FTK_DEADLINE_NEVER - now) return FTK_DEADLINE_NEVER;
    return now + timeout_ns;
}

int ftk_ec_wait(ftk_ec *ec, uint32_t key, int64_t deadline_ns) {
    /* sleeps only while seq == key: a notify after our prepare bumped it */
    int st = ftk_os_wait(&ec->seq, key, deadline_ns);
    /* relaxed: a counter hint for notifiers (see ftk_ec_cancel) */
    atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
    return st;
}

void ftk_ec_notify_slow(ftk_ec *ec, uint32_t n) {
    /* seq_cst: a waiter whose key predates this bump must not sleep */
    atomic_fetch_add(&ec->seq, 1);
    ftk_os_wake(&ec->seq, n);
}
