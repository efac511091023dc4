"""The `feedback` command: help for every subcommand, exit codes and messages."""

from __future__ import annotations

import pytest

from training.cli import build_parser, main

SUBCOMMANDS = [
    ["data", "check"], ["data", "split"], ["data", "teacher-targets"], ["train"], ["evaluate"], ["compare"], ["archive"], ["serve", "start"],
    ["serve", "stop"], ["serve", "status"], ["classify"], ["app"], ["retrain"], ["adapt-curve"], ["models"], ["rollback"], ["run"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help_with_an_example(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    assert "example: feedback " + " ".join(words) in capsys.readouterr().out


def test_top_level_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("data", "train", "evaluate", "compare", "archive", "serve", "classify", "app", "retrain", "models", "rollback"):
        assert name in out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "many"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:  # refused by TrainConfig at parse time, before any work
        main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "epochs must be > 0. But it was: 0.0" in capsys.readouterr().err


def test_a_bug_inside_a_command_is_not_reported_as_a_usage_error(monkeypatch):
    """A ValueError raised while a command runs is a defect: it propagates with its traceback."""
    from training.cli import data

    def broken(*_args):
        raise ValueError("a defect, not a bad option")

    monkeypatch.setattr(data, "split", broken)
    with pytest.raises(ValueError, match="a defect"):
        main(["data", "split"])


def test_missing_model_folder(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "nope"), "--data", str(tmp_path / "x.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "model folder not found" in err and "hint: train one with `feedback train`" in err
    assert main(["archive", "--model", str(tmp_path)]) == 1
    assert "not a model folder written by `feedback train`" in capsys.readouterr().err


def test_unknown_base_model(tmp_path, capsys):
    assert main(["train", "--base-model", "no-such-org/no-such-model", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "error: base model 'no-such-org/no-such-model'" in err and "hint:" in err


def test_missing_data_file(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "m")]) == 1
    assert "data file not found" in capsys.readouterr().err


def test_help_does_not_import_torch():
    """`feedback --help` and `data check` stay instant: torch is imported only by commands that need it."""
    import subprocess
    import sys

    code = "import sys, training.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_classify_runs_on_an_install_without_torch_numpy_or_qt():
    """What `pip install .` (no extras) gives an agent's machine: `feedback classify` must not
    need the training or desktop stacks. They are made unimportable; the command still runs
    and reports the unreachable server with a hint (exit 1), not an ImportError."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('torch', 'numpy', 'transformers', 'sklearn', 'PySide6', 'yaml', 'filelock'): sys.modules[name] = None\n"
        "from training.cli import main\n"
        "sys.exit(main(['classify', 'The app crashes', '--url', 'http://127.0.0.1:9', '--timeout', '2']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "error: TorchServe is not reachable at http://127.0.0.1:9" in done.stderr and "hint:" in done.stderr


def test_a_setting_on_by_default_can_be_turned_off_on_the_command_line():
    import argparse

    from training import config as cfg

    parser = argparse.ArgumentParser()
    cfg.add_arguments(parser, cfg.TrainConfig)
    parsed = {args: cfg.from_args(cfg.TrainConfig, parser.parse_args(args)).clean_inbox for args in ((), ("--no-clean-inbox",), ("--clean-inbox",))}
    assert parsed == {(): True, ("--no-clean-inbox",): False, ("--clean-inbox",): True}
    assert cfg.from_args(cfg.TrainConfig, parser.parse_args(["--augment", "0.25"])).augment == 0.25
