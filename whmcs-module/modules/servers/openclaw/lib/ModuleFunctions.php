<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use Closure;
use DateTimeImmutable;
use DateTimeZone;
use Throwable;
use WHMCS\Module\Server\OpenClaw\Instance\GatewayToken;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\Kube\FailureDescriber;
use WHMCS\Module\Server\OpenClaw\View\AdminTab;
use WHMCS\Module\Server\OpenClaw\View\ClientAreaView;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;

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
            'ServiceSingleSignOnLabel' => false,
            'AdminSingleSignOnLabel' => false,
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
        $result = self::guard($ctx, static function () use ($ctx): void {
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
        return self::guard($ctx, static function () use ($ctx): void {
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
            $ctx->provisioner()->apply($ctx->options(), $hostname, $token);
        });
    }

    /** @param array<mixed> $params */
    public static function suspendAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'SuspendAccount');
        return self::guard($ctx, static fn () => $ctx->provisioner()->setSuspended(true));
    }

    /** @param array<mixed> $params */
    public static function unsuspendAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'UnsuspendAccount');
        return self::guard($ctx, static fn () => $ctx->provisioner()->setSuspended(false));
    }

    /** @param array<mixed> $params */
    public static function terminateAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'TerminateAccount');
        return self::guard($ctx, static fn () => $ctx->provisioner()->delete());
    }

    /** @param array<mixed> $params */
    public static function changePackage(array $params): string
    {
        $ctx = new ServiceContext($params, 'ChangePackage');
        return self::guard($ctx, static fn () => $ctx->provisioner()->reapply($ctx->options(), $ctx->hostname()));
    }

    /**
     * The service password is the gateway token: changing it in WHMCS rotates the token.
     *
     * @param array<mixed> $params
     */
    public static function changePassword(array $params): string
    {
        $ctx = new ServiceContext($params, 'ChangePassword');
        return self::guard($ctx, static function () use ($ctx): void {
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
        return self::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            if (InstanceStatus::of($provisioner->existing())->suspended) {
                throw new ModuleError('The instance is suspended; it can be rebooted once it is active again.');
            }
            $provisioner->request(InstanceApi::REBOOT_REQUESTED_AT, self::now());
        });
    }

    /** @param array<mixed> $params */
    public static function reinstall(array $params): string
    {
        $ctx = new ServiceContext($params, 'Reinstall');
        return self::guard(
            $ctx,
            static fn () => $ctx->provisioner()->request(InstanceApi::REINSTALL_REQUESTED_AT, self::now()),
        );
    }

    /** @param array<mixed> $params */
    public static function resync(array $params): string
    {
        $ctx = new ServiceContext($params, 'Resync');
        return self::guard(
            $ctx,
            static fn () => $ctx->provisioner()->request(InstanceApi::RECONCILE_REQUESTED_AT, self::now()),
        );
    }

    /** @return array<string, string> */
    public static function adminCustomButtonArray(): array
    {
        return ['Reboot' => 'reboot', 'Reinstall' => 'reinstall', 'Resync' => 'resync'];
    }

    /** @return array<string, string> */
    public static function clientAreaCustomButtonArray(): array
    {
        return ['Reboot' => 'reboot'];
    }

    /**
     * @param array<mixed> $params
     * @return array<string, mixed>
     */
    public static function clientArea(array $params): array
    {
        $ctx = new ServiceContext($params, 'ClientArea');
        $variables = [];
        $result = self::guard($ctx, static function () use ($ctx, &$variables): void {
            $instance = $ctx->provisioner()->find();
            $token = $ctx->servicePassword();
            // Reveal the password only if it is the token the instance actually uses.
            $secretInUse = $instance['spec']['gatewayTokenSecretRef']['name'] ?? null;
            $inUse = GatewayToken::isUsable($token) && $secretInUse === $ctx->service()->gatewaySecretName($token);
            $variables = ClientAreaView::variables(
                $instance === null ? null : InstanceStatus::of($instance),
                $inUse ? $token : '',
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
        $result = self::guard($ctx, static function () use ($ctx, &$fields): void {
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

    /**
     * Runs one action: 'success', or the readable (and masked) reason it failed.
     *
     * @param Closure(): mixed $work
     */
    private static function guard(ServiceContext $ctx, Closure $work): string
    {
        try {
            $work();
            return 'success';
        } catch (ModuleError $error) {
            return $ctx->log->mask($error->getMessage());
        } catch (Throwable $error) {
            $message = 'Unexpected error in the OpenClaw module (' . get_class($error) . ': '
                . FailureDescriber::clip($error->getMessage(), 300) . ').';
            $ctx->log->record('internal error', '', $message);
            return $ctx->log->mask($message);
        }
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

    /** Request annotations need a new value per request; microseconds make two clicks distinct. */
    private static function now(): string
    {
        return (new DateTimeImmutable('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
    }
}
