"""Every command's --help answers without loading torch (which takes seconds to import)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs each command's --help in one fresh interpreter, then lists the heavy modules it loaded.
PROBE = """
import contextlib, io, runpy, sys
for kind, target in COMMANDS:
    sys.argv = [target, "--help"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        if kind == "path":
            runpy.run_path(target, run_name="__main__")
        else:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
print(sorted(name for name in ("torch", "transformers", "gradio") if name in sys.modules))
"""


def test_help_of_every_command_loads_no_torch():
    commands = [("path", str(ROOT / name)) for name in ("generate.py", "train.py", "evaluate.py", "app.py")]
    commands += [
        ("module", name)
        for name in ("video2music.music", "video2music.features", "video2music.commands.dataset")
    ]
    proc = subprocess.run(
        [sys.executable, "-c", f"COMMANDS = {commands!r}\n{PROBE}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_ctrl_c_while_a_command_still_loads_is_one_line(tmp_path):
    import signal
    import time

    video = ROOT / "examples" / "testvideo.mp4"

    def importing(pid: int) -> bool:
        """The command has its first library's extension loaded: the interpreter is up (a signal
        in CPython's own start-up is lost there) and the imports have begun."""
        try:
            return "site-packages" in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            return False

    # The imports take a second or more from there, and the run itself three.
    for delay in (0.0, 0.3, 0.6, 0.9):
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "generate.py"), "--video", str(video), "--out", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 20
        while not importing(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (delay, err)
        assert err.strip().splitlines() == ["interrupted"], (delay, err)


FINISHING = """
import atexit, sys, threading, time
from pathlib import Path
from video2music.utils.errors import finish
atexit.register(lambda: Path(sys.argv[1]).write_text("handlers ran"))
sys.stdout.write("no newline: still in the buffer")
def late():
    time.sleep(0.3)
    Path(sys.argv[1] + ".thread").write_text("done")
if sys.argv[2] == "thread":
    threading.Thread(target=late).start()
finish(3)
"""


def test_a_command_ends_with_its_code_its_exit_handlers_run_and_its_output_flushed(tmp_path):
    for threads in ("none", "thread"):
        marker = tmp_path / f"{threads}.txt"
        proc = subprocess.run(
            [sys.executable, "-c", FINISHING, str(marker), threads],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 3, proc.stderr
        assert proc.stdout == "no newline: still in the buffer"
        assert marker.read_text() == "handlers ran"
        if threads == "thread":  # a thread of its own still running: the process waits for it
            assert (tmp_path / "thread.txt.thread").read_text() == "done"
