<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

/**
 * The operator's view of an instance, read defensively from the resource: status is written by
 * another program and may be partial (a fresh instance has none at all).
 */
final class InstanceStatus
{
    /** @param list<array{type: string, status: string, reason: string, message: string, since: string}> $conditions */
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
        foreach ($conditions as $condition) {
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
        );
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

    /** @param array<mixed> $from */
    private static function text(array $from, string $key): string
    {
        $value = $from[$key] ?? '';
        return is_string($value) ? $value : (is_int($value) ? (string) $value : '');
    }
}
