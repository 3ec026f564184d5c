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
STATUS_RULES = (
    "Rules, first match wins: no way to measure the claim here → not measurable here (reason); "
    "metrics file malformed → metrics file unreadable; no metrics file → not run; metric missing "
    "or recorded as not measured → not measurable here (reason); smoke profile → smoke run only "
    "(never a reproduction); data variant lossy or a different test set → not comparable "
    "(variant); documented subset of the data → partial when within tolerance, else not "
    "comparable; otherwise reproduced when within the claim's tolerance, else not reproduced. "
    "Tolerances respect direction: for lower-is-better metrics (FID, NLL, bits/dim) beating the "
    "claimed number counts as reproduced, for higher-is-better ones (PSNR, SSIM, UIQM) exceeding "
    "it does. Where the survey misquotes the cited paper, our number is judged against the "
    "paper's. Comparisons between two of our own experiments on the same data variant are "
    "valid on any variant; comparisons with a published number need comparable data."
)
