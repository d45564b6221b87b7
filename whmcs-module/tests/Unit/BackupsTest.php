<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use WHMCS\Module\Server\OpenClaw\CustomerActions;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\View\Backups;

/**
 * Backups in the module: the product's plan in spec.backup, "Back up now", the list from status.backups
 * in the client area and admin tab, "Restore this backup" (spec.restoreFrom) and the final backup at
 * Terminate. Request by request against the in-memory API server; tests/Integration does it against
 * kube-apiserver.
 */
final class BackupsTest extends ModuleTestCase
{
    private const INSTANCE = '/apis/clawhost.dev/v1alpha1/namespaces/clawhost/openclawinstances/whmcs-42';
    private const NEWER = '20261204T010000Z';
    private const OLDER = '20261203T010000Z';

    /** @return array<string, array{0: array<string, mixed>, 1: array{schedule: string, retain: int|string}}> */
    public static function plans(): array
    {
        return [
            'nothing set: off, keep 7' => [[], ['schedule' => 'Off', 'retain' => 7]],
            'module settings' => [
                ['configoption11' => 'Weekly', 'configoption12' => '4'],
                ['schedule' => 'Weekly', 'retain' => 4],
            ],
            'configurable option "Backup Plan" wins' => [
                ['configoption11' => 'Weekly', 'configoptions' => ['Backup Plan' => 'daily:14|Daily backups, keep 14']],
                ['schedule' => 'Daily', 'retain' => 14],
            ],
            'a plan without a retention keeps the setting' => [
                ['configoption12' => '3', 'configoptions' => ['Backup Plan' => 'Daily|Daily backups']],
                ['schedule' => 'Daily', 'retain' => 3],
            ],
            'configurable options per field' => [
                ['configoptions' => ['Backup Schedule' => 'Weekly|Weekly', 'Backup Retention' => '2|keep 2']],
                ['schedule' => 'Weekly', 'retain' => 2],
            ],
            // Not judged here: the apiserver refuses it naming spec.backup.retain (tests/Integration).
            'a retention that is no number goes as typed' => [
                ['configoption12' => 'seven'],
                ['schedule' => 'Off', 'retain' => 'seven'],
            ],
        ];
    }

    /**
     * @dataProvider plans
     * @param array<string, mixed> $settings
     * @param array{schedule: string, retain: int|string} $expected
     */
    #[DataProvider('plans')]
    public function testTheProductsPlanBecomesSpecBackup(array $settings, array $expected): void
    {
        self::assertSame('success', openclaw_CreateAccount(self::params($settings)));
        self::assertSame($expected, $this->api->objects[self::INSTANCE]['spec']['backup']);
        $options = ProductOptions::fromParams(self::params($settings));
        self::assertSame($expected, ['schedule' => $options->backupSchedule, 'retain' => $options->backupRetain]);
    }

    public function testBackUpNowSetsItsRequestAndIsRefusedWhileSuspended(): void
    {
        openclaw_CreateAccount(self::params());
        self::assertSame('success', openclaw_backupnow(self::params()));
        $requested = $this->api->objects[self::INSTANCE]['metadata']['annotations']['clawhost.dev/backup-requested-at'];
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/', $requested);
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus();
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame([['label' => 'Backup', 'state' => 'pending', 'requestedAt' => $requested]], $vars['requests']);
        $this->api->objects[self::INSTANCE]['status']['lastHandledBackupAt'] = $requested;
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('done', $vars['requests'][0]['state']);

        openclaw_SuspendAccount(self::params());
        self::assertSame(
            'The instance is suspended; it can be backed up once it is running again.',
            openclaw_backupnow(self::params()),
        );
    }

    public function testTheClientAreaListsTheBackupsNewestFirstWithSizeAndKind(): void
    {
        openclaw_CreateAccount(self::params(['configoption11' => 'Daily']));
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => self::backups()];
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('Daily, keep 7', $vars['backupSchedule']);
        self::assertSame([
            ['id' => self::NEWER, 'takenAt' => '2026-12-04T01:00:00Z', 'size' => '1.5 GiB', 'kind' => 'On demand',
                'restorable' => true],
            ['id' => self::OLDER, 'takenAt' => '2026-12-03T01:00:00Z', 'size' => '512.0 KiB', 'kind' => 'Scheduled',
                'restorable' => true],
        ], $vars['backups']);
        self::assertSame('', $vars['restoreState']);
        self::assertSame('', $vars['backupProblem']);
        self::assertSame('', $vars['backupInProgress']);
        $this->api->objects[self::INSTANCE]['status']['backupInProgress'] = ['id' => '20261204T020000Z',
            'kind' => 'OnDemand', 'startedAt' => '2026-12-04T02:00:00Z'];
        self::assertSame('On demand', openclaw_ClientArea(self::params())['templateVariables']['backupInProgress']);
        self::assertStringContainsString(
            'In progress: OnDemand backup',
            openclaw_AdminServicesTabFields(self::params())['Backups'],
        );
        self::assertStringNotContainsString('s3-key', (string) json_encode($vars), 'the bucket key is not shown');
    }

    public function testAFailedBackupIsShownWithTheOperatorsReason(): void
    {
        openclaw_CreateAccount(self::params());
        $status = self::readyStatus();
        $status['conditions'][] = ['type' => 'BackedUp', 'status' => 'False', 'reason' => 'BackupUploadFailed',
            'message' => 'the upload to the bucket failed (HTTP 503)', 'lastTransitionTime' => '2026-12-04T01:00:00Z'];
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('the upload to the bucket failed (HTTP 503)', $vars['backupProblem']);
        self::assertStringContainsString(
            'Last attempt failed: the upload to the bucket failed (HTTP 503)',
            openclaw_AdminServicesTabFields(self::params())['Backups'],
        );
    }

    public function testRestoreThisBackupPatchesRestoreFromOfTheOwnInstance(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => self::backups()];
        $before = count($this->transport->requests ?? []);
        self::assertSame('success', CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::OLDER]));
        $patch = array_slice($this->transport->requests ?? [], $before)[1];
        self::assertSame('application/merge-patch+json', $patch->contentType);
        self::assertSame(
            ['spec' => ['restoreFrom' => ['instance' => 'whmcs-42', 'backup' => self::OLDER]]],
            FakeTransport::body($patch),
            'always the service\'s own instance: the form names only the backup',
        );

        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('pending', $vars['restoreState']);
        self::assertSame(self::OLDER, $vars['restoreBackup']);
        self::assertFalse($vars['backups'][0]['restorable'], 'one restore at a time');
        self::assertSame(
            'A restore is already in progress; wait until it is done.',
            CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::NEWER]),
        );

        $this->api->objects[self::INSTANCE]['status']['restoredFrom'] = ['instance' => 'whmcs-42',
            'backup' => self::OLDER, 'sha256' => str_repeat('a', 64), 'at' => '2026-12-04T02:00:00Z'];
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('done', $vars['restoreState']);
        self::assertTrue($vars['backups'][0]['restorable']);
        self::assertSame(
            'This backup is the one restored last; choose another one.',
            CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::OLDER]),
        );
        self::assertSame('success', CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => 'latest']));
        self::assertSame('pending', openclaw_ClientArea(self::params())['templateVariables']['restoreState']);
        // The operator records "latest" as it was asked for, beside the id it resolved it to.
        $this->api->objects[self::INSTANCE]['status']['restoredFrom'] = ['instance' => 'whmcs-42',
            'backup' => 'latest', 'id' => self::NEWER, 'at' => '2026-12-04T03:00:00Z'];
        self::assertSame('done', openclaw_ClientArea(self::params())['templateVariables']['restoreState']);
    }

    public function testARestoreTheOperatorRefusedCanBeFollowedByAnotherBackup(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => self::backups()];
        self::assertSame('success', CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::OLDER]));
        // What the operator writes when its agent refuses the archive: Stalled, Ready False, frozen.
        $why = 'spec.restoreFrom: OpenClaw refused the archive, nothing was changed: not a valid OpenClaw backup';
        $this->api->objects[self::INSTANCE]['status'] = ['phase' => 'Failed', 'backups' => self::backups(),
            'conditions' => [
                ['type' => 'Ready', 'status' => 'False', 'reason' => 'RestoreFailed', 'message' => $why],
                ['type' => 'Stalled', 'status' => 'True', 'reason' => 'RestoreFailed', 'message' => $why],
            ]];
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertSame('failed', $vars['restoreState']);
        self::assertTrue($vars['backups'][0]['restorable'], 'the gateway runs on its previous state');
        self::assertStringContainsString(
            'Restore from whmcs-42 / ' . self::OLDER . ': failed (' . $why . ')',
            openclaw_AdminServicesTabFields(self::params())['Backups'],
        );
        self::assertSame(
            'This backup could not be restored; choose another one.',
            CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::OLDER]),
        );
        self::assertSame('success', CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::NEWER]));
        self::assertSame(
            ['instance' => 'whmcs-42', 'backup' => self::NEWER],
            $this->api->objects[self::INSTANCE]['spec']['restoreFrom'],
        );
    }

    /** @return array<string, array{0: mixed, 1: string}> */
    public static function badRestores(): array
    {
        return [
            'no backup chosen' => ['', 'Choose the backup to restore.'],
            'not a string' => [['x'], 'Choose the backup to restore.'],
            'a backup the instance does not list' => ['20200101T000000Z', 'There is no backup "20200101T000000Z"'],
            'a hostile value is clipped, not echoed whole' => [str_repeat('<x>', 100), 'There is no backup "<x><x>'],
        ];
    }

    /** @dataProvider badRestores */
    #[DataProvider('badRestores')]
    public function testARestoreOfSomethingNotListedIsRefused(mixed $backup, string $expected): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => self::backups()];
        $result = CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => $backup]);
        self::assertStringStartsWith($expected, $result);
        self::assertLessThan(120, strlen($result));
        self::assertArrayNotHasKey('restoreFrom', $this->api->objects[self::INSTANCE]['spec']);
    }

    public function testARestoreOfASuspendedInstanceIsRefused(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => self::backups()];
        openclaw_SuspendAccount(self::params());
        self::assertStringStartsWith(
            'The instance is suspended',
            CustomerActions::restoreBackup(self::params(), ['openclaw_backup' => self::NEWER]),
        );
        self::assertFalse(openclaw_ClientArea(self::params())['templateVariables']['backups'][0]['restorable']);
    }

    /** @return array<string, array{0: string, 1: string|null}> */
    public static function terminations(): array
    {
        return [
            'default: the operator keeps a final backup' => ['', null],
            'Keep' => ['Keep', null],
            'Skip: the annotation says so before the delete' => ['Skip', 'true'],
        ];
    }

    /** @dataProvider terminations */
    #[DataProvider('terminations')]
    public function testTerminateTellsTheOperatorAboutTheFinalBackupThenDeletes(string $setting, ?string $skip): void
    {
        $params = self::params(['configoption13' => $setting]);
        openclaw_CreateAccount($params);
        $before = count($this->transport->requests ?? []);
        self::assertSame('success', openclaw_TerminateAccount($params));
        [$patch, $delete] = array_slice($this->transport->requests ?? [], $before);
        self::assertSame(['PATCH', 'DELETE'], [$patch->method, $delete->method]);
        self::assertSame(
            ['metadata' => ['annotations' => ['clawhost.dev/skip-final-backup' => $skip]]],
            FakeTransport::body($patch),
        );
        self::assertArrayNotHasKey(self::INSTANCE, $this->api->objects);
    }

    public function testTheAdminTabListsEveryBackupEscaped(): void
    {
        openclaw_CreateAccount(self::params());
        $backups = self::backups();
        $backups[0]['openclawVersion'] = '<b>2026.9.5</b>';
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => $backups];
        $this->api->objects[self::INSTANCE]['spec']['restoreFrom'] = ['instance' => 'whmcs-42', 'backup' => 'latest'];
        $tab = openclaw_AdminServicesTabFields(self::params())['Backups'];
        self::assertStringContainsString('Schedule: Off', $tab);
        self::assertStringContainsString('Restore from whmcs-42 / latest: pending', $tab);
        self::assertStringContainsString(
            '2026-12-04T01:00:00Z OnDemand 1.5 GiB (id ' . self::NEWER . ', OpenClaw &lt;b&gt;2026.9.5&lt;/b&gt;, '
                . 'sha256 aaaaaaaaaaaa)',
            $tab,
        );
        self::assertStringNotContainsString('<b>', $tab);
    }

    /** @return array<string, array{0: int|null, 1: string}> */
    public static function sizes(): array
    {
        return [
            'unknown' => [null, 'unknown'],
            'bytes' => [900, '900 B'],
            'KiB' => [1536, '1.5 KiB'],
            'GiB' => [3 * 1024 ** 3, '3.0 GiB'],
            'TiB is the largest unit' => [5 * 1024 ** 5, '5,120.0 TiB'],
        ];
    }

    /** @dataProvider sizes */
    #[DataProvider('sizes')]
    public function testSizesAreReadable(?int $bytes, string $expected): void
    {
        self::assertSame($expected, Backups::size($bytes));
    }

    /** @return list<array<string, mixed>> */
    public static function backups(): array
    {
        return [
            ['id' => self::NEWER, 'takenAt' => '2026-12-04T01:00:00Z', 'sizeBytes' => 1536 * 1024 ** 2,
                'sha256' => str_repeat('a', 64), 'openclawVersion' => '2026.9.5', 'kind' => 'OnDemand',
                'key' => 'instances/clawhost/whmcs-42/uid/s3-key.tar.gz'],
            ['id' => self::OLDER, 'takenAt' => '2026-12-03T01:00:00Z', 'sizeBytes' => 512 * 1024,
                'sha256' => str_repeat('b', 64), 'openclawVersion' => '2026.9.5', 'kind' => 'Scheduled',
                'key' => 'instances/clawhost/whmcs-42/uid/s3-key-2.tar.gz'],
        ];
    }

    /** @return array<string, mixed> */
    public static function readyStatus(): array
    {
        return [
            'phase' => 'Running',
            'url' => 'https://whmcs-42.claw.example.com/',
            'conditions' => [['type' => 'Ready', 'status' => 'True', 'reason' => 'Ready', 'message' => 'ok',
                'lastTransitionTime' => '2026-12-04T00:00:00Z']],
        ];
    }
}
