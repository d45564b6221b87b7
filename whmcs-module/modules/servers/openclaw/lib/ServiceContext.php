<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\Instance\Provisioner;
use WHMCS\Module\Server\OpenClaw\Instance\ServiceIdentity;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\KubeClient;

/**
 * Everything one module call derives from its `$params`, built on first use so that a call fails
 * with the message of the first thing actually missing.
 */
final class ServiceContext
{
    public readonly ModuleLog $log;
    private ?ClusterSettings $settings = null;
    private ?KubeClient $kube = null;
    private ?InstanceApi $api = null;

    /** @param array<mixed> $params */
    public function __construct(public readonly array $params, string $action)
    {
        $this->log = new ModuleLog($action);
        // Registered before anything can fail, so even a message about a malformed value is masked.
        $this->log->addSecret(Params::string($params, 'serverpassword'));
        $this->log->addSecret(Params::string($params, 'password'));
        foreach ([CustomerSecrets::API_KEY_FIELD, ...array_keys(CustomerSecrets::CHANNEL_FIELDS)] as $field) {
            $this->log->addSecret(Params::named($params, 'customfields', $field) ?? '');
        }
    }

    public function settings(): ClusterSettings
    {
        if ($this->settings === null) {
            $params = $this->params;
            $serverId = Params::positiveInt($params, 'serverid');
            // The client area may be called without server credentials; fetch them from WHMCS then.
            if (Params::string($params, 'serverpassword') === '' && $serverId !== null) {
                $server = Runtime::directory()->server($serverId) ?? [];
                $this->log->addSecret(is_string($server['serverpassword'] ?? null) ? $server['serverpassword'] : '');
                $params = $server + $params;
            }
            $this->settings = ClusterSettings::fromParams($params);
        }
        return $this->settings;
    }

    public function kube(): KubeClient
    {
        return $this->kube ??= new KubeClient(Runtime::transportFor($this->settings()), $this->log);
    }

    public function api(): InstanceApi
    {
        return $this->api ??= InstanceApi::fromEnvironment();
    }

    public function service(): ServiceIdentity
    {
        return ServiceIdentity::fromParams($this->params);
    }

    public function options(): ProductOptions
    {
        return ProductOptions::fromParams($this->params);
    }

    public function hostname(): string
    {
        return $this->options()->hostname(Params::string($this->params, 'domain'), $this->service()->resourceName());
    }

    public function provisioner(): Provisioner
    {
        return new Provisioner($this->kube(), $this->api(), $this->settings()->namespace, $this->service());
    }

    /** The service password, which is the gateway token once CreateAccount has run. */
    public function servicePassword(): string
    {
        return Params::string($this->params, 'password');
    }

    /**
     * Whether WHMCS has the service Active, i.e. not suspended for billing. WHMCS passes its status in
     * the service model (tblhosting.domainstatus); older versions in `status`.
     */
    public function serviceActive(): bool
    {
        $model = $this->params['model'] ?? null;
        $status = is_object($model) && is_string($model->domainstatus ?? null) ? $model->domainstatus
            : Params::string($this->params, 'status');
        return !in_array(strtolower($status), ['suspended', 'terminated', 'cancelled', 'fraud'], true);
    }
}
