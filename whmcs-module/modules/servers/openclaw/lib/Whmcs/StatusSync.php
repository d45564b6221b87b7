<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

use Closure;
use Throwable;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\KubeClient;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;
use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\ModuleLog;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/**
 * The cron job: copies what the operator observed (IP addresses, host name) into the WHMCS services,
 * so invoices, welcome e-mails and the admin's lists show them. One LIST per namespace, however many
 * WHMCS server records point at it (and never a GET per service), and WHMCS is written only where
 * something changed.
 */
final class StatusSync
{
    /** @param Closure(ClusterSettings): Transport $transportFor */
    public function __construct(
        private readonly ServerDirectory $directory,
        private readonly LocalApi $localApi,
        private readonly Closure $transportFor,
        private readonly InstanceApi $api,
    ) {
    }

    /**
     * @return array{updated: int, errors: list<string>} errors are readable, one per failing server or service
     */
    public function run(): array
    {
        $updated = 0;
        $errors = [];
        foreach (self::byNamespace($this->directory->servers()) as $group) {
            $log = new ModuleLog('CronStatusSync');
            foreach ($group as $server) {
                $log->addSecret(is_string($server['serverpassword'] ?? null) ? $server['serverpassword'] : '');
            }
            $serverIds = array_map(
                static fn (array $server): int => is_int($server['serverid'] ?? null) ? $server['serverid'] : 0,
                $group,
            );
            try {
                $instances = $this->instances(ClusterSettings::fromParams($group[0]), $log);
                $changes = [];
                foreach ($serverIds as $serverId) {
                    $changes += self::plan($instances, $this->directory->services($serverId));
                }
            } catch (Throwable $e) {
                $errors[] = 'server ' . implode(', ', $serverIds) . ': ' . $log->mask($e instanceof ModuleError
                    ? $e->getMessage() : get_class($e) . ': ' . $e->getMessage());
                continue;
            }
            foreach ($changes as $serviceId => $fields) {
                try {
                    $this->localApi->updateService($serviceId, $fields);
                    $updated++;
                } catch (ModuleError $e) {
                    $errors[] = 'service ' . $serviceId . ': ' . $e->getMessage();
                }
            }
        }
        return ['updated' => $updated, 'errors' => $errors];
    }

    /**
     * The WHMCS-managed instances of one namespace, in one LIST.
     *
     * @return list<array<mixed>>
     */
    public function instances(ClusterSettings $settings, ModuleLog $log): array
    {
        $kube = new KubeClient(($this->transportFor)($settings), $log);
        return $this->api->managedInstances($kube, $settings->namespace);
    }

    /**
     * Server records grouped by the namespace they point at (API URL + namespace; WHMCS's server ids
     * differ, the namespace's instances do not). A record whose settings are invalid stays alone, so
     * its error is reported under its own id.
     *
     * @param list<array<string, mixed>> $servers
     * @return list<non-empty-list<array<string, mixed>>>
     */
    public static function byNamespace(array $servers): array
    {
        $groups = [];
        foreach ($servers as $index => $server) {
            try {
                $settings = ClusterSettings::fromParams($server);
                $key = $settings->apiUrl . ' ' . $settings->namespace;
            } catch (Throwable) {
                $key = 'invalid ' . $index;
            }
            $groups[$key][] = $server;
        }
        return array_values($groups);
    }

    /**
     * What to write into which service. Pure. Only services of this server are touched (the label alone
     * could match another WHMCS installation sharing the namespace), addresses not yet known are left
     * alone instead of being blanked, and an admin's own domain is never overwritten.
     *
     * @param list<array<mixed>> $instances
     * @param array<int, array{dedicatedip: string, assignedips: string, domain: string}> $services
     * @return array<int, array<string, string>>
     */
    public static function plan(array $instances, array $services): array
    {
        $changes = [];
        foreach ($instances as $instance) {
            $serviceId = self::serviceId($instance);
            if (!isset($services[$serviceId])) {
                continue;
            }
            $status = InstanceStatus::of($instance);
            $current = $services[$serviceId];
            $fields = [];
            if ($status->primaryIp() !== '') {
                if ($status->primaryIp() !== $current['dedicatedip']) {
                    $fields['dedicatedip'] = $status->primaryIp();
                }
                $assigned = implode("\n", $status->otherIps());
                if ($assigned !== trim(str_replace("\r\n", "\n", $current['assignedips']))) {
                    $fields['assignedips'] = $assigned;
                }
            }
            if ($current['domain'] === '' && $status->hostname !== '') {
                $fields['domain'] = $status->hostname;
            }
            if ($fields !== []) {
                $changes[$serviceId] = $fields;
            }
        }
        return $changes;
    }

    /**
     * The WHMCS service id an instance was created for (its label), 0 if none.
     *
     * @param array<mixed> $instance
     */
    public static function serviceId(array $instance): int
    {
        $label = $instance['metadata']['labels'][InstanceApi::LABEL_SERVICE_ID] ?? null;
        return is_string($label) && preg_match('/^[1-9][0-9]{0,17}$/', $label) === 1 ? (int) $label : 0;
    }
}
