/*
 * ftkit/batch.h - batch executor: hand out batches of 64-bit words, one
 * word to exactly one caller, with one caller refilling when they run out.
 *
 * The executor holds at most one batch of words (the binding's slot words
 * for values its `source` produced). ftk_batch_load claims the next word of
 * the current batch. When the batch is exhausted, exactly one caller gets
 * FTK_BATCH_REFILL: it now holds the *refill role*, produces up to `size`
 * words (the binding calls its source; C never calls back), and publishes
 * them with ftk_batch_fill / ftk_batch_fill_range, or gives the role back
 * (ftk_batch_abandon) or fails the executor for good (ftk_batch_fail).
 * Other callers meanwhile wait (blocking loads) or get FTK_EBUSY (timeout
 * 0 and the _v form).
 *
 * Guarantees:
 *  - every published word is claimed by exactly one caller (load, take_many,
 *    the refiller through fill's `first`, or drain after close/failure);
 *    a word given back (unload_last, give_back) is claimed again exactly once;
 *  - within a batch words are claimed in the order they were published; no
 *    word of batch k+1 is claimed before every word of batch k was claimed
 *    (words given back with ftk_batch_unload_last are the one exception:
 *    they are handed out again before anything else, see there);
 *  - a claim never returns a word of an older batch: the claimer loads the
 *    word before it claims its index with a CAS on the state word that every
 *    refill changes (an epoch), so a claimer whose index was refilled under
 *    it fails its CAS and retries. (The epoch has 34 bits: a claimer would
 *    have to stall between two instructions for 2**34 refills to be fooled.)
 *  - a fill happens-before the claim of any of its words (release/acquire
 *    on the state word), so whatever the refiller wrote before fill (the
 *    objects the words stand for) is visible to the claimer.
 *
 * Progress: claims (load without waiting, take_many, drain) are lock-free
 * (one CAS; a failed CAS means another claim or a refill succeeded).
 * Waiting for a refill is blocking (spin 64 attempts, then sleep on a futex;
 * a waiter leaves its EBR section while asleep). fill, abandon, fail and
 * close are lock-free state changes plus a wake-up of the sleepers. The
 * give-back list (unload_last) takes a short spinlock (rare path).
 *
 * Concurrency: any function may be called by any thread at any time on a
 * live handle. Freeing a handle while other threads are inside calls on it
 * is a race in the caller; it stays memory safe (blocked loads wake with
 * FTK_ECLOSED; the memory is reclaimed after the last call has left). Such
 * a racing call may see the object closed (FTK_ECLOSED, FTK_BATCH_CLOSED in
 * ftk_batch_flags, a drain that works) before later ones see
 * FTK_EBADHANDLE: free closes first.
 *
 * Re-entrancy: the refiller's own loads and take_many (while it holds the
 * role) return FTK_EPERM instead of waiting for itself forever (a binding's
 * source that calls load on its own executor).
 *
 * The refiller's duty: a thread holding the role must end it with fill,
 * abandon or fail; a thread that exits holding it leaves the other callers
 * waiting (timeouts and ftk_batch_wake still work).
 *
 * Timeouts: int64_t timeout_ns < 0 waits forever, 0 does not wait, > 0
 * waits at most that long (CLOCK_MONOTONIC).
 *
 * Statuses common to every call: FTK_EBADHANDLE for a NULL, destroyed or
 * wrong-kind handle; FTK_EINVAL for a NULL out-pointer that is required.
 */
#ifndef FTKIT_BATCH_H
#define FTKIT_BATCH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest batch size (words per batch): 2**27 - 1 (the claim index shares
 * the state word with the epoch). */
#define FTK_BATCH_MAX_SIZE 134217727

/* Positive status: the caller now holds the refill role (no word claimed). */
#define FTK_BATCH_REFILL 1

/* Bits of ftk_batch_flags. */
#define FTK_BATCH_REFILLING 1 /* a refiller holds the role */
#define FTK_BATCH_FAILED 2    /* ftk_batch_fail was called */
#define FTK_BATCH_CLOSED 4    /* ftk_batch_close was called */

/*
 * Create an executor for batches of up to `size` words (1 ..
 * FTK_BATCH_MAX_SIZE). It starts empty: the first load gets
 * FTK_BATCH_REFILL. FTK_EINVAL (size 0 or out NULL), FTK_EOVERFLOW (size
 * too large), FTK_ENOMEM. Thread-safe.
 */
FTK_API int ftk_batch_new(size_t size, ftk_handle_t *out);

/*
 * Destroy an executor: blocked loads wake with FTK_ECLOSED, the handle is
 * invalidated, memory is freed once no call is inside. Unclaimed words are
 * dropped (close and drain first if they stand for resources).
 * FTK_NULL_HANDLE is a no-op returning FTK_OK; a second free returns
 * FTK_EBADHANDLE. Lock-free.
 */
FTK_API int ftk_batch_free(ftk_handle_t h);

/*
 * Claim the next word, waiting up to timeout_ns while another thread
 * refills. FTK_OK and *w; FTK_BATCH_REFILL (the batch is exhausted and the
 * caller now holds the refill role; *w untouched); FTK_EBUSY (timeout_ns ==
 * 0 and a refill is running); FTK_ETIMEDOUT; FTK_EINTR (ftk_batch_wake, or
 * a signal interrupted the sleep: nothing was claimed); FTK_ECLOSED (closed
 * or failed: ftk_batch_flags says which); FTK_EPERM (the caller holds the
 * refill role itself). Words given back by ftk_batch_unload_last are
 * claimed first. Lock-free claim; blocking wait.
 */
FTK_API int ftk_batch_load(ftk_handle_t h, uint64_t *w, int64_t timeout_ns);

/*
 * ftk_batch_load without waiting, for FFI hot paths: the word, or 0 with the
 * status in ftk_last_status() (FTK_BATCH_REFILL, FTK_EBUSY, FTK_ECLOSED,
 * FTK_EPERM, FTK_EBADHANDLE; FTK_OK after a genuine 0 word). Lock-free.
 */
FTK_API uint64_t ftk_batch_load_v(ftk_handle_t h);

/*
 * ftk_batch_load in value style, waiting up to timeout_ns: the word, or 0
 * with the status in ftk_last_status() (FTK_BATCH_REFILL, FTK_EBUSY,
 * FTK_ETIMEDOUT, FTK_EINTR, FTK_ECLOSED, FTK_EPERM, FTK_EBADHANDLE; FTK_OK
 * after a genuine 0 word). A binding interrupted right after the call can
 * tell from ftk_last_status() whether it took the refill role. Blocking.
 */
FTK_API uint64_t ftk_batch_load_timed_v(ftk_handle_t h, int64_t timeout_ns);

/*
 * Claim up to max words of the current batch at once (no waiting): FTK_OK
 * with *got >= 1 words in out[0..*got), in order; otherwise *got = 0 and the
 * status is ftk_batch_load's with timeout 0 (FTK_BATCH_REFILL: the caller
 * holds the role). max == 0 is FTK_EINVAL. Lock-free (words given back by
 * unload_last are taken one per call, under the give-back lock).
 */
FTK_API int ftk_batch_take_many(ftk_handle_t h, uint64_t *out, size_t max, size_t *got);

/*
 * The refiller publishes n words (1 <= n <= size) as the new batch and
 * gives the role up; sleeping loads wake. If first is not NULL the caller
 * also claims w[0] (stored in *first, recorded for unload_last) and the
 * batch starts at w[1]. FTK_OK; FTK_EPERM (the caller does not hold the
 * role); FTK_EINVAL (n out of range, w NULL); FTK_ECLOSED (closed
 * meanwhile: nothing published, the words stay the caller's, the role is
 * gone). Lock-free.
 */
FTK_API int ftk_batch_fill(ftk_handle_t h, const uint64_t *w, size_t n, uint64_t *first);

/* ftk_batch_fill of the words first_word, first_word + 1, ...,
 * first_word + n - 1 (no array crosses the FFI). FTK_EINVAL also if the
 * range overflows. */
FTK_API int ftk_batch_fill_range(ftk_handle_t h, uint64_t first_word, size_t n,
                                 uint64_t *first);

/*
 * The refiller gives the role back without publishing anything (it was
 * interrupted before it produced a word): the next claim takes the role.
 * FTK_OK; FTK_EPERM (the caller does not hold the role); FTK_ECLOSED
 * (closed or failed meanwhile; the role is gone anyway). Lock-free.
 */
FTK_API int ftk_batch_abandon(ftk_handle_t h);

/*
 * The refiller marks the executor failed for good (its producer raised):
 * every later or waiting load returns FTK_ECLOSED and ftk_batch_flags has
 * FTK_BATCH_FAILED. Words given back and not yet claimed can be taken with
 * ftk_batch_drain. FTK_OK; FTK_EPERM (not the refiller); FTK_ECLOSED
 * (closed meanwhile). Lock-free.
 */
FTK_API int ftk_batch_fail(ftk_handle_t h);

/*
 * Close: every later or waiting load returns FTK_ECLOSED, a refill in
 * progress cannot publish (its fill returns FTK_ECLOSED). Unclaimed words
 * stay until ftk_batch_drain takes them. Idempotent. Lock-free.
 */
FTK_API int ftk_batch_close(ftk_handle_t h);

/*
 * After close or failure: claim up to max of the words nobody claimed (the
 * rest of the current batch, then given-back words) into out; *got = 0 when
 * none are left. FTK_OK; FTK_EBUSY (neither closed nor failed). Several
 * drains may run at once; each word goes to one of them. Lock-free.
 */
FTK_API int ftk_batch_drain(ftk_handle_t h, uint64_t *out, size_t max, size_t *got);

/*
 * Give back the word the calling thread's last load, take_many (its first
 * word only when it took one) or fill claimed on h (a per-thread record):
 * for a binding whose caller was interrupted between the claim's return and
 * the delivery of the word. The word is handed out again by the next claim,
 * before the rest of the batch. Idempotent: a second call gives nothing
 * back, nor does one after this thread's next claim (load, take_many, fill,
 * fill_range) or its abandon, fail or give_back. The word is stored
 * in *w unless w is NULL (FTK_OK, FTK_ECLOSED, FTK_ENOMEM). FTK_OK (given
 * back); FTK_ENOTFOUND (nothing to give back); FTK_ECLOSED (closed or
 * failed: the word stays the caller's to release; the record is cleared);
 * FTK_ENOMEM (the word stays the caller's; the record is kept). Blocking
 * (a short spinlock).
 */
FTK_API int ftk_batch_unload_last(ftk_handle_t h, uint64_t *w);

/*
 * Give back n words the caller claimed and will not deliver (a binding's
 * per-thread view that prefetched a run of words with ftk_batch_take_many
 * and is dropped before handing them all out): they join the give-back list
 * of ftk_batch_unload_last, in the order given, after the words already
 * there, and are claimed before the rest of the batch (one per claim).
 * The caller must not deliver them afterwards; whatever they stand for
 * (the binding's slots) must be in place before the call (the claimer's
 * acquire of the list pairs with this call's release). n == 0 is FTK_OK and
 * does nothing. Also ends the caller's unload_last record (like any other
 * batch call). FTK_OK; FTK_EINVAL (w NULL with n > 0); FTK_ECLOSED (closed
 * or failed: nothing given back, the words stay the caller's to release);
 * FTK_ENOMEM (nothing given back). May run concurrently with every other
 * call, including a refill (claims take given-back words while a refill
 * runs). Blocking (a short spinlock; the list grows with realloc).
 */
FTK_API int ftk_batch_give_back(ftk_handle_t h, const uint64_t *w, size_t n);

/*
 * Cancel every load blocked on this executor now: each returns FTK_EINTR.
 * Loads that start later are not affected. Lock-free.
 */
FTK_API int ftk_batch_wake(ftk_handle_t h);

/* 1 if the calling thread holds the refill role, else 0; FTK_EBADHANDLE.
 * For a binding interrupted inside its refill: whether its fill already
 * happened. Wait-free. */
FTK_API int ftk_batch_is_refiller(ftk_handle_t h);

/* The size given to ftk_batch_new. Wait-free. */
FTK_API int ftk_batch_size(ftk_handle_t h, size_t *out);

/* The FTK_BATCH_* flags now (>= 0), or FTK_EBADHANDLE. Wait-free. */
FTK_API int ftk_batch_flags(ftk_handle_t h);

/* Unclaimed words: the current batch's rest plus given-back ones (after
 * close or failure: what ftk_batch_drain would still take). Approximate
 * while claims run (two loads). Wait-free. */
FTK_API int ftk_batch_available(ftk_handle_t h, size_t *out);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_BATCH_H */
