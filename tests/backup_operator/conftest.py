"""The real S3 server (versitygw) for the operator side of backups."""

from tests.support.s3 import s3_server

__all__ = ["s3_server"]
