<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;

/**
 * The operator's view of an instance, read defensively from the resource: status is written by
 * another program and may be partial (a fresh instance has none at all).
 */
final class InstanceStatus
{
    /**
     * @param list<array{type: string, status: string, reason: string, message: string, since: string}> $conditions
     * @param array<string, array{requested: string, handled: string}> $requests by request annotation
     * @param array<string, string> $billing status.billing's scalar fields (what is paid for now)
     * @param array<string, int> $usage status.usage's counters (bytes)
     * @param list<string> $envNames the environment variables spec.env fills from Secrets
     */
    private function __construct(
        public readonly string $name,
        public readonly string $namespace,
        public readonly string $hostname,
        public readonly string $phase,
        public readonly ?bool $ready,
        public readonly string $message,
        public readonly string $url,
        public readonly string $ipv4,
        public readonly string $ipv6,
        public readonly ?int $serverId,
        public readonly string $serverName,
        public readonly string $serverType,
        public readonly bool $suspended,
        public readonly bool $deleting,
        public readonly bool $observed,
        public readonly array $conditions,
        public readonly string $suspendMode,
        public readonly array $requests,
        public readonly array $billing,
        public readonly array $usage,
        public readonly array $envNames,
        public readonly string $createdAt,
        public readonly string $serverTypeWanted,
        public readonly bool $customerHibernated,
        public readonly Backups $backups,
    ) {
    }

    /** @param array<mixed> $instance */
    public static function of(array $instance): self
    {
        $metadata = self::map($instance, 'metadata');
        $spec = self::map($instance, 'spec');
        $status = self::map($instance, 'status');
        $conditions = [];
        foreach (is_array($status['conditions'] ?? null) ? $status['conditions'] : [] as $condition) {
            if (!is_array($condition) || !is_string($condition['type'] ?? null)) {
                continue;
            }
            $conditions[] = [
                'type' => $condition['type'],
                'status' => self::text($condition, 'status'),
                'reason' => self::text($condition, 'reason'),
                'message' => self::text($condition, 'message'),
                'since' => self::text($condition, 'lastTransitionTime'),
            ];
        }
        $readyStatus = null;
        $restoreRefusal = '';
        foreach ($conditions as $condition) {
            $refused = $condition['type'] === 'Stalled' && $condition['status'] === 'True'
                && $condition['reason'] === Backups::REFUSED;
            if ($refused) {
                $restoreRefusal = $condition['message'] ?: Backups::REFUSED;
            }
            if ($condition['type'] === 'Ready') {
                $readyStatus = match ($condition['status']) {
                    'True' => true,
                    'False' => false,
                    default => null,
                };
            }
        }
        $generation = $metadata['generation'] ?? null;
        $serverId = $status['serverId'] ?? null;
        $annotations = self::map($metadata, 'annotations');
        $requests = [];
        foreach (InstanceApi::HANDLED_IN_STATUS as $annotation => $field) {
            $requests[$annotation] = ['requested' => self::text($annotations, $annotation),
                'handled' => self::text($status, $field)];
        }
        $billing = [];
        foreach (self::map($status, 'billing') as $key => $value) {
            if (is_string($key) && (is_scalar($value))) {
                $billing[$key] = is_bool($value) ? ($value ? 'yes' : 'no') : (string) $value;
            }
        }
        $usage = [];
        foreach (self::map($status, 'usage') as $key => $value) {
            if (is_string($key) && is_int($value) && $value >= 0) {
                $usage[$key] = $value;
            }
        }
        $envNames = [];
        foreach (is_array($spec['env'] ?? null) ? $spec['env'] : [] as $entry) {
            if (is_array($entry) && is_string($entry['name'] ?? null)) {
                $envNames[] = $entry['name'];
            }
        }
        return new self(
            self::text($metadata, 'name'),
            self::text($metadata, 'namespace'),
            self::text($spec, 'hostname'),
            self::text($status, 'phase') ?: 'Pending',
            $readyStatus,
            self::text($status, 'message'),
            self::text($status, 'url'),
            self::text($status, 'ipv4'),
            self::text($status, 'ipv6'),
            is_int($serverId) ? $serverId : null,
            self::text($status, 'serverName'),
            self::text($status, 'serverType'),
            ($spec['suspended'] ?? false) === true,
            isset($metadata['deletionTimestamp']),
            is_int($generation) && ($status['observedGeneration'] ?? null) === $generation,
            $conditions,
            self::text($spec, 'suspendMode') ?: InstanceApi::SUSPEND_POWER_OFF,
            $requests,
            $billing,
            $usage,
            $envNames,
            self::text($metadata, 'creationTimestamp'),
            self::text($spec, 'serverType'),
            self::text($annotations, InstanceApi::CUSTOMER_HIBERNATED) === 'true',
            Backups::of($spec, $status, $restoreRefusal),
        );
    }

    /** A condition's message when it is False ('' otherwise), e.g. why the last backup failed (BackedUp). */
    public function failing(string $type): string
    {
        foreach ($this->conditions as $condition) {
            if ($condition['type'] === $type && $condition['status'] === 'False') {
                return $condition['message'] !== '' ? $condition['message'] : $condition['reason'];
            }
        }
        return '';
    }

    /** Suspended by hibernation (server snapshotted and deleted) rather than powered off. */
    public function hibernated(): bool
    {
        return $this->suspended && $this->suspendMode === InstanceApi::SUSPEND_HIBERNATE;
    }

    /** Whether the operator has acted on the latest request of this kind ('' when never requested). */
    public function requestState(string $annotation): string
    {
        $request = $this->requests[$annotation] ?? ['requested' => '', 'handled' => ''];
        if ($request['requested'] === '') {
            return '';
        }
        return $request['handled'] === $request['requested'] ? 'done' : 'pending';
    }

    /** The address WHMCS shows as the service's dedicated IP: IPv4, else IPv6. */
    public function primaryIp(): string
    {
        return $this->ipv4 !== '' ? $this->ipv4 : $this->ipv6;
    }

    /**
     * Addresses beyond the primary one, for WHMCS's "assigned IPs".
     *
     * @return list<string>
     */
    public function otherIps(): array
    {
        return $this->ipv4 !== '' && $this->ipv6 !== '' ? [$this->ipv6] : [];
    }

    /**
     * @param array<mixed> $from
     * @return array<mixed>
     */
    private static function map(array $from, string $key): array
    {
        return is_array($from[$key] ?? null) ? $from[$key] : [];
    }

    /**
     * A string field of status (ints as text); anything else is ''.
     *
     * @param array<mixed> $from
     */
    public static function text(array $from, string $key): string
    {
        $value = $from[$key] ?? '';
        return is_string($value) ? $value : (is_int($value) ? (string) $value : '');
    }
}
