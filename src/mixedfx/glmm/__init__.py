"""The generalized linear mixed model: families and links, PIRLS, the Laplace and AGQ deviances and their gradient."""
