/*
 * bench_common.h - timing, threads, results and a node pool for the C
 * benchmark suite of libftkit (bench/c). Not part of the library.
 *
 * Model: a workload is a set of implementations of the same operation. For
 * each implementation and thread count the harness creates the shared state
 * once (setup), then runs a warm-up and `runs` timed runs. A run starts the
 * threads, releases them together through a barrier, lets them loop for a
 * fixed wall time, raises a stop flag and joins them. Each thread returns
 * how many operations it completed; throughput = sum / (last thread's end -
 * release). The best run (highest throughput) is reported.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BENCH_MAX_THREADS 2
#define BENCH_LINE 128 /* padding against false sharing (adjacent-line prefetch) */
/* Operations between two looks at the stop flag. */
#define BENCH_CHUNK 256

typedef atomic_int bench_stop_t;

static inline bool bench_should_stop(const bench_stop_t *s) {
    return atomic_load_explicit(s, memory_order_relaxed) != 0;
}

static inline uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* murmur3 fmix64: the hash every peer table is given for a key. */
static inline uint64_t bench_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h;
}

/* xorshift64*: the per-thread key/operation stream of the map workloads. */
typedef struct { uint64_t s; } bench_rng;
static inline void bench_rng_seed(bench_rng *r, uint64_t seed) {
    r->s = bench_mix64(seed + 0x9e3779b97f4a7c15ULL) | 1;
}
static inline uint64_t bench_rng_next(bench_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Defeats dead-code elimination of a result that is otherwise unused: the
 * value must be computed into a register; costs no instruction. */
static inline void bench_consume(uint64_t v) { __asm__ __volatile__("" : : "r"(v)); }

/* Abort with a message (a benchmark that silently measures a failing call
 * measures nothing). */
_Noreturn void bench_fail(const char *what, int status);
#define BENCH_CHECK(expr)                                                                         \
    do {                                                                                          \
        int st_ = (expr);                                                                         \
        if (st_ != 0) bench_fail(#expr, st_);                                                     \
    } while (0)

/* ---- implementations and workloads ---------------------------------------- */

typedef struct bench_impl {
    const char *name;   /* row label */
    const char *family; /* "ftkit", "ck", "urcu", "baseline", "probe" */
    const char *how;    /* one line: what is called per operation */
    bool primary;       /* the ftkit row the ratios refer to */
    void *(*setup)(int nthreads);
    void (*teardown)(void *st);
    void (*reset)(void *st); /* optional: between runs, single-threaded */
    void (*thread_init)(void *st, int tid, int nthreads); /* optional, untimed */
    void (*thread_fini)(void *st, int tid, int nthreads); /* optional, untimed */
    uint64_t (*run)(void *st, int tid, int nthreads, const bench_stop_t *stop);
    /* optional: after all runs; total = operations counted over all runs
     * (warm-up included). Returns 0 if the state is consistent. */
    int (*verify)(void *st, uint64_t total);
} bench_impl;

typedef struct bench_workload {
    const char *name; /* "atomic.counter" */
    const char *op;   /* what one operation is */
    int threads[2];   /* thread counts measured (0 = unused slot) */
    const bench_impl *impls;
    size_t nimpls;
} bench_workload;

const bench_workload *bench_atomic_workloads(size_t *n);
const bench_workload *bench_queue_workloads(size_t *n);
const bench_workload *bench_map_workloads(size_t *n);
const bench_workload *bench_sync_workloads(size_t *n);

/* liburcu: register the main thread once (setup, reset and teardown take
 * read-side locks there). Defined in bench_queue.c. */
void bench_urcu_register_main(void);

/* ---- node pool ---------------------------------------------------------- */
/*
 * Type-stable allocator for the peers' caller-allocated queue nodes
 * (ck_fifo_mpmc entries, cds_wfcq nodes). Objects are carved from chunks
 * that are freed only when the pool is destroyed, so a racing reader of a
 * recycled node (ck_fifo_mpmc's dequeue may read a recycled stub before its
 * generation-checked CAS fails) always reads valid memory. Each thread keeps
 * a private list of up to POOL_BATCH free objects; full lists move to a
 * mutex-protected depot as one batch (one lock per 256 operations), so the
 * amortised cost is a few ns. The free-list link is written into the first
 * 16 bytes of a free object; callers must not need those bytes while the
 * object is free (ck_fifo_mpmc_entry: value + padding; cds_wfcq node: next,
 * which nobody reads once the node is dequeued).
 */
typedef struct bench_pool bench_pool;
bench_pool *bench_pool_new(size_t obj_size);
void bench_pool_free(bench_pool *p);
void *bench_pool_get(bench_pool *p);
void bench_pool_put(bench_pool *p, void *obj);
/* Return the calling thread's cached objects to the depot. */
void bench_pool_thread_flush(bench_pool *p);

#endif /* BENCH_COMMON_H */
