"""The Spark job: what runs on Glue and in a laptop's local Spark.

Importing this package imports no pyspark: ``catalog`` and ``record_cuts`` are Spark-free
and are used by the command line and the local watcher without starting a JVM.
"""
