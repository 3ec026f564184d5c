"""The experiment layer, on top of models, training and evaluation: resolve → train → evaluate.

* :mod:`.resolve` reads one ``experiments.<name>`` (or ``classifiers.<dataset>``) entry of
  ``params.yaml`` into a :class:`ResolvedExperiment` (typed options, settings, data);
* :mod:`.train` builds the model and trains it (the body of ``train@`` and ``classifier@``);
* :mod:`.evaluate` scores a trained model by its task and writes the metrics record
  (the body of ``evaluate@``), with :mod:`.restoration` for denoising and enhancement;
* :mod:`.provenance` gathers what a reader needs to judge each number.

Nothing below this package (models, training, evaluation, metrics, data) imports it.
"""

from vaerepro.experiment.resolve import SOURCE, ResolvedExperiment, resolve, resolve_classifier

__all__ = ["SOURCE", "ResolvedExperiment", "resolve", "resolve_classifier"]
