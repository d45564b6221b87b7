<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;
use WHMCS\Module\Server\OpenClaw\Runtime;

/**
 * Base for tests that call the module functions: a fresh recorder, a fake apiserver behind the
 * module's transport seam, and WHMCS-like `$params`.
 */
abstract class ModuleTestCase extends TestCase
{
    protected const CLUSTER_TOKEN = 'cluster-token-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4';
    protected const GATEWAY_TOKEN = 'gw-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

    protected FakeApiServer $api;
    protected ?FakeTransport $transport = null;

    protected function setUp(): void
    {
        WhmcsRecorder::reset();
        $this->api = new FakeApiServer();
        $this->useTransport($this->api->transport());
    }

    protected function tearDown(): void
    {
        Runtime::reset();
        putenv('OPENCLAW_API_GROUP');
        putenv('OPENCLAW_API_VERSION');
    }

    protected function useTransport(FakeTransport $transport): void
    {
        $this->transport = $transport;
        Runtime::use(static fn (ClusterSettings $settings): Transport => $transport);
    }

    /**
     * `$params` as WHMCS passes them for a service on an openclaw server.
     *
     * @param array<string, mixed> $overrides
     * @return array<string, mixed>
     */
    protected static function params(array $overrides = []): array
    {
        return array_replace([
            'serviceid' => '42',
            'userid' => '7',
            'pid' => '3',
            'serverid' => '1',
            'domain' => '',
            'username' => '',
            'password' => self::GATEWAY_TOKEN,
            'serverhostname' => 'https://k8s.example.test:6443',
            'serverip' => '',
            'serverport' => '',
            'serverusername' => 'clawhost',
            'serverpassword' => self::CLUSTER_TOKEN,
            'serveraccesshash' => '',
            'serversecure' => true,
            'configoption1' => 'cx23',
            'configoption2' => 'fsn1',
            'configoption3' => 'ubuntu-24.04',
            'configoption4' => 'claw.example.com',
            'configoption5' => '',
            'configoption6' => '',
            'configoption7' => '',
            'configoption8' => 'Delete',
            'configoptions' => [],
            'customfields' => [],
        ], $overrides);
    }

    /** Asserts nothing secret reached WHMCS's module log, in any encoding it travels in. */
    protected static function assertLogHasNoSecrets(string ...$secrets): void
    {
        $logged = WhmcsRecorder::moduleLogText();
        foreach ($secrets as $secret) {
            foreach ([$secret, base64_encode($secret)] as $form) {
                self::assertStringNotContainsString($form, $logged, 'a secret reached logModuleCall');
            }
        }
    }
}
