"""SIGTERM and SIGHUP take Ctrl-C's path, once: the exit codes are 128 + the signal, and what was ignored stays so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from harness.core.errors import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_TERMINATED, cli_entry
from harness.core.signals import StopOnce, Stopped, exit_code, install_stop_handlers, signal_name, stop_handlers


pytestmark = pytest.mark.usefixtures("saved_signal_handlers")  # tests/conftest.py


def test_the_exit_codes_are_what_a_shell_reports() -> None:
    assert exit_code(KeyboardInterrupt()) == EXIT_INTERRUPTED == 130
    assert exit_code(Stopped(signal.SIGTERM)) == EXIT_TERMINATED == 143
    assert exit_code(Stopped(signal.SIGHUP)) == EXIT_HANGUP == 129
    assert signal_name(Stopped(signal.SIGTERM)) == "SIGTERM" and signal_name(KeyboardInterrupt()) == "SIGINT"
    assert isinstance(Stopped(signal.SIGTERM), KeyboardInterrupt)  # every Ctrl-C path handles it


def test_the_first_request_raises_and_the_repeats_are_ignored() -> None:
    handler = StopOnce()
    with pytest.raises(Stopped) as first:
        handler(signal.SIGTERM, None)
    assert first.value.signum == signal.SIGTERM
    handler(signal.SIGTERM, None)  # a scheduler's second SIGTERM, or the parent's forwarded one: no effect
    handler(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt) as ctrl_c:
        StopOnce()(signal.SIGINT, None)
    assert type(ctrl_c.value) is KeyboardInterrupt


def test_sigterm_raises_in_the_main_thread() -> None:
    install_stop_handlers()
    with pytest.raises(Stopped):
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next line


def test_an_ignored_signal_stays_ignored_and_a_handler_of_ones_own_is_kept() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does

    def own(signum, frame) -> None:
        pass

    signal.signal(signal.SIGTERM, own)
    install_stop_handlers()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is own


def test_a_command_restores_the_handlers_it_found() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with stop_handlers():
        assert isinstance(signal.getsignal(signal.SIGTERM), StopOnce)
        assert not isinstance(signal.getsignal(signal.SIGINT), StopOnce)  # the command's own Ctrl-C is Python's
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("signum, code, said", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                (signal.SIGHUP, 129, "stopped by SIGHUP"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_a_command_stopped_by_a_signal_is_one_line_and_its_code(signum: int, code: int, said: str, capsys) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

    @cli_entry
    def command() -> int:
        os.kill(os.getpid(), signum)  # Python runs the handler before the next line
        return 0

    with pytest.raises(SystemExit) as ended:
        command()
    assert ended.value.code == code and capsys.readouterr().err == said + "\n"


def test_a_real_process_exits_143_on_sigterm_without_a_traceback() -> None:
    script = textwrap.dedent("""
        import sys, time
        from harness.core.errors import cli_entry

        @cli_entry
        def main():
            print("ready", flush=True)
            time.sleep(60)

        sys.exit(main())
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143 and err == "stopped by SIGTERM\n"
