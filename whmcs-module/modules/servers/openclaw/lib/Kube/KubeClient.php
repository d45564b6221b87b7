<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

use JsonException;
use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\ModuleLog;

/**
 * The handful of Kubernetes calls the module makes. Every call is logged (masked) and every failure
 * becomes a readable ModuleError.
 */
final class KubeClient
{
    /** Owner of the fields the module writes (server-side apply and merge patches). */
    public const FIELD_MANAGER = 'whmcs-openclaw';

    public function __construct(
        private readonly Transport $transport,
        private readonly ModuleLog $log,
    ) {
    }

    /** @return array<mixed> */
    public function get(string $path, Subject $subject): array
    {
        return $this->call('GET', $path, null, 'application/json', $subject);
    }

    /**
     * @return list<array<mixed>> the items
     */
    public function list(string $path, string $labelSelector, Subject $subject): array
    {
        $query = '?labelSelector=' . rawurlencode($labelSelector);
        $list = $this->call('GET', $path . $query, null, 'application/json', $subject);
        $items = is_array($list['items'] ?? null) ? $list['items'] : [];
        return array_values(array_filter($items, 'is_array'));
    }

    /**
     * Server-side apply: creates the object or updates the fields this manager owns. `force` is right
     * for the module's own fields: WHMCS is their source of truth, a conflicting writer is overruled.
     *
     * @param array<mixed> $object
     * @return array<mixed>
     */
    public function apply(string $path, array $object, Subject $subject): array
    {
        $query = '?fieldManager=' . self::FIELD_MANAGER . '&force=true';
        return $this->call('PATCH', $path . $query, $object, 'application/apply-patch+yaml', $subject);
    }

    /**
     * JSON merge patch (RFC 7386), for single fields other writers may also own (suspension, request
     * annotations). Fails with 404 instead of creating the object.
     *
     * @param array<mixed> $patch
     * @return array<mixed>
     */
    public function mergePatch(string $path, array $patch, Subject $subject): array
    {
        $query = '?fieldManager=' . self::FIELD_MANAGER;
        return $this->call('PATCH', $path . $query, $patch, 'application/merge-patch+json', $subject);
    }

    /**
     * @param array<mixed> $object
     * @return array<mixed>
     */
    public function create(string $collectionPath, array $object, Subject $subject): array
    {
        $query = '?fieldManager=' . self::FIELD_MANAGER;
        return $this->call('POST', $collectionPath . $query, $object, 'application/json', $subject);
    }

    public function delete(string $path, Subject $subject): void
    {
        $this->call('DELETE', $path, null, 'application/json', $subject);
    }

    /**
     * Asks the API server whether this token may do something (SelfSubjectAccessReview); allowed for
     * every authenticated user, so it works before any Role is bound.
     */
    public function mayI(string $verb, string $group, string $resource, string $namespace): bool
    {
        $review = [
            'apiVersion' => 'authorization.k8s.io/v1',
            'kind' => 'SelfSubjectAccessReview',
            'spec' => ['resourceAttributes' => [
                'namespace' => $namespace,
                'verb' => $verb,
                'group' => $group,
                'resource' => $resource,
            ]],
        ];
        $subject = new Subject('SelfSubjectAccessReview', '', $namespace, 'authorization.k8s.io/v1');
        $answer = $this->call(
            'POST',
            '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
            $review,
            'application/json',
            $subject,
        );
        return ($answer['status']['allowed'] ?? false) === true;
    }

    /**
     * @param array<mixed>|null $body
     * @return array<mixed>
     */
    private function call(string $method, string $path, ?array $body, string $contentType, Subject $subject): array
    {
        $encoded = $body === null ? null : self::encode($body);
        $requestText = $method . ' ' . $path . ($encoded === null ? '' : "\n" . $encoded);
        try {
            $response = $this->transport->send(new HttpRequest($method, $path, $encoded, $contentType));
        } catch (TransportFailure $failure) {
            $message = FailureDescriber::transport($failure, $this->transport->apiUrl());
            $this->log->record($requestText, 'no response', $message);
            throw new ModuleError($message, 0, $failure);
        }
        $responseText = 'HTTP ' . $response->status . "\n" . $response->body;
        if (!$response->isSuccess()) {
            $error = FailureDescriber::response($response, $subject);
            $this->log->record($requestText, $responseText, $error->getMessage());
            throw $error;
        }
        $this->log->record($requestText, $responseText, 'ok');
        return $response->json() ?? [];
    }

    /** @param array<mixed> $body */
    private static function encode(array $body): string
    {
        try {
            // Raw UTF-8 and unescaped slashes: apply bodies are parsed as YAML, which mishandles
            // JSON's surrogate-pair escapes; invalid UTF-8 is replaced rather than failing the call.
            return json_encode(
                $body,
                JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR,
            );
        } catch (JsonException $e) {
            throw new ModuleError('Cannot encode the request for the Kubernetes API: ' . $e->getMessage() . '.');
        }
    }
}
