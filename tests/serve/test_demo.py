"""The demo unwinds (stopping what it started) on SIGTERM and on SIGINT, even as a background job."""

import signal
import subprocess
import sys
import time

import pytest

WAITER = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # how a shell starts a background job
from serve.demo import stop_on_signals
stop_on_signals()
print("ready", flush=True)
try:
    time.sleep(60)
except KeyboardInterrupt:
    print("unwound", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_unwind_the_demo(sig):
    process = subprocess.Popen([sys.executable, "-c", WAITER], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.1)
    process.send_signal(sig)
    out, _ = process.communicate(timeout=20)
    assert out.strip() == "unwound"
    assert process.returncode == 0
