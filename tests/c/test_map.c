/*
 * test_map.c - the concurrent hash index (ftkit/map.h): every entry point,
 * bad handles, a single-thread model test against a reference with colliding
 * hashes, the equal-key insert protocol under 8 threads, racing
 * insert/remove/cas and racing put/remove with conservation invariants,
 * resize under readers,
 * iteration under churn, and a mixed stress run. Public API only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"


#define NTHREADS 8


static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct { uint64_t s; } rng;
static uint64_t rnd(rng *r) { return r->s = splitmix(r->s); }

static ftk_handle_t new_map(size_t cap) {
    ftk_handle_t h = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_map_new(cap, &h), FTK_OK);
    ck_assert(h != FTK_NULL_HANDLE);
    return h;
}

static size_t map_size(ftk_handle_t h) {
    size_t n = 0;
    ck_assert_int_eq(ftk_map_size(h, &n), FTK_OK);
    return n;
}

/* Everything retired by the map (nodes, tables, the map itself) is freed
 * once no thread is inside a call: LSan then sees any real leak. */
static void free_and_reclaim(ftk_handle_t h) {
    ck_assert_int_eq(ftk_map_free(h), FTK_OK);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}

/*
 * The binding's protocol, with "equality" simulated: two key words are equal
 * keys when their low 32 bits (the key id) match; the high bits tell
 * distinct words for equal keys apart.
 */
#define ID(kw) ((uint32_t)((kw) & 0xffffffffu))

/* Find the candidate equal to key id `id`. Returns 1 and its words, or 0.
 * *stamp receives the stamp. Grows its buffer on FTK_EOVERFLOW. */
static int lookup(ftk_handle_t m, uint64_t hash, uint32_t id, uint64_t *kw,
                  uint64_t *vw, uint64_t *stamp) {
    uint64_t kbuf[8], vbuf[8];
    uint64_t *keys = kbuf, *vals = vbuf;
    size_t max = 8, n = 0;
    int st, found = 0;
    while ((st = ftk_map_find(m, hash, keys, vals, max, &n, stamp)) == FTK_EOVERFLOW) {
        if (keys != kbuf) {
            free(keys);
            free(vals);
        }
        max = n + 16;
        keys = malloc(max * sizeof *keys);
        vals = malloc(max * sizeof *vals);
        TCHECK(keys && vals);
    }
    TCHECK(st == FTK_OK);
    for (size_t i = 0; i < n; i++) {
        if (ID(keys[i]) == id) {
            TCHECK(!found); /* never two equal keys */
            found = 1;
            if (kw) *kw = keys[i];
            if (vw) *vw = vals[i];
        }
    }
    if (keys != kbuf) {
        free(keys);
        free(vals);
    }
    return found;
}

/* setdefault(key, value): returns the key word of the entry that holds the
 * key afterwards (ours or the one found); counts FTK_EAGAIN retries. */
static uint64_t setdefault(ftk_handle_t m, uint64_t hash, uint64_t kw, uint64_t vw,
                           uint64_t *vout, unsigned *eagain, int eq_yield) {
    for (;;) {
        uint64_t fk, fv, stamp;
        if (lookup(m, hash, ID(kw), &fk, &fv, &stamp)) {
            if (vout) *vout = fv;
            return fk;
        }
        /* The binding runs Python __eq__ here; yielding lets another
         * thread into the window even when the cores are busy elsewhere. */
        if (eq_yield) sched_yield();
        int st = ftk_map_insert(m, hash, kw, vw, stamp);
        if (st == FTK_OK) {
            if (vout) *vout = vw;
            return kw;
        }
        TCHECK(st == FTK_EAGAIN);
        if (eagain) ++*eagain;
    }
}

/* A full iteration; calls fn for each entry. max varies to split buckets
 * across calls; on FTK_EOVERFLOW the buffer grows. Returns entries seen. */
typedef void (*visit_fn)(void *arg, uint64_t k, uint64_t v, uint64_t h);
static size_t iterate(ftk_handle_t m, size_t max, visit_fn fn, void *arg) {
    size_t cap = 4096;
    uint64_t *k = malloc(cap * sizeof *k), *v = malloc(cap * sizeof *v);
    int64_t *hs = malloc(cap * sizeof *hs); /* map.h: hashes are int64_t */
    TCHECK(k && v && hs);
    uint64_t cur = 0;
    size_t total = 0, calls = 0;
    while (cur != FTK_MAP_CURSOR_END) {
        size_t n = 0;
        uint64_t before = cur;
        int st = ftk_map_iter(m, &cur, k, v, hs, max, &n);
        if (st == FTK_EOVERFLOW) {
            TCHECK(cur == before);
            TCHECK(n > max);
            if (n > cap) {
                cap = n * 2;
                k = realloc(k, cap * sizeof *k);
                v = realloc(v, cap * sizeof *v);
                hs = realloc(hs, cap * sizeof *hs);
                TCHECK(k && v && hs);
            }
            max = n; /* like the binding: retry with room */
            continue;
        }
        TCHECK(st == FTK_OK);
        TCHECK(n <= max);
        TCHECK(n > 0 || cur == FTK_MAP_CURSOR_END);
        for (size_t i = 0; i < n; i++) fn(arg, k[i], v[i], hs[i]);
        total += n;
        calls++;
    }
    free(k);
    free(v);
    free(hs);
    return total;
}

/* ---- api ------------------------------------------------------------------ */

START_TEST(test_bad_handles) {
    size_t base = ftk_live_handles();
    ftk_handle_t dead = new_map(0);
    ck_assert_int_eq(ftk_map_free(dead), FTK_OK);
    ck_assert_int_eq(ftk_map_free(dead), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_map_free(FTK_NULL_HANDLE), FTK_OK);
    ftk_handle_t other = FTK_NULL_HANDLE;
    ck_assert_int_eq(ftk_int64_new(7, &other), FTK_OK);
    ck_assert_int_eq(ftk_map_free(other), FTK_EBADHANDLE); /* wrong kind */
    ftk_handle_t bad[] = {FTK_NULL_HANDLE, dead, other, H(0x0500000000000001ULL),
                          H(0x05ffffff7fffffffULL), H(UINT64_MAX), H(1)};
    uint64_t k[4] = {0}, v[4] = {0}, nc[4], stp[4], cur = 0, w;
    int64_t hs[4];
    int sts[4];
    size_t n, sz;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftk_handle_t h = bad[i];
        ck_assert_int_eq(ftk_map_find(h, 1, k, v, 4, &n, &w), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_find_many(h, hs, 1, k, v, nc, stp), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_insert(h, 1, 2, 3, 0), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_insert_many(h, hs, k, k, k, 2, sts), FTK_EBADHANDLE);
        ck_assert_int_eq(sts[0], FTK_EBADHANDLE);
        ck_assert_int_eq(sts[1], FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_set_value(h, 1, 2, 3, &w), FTK_EBADHANDLE);
        int added = 7;
        ck_assert_int_eq(ftk_map_put(h, 1, 2, 3, &w, &added), FTK_EBADHANDLE);
        ck_assert_int_eq(added, 0);
        ck_assert_uint_eq(ftk_map_put_v(h, 1, 2, 3), FTK_MAP_SEVERAL);
        ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_cas_value(h, 1, 2, 3, 4, &w), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_cas_value_many(h, hs, k, k, k, 2, v, sts), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_remove(h, 1, 2, &w), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_remove_if(h, 1, 2, 3), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_size(h, &sz), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_capacity(h, &sz), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_iter(h, &cur, k, v, hs, 4, &n), FTK_EBADHANDLE);
        ck_assert_int_eq(ftk_map_drain(h, k, v, 4, &n), FTK_EBADHANDLE);
        if (h != FTK_NULL_HANDLE && h != other)
            ck_assert_int_eq(ftk_map_free(h), FTK_EBADHANDLE);
    }
    int64_t x = 0;
    ck_assert_int_eq(ftk_int64_load(other, &x), FTK_OK); /* untouched */
    ck_assert_int_eq(x, 7);
    ck_assert_int_eq(ftk_int64_free(other), FTK_OK);
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

START_TEST(test_null_outs) {
    ck_assert_int_eq(ftk_map_new(0, NULL), FTK_EINVAL);
    ftk_handle_t m = new_map(0);
    uint64_t k[2] = {1, 2}, v[2] = {3, 4}, w = 0, cur = 0;
    int64_t hs[2] = {1, 2};
    size_t n = 99;
    ck_assert_int_eq(ftk_map_find(m, 1, k, v, 2, NULL, &w), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find(m, 1, NULL, v, 2, &n, &w), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find(m, 1, k, NULL, 2, &n, &w), FTK_EINVAL);
    /* count-only query and optional stamp */
    ck_assert_int_eq(ftk_map_find(m, 1, NULL, NULL, 0, &n, NULL), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ftk_map_find_many(m, NULL, 1, k, v, k, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find_many(m, hs, 1, NULL, v, k, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find_many(m, hs, 1, k, NULL, k, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find_many(m, hs, 1, k, v, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_find_many(m, NULL, 0, NULL, NULL, NULL, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_insert_many(m, NULL, k, v, k, 1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_insert_many(m, hs, k, v, NULL, 1, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_insert_many(m, NULL, NULL, NULL, NULL, 0, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_cas_value_many(m, hs, k, NULL, v, 1, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_cas_value_many(m, hs, NULL, v, v, 1, NULL, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_size(m, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_capacity(m, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_iter(m, NULL, k, v, NULL, 2, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_iter(m, &cur, k, v, NULL, 2, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain(m, k, v, 2, NULL), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain(m, NULL, v, 2, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain(m, k, NULL, 2, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain(m, NULL, NULL, 0, &n), FTK_OK);
    /* optional outs of writers */
    ck_assert_int_eq(ftk_map_insert(m, 5, 6, 7, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_set_value(m, 5, 6, 8, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_cas_value(m, 5, 6, 8, 9, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_put(m, 5, 6, 10, NULL, NULL), FTK_OK); /* replaced */
    ck_assert_int_eq(ftk_map_put(m, 5, 16, 11, NULL, NULL), FTK_EAGAIN);
    ck_assert_int_eq(ftk_map_remove(m, 5, 6, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_put(m, 5, 16, 11, NULL, NULL), FTK_OK); /* added */
    ck_assert_int_eq(ftk_map_remove(m, 5, 16, NULL), FTK_OK);
    ck_assert_int_eq(ftk_map_new(SIZE_MAX, &m), FTK_EOVERFLOW);
    free_and_reclaim(m);
}
END_TEST

START_TEST(test_basic_ops) {
    size_t base = ftk_live_handles();
    ftk_handle_t m = new_map(0);
    ck_assert_uint_eq(ftk_live_handles(), base + 1);
    uint64_t k[8], v[8], stamp = 99, s2, w = 0;
    size_t n = 99;
    ck_assert_int_eq(ftk_map_find(m, 42, k, v, 8, &n, &stamp), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(map_size(m), 0);
    ck_assert_int_eq(ftk_map_insert(m, 42, 100, 200, stamp), FTK_OK);
    /* the old stamp is now stale for hash 42 */
    ck_assert_int_eq(ftk_map_insert(m, 42, 101, 201, stamp), FTK_EAGAIN);
    /* stamp 0: only if no entry has this hash */
    ck_assert_int_eq(ftk_map_insert(m, 42, 101, 201, 0), FTK_EAGAIN);
    ck_assert_int_eq(ftk_map_find(m, 42, k, v, 8, &n, &stamp), FTK_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(k[0], 100);
    ck_assert_uint_eq(v[0], 200);
    /* a fresh stamp admits a second, unequal key with the same hash */
    ck_assert_int_eq(ftk_map_insert(m, 42, 101, 201, stamp), FTK_OK);
    ck_assert_int_eq(ftk_map_find(m, 42, k, v, 8, &n, &stamp), FTK_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(k[0], 101); /* newest first */
    ck_assert_uint_eq(k[1], 100);
    /* inserts of other hashes and removals do not invalidate a stamp */
    for (uint64_t i = 0; i < 50; i++) ck_assert_int_eq(ftk_map_insert(m, 1000 + i, i + 1, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_remove(m, 42, 100, &w), FTK_OK);
    ck_assert_uint_eq(w, 200);
    ck_assert_int_eq(ftk_map_remove(m, 42, 100, &w), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_map_insert(m, 42, 102, 202, stamp), FTK_OK);
    ck_assert_int_eq(ftk_map_insert(m, 42, 103, 203, FTK_MAP_STAMP_ANY), FTK_OK);
    ck_assert_uint_eq(map_size(m), 53);
    /* EOVERFLOW: the first max are stored, *n says how many exist */
    ck_assert_int_eq(ftk_map_find(m, 42, k, v, 2, &n, &s2), FTK_EOVERFLOW);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(k[0], 103);
    ck_assert_uint_eq(k[1], 102);
    ck_assert_int_eq(ftk_map_find(m, 42, NULL, NULL, 0, &n, NULL), FTK_EOVERFLOW);
    ck_assert_uint_eq(n, 3);
    /* set_value / cas_value / remove_if */
    ck_assert_int_eq(ftk_map_set_value(m, 42, 101, 301, &w), FTK_OK);
    ck_assert_uint_eq(w, 201);
    ck_assert_int_eq(ftk_map_set_value(m, 42, 999, 1, &w), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_map_set_value(m, 43, 101, 1, &w), FTK_ENOTFOUND); /* hash matters */
    ck_assert_int_eq(ftk_map_cas_value(m, 42, 101, 300, 400, &w), FTK_EAGAIN);
    ck_assert_uint_eq(w, 301);
    ck_assert_int_eq(ftk_map_cas_value(m, 42, 101, 301, 401, &w), FTK_OK);
    ck_assert_uint_eq(w, 301);
    ck_assert_int_eq(ftk_map_cas_value(m, 42, 555, 301, 401, &w), FTK_ENOTFOUND);
    ck_assert_int_eq(ftk_map_remove_if(m, 42, 101, 400), FTK_EAGAIN);
    ck_assert_int_eq(ftk_map_remove_if(m, 42, 101, 401), FTK_OK);
    ck_assert_int_eq(ftk_map_remove_if(m, 42, 101, 401), FTK_ENOTFOUND);
    ck_assert_uint_eq(map_size(m), 52);
    /* value word 0 is a value like any other */
    ck_assert_int_eq(ftk_map_set_value(m, 42, 102, 0, &w), FTK_OK);
    ck_assert_int_eq(ftk_map_remove_if(m, 42, 102, 0), FTK_OK);
    ck_assert_uint_eq(map_size(m), 51);
        /* lookup_v: a miss is 0 with nothing to fetch, several FTK_MAP_SEVERAL */
    ck_assert_uint_eq(ftk_map_lookup_v(m, 987654), 0);
    ck_assert_int_eq(ftk_map_insert(m, 987654, 900, 901, 0), FTK_OK);
    ck_assert_uint_eq(ftk_map_lookup_v(m, 987654), 901);
    ck_assert_int_eq(ftk_map_insert(m, 987654, 902, 903, FTK_MAP_STAMP_ANY), FTK_OK);
    ck_assert_uint_eq(ftk_map_lookup_v(m, 987654), FTK_MAP_SEVERAL);
    ck_assert_int_eq(ftk_last_status(), FTK_EOVERFLOW);
    ck_assert_uint_eq(ftk_map_lookup_v(H(5), 1), FTK_MAP_SEVERAL);
    ck_assert_int_eq(ftk_last_status(), FTK_EBADHANDLE);
    free_and_reclaim(m);
    ck_assert_uint_eq(ftk_live_handles(), base);
}
END_TEST

/* ftk_map_put's four outcomes, and the value-style put_v. */
START_TEST(test_put) {
    ftk_handle_t m = new_map(0);
    uint64_t old = 99, k[4], v[4], stamp;
    int added = 99;
    size_t n;
    ck_assert_int_eq(ftk_map_put(m, 7, 70, 700, &old, &added), FTK_OK); /* add */
    ck_assert_int_eq(added, 1);
    ck_assert_uint_eq(old, 0);
    ck_assert_int_eq(ftk_map_put(m, 7, 70, 701, &old, &added), FTK_OK); /* replace */
    ck_assert_int_eq(added, 0);
    ck_assert_uint_eq(old, 700);
    /* another key word with the same hash: refused, the other's word reported */
    ck_assert_int_eq(ftk_map_put(m, 7, 71, 710, &old, &added), FTK_EAGAIN);
    ck_assert_int_eq(added, 0);
    ck_assert_uint_eq(old, 701);
    ck_assert_int_eq(ftk_map_find(m, 7, k, v, 4, &n, &stamp), FTK_OK);
    ck_assert_uint_eq(n, 1); /* nothing changed */
    ck_assert_uint_eq(k[0], 70);
    ck_assert_uint_eq(v[0], 701);
    /* several others (the second added through insert with a stamp) */
    ck_assert_int_eq(ftk_map_insert(m, 7, 71, 710, stamp), FTK_OK);
    ck_assert_int_eq(ftk_map_put(m, 7, 72, 720, &old, &added), FTK_EOVERFLOW);
    ck_assert_uint_eq(old, 0);
    /* an entry of its own is found among several */
    ck_assert_int_eq(ftk_map_put(m, 7, 71, 711, &old, &added), FTK_OK);
    ck_assert_uint_eq(old, 710);
    ck_assert_uint_eq(map_size(m), 2);
    /* put_v: 0 added; a word with FTK_OK replaced, with FTK_EAGAIN the other's */
    ck_assert_uint_eq(ftk_map_put_v(m, 8, 80, 800), 0);
    ck_assert_uint_eq(ftk_map_put_v(m, 8, 80, 801), 800);
    ck_assert_int_eq(ftk_last_status(), FTK_OK);
    ck_assert_uint_eq(ftk_map_put_v(m, 8, 81, 810), 801);
    ck_assert_int_eq(ftk_last_status(), FTK_EAGAIN);
    ck_assert_uint_eq(ftk_map_put_v(m, 7, 72, 720), FTK_MAP_SEVERAL);
    ck_assert_int_eq(ftk_last_status(), FTK_EOVERFLOW);
    ck_assert_uint_eq(ftk_map_lookup_v(m, 8), 801);
    ck_assert_uint_eq(map_size(m), 3);
    /* adds through put grow the table like inserts do */
    for (uint64_t i = 0; i < 5000; i++)
        ck_assert_uint_eq(ftk_map_put_v(m, (int64_t)(1000 + i), i + 1, i + 2), 0);
    ck_assert_uint_eq(map_size(m), 5003);
    for (uint64_t i = 0; i < 5000; i += 7)
        ck_assert_uint_eq(ftk_map_lookup_v(m, (int64_t)(1000 + i)), i + 2);
    free_and_reclaim(m);
}
END_TEST

START_TEST(test_batch_ops) {
    ftk_handle_t m = new_map(16);
    enum { B = 64 };
    uint64_t ks[B], vs[B], st[B], nc[B], fk[B], fv[B], act[B], des[B];
    int64_t hs[B];
    int sts[B];
    for (int i = 0; i < B; i++) {
        hs[i] = (uint64_t)(i % 40); /* 24 hashes twice */
        ks[i] = 1000 + (uint64_t)i;
        vs[i] = 5000 + (uint64_t)i;
    }
    ck_assert_int_eq(ftk_map_find_many(m, hs, B, fk, fv, nc, st), FTK_OK);
    for (int i = 0; i < B; i++) {
        ck_assert_uint_eq(nc[i], 0);
        ck_assert_uint_eq(fk[i], 0);
    }
    /* stamps from one find_many: the second item of a shared hash conflicts */
    ck_assert_int_eq(ftk_map_insert_many(m, hs, ks, vs, st, B, sts), FTK_EAGAIN);
    for (int i = 0; i < B; i++) ck_assert_int_eq(sts[i], i < 40 ? FTK_OK : FTK_EAGAIN);
    ck_assert_uint_eq(map_size(m), 40);
    ck_assert_int_eq(ftk_map_find_many(m, hs, B, fk, fv, nc, st), FTK_OK);
    for (int i = 0; i < B; i++) {
        ck_assert_uint_eq(nc[i], 1);
        ck_assert_uint_eq(fk[i], 1000 + (uint64_t)(i % 40));
        ck_assert_uint_eq(fv[i], 5000 + (uint64_t)(i % 40));
    }
    /* retry the failed ones with fresh stamps: now they are distinct keys */
    ck_assert_int_eq(ftk_map_insert_many(m, hs + 40, ks + 40, vs + 40, st + 40, B - 40, sts),
                     FTK_OK);
    ck_assert_uint_eq(map_size(m), B);
    ck_assert_int_eq(ftk_map_find_many(m, hs, B, fk, fv, nc, NULL), FTK_OK);
    for (int i = 0; i < B; i++) {
        ck_assert_uint_eq(nc[i], i % 40 < 24 ? 2 : 1);
        /* newest candidate first */
        ck_assert_uint_eq(fk[i], (i % 40 < 24) ? 1040 + (uint64_t)(i % 40) : 1000 + (uint64_t)i);
    }
    /* reduce-style batch cas: +1 on every value, one stale expectation */
    for (int i = 0; i < B; i++) {
        act[i] = vs[i];
        des[i] = vs[i] + 1;
    }
    act[7] = 1; /* wrong expected for item 7 */
    uint64_t exp[B];
    memcpy(exp, act, sizeof exp);
    ck_assert_int_eq(ftk_map_cas_value_many(m, hs, ks, exp, des, B, act, sts), FTK_EAGAIN);
    for (int i = 0; i < B; i++) {
        ck_assert_int_eq(sts[i], i == 7 ? FTK_EAGAIN : FTK_OK);
        ck_assert_uint_eq(act[i], vs[i]); /* the value seen */
    }
    uint64_t one = 1;
    ck_assert_int_eq(ftk_map_cas_value_many(m, hs, &one, vs, des, 1, NULL, NULL), FTK_ENOTFOUND);
    free_and_reclaim(m);
}
END_TEST

static void collect_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    uint8_t *seen = arg;
    TCHECK(v == k * 10 && h == k % 5);
    seen[k]++;
}

START_TEST(test_iter_and_drain_api) {
    ftk_handle_t m = new_map(0);
    uint64_t k[64], v[64], cur = 0;
    int64_t hs[64];
    size_t n = 99;
    ck_assert_int_eq(ftk_map_iter(m, &cur, k, v, hs, 64, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(cur, FTK_MAP_CURSOR_END);
    ck_assert_int_eq(ftk_map_iter(m, &cur, k, v, hs, 64, &n), FTK_OK); /* END again */
    ck_assert_uint_eq(n, 0);
    /* 50 keys on 5 hashes: buckets of >= 10 entries */
    for (uint64_t i = 1; i <= 50; i++) ck_assert_int_eq(ftk_map_insert(m, i % 5, i, i * 10, FTK_MAP_STAMP_ANY), FTK_OK);
    cur = 0;
    ck_assert_int_eq(ftk_map_iter(m, &cur, k, v, hs, 3, &n), FTK_EOVERFLOW);
    ck_assert_uint_eq(cur, 0);
    ck_assert_uint_ge(n, 10);
    /* NULL arrays are skipped */
    size_t got = 0;
    cur = 0;
    while (cur != FTK_MAP_CURSOR_END) {
        ck_assert_int_eq(ftk_map_iter(m, &cur, NULL, NULL, NULL, 64, &n), FTK_OK);
        got += n;
    }
    ck_assert_uint_eq(got, 50);
    uint8_t seen[64] = {0};
    ck_assert_uint_eq(iterate(m, 10, collect_visit, seen), 50);
    for (int i = 1; i <= 50; i++) ck_assert_uint_eq(seen[i], 1);
    ASSERT_NO_THREAD_FAILURES();
    /* drain in small steps: n < max only once nothing is left */
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    for (;;) {
        ck_assert_int_eq(ftk_map_drain(m, k, v, 7, &n), FTK_OK);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(v[i], k[i] * 10);
            seen[k[i]]++;
        }
        total += n;
        if (n < 7) break;
    }
    ck_assert_uint_eq(total, 50);
    for (int i = 1; i <= 50; i++) ck_assert_uint_eq(seen[i], 1);
    ck_assert_uint_eq(map_size(m), 0);
    ck_assert_int_eq(ftk_map_drain(m, k, v, 7, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    free_and_reclaim(m);
}
END_TEST


/* drain_pass: one pass removes everything present, exactly once, and ends
 * even while another thread keeps inserting (clear() must terminate). */
typedef struct {
    ftk_handle_t m;
    _Atomic int stop;
} pass_ctx;

static void pass_inserter(void *arg, int i) {
    pass_ctx *c = arg;
    /* a bounded number of new entries, then a yield loop: the table stays
     * small enough for a loaded machine, and the passes still race with
     * inserts for as long as they run */
    uint64_t id = 1000000 + (uint64_t)i * 100000000ULL, end = id + FTK_SCALED(30000);
    while (!atomic_load(&c->stop)) {
        if (id < end) {
            int st = ftk_map_insert(c->m, splitmix(id), id, id, FTK_MAP_STAMP_ANY);
            TCHECK(st == FTK_OK);
            id++;
        } else {
            sched_yield();
        }
    }
}

static void pass_clearer(void *arg, int i) {
    pass_ctx *c = arg;
    if (i != 0) {
        pass_inserter(arg, i);
        return;
    }
    uint64_t k[32], v[32];
    for (int round = 0; round < 10; round++) {
        uint64_t pass[2] = {0, 0};
        size_t n = 0, calls = 0;
        while (pass[0] != FTK_MAP_CURSOR_END) {
            TCHECK(ftk_map_drain_pass(c->m, pass, k, v, 32, &n) == FTK_OK);
            for (size_t j = 0; j < n; j++) TCHECK(k[j] == v[j]);
            TCHECK(++calls < 10000000);
        }
    }
    atomic_store(&c->stop, 1);
}

START_TEST(test_drain_pass) {
    ftk_handle_t m = new_map(0);
    uint64_t k[16], v[16], cur[2] = {0, 0};
    size_t n = 9;
    ck_assert_int_eq(ftk_map_drain_pass(m, NULL, k, v, 16, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain_pass(m, cur, NULL, v, 16, &n), FTK_EINVAL);
    ck_assert_int_eq(ftk_map_drain_pass(H(77), cur, k, v, 16, &n), FTK_EBADHANDLE);
    ck_assert_int_eq(ftk_map_drain_pass(m, cur, k, v, 16, &n), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(cur[0], FTK_MAP_CURSOR_END);
    for (uint64_t i = 1; i <= 500; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i), i, i * 3, 0), FTK_OK);
    uint8_t seen[1001] = {0};
    size_t total = 0;
    cur[0] = cur[1] = 0;
    int added = 0;
    while (cur[0] != FTK_MAP_CURSOR_END) {
        ck_assert_int_eq(ftk_map_drain_pass(m, cur, k, v, 16, &n), FTK_OK);
        for (size_t j = 0; j < n; j++) {
            ck_assert_uint_eq(v[j], k[j] * 3);
            seen[k[j]]++;
        }
        total += n;
        if (!added) { /* inserted after the pass began: left in place */
            for (uint64_t i = 501; i <= 1000; i++)
                ck_assert_int_eq(ftk_map_insert(m, splitmix(i), i, i * 3, 0), FTK_OK);
            added = 1;
        }
    }
    ck_assert_uint_eq(total, 500);
    for (int i = 1; i <= 500; i++) ck_assert_uint_eq(seen[i], 1);
    for (int i = 501; i <= 1000; i++) ck_assert_uint_eq(seen[i], 0);
    ck_assert_uint_eq(map_size(m), 500);
    do {
        ck_assert_int_eq(ftk_map_drain(m, k, v, 16, &n), FTK_OK);
    } while (n == 16);
    ck_assert_uint_eq(map_size(m), 0);
    pass_ctx c = {.m = m};
    ftk_test_run_threads(3, pass_clearer, &c);
    ASSERT_NO_THREAD_FAILURES();
    /* drain what the inserters left, then free */
    do {
        ck_assert_int_eq(ftk_map_drain(m, k, v, 16, &n), FTK_OK);
    } while (n == 16);
    free_and_reclaim(m);
}
END_TEST

START_TEST(test_capacity_hint) {
    size_t c;
    ftk_handle_t m = new_map(0);
    ck_assert_int_eq(ftk_map_capacity(m, &c), FTK_OK);
    ck_assert_uint_eq(c, 8);
    ck_assert_int_eq(ftk_map_free(m), FTK_OK);
    m = new_map(1000);
    ck_assert_int_eq(ftk_map_capacity(m, &c), FTK_OK);
    ck_assert_uint_ge(c * 3 / 4, 1000);
    /* pre-sized: no resize while filling to the hint */
    for (uint64_t i = 0; i < 1000; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i), i + 1, i, 0), FTK_OK);
    size_t c2;
    ck_assert_int_eq(ftk_map_capacity(m, &c2), FTK_OK);
    ck_assert_uint_eq(c2, c);
    free_and_reclaim(m);
}
END_TEST

/* ---- single ---------------------------------------------------------------- */

typedef struct {
    int present;
    uint64_t kw, vw;
} ref_ent;

static uint64_t model_hash(int mode, uint32_t id) {
    switch (mode) {
    case 0: return id % 7;                 /* heavy collisions */
    case 1: return splitmix(id);           /* good hashes */
    case 2: return 42;                     /* every key the same hash */
    default: return (uint64_t)id << 40;    /* only high bits differ */
    }
}

typedef struct {
    ref_ent *ref;
    uint8_t *seen;
    uint32_t nkeys;
    int mode;
} model_ctx;

static void model_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    model_ctx *c = arg;
    uint32_t id = ID(k) - 1;
    TCHECK(id < c->nkeys);
    if (id >= c->nkeys) return;
    TCHECK(c->ref[id].present && c->ref[id].kw == k && c->ref[id].vw == v);
    TCHECK(h == model_hash(c->mode, id));
    c->seen[id]++;
}

static void model_run(int mode, uint32_t nkeys, int nops, uint64_t seed) {
    ftk_handle_t m = new_map(0);
    ref_ent *ref = calloc(nkeys, sizeof *ref);
    uint8_t *seen = calloc(nkeys, 1);
    ck_assert_ptr_nonnull(ref);
    ck_assert_ptr_nonnull(seen);
    rng r = {seed};
    uint64_t gen = 1, live = 0;
    model_ctx mc = {ref, seen, nkeys, mode};
    for (int op = 0; op < nops; op++) {
        uint32_t id = (uint32_t)(rnd(&r) % nkeys);
        uint32_t kid = id + 1; /* key ids are never 0 */
        uint64_t hash = model_hash(mode, id), fk = 0, fv = 0, stamp = 0, w = 0;
        ref_ent *e = &ref[id];
        int found = lookup(m, hash, kid, &fk, &fv, &stamp);
        ck_assert_int_eq(found, e->present);
        if (found) {
            ck_assert_uint_eq(fk, e->kw);
            ck_assert_uint_eq(fv, e->vw);
        }
        switch (rnd(&r) % 8) {
        case 0:
        case 1:
        case 2: { /* setitem */
            uint64_t nv = rnd(&r);
            if (found) {
                ck_assert_int_eq(ftk_map_set_value(m, hash, fk, nv, &w), FTK_OK);
                ck_assert_uint_eq(w, e->vw);
            } else {
                uint64_t kw = (gen++ << 32) | kid; /* a fresh word, like a slot */
                ck_assert_int_eq(ftk_map_insert(m, hash, kw, nv, stamp), FTK_OK);
                e->present = 1;
                e->kw = kw;
                live++;
            }
            e->vw = nv;
            break;
        }
        case 3: /* pop */
            if (found) {
                ck_assert_int_eq(ftk_map_remove(m, hash, fk, &w), FTK_OK);
                ck_assert_uint_eq(w, e->vw);
                e->present = 0;
                live--;
            }
            ck_assert_int_eq(ftk_map_remove(m, hash, e->kw | 1ULL << 63, &w), FTK_ENOTFOUND);
            break;
        case 4: { /* compare_and_set */
            if (!found) {
                ck_assert_int_eq(ftk_map_cas_value(m, hash, e->kw, 0, 1, &w), FTK_ENOTFOUND);
                break;
            }
            int right = (int)(rnd(&r) & 1);
            uint64_t nv = rnd(&r);
            ck_assert_int_eq(ftk_map_cas_value(m, hash, fk, right ? e->vw : e->vw + 1, nv, &w),
                             right ? FTK_OK : FTK_EAGAIN);
            ck_assert_uint_eq(w, e->vw);
            if (right) e->vw = nv;
            break;
        }
        case 5: /* remove_if */
            if (found) {
                int right = (int)(rnd(&r) & 1);
                ck_assert_int_eq(ftk_map_remove_if(m, hash, fk, right ? e->vw : ~e->vw),
                                 right ? FTK_OK : FTK_EAGAIN);
                if (right) {
                    e->present = 0;
                    live--;
                }
            }
            break;
        case 6: { /* the candidate set is exactly the keys with this hash */
            size_t n = 0, expect = 0;
            ftk_map_find(m, hash, NULL, NULL, 0, &n, NULL);
            for (uint32_t j = 0; j < nkeys; j++)
                if (ref[j].present && model_hash(mode, j) == hash) expect++;
            ck_assert_uint_eq(n, expect);
            int64_t hs[4] = {(int64_t)hash, (int64_t)(hash ^ 1), (int64_t)hash,
                             (int64_t)model_hash(mode, (id + 1) % nkeys)};
            uint64_t ks[4], vs[4], nc[4], sts[4];
            ck_assert_int_eq(ftk_map_find_many(m, hs, 4, ks, vs, nc, sts), FTK_OK);
            ck_assert_uint_eq(nc[0], expect);
            ck_assert_uint_eq(nc[2], expect);
            ck_assert_uint_eq(sts[0], sts[2]);
            if (expect) {
                uint32_t j = ID(ks[0]) - 1;
                ck_assert(ref[j].present && ref[j].kw == ks[0] && ref[j].vw == vs[0]);
            }
            break;
        }
        default: /* no-op step: the lookup above was the check */
            break;
        }
        if (op % 997 == 0 || op == nops - 1) {
            memset(seen, 0, nkeys);
            size_t max = 1 + (size_t)(rnd(&r) % 40);
            ck_assert_uint_eq(iterate(m, max, model_visit, &mc), live);
            for (uint32_t j = 0; j < nkeys; j++) ck_assert_uint_eq(seen[j], ref[j].present);
            ck_assert_uint_eq(map_size(m), live);
            ASSERT_NO_THREAD_FAILURES();
        }
    }
    /* clear(): drain in chunks, every entry once */
    memset(seen, 0, nkeys);
    uint64_t k[13], v[13];
    size_t n, total = 0;
    do {
        ck_assert_int_eq(ftk_map_drain(m, k, v, 13, &n), FTK_OK);
        for (size_t i = 0; i < n; i++) {
            uint32_t id = ID(k[i]) - 1;
            ck_assert_uint_lt(id, nkeys);
            ck_assert(ref[id].present && ref[id].kw == k[i] && ref[id].vw == v[i]);
            seen[id]++;
        }
        total += n;
    } while (n == 13);
    ck_assert_uint_eq(total, live);
    for (uint32_t j = 0; j < nkeys; j++) ck_assert_uint_eq(seen[j], ref[j].present);
    ck_assert_uint_eq(map_size(m), 0);
    free(ref);
    free(seen);
    free_and_reclaim(m);
    ASSERT_NO_THREAD_FAILURES();
}

START_TEST(test_model_collisions) { model_run(0, 300, FTK_SCALED(30000), 1); }
END_TEST
START_TEST(test_model_good_hashes) { model_run(1, 3000, FTK_SCALED(60000), 2); }
END_TEST
START_TEST(test_model_one_hash) { model_run(2, 60, FTK_SCALED(6000), 3); }
END_TEST
START_TEST(test_model_high_bits) { model_run(3, 2000, FTK_SCALED(30000), 4); }
END_TEST

static void growth_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    uint8_t *seen = arg;
    TCHECK(v == ~k && h == k - 1);
    seen[k - 1]++;
}

START_TEST(test_growth) {
    const uint64_t N = FTK_SCALED(200000);
    ftk_handle_t m = new_map(0);
    /* Python small ints hash to themselves: sequential hashes */
    for (uint64_t i = 0; i < N; i++) ck_assert_int_eq(ftk_map_insert(m, i, i + 1, ~(i + 1), 0), FTK_OK);
    size_t cap;
    ck_assert_int_eq(ftk_map_capacity(m, &cap), FTK_OK);
    ck_assert_uint_ge(cap, N / 2); /* grew: load factor stays bounded */
    ck_assert_uint_eq(map_size(m), N);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k, v, st;
        size_t n;
        ck_assert_int_eq(ftk_map_find(m, i, &k, &v, 1, &n, &st), FTK_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(k, i + 1);
    }
    uint8_t *seen = calloc(N, 1);
    ck_assert_uint_eq(iterate(m, 100, growth_visit, seen), N);
    for (uint64_t i = 0; i < N; i++) ck_assert_uint_eq(seen[i], 1);
    for (uint64_t i = 0; i < N; i += 2) ck_assert_int_eq(ftk_map_remove(m, i, i + 1, NULL), FTK_OK);
    ck_assert_uint_eq(map_size(m), N - (N + 1) / 2);
    free(seen);
    free_and_reclaim(m);
    ASSERT_NO_THREAD_FAILURES();
}
END_TEST

/* Stamps stay comparable across resizes (buckets inherit versions). */
START_TEST(test_stamp_across_resize) {
    ftk_handle_t m = new_map(0);
    size_t n, c0, c1;
    uint64_t s1, s2, k, v;
    ck_assert_int_eq(ftk_map_insert(m, 7, 70, 700, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_find(m, 7, &k, &v, 1, &n, &s1), FTK_OK);
    ck_assert_int_eq(ftk_map_find(m, 9, &k, &v, 1, &n, &s2), FTK_OK);
    ck_assert_uint_eq(n, 0);
    /* a key with hash 9 arrives under s2's feet */
    ck_assert_int_eq(ftk_map_insert(m, 9, 90, 900, s2), FTK_OK);
    ck_assert_int_eq(ftk_map_capacity(m, &c0), FTK_OK);
    for (uint64_t i = 0; i < 20000; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i) | 1ULL << 63, i + 1000, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_capacity(m, &c1), FTK_OK);
    ck_assert_uint_ge(c1, c0 * 64);
    /* hash 7 got no new entry since s1: still valid after many resizes */
    ck_assert_int_eq(ftk_map_insert(m, 7, 71, 710, s1), FTK_OK);
    /* hash 9 did: s2 is stale, even though that insert predates the resizes */
    ck_assert_int_eq(ftk_map_insert(m, 9, 91, 910, s2), FTK_EAGAIN);
    ck_assert_int_eq(ftk_map_insert(m, 9, 91, 910, 0), FTK_EAGAIN);
    /* A bucket with a long history: its version is high, its chain short.
     * The stamp taken now must still see an insert made after resizes. */
    for (uint64_t i = 0; i < 300; i++) {
        ck_assert_int_eq(ftk_map_insert(m, 11, 5000 + i, i, 0), FTK_OK);
        ck_assert_int_eq(ftk_map_remove(m, 11, 5000 + i, NULL), FTK_OK);
    }
    uint64_t s3;
    ck_assert_int_eq(ftk_map_find(m, 11, &k, &v, 1, &n, &s3), FTK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_ge(s3, 300);
    for (uint64_t i = 20000; i < 120000; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i) | 1ULL << 63, i + 1000, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_capacity(m, &c0), FTK_OK);
    ck_assert_uint_ge(c0, c1 * 4);
    ck_assert_int_eq(ftk_map_insert(m, 11, 6000, 1, 0), FTK_OK); /* "another thread" */
    ck_assert_int_eq(ftk_map_insert(m, 11, 6001, 1, s3), FTK_EAGAIN);
    free_and_reclaim(m);
}
END_TEST

/* A cursor taken before several resizes continues correctly after them. */
START_TEST(test_iter_cursor_across_resize) {
    const uint64_t N = 3000, M = FTK_SCALED(60000);
    ftk_handle_t m = new_map(0);
    for (uint64_t i = 0; i < N; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i), i, i, 0), FTK_OK);
    uint8_t *seen = calloc(N, 1);
    uint64_t k[64], v[64], cur = 0;
    size_t n, got = 0;
    for (int calls = 0; calls < 20; calls++) {
        ck_assert_int_eq(ftk_map_iter(m, &cur, k, v, NULL, 64, &n), FTK_OK);
        for (size_t i = 0; i < n; i++) seen[k[i]]++;
        got += n;
    }
    ck_assert_uint_lt(got, N);
    size_t c0, c1;
    ck_assert_int_eq(ftk_map_capacity(m, &c0), FTK_OK);
    for (uint64_t i = N; i < N + M; i++) ck_assert_int_eq(ftk_map_insert(m, splitmix(i), i, i, 0), FTK_OK);
    ck_assert_int_eq(ftk_map_capacity(m, &c1), FTK_OK);
    ck_assert_uint_gt(c1, c0);
    while (cur != FTK_MAP_CURSOR_END) {
        uint64_t big_k[4096];
        ck_assert_int_eq(ftk_map_iter(m, &cur, big_k, NULL, NULL, 4096, &n), FTK_OK);
        for (size_t i = 0; i < n; i++)
            if (big_k[i] < N) seen[big_k[i]]++;
    }
    for (uint64_t i = 0; i < N; i++) ck_assert_uint_eq(seen[i], 1);
    free(seen);
    free_and_reclaim(m);
}
END_TEST

/* ---- concurrent ------------------------------------------------------------ */

/* 8 threads insert "equal" keys (same class = same key id, distinct words)
 * through find -> compare -> insert(stamp) loops, starting from the smallest
 * table so that resizes run underneath: exactly one entry per class, and
 * every thread agrees on which. */
#define EQ_CLASSES FTK_SCALED(6000)
#define EQ_ROUND 32
typedef struct {
    ftk_handle_t m;
    uint64_t *winner; /* [NTHREADS][EQ_CLASSES] */
    _Atomic unsigned eagain;
    pthread_barrier_t round;
} eq_ctx;

static uint64_t eq_hash(uint32_t c) { return (uint64_t)(c % 211) * 0x10001ULL; }

static void eq_thread(void *arg, int t) {
    eq_ctx *x = arg;
    unsigned ea = 0;
    /* Rounds of EQ_ROUND classes, all threads on the same round at once
     * (a barrier between rounds); even threads go up, odd ones down. */
    for (uint32_t base = 0; base < EQ_CLASSES; base += EQ_ROUND) {
        pthread_barrier_wait(&x->round);
        uint32_t n = EQ_CLASSES - base < EQ_ROUND ? EQ_CLASSES - base : EQ_ROUND;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = base + ((t & 1) ? n - 1 - i : i);
            uint64_t kw = ((uint64_t)(t + 1) << 32) | (c + 1);
            int yield = (splitmix(kw) & 3) == 0;
            x->winner[(size_t)t * EQ_CLASSES + c] =
                setdefault(x->m, eq_hash(c), kw, kw, NULL, &ea, yield);
        }
    }
    atomic_fetch_add(&x->eagain, ea);
}

static void eq_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    uint32_t *count = arg;
    uint32_t c = ID(k) - 1;
    TCHECK(c < EQ_CLASSES && v == k && h == eq_hash(c));
    if (c < EQ_CLASSES) count[c]++;
}

START_TEST(test_equal_keys_one_entry) {
    eq_ctx x;
    x.m = new_map(0);
    x.winner = calloc((size_t)NTHREADS * EQ_CLASSES, sizeof(uint64_t));
    atomic_init(&x.eagain, 0);
    ck_assert_ptr_nonnull(x.winner);
    pthread_barrier_init(&x.round, NULL, NTHREADS);
    ftk_test_run_threads(NTHREADS, eq_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    uint32_t *count = calloc(EQ_CLASSES, sizeof *count);
    ck_assert_uint_eq(iterate(x.m, 50, eq_visit, count), EQ_CLASSES);
    for (uint32_t c = 0; c < EQ_CLASSES; c++) {
        ck_assert_uint_eq(count[c], 1);
        uint64_t kw, vw, st;
        ck_assert(lookup(x.m, eq_hash(c), c + 1, &kw, &vw, &st));
        for (int t = 0; t < NTHREADS; t++) ck_assert_uint_eq(x.winner[(size_t)t * EQ_CLASSES + c], kw);
    }
    ck_assert_uint_eq(map_size(x.m), EQ_CLASSES);
    ASSERT_NO_THREAD_FAILURES();
    /* the protocol's retry path really ran (typically hundreds of times) */
    ck_assert_uint_gt(atomic_load(&x.eagain), 0);
    pthread_barrier_destroy(&x.round);
    free(count);
    free(x.winner);
    free_and_reclaim(x.m);
}
END_TEST

/* 8 threads race increment (insert 1 if absent, else cas v -> v+1), pop and
 * remove_if on 1000 keys with colliding hashes. Conservation: the values
 * left in the map plus the values removed equal the increments made. */
#define RK 1000
typedef struct {
    ftk_handle_t m;
    int ops;
    _Atomic uint64_t incs, removed;
} race_ctx;

static uint64_t race_hash(uint32_t k) { return k % 61; }

/* increment key k by one through the protocol (insert 1 if absent) */
static void race_increment(ftk_handle_t m, uint32_t k, uint64_t h) {
    uint64_t kw = k + 1;
    for (;;) {
        uint64_t fk, fv, stamp;
        int found = lookup(m, h, k + 1, &fk, &fv, &stamp);
        if (k % 16 == 0) sched_yield(); /* a hot subset: force interleaving */
        if (found) {
            TCHECK(fk == kw);
            int st = ftk_map_cas_value(m, h, fk, fv, fv + 1, NULL);
            if (st == FTK_OK) return;
            TCHECK(st == FTK_EAGAIN || st == FTK_ENOTFOUND);
        } else {
            int st = ftk_map_insert(m, h, kw, 1, stamp);
            if (st == FTK_OK) return;
            TCHECK(st == FTK_EAGAIN);
        }
    }
}

static void race_thread(void *arg, int t) {
    race_ctx *x = arg;
    rng r = {(uint64_t)t * 7919 + 1};
    uint64_t incs = 0, removed = 0;
    for (int i = 0; i < x->ops; i++) {
        uint32_t k = (uint32_t)(rnd(&r) % RK);
        uint64_t h = race_hash(k), fk, fv, stamp, old;
        switch (rnd(&r) % 8) {
        case 5:
        case 6:
            if (lookup(x->m, h, k + 1, &fk, &fv, &stamp)) {
                int st = ftk_map_remove(x->m, h, fk, &old);
                if (st == FTK_OK) removed += old;
                else TCHECK(st == FTK_ENOTFOUND);
            }
            break;
        case 7:
            if (lookup(x->m, h, k + 1, &fk, &fv, &stamp)) {
                int st = ftk_map_remove_if(x->m, h, fk, fv);
                if (st == FTK_OK) removed += fv;
                else TCHECK(st == FTK_EAGAIN || st == FTK_ENOTFOUND);
            }
            break;
        default:
            race_increment(x->m, k, h);
            incs++;
        }
    }
    atomic_fetch_add(&x->incs, incs);
    atomic_fetch_add(&x->removed, removed);
}

typedef struct {
    uint8_t seen[RK];
    uint64_t sum;
} race_check;

static void race_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    race_check *c = arg;
    TCHECK(k >= 1 && k <= RK && h == race_hash((uint32_t)k - 1) && v >= 1);
    if (k >= 1 && k <= RK) c->seen[k - 1]++;
    c->sum += v;
}

START_TEST(test_racing_insert_remove_cas) {
    race_ctx x = {new_map(0), FTK_SCALED(40000), 0, 0};
    ftk_test_run_threads(NTHREADS, race_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    race_check c;
    memset(&c, 0, sizeof c);
    size_t n = iterate(x.m, 16, race_visit, &c);
    for (int k = 0; k < RK; k++) ck_assert_uint_le(c.seen[k], 1); /* no duplicates */
    ck_assert_uint_eq(map_size(x.m), n);
    ck_assert_uint_eq(c.sum + atomic_load(&x.removed), atomic_load(&x.incs));
    ASSERT_NO_THREAD_FAILURES();
    free_and_reclaim(x.m);
}
END_TEST

/* 8 threads put unique tokens on 200 key words whose hashes collide (k % 61)
 * and remove entries found by hash. Every token is accounted for exactly
 * once: refused by put (the caller keeps it), handed back by a later put or
 * a remove, or still in the map at the end. put never adds beside another
 * entry with its hash, so the map holds at most one entry per hash. */
#define PK 200
typedef struct {
    ftk_handle_t m;
    int ops;
    _Atomic uint64_t written, returned, refused;
} put_ctx;

static void put_thread(void *arg, int t) {
    put_ctx *x = arg;
    rng r = {(uint64_t)t * 104729 + 5};
    uint64_t written = 0, returned = 0, refused = 0;
    for (int i = 0; i < x->ops; i++) {
        uint64_t k = rnd(&r) % PK, hash = k % 61;
        uint64_t token = ((uint64_t)(t + 1) << 40) | (uint64_t)(i + 1);
        if (rnd(&r) % 5 == 0) { /* remove whatever entry has this hash */
            uint64_t fk, fv, old;
            size_t n;
            int st = ftk_map_find(x->m, (int64_t)hash, &fk, &fv, 1, &n, NULL);
            TCHECK(st == FTK_OK); /* put keeps one entry per hash */
            if (st == FTK_OK && n == 1) {
                st = ftk_map_remove(x->m, (int64_t)hash, fk, &old);
                if (st == FTK_OK) returned += old;
                else TCHECK(st == FTK_ENOTFOUND);
            }
            continue;
        }
        written += token;
        if (t % 2) { /* half the threads through the value-style call */
            uint64_t w = ftk_map_put_v(x->m, (int64_t)hash, k + 1, token);
            if (w == 0) continue; /* added */
            int st = ftk_last_status();
            TCHECK(w != FTK_MAP_SEVERAL && (w >> 40) >= 1 && (w >> 40) <= NTHREADS);
            if (st == FTK_OK) {
                returned += w;
            } else {
                TCHECK(st == FTK_EAGAIN);
                refused += token;
            }
        } else {
            uint64_t old = 0;
            int added = 0;
            int st = ftk_map_put(x->m, (int64_t)hash, k + 1, token, &old, &added);
            if (st == FTK_OK && !added) returned += old;
            else if (st == FTK_EAGAIN) refused += token;
            else TCHECK(st == FTK_OK && added && old == 0);
        }
    }
    atomic_fetch_add(&x->written, written);
    atomic_fetch_add(&x->returned, returned);
    atomic_fetch_add(&x->refused, refused);
}

typedef struct {
    uint8_t hashes[61];
    uint64_t sum;
} put_check;

static void put_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    put_check *c = arg;
    TCHECK(k >= 1 && k <= PK && h == (k - 1) % 61);
    if (h < 61) c->hashes[h]++;
    c->sum += v;
}

START_TEST(test_racing_put_remove) {
    put_ctx x = {new_map(0), FTK_SCALED(40000), 0, 0, 0};
    ftk_test_run_threads(NTHREADS, put_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    put_check c;
    memset(&c, 0, sizeof c);
    size_t n = iterate(x.m, 16, put_visit, &c);
    for (int h = 0; h < 61; h++) ck_assert_uint_le(c.hashes[h], 1);
    ck_assert_uint_eq(map_size(x.m), n);
    ck_assert_uint_eq(c.sum + atomic_load(&x.returned) + atomic_load(&x.refused),
                      atomic_load(&x.written));
    ck_assert_uint_gt(atomic_load(&x.refused), 0); /* the refusal path really ran */
    ASSERT_NO_THREAD_FAILURES();
    free_and_reclaim(x.m);
}
END_TEST

/* Readers never miss a key that is present throughout, while writers grow
 * the table several times and churn other keys. */
typedef struct {
    ftk_handle_t m;
    uint32_t stable, churn;
    _Atomic int writers_left;
    _Atomic uint64_t reads;
} rz_ctx;

static uint64_t rz_hash(uint64_t id) { return splitmix(id ^ 0xabcdef); }

static void rz_thread(void *arg, int t) {
    rz_ctx *x = arg;
    if (t < 3) { /* writers: disjoint churn ranges, keep 1 in 3 */
        for (uint32_t i = (uint32_t)t; i < x->churn; i += 3) {
            uint64_t id = x->stable + i;
            TCHECK(ftk_map_insert(x->m, rz_hash(id), id + 1, id, 0) == FTK_OK);
            if (i % 3 != 0 && i >= 3 * 64) {
                uint64_t old_id = id - 3 * 64; /* one of ours, inserted earlier */
                if ((old_id - x->stable) % 3 != 0)
                    TCHECK(ftk_map_remove(x->m, rz_hash(old_id), old_id + 1, NULL) == FTK_OK);
            }
        }
        atomic_fetch_sub(&x->writers_left, 1);
        return;
    }
    rng r = {(uint64_t)t};
    uint64_t reads = 0;
    enum { B = 64 };
    uint64_t ids[B], ks[B], vs[B], nc[B];
    int64_t hs[B];
    while (atomic_load(&x->writers_left) > 0 || reads < 4 * B) {
        for (int i = 0; i < B; i++) {
            ids[i] = rnd(&r) % x->stable;
            hs[i] = rz_hash(ids[i]);
        }
        TCHECK(ftk_map_find_many(x->m, hs, B, ks, vs, nc, NULL) == FTK_OK);
        for (int i = 0; i < B; i++) TCHECK(nc[i] == 1 && ks[i] == ids[i] + 1 && vs[i] == ids[i] * 3);
        uint64_t k, v;
        size_t n;
        uint64_t id = rnd(&r) % x->stable;
        TCHECK(ftk_map_find(x->m, rz_hash(id), &k, &v, 1, &n, NULL) == FTK_OK);
        TCHECK(n == 1 && k == id + 1 && v == id * 3);
        reads += B + 1;
    }
    atomic_fetch_add(&x->reads, reads);
}

START_TEST(test_resize_under_readers) {
    rz_ctx x = {new_map(0), FTK_SCALED(16000), FTK_SCALED(240000), 3, 0};
    for (uint64_t id = 0; id < x.stable; id++) ck_assert_int_eq(ftk_map_insert(x.m, rz_hash(id), id + 1, id * 3, 0), FTK_OK);
    size_t c0, c1;
    ck_assert_int_eq(ftk_map_capacity(x.m, &c0), FTK_OK);
    ftk_test_run_threads(NTHREADS, rz_thread, &x);
    ck_assert_int_eq(ftk_map_capacity(x.m, &c1), FTK_OK);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_uint_ge(c1, c0 * 4); /* at least two resizes happened meanwhile */
    for (uint64_t id = 0; id < x.stable; id++) {
        uint64_t k, v;
        size_t n;
        ck_assert_int_eq(ftk_map_find(x.m, rz_hash(id), &k, &v, 1, &n, NULL), FTK_OK);
        ck_assert_uint_eq(n, 1);
    }
    free_and_reclaim(x.m);
}
END_TEST

/* Iteration concurrent with inserts, removes and resizes: every stable key
 * exactly once per full iteration, every key at most once. */
typedef struct {
    ftk_handle_t m;
    uint32_t stable, churn;
    _Atomic int writers_left;
    _Atomic int iterations;
} it_ctx;

static uint64_t it_hash(uint64_t id) { return (id % 3 == 0) ? id % 500 : splitmix(id); }

typedef struct {
    uint8_t *seen;
    uint64_t limit;
} it_seen;

static void it_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    it_seen *s = arg;
    uint64_t id = k - 1;
    TCHECK(id < s->limit && v == id * 5 && h == it_hash(id));
    if (id < s->limit) {
        TCHECK(s->seen[id] == 0); /* at most once */
        s->seen[id]++;
    }
}

static void it_thread(void *arg, int t) {
    it_ctx *x = arg;
    uint64_t total = (uint64_t)x->stable + x->churn;
    if (t < 3) { /* churn writers: insert, remove after a window, keep 1/4 */
        for (uint32_t i = (uint32_t)t; i < x->churn; i += 3) {
            uint64_t id = x->stable + i;
            TCHECK(ftk_map_insert(x->m, it_hash(id), id + 1, id * 5, FTK_MAP_STAMP_ANY) == FTK_OK);
            if (i >= 3 * 100) {
                uint64_t old = id - 3 * 100;
                if ((old - x->stable) % 4 != 0)
                    TCHECK(ftk_map_remove(x->m, it_hash(old), old + 1, NULL) == FTK_OK);
            }
        }
        atomic_fetch_sub(&x->writers_left, 1);
        return;
    }
    it_seen s = {calloc(total, 1), total};
    TCHECK(s.seen != NULL);
    rng r = {(uint64_t)t + 100};
    int iters = 0;
    while (atomic_load(&x->writers_left) > 0 || iters < 2) {
        memset(s.seen, 0, total);
        iterate(x->m, 1 + (size_t)(rnd(&r) % 48), it_visit, &s);
        for (uint32_t id = 0; id < x->stable; id++) TCHECK(s.seen[id] == 1);
        iters++;
    }
    atomic_fetch_add(&x->iterations, iters);
    free(s.seen);
}

START_TEST(test_iter_under_churn) {
    it_ctx x = {new_map(0), FTK_SCALED(6000), FTK_SCALED(120000), 3, 0};
    for (uint64_t id = 0; id < x.stable; id++) ck_assert_int_eq(ftk_map_insert(x.m, it_hash(id), id + 1, id * 5, FTK_MAP_STAMP_ANY), FTK_OK);
    ftk_test_run_threads(NTHREADS, it_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_int_ge(atomic_load(&x.iterations), 2 * (NTHREADS - 3));
    free_and_reclaim(x.m);
}
END_TEST

/* ---- stress ---------------------------------------------------------------- */

/* Every operation at once on colliding and non-colliding hashes, growing
 * from the smallest table: batch increments (find_many + cas_value_many +
 * insert_many), single increments, pops, remove_if, drains and iterations.
 * Conservation of increments and no duplicate keys at the end. */
#define SK 4000
typedef struct {
    ftk_handle_t m;
    int ops;
    _Atomic uint64_t incs, removed;
} st_ctx;

static uint64_t st_hash(uint32_t k) { return (k & 1) ? k % 101 : splitmix(k); }

static void st_visit(void *arg, uint64_t k, uint64_t v, uint64_t h) {
    uint8_t *seen = arg;
    TCHECK(k >= 1 && k <= SK && v >= 1 && h == st_hash((uint32_t)k - 1));
    if (k >= 1 && k <= SK) {
        TCHECK(seen[k - 1] == 0);
        seen[k - 1] = 1;
    }
}

static void st_thread(void *arg, int t) {
    st_ctx *x = arg;
    rng r = {(uint64_t)t * 31337 + 5};
    uint64_t incs = 0, removed = 0;
    uint8_t *seen = calloc(SK, 1);
    enum { B = 16 };
    for (int i = 0; i < x->ops; i++) {
        uint64_t roll = rnd(&r) % 100;
        if (roll < 40) { /* batch increment, reduce()-style */
            uint64_t kw[B], fk[B], fv[B], nc[B], stp[B], des[B];
            int64_t hs[B];
            int sts[B];
            for (int j = 0; j < B; j++) {
                uint32_t k = (uint32_t)(rnd(&r) % SK);
                kw[j] = k + 1;
                hs[j] = st_hash(k);
            }
            TCHECK(ftk_map_find_many(x->m, hs, B, fk, fv, nc, stp) == FTK_OK);
            for (int j = 0; j < B; j++) {
                if (nc[j] == 1 && fk[j] == kw[j]) { /* present, sole candidate */
                    des[j] = fv[j] + 1;
                    int st = ftk_map_cas_value_many(x->m, &hs[j], &kw[j], &fv[j], &des[j], 1, NULL, &sts[j]);
                    if (st == FTK_OK) incs++;
                    else race_increment(x->m, (uint32_t)kw[j] - 1, hs[j]), incs++;
                } else if (nc[j] == 0) { /* absent: insert with the stamp */
                    uint64_t one = 1;
                    int st = ftk_map_insert_many(x->m, &hs[j], &kw[j], &one, &stp[j], 1, &sts[j]);
                    TCHECK(st == FTK_OK || st == FTK_EAGAIN);
                    if (st != FTK_OK) race_increment(x->m, (uint32_t)kw[j] - 1, hs[j]);
                    incs++;
                } else { /* several candidates: the single-key path */
                    race_increment(x->m, (uint32_t)kw[j] - 1, hs[j]);
                    incs++;
                }
            }
        } else if (roll < 70) {
            uint32_t k = (uint32_t)(rnd(&r) % SK);
            race_increment(x->m, k, st_hash(k));
            incs++;
        } else if (roll < 88) {
            uint32_t k = (uint32_t)(rnd(&r) % SK);
            uint64_t fk, fv, stamp, old;
            if (lookup(x->m, st_hash(k), k + 1, &fk, &fv, &stamp)) {
                int st = (roll & 1) ? ftk_map_remove(x->m, st_hash(k), fk, &old)
                                    : ftk_map_remove_if(x->m, st_hash(k), fk, (old = fv));
                if (st == FTK_OK) removed += old;
            }
        } else if (roll < 98) { /* a partial iteration, never a duplicate */
            uint64_t k[32], v[32], cur = 0;
            int64_t hs[32];
            size_t n;
            memset(seen, 0, SK);
            for (int calls = 0; calls < 8 && cur != FTK_MAP_CURSOR_END; calls++) {
                int st = ftk_map_iter(x->m, &cur, k, v, hs, 32, &n);
                if (st == FTK_EOVERFLOW) break;
                TCHECK(st == FTK_OK);
                for (size_t j = 0; j < n; j++) st_visit(seen, k[j], v[j], hs[j]);
            }
        } else { /* clear() a little */
            uint64_t k[8], v[8];
            size_t n;
            TCHECK(ftk_map_drain(x->m, k, v, 8, &n) == FTK_OK);
            for (size_t j = 0; j < n; j++) removed += v[j];
        }
    }
    free(seen);
    atomic_fetch_add(&x->incs, incs);
    atomic_fetch_add(&x->removed, removed);
}

START_TEST(test_stress_mixed) {
    st_ctx x = {new_map(0), FTK_SCALED(30000), 0, 0};
    ftk_test_run_threads(NTHREADS, st_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    uint8_t *seen = calloc(SK, 1);
    uint64_t sum = 0, k[64], v[64];
    size_t n;
    iterate(x.m, 64, st_visit, seen);
    do { /* drain everything and add it up */
        ck_assert_int_eq(ftk_map_drain(x.m, k, v, 64, &n), FTK_OK);
        for (size_t j = 0; j < n; j++) sum += v[j];
    } while (n == 64);
    ck_assert_uint_eq(map_size(x.m), 0);
    ck_assert_uint_eq(sum + atomic_load(&x.removed), atomic_load(&x.incs));
    ASSERT_NO_THREAD_FAILURES();
    free(seen);
    free_and_reclaim(x.m);
}
END_TEST

/* Many maps created, filled from several threads, drained and freed, with
 * their handles going stale: nothing leaks (LSan) and stale handles fail. */
typedef struct {
    ftk_handle_t maps[4];
} life_ctx;

static void life_thread(void *arg, int t) {
    life_ctx *x = arg;
    ftk_handle_t m = x->maps[t % 4];
    for (uint64_t i = 0; i < 2000; i++) {
        uint64_t id = (uint64_t)t * 100000 + i;
        /* distinct key words, colliding hashes: no conflict check wanted */
        TCHECK(ftk_map_insert(m, splitmix(id) % 512, id + 1, id, FTK_MAP_STAMP_ANY) == FTK_OK);
    }
}

START_TEST(test_stress_lifecycle) {
    size_t base = ftk_live_handles();
    int rounds = FTK_SCALED(24);
    for (int r = 0; r < rounds; r++) {
        life_ctx x;
        for (int i = 0; i < 4; i++) x.maps[i] = new_map((size_t)(r % 3) * 500);
        ftk_test_run_threads(NTHREADS, life_thread, &x);
        for (int i = 0; i < 4; i++) {
            uint64_t k[100], v[100];
            size_t n;
            if (r % 2) { /* half the maps drained first, half freed full */
                do ck_assert_int_eq(ftk_map_drain(x.maps[i], k, v, 100, &n), FTK_OK);
                while (n == 100);
                ck_assert_uint_eq(map_size(x.maps[i]), 0);
            }
            ck_assert_int_eq(ftk_map_free(x.maps[i]), FTK_OK);
            ck_assert_int_eq(ftk_map_insert(x.maps[i], 1, 2, 3, 0), FTK_EBADHANDLE);
        }
    }
    ASSERT_NO_THREAD_FAILURES();
    ck_assert_uint_eq(ftk_live_handles(), base);
    ck_assert_uint_eq(ftk_reclaim_collect(), 0);
}
END_TEST

#ifndef __SANITIZE_THREAD__
/* Freeing a map while other threads are inside calls on it is a race in the
 * caller, but must stay memory-safe (ASan checks): late calls see either
 * the map or FTK_EBADHANDLE. Not under TSan: the handle table's `obj` field
 * is read without synchronisation against its recycling, by design. */
typedef struct {
    _Atomic(ftk_handle_t) cur;
    _Atomic int stop;
} fw_ctx;

static void fw_thread(void *arg, int t) {
    fw_ctx *x = arg;
    if (t == 0) {
        for (int r = 0; r < FTK_SCALED(400); r++) {
            ftk_handle_t m = FTK_NULL_HANDLE;
            TCHECK(ftk_map_new(0, &m) == FTK_OK);
            ftk_handle_t old = atomic_exchange(&x->cur, m);
            for (volatile int spin = 0; spin < 20000; spin++) {
            }
            TCHECK(ftk_map_free(old) == FTK_OK);
        }
        atomic_store(&x->stop, 1);
        return;
    }
    rng r = {(uint64_t)t};
    uint64_t k[16], v[16], w;
    int64_t hs[16];
    size_t n;
    while (!atomic_load(&x->stop)) {
        ftk_handle_t m = atomic_load(&x->cur);
        uint64_t id = rnd(&r) % 5000, h = id % 97;
        int st;
        switch (id % 6) {
        case 0: st = ftk_map_insert(m, h, id + 1, id, FTK_MAP_STAMP_ANY); break;
        case 1: st = ftk_map_put(m, h, id + 1, id, &w, NULL); break;
        case 2: st = ftk_map_remove(m, h, id + 1, &w); break;
        case 3: st = ftk_map_find(m, h, k, v, 16, &n, &w); break;
        case 4: {
            uint64_t cur = 0;
            st = ftk_map_iter(m, &cur, k, v, hs, 16, &n);
            break;
        }
        default: st = ftk_map_drain(m, k, v, 16, &n); break;
        }
        TCHECK(st == FTK_OK || st == FTK_EBADHANDLE || st == FTK_ENOTFOUND ||
               st == FTK_EOVERFLOW || st == FTK_EAGAIN);
    }
}

START_TEST(test_stress_free_while_used) {
    size_t base = ftk_live_handles();
    fw_ctx x;
    ftk_handle_t m0 = new_map(0);
    atomic_init(&x.cur, m0);
    atomic_init(&x.stop, 0);
    ftk_test_run_threads(4, fw_thread, &x);
    ASSERT_NO_THREAD_FAILURES();
    free_and_reclaim(atomic_load(&x.cur));
    ck_assert_uint_eq(ftk_live_handles(), base);
}
END_TEST
#endif

static Suite *map_suite(void) {
    Suite *s = suite_create("map");
    TCase *api = ftk_test_tcase("api");
    tcase_add_test(api, test_bad_handles);
    tcase_add_test(api, test_null_outs);
    tcase_add_test(api, test_basic_ops);
    tcase_add_test(api, test_put);
    tcase_add_test(api, test_batch_ops);
    tcase_add_test(api, test_iter_and_drain_api);
    tcase_add_test(api, test_capacity_hint);
    suite_add_tcase(s, api);

    TCase *single = ftk_test_tcase("single");
    tcase_add_test(single, test_model_collisions);
    tcase_add_test(single, test_model_good_hashes);
    tcase_add_test(single, test_model_one_hash);
    tcase_add_test(single, test_model_high_bits);
    tcase_add_test(single, test_growth);
    tcase_add_test(single, test_stamp_across_resize);
    tcase_add_test(single, test_iter_cursor_across_resize);
    suite_add_tcase(s, single);

    TCase *conc = ftk_test_tcase("concurrent");
    tcase_add_test(conc, test_drain_pass);
    tcase_add_test(conc, test_equal_keys_one_entry);
    tcase_add_test(conc, test_racing_insert_remove_cas);
    tcase_add_test(conc, test_racing_put_remove);
    tcase_add_test(conc, test_resize_under_readers);
    tcase_add_test(conc, test_iter_under_churn);
    suite_add_tcase(s, conc);

    TCase *stress = ftk_test_tcase("stress");
    tcase_add_test(stress, test_stress_mixed);
    tcase_add_test(stress, test_stress_lifecycle);
#ifndef __SANITIZE_THREAD__
    tcase_add_test(stress, test_stress_free_while_used);
#endif
    suite_add_tcase(s, stress);
    return s;
}

int main(void) { return ftk_test_main(map_suite()); }
