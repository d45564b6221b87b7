<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\Instance\GatewayToken;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\View\AdminTab;
use WHMCS\Module\Server\OpenClaw\View\ClientAreaView;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;
use WHMCS\Module\Server\OpenClaw\Whmcs\ServiceFields;

/**
 * What each WHMCS module function does. openclaw.php only forwards to these.
 *
 * Contract with WHMCS: actions return 'success' or a readable message and never throw; anything
 * unexpected is caught here, masked and returned as text.
 */
final class ModuleFunctions
{
    /** @return array<string, mixed> */
    public static function metaData(): array
    {
        return [
            'DisplayName' => 'OpenClaw (Kubernetes operator)',
            'APIVersion' => '1.1',
            'RequiresServer' => true,
            'DefaultSSLPort' => (string) Kube\ClusterSettings::DEFAULT_PORT,
            'DefaultNonSSLPort' => (string) Kube\ClusterSettings::DEFAULT_PORT,
            'ServiceSingleSignOnLabel' => 'Open the Control UI',
            'AdminSingleSignOnLabel' => false,
            // Server Sync (ListAccounts): instances are matched to services by host name.
            'ListAccountsUniqueIdentifierDisplayName' => 'Host name',
            'ListAccountsUniqueIdentifierField' => 'domain',
            'ListAccountsProductField' => 'configoption1',
        ];
    }

    /** @return array<string, array<string, mixed>> */
    public static function configOptions(): array
    {
        return ProductOptions::configOptions();
    }

    /**
     * Reachability and TLS, the token, the CRD, and every permission the module needs.
     *
     * @param array<mixed> $params
     * @return array{success: bool, error: string}
     */
    public static function testConnection(array $params): array
    {
        $ctx = new ServiceContext($params, 'TestConnection');
        $result = ModuleCall::guard($ctx, static function () use ($ctx): void {
            $namespace = $ctx->settings()->namespace;
            $api = $ctx->api();
            $discovery = $ctx->kube()->get($api->groupPath(), $api->subject($namespace));
            $served = array_column(is_array($discovery['resources'] ?? null) ? $discovery['resources'] : [], 'name');
            if (!in_array(InstanceApi::PLURAL, $served, true)) {
                throw new ModuleError('The API group ' . $api->apiVersion() . ' is served but has no '
                    . InstanceApi::PLURAL . ': install the current OpenClaw CRD.');
            }
            $denied = [];
            foreach (self::requiredPermissions($api) as [$verb, $group, $resource]) {
                if (!$ctx->kube()->mayI($verb, $group, $resource, $namespace)) {
                    $denied[] = $verb . ' ' . $resource;
                }
            }
            if ($denied !== []) {
                throw new ModuleError('Connected, but the token may not ' . implode(', ', $denied) . ' in namespace "'
                    . $namespace . '". Bind the Role from whmcs-module/rbac/whmcs-role.yaml to the WHMCS '
                    . 'ServiceAccount.');
            }
        });
        return ['success' => $result === 'success', 'error' => $result === 'success' ? '' : $result];
    }

    /** @param array<mixed> $params */
    public static function createAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'CreateAccount');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            $hostname = $ctx->hostname();
            $token = $ctx->servicePassword();
            $whmcsUpdates = [];
            if (!GatewayToken::isUsable($token)) {
                $token = GatewayToken::generate();
                $ctx->log->addSecret($token);
                $whmcsUpdates['servicepassword'] = $token;
            }
            if (Params::string($ctx->params, 'domain') !== $hostname) {
                $whmcsUpdates['domain'] = $hostname;
            }
            // WHMCS learns the token before Kubernetes does: a retry after a failure below then reuses it.
            if ($whmcsUpdates !== []) {
                (new LocalApi())->updateService($ctx->service()->serviceId, $whmcsUpdates);
            }
            $credentials = CustomerSecrets::fromCustomFields($ctx->params);
            $ctx->provisioner()->apply($ctx->options(), $hostname, $token, $credentials);
            ServiceFields::clear($ctx->params, $credentials->fields());
        });
    }

    /** @param array<mixed> $params */
    public static function suspendAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'SuspendAccount');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            // A hibernated instance stays hibernated: powering it back on to power it off would cost more.
            $hibernated = InstanceStatus::of($provisioner->existing())->hibernated();
            $provisioner->setSuspended(true, $hibernated ? null : $ctx->options()->suspendMode);
        });
    }

    /** @param array<mixed> $params */
    public static function unsuspendAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'UnsuspendAccount');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            // Paying the invoice ends the billing suspension, not a hibernation the customer chose.
            if (InstanceStatus::of($provisioner->existing())->customerHibernated) {
                return;
            }
            $provisioner->setSuspended(false);
        });
    }

    /** @param array<mixed> $params */
    public static function terminateAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'TerminateAccount');
        return ModuleCall::guard($ctx, static fn () => $ctx->provisioner()->delete($ctx->options()->finalBackup));
    }

    /** @param array<mixed> $params */
    public static function changePackage(array $params): string
    {
        $ctx = new ServiceContext($params, 'ChangePackage');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            // Credentials an admin re-entered in the custom fields are stored and used too.
            $credentials = CustomerSecrets::fromCustomFields($ctx->params);
            $ctx->provisioner()->reapply($ctx->options(), $ctx->hostname(), $credentials);
            ServiceFields::clear($ctx->params, $credentials->fields());
        });
    }

    /**
     * The service password is the gateway token: changing it in WHMCS rotates the token.
     *
     * @param array<mixed> $params
     */
    public static function changePassword(array $params): string
    {
        $ctx = new ServiceContext($params, 'ChangePassword');
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
            if (!GatewayToken::isUsable($ctx->servicePassword())) {
                throw new ModuleError(GatewayToken::requirement());
            }
            $provisioner = $ctx->provisioner();
            $provisioner->existing();
            $provisioner->apply($ctx->options(), $ctx->hostname(), $ctx->servicePassword());
        });
    }

    /** @param array<mixed> $params */
    public static function reboot(array $params): string
    {
        $ctx = new ServiceContext($params, 'Reboot');
        return ModuleCall::guard($ctx, static fn () => $ctx->provisioner()->requestUnlessSuspended(
            InstanceApi::REBOOT_REQUESTED_AT,
            'The instance is suspended; it can be rebooted once it is active again.',
        ));
    }

    /** @param array<mixed> $params */
    public static function reinstall(array $params): string
    {
        $ctx = new ServiceContext($params, 'Reinstall');
        return ModuleCall::guard(
            $ctx,
            static fn () => $ctx->provisioner()->request(InstanceApi::REINSTALL_REQUESTED_AT),
        );
    }

    /** @param array<mixed> $params */
    public static function resync(array $params): string
    {
        $ctx = new ServiceContext($params, 'Resync');
        return ModuleCall::guard(
            $ctx,
            static fn () => $ctx->provisioner()->request(InstanceApi::RECONCILE_REQUESTED_AT),
        );
    }

    /** @return array<string, string> */
    public static function adminCustomButtonArray(): array
    {
        return [
            'Reboot' => 'reboot',
            'Reinstall' => 'reinstall',
            'Resync' => 'resync',
            'Approve devices' => 'approvedevices',
            'Back up now' => 'backupnow',
        ];
    }

    /** @return array<string, string> */
    public static function clientAreaCustomButtonArray(): array
    {
        return ['Reboot' => 'reboot', 'Approve my device' => 'approvedevices', 'Back up now' => 'backupnow'];
    }

    /**
     * Functions the overview template's own forms call (modop=custom). Each re-checks on the server
     * what the page only hides (suspension, the product's hibernate permission).
     *
     * @return list<string>
     */
    public static function clientAreaAllowedFunctions(): array
    {
        return [
            'reboot',
            'reinstall',
            'approvedevices',
            'hibernate',
            'wake',
            'updatecredentials',
            'backupnow',
            'restorebackup',
        ];
    }

    /**
     * @param array<mixed> $params
     * @return array<string, mixed>
     */
    public static function clientArea(array $params): array
    {
        $ctx = new ServiceContext($params, 'ClientArea');
        $variables = [];
        $result = ModuleCall::guard($ctx, static function () use ($ctx, &$variables): void {
            $instance = $ctx->provisioner()->find();
            $token = $ctx->servicePassword();
            // Reveal the password only if it is the token the instance actually uses.
            $secretInUse = $instance['spec']['gatewayTokenSecretRef']['name'] ?? null;
            $inUse = GatewayToken::isUsable($token) && $secretInUse === $ctx->service()->gatewaySecretName($token);
            $variables = ClientAreaView::variables(
                $instance === null ? null : InstanceStatus::of($instance),
                $inUse ? $token : '',
                $ctx->options()->customerHibernate,
                $ctx->serviceActive(),
            );
        });
        if ($result !== 'success') {
            // The detail (namespaces, RBAC) is for staff: it is in the module log and the admin tab.
            return [
                'tabOverviewModuleOutputTemplate' => 'templates/error.tpl',
                'templateVariables' => [
                    'usefulErrorHelper' => 'The status of this instance is temporarily unavailable.',
                ],
            ];
        }
        return ['tabOverviewModuleOutputTemplate' => 'templates/overview.tpl', 'templateVariables' => $variables];
    }

    /**
     * @param array<mixed> $params
     * @return array<string, string>
     */
    public static function adminServicesTabFields(array $params): array
    {
        $ctx = new ServiceContext($params, 'AdminServicesTabFields');
        $fields = [];
        $result = ModuleCall::guard($ctx, static function () use ($ctx, &$fields): void {
            $instance = $ctx->provisioner()->find();
            $fields = AdminTab::fields(
                $instance === null ? null : InstanceStatus::of($instance),
                $ctx->settings()->namespace,
                $ctx->service()->resourceName(),
            );
        });
        if ($result !== 'success') {
            return ['OpenClaw Instance' => htmlspecialchars($result, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8')];
        }
        return $fields;
    }

    /** @return list<array{0: string, 1: string, 2: string}> */
    private static function requiredPermissions(InstanceApi $api): array
    {
        $needed = [];
        foreach (['get', 'list', 'create', 'patch', 'delete'] as $verb) {
            $needed[] = [$verb, $api->group, InstanceApi::PLURAL];
        }
        $needed[] = ['create', '', 'secrets'];
        return $needed;
    }
}
