# unittest.py - a small unittest for MicroPython's qemu port builds (scripts/micropython-qemu.sh).
#
# Debian's MicroPython source package drops micropython-lib, whose unittest the port's default frozen
# manifest requires and 8 of MicroPython's tests import. This covers what those tests use (TestCase with
# the assert methods, setUp/tearDown, setUpClass/tearDownClass, skip decorators, skipTest,
# assertRaises as a call or a context manager, main) and prints the summary run-tests.py parses:
#   ----------------------------------------------------------------------
#   Ran N tests
#
#   OK | OK (skipped=K) | FAILED (failures=F, errors=E)
import sys


class SkipTest(Exception):
    pass


class _AssertRaisesContext:
    def __init__(self, exc):
        self.expected = exc
        self.exception = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if exc_type is None:
            raise AssertionError("%r not raised" % (self.expected,))
        if issubclass(exc_type, self.expected):
            self.exception = exc_value
            return True
        return False  # a different exception propagates (an error, as in CPython)


class TestCase:
    def setUp(self):
        pass

    def tearDown(self):
        pass

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def skipTest(self, reason):
        raise SkipTest(reason)

    def fail(self, msg=""):
        raise AssertionError(msg)

    def _check(self, ok, default, msg):
        if not ok:
            raise AssertionError(msg if msg is not None else default)

    def assertEqual(self, a, b, msg=None):
        self._check(a == b, "%r != %r" % (a, b), msg)

    def assertNotEqual(self, a, b, msg=None):
        self._check(a != b, "%r == %r" % (a, b), msg)

    def assertTrue(self, x, msg=None):
        self._check(bool(x), "%r is not true" % (x,), msg)

    def assertFalse(self, x, msg=None):
        self._check(not x, "%r is not false" % (x,), msg)

    def assertIs(self, a, b, msg=None):
        self._check(a is b, "%r is not %r" % (a, b), msg)

    def assertIsNot(self, a, b, msg=None):
        self._check(a is not b, "%r is %r" % (a, b), msg)

    def assertIsNone(self, x, msg=None):
        self._check(x is None, "%r is not None" % (x,), msg)

    def assertIsNotNone(self, x, msg=None):
        self._check(x is not None, "unexpectedly None", msg)

    def assertIn(self, a, b, msg=None):
        self._check(a in b, "%r not found in %r" % (a, b), msg)

    def assertNotIn(self, a, b, msg=None):
        self._check(a not in b, "%r unexpectedly found in %r" % (a, b), msg)

    def assertIsInstance(self, x, cls, msg=None):
        self._check(isinstance(x, cls), "%r is not an instance of %r" % (x, cls), msg)

    def assertNotIsInstance(self, x, cls, msg=None):
        self._check(not isinstance(x, cls), "%r is an instance of %r" % (x, cls), msg)

    def assertLess(self, a, b, msg=None):
        self._check(a < b, "%r not less than %r" % (a, b), msg)

    def assertLessEqual(self, a, b, msg=None):
        self._check(a <= b, "%r not less than or equal to %r" % (a, b), msg)

    def assertGreater(self, a, b, msg=None):
        self._check(a > b, "%r not greater than %r" % (a, b), msg)

    def assertGreaterEqual(self, a, b, msg=None):
        self._check(a >= b, "%r not greater than or equal to %r" % (a, b), msg)

    def assertAlmostEqual(self, a, b, places=7, msg=None, delta=None):
        if delta is not None:
            ok = abs(a - b) <= delta
        else:
            ok = round(abs(a - b), places) == 0
        self._check(ok, "%r != %r within tolerance" % (a, b), msg)

    def assertRaises(self, exc, func=None, *args, **kwargs):
        ctx = _AssertRaisesContext(exc)
        if func is None:
            return ctx
        with ctx:
            func(*args, **kwargs)


def skip(reason):
    def decorator(f):
        def skipped(*args, **kwargs):
            raise SkipTest(reason)

        return skipped

    return decorator


def skipIf(cond, reason):
    return skip(reason) if cond else (lambda f: f)


def skipUnless(cond, reason):
    return (lambda f: f) if cond else skip(reason)


def expectedFailure(f):
    def test(*args, **kwargs):
        try:
            f(*args, **kwargs)
        except Exception:
            return
        raise AssertionError("unexpected success")

    return test


def _run_class(cls, counts):
    try:
        cls.setUpClass()
    except SkipTest as e:
        print("%s skipped: %s" % (cls.__name__, e.args[0] if e.args else ""))
        return
    for name in sorted(dir(cls)):
        if not name.startswith("test"):
            continue
        obj = cls()
        if not callable(getattr(obj, name, None)):
            continue
        print("%s (%s) ..." % (name, cls.__name__), end="")
        counts[0] += 1
        try:
            obj.setUp()
            try:
                getattr(obj, name)()
            finally:
                obj.tearDown()
            print(" ok")
        except SkipTest as e:
            counts[3] += 1
            print(" skipped:", e.args[0] if e.args else "")
        except AssertionError as e:
            counts[1] += 1
            print(" FAIL")
            sys.print_exception(e)
        except Exception as e:
            counts[2] += 1
            print(" ERROR")
            sys.print_exception(e)
    cls.tearDownClass()


def main(module="__main__"):
    if isinstance(module, str):
        module = __import__(module)
    counts = [0, 0, 0, 0]  # run, failures, errors, skipped
    for name in sorted(dir(module)):
        c = getattr(module, name)
        if isinstance(c, type) and issubclass(c, TestCase) and c is not TestCase:
            _run_class(c, counts)
    print("-" * 70)
    print("Ran %d tests\n" % counts[0])
    if counts[1] or counts[2]:
        print("FAILED (failures=%d, errors=%d)" % (counts[1], counts[2]))
    elif counts[3]:
        print("OK (skipped=%d)" % counts[3])
    else:
        print("OK")
