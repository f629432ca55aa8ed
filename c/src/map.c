/*
 * map.c - concurrent hash index (see ftkit/map.h for the contract).
 *
 * Structure. A table is a power-of-two array of buckets; a bucket is
 * {head, ver}: `head` is a pointer to a singly linked chain of nodes with two
 * flag bits (LOCKED, MOVED), `ver` counts the inserts made into this bucket
 * (and its ancestors, see resize). A node is {hash, key, value, next, ver}
 * where ver is the bucket version its insert produced. New nodes go to the
 * head, so every chain is sorted by ver, newest first. The bucket index is
 * the top bits of mix(hash) (a bijective mixer), so doubling the table splits
 * bucket i into 2i and 2i+1 and the order of buckets is the order of mix(hash)
 * in every table size (iteration cursors use that).
 *
 * Reads take no lock: load ver (acquire), load head (acquire), walk the chain.
 * A node's hash/key/ver are immutable and published by the release that links
 * it; its value is an atomic word. Removal unlinks a node by one release
 * store (pred->next or head) and never changes the removed node, so a reader
 * standing on it still reaches the rest of the chain: a walk sees every node
 * present throughout the walk. Unlinked nodes are freed through EBR.
 *
 * Writes lock one bucket: CAS the LOCKED bit into head (spin, then yield).
 * Everything that changes a chain, a value or a bucket version happens under
 * that lock, and the unlock is the release store of the new head.
 *
 * Stamps. find returns stamp = max(bucket ver read before the walk, ver of the
 * newest candidate). insert(stamp) succeeds iff, under the lock, no node with
 * the same hash has ver > stamp (chains are sorted, so it only looks at the
 * nodes newer than the stamp: usually none). Why that is exact: a node with
 * ver <= bucket ver V was linked before V was stored (insert links, then
 * stores ver, release), so a reader that acquired V sees it if it is still
 * there; a node with ver <= the newest candidate's ver was linked before that
 * candidate and sits after it in the chain, so the reader walked over it too.
 * Hence every entry with this hash that is still present at the insert and
 * has ver <= stamp was a candidate the caller compared as unequal.
 *
 * Resize. When an insert finds a crowded bucket (>= 2 nodes) and the size
 * passes 0.75 * buckets, it allocates a table 2x (4x if far behind) larger and
 * publishes it in old->next. Writers that see old->next claim chunks of
 * buckets (atomic counter) and migrate them: lock the old bucket, CLONE its
 * nodes in order into the new buckets (which inherit the old bucket's ver, so
 * stamps stay comparable and chains stay sorted), then store old head | MOVED
 * (release, also the unlock). The old chain is left intact for readers that
 * are already walking it. Readers and writers that meet MOVED go to
 * old->next. The thread that completes the last chunk publishes the new
 * table in map->table and retires the old table (and with it the old
 * chains) through EBR. Values are only written under the bucket lock, so a
 * clone can never miss an update. One resize at a time per map.
 *
 * Reclamation: every call runs inside ftk_ebr_enter/exit; what it unlinks is
 * retired after the exit (ftk_ebr_retire scans only outside sections).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define B_LOCKED ((uintptr_t)1)
#define B_MOVED ((uintptr_t)2)
#define B_FLAGS (B_LOCKED | B_MOVED)

#define MIN_LOG 3        /* 8 buckets */
#define MAX_LOG 40       /* 2**40 buckets: never reached in practice */
#define CHUNK 64         /* buckets migrated per claim */
#define INITIATOR_CHUNKS 4 /* chunks the thread that starts a resize migrates */
#define NCELLS 16        /* size counter stripes (power of two) */

typedef struct node {
    uint64_t hash;
    uint64_t key;
    _Atomic uint64_t value;
    _Atomic(struct node *) next;
    uint64_t ver;
    uint64_t gen; /* the map's clear_gen when inserted (drain passes) */
} node;

typedef struct bucket {
    _Atomic uintptr_t head; /* node* | B_LOCKED | B_MOVED */
    _Atomic uint64_t ver;
} bucket;

typedef struct table {
    unsigned shift;          /* 64 - log2(nb) */
    size_t nb;
    _Atomic(struct table *) next; /* resize target, NULL if none */
    char pad0[FTK_CACHE_LINE];
    _Atomic size_t claim;    /* next bucket to hand out for migration */
    _Atomic size_t done;     /* buckets migrated */
    char pad1[FTK_CACHE_LINE];
    bucket b[];
} table;

typedef struct cell {
    _Atomic int64_t v;
    char pad[FTK_CACHE_LINE - sizeof(int64_t)];
} cell;

typedef struct map {
    ftk_handle_t handle; /* ftk_obj header (internal.h) */
    _Atomic(table *) table;
    _Atomic(cell *) cells;       /* NULL until the base counter is contended */
    _Atomic uint64_t drain_pos;  /* where the last drain stopped (hint) */
    _Atomic uint64_t clear_gen;  /* bumped by each drain pass (read-mostly) */
    char pad0[FTK_CACHE_LINE];
    _Atomic int64_t base;        /* size counter while uncontended */
    char pad1[FTK_CACHE_LINE];
} map;

/* What a call unlinked: retired after ftk_ebr_exit. */
typedef struct opctx {
    node *dead;     /* one removed node */
    table *old[2];  /* tables whose migration this call completed: at most
                     * one in writer_table and one in maybe_grow */
    int nold;
} opctx;
#define OPCTX_INIT {NULL, {NULL, NULL}, 0}

/* ---- helpers ----------------------------------------------------------- */

/* Bijective mixer (the first steps of murmur3's fmix64); only the top bits
 * are used for bucket indices, and its full value orders iteration. */
static inline uint64_t mixh(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h;
}

static inline node *ptr_of(uintptr_t w) { return (node *)(w & ~B_FLAGS); }

static table *table_new(unsigned log) {
    size_t nb = (size_t)1 << log;
    /* calloc: all-zero bytes are a valid 0 / NULL for these lock-free atomics
     * on every supported target; the table is published by a release. */
    table *t = calloc(1, sizeof(table) + nb * sizeof(bucket));
    if (t == NULL) return NULL;
    t->shift = 64 - log;
    t->nb = nb;
    return t;
}

static void free_chain(node *n) {
    while (n) {
        node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
        free(n);
        n = next;
    }
}

/* Free a table and every chain it holds (MOVED buckets keep their old
 * chain, whose nodes belong to this table: the new table has clones). */
static void table_destroy(void *p) {
    table *t = p;
    for (size_t i = 0; i < t->nb; i++)
        free_chain(ptr_of(atomic_load_explicit(&t->b[i].head, memory_order_relaxed)));
    free(t);
}

static void map_destroy(void *p) {
    map *m = p;
    table *t = atomic_load_explicit(&m->table, memory_order_relaxed);
    /* A resize may have been left half done: free both tables (disjoint
     * nodes, since migration clones). Tables already replaced were retired
     * on their own. */
    table *nt = atomic_load_explicit(&t->next, memory_order_relaxed);
    if (nt) table_destroy(nt);
    table_destroy(t);
    free(atomic_load_explicit(&m->cells, memory_order_relaxed));
    free(m);
}

/* Validate the handle; the caller is inside an EBR section (ftk_obj_get:
 * the check against an entry recycled for another map between the lookup
 * and the read of obj, a race in the caller). */
static inline map *get_map(ftk_handle_t h) { return ftk_obj_get(h, FTK_KIND_MAP); }

/* FTK_OK for a live map handle, else FTK_EBADHANDLE: for calls that have
 * nothing to do (0 items) but must still report a bad handle. */
static int check_map(ftk_handle_t h) {
    ftk_thread *self_ = ftk_thread_self();
    ftk_ebr_enter_t(self_);
    int st = get_map(h) ? FTK_OK : FTK_EBADHANDLE;
    ftk_ebr_exit_t(self_);
    return st;
}

static void ctx_flush(opctx *cx) {
    if (cx->dead) ftk_ebr_retire(cx->dead, free);
    for (int i = 0; i < cx->nold; i++) ftk_ebr_retire(cx->old[i], table_destroy);
}

/* ---- size counter -------------------------------------------------------- */

static inline size_t cell_index(void) {
    /* The thread record's address tells threads apart for free. */
    uint64_t a = (uint64_t)(uintptr_t)ftk_thread_self();
    return (size_t)((a * 0x9e3779b97f4a7c15ULL) >> 60) & (NCELLS - 1);
}

/* relaxed throughout: the count is a statistic; exactness is promised only
 * once the writers' effects are visible to the caller by other means. */
static void count_add(map *m, int64_t d) {
    cell *c = atomic_load_explicit(&m->cells, memory_order_acquire);
    if (c == NULL) {
        int64_t v = atomic_load_explicit(&m->base, memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&m->base, &v, v + d,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed))
            return;
        /* Contended: stripe the counter from now on. */
        cell *fresh = aligned_alloc(FTK_CACHE_LINE, NCELLS * sizeof(cell));
        if (fresh == NULL) {
            atomic_fetch_add_explicit(&m->base, d, memory_order_relaxed);
            return;
        }
        for (int i = 0; i < NCELLS; i++) atomic_init(&fresh[i].v, 0);
        cell *none = NULL;
        /* acq_rel: publish the zeroed cells / see the winner's */
        if (atomic_compare_exchange_strong_explicit(&m->cells, &none, fresh,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            c = fresh;
        } else {
            free(fresh);
            c = none;
        }
    }
    atomic_fetch_add_explicit(&c[cell_index()].v, d, memory_order_relaxed);
}

static int64_t count_sum(map *m) {
    int64_t s = atomic_load_explicit(&m->base, memory_order_relaxed);
    cell *c = atomic_load_explicit(&m->cells, memory_order_acquire);
    if (c)
        for (int i = 0; i < NCELLS; i++)
            s += atomic_load_explicit(&c[i].v, memory_order_relaxed);
    return s;
}

/* ---- bucket locks -------------------------------------------------------- */

/* Lock a bucket: returns its head word without flags, or a word with
 * B_MOVED set if the bucket has been migrated (then nothing is locked). */
static uintptr_t bucket_lock(bucket *b) {
    unsigned spins = 0;
    for (;;) {
        /* acquire: a MOVED word publishes the new table's buckets */
        uintptr_t w = atomic_load_explicit(&b->head, memory_order_acquire);
        if (w & B_MOVED) return w;
        /* acquire on success: see what the previous holder wrote */
        if (!(w & B_LOCKED) &&
            atomic_compare_exchange_weak_explicit(&b->head, &w, w | B_LOCKED,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return w;
        ftk_spin_wait(&spins); /* yields after 64: the holder may be preempted */
    }
}

/* release: unlock and publish the chain (and values) written under the lock */
static inline void bucket_unlock(bucket *b, node *head) {
    atomic_store_explicit(&b->head, (uintptr_t)head, memory_order_release);
}

/* ---- resize -------------------------------------------------------------- */

/* Migrate old bucket i of t into nt. The caller owns the claim on i, so the
 * bucket is not MOVED yet. */
static void migrate_bucket(table *t, table *nt, size_t i) {
    bucket *ob = &t->b[i];
    unsigned f_log = t->shift - nt->shift; /* 1 or 2 */
    size_t f = (size_t)1 << f_log, base = i << f_log;
    for (;;) {
        uintptr_t w = bucket_lock(ob);
        node *heads[4] = {NULL, NULL, NULL, NULL}, *tails[4] = {NULL, NULL, NULL, NULL};
        int failed = 0;
        /* relaxed loads of next/value: we hold the lock, so every writer of
         * this chain happened before us */
        for (node *n = ptr_of(w); n; n = atomic_load_explicit(&n->next, memory_order_relaxed)) {
            node *c = malloc(sizeof *c);
            if (c == NULL) {
                failed = 1;
                break;
            }
            c->hash = n->hash;
            c->key = n->key;
            c->ver = n->ver;
            c->gen = n->gen;
            atomic_init(&c->value, atomic_load_explicit(&n->value, memory_order_relaxed));
            atomic_init(&c->next, NULL);
            size_t j = (size_t)(mixh(n->hash) >> nt->shift) - base;
            if (tails[j])
                atomic_store_explicit(&tails[j]->next, c, memory_order_relaxed);
            else
                heads[j] = c;
            tails[j] = c;
        }
        if (failed) {
            for (size_t j = 0; j < f; j++) free_chain(heads[j]);
            bucket_unlock(ob, ptr_of(w));
            /* Out of memory mid-resize: nothing changed; wait and retry.
             * Only this helper waits; everyone else keeps using the bucket. */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        uint64_t v = atomic_load_explicit(&ob->ver, memory_order_relaxed);
        for (size_t j = 0; j < f; j++) {
            /* relaxed ver: published by the release stores below */
            atomic_store_explicit(&nt->b[base + j].ver, v, memory_order_relaxed);
            atomic_store_explicit(&nt->b[base + j].head, (uintptr_t)heads[j],
                                  memory_order_release);
        }
        /* release: forward (and unlock); the old chain stays for readers */
        atomic_store_explicit(&ob->head, w | B_MOVED, memory_order_release);
        return;
    }
}

/* Migrate up to `chunks` chunks of t (which must be m's current table). */
static void help_resize(map *m, table *t, int chunks, opctx *cx) {
    table *nt = atomic_load_explicit(&t->next, memory_order_acquire);
    if (nt == NULL) return;
    while (chunks-- > 0) {
        /* relaxed: the claim only partitions work; buckets are locked */
        size_t i = atomic_fetch_add_explicit(&t->claim, CHUNK, memory_order_relaxed);
        if (i >= t->nb) return;
        size_t end = i + CHUNK < t->nb ? i + CHUNK : t->nb;
        for (size_t j = i; j < end; j++) migrate_bucket(t, nt, j);
        /* acq_rel: the thread that completes the count has seen (through the
         * release sequence) every migration, and publishes them below */
        size_t d = atomic_fetch_add_explicit(&t->done, end - i, memory_order_acq_rel);
        if (d + (end - i) == t->nb) {
            atomic_store_explicit(&m->table, nt, memory_order_release);
            cx->old[cx->nold++] = t;
            return;
        }
    }
}

/* Called by insert after it added to a crowded bucket of table t. */
static void maybe_grow(map *m, table *t, opctx *cx) {
    if (atomic_load_explicit(&m->table, memory_order_acquire) != t) return;
    if (atomic_load_explicit(&t->next, memory_order_acquire) != NULL) return;
    int64_t cnt = count_sum(m);
    if (cnt <= 0 || (size_t)cnt <= t->nb / 4 * 3) return;
    unsigned log = 64 - t->shift;
    if (log >= MAX_LOG) return;
    /* Far behind (e.g. the trigger was late): quadruple. */
    unsigned step = ((size_t)cnt > t->nb + t->nb / 2 && log + 2 <= MAX_LOG) ? 2 : 1;
    table *nt = table_new(log + step);
    if (nt == NULL) return; /* keep going with longer chains */
    table *none = NULL;
    /* seq_cst CAS publishes the zeroed table; one resize at a time */
    if (!atomic_compare_exchange_strong(&t->next, &none, nt)) {
        free(nt);
        return;
    }
    help_resize(m, t, INITIATOR_CHUNKS, cx);
}

/* Writers call this first: migrate one chunk if a resize is under way. */
static inline table *writer_table(map *m, opctx *cx) {
    table *t = atomic_load_explicit(&m->table, memory_order_acquire);
    if (__builtin_expect(atomic_load_explicit(&t->next, memory_order_acquire) != NULL, 0)) {
        help_resize(m, t, 1, cx);
        t = atomic_load_explicit(&m->table, memory_order_acquire);
    }
    return t;
}

/* Lock the bucket of mixed hash mh in the newest table that holds it. */
static bucket *lock_hash(table *t, uint64_t mh, node **head, table **tout) {
    for (;;) {
        bucket *b = &t->b[mh >> t->shift];
        uintptr_t w = bucket_lock(b);
        if (w & B_MOVED) {
            t = atomic_load_explicit(&t->next, memory_order_acquire);
            continue;
        }
        *head = ptr_of(w);
        if (tout) *tout = t;
        return b;
    }
}

/* Under the bucket lock: the node (hash, key) and its predecessor. */
static node *locate(node *head, uint64_t hash, uint64_t key, node **pred) {
    node *p = NULL;
    /* relaxed: we hold the lock */
    for (node *n = head; n; p = n, n = atomic_load_explicit(&n->next, memory_order_relaxed))
        if (n->hash == hash && n->key == key) {
            *pred = p;
            return n;
        }
    return NULL;
}

/* ---- reads --------------------------------------------------------------- */

/* Read-side bucket resolution: the chain holding mixed hash mh, and the
 * bucket version read before it. */
static node *read_bucket(map *m, uint64_t mh, uint64_t *ver, table **tout) {
    table *t = atomic_load_explicit(&m->table, memory_order_acquire);
    for (;;) {
        bucket *b = &t->b[mh >> t->shift];
        /* acquire, and before the head: see every node linked before ver */
        uint64_t v = atomic_load_explicit(&b->ver, memory_order_acquire);
        uintptr_t w = atomic_load_explicit(&b->head, memory_order_acquire);
        if (w & B_MOVED) {
            t = atomic_load_explicit(&t->next, memory_order_acquire);
            continue;
        }
        *ver = v;
        if (tout) *tout = t;
        return ptr_of(w);
    }
}

/* Walk the chain for `hash`: store up to max candidates, return the count,
 * *stamp = max(bucket ver, newest candidate's ver). */
static size_t collect(node *n, uint64_t hash, uint64_t ver, uint64_t *keys,
                      uint64_t *values, size_t max, uint64_t *stamp) {
    size_t c = 0;
    for (; n; n = atomic_load_explicit(&n->next, memory_order_acquire)) {
        if (n->hash != hash) continue;
        if (c == 0 && n->ver > ver) ver = n->ver; /* newest comes first */
        if (c < max) {
            keys[c] = n->key;
            /* acquire: pairs with the release that stored the word */
            values[c] = atomic_load_explicit(&n->value, memory_order_acquire);
        }
        c++;
    }
    *stamp = ver;
    return c;
}

int ftk_map_find(ftk_handle_t h, int64_t shash, uint64_t *keys, uint64_t *values,
                 size_t max, size_t *n, uint64_t *stamp) {
    uint64_t hash = (uint64_t)shash; /* a hash is its 64 bits (map.h) */
    ftk_thread *self_ = ftk_thread_self();
    if (n == NULL || (max > 0 && (keys == NULL || values == NULL))) return FTK_EINVAL;
    map *m = ftk_obj_enter_t(self_, h, FTK_KIND_MAP); /* leaves the section on failure */
    if (m == NULL) return FTK_EBADHANDLE;
    uint64_t ver, st;
    node *head = read_bucket(m, mixh(hash), &ver, NULL);
    size_t c = collect(head, hash, ver, keys, values, max, &st);
    ftk_ebr_exit_t(self_);
    *n = c;
    if (stamp) *stamp = st;
    return c > max ? FTK_EOVERFLOW : FTK_OK;
}

int ftk_map_find_many(ftk_handle_t h, const int64_t *hashes, size_t count,
                      uint64_t *keys, uint64_t *values, uint64_t *ncand,
                      uint64_t *stamps) {
    ftk_thread *self_ = ftk_thread_self();
    if (count > 0 && (hashes == NULL || keys == NULL || values == NULL || ncand == NULL))
        return FTK_EINVAL;
    map *m = ftk_obj_enter_t(self_, h, FTK_KIND_MAP); /* leaves the section on failure */
    if (m == NULL) return FTK_EBADHANDLE;
    for (size_t i = 0; i < count; i++) {
        uint64_t ver, st;
        node *head = read_bucket(m, mixh((uint64_t)hashes[i]), &ver, NULL);
        keys[i] = values[i] = 0;
        ncand[i] = collect(head, (uint64_t)hashes[i], ver, &keys[i], &values[i], 1, &st);
        if (stamps) stamps[i] = st;
    }
    ftk_ebr_exit_t(self_);
    return FTK_OK;
}

int ftk_map_size(ftk_handle_t h, size_t *out) {
    ftk_thread *self_ = ftk_thread_self();
    if (out == NULL) return FTK_EINVAL;
    ftk_ebr_enter_t(self_);
    map *m = get_map(h);
    int64_t s = m ? count_sum(m) : 0;
    ftk_ebr_exit_t(self_);
    if (m == NULL) return FTK_EBADHANDLE;
    /* transiently negative when a remove is counted before its insert */
    *out = s > 0 ? (size_t)s : 0;
    return FTK_OK;
}

int ftk_map_capacity(ftk_handle_t h, size_t *out) {
    ftk_thread *self_ = ftk_thread_self();
    if (out == NULL) return FTK_EINVAL;
    ftk_ebr_enter_t(self_);
    map *m = get_map(h);
    size_t nb = m ? atomic_load_explicit(&m->table, memory_order_acquire)->nb : 0;
    ftk_ebr_exit_t(self_);
    if (m == NULL) return FTK_EBADHANDLE;
    *out = nb;
    return FTK_OK;
}

/* ---- writes -------------------------------------------------------------- */

/* Under the lock of bucket b (of table t), whose chain is head: link the
 * initialised node nn (all but ver/next/gen) at the front, unlock, count it
 * and grow if the bucket was crowded. */
static void link_new(map *m, table *t, bucket *b, node *head, node *nn, opctx *cx) {
    /* relaxed: a pass that starts concurrently may or may not take it */
    nn->gen = atomic_load_explicit(&m->clear_gen, memory_order_relaxed);
    /* relaxed: we hold the lock; the new ver is published below */
    uint64_t v = atomic_load_explicit(&b->ver, memory_order_relaxed) + 1;
    nn->ver = v;
    atomic_init(&nn->next, head);
    /* Link first (still locked), then bump ver, then unlock: a reader that
     * acquires the new ver is guaranteed to see the node. release: node
     * fields are initialised before it becomes reachable. */
    atomic_store_explicit(&b->head, (uintptr_t)nn | B_LOCKED, memory_order_release);
    atomic_store_explicit(&b->ver, v, memory_order_release);
    int crowded = head != NULL &&
                  atomic_load_explicit(&head->next, memory_order_relaxed) != NULL;
    bucket_unlock(b, nn);
    count_add(m, 1);
    if (crowded) maybe_grow(m, t, cx);
}

/* Body of insert; the caller is in a section and has validated m. */
static int do_insert(map *m, uint64_t hash, uint64_t key, uint64_t value,
                              uint64_t stamp, opctx *cx) {
    node *nn = malloc(sizeof *nn);
    if (nn == NULL) return FTK_ENOMEM;
    nn->hash = hash;
    nn->key = key;
    atomic_init(&nn->value, value);
    table *t = writer_table(m, cx);
    uint64_t mh = mixh(hash);
    node *head;
    bucket *b = lock_hash(t, mh, &head, &t);
    /* Conflict check: only nodes newer than the stamp (chains are sorted). */
    for (node *n = head; n && n->ver > stamp;
         n = atomic_load_explicit(&n->next, memory_order_relaxed)) { /* locked */
        if (n->hash == hash) {
            bucket_unlock(b, head);
            free(nn);
            return FTK_EAGAIN;
        }
    }
    link_new(m, t, b, head, nn, cx);
    return FTK_OK;
}

int ftk_map_insert(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value,
                   uint64_t stamp) {
    ftk_thread *self_ = ftk_thread_self();
    opctx cx = OPCTX_INIT;
    ftk_ebr_enter_t(self_);
    map *m = get_map(h);
    int st = m ? do_insert(m, (uint64_t)hash, key, value, stamp, &cx) : FTK_EBADHANDLE;
    ftk_ebr_exit_t(self_);
    ctx_flush(&cx);
    return st;
}

int ftk_map_insert_many(ftk_handle_t h, const int64_t *hashes, const uint64_t *keys,
                        const uint64_t *values, const uint64_t *stamps, size_t count,
                        int *status) {
    if (count > 0 && (hashes == NULL || keys == NULL || values == NULL || stamps == NULL))
        return FTK_EINVAL;
    if (count == 0) return check_map(h);
    ftk_thread *self_ = ftk_thread_self();
    int first = FTK_OK;
    for (size_t i = 0; i < count; i++) {
        /* One section per item: a resize completed by item i is retired
         * (and can be reclaimed) before item i+1. */
        opctx cx = OPCTX_INIT;
        ftk_ebr_enter_t(self_);
        map *m = get_map(h);
        int st = m ? do_insert(m, (uint64_t)hashes[i], keys[i], values[i], stamps[i], &cx)
                   : FTK_EBADHANDLE;
        ftk_ebr_exit_t(self_);
        ctx_flush(&cx);
        if (status) status[i] = st;
        if (st != FTK_OK && first == FTK_OK) first = st;
        if (st == FTK_EBADHANDLE) {
            for (size_t j = i + 1; status && j < count; j++) status[j] = st;
            break;
        }
    }
    return first;
}

/* Body of put; the caller is in a section and has validated m. One bucket
 * lock covers the search and the change, so "replace (hash, key)", "add:
 * no entry has hash" and "refuse: other keys have hash" are each atomic. */
static int do_put(map *m, uint64_t hash, uint64_t key, uint64_t value, uint64_t *old,
                  int *added, opctx *cx) {
    node *nn = NULL;
    for (;;) {
        table *t = writer_table(m, cx);
        uint64_t mh = mixh(hash);
        node *head;
        bucket *b = lock_hash(t, mh, &head, &t);
        node *other = NULL;
        size_t others = 0;
        /* relaxed: we hold the lock (values and links change only under it) */
        for (node *n = head; n; n = atomic_load_explicit(&n->next, memory_order_relaxed)) {
            if (n->hash != hash) continue;
            if (n->key == key) {
                *old = atomic_load_explicit(&n->value, memory_order_relaxed);
                /* release: readers that load the word see what preceded it */
                atomic_store_explicit(&n->value, value, memory_order_release);
                bucket_unlock(b, head);
                free(nn);
                *added = 0;
                return FTK_OK;
            }
            if (others++ == 0) other = n; /* the newest: chains are newest first */
        }
        if (others) {
            *old = others == 1 ? atomic_load_explicit(&other->value, memory_order_relaxed) : 0;
            bucket_unlock(b, head);
            free(nn);
            *added = 0;
            return others == 1 ? FTK_EAGAIN : FTK_EOVERFLOW;
        }
        if (nn == NULL) {
            /* Allocate outside the lock, then look again: the bucket may have
             * changed while it was released. */
            bucket_unlock(b, head);
            nn = malloc(sizeof *nn);
            if (nn == NULL) return FTK_ENOMEM;
            nn->hash = hash;
            nn->key = key;
            atomic_init(&nn->value, value);
            continue;
        }
        link_new(m, t, b, head, nn, cx);
        *old = 0;
        *added = 1;
        return FTK_OK;
    }
}

int ftk_map_put(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value, uint64_t *old,
                int *added) {
    uint64_t o = 0;
    int a = 0;
    ftk_thread *self_ = ftk_thread_self();
    opctx cx = OPCTX_INIT;
    ftk_ebr_enter_t(self_);
    map *m = get_map(h);
    int st = m ? do_put(m, (uint64_t)hash, key, value, &o, &a, &cx) : FTK_EBADHANDLE;
    ftk_ebr_exit_t(self_);
    ctx_flush(&cx);
    if (old) *old = o;
    if (added) *added = a;
    return st;
}

enum { OP_SET, OP_CAS, OP_REMOVE, OP_REMOVE_IF };

/* set_value / cas_value / remove / remove_if on entry (hash, key). */
static int entry_op(map *m, int op, uint64_t hash, uint64_t key, uint64_t expected,
                    uint64_t desired, uint64_t *out, opctx *cx) {
    table *t = writer_table(m, cx);
    node *head, *pred = NULL;
    bucket *b = lock_hash(t, mixh(hash), &head, NULL);
    node *n = locate(head, hash, key, &pred);
    if (n == NULL) {
        bucket_unlock(b, head);
        return FTK_ENOTFOUND;
    }
    /* relaxed: values are written only under this lock */
    uint64_t cur = atomic_load_explicit(&n->value, memory_order_relaxed);
    if (out) *out = cur;
    if ((op == OP_CAS || op == OP_REMOVE_IF) && cur != expected) {
        bucket_unlock(b, head);
        return FTK_EAGAIN;
    }
    if (op == OP_SET || op == OP_CAS) {
        /* release: readers that load the word see what preceded it */
        atomic_store_explicit(&n->value, desired, memory_order_release);
        bucket_unlock(b, head);
        return FTK_OK;
    }
    /* Unlink: one release store; n keeps its next for readers on it. */
    node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
    if (pred) {
        atomic_store_explicit(&pred->next, next, memory_order_release);
        bucket_unlock(b, head);
    } else {
        bucket_unlock(b, next);
    }
    count_add(m, -1);
    cx->dead = n;
    return FTK_OK;
}

static int entry_call(ftk_handle_t h, int op, uint64_t hash, uint64_t key,
                      uint64_t expected, uint64_t desired, uint64_t *out) {
    ftk_thread *self_ = ftk_thread_self();
    opctx cx = OPCTX_INIT;
    ftk_ebr_enter_t(self_);
    map *m = get_map(h);
    int st = m ? entry_op(m, op, hash, key, expected, desired, out, &cx) : FTK_EBADHANDLE;
    ftk_ebr_exit_t(self_);
    ctx_flush(&cx);
    return st;
}

int ftk_map_set_value(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value,
                      uint64_t *old) {
    return entry_call(h, OP_SET, (uint64_t)hash, key, 0, value, old);
}

int ftk_map_cas_value(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t expected,
                      uint64_t desired, uint64_t *actual) {
    return entry_call(h, OP_CAS, (uint64_t)hash, key, expected, desired, actual);
}

int ftk_map_cas_value_many(ftk_handle_t h, const int64_t *hashes, const uint64_t *keys,
                           const uint64_t *expected, const uint64_t *desired, size_t count,
                           uint64_t *actual, int *status) {
    if (count > 0 && (hashes == NULL || keys == NULL || expected == NULL || desired == NULL))
        return FTK_EINVAL;
    if (count == 0) return check_map(h);
    int first = FTK_OK;
    for (size_t i = 0; i < count; i++) {
        int st = entry_call(h, OP_CAS, (uint64_t)hashes[i], keys[i], expected[i], desired[i],
                            actual ? &actual[i] : NULL);
        if (status) status[i] = st;
        if (st != FTK_OK && first == FTK_OK) first = st;
        if (st == FTK_EBADHANDLE) {
            for (size_t j = i + 1; status && j < count; j++) status[j] = st;
            break;
        }
    }
    return first;
}

int ftk_map_remove(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t *old_value) {
    return entry_call(h, OP_REMOVE, (uint64_t)hash, key, 0, 0, old_value);
}

int ftk_map_remove_if(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t expected) {
    return entry_call(h, OP_REMOVE_IF, (uint64_t)hash, key, expected, 0, NULL);
}

/* ---- iteration and drain ------------------------------------------------- */

/* End of the bucket range of table t that contains position p; 0 when the
 * range reaches the end of hash space. */
static inline uint64_t range_end(const table *t, uint64_t p) {
    uint64_t idx = p >> t->shift;
    return (idx + 1 == t->nb) ? 0 : (idx + 1) << t->shift;
}

int ftk_map_iter(ftk_handle_t h, uint64_t *cursor, uint64_t *keys, uint64_t *values,
                 int64_t *hashes, size_t max, size_t *n) {
    ftk_thread *self_ = ftk_thread_self();
    if (cursor == NULL || n == NULL) return FTK_EINVAL;
    map *m = ftk_obj_enter_t(self_, h, FTK_KIND_MAP); /* leaves the section on failure */
    if (m == NULL) return FTK_EBADHANDLE;
    uint64_t p = *cursor;
    size_t got = 0;
    int st = FTK_OK;
    while (p != FTK_MAP_CURSOR_END) {
        uint64_t ver;
        table *t;
        node *c = read_bucket(m, p, &ver, &t);
        /* One walk: store while there is room, count everything, so the
         * bucket is returned whole or not at all. Entries of the bucket
         * before p (a cursor not aligned to this table) were returned. */
        size_t cnt = 0;
        for (; c; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
            if (mixh(c->hash) < p) continue;
            size_t at = got + cnt;
            if (at < max) {
                if (keys) keys[at] = c->key;
                if (values) values[at] = atomic_load_explicit(&c->value, memory_order_acquire);
                if (hashes) hashes[at] = (int64_t)c->hash;
            }
            cnt++;
        }
        if (got + cnt > max) {
            if (got == 0) { /* the first bucket does not fit */
                st = FTK_EOVERFLOW;
                got = cnt;
            }
            break; /* this bucket goes to the next call */
        }
        got += cnt;
        uint64_t e = range_end(t, p);
        p = e == 0 ? FTK_MAP_CURSOR_END : e;
        if (got == max && max > 0) break;
    }
    ftk_ebr_exit_t(self_);
    if (st == FTK_OK) *cursor = p;
    *n = got;
    return st;
}

/* Remove up to max entries bucket by bucket. pass NULL: from the shared
 * drain hint, stopping after one whole sweep (drain). Otherwise pass[0] is
 * a cursor in hash space (as ftk_map_iter's) and pass[1] the generation
 * limit: only entries inserted before the pass began (gen < limit) are
 * removed, so the pass's work is bounded by what was there, not by what
 * concurrent inserters add; pass[0] becomes FTK_MAP_CURSOR_END at the end. */
#define DRAIN_CHUNK 64 /* nodes unlinked per bucket-lock hold in a pass */
static int drain_impl(ftk_handle_t h, uint64_t *pass, uint64_t *keys, uint64_t *values,
                      size_t max, size_t *n) {
    if (n == NULL || (max > 0 && (keys == NULL || values == NULL))) return FTK_EINVAL;
    *n = 0;
    /* nothing to do (the cursor stays): still report a bad handle */
    if (max == 0 || (pass && pass[0] == FTK_MAP_CURSOR_END)) return check_map(h);
    size_t got = 0;
    int st = FTK_OK;
    uint64_t start = 0, p = 0, limit = 0;
    int wrapped = 0, first = 1;
    ftk_thread *self_ = ftk_thread_self();
    while (got < max) {
        opctx cx = OPCTX_INIT;
        ftk_ebr_enter_t(self_);
        map *m = get_map(h);
        if (m == NULL) {
            ftk_ebr_exit_t(self_);
            st = FTK_EBADHANDLE;
            break;
        }
        if (first) {
            if (pass) {
                p = pass[0];
                if (pass[1] == 0) /* a new pass: later inserts are not ours */
                    /* relaxed: inserts racing with the start may go either way */
                    pass[1] = atomic_fetch_add_explicit(&m->clear_gen, 1,
                                                        memory_order_relaxed) + 1;
                limit = pass[1];
            } else {
                /* relaxed: a hint; any start position is correct */
                p = atomic_load_explicit(&m->drain_pos, memory_order_relaxed);
            }
            start = p;
            first = 0;
        }
        table *t = writer_table(m, &cx);
        node *head;
        bucket *b = lock_hash(t, p, &head, &t);
        node *c = head, *newhead = head, *prev = NULL;
        node *dead[DRAIN_CHUNK];
        size_t k = 0;
        if (pass == NULL) {
            /* Detach the first k nodes: one store of the head. The detached
             * segment keeps its links for readers and for the retire below. */
            while (c && got + k < max) {
                keys[got + k] = c->key;
                values[got + k] = atomic_load_explicit(&c->value, memory_order_relaxed);
                k++;
                c = atomic_load_explicit(&c->next, memory_order_relaxed); /* locked */
            }
            newhead = c;
        } else {
            /* Unlink the pass's nodes one by one (newer ones stay): a reader
             * at the predecessor sees the node or its successor, both valid
             * (the node is retired through EBR). */
            while (c && got + k < max && k < DRAIN_CHUNK) {
                node *nx = atomic_load_explicit(&c->next, memory_order_relaxed); /* locked */
                if (c->gen < limit) {
                    keys[got + k] = c->key;
                    values[got + k] = atomic_load_explicit(&c->value, memory_order_relaxed);
                    dead[k++] = c;
                    if (prev)
                        /* release: pairs with readers' acquire loads of next */
                        atomic_store_explicit(&prev->next, nx, memory_order_release);
                    else
                        newhead = nx;
                } else {
                    prev = c;
                }
                c = nx;
            }
        }
        node *seg = head; /* drain: the detached segment, linked */
        bucket_unlock(b, newhead);
        if (k) count_add(m, -(int64_t)k);
        got += k;
        if (c == NULL) { /* bucket done: move on */
            uint64_t e = range_end(t, p);
            if (e == 0) wrapped = 1;
            p = e;
        }
        /* relaxed: hint only */
        if (pass == NULL) atomic_store_explicit(&m->drain_pos, p, memory_order_relaxed);
        ftk_ebr_exit_t(self_);
        ctx_flush(&cx);
        if (pass) {
            for (size_t i = 0; i < k; i++) ftk_ebr_retire(dead[i], free);
        } else {
            for (size_t i = 0; i < k; i++) {
                node *next = atomic_load_explicit(&seg->next, memory_order_relaxed);
                ftk_ebr_retire(seg, free);
                seg = next;
            }
        }
        if (pass && wrapped) break;       /* the pass reached the end */
        if (wrapped && p >= start) break; /* a whole sweep done */
    }
    if (pass && st == FTK_OK) pass[0] = wrapped ? FTK_MAP_CURSOR_END : p;
    *n = got;
    return st;
}

int ftk_map_drain(ftk_handle_t h, uint64_t *keys, uint64_t *values, size_t max,
                  size_t *n) {
    return drain_impl(h, NULL, keys, values, max, n);
}

int ftk_map_drain_pass(ftk_handle_t h, uint64_t *pass, uint64_t *keys, uint64_t *values,
                       size_t max, size_t *n) {
    if (pass == NULL) return FTK_EINVAL;
    return drain_impl(h, pass, keys, values, max, n);
}



/* ---- lifetime ------------------------------------------------------------ */

int ftk_map_new(size_t initial_capacity, ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    unsigned log = MIN_LOG;
    /* smallest table whose 0.75 load holds initial_capacity entries */
    while (log <= MAX_LOG && ((uint64_t)1 << log) / 4 * 3 < (uint64_t)initial_capacity)
        log++;
    if (log > MAX_LOG) return FTK_EOVERFLOW;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    map *m = aligned_alloc(FTK_CACHE_LINE, (sizeof(map) + FTK_CACHE_LINE - 1) /
                                               FTK_CACHE_LINE * FTK_CACHE_LINE);
    if (m == NULL) return FTK_ENOMEM;
    table *t = table_new(log);
    if (t == NULL) {
        free(m);
        return FTK_ENOMEM;
    }
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(FTK_KIND_MAP, &e, &h);
    if (st != FTK_OK) {
        free(t);
        free(m);
        return st;
    }
    atomic_init(&m->table, t);
    atomic_init(&m->cells, NULL);
    atomic_init(&m->drain_pos, 0);
    atomic_init(&m->clear_gen, 0);
    atomic_init(&m->base, 0);
    m->handle = h;
    e->obj = m;
    ftk_entry_publish(e, h); /* release: m and t are initialised */
    *out = h;
    return FTK_OK;
}

int ftk_map_free(ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    void *obj = NULL;
    if (ftk_entry_retire(h, FTK_KIND_MAP, &obj) == NULL) return FTK_EBADHANDLE;
    /* Calls still inside the map finish first: reclaim through EBR. */
    ftk_ebr_retire(obj, map_destroy);
    return FTK_OK;
}
