"""The penalised system's linear algebra: term layouts, cross-product blocks, the blocked Cholesky factor and its compiled kernels."""
