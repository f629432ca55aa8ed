/*
 * ftkit/queue.h - multi-producer multi-consumer FIFO queue of 64-bit words.
 *
 * The queue stores refcount-neutral words (see slots.h); it never interprets
 * them. Unbounded (capacity 0) or bounded with an exact capacity.
 *
 * Concurrency: any thread may call any function at any time on a live handle
 * (MPMC everywhere: push, pop, the _many forms, drain, close, task_done,
 * join, wake, and the queries may all run at once). Freeing a handle while
 * other threads are inside calls on it is a race in the caller; it is memory
 * safe: those calls return (blocked waiters wake with FTK_ECLOSED), and the
 * queue's memory is reclaimed after the last of them has left.
 *
 * Progress. The non-waiting paths (try_push, try_pop, push/pop with a zero
 * timeout or when no wait is needed, the _many forms, drain, close and the
 * queries) are lock-free: no locks, no syscalls, and a stalled thread never
 * blocks the others. A consumer that claims a slot whose producer is stalled
 * between claiming and filling it waits briefly, then marks the slot skipped
 * and moves on; the producer notices and retries at the tail (the patience,
 * ~1000 spins with a few yields, can be set per queue at creation with
 * ftk_queue_new_ex; tests use 0 to exercise the skipping path). Blocking calls
 * spin briefly, then sleep in the OS (futex on Linux) until woken; a producer
 * or consumer makes a wake-up syscall only when a thread is asleep.
 *
 * Ordering. Per producer FIFO: words pushed by one thread (or within one
 * push_many) are popped in that order, and every consumer sees each
 * producer's words in that order (a consumer's pops take increasing queue
 * positions). Words from different producers that push concurrently may come
 * out in either order. Each word pushed is popped or drained exactly once.
 * A successful push happens-before the pop or drain that returns its word
 * (release/acquire); a task_done happens-before a join it lets return.
 *
 * Timeouts: `int64_t timeout_ns` < 0 waits forever, 0 does not wait, > 0
 * waits at most that long, measured on CLOCK_MONOTONIC (a timed-out call has
 * waited at least timeout_ns).
 *
 * Statuses common to every call: FTK_EBADHANDLE for a NULL, destroyed or
 * wrong-kind handle; FTK_EINVAL for a NULL out-pointer. FTK_EINTR is
 * returned by a blocking call that ftk_queue_wake cancelled, or whose sleep
 * a signal handler interrupted (Linux): then the call did nothing (it does
 * not try again after the signal), so a binding whose handler raises
 * leaves no half-done push or pop behind.
 *
 * Task accounting (queue.Queue's unfinished_tasks/task_done/join): every
 * successful push adds one unfinished task; task_done and drain remove them.
 * The count is derived from queue positions, so it costs pushes nothing.
 */
#ifndef FTKIT_QUEUE_H
#define FTKIT_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest capacity ftk_queue_new accepts. */
#define FTK_QUEUE_CAPACITY_MAX 0x4000000000000000ULL /* 2**62 */
/* Largest patience ftk_queue_new_ex accepts (spins). */
#define FTK_QUEUE_PATIENCE_MAX 0x100000

/* Values of ftk_queue_is_closed's *out. */
enum {
    FTK_QUEUE_OPEN = 0,
    FTK_QUEUE_CLOSED = 1,          /* graceful: pops drain what is left */
    FTK_QUEUE_CLOSED_IMMEDIATE = 2 /* pops fail at once; drain still works */
};

/*
 * Create a queue. capacity 0 = unbounded; > 0 = at most `capacity` words
 * are ever inside (exact: a push fails with FTK_EFULL only when `capacity`
 * pushes have claimed room that their pops have not yet released).
 * Memory grows and shrinks with the contents (blocks of 128 words), not with
 * the capacity. FTK_EOVERFLOW if capacity > FTK_QUEUE_CAPACITY_MAX,
 * FTK_ENOMEM. Thread-safe.
 */
FTK_API int ftk_queue_new(size_t capacity, ftk_handle_t *out);

/*
 * ftk_queue_new with an explicit patience: how many times a consumer that
 * claimed a slot whose producer has not filled it yet spins (yielding the
 * CPU every 64th spin) before it marks the slot skipped and moves on (the
 * producer then retries at the tail). patience < 0 = the default (1024);
 * 0 skips at once (the queue stays correct: every word is still popped
 * exactly once, in per-producer order; it only retries more). Fixed for the
 * queue's life. FTK_EINVAL if patience > FTK_QUEUE_PATIENCE_MAX, otherwise
 * as ftk_queue_new. Thread-safe.
 */
FTK_API int ftk_queue_new_ex(size_t capacity, int64_t patience, ftk_handle_t *out);

/*
 * Destroy a queue: closes it immediately (waking every waiter, which then
 * returns FTK_ECLOSED), invalidates the handle, and frees the memory once no
 * call is inside. Words still inside are dropped (drain them first if they
 * stand for resources). FTK_NULL_HANDLE is a no-op returning FTK_OK; a
 * second free returns FTK_EBADHANDLE. Thread-safe; one of several racing
 * frees wins.
 */
FTK_API int ftk_queue_free(ftk_handle_t h);

/*
 * Append one word without waiting. FTK_OK; FTK_EFULL (bounded, full);
 * FTK_ECLOSED (closed, the word was not pushed); FTK_ENOMEM (a new block
 * could not be allocated; nothing was pushed). Lock-free; MPMC.
 */
FTK_API int ftk_queue_try_push(ftk_handle_t h, uint64_t w);

/*
 * Append one word, waiting up to timeout_ns for room (only a bounded, full
 * queue waits). FTK_OK; FTK_EFULL (timeout_ns == 0 and full);
 * FTK_ETIMEDOUT; FTK_ECLOSED (closed before or while waiting: the word was
 * not pushed); FTK_EINTR; FTK_ENOMEM. Blocking; MPMC.
 */
FTK_API int ftk_queue_push(ftk_handle_t h, uint64_t w, int64_t timeout_ns);

/*
 * Append n words in order (they come out in this order, possibly interleaved
 * with other producers' words), waiting up to timeout_ns in total for room.
 * Claims ranges of positions with one atomic step each and wakes consumers
 * once, so it costs far less per word than n pushes. *pushed receives how
 * many words (a prefix of w) went in, also on failure. FTK_OK when all n
 * went in; otherwise the status that stopped it: FTK_EFULL (timeout_ns == 0),
 * FTK_ETIMEDOUT, FTK_ECLOSED, FTK_EINTR, FTK_ENOMEM. n == 0 is FTK_OK. w may
 * be NULL only when n == 0. Blocking only when bounded and full; MPMC.
 */
FTK_API int ftk_queue_push_many(ftk_handle_t h, const uint64_t *w, size_t n,
                                size_t *pushed, int64_t timeout_ns);

/*
 * Take the oldest word without waiting. FTK_OK and *w; FTK_EEMPTY;
 * FTK_ECLOSED (closed and empty, or closed immediately). Lock-free; MPMC.
 */
FTK_API int ftk_queue_try_pop(ftk_handle_t h, uint64_t *w);

/*
 * Take the oldest word, waiting up to timeout_ns for one. FTK_OK and *w;
 * FTK_EEMPTY (timeout_ns == 0 and empty); FTK_ETIMEDOUT; FTK_ECLOSED (closed
 * and empty, or closed immediately; a waiting pop wakes); FTK_EINTR.
 * Blocking; MPMC.
 */
FTK_API int ftk_queue_pop(ftk_handle_t h, uint64_t *w, int64_t timeout_ns);

/*
 * Wait up to timeout_ns for at least one word, then take up to max words
 * that are available without waiting, oldest first, into out[0..*popped).
 * Claims ranges of positions with one atomic step each. FTK_OK with
 * 1 <= *popped <= max; otherwise *popped = 0 and FTK_EEMPTY (timeout_ns ==
 * 0), FTK_ETIMEDOUT, FTK_ECLOSED or FTK_EINTR as for ftk_queue_pop.
 * max == 0 returns FTK_OK with *popped = 0 at once. out may be NULL only
 * when max == 0. Blocking; MPMC.
 */
FTK_API int ftk_queue_pop_many(ftk_handle_t h, uint64_t *out, size_t max,
                               size_t *popped, int64_t timeout_ns);

/*
 * Close the queue. Afterwards every push returns FTK_ECLOSED (pushes that
 * completed before are kept). Graceful (immediate == 0): pops take what is
 * left, then return FTK_ECLOSED. Immediate: pops return FTK_ECLOSED at once;
 * the words left stay inside for ftk_queue_drain. Wakes every blocked pop and
 * push (they return FTK_ECLOSED unless they can complete) and every join
 * (which re-checks its count: see ftk_queue_join). Idempotent; a graceful
 * close may be followed by an immediate one (not the reverse: immediate
 * stays). Lock-free; MPMC.
 */
FTK_API int ftk_queue_close(ftk_handle_t h, int immediate);

/*
 * Take up to max remaining words without waiting, oldest first, also after an
 * immediate close, so that the caller can release what they stand for. Each
 * drained word also counts as a finished task (queue.Queue's
 * shutdown(immediate=True) semantics: unfinished tasks drop by the number
 * drained, never below 0). FTK_OK with 0 <= *n <= max (0: nothing left).
 * out may be NULL only when max == 0. Lock-free; MPMC.
 */
FTK_API int ftk_queue_drain(ftk_handle_t h, uint64_t *out, size_t max, size_t *n);

/*
 * Number of words inside, counting pushes in progress; exact when no call is
 * in progress, between the before- and after-values otherwise. Never more
 * than the capacity of a bounded queue. Wait-free; MPMC.
 */
FTK_API int ftk_queue_size_approx(ftk_handle_t h, size_t *out);

/* The capacity given to ftk_queue_new (0 = unbounded). Wait-free. */
FTK_API int ftk_queue_capacity(ftk_handle_t h, size_t *out);

/* FTK_QUEUE_OPEN, FTK_QUEUE_CLOSED or FTK_QUEUE_CLOSED_IMMEDIATE. Wait-free. */
FTK_API int ftk_queue_is_closed(ftk_handle_t h, int *out);

/*
 * Mark one task finished. FTK_EINVAL, changing nothing, if no task is
 * unfinished (queue.Queue raises ValueError there). When the count reaches
 * 0, waiting joins return. A push still in progress already counts, so an
 * excess task_done racing with it may be accepted. Lock-free; MPMC.
 */
FTK_API int ftk_queue_task_done(ftk_handle_t h);

/* Number of unfinished tasks (pushes minus task_done minus drained words).
 * Exact when no call is in progress. Wait-free. */
FTK_API int ftk_queue_unfinished(ftk_handle_t h, uint64_t *out);

/*
 * Wait up to timeout_ns until the unfinished-task count is 0. FTK_OK;
 * FTK_ETIMEDOUT (also with timeout_ns == 0 when tasks are unfinished);
 * FTK_EINTR; FTK_ECLOSED if the queue is freed meanwhile. Closing the queue
 * does not end a join by itself (as in queue.Queue): after an immediate close
 * and a drain, join returns once the consumers have called task_done for the
 * words they took. Blocking; any number of joiners.
 */
FTK_API int ftk_queue_join(ftk_handle_t h, int64_t timeout_ns);

/*
 * Cancel every blocking call (pop, push, _many, join) on this queue that is
 * in progress when wake is called: each returns FTK_EINTR (a pop that finds
 * a word returns it instead). Later calls are not affected. Lets a binding
 * interrupt waits (signals, shutdown of its own). Lock-free; MPMC.
 */
FTK_API int ftk_queue_wake(ftk_handle_t h);

/*
 * Give words taken by a pop back to the front of the queue: the next pops
 * return w[0], w[1], ... before anything else (also before words pushed
 * earlier that are still inside). For a binding whose caller was
 * interrupted after a pop took words out of C but before it could hand them
 * over (ftk_last_result recovers them): the pop then had no effect. The
 * words count as inside for size, drain and close (a graceful close lets
 * pops take them; ftk_queue_drain takes them after an immediate one); task
 * accounting is unchanged (they were never finished). They may take a
 * bounded queue past its capacity until popped. FTK_OK; FTK_ECLOSED if the
 * queue was closed immediately (nothing was given back: the caller owns the
 * words); FTK_ENOMEM (nothing given back). n == 0 is FTK_OK; w may be NULL
 * only then. Order: a pop that returns a given-back word happens-after the
 * unpop. Lock-free (one CAS to publish; pops take given-back words with a
 * CAS each); MPMC, may run concurrently with every other queue call.
 */
FTK_API int ftk_queue_unpop(ftk_handle_t h, const uint64_t *w, size_t n);

/*
 * Give back what the calling thread's last value-style pop took from h
 * (ftk_queue_try_pop_v / ftk_queue_pop_v: its word; ftk_queue_pop_runs_v:
 * the words of the runs it stored in `runs`, which must be that same
 * buffer, unchanged), as ftk_queue_unpop would, in one call. For a binding
 * recovering from an interrupt: one call has no window in which a second
 * interrupt could strike between reading the record and giving the words
 * back. The record is the thread's own (pushes and other calls between
 * the pop and this call do not change it), and a genuine 0 word is given
 * back like any other. FTK_OK, also when there is nothing to give back (the
 * last pop took nothing, was on another queue, or was already given back:
 * the record is cleared on success); FTK_ECLOSED or FTK_ENOMEM as for ftk_queue_unpop
 * (nothing given back; the record stays, so ftk_last_result still says what
 * the caller owns); FTK_EINVAL if the record is of runs and `runs` is NULL
 * or does not hold them. Thread-local record; lock-free like unpop.
 */
FTK_API int ftk_queue_unpop_last(ftk_handle_t h, const uint64_t *runs);

/*
 * Value-style pops for FFI hot paths (an out-parameter costs a binding more
 * than the call): return the word, or 0 with the reason in ftk_last_status()
 * (FTK_EEMPTY, FTK_ETIMEDOUT, FTK_ECLOSED, FTK_EINTR, FTK_EBADHANDLE).
 * ftk_last_status() is FTK_OK after a genuine 0 word. Same guarantees as
 * ftk_queue_try_pop / ftk_queue_pop. Both also record the word (0 if none)
 * for ftk_last_result().
 */
FTK_API uint64_t ftk_queue_try_pop_v(ftk_handle_t h);
FTK_API uint64_t ftk_queue_pop_v(ftk_handle_t h, int64_t timeout_ns);

/*
 * Run-length batch calls for bindings whose words are indices into an array
 * they own: no array of words crosses the FFI, and the binding moves objects
 * with slice operations instead of per-item loops.
 *
 * ftk_queue_push_range_v pushes the words first, first+1, ..., first+n-1 in
 * that order (as ftk_queue_push_many would) and returns how many went in;
 * fewer than n means ftk_last_status() says why (FTK_ECLOSED, FTK_EFULL,
 * FTK_ETIMEDOUT, ...).
 *
 * ftk_queue_pop_runs_v pops like ftk_queue_pop_many (at most
 * min(max_items, FTK_QUEUE_RUNS_MAX) words, waiting up to timeout_ns for the
 * first) and stores them run-length encoded: pairs (first word, count) of
 * consecutive words, in queue order, in runs[0..2k). Returns k, the number of
 * pairs; runs must hold 2 * min(max_items, FTK_QUEUE_RUNS_MAX) words. 0 means
 * nothing was popped and ftk_last_status() says why (FTK_EEMPTY,
 * FTK_ETIMEDOUT, FTK_ECLOSED, FTK_EINTR, FTK_EINVAL). k is also recorded
 * for ftk_last_result() (0 when nothing was popped).
 */
#define FTK_QUEUE_RUNS_MAX 1024
FTK_API size_t ftk_queue_push_range_v(ftk_handle_t h, uint64_t first, size_t n,
                                      int64_t timeout_ns);
FTK_API size_t ftk_queue_pop_runs_v(ftk_handle_t h, uint64_t *runs, size_t max_items,
                                    int64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_QUEUE_H */
