<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/**
 * UsageUpdate: disk and bandwidth per service, from what the operator reports in `status.usage`
 * (bytes, Hetzner's own figures: `diskUsedBytes`, `diskLimitBytes`, `outgoingTrafficBytes`,
 * `includedTrafficBytes`). WHMCS stores megabytes in tblhosting. A counter the operator does not
 * report is left out rather than written as zero, so WHMCS never shows a made-up figure.
 */
final class UsageReport
{
    /** status.usage field => tblhosting column */
    public const COLUMNS = [
        'diskUsedBytes' => 'diskusage',
        'diskLimitBytes' => 'disklimit',
        'outgoingTrafficBytes' => 'bwusage',
        'includedTrafficBytes' => 'bwlimit',
    ];

    /**
     * Pure: service id => tblhosting columns (MB). Only services of this server are written.
     *
     * @param list<array<mixed>> $instances
     * @param list<int> $serviceIds the services WHMCS has on this server
     * @return array<int, array<string, int>>
     */
    public static function plan(array $instances, array $serviceIds): array
    {
        $rows = [];
        foreach ($instances as $instance) {
            $serviceId = StatusSync::serviceId($instance);
            if (!in_array($serviceId, $serviceIds, true)) {
                continue;
            }
            $usage = InstanceStatus::of($instance)->usage;
            $columns = [];
            foreach (self::COLUMNS as $field => $column) {
                if (isset($usage[$field])) {
                    $columns[$column] = intdiv($usage[$field], 1024 * 1024);
                }
            }
            if ($columns !== []) {
                $rows[$serviceId] = $columns;
            }
        }
        return $rows;
    }
}
