# Longest pause that automatic collection imposes on thread code: a live set of ~40% of the heap
# (dicts holding lists, strings and tuples, some replaced as the program runs), then short-lived
# allocations; each allocation is timed on its own (time.ticks_us), so a collection run inside it -
# stock MicroPython's whole collection, or one step of rgc's incremental collection - shows as that
# allocation's time. Prints the heap size, free_rises (times gc.mem_free() grew between samples: one
# per stock collection, several per incremental one), the allocations, the longest allocation in us and
# a bound on the 99.9th percentile (its power-of-two bucket).
# Usage: micropython -X heapsize=H pause.py [allocations]
import gc, sys, time

allocations = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
total = gc.mem_free() + gc.mem_alloc()
live = []
while gc.mem_alloc() < total * 4 // 10:  # (gc.mem_alloc() reads the whole table: every 256)
    for _ in range(256):
        n = len(live)
        live.append({"id": n, "items": [n, n + 1, n + 2], "name": "live%d" % n, "pair": (n, str(n))})
gc.collect()

ticks_us, ticks_diff = time.ticks_us, time.ticks_diff
hist = [0] * 64  # counts by log2 of the allocation's microseconds
longest = 0
free_rises = 0
free_before = gc.mem_free()
nlive = len(live)
for i in range(allocations):
    t0 = ticks_us()
    o = [i, i + 1, i + 2, i + 3]
    t1 = ticks_us()
    d = ticks_diff(t1, t0)
    if d > longest:
        longest = d
    b = 0
    while d >> b:
        b += 1
    hist[b] += 1
    if i % 16 == 0:  # the live set changes too
        k = i % nlive
        live[k] = {"id": k, "items": [k, k + 1, k + 2], "name": "live%d" % k, "pair": (k, str(k))}
    if i % 4096 == 0:  # (gc.mem_free() reads the whole table)
        f = gc.mem_free()
        if f > free_before:
            free_rises += 1
        free_before = f

# 99.9th percentile from the histogram (upper bound of its power-of-two bucket)
need = allocations - allocations // 1000
acc = 0
p999 = 0
for b in range(64):
    acc += hist[b]
    if acc >= need:
        p999 = (1 << b) - 1 if b else 0
        break
print("heap", total, "free_rises", free_rises, "allocations", allocations, "longest_us", longest, "p999_us_le", p999)
