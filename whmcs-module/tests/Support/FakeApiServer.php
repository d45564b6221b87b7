<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;

/**
 * Just enough apiserver behaviour to drive whole module actions in unit tests: objects by path,
 * apply creates-or-merges, merge patch needs an existing object, Secret create answers 409 on a
 * second try, delete answers 404 for missing objects. Real semantics are proven by the integration
 * tests against kube-apiserver.
 */
final class FakeApiServer
{
    /** @var array<string, array<mixed>> object path => object */
    public array $objects = [];
    private int $uid = 0;

    private static function notFound(string $name): HttpResponse
    {
        return FakeTransport::status(404, 'NotFound', 'not found', ['name' => $name, 'kind' => 'openclawinstances']);
    }

    public function transport(): FakeTransport
    {
        return new FakeTransport(fn (HttpRequest $request): HttpResponse => $this->handle($request));
    }

    public function handle(HttpRequest $request): HttpResponse
    {
        $path = strtok($request->path, '?') ?: '';
        $body = FakeTransport::body($request);
        $name = basename($path);
        switch ($request->method) {
            case 'GET':
                return isset($this->objects[$path]) ? FakeTransport::json(200, $this->objects[$path])
                    : self::notFound($name);
            case 'PATCH':
                if ($request->contentType === 'application/apply-patch+yaml') {
                    $existing = $this->objects[$path] ?? ['metadata' => ['uid' => 'uid-' . (++$this->uid)]];
                    $this->objects[$path] = array_replace_recursive($existing, $body);
                    return FakeTransport::json(200, $this->objects[$path]);
                }
                if (!isset($this->objects[$path])) {
                    return self::notFound($name);
                }
                $this->objects[$path] = array_replace_recursive($this->objects[$path], $body);
                return FakeTransport::json(200, $this->objects[$path]);
            case 'POST':
                $objectPath = $path . '/' . ($body['metadata']['name'] ?? '');
                if (isset($this->objects[$objectPath])) {
                    return FakeTransport::status(409, 'AlreadyExists', 'exists', ['name' => $body['metadata']['name']]);
                }
                $this->objects[$objectPath] = $body;
                return FakeTransport::json(201, $body);
            case 'DELETE':
                if (!isset($this->objects[$path])) {
                    return self::notFound($name);
                }
                unset($this->objects[$path]);
                return FakeTransport::json(200, ['kind' => 'Status', 'status' => 'Success']);
        }
        return FakeTransport::status(405, 'MethodNotAllowed', 'method not allowed');
    }
}
