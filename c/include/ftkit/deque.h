/*
 * ftkit/deque.h - double-ended queue of 64-bit words, every operation atomic.
 *
 * The deque stores refcount-neutral words (see slots.h); it never interprets
 * them. Unbounded, or bounded by `maxlen` like Python's collections.deque: a
 * push onto a full bounded deque evicts the word at the other end and hands
 * it back to the caller (who releases what it stands for).
 *
 * Ends: FTK_DEQUE_BACK is the right end (Python's append/pop), FTK_DEQUE_FRONT
 * the left end (appendleft/popleft). Index 0 is the front; a negative index
 * counts from the back (-1 is the last word), as in Python.
 *
 * Concurrency: any thread may call any function at any time on a live handle.
 * Every operation is linearizable (atomic): pushes, pops, the _many forms,
 * get/set/insert/remove by index, remove by word, rotate, reverse, snapshot
 * and clear each take effect at one instant between their call and return.
 * A push happens-before the pop, get or snapshot that returns its word
 * (release/acquire through the deque's lock). Freeing a handle while other
 * threads are inside calls on it is a race in the caller; it is memory safe:
 * those calls return (blocked pops wake with FTK_ECLOSED) and the memory is
 * reclaimed after the last of them has left.
 *
 * Progress. Blocking: each deque has one short lock (a spinlock that yields
 * the CPU after a few hundred spins) held for O(1) work by pushes, pops,
 * get/set and the size queries, and for O(n) word copies by the _many forms,
 * snapshot, clear, reverse, and by insert/remove/rotate (O(distance to the
 * nearer end)). The lock is never held across an allocation failure path
 * that could leave the deque half-changed, nor while sleeping. Blocking pops
 * sleep in the OS (futex on Linux) outside the lock; a push makes a wake-up
 * syscall only when a pop is asleep. The size queries read one atomic and
 * are wait-free.
 *
 * Timeouts: `int64_t timeout_ns` < 0 waits forever, 0 does not wait, > 0
 * waits at most that long (CLOCK_MONOTONIC; a timed-out call has waited at
 * least timeout_ns).
 *
 * Statuses common to every call: FTK_EBADHANDLE for a NULL, destroyed or
 * wrong-kind handle; FTK_EINVAL for a NULL out-pointer that is required or a
 * side other than FTK_DEQUE_BACK/FTK_DEQUE_FRONT; FTK_ECLOSED after
 * ftk_deque_close (except where stated).
 */
#ifndef FTKIT_DEQUE_H
#define FTKIT_DEQUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* maxlen meaning "no bound" (SIZE_MAX on the 64-bit targets libftkit needs). */
#define FTK_DEQUE_UNBOUNDED 0xffffffffffffffffULL

/* A successful push that evicted a word from the other end of a full bounded
 * deque. Positive, so `status < 0` still means failure. */
#define FTK_DEQUE_EVICTED 1

/* Ends of the deque. */
enum {
    FTK_DEQUE_BACK = 0, /* right end: Python's append / pop */
    FTK_DEQUE_FRONT = 1 /* left end: Python's appendleft / popleft */
};

/*
 * Create a deque holding at most `maxlen` words (FTK_DEQUE_UNBOUNDED: no
 * bound; 0 is allowed and keeps nothing: every push evicts its own word).
 * Memory follows the contents (a ring buffer that doubles and halves), not
 * maxlen. FTK_ENOMEM. Thread-safe.
 */
FTK_API int ftk_deque_new(size_t maxlen, ftk_handle_t *out);

/*
 * Destroy a deque: closes it (waking every blocked pop, which returns
 * FTK_ECLOSED), invalidates the handle, and frees the memory once no call is
 * inside. Words still inside are dropped: clear first if they stand for
 * resources. FTK_NULL_HANDLE is a no-op returning FTK_OK; a second free
 * returns FTK_EBADHANDLE. Thread-safe; one of several racing frees wins.
 */
FTK_API int ftk_deque_free(ftk_handle_t h);

/*
 * Close the deque: afterwards every call except ftk_deque_clear, the size
 * queries, ftk_deque_maxlen, ftk_deque_close and ftk_deque_free returns
 * FTK_ECLOSED and changes nothing, and blocked pops wake with FTK_ECLOSED.
 * Lets a binding take the remaining words out (ftk_deque_clear) knowing no
 * push can slip in after them. Idempotent. Blocking (the lock).
 */
FTK_API int ftk_deque_close(ftk_handle_t h);

/* The maxlen given to ftk_deque_new. Works after close. Wait-free. */
FTK_API int ftk_deque_maxlen(ftk_handle_t h, size_t *out);

/* Number of words inside, exact at one instant during the call. Works after
 * close. Wait-free (one atomic load). */
FTK_API int ftk_deque_size(ftk_handle_t h, size_t *out);

/* ftk_deque_size as a return value for FFI hot paths (len()): the size
 * (>= 0), or a negative status (FTK_EBADHANDLE). Wait-free. */
FTK_API int64_t ftk_deque_len(ftk_handle_t h);

/*
 * Push one word at `side`. FTK_OK; FTK_DEQUE_EVICTED (bounded and full: the
 * word went in and the word at the other end was removed; it is stored in
 * *evicted unless evicted is NULL, and also recorded for
 * ftk_deque_evicted_v); FTK_ENOMEM (nothing changed); FTK_ECLOSED (the
 * word was not pushed). Blocking (the lock), O(1) amortised.
 */
FTK_API int ftk_deque_push(ftk_handle_t h, int side, uint64_t w, uint64_t *evicted);

/* ftk_deque_push at the back / the front without an out-parameter (for FFI
 * hot paths): an evicted word is read with ftk_deque_evicted_v. */
FTK_API int ftk_deque_push_back(ftk_handle_t h, uint64_t w);
FTK_API int ftk_deque_push_front(ftk_handle_t h, uint64_t w);

/* The word evicted by the calling thread's most recent push on h that
 * returned FTK_DEQUE_EVICTED (a per-thread record), or 0 with the reason in
 * ftk_last_status(): FTK_ENOTFOUND (that push was on another deque, or there
 * was none), FTK_EBADHANDLE; FTK_OK after a genuine 0 word. Wait-free. */
FTK_API uint64_t ftk_deque_evicted_v(ftk_handle_t h);

/*
 * Push n words at `side`, in order, as one atomic step (no other operation
 * sees some of them without the others): at the back, w[0] first, so they
 * read w[0..n) front to back; at the front each goes before the previous
 * one, so they read w[n-1] ... w[0] (Python's extendleft). A bounded deque
 * ends as if the words had been pushed one by one: the words evicted (old
 * ones from the other end first, then, if n > maxlen, the first of w
 * themselves) are stored in evicted[0..*n_evicted) in eviction order;
 * evicted must hold n words, or be NULL to drop them (they are still
 * counted). n_evicted may be NULL. FTK_OK (nothing evicted),
 * FTK_DEQUE_EVICTED, FTK_ENOMEM or FTK_ECLOSED (nothing pushed in either
 * case). n == 0 is FTK_OK; w may be NULL only then. Blocking (the lock).
 */
FTK_API int ftk_deque_push_many(ftk_handle_t h, int side, const uint64_t *w, size_t n,
                                uint64_t *evicted, size_t *n_evicted);

/*
 * ftk_deque_push_many of the words first, first+1, ..., first+n-1 (for
 * bindings whose words are consecutive indices: no array crosses the FFI).
 * Same statuses and evictions; FTK_EINVAL if first + n overflows.
 */
FTK_API int ftk_deque_push_range(ftk_handle_t h, int side, uint64_t first, size_t n,
                                 uint64_t *evicted, size_t *n_evicted);

/*
 * Pop the word at `side`, waiting up to timeout_ns for one. FTK_OK and *w;
 * FTK_EEMPTY (timeout_ns == 0 and empty); FTK_ETIMEDOUT; FTK_ECLOSED (also
 * wakes a waiting pop); FTK_EINTR (ftk_deque_wake, or a signal
 * interrupted the sleep: nothing was taken). Blocking.
 */
FTK_API int ftk_deque_pop(ftk_handle_t h, int side, uint64_t *w, int64_t timeout_ns);

/*
 * Value-style pops for FFI hot paths: return the word, or 0 with the reason
 * in ftk_last_status() (FTK_EEMPTY, FTK_ETIMEDOUT, FTK_ECLOSED, FTK_EINTR,
 * FTK_EBADHANDLE, FTK_EINVAL); ftk_last_status() is FTK_OK after a genuine 0
 * word. pop_back_v/pop_front_v never wait; pop_v waits like ftk_deque_pop.
 */
FTK_API uint64_t ftk_deque_pop_back_v(ftk_handle_t h);
FTK_API uint64_t ftk_deque_pop_front_v(ftk_handle_t h);
FTK_API uint64_t ftk_deque_pop_v(ftk_handle_t h, int side, int64_t timeout_ns);

/*
 * Wait up to timeout_ns for at least one word, then pop up to max words at
 * `side` as one atomic step, in pop order (from the back: the last word
 * first) into out[0..*popped). FTK_OK with 1 <= *popped <= max; otherwise
 * *popped = 0 and the status as for ftk_deque_pop. max == 0 returns FTK_OK
 * with *popped = 0 at once; out may be NULL only then. Blocking.
 */
FTK_API int ftk_deque_pop_many(ftk_handle_t h, int side, uint64_t *out, size_t max,
                               size_t *popped, int64_t timeout_ns);

/* ftk_deque_pop_many without waiting, as a value: the number popped, or 0
 * with the reason in ftk_last_status() (FTK_EEMPTY, FTK_ECLOSED, ...). */
FTK_API size_t ftk_deque_pop_many_v(ftk_handle_t h, int side, uint64_t *out, size_t max);

/*
 * ftk_deque_pop_many_v, run-length encoded: pops up to max_items words at
 * `side` as one atomic step (never waits) and stores them, in pop order, as
 * pairs (first word, count) in runs[0..2k): a positive count c stands for
 * first, first+1, ..., first+c-1, a negative one (two's complement) for
 * first, first-1, ..., first-|c|+1. Returns k, the number of pairs; 0 with
 * the reason in ftk_last_status() (FTK_EEMPTY, FTK_ECLOSED, FTK_EINVAL,
 * FTK_EBADHANDLE). runs must hold 2 * max_items words (the upper half is
 * scratch space). For bindings whose words are indices: popped runs become
 * slices.
 */
FTK_API size_t ftk_deque_pop_runs_v(ftk_handle_t h, int side, uint64_t *runs, size_t max_items);

/*
 * Interrupt recovery for bindings. Every pop (all the forms above) records,
 * per thread, which deque it popped from and how many words it delivered
 * (0 when it delivered none). If the calling thread's most recent pop was on
 * h, *n receives that count and *w the word of a single-word pop (w may be
 * NULL; the words of a pop_many are in the caller's out array); otherwise
 * *n = 0. A binding whose language can raise an asynchronous exception
 * (Python's KeyboardInterrupt) right after a pop returned, before the result
 * was stored, uses it to push the words back instead of losing them.
 * FTK_OK; FTK_EINVAL (n is NULL); FTK_EBADHANDLE. Wait-free.
 */
FTK_API int ftk_deque_last_popped(ftk_handle_t h, uint64_t *w, size_t *n);

/*
 * Give back what the calling thread's most recent pop on h delivered (see
 * ftk_deque_last_popped), for interrupt recovery in one call: the words go
 * back to the end they came from, in their original order, as one atomic
 * step, so the pop has no effect (as if it had not happened, except that
 * operations in between saw the words missing). A single-word pop's word
 * comes from the per-thread record (out may be NULL; a pop_many that took
 * one word counts as a single-word pop); a pop_many's words must be passed
 * again in out (the same array, unchanged; for ftk_deque_pop_runs_v, the
 * same runs array). FTK_OK, also when
 * there is nothing to give back; on success the record is cleared, so a
 * repeated call gives back nothing (idempotent). FTK_EFULL: a bounded deque
 * has no room for them any more (nothing changed: the caller releases them,
 * as if evicted); FTK_ECLOSED, FTK_ENOMEM: nothing changed. In these three
 * cases the record stays. FTK_EINVAL: the record is a pop_many's and out is
 * NULL. Blocking (the lock).
 */
FTK_API int ftk_deque_unpop_last(ftk_handle_t h, const uint64_t *out);

/*
 * Cancel every pop blocked on this deque when wake is called: each returns
 * FTK_EINTR (one that finds a word returns it instead). Later calls are not
 * affected. Lets a binding wait in slices and run signal handlers. Works
 * after ftk_deque_close too (FTK_OK: closing woke every pop already).
 */
FTK_API int ftk_deque_wake(ftk_handle_t h);

/*
 * The word at `index` (0 = front, -1 = back). FTK_OK and *w; FTK_ENOTFOUND
 * when the index is out of range. Blocking (the lock), O(1).
 */
FTK_API int ftk_deque_get(ftk_handle_t h, int64_t index, uint64_t *w);

/* ftk_deque_get as a value: the word, or 0 with the reason in
 * ftk_last_status() (FTK_ENOTFOUND, FTK_ECLOSED, FTK_EBADHANDLE; FTK_OK after
 * a genuine 0 word). */
FTK_API uint64_t ftk_deque_get_v(ftk_handle_t h, int64_t index);

/* Replace the word at `index` with w; the old word goes to *old (old may be
 * NULL). FTK_OK; FTK_ENOTFOUND (out of range; nothing changed). O(1). */
FTK_API int ftk_deque_set(ftk_handle_t h, int64_t index, uint64_t w, uint64_t *old);

/*
 * Insert w before position `index`, clamped like Python's list.insert
 * (index < -size goes to the front, index > size to the back). FTK_OK;
 * FTK_EFULL (bounded deque at maxlen, as collections.deque raises; nothing
 * changed); FTK_ENOMEM. O(distance to the nearer end).
 */
FTK_API int ftk_deque_insert(ftk_handle_t h, int64_t index, uint64_t w);

/* Remove the word at `index`; it goes to *w (w may be NULL). FTK_OK;
 * FTK_ENOTFOUND (out of range). O(distance to the nearer end). */
FTK_API int ftk_deque_remove_at(ftk_handle_t h, int64_t index, uint64_t *w);

/* Remove the first occurrence (from the front) of the word w. FTK_OK;
 * FTK_ENOTFOUND (not inside; nothing changed). O(size). */
FTK_API int ftk_deque_remove_word(ftk_handle_t h, uint64_t w);

/* Rotate n steps to the right (the back word moves to the front; n < 0
 * rotates left), as one atomic step. Any int64 n; an empty deque is left
 * alone. O(min(k, size - k)) with k = n mod size. */
FTK_API int ftk_deque_rotate(ftk_handle_t h, int64_t n);

/* Reverse the order of the words in place, atomically. O(size). */
FTK_API int ftk_deque_reverse(ftk_handle_t h);

/*
 * Copy every word, front to back, as one atomic read. *n receives the size.
 * FTK_OK when *n <= max (the words are in out[0..*n)); FTK_EOVERFLOW when
 * *n > max (nothing copied: call again with a larger array). out may be NULL
 * only when max == 0. O(size).
 */
FTK_API int ftk_deque_snapshot(ftk_handle_t h, uint64_t *out, size_t max, size_t *n);

/*
 * Remove every word atomically. If out is non-NULL the words are copied to
 * out[0..*n), front to back, so that the caller can release what they stand
 * for: FTK_OK when they fit, FTK_EOVERFLOW with *n = size when size > max
 * (nothing removed: call again with a larger array). With out == NULL the
 * words are dropped and *n is how many. Works after close (that is how a
 * binding empties a closed deque). O(size).
 */
FTK_API int ftk_deque_clear(ftk_handle_t h, uint64_t *out, size_t max, size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_DEQUE_H */
