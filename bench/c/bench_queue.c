/*
 * bench_queue.c - MPMC FIFO of 64-bit words: ftkit queue vs CK ck_ring
 * (MPMC, bounded 2^16) and ck_fifo_mpmc (unbounded, caller-allocated
 * entries), liburcu cds_wfcq (wait-free enqueue, mutex-serialised dequeue)
 * and cds_lfq (lock-free, RCU-reclaimed nodes), and a pthread_mutex ring.
 *
 * Every implementation provides push/pop (non-blocking, true on success) and
 * push_batch/pop_batch (as many as fit / are there, up to n); the run loops
 * are generated once per implementation so each one's operations inline.
 */
#define _LGPL_SOURCE /* liburcu's inline fast paths (its recommended use) */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ck_fifo.h>
#include <ck_ring.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfqueue.h>
#include <urcu/wfcqueue.h>

#include <ftkit.h>

#include "bench_common.h"

#define UNUSED(x) (void)(x)
#define MAYBE_UNUSED __attribute__((unused)) /* generated loops a workload may not use */
#define RING_SIZE 65536u /* bounded queues: 2^16 */
#define BATCH 64

/* ---- liburcu thread registration ------------------------------------------ */

/* Setup, reset and teardown run on the main thread and may take read locks. */
void bench_urcu_register_main(void) {
    static bool done;
    if (!done) {
        urcu_memb_register_thread();
        done = true;
    }
}
static void urcu_tinit(void *st, int tid, int n) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    urcu_memb_register_thread();
}
static void urcu_tfini(void *st, int tid, int n) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    urcu_memb_unregister_thread();
}

/* ---- ftkit ---------------------------------------------------------------- */

typedef struct ftq_t {
    ftk_handle_t h;
    uint64_t errors;
} ftq_t;

static void *ftq_new(size_t cap) {
    ftq_t *q = calloc(1, sizeof *q);
    if (q == NULL) bench_fail("calloc", -1);
    BENCH_CHECK(ftk_queue_new(cap, &q->h));
    return q;
}
static void *ftq_setup(int n) {
    UNUSED(n);
    return ftq_new(0);
}
static void *ftqb_setup(int n) {
    UNUSED(n);
    return ftq_new(RING_SIZE);
}
static void ftq_reset(void *st) {
    ftq_t *q = st;
    uint64_t buf[1024];
    size_t k;
    do {
        BENCH_CHECK(ftk_queue_drain(q->h, buf, 1024, &k));
    } while (k > 0);
}
static void ftq_teardown(void *st) {
    ftq_t *q = st;
    BENCH_CHECK(ftk_queue_free(q->h));
    free(q);
}
static void ftq_tinit(void *st, int tid, int n) {
    UNUSED(tid);
    UNUSED(n);
    size_t c; /* registers the thread with the library, outside the timing */
    BENCH_CHECK(ftk_queue_capacity(((ftq_t *)st)->h, &c));
}
#define ftq_tfini NULL

static inline bool ftq_push(ftq_t *q, uint64_t v) {
    int st = ftk_queue_try_push(q->h, v);
    if (st == FTK_OK) return true;
    if (st != FTK_EFULL) bench_fail("ftk_queue_try_push", st);
    return false;
}
static inline bool ftq_pop(ftq_t *q, uint64_t *v) {
    int st = ftk_queue_try_pop(q->h, v);
    if (st == FTK_OK) return true;
    if (st != FTK_EEMPTY) bench_fail("ftk_queue_try_pop", st);
    return false;
}
static inline size_t ftq_push_batch(ftq_t *q, const uint64_t *v, size_t n) {
    size_t k = 0;
    int st = ftk_queue_push_many(q->h, v, n, &k, 0);
    if (st != FTK_OK && st != FTK_EFULL) bench_fail("ftk_queue_push_many", st);
    return k;
}
static inline size_t ftq_pop_batch(ftq_t *q, uint64_t *out, size_t max) {
    size_t k = 0;
    int st = ftk_queue_pop_many(q->h, out, max, &k, 0);
    if (st != FTK_OK && st != FTK_EEMPTY) bench_fail("ftk_queue_pop_many", st);
    return k;
}

/* ---- CK ck_ring (MPMC, bounded) -------------------------------------------- */

typedef struct ckr_t {
    _Alignas(BENCH_LINE) ck_ring_t ring;
    ck_ring_buffer_t *buf;
    uint64_t errors;
} ckr_t;

static void *ckr_setup(int n) {
    UNUSED(n);
    ckr_t *q = aligned_alloc(BENCH_LINE, sizeof *q);
    if (q == NULL) bench_fail("aligned_alloc", -1);
    memset(q, 0, sizeof *q);
    q->buf = aligned_alloc(BENCH_LINE, RING_SIZE * sizeof(ck_ring_buffer_t));
    if (q->buf == NULL) bench_fail("aligned_alloc", -1);
    memset(q->buf, 0, RING_SIZE * sizeof(ck_ring_buffer_t));
    ck_ring_init(&q->ring, RING_SIZE);
    return q;
}
static inline bool ckr_push(ckr_t *q, uint64_t v) {
    return ck_ring_enqueue_mpmc(&q->ring, q->buf, (void *)(uintptr_t)v);
}
static inline bool ckr_pop(ckr_t *q, uint64_t *v) {
    void *p;
    if (!ck_ring_dequeue_mpmc(&q->ring, q->buf, &p)) return false;
    *v = (uint64_t)(uintptr_t)p;
    return true;
}
static inline size_t ckr_push_batch(ckr_t *q, const uint64_t *v, size_t n) {
    size_t k = 0;
    while (k < n && ckr_push(q, v[k])) k++;
    return k;
}
static inline size_t ckr_pop_batch(ckr_t *q, uint64_t *out, size_t max) {
    size_t k = 0;
    while (k < max && ckr_pop(q, &out[k])) k++;
    return k;
}
static void ckr_reset(void *st) {
    uint64_t v;
    while (ckr_pop(st, &v)) {
    }
}
static void ckr_teardown(void *st) {
    ckr_t *q = st;
    free(q->buf);
    free(q);
}
#define ckr_tinit NULL
#define ckr_tfini NULL

/* ---- CK ck_fifo_mpmc (unbounded, entries from a type-stable pool) ---------- */

typedef struct ckf_t {
    _Alignas(BENCH_LINE) ck_fifo_mpmc_t fifo;
    bench_pool *pool;
    uint64_t errors;
} ckf_t;

static void *ckf_setup(int n) {
    UNUSED(n);
    ckf_t *q = aligned_alloc(BENCH_LINE, sizeof *q);
    if (q == NULL) bench_fail("aligned_alloc", -1);
    memset(q, 0, sizeof *q);
    q->pool = bench_pool_new(sizeof(ck_fifo_mpmc_entry_t));
    ck_fifo_mpmc_init(&q->fifo, bench_pool_get(q->pool));
    return q;
}
static inline bool ckf_push(ckf_t *q, uint64_t v) {
    ck_fifo_mpmc_entry_t *e = bench_pool_get(q->pool);
    ck_fifo_mpmc_enqueue(&q->fifo, e, (void *)(uintptr_t)v);
    return true;
}
static inline bool ckf_pop(ckf_t *q, uint64_t *v) {
    void *p;
    ck_fifo_mpmc_entry_t *garbage;
    if (!ck_fifo_mpmc_dequeue(&q->fifo, &p, &garbage)) return false;
    /* the old stub: recycled (type-stable memory, generation-tagged CAS) */
    bench_pool_put(q->pool, garbage);
    *v = (uint64_t)(uintptr_t)p;
    return true;
}
static inline size_t ckf_push_batch(ckf_t *q, const uint64_t *v, size_t n) {
    for (size_t k = 0; k < n; k++) ckf_push(q, v[k]);
    return n;
}
static inline size_t ckf_pop_batch(ckf_t *q, uint64_t *out, size_t max) {
    size_t k = 0;
    while (k < max && ckf_pop(q, &out[k])) k++;
    return k;
}
static void ckf_reset(void *st) {
    uint64_t v;
    while (ckf_pop(st, &v)) {
    }
}
static void ckf_teardown(void *st) {
    ckf_t *q = st;
    ckf_reset(q);
    bench_pool_free(q->pool); /* also the stub */
    free(q);
}
#define ckf_tinit NULL
static void ckf_tfini(void *st, int tid, int n) {
    UNUSED(tid);
    UNUSED(n);
    bench_pool_thread_flush(((ckf_t *)st)->pool);
}

/* ---- liburcu cds_wfcq (wait-free enqueue, blocking/mutex dequeue) ---------- */

typedef struct wnode {
    struct cds_wfcq_node node;
    uint64_t v;
} wnode;

typedef struct wfq_t {
    _Alignas(BENCH_LINE) struct cds_wfcq_head head;
    _Alignas(BENCH_LINE) struct cds_wfcq_tail tail;
    bench_pool *pool;
    uint64_t errors;
} wfq_t;

static void *wfq_setup(int n) {
    UNUSED(n);
    wfq_t *q = aligned_alloc(BENCH_LINE, sizeof *q);
    if (q == NULL) bench_fail("aligned_alloc", -1);
    memset(q, 0, sizeof *q);
    cds_wfcq_init(&q->head, &q->tail);
    q->pool = bench_pool_new(sizeof(wnode));
    return q;
}
static inline bool wfq_push(wfq_t *q, uint64_t v) {
    wnode *n = bench_pool_get(q->pool);
    cds_wfcq_node_init(&n->node);
    n->v = v;
    cds_wfcq_enqueue(&q->head, &q->tail, &n->node);
    return true;
}
static inline uint64_t wfq_take(wfq_t *q, struct cds_wfcq_node *nd) {
    wnode *n = caa_container_of(nd, wnode, node);
    uint64_t v = n->v;
    bench_pool_put(q->pool, n); /* the dequeuer owns the node */
    return v;
}
static inline bool wfq_pop(wfq_t *q, uint64_t *v) {
    struct cds_wfcq_node *nd = cds_wfcq_dequeue_blocking(&q->head, &q->tail);
    if (nd == NULL) return false;
    *v = wfq_take(q, nd);
    return true;
}
static inline size_t wfq_push_batch(wfq_t *q, const uint64_t *v, size_t n) {
    for (size_t k = 0; k < n; k++) wfq_push(q, v[k]);
    return n;
}
/* One dequeue-lock acquisition per batch (liburcu's batching idiom). */
static inline size_t wfq_pop_batch(wfq_t *q, uint64_t *out, size_t max) {
    size_t k = 0;
    cds_wfcq_dequeue_lock(&q->head, &q->tail);
    for (; k < max; k++) {
        struct cds_wfcq_node *nd = __cds_wfcq_dequeue_blocking(&q->head, &q->tail);
        if (nd == NULL) break;
        out[k] = wfq_take(q, nd);
    }
    cds_wfcq_dequeue_unlock(&q->head, &q->tail);
    return k;
}
static void wfq_reset(void *st) {
    uint64_t v;
    while (wfq_pop(st, &v)) {
    }
}
static void wfq_teardown(void *st) {
    wfq_t *q = st;
    wfq_reset(q);
    cds_wfcq_destroy(&q->head, &q->tail);
    bench_pool_free(q->pool);
    free(q);
}
#define wfq_tinit NULL
static void wfq_tfini(void *st, int tid, int n) {
    UNUSED(tid);
    UNUSED(n);
    bench_pool_thread_flush(((wfq_t *)st)->pool);
}

/* ---- liburcu cds_lfq (lock-free, RCU; node freed by call_rcu) --------------- */

typedef struct lnode {
    struct cds_lfq_node_rcu node;
    uint64_t v;
    struct rcu_head rcu;
} lnode;

typedef struct lfq_t {
    _Alignas(BENCH_LINE) struct cds_lfq_queue_rcu q;
    uint64_t errors;
} lfq_t;

static void lnode_free(struct rcu_head *h) { free(caa_container_of(h, lnode, rcu)); }

static void *lfq_setup(int n) {
    UNUSED(n);
    bench_urcu_register_main();
    lfq_t *q = aligned_alloc(BENCH_LINE, sizeof *q);
    if (q == NULL) bench_fail("aligned_alloc", -1);
    memset(q, 0, sizeof *q);
    cds_lfq_init_rcu(&q->q, urcu_memb_call_rcu);
    return q;
}
static inline lnode *lnode_new(uint64_t v) {
    lnode *n = malloc(sizeof *n);
    if (n == NULL) bench_fail("malloc", -1);
    cds_lfq_node_init_rcu(&n->node);
    n->v = v;
    return n;
}
static inline bool lfq_push(lfq_t *q, uint64_t v) {
    lnode *n = lnode_new(v);
    urcu_memb_read_lock();
    cds_lfq_enqueue_rcu(&q->q, &n->node);
    urcu_memb_read_unlock();
    return true;
}
static inline uint64_t lfq_take(struct cds_lfq_node_rcu *nd) {
    lnode *n = caa_container_of(nd, lnode, node);
    uint64_t v = n->v;
    urcu_memb_call_rcu(&n->rcu, lnode_free); /* freed after a grace period */
    return v;
}
static inline bool lfq_pop(lfq_t *q, uint64_t *v) {
    urcu_memb_read_lock();
    struct cds_lfq_node_rcu *nd = cds_lfq_dequeue_rcu(&q->q);
    urcu_memb_read_unlock();
    if (nd == NULL) return false;
    *v = lfq_take(nd);
    return true;
}
static inline size_t lfq_push_batch(lfq_t *q, const uint64_t *v, size_t n) {
    urcu_memb_read_lock(); /* one read-side section per batch */
    for (size_t k = 0; k < n; k++) cds_lfq_enqueue_rcu(&q->q, &lnode_new(v[k])->node);
    urcu_memb_read_unlock();
    return n;
}
static inline size_t lfq_pop_batch(lfq_t *q, uint64_t *out, size_t max) {
    struct cds_lfq_node_rcu *nd[BATCH];
    size_t k = 0;
    if (max > BATCH) max = BATCH;
    urcu_memb_read_lock();
    for (; k < max; k++) {
        nd[k] = cds_lfq_dequeue_rcu(&q->q);
        if (nd[k] == NULL) break;
    }
    urcu_memb_read_unlock();
    for (size_t i = 0; i < k; i++) out[i] = lfq_take(nd[i]);
    return k;
}
static void lfq_reset(void *st) {
    uint64_t v;
    while (lfq_pop(st, &v)) {
    }
}
static void lfq_teardown(void *st) {
    lfq_t *q = st;
    lfq_reset(q);
    if (cds_lfq_destroy_rcu(&q->q) != 0) bench_fail("cds_lfq_destroy_rcu", -1);
    urcu_memb_barrier(); /* run the pending frees */
    free(q);
}
#define lfq_tinit urcu_tinit
#define lfq_tfini urcu_tfini

/* ---- pthread_mutex ring (bounded) ------------------------------------------ */

typedef struct mring_t {
    _Alignas(BENCH_LINE) pthread_mutex_t mu;
    uint64_t head, tail; /* guarded by mu */
    uint64_t *buf;
    uint64_t errors;
} mring_t;

static void *mring_setup(int n) {
    UNUSED(n);
    mring_t *q = aligned_alloc(BENCH_LINE, sizeof *q);
    if (q == NULL) bench_fail("aligned_alloc", -1);
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    q->buf = calloc(RING_SIZE, sizeof(uint64_t));
    if (q->buf == NULL) bench_fail("calloc", -1);
    return q;
}
static inline bool mring_push(mring_t *q, uint64_t v) {
    pthread_mutex_lock(&q->mu);
    bool ok = q->tail - q->head < RING_SIZE;
    if (ok) q->buf[q->tail++ & (RING_SIZE - 1)] = v;
    pthread_mutex_unlock(&q->mu);
    return ok;
}
static inline bool mring_pop(mring_t *q, uint64_t *v) {
    pthread_mutex_lock(&q->mu);
    bool ok = q->head != q->tail;
    if (ok) *v = q->buf[q->head++ & (RING_SIZE - 1)];
    pthread_mutex_unlock(&q->mu);
    return ok;
}
static inline size_t mring_push_batch(mring_t *q, const uint64_t *v, size_t n) {
    pthread_mutex_lock(&q->mu);
    size_t room = RING_SIZE - (size_t)(q->tail - q->head), k = n < room ? n : room;
    for (size_t i = 0; i < k; i++) q->buf[q->tail++ & (RING_SIZE - 1)] = v[i];
    pthread_mutex_unlock(&q->mu);
    return k;
}
static inline size_t mring_pop_batch(mring_t *q, uint64_t *out, size_t max) {
    pthread_mutex_lock(&q->mu);
    size_t have = (size_t)(q->tail - q->head), k = max < have ? max : have;
    for (size_t i = 0; i < k; i++) out[i] = q->buf[q->head++ & (RING_SIZE - 1)];
    pthread_mutex_unlock(&q->mu);
    return k;
}
static void mring_reset(void *st) {
    mring_t *q = st;
    q->head = q->tail;
}
static void mring_teardown(void *st) {
    mring_t *q = st;
    pthread_mutex_destroy(&q->mu);
    free(q->buf);
    free(q);
}
#define mring_tinit NULL
#define mring_tfini NULL

/* ---- run loops, generated per implementation -------------------------------- */

#define GEN_RUNS(X)                                                                               \
    /* push then pop, on every thread */                                                          \
    static MAYBE_UNUSED uint64_t X##_run_pair(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *q = st;                                                                            \
        uint64_t v = ((uint64_t)tid << 48) + 1, ops = 0;                                          \
        while (!bench_should_stop(stop)) {                                                        \
            for (int i = 0; i < BENCH_CHUNK; i++) {                                               \
                while (!X##_push(q, v)) bench_relax();                                            \
                v++;                                                                              \
                uint64_t o;                                                                       \
                while (!X##_pop(q, &o)) bench_relax();                                            \
                bench_consume(o);                                                                 \
            }                                                                                     \
            ops += BENCH_CHUNK;                                                                   \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    /* thread 0 pushes 1, 2, 3, ...; thread 1 pops and checks the order */                        \
    static MAYBE_UNUSED uint64_t X##_run_spsc(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *q = st;                                                                            \
        uint64_t ops = 0;                                                                         \
        if (tid == 0) {                                                                           \
            uint64_t v = 1;                                                                       \
            while (!bench_should_stop(stop)) {                                                    \
                for (int i = 0; i < BENCH_CHUNK; i++) {                                           \
                    while (!X##_push(q, v)) {                                                     \
                        if (bench_should_stop(stop)) return 0;                                    \
                        bench_relax();                                                            \
                    }                                                                             \
                    v++;                                                                          \
                }                                                                                 \
            }                                                                                     \
            return 0;                                                                             \
        }                                                                                         \
        uint64_t expect = 1;                                                                      \
        while (!bench_should_stop(stop)) {                                                        \
            for (int i = 0; i < BENCH_CHUNK; i++) {                                               \
                uint64_t o;                                                                       \
                if (X##_pop(q, &o)) {                                                             \
                    q->errors += o != expect;                                                     \
                    expect = o + 1;                                                               \
                    ops++;                                                                        \
                } else {                                                                          \
                    bench_relax();                                                                \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    /* push_many(64) then pop_many until 64 came back, on every thread */                         \
    static MAYBE_UNUSED uint64_t X##_run_batch(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *q = st;                                                                            \
        uint64_t in[BATCH], out[BATCH], v = ((uint64_t)tid << 48) + 1, ops = 0;                   \
        while (!bench_should_stop(stop)) {                                                        \
            for (int r = 0; r < BENCH_CHUNK / BATCH; r++) {                                       \
                for (int i = 0; i < BATCH; i++) in[i] = v++;                                      \
                size_t k = 0;                                                                     \
                while (k < BATCH) {                                                               \
                    size_t d = X##_push_batch(q, in + k, BATCH - k);                              \
                    if (d == 0) bench_relax();                                                    \
                    k += d;                                                                       \
                }                                                                                 \
                k = 0;                                                                            \
                while (k < BATCH) {                                                               \
                    size_t d = X##_pop_batch(q, out, BATCH - k);                                  \
                    if (d == 0) bench_relax();                                                    \
                    k += d;                                                                       \
                }                                                                                 \
                bench_consume(out[0]);                                                            \
            }                                                                                     \
            ops += (BENCH_CHUNK / BATCH) * BATCH;                                                 \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    /* 1 producer push_many(64), 1 consumer pop_many(64), order checked */                        \
    static MAYBE_UNUSED uint64_t X##_run_spsc_batch(void *st, int tid, int n,                     \
                                       const bench_stop_t *stop) {                                \
        UNUSED(n);                                                                                \
        X##_t *q = st;                                                                            \
        uint64_t buf[BATCH], ops = 0;                                                             \
        if (tid == 0) {                                                                           \
            uint64_t v = 1;                                                                       \
            while (!bench_should_stop(stop)) {                                                    \
                for (int i = 0; i < BATCH; i++) buf[i] = v + (uint64_t)i;                         \
                size_t k = 0;                                                                     \
                while (k < BATCH) {                                                               \
                    size_t d = X##_push_batch(q, buf + k, BATCH - k);                             \
                    if (d == 0) {                                                                 \
                        if (bench_should_stop(stop)) return 0;                                    \
                        bench_relax();                                                            \
                    }                                                                             \
                    k += d;                                                                       \
                }                                                                                 \
                v += BATCH;                                                                       \
            }                                                                                     \
            return 0;                                                                             \
        }                                                                                         \
        uint64_t expect = 1;                                                                      \
        while (!bench_should_stop(stop)) {                                                        \
            size_t d = X##_pop_batch(q, buf, BATCH);                                              \
            if (d == 0) {                                                                         \
                bench_relax();                                                                    \
                continue;                                                                         \
            }                                                                                     \
            for (size_t i = 0; i < d; i++) {                                                      \
                q->errors += buf[i] != expect;                                                    \
                expect = buf[i] + 1;                                                              \
            }                                                                                     \
            ops += d;                                                                             \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    static MAYBE_UNUSED int X##_verify(void *st, uint64_t total) {                                \
        UNUSED(total);                                                                            \
        return ((X##_t *)st)->errors == 0 ? 0 : -1;                                               \
    }

GEN_RUNS(ftq)
GEN_RUNS(ckr)
GEN_RUNS(ckf)
GEN_RUNS(wfq)
GEN_RUNS(lfq)
GEN_RUNS(mring)

#define IMPL(X, SETUP, KIND, label, fam, prim, how)                                               \
    {label, fam, how, prim, SETUP, X##_teardown, X##_reset, X##_tinit, X##_tfini,                 \
     X##_run_##KIND, X##_verify}

#define HOW_FTK "ftk_queue_try_push / ftk_queue_try_pop (lock-free, unbounded, blocks of 128)"
#define HOW_FTKB "ftk_queue_new(65536): same calls on a bounded queue (2^16)"
#define HOW_CKR "ck_ring_enqueue_mpmc / ck_ring_dequeue_mpmc, 2^16 void* slots (bounded, inline)"
#define HOW_CKF                                                                                   \
    "ck_fifo_mpmc_enqueue / ck_fifo_mpmc_dequeue (lock-free, unbounded, inline); entries "        \
    "from a type-stable pool: per-thread free list of up to 256, full lists swapped with a "      \
    "mutex depot; the dequeued stub is recycled at once (CK's generation-tagged CAS makes "       \
    "that safe; the memory is never unmapped during the run)"
#define HOW_WFQ                                                                                   \
    "cds_wfcq_enqueue (wait-free) / cds_wfcq_dequeue_blocking (dequeuers serialised by the "      \
    "queue's mutex); nodes from the same pool as ck_fifo"
#define HOW_LFQ                                                                                   \
    "cds_lfq_enqueue_rcu / cds_lfq_dequeue_rcu inside urcu_memb_read_lock; node malloc'd "        \
    "per push, freed by urcu_memb_call_rcu after dequeue"
#define HOW_MRING "pthread_mutex around a 2^16-slot ring (bounded)"

#define HOW_FTK_BATCH "ftk_queue_push_many(64) / ftk_queue_pop_many(64), timeout 0"
#define HOW_CKR_BATCH "no batch API: 64 x ck_ring_enqueue_mpmc, 64 x ck_ring_dequeue_mpmc"
#define HOW_CKF_BATCH "no batch API: 64 x enqueue, 64 x dequeue (pooled entries)"
#define HOW_WFQ_BATCH                                                                             \
    "64 x cds_wfcq_enqueue; pop: cds_wfcq_dequeue_lock, up to 64 x "                              \
    "__cds_wfcq_dequeue_blocking, unlock"
#define HOW_LFQ_BATCH                                                                      \
    "64 x enqueue in one read-side section; up to 64 x dequeue in one section, then "       \
    "call_rcu each"
#define HOW_MRING_BATCH "one lock acquisition per 64 pushes / per pop of up to 64"

static const bench_impl pair_impls[] = {
    IMPL(ftq, ftq_setup, pair, "ftkit queue (unbounded)", "ftkit", true, HOW_FTK),
    IMPL(ftq, ftqb_setup, pair, "ftkit queue (bounded 2^16)", "ftkit", false, HOW_FTKB),
    IMPL(ckr, ckr_setup, pair, "CK ck_ring MPMC (2^16)", "ck", false, HOW_CKR),
    IMPL(ckf, ckf_setup, pair, "CK ck_fifo_mpmc", "ck", false, HOW_CKF),
    IMPL(wfq, wfq_setup, pair, "urcu cds_wfcq", "urcu", false, HOW_WFQ),
    IMPL(lfq, lfq_setup, pair, "urcu cds_lfq (RCU)", "urcu", false, HOW_LFQ),
    IMPL(mring, mring_setup, pair, "pthread_mutex ring (2^16)", "baseline", false, HOW_MRING),
};
static const bench_impl spsc_impls[] = {
    IMPL(ftq, ftq_setup, spsc, "ftkit queue (unbounded)", "ftkit", true, HOW_FTK),
    IMPL(ftq, ftqb_setup, spsc, "ftkit queue (bounded 2^16)", "ftkit", false, HOW_FTKB),
    IMPL(ckr, ckr_setup, spsc, "CK ck_ring MPMC (2^16)", "ck", false, HOW_CKR),
    IMPL(ckf, ckf_setup, spsc, "CK ck_fifo_mpmc", "ck", false, HOW_CKF),
    IMPL(wfq, wfq_setup, spsc, "urcu cds_wfcq", "urcu", false, HOW_WFQ),
    IMPL(lfq, lfq_setup, spsc, "urcu cds_lfq (RCU)", "urcu", false, HOW_LFQ),
    IMPL(mring, mring_setup, spsc, "pthread_mutex ring (2^16)", "baseline", false, HOW_MRING),
};
static const bench_impl batch_impls[] = {
    IMPL(ftq, ftq_setup, batch, "ftkit queue (unbounded)", "ftkit", true, HOW_FTK_BATCH),
    IMPL(ftq, ftqb_setup, batch, "ftkit queue (bounded 2^16)", "ftkit", false, HOW_FTK_BATCH),
    IMPL(ckr, ckr_setup, batch, "CK ck_ring MPMC (2^16)", "ck", false, HOW_CKR_BATCH),
    IMPL(ckf, ckf_setup, batch, "CK ck_fifo_mpmc", "ck", false, HOW_CKF_BATCH),
    IMPL(wfq, wfq_setup, batch, "urcu cds_wfcq", "urcu", false, HOW_WFQ_BATCH),
    IMPL(lfq, lfq_setup, batch, "urcu cds_lfq (RCU)", "urcu", false, HOW_LFQ_BATCH),
    IMPL(mring, mring_setup, batch, "pthread_mutex ring (2^16)", "baseline", false,
         HOW_MRING_BATCH),
};
static const bench_impl spsc_batch_impls[] = {
    IMPL(ftq, ftq_setup, spsc_batch, "ftkit queue (unbounded)", "ftkit", true, HOW_FTK_BATCH),
    IMPL(ftq, ftqb_setup, spsc_batch, "ftkit queue (bounded 2^16)", "ftkit", false,
         HOW_FTK_BATCH),
    IMPL(ckr, ckr_setup, spsc_batch, "CK ck_ring MPMC (2^16)", "ck", false, HOW_CKR_BATCH),
    IMPL(ckf, ckf_setup, spsc_batch, "CK ck_fifo_mpmc", "ck", false, HOW_CKF_BATCH),
    IMPL(wfq, wfq_setup, spsc_batch, "urcu cds_wfcq", "urcu", false, HOW_WFQ_BATCH),
    IMPL(lfq, lfq_setup, spsc_batch, "urcu cds_lfq (RCU)", "urcu", false, HOW_LFQ_BATCH),
    IMPL(mring, mring_setup, spsc_batch, "pthread_mutex ring (2^16)", "baseline", false,
         HOW_MRING_BATCH),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const bench_workload workloads[] = {
    {"queue.pair", "one push followed by one pop on the same thread (ns per pair)", {1, 2},
     pair_impls, N(pair_impls)},
    {"queue.spsc", "one word through the queue, 1 producer + 1 consumer (items popped/s)",
     {2, 0}, spsc_impls, N(spsc_impls)},
    {"queue.batch64", "one word pushed and popped, in batches of 64 per call (ns per item)",
     {1, 2}, batch_impls, N(batch_impls)},
    {"queue.spsc_batch64", "one word through the queue in batches of 64, 1 producer + 1 consumer",
     {2, 0}, spsc_batch_impls, N(spsc_batch_impls)},
};

const bench_workload *bench_queue_workloads(size_t *n) {
    *n = N(workloads);
    return workloads;
}
