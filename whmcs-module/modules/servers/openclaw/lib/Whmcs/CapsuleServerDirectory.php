<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

use WHMCS\Database\Capsule;
use WHMCS\Module\Server\OpenClaw\ModuleLog;

/**
 * Reads servers and services from the WHMCS database. Passwords are decrypted through localAPI
 * (DecryptPassword) instead of re-implementing WHMCS's encryption.
 */
final class CapsuleServerDirectory implements ServerDirectory
{
    public function __construct(private readonly LocalApi $localApi)
    {
    }

    public function servers(): array
    {
        $rows = Capsule::table('tblservers')->where('type', ModuleLog::MODULE)->where('disabled', 0)->get();
        $servers = [];
        foreach ($rows as $row) {
            $servers[] = $this->params($row);
        }
        return $servers;
    }

    public function server(int $serverId): ?array
    {
        $row = Capsule::table('tblservers')->where('id', $serverId)->where('type', ModuleLog::MODULE)->first();
        return $row === null ? null : $this->params($row);
    }

    public function services(int $serverId): array
    {
        $rows = Capsule::table('tblhosting')
            ->where('server', $serverId)
            ->whereIn('domainstatus', ['Active', 'Suspended'])
            ->get(['id', 'dedicatedip', 'assignedips', 'domain']);
        $services = [];
        foreach ($rows as $row) {
            $services[(int) $row->id] = [
                'dedicatedip' => (string) $row->dedicatedip,
                'assignedips' => (string) $row->assignedips,
                'domain' => (string) $row->domain,
            ];
        }
        return $services;
    }

    public function recordUsage(int $serverId, int $serviceId, array $columns): void
    {
        Capsule::table('tblhosting')
            ->where('server', $serverId)
            ->where('id', $serviceId)
            ->update($columns + ['lastupdate' => date('Y-m-d H:i:s')]);
    }

    /** @return array<string, mixed> */
    private function params(object $row): array
    {
        $password = $this->localApi->call('DecryptPassword', ['password2' => (string) $row->password]);
        return [
            'serverid' => (int) $row->id,
            'serverhostname' => (string) $row->hostname,
            'serverip' => (string) $row->ipaddress,
            'serverport' => (string) $row->port,
            'serverusername' => (string) $row->username,
            'serverpassword' => is_string($password['password'] ?? null) ? $password['password'] : '',
            'serveraccesshash' => (string) $row->accesshash,
            'serversecure' => (bool) $row->secure,
        ];
    }
}
