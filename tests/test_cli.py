"""``vaerepro smoke``: which stages it picks, and that it keeps params.yaml as the user wrote it."""

from __future__ import annotations

import pytest

from tests.conftest import repository_params, write_params_files
from vaerepro import cli


def test_with_profile_changes_only_the_top_level_profile():
    text = "# my comment\nseed: 1\nprofile: full   # which profile\nexperiments:\n  x: {profile: full}\n"
    assert (
        cli.with_profile(text, "smoke")
        == "# my comment\nseed: 1\nprofile: smoke   # which profile\nexperiments:\n  x: {profile: full}\n"
    )
    with pytest.raises(ValueError, match="no top-level 'profile:'"):
        cli.with_profile("seed: 1\n", "smoke")


def test_smoke_targets_skip_experiments_whose_train_or_test_data_is_missing(tmp_path, monkeypatch):
    raw = repository_params()
    raw["local_copy"] = None
    for name in ("lol", "euvp", "cc15", "celeba_hq"):  # manual-download datasets, not placed here
        raw["datasets"][name]["files"] = [{"name": f"{name}.zip"}]
    raw["experiments"] = {
        "uwcvgan-euvp": {**raw["experiments"]["uwcvgan-euvp"]},
        "vae-mnist": {**raw["experiments"]["vae-mnist"]},
    }
    write_params_files(tmp_path, raw)
    monkeypatch.chdir(tmp_path)
    targets, skipped, report_afterwards = cli.smoke_targets(str(tmp_path / "params.yaml"))
    assert "evaluate@vae-mnist" in targets and "evaluate@uwcvgan-euvp" not in targets
    assert any("uwcvgan-euvp: dataset euvp, lol not available" in line for line in skipped)
    # The report depends on every record: DVC would run uwcvgan-euvp's stages for it (and stop
    # at the missing data), so it is rendered on its own afterwards.
    assert "report" not in targets and report_afterwards


def test_the_repository_smoke_run_leaves_the_celeba_hq_experiments_out_and_still_renders_the_report(monkeypatch):
    """The committed params with CelebA-HQ absent (as on every machine here): its experiments are
    left out with the reason, everything else runs, the report comes afterwards."""
    import dataclasses

    from tests.conftest import REPOSITORY
    from vaerepro.data import availability as availability_module

    real = availability_module.availability

    def no_celeba(name, params):
        status = real(name, params)
        return dataclasses.replace(status, obtainable=False) if name == "celeba_hq" else status

    monkeypatch.setattr(cli, "availability", no_celeba)
    monkeypatch.chdir(REPOSITORY)
    targets, skipped, report_afterwards = cli.smoke_targets("params.yaml")
    assert report_afterwards and "report" not in targets
    for name in ("vqvae2-celeba_hq", "vqgan-celeba_hq"):
        assert f"evaluate@{name}" not in targets
        assert any(f"skipped experiment {name}: dataset celeba_hq not available" in line for line in skipped)
    assert "evaluate@vqgan-cifar10" in targets and "fid_reference@celeba_hq" not in targets


def test_smoke_targets_name_a_whole_foreach_group_once(tmp_path, monkeypatch):
    raw = repository_params()
    raw["experiments"] = {name: raw["experiments"][name] for name in ("vae-mnist", "vae_beta4-mnist")}
    raw["datasets"] = {"mnist": raw["datasets"]["mnist"]}
    raw["classifiers"] = {"mnist": raw["classifiers"]["mnist"]}
    raw["fid"]["reference"] = {"mnist": raw["fid"]["reference"]["mnist"]}
    write_params_files(tmp_path, raw)
    monkeypatch.chdir(tmp_path)
    params = str(tmp_path / "params.yaml")
    targets, _, _ = cli.smoke_targets(params)
    assert targets == ["prepare", "fid_reference", "classifier", "evaluate", "report"]
    targets, _, _ = cli.smoke_targets(params, frozenset({"vae_beta4-mnist"}))
    assert targets == ["prepare", "fid_reference", "classifier", "evaluate@vae-mnist"]


def test_smoke_skip_leaves_experiments_out_and_renders_the_report_afterwards(tmp_path, monkeypatch):
    raw = repository_params()
    raw["experiments"] = {name: raw["experiments"][name] for name in ("vae-mnist", "vae_beta4-mnist")}
    write_params_files(tmp_path, raw)
    monkeypatch.chdir(tmp_path)
    params = str(tmp_path / "params.yaml")
    targets, skipped, report_afterwards = cli.smoke_targets(params, frozenset({"vae_beta4-mnist"}))
    assert report_afterwards
    assert "evaluate@vae-mnist" in targets and "evaluate@vae_beta4-mnist" not in targets and "report" not in targets
    assert any("vae_beta4-mnist: --skip" in line for line in skipped)
    assert any("--single-item report" in line for line in skipped)
    with pytest.raises(cli.ConfigError, match="no experiment .*vae_beta9-mnist"):
        cli.smoke_targets(params, frozenset({"vae_beta9-mnist"}))

    commands = []

    def fake_run(command, env):
        commands.append(command[:4])
        return type("Completed", (), {"returncode": 0})()

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert cli.main(["--params", params, "smoke", "--skip", "vae_beta4-mnist"]) == 0
    assert commands == [["dvc", "exp", "run", "-S"], ["dvc", "repro", "--single-item", "report"]]


def test_smoke_restores_the_params_file_with_only_the_profile_changed(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    original = "# keep me\nseed: 1\nprofile: full\nanchors: &a {x: 1}\nuse: *a\n"
    params.write_text(original)
    monkeypatch.setattr(cli, "smoke_targets", lambda path, skip: cli.SmokePlan(["report"], []))

    def fake_dvc(command, env):  # what `dvc exp run -S profile=smoke` does to the file
        assert command[:5] == ["dvc", "exp", "run", "-S", "profile=smoke"] and env["PATH"]
        params.write_text("seed: 1\nprofile: smoke\nanchors: {x: 1}\nuse: {x: 1}\n")
        return type("Completed", (), {"returncode": 0})()

    monkeypatch.setattr(cli.subprocess, "run", fake_dvc)
    assert cli.main(["--params", str(params), "smoke"]) == 0
    assert params.read_text() == original.replace("profile: full", "profile: smoke")
