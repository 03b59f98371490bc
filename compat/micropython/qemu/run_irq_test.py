#!/usr/bin/env python3
"""Run a MicroPython test script on the qemu port's MPS2 AN385 image and, optionally, type Ctrl-C at it.

QEMU runs with -icount (shift 0 by default: one instruction = 1 ns of emulated time, so the timers'
interrupts land on the same instructions in every run) and its UART0 on this process's pipes. The script
goes in through the raw REPL, with `PARAMS = {...}` put in front of it. With --ctrl-c the driver sends
0x03 bytes - real UART input, taken by the guest's UART0 RX interrupt - once the guest prints READY, each
after a pseudo-random pause (host time, random.Random(--seed)), and the next only after the guest has
acknowledged the previous one with a line "KBD <n>" (one in flight at a time: two pending Ctrl-C would
raise one KeyboardInterrupt). When the guest prints "STOP?" the driver sends "!" (not the interrupt
character) after the last acknowledgement, and the guest reports. The host's timing decides where the
Ctrl-C land, so those counts vary from run to run; the timer part of the run does not.

Exit status: 0 when the guest's last line is PASS (and, with --ctrl-c, it counted every Ctrl-C sent as
received and caught), 1 otherwise, 124 on timeout.
"""
import argparse
import os
import random
import select
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", required=True, help="firmware.elf")
    ap.add_argument("--test", required=True, help="the MicroPython script")
    ap.add_argument("--param", action="append", default=[], help="name=value (a Python literal) for PARAMS")
    ap.add_argument("--ctrl-c", action="store_true", help="send Ctrl-C at pseudo-random times")
    ap.add_argument("--seed", type=int, default=1, help="seed of the Ctrl-C pauses")
    ap.add_argument("--pause", default="0.02,0.25", help="range of the pause before each Ctrl-C, s (host)")
    ap.add_argument("--icount", default="0", help="QEMU -icount shift")
    ap.add_argument("--timeout", type=float, default=300, help="seconds (host) for the whole run")
    ap.add_argument("--qemu", default="qemu-system-arm")
    args = ap.parse_args()

    params = {}
    for p in args.param:
        k, v = p.split("=", 1)
        params[k] = eval(v, {})
    params["kbd"] = 1 if args.ctrl_c else 0
    with open(args.test, "rb") as f:
        script = ("PARAMS = %r\n" % (params,)).encode() + f.read()

    cmd = [args.qemu, "-machine", "mps2-an385", "-display", "none", "-monitor", "none", "-semihosting",
           "-icount", "shift=%s,align=off,sleep=off" % args.icount,
           "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con", "-kernel", args.kernel]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    deadline = time.monotonic() + args.timeout
    buf = bytearray()

    def read_some(wait):
        r, _, _ = select.select([proc.stdout], [], [], wait)
        if r:
            data = os.read(proc.stdout.fileno(), 4096)
            if not data:
                raise EOFError("QEMU exited (status %s)" % proc.poll())
            buf.extend(data)
            return True
        return False

    def expect(marker, what):
        while marker not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            read_some(0.5)
        i = buf.index(marker) + len(marker)
        del buf[:i]

    def send(b):
        proc.stdin.write(b)
        proc.stdin.flush()

    rng = random.Random(args.seed)
    lo, hi = (float(x) for x in args.pause.split(","))
    sent = acked = 0
    ready = stopping = stop_sent = False
    next_at = None
    lines = []
    status = 1
    try:
        expect(b">>> ", "the REPL prompt")
        send(b"\x01")
        expect(b"raw REPL; CTRL-B to exit\r\n>", "the raw REPL")
        for i in range(0, len(script), 256):
            send(script[i : i + 256])
        send(b"\x04")
        expect(b"OK", "the raw REPL's OK")
        ends = 0  # the raw REPL ends a run with \x04 after its output and \x04 after its error output
        partial = bytearray()
        while ends < 2:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError("the end of the test")
            if args.ctrl_c and ready and not stopping and sent == acked:
                if next_at is None:
                    next_at = now + rng.uniform(lo, hi)
                elif now >= next_at:
                    send(b"\x03")
                    sent += 1
                    next_at = None
            if stopping and not stop_sent and sent == acked:
                send(b"!")
                stop_sent = True
            read_some(0.005 if next_at is not None else 0.2)
            while buf:
                c = buf.pop(0)
                if c == 4:
                    ends += 1
                    if partial:
                        lines.append(partial.decode(errors="replace"))
                        print(lines[-1], flush=True)
                        partial = bytearray()
                    if ends == 2:
                        break
                    continue
                if c == 10:
                    line = partial.decode(errors="replace").rstrip("\r")
                    partial = bytearray()
                    lines.append(line)
                    print(line, flush=True)
                    if line == "READY":
                        ready = True
                    elif line.startswith("KBD "):
                        acked += 1
                    elif line == "STOP?":
                        stopping = True
                else:
                    partial.append(c)
        out = [l for l in lines if l.strip()]
        status = 0 if out and out[-1] == "PASS" else 1
        if args.ctrl_c:
            got = [l for l in out if l.startswith("ctrl-c received ")]
            recv = int(got[-1].split()[2]) if got else -1
            print("driver: sent %d Ctrl-C, the guest acknowledged %d KeyboardInterrupts, its UART IRQ counted %d"
                  % (sent, acked, recv))
            if sent == 0 or recv != sent or acked != sent:
                print("driver: FAIL - Ctrl-C sent, received and caught differ (or none sent)")
                status = 1
    except (TimeoutError, EOFError) as e:
        print("driver: %s: %s" % (type(e).__name__, e))
        print("driver: last output: %r" % bytes(buf[-400:]))
        status = 124 if isinstance(e, TimeoutError) else 1
    finally:
        proc.kill()
        proc.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
