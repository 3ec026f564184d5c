"""Regenerate the fixture metrics records in tests/report_fixtures/reports/metrics/.

Run: ``.venv/bin/python tests/report_fixtures/make_fixtures.py``. The JSON files are committed;
this script documents how they were made (with the real record helpers, so they follow the
schema in src/vaerepro/records.py). Figures are drawn by the tests themselves.

The set covers every status: reproduced, not reproduced, partial (subset variant), not
comparable (lossy variant), smoke, not measured, not run, and two malformed files.
"""

from __future__ import annotations

from pathlib import Path

from vaerepro.records import MetricsRecord, measured, not_measured, write_record

HERE = Path(__file__).parent / "reports" / "metrics"
ENVIRONMENT = {
    "python": "3.11.9",
    "torch": "2.5.1",
    "numpy": "2.1.3",
    "scipy": "1.14.1",
    "scikit-image": "0.24.0",
    "pytorch-fid": "0.3.0",
    "dvc": "3.67.0",
    "pillow": "11.0.0",
}
DATA_HASHES = {  # the sha256 in the repository's reports/data/<dataset>.json at fixture time
    "mnist": "62ac23f60035b98fa938a539890b21cca79c3a1392d56ac6eea258425310f69f",
    "cc15": "a2061722be42e48e0000000000000000000000000000000000000000deadbeef",
}


# The task each fixture's model states (as the models' ``task`` class attributes do).
TASKS = {
    "vae": "generation",
    "vae_beta4": "generation",
    "two_stage": "generation",
    "cvae": "generation",
    "vdvae": "generation",
    "zheng": "denoising",
    "bm3d": "denoising",
    "divnoising": "denoising",
}


def record(
    experiment: str,
    *,
    profile: str = "full",
    variant: str = "official",
    params: dict | None = None,
    parameters: int = 220_000,
    metrics: dict,
    figures: dict | None = None,
) -> MetricsRecord:
    model, dataset = experiment.rsplit("-", 1)
    return MetricsRecord(
        provenance={
            "experiment": experiment,
            "model": model,
            "dataset": dataset,
            "task": TASKS.get(model, "enhancement"),
            "data_variant": variant,
            "dataset_sha256": DATA_HASHES.get(dataset, "0" * 64),
            "profile": profile,
            "device": "cuda:0 (NVIDIA H100 80GB HBM3)" if profile == "full" else "cpu",
            "seed": 20240601,
            "git_revision": "fe76727604d5ea50afd41a4d9d0830ca0fee2b7e",
            "wall_time_seconds": {"train": 812.4, "evaluate": 95.1},
            "parameter_count": parameters,
            "environment": ENVIRONMENT,
            "params": params or {"model": model, "dataset": dataset},
        },
        metrics=metrics,
        figures=figures or {},
    )


def main() -> None:
    nats = "nats per image; discretised Gaussian likelihood on 8-bit data"
    records = [
        record(
            "vae-mnist",
            params={
                "model": "vae",
                "dataset": "mnist",
                "latent_dim": 16,
                "kl_weight": 1.0,
                "steps": 20000,
                "batch_size": 128,
                "homepage_note": "https://example.org/not-a-link",
            },
            metrics={
                "negative_elbo": measured(86.71, "nats", nats, samples=10000),
                "nll_importance_sampled": measured(83.02, "nats", nats + "; k=5000 importance samples", k=5000),
                "bits_per_dim": measured(0.1528, "bits/dim", "nats / (1·28·28·ln 2)"),
                "reconstruction_mse": measured(0.0112, "mse", "mean over pixels in [0, 1]"),
                "classifier_frechet_distance": measured(
                    4.87, "distance", "LeNet features, 10000 samples", samples=10000
                ),
                "fid": not_measured("FID Inception weights not found at models/fid/pt_inception-2015-12-05.pth"),
                "sharpness_samples": measured(0.0301, "laplacian energy", "laplacian-energy", std=0.004),
                "sharpness_test_images": measured(0.0957, "laplacian energy", "laplacian-energy", std=0.011),
                "active_units": measured(14, "units", "Burda et al. 2016, threshold 0.01", total=16),
            },
            figures={
                "samples": "figures/vae-mnist/samples.png",
                "reconstructions": "figures/vae-mnist/reconstructions.png",
            },
        ),
        record(
            "vae_beta4-mnist",
            params={"model": "vae", "dataset": "mnist", "latent_dim": 16, "kl_weight": 4.0},
            metrics={
                "reconstruction_mse": measured(0.0251, "mse", "mean over pixels in [0, 1]"),
                "active_units": measured(7, "units", "Burda et al. 2016, threshold 0.01", total=16),
            },
        ),
        record(
            "zheng-cc15",
            parameters=1_830_000,
            metrics={
                "psnr": measured(37.91, "dB", "float64, MAX=255, all pixels and channels", std=1.2),
                "ssim_rgb": measured(0.9412, "ssim", "Wang et al. 2004, channel mean", std=0.01),
                "kl_latent_vs_image": measured(0.401, "nats", "histogram KL to fitted AWGN", latent=0.401, image=0.466),
            },
            figures={
                "denoised": "figures/zheng-cc15/denoised.png",
                "missing": "figures/zheng-cc15/not-there.png",
                "remote": "https://example.org/tracker.png",
            },
        ),
        record("bm3d-cc15", parameters=0, metrics={"psnr": measured(37.43, "dB", "float64, MAX=255", std=1.1)}),
        record(
            "mlsm-lol",
            variant="subset-our485-200-of-485",
            parameters=5_400_000,
            metrics={
                "psnr": measured(19.35, "dB", "float64, MAX=255"),
                "ssim_rgb": measured(0.7711, "ssim", "Wang et al. 2004, channel mean"),
                "ssim_y": measured(0.7902, "ssim", "Wang et al. 2004, BT.601 Y"),
                "psnr_b": measured(18.92, "dB", "Yim & Bovik 2011, block 8, Y"),
            },
        ),
        record(
            "clahe-lol",
            variant="subset-our485-200-of-485",
            parameters=0,
            metrics={"psnr": measured(14.02, "dB", "float64, MAX=255")},
        ),
        record(
            "vdvae-cifar10",
            variant="lossy-jpeg-q75",
            parameters=39_100_000,
            metrics={"bits_per_dim": measured(3.12, "bits/dim", "nats / (3·32·32·ln 2)")},
        ),
        record(
            "uwcvgan-euvp",
            profile="smoke",
            variant="funiegan-test-23-pairs",
            parameters=61_000,
            metrics={
                "compression_factor": measured(3.0, "ratio", "input elements / latent elements"),
                "psnr": measured(17.2, "dB", "float64, MAX=255"),
                "inception_score": not_measured("Inception weights not found (no download on this machine)"),
            },
        ),
    ]
    for item in records:
        write_record(HERE / f"{item.provenance['experiment']}.json", item)
    (HERE / "cvae-mnist.json").write_text('{"schema_version": 2, "experiment": "cvae-mnist", "metrics": {')
    (HERE / "two_stage-mnist.json").write_text(
        '{"schema_version": 2, "experiment": "two_stage-mnist", "metrics": {}}\n'
    )


if __name__ == "__main__":
    main()
