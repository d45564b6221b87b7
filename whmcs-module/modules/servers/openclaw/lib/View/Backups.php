<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

/**
 * The instance's backups as the operator reports them (status.backups, newest first), the schedule it
 * follows (spec.backup) and the restore asked for (spec.restoreFrom) against the one done
 * (status.restoredFrom). Read defensively: status is written by another program.
 */
final class Backups
{
    /** spec.restoreFrom.backup value meaning "the newest backup of that instance". */
    public const LATEST = 'latest';
    /** The reason the operator stalls with when its agent refuses a backup to restore. */
    public const REFUSED = 'RestoreFailed';

    /**
     * @param list<array{id: string, takenAt: string, sizeBytes: ?int, sha256: string, openclawVersion: string,
     *     kind: string}> $entries newest first
     * @param array{instance: string, backup: string}|null $restoreWanted spec.restoreFrom
     * @param array{instance: string, backup: string, at: string}|null $restored status.restoredFrom
     * @param string $inProgress the kind of the backup being taken now (status.backupInProgress), or ''
     * @param string $restoreRefusal why the operator stalled on spec.restoreFrom (Stalled, RestoreFailed), or ''
     */
    private function __construct(
        public readonly array $entries,
        public readonly string $inProgress,
        public readonly string $schedule,
        public readonly ?int $retain,
        public readonly ?array $restoreWanted,
        public readonly ?array $restored,
        public readonly string $restoreRefusal = '',
    ) {
    }

    /**
     * @param array<mixed> $spec
     * @param array<mixed> $status
     * @param string $restoreRefusal the message of a Stalled condition with reason REFUSED, or ''
     */
    public static function of(array $spec, array $status, string $restoreRefusal = ''): self
    {
        $entries = [];
        foreach (is_array($status['backups'] ?? null) ? $status['backups'] : [] as $backup) {
            if (!is_array($backup) || !is_string($backup['id'] ?? null) || $backup['id'] === '') {
                continue;
            }
            $size = $backup['sizeBytes'] ?? null;
            $entries[] = [
                'id' => $backup['id'],
                'takenAt' => InstanceStatus::text($backup, 'takenAt'),
                'sizeBytes' => is_int($size) && $size >= 0 ? $size : null,
                'sha256' => InstanceStatus::text($backup, 'sha256'),
                'openclawVersion' => InstanceStatus::text($backup, 'openclawVersion'),
                'kind' => InstanceStatus::text($backup, 'kind'),
            ];
        }
        $plan = is_array($spec['backup'] ?? null) ? $spec['backup'] : [];
        $retain = $plan['retain'] ?? null;
        $wanted = is_array($spec['restoreFrom'] ?? null) ? $spec['restoreFrom'] : null;
        $done = is_array($status['restoredFrom'] ?? null) ? $status['restoredFrom'] : null;
        $running = is_array($status['backupInProgress'] ?? null) ? $status['backupInProgress'] : [];
        return new self(
            $entries,
            InstanceStatus::text($running, 'kind'),
            InstanceStatus::text($plan, 'schedule') ?: 'Off',
            is_int($retain) ? $retain : null,
            $wanted === null ? null : ['instance' => InstanceStatus::text($wanted, 'instance'),
                'backup' => InstanceStatus::text($wanted, 'backup') ?: self::LATEST],  // the CRD's default
            $done === null ? null : ['instance' => InstanceStatus::text($done, 'instance'),
                'backup' => InstanceStatus::text($done, 'backup'), 'at' => InstanceStatus::text($done, 'at')],
            $restoreRefusal,
        );
    }

    public function has(string $id): bool
    {
        return in_array($id, array_column($this->entries, 'id'), true);
    }

    /**
     * '' (no restore asked for), 'pending', 'failed' or 'done': the operator records the spec.restoreFrom it
     * applied in status.restoredFrom as it was ("latest" stays "latest"), and applies each distinct value
     * once. 'failed': the operator's agent refused that backup and the instance runs on its previous state;
     * the operator tries nothing more until spec.restoreFrom changes, so another backup may be chosen.
     */
    public function restoreState(): string
    {
        if ($this->restoreWanted === null) {
            return '';
        }
        $wanted = $this->restoreWanted;
        $done = $this->restored;
        if ($done !== null && $done['instance'] === $wanted['instance'] && $done['backup'] === $wanted['backup']) {
            return 'done';
        }
        return $this->restoreRefusal !== '' ? 'failed' : 'pending';
    }

    /** "Daily, keep 7" / "Off": what the product gives, in words. */
    public function scheduleText(): string
    {
        if ($this->schedule === 'Off') {
            return 'Off';
        }
        return $this->schedule . ($this->retain !== null ? ', keep ' . $this->retain : '');
    }

    /** Bytes in the units a customer reads (1 decimal, powers of 1024 as Hetzner and WHMCS count). */
    public static function size(?int $bytes): string
    {
        if ($bytes === null) {
            return 'unknown';
        }
        $units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        $value = (float) $bytes;
        $unit = 0;
        while ($value >= 1024 && $unit < count($units) - 1) {
            $value /= 1024;
            $unit++;
        }
        return $unit === 0 ? $bytes . ' B' : number_format($value, 1) . ' ' . $units[$unit];
    }
}
