#!/usr/bin/env python3
"""make_corpus.py - write the seed corpus of fuzz_rgc (tests/fuzz/corpus/).

Each seed is a small program in fuzz_rgc.c's input language (see the comment at its top): a header,
then ops. The encoding here mirrors the decoder; keep the opcode numbers in sync with fuzz_rgc.c's
enum. Seeds cover every op at least once, multi-area heaps, bad set-ups, and injections into alloc,
free, realloc, rgc_write and every kind of collection, nested two bodies deep.

Usage: python3 tests/fuzz/make_corpus.py [out_dir]   (default: the corpus/ directory next to it)
"""
import os
import struct
import sys

(ALLOC, FREE, FREE_BAD, REALLOC, REALLOC_BAD, DROP, COPY, SWAP, LINK, COLLECT, STEP, START, ROOTS,
 FINISH, SWEEP_ALL, LOCK, UNLOCK, POLICY, THRESHOLD, PACING, RESERVE, ADD_ROOT, WRITE_BAD, LEVEL,
 INJECT, ADD_AREA, DIAG, XFILL, FINMODE, BADHEAP) = range(30)

# dec_size selectors
S0, S1, SW1, SW, SB1, SB, SB1P, S2B, SSMALL, SMED, SBIG, STOTAL, SOVER, SMAX, SMAXB, SHALF = range(16)


def u16(v):
    return struct.pack('<H', v & 0xFFFF)


def header(size=4096, big=False, xroots=True, fin=1, fin_mode=0, areas=(), bad_init=False, junk=False, off=0):
    cfg = (0x80 if big else 0) | (0x20 if xroots else 0) | (0x40 if junk else 0) | (3 if bad_init else 0)
    h = bytes([cfg]) + u16(size) + bytes([off, (fin & 1) | (fin_mode << 1), len(areas)])
    for mode, sz in areas:
        h += bytes([mode]) + u16(sz)
    return h


def size(sel, val=None):
    """dec_size's encoding: the selector and the operand bytes it reads."""
    if sel in (S2B, SSMALL, SOVER):
        return bytes([sel, 0x20 if val is None else val])
    if sel in (SMED, SBIG):
        return bytes([sel]) + u16(300 if val is None else val)
    return bytes([sel])


def alloc(slot, sel=SSMALL, val=None, fin=False, nslots=2, bad_flags=False):
    fl = (1 if fin else 0) | ((nslots & 7) << 1) | (0x80 if bad_flags else 0)
    return bytes([ALLOC, slot]) + size(sel, val) + bytes([fl])


def free(sel=0, drop_first=False):
    return bytes([FREE, sel, 1 if drop_first else 0])


def free_bad(kind, *operands):
    return bytes([FREE_BAD, kind] + list(operands))


def realloc(sel, size_sel, val=None, move=True):
    return bytes([REALLOC, sel]) + size(size_sel, val) + bytes([1 if move else 0])


def inject(point, body, up=1):
    """At preemption point `point` (1..160) of the next call, run `body` one level (or `up`) higher."""
    assert 1 <= point <= 160 and len(body) < 96
    return bytes([INJECT, point - 1, up - 1, len(body)]) + body


def inject_far(k, shift_word, body, up=1):
    """Point 1 + k + (shift_word << ((k - 160) % 8)), k >= 160: deep inside a long call."""
    return bytes([INJECT, k, up - 1, len(body)]) + body + u16(shift_word)


def op(*b):
    return bytes(b)


seeds = {}

# ---- basics ----
seeds['alloc_free'] = header() + alloc(0) + alloc(1, SB) + alloc(2, SMED, 300) + free(0) + free(1, True) + op(COLLECT)
seeds['sizes'] = header() + b''.join(alloc(i, s, 5 if s in (S2B, SSMALL, SOVER) else (77 if s in (SMED, SBIG) else None))
                                     for i, s in enumerate([S0, S1, SW1, SW, SB1, SB, SB1P, S2B, SSMALL, SMED, SBIG, STOTAL,
                                                            SOVER, SMAX, SMAXB, SHALF]))
seeds['bad_flags'] = header() + alloc(0, SB, bad_flags=True) + alloc(1, SB, fin=True, bad_flags=True) + alloc(2, SB, fin=True)
seeds['graph'] = (header(8192) + alloc(0, SB, nslots=4) + alloc(1, SB, nslots=4) + alloc(2, S2B, 3, nslots=4)
                  + op(LINK, 0, 0, 0, 1, 0) + op(LINK, 1, 1, 0, 2, 0) + op(LINK, 2, 0, 2, 0)
                  + op(DROP, 1) + op(DROP, 2) + op(COLLECT) + op(STEP, 3) + op(COLLECT))
seeds['copy_swap'] = header() + alloc(0) + alloc(1) + op(COPY, 0, 5) + op(SWAP, 1, 5) + op(DROP, 0) + op(COLLECT)
seeds['realloc'] = (header(8192) + alloc(0, SSMALL, 48) + realloc(0, SMED, 700) + realloc(0, SB1, move=False)
                    + realloc(0, SMED, 2000, move=False) + realloc(0, S0) + op(COLLECT))
seeds['realloc_bad'] = (header() + alloc(0) + alloc(1) + free(0) + op(REALLOC_BAD, 0, 1, 0) + op(REALLOC_BAD, 1, 0, SB)
                        + op(REALLOC_BAD, 2, 1, 2, 0, 7) + op(REALLOC_BAD, 3, 0, 1, 0, 9, 5))
seeds['free_bad'] = (header() + alloc(0) + alloc(1, SMED, 200) + free(0) + free_bad(0, 1) + free_bad(1, 0, 17)
                     + free_bad(2, 0) + free_bad(3, 0) + free_bad(4) + free_bad(5) + free_bad(6, 0, 3, 0, 5) + free_bad(7))
seeds['double_free'] = header() + alloc(0) + free(0) + free_bad(2, 0) + free_bad(2, 0) + op(COLLECT) + free_bad(3, 0)
seeds['lock'] = (header() + op(UNLOCK) + op(LOCK) + op(LOCK) + alloc(0) + op(COLLECT) + op(STEP, 5) + op(UNLOCK) + op(UNLOCK)
                 + op(UNLOCK) + alloc(1))
seeds['policy'] = (header() + op(POLICY, 0, 2) + alloc(0) + op(POLICY, 0, 1) + op(POLICY, 16, 1) + op(POLICY, 3, 7)
                   + op(POLICY, 1, 1) + alloc(1))
seeds['threshold'] = header(4096) + op(THRESHOLD, 70) + b''.join(alloc(i % 4, SB) for i in range(12)) + op(COLLECT)
seeds['pacing'] = (header(8192) + op(THRESHOLD, 80) + op(PACING, 2) + b''.join(alloc(i % 8, S2B, 1, nslots=2) + op(LINK, 0, 0, 0, 1, 0)
                                                                             for i in range(10)))
seeds['steps'] = (header(8192) + b''.join(alloc(i, SB) for i in range(6)) + op(DROP, 2) + op(STEP, 1) + alloc(7)
                  + op(DROP, 3) + op(STEP, 4) + op(STEP, 250) + op(FINISH) + op(COLLECT))
seeds['start_roots_finish'] = (header() + alloc(0) + alloc(1) + op(START) + op(ROOTS, 0, 0, 4) + op(ROOTS, 1, 0, 1, 2, 3, 4, 5, 6, 7)
                               + op(ROOTS, 2, 3) + op(ROOTS, 3, 1) + op(ROOTS, 4, 0) + op(ROOTS, 5) + op(COLLECT) + op(FINISH)
                               + op(ROOTS, 0, 0, 4))
seeds['sweep_all'] = header(fin=1) + alloc(0, fin=True) + alloc(1) + op(SWEEP_ALL, 0) + alloc(2) + op(COLLECT)
seeds['reserve'] = (header(8192) + op(RESERVE, 1, 40) + op(RESERVE, 0, 4) + op(RESERVE, 16, 4) + op(RESERVE, 2, 255)
                    + op(RESERVE, 1, 0) + op(RESERVE, 3, 20) + alloc(0, SHALF) + op(LEVEL, 3) + alloc(1, SB))
seeds['add_root'] = (header(xroots=False) + b''.join(op(ADD_ROOT, k, 1) for k in range(7)) + b''.join(op(ADD_ROOT, 0) for _ in range(14))
                     + alloc(0))
seeds['write_bad'] = header() + alloc(0) + b''.join(op(WRITE_BAD, k, 0, 2) for k in range(5))
seeds['diag'] = header() + alloc(0) + alloc(1, fin=True) + b''.join(op(DIAG, k, 0) for k in range(4))
seeds['xfill'] = header() + alloc(0) + op(XFILL, 1, 0, 0) + op(XFILL, 2, 1, 0) + op(XFILL, 3, 2, 0) + op(DROP, 0) + op(COLLECT)
seeds['badheap'] = header(junk=True) + b''.join(op(BADHEAP, k, k & 1) for k in range(24))
seeds['bad_init_null'] = header(bad_init=True, off=0)
seeds['bad_init_misaligned'] = header(bad_init=True, off=1)
seeds['bad_init_small'] = header(bad_init=True, off=2 + 4 * 7, junk=True)
seeds['levels'] = header() + op(LEVEL, 2) + alloc(0) + op(COLLECT) + op(LEVEL, 16) + alloc(1) + free(0) + op(COLLECT) + op(LOCK) + op(LEVEL, 0)
seeds['finalisers'] = (header(fin=1, fin_mode=1) + alloc(0, fin=True) + alloc(1, fin=True) + op(DROP, 0) + op(COLLECT)
                       + op(FINMODE, 2) + op(DROP, 1) + op(COLLECT) + op(FINMODE, 3) + alloc(2, fin=True) + op(DROP, 2) + op(COLLECT))

# ---- multi-area heaps ----
seeds['areas'] = (header(2048, areas=[(0, 4096), (1, 3000), (2, 8000)]) + b''.join(alloc(i, SMED, 500) for i in range(12))
                  + op(LINK, 0, 0, 0, 9, 0) + op(DROP, 9) + op(COLLECT) + op(DIAG, 0))
seeds['areas_bad'] = header(2048, areas=[(4, 4096), (5, 4096), (6, 4096), (7, 100), (15, 4096), (23, 4096), (31, 30)]) + alloc(0)
seeds['areas_full'] = header(2048, areas=[(0, 2048), (1, 2048), (2, 2048), (3, 2048)]) + op(ADD_AREA, 0, 0, 16) + alloc(0, SBIG, 3000)
seeds['area_runtime'] = (header(1024) + b''.join(alloc(i, SB) for i in range(8)) + op(STEP, 2)
                         + op(ADD_AREA, 1) + u16(6000) + b''.join(alloc(i + 8, S2B, 7) for i in range(6)) + op(FINISH) + op(COLLECT))
seeds['area_reserve'] = header(4096, areas=[(0, 4096)]) + op(RESERVE, 2, 60) + op(ADD_AREA, 1) + u16(4096) + alloc(0, SHALF)

# ---- injections ----
burst = alloc(10, SB, nslots=1) + alloc(11, S2B, 2, fin=True) + free(0) + op(COLLECT)
seeds['inj_alloc'] = header() + alloc(0) + alloc(1) + inject(20, burst) + alloc(2, SMED, 400)
seeds['inj_free'] = header() + alloc(0) + alloc(1) + inject(12, alloc(5) + free_bad(2, 0) + op(COLLECT)) + free(0)
seeds['inj_realloc'] = header() + alloc(0, SSMALL, 64) + alloc(1) + inject(40, alloc(6, SB) + op(COLLECT) + free(1)) + realloc(0, SMED, 900)
seeds['inj_write'] = header() + alloc(0, nslots=2) + alloc(1) + op(START) + inject(5, op(DROP, 1) + op(COLLECT) + alloc(3)) + op(LINK, 0, 0, 0, 1, 0)
seeds['inj_collect_mark'] = (header(8192) + b''.join(alloc(i, SB, nslots=2) for i in range(8)) + op(LINK, 0, 0, 0, 3, 0)
                             + inject(150, op(COPY, 3, 20) + op(DROP, 3) + op(LINK, 1, 0, 0, 4, 0) + alloc(21) + op(COLLECT) + op(STEP, 1))
                             + op(COLLECT) + op(COLLECT))
seeds['inj_collect_sweep'] = (header(4096, fin=1) + b''.join(alloc(i, SB, fin=(i & 1) == 1) for i in range(10)) + op(DROP, 1) + op(DROP, 2)
                              + inject_far(165, 30, alloc(12) + free(3) + realloc(4, SMED, 200) + op(COLLECT)) + op(COLLECT))
seeds['inj_step'] = (header(8192) + b''.join(alloc(i, SB) for i in range(8)) + op(STEP, 1)
                     + inject(60, op(STEP, 2) + alloc(9) + op(DROP, 0) + op(FINISH)) + op(STEP, 30) + op(FINISH))
seeds['inj_nested'] = (header() + alloc(0) + alloc(1) + inject(25, alloc(2) + inject(15, alloc(3) + op(COLLECT) + free(0)) + free(1) + op(COLLECT))
                       + realloc(0, SMED, 600))
seeds['inj_start_roots'] = header() + alloc(0) + op(START) + inject(3, op(START) + op(ROOTS, 0, 0, 8) + op(STEP, 4) + op(COLLECT)) + op(ROOTS, 0, 0, 8) + op(FINISH)
seeds['inj_badlevel'] = header() + alloc(0) + inject(10, alloc(1) + free(0) + op(COLLECT) + op(LOCK) + op(UNLOCK), up=3) + op(LEVEL, 14) + inject(4, alloc(2) + op(COLLECT), up=3) + alloc(3)
seeds['inj_lock'] = header() + alloc(0) + inject(8, op(LOCK) + alloc(1) + op(COLLECT)) + alloc(2) + op(UNLOCK) + inject(6, op(UNLOCK)) + op(COLLECT)
seeds['inj_policy'] = header() + op(POLICY, 1, 1) + op(THRESHOLD, 66) + op(PACING, 1) + inject(30, b''.join(alloc(i + 4, SB) for i in range(6))) + alloc(0, SMED, 1500)
seeds['inj_pacing_areas'] = (header(2048, areas=[(0, 3000), (1, 3000)]) + op(THRESHOLD, 75) + op(PACING, 3)
                             + b''.join(alloc(i, S2B, 1) + (inject(9 + i, alloc(16 + i, SB) + op(DROP, i)) if i % 3 == 0 else b'') for i in range(10)))
seeds['inj_fin'] = header(fin=1, fin_mode=2) + alloc(0, fin=True) + op(DROP, 0) + inject(90, alloc(4) + free_bad(2, 0) + op(COLLECT)) + op(COLLECT)
seeds['inj_double_free_race'] = header() + alloc(0) + alloc(1) + free(1) + inject(14, free_bad(2, 0) + alloc(2, SB)) + free_bad(2, 0)

# ---- the snapshot barrier and racing frees (patterns a mutation test showed the fuzzer needs) ----
# O reachable only through A's slot; a collection paused after one unit of work (A not scanned yet);
# the pointer moves into a handle (scanned already) and the slot is cleared: only the barrier keeps O.
# (Handles 2..4 are scanned first - the mark stack is LIFO - so A is still unscanned after step(1).)
link_setup = (alloc(0, SB, nslots=2) + alloc(1, SB, nslots=2) + op(LINK, 0, 0, 0, 1, 0) + op(DROP, 1)
              + alloc(2, SB, nslots=0) + alloc(3, SB, nslots=0) + alloc(4, SB, nslots=0))
seeds['barrier_take'] = header() + link_setup + op(STEP, 1) + op(LINK, 0, 0, 5, 0, 7) + op(FINISH) + op(COLLECT)
seeds['barrier_unlink'] = (header() + link_setup + alloc(2, SB, nslots=2) + op(STEP, 1) + op(LINK, 1, 0, 0, 0, 0)
                           + op(LINK, 0, 0, 4, 0) + op(STEP, 250) + op(FINISH))
seeds['barrier_swap_roots'] = header() + link_setup + op(STEP, 1) + op(LINK, 0, 0, 5, 0, 9) + op(SWAP, 9, 3) + op(FINISH)
seeds['barrier_inj'] = (header() + link_setup + op(STEP, 1)
                        + inject(40, op(STEP, 250) + op(FINISH)) + op(LINK, 0, 0, 5, 0, 7) + op(COLLECT))
# a stale free from an interrupt of the block the interrupted allocation is claiming (reused address)
for n in (60, 145, 155):  # the claim happens at about point 140 of this allocation
    seeds[f'race_free_claim_{n}'] = (header() + alloc(0, SB) + alloc(1, SB) + free(1)
                                     + inject(n, free_bad(2, 0)) + alloc(2, SB))
seeds['race_free_realloc'] = (header() + alloc(0, SB) + alloc(1, SB) + free(1)
                              + inject(70, free_bad(2, 0) + op(COLLECT)) + realloc(0, SMED, 400))

# an interrupt collects right after the allocation it preempts has claimed its block (only the
# in-progress slot knows that block: the caller holds no pointer yet)
for n in (145, 150):
    seeds[f'race_collect_claim_{n}'] = header() + alloc(0, SB) + inject(n, op(COLLECT)) + alloc(2, SB)
# A's last pointer slot (in its second block with 16-byte blocks) refers to O; while a paused
# collection has not scanned A, O's pointer is fetched into a handle, then A is shrunk to one word
# without clearing the slot: the shrink deletes that reference, so it must keep A's blocks while marking
seeds['shrink_cut_marking'] = (header() + alloc(0, SMED, 63, nslots=4) + alloc(1, SB, nslots=0)
                               + op(LINK, 0, 3, 0, 1, 0) + op(DROP, 1)
                               + alloc(2, SB, nslots=0) + alloc(3, SB, nslots=0) + alloc(4, SB, nslots=0)
                               + op(STEP, 1) + op(LINK, 0, 3, 6, 7) + realloc(0, SW, move=False)
                               + op(FINISH) + op(COLLECT))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(f'{len(seeds)} seeds written to {out}')


if __name__ == '__main__':
    main()
