"""MSA (Model Studio): the model registry and online prediction, as the gateway, Decision
Intelligence and Model Monitoring reach them (:class:`ModelStudio` is a ``ModelLookup`` and a
``Predictor``)."""

from rivergen.agents.model_studio.studio import ModelStudio

__all__ = ["ModelStudio"]
