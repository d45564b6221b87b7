<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

use WHMCS\Module\Server\OpenClaw\Kube\KubeClient;
use WHMCS\Module\Server\OpenClaw\Kube\Subject;
use WHMCS\Module\Server\OpenClaw\ModuleError;

/**
 * Where OpenClawInstance resources and their Secrets live in the Kubernetes API, and the names the
 * operator agrees on (docs/architecture.md).
 *
 * Group and version can be overridden with the environment variables OPENCLAW_API_GROUP and
 * OPENCLAW_API_VERSION (for a staging CRD version; the test suite uses it to exercise the "API not
 * installed" path against a real apiserver). Annotation and label names never change.
 */
final class InstanceApi
{
    public const GROUP = 'clawhost.dev';
    public const VERSION = 'v1alpha1';
    public const PLURAL = 'openclawinstances';
    public const KIND = 'OpenClawInstance';

    public const REBOOT_REQUESTED_AT = 'clawhost.dev/reboot-requested-at';
    public const REINSTALL_REQUESTED_AT = 'clawhost.dev/reinstall-requested-at';
    public const RECONCILE_REQUESTED_AT = 'clawhost.dev/reconcile-requested-at';
    public const APPROVE_DEVICES_REQUESTED_AT = 'clawhost.dev/approve-devices-requested-at';
    /** "Back up now": an on-demand backup (status.backups gets an entry of kind OnDemand). */
    public const BACKUP_REQUESTED_AT = 'clawhost.dev/backup-requested-at';
    /**
     * Set ("true") just before Terminate deletes the instance when the product keeps no final backup;
     * otherwise the operator takes one (kind Final) before it deletes the server.
     */
    public const SKIP_FINAL_BACKUP = 'clawhost.dev/skip-final-backup';

    /**
     * Day-2 request annotation => the status field where the operator records the value it acted on
     * (docs/architecture.md); comparing the two tells the customer whether a request is done.
     */
    public const HANDLED_IN_STATUS = [
        self::REBOOT_REQUESTED_AT => 'lastHandledRebootAt',
        self::REINSTALL_REQUESTED_AT => 'lastHandledReinstallAt',
        self::RECONCILE_REQUESTED_AT => 'lastHandledReconcileAt',
        self::APPROVE_DEVICES_REQUESTED_AT => 'lastHandledApproveDevicesAt',
        self::BACKUP_REQUESTED_AT => 'lastHandledBackupAt',
    ];

    /** spec.suspendMode values (the operator's hibernate support): keep the server, or snapshot and delete it. */
    public const SUSPEND_POWER_OFF = 'PowerOff';
    public const SUSPEND_HIBERNATE = 'Hibernate';
    /**
     * Marks a hibernation the customer asked for (value "true"), so that only it can be woken by the
     * customer and a billing Unsuspend leaves it alone. WHMCS's own; the operator ignores it.
     */
    public const CUSTOMER_HIBERNATED = 'clawhost.dev/whmcs-customer-hibernated';

    public const LABEL_SERVICE_ID = 'clawhost.dev/whmcs-service-id';
    public const LABEL_CLIENT_ID = 'clawhost.dev/whmcs-client-id';
    public const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
    public const MANAGED_BY_WHMCS = 'whmcs';

    public function __construct(
        public readonly string $group = self::GROUP,
        public readonly string $version = self::VERSION,
    ) {
    }

    public static function fromEnvironment(): self
    {
        $group = getenv('OPENCLAW_API_GROUP');
        $version = getenv('OPENCLAW_API_VERSION');
        $group = is_string($group) && $group !== '' ? $group : self::GROUP;
        $version = is_string($version) && $version !== '' ? $version : self::VERSION;
        if (preg_match('/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/', $group) !== 1) {
            throw new ModuleError('OPENCLAW_API_GROUP is not a valid API group name.');
        }
        if (preg_match('/^v[0-9]+((alpha|beta)[0-9]+)?$/', $version) !== 1) {
            throw new ModuleError('OPENCLAW_API_VERSION is not a valid API version (e.g. v1alpha1).');
        }
        return new self($group, $version);
    }

    public function apiVersion(): string
    {
        return $this->group . '/' . $this->version;
    }

    public function groupPath(): string
    {
        return '/apis/' . $this->group . '/' . $this->version;
    }

    public function collectionPath(string $namespace): string
    {
        return $this->groupPath() . '/namespaces/' . $namespace . '/' . self::PLURAL;
    }

    public function objectPath(string $namespace, string $name): string
    {
        return $this->collectionPath($namespace) . '/' . $name;
    }

    public function subject(string $namespace, string $name = ''): Subject
    {
        return new Subject(self::KIND, $name, $namespace, $this->apiVersion());
    }

    /**
     * Every instance WHMCS created in a namespace, in one LIST (label selector; never a GET each).
     *
     * @return list<array<mixed>>
     */
    public function managedInstances(KubeClient $kube, string $namespace): array
    {
        return $kube->list(
            $this->collectionPath($namespace),
            ServiceIdentity::managedSelector(),
            $this->subject($namespace),
        );
    }

    public static function secretCollectionPath(string $namespace): string
    {
        return '/api/v1/namespaces/' . $namespace . '/secrets';
    }

    public static function secretSubject(string $namespace, string $name): Subject
    {
        return new Subject('Secret', $name, $namespace, 'v1');
    }
}
