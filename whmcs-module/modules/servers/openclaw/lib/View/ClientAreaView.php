<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;

/**
 * The variables the customer's product page template (templates/overview.tpl) renders. Values are
 * raw; the template escapes them.
 */
final class ClientAreaView
{
    /** Conditions a customer can follow while the instance comes up, in the order they happen. */
    private const PROGRESS = ['ServerReady' => 'Server', 'DNSReady' => 'DNS', 'AppReady' => 'OpenClaw'];

    /** Request annotations the customer can follow, with what the page calls them. */
    private const REQUESTS = [
        InstanceApi::REBOOT_REQUESTED_AT => 'Reboot',
        InstanceApi::REINSTALL_REQUESTED_AT => 'Reinstall',
        InstanceApi::APPROVE_DEVICES_REQUESTED_AT => 'Device approval',
        InstanceApi::BACKUP_REQUESTED_AT => 'Backup',
    ];

    /**
     * @param bool $hibernateAllowed the product lets customers hibernate
     * @param bool $serviceActive WHMCS has the service Active (not suspended for billing)
     * @return array<string, mixed>
     */
    public static function variables(
        ?InstanceStatus $status,
        string $gatewayToken,
        bool $hibernateAllowed = false,
        bool $serviceActive = true,
    ): array {
        if ($status === null) {
            return ['instanceExists' => false, 'gatewayToken' => ''];
        }
        $progress = [];
        foreach (self::PROGRESS as $type => $label) {
            $progress[] = ['label' => $label, 'state' => self::conditionState($status, $type)];
        }
        return [
            'instanceExists' => true,
            'phase' => $status->phase,
            'ready' => $status->ready === true,
            'statusLabel' => self::statusLabel($status),
            'message' => $status->message,
            'hostname' => $status->hostname,
            // Only an https link becomes clickable: status is written by another program.
            'url' => preg_match('#^https://#i', $status->url) === 1 ? $status->url : '',
            'ipv4' => $status->ipv4,
            'ipv6' => $status->ipv6,
            'progress' => $progress,
            'actions' => self::actions($status, $hibernateAllowed && $serviceActive),
            'hibernated' => $status->hibernated(),
            'requests' => self::requests($status),
            'billing' => self::billing($status),
            'credentials' => self::credentials($status),
            'providers' => array_keys(CustomerSecrets::PROVIDERS),
            'backupSchedule' => $status->backups->scheduleText(),
            'backups' => self::backups($status),
            'backupProblem' => $status->failing('BackedUp'),
            'backupInProgress' => self::words($status->backups->inProgress),
            'restoreState' => $status->backups->restoreState(),
            'restoreBackup' => $status->backups->restoreWanted['backup'] ?? '',
            'canOpenControlUi' => $status->ready === true && $status->url !== '' && $gatewayToken !== '',
            // Shown only when it is the token the instance uses; WHMCS decrypts it into $params.
            'gatewayToken' => $gatewayToken,
        ];
    }

    /**
     * The buttons the page offers now (each function re-checks on the server).
     *
     * @return list<array{function: string, label: string, confirm: string}>
     */
    private static function actions(InstanceStatus $status, bool $mayHibernate): array
    {
        $running = $status->ready === true && !$status->suspended && !$status->deleting;
        $offered = [
            ['reboot', 'Reboot', 'Reboot the OpenClaw server now?', $running],
            ['approvedevices', 'Approve my device', 'Approve the devices waiting to pair with your gateway?', $running],
            ['backupnow', 'Back up now', 'Back up the instance now?', $running],
            ['reinstall', 'Reinstall', 'Reinstall the server from scratch? Data on it is lost.',
                !$status->suspended && !$status->deleting],
            ['hibernate', 'Hibernate', 'Hibernate the instance? It stops until you wake it.',
                $mayHibernate && !$status->suspended && !$status->deleting],
            ['wake', 'Wake', 'Wake the instance?',
                $mayHibernate && $status->hibernated() && $status->customerHibernated && !$status->deleting],
        ];
        $actions = [];
        foreach ($offered as [$function, $label, $confirm, $available]) {
            if ($available) {
                $actions[] = ['function' => $function, 'label' => $label, 'confirm' => $confirm];
            }
        }
        return $actions;
    }

    /**
     * The backups, newest first, each restorable while the instance runs (or a restore failed) and no
     * restore is pending.
     *
     * @return list<array{id: string, takenAt: string, size: string, kind: string, restorable: bool}>
     */
    private static function backups(InstanceStatus $status): array
    {
        // A refused restore leaves Ready False (Stalled) on a gateway that runs on its previous state.
        $state = $status->backups->restoreState();
        $restorable = ($status->ready === true || $state === 'failed') && !$status->suspended && !$status->deleting
            && $state !== 'pending';
        $rows = [];
        foreach ($status->backups->entries as $backup) {
            $rows[] = [
                'id' => $backup['id'],
                'takenAt' => $backup['takenAt'],
                'size' => Backups::size($backup['sizeBytes']),
                'kind' => self::words($backup['kind']),
                'restorable' => $restorable,
            ];
        }
        return $rows;
    }

    /** @return list<array{label: string, state: string, requestedAt: string}> */
    private static function requests(InstanceStatus $status): array
    {
        $rows = [];
        foreach (self::REQUESTS as $annotation => $label) {
            $state = $status->requestState($annotation);
            if ($state !== '') {
                $rows[] = ['label' => $label, 'state' => $state,
                    'requestedAt' => $status->requests[$annotation]['requested']];
            }
        }
        return $rows;
    }

    /** @return list<array{label: string, value: string}> what the operator says is being paid for now */
    private static function billing(InstanceStatus $status): array
    {
        $rows = [];
        foreach ($status->billing as $key => $value) {
            $rows[] = ['label' => self::words($key), 'value' => $value];
        }
        return $rows;
    }

    /** @return list<array{label: string, configured: bool}> which credentials are stored (never their values) */
    private static function credentials(InstanceStatus $status): array
    {
        $rows = [];
        foreach (CustomerSecrets::PROVIDERS as $provider => $env) {
            if (in_array($env, $status->envNames, true)) {
                $rows[] = ['label' => ucfirst($provider) . ' API key', 'configured' => true];
            }
        }
        foreach (CustomerSecrets::CHANNEL_FIELDS as $field => $env) {
            $rows[] = ['label' => $field, 'configured' => in_array($env, $status->envNames, true)];
        }
        return $rows;
    }

    /** camelCase names become words: snapshotSizeGB -> "Snapshot size gb", OnDemand -> "On demand". */
    private static function words(string $name): string
    {
        $words = preg_replace('/(?<=[a-z])(?=[A-Z])/', ' ', $name) ?? $name;
        return ucfirst(strtolower($words));
    }

    public static function statusLabel(InstanceStatus $status): string
    {
        if ($status->deleting) {
            return 'Being deleted';
        }
        if ($status->suspended) {
            return $status->hibernated() ? 'Hibernated' : 'Suspended';
        }
        if ($status->ready === true) {
            return 'Ready';
        }
        return $status->phase === 'Failed' ? 'Needs attention' : 'Setting up';
    }

    private static function conditionState(InstanceStatus $status, string $type): string
    {
        foreach ($status->conditions as $condition) {
            if ($condition['type'] === $type) {
                return match ($condition['status']) {
                    'True' => 'done',
                    'False' => 'waiting',
                    default => 'unknown',
                };
            }
        }
        return 'unknown';
    }
}
