<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

use DateTimeImmutable;
use DateTimeZone;
use WHMCS\Module\Server\OpenClaw\Kube\ApiError;
use WHMCS\Module\Server\OpenClaw\Kube\FailureDescriber;
use WHMCS\Module\Server\OpenClaw\Kube\KubeClient;
use WHMCS\Module\Server\OpenClaw\Kube\Subject;
use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\View\Backups;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/**
 * The lifecycle of one service's OpenClawInstance, as Kubernetes writes. Every method is safe to
 * repeat: WHMCS retries failed actions from its Module Queue, possibly after a partial success.
 */
final class Provisioner
{
    public function __construct(
        private readonly KubeClient $kube,
        private readonly InstanceApi $api,
        private readonly string $namespace,
        private readonly ServiceIdentity $service,
    ) {
    }

    /**
     * Creates or updates the instance and makes sure the Secrets with this token and with any new
     * customer credentials exist. Credentials stored before stay referenced.
     *
     * @return array<mixed> the instance as stored
     */
    public function apply(
        ProductOptions $options,
        string $hostname,
        string $token,
        ?CustomerSecrets $credentials = null,
    ): array {
        return $this->write($options, $hostname, $this->find(), $token, $credentials);
    }

    /**
     * Re-applies the product settings of an existing instance, keeping its current token Secret and
     * credentials, and pointing at new credentials if any are given.
     *
     * @return array<mixed>
     */
    public function reapply(ProductOptions $options, string $hostname, ?CustomerSecrets $credentials = null): array
    {
        $current = $this->existing();
        return $this->write($options, $hostname, $current, null, $credentials);
    }

    /**
     * @param array<mixed>|null $current the instance as it is now
     * @param string|null $token a gateway token to store and use; null keeps the current Secret
     * @return array<mixed>
     */
    private function write(
        ProductOptions $options,
        string $hostname,
        ?array $current,
        ?string $token,
        ?CustomerSecrets $credentials,
    ): array {
        $spec = is_array($current['spec'] ?? null) ? $current['spec'] : [];
        if ($token !== null) {
            $secretName = $this->service->gatewaySecretName($token);
        } else {
            $secretName = $spec['gatewayTokenSecretRef']['name'] ?? null;
            if (!is_string($secretName) || $secretName === '') {
                throw new ModuleError($this->subject()->describe() . ' has no gateway token Secret; run Create again.');
            }
        }
        $newSecrets = [];
        foreach ($credentials->entries ?? [] as $entry) {
            $newSecrets[$entry['env']] = $this->service->envSecretName($entry['env'], $entry['value']);
        }
        $env = Manifests::env(is_array($spec['env'] ?? null) ? $spec['env'] : [], $newSecrets);
        $instance = $this->kube->apply(
            $this->objectPath(),
            Manifests::instance($this->api, $this->namespace, $this->service, $options, $hostname, $secretName, $env),
            $this->subject(),
        );
        if (isset($instance['metadata']['deletionTimestamp'])) {
            throw new ModuleError(
                'The previous ' . $this->subject()->describe() . ' is still being deleted (the operator is '
                . 'removing its server). Retry once it is gone.'
            );
        }
        if ($token !== null) {
            $this->createSecret($secretName, GatewayToken::SECRET_KEY, $token, $instance);
        }
        foreach ($credentials->entries ?? [] as $entry) {
            $this->createSecret($newSecrets[$entry['env']], CustomerSecrets::SECRET_KEY, $entry['value'], $instance);
        }
        return $instance;
    }

    public function setSuspended(bool $suspended, ?string $mode = null): void
    {
        $this->patchExisting(Manifests::suspension($suspended, $mode));
    }

    public function setCustomerHibernation(bool $hibernate): void
    {
        $this->patchExisting(Manifests::customerHibernation($hibernate));
    }

    /**
     * Asks the operator for a day-2 action (reboot, reinstall, resync, device approval) through its
     * annotation. The value is the time of the request: a new value per request, microseconds so
     * that two clicks are two requests.
     */
    public function request(string $annotation): void
    {
        $requestedAt = (new DateTimeImmutable('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
        $this->patchExisting(Manifests::request($annotation, $requestedAt));
    }

    /** A request that makes no sense for a suspended instance (reboot, device approval). */
    public function requestUnlessSuspended(string $annotation, string $refusal): void
    {
        if (InstanceStatus::of($this->existing())->suspended) {
            throw new ModuleError($refusal);
        }
        $this->request($annotation);
    }

    /**
     * Deletes the instance; an instance that is already gone counts as deleted. Before that, tells the
     * operator whether to take a final backup (it does unless told to skip it).
     */
    public function delete(bool $finalBackup = true): void
    {
        try {
            $this->kube->mergePatch($this->objectPath(), Manifests::finalBackup($finalBackup), $this->subject());
            $this->kube->delete($this->objectPath(), $this->subject());
        } catch (ApiError $error) {
            if (!$error->objectMissing) {
                throw $error;
            }
        }
    }

    /**
     * Restores the instance from one of its own backups (status.backups) or the newest ("latest").
     * Refused for a backup the instance does not list: the operator would stall on it.
     */
    public function restore(string $backupId): void
    {
        $instance = $this->existing();
        $status = InstanceStatus::of($instance);
        if ($status->suspended || $status->deleting) {
            throw new ModuleError('The instance is suspended or being deleted; it can be restored once it runs.');
        }
        if ($backupId !== Backups::LATEST && !$status->backups->has($backupId)) {
            throw new ModuleError('There is no backup "' . FailureDescriber::clip($backupId, 40)
                . '" of this instance; choose one from the list.');
        }
        $backups = $status->backups;
        if ($backups->restoreState() === 'pending') {
            throw new ModuleError('A restore is already in progress; wait until it is done.');
        }
        if ($backups->restoreState() === 'done' && $backups->restoreWanted['backup'] === $backupId) {
            // The operator acts on a change of spec.restoreFrom; the same value again would be ignored.
            throw new ModuleError('This backup is the one restored last; choose another one.');
        }
        if ($backups->restoreState() === 'failed' && $backups->restoreWanted['backup'] === $backupId) {
            throw new ModuleError('This backup could not be restored; choose another one.');
        }
        $this->patchExisting(Manifests::restoreFrom($this->service->resourceName(), $backupId));
    }

    /** @return array<mixed>|null the instance, or null when it does not exist */
    public function find(): ?array
    {
        try {
            return $this->kube->get($this->objectPath(), $this->subject());
        } catch (ApiError $error) {
            if ($error->objectMissing) {
                return null;
            }
            throw $error;
        }
    }

    /** @return array<mixed> */
    public function existing(): array
    {
        return $this->find() ?? throw $this->missing();
    }

    /** @param array<mixed> $patch */
    private function patchExisting(array $patch): void
    {
        try {
            $this->kube->mergePatch($this->objectPath(), $patch, $this->subject());
        } catch (ApiError $error) {
            throw $error->objectMissing ? $this->missing() : $error;
        }
    }

    /**
     * Create-only: the module may not read or patch Secrets. AlreadyExists means this exact value is
     * stored already, because the Secret name is derived from the value.
     *
     * @param array<mixed> $instance
     */
    private function createSecret(string $secretName, string $key, string $value, array $instance): void
    {
        try {
            $this->kube->create(
                InstanceApi::secretCollectionPath($this->namespace),
                Manifests::secret($this->namespace, $this->service, $secretName, $key, $value, $instance),
                InstanceApi::secretSubject($this->namespace, $secretName),
            );
        } catch (ApiError $error) {
            if ($error->reason !== 'AlreadyExists') {
                throw $error;
            }
        }
    }

    private function missing(): ModuleError
    {
        return new ModuleError(
            $this->subject()->describe() . ' does not exist. Run the Create module command first.'
        );
    }

    private function objectPath(): string
    {
        return $this->api->objectPath($this->namespace, $this->service->resourceName());
    }

    private function subject(): Subject
    {
        return $this->api->subject($this->namespace, $this->service->resourceName());
    }
}
