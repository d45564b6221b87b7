"""The backup round trip runs on the channel tests' real server (sshd, the real agent, the real gateway
and Caddy) and the real S3 server: their fixtures, imported rather than copied."""

from tests.channel.conftest import operator, operator_key_file, realapp, server
from tests.support.s3 import s3_server

__all__ = ["operator", "operator_key_file", "realapp", "s3_server", "server"]
