# Hard interrupts that allocate, on MicroPython's unix port built on rgc (rgcirq module, rgc's
# interrupt simulator): a level-1 interrupt every 100 us runs a Python callback that allocates a
# bytearray, fills it and stores it in a ring, preempting the main loop - which churns the heap and
# collects - at any instruction, collections included. The main loop checks every ring entry.
# With gc_locked=True the callback runs as mpirq.c runs hard IRQs on stock MicroPython (heap locked):
# every allocation raises MemoryError.
import gc, time, rgcirq

N = 32
ring = [None] * N


def callback(n):
    b = bytearray(40 + n % 50)  # allocates in the interrupt
    v = n & 0xFF
    for i in range(len(b)):
        b[i] = v
    ring[n % N] = b


def callback_collecting(n):
    callback(n)
    if n % 16 == 0:
        gc.collect()  # a collection from the handler; refused quietly while the main loop collects


def check():
    bad = 0
    for i in range(N):
        b = ring[i]
        if b is not None:
            v = b[0]
            for x in b:
                if x != v:
                    bad += 1
                    break
    return bad


def run(ms, gc_locked, cb=callback):
    for i in range(N):
        ring[i] = None
    rgcirq.start(1, 100, cb, gc_locked)
    bad = 0
    loops = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        junk = [bytes(16 + i % 64) for i in range(64)]  # thread-level churn
        d = {i: str(i) for i in range(32)}
        gc.collect()
        bad += check()
        loops += 1
    rgcirq.stop()
    runs, in_collection, exceptions, memory_errors, in_marking = rgcirq.stats()
    return loops, runs, in_collection, exceptions, memory_errors, bad + check()


loops, runs, in_coll, exc, mem, bad = run(1500, False)
print("interrupts:", runs, "of which during a collection:", in_coll, "main loops:", loops)
print("allocating hard IRQ: exceptions", exc, "corrupt entries", bad)
collections, failed, misuse, check_rc, verify_reports = rgcirq.heap()
print("rgc: collections", collections, "misuse", misuse, "check", check_rc)
ok = runs > 1000 and in_coll > 0 and exc == 0 and bad == 0 and misuse == 0 and check_rc == 0

# gc.collect() inside the handler too: it collects when the main loop is not collecting, and does
# nothing when it is (no roots fed to a collection it does not own: misuse stays 0; the main loop's
# collect flag is left alone)
loops, runs, in_coll, exc, mem, bad = run(1000, False, callback_collecting)
collections2, failed, misuse, check_rc, verify_reports = rgcirq.heap()
print("handler calling gc.collect(): interrupts", runs, "during a collection", in_coll, "exceptions", exc,
      "corrupt", bad, "collections", collections2 - collections, "misuse", misuse, "check", check_rc)
ok = ok and runs > 500 and in_coll > 0 and exc == 0 and bad == 0 and misuse == 0 and check_rc == 0

loops, runs, in_coll, exc, mem, bad = run(300, True)
print("gc_lock'ed hard IRQ (stock behaviour): interrupts", runs, "MemoryErrors", mem)
ok = ok and runs > 0 and mem == runs
print("PASS" if ok else "FAIL")
