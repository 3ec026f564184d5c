"""The device batch: full-profile training on a borrowed GPU machine reached by one command.

The GPU machines these results can come from are reached only through a copy of the working
tree (64 MiB in all, tracked files included), one shell command (2,000 characters, 10 minutes)
and a folder ``$OUT`` whose files come back (8 files, 16 MiB each, 64 MiB together). They have
one H100/H200, 16 CPU cores, torch and numpy, but no dvc, dvclive, PyYAML or pytorch-fid and no
network, and start bare. Three steps turn ~8 minutes of such a machine into full-budget results:

``pack`` (here, :mod:`.pack`)
    Everything the run needs into ``device_pack/`` (git-ignored, carried with the copy): the
    params as JSON (``profile: full``, anchors expanded), the prepared arrays of the datasets
    the chosen experiments train on (xz-compressed, each file's sha256 in the manifest), and
    pure-Python packages the machine may lack (tqdm, pytorch-fid; BM3D's packages for
    this Python version). The manifest also holds the code fingerprint and each experiment's
    params entry, so the import can prove what ran.
``run`` (there, :mod:`.run`: the one command line)
    Unpacks and verifies the data, runs the GPU checks (:mod:`.checks`), then trains every
    packed experiment at the full profile concurrently (all on the GPU; BM3D steps use the CPU
    cores), each with a time limit so the whole command ends in time, checkpointing at the
    end. Writes checkpoints (model weights; the optimizer state stays behind to fit the return
    limit), dvclive-format logs, a grid of samples per generative model, a timing table and
    the check results into ``$OUT``, split to the return limits.
``import`` (here, :mod:`.import_results`)
    Verifies that the returned runs used this checkout's code, params and data (hashes), puts
    each where ``train@`` would have written it (``models/<experiment>/``) and records it with
    ``dvc commit train@<experiment>``, so ``dvc.lock`` holds its true lineage and ``dvc repro
    evaluate@<experiment>`` evaluates it here on the CPU (FID's weights do not travel). The
    training device and wall time are in ``train_summary.json`` and so in every record.

The round trip runs on a CPU with tiny budgets in tests/test_device_batch.py (``--device cpu``),
so it works the first time a GPU is at hand. Module layout: :mod:`.limits` (the machine's
limits and the file names), :mod:`.pack`, :mod:`.run`, :mod:`.checks`, :mod:`.import_results`.
"""
