"""Data frames in: pandas, polars, pyarrow and anything speaking the Arrow or dataframe interchange protocols."""
