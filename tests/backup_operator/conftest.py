"""The operator side of backups runs on the real S3 server (versitygw) and, for the steps that move data,
on the channel tests' real server (sshd, the real agent, the real gateway): their fixtures, imported."""

from tests.channel.conftest import operator, operator_key_file, realapp, server
from tests.support.s3 import s3_server

__all__ = ["operator", "operator_key_file", "realapp", "s3_server", "server"]
