# Hard IRQ callbacks moving references while the main loop collects (rgcirq module, rgc-irq builds).
#
# N tokens (instances of Tok, each owning a payload bytes object and a name string) live only in the
# containers below - nothing else refers to them. A level-1 interrupt every 100 us (10 kHz) runs a
# callback that moves tokens from one container to another: lists (pop, remove, insert, store,
# reverse, sort), a dict (pop, store), a set (pop, add), instance attributes (delattr, setattr), module
# globals, closure cells, suspended generators (send) and a deque (popleft, append). The main loop
# churns the heap and calls gc.collect(), which the callbacks preempt at any instruction - often while
# it is marking. Every few collections the main loop holds the interrupts and checks that every token
# is reachable exactly once, with its content intact.
#
# On a build with MicroPython's write barrier (patches/, gc_write_barrier.h) nothing may be lost. The
# negative control - the same test on a build without the barrier (RGC_WRITE_BARRIER=0) - must show
# losses: a token moved from a container the collector has not scanned yet into one it has scanned is
# freed while still referenced. Usage: micropython irq_torture.py [seconds] [expect]
# (expect: "intact", the default, or "losses"; the last line is PASS or FAIL).
import gc, sys, time, rgcirq
from collections import deque

N = 1200  # tokens
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
expect = sys.argv[2] if len(sys.argv) > 2 else "intact"


class Tok:
    def __init__(self, i):
        self.id = i
        self.payload = bytes([i & 0xFF]) * (16 + i % 48)
        self.name = "tok%d" % i


class Holder:
    pass


# ---- the containers --------------------------------------------------------------------------------
L1 = []
L2 = []
D = {}
S = set()
H = Holder()
ATTRS = ("a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7")
GLOBS = ("g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7")
Q = deque((), 64)


def make_cell():
    v = None

    def get():
        return v

    def put(x):
        nonlocal v
        old = v
        v = x
        return old

    return get, put


CELLS = [make_cell() for _ in range(6)]


def keeper():
    # send(x) stores x and returns what was held before
    held = out = None
    while True:
        incoming = yield out
        out = held
        held = incoming


GENS = [keeper() for _ in range(6)]
for g in GENS:
    next(g)
gen_full = bytearray(len(GENS))  # which generators hold a token (no reference, just a flag)

NKINDS = 9
seed = 12345
# container kinds 0-8 (see take/give); the two lists are picked most often and hold most tokens: a
# long list is scanned for long, and a move inside it (pop, insert, reverse) shifts references past
# the collector's scan position
PICK = bytes([0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0])


def rnd(n):
    global seed
    seed = (seed * 1103515245 + 12345) & 0x3FFFFFFF
    return (seed >> 8) % n


def take(kind):
    """Remove one token from a container of `kind` and return it (None if that one is empty)."""
    if kind == 0 or kind == 1:
        lst = L1 if kind == 0 else L2
        if not lst:
            return None
        r = rnd(4)
        if r == 0:
            return lst.pop(0)
        if r == 1:
            t = lst[rnd(len(lst))]
            lst.remove(t)
            return t
        return lst.pop(rnd(len(lst)))
    if kind == 2:
        if not D:
            return None
        for k in D:
            return D.pop(k)
    if kind == 3:
        return S.pop() if S else None
    if kind == 4:
        name = ATTRS[rnd(len(ATTRS))]
        if hasattr(H, name):
            t = getattr(H, name)
            delattr(H, name)
            return t
        return None
    if kind == 5:
        g = globals()
        name = GLOBS[rnd(len(GLOBS))]
        return g.pop(name) if name in g else None
    if kind == 6:
        get, put = CELLS[rnd(len(CELLS))]
        return put(None) if get() is not None else None
    if kind == 7:
        i = rnd(len(GENS))
        if not gen_full[i]:
            return None
        gen_full[i] = 0
        return GENS[i].send(None)
    return Q.popleft() if Q else None


def give(kind, t):
    """Put token t into a container of `kind`; False if there was no room."""
    if kind == 0 or kind == 1:
        lst = L1 if kind == 0 else L2
        r = rnd(8)
        if r == 0:
            lst.insert(0, t)
        elif r == 1 and lst:
            # store over a slot, moving its token to the end
            i = rnd(len(lst))
            old = lst[i]
            lst[i] = t
            lst.append(old)
        elif r == 2:
            lst.append(t)
            lst.reverse()
        elif r == 3 and len(lst) < 24:
            lst.append(t)
            lst.sort(key=lambda x: x.id ^ 0x55)
        else:
            lst.append(t)
        return True
    if kind == 2:
        k = rnd(1000)
        if k in D:
            return False
        D[k] = t
        return True
    if kind == 3:
        S.add(t)
        return True
    if kind == 4:
        name = ATTRS[rnd(len(ATTRS))]
        if hasattr(H, name):
            return False
        setattr(H, name, t)
        return True
    if kind == 5:
        g = globals()
        name = GLOBS[rnd(len(GLOBS))]
        if name in g:
            return False
        g[name] = t
        return True
    if kind == 6:
        get, put = CELLS[rnd(len(CELLS))]
        if get() is not None:
            return False
        put(t)
        return True
    if kind == 7:
        i = rnd(len(GENS))
        if gen_full[i]:
            return False
        GENS[i].send(t)
        gen_full[i] = 1
        return True
    if len(Q) >= 60:
        return False
    Q.append(t)
    return True


moves = 0


def callback(n):
    global moves
    for _ in range(2):
        src = PICK[rnd(len(PICK))]
        t = take(src)
        if t is None:
            continue
        dst = PICK[rnd(len(PICK))]
        while not give(dst, t):
            dst = (dst + 1) % NKINDS
        moves += 1


# ---- checking --------------------------------------------------------------------------------------
def tokens():
    """Every token reachable from the containers (callbacks held)."""
    out = list(L1) + list(L2) + list(D.values()) + list(S)
    for name in ATTRS:
        if hasattr(H, name):
            out.append(getattr(H, name))
    g = globals()
    for name in GLOBS:
        if name in g:
            out.append(g[name])
    for get, put in CELLS:
        if get() is not None:
            out.append(get())
    for i in range(len(GENS)):
        if gen_full[i]:
            t = GENS[i].send(None)  # peek: take it and give it back
            GENS[i].send(t)
            out.append(t)
    out.extend(Q)
    return out


def check():
    """(missing, duplicated, corrupt) token counts."""
    seen = bytearray(N)
    corrupt = 0
    for t in tokens():
        try:
            i = t.id
            ok = type(t) is Tok and 0 <= i < N and t.name == "tok%d" % i
            ok = ok and len(t.payload) == 16 + i % 48 and t.payload == bytes([i & 0xFF]) * (16 + i % 48)
        except Exception:
            ok = False
        if not ok:
            corrupt += 1
            continue
        if seen[i] < 255:
            seen[i] += 1
    missing = sum(1 for c in seen if c == 0)
    dup = sum(1 for c in seen if c > 1)
    return missing, dup, corrupt


def main():
    for i in range(N):
        k = i % NKINDS if i < 4 * NKINDS else i % 2
        while not give(k, Tok(i)):
            k = (k + 1) % NKINDS
    m, d, c = check()
    assert m == 0 and d == 0 and c == 0, "initial placement"
    # ballast: live structures among the containers (module globals), so that the collector spends
    # long between scanning one container and the next - the window in which a move from an unscanned
    # container into a scanned one loses the token without the barrier
    # (chains, not wide lists: a wide object overflows rgc's mark stack, and the rescan that follows
    # re-reads every marked object, which would hide most losses from the negative control)
    g = globals()
    for b in range(12):
        node = None
        for j in range(400):
            node = [node, j * 3 + 1]
        g["ballast%d" % b] = node
    rgcirq.start(1, 100, callback)
    collections = checks = 0
    lost = dups = corrupt = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < seconds * 1000:
        junk = [bytes(8 + j % 40) for j in range(100)]
        gc.collect()
        collections += 1
        if collections % 8 == 0:
            rgcirq.hold(True)
            m, d, c = check()
            rgcirq.hold(False)
            checks += 1
            if m or d or c:
                lost += m
                dups += d
                corrupt += c
                if expect == "losses":
                    break
                print("check", checks, "after", moves, "moves: missing", m, "duplicated", d, "corrupt", c)
                break
    rgcirq.stop()
    runs, in_coll, exc, mem, in_mark = rgcirq.stats()
    heap_collections, failed, misuse, check_rc, verify_reports = rgcirq.heap()
    print("interrupts", runs, "during a collection", in_coll, "during marking", in_mark, "moves", moves, "exceptions", exc)
    print("main loop: collections", collections, "checks", checks)
    if exc:
        e = rgcirq.first_exception()
        print("first exception in a callback:", type(e).__name__, e)
    print("tokens: missing", lost, "duplicated", dups, "corrupt", corrupt)
    print("rgc: misuse", misuse, "check", check_rc, "verifier reports", verify_reports)
    if expect == "losses":
        ok = lost + dups + corrupt > 0
    else:
        ok = lost == 0 and dups == 0 and corrupt == 0 and exc == 0 and misuse == 0 and check_rc == 0
        ok = ok and runs > 1000 and in_mark > 0 and moves > 0
    print("PASS" if ok else "FAIL")


main()
