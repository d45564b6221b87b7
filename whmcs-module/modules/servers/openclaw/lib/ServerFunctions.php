<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;
use WHMCS\Module\Server\OpenClaw\Whmcs\UsageReport;

/** The functions WHMCS calls per server rather than per service: Server Sync import and usage. */
final class ServerFunctions
{
    /**
     * Server Sync: the instances WHMCS created in this server's namespace (by label, one LIST), for
     * importing services WHMCS lost track of.
     *
     * @param array<mixed> $params server params
     * @return array{success: bool, accounts?: list<array<string, string>>, error?: string}
     */
    public static function listAccounts(array $params): array
    {
        $ctx = new ServiceContext($params, 'ListAccounts');
        $accounts = [];
        $result = ModuleCall::guard($ctx, static function () use ($ctx, &$accounts): void {
            $namespace = $ctx->settings()->namespace;
            foreach ($ctx->api()->managedInstances($ctx->kube(), $namespace) as $instance) {
                $status = InstanceStatus::of($instance);
                $created = strtotime($status->createdAt);
                $accounts[] = [
                    'email' => '',
                    'username' => $status->name,
                    'domain' => $status->hostname,
                    'uniqueIdentifier' => $status->hostname,
                    'product' => $status->serverTypeWanted,
                    'primaryip' => $status->primaryIp(),
                    'created' => $created === false ? '' : date('Y-m-d H:i:s', $created),
                    'status' => self::whmcsStatus($status->suspended ? 'SUSPENDED' : 'ACTIVE'),
                ];
            }
        });
        return $result === 'success' ? ['success' => true, 'accounts' => $accounts]
            : ['success' => false, 'error' => $result];
    }

    /**
     * Daily, once per server: disk and bandwidth of its services from the instances' status.usage
     * (UsageReport), one LIST for the namespace.
     *
     * @param array<mixed> $params server params
     */
    public static function usageUpdate(array $params): string
    {
        $ctx = new ServiceContext($params, 'UsageUpdate');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            $serverId = Params::positiveInt($ctx->params, 'serverid')
                ?? throw new ModuleError('UsageUpdate needs the server id.');
            $directory = Runtime::directory();
            $instances = $ctx->api()->managedInstances($ctx->kube(), $ctx->settings()->namespace);
            $rows = UsageReport::plan($instances, array_keys($directory->services($serverId)));
            foreach ($rows as $serviceId => $columns) {
                $directory->recordUsage($serverId, $serviceId, $columns);
            }
        });
    }

    /** WHMCS\Service\Status's constant, or its value outside WHMCS. */
    private static function whmcsStatus(string $constant): string
    {
        $name = 'WHMCS\\Service\\Status::' . $constant;
        $value = defined($name) ? constant($name) : null;
        return is_string($value) ? $value : ucfirst(strtolower($constant));
    }
}
