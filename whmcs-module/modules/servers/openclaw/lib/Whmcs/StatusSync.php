<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

use Closure;
use Throwable;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\ServiceIdentity;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\KubeClient;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;
use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\ModuleLog;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/**
 * The cron job: copies what the operator observed (IP addresses, host name) into the WHMCS services,
 * so invoices, welcome e-mails and the admin's lists show them. One LIST per server, and WHMCS is
 * written only where something changed.
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
        foreach ($this->directory->servers() as $server) {
            $log = new ModuleLog('CronStatusSync');
            $log->addSecret(is_string($server['serverpassword'] ?? null) ? $server['serverpassword'] : '');
            $serverId = is_int($server['serverid'] ?? null) ? $server['serverid'] : 0;
            try {
                $settings = ClusterSettings::fromParams($server);
                $kube = new KubeClient(($this->transportFor)($settings), $log);
                $instances = $kube->list(
                    $this->api->collectionPath($settings->namespace),
                    ServiceIdentity::managedSelector(),
                    $this->api->subject($settings->namespace),
                );
                $changes = self::plan($instances, $this->directory->services($serverId));
            } catch (Throwable $e) {
                $errors[] = 'server ' . $serverId . ': ' . $log->mask($e instanceof ModuleError ? $e->getMessage()
                    : get_class($e) . ': ' . $e->getMessage());
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
            $label = $instance['metadata']['labels'][InstanceApi::LABEL_SERVICE_ID] ?? null;
            $serviceId = is_string($label) && ctype_digit($label) ? (int) $label : 0;
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
}
