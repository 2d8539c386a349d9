"""Tools for the data a flow's steps read and write themselves (not artifacts).

:mod:`grange.datatools.s3` is ``grange.S3``: fast, parallel access to S3 (or
any S3-compatible store) with Metaflow's ``S3`` interface.
"""
