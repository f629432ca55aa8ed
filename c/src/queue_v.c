/* queue_v.c - value-style queue pops for FFI hot paths (see queue.h). */
#include "internal.h"

/* What the calling thread's last value-style pop took, for
 * ftk_queue_unpop_last: the queue, the kind (a word, runs, or nothing: a
 * pop that took nothing records LAST_NONE, so a genuine 0 word is told
 * apart) and the word or run count. Its own record, not ftk_last_result,
 * which later pushes overwrite. */
enum { LAST_NONE, LAST_WORD, LAST_RUNS };
static _Thread_local ftk_handle_t last_pop_h;
static _Thread_local int last_pop_kind;
static _Thread_local uint64_t last_pop_value;

static inline void note_pop(ftk_handle_t h, int kind, uint64_t result) {
    last_pop_h = h;
    last_pop_kind = kind;
    last_pop_value = result;
    ftk_set_last_result(result);
}

uint64_t ftk_queue_try_pop_v(ftk_handle_t h) {
    uint64_t w = 0;
    int st = ftk_queue_try_pop(h, &w);
    note_pop(h, st == FTK_OK ? LAST_WORD : LAST_NONE, w);
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
    note_pop(h, st == FTK_OK ? LAST_WORD : LAST_NONE, w);
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
    note_pop(h, LAST_NONE, 0);
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
    note_pop(h, LAST_RUNS, k + 1);
    return k + 1;
}

int ftk_queue_unpop_last(ftk_handle_t h, const uint64_t *runs) {
    if (ftk_entry_get(h, FTK_KIND_QUEUE) == NULL) return FTK_EBADHANDLE;
    uint64_t r = last_pop_value;
    if (last_pop_h != h || last_pop_kind == LAST_NONE) return FTK_OK;
    int st;
    if (last_pop_kind == LAST_WORD) {
        st = ftk_queue_unpop(h, &r, 1);
    } else {
        if (runs == NULL) return FTK_EINVAL;
        if (r > FTK_QUEUE_RUNS_MAX) return FTK_EINVAL; /* not a record of ours */
        uint64_t buf[FTK_QUEUE_RUNS_MAX];
        size_t n = 0;
        for (uint64_t j = 0; j < r; j++) {
            uint64_t first = runs[2 * j], count = runs[2 * j + 1];
            if (count > FTK_QUEUE_RUNS_MAX - n) return FTK_EINVAL;
            for (uint64_t i = 0; i < count; i++) buf[n++] = first + i;
        }
        st = ftk_queue_unpop(h, buf, n);
    }
    if (st == FTK_OK) { /* given back: a second call gives back nothing */
        last_pop_kind = LAST_NONE;
        ftk_set_last_result(0);
    }
    return st;
}
