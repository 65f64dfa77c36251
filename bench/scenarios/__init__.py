"""The scenarios, one module per family; each function measures one run of one runner.

`producer.c` (and `producer.py`, the same program for machines without a C
compiler) are the services every scenario runs.
"""
