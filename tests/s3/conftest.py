"""The real S3 server (versitygw) for the backup store's tests."""

from tests.support.s3 import s3_server

__all__ = ["s3_server"]
