<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/** What the API server answered. */
final class HttpResponse
{
    public function __construct(
        public readonly int $status,
        public readonly string $body,
        public readonly string $contentType = 'application/json',
        public readonly string $location = '',
    ) {
    }

    public function isSuccess(): bool
    {
        return $this->status >= 200 && $this->status < 300;
    }

    /**
     * The body as a JSON object, or null when it is not one (HTML from a proxy, plain text, empty).
     *
     * @return array<mixed>|null
     */
    public function json(): ?array
    {
        if ($this->body === '') {
            return null;
        }
        $decoded = json_decode($this->body, true, 64);
        return is_array($decoded) ? $decoded : null;
    }
}
