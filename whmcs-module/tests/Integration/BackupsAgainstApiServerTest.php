<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Integration;

use PHPUnit\Framework\Attributes\Group;
use WHMCS\Module\Server\OpenClaw\CustomerActions;
use WHMCS\Module\Server\OpenClaw\Tests\Support\IntegrationTestCase;

/**
 * Backups against the real kube-apiserver and the real CRD, with the least-privilege WHMCS token:
 * spec.backup from the product, refusals naming the field, "Back up now", the list from status.backups,
 * "Restore this backup" (spec.restoreFrom) and the final-backup annotation at Terminate. The operator is
 * not running here: status is written as it would write it (tests/whmcs/test_end_to_end.py runs it).
 *
 * @group integration
 */
#[Group('integration')]
final class BackupsAgainstApiServerTest extends IntegrationTestCase
{
    private const BACKUP_ID = '20261204T010000Z';

    public function testThePlanIsStoredAndABadOneIsRefusedNamingTheField(): void
    {
        $id = self::newServiceId();
        $plan = ['configoptions' => ['Backup Plan' => 'Daily:14|Daily backups, keep 14']];
        self::assertSame('success', openclaw_CreateAccount($this->cluster->params($id, $plan)));
        $this->generatedToken();
        $spec = $this->cluster->read($this->cluster->instancePath($id))['spec'];
        self::assertSame(['retain' => 14, 'schedule' => 'Daily'], self::sorted($spec['backup']));

        $refusals = [
            'retain out of range' => [['configoption12' => '500'], 'field spec.backup.retain: ',
                'backup.retain must be between 1 and 90'],
            // Server-side apply answers a type mismatch with HTTP 500, naming the field its own way.
            'retain not a number' => [['configoption12' => 'seven'], ': .spec.backup.retain: ', 'expected numeric'],
            'unknown schedule' => [['configoption11' => 'Hourly'], 'field spec.backup.schedule: ', '"Daily"'],
        ];
        foreach ($refusals as $why => [$settings, $field, $detail]) {
            $result = openclaw_ChangePackage($this->cluster->params($id, $settings));
            self::assertStringContainsString('rejected OpenClawInstance', $result, $why);
            self::assertStringContainsString($field, $result, $why);
            self::assertStringContainsString($detail, $result, $why);
        }
        $spec = $this->cluster->read($this->cluster->instancePath($id))['spec'];
        self::assertSame(['retain' => 14, 'schedule' => 'Daily'], self::sorted($spec['backup']), 'left as it was');
    }

    public function testBackUpNowListRestoreAndTheirResultsFromStatus(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        self::assertSame('success', openclaw_CreateAccount($params));
        $params['password'] = $this->generatedToken();
        $name = 'whmcs-' . $id;
        $this->writeStatus($id, ['phase' => 'Running', 'conditions' => [self::ready()]]);

        self::assertSame('success', openclaw_backupnow($params));
        $instance = $this->cluster->read($this->cluster->instancePath($id));
        $requested = $instance['metadata']['annotations']['clawhost.dev/backup-requested-at'];
        $backup = ['id' => self::BACKUP_ID, 'takenAt' => '2026-12-04T01:00:05Z', 'sizeBytes' => 48 * 1024 ** 2,
            'sha256' => str_repeat('c', 64), 'openclawVersion' => '2026.9.5', 'kind' => 'OnDemand',
            'key' => 'instances/' . $this->cluster->namespace . '/' . $name . '/uid/' . self::BACKUP_ID . '.tar.gz'];
        $this->writeStatus($id, ['lastHandledBackupAt' => $requested, 'backups' => [$backup]]);
        $vars = openclaw_ClientArea($params)['templateVariables'];
        self::assertSame([['label' => 'Backup', 'state' => 'done', 'requestedAt' => $requested]], $vars['requests']);
        self::assertSame([['id' => self::BACKUP_ID, 'takenAt' => '2026-12-04T01:00:05Z', 'size' => '48.0 MiB',
            'kind' => 'On demand', 'restorable' => true]], $vars['backups']);

        // Restore: spec.restoreFrom on the service's own instance, accepted by the CRD's rules.
        $form = ['openclaw_backup' => self::BACKUP_ID];
        self::assertSame('success', CustomerActions::restoreBackup($params, $form));
        $spec = $this->cluster->read($this->cluster->instancePath($id))['spec'];
        self::assertSame(['backup' => self::BACKUP_ID, 'instance' => $name], self::sorted($spec['restoreFrom']));
        self::assertSame('pending', openclaw_ClientArea($params)['templateVariables']['restoreState']);
        $this->writeStatus($id, ['restoredFrom' => ['instance' => $name, 'backup' => self::BACKUP_ID,
            'id' => self::BACKUP_ID, 'sha256' => $backup['sha256'], 'at' => '2026-12-04T01:05:00Z']]);
        self::assertSame('done', openclaw_ClientArea($params)['templateVariables']['restoreState']);
        self::assertStringStartsWith('This backup is the one restored last', CustomerActions::restoreBackup(
            $params,
            $form,
        ));

        // A listed entry whose id the CRD refuses: the apiserver's refusal names the field.
        $this->writeStatus($id, ['backups' => [['id' => 'not-an-id'] + $backup]]);
        $refused = CustomerActions::restoreBackup($params, ['openclaw_backup' => 'not-an-id']);
        self::assertStringContainsString('field spec.restoreFrom.backup: ', $refused);
        self::assertStringContainsString('restoreFrom.backup must be latest or a backup id', $refused);
    }

    public function testTerminateSetsTheFinalBackupAnnotationBeforeDeleting(): void
    {
        foreach (['Skip' => 'true', 'Keep' => null] as $setting => $annotation) {
            $id = self::newServiceId();
            $params = $this->cluster->params($id, ['configoption13' => $setting]);
            self::assertSame('success', openclaw_CreateAccount($params));
            $this->holdWithFinalizer($id);
            self::assertSame('success', openclaw_TerminateAccount($params));
            $deleted = $this->cluster->read($this->cluster->instancePath($id));
            self::assertArrayHasKey('deletionTimestamp', $deleted['metadata']);
            self::assertSame(
                $annotation,
                $deleted['metadata']['annotations']['clawhost.dev/skip-final-backup'] ?? null,
                $setting,
            );
            $this->holdWithFinalizer($id, false);
            self::assertSame('success', openclaw_TerminateAccount($params), 'gone: counts as terminated');
        }
    }

    /** A finalizer as the operator's keeps a deleted instance readable; null lets it go. */
    private function holdWithFinalizer(int $id, bool $hold = true): void
    {
        $patched = $this->cluster->asVerifier(
            'PATCH',
            $this->cluster->instancePath($id),
            (string) json_encode(['metadata' => ['finalizers' => $hold ? ['clawhost.dev/test-hold'] : null]]),
            'application/merge-patch+json',
        );
        self::assertSame(200, $patched->status, $patched->body);
    }

    /**
     * @param array<mixed> $map
     * @return array<mixed>
     */
    private static function sorted(array $map): array
    {
        ksort($map);
        return $map;
    }
}
