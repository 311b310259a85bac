"""Sparse data without Ray: Arrow columns as SciPy CSR (:mod:`rivergen.sparse.arrow`) and
TF-IDF's tokenizing and weighing (:mod:`rivergen.sparse.text`). The kernels that run them as
Ray tasks are ``compute/sparse/``."""
