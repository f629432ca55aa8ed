/* queue_v.c - value-style queue pops for FFI hot paths (see queue.h). */
#include "internal.h"

uint64_t ftk_queue_try_pop_v(ftk_handle_t h) {
    uint64_t w = 0;
    int st = ftk_queue_try_pop(h, &w);
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK); /* a genuine 0 word: tell it apart */
    return w;
}

uint64_t ftk_queue_pop_v(ftk_handle_t h, int64_t timeout_ns) {
    uint64_t w = 0;
    int st = ftk_queue_pop(h, &w, timeout_ns);
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK);
    return w;
}
