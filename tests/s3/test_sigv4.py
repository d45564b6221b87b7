"""The signer against AWS's own published examples (S3 API reference, "Authenticating Requests: Using
Query Parameters" and "Using the Authorization Header"), so a signing bug shows even where the real
server of tests/s3 cannot run. The real server then checks the same signer on every request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openclaw_operator.providers.backup_store import Credentials, sigv4_headers, sigv4_presign

AWS_EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
WHEN = datetime(2013, 5, 24, tzinfo=UTC)


def test_a_presigned_get_matches_the_aws_example() -> None:
    url = sigv4_presign(
        AWS_EXAMPLE, "GET", "https://examplebucket.s3.amazonaws.com/test.txt", 86400, when=WHEN
    )
    assert url.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    assert "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" in url


def test_a_signed_list_matches_the_aws_example() -> None:
    # "GET Bucket (List Objects)": GET /?max-keys=2&prefix=J, empty body.
    headers = sigv4_headers(
        AWS_EXAMPLE, "GET", "https://examplebucket.s3.amazonaws.com/", {"max-keys": "2", "prefix": "J"}, WHEN
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
def test_a_presign_outside_sigv4s_lifetime_is_refused_before_signing(seconds: int) -> None:
    with pytest.raises(ValueError, match="1 s to 7 days"):
        sigv4_presign(AWS_EXAMPLE, "GET", "https://examplebucket.s3.amazonaws.com/test.txt", seconds)
