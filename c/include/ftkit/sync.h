/*
 * ftkit/sync.h - locks: a reader-writer lock (ftk_rwlock_*) and an interval
 * lock (ftk_ilock_*, a mutex whose holder lets waiters in at intervals).
 *
 * Both are owned per OS thread: the library knows the calling thread, so
 * releasing what the caller does not hold, or re-acquiring what it holds in
 * a way that would deadlock, returns FTK_EPERM instead of corrupting the
 * lock. Handles follow common.h: FTK_EBADHANDLE for a NULL, destroyed or
 * wrong-kind handle, free(FTK_NULL_HANDLE) is a no-op.
 *
 * Timeouts: `int64_t timeout_ns` < 0 waits forever, 0 does not wait (a
 * "try": FTK_EBUSY when the lock is not available at once), > 0 waits at
 * most that long on CLOCK_MONOTONIC (a timed-out call has waited at least
 * timeout_ns) and then returns FTK_ETIMEDOUT. A waiting call returns
 * FTK_EINTR when ftk_*_wake cancels it or a signal handler interrupts its
 * sleep (Linux; bindings wait in slices and look for signals in between),
 * FTK_ECLOSED when the lock is freed under it. A call
 * that did not return FTK_OK acquired nothing.
 *
 * Blocking: waits spin briefly, then sleep in the OS (futex on Linux) until
 * the lock may be available; no call spins without bound. Releasing makes a
 * wake-up syscall only when a thread sleeps.
 *
 * Threads that exit holding a lock: their read holds of an rwlock are
 * released at thread exit (a reader that is gone reads nothing); a write
 * hold of an rwlock and an ilock stay held (the data they protect may be
 * half-updated): a later try fails with FTK_EBUSY, a timed wait with
 * FTK_ETIMEDOUT, and no other thread can release them (FTK_EPERM).
 *
 * fork(): in the child, only the forking thread exists. Its own holds are
 * kept. Locks held (read or write) by other threads of the parent stay held
 * in the child, as above: try fails with FTK_EBUSY, timed waits time out,
 * nothing hangs without a timeout unless the caller asked for it. A lock on
 * which another thread was *waiting* at the moment of the fork may refuse
 * writers in the child (a waiter that will never come is counted); use
 * locks created after the fork there (see docs/design.md, fork).
 *
 * Freeing a lock while it is held or waited on is a caller bug that stays
 * memory safe: waiters return FTK_ECLOSED, later calls FTK_EBADHANDLE, and
 * the memory is reclaimed after the last call has left.
 *
 * What may run at the same time, on one lock (any threads):
 *
 *                 | read_lock | read_unlock | write_lock | write_unlock | queries, wake
 *   read_lock     |    yes    |     yes     |    yes     |     yes      |     yes
 *   read_unlock   |    yes    |     yes     |    yes     |     yes      |     yes
 *   write_lock    |    yes    |     yes     |    yes     |     yes      |     yes
 *   write_unlock  |    yes    |     yes     |    yes     |   (one owner)|     yes
 *   free          |  race (memory safe: ECLOSED / EBADHANDLE), as for every handle
 *
 * and the same for the ilock (lock / unlock / poll / cede / queries / wake;
 * unlock, poll and cede are calls of the single owner).
 */
#ifndef FTKIT_SYNC_H
#define FTKIT_SYNC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reader-writer lock ----------------------------------------------- */
/*
 * Many readers or one writer. Writer-preferring: once a writer waits, new
 * readers wait too, so writers are never starved by a stream of readers.
 * Readers are not starved either: when a writer releases the lock, every
 * reader that was waiting at that moment gets in before the next writer
 * (phase-fair hand-over: a reader waits for at most one writer after the
 * one it queued behind). Writers among themselves are not FIFO.
 *
 * Readers scale: an uncontended read acquire/release writes only the
 * calling thread's own record (a "visible reader" slot) and reads the lock,
 * so readers on different cores share no written cache line. A writer
 * revokes that fast path (it waits until the visible readers have left),
 * and readers then use a shared counter for a while (a time proportional
 * to what the revocation cost, BRAVO-style), so write-heavy use does not
 * pay a revocation per write.
 *
 * Reentrancy: a thread may take the read lock again while it holds it
 * (counted: as many read_unlock calls as read_lock calls); a nested read
 * acquire never waits, even behind a waiting writer. A thread that holds the
 * write lock gets FTK_EPERM for write_lock and read_lock; a thread that
 * holds the read lock gets FTK_EPERM for write_lock (an upgrade would
 * deadlock).
 *
 * Limits (FTK_EOVERFLOW when exceeded): 65535 threads holding the read lock
 * through the shared counter at once, 32767 waiting readers and 32767
 * waiting writers per lock, 2**32-1 nested read holds per thread.
 */

/* Create an unlocked reader-writer lock. FTK_EINVAL (out NULL),
 * FTK_ENOMEM. Thread-safe. */
FTK_API int ftk_rwlock_new(ftk_handle_t *out);

/* Destroy: wakes every waiter (FTK_ECLOSED) and invalidates the handle;
 * holds are dropped. FTK_NULL_HANDLE is a no-op; a second free returns
 * FTK_EBADHANDLE. Thread-safe; one of several racing frees wins. */
FTK_API int ftk_rwlock_free(ftk_handle_t h);

/*
 * Acquire the read lock (shared). FTK_OK; FTK_EBUSY (timeout 0, not
 * available), FTK_ETIMEDOUT, FTK_EINTR, FTK_ECLOSED; FTK_EPERM if the
 * caller holds the write lock; FTK_EOVERFLOW (limits above).
 * Progress: uncontended, or nested: a few loads and stores to the caller's
 * own record, no atomic read-modify-write, no shared write (lock-free).
 * Otherwise blocking. Ordering: acquire: everything the previous writer did
 * before its write_unlock happens-before what the reader does after.
 */
FTK_API int ftk_rwlock_read_lock(ftk_handle_t h, int64_t timeout_ns);

/*
 * Release one read hold of the caller. FTK_OK, FTK_EPERM (the caller holds
 * no read lock on h). Never waits; lock-free (wait-free on the fast path).
 * Ordering: release: the reader's accesses happen-before a writer that
 * acquires after it.
 */
FTK_API int ftk_rwlock_read_unlock(ftk_handle_t h);

/*
 * Acquire the write lock (exclusive). FTK_OK; FTK_EBUSY (timeout 0),
 * FTK_ETIMEDOUT, FTK_EINTR, FTK_ECLOSED; FTK_EPERM if the caller already
 * holds the write or a read lock on h; FTK_EOVERFLOW. Blocking. A writer
 * that revokes the readers' fast path waits for the readers inside it to
 * leave (within the same timeout). Ordering: acquire (pairs with the
 * releases of the previous writer and of every reader before it).
 */
FTK_API int ftk_rwlock_write_lock(ftk_handle_t h, int64_t timeout_ns);

/* Release the write lock. FTK_OK, FTK_EPERM (the caller is not the
 * writer). Never waits; lock-free. Ordering: release. */
FTK_API int ftk_rwlock_write_unlock(ftk_handle_t h);

/* Cancel every wait in progress on h (they return FTK_EINTR); later waits
 * are not affected. FTK_OK. Lock-free. */
FTK_API int ftk_rwlock_wake(ftk_handle_t h);

/*
 * Queries (racy snapshots, for tests and monitoring; they return a count
 * >= 0 or a negative status, never block, and read every registered
 * thread's record for `readers`):
 *   readers          threads holding the read lock (nested holds count once;
 *                    a reader in the middle of acquiring may be counted)
 *   writers_waiting  writers waiting to acquire
 *   writer_locked    1 if a writer holds it (or is revoking the readers'
 *                    fast path to get it), else 0
 *   read_held        the caller's read nesting depth on h (0: none)
 *   write_held       1 if the caller holds the write lock, else 0
 */
FTK_API int64_t ftk_rwlock_readers(ftk_handle_t h);
FTK_API int64_t ftk_rwlock_writers_waiting(ftk_handle_t h);
FTK_API int ftk_rwlock_writer_locked(ftk_handle_t h);
FTK_API int64_t ftk_rwlock_read_held(ftk_handle_t h);
FTK_API int ftk_rwlock_write_held(ftk_handle_t h);

/* ---- interval lock ---------------------------------------------------- */
/*
 * A mutex whose holder is expected to call ftk_ilock_poll() regularly:
 * once `interval` has passed and other threads wait, poll cedes the lock
 * (releases it, lets one waiter in, and re-acquires it after that waiter).
 * ftk_ilock_cede() does the same at once. The interval is measured from
 * the later of the acquisition and the arrival of the first waiter (a lock
 * nobody waits for has nothing to cede; an uncontended lock/unlock pair
 * reads no clock). A thread that has just released the lock while others
 * wait does not take it back before one of them had it (hand-over).
 *
 * Errors: locking by the owner (it would deadlock), and unlocking, polling
 * or ceding by a thread that does not hold the lock, return FTK_EPERM.
 * Lock and the re-acquisition inside poll/cede take a timeout: if that
 * re-acquisition fails (FTK_ETIMEDOUT, FTK_EINTR, FTK_ECLOSED), the caller
 * no longer holds the lock.
 */

/* Create an unlocked interval lock; interval_ns >= 0 (ft_utils' default is
 * 5 ms). FTK_EINVAL (out NULL or interval_ns < 0), FTK_ENOMEM. */
FTK_API int ftk_ilock_new(int64_t interval_ns, ftk_handle_t *out);

/* Destroy (as ftk_rwlock_free). */
FTK_API int ftk_ilock_free(ftk_handle_t h);

/* Acquire. FTK_OK; FTK_EBUSY (timeout 0), FTK_ETIMEDOUT, FTK_EINTR,
 * FTK_ECLOSED; FTK_EPERM if the caller holds it. Uncontended: one CAS
 * (lock-free); otherwise blocking. Ordering: acquire. */
FTK_API int ftk_ilock_lock(ftk_handle_t h, int64_t timeout_ns);

/* Release. FTK_OK, FTK_EPERM (not the owner). Never waits. Ordering:
 * release. */
FTK_API int ftk_ilock_unlock(ftk_handle_t h);

/* If other threads wait and the interval has passed, cede (see above);
 * else return at once still holding it. FTK_OK (the caller holds the lock),
 * FTK_EPERM (not the owner), or the re-acquisition's failure. */
FTK_API int ftk_ilock_poll(ftk_handle_t h, int64_t timeout_ns);

/* Cede now: if other threads wait, release, let one of them in, and
 * re-acquire after it (blocking); if nobody waits, keep holding it.
 * FTK_OK, FTK_EPERM, or the re-acquisition's failure. */
FTK_API int ftk_ilock_cede(ftk_handle_t h, int64_t timeout_ns);

/* Cancel every wait in progress on h (FTK_EINTR). FTK_OK. */
FTK_API int ftk_ilock_wake(ftk_handle_t h);

/* 1 if any thread holds it, 0 if not, or a negative status. */
FTK_API int ftk_ilock_locked(ftk_handle_t h);
/* 1 if the caller holds it, 0 if not, or a negative status. */
FTK_API int ftk_ilock_held(ftk_handle_t h);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_SYNC_H */
