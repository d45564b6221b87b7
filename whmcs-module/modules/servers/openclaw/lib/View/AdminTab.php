<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;

/**
 * The rows WHMCS shows on the admin's service tab: label => HTML. Everything from the resource is
 * escaped here, because WHMCS prints the values as they are.
 */
final class AdminTab
{
    /** @return array<string, string> */
    public static function fields(?InstanceStatus $status, string $namespace, string $name): array
    {
        $resource = InstanceApi::PLURAL . '.' . InstanceApi::GROUP;
        $kubectl = self::code('kubectl --namespace ' . $namespace . ' describe ' . $resource . ' ' . $name);
        if ($status === null) {
            return [
                'OpenClaw Instance' => self::e($namespace . '/' . $name) . ' &mdash; does not exist (not created yet, '
                    . 'or deleted)',
                'kubectl' => $kubectl,
            ];
        }
        $server = $status->serverId === null ? 'not created yet' : self::e((string) $status->serverId . ' '
            . trim($status->serverName . ' ' . $status->serverType));
        $addresses = array_filter([$status->ipv4, $status->ipv6]);
        return [
            'OpenClaw Instance' => self::e($namespace . '/' . $name) . ($status->deleting ? ' (being deleted)' : ''),
            'Phase' => self::e($status->phase . ' / Ready: ' . self::readyText($status->ready)
                . ($status->observed ? '' : ' (operator has not processed the latest change yet)')),
            'Conditions' => self::conditions($status),
            'Hetzner Server' => $server,
            'Addresses' => $addresses === [] ? 'none yet' : self::e(implode(', ', $addresses)),
            'URL' => $status->url === '' ? 'none yet' : self::link($status->url),
            'Last Message' => $status->message === '' ? '&mdash;' : self::e($status->message),
            'Suspension' => self::e(!$status->suspended ? 'not suspended' : $status->suspendMode
                . ($status->customerHibernated ? ' (hibernated by the customer)' : '')),
            'Credentials' => $status->envNames === [] ? 'none' : self::e(implode(', ', $status->envNames))
                . ' <small>(from Secrets; values are never shown)</small>',
            'Requests' => self::requests($status),
            'Backups' => self::backups($status),
            'Billing' => $status->billing === [] ? 'not reported' : self::e(implode(', ', array_map(
                static fn (string $key, string $value): string => $key . ': ' . $value,
                array_keys($status->billing),
                $status->billing,
            ))),
            'kubectl' => $kubectl,
        ];
    }

    private static function requests(InstanceStatus $status): string
    {
        $lines = [];
        foreach (array_keys(InstanceApi::HANDLED_IN_STATUS) as $annotation) {
            $state = $status->requestState($annotation);
            if ($state !== '') {
                $lines[] = self::e(substr($annotation, strlen(InstanceApi::GROUP) + 1) . ' '
                    . $status->requests[$annotation]['requested'] . ': ' . $state);
            }
        }
        return $lines === [] ? 'none' : implode('<br>', $lines);
    }

    private static function backups(InstanceStatus $status): string
    {
        $backups = $status->backups;
        $lines = ['Schedule: ' . self::e($backups->scheduleText())];
        if ($backups->inProgress !== '') {
            $lines[] = self::e('In progress: ' . $backups->inProgress . ' backup');
        }
        $problem = $status->failing('BackedUp');
        if ($problem !== '') {
            $lines[] = 'Last attempt failed: ' . self::e($problem);
        }
        if ($backups->restoreWanted !== null) {
            $lines[] = self::e('Restore from ' . $backups->restoreWanted['instance'] . ' / '
                . $backups->restoreWanted['backup'] . ': ' . $backups->restoreState()
                . ($backups->restoreRefusal !== '' ? ' (' . $backups->restoreRefusal . ')' : ''));
        }
        foreach ($backups->entries as $backup) {
            $lines[] = self::e($backup['takenAt'] . ' ' . $backup['kind'] . ' ' . Backups::size($backup['sizeBytes'])
                . ' (id ' . $backup['id'] . ', OpenClaw ' . ($backup['openclawVersion'] ?: '?') . ', sha256 '
                . substr($backup['sha256'], 0, 12) . ')');
        }
        if ($backups->entries === []) {
            $lines[] = 'none yet';
        }
        return implode('<br>', $lines);
    }

    private static function conditions(InstanceStatus $status): string
    {
        if ($status->conditions === []) {
            return 'none reported yet';
        }
        $rows = '';
        foreach ($status->conditions as $c) {
            $rows .= '<tr><td>' . self::e($c['type']) . '</td><td>' . self::e($c['status']) . '</td><td>'
                . self::e($c['reason']) . '</td><td>' . self::e($c['message']) . '</td><td>' . self::e($c['since'])
                . '</td></tr>';
        }
        return '<table class="table table-condensed"><tr><th>Type</th><th>Status</th><th>Reason</th><th>Message</th>'
            . '<th>Since</th></tr>' . $rows . '</table>';
    }

    private static function readyText(?bool $ready): string
    {
        return $ready === null ? 'unknown' : ($ready ? 'yes' : 'no');
    }

    private static function link(string $url): string
    {
        // Only web links become clickable; anything else in status is shown as text.
        if (preg_match('#^https?://#i', $url) !== 1) {
            return self::e($url);
        }
        return '<a href="' . self::e($url) . '" target="_blank" rel="noopener noreferrer">' . self::e($url) . '</a>';
    }

    private static function code(string $command): string
    {
        return '<code style="user-select: all">' . self::e($command) . '</code>';
    }

    private static function e(string $text): string
    {
        return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }
}
