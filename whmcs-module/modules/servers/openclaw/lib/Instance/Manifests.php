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
     * @param list<array{name: string, secretKeyRef: array{name: string, key: string}}> $env
     * @return array<string, mixed>
     */
    public static function instance(
        InstanceApi $api,
        string $namespace,
        ServiceIdentity $service,
        ProductOptions $options,
        string $hostname,
        string $secretName,
        array $env = [],
    ): array {
        $spec = [
            'hostname' => $hostname,
            'serverType' => $options->serverType,
            'location' => $options->location,
            'image' => $options->image,
            'backups' => $options->backups,
            'backup' => ['schedule' => $options->backupSchedule, 'retain' => $options->backupRetain],
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
        if ($env !== []) {
            $spec['env'] = $env;
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
     * A Secret holding one value the module never reads back (gateway token, customer credential),
     * owned by the instance so Kubernetes' garbage collector removes it with the instance (the module
     * itself may not delete Secrets).
     *
     * @param array<mixed> $instance the instance as returned by the API server (for its uid)
     * @return array<string, mixed>
     */
    public static function secret(
        string $namespace,
        ServiceIdentity $service,
        string $secretName,
        string $key,
        string $value,
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
            'data' => [$key => base64_encode($value)],
        ];
    }

    /**
     * spec.env: the entries the instance has, with the newly stored credentials replacing those of the
     * same variable. Only well-formed entries survive (status of other writers is not trusted blindly).
     *
     * @param array<mixed> $current the current spec.env, or []
     * @param array<string, string> $newSecrets environment variable => Secret name
     * @return list<array{name: string, secretKeyRef: array{name: string, key: string}}>
     */
    public static function env(array $current, array $newSecrets): array
    {
        $byName = [];
        foreach ($current as $entry) {
            $name = is_array($entry) ? ($entry['name'] ?? null) : null;
            $ref = is_array($entry) && is_array($entry['secretKeyRef'] ?? null) ? $entry['secretKeyRef'] : [];
            if (is_string($name) && is_string($ref['name'] ?? null) && is_string($ref['key'] ?? null)) {
                $byName[$name] = ['name' => $name, 'secretKeyRef' => ['name' => $ref['name'], 'key' => $ref['key']]];
            }
        }
        foreach ($newSecrets as $name => $secretName) {
            $byName[$name] = [
                'name' => $name,
                'secretKeyRef' => ['name' => $secretName, 'key' => CustomerSecrets::SECRET_KEY],
            ];
        }
        ksort($byName);
        return array_values($byName);
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

    /**
     * Restore the instance from one of its backups (or "latest"): the operator takes a PreRestore backup
     * of the current state first, then restores, and records it in status.restoredFrom.
     *
     * @return array<string, mixed>
     */
    public static function restoreFrom(string $instanceName, string $backupId): array
    {
        return ['spec' => ['restoreFrom' => ['instance' => $instanceName, 'backup' => $backupId]]];
    }

    /**
     * Terminate's last word to the operator: no final backup ("true"), or the default one (null removes
     * an annotation a previous Terminate with other settings left).
     *
     * @return array<string, mixed>
     */
    public static function finalBackup(bool $keep): array
    {
        return ['metadata' => ['annotations' => [InstanceApi::SKIP_FINAL_BACKUP => $keep ? null : 'true']]];
    }

    /**
     * The customer's hibernate (true) or wake (false): suspension plus the annotation saying the
     * customer, not billing, asked for it (null removes it in a merge patch).
     *
     * @return array<string, mixed>
     */
    public static function customerHibernation(bool $hibernate): array
    {
        return [
            'metadata' => ['annotations' => [InstanceApi::CUSTOMER_HIBERNATED => $hibernate ? 'true' : null]],
            'spec' => self::suspension($hibernate, InstanceApi::SUSPEND_HIBERNATE)['spec'],
        ];
    }

    /**
     * Suspension, with how to suspend when suspending (PowerOff keeps the server, Hibernate snapshots
     * and deletes it). Waking leaves the mode alone: it says how the instance was suspended.
     *
     * @return array<string, mixed>
     */
    public static function suspension(bool $suspended, ?string $mode = null): array
    {
        $spec = ['suspended' => $suspended];
        if ($suspended && $mode !== null) {
            $spec['suspendMode'] = $mode;
        }
        return ['spec' => $spec];
    }
}
