/* map_v.c - value-style map calls for FFI hot paths (see map.h). */
#include "internal.h"

static inline uint64_t word_or_status(int st, uint64_t w) {
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK); /* a genuine 0 word: tell it apart */
    return w;
}

uint64_t ftk_map_find1_v(ftk_handle_t h, int64_t hash) {
    uint64_t key, value = 0;
    size_t n = 0;
    int st = ftk_map_find(h, hash, &key, &value, 1, &n, NULL);
    if (st == FTK_OK && n == 0) st = FTK_ENOTFOUND;
    return word_or_status(st, value);
}

uint64_t ftk_map_lookup_v(ftk_handle_t h, int64_t hash) {
    uint64_t key, value = 0;
    size_t n = 0;
    int st = ftk_map_find(h, hash, &key, &value, 1, &n, NULL);
    if (st == FTK_OK) return n ? value : 0; /* n == 0: a miss, nothing to record */
    ftk_set_last(st); /* FTK_EOVERFLOW (several) or FTK_EBADHANDLE */
    return FTK_MAP_SEVERAL;
}

uint64_t ftk_map_set_value_v(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value) {
    uint64_t old = 0;
    int st = ftk_map_set_value(h, hash, key, value, &old); /* before reading old */
    return word_or_status(st, old);
}

uint64_t ftk_map_put_v(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value) {
    uint64_t old = 0;
    int added = 0;
    int st = ftk_map_put(h, hash, key, value, &old, &added); /* before reading old */
    if (st == FTK_OK || st == FTK_EAGAIN) {
        /* replaced (FTK_OK, old != 0 for this API's callers), added (0), or
         * the one other entry's word (FTK_EAGAIN) */
        if (!added) ftk_set_last(st);
        return old;
    }
    ftk_set_last(st); /* FTK_EOVERFLOW (several others), FTK_ENOMEM, FTK_EBADHANDLE */
    return FTK_MAP_SEVERAL;
}

uint64_t ftk_map_remove_v(ftk_handle_t h, int64_t hash, uint64_t key) {
    uint64_t old = 0;
    int st = ftk_map_remove(h, hash, key, &old); /* before reading old */
    return word_or_status(st, old);
}

size_t ftk_map_size_v(ftk_handle_t h) {
    size_t n = 0;
    int st = ftk_map_size(h, &n);
    ftk_set_last(st); /* FTK_OK too: 0 is a genuine size */
    return n;
}
