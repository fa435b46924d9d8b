"""Config paths with environment variables, several sources in one KC, the real-data config."""

from __future__ import annotations

import copy
import subprocess

import pytest

from conftest import REPO, SHARED_DATA, snakemake_command
from more_ie.config import ConfigError, load_config, validate_config

MINIMAL = {"knowledge": {"kc": {"source": {"kind": "dump", "path": "x.xml"}}}}


def test_environment_variables_expand_in_paths_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DATA", "/data/more")
    config = copy.deepcopy(MINIMAL)
    config["knowledge"]["kc"]["source"]["path"] = "${MY_DATA}/dump.xml"
    config["knowledge"]["kc"]["source"]["url"] = "https://example.org/$MY_DATA"  # not a path key
    validate_config(config)
    assert config["knowledge"]["kc"]["source"]["path"] == "/data/more/dump.xml"
    assert config["knowledge"]["kc"]["source"]["url"] == "https://example.org/$MY_DATA"


def test_an_unset_variable_is_an_error_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    config = copy.deepcopy(MINIMAL)
    config["knowledge"]["kc"]["source"]["path"] = "$NOT_SET_HERE/dump.xml"
    with pytest.raises(ConfigError, match=r"knowledge\.kc\.source\.path: environment variable NOT_SET_HERE"):
        validate_config(config)


def test_extra_sources_get_defaults_and_are_validated() -> None:
    config = copy.deepcopy(MINIMAL)
    config["knowledge"]["kc"]["extra_sources"] = [{"source": {"kind": "docs", "path": "d.jsonl"}}]
    validate_config(config)
    extra = config["knowledge"]["kc"]["extra_sources"][0]
    assert extra["shards"] == 1 and extra["source"]["text_field"] == "text"
    config["knowledge"]["kc"]["extra_sources"] = [{"source": {"kind": "tarball"}}]
    with pytest.raises(ConfigError, match=r"knowledge\.kc\.extra_sources\.0\.source\.kind"):
        validate_config(config)


@pytest.mark.skipif(not (SHARED_DATA / "twitter2017").exists(), reason=f"{SHARED_DATA} is absent")
def test_real_config_plans_every_stage_with_shards_numbered_across_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MORE_IE_SHARED_DATA", str(SHARED_DATA))
    config = load_config(REPO / "config.real.yaml")
    assert config["results_dir"] == "results/real"
    assert config["datasets"]["mnre"]["experts"]["max_train_samples"] > 0
    target = "results/real/knowledge/realwiki/shards/00002.parquet"
    cmd = snakemake_command(
        tmp_path, "--dry-run", "--printshellcmds", target, config=REPO / "config.real.yaml", cores=None
    )
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**__import__("os").environ}, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # shard 2 is the dump sample: shard 0 of 1 of the first extra source
    assert "--kind dump" in result.stdout and "--shard 0 --shards 1" in result.stdout, result.stdout[-2000:]


def test_make_real_without_the_data_fails_with_a_clear_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        ["make", "-s", "real", f"MORE_IE_SHARED_DATA={tmp_path}", "VENV=.venv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    assert "the real data is not at MORE_IE_SHARED_DATA=" in result.stdout + result.stderr
