<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\Params;

/**
 * The WHMCS service an instance belongs to, and the deterministic Kubernetes names derived from it:
 * the same service always maps to the same resource, which makes every action safe to repeat.
 */
final class ServiceIdentity
{
    public function __construct(
        public readonly int $serviceId,
        public readonly ?int $clientId,
    ) {
    }

    /** @param array<mixed> $params */
    public static function fromParams(array $params): self
    {
        $serviceId = Params::positiveInt($params, 'serviceid');
        if ($serviceId === null) {
            throw new ModuleError('The WHMCS service id is missing or invalid; this action must run for a service.');
        }
        return new self($serviceId, Params::positiveInt($params, 'userid'));
    }

    public function resourceName(): string
    {
        return 'whmcs-' . $this->serviceId;
    }

    /**
     * The Secret holding a given gateway token. The module may create Secrets but neither read nor
     * patch them (a PATCH answer would reveal the data), so a new token gets a new Secret: the suffix
     * is a short hash of the token, which makes the name stable for the same token.
     */
    public function gatewaySecretName(string $token): string
    {
        return $this->resourceName() . '-gateway-' . self::suffix($token);
    }

    /**
     * The Secret holding one customer credential (spec.env), named like the gateway token's: a new
     * value gets a new Secret, e.g. whmcs-42-anthropic-api-key-<10 hex>.
     */
    public function envSecretName(string $env, string $value): string
    {
        return $this->resourceName() . '-' . str_replace('_', '-', strtolower($env)) . '-' . self::suffix($value);
    }

    private static function suffix(string $value): string
    {
        return substr(hash('sha256', $value), 0, 10);
    }

    /** @return array<string, string> */
    public function labels(): array
    {
        $labels = [
            InstanceApi::LABEL_MANAGED_BY => InstanceApi::MANAGED_BY_WHMCS,
            InstanceApi::LABEL_SERVICE_ID => (string) $this->serviceId,
        ];
        if ($this->clientId !== null) {
            $labels[InstanceApi::LABEL_CLIENT_ID] = (string) $this->clientId;
        }
        return $labels;
    }

    public static function managedSelector(): string
    {
        return InstanceApi::LABEL_MANAGED_BY . '=' . InstanceApi::MANAGED_BY_WHMCS;
    }
}
