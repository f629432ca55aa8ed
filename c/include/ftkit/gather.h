/*
 * ftkit/gather.h - ordered fan-in: producers insert (key, word) pairs in any
 * order from any thread; consumers take the word of one key at a time,
 * waiting until it is present.
 *
 * The gatherer stores refcount-neutral, non-zero 64-bit words (see slots.h)
 * under int64_t keys; it never interprets them. Any int64_t is a valid key;
 * a key is present at most once (a second insert of a present key returns
 * FTK_EBUSY and changes nothing).
 *
 * Concurrency: any thread may call any function at any time on a live
 * handle. Inserts of different keys do not share a lock unless the keys fall
 * in the same stripe (key modulo the stripe count, a power of two chosen
 * from `scaling`); there is no lock or counter shared by every insert. Each
 * insert, take and get is linearizable (takes effect at one instant, under
 * its stripe's lock). An insert happens-before the take or get that returns
 * its word (release/acquire through the stripe lock).
 *
 * Wake-ups: a consumer about to sleep publishes the key it waits for; an
 * insert, after releasing its stripe lock, wakes sleepers only when a
 * published key equals its own key (or more consumers wait than there are
 * publication slots: then every insert wakes them). So a single consumer is
 * woken by exactly the insert it waits for, and an insert that nobody
 * waits for costs one load of a line only consumers write (a few more while
 * a consumer waits for another key), and no syscall.
 *
 * Failure: ftk_gather_fail marks the gatherer failed (a binding calls it
 * when an insert could not be completed, so that the consumers do not wait
 * for a key that will never come): every take and get from then on returns
 * FTK_ECLOSED and ftk_gather_state reports FTK_GATHER_FAILED. Inserts
 * still work. Closing (ftk_gather_close) is the same for consumers and also
 * refuses inserts.
 *
 * Freeing a handle while other threads are inside calls on it is a race in
 * the caller; it is memory safe: those calls return (waiting consumers wake
 * with FTK_ECLOSED) and the memory is reclaimed after the last has left.
 *
 * Timeouts: `int64_t timeout_ns` < 0 waits forever, 0 does not wait, > 0
 * waits at most that long (CLOCK_MONOTONIC).
 *
 * Statuses common to every call: FTK_EBADHANDLE for a NULL, destroyed or
 * wrong-kind handle; FTK_EINVAL for a NULL out-pointer that is required.
 */
#ifndef FTKIT_GATHER_H
#define FTKIT_GATHER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bits of ftk_gather_state. */
#define FTK_GATHER_FAILED 1 /* ftk_gather_fail was called */
#define FTK_GATHER_CLOSED 2 /* ftk_gather_close was called */

/*
 * Create a gatherer. `scaling` is a sizing hint: the number of threads
 * expected to insert at the same time (0: a default of 16); the stripe
 * count is the power of two at or above 4 * scaling, between 8 and 1024.
 * Memory: the stripes (128 bytes each) plus 16-byte table entries at a load
 * between 1/8 and 1/2 (32 to 128 bytes per word present; a stripe that has
 * held words keeps at least 8 entries). FTK_ENOMEM. Thread-safe.
 */
FTK_API int ftk_gather_new(size_t scaling, ftk_handle_t *out);

/*
 * Destroy a gatherer: closes it (waking every waiting take/get, which
 * return FTK_ECLOSED), invalidates the handle, and frees the memory once no
 * call is inside. Words still inside are dropped: drain first if they stand
 * for resources. FTK_NULL_HANDLE is a no-op returning FTK_OK; a second free
 * returns FTK_EBADHANDLE. Thread-safe; one of several racing frees wins.
 */
FTK_API int ftk_gather_free(ftk_handle_t h);

/*
 * Close: afterwards inserts, takes and gets return FTK_ECLOSED and change
 * nothing, and waiting takes/gets wake with FTK_ECLOSED. ftk_gather_drain,
 * ftk_gather_len, ftk_gather_state, close and free keep working, so a
 * binding can take the remaining words out knowing no insert slips in
 * after them. Idempotent. Blocking (takes each stripe's lock once).
 */
FTK_API int ftk_gather_close(ftk_handle_t h);

/*
 * Mark the gatherer failed: every take and get from now on (waiting ones
 * included: they wake) returns FTK_ECLOSED; inserts still work. Idempotent.
 * Lock-free (one atomic RMW and a wake-up of the sleepers).
 */
FTK_API int ftk_gather_fail(ftk_handle_t h);

/*
 * Cancel every take/get waiting when wake is called: each returns FTK_EINTR
 * (one that finds its word returns it instead). Later calls are not
 * affected. Lock-free.
 */
FTK_API int ftk_gather_wake(ftk_handle_t h);

/* FTK_GATHER_FAILED | FTK_GATHER_CLOSED bits (>= 0), or FTK_EBADHANDLE.
 * Works after close. A free racing this call may show as
 * FTK_GATHER_CLOSED before later calls see FTK_EBADHANDLE (free closes
 * first). Wait-free. */
FTK_API int ftk_gather_state(ftk_handle_t h);

/*
 * Insert word w (non-zero) under key. FTK_OK; FTK_EBUSY (the key is
 * present: nothing changed); FTK_ENOMEM (nothing changed); FTK_ECLOSED
 * (closed: nothing changed); FTK_EINVAL (w == 0). Also records in
 * ftk_last_result() whether the word went in (1) or not (0), for bindings
 * whose caller can be interrupted right after the call returns. Blocking
 * (the key's stripe lock, held for an O(1) expected probe; a resize of the
 * stripe's table is O(words in the stripe)); wakes the consumer waiting for
 * this key, if one is asleep.
 */
FTK_API int ftk_gather_insert(ftk_handle_t h, int64_t key, uint64_t w);

/*
 * Take (remove) the word of `key`, waiting up to timeout_ns for it to be
 * inserted. FTK_OK and *w; FTK_EEMPTY (timeout_ns == 0 and absent);
 * FTK_ETIMEDOUT; FTK_ECLOSED (closed, failed or freed: also wakes a
 * waiting take); FTK_EINTR (ftk_gather_wake, or a signal interrupted the
 * sleep: nothing was taken). Blocking.
 */
FTK_API int ftk_gather_take(ftk_handle_t h, int64_t key, int64_t timeout_ns, uint64_t *w);

/* ftk_gather_take as a value for FFI hot paths: the word, or 0 with the
 * reason in ftk_last_status(). */
FTK_API uint64_t ftk_gather_take_v(ftk_handle_t h, int64_t key, int64_t timeout_ns);

/*
 * The word of `key`, left in place, waiting up to timeout_ns for it: the
 * word, or 0 with the reason in ftk_last_status() (same statuses as
 * ftk_gather_take). The word stays owned by the gatherer. Blocking.
 */
FTK_API uint64_t ftk_gather_get_v(ftk_handle_t h, int64_t key, int64_t timeout_ns);

/*
 * Take (remove) the words of the consecutive keys first, first+1, ... that
 * are present, at most max of them (and never past INT64_MAX), into
 * out[0..n), waiting up to timeout_ns for the first key only. Returns n >= 1,
 * or a negative status as ftk_gather_take (FTK_EEMPTY, FTK_ETIMEDOUT,
 * FTK_ECLOSED, FTK_EINTR; FTK_EINVAL for out NULL or max 0). Also stores n
 * (0 on failure) in *got unless got is NULL: a binding interrupted right
 * after the call, before it saw the return value, reads there which words
 * it holds (and can put them back with ftk_gather_insert_run). One FFI call
 * per run of ready keys. Each key is taken atomically; the run as a whole is
 * not (a key inserted while the run is being read may or may not end it).
 * Blocking.
 */
FTK_API int64_t ftk_gather_take_run(ftk_handle_t h, int64_t first, size_t max, uint64_t *out,
                                    int64_t timeout_ns, size_t *got);

/* ftk_gather_take_run leaving the words in place (they stay the gatherer's). */
FTK_API int64_t ftk_gather_get_run(ftk_handle_t h, int64_t first, size_t max, uint64_t *out,
                                   int64_t timeout_ns, size_t *got);

/*
 * Insert w[j] under key first + j for j in 0..n-1, each as ftk_gather_insert
 * (independently: a key that is present is skipped). FTK_OK when all went
 * in, else the first failing status (FTK_EBUSY, FTK_ECLOSED, FTK_ENOMEM);
 * *done (unless NULL) counts the words that went in. FTK_EINVAL (nothing
 * inserted): w NULL with n > 0, a zero word, or first + n - 1 past
 * INT64_MAX. Bindings use it to put back the words of an interrupted
 * take_run. Blocking (the stripe locks).
 */
FTK_API int ftk_gather_insert_run(ftk_handle_t h, int64_t first, const uint64_t *w, size_t n,
                                  size_t *done);

/* Number of words inside, a sum over the stripes read without their locks
 * (exact when nothing changes meanwhile; the _approx rule). Works after
 * close. Lock-free. */
FTK_API int64_t ftk_gather_len(ftk_handle_t h);

/*
 * Remove every word, one stripe at a time (each stripe atomically), into
 * out[0..*got). If the words do not fit in `cap`, nothing is removed from
 * the stripe that did not fit and FTK_EOVERFLOW is returned with *got the
 * number removed so far (call again with room). Works after close (the
 * binding's use: close, then drain until FTK_OK). FTK_OK; FTK_EOVERFLOW;
 * FTK_EINVAL (got NULL, or out NULL with cap > 0). Blocking (the locks).
 */
FTK_API int ftk_gather_drain(ftk_handle_t h, uint64_t *out, size_t cap, size_t *got);

#ifdef __cplusplus
}
#endif

#endif /* FTKIT_GATHER_H */
