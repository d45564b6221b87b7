<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * The contract with WHMCS (as in WHMCS's sample module tests): which functions exist and what type
 * each returns, also when `$params` are empty and every action must fail with a message.
 */
final class ModuleShapeTest extends ModuleTestCase
{
    /** @return array<string, array{0: string}> */
    public static function actions(): array
    {
        $names = [
            'CreateAccount', 'SuspendAccount', 'UnsuspendAccount', 'TerminateAccount', 'ChangePackage',
            'ChangePassword', 'reboot', 'reinstall', 'resync', 'approvedevices', 'hibernate', 'wake',
            'updatecredentials', 'backupnow', 'restorebackup',
        ];
        return array_combine($names, array_map(static fn (string $name): array => [$name], $names));
    }

    /** @dataProvider actions */
    #[DataProvider('actions')]
    public function testActionsWithoutParamsReturnAMessage(string $function): void
    {
        $result = ('openclaw_' . $function)([]);
        self::assertIsString($result);
        self::assertNotSame('success', $result);
        // A sentence for the admin: WHMCS shows it as is.
        self::assertMatchesRegularExpression('/^[A-Z].{20,}\.$/s', $result);
    }

    /** @dataProvider actions */
    #[DataProvider('actions')]
    public function testActionsWithoutServiceIdSayWhichServiceIsMissing(string $function): void
    {
        $result = ('openclaw_' . $function)(self::params(['serviceid' => '']));
        self::assertStringContainsString('service id is missing', $result);
    }

    public function testMetaData(): void
    {
        $meta = openclaw_MetaData();
        self::assertSame('1.1', $meta['APIVersion']);
        self::assertTrue($meta['RequiresServer']);
        self::assertSame('6443', $meta['DefaultSSLPort']);
        self::assertIsString($meta['DisplayName']);
    }

    public function testConfigOptionsDescribeEveryProductSetting(): void
    {
        $options = openclaw_ConfigOptions();
        self::assertSame(
            [
                'Server Type',
                'Location',
                'Image',
                'Base Domain',
                'DNS Zone',
                'OpenClaw Version',
                'Backups',
                'Deletion Policy',
                'Suspend Mode',
                'Customer Hibernate',
                'Backup Schedule',
                'Backup Retention',
                'Final Backup',
            ],
            array_keys($options),
        );
        foreach ($options as $name => $option) {
            self::assertContains($option['Type'], ['text', 'dropdown', 'yesno'], $name);
            self::assertNotSame('', $option['Description'] ?? '', $name . ' has a description');
        }
        self::assertSame('cx23', $options['Server Type']['Default']);
        self::assertSame('fsn1', $options['Location']['Default']);
        self::assertSame(['fsn1', 'nbg1', 'hel1', 'ash', 'hil', 'sin'], array_keys($options['Location']['Options']));
        self::assertSame(['ubuntu-24.04', 'debian-12', 'debian-13'], array_keys($options['Image']['Options']));
    }

    public function testButtonsPointAtExistingFunctions(): void
    {
        self::assertSame(
            [
                'Reboot' => 'reboot',
                'Reinstall' => 'reinstall',
                'Resync' => 'resync',
                'Approve devices' => 'approvedevices',
                'Back up now' => 'backupnow',
            ],
            openclaw_AdminCustomButtonArray(),
        );
        self::assertSame(
            ['Reboot' => 'reboot', 'Approve my device' => 'approvedevices', 'Back up now' => 'backupnow'],
            openclaw_ClientAreaCustomButtonArray(),
        );
        $functions = [...openclaw_AdminCustomButtonArray(), ...openclaw_ClientAreaCustomButtonArray(),
            ...openclaw_ClientAreaAllowedFunctions()];
        foreach ($functions as $function) {
            self::assertTrue(function_exists('openclaw_' . $function), $function);
        }
    }

    public function testSingleSignOnListAccountsAndUsageUpdateFailWithAMessage(): void
    {
        $sso = openclaw_ServiceSingleSignOn([]);
        self::assertFalse($sso['success']);
        self::assertStringContainsString('No Kubernetes API server', $sso['errorMsg'] ?? '');
        $list = openclaw_ListAccounts([]);
        self::assertFalse($list['success']);
        self::assertStringContainsString('No Kubernetes API server', $list['error'] ?? '');
        self::assertSame('UsageUpdate needs the server id.', openclaw_UsageUpdate([]));
        $meta = openclaw_MetaData();
        self::assertSame('Open the Control UI', $meta['ServiceSingleSignOnLabel']);
        self::assertSame('domain', $meta['ListAccountsUniqueIdentifierField']);
    }

    public function testTestConnectionWithoutParamsFailsWithMessage(): void
    {
        $result = openclaw_TestConnection([]);
        self::assertFalse($result['success']);
        self::assertStringContainsString('No Kubernetes API server', $result['error']);
    }

    public function testClientAreaAndAdminTabReturnArraysOnFailure(): void
    {
        $client = openclaw_ClientArea([]);
        self::assertSame('templates/error.tpl', $client['tabOverviewModuleOutputTemplate']);
        self::assertIsString($client['templateVariables']['usefulErrorHelper']);
        $admin = openclaw_AdminServicesTabFields([]);
        self::assertStringContainsString('No Kubernetes API server', $admin['OpenClaw Instance']);
    }

    public function testTemplatesExist(): void
    {
        $dir = dirname(__DIR__, 2) . '/modules/servers/openclaw/';
        self::assertFileExists($dir . 'templates/overview.tpl');
        self::assertFileExists($dir . 'templates/error.tpl');
        $manifest = json_decode((string) file_get_contents($dir . 'whmcs.json'), true);
        self::assertSame('whmcs-servers', $manifest['type']);
        self::assertSame('openclaw', $manifest['name']);
    }

    public function testCronHookIsRegistered(): void
    {
        $hooks = array_column(WhmcsRecorder::$hooks, 'callback', 'hook');
        self::assertSame('hook_openclaw_sync_status', $hooks['AfterCronJob'] ?? null);
    }
}
