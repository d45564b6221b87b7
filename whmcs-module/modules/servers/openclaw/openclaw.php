<?php

/**
 * WHMCS provisioning module "openclaw": sells managed OpenClaw instances by writing OpenClawInstance
 * resources to Kubernetes; the OpenClaw operator does the cloud work. See README.md.
 *
 * WHMCS finds these functions by name (openclaw_<Function>); each one only forwards to
 * lib/ModuleFunctions.php, where the behaviour and its reasons live.
 */

declare(strict_types=1);

// WHMCS requires this file to declare its functions AND guard against direct access (plus load the
// classes), which PSR-1's "symbols or side effects" rule cannot express; it is relaxed here only.
// phpcs:disable PSR1.Files.SideEffects

use WHMCS\Module\Server\OpenClaw\CustomerActions;
use WHMCS\Module\Server\OpenClaw\ModuleFunctions;
use WHMCS\Module\Server\OpenClaw\ServerFunctions;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/autoload.php';

/** @return array<string, mixed> */
function openclaw_MetaData(): array
{
    return ModuleFunctions::metaData();
}

/**
 * @param array<mixed> $params WHMCS passes none here in older versions
 * @return array<string, array<string, mixed>>
 */
function openclaw_ConfigOptions(array $params = []): array
{
    return ModuleFunctions::configOptions();
}

/**
 * @param array<mixed> $params
 * @return array{success: bool, error: string}
 */
function openclaw_TestConnection(array $params): array
{
    return ModuleFunctions::testConnection($params);
}

/** @param array<mixed> $params */
function openclaw_CreateAccount(array $params): string
{
    return ModuleFunctions::createAccount($params);
}

/** @param array<mixed> $params */
function openclaw_SuspendAccount(array $params): string
{
    return ModuleFunctions::suspendAccount($params);
}

/** @param array<mixed> $params */
function openclaw_UnsuspendAccount(array $params): string
{
    return ModuleFunctions::unsuspendAccount($params);
}

/** @param array<mixed> $params */
function openclaw_TerminateAccount(array $params): string
{
    return ModuleFunctions::terminateAccount($params);
}

/** @param array<mixed> $params */
function openclaw_ChangePackage(array $params): string
{
    return ModuleFunctions::changePackage($params);
}

/** @param array<mixed> $params */
function openclaw_ChangePassword(array $params): string
{
    return ModuleFunctions::changePassword($params);
}

/**
 * @param array<mixed> $params
 * @return array<string, mixed>
 */
function openclaw_ClientArea(array $params): array
{
    return ModuleFunctions::clientArea($params);
}

/**
 * @param array<mixed> $params
 * @return array<string, string>
 */
function openclaw_AdminServicesTabFields(array $params): array
{
    return ModuleFunctions::adminServicesTabFields($params);
}

/** @return array<string, string> */
function openclaw_AdminCustomButtonArray(): array
{
    return ModuleFunctions::adminCustomButtonArray();
}

/** @return array<string, string> */
function openclaw_ClientAreaCustomButtonArray(): array
{
    return ModuleFunctions::clientAreaCustomButtonArray();
}

/** @param array<mixed> $params */
function openclaw_reboot(array $params): string
{
    return ModuleFunctions::reboot($params);
}

/** @param array<mixed> $params */
function openclaw_reinstall(array $params): string
{
    return ModuleFunctions::reinstall($params);
}

/** @param array<mixed> $params */
function openclaw_resync(array $params): string
{
    return ModuleFunctions::resync($params);
}

/** @param array<mixed> $params */
function openclaw_approvedevices(array $params): string
{
    return CustomerActions::approveDevices($params);
}

/** @param array<mixed> $params */
function openclaw_hibernate(array $params): string
{
    return CustomerActions::hibernate($params);
}

/** @param array<mixed> $params */
function openclaw_wake(array $params): string
{
    return CustomerActions::wake($params);
}

/** @param array<mixed> $params */
function openclaw_backupnow(array $params): string
{
    return CustomerActions::backupNow($params);
}

/** @param array<mixed> $params */
function openclaw_restorebackup(array $params): string
{
    return CustomerActions::restoreBackup($params);
}

/** @param array<mixed> $params */
function openclaw_updatecredentials(array $params): string
{
    return CustomerActions::updateCredentials($params);
}

/** @return list<string> */
function openclaw_ClientAreaAllowedFunctions(): array
{
    return ModuleFunctions::clientAreaAllowedFunctions();
}

/**
 * @param array<mixed> $params
 * @return array{success: bool, redirectTo?: string, errorMsg?: string}
 */
function openclaw_ServiceSingleSignOn(array $params): array
{
    return CustomerActions::serviceSingleSignOn($params);
}

/**
 * @param array<mixed> $params
 * @return array{success: bool, accounts?: list<array<string, string>>, error?: string}
 */
function openclaw_ListAccounts(array $params): array
{
    return ServerFunctions::listAccounts($params);
}

/** @param array<mixed> $params */
function openclaw_UsageUpdate(array $params): string
{
    return ServerFunctions::usageUpdate($params);
}
