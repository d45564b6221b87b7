<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/**
 * Sends one request to the API server. The curl implementation is the only one WHMCS uses; the
 * interface exists so the module's decisions can be tested without a network.
 */
interface Transport
{
    /** @throws TransportFailure when no HTTP response arrived (DNS, connect, TLS, timeout). */
    public function send(HttpRequest $request): HttpResponse;

    /** The API server URL requests are sent to, for messages. */
    public function apiUrl(): string;
}
