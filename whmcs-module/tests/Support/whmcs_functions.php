<?php

/**
 * Stand-ins for the WHMCS global functions the module calls, recording into WhmcsRecorder.
 * Signatures follow WHMCS's documented ones.
 */

declare(strict_types=1);

use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

if (!defined('WHMCS')) {
    define('WHMCS', true);
}

/**
 * @param string|array<mixed> $requestString
 * @param string|array<mixed> $responseData
 * @param string|array<mixed> $processedData
 * @param array<mixed> $replaceVars
 */
function logModuleCall(
    string $module,
    string $action,
    string|array $requestString,
    string|array $responseData,
    string|array $processedData = '',
    array $replaceVars = []
): void {
    WhmcsRecorder::$moduleLog[] = [
        'module' => $module,
        'action' => $action,
        'request' => $requestString,
        'response' => $responseData,
        'processed' => $processedData,
        'replace' => $replaceVars,
    ];
}

/**
 * @param array<mixed> $arguments
 * @return array<mixed>
 */
function localAPI(string $command, array $arguments = [], ?string $adminUser = null): array
{
    WhmcsRecorder::$localApiCalls[] = ['command' => $command, 'arguments' => $arguments];
    return WhmcsRecorder::$localApiAnswers[$command] ?? ['result' => 'success'];
}

function add_hook(string $hookPoint, int $priority, mixed $callback): void
{
    WhmcsRecorder::$hooks[] = ['hook' => $hookPoint, 'priority' => $priority, 'callback' => $callback];
}

function logActivity(string $message, int $clientId = 0): void
{
    WhmcsRecorder::$activity[] = $message;
}
