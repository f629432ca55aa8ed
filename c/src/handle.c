/*
 * handle.c - the handle table.
 *
 * Handle bits: kind (8) | generation (24) | index (32), carried in a pointer-
 * typed value (see common.h).
 * Index 0 is never used, so the all-zero handle is always invalid. Lookups
 * are lock-free; allocating and retiring entries takes a mutex because they
 * are not hot paths (creating and destroying objects), and it keeps the free
 * list simple and obviously correct.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

_Atomic(ftk_entry *) ftk_entry_segs[FTK_MAX_SEGS];

pthread_mutex_t ftk_table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head;     /* index of first free entry, 0 = none */
static uint32_t next_fresh = 1; /* next never-used index */
static _Atomic size_t live_count;

static ftk_entry *entry_at(uint32_t idx) {
    ftk_entry *seg = atomic_load_explicit(&ftk_entry_segs[idx >> FTK_SEG_SHIFT],
                                          memory_order_acquire);
    return &seg[idx & (FTK_SEG_SIZE - 1)];
}

int ftk_entry_alloc(unsigned kind, ftk_entry **entry, ftk_handle_t *handle) {
    pthread_mutex_lock(&ftk_table_lock);
    uint32_t idx;
    if (free_head != 0) {
        idx = free_head;
        free_head = entry_at(idx)->next_free;
    } else {
        idx = next_fresh;
        uint32_t s = idx >> FTK_SEG_SHIFT;
        if (s >= FTK_MAX_SEGS) {
            pthread_mutex_unlock(&ftk_table_lock);
            return FTK_ENOMEM;
        }
        if (atomic_load_explicit(&ftk_entry_segs[s], memory_order_relaxed) == NULL) {
            ftk_entry *seg = aligned_alloc(64, sizeof(ftk_entry) * FTK_SEG_SIZE);
            if (seg == NULL) {
                pthread_mutex_unlock(&ftk_table_lock);
                return FTK_ENOMEM;
            }
            for (uint32_t i = 0; i < FTK_SEG_SIZE; i++) {
                atomic_init(&seg[i].handle, 0);
                atomic_init(&seg[i].value, 0);
                atomic_init(&seg[i].obj, NULL);
                seg[i].next_free = 0;
                seg[i].gen = 1;
            }
            /* release: lookups in other threads see initialised entries */
            atomic_store_explicit(&ftk_entry_segs[s], seg, memory_order_release);
        }
        next_fresh++;
    }
    ftk_entry *e = entry_at(idx);
    uint32_t gen = e->gen & 0xffffffu;
    if (gen == 0) gen = 1;
    pthread_mutex_unlock(&ftk_table_lock);
    e->obj = NULL;
    *entry = e;
    *handle = ftk_u2h(((uint64_t)kind << 56) | ((uint64_t)gen << 32) | idx);
    return FTK_OK;
}

void ftk_entry_publish(ftk_entry *e, ftk_handle_t handle) {
    atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed);
    /* release: value/obj written before are visible to ftk_entry_get */
    atomic_store_explicit(&e->handle, ftk_h2u(handle), memory_order_release);
}

ftk_entry *ftk_entry_retire(ftk_handle_t h, unsigned kind, void **obj) {
    ftk_entry *e = ftk_entry_get(h, kind);
    if (e == NULL) return NULL;
    uint64_t expected = ftk_h2u(h);
    /* Only one of several racing frees wins; the others see FTK_EBADHANDLE. */
    if (!atomic_compare_exchange_strong(&e->handle, &expected, 0)) return NULL;
    if (obj) *obj = e->obj;
    atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
    pthread_mutex_lock(&ftk_table_lock);
    e->gen = ((uint32_t)(ftk_h2u(h) >> 32) + 1) & 0xffffffu;
    if (e->gen != 0) {
        e->next_free = free_head;
        free_head = FTK_HANDLE_INDEX(h);
    }
    /* else every generation of this index has been handed out: the index is
     * retired for good instead of wrapping, which would make a handle freed
     * 2**24 reuses ago (0.6 s of create/free in a loop, LIFO reuse) valid
     * again. Costs one 128-byte entry per 2**24 reuses of an index. */
    pthread_mutex_unlock(&ftk_table_lock);
    return e;
}

size_t ftk_live_handles(void) {
    return atomic_load_explicit(&live_count, memory_order_relaxed);
}
