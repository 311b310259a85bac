"""Machine Learning: sparse features, GLM training on Sparse Native, a registry of versioned
models with aliases, and online prediction."""
