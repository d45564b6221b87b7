<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/** One call to the Kubernetes API; the path is relative to the API server URL and includes the query. */
final class HttpRequest
{
    public function __construct(
        public readonly string $method,
        public readonly string $path,
        public readonly ?string $body = null,
        public readonly string $contentType = 'application/json',
    ) {
    }
}
