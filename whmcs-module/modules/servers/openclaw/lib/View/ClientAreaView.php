<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\View;

/**
 * The variables the customer's product page template (templates/overview.tpl) renders. Values are
 * raw; the template escapes them.
 */
final class ClientAreaView
{
    /** Conditions a customer can follow while the instance comes up, in the order they happen. */
    private const PROGRESS = ['ServerReady' => 'Server', 'DNSReady' => 'DNS', 'AppReady' => 'OpenClaw'];

    /**
     * @return array<string, mixed>
     */
    public static function variables(?InstanceStatus $status, string $gatewayToken): array
    {
        if ($status === null) {
            return ['instanceExists' => false, 'gatewayToken' => ''];
        }
        $progress = [];
        foreach (self::PROGRESS as $type => $label) {
            $progress[] = ['label' => $label, 'state' => self::conditionState($status, $type)];
        }
        return [
            'instanceExists' => true,
            'phase' => $status->phase,
            'ready' => $status->ready === true,
            'statusLabel' => self::statusLabel($status),
            'message' => $status->message,
            'hostname' => $status->hostname,
            'url' => $status->url,
            'ipv4' => $status->ipv4,
            'ipv6' => $status->ipv6,
            'progress' => $progress,
            'canReboot' => $status->ready === true && !$status->suspended && !$status->deleting,
            // Shown only when it is the token the instance uses; WHMCS decrypts it into $params.
            'gatewayToken' => $gatewayToken,
        ];
    }

    public static function statusLabel(InstanceStatus $status): string
    {
        if ($status->deleting) {
            return 'Being deleted';
        }
        if ($status->suspended) {
            return 'Suspended';
        }
        if ($status->ready === true) {
            return 'Ready';
        }
        return $status->phase === 'Failed' ? 'Needs attention' : 'Setting up';
    }

    private static function conditionState(InstanceStatus $status, string $type): string
    {
        foreach ($status->conditions as $condition) {
            if ($condition['type'] === $type) {
                return match ($condition['status']) {
                    'True' => 'done',
                    'False' => 'waiting',
                    default => 'unknown',
                };
            }
        }
        return 'unknown';
    }
}
