/* queue_v.c - value-style queue pops for FFI hot paths (see queue.h). */
#include "internal.h"

uint64_t ftk_queue_try_pop_v(ftk_handle_t h) {
    uint64_t w = 0;
    int st = ftk_queue_try_pop(h, &w);
    ftk_set_last_result(w);
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
    ftk_set_last_result(w);
    if (st != FTK_OK) {
        ftk_set_last(st);
        return 0;
    }
    if (w == 0) ftk_set_last(FTK_OK);
    return w;
}

size_t ftk_queue_push_range_v(ftk_handle_t h, uint64_t first, size_t n, int64_t timeout_ns) {
    uint64_t buf[256];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < 256 ? n - done : 256;
        for (size_t i = 0; i < k; i++) buf[i] = first + done + i;
        size_t pushed = 0;
        int st = ftk_queue_push_many(h, buf, k, &pushed, timeout_ns);
        done += pushed;
        if (st != FTK_OK) {
            ftk_set_last(st);
            ftk_set_last_result(done);
            return done;
        }
    }
    ftk_set_last_result(done);
    return done;
}

size_t ftk_queue_pop_runs_v(ftk_handle_t h, uint64_t *runs, size_t max_items,
                            int64_t timeout_ns) {
    uint64_t buf[FTK_QUEUE_RUNS_MAX];
    ftk_set_last_result(0);
    if (ftk_entry_get(h, FTK_KIND_QUEUE) == NULL) {
        ftk_set_last(FTK_EBADHANDLE);
        return 0;
    }
    if (runs == NULL || max_items == 0) {
        ftk_set_last(FTK_EINVAL);
        return 0;
    }
    if (max_items > FTK_QUEUE_RUNS_MAX) max_items = FTK_QUEUE_RUNS_MAX;
    size_t got = 0;
    int st = ftk_queue_pop_many(h, buf, max_items, &got, timeout_ns);
    if (st != FTK_OK || got == 0) {
        ftk_set_last(st != FTK_OK ? st : FTK_EEMPTY);
        return 0;
    }
    /* run-length encode: consecutive words become one (first, count) pair */
    size_t k = 0;
    runs[0] = buf[0];
    runs[1] = 1;
    for (size_t i = 1; i < got; i++) {
        if (buf[i] == runs[2 * k] + runs[2 * k + 1]) {
            runs[2 * k + 1]++;
        } else {
            k++;
            runs[2 * k] = buf[i];
            runs[2 * k + 1] = 1;
        }
    }
    ftk_set_last_result(k + 1);
    return k + 1;
}
