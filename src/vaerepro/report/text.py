"""Fixed prose of the report (title, introduction, the status rules in words).

Kept apart from the renderers so the Markdown and HTML versions say exactly the same thing.
The rules here summarise ``status.py``, which is the authority (and is unit-tested).
"""

SURVEY_TITLE = "Research on the Application of Variational Autoencoder in Image Generation"
SURVEY_CITATION = (
    'J. Liu, "Research on the Application of Variational Autoencoder in Image '
    'Generation" (survey). Reproduced by the vaerepro DVC pipeline.'
)
INTRODUCTION = (
    "This report puts every quantitative claim of the survey next to the number this pipeline "
    "obtained, with a status that says whether the claim was reproduced and, if not, why. "
    "Each experiment's profile, device, data variant and hashes are printed beside its numbers, "
    "so a smoke-run number can never pass for a reproduction, and the audit section shows how "
    "to trace any number back through dvc.lock to its data, parameters and code."
)
VERDICT_LEGEND = (
    "Verdicts: holds (our number meets the claim within its tolerance, or the claimed relation "
    "holds), does not hold, tie (the difference is within the measurement's noise: never a win), "
    "or no verdict with the reason: smoke run only (every smoke number checks the pipeline and "
    "is never a reproduction), not measurable here, not run, or not comparable as stated (the "
    "survey's number is on another scale or definition). Only a CPU-tier (cpu) or full-profile "
    "record can hold, and every decided verdict says at what training budget it was reached: "
    "holds at 100 % of the paper's budget, or does not hold at 1.3 % of it (the fraction of the "
    "paper's training examples, steps x batch size, our run trained; 'the full profile's budget' "
    "where the paper states no comparable number). A claim that does not hold at a small fraction "
    "is not refuted: the paper trained far longer. Where several profiles were run, each "
    "experiment shows its largest budget. Beside our number: steps trained of the paper's, the "
    "evaluation N, profile, device."
)
STATUS_RULES = (
    "Rules, first match wins: no way to measure the claim here → not measurable here (reason); "
    "metrics file malformed → metrics file unreadable; no metrics file → not run; metric missing "
    "or recorded as not measured → not measurable here (reason); smoke profile → smoke run only "
    "(never a reproduction; the cpu and full profiles go on); data variant lossy or a different test set → not comparable "
    "(variant); documented subset of the data → partial when within tolerance, else not "
    "comparable; otherwise reproduced when within the claim's tolerance, else not reproduced. "
    "Tolerances respect direction: for lower-is-better metrics (FID, NLL, bits/dim) beating the "
    "claimed number counts as reproduced, for higher-is-better ones (PSNR, SSIM, UIQM) exceeding "
    "it does. Where the survey misquotes the cited paper, our number is judged against the "
    "paper's. Comparisons between two of our own experiments on the same data variant are "
    "valid on any variant; comparisons with a published number need comparable data. A result "
    "within two standard errors of its deciding bound, or over fewer than 3 images, is a tie. "
    "A claim whose number the registry marks as not comparable as stated gets no verdict."
)
