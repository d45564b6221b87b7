<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use Closure;
use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;

/**
 * A Kubernetes API stand-in for unit tests: answers with a handler, records every request.
 */
final class FakeTransport implements Transport
{
    /** @var list<HttpRequest> */
    public array $requests = [];

    /** @param Closure(HttpRequest): HttpResponse $handler */
    public function __construct(private Closure $handler)
    {
    }

    public function send(HttpRequest $request): HttpResponse
    {
        $this->requests[] = $request;
        return ($this->handler)($request);
    }

    public function apiUrl(): string
    {
        return 'https://fake-apiserver:6443';
    }

    /** @return array<mixed> the JSON body of a recorded request */
    public static function body(HttpRequest $request): array
    {
        $decoded = json_decode((string) $request->body, true);
        return is_array($decoded) ? $decoded : [];
    }

    /** @param array<mixed> $body */
    public static function json(int $status, array $body): HttpResponse
    {
        return new HttpResponse($status, (string) json_encode($body), 'application/json');
    }

    /** A Kubernetes Status answer, as the apiserver sends for failures. @param array<mixed> $details */
    public static function status(int $code, string $reason, string $message, array $details = []): HttpResponse
    {
        return self::json($code, [
            'kind' => 'Status',
            'apiVersion' => 'v1',
            'status' => 'Failure',
            'message' => $message,
            'reason' => $reason,
            'details' => $details === [] ? (object) [] : $details,
            'code' => $code,
        ]);
    }
}
