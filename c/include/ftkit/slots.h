/*
 * ftkit/slots.h - refcount-neutral slot words.
 *
 * Containers store 64-bit words and never interpret them. A binding that
 * wants to store objects of its own runtime (Python objects, Rust Arcs, ...)
 * keeps them in an array it owns and stores the array index in the container.
 * This module hands out those indices: unique, reusable, cheap, and scalable.
 *
 * A slot word is (generation << 32 | index), index >= 1, so the word 0 is
 * never a slot and can mean "nothing". Each free bumps the generation, so a
 * stale word is detectable: ftk_slot_free on a word that is not live returns
 * FTK_EINVAL (double free caught), and a reader that loaded a word from a
 * container can compare it with the word the binding recorded next to the
 * object to know whether the slot was recycled in between.
 *
 * Indices come from a per-thread cache (no shared cache line on the fast
 * path); caches exchange batches with a global depot only every
 * FTK_SLOT_BATCH operations, and a thread's cache goes back to the depot
 * when the thread exits. The allocator is process-wide: indices are unique
 * across every user of the library in the process. All functions are
 * thread-safe and lock-free on the fast path.
 */
#ifndef FTKIT_SLOTS_H
#define FTKIT_SLOTS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FTK_SLOT_BATCH 64
#define FTK_SLOT_INDEX(word) ((uint32_t)((word) & 0xffffffffu))
#define FTK_SLOT_GENERATION(word) ((uint32_t)((word) >> 32))

/* Take a free slot. FTK_ENOMEM when 2**32-1 slots are live. */
FTK_API int ftk_slot_alloc(uint64_t *word);
/* Same, value style: returns 0 on failure. */
FTK_API uint64_t ftk_slot_alloc_v(void);
/* Release a live slot. FTK_EINVAL if word is not a live slot word. */
FTK_API int ftk_slot_free(uint64_t word);
/* Take n slots into words[0..n). All or nothing. */
FTK_API int ftk_slot_alloc_many(uint64_t *words, size_t n);
/* Release n slots; stops at the first word that is not live and returns
 * FTK_EINVAL with *done (may be NULL) = number released before it. */
FTK_API int ftk_slot_free_many(const uint64_t *words, size_t n, size_t *done);
/* 1 if word is currently a live slot word, else 0. Racy by nature. */
FTK_API int ftk_slot_is_live(uint64_t word);
/* One more than the highest index ever handed out: size the binding's array
 * to at least this. */
FTK_API size_t ftk_slot_capacity(void);
/* Number of live slots, summed over threads; exact when no thread is
 * allocating or freeing concurrently. */
FTK_API size_t ftk_slot_live_approx(void);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_SLOTS_H */
