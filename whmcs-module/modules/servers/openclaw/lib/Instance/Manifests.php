<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

/**
 * The objects the module writes, as plain arrays. Pure, so their exact shape is unit-tested.
 */
final class Manifests
{
    /**
     * The OpenClawInstance as WHMCS wants it. `suspended` is deliberately absent: Suspend/Unsuspend
     * own it through merge patches, so a later apply (ChangePackage) can never unsuspend by accident.
     *
     * @return array<string, mixed>
     */
    public static function instance(
        InstanceApi $api,
        string $namespace,
        ServiceIdentity $service,
        ProductOptions $options,
        string $hostname,
        string $secretName,
    ): array {
        $spec = [
            'hostname' => $hostname,
            'serverType' => $options->serverType,
            'location' => $options->location,
            'image' => $options->image,
            'backups' => $options->backups,
            'deletionPolicy' => $options->deletionPolicy,
            'gatewayTokenSecretRef' => ['name' => $secretName, 'key' => GatewayToken::SECRET_KEY],
            'whmcs' => array_filter(
                ['serviceId' => $service->serviceId, 'clientId' => $service->clientId],
                static fn (?int $id): bool => $id !== null,
            ),
        ];
        if ($options->dnsZone !== '') {
            $spec['dns'] = ['zone' => $options->dnsZone];
        }
        if ($options->openclawVersion !== '') {
            $spec['openclawVersion'] = $options->openclawVersion;
        }
        if ($options->sshKeys !== []) {
            $spec['sshKeys'] = $options->sshKeys;
        }
        return [
            'apiVersion' => $api->apiVersion(),
            'kind' => InstanceApi::KIND,
            'metadata' => [
                'name' => $service->resourceName(),
                'namespace' => $namespace,
                'labels' => $service->labels(),
            ],
            'spec' => $spec,
        ];
    }

    /**
     * The Secret with the gateway token, owned by the instance so Kubernetes' garbage collector
     * removes it with the instance (the module itself may not delete Secrets).
     *
     * @param array<mixed> $instance the instance as returned by the API server (for its uid)
     * @return array<string, mixed>
     */
    public static function gatewaySecret(
        string $namespace,
        ServiceIdentity $service,
        string $secretName,
        string $token,
        array $instance,
    ): array {
        $metadata = [
            'name' => $secretName,
            'namespace' => $namespace,
            'labels' => $service->labels(),
        ];
        $uid = $instance['metadata']['uid'] ?? null;
        if (is_string($uid) && $uid !== '') {
            $metadata['ownerReferences'] = [[
                'apiVersion' => is_string($instance['apiVersion'] ?? null) ? $instance['apiVersion'] : '',
                'kind' => InstanceApi::KIND,
                'name' => $service->resourceName(),
                'uid' => $uid,
            ]];
        }
        return [
            'apiVersion' => 'v1',
            'kind' => 'Secret',
            'metadata' => $metadata,
            'type' => 'Opaque',
            'data' => [GatewayToken::SECRET_KEY => base64_encode($token)],
        ];
    }

    /**
     * A day-2 request: the operator acts once per new annotation value (docs/architecture.md).
     *
     * @return array<string, mixed>
     */
    public static function request(string $annotation, string $requestedAt): array
    {
        return ['metadata' => ['annotations' => [$annotation => $requestedAt]]];
    }

    /** @return array<string, mixed> */
    public static function suspension(bool $suspended): array
    {
        return ['spec' => ['suspended' => $suspended]];
    }
}
