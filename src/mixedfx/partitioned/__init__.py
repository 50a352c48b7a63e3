"""Fits from data that stay partitioned on a Dask cluster: passes over the partitions, then the in-memory model."""
