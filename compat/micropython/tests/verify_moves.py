# For the tri-colour verifier build (rgc-verify: librgc with RGC_VERIFY=1, incremental collection
# started every 1/64 of the heap in steps of 16 units): moves thousands of references between lists
# (pop(0), append, sort with a key) while allocations drive the collection, so that thread code runs
# between the steps of nearly every marking. With the write barrier the verifier reports nothing; with
# the list barriers taken out of py/objlist.c it reported 341 black->white edges on this program (see
# compat/micropython/README.md). Prints "intact" when every element survived with its content.
A = [[i, str(i)] for i in range(3000)]
B = []
for r in range(30):
    while A:
        B.append(A.pop(0))
        x = [r]  # an allocation: advances the incremental collection
    A, B = B, A
    A.sort(key=lambda e: -e[0] if r % 2 else e[0])
ok = sorted(e[0] for e in A) == list(range(3000)) and all(e[1] == str(e[0]) for e in A)
print("intact" if ok else "BROKEN")
