"""Archived profiles (reports/profiles/<profile>/): archive, check, and the report's choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.report_fixtures.tree import build_tree
from vaerepro.archive import ArchiveError, archive_profile, check_archive, dvc_md5
from vaerepro.report.build import build_report
from vaerepro.report.choice import load_all_records
from vaerepro.report.records import LIVE

REPOSITORY = Path(__file__).resolve().parents[1]


def test_md5s_are_the_ones_dvc_records():
    """A committed result file and folder hash to the md5s the committed dvc.lock holds."""
    lock = yaml.safe_load((REPOSITORY / "dvc.lock").read_text())
    outs = {out["path"]: out["md5"] for out in lock["stages"]["evaluate@vae-mnist"]["outs"]}
    for path in ("reports/metrics/vae-mnist.json", "reports/figures/vae-mnist"):
        assert dvc_md5(REPOSITORY / path) == outs[path], path
    assert outs["reports/figures/vae-mnist"].endswith(".dir")


def _run(repository: Path, profile: str, steps: int, batch: int) -> None:
    """A finished run in ``repository``: one record, one figure, one FID floor, and its dvc.lock."""
    record = json.loads((REPOSITORY / "tests/report_fixtures/reports/metrics/vae-mnist.json").read_text())
    record |= {"profile": profile, "training": {"step": steps, "steps": steps}}
    record["params"] = {
        "train": {profile: {"steps": steps, "batch_size": batch}, "full": {"steps": 150000, "batch_size": 128}}
    }
    record.pop("budget", None)
    record["figures"] = {"samples": "figures/vae-mnist/samples.png"}
    (repository / "reports/metrics").mkdir(parents=True, exist_ok=True)
    (repository / "reports/figures/vae-mnist").mkdir(parents=True, exist_ok=True)
    (repository / "reports/fid").mkdir(parents=True, exist_ok=True)
    (repository / "reports/metrics/vae-mnist.json").write_text(json.dumps(record))
    shutil.copy(
        REPOSITORY / "reports/figures/vae-mnist/samples.png", repository / "reports/figures/vae-mnist/samples.png"
    )
    (repository / "reports/fid/mnist.json").write_text(json.dumps({"dataset": "mnist", "floor": 9.5, "count": 500}))
    (repository / "params.yaml").write_text(f"profile: {profile}\n")
    params = {"params.yaml": {"profile": profile}}
    stages = {
        "evaluate@vae-mnist": {
            "cmd": "python pipeline/evaluate.py vae-mnist",
            "params": params,
            "outs": [
                {"path": path, "md5": dvc_md5(repository / path)}
                for path in ("reports/figures/vae-mnist", "reports/metrics/vae-mnist.json")
            ],
        },
        "fid_reference@mnist": {"cmd": "x", "params": params, "outs": [{"path": "reports/fid/mnist.json", "md5": dvc_md5(repository / "reports/fid/mnist.json")}]},
        "report": {"cmd": "y", "params": params, "outs": [{"path": "reports/figures/findings", "md5": "0.dir"}]},
    }  # fmt: skip
    (repository / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def test_archive_copies_the_results_with_their_lock_and_check_finds_any_change(tmp_path):
    _run(tmp_path, "cpu", 4000, 64)
    folder = archive_profile(tmp_path)
    assert folder == tmp_path / "reports/profiles/cpu"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "dvc.lock",
        "fid/mnist.json",
        "figures/vae-mnist/samples.png",
        "metrics/vae-mnist.json",
        "params.yaml",
    ]  # the report's own findings figure is not a run's result
    assert check_archive(folder) == []
    (folder / "figures/vae-mnist/samples.png").write_bytes(b"edited")
    (folder / "metrics/vae-mnist.json").unlink()
    problems = check_archive(folder)
    assert any("samples" in p for p in problems) is False  # a folder is checked as a whole
    assert any("figures/vae-mnist (evaluate@vae-mnist): md5" in p for p in problems)
    assert any("metrics/vae-mnist.json (evaluate@vae-mnist): missing" in p for p in problems)
    # archiving again replaces the folder as a whole
    assert check_archive(archive_profile(tmp_path)) == []


def test_archive_refuses_results_that_differ_from_the_lock_and_keeps_the_stages_of_its_profile(tmp_path):
    _run(tmp_path, "cpu", 4000, 64)
    (tmp_path / "reports/fid/mnist.json").write_text("{}")
    with pytest.raises(ArchiveError, match=r"reports/fid/mnist.json \(fid_reference@mnist\): differs from dvc.lock"):
        archive_profile(tmp_path)
    assert not (tmp_path / "reports/profiles/cpu").exists()
    # A run in chunks: a stage still at another profile is left out of the archive.
    _run(tmp_path, "cpu", 4000, 64)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    lock["stages"]["fid_reference@mnist"]["params"] = {"params.yaml": {"profile": "smoke"}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "reports/fid/mnist.json").write_text("{}")  # the smoke file: not checked, not archived
    folder = archive_profile(tmp_path)
    assert not (folder / "fid").exists() and (folder / "metrics/vae-mnist.json").is_file()
    assert check_archive(folder) == []
    (tmp_path / "params.yaml").write_text("profile: full\n")
    with pytest.raises(ArchiveError, match="no stage ran at profile 'full'"):
        archive_profile(tmp_path)


def test_the_report_shows_each_experiment_at_its_largest_budget(tmp_path):
    reports, repository = build_tree(tmp_path)
    # An archived cpu run of vae-mnist (4000 x 64 of 150,000 x 128 images) beside a smoke live one.
    _run(tmp_path / "cpu_run", "cpu", 4000, 64)
    archive_profile(tmp_path / "cpu_run")
    shutil.copytree(tmp_path / "cpu_run/reports/profiles", reports / "profiles")
    live = json.loads((reports / "metrics/vae-mnist.json").read_text())
    live |= {"profile": "smoke", "training": {"step": 300, "steps": 300}}
    live["params"] = {
        "train": {"smoke": {"steps": 300, "batch_size": 64}, "full": {"steps": 150000, "batch_size": 128}}
    }
    live.pop("budget", None)
    (reports / "metrics/vae-mnist.json").write_text(json.dumps(live))
    records = load_all_records(reports)
    chosen = records.get("vae-mnist")
    assert chosen["profile"] == "cpu" and records.sources["vae-mnist"] == "cpu"
    assert records.superseded["vae-mnist"] == [f"{LIVE}: smoke"]
    assert chosen["figures"] == {"samples": "profiles/cpu/figures/vae-mnist/samples.png"}
    assert records.sources["zheng-cc15"] == LIVE  # only live: shown as it is
    report = build_report(reports, repository, dvc_executable=None)
    assert report.record_path("vae-mnist") == "reports/profiles/cpu/metrics/vae-mnist.json"
    assert report.lock_path("vae-mnist") == "reports/profiles/cpu/dvc.lock"
    assert "evaluate@vae-mnist" in report.lock_for("vae-mnist")
    figure = next(e for e in report.experiments if e.name == "vae-mnist").figures[0]
    assert figure.path == "profiles/cpu/figures/vae-mnist/samples.png" and not figure.problem
    # A live re-run at the larger budget takes precedence again (live comes first among equals).
    shutil.copy(tmp_path / "cpu_run/reports/metrics/vae-mnist.json", reports / "metrics/vae-mnist.json")
    assert load_all_records(reports).sources["vae-mnist"] == LIVE


def test_the_archive_command_archives_and_checks(tmp_path, capsys):
    from vaerepro.cli import main

    _run(tmp_path, "cpu", 4000, 64)
    assert main(["--params", str(tmp_path / "params.yaml"), "archive"]) == 0
    assert "archived 5 files in reports/profiles/cpu" in capsys.readouterr().out
    assert main(["--params", str(tmp_path / "params.yaml"), "archive", "--check"]) == 0
    (tmp_path / "reports/profiles/cpu/fid/mnist.json").write_text("{}")
    assert main(["--params", str(tmp_path / "params.yaml"), "archive", "--check"]) == 1
    assert "fid/mnist.json (fid_reference@mnist): md5" in capsys.readouterr().out


def test_a_smoke_record_never_outranks_a_cpu_one_even_at_the_same_step_fraction():
    """Smoke runs narrower networks (profile_options): the committed smoke record of Zheng et al.
    reaches as large a share of the paper's examples (250 steps of 4 crops, on a 16-channel
    U-Net) as the archived CPU tier's (on the real one), and the CPU tier's is still the one shown."""
    from vaerepro.report.choice import budget_rank

    smoke = json.loads((REPOSITORY / "reports/metrics/zheng-cc15.json").read_text())
    cpu = json.loads((REPOSITORY / "reports/profiles/cpu/metrics/zheng-cc15.json").read_text())
    assert smoke["profile"] == "smoke" and cpu["profile"] == "cpu"
    assert smoke["budget"]["fraction"] >= cpu["budget"]["fraction"]
    assert budget_rank(cpu) > budget_rank(smoke)
    # Between real budgets the fraction decides: a GPU run its time box stopped short loses.
    boxed = json.loads(json.dumps(cpu)) | {"profile": "full"}
    boxed["budget"]["fraction"] = cpu["budget"]["fraction"] / 2
    assert budget_rank(cpu) > budget_rank(boxed)


def test_files_over_the_git_limit_are_left_out_listed_and_still_checked(tmp_path, monkeypatch, capsys):
    """A figure too large for git stays in the run's outputs; the archive lists its md5, and the
    folder still checks against dvc.lock (a wrong listed md5 does not)."""
    import vaerepro.archive as archive
    from vaerepro.cli import main

    _run(tmp_path, "cpu", 4000, 64)
    size = (tmp_path / "reports/figures/vae-mnist/samples.png").stat().st_size
    monkeypatch.setattr(archive, "GIT_FILE_LIMIT", size - 1)
    assert main(["--params", str(tmp_path / "params.yaml"), "archive"]) == 0
    assert "left out (over" in capsys.readouterr().out
    folder = tmp_path / "reports/profiles/cpu"
    assert not (folder / "figures/vae-mnist/samples.png").exists()
    listing = json.loads((folder / archive.LEFT_OUT_FILE).read_text())
    assert set(listing) == {"reports/figures/vae-mnist/samples.png"}
    assert check_archive(folder) == []
    listing["reports/figures/vae-mnist/samples.png"]["md5"] = "0" * 32
    (folder / archive.LEFT_OUT_FILE).write_text(json.dumps(listing))
    assert any("figures/vae-mnist" in problem for problem in check_archive(folder))


def test_a_chunk_from_another_checkout_is_archived_as_a_part_beside_the_profile(tmp_path):
    """reports/profiles/cpu.vq/ holds a second checkout's CPU-tier run: checked against its own
    dvc.lock, read by the report beside cpu/, and the first archive stays as it was."""
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first, "cpu", 4000, 64)
    _run(second, "cpu", 6000, 64)
    archive_profile(first)
    part = archive_profile(second, "vq")
    assert part == second / "reports/profiles/cpu.vq" and check_archive(part) == []
    shutil.copytree(part, first / "reports/profiles/cpu.vq")
    assert (
        check_archive(first / "reports/profiles/cpu") == [] and check_archive(first / "reports/profiles/cpu.vq") == []
    )
    records = load_all_records(first / "reports")
    assert records.sources["vae-mnist"] == "cpu.vq"  # the larger budget of the two parts
    with pytest.raises(ArchiveError, match="part name"):
        archive_profile(second, "../x")
