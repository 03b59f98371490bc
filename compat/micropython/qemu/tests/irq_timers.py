# irq_timers.py - three hardware timers at different NVIC priorities run Python callbacks that allocate,
# while the main loop churns the heap, collects and checks every stored object; optionally Ctrl-C
# typed at the UART (run_irq_test.py --ctrl-c). For the qemu port's MPS2 AN385 with the rgcqemu module
# (compat/micropython/qemu). PARAMS (put in front by run_irq_test.py): seconds (emulated), stress (0:
# 1 Hz / 10 Hz / 1 kHz; 1: 10 Hz / 1 kHz / 10 kHz), kbd (1: Ctrl-C protocol with the driver), timers
# (0: none started - the main loop alone, for the cost of gc.collect() without interrupts).
#
# Each callback allocates a 2 KiB bytearray (a copy of its level's pattern, stamped with the run number)
# and a list of 8 tuples, and stores both in a module-global dict (3 slots per level, replacing older
# entries, so the old ones become garbage). The main loop allocates its own garbage, times gc.collect()
# in emulated time (the dual timer at 25 MHz), and reads every stored entry back: the bytearray's
# pattern and stamp, the tuples' contents and their agreement with the stamp. Any difference is a
# corrupted object and fails the test; so do callbacks that did not run (fewer runs than the emulated
# time says), exceptions other than MemoryError, and (on rgc) an inconsistent heap.
import gc
import rgcqemu

try:
    PARAMS
except NameError:
    PARAMS = {}
SECONDS = PARAMS.get("seconds", 3)
STRESS = PARAMS.get("stress", 0)
KBD = PARAMS.get("kbd", 0)
TIMERS = PARAMS.get("timers", 1)  # 0: no interrupts at all (the cost of gc.collect() by itself)
IRQ_COLLECT = PARAMS.get("irq_collect", 1)  # 0: no collections from callbacks
HZ = rgcqemu.TICKS_HZ
ON_RGC = rgcqemu.on_rgc

# (timer id, frequency Hz, NVIC priority): the faster, the more urgent - each preempts the slower ones
if STRESS:
    LEVELS = ((1, 10, 6), (0, 1000, 4), (2, 10000, 2))
else:
    LEVELS = ((1, 1, 6), (0, 10, 4), (2, 1000, 2))
NBYTES = 2048
NTUPLES = 8
SLOTS = PARAMS.get("slots", 3)  # stored entries per level (6: see compat/micropython/README.md)
NL = len(LEVELS)

results = {}
for lv in range(NL):
    for s in range(SLOTS):
        results[lv * 100 + s] = None
# per level: callback runs, objects allocated, MemoryErrors, collections run from the callback
stats = [[0, 0, 0, 0] for _ in range(NL)]
patterns = []
for lv in range(NL):
    p = bytearray(NBYTES)
    for i in range(NBYTES):
        p[i] = (i * 7 + lv * 31 + 1) & 0xFF
    patterns.append(p)
tails = [bytes(p[4:]) for p in patterns]


def make_cb(lv):
    pat = patterns[lv]
    st = stats[lv]
    tid = LEVELS[lv][0]
    base = lv * 100
    # the levels of at most 10 Hz also run whole collections at interrupt level (~2 ms each)
    collect = ON_RGC and IRQ_COLLECT and LEVELS[lv][1] <= 10

    def cb(n):
        st[0] += 1
        try:
            b = bytearray(pat)
            st[1] += 1
            b[0] = n & 0xFF
            b[1] = (n >> 8) & 0xFF
            b[2] = (n >> 16) & 0xFF
            b[3] = lv
            t = [(n, i, lv) for i in range(NTUPLES)]
            st[1] += 1 + NTUPLES
            results[base + n % SLOTS] = (b, t)
            st[1] += 1
        except MemoryError:
            st[2] += 1
            rgcqemu.note_memerr(tid)
        if collect and rgcqemu.collect_if_idle():
            st[3] += 1

    return cb


def verify():
    # reads each entry once (one dict lookup: a callback replaces entries, never changes one)
    seen = bad = 0
    for lv in range(NL):
        for s in range(SLOTS):
            e = results[lv * 100 + s]
            if e is None:
                continue
            seen += 1
            b, t = e
            n = b[0] | (b[1] << 8) | (b[2] << 16)
            ok = len(b) == NBYTES and b[3] == lv and n % SLOTS == s and b[4:] == tails[lv]
            ok = ok and len(t) == NTUPLES
            if ok:
                for i in range(NTUPLES):
                    x = t[i]
                    if len(x) != 3 or x[0] & 0xFFFFFF != n or x[1] != i or x[2] != lv:
                        ok = False
            if not ok:
                bad += 1
                print("CORRUPT level", lv, "slot", s, "stamp", n, "len", len(b))
    return seen, bad


# the main loop's state is global: a KeyboardInterrupt leaves the loop, which then resumes
elapsed = 0  # ticks since the timers started
last = 0
collections = 0
longest = longest_excl = 0  # longest gc.collect(), with and without the callbacks that preempted it
corrupt = 0
checked = 0
kbd_caught = 0
kbd_checks_bad = 0
churn = []


def main_loop():
    global elapsed, last, collections, longest, longest_excl, corrupt, checked, churn
    limit = SECONDS * HZ
    while elapsed < limit:
        # garbage of the thread's own: strings, tuples and a dict, dropped one round later
        churn = [str(i) * 3 for i in range(60)]
        d = {i: (i, churn[i]) for i in range(20)}
        t0 = rgcqemu.ticks()
        i0 = rgcqemu.irq_ticks()
        gc.collect()
        dt = rgcqemu.ticks_diff(t0, rgcqemu.ticks())
        di = rgcqemu.ticks_diff(i0, rgcqemu.irq_ticks())
        collections += 1
        if dt > longest:
            longest = dt
        if dt - di > longest_excl:
            longest_excl = dt - di
        seen, bad = verify()
        checked += seen
        corrupt += bad
        del d
        now = rgcqemu.ticks()
        elapsed += rgcqemu.ticks_diff(last, now)
        last = now


def after_kbd():
    # a KeyboardInterrupt has unwound the main loop: the heap must be whole and collecting must work
    global kbd_checks_bad, corrupt
    # raised between bytecodes, never out of gc_collect: the collect flag is clear and no collection
    # is left half-done (a callback's collection is over: none runs while the thread does this)
    if rgcqemu.gc_state() != (False, False):
        kbd_checks_bad += 1
        print("KeyboardInterrupt left a collection in progress:", rgcqemu.gc_state())
    h = rgcqemu.heap()
    if h is not None and h[3] != 0:
        kbd_checks_bad += 1
        print("heap check failed after a KeyboardInterrupt:", h)
    gc.collect()
    seen, bad = verify()
    corrupt += bad


def us(ticks):
    return ticks * 1000000 // HZ


print("rgc" if ON_RGC else "stock py/gc.c", "- levels (timer, Hz, NVIC priority):", LEVELS, "for", SECONDS, "s")
for lv in range(NL if TIMERS else 0):
    tid, freq, prio = LEVELS[lv]
    rgcqemu.start(tid, freq, make_cb(lv), prio)
last = rgcqemu.ticks()
t_start = last
if KBD:
    rgcqemu.uart_irq(True, 7)  # below every timer: Ctrl-C cannot preempt a callback
    print("READY")
ack = 0  # a KeyboardInterrupt caught and not yet acknowledged to the driver


def run():
    # everything after the start runs inside the try below, the acknowledgement included: the driver
    # sends the next Ctrl-C only once it has read "KBD n", so none can land outside the try
    global ack
    if ack:
        n = ack
        ack = 0
        print("KBD", n)
    main_loop()  # returns at once once the time is up (after a KeyboardInterrupt in what follows)
    if KBD:
        print("STOP?")
        while rgcqemu.uart_stats()[5] == 0:  # until the driver's "!" (after its last Ctrl-C)
            pass


while True:
    try:
        run()
        break
    except KeyboardInterrupt:
        kbd_caught += 1
        after_kbd()
        ack = kbd_caught
if KBD:
    rgcqemu.uart_irq(False)
rgcqemu.stop_all()
now = rgcqemu.ticks()
run_ticks = elapsed + rgcqemu.ticks_diff(last, now)  # from the timers' start to their stop
seen, bad = verify()
corrupt += bad
gc.collect()

fail = []
print("emulated time %d ms, %d gc.collect() in the main loop, %d stored objects checked" % (us(run_ticks) // 1000, collections, checked))
print("level  timer    Hz prio rgc-level  runs expected  allocs MemoryError other-exc preempted-gc in-marking nested irq-collect")
memerr_total = 0
for lv in range(NL if TIMERS else 0):
    tid, freq, prio = LEVELS[lv]
    runs, exc, memerr, in_gc, in_coll, in_mark, nested, level = rgcqemu.stats(tid)
    expected = run_ticks * freq // HZ
    st = stats[lv]
    # MemoryError: caught by the callback, or escaped from it (the call itself allocates its frame)
    me = st[2] + memerr
    memerr_total += me
    print("%5d %6d %5d %4d %9d %5d %8d %7d %11d %9d %12d %10d %6d %11d" % (
        lv, tid, freq, prio, level, runs, expected, st[1], me, exc - memerr, in_gc, in_mark, nested, st[3]))
    if runs != st[0] + exc:
        fail.append("level %d: the C side counted %d runs, the callback %d (+ %d exceptions)" % (lv, runs, st[0], exc))
    # an expiry while the same callback still runs is merged (one pending bit): allow 10 % lost
    if runs < expected * 9 // 10 or runs == 0:
        fail.append("level %d: %d callbacks for %d timer periods" % (lv, runs, expected))
    if exc - memerr:
        fail.append("level %d: %d exceptions other than MemoryError, first: %r" % (lv, exc - memerr, rgcqemu.first_exception(tid)))
    if me and not STRESS:
        fail.append("level %d: %d MemoryError (first escaped: %r)" % (lv, me, rgcqemu.first_exception(tid)))
    if st[1] == 0:
        fail.append("level %d: no allocation succeeded" % lv)
print("time in callbacks: %d ms of %d ms" % (us(rgcqemu.irq_ticks()) // 1000, us(run_ticks) // 1000))
print("longest gc.collect(): %d us emulated (%d us without the callbacks that preempted it)" % (us(longest), us(longest_excl)))
ran, refused, skipped = rgcqemu.irq_collect_stats()
if ON_RGC:
    print("collections at interrupt level (levels of <= 10 Hz): %d ran, %d refused by rgc (the thread was inside an rgc call), %d skipped (a collection in progress)" % (ran, refused, skipped))
    mi = rgcqemu.memerr_info()
    if memerr_total and STRESS:
        # what the stress variant shows: ~2.3 KB per callback at 10 kHz against a 140 KiB heap;
        # objects allocated while a collection runs survive it (born marked) and garbage comes back
        # only at its end. Counted, not a failure here
        print("MemoryError in callbacks: %d (the heap exhausted: allocations outrun the collections, and those made during one survive it)" % memerr_total)
    if mi[0]:
        print("first MemoryError in a callback (timer %d, %d ms after the start): heap free %d bytes, largest free run %d, thread in gc_collect %d, rgc collecting %d, marking %d"
              % (mi[0] - 1, us(rgcqemu.ticks_diff(t_start, mi[4])) // 1000, mi[1], mi[2], mi[3] & 1, (mi[3] >> 1) & 1, (mi[3] >> 2) & 1))
    h = rgcqemu.heap()
    print("rgc: %d collections, %d failed allocations, %d misuse, rgc_check %d" % (h[0], h[1], h[2], h[3]))
    if h[3] != 0:
        fail.append("rgc_check reports an inconsistent heap")
else:
    print("collections at interrupt level: none (stock: a hard IRQ must not run py/gc.c)")
if KBD:
    rx, cc, cc_gc, cc_coll, cc_cb, other = rgcqemu.uart_stats()
    print("ctrl-c received %d" % cc)
    print("Ctrl-C: %d KeyboardInterrupt caught; arrivals while the thread was inside gc_collect: %d, while rgc had a collection in progress: %d, during a callback: %d; checks after one that failed (a collection left in progress, rgc_check): %d"
          % (kbd_caught, cc_gc, cc_coll, cc_cb, kbd_checks_bad))
    if kbd_caught != cc:
        fail.append("%d Ctrl-C received, %d KeyboardInterrupt caught" % (cc, kbd_caught))
    if kbd_checks_bad:
        fail.append("heap inconsistent after a KeyboardInterrupt")
print("corrupted objects: %d" % corrupt)
if corrupt:
    fail.append("%d corrupted objects" % corrupt)
if checked == 0 and TIMERS:
    fail.append("no stored object to check (no callback could allocate)")
for f in fail:
    print("FAIL:", f)
print("PASS" if not fail else "FAIL")
