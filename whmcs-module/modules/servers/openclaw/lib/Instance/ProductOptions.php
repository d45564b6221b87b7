<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\Params;

/**
 * What a product (plus the customer's configurable options) asks for: server type, location, image,
 * DNS, OpenClaw version, backups.
 *
 * The product's Module Settings give the defaults (`configoption1..N`, in the order of SETTINGS);
 * a configurable option with the same name as a setting (e.g. "Server Type") overrides it, which is
 * how upgrades and downgrades reach ChangePackage. Values are not validated against the CRD here:
 * the API server does that and names the field, so the CRD stays the only definition of "valid".
 */
final class ProductOptions
{
    /**
     * Setting => [WHMCS field definition, overridable by a configurable option of that name].
     * The order is the configoptionN order stored by WHMCS: append only, never reorder.
     */
    private const SETTINGS = [
        'Server Type' => [[
            'Type' => 'text',
            'Size' => '16',
            'Default' => 'cx23',
            'Description' => 'Hetzner Cloud server type, e.g. cx23, cpx21, cax11. Changing it resizes the server.',
            'SimpleMode' => true,
        ], true],
        'Location' => [[
            'Type' => 'dropdown',
            'Options' => [
                'fsn1' => 'Falkenstein (fsn1)',
                'nbg1' => 'Nuremberg (nbg1)',
                'hel1' => 'Helsinki (hel1)',
                'ash' => 'Ashburn, VA (ash)',
                'hil' => 'Hillsboro, OR (hil)',
                'sin' => 'Singapore (sin)',
            ],
            'Default' => 'fsn1',
            'Description' => 'Hetzner Cloud location; fixed once the instance exists.',
            'SimpleMode' => true,
        ], true],
        'Image' => [[
            'Type' => 'dropdown',
            'Options' => ['ubuntu-24.04' => 'Ubuntu 24.04', 'debian-12' => 'Debian 12', 'debian-13' => 'Debian 13'],
            'Default' => 'ubuntu-24.04',
            'Description' => 'Operating system; fixed once the instance exists (Reinstall keeps it).',
            'SimpleMode' => true,
        ], true],
        'Base Domain' => [[
            'Type' => 'text',
            'Size' => '40',
            'Default' => '',
            'Description' => 'Instances are reachable at <service label>.<base domain>, e.g. claw.example.com '
                . '(see README: "Host names").',
            'SimpleMode' => true,
        ], false],
        'DNS Zone' => [[
            'Type' => 'text',
            'Size' => '40',
            'Default' => '',
            'Description' => 'Cloudflare zone for the records. Empty: the operator picks the zone that contains '
                . 'the host name.',
        ], false],
        'OpenClaw Version' => [[
            'Type' => 'text',
            'Size' => '16',
            'Default' => '',
            'Description' => 'OpenClaw release, e.g. 2026.9.5. Empty: the operator\'s default release.',
        ], true],
        'Backups' => [[
            'Type' => 'yesno',
            'Description' => 'Enable Hetzner\'s daily backups (billed by Hetzner).',
        ], true],
        'Deletion Policy' => [[
            'Type' => 'dropdown',
            'Options' => [
                'Delete' => 'Delete the server on termination',
                'Retain' => 'Keep the server on termination',
            ],
            'Default' => 'Delete',
            'Description' => 'What termination does to the Hetzner server and DNS records.',
        ], false],
        'Suspend Mode' => [[
            'Type' => 'dropdown',
            'Options' => [
                'PowerOff' => 'Power off (the server is kept and billed by Hetzner)',
                'Hibernate' => 'Hibernate (snapshot, delete the server; only the snapshot is billed)',
            ],
            'Default' => 'PowerOff',
            'Description' => 'How a suspension for non-payment stops the instance (spec.suspendMode).',
        ], false],
        'Customer Hibernate' => [[
            'Type' => 'yesno',
            'Description' => 'Customers may hibernate and wake their instance from the client area.',
        ], true],
        'Backup Schedule' => [[
            'Type' => 'dropdown',
            'Options' => ['Off' => 'Off', 'Daily' => 'Daily', 'Weekly' => 'Weekly'],
            'Default' => 'Off',
            'Description' => 'OpenClaw backups to the operator\'s bucket (spec.backup.schedule); customers can '
                . 'also back up on demand. A configurable option "Backup Plan" (e.g. "Daily:7|Daily backups, '
                . 'keep 7") overrides this and the retention.',
        ], true],
        'Backup Retention' => [[
            'Type' => 'text',
            'Size' => '4',
            'Default' => '7',
            'Description' => 'How many scheduled backups are kept, 1 to 90 (spec.backup.retain).',
        ], true],
        'Final Backup' => [[
            'Type' => 'dropdown',
            'Options' => [
                'Keep' => 'Keep a final backup on terminate',
                'Skip' => 'No final backup on terminate',
            ],
            'Default' => 'Keep',
            'Description' => 'Whether the operator backs the instance up once more before Terminate deletes it.',
        ], false],
    ];

    /** Configurable option "<schedule>[:<retain>]" (e.g. "Daily:7|Daily backups, keep 7") setting both. */
    public const BACKUP_PLAN_OPTION = 'Backup Plan';

    /** Custom field (by name) whose lines are OpenSSH public keys for the admin user. */
    public const SSH_KEYS_FIELD = 'SSH Public Keys';

    /** @param list<string> $sshKeys */
    private function __construct(
        public readonly string $serverType,
        public readonly string $location,
        public readonly string $image,
        public readonly string $baseDomain,
        public readonly string $dnsZone,
        public readonly string $openclawVersion,
        public readonly bool $backups,
        public readonly string $deletionPolicy,
        public readonly array $sshKeys,
        public readonly string $suspendMode,
        public readonly bool $customerHibernate,
        public readonly string $backupSchedule,
        public readonly int|string $backupRetain,
        public readonly bool $finalBackup,
    ) {
    }

    /** @return array<string, array<string, mixed>> the WHMCS ConfigOptions definition */
    public static function configOptions(): array
    {
        return array_map(static fn (array $setting): array => $setting[0], self::SETTINGS);
    }

    /** @param array<mixed> $params */
    public static function fromParams(array $params): self
    {
        $value = static fn (string $name): string => self::value($params, $name);
        return new self(
            strtolower($value('Server Type')),
            strtolower($value('Location')),
            strtolower($value('Image')),
            self::domainName($value('Base Domain')),
            self::domainName($value('DNS Zone')),
            $value('OpenClaw Version'),
            Params::isYes($value('Backups')),
            $value('Deletion Policy') === 'Retain' ? 'Retain' : 'Delete',
            self::sshKeys(Params::named($params, 'customfields', self::SSH_KEYS_FIELD) ?? ''),
            $value('Suspend Mode') === 'Hibernate' ? 'Hibernate' : 'PowerOff',
            Params::isYes($value('Customer Hibernate')),
            ...self::backupPlan($params, $value('Backup Schedule'), $value('Backup Retention')),
            finalBackup: $value('Final Backup') !== 'Skip',
        );
    }

    /**
     * spec.backup from the settings, or from the "Backup Plan" configurable option. The schedule is
     * written with the CRD's capitalisation; anything else (and a retention that is not a number) goes
     * to the apiserver as typed, which refuses it naming spec.backup.schedule or spec.backup.retain.
     *
     * @param array<mixed> $params
     * @return array{backupSchedule: string, backupRetain: int|string}
     */
    private static function backupPlan(array $params, string $schedule, string $retain): array
    {
        $plan = Params::named($params, 'configoptions', self::BACKUP_PLAN_OPTION);
        if ($plan !== null && $plan !== '') {
            $parts = explode(':', trim(explode('|', $plan, 2)[0]), 2);
            $schedule = trim($parts[0]);
            $retain = isset($parts[1]) ? trim($parts[1]) : $retain;
        }
        $known = ['off' => 'Off', 'daily' => 'Daily', 'weekly' => 'Weekly'];
        $schedule = $known[strtolower($schedule)] ?? $schedule;
        $retain = $retain === '' ? '7' : $retain;
        return [
            'backupSchedule' => $schedule === '' ? 'Off' : $schedule,
            'backupRetain' => preg_match('/^[0-9]{1,9}$/', $retain) === 1 ? (int) $retain : $retain,
        ];
    }

    /**
     * The host name the instance is served at:
     * - the order's domain if it is a full name (contains a dot),
     * - "<domain>.<base domain>" if the customer entered a single label,
     * - "<resource name>.<base domain>" if the order has no domain.
     */
    public function hostname(string $orderDomain, string $resourceName): string
    {
        $domain = self::domainName($orderDomain);
        if (str_contains($domain, '.')) {
            return $domain;
        }
        if ($this->baseDomain === '') {
            throw new ModuleError(
                'No host name for this instance: the order has no domain and the product has no Base Domain. '
                . 'Set "Base Domain" in the product\'s Module Settings or require a domain on order.'
            );
        }
        return ($domain !== '' ? $domain : $resourceName) . '.' . $this->baseDomain;
    }

    /** @param array<mixed> $params */
    private static function value(array $params, string $name): string
    {
        [$field, $overridable] = self::SETTINGS[$name];
        if ($overridable) {
            $chosen = Params::named($params, 'configoptions', $name);
            if ($chosen !== null && $chosen !== '') {
                // Configurable option entries are often written "value|Label"; only the value counts.
                return trim(explode('|', $chosen, 2)[0]);
            }
        }
        $index = array_search($name, array_keys(self::SETTINGS), true) + 1;
        $configured = Params::string($params, 'configoption' . $index);
        if ($configured !== '' || ($field['Type'] ?? '') === 'yesno') {
            return $configured;
        }
        return is_string($field['Default'] ?? null) ? $field['Default'] : '';
    }

    private static function domainName(string $value): string
    {
        return strtolower(trim($value, " \t\n\r\0\x0B."));
    }

    /** @return list<string> */
    private static function sshKeys(string $field): array
    {
        $lines = array_map('trim', preg_split('/\R/', $field) ?: []);
        return array_values(array_unique(array_filter($lines, static fn (string $line): bool => $line !== '')));
    }
}
