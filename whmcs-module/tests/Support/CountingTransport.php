<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;

/** Passes requests to a real transport and remembers each, to count what reached the apiserver. */
final class CountingTransport implements Transport
{
    /** @var list<string> "METHOD path" of every request sent, shared by all wrappers of one recorder */
    public static array $sent = [];

    public function __construct(private readonly Transport $inner)
    {
    }

    public function send(HttpRequest $request): HttpResponse
    {
        self::$sent[] = $request->method . ' ' . $request->path;
        return $this->inner->send($request);
    }

    public function apiUrl(): string
    {
        return $this->inner->apiUrl();
    }
}
