/*
 * ftkit/counter.h - striped counter for hot, contended increments.
 *
 * A counter is a signed 64-bit total kept as a base word plus one cell per
 * thread slot. ftk_counter_add (and its value-style twin) touches only the
 * calling thread's cell, a cache line no other adder writes, so adds from
 * different threads do not contend. Reads sum the base and every cell.
 *
 * Thread slots. The first add a thread makes (to any counter) gives the
 * thread a small slot number, kept in its libftkit thread record and given
 * back when the thread exits; the next thread to start counting may get
 * the same number. A cell belongs to the slot, not to the thread: whatever
 * an exited thread added stays in its cell (it is never lost, and never
 * counted twice), and the thread that takes the slot next keeps adding to
 * the same cell. A thread that cannot get a slot or a cell (more than
 * FTK_COUNTER_MAX_SLOTS threads counting at once, or out of memory) adds to
 * the shared base word instead: still exact, only contended.
 *
 * Guarantees (every one is tested in tests/c/test_counter.c and
 * tests/python/test_counter.py):
 *  - Exactness: a read returns the exact total of the initial value, every
 *    add, set and exchange that happens-before it (for example, adds made
 *    by threads that were joined, or before a release the reader acquired),
 *    when no add is in flight.
 *  - Concurrent reads: while adds are in flight, a read returns base plus
 *    cells read one at a time: for every cell it counts either all or none
 *    of each add, so the result lies between the total before the read
 *    began (counting the adds completed by then) and the total after it
 *    returns (counting the adds begun by then), when the adds in flight
 *    all have the same sign. For an increment-only counter, successive
 *    reads by one thread never decrease (each cell only grows and a thread
 *    never reads a location backwards), unless a set/exchange intervenes.
 *  - A read never mixes two sides of a set/exchange: it retries if one ran
 *    while it summed (a sequence count), so it returns a total from before
 *    or after each set/exchange, never a torn one.
 *  - set/exchange: ftk_counter_exchange(h, v, &old) moves every cell's
 *    contents out (one atomic exchange per cell) and replaces the base by
 *    v. Sets and exchanges on one counter are serialised (a lock) and
 *    linearizable with respect to each other and to reads. An add running
 *    concurrently lands either before (it is counted in `old`) or after (it
 *    is counted in the new value): never both, never neither. So for any
 *    history, the sum of all `old` values returned + the final total ==
 *    the initial value + every add + every value stored.
 *  - Adds are not ordering operations (relaxed): an add does not make the
 *    adder's earlier writes visible to whoever reads the counter. Use a
 *    lock, a join or a release/acquire pair for that.
 *
 * Arithmetic wraps modulo 2**64 (two's complement), like C unsigned math
 * and like ftk_int64_*; a total read back is the wrapped sum.
 *
 * Progress: add is wait-free (one atomic add on the caller's own line; the
 * first add of a thread, and the first add of a slot to a counter, take a
 * process-wide mutex / allocate once). get never waits for adds (one
 * relaxed load per allocated cell), but waits (spinning, then yielding)
 * while a set/exchange runs on the counter. set/exchange/reset take the
 * counter's sequence word as a lock (blocking) and cost one atomic exchange
 * per allocated cell.
 *
 * Every function may be called concurrently with every other on a live
 * handle. Bad input (NULL handle, destroyed handle, wrong kind, NULL
 * out-pointer where one is required) returns FTK_EBADHANDLE/FTK_EINVAL and
 * never crashes. Freeing a counter while another thread is inside a call
 * on it is a caller bug but memory safe (the counter is reclaimed through
 * EBR, like the containers); calls that start after ftk_counter_free
 * returned get FTK_EBADHANDLE.
 */
#ifndef FTKIT_COUNTER_H
#define FTKIT_COUNTER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads that can hold a cell at once; more add to the shared base. */
#define FTK_COUNTER_MAX_SLOTS 1024

/* Create a counter holding `initial`. FTK_EINVAL if out is NULL,
 * FTK_ENOMEM. Blocking (allocates). */
FTK_API int ftk_counter_new(int64_t initial, ftk_handle_t *out);
/* Free a counter; FTK_NULL_HANDLE is a no-op returning FTK_OK; a destroyed
 * handle gives FTK_EBADHANDLE. The memory goes once no call is inside. */
FTK_API int ftk_counter_free(ftk_handle_t h);
/* Add n (wrapping) to the calling thread's cell. Wait-free after the
 * thread's first add. Relaxed: orders nothing else. */
FTK_API int ftk_counter_add(ftk_handle_t h, int64_t n);
/* The total (see "Guarantees" above). Waits only while a set/exchange
 * runs. */
FTK_API int ftk_counter_get(ftk_handle_t h, int64_t *out);
/* Replace the total by v: exchange without the old value. */
FTK_API int ftk_counter_set(ftk_handle_t h, int64_t v);
/* Replace the total by v; *old (may be NULL) receives the total it
 * replaced. Serialised with other sets/exchanges of the counter. */
FTK_API int ftk_counter_exchange(ftk_handle_t h, int64_t v, int64_t *old);
/* ftk_counter_exchange(h, 0, old): take the total out ("read and reset"). */
FTK_API int ftk_counter_reset(ftk_handle_t h, int64_t *old);
/* How many cells the counter has allocated (introspection, tests). */
FTK_API int ftk_counter_cells(ftk_handle_t h, size_t *out);

/* Value style, for FFI hot paths: no out-parameter. On a bad handle they do
 * nothing, return 0 and record FTK_EBADHANDLE for ftk_last_status(). */
/* ftk_counter_add returning nothing: one call touching only the caller's
 * cell (returning the total would need a sum). */
FTK_API void ftk_counter_add_v(ftk_handle_t h, int64_t n);
FTK_API int64_t ftk_counter_get_v(ftk_handle_t h);
FTK_API int64_t ftk_counter_exchange_v(ftk_handle_t h, int64_t v);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_COUNTER_H */
