#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/fuzz_api.c (tests/fuzz/corpus/) and
tests/fuzz/fuzz_mods.c (tests/fuzz/corpus_mods/).

Each seed is a small program in the harness's byte format: an op is a group
byte (G_* in fuzz_api.c) followed by its operand bytes, read in the order
the harness reads them. The seeds give the fuzzer a start in every group:
object lifetimes, bounded and unbounded queues at and across their limits,
maps with chains, resizes, stamps, iteration and drains, slot words, and
each thread op. A seed that drifts from the format is still a valid input
(every byte string is), only a less useful one.

    python3 tests/fuzz/make_corpus.py          # rewrites the corpus
"""
import os
import struct
import sys

G_INT64, G_FLAG, G_REF, G_QUEUE, G_QUEUE2, G_MAP, G_MAP2, G_SLOTS, G_MISC, \
    G_RACE, G_MPMC, G_MAP_MT, G_SLOTS_MT = range(13)

OK_PTR = 1      # a "NULL out-pointer?" byte that says no (x % 16 != 0)
NULL_PTR = 0    # ... that says yes
H_LIVE = 0      # handle selector: the first live object of the wanted kind
H_STALE = 4     # a remembered freed handle
H_NULL = 5      # FTK_NULL_HANDLE
H_FORGED = 7    # a table handle with another kind byte / generation / index

# timeout selectors (pick_timeout)
T_ZERO, T_1NS, T_SHORT, T_FOREVER, T_LONG = 0, 1, 2, 3, 6


def u16(v):
    return list(struct.pack("<H", v))


def u64(v):
    return list(struct.pack("<Q", v & (2**64 - 1)))


def word(v):
    """pick_word: selector 6 followed by the 8 bytes of v."""
    return [6] + u64(v)


def count(n):
    """pick_count: 0, 1, 1 + (n - 1) % 64, or the special sizes."""
    if n == 0:
        return [0]
    if n == 1:
        return [1]
    if n == "huge":
        return [3]
    if n == "runs+":
        return [4, 7]
    if n in (127, 128, 129):
        return [2, n - 127]
    return [5, (n - 1) % 64]


# ---- atomics -----------------------------------------------------------------

def int64_new(slot, v):
    return [G_INT64, 0, slot] + word(v) + [OK_PTR]


def int64(sub, v, h=H_LIVE, null=OK_PTR, extra=()):
    return [G_INT64, sub, h] + word(v) + [null] + list(extra)


def flag_new(slot, v):
    return [G_FLAG, 0, slot, v & 0xFF, OK_PTR]


def flag(sub, v, h=H_LIVE, extra=()):
    return [G_FLAG, sub, h, v & 0xFF, OK_PTR] + list(extra)


def ref_new(slot, v):
    return [G_REF, 0, slot] + word(v) + [OK_PTR]


def ref(sub, v, h=H_LIVE, extra=()):
    return [G_REF, sub, h] + word(v) + [OK_PTR] + list(extra)


def free(group, h=H_LIVE):
    return [group, 1, h]


# ---- queue -------------------------------------------------------------------

def queue_new(slot, capsel, extra=()):
    """capsel: 0 unbounded, 1 one, 2 (2 + x), 3 (127 + x), 4 max, 5 > max, 6 SIZE_MAX"""
    return [G_QUEUE, 0, slot, capsel] + list(extra) + [OK_PTR]


def q(sub, rest=(), h=H_LIVE, null=OK_PTR):
    return [G_QUEUE, sub, h, null] + list(rest)


def q_push(v, t=None, h=H_LIVE):
    return q(2, word(v), h) if t is None else q(3, word(v) + [t], h)


def q_push_many(n, t=T_ZERO):
    return q(4, count(n) + [1, t, 1])


def q_pop(t=None, h=H_LIVE):
    return q(5, h=h) if t is None else q(6, [t], h)


def q_pop_many(n, t=T_ZERO):
    return q(7, count(n) + [1, t])


def q_close(imm):
    return q(8, [imm])


def q_drain(n):
    return q(9, count(n) + [1])


Q_SIZE, Q_CAP, Q_CLOSED, Q_TASK_DONE, Q_UNFINISHED = 10, 11, 12, 13, 14


def q_join(t):
    return q(15, [t])


def q_range(n, t=T_ZERO):
    return q(19, count(n) + [1, t])


def q_runs(n, t=T_ZERO):
    return q(20, count(n) + [1, t])


def q_unpop(n):
    return q(21, count(n) + [1, 1])


def q_unpop_last(runs=True):
    return q(22, [1 if runs else 0])


# ---- map ---------------------------------------------------------------------

def map_new(slot, capsel, extra=()):
    """capsel: 0 default, 1 u8, 2 u16 % 4097, 3 (6 + x), 4/5 absurd"""
    return [G_MAP, 0, slot, capsel] + list(extra) + [OK_PTR]


def m(sub, rest=(), h=H_LIVE, null=OK_PTR):
    return [G_MAP, sub, h, null] + list(rest)


def hsmall(x):
    return [2, x]            # pick_hash: u8 % 16


def hexist(i):
    return [0, i]            # pick_hash: an existing entry's hash


KEY_OF_HASH = [1]            # pick_key: the newest key with that hash
def kfresh(x):
    return [4, x]            # pick_key: u8 % 8


VAL = [1]                    # pick_value: a fresh unique word
VAL0 = [0]                   # pick_value: 0
S_ZERO, S_ANY, S_RECORDED = [0], [1], [2]


def m_insert(hsel, ksel, vsel=VAL, ssel=S_ANY):
    return m(4, hsel + ksel + vsel + ssel)


def m_put(hsel, ksel, vsel=VAL, ssel=S_ZERO):
    """ftk_map_put (stamp selector with an even result: S_ZERO) or
    ftk_map_put_v (an odd one: S_ANY), on case 4's bytes."""
    return m(19, hsel + ksel + vsel + ssel)


def m_find(hsel, maxn=5):
    return m(2, hsel + count(maxn) + [1, 1])


def m_burst(n, stride=1, stamp_any=1, random_base=False):
    base = [0] + u64(0x1234567) if random_base else [1]
    return m(22, [(n - 1) % 200] + base + [stride - 1, stamp_any])


def m_entry(sel):
    return [sel]             # pick_entry: model entry (sel >> 2) when sel % 4


def m_set(sel):
    return m(6, m_entry(sel) + VAL)


def m_cas(sel, match=1):
    return m(7, m_entry(sel) + [match] + VAL)


def m_remove(sel):
    return m(9, m_entry(sel))


def m_iter(maxn):
    return m(13, count(maxn) + [1])


def m_drain(maxn):
    return m(15, count(maxn) + [1])


def m_drain_pass(maxn):
    return m(23, count(maxn) + [1, 1])


M_SIZE, M_CAP = 11, 12


# ---- slots, misc, threads ------------------------------------------------------

def slots(sub, rest=()):
    return [G_SLOTS, sub] + list(rest)


def misc(sub):
    return [G_MISC, sub]


def rq(sub, rest=()):
    """A queue or map call in a race burst: sub-op byte, then its operands."""
    return (sub - 2, [OK_PTR] + list(rest))


rm = rq


def ri(sub, v):
    """An int64 call in a race burst (the handle byte is read and ignored)."""
    return (sub - 2, [H_LIVE] + word(v) + [OK_PTR])


def race(slot, action, delay, ops, word_sel=(1,), adds=8):
    """action: 0 free, 1 close, 2 close immediately, 3 wake, 4 double free,
    5 concurrent adds. ops: from rq / rm / ri."""
    out = [G_RACE, slot, action] + u16(delay) + list(word_sel) + [adds, len(ops) - 1]
    for sub, args in ops:
        out += [sub, len(args)] + list(args)
    return out


def mpmc(capsel, patient, role, nprod, nmain, style=0x1234, mstyle=0x4321, task_done=1,
         close_at=0xFFFF, close_imm=0):
    """capsel: capacity 0, 1, 2, 3, 7, 128, 129, 200; role of the other thread:
    1 producer, 2 consumer, 3 both (the main thread is both)."""
    return ([G_MPMC, capsel, patient, role - 1] + u16(nprod) + u16(style) + [task_done] +
            u16(nmain) + u16(mstyle) + u16(close_at) + [close_imm])


def map_mt(slot, prog, ops):
    out = [G_MAP_MT, slot, len(prog)] + list(prog) + [len(ops) - 1]
    for sub, args in ops:
        out += [sub - 2, H_LIVE, OK_PTR] + list(args)
    return out


def slots_mt(n, nfree, nmain):
    return [G_SLOTS_MT, n, nfree, nmain]


def prog(*ops):
    out = []
    for o in ops:
        out += o
    return bytes(b & 0xFF for b in out)


SEEDS = {
    # atomics: every op, wrapping values, floor division edge cases, bad handles
    "int64_ops": prog(int64_new(0, 5), int64(4, 7), int64(5, 2**63), int64(9, -3),
                      int64(10, -1), int64(10, 0), int64(2, 0), int64(12, 1, extra=word(1)),
                      int64(13, 0), int64(15, -12), int64(22, 1, extra=word(9)),
                      int64(14, 3), misc(4), free(G_INT64), int64(2, 0, h=H_STALE), misc(4)),
    "int64_min": prog(int64_new(1, -2**63), int64(10, -1), int64(10, 3), int64(9, 2**64 - 1),
                      int64(2, 0), int64(3, 2**63 - 1), int64(4, 1), int64(2, 0)),
    "flag_ops": prog(flag_new(0, 0), flag(3, 5), flag(2, 0), flag(4, 0),
                     flag(5, 0, extra=[1, 0]), flag(6, 0), flag(7, -1), flag(8, 0),
                     flag(9, 0, extra=[2, 0]), free(G_FLAG), flag(6, 0, h=H_STALE), misc(4)),
    "ref_ops": prog(ref_new(0, 0xDEADBEEF), ref(2, 0), ref(3, 7), ref(4, 6, extra=word(7)),
                    ref(5, 0), ref(6, 0), ref(7, 1, extra=word(0)), free(G_REF),
                    ref(5, 0, h=H_STALE)),
    "wrong_kind": prog(int64_new(0, 1), flag_new(1, 1), ref_new(2, 1), queue_new(3, 0),
                       map_new(4, 0), int64(2, 0, h=H_LIVE | (1 << 3)), q_push(1),
                       q(10, h=3), m(11, h=3), flag(2, 0, h=3), int64(2, 0, h=H_FORGED),
                       q(10, h=H_FORGED), misc(2)),
    "null_outs": prog(int64_new(0, 1), int64(2, 0, null=NULL_PTR), queue_new(1, 0),
                      q(5, null=NULL_PTR), q(10, null=NULL_PTR), q(7, count(3) + [0, 0]),
                      map_new(2, 0), m(2, hsmall(1) + count(3) + [0, 0]),
                      m(11, null=NULL_PTR), m(13, count(2) + [1], null=NULL_PTR)),
    "garbage_handles": prog([G_INT64, 2, 6] + u64(0x0100000100000001) + word(0) + [1],
                            [G_QUEUE, 10, 6] + u64(0x04000001000003FF) + [1],
                            [G_MAP, 11, 6] + u64(0x05FFFFFFFFFFFFFF) + [1],
                            q(10, h=H_NULL), m(12, h=H_NULL), free(G_QUEUE, H_NULL)),
    # queues
    "queue_unbounded": prog(queue_new(0, 0), q_push(1), q_push(0), q_push_many(129),
                            q(Q_SIZE), q_pop(), q_pop(T_ZERO), q_pop_many("huge"),
                            q_pop(T_SHORT), q(Q_UNFINISHED), q(Q_TASK_DONE), q_join(T_1NS),
                            q_close(0), q_pop(), q(Q_CLOSED), free(G_QUEUE)),
    "queue_bounded_full": prog(queue_new(0, 2, [1]), q_push_many(5), q_push(9, T_SHORT),
                               q_push(9), q(Q_SIZE), q(Q_CAP), q_pop_many(2), q_push_many(5, T_1NS),
                               q_drain("huge"), q(Q_UNFINISHED), q_join(T_ZERO)),
    "queue_cap1": prog(queue_new(0, 1), q_push(1), q_push(2), q_push(3, T_SHORT), q_pop(),
                       q_push(4), q_runs(3), q_pop_many(2), q_range(3), q_runs("runs+")),
    "queue_block_edges": prog(queue_new(0, 3, [1]), q_push_many(127), q_push_many(5),
                              q_pop_many(127), q_range(128), q_runs("huge"), q_pop_many(129),
                              q_drain(129)),
    "queue_close_immediate": prog(queue_new(0, 0), q_push_many(10), q_close(1), q_pop(),
                                  q_push(1), q(Q_CLOSED), q_close(0), q(Q_CLOSED), q_drain(4),
                                  q_drain("huge"), q(Q_UNFINISHED), q_join(T_ZERO)),
    "queue_close_graceful": prog(queue_new(0, 2, [3]), q_push_many(3), q_close(0), q_pop(),
                                 q_pop(T_FOREVER), q_pop(T_FOREVER), q_pop(T_FOREVER),
                                 q_push(5, T_FOREVER), q_range(2), q_runs(1)),
    "queue_tasks": prog(queue_new(0, 0), q(Q_TASK_DONE), q_push_many(3), q(Q_TASK_DONE),
                        q(Q_TASK_DONE), q_pop(), q_join(T_SHORT), q(Q_TASK_DONE),
                        q(Q_TASK_DONE), q_join(T_FOREVER), q(16)),
    "queue_values": prog(queue_new(0, 0), q(17), q(18, [T_1NS]), q_push(0), q(17),
                         q_push(7), q(18, [T_ZERO]), q_range(0), q_range(4),
                         q(20, count(2) + [0, 0]), q(20, count(0) + [1, 0])),
    "queue_capacities": prog(queue_new(0, 4), queue_new(1, 5), queue_new(2, 6), q(Q_CAP),
                             queue_new(3, 7, u16(300)), q_push_many("huge"), q(Q_SIZE)),
    "queue_unpop": prog(queue_new(0, 2, [1]), q_push_many(3), q_pop_many(2), q_unpop(2),
                        q(Q_SIZE), q_push_many(4), q_unpop(5), q_pop(), q_pop_many(4), q_close(0),
                        q_unpop(1), q_pop_many("huge"), q_close(1), q_unpop(1), q_drain("huge"),
                        q(Q_UNFINISHED)),
    "queue_unpop_imm": prog(queue_new(0, 0), q_unpop(3), q_close(1), q_pop(), q_drain(1),
                            q_drain(5), q_unpop(0)),
    "queue_unpop_last": prog(queue_new(0, 0), q_range(10), q(17), q_unpop_last(), q(Q_SIZE),
                             q_runs(4), q_unpop_last(False), q_unpop_last(), q_runs("huge"),
                             q_unpop_last(), q_unpop_last(), q_close(1), q(18, [T_ZERO]),
                             q_unpop_last()),
    "queue_unpop_last_zero": prog(queue_new(0, 0), q(2, [0]), q(17), q_unpop_last(), q(Q_SIZE),
                                  q(17), q(2, [5, 7]), q(17), q_push(9), q_unpop_last(), q(17)),
    "queue_sleep": prog(queue_new(0, 1), q_pop(T_LONG), q_push(1), q_push(2, T_LONG),
                        q_join(T_LONG), q(17), q(18, [T_LONG])),
    "queue_stale": prog(queue_new(0, 0), q_push(1), free(G_QUEUE), q_push(1, h=H_STALE),
                        q_pop(h=H_STALE), free(G_QUEUE, H_STALE), queue_new(0, 0), q_pop()),
    # maps
    "map_basic": prog(map_new(0, 0), m_insert(hsmall(1), kfresh(1)), m_insert(hsmall(1), kfresh(2),
                      ssel=S_ZERO), m_find(hsmall(1)), m_insert(hsmall(1), kfresh(3), ssel=S_RECORDED),
                      m_find(hsmall(1), 0), m_set(1), m_cas(1), m_cas(5, 0), m_remove(1),
                      m(10, m_entry(2) + [1]), m(M_SIZE), m(16, hsmall(1)), m(21), misc(4)),
    "map_stamps": prog(map_new(0, 0), m_find(hsmall(3)), m_insert(hsmall(3), kfresh(1), ssel=S_RECORDED),
                       m_insert(hsmall(3), kfresh(2), ssel=S_RECORDED), m_find(hsmall(3)),
                       m_insert(hsmall(4), kfresh(3), ssel=S_ANY), m_insert(hsmall(3), kfresh(2),
                       ssel=S_RECORDED), m_remove(1), m_insert(hsmall(3), kfresh(5), ssel=S_RECORDED)),
    "map_resize": prog(map_new(0, 0), m_burst(100, 1), m(M_CAP), m_burst(150, 3), m(M_CAP),
                       m(M_SIZE), m_iter("huge"), m_find(hexist(7), 2)),
    "map_resize_x4": prog(map_new(0, 3, [2]), m_burst(60, 1, 1, True), m_burst(1, 1), m(M_CAP)),
    "map_iter_steps": prog(map_new(0, 0), m_burst(40, 2), m_iter(3), m_iter(3), m_burst(10, 1),
                           m_remove(5), m_iter(4), m_set(9), m_iter("huge"), m_iter(1)),
    "map_drain": prog(map_new(0, 0), m_burst(30, 3), m_drain(7), m_drain(7), m(M_SIZE),
                      m_drain("huge"), m_drain(0), m(M_SIZE), m_insert(hsmall(1), kfresh(1), VAL0),
                      m_insert(hsmall(2), kfresh(1), VAL0), m_drain(1)),
    "map_drain_pass": prog(map_new(0, 0), m_burst(40, 2), m_drain_pass(5), m_burst(10, 1),
                           m_drain_pass(7), m_remove(9), m_drain_pass(0), m_drain_pass("huge"),
                           m(M_SIZE), m_drain_pass(3), m_drain_pass(3)),
    "map_many": prog(map_new(0, 0), m(5, [3, 1, 1] + hsmall(1) + kfresh(1) + VAL + S_ANY +
                     hsmall(1) + kfresh(2) + VAL + S_ZERO + hsmall(2) + kfresh(3) + VAL + S_RECORDED),
                     m(3, [3, 1, 1] + hsmall(1) + hsmall(2) + hsmall(9) + [1]),
                     m(8, [2, 1, 1, 1] + m_entry(1) + [1] + VAL + m_entry(5) + [0] + VAL),
                     m(5, [0, 1, 1]), m(8, [0, 1, 1, 1])),
    "map_put": prog(map_new(0, 0), m_put(hsmall(1), kfresh(1)), m_put(hsmall(1), KEY_OF_HASH),
                    m_put(hsmall(1), kfresh(2)), m_insert(hsmall(1), kfresh(3), ssel=S_ANY),
                    m_put(hsmall(1), kfresh(4)), m_put(hsmall(1), KEY_OF_HASH),
                    m_put(hsmall(2), kfresh(1), ssel=S_ANY),
                    m_put(hsmall(2), KEY_OF_HASH, ssel=S_ANY),
                    m_put(hsmall(2), kfresh(5), ssel=S_ANY), m_put(hsmall(1), kfresh(6), ssel=S_ANY),
                    m_drain_pass(5), m_drain_pass(5), m(M_SIZE)),
    "map_capacities": prog(map_new(0, 1, [200]), m(M_CAP), map_new(1, 2, u16(4000)), m(M_CAP),
                           map_new(2, 4, u64(3)), map_new(3, 5, [0])),
    "map_values_v": prog(map_new(0, 0), m(16, hsmall(5)), m_insert(hsmall(5), kfresh(1), VAL0),
                         m(16, hsmall(5)), m(17, m_entry(1) + VAL), m(18, m_entry(1)),
                         m(19, hsmall(6) + kfresh(2) + VAL + S_ANY), m(20, m_entry(1) + [1] + VAL)),
    # slots
    "slots": prog(slots(0, [1]), slots(1), slots(3, [20, 1]), slots(5, [0]), slots(2, [0]),
                  slots(2, [3]), slots(2, [4]), slots(4, [3, 1, 1, 0, 0, 3]), slots(6), slots(7),
                  slots(3, [0, 0, 1]), slots(4, [0, 0, 1, 1])),
    "misc": prog(misc(0) + u64(5) + [0], misc(0) + u64(0) + [1, 13], misc(1), misc(2), misc(3),
                 misc(4), misc(5)),
    # threads
    "race_free_queue": prog(queue_new(0, 2, [2]), q_push_many(3),
                            race(0, 0, 300, [rq(3, [1, T_FOREVER]), rq(4, count(5) + [1, T_FOREVER, 1]),
                                             rq(6, [T_FOREVER]), rq(10), rq(15, [T_FOREVER]), rq(17),
                                             rq(20, count(3) + [1, T_SHORT])])),
    "race_close_queue": prog(queue_new(0, 0), q_push_many(5),
                             race(0, 1, 50, [rq(6, [T_FOREVER]), rq(2, [1]), rq(10),
                                             rq(7, count(3) + [1, T_SHORT]), rq(12)])),
    "race_close_imm": prog(queue_new(0, 1), race(0, 2, 10, [rq(3, [1, T_FOREVER]), rq(6, [T_FOREVER]),
                                                            rq(18, [T_FOREVER])])),
    "race_free_sleeper": prog(queue_new(0, 0), race(0, 0, 2048 + 1500, [rq(6, [T_FOREVER])])),
    "race_close_sleeper": prog(queue_new(0, 1), q_push(1), race(0, 1, 2048 + 800,
                               [rq(3, [1, T_FOREVER]), rq(15, [T_LONG])])),
    "race_join_free": prog(queue_new(0, 0), q_push(1), race(0, 0, 2048 + 1000, [rq(15, [T_FOREVER])])),
    "race_wake_sleeper": prog(queue_new(0, 0), race(0, 3, 2048 + 100, [rq(6, [T_LONG]), rq(18, [T_LONG])])),
    "race_wake": prog(queue_new(0, 0), race(0, 3, 0, [rq(6, [T_SHORT]), rq(15, [T_SHORT]),
                                                      rq(2, [1]), rq(13)])),
    "race_double_free": prog(map_new(0, 0), m_burst(20),
                             race(0, 4, 100, [rm(2, hsmall(1) + count(3) + [1, 1]),
                                              rm(4, hsmall(1) + kfresh(2) + VAL + S_ANY),
                                              rm(9, m_entry(1)), rm(13, count(3) + [1])])),
    "race_free_int64": prog(int64_new(0, 3), race(0, 0, 200, [ri(2, 0), ri(11, 5), ri(13, 1),
                                                              ri(15, 3), ri(22, 1)])),
    "race_adds": prog(int64_new(0, 0), race(0, 5, 0, [ri(2, 0)], word_sel=[5, 3], adds=50)),
    "mpmc_unbounded": prog(mpmc(0, 1, 3, 200, 200)),
    "mpmc_cap1_skips": prog(mpmc(1, 0, 1, 150, 150, style=0xBEEF, mstyle=0x0F0F)),
    "mpmc_close": prog(mpmc(5, 0, 3, 300, 300, close_at=40, close_imm=1)),
    "mpmc_consumer": prog(mpmc(6, 1, 2, 0, 250, task_done=0)),
    "map_mt": prog(map_new(0, 0), m_burst(20), map_mt(0, bytes(range(0, 120)),
                   [(4, hsmall(1) + kfresh(1) + VAL + S_ANY), (22, [80, 1, 0, 1]),
                    (2, hsmall(1) + count(5) + [1, 1]), (9, m_entry(1)), (12, [])])),
    "slots_mt": prog(slots(3, [30, 1]), slots_mt(200, 50, 100), slots(7)),
}



# ---- fuzz_mods.c: deque, counter, rwlock/ilock, batch, sem --------------------
# Operand bytes there are laid out so that 0 is the common valid case (the
# first live handle of the kind, out-pointer not NULL, side BACK, timeout 0,
# a fresh word), so most ops are the group, the sub-op and a few zeros.

M_DEQUE, M_DEQUE2, M_COUNTER, M_RWLOCK, M_ILOCK, M_BATCH, M_SEM, M_MISC, M_RACE, M_GATHER, \
    M_HOLD = range(11)
BACK, FRONT = 0, 1
# pick_count selectors (fuzz_mods.c): small n (1 + x % 16), 0, 1, SIZE_MAX, cap, cap + 1
def mcount(n):
    if n == 0:
        return [1]
    if n == "huge":
        return [3]
    if n == "cap":
        return [4]
    if n == "cap+1":
        return [5]
    return [0, (n - 1) % 16]
MT_ZERO, MT_1NS, MT_SHORT, MT_FOREVER, MT_LONG = 0, 1, 2, 3, 6


def dq_new(slot=0, maxlen=None):
    """maxlen None: unbounded; 0; or 1..64."""
    if maxlen is None:
        sel = [0]
    elif maxlen == 0:
        sel = [1]
    else:
        sel = [5, maxlen - 1]
    return [M_DEQUE, 0, slot] + sel + [0]


def dq(sub, *rest, h=0, null=0):
    return [M_DEQUE, sub, h, null] + list(rest)


def dq_push(side=BACK):
    return dq(5, 0, side)


def dq_push_many(n, side=BACK, sub=8):
    ops = [side] + mcount(n) + ([0] if sub == 8 else []) + [0, 0, 0]
    return dq(sub, *ops) + ([0] * n if sub == 8 else [])


def dq_pop(side=BACK, t=MT_ZERO):
    return dq(10, side, t)


def dq_pop_many(n, side=BACK, sub=13, t=MT_ZERO):
    return dq(sub, side, *mcount(n), 0, *([t] if sub == 13 else []))


def ctr(sub, *rest, h=0):
    return [M_COUNTER, sub, h, 0] + list(rest)


def rw(sub, t=MT_ZERO, h=0):
    return [M_RWLOCK, sub, h, t]


def il(sub, t=MT_ZERO, h=0):
    return [M_ILOCK, sub, h, t]


def bt_new(slot=0, size=4):
    return [M_BATCH, 0, slot, 0, (size - 1) % 8, 0]


def bt(sub, *rest, h=0, null=0):
    return [M_BATCH, sub, h, null] + list(rest)


def bt_fill(n, first=True):
    return bt(6, 0, n - 1, 0, 0 if first else 1, 0, *([0] * n))


def bt_fill_range(n, first=True):
    return bt(7, 0, n - 1, 0 if first else 1, 0)


def sm_new(slot=0, value=2):
    return [M_SEM, 0, slot, 0, (value - 1) % 4, 0]


def sm(sub, *rest, h=0, null=0):
    return [M_SEM, sub, h, null] + list(rest)


def ga_new(slot=0, scsel=0):
    return [M_GATHER, 0, slot, scsel, 0]


def ga(sub, *rest, h=0, null=0):
    return [M_GATHER, sub, h, null] + list(rest)


def key(k):
    """pick_key: keys 0..15 (selector k << 3), or INT64_MAX - k (k < 4)."""
    return [k << 3] if k >= 0 else [1 | ((-k - 1) << 3)]


def hold(slot, mode, delay=10, forever=1, extra=()):
    """The other thread holds / waits (mode 0, 1, 2), the main thread waits
    forever (forever=1) or 5 s for it; extra: the gather key, the batch
    fill size, the rwlock's second lock kind."""
    return [M_HOLD, slot, mode, delay, forever] + list(extra)


def mrace(slot, action, delay, ops, adds=10):
    """action: 0 free, 1 double free, 2 close, 3 wake, 4 counter adds."""
    out = [M_RACE, slot, action] + u16(delay) + [0, adds, len(ops) - 1]
    for sub, rest in ops:
        out += [sub, len(rest)] + list(rest)
    return out


def rop(sub, *rest):
    """A burst op: sub-op number sub (2..), its bytes after the handle selector."""
    return (sub - 2, [0] + list(rest))


MODS_SEEDS = {
    "deque_basic": prog(dq_new(0), dq_push(), dq_push(), dq_push(FRONT), dq(6, 0, 1), dq(19, 0),
                        dq(19, 0x80), dq(21, 0x08, 0), dq(22, 0x10, 0), dq(23, 0x80), dq(24, 0),
                        dq(25, 0, 2), dq(25, 0, 0xfe), dq(26), dq(27, *mcount(8), 0),
                        dq(4), dq(3), dq_pop(), dq_pop(FRONT), dq_pop_many(3), dq(28, *mcount(8), 0)),
    "deque_bounded": prog(dq_new(0, 3), dq_push(), dq_push(), dq_push(), dq_push(), dq_push(FRONT),
                          dq(7), dq_push_many(5), dq_push_many(4, FRONT, sub=9), dq(22, 0, 0),
                          dq_pop_many(2), dq(17), dq(17), dq(4)),
    "deque_maxlen0": prog(dq_new(0, 0), dq_push(), dq(7), dq_push_many(3), dq_pop(), dq(4)),
    "deque_unpop": prog(dq_new(0), dq_push_many(10, sub=9), dq_pop_many(4), dq(16, 0), dq(17),
                        dq_pop_many(5, FRONT, sub=15), dq(17), dq(11, FRONT, 0), dq(17),
                        dq_pop_many(3, BACK, sub=14), dq(17, 7), dq(17), dq(27, *mcount(16), 0)),
    "deque_close": prog(dq_new(0), dq_push(), dq_push(), dq(2), dq_push(), dq_pop(), dq(18),
                        dq(19, 0), dq(4), dq(28, *mcount(1), 0), dq(28, *mcount(4), 0)),
    "deque_handles": prog(dq_new(0), dq_new(1, 2), [M_DEQUE, 1, 8], dq(5, 0, 0, h=4),
                          dq(5, 0, 0, h=5), dq(5, 0, 0, h=3), dq(10, 0, 0, h=7, null=15),
                          dq(12, 0, h=6) + u64(0x0700000100000001), dq(5, 0, 14), dq(4, null=15)),
    "deque_wait": prog(dq_new(0), dq_pop(t=MT_SHORT), dq_pop_many(2, t=MT_LONG), dq(11, 0, MT_1NS)),
    "counter": prog([M_COUNTER, 0, 0, 7] + u64(5) + [0], ctr(2, 7, *u64(-7)), ctr(3), ctr(4, 3),
                    ctr(5, 0), ctr(6), ctr(7), ctr(8, 2), ctr(9), ctr(10, 0), ctr(3, h=4),
                    ctr(2, 0, h=5), ctr(9, h=3)),
    "rwlock": prog([M_RWLOCK, 0, 0, 0], rw(2), rw(2), rw(4), rw(7), rw(10), rw(3), rw(3), rw(3),
                   rw(4, MT_SHORT), rw(2), rw(4), rw(9), rw(11), rw(5), rw(5), rw(6), rw(8),
                   [M_RWLOCK, 0, 1, 15], rw(3, h=4)),
    "ilock": prog([M_ILOCK, 0, 0, 1, 0], il(2), il(2), il(4), il(5, MT_SHORT), il(7), il(8), il(3),
                  il(3), il(4), il(6), [M_ILOCK, 0, 1, 2, 0], il(2, h=5)),
    "batch_cycle": prog(bt_new(0, 4), bt(2, 0), bt(2, 0), bt(14), bt(16), bt_fill(4), bt(2, 0),
                        bt(12), bt(3, 0), bt(12), bt(12), bt(17), bt(5, *mcount(8), 0), bt(2, 0),
                        bt_fill_range(3, first=False), bt(4, 0), bt(13), bt(10), bt(11, *mcount(8), 0),
                        bt(16), bt(17), bt(15)),
    "batch_fail": prog(bt_new(0, 2), bt(8), bt(2, 0), bt(8), bt(3, 0), bt(9), bt(2, 0), bt(16),
                       bt(11, *mcount(4), 0), bt(6, 1, 0, 0, 0)),
    "batch_close_refill": prog(bt_new(0, 3), bt(5, *mcount(2), 0), bt(10), bt(16), bt_fill(2),
                               bt(14), bt(11, *mcount(2), 0), bt(12)),
    "batch_giveback": prog(bt_new(0, 5), bt(2, 0), bt_fill(5), bt(12), bt(2, 0), bt(12), bt(2, 0),
                           bt(12), bt(17), bt(10), bt(11, *mcount(9), 0), bt(12)),
    "sem": prog(sm_new(0, 2), sm(2), sm(2), sm(2), sm(3, 0), sm(3, 5), sm(3, 13), sm(10), sm(9),
                sm(4), sm(8), sm(5), sm(6, 5), sm(6, 0), sm(4), sm(5), sm(5), sm(8), sm(7, MT_SHORT),
                sm(7, 0), sm(2), sm(11), sm(12), sm(3, 1), sm(4, null=15), sm(8)),
    "sem_bad": prog(sm_new(0, 1), [M_SEM, 0, 1, 1, 0], sm(2, h=4), sm(8, h=4), sm(8, h=5),
                    sm(8, h=3), sm(4, h=5, null=15), sm(8, h=5)),
    "race_free_deque_sleeper": prog(dq_new(0), mrace(0, 0, 2048 + 1500, [rop(10, 0, MT_FOREVER),
                                                                         rop(13, 0, 0, 3, 0, MT_FOREVER)])),
    "race_close_deque": prog(dq_new(0), dq_push_many(6), mrace(0, 2, 100, [rop(10, 0, MT_LONG),
                             rop(5, 0, 0), rop(4), rop(28, 0, 2, 0), rop(17)])),
    "race_wake_deque": prog(dq_new(0), mrace(0, 3, 2048 + 100, [rop(10, 0, MT_LONG)])),
    "race_double_free_batch": prog(bt_new(0, 3), mrace(0, 1, 200, [rop(2, 0), rop(6, 0, 2, 0, 0, 0, 0, 0, 0),
                                   rop(2, 0), rop(12), rop(16), rop(11, 0, 2, 0)])),
    "race_close_batch": prog(bt_new(0, 2), bt(2, 0), mrace(0, 2, 50, [rop(6, 0, 1, 0, 0, 0, 0, 0),
                             rop(2, 0), rop(12), rop(16), rop(11, 0, 3, 0), rop(2, 0)])),
    "race_free_sem_sleeper": prog(sm_new(0, 1), sm(2), mrace(0, 0, 2048 + 1000, [rop(7, MT_FOREVER),
                                  rop(3, 0), rop(4), rop(8)])),
    "race_wake_sem": prog(sm_new(0, 1), sm(2), mrace(0, 3, 2048 + 50, [rop(7, MT_LONG), rop(10)])),
    "race_free_rwlock": prog([M_RWLOCK, 0, 0, 0], rw(4), mrace(0, 0, 300, [(0, [0, 0]), (3, [0]),
                             (2, [0, MT_SHORT]), (7, [0])])),
    "race_free_ilock": prog([M_ILOCK, 0, 0, 0, 0], il(2), mrace(0, 1, 100, [(2, [0]), (0, [0, 0]),
                            (5, [0])])),
    "race_counter_adds": prog([M_COUNTER, 0, 0, 0, 0], mrace(0, 4, 0, [rop(3)], adds=40), [3]),
    "gather_basic": prog(ga_new(0), ga(6, *key(1), 0), ga(6, *key(2), 0), ga(6, *key(1), 0), ga(13),
                         ga(7, *key(1), 0), ga(7, *key(1), 0), ga(8, *key(2), 0), ga(9, *key(3), 0),
                         ga(12, *key(4), *mcount(5), 0, 0, 0), ga(11, *key(4), *mcount(8), 0, 0, 0),
                         ga(10, *key(5), *mcount(2), 0, 0, 0), ga(7, *key(9), MT_SHORT), ga(5),
                         ga(14, *mcount(16), 0)),
    "gather_int64_max": prog(ga_new(0, 1), ga(12, *key(-3), *mcount(3), 0, 0, 0),
                             ga(12, *key(-2), *mcount(3), 0, 0, 0), ga(10, *key(-3), *mcount(8), 0, 0, 0),
                             ga(6, *key(-1), 7), ga(13)),
    "gather_drain": prog(ga_new(0, 1), ga(12, *key(0), *mcount(12), 0, 0, 0), ga(14, *mcount(3), 0),
                         ga(13), ga(14, *mcount(0), 7), ga(14, *mcount(16), 0), ga(13)),
    "gather_close": prog(ga_new(0), ga(6, *key(1), 0), ga(3), ga(6, *key(2), 0), ga(7, *key(2), 0),
                         ga(5), ga(2), ga(6, *key(3), 0), ga(12, *key(6), *mcount(2), 0, 0, 0), ga(13),
                         ga(14, *mcount(8), 0), ga(5)),
    "race_free_gather_sleeper": prog(ga_new(0), mrace(0, 0, 2048 + 800, [rop(7, *key(1), MT_FOREVER),
                                     rop(10, *key(1), *mcount(2), 0, 0, MT_FOREVER), rop(6, *key(1), 0)])),
    "race_close_gather": prog(ga_new(0), ga(6, *key(1), 0), mrace(0, 2, 100, [rop(6, *key(2), 0),
                              rop(7, *key(2), MT_LONG), rop(5), rop(14, *mcount(4), 0), rop(7, *key(1), 0)])),
    "race_wake_gather": prog(ga_new(0), mrace(0, 3, 2048 + 100, [rop(9, *key(3), MT_LONG)])),
    "hold_rwlock": prog([M_RWLOCK, 0, 0, 0], hold(0, 0, 20, 1, [1]), hold(0, 1, 20, 0, [0]),
                        rw(2), rw(3)),
    "hold_ilock": prog([M_ILOCK, 0, 0, 0, 0], hold(0, 0, 20), hold(0, 1, 50), hold(0, 2, 50, 0)),
    "hold_batch": prog(bt_new(0, 8), hold(0, 0, 30, 1, [3]), bt(2, 0), bt(2, 0), bt(2, 0), bt(2, 0),
                       bt(8), hold(0, 1, 30, 1, [0]), bt(8), hold(0, 2, 30, 0, [0]), bt(16)),
    "hold_sem": prog(sm_new(0, 1), sm(2), sm(3, 0), sm(3, 0), hold(0, 0, 10), sm(9), sm(2),
                     hold(0, 1, 10), sm(10)),
    "hold_gather": prog(ga_new(0), hold(0, 0, 30, 1, key(1) + [1]), hold(0, 1, 30, 1, key(2)), ga(13)),
    "hold_deque": prog(dq_new(0), hold(0, 0, 30), hold(0, 1, 30, 0), dq(4)),
    "many_rwlocks": prog([M_RWLOCK, 0, 0, 0], rw(2), rw(2), [M_MISC, 2, 11] + [1] * 12 + [24] +
                         [x for i in range(12) for x in (i, 2 + i % 3)] +
                         [x for i in range(0, 12, 3) for x in (i, 0)] + [x for i in range(12) for x in (i, 1)],
                         [M_MISC, 2, 9] + [0, 2] * 5 + [8, 0, 0, 1, 0, 2, 2, 3, 3, 4, 0, 5, 4, 9, 1]),
    "race_free_counter": prog([M_COUNTER, 0, 0, 0, 0], mrace(0, 0, 100, [rop(2, 0, 0), rop(9, 0),
                              rop(8, 0, 0), rop(3, 0)])),
}


def write(out, seeds):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
        total += len(data)
    print(f"{len(seeds)} seeds, {total} bytes in {out}", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    write(os.path.join(here, "corpus"), SEEDS)
    write(os.path.join(here, "corpus_mods"), MODS_SEEDS)


if __name__ == "__main__":
    main()
