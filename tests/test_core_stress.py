"""The native thread pool under concurrent use: calls from several Python threads while
another thread resizes the pool. Each scenario runs in a child process under a watchdog,
so a deadlock fails the test instead of hanging the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

la = pytest.importorskip("latentatlas")
pytest.importorskip("latentatlas._core")

WATCHDOG_S = 60  # the scenario itself takes a few seconds; only a hang reaches this

_TOGGLE = textwrap.dedent(
    """
    import threading, time, numpy as np, latentatlas as la

    a = np.ones((8192, 64), np.float32)
    b = np.full((8192, 64), 3.0, np.float32)
    want = la.lerp(a, b, 0.5)
    stop = threading.Event()
    errors, counts = [], [0, 0, 0]

    def caller(i):
        try:
            while not stop.is_set():
                out = la.lerp(a, b, 0.5)
                if not np.array_equal(out, want):
                    errors.append("wrong result")
                    return
                counts[i] += 1
        except Exception as e:  # reported by the parent
            errors.append(repr(e))

    def toggler():
        while not stop.is_set():
            la.set_num_threads(8)
            la.set_num_threads(2)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=toggler))
    for t in threads:
        t.start()
    time.sleep(float(__import__("sys").argv[1]))
    stop.set()
    for t in threads:
        t.join()
    la.set_num_threads(0)
    assert not errors, errors
    assert min(counts) > 0, counts
    print("calls", sum(counts))
    """
)


def _run_scenario(code: str, seconds: float) -> str:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(seconds)],
            capture_output=True,
            text=True,
            timeout=WATCHDOG_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"thread-pool scenario hung for {WATCHDOG_S}s (deadlock)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_lerp_from_three_threads_while_a_fourth_resizes_the_pool() -> None:
    out = _run_scenario(_TOGGLE, 3.0)
    assert int(out.split()[-1]) > 0


def test_watchdog_fails_a_hanging_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchdog itself works: a scenario that never ends is reported as a failure."""
    monkeypatch.setattr(sys.modules[__name__], "WATCHDOG_S", 1)
    with pytest.raises(pytest.fail.Exception, match="hung"):
        _run_scenario("import time; time.sleep(30)", 0.0)
