<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

use RuntimeException;

/** No HTTP response: the connection failed before or during the exchange. Carries curl's error code. */
final class TransportFailure extends RuntimeException
{
    public function __construct(public readonly int $curlErrno, string $curlMessage)
    {
        parent::__construct($curlMessage);
    }
}
