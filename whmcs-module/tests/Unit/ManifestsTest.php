<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Instance\GatewayToken;
use WHMCS\Module\Server\OpenClaw\Instance\InstanceApi;
use WHMCS\Module\Server\OpenClaw\Instance\Manifests;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\Instance\ServiceIdentity;

/** The exact objects the module writes. */
final class ManifestsTest extends TestCase
{
    public function testInstance(): void
    {
        $options = ProductOptions::fromParams([
            'configoption1' => 'cpx21', 'configoption5' => 'example.com', 'configoption6' => '2026.9.5',
            'configoption7' => 'on', 'customfields' => ['SSH Public Keys' => 'ssh-ed25519 AAAAC3 me@host'],
        ]);
        $manifest = Manifests::instance(
            new InstanceApi(),
            'shop',
            new ServiceIdentity(42, 7),
            $options,
            'bot.example.com',
            'whmcs-42-gateway-abc',
        );
        self::assertSame([
            'apiVersion' => 'clawhost.dev/v1alpha1',
            'kind' => 'OpenClawInstance',
            'metadata' => [
                'name' => 'whmcs-42',
                'namespace' => 'shop',
                'labels' => [
                    'app.kubernetes.io/managed-by' => 'whmcs',
                    'clawhost.dev/whmcs-service-id' => '42',
                    'clawhost.dev/whmcs-client-id' => '7',
                ],
            ],
            'spec' => [
                'hostname' => 'bot.example.com',
                'serverType' => 'cpx21',
                'location' => 'fsn1',
                'image' => 'ubuntu-24.04',
                'backups' => true,
                'backup' => ['schedule' => 'Off', 'retain' => 7],
                'deletionPolicy' => 'Delete',
                'gatewayTokenSecretRef' => ['name' => 'whmcs-42-gateway-abc', 'key' => 'token'],
                'whmcs' => ['serviceId' => 42, 'clientId' => 7],
                'dns' => ['zone' => 'example.com'],
                'openclawVersion' => '2026.9.5',
                'sshKeys' => ['ssh-ed25519 AAAAC3 me@host'],
            ],
        ], $manifest);
    }

    public function testInstanceLeavesOptionalFieldsAndSuspensionOut(): void
    {
        $manifest = Manifests::instance(
            new InstanceApi(),
            'shop',
            new ServiceIdentity(42, null),
            ProductOptions::fromParams([]),
            'h.example.com',
            's',
        );
        self::assertArrayNotHasKey('dns', $manifest['spec']);
        self::assertArrayNotHasKey('openclawVersion', $manifest['spec']);
        self::assertArrayNotHasKey('sshKeys', $manifest['spec']);
        self::assertArrayNotHasKey('suspended', $manifest['spec'], 'Suspend/Unsuspend own spec.suspended');
        self::assertSame(['serviceId' => 42], $manifest['spec']['whmcs']);
        self::assertArrayNotHasKey('clawhost.dev/whmcs-client-id', $manifest['metadata']['labels']);
    }

    public function testGatewaySecretIsOwnedByTheInstance(): void
    {
        $instance = ['apiVersion' => 'clawhost.dev/v1alpha1', 'metadata' => ['uid' => 'u-1']];
        $secret = Manifests::secret(
            'shop',
            new ServiceIdentity(42, 7),
            'whmcs-42-gateway-abc',
            'token',
            'tok',
            $instance,
        );
        self::assertSame('Opaque', $secret['type']);
        self::assertSame(['token' => base64_encode('tok')], $secret['data']);
        self::assertSame('whmcs-42-gateway-abc', $secret['metadata']['name']);
        self::assertSame('whmcs', $secret['metadata']['labels']['app.kubernetes.io/managed-by']);
        self::assertSame(
            [[
                'apiVersion' => 'clawhost.dev/v1alpha1',
                'kind' => 'OpenClawInstance',
                'name' => 'whmcs-42',
                'uid' => 'u-1',
            ]],
            $secret['metadata']['ownerReferences'],
        );
    }

    public function testSecretNameIsStablePerTokenAndDiffersBetweenTokens(): void
    {
        $service = new ServiceIdentity(42, 7);
        $a = GatewayToken::generate();
        $b = GatewayToken::generate();
        self::assertSame($service->gatewaySecretName($a), $service->gatewaySecretName($a));
        self::assertNotSame($service->gatewaySecretName($a), $service->gatewaySecretName($b));
        self::assertMatchesRegularExpression('/^whmcs-42-gateway-[0-9a-f]{10}$/', $service->gatewaySecretName($a));
        self::assertStringNotContainsString($a, $service->gatewaySecretName($a));
    }

    public function testGeneratedTokensAreUsableAndUnique(): void
    {
        $token = GatewayToken::generate();
        self::assertSame(43, strlen($token));
        self::assertTrue(GatewayToken::isUsable($token));
        self::assertNotSame($token, GatewayToken::generate());
        self::assertFalse(GatewayToken::isUsable('short'), 'WHMCS-generated passwords are replaced');
        self::assertFalse(GatewayToken::isUsable(str_repeat('a', 40) . ' b'));
        self::assertFalse(GatewayToken::isUsable(str_repeat('a', 513)));
    }

    public function testRequests(): void
    {
        self::assertSame(['spec' => ['suspended' => true]], Manifests::suspension(true));
        self::assertSame(
            ['metadata' => ['annotations' => ['clawhost.dev/reboot-requested-at' => '2026-01-01T00:00:00.000001Z']]],
            Manifests::request(InstanceApi::REBOOT_REQUESTED_AT, '2026-01-01T00:00:00.000001Z'),
        );
    }
}
