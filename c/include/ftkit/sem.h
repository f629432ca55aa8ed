/*
 * ftkit/sem.h - a FIFO-fair counting semaphore whose waiters are words.
 *
 * A semaphore holds `value` permits (1..INT64_MAX, fixed at creation).
 * An acquirer takes a permit or joins one FIFO queue; a release gives the
 * permit to the oldest queued waiter, or back to the count when nobody
 * waits. Two kinds of waiter share the queue:
 *
 *  - words: ftk_sem_acquire_or_enqueue(h, word) queues a caller-chosen word
 *    (a positive int64, 1..INT64_MAX, unique among the words queued on this
 *    semaphore; refcount-neutral, libftkit never interprets it). The release
 *    that grants it returns the word to its caller, who then wakes whatever
 *    the word stands for (an asyncio future, a thread's lock...). Bindings
 *    for event loops use this: nothing sleeps in C.
 *  - threads: ftk_sem_acquire_timed blocks the calling thread in C (futex
 *    wait on a node of its own) until a release grants it a permit.
 *
 * Fairness: FIFO across both kinds. An arriving acquirer never barges past
 * a queued one: ftk_sem_try_acquire fails while anyone is queued, even if a
 * permit is about to be handed over.
 *
 * Permit accounting: every permit is, at every instant, either in the count
 * or owned by exactly one caller (one that acquired, or the owner of a word
 * that a release returned). A word removed by ftk_sem_cancel (FTK_OK) never
 * got a permit; a word that ftk_sem_cancel does not find (FTK_ENOTFOUND)
 * was already granted one, which its owner must use or release. A release
 * that would raise the count above `value` fails with FTK_EOVERFLOW and
 * changes nothing ("released more often than acquired").
 *
 * Ordering: a successful acquire (any form) synchronises with the release
 * that provided its permit (release/acquire), so what a holder wrote before
 * releasing is visible to the next holder.
 *
 * Progress: ftk_sem_try_acquire and a release while nobody is queued are
 * lock-free (one CAS on the state word). Enqueueing, a release that hands
 * over, cancel and the queries of the queue take the semaphore's own short
 * spinlock (spins, then yields; never held across a wait or a callback);
 * there is no global lock. ftk_sem_acquire_timed blocks.
 *
 * Every function may be called concurrently with every other on a live
 * handle. Bad input (NULL, destroyed or wrong-kind handle, NULL out-pointer,
 * out-of-range value or word) returns a status and never crashes. Freeing
 * while other threads are inside calls is a caller bug but memory safe (the
 * object is reclaimed through EBR); threads blocked in ftk_sem_acquire_timed
 * wake with FTK_ECLOSED; queued words are dropped with the semaphore.
 */
#ifndef FTKIT_SEM_H
#define FTKIT_SEM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Positive (non-error) statuses. */
enum {
    FTK_SEM_QUEUED = 1, /* ftk_sem_acquire_or_enqueue: the word was queued */
    FTK_SEM_HANDOFF = 1 /* ftk_sem_release: the permit went to *handoff's word */
};

/* Create a semaphore with `value` permits (1..INT64_MAX). FTK_EINVAL for
 * value < 1 or a NULL out, FTK_ENOMEM. Blocking (allocates). */
FTK_API int ftk_sem_new(int64_t value, ftk_handle_t *out);
/* Free it. FTK_NULL_HANDLE is a no-op (FTK_OK); a destroyed handle gives
 * FTK_EBADHANDLE. Threads blocked in ftk_sem_acquire_timed return
 * FTK_ECLOSED; queued words are forgotten. Memory goes once no call is
 * inside (EBR). */
FTK_API int ftk_sem_free(ftk_handle_t h);

/* Take a permit if one is free and nobody is queued: FTK_OK, else
 * FTK_EBUSY (also when permits are free but a waiter is queued: FIFO).
 * Lock-free, never waits. Acquire ordering on success. FTK_EBADHANDLE. */
FTK_API int ftk_sem_try_acquire(ftk_handle_t h);

/* Take a permit now (FTK_OK) if ftk_sem_try_acquire would, else queue
 * `word` at the tail (FTK_SEM_QUEUED): a later release returns it. One
 * atomic step under the semaphore's lock, so a release cannot slip between
 * the check and the enqueue. FTK_EINVAL for word 0 or word > INT64_MAX,
 * FTK_ENOMEM (queue growth failed; nothing changed), FTK_EBADHANDLE. Uses
 * the object's lock (blocking, short). Acquire ordering on FTK_OK. */
FTK_API int ftk_sem_acquire_or_enqueue(ftk_handle_t h, uint64_t word);

/* Release one permit, in one atomic step: to the oldest queued waiter if
 * any, else back to the count.
 *   FTK_OK           back to the count, or granted to a thread blocked in
 *                    ftk_sem_acquire_timed (woken here); *handoff = 0
 *   FTK_SEM_HANDOFF  granted to the oldest queued word, now out of the
 *                    queue and returned in *handoff: its owner holds the
 *                    permit and must be told (or must release it)
 *   FTK_EOVERFLOW    the count is already `value` (released more often
 *                    than acquired); nothing changed
 *   FTK_EINVAL       handoff is NULL;  FTK_EBADHANDLE
 * Lock-free while nobody is queued; otherwise under the lock. Release
 * ordering. */
FTK_API int ftk_sem_release(ftk_handle_t h, uint64_t *handoff);
/* ftk_sem_release for FFI hot paths (no out-parameter, so not a `_v`
 * function: the status comes back in the result): 0 (to the count or a
 * blocked thread), the granted word (> 0, since words are positive int64s),
 * or a negative status (FTK_EOVERFLOW, FTK_EBADHANDLE). */
FTK_API int64_t ftk_sem_release_word(ftk_handle_t h);

/* Withdraw a queued word: FTK_OK if it was queued (removed; it never got a
 * permit), FTK_ENOTFOUND if it is not queued (a release already granted it
 * a permit, which the caller now owns and must release; or it was never
 * queued). FTK_EBADHANDLE. O(queue length) under the lock. */
FTK_API int ftk_sem_cancel(ftk_handle_t h, uint64_t word);

/* Acquire, blocking the calling thread until a permit is granted (FIFO with
 * every other waiter) or `timeout_ns` passes (< 0: forever, 0: only try).
 * FTK_OK (the permit is the caller's), FTK_EBUSY (timeout 0, none free),
 * FTK_ETIMEDOUT, FTK_EINTR (ftk_sem_wake, or a signal handler ran while it
 * slept), FTK_ECLOSED (freed meanwhile), FTK_ENOMEM, FTK_EBADHANDLE. A wait
 * that ends without a permit leaves the queue: it had no effect. If a
 * release granted the permit as the wait ended, the result is FTK_OK.
 * Blocking (spins 64 attempts, then sleeps on a futex). */
FTK_API int ftk_sem_acquire_timed(ftk_handle_t h, int64_t timeout_ns);

/* What the calling thread's last ftk_sem_try_acquire, ftk_sem_acquire_or_
 * enqueue, ftk_sem_release or ftk_sem_release_word on `h` returned (for
 * ftk_sem_release: the granted word on FTK_SEM_HANDOFF, else its status;
 * bad-handle failures are recorded too), or FTK_ENOTFOUND if the thread's
 * last such call was on another semaphore (or it made none);
 * FTK_EBADHANDLE for NULL or a handle of another kind (a freed semaphore's
 * record stays readable: no liveness check). For bindings
 * whose caller can be interrupted (a signal handler raising) right after
 * such a call returned: the binding learns what the call did and undoes or
 * finishes it. Thread-local, wait-free. */
FTK_API int64_t ftk_sem_last(ftk_handle_t h);

/* Permits free now (0 while anyone is queued), or a negative status.
 * Wait-free; exact at an instant. */
FTK_API int64_t ftk_sem_value(ftk_handle_t h);
/* Waiters queued now (words and threads), or a negative status. Under the
 * lock; exact at an instant. */
FTK_API int64_t ftk_sem_waiters(ftk_handle_t h);
/* The `value` the semaphore was created with, or a negative status. */
FTK_API int64_t ftk_sem_initial(ftk_handle_t h);
/* End every ftk_sem_acquire_timed in progress with FTK_EINTR (they leave
 * the queue). Queued words are untouched. FTK_OK or FTK_EBADHANDLE. */
FTK_API int ftk_sem_wake(ftk_handle_t h);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_SEM_H */
