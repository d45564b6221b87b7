<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use WHMCS\Module\Server\OpenClaw\Whmcs\ServerDirectory;

/** WHMCS servers and services held in memory. */
final class FakeServerDirectory implements ServerDirectory
{
    /** @var array<int, array<int, array<string, int>>> server id => service id => usage columns written */
    public array $usage = [];

    /**
     * @param array<int, array<string, mixed>> $servers server id => server params
     * @param array<int, array<int, array{dedicatedip: string, assignedips: string, domain: string}>> $services
     */
    public function __construct(private array $servers, private array $services)
    {
    }

    public function servers(): array
    {
        $list = [];
        foreach ($this->servers as $id => $server) {
            $list[] = ['serverid' => $id] + $server;
        }
        return $list;
    }

    public function server(int $serverId): ?array
    {
        return isset($this->servers[$serverId]) ? ['serverid' => $serverId] + $this->servers[$serverId] : null;
    }

    public function services(int $serverId): array
    {
        return $this->services[$serverId] ?? [];
    }

    public function recordUsage(int $serverId, int $serviceId, array $columns): void
    {
        $this->usage[$serverId][$serviceId] = $columns;
    }
}
