"""Ray adapters and kernels, above the library: a process that loads them records its metrics
through Ray (:mod:`compute.metrics`)."""

from compute.metrics import install as _install_metrics

_install_metrics()
