<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use Closure;
use DateTimeImmutable;
use DateTimeZone;
use Throwable;
use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\Instance\GatewayToken;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\Kube\FailureDescriber;
use WHMCS\Module\Server\OpenClaw\View\AdminTab;
use WHMCS\Module\Server\OpenClaw\View\ClientAreaView;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;
use WHMCS\Module\Server\OpenClaw\Whmcs\ServiceFields;
use WHMCS\Module\Server\OpenClaw\Whmcs\StatusSync;
use WHMCS\Module\Server\OpenClaw\Whmcs\UsageReport;

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
            $credentials = CustomerSecrets::fromCustomFields($ctx->params);
            $ctx->provisioner()->apply($ctx->options(), $hostname, $token, $credentials);
            ServiceFields::clear($ctx->params, $credentials->fields());
        });
    }

    /** @param array<mixed> $params */
    public static function suspendAccount(array $params): string
    {
        $ctx = new ServiceContext($params, 'SuspendAccount');
        return self::guard($ctx, static function () use ($ctx): void {
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
        return self::guard($ctx, static function () use ($ctx): void {
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
        return self::guard($ctx, static fn () => $ctx->provisioner()->delete());
    }

    /** @param array<mixed> $params */
    public static function changePackage(array $params): string
    {
        $ctx = new ServiceContext($params, 'ChangePackage');
        return self::guard($ctx, static function () use ($ctx): void {
            // Credentials an admin re-entered in the custom fields are stored and used too.
            $credentials = CustomerSecrets::fromCustomFields($ctx->params);
            $ctx->provisioner()->reapply($ctx->options(), $ctx->hostname(), $credentials);
            ServiceFields::clear($ctx->params, $credentials->fields());
        });
    }

    /**
     * Client area: new credentials from the "Your keys" form (POST). Each becomes a new Secret and
     * spec.env points at it; nothing of it is kept in WHMCS.
     *
     * @param array<mixed> $params
     * @param array<mixed>|null $form the submitted fields; null reads $_POST
     */
    public static function updateCredentials(array $params, ?array $form = null): string
    {
        $form ??= $_POST;
        $values = [];
        foreach (self::CREDENTIAL_FORM as $input => $field) {
            $values[$field] = is_string($form[$input] ?? null) ? $form[$input] : '';
        }
        $ctx = new ServiceContext($params, 'UpdateCredentials');
        array_map([$ctx->log, 'addSecret'], array_values($values));
        return self::guard($ctx, static function () use ($ctx, $values): void {
            $provisioner = $ctx->provisioner();
            $credentials = CustomerSecrets::fromValues($values);
            if ($credentials->entries === []) {
                throw new ModuleError('Enter a key or token to store; empty fields keep what is stored.');
            }
            $provisioner->reapply($ctx->options(), $ctx->hostname(), $credentials);
        });
    }

    /** @param array<mixed> $params */
    public static function approveDevices(array $params): string
    {
        $ctx = new ServiceContext($params, 'ApproveDevices');
        return self::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            if (InstanceStatus::of($provisioner->existing())->suspended) {
                throw new ModuleError('The instance is suspended; devices can be approved once it is running again.');
            }
            $provisioner->request(InstanceApi::APPROVE_DEVICES_REQUESTED_AT, self::now());
        });
    }

    /**
     * The customer stops their instance until they wake it: the operator snapshots the server and
     * deletes it (spec.suspendMode Hibernate), so only the snapshot is paid for meanwhile.
     *
     * @param array<mixed> $params
     */
    public static function hibernate(array $params): string
    {
        $ctx = new ServiceContext($params, 'Hibernate');
        return self::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            self::requireCustomerHibernate($ctx);
            if (InstanceStatus::of($provisioner->existing())->suspended) {
                throw new ModuleError('The instance is already suspended or hibernated.');
            }
            $provisioner->setCustomerHibernation(true);
        });
    }

    /** @param array<mixed> $params */
    public static function wake(array $params): string
    {
        $ctx = new ServiceContext($params, 'Wake');
        return self::guard($ctx, static function () use ($ctx): void {
            $provisioner = $ctx->provisioner();
            self::requireCustomerHibernate($ctx);
            // Only what the customer hibernated: a suspension for non-payment is lifted by WHMCS alone.
            $status = InstanceStatus::of($provisioner->existing());
            if (!$status->hibernated() || !$status->customerHibernated) {
                throw new ModuleError('The instance is not hibernated by you; it cannot be woken from here.');
            }
            $provisioner->setCustomerHibernation(false);
        });
    }

    /**
     * "Open the Control UI": the gateway's own page, signed in with the gateway token. The token goes
     * in the URL fragment (#token=), which browsers never send to a server, so it appears in no access
     * log, proxy log or Referer header (OpenClaw's docs/web/urls.md recommends exactly this); the
     * Control UI reads it and removes it from the address bar. No query string is ever used.
     *
     * @param array<mixed> $params
     * @return array{success: bool, redirectTo?: string, errorMsg?: string}
     */
    public static function serviceSingleSignOn(array $params): array
    {
        $ctx = new ServiceContext($params, 'ServiceSingleSignOn');
        $url = '';
        $result = self::guard($ctx, static function () use ($ctx, &$url): void {
            $instance = $ctx->provisioner()->existing();
            $status = InstanceStatus::of($instance);
            if ($status->ready !== true || preg_match('#^https://[^/?\#]+/?$#', $status->url) !== 1) {
                throw new ModuleError('The instance is not ready yet; try again once its page shows it as Ready.');
            }
            $token = $ctx->servicePassword();
            $secretInUse = $instance['spec']['gatewayTokenSecretRef']['name'] ?? null;
            $inUse = $secretInUse === $ctx->service()->gatewaySecretName($token);
            if (!GatewayToken::isUsable($token) || !$inUse) {
                throw new ModuleError('The gateway token in WHMCS is not the one the instance uses; '
                    . 'wait for the token change to finish or ask support.');
            }
            $url = rtrim($status->url, '/') . '/#token=' . rawurlencode($token);
        });
        return $result === 'success' ? ['success' => true, 'redirectTo' => $url]
            : ['success' => false, 'errorMsg' => $result];
    }

    /**
     * Server Sync: the instances WHMCS created in this server's namespace (by label, one LIST), for
     * importing services WHMCS lost track of.
     *
     * @param array<mixed> $params server params
     * @return array{success: bool, accounts?: list<array<string, string>>, error?: string}
     */
    public static function listAccounts(array $params): array
    {
        $ctx = new ServiceContext($params, 'ListAccounts');
        $accounts = [];
        $result = self::guard($ctx, static function () use ($ctx, &$accounts): void {
            $namespace = $ctx->settings()->namespace;
            foreach ($ctx->api()->managedInstances($ctx->kube(), $namespace) as $instance) {
                $status = InstanceStatus::of($instance);
                $created = strtotime($status->createdAt);
                $accounts[] = [
                    'email' => '',
                    'username' => $status->name,
                    'domain' => $status->hostname,
                    'uniqueIdentifier' => $status->hostname,
                    'product' => $status->serverTypeWanted,
                    'primaryip' => $status->primaryIp(),
                    'created' => $created === false ? '' : date('Y-m-d H:i:s', $created),
                    'status' => self::whmcsStatus($status->suspended ? 'SUSPENDED' : 'ACTIVE'),
                ];
            }
        });
        return $result === 'success' ? ['success' => true, 'accounts' => $accounts]
            : ['success' => false, 'error' => $result];
    }

    /**
     * Daily, once per server: disk and bandwidth of its services from the instances' status.usage
     * (UsageReport), one LIST for the namespace.
     *
     * @param array<mixed> $params server params
     */
    public static function usageUpdate(array $params): string
    {
        $ctx = new ServiceContext($params, 'UsageUpdate');
        return self::guard($ctx, static function () use ($ctx): void {
            $serverId = Params::positiveInt($ctx->params, 'serverid')
                ?? throw new ModuleError('UsageUpdate needs the server id.');
            $directory = Runtime::directory();
            $instances = $ctx->api()->managedInstances($ctx->kube(), $ctx->settings()->namespace);
            $rows = UsageReport::plan($instances, array_keys($directory->services($serverId)));
            foreach ($rows as $serviceId => $columns) {
                $directory->recordUsage($serverId, $serviceId, $columns);
            }
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
        return [
            'Reboot' => 'reboot',
            'Reinstall' => 'reinstall',
            'Resync' => 'resync',
            'Approve devices' => 'approvedevices',
        ];
    }

    /** @return array<string, string> */
    public static function clientAreaCustomButtonArray(): array
    {
        return ['Reboot' => 'reboot', 'Approve my device' => 'approvedevices'];
    }

    /**
     * Functions the overview template's own forms call (modop=custom). Each re-checks on the server
     * what the page only hides (suspension, the product's hibernate permission).
     *
     * @return list<string>
     */
    public static function clientAreaAllowedFunctions(): array
    {
        return ['reboot', 'reinstall', 'approvedevices', 'hibernate', 'wake', 'updatecredentials'];
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

    /** Client-area form input => the credential field it fills (CustomerSecrets). */
    private const CREDENTIAL_FORM = [
        'openclaw_provider' => CustomerSecrets::PROVIDER_FIELD,
        'openclaw_api_key' => CustomerSecrets::API_KEY_FIELD,
        'openclaw_telegram_token' => 'Telegram Bot Token',
        'openclaw_discord_token' => 'Discord Bot Token',
    ];

    private static function requireCustomerHibernate(ServiceContext $ctx): void
    {
        if (!$ctx->options()->customerHibernate) {
            throw new ModuleError('This product does not let customers hibernate their instance.');
        }
        if (!$ctx->serviceActive()) {
            throw new ModuleError('The service is suspended; it can be woken once the invoice is paid.');
        }
    }

    /** WHMCS\Service\Status's constant, or its value outside WHMCS. */
    private static function whmcsStatus(string $constant): string
    {
        $name = 'WHMCS\\Service\\Status::' . $constant;
        $value = defined($name) ? constant($name) : null;
        return is_string($value) ? $value : ucfirst(strtolower($constant));
    }

    /** Request annotations need a new value per request; microseconds make two clicks distinct. */
    private static function now(): string
    {
        return (new DateTimeImmutable('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
    }
}
