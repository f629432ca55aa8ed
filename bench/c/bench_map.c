/*
 * bench_map.c - hash index: ftkit map vs liburcu cds_lfht (urcu-memb) vs CK
 * ck_ht (single writer, many readers: writes serialised by a spinlock) vs a
 * pthread_mutex and a pthread_rwlock around an open-addressing table.
 *
 * Keys are 1..1000 (pre-inserted, value = key) plus, in the churn workload,
 * a private window of 256 keys per thread. Every implementation is given
 * the same key stream; peers that take a caller-computed hash get
 * bench_mix64(key) (murmur3 fmix64); ftkit gets the key itself as the hash
 * (what the binding passes for a Python int) and mixes it internally; ck_ht
 * uses its own ck_ht_hash_direct.
 */
#define _LGPL_SOURCE

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ck_ht.h>
#include <ck_spinlock.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include <ftkit.h>

#include "bench_common.h"

#define UNUSED(x) (void)(x)
#define MAYBE_UNUSED __attribute__((unused)) /* generated loops a workload may not use */
#define NKEYS 1000
#define WINDOW 256  /* churn: keys a thread keeps inserted */
#define CYCLE 4096  /* churn: a thread's keys are key(j mod CYCLE) */

/* A thread's churn cursor, on its own line. */
typedef struct cursor {
    _Alignas(BENCH_LINE) uint64_t j;
} cursor;

static inline uint64_t churn_key(int tid, uint64_t j) {
    return ((uint64_t)(tid + 1) << 32) + (j & (CYCLE - 1)) + 1;
}

/* ---- ftkit -------------------------------------------------------------------- */

typedef struct ftm_t {
    ftk_handle_t m;
    cursor cur[BENCH_MAX_THREADS];
} ftm_t;

static void *ftm_setup(int n) {
    UNUSED(n);
    ftm_t *s = aligned_alloc(BENCH_LINE, sizeof *s);
    if (s == NULL) bench_fail("aligned_alloc", -1);
    memset(s, 0, sizeof *s);
    BENCH_CHECK(ftk_map_new(2048, &s->m));
    for (uint64_t k = 1; k <= NKEYS; k++) BENCH_CHECK(ftk_map_insert(s->m, k, k, k, 0));
    return s;
}
static void ftm_teardown(void *st) {
    ftm_t *s = st;
    BENCH_CHECK(ftk_map_free(s->m));
    free(s);
}
static void ftm_thread(void *st) {
    size_t c; /* registers the thread with the library */
    BENCH_CHECK(ftk_map_capacity(((ftm_t *)st)->m, &c));
}
#define ftm_thread_end(st) ((void)(st))
static inline uint64_t ftm_find(ftm_t *s, uint64_t key) {
    uint64_t keys[4], vals[4], stamp;
    size_t n;
    BENCH_CHECK(ftk_map_find(s->m, key, keys, vals, 4, &n, &stamp));
    for (size_t i = 0; i < n; i++)
        if (keys[i] == key) return vals[i]; /* the caller's equality test */
    bench_fail("ftk_map_find: key missing", -1);
}
/* The binding's protocol: find the candidate, then write that entry. */
static inline void ftm_update(ftm_t *s, uint64_t key, uint64_t v) {
    bench_consume(ftm_find(s, key));
    uint64_t old;
    BENCH_CHECK(ftk_map_set_value(s->m, key, key, v, &old));
    bench_consume(old);
}
static inline void ftm_insert(ftm_t *s, uint64_t key, uint64_t v) {
    BENCH_CHECK(ftk_map_insert(s->m, key, key, v, 0)); /* stamp 0: only if absent */
}
static inline void ftm_remove(ftm_t *s, uint64_t key) {
    uint64_t old;
    BENCH_CHECK(ftk_map_remove(s->m, key, key, &old));
    bench_consume(old);
}
static size_t ftm_count(ftm_t *s) {
    size_t n;
    BENCH_CHECK(ftk_map_size(s->m, &n));
    return n;
}

/* Same map; update = ftk_map_set_value alone (a C caller that knows the key
 * word needs no find first). */
typedef ftm_t ftmd_t;
#define ftmd_setup ftm_setup
#define ftmd_teardown ftm_teardown
#define ftmd_thread ftm_thread
#define ftmd_thread_end ftm_thread_end
#define ftmd_find ftm_find
#define ftmd_insert ftm_insert
#define ftmd_remove ftm_remove
#define ftmd_count ftm_count
static inline void ftmd_update(ftm_t *s, uint64_t key, uint64_t v) {
    uint64_t old;
    BENCH_CHECK(ftk_map_set_value(s->m, key, key, v, &old));
    bench_consume(old);
}

/* ---- liburcu cds_lfht ------------------------------------------------------- */

typedef struct lfnode {
    struct cds_lfht_node node;
    uint64_t key;
    uint64_t value; /* read/written with __atomic (word, in place) */
    struct rcu_head rcu;
} lfnode;

typedef struct lfh_t {
    struct cds_lfht *ht;
    cursor cur[BENCH_MAX_THREADS];
} lfh_t;

static int lf_match(struct cds_lfht_node *n, const void *key) {
    return caa_container_of(n, lfnode, node)->key == *(const uint64_t *)key;
}
static void lfnode_free(struct rcu_head *h) { free(caa_container_of(h, lfnode, rcu)); }

static inline void lfh_insert(lfh_t *s, uint64_t key, uint64_t v) {
    lfnode *n = malloc(sizeof *n);
    if (n == NULL) bench_fail("malloc", -1);
    cds_lfht_node_init(&n->node);
    n->key = key;
    n->value = v;
    urcu_memb_read_lock();
    struct cds_lfht_node *r =
        cds_lfht_add_unique(s->ht, bench_mix64(key), lf_match, &key, &n->node);
    urcu_memb_read_unlock();
    if (r != &n->node) bench_fail("cds_lfht_add_unique: key present", -1);
}

static void *lfh_setup(int n) {
    UNUSED(n);
    bench_urcu_register_main();
    lfh_t *s = aligned_alloc(BENCH_LINE, sizeof *s);
    if (s == NULL) bench_fail("aligned_alloc", -1);
    memset(s, 0, sizeof *s);
    s->ht = cds_lfht_new_flavor(2048, 1, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (s->ht == NULL) bench_fail("cds_lfht_new_flavor", -1);
    for (uint64_t k = 1; k <= NKEYS; k++) lfh_insert(s, k, k);
    return s;
}
static void lfh_teardown(void *st) {
    lfh_t *s = st;
    struct cds_lfht_iter it;
    lfnode *n;
    urcu_memb_read_lock();
    cds_lfht_for_each_entry(s->ht, &it, n, node) {
        if (cds_lfht_del(s->ht, &n->node) == 0) urcu_memb_call_rcu(&n->rcu, lfnode_free);
    }
    urcu_memb_read_unlock();
    if (cds_lfht_destroy(s->ht, NULL) != 0) bench_fail("cds_lfht_destroy", -1);
    urcu_memb_barrier();
    free(s);
}
static void lfh_thread(void *st) {
    UNUSED(st);
    urcu_memb_register_thread();
}
static void lfh_thread_end(void *st) {
    UNUSED(st);
    urcu_memb_unregister_thread();
}
static inline lfnode *lfh_lookup(lfh_t *s, uint64_t key) { /* inside a read-side section */
    struct cds_lfht_iter it;
    cds_lfht_lookup(s->ht, bench_mix64(key), lf_match, &key, &it);
    struct cds_lfht_node *nd = cds_lfht_iter_get_node(&it);
    if (nd == NULL) bench_fail("cds_lfht_lookup: key missing", -1);
    return caa_container_of(nd, lfnode, node);
}
static inline uint64_t lfh_find(lfh_t *s, uint64_t key) {
    urcu_memb_read_lock();
    uint64_t v = __atomic_load_n(&lfh_lookup(s, key)->value, __ATOMIC_ACQUIRE);
    urcu_memb_read_unlock();
    return v;
}
/* In-place word update, returning the old word like ftk_map_set_value. */
static inline void lfh_update(lfh_t *s, uint64_t key, uint64_t v) {
    urcu_memb_read_lock();
    uint64_t old = __atomic_exchange_n(&lfh_lookup(s, key)->value, v, __ATOMIC_ACQ_REL);
    urcu_memb_read_unlock();
    bench_consume(old);
}
static inline void lfh_remove(lfh_t *s, uint64_t key) {
    urcu_memb_read_lock();
    lfnode *n = lfh_lookup(s, key);
    int r = cds_lfht_del(s->ht, &n->node);
    urcu_memb_read_unlock();
    if (r != 0) bench_fail("cds_lfht_del", r);
    urcu_memb_call_rcu(&n->rcu, lfnode_free);
}
static size_t lfh_count(lfh_t *s) {
    long before, after;
    unsigned long count;
    urcu_memb_read_lock();
    cds_lfht_count_nodes(s->ht, &before, &count, &after);
    urcu_memb_read_unlock();
    return (size_t)count;
}

/* ---- CK ck_ht (SPMC: lock-free readers, one writer at a time) --------------- */

#define CKH_DEFERRED_MAX 64

typedef struct ckh_t {
    ck_ht_t ht;
    struct ck_malloc alloc;
    void *deferred[CKH_DEFERRED_MAX]; /* old tables, freed at teardown */
    int ndeferred;
    _Alignas(BENCH_LINE) ck_spinlock_t wl; /* serialises writers */
    cursor cur[BENCH_MAX_THREADS];
} ckh_t;

static ckh_t *ckh_current; /* the allocator callbacks carry no context */

static void *ckh_malloc(size_t r) { return malloc(r); }
static void *ckh_realloc(void *p, size_t old, size_t r, bool defer) {
    UNUSED(old);
    UNUSED(defer);
    return realloc(p, r);
}
/* ck_ht frees a replaced table with defer = true: readers may still be in
 * it. Without an SMR scheme in this benchmark, keep it until teardown. */
static void ckh_free(void *p, size_t b, bool defer) {
    UNUSED(b);
    if (defer && ckh_current && ckh_current->ndeferred < CKH_DEFERRED_MAX)
        ckh_current->deferred[ckh_current->ndeferred++] = p;
    else if (!defer)
        free(p);
}

static inline void ckh_insert(ckh_t *s, uint64_t key, uint64_t v) {
    ck_ht_hash_t h;
    ck_ht_entry_t e;
    ck_ht_hash_direct(&h, &s->ht, key);
    ck_ht_entry_set_direct(&e, h, key, v);
    ck_spinlock_lock(&s->wl);
    bool ok = ck_ht_put_spmc(&s->ht, h, &e);
    ck_spinlock_unlock(&s->wl);
    if (!ok) bench_fail("ck_ht_put_spmc", -1);
}

static void *ckh_setup(int n) {
    UNUSED(n);
    ckh_t *s = aligned_alloc(BENCH_LINE, sizeof *s);
    if (s == NULL) bench_fail("aligned_alloc", -1);
    memset(s, 0, sizeof *s);
    ckh_current = s;
    s->alloc = (struct ck_malloc){ckh_malloc, ckh_realloc, ckh_free};
    ck_spinlock_init(&s->wl);
    if (!ck_ht_init(&s->ht, CK_HT_MODE_DIRECT | CK_HT_WORKLOAD_DELETE, NULL, &s->alloc, 2048,
                    0x9e3779b97f4a7c15ULL))
        bench_fail("ck_ht_init", -1);
    for (uint64_t k = 1; k <= NKEYS; k++) ckh_insert(s, k, k);
    return s;
}
static void ckh_teardown(void *st) {
    ckh_t *s = st;
    ck_ht_destroy(&s->ht);
    for (int i = 0; i < s->ndeferred; i++) free(s->deferred[i]);
    ckh_current = NULL;
    free(s);
}
#define ckh_thread(st) ((void)(st))
#define ckh_thread_end(st) ((void)(st))
static inline uint64_t ckh_find(ckh_t *s, uint64_t key) {
    ck_ht_hash_t h;
    ck_ht_entry_t e;
    ck_ht_hash_direct(&h, &s->ht, key);
    ck_ht_entry_key_set_direct(&e, key);
    if (!ck_ht_get_spmc(&s->ht, h, &e)) bench_fail("ck_ht_get_spmc: key missing", -1);
    return ck_ht_entry_value_direct(&e);
}
static inline void ckh_update(ckh_t *s, uint64_t key, uint64_t v) {
    ck_ht_hash_t h;
    ck_ht_entry_t e;
    ck_ht_hash_direct(&h, &s->ht, key);
    ck_ht_entry_set_direct(&e, h, key, v);
    ck_spinlock_lock(&s->wl);
    bool ok = ck_ht_set_spmc(&s->ht, h, &e); /* e receives the previous entry */
    ck_spinlock_unlock(&s->wl);
    if (!ok) bench_fail("ck_ht_set_spmc", -1);
    bench_consume(ck_ht_entry_value_direct(&e));
}
static inline void ckh_remove(ckh_t *s, uint64_t key) {
    ck_ht_hash_t h;
    ck_ht_entry_t e;
    ck_ht_hash_direct(&h, &s->ht, key);
    ck_ht_entry_key_set_direct(&e, key);
    ck_spinlock_lock(&s->wl);
    bool ok = ck_ht_remove_spmc(&s->ht, h, &e);
    ck_spinlock_unlock(&s->wl);
    if (!ok) bench_fail("ck_ht_remove_spmc: key missing", -1);
    bench_consume(ck_ht_entry_value_direct(&e));
}
static size_t ckh_count(ckh_t *s) { return (size_t)ck_ht_count(&s->ht); }

/* ---- open addressing under a pthread_mutex / pthread_rwlock ---------------- */

#define OA_SIZE 8192u /* linear probing, load <= 0.2; key 0 = empty */

typedef struct oaslot {
    uint64_t key, value;
} oaslot;

typedef struct oat {
    _Alignas(BENCH_LINE) pthread_mutex_t mu;
    _Alignas(BENCH_LINE) pthread_rwlock_t rw;
    _Alignas(BENCH_LINE) oaslot *s;
    size_t count;
    cursor cur[BENCH_MAX_THREADS];
} oat;

static inline size_t oa_home(uint64_t key) { return bench_mix64(key) & (OA_SIZE - 1); }
static inline oaslot *oa_lookup(oat *t, uint64_t key) {
    for (size_t i = oa_home(key);; i = (i + 1) & (OA_SIZE - 1)) {
        if (t->s[i].key == key) return &t->s[i];
        if (t->s[i].key == 0) return NULL;
    }
}
static inline bool oa_insert(oat *t, uint64_t key, uint64_t v) {
    size_t i = oa_home(key);
    for (; t->s[i].key != 0; i = (i + 1) & (OA_SIZE - 1))
        if (t->s[i].key == key) return false;
    t->s[i] = (oaslot){key, v};
    t->count++;
    return true;
}
/* Backward-shift deletion: no tombstones, so churn never degrades probing. */
static inline bool oa_remove(oat *t, uint64_t key, uint64_t *old) {
    oaslot *p = oa_lookup(t, key);
    if (p == NULL) return false;
    *old = p->value;
    size_t i = (size_t)(p - t->s), j = i;
    for (;;) {
        j = (j + 1) & (OA_SIZE - 1);
        if (t->s[j].key == 0) break;
        size_t k = oa_home(t->s[j].key);
        /* move s[j] back unless its home k lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->s[i] = t->s[j];
            i = j;
        }
    }
    t->s[i].key = 0;
    t->count--;
    return true;
}
static void *oa_setup(int n) {
    UNUSED(n);
    oat *t = aligned_alloc(BENCH_LINE, sizeof *t);
    if (t == NULL) bench_fail("aligned_alloc", -1);
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_rwlock_init(&t->rw, NULL);
    t->s = aligned_alloc(BENCH_LINE, OA_SIZE * sizeof(oaslot));
    if (t->s == NULL) bench_fail("aligned_alloc", -1);
    memset(t->s, 0, OA_SIZE * sizeof(oaslot));
    for (uint64_t k = 1; k <= NKEYS; k++) oa_insert(t, k, k);
    return t;
}
static void oa_teardown(void *st) {
    oat *t = st;
    pthread_mutex_destroy(&t->mu);
    pthread_rwlock_destroy(&t->rw);
    free(t->s);
    free(t);
}
static size_t oa_count(oat *t) { return t->count; }

typedef oat mtx_t;
#define mtx_setup oa_setup
#define mtx_teardown oa_teardown
#define mtx_thread(st) ((void)(st))
#define mtx_thread_end(st) ((void)(st))
#define mtx_count oa_count
static inline uint64_t mtx_find(oat *t, uint64_t key) {
    pthread_mutex_lock(&t->mu);
    oaslot *p = oa_lookup(t, key);
    uint64_t v = p ? p->value : 0;
    pthread_mutex_unlock(&t->mu);
    if (p == NULL) bench_fail("mutex table: key missing", -1);
    return v;
}
static inline void mtx_update(oat *t, uint64_t key, uint64_t v) {
    pthread_mutex_lock(&t->mu);
    oaslot *p = oa_lookup(t, key);
    uint64_t old = 0;
    if (p) {
        old = p->value;
        p->value = v;
    }
    pthread_mutex_unlock(&t->mu);
    if (p == NULL) bench_fail("mutex table: key missing", -1);
    bench_consume(old);
}
static inline void mtx_insert(oat *t, uint64_t key, uint64_t v) {
    pthread_mutex_lock(&t->mu);
    bool ok = oa_insert(t, key, v);
    pthread_mutex_unlock(&t->mu);
    if (!ok) bench_fail("mutex table: insert", -1);
}
static inline void mtx_remove(oat *t, uint64_t key) {
    uint64_t old = 0;
    pthread_mutex_lock(&t->mu);
    bool ok = oa_remove(t, key, &old);
    pthread_mutex_unlock(&t->mu);
    if (!ok) bench_fail("mutex table: remove", -1);
    bench_consume(old);
}

typedef oat rwl_t;
#define rwl_setup oa_setup
#define rwl_teardown oa_teardown
#define rwl_thread(st) ((void)(st))
#define rwl_thread_end(st) ((void)(st))
#define rwl_count oa_count
static inline uint64_t rwl_find(oat *t, uint64_t key) {
    pthread_rwlock_rdlock(&t->rw);
    oaslot *p = oa_lookup(t, key);
    uint64_t v = p ? p->value : 0;
    pthread_rwlock_unlock(&t->rw);
    if (p == NULL) bench_fail("rwlock table: key missing", -1);
    return v;
}
static inline void rwl_update(oat *t, uint64_t key, uint64_t v) {
    pthread_rwlock_wrlock(&t->rw);
    oaslot *p = oa_lookup(t, key);
    uint64_t old = 0;
    if (p) {
        old = p->value;
        p->value = v;
    }
    pthread_rwlock_unlock(&t->rw);
    if (p == NULL) bench_fail("rwlock table: key missing", -1);
    bench_consume(old);
}
static inline void rwl_insert(oat *t, uint64_t key, uint64_t v) {
    pthread_rwlock_wrlock(&t->rw);
    bool ok = oa_insert(t, key, v);
    pthread_rwlock_unlock(&t->rw);
    if (!ok) bench_fail("rwlock table: insert", -1);
}
static inline void rwl_remove(oat *t, uint64_t key) {
    uint64_t old = 0;
    pthread_rwlock_wrlock(&t->rw);
    bool ok = oa_remove(t, key, &old);
    pthread_rwlock_unlock(&t->rw);
    if (!ok) bench_fail("rwlock table: remove", -1);
    bench_consume(old);
}

/* ---- run loops, generated per implementation -------------------------------- */

#define GEN_RUNS(X)                                                                               \
    static MAYBE_UNUSED void X##_tinit(void *st, int tid, int n) {                                \
        UNUSED(tid);                                                                              \
        UNUSED(n);                                                                                \
        X##_thread(st);                                                                           \
    }                                                                                             \
    static MAYBE_UNUSED void X##_tfini(void *st, int tid, int n) {                                \
        UNUSED(tid);                                                                              \
        UNUSED(n);                                                                                \
        X##_thread_end(st);                                                                       \
    }                                                                                             \
    /* 50% find, 50% update of a uniformly random key among the 1000 */                           \
    static MAYBE_UNUSED uint64_t X##_run_mixed(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *s = st;                                                                            \
        bench_rng r;                                                                              \
        bench_rng_seed(&r, (uint64_t)tid + 1);                                                    \
        uint64_t ops = 0;                                                                         \
        while (!bench_should_stop(stop)) {                                                        \
            for (int i = 0; i < BENCH_CHUNK; i++) {                                               \
                uint64_t x = bench_rng_next(&r);                                                  \
                uint64_t key = (x >> 32) % NKEYS + 1;                                             \
                if (x & 1)                                                                        \
                    bench_consume(X##_find(s, key));                                              \
                else                                                                              \
                    X##_update(s, key, x >> 1);                                                   \
            }                                                                                     \
            ops += BENCH_CHUNK;                                                                   \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    /* find only (no writer): the read path alone */                                              \
    static MAYBE_UNUSED uint64_t X##_run_find(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *s = st;                                                                            \
        bench_rng r;                                                                              \
        bench_rng_seed(&r, (uint64_t)tid + 1);                                                    \
        uint64_t ops = 0;                                                                         \
        while (!bench_should_stop(stop)) {                                                        \
            for (int i = 0; i < BENCH_CHUNK; i++)                                                 \
                bench_consume(X##_find(s, (bench_rng_next(&r) >> 32) % NKEYS + 1));               \
            ops += BENCH_CHUNK;                                                                   \
        }                                                                                         \
        return ops;                                                                               \
    }                                                                                             \
    /* churn: insert the key WINDOW ahead, remove the oldest of the window */                     \
    static MAYBE_UNUSED void X##_churn_tinit(void *st, int tid, int n) {                          \
        UNUSED(n);                                                                                \
        X##_t *s = st;                                                                            \
        X##_thread(st);                                                                           \
        s->cur[tid].j = 0;                                                                        \
        for (uint64_t j = 0; j < WINDOW; j++) X##_insert(s, churn_key(tid, j), j);                \
    }                                                                                             \
    static MAYBE_UNUSED void X##_churn_tfini(void *st, int tid, int n) {                          \
        UNUSED(n);                                                                                \
        X##_t *s = st;                                                                            \
        uint64_t j0 = s->cur[tid].j;                                                              \
        for (uint64_t j = j0; j < j0 + WINDOW; j++) X##_remove(s, churn_key(tid, j));             \
        X##_thread_end(st);                                                                       \
    }                                                                                             \
    static MAYBE_UNUSED uint64_t X##_run_churn(void *st, int tid, int n, const bench_stop_t *stop) { \
        UNUSED(n);                                                                                \
        X##_t *s = st;                                                                            \
        uint64_t j = s->cur[tid].j, ops = 0;                                                      \
        while (!bench_should_stop(stop)) {                                                        \
            for (int i = 0; i < BENCH_CHUNK; i++, j++) {                                          \
                X##_insert(s, churn_key(tid, j + WINDOW), j);                                     \
                X##_remove(s, churn_key(tid, j));                                                 \
            }                                                                                     \
            ops += BENCH_CHUNK;                                                                   \
        }                                                                                         \
        s->cur[tid].j = j;                                                                        \
        return ops;                                                                               \
    }                                                                                             \
    static MAYBE_UNUSED int X##_verify(void *st, uint64_t total) {                                \
        UNUSED(total);                                                                            \
        return X##_count((X##_t *)st) == NKEYS ? 0 : -1;                                          \
    }

GEN_RUNS(ftm)
GEN_RUNS(ftmd)
GEN_RUNS(lfh)
GEN_RUNS(ckh)
GEN_RUNS(mtx)
GEN_RUNS(rwl)

#define MIXED(X, label, fam, prim, how)                                                           \
    {label, fam, how, prim, X##_setup, X##_teardown, NULL, X##_tinit, X##_tfini,                  \
     X##_run_mixed, X##_verify}
#define FIND(X, label, fam, prim, how)                                                          \
    {label, fam, how, prim, X##_setup, X##_teardown, NULL, X##_tinit, X##_tfini, X##_run_find,   \
     X##_verify}
#define CHURN(X, label, fam, prim, how)                                                           \
    {label, fam, how, prim, X##_setup, X##_teardown, NULL, X##_churn_tinit,                       \
     X##_churn_tfini, X##_run_churn, X##_verify}

static const bench_impl mixed_impls[] = {
    MIXED(ftm, "ftkit map (find + set_value)", "ftkit", true,
          "find: ftk_map_find(hash, keys, vals, 4) and compare candidate key words; update: "
          "the same find, then ftk_map_set_value(hash, key word) (the binding's protocol)"),
    MIXED(ftmd, "ftkit map (set_value only)", "ftkit", false,
          "find as above; update: ftk_map_set_value(hash, key word) alone"),
    MIXED(lfh, "urcu cds_lfht", "urcu", false,
          "urcu_memb_read_lock; cds_lfht_lookup (fmix64 hash, match on key); value word read "
          "with an acquire load / replaced with an atomic exchange in the node; unlock. "
          "AUTO_RESIZE|ACCOUNTING, 2048 initial buckets"),
    MIXED(ckh, "CK ck_ht (SPMC + writer lock)", "ck", false,
          "ck_ht_get_spmc (lock-free reader); update: ck_ht_set_spmc under one ck_spinlock "
          "(ck_ht allows one writer at a time, so every writer takes the lock, also on 1 "
          "thread). CK_HT_MODE_DIRECT, 2048 initial entries"),
    MIXED(mtx, "pthread_mutex + open addressing", "baseline", false,
          "one pthread_mutex around a linear-probing table of 8192 slots (finds lock too)"),
    MIXED(rwl, "pthread_rwlock + open addressing", "baseline", false,
          "pthread_rwlock: rdlock for find, wrlock for update; same table"),
};
static const bench_impl find_impls[] = {
    FIND(ftm, "ftkit map", "ftkit", true,
         "ftk_map_find(hash, keys, vals, 4) and compare candidate key words"),
    FIND(lfh, "urcu cds_lfht", "urcu", false,
         "urcu_memb_read_lock; cds_lfht_lookup; acquire load of the value word; unlock"),
    FIND(ckh, "CK ck_ht (SPMC)", "ck", false, "ck_ht_get_spmc (no lock)"),
    FIND(mtx, "pthread_mutex + open addressing", "baseline", false,
         "pthread_mutex around the lookup"),
    FIND(rwl, "pthread_rwlock + open addressing", "baseline", false,
         "pthread_rwlock_rdlock around the lookup"),
};
static const bench_impl churn_impls[] = {
    CHURN(ftm, "ftkit map", "ftkit", true,
          "ftk_map_insert(hash, key, value, stamp 0 = only if absent) + "
          "ftk_map_remove(hash, key) (node freed through ftkit's EBR)"),
    CHURN(lfh, "urcu cds_lfht", "urcu", false,
          "malloc node + cds_lfht_add_unique in a read-side section; remove: lookup + "
          "cds_lfht_del in a read-side section, then urcu_memb_call_rcu(free)"),
    CHURN(ckh, "CK ck_ht (SPMC + writer lock)", "ck", false,
          "ck_ht_put_spmc / ck_ht_remove_spmc, each under the writer spinlock "
          "(CK_HT_WORKLOAD_DELETE: tombstones are reused)"),
    CHURN(mtx, "pthread_mutex + open addressing", "baseline", false,
          "insert / backward-shift delete under one pthread_mutex"),
    CHURN(rwl, "pthread_rwlock + open addressing", "baseline", false,
          "insert / delete under the write lock"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const bench_workload workloads[] = {
    {"map.find_update", "50% find, 50% update of a random key among 1,000 pre-inserted",
     {1, 2}, mixed_impls, N(mixed_impls)},
    {"map.find", "one find of a random key among 1,000 (read-only: the read path alone)",
     {1, 2}, find_impls, N(find_impls)},
    {"map.churn", "one insert of a new key + one remove of an old key (a thread keeps 256 "
                  "of its own keys inserted, besides the 1,000)",
     {1, 2}, churn_impls, N(churn_impls)},
};

const bench_workload *bench_map_workloads(size_t *n) {
    *n = N(workloads);
    return workloads;
}
