<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\Instance\GatewayToken;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/**
 * What a customer does on their product page beyond WHMCS's own actions: approve a device, hibernate
 * and wake, store new keys, back up and restore, open the Control UI. Each is a merge patch (or a read)
 * of their instance; the page shows the result from status. Every check the page makes by hiding a button is made here
 * again, because hiding is no permission.
 */
final class CustomerActions
{
    /** Client-area form input => the credential field it fills (CustomerSecrets). */
    private const CREDENTIAL_FORM = [
        'openclaw_provider' => CustomerSecrets::PROVIDER_FIELD,
        'openclaw_api_key' => CustomerSecrets::API_KEY_FIELD,
        'openclaw_telegram_token' => 'Telegram Bot Token',
        'openclaw_discord_token' => 'Discord Bot Token',
    ];

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
        return ModuleCall::guard($ctx, static function () use ($ctx, $values): void {
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
        return ModuleCall::guard($ctx, static fn () => $ctx->provisioner()->requestUnlessSuspended(
            InstanceApi::APPROVE_DEVICES_REQUESTED_AT,
            'The instance is suspended; devices can be approved once it is running again.',
        ));
    }

    /**
     * "Back up now": an on-demand backup (kind OnDemand), listed in status.backups once stored.
     *
     * @param array<mixed> $params
     */
    public static function backupNow(array $params): string
    {
        $ctx = new ServiceContext($params, 'BackupNow');
        return ModuleCall::guard($ctx, static fn () => $ctx->provisioner()->requestUnlessSuspended(
            InstanceApi::BACKUP_REQUESTED_AT,
            'The instance is suspended; it can be backed up once it is running again.',
        ));
    }

    /**
     * "Restore this backup" (client area, after a confirmation): spec.restoreFrom on the service's own
     * instance. Only a backup the instance lists (or "latest") is accepted, whatever the form sent.
     *
     * @param array<mixed> $params
     * @param array<mixed>|null $form the submitted fields; null reads $_POST
     */
    public static function restoreBackup(array $params, ?array $form = null): string
    {
        $form ??= $_POST;
        $backupId = is_string($form['openclaw_backup'] ?? null) ? trim($form['openclaw_backup']) : '';
        $ctx = new ServiceContext($params, 'RestoreBackup');
        return ModuleCall::guard($ctx, static function () use ($ctx, $backupId): void {
            $provisioner = $ctx->provisioner();  // first: a call without a service says so
            if ($backupId === '') {
                throw new ModuleError('Choose the backup to restore.');
            }
            $provisioner->restore($backupId);
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
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
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
        return ModuleCall::guard($ctx, static function () use ($ctx): void {
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
        $result = ModuleCall::guard($ctx, static function () use ($ctx, &$url): void {
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

    private static function requireCustomerHibernate(ServiceContext $ctx): void
    {
        if (!$ctx->options()->customerHibernate) {
            throw new ModuleError('This product does not let customers hibernate their instance.');
        }
        if (!$ctx->serviceActive()) {
            throw new ModuleError('The service is suspended; it can be woken once the invoice is paid.');
        }
    }
}
