"""The linear mixed model: its profiled criterion over theta, the criterion's gradient and information steps, and its optimisation."""
