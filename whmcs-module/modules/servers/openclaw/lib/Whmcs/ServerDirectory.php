<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

/** The WHMCS records the cron sync and the client area need outside a normal module call. */
interface ServerDirectory
{
    /**
     * Enabled servers of this module, each as the `server*` part of module `$params`.
     *
     * @return list<array<string, mixed>>
     */
    public function servers(): array;

    /**
     * One server as module `$params` (`server*` keys), or null if unknown.
     *
     * @return array<string, mixed>|null
     */
    public function server(int $serverId): ?array;

    /**
     * Active and suspended services on a server: service id => current WHMCS fields.
     *
     * @return array<int, array{dedicatedip: string, assignedips: string, domain: string}>
     */
    public function services(int $serverId): array;

    /**
     * Writes usage figures (tblhosting columns diskusage, disklimit, bwusage, bwlimit in MB) and the
     * time of the update into one service of a server.
     *
     * @param array<string, int> $columns
     */
    public function recordUsage(int $serverId, int $serviceId, array $columns): void;
}
