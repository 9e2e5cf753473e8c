"""The error classes and their exit codes (bnnforge/errors.py): 2 bad input, 1 a failed
check, 3 needs Vivado, 70 internal error with the traceback in a file. The failed-check
and needs-Vivado codes of real runs are asserted where those runs happen (a flipped weight
bit and a stuck layer in test_network_rtl.py, `build --until bitfile` in test_finn_flow.py);
here each class is checked end to end through the command line."""

import re
from pathlib import Path

import pytest

from bnnforge import cli, errors


def test_bad_input_is_exit_2_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.onnx"
    assert cli.main(["build", str(missing), "--board", "pynq-z2", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "not found" in err and "Traceback" not in err


def test_bad_option_value_is_exit_2_naming_the_option(tmp_path, capsys):
    assert cli.main(["sim", "network", str(tmp_path), "--stall", "0.99"]) == 2
    err = capsys.readouterr().err
    assert "--stall 0.99" in err and "0..0.95" in err


@pytest.mark.parametrize("error,code", [(errors.UserError("x"), 2), (errors.CheckFailed("x"), 1),
                                        (errors.NeedsVivado("x"), 3)])
def test_each_class_gets_its_exit_code(monkeypatch, capsys, error, code):
    def fail(_args):
        raise error

    monkeypatch.setattr(cli, "cmd_doctor", fail)
    assert cli.main(["doctor"]) == code
    assert capsys.readouterr().err.strip() == "bnnforge doctor: error: x"


def test_an_internal_error_is_exit_70_with_the_traceback_in_a_file(monkeypatch, capsys, tmp_path):
    """A bnnforge bug (here: a ValueError from deep inside, which used to pass for bad input)
    is one line saying so; the traceback goes to a file whose path is printed."""
    monkeypatch.setenv("BNNFORGE_CACHE_DIR", str(tmp_path))

    def buggy(_args):
        return int("not a number")  # ValueError

    monkeypatch.setattr(cli, "cmd_doctor", buggy)
    assert cli.main(["doctor"]) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error (a bnnforge bug" in err and "ValueError" in err
    path = Path(re.search(r"traceback: (\S+)", err).group(1))
    assert path.parent == tmp_path / "errors"
    text = path.read_text()
    assert "Traceback (most recent call last)" in text and "buggy" in text and "invalid literal" in text


def test_user_errors_are_value_errors_for_library_callers():
    assert issubclass(errors.UserError, ValueError)
    assert not issubclass(errors.CheckFailed, ValueError)
