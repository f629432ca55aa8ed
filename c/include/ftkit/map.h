/*
 * ftkit/map.h - concurrent hash index of (hash, key word, value word) entries.
 *
 * The index behind a dict-like container whose keys the library cannot
 * compare. Entries are triples of 64-bit words: the key's hash, a key word and
 * a value word. Words are opaque (see slots.h); the library never interprets,
 * refcounts or frees them. Key *equality* (Python's __eq__, which may raise)
 * is decided by the caller, so the API is built around candidates and stamps:
 *
 *   1. ftk_map_find(hash) returns every entry with exactly that hash (the
 *      "candidates", newest first) and a stamp.
 *   2. The caller decides, outside the library, which candidate (if any) is
 *      equal to its key.
 *   3. It then acts on that exact entry, named by (hash, key word):
 *      set_value / cas_value / remove / remove_if. Or, if none was equal, it
 *      calls ftk_map_insert(hash, key, value, stamp), which succeeds only if
 *      no entry with this hash was added since the stamp was taken, else
 *      returns FTK_EAGAIN and the caller goes back to step 1.
 *
 * Two threads inserting EQUAL but distinct keys therefore never create two
 * entries: the first insert adds an entry with the hash; the second one's
 * stamp predates it, so it gets FTK_EAGAIN, re-finds, sees the first key as a
 * candidate and compares it equal. Removals do not invalidate stamps (a
 * removed candidate cannot be a duplicate), and neither do inserts of other
 * hashes, so FTK_EAGAIN means "a new candidate for your hash appeared".
 *
 * ---- Worked example: the binding's d[k] = v (setitem) -------------------
 *
 *     h = hash(k)                         # may raise: nothing touched yet
 *     kw = vw = 0                         # words not yet allocated
 *     loop:
 *         ftk_map_find(m, h, keys, vals, MAX, &n, &stamp)
 *             (FTK_EOVERFLOW: grow the buffers to n and call again)
 *         for i in 0..n-1:
 *             K = object_of(keys[i])      # binding's slot lookup; a stale
 *                                         # word (released meanwhile) is
 *                                         # skipped: its entry is gone too
 *             if K is k or K == k:        # may raise: propagate; the map is
 *                                         # unchanged (release kw/vw if any)
 *                 vw = vw or slot_for(v)
 *                 st = ftk_map_set_value(m, h, keys[i], vw, &old)
 *                 if st == FTK_OK: release(old); return   # keeps stored key
 *                 continue loop           # FTK_ENOTFOUND: removed meanwhile
 *         kw = kw or slot_for(k); vw = vw or slot_for(v)
 *         st = ftk_map_insert(m, h, kw, vw, stamp)
 *         if st == FTK_OK: return
 *         continue loop                   # FTK_EAGAIN: a new candidate with
 *                                         # this hash; compare it too
 *
 * get(k): find, compare, return the value word of the equal candidate or
 * raise KeyError (no stamp needed). Words returned by find may be released
 * by another thread right after (a concurrent set_value hands the old value
 * word to its caller, a remove hands both): the binding checks a word is
 * still live (slot generation) before using it, and finds again if not. setdefault(k, d): as setitem, but an
 * equal candidate's value is returned instead of replaced. pop(k):
 * find, compare, ftk_map_remove(h, kw_found, &old) (FTK_ENOTFOUND: retry
 * from find). compare_and_set(k, e, d): find, compare, ftk_map_cas_value
 * (FTK_ENOTFOUND: retry; absent and e is the "absent" sentinel: insert with
 * the stamp). Each of these is linearizable at its successful map call (or,
 * for "absent" outcomes, at the find whose candidates were all unequal),
 * provided __eq__ is consistent and key words are unique among live
 * entries.
 *
 * ---- The one-call set: ftk_map_put ----------------------------------------
 *
 * A binding whose key word is a function of the key object (the Python
 * binding uses id(key), unique among live objects, and the entry's record
 * keeps its key alive) can set in one call: ftk_map_put(h, kw(k), vw)
 * replaces the value of (h, kw(k)) if that entry exists, adds the entry if
 * no entry has the hash, and otherwise changes nothing and reports the other
 * entry (FTK_EAGAIN, its value word) or several (FTK_EOVERFLOW). Only then
 * does the binding compare: an equal key under another key word (1 and 1.0,
 * or two equal strings) is set through its own key word with set_value, as
 * in the example above. So equal-but-distinct keys still never make two
 * entries: put never adds beside an entry with the same hash.
 *
 * A stamp of 0 means "insert only if no entry with this hash exists";
 * FTK_MAP_STAMP_ANY means "insert unconditionally" (for bulk loads whose keys
 * the caller knows to be distinct and absent, e.g. copy()).
 *
 * Hashes: every call takes (and ftk_map_iter returns) the hash as int64_t.
 * The map uses only its 64 bits, so a uint64_t hash converted to int64_t is
 * the same hash; signed is the one convention because the runtimes binding
 * this library hash to signed integers (Python's hash(), Java's hashCode),
 * which they then pass unconverted. (Until ABI version 2 the status-style
 * calls took uint64_t and two "_sh" variants existed for signed callers.)
 *
 * ---- Concurrency -------------------------------------------------------
 *
 * Any thread may call any function on a live handle at any time; all of them
 * may run at the same time as all others (no exclusion matrix). Readers
 * (find, find_many, iter, size, capacity) never wait: they take no lock and
 * never retry, so they are wait-free bounded by the length of the chain they
 * read (plus one hop per concurrent resize), and they never block on writers.
 * Writers (insert*, set_value, cas_value*, remove*, drain) are blocking:
 * each holds a short spinlock on ONE bucket (a few instructions, never while
 * calling out), so writers of different buckets never wait for each other.
 * There is no global lock on any path.
 *
 * Ordering: every successful write is a release and every read an acquire,
 * per entry: a thread that reads a value word also sees everything the
 * writer of that word did before storing it. Single-entry operations are
 * linearizable. Multi-entry results (find's candidate list, find_many, iter,
 * size) are not snapshots of the whole map: each entry reported was present
 * with the reported value at some moment during the call.
 *
 * Resize: the table doubles (or quadruples) when the load factor passes
 * 0.75. Writers migrate buckets in chunks while they work (no
 * stop-the-world); readers follow forwarded buckets to the new table and are
 * never blocked. The table does not shrink (like dict, memory stays after
 * deletions); free the map to give it back.
 *
 * Lifetime: a destroyed or foreign handle returns FTK_EBADHANDLE. Freeing a
 * map while another thread is inside a call on it is a race in the caller;
 * it is memory-safe (state is reclaimed through EBR).
 *
 * Status codes: FTK_EBADHANDLE for a NULL, destroyed or wrong-kind handle;
 * FTK_EINVAL for a required out-pointer that is NULL; never a crash.
 */
#ifndef FTKIT_MAP_H
#define FTKIT_MAP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stamp for ftk_map_insert that skips the conflict check. */
#define FTK_MAP_STAMP_ANY 0xffffffffffffffffULL
/* ftk_map_iter cursor value meaning "iteration finished". Start at 0. */
#define FTK_MAP_CURSOR_END 0xffffffffffffffffULL

/* Create an empty map sized for about initial_capacity entries without
 * resizing (0 = small default). FTK_EOVERFLOW if absurdly large,
 * FTK_ENOMEM if the table cannot be allocated. */
FTK_API int ftk_map_new(size_t initial_capacity, ftk_handle_t *out);

/* Destroy a map. FTK_NULL_HANDLE is a no-op returning FTK_OK; a second free
 * returns FTK_EBADHANDLE. Words still inside are dropped without notice:
 * the binding drains (ftk_map_drain) first to release what they stand for.
 * Memory is returned through EBR once no call can still be reading it. */
FTK_API int ftk_map_free(ftk_handle_t h);

/* Candidates: the entries whose hash equals `hash`, newest first.
 * keys[i], values[i] for i < min(*n, max); keys/values may be NULL when
 * max == 0 (count-only query). *n receives the number of candidates; if it
 * exceeds max the first max are stored and FTK_EOVERFLOW is returned (call
 * again with room for *n). *stamp (may be NULL) receives the stamp to pass
 * to ftk_map_insert, also on FTK_EOVERFLOW. FTK_OK with *n == 0 means no
 * entry has this hash. Reader: wait-free, never blocks. */
FTK_API int ftk_map_find(ftk_handle_t h, int64_t hash, uint64_t *keys,
                         uint64_t *values, size_t max, size_t *n, uint64_t *stamp);

/* Batch find for bulk get / reduce / update: one call, `count` hashes.
 * For each i: ncand[i] = number of candidates with hashes[i]; if >= 1,
 * keys[i], values[i] = the newest candidate, else both 0; stamps[i] (stamps
 * may be NULL) = the stamp for inserting under hashes[i]. When ncand[i] > 1
 * call ftk_map_find for that hash to see the others. All arrays hold
 * `count` elements; they may be NULL only if count == 0. Reader: wait-free. */
FTK_API int ftk_map_find_many(ftk_handle_t h, const int64_t *hashes, size_t count,
                              uint64_t *keys, uint64_t *values, uint64_t *ncand,
                              uint64_t *stamps);

/* Add the entry (hash, key, value) if no entry with this hash was added
 * since `stamp` was returned by a find on this map for this hash: FTK_OK.
 * Otherwise FTK_EAGAIN, nothing changed: find again and compare the new
 * candidates. Entries removed since the stamp do not matter. Stamp 0:
 * insert only if no entry has this hash; FTK_MAP_STAMP_ANY: no check.
 * The map stores the words as given and does not check that `key` is
 * distinct from other key words (the binding's slot words are).
 * FTK_ENOMEM if the entry cannot be allocated. Writer: locks one bucket. */
FTK_API int ftk_map_insert(ftk_handle_t h, int64_t hash, uint64_t key,
                           uint64_t value, uint64_t stamp);

/* Batch insert: item i is ftk_map_insert(hashes[i], keys[i], values[i],
 * stamps[i]) with its status in status[i] (status may be NULL). Returns
 * FTK_OK if every item succeeded, else the status of the first item that
 * failed (the others were still attempted). Not atomic as a whole. */
FTK_API int ftk_map_insert_many(ftk_handle_t h, const int64_t *hashes,
                                const uint64_t *keys, const uint64_t *values,
                                const uint64_t *stamps, size_t count, int *status);

/* Upsert in one call, for callers whose key words are canonical where they
 * can be (the Python binding uses the key object's identity): under the
 * lock of the hash's bucket,
 *   - if the entry (hash, key) exists, its value becomes `value`: FTK_OK,
 *     *added = 0, *old = the previous value word (the caller now owns it);
 *   - else, if no entry has this hash, (hash, key, value) is added: FTK_OK,
 *     *added = 1, *old = 0;
 *   - else nothing changes: FTK_EAGAIN if exactly one other entry has the
 *     hash (*old = its value word, a snapshot the caller does not own: the
 *     binding compares that entry's key and, if equal, calls
 *     ftk_map_set_value with its key word), FTK_EOVERFLOW if several do
 *     (*old = 0: use ftk_map_find).
 * FTK_ENOMEM if the entry cannot be allocated. old and added may be NULL.
 * Linearizable: each outcome is one atomic step at the bucket lock.
 * Writer: locks one bucket (twice when it adds: the node is allocated
 * outside the lock); may run concurrently with every other call. */
FTK_API int ftk_map_put(ftk_handle_t h, int64_t hash, uint64_t key, uint64_t value,
                        uint64_t *old, int *added);

/* Replace the value of the entry (hash, key): FTK_OK and *old (may be NULL)
 * receives the previous value word, which the caller now owns.
 * FTK_ENOTFOUND if no such entry (removed meanwhile). Writer. */
FTK_API int ftk_map_set_value(ftk_handle_t h, int64_t hash, uint64_t key,
                              uint64_t value, uint64_t *old);

/* If the value word of entry (hash, key) equals `expected` (word identity),
 * replace it with `desired`: FTK_OK. Otherwise FTK_EAGAIN and nothing
 * changed. FTK_ENOTFOUND if no such entry. *actual (may be NULL) receives
 * the value word seen (== expected on success). Writer. */
FTK_API int ftk_map_cas_value(ftk_handle_t h, int64_t hash, uint64_t key,
                              uint64_t expected, uint64_t desired, uint64_t *actual);

/* Batch CAS: item i is ftk_map_cas_value(hashes[i], keys[i], expected[i],
 * desired[i], &actual[i]); actual and status may be NULL. Returns FTK_OK if
 * every item succeeded, else the status of the first failing item. This is
 * reduce()'s write step: find_many, compute fn(old, new) in the binding,
 * cas_value_many, and retry the items that failed. Not atomic as a whole. */
FTK_API int ftk_map_cas_value_many(ftk_handle_t h, const int64_t *hashes,
                                   const uint64_t *keys, const uint64_t *expected,
                                   const uint64_t *desired, size_t count,
                                   uint64_t *actual, int *status);

/* Remove the entry (hash, key): FTK_OK and *old_value (may be NULL)
 * receives its value word; the caller now owns both the key word it passed
 * and that value word. FTK_ENOTFOUND if no such entry. Writer. */
FTK_API int ftk_map_remove(ftk_handle_t h, int64_t hash, uint64_t key,
                           uint64_t *old_value);

/* Remove the entry (hash, key) only if its value word equals `expected`:
 * FTK_OK; FTK_EAGAIN if the value differs; FTK_ENOTFOUND if no such entry.
 * Writer. */
FTK_API int ftk_map_remove_if(ftk_handle_t h, int64_t hash, uint64_t key,
                              uint64_t expected);

/* Number of entries. Exact when no writer runs concurrently (and writes
 * have been made visible to the caller, e.g. by joining the writers);
 * otherwise a value the count passed through recently. Cheap: a few loads
 * of striped counters. Reader: wait-free. */
FTK_API int ftk_map_size(ftk_handle_t h, size_t *out);

/* Number of buckets of the current table (for tests and statistics). */
FTK_API int ftk_map_capacity(ftk_handle_t h, size_t *out);

/*
 * Weakly consistent iteration. *cursor starts at 0; each call stores up to
 * max entries into keys/values/hashes (each array may be NULL to skip it),
 * sets *n and advances *cursor. After the call that returns the last entries
 * *cursor == FTK_MAP_CURSOR_END; a call with the END cursor returns FTK_OK
 * and *n == 0. A call returns *n == 0 only at the end.
 *
 * The cursor is a position in a fixed permutation of hash space, so it
 * stays valid across resizes. Guarantee: every entry present from the first
 * call to the last is returned exactly once; an entry added or removed
 * during the iteration is returned at most once per key word; no call ever
 * crashes or returns freed memory, whatever other threads do.
 *
 * Entries are returned a whole bucket at a time: if the first bucket due
 * holds more than max entries, FTK_EOVERFLOW is returned with *n = the room
 * needed and the cursor unchanged (call again with bigger arrays). Reader:
 * never blocks; one call scans empty buckets until it has entries or ends.
 */
FTK_API int ftk_map_iter(ftk_handle_t h, uint64_t *cursor, uint64_t *keys,
                         uint64_t *values, int64_t *hashes, size_t max, size_t *n);

/* Remove up to max entries (any) and return their key and value words,
 * which the caller now owns: clear() calls it until *n < max, and a binding
 * drains before ftk_map_free. *n < max means a whole sweep of the table
 * found no more (entries added concurrently behind the sweep may remain).
 * keys and values may be NULL only if max == 0. Writer (one bucket at a
 * time). */
FTK_API int ftk_map_drain(ftk_handle_t h, uint64_t *keys, uint64_t *values,
                          size_t max, size_t *n);

/* One pass of removal, for clear(): removes the entries that were inside
 * when the pass began, and returns their key and value words (the caller
 * owns them). pass points to two words of pass state: {0, 0} to begin (the
 * first call records the pass's start); pass[0] is a cursor in hash space,
 * FTK_MAP_CURSOR_END once the pass is over (a call then returns FTK_OK and
 * *n == 0). Guarantee: every entry present from the first call to the last
 * is removed and returned exactly once; entries inserted after the pass
 * began are left in place (an insert racing with the first call may go
 * either way). So the work is bounded by what was there: a clear() that
 * loops until the cursor is END ends even while other threads keep
 * inserting. *n may be less than max before the end. FTK_EINVAL for a NULL
 * pass or n, or NULL arrays with max > 0. Writer (one bucket at a time);
 * may run concurrently with every other call. */
FTK_API int ftk_map_drain_pass(ftk_handle_t h, uint64_t *pass, uint64_t *keys,
                               uint64_t *values, size_t max, size_t *n);

/* ---- value-style calls for FFI hot paths ---------------------------------
 * These return the result word directly (an out-parameter costs an FFI
 * binding more than the call). A return of 0 means "see ftk_last_status()":
 * the status of the failure, or FTK_OK when 0 was a genuine word. */

/* The value word of the only entry whose hash is `hash`. 0 with
 * FTK_ENOTFOUND if there is none, FTK_EOVERFLOW if there are several (use
 * ftk_map_find). Reader: wait-free. */
FTK_API uint64_t ftk_map_find1_v(ftk_handle_t h, int64_t hash);
/* What ftk_map_lookup_v returns for "several entries, or an error". */
#define FTK_MAP_SEVERAL 0xffffffffffffffffULL
/* The lookup of a binding whose value words are never 0 or FTK_MAP_SEVERAL,
 * in one call with two arguments (each argument costs an FFI call more:
 * measured with callgrind on CPython 3.11, a third uint64 argument added
 * 620-1,300 instructions to a 3,400-instruction call): the value word of
 * the only entry whose hash is `hash`; 0 if there is none (no status to
 * fetch: a miss is one crossing); FTK_MAP_SEVERAL if there are several
 * entries with that hash (ftk_last_status() is then FTK_EOVERFLOW: use
 * ftk_map_find) or the call failed (FTK_EBADHANDLE). Reader: wait-free. */
FTK_API uint64_t ftk_map_lookup_v(ftk_handle_t h, int64_t hash);
/* ftk_map_set_value returning the old value word (0: FTK_ENOTFOUND ...). */
FTK_API uint64_t ftk_map_set_value_v(ftk_handle_t h, int64_t hash, uint64_t key,
                                     uint64_t value);
/* ftk_map_put in one value-style call, for a binding whose value words are
 * never 0 or FTK_MAP_SEVERAL: 0 when the entry was added (no status to
 * fetch); FTK_MAP_SEVERAL when several other entries share the hash
 * (ftk_last_status() = FTK_EOVERFLOW) or on failure (FTK_ENOMEM,
 * FTK_EBADHANDLE); otherwise a value word: the replaced one (status FTK_OK;
 * the caller owns it) or the one other entry's (status FTK_EAGAIN; not
 * owned). A binding that can tell the two apart by the word (the Python
 * binding: the word's record names its key word) needs no status call. */
FTK_API uint64_t ftk_map_put_v(ftk_handle_t h, int64_t hash, uint64_t key,
                               uint64_t value);
/* ftk_map_remove returning the removed entry's value word. */
FTK_API uint64_t ftk_map_remove_v(ftk_handle_t h, int64_t hash, uint64_t key);
/* ftk_map_size's count (0 with FTK_EBADHANDLE on a bad handle). */
FTK_API size_t ftk_map_size_v(ftk_handle_t h);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_MAP_H */
