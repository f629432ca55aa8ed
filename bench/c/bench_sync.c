/*
 * bench_sync.c - locks: ftkit rwlock read pair vs CK ck_brlock / ck_bytelock
 * (inline, caller-registered readers) vs pthread_rwlock; write pair; ftkit
 * ilock pair vs pthread_mutex. Every operation is one lock + one unlock of a
 * lock shared by all threads (uncontended at 1T; at 2T two readers share it,
 * or two writers contend).
 */
#include <pthread.h>
#include <stdlib.h>

#include <ck_brlock.h>
#include <ck_bytelock.h>

#include <ftkit.h>

#include "bench_common.h"

#define UNUSED(x) (void)(x)

typedef struct locks {
    ftk_handle_t rw, il;
    _Alignas(BENCH_LINE) ck_brlock_t br;
    _Alignas(BENCH_LINE) ck_bytelock_t byte;
    _Alignas(BENCH_LINE) pthread_rwlock_t prw;
    _Alignas(BENCH_LINE) pthread_mutex_t mu;
    /* ck_brlock readers: one per thread, each on its own line (as a user
     * would allocate them per thread) */
    _Alignas(BENCH_LINE) struct {
        ck_brlock_reader_t r;
        char pad[BENCH_LINE - sizeof(ck_brlock_reader_t)];
    } readers[BENCH_MAX_THREADS];
} locks;

static void *setup(int n) {
    UNUSED(n);
    locks *s = aligned_alloc(BENCH_LINE, sizeof(locks));
    if (s == NULL) bench_fail("aligned_alloc", -1);
    BENCH_CHECK(ftk_rwlock_new(&s->rw));
    BENCH_CHECK(ftk_ilock_new(5000000, &s->il));
    ck_brlock_init(&s->br);
    ck_bytelock_init(&s->byte);
    pthread_rwlock_init(&s->prw, NULL);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

static void teardown(void *st) {
    locks *s = st;
    BENCH_CHECK(ftk_rwlock_free(s->rw));
    BENCH_CHECK(ftk_ilock_free(s->il));
    pthread_rwlock_destroy(&s->prw);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Register the thread with ftkit before the timed loop (first call). */
static void ftk_tinit(void *st, int tid, int n) {
    UNUSED(tid);
    UNUSED(n);
    BENCH_CHECK((int)ftk_rwlock_read_held(((locks *)st)->rw));
}

static void br_tinit(void *st, int tid, int n) {
    UNUSED(n);
    locks *s = st;
    ck_brlock_read_register(&s->br, &s->readers[tid].r);
}
static void br_tfini(void *st, int tid, int n) {
    UNUSED(n);
    locks *s = st;
    ck_brlock_read_unregister(&s->br, &s->readers[tid].r);
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

/* ---- read pair ------------------------------------------------------------ */

RUN_FN(run_ftk_read) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((locks *)st)->rw;
    LOOP(if (ftk_rwlock_read_lock(h, -1) != FTK_OK) bench_fail("read_lock", -1);
         if (ftk_rwlock_read_unlock(h) != FTK_OK) bench_fail("read_unlock", -1));
}

RUN_FN(run_br_read) {
    UNUSED(n);
    locks *s = st;
    ck_brlock_reader_t *r = &s->readers[tid].r;
    LOOP(ck_brlock_read_lock(&s->br, r); ck_brlock_read_unlock(r));
}

RUN_FN(run_byte_read) {
    UNUSED(n);
    locks *s = st;
    unsigned slot = (unsigned)tid + 1;
    LOOP(ck_bytelock_read_lock(&s->byte, slot); ck_bytelock_read_unlock(&s->byte, slot));
}

RUN_FN(run_prw_read) {
    UNUSED(tid);
    UNUSED(n);
    locks *s = st;
    LOOP(pthread_rwlock_rdlock(&s->prw); pthread_rwlock_unlock(&s->prw));
}

/* The fast path must be on when a read run starts (a write run on the same
 * state may have revoked it): one read pair from the setup thread. */
static void reset_read(void *st) {
    locks *s = st;
    BENCH_CHECK(ftk_rwlock_read_lock(s->rw, -1));
    BENCH_CHECK(ftk_rwlock_read_unlock(s->rw));
}

static const bench_impl read_impls[] = {
    {"ftkit ftk_rwlock read pair", "ftkit",
     "ftk_rwlock_read_lock(h, -1) + ftk_rwlock_read_unlock(h): handle validation, EBR "
     "enter/exit, visible-reader slot in the caller's thread record (relaxed store + compiler "
     "barrier; the revoking writer runs membarrier)",
     true, setup, teardown, reset_read, ftk_tinit, NULL, run_ftk_read, NULL},
    {"CK ck_brlock read pair", "ck",
     "ck_brlock_read_lock(&l, &reader) + ck_brlock_read_unlock(&reader): per-thread registered "
     "reader (own line), fas + fence (inline)",
     false, setup, teardown, NULL, br_tinit, br_tfini, run_br_read, NULL},
    {"CK ck_bytelock read pair", "ck",
     "ck_bytelock_read_lock(&l, tid + 1) + unlock: one byte per slot, all slots in one word "
     "(inline)",
     false, setup, teardown, NULL, NULL, NULL, run_byte_read, NULL},
    {"pthread_rwlock read pair", "baseline", "pthread_rwlock_rdlock + pthread_rwlock_unlock",
     false, setup, teardown, NULL, NULL, NULL, run_prw_read, NULL},
};

/* ---- write pair ---------------------------------------------------------- */

RUN_FN(run_ftk_write) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((locks *)st)->rw;
    LOOP(if (ftk_rwlock_write_lock(h, -1) != FTK_OK) bench_fail("write_lock", -1);
         if (ftk_rwlock_write_unlock(h) != FTK_OK) bench_fail("write_unlock", -1));
}

RUN_FN(run_br_write) {
    UNUSED(tid);
    UNUSED(n);
    locks *s = st;
    LOOP(ck_brlock_write_lock(&s->br); ck_brlock_write_unlock(&s->br));
}

RUN_FN(run_byte_write) {
    UNUSED(n);
    locks *s = st;
    unsigned slot = (unsigned)tid + 1;
    LOOP(ck_bytelock_write_lock(&s->byte, slot); ck_bytelock_write_unlock(&s->byte));
}

RUN_FN(run_prw_write) {
    UNUSED(tid);
    UNUSED(n);
    locks *s = st;
    LOOP(pthread_rwlock_wrlock(&s->prw); pthread_rwlock_unlock(&s->prw));
}

static const bench_impl write_impls[] = {
    {"ftkit ftk_rwlock write pair", "ftkit",
     "ftk_rwlock_write_lock(h, -1) + ftk_rwlock_write_unlock(h): CAS on the state word each "
     "way (the readers' fast path stays revoked while only writers run)",
     true, setup, teardown, NULL, ftk_tinit, NULL, run_ftk_write, NULL},
    {"CK ck_brlock write pair", "ck",
     "ck_brlock_write_lock + unlock with 2 registered readers (inline; spins)", false, setup,
     teardown, NULL, br_tinit, br_tfini, run_br_write, NULL},
    {"CK ck_bytelock write pair", "ck", "ck_bytelock_write_lock(&l, tid + 1) + unlock (inline; "
     "spins)", false, setup, teardown, NULL, NULL, NULL, run_byte_write, NULL},
    {"pthread_rwlock write pair", "baseline", "pthread_rwlock_wrlock + pthread_rwlock_unlock",
     false, setup, teardown, NULL, NULL, NULL, run_prw_write, NULL},
};

/* ---- interval lock pair ------------------------------------------------- */

RUN_FN(run_ftk_ilock) {
    UNUSED(tid);
    UNUSED(n);
    ftk_handle_t h = ((locks *)st)->il;
    LOOP(if (ftk_ilock_lock(h, -1) != FTK_OK) bench_fail("ilock_lock", -1);
         if (ftk_ilock_unlock(h) != FTK_OK) bench_fail("ilock_unlock", -1));
}

RUN_FN(run_mutex) {
    UNUSED(tid);
    UNUSED(n);
    locks *s = st;
    LOOP(pthread_mutex_lock(&s->mu); pthread_mutex_unlock(&s->mu));
}

static const bench_impl ilock_impls[] = {
    {"ftkit ftk_ilock pair", "ftkit",
     "ftk_ilock_lock(h, -1) + ftk_ilock_unlock(h): owner CAS / store, no clock read when "
     "uncontended",
     true, setup, teardown, NULL, ftk_tinit, NULL, run_ftk_ilock, NULL},
    {"pthread_mutex pair", "baseline", "pthread_mutex_lock + pthread_mutex_unlock", false, setup,
     teardown, NULL, NULL, NULL, run_mutex, NULL},
};

static const bench_workload workloads[] = {
    {"lock.read", "one read lock + unlock of a lock shared by all threads (readers only)",
     {1, 2}, read_impls, sizeof read_impls / sizeof read_impls[0]},
    {"lock.write", "one write lock + unlock of a lock shared by all threads (writers only)",
     {1, 2}, write_impls, sizeof write_impls / sizeof write_impls[0]},
    {"lock.ilock", "one lock + unlock of a mutex shared by all threads", {1, 2}, ilock_impls,
     sizeof ilock_impls / sizeof ilock_impls[0]},
};

const bench_workload *bench_sync_workloads(size_t *n) {
    *n = sizeof workloads / sizeof workloads[0];
    return workloads;
}
