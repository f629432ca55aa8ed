/* bench_common.c - the node pool and error exit of the C benchmark suite. */
#include "bench_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_BATCH 256

_Noreturn void bench_fail(const char *what, int status) {
    fprintf(stderr, "bench: %s failed with status %d\n", what, status);
    exit(2);
}

typedef struct batch {
    void *head;
    size_t n;
} batch;

struct bench_pool {
    size_t size;
    uint64_t gen; /* tells a thread's cache of an older pool apart */
    pthread_mutex_t lock;
    batch *depot; /* stack of free batches */
    size_t ndepot, capdepot;
    void **chunks;
    size_t nchunks, capchunks;
};

static _Atomic uint64_t pool_gen = 1;

/* The calling thread's free list for the pool of generation `gen`. */
static _Thread_local struct {
    uint64_t gen;
    void *head;
    size_t n;
} tl;

static inline void **link_of(void *o) { return (void **)o; }

bench_pool *bench_pool_new(size_t obj_size) {
    bench_pool *p = calloc(1, sizeof *p);
    if (p == NULL) bench_fail("calloc(pool)", -1);
    p->size = (obj_size + 15) & ~(size_t)15;
    if (p->size < 16) p->size = 16;
    p->gen = atomic_fetch_add(&pool_gen, 1);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void bench_pool_free(bench_pool *p) {
    if (p == NULL) return;
    for (size_t i = 0; i < p->nchunks; i++) free(p->chunks[i]);
    free(p->chunks);
    free(p->depot);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void depot_push(bench_pool *p, void *head, size_t n) {
    if (p->ndepot == p->capdepot) {
        p->capdepot = p->capdepot ? 2 * p->capdepot : 64;
        p->depot = realloc(p->depot, p->capdepot * sizeof *p->depot);
        if (p->depot == NULL) bench_fail("realloc(depot)", -1);
    }
    p->depot[p->ndepot++] = (batch){head, n};
}

/* Refill the calling thread's list: a batch from the depot or a new chunk. */
static void refill(bench_pool *p) {
    pthread_mutex_lock(&p->lock);
    if (p->ndepot > 0) {
        batch b = p->depot[--p->ndepot];
        pthread_mutex_unlock(&p->lock);
        tl.head = b.head;
        tl.n = b.n;
        return;
    }
    char *c = aligned_alloc(64, POOL_BATCH * p->size);
    if (c == NULL) bench_fail("aligned_alloc(chunk)", -1);
    memset(c, 0, POOL_BATCH * p->size);
    if (p->nchunks == p->capchunks) {
        p->capchunks = p->capchunks ? 2 * p->capchunks : 64;
        p->chunks = realloc(p->chunks, p->capchunks * sizeof *p->chunks);
        if (p->chunks == NULL) bench_fail("realloc(chunks)", -1);
    }
    p->chunks[p->nchunks++] = c;
    pthread_mutex_unlock(&p->lock);
    void *head = NULL;
    for (size_t i = POOL_BATCH; i-- > 0;) {
        void *o = c + i * p->size;
        *link_of(o) = head;
        head = o;
    }
    tl.head = head;
    tl.n = POOL_BATCH;
}

static inline void bind(bench_pool *p) {
    if (tl.gen != p->gen) { /* a cache of a destroyed pool: drop it */
        tl.gen = p->gen;
        tl.head = NULL;
        tl.n = 0;
    }
}

void *bench_pool_get(bench_pool *p) {
    bind(p);
    if (tl.n == 0) refill(p);
    void *o = tl.head;
    tl.head = *link_of(o);
    tl.n--;
    return o;
}

void bench_pool_put(bench_pool *p, void *obj) {
    bind(p);
    if (tl.n == POOL_BATCH) {
        pthread_mutex_lock(&p->lock);
        depot_push(p, tl.head, tl.n);
        pthread_mutex_unlock(&p->lock);
        tl.head = NULL;
        tl.n = 0;
    }
    *link_of(obj) = tl.head;
    tl.head = obj;
    tl.n++;
}

void bench_pool_thread_flush(bench_pool *p) {
    bind(p);
    if (tl.n == 0) return;
    pthread_mutex_lock(&p->lock);
    depot_push(p, tl.head, tl.n);
    pthread_mutex_unlock(&p->lock);
    tl.head = NULL;
    tl.n = 0;
}
