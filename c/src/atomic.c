/*
 * atomic.c - atomic int64, flag and word reference.
 *
 * The value lives inline in the handle-table entry (one line per entry), so
 * an operation is: validate the handle (two acquire loads), then one
 * seq_cst RMW on the entry. Stored as uint64_t so that wrapping arithmetic
 * is plain unsigned arithmetic (no signed-overflow UB); the int64_t view is
 * the two's complement reinterpretation.
 */
#include "internal.h"

/* Two's complement reinterpretation without implementation-defined casts. */
static inline int64_t to_i64(uint64_t u) {
    int64_t v;
    __builtin_memcpy(&v, &u, sizeof v);
    return v;
}
static inline uint64_t to_u64(int64_t v) { return (uint64_t)v; }

static int new_entry(unsigned kind, uint64_t initial, ftk_handle_t *out) {
    if (out == NULL) return FTK_EINVAL;
    ftk_entry *e;
    ftk_handle_t h;
    int st = ftk_entry_alloc(kind, &e, &h);
    if (st != FTK_OK) return st;
    atomic_store_explicit(&e->value, initial, memory_order_relaxed); /* published below */
    ftk_entry_publish(e, h);
    *out = h;
    return FTK_OK;
}

static int free_entry(unsigned kind, ftk_handle_t h) {
    if (h == FTK_NULL_HANDLE) return FTK_OK;
    return ftk_entry_retire(h, kind, NULL) ? FTK_OK : FTK_EBADHANDLE;
}

#define GET_OR_FAIL(kind, h)                              \
    ftk_entry *e = ftk_entry_get((h), (kind));            \
    if (e == NULL) return FTK_EBADHANDLE

#define GET_OR_ZERO(kind, h)                              \
    ftk_entry *e = ftk_entry_get((h), (kind));            \
    if (e == NULL) {                                      \
        ftk_set_last(FTK_EBADHANDLE);                     \
        return 0;                                         \
    }

/* ---- int64 ------------------------------------------------------------- */

int ftk_int64_new(int64_t initial, ftk_handle_t *out) {
    return new_entry(FTK_KIND_INT64, to_u64(initial), out);
}
int ftk_int64_free(ftk_handle_t h) { return free_entry(FTK_KIND_INT64, h); }

int ftk_int64_load(ftk_handle_t h, int64_t *out) {
    if (out == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_INT64, h);
    *out = to_i64(atomic_load(&e->value));
    return FTK_OK;
}

int ftk_int64_store(ftk_handle_t h, int64_t value) {
    GET_OR_FAIL(FTK_KIND_INT64, h);
    atomic_store(&e->value, to_u64(value));
    return FTK_OK;
}

#define FETCH_OP(name, expr)                                        \
    int ftk_int64_fetch_##name(ftk_handle_t h, int64_t v, int64_t *old) { \
        GET_OR_FAIL(FTK_KIND_INT64, h);                             \
        uint64_t prev = expr;                                       \
        if (old) *old = to_i64(prev);                               \
        return FTK_OK;                                              \
    }
FETCH_OP(add, atomic_fetch_add(&e->value, to_u64(v)))
FETCH_OP(sub, atomic_fetch_sub(&e->value, to_u64(v)))
FETCH_OP(and, atomic_fetch_and(&e->value, to_u64(v)))
FETCH_OP(or, atomic_fetch_or(&e->value, to_u64(v)))
FETCH_OP(xor, atomic_fetch_xor(&e->value, to_u64(v)))
#undef FETCH_OP

int ftk_int64_fetch_mul(ftk_handle_t h, int64_t v, int64_t *old) {
    GET_OR_FAIL(FTK_KIND_INT64, h);
    uint64_t cur = atomic_load(&e->value);
    while (!atomic_compare_exchange_weak(&e->value, &cur, cur * to_u64(v))) {
    }
    if (old) *old = to_i64(cur);
    return FTK_OK;
}

/* Python's floor division, wrapping INT64_MIN // -1 to INT64_MIN. */
static inline int64_t floordiv(int64_t a, int64_t b) {
    if (b == -1) return to_i64(0 - to_u64(a));
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int ftk_int64_fetch_floordiv(ftk_handle_t h, int64_t v, int64_t *old) {
    GET_OR_FAIL(FTK_KIND_INT64, h);
    if (v == 0) return FTK_EINVAL;
    uint64_t cur = atomic_load(&e->value);
    while (!atomic_compare_exchange_weak(&e->value, &cur,
                                         to_u64(floordiv(to_i64(cur), v)))) {
    }
    if (old) *old = to_i64(cur);
    return FTK_OK;
}

int ftk_int64_exchange(ftk_handle_t h, int64_t v, int64_t *old) {
    GET_OR_FAIL(FTK_KIND_INT64, h);
    uint64_t prev = atomic_exchange(&e->value, to_u64(v));
    if (old) *old = to_i64(prev);
    return FTK_OK;
}

int ftk_int64_compare_exchange(ftk_handle_t h, int64_t *expected, int64_t desired) {
    if (expected == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_INT64, h);
    uint64_t exp = to_u64(*expected);
    if (atomic_compare_exchange_strong(&e->value, &exp, to_u64(desired))) return FTK_OK;
    *expected = to_i64(exp);
    return FTK_EAGAIN;
}

int64_t ftk_int64_load_v(ftk_handle_t h) {
    GET_OR_ZERO(FTK_KIND_INT64, h);
    return to_i64(atomic_load(&e->value));
}
void ftk_int64_store_v(ftk_handle_t h, int64_t v) {
    ftk_entry *e = ftk_entry_get(h, FTK_KIND_INT64);
    if (e == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return;
    }
    atomic_store(&e->value, to_u64(v));
}
int64_t ftk_int64_add_v(ftk_handle_t h, int64_t v) {
    GET_OR_ZERO(FTK_KIND_INT64, h);
    return to_i64(atomic_fetch_add(&e->value, to_u64(v)) + to_u64(v));
}
#define FETCH_OP_V(name)                                            \
    int64_t ftk_int64_fetch_##name##_v(ftk_handle_t h, int64_t v) { \
        GET_OR_ZERO(FTK_KIND_INT64, h);                             \
        return to_i64(atomic_fetch_##name(&e->value, to_u64(v)));   \
    }
FETCH_OP_V(add)
FETCH_OP_V(sub)
FETCH_OP_V(and)
FETCH_OP_V(or)
FETCH_OP_V(xor)
#undef FETCH_OP_V
int64_t ftk_int64_exchange_v(ftk_handle_t h, int64_t v) {
    GET_OR_ZERO(FTK_KIND_INT64, h);
    return to_i64(atomic_exchange(&e->value, to_u64(v)));
}
int ftk_int64_cas_v(ftk_handle_t h, int64_t expected, int64_t desired) {
    GET_OR_ZERO(FTK_KIND_INT64, h);
    uint64_t exp = to_u64(expected);
    return atomic_compare_exchange_strong(&e->value, &exp, to_u64(desired));
}

/* ---- flag -------------------------------------------------------------- */

int ftk_flag_new(int initial, ftk_handle_t *out) {
    return new_entry(FTK_KIND_FLAG, initial != 0, out);
}
int ftk_flag_free(ftk_handle_t h) { return free_entry(FTK_KIND_FLAG, h); }

int ftk_flag_load(ftk_handle_t h, int *out) {
    if (out == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_FLAG, h);
    *out = (int)atomic_load(&e->value);
    return FTK_OK;
}
int ftk_flag_store(ftk_handle_t h, int value) {
    GET_OR_FAIL(FTK_KIND_FLAG, h);
    atomic_store(&e->value, value != 0);
    return FTK_OK;
}
int ftk_flag_exchange(ftk_handle_t h, int value, int *old) {
    GET_OR_FAIL(FTK_KIND_FLAG, h);
    int prev = (int)atomic_exchange(&e->value, value != 0);
    if (old) *old = prev;
    return FTK_OK;
}
int ftk_flag_compare_exchange(ftk_handle_t h, int *expected, int desired) {
    if (expected == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_FLAG, h);
    uint64_t exp = *expected != 0;
    if (atomic_compare_exchange_strong(&e->value, &exp, desired != 0)) return FTK_OK;
    *expected = (int)exp;
    return FTK_EAGAIN;
}
int ftk_flag_load_v(ftk_handle_t h) {
    GET_OR_ZERO(FTK_KIND_FLAG, h);
    return (int)atomic_load(&e->value);
}
void ftk_flag_store_v(ftk_handle_t h, int value) {
    ftk_entry *e = ftk_entry_get(h, FTK_KIND_FLAG);
    if (e == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return;
    }
    atomic_store(&e->value, value != 0);
}
int ftk_flag_exchange_v(ftk_handle_t h, int value) {
    GET_OR_ZERO(FTK_KIND_FLAG, h);
    return (int)atomic_exchange(&e->value, value != 0);
}
int ftk_flag_cas_v(ftk_handle_t h, int expected, int desired) {
    GET_OR_ZERO(FTK_KIND_FLAG, h);
    uint64_t exp = expected != 0;
    return atomic_compare_exchange_strong(&e->value, &exp, desired != 0);
}

/* ---- word reference ---------------------------------------------------- */

int ftk_ref_new(uint64_t initial, ftk_handle_t *out) {
    return new_entry(FTK_KIND_REF, initial, out);
}
int ftk_ref_free(ftk_handle_t h) { return free_entry(FTK_KIND_REF, h); }

int ftk_ref_load(ftk_handle_t h, uint64_t *out) {
    if (out == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_REF, h);
    *out = atomic_load(&e->value);
    return FTK_OK;
}
int ftk_ref_exchange(ftk_handle_t h, uint64_t word, uint64_t *old) {
    GET_OR_FAIL(FTK_KIND_REF, h);
    uint64_t prev = atomic_exchange(&e->value, word);
    if (old) *old = prev;
    return FTK_OK;
}
int ftk_ref_compare_exchange(ftk_handle_t h, uint64_t *expected, uint64_t desired) {
    if (expected == NULL) return FTK_EINVAL;
    GET_OR_FAIL(FTK_KIND_REF, h);
    if (atomic_compare_exchange_strong(&e->value, expected, desired)) return FTK_OK;
    return FTK_EAGAIN;
}
uint64_t ftk_ref_load_v(ftk_handle_t h) {
    GET_OR_ZERO(FTK_KIND_REF, h);
    return atomic_load(&e->value);
}
uint64_t ftk_ref_exchange_v(ftk_handle_t h, uint64_t word) {
    GET_OR_ZERO(FTK_KIND_REF, h);
    return atomic_exchange(&e->value, word);
}
int ftk_ref_cas_v(ftk_handle_t h, uint64_t expected, uint64_t desired) {
    GET_OR_ZERO(FTK_KIND_REF, h);
    return atomic_compare_exchange_strong(&e->value, &expected, desired);
}
