<?php

/**
 * Runs one module function the way WHMCS would, for tests driven from Python (tests/whmcs).
 *
 * stdin: {"function": "CreateAccount", "params": {...}} or, for the cron hook,
 *        {"hook": "AfterCronJob", "servers": {"1": {server params}}, "services": {"1": {"42": {...}}}}
 *        Any call may give "servers" and "services" (UsageUpdate, ListAccounts read them too), and
 *        "post": the client-area form WHMCS passes in $_POST (restorebackup, updatecredentials);
 *        "render": true renders a ClientArea answer's template with the real Smarty into "html".
 * stdout: {"result": <what the function returned>, "localApi": [...], "moduleLog": [...], "activity": [...],
 *          "usage": {"<server id>": {"<service id>": {tblhosting usage columns written}}}, "html": ...}
 * WHMCS's globals are the recording stand-ins of the PHPUnit bootstrap; localAPI answers "success".
 */

declare(strict_types=1);

use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeServerDirectory;
use WHMCS\Module\Server\OpenClaw\Tests\Support\SmartyPages;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

require __DIR__ . '/bootstrap.php';

$input = json_decode((string) stream_get_contents(STDIN), true, 64, JSON_THROW_ON_ERROR);
// WHMCS's server and service tables, as data: the cron hook and the per-server functions read them.
$services = [];
foreach ($input['services'] ?? [] as $serverId => $byService) {
    foreach ($byService as $serviceId => $fields) {
        $services[(int) $serverId][(int) $serviceId] = $fields;
    }
}
$servers = [];
foreach ($input['servers'] ?? [] as $serverId => $server) {
    $servers[(int) $serverId] = $server;
}
$_POST = $input['post'] ?? [];
$directory = new FakeServerDirectory($servers, $services);
Runtime::use(null, $directory);
if (isset($input['hook'])) {
    $result = hook_openclaw_sync_status([]);
} else {
    $function = 'openclaw_' . $input['function'];
    $result = $function($input['params'] ?? []);
}
$html = null;
if (($input['render'] ?? false) && is_array($result) && isset($result['tabOverviewModuleOutputTemplate'])) {
    $html = SmartyPages::clientArea($result, ['serviceid' => (int) ($input['params']['serviceid'] ?? 0),
        'token' => 'csrf-token-value']);
}

echo json_encode([
    'result' => $result,
    'localApi' => WhmcsRecorder::$localApiCalls,
    'moduleLog' => WhmcsRecorder::$moduleLog,
    'activity' => WhmcsRecorder::$activity,
    'usage' => $directory->usage,
    'html' => $html,
], JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR), "\n";
