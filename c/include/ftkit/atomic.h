/*
 * ftkit/atomic.h - atomic 64-bit integer, atomic flag, atomic word reference.
 *
 * Every operation is sequentially consistent and lock-free (wait-free on
 * targets with native 64-bit atomic RMW, i.e. x86-64 and AArch64 v8.1+; the
 * CAS loops behind fetch_mul/fetch_floordiv are lock-free, not wait-free).
 * Any thread may call any function at any time on a live handle.
 *
 * Two call styles:
 *  - status style: `int f(h, ..., T *out)` returns FTK_OK or a status code.
 *  - value style (`_v` suffix): returns the result directly for FFI hot
 *    paths where an out-parameter costs more than the operation. On a bad
 *    handle it returns 0 (false for flags) and records FTK_EBADHANDLE for
 *    ftk_last_status(). It never crashes: handle memory is type-stable.
 *
 * Arithmetic wraps modulo 2**64 (two's complement), like C unsigned math.
 * Destroying a handle while another thread is inside a call on it is a race
 * in the caller; it is memory-safe but the late call may act on a recycled
 * object. Calls that start after ftk_*_free returned get FTK_EBADHANDLE.
 */
#ifndef FTKIT_ATOMIC_H
#define FTKIT_ATOMIC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- atomic int64 ------------------------------------------------------ */
FTK_API int ftk_int64_new(int64_t initial, ftk_handle_t *out);
/* Free an int64; FTK_NULL_HANDLE is a no-op returning FTK_OK. */
FTK_API int ftk_int64_free(ftk_handle_t h);
FTK_API int ftk_int64_load(ftk_handle_t h, int64_t *out);
FTK_API int ftk_int64_store(ftk_handle_t h, int64_t value);
/* Read-modify-write: *old (may be NULL) receives the previous value. */
FTK_API int ftk_int64_fetch_add(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_fetch_sub(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_fetch_and(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_fetch_or(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_fetch_xor(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_fetch_mul(ftk_handle_t h, int64_t v, int64_t *old);
/* Floor division like Python's //; FTK_EINVAL when v == 0. */
FTK_API int ftk_int64_fetch_floordiv(ftk_handle_t h, int64_t v, int64_t *old);
FTK_API int ftk_int64_exchange(ftk_handle_t h, int64_t v, int64_t *old);
/* FTK_OK if the value equalled *expected and was replaced by desired;
 * otherwise FTK_EAGAIN and *expected receives the current value. */
FTK_API int ftk_int64_compare_exchange(ftk_handle_t h, int64_t *expected,
                                       int64_t desired);

FTK_API int64_t ftk_int64_load_v(ftk_handle_t h);
FTK_API void ftk_int64_store_v(ftk_handle_t h, int64_t v);
/* Adds v and returns the NEW value. */
FTK_API int64_t ftk_int64_add_v(ftk_handle_t h, int64_t v);
/* Fetch-and-op, returning the OLD value. */
FTK_API int64_t ftk_int64_fetch_add_v(ftk_handle_t h, int64_t v);
FTK_API int64_t ftk_int64_fetch_sub_v(ftk_handle_t h, int64_t v);
FTK_API int64_t ftk_int64_fetch_and_v(ftk_handle_t h, int64_t v);
FTK_API int64_t ftk_int64_fetch_or_v(ftk_handle_t h, int64_t v);
FTK_API int64_t ftk_int64_fetch_xor_v(ftk_handle_t h, int64_t v);
FTK_API int64_t ftk_int64_exchange_v(ftk_handle_t h, int64_t v);
/* 1 if replaced, 0 if not (or bad handle). */
FTK_API int ftk_int64_cas_v(ftk_handle_t h, int64_t expected, int64_t desired);

/* ---- atomic flag ------------------------------------------------------- */
FTK_API int ftk_flag_new(int initial, ftk_handle_t *out);
FTK_API int ftk_flag_free(ftk_handle_t h);
FTK_API int ftk_flag_load(ftk_handle_t h, int *out);
FTK_API int ftk_flag_store(ftk_handle_t h, int value);
FTK_API int ftk_flag_exchange(ftk_handle_t h, int value, int *old);
/* FTK_OK if swapped, FTK_EAGAIN (and *expected updated) otherwise. */
FTK_API int ftk_flag_compare_exchange(ftk_handle_t h, int *expected, int desired);
FTK_API int ftk_flag_load_v(ftk_handle_t h);
FTK_API void ftk_flag_store_v(ftk_handle_t h, int value);
FTK_API int ftk_flag_exchange_v(ftk_handle_t h, int value);
FTK_API int ftk_flag_cas_v(ftk_handle_t h, int expected, int desired);

/* ---- atomic word reference --------------------------------------------- */
/* Holds one refcount-neutral 64-bit word (see slots.h); never interprets it. */
FTK_API int ftk_ref_new(uint64_t initial, ftk_handle_t *out);
FTK_API int ftk_ref_free(ftk_handle_t h);
FTK_API int ftk_ref_load(ftk_handle_t h, uint64_t *out);
FTK_API int ftk_ref_exchange(ftk_handle_t h, uint64_t word, uint64_t *old);
/* FTK_OK if swapped, FTK_EAGAIN (and *expected updated) otherwise. */
FTK_API int ftk_ref_compare_exchange(ftk_handle_t h, uint64_t *expected,
                                     uint64_t desired);
FTK_API uint64_t ftk_ref_load_v(ftk_handle_t h);
FTK_API uint64_t ftk_ref_exchange_v(ftk_handle_t h, uint64_t word);
FTK_API int ftk_ref_cas_v(ftk_handle_t h, uint64_t expected, uint64_t desired);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_ATOMIC_H */
