/*
 * bench_atomic.c - shared 64-bit counter: ftkit int64 (status and value
 * style) vs CK ck_pr_faa_64 vs C11 atomic_fetch_add vs pthread_mutex + int,
 * and ftkit's striped counter (ftk_counter_add_v: each thread its own cell);
 * plus probes that split an ftkit call into its parts.
 */
#define _LGPL_SOURCE

#include <pthread.h>
#include <stdlib.h>

#include <ck_pr.h>
#include <urcu/urcu-memb.h>

#include <ftkit.h>

#include "bench_common.h"

#define UNUSED(x) (void)(x)

/* ---- shared state ---------------------------------------------------------- */

typedef struct counter {
    _Alignas(BENCH_LINE) uint64_t plain;  /* ck_pr target */
    _Alignas(BENCH_LINE) _Atomic uint64_t c11;
    _Alignas(BENCH_LINE) pthread_mutex_t mu;
    uint64_t locked; /* guarded by mu (same line, as a user would write it) */
    _Alignas(BENCH_LINE) ftk_handle_t h; /* the value lives in ftkit's handle table */
    ftk_handle_t q, m;                   /* for the probes */
    ftk_handle_t ctr;                    /* ftk_counter (striped) */
} counter;

static void *setup(int n) {
    UNUSED(n);
    counter *c = aligned_alloc(BENCH_LINE, sizeof(counter));
    if (c == NULL) bench_fail("aligned_alloc", -1);
    c->plain = 0;
    atomic_init(&c->c11, 0);
    pthread_mutex_init(&c->mu, NULL);
    c->locked = 0;
    BENCH_CHECK(ftk_int64_new(0, &c->h));
    BENCH_CHECK(ftk_queue_new(0, &c->q));
    BENCH_CHECK(ftk_map_new(0, &c->m));
    BENCH_CHECK(ftk_counter_new(0, &c->ctr));
    return c;
}

static void teardown(void *st) {
    counter *c = st;
    BENCH_CHECK(ftk_int64_free(c->h));
    BENCH_CHECK(ftk_queue_free(c->q));
    BENCH_CHECK(ftk_map_free(c->m));
    BENCH_CHECK(ftk_counter_free(c->ctr));
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Register the thread with ftkit before the timed loop (first call). */
static void ftk_thread_init(void *st, int tid, int n) {
    UNUSED(tid);
    UNUSED(n);
    size_t cap;
    BENCH_CHECK(ftk_queue_capacity(((counter *)st)->q, &cap));
}

#define LOOP(body)                                                                                \
    uint64_t ops = 0;                                                                             \
    while (!bench_should_stop(stop)) {                                                            \
        for (int i_ = 0; i_ < BENCH_CHUNK; i_++) { body; }                                        \
        ops += BENCH_CHUNK;                                                                       \
    }                                                                                             \
    return ops

#define RUN_FN(name)                                                                              \
    static uint64_t name(void *st, int tid, int n, const bench_stop_t *stop)

RUN_FN(run_ftk_fetch_add) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((counter *)st)->h;
    LOOP(if (ftk_int64_fetch_add(h, 1, NULL) != FTK_OK) bench_fail("ftk_int64_fetch_add", -1));
}

RUN_FN(run_ftk_add_v) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((counter *)st)->h;
    LOOP(bench_consume((uint64_t)ftk_int64_add_v(h, 1)));
}

RUN_FN(run_ftk_counter_add_v) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((counter *)st)->ctr;
    LOOP(ftk_counter_add_v(h, 1));
}

RUN_FN(run_ck_faa) {
    UNUSED(tid);
    UNUSED(n);
    uint64_t *p = &((counter *)st)->plain;
    LOOP(bench_consume(ck_pr_faa_64(p, 1)));
}

RUN_FN(run_c11) {
    UNUSED(tid);
    UNUSED(n);
    _Atomic uint64_t *p = &((counter *)st)->c11;
    LOOP(bench_consume(atomic_fetch_add(p, 1)));
}

RUN_FN(run_mutex) {
    UNUSED(tid);
    UNUSED(n);
    counter *c = st;
    LOOP(pthread_mutex_lock(&c->mu); uint64_t v_ = c->locked++; pthread_mutex_unlock(&c->mu);
         bench_consume(v_));
}

static int verify_ftk(void *st, uint64_t total) {
    int64_t v;
    BENCH_CHECK(ftk_int64_load(((counter *)st)->h, &v));
    return (uint64_t)v == total ? 0 : -1;
}
static int verify_ftk_counter(void *st, uint64_t total) {
    int64_t v;
    BENCH_CHECK(ftk_counter_get(((counter *)st)->ctr, &v));
    return (uint64_t)v == total ? 0 : -1;
}
static int verify_ck(void *st, uint64_t total) {
    return ck_pr_load_64(&((counter *)st)->plain) == total ? 0 : -1;
}
static int verify_c11(void *st, uint64_t total) {
    return atomic_load(&((counter *)st)->c11) == total ? 0 : -1;
}
static int verify_mutex(void *st, uint64_t total) {
    return ((counter *)st)->locked == total ? 0 : -1;
}

static const bench_impl counter_impls[] = {
    {"ftkit ftk_int64_fetch_add", "ftkit",
     "ftk_int64_fetch_add(h, 1, NULL) == FTK_OK (status style; handle validation + lock xadd "
     "on the value inline in the handle table)",
     true, setup, teardown, NULL, ftk_thread_init, NULL, run_ftk_fetch_add, verify_ftk},
    {"ftkit ftk_int64_add_v", "ftkit", "ftk_int64_add_v(h, 1) (value style, returns the new value)",
     false, setup, teardown, NULL, ftk_thread_init, NULL, run_ftk_add_v, verify_ftk},
    {"ftkit ftk_counter_add_v (striped)", "ftkit",
     "ftk_counter_add_v(h, 1): handle validation + EBR section + lock xadd on the calling "
     "thread's own cell (AtomicCounter.incr)",
     false, setup, teardown, NULL, ftk_thread_init, NULL, run_ftk_counter_add_v,
     verify_ftk_counter},
    {"CK ck_pr_faa_64", "ck", "ck_pr_faa_64(&u64, 1) on a plain uint64_t on its own line (inline)",
     false, setup, teardown, NULL, NULL, NULL, run_ck_faa, verify_ck},
    {"C11 atomic_fetch_add", "baseline",
     "atomic_fetch_add(&_Atomic uint64_t, 1), seq_cst, inline", false, setup, teardown, NULL,
     NULL, NULL, run_c11, verify_c11},
    {"pthread_mutex + int", "baseline", "pthread_mutex_lock; x++; pthread_mutex_unlock", false,
     setup, teardown, NULL, NULL, NULL, run_mutex, verify_mutex},
};

/* ---- probes: what one ftkit call costs, part by part --------------------- */

RUN_FN(run_probe_inline) {
    UNUSED(tid);
    UNUSED(n);
    _Atomic uint64_t *p = &((counter *)st)->c11;
    LOOP(bench_consume(atomic_load_explicit(p, memory_order_acquire)));
}
RUN_FN(run_probe_version) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    LOOP(bench_consume(ftk_version()));
}
RUN_FN(run_probe_last_status) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    LOOP(bench_consume((uint64_t)ftk_last_status()));
}
RUN_FN(run_probe_load_v) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((counter *)st)->h;
    LOOP(bench_consume((uint64_t)ftk_int64_load_v(h)));
}
RUN_FN(run_probe_queue_capacity) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t q = ((counter *)st)->q;
    LOOP(size_t c_; if (ftk_queue_capacity(q, &c_) != FTK_OK) bench_fail("capacity", -1);
         bench_consume(c_));
}
RUN_FN(run_probe_map_capacity) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t m = ((counter *)st)->m;
    LOOP(size_t c_; if (ftk_map_capacity(m, &c_) != FTK_OK) bench_fail("capacity", -1);
         bench_consume(c_));
}

/* What ftkit's EBR announcement costs without the call and the TLS lookup:
 * a seq_cst store (xchg on x86-64) then a release store, to a thread-local. */
static _Thread_local _Atomic uint64_t probe_state;
RUN_FN(run_probe_fences) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    LOOP(atomic_store(&probe_state, 3);
         atomic_store_explicit(&probe_state, 0, memory_order_release));
}
/* liburcu's read-side section (membarrier flavour: no fence on the reader). */
RUN_FN(run_probe_urcu) {
    UNUSED(st);
    UNUSED(tid);
    UNUSED(n);
    LOOP(urcu_memb_read_lock(); urcu_memb_read_unlock());
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

/* Each probe is measured on its own; the table shows them side by side. */
static const bench_impl probe_impls[] = {
    {"inline atomic load", "probe", "baseline: one acquire load, no call", false, setup, teardown,
     NULL, NULL, NULL, run_probe_inline, NULL},
    {"ftk_version()", "probe", "a call into the shared library (PLT) that returns a constant",
     false, setup, teardown, NULL, ftk_thread_init, NULL, run_probe_version, NULL},
    {"ftk_last_status()", "probe",
     "call + one access to a _Thread_local of the library (global-dynamic TLS)", false, setup,
     teardown, NULL, ftk_thread_init, NULL, run_probe_last_status, NULL},
    {"ftk_int64_load_v(h)", "probe",
     "call + handle validation (kind/index check, 2 acquire loads, compare) + load", false,
     setup, teardown, NULL, ftk_thread_init, NULL, run_probe_load_v, NULL},
    {"ftk_queue_capacity(q)", "probe",
     "call + EBR enter/exit (ftk_ebr_enter/exit are out-of-line calls, each calling "
     "ftk_thread_self: 4 __tls_get_addr per call; the announcement store is relaxed + "
     "membarrier in the scanner on Linux, seq_cst elsewhere) + handle validation + object check",
     false, setup, teardown, NULL, ftk_thread_init, NULL, run_probe_queue_capacity, NULL},
    {"ftk_map_capacity(m)", "probe", "same path for a map (+ one table load)", false, setup,
     teardown, NULL, ftk_thread_init, NULL, run_probe_map_capacity, NULL},
    {"seq_cst + release store (inline)", "probe",
     "what a symmetric (seq_cst) EBR announcement + release exit costs on a thread-local, "
     "without call or TLS lookup",
     false, setup, teardown, NULL, NULL, NULL, run_probe_fences, NULL},
    {"urcu_memb_read_lock + unlock", "probe",
     "liburcu's read-side section (sys_membarrier flavour: reader issues no fence)", false,
     setup, teardown, NULL, urcu_tinit, urcu_tfini, run_probe_urcu, NULL},
};

static const bench_workload workloads[] = {
    {"atomic.counter", "one increment of a counter shared by all threads", {1, 2}, counter_impls,
     sizeof counter_impls / sizeof counter_impls[0]},
    {"probe.call", "one call", {1, 2}, probe_impls, sizeof probe_impls / sizeof probe_impls[0]},
};

const bench_workload *bench_atomic_workloads(size_t *n) {
    *n = sizeof workloads / sizeof workloads[0];
    return workloads;
}
