<?php

/**
 * Cron hook of the openclaw module: after every WHMCS cron run, copy the addresses the operator
 * observed into the services (dedicated IP, assigned IPs, empty domains). A hook must never break
 * the cron, so every failure ends up in the Activity Log instead of propagating.
 */

declare(strict_types=1);

// WHMCS requires this file to declare its functions AND guard against direct access (plus load the
// classes), which PSR-1's "symbols or side effects" rule cannot express; it is relaxed here only.
// phpcs:disable PSR1.Files.SideEffects

use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;
use WHMCS\Module\Server\OpenClaw\Whmcs\StatusSync;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/autoload.php';

/**
 * @param array<mixed> $vars
 * @return array{updated: int, errors: list<string>}
 */
function hook_openclaw_sync_status(array $vars = []): array
{
    try {
        $sync = new StatusSync(
            Runtime::directory(),
            new LocalApi(),
            Runtime::transportFactory(),
            InstanceApi::fromEnvironment(),
        );
        $summary = $sync->run();
    } catch (Throwable $e) {
        $summary = ['updated' => 0, 'errors' => ['status sync could not start: ' . get_class($e)]];
    }
    if ($summary['errors'] !== [] && function_exists('logActivity')) {
        logActivity('OpenClaw status sync: ' . implode('; ', array_slice($summary['errors'], 0, 10)));
    }
    return $summary;
}

add_hook('AfterCronJob', 1, 'hook_openclaw_sync_status');
