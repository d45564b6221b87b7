<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Integration;

use PHPUnit\Framework\Attributes\DataProvider;
use PHPUnit\Framework\Attributes\Group;
use WHMCS\Module\Server\OpenClaw\Tests\Support\HostileInput;
use WHMCS\Module\Server\OpenClaw\Tests\Support\IntegrationTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * Bad settings and bad input each give a clear sentence against the real apiserver, and the WHMCS
 * token really is least-privilege.
 *
 * @group integration
 */
#[Group('integration')]
final class RefusalsAgainstApiServerTest extends IntegrationTestCase
{
    /** @return array<string, array{0: array<string, mixed>, 1: list<string>}> */
    public static function badServers(): array
    {
        return [
            'unreachable host' => [
                ['serverhostname' => 'https://127.0.0.1:1'],
                ['Cannot connect to the Kubernetes API at https://127.0.0.1:1'],
            ],
            'wrong CA' => [['serveraccesshash' => self::unrelatedCa()], ['TLS verification', 'Access Hash']],
            'corrupt CA' => [
                ['serveraccesshash' => "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----"],
                ['TLS verification'],
            ],
            'no CA: system trust rejects the cluster CA' => [
                ['serveraccesshash' => ''],
                ['TLS verification', 'Put the cluster CA certificate'],
            ],
            'wrong token' => [
                ['serverpassword' => 'not-a-valid-token'],
                ['rejected the token (401 Unauthorized)', 'server Password field'],
            ],
            'forbidden namespace' => [
                ['serverusername' => '@other'],
                ['Forbidden:', 'resource "openclawinstances"', 'whmcs-role.yaml'],
            ],
        ];
    }

    /**
     * @dataProvider badServers
     * @param array<string, mixed> $server
     * @param list<string> $expected
     */
    #[DataProvider('badServers')]
    public function testBadServerSettings(array $server, array $expected): void
    {
        if (($server['serverusername'] ?? null) === '@other') {
            $server['serverusername'] = $this->cluster->otherNamespace;
        }
        $params = $this->cluster->params(self::newServiceId(), $server);
        foreach (['openclaw_CreateAccount', 'openclaw_SuspendAccount', 'openclaw_TerminateAccount'] as $function) {
            $result = $function($params);
            foreach ($expected as $part) {
                self::assertStringContainsString($part, $result, $function);
            }
        }
        self::assertFalse(openclaw_TestConnection($params)['success']);
    }

    public function testMissingCrd(): void
    {
        // The CRD is installed for the whole test session; an API group that has none shows the same
        // answer an uninstalled CRD gives (OPENCLAW_API_GROUP is the documented override). The test
        // harness grants the WHMCS account that group too, as the real Role grants clawhost.dev
        // before the CRD exists; otherwise RBAC would answer 403 first.
        putenv('OPENCLAW_API_GROUP=missing.clawhost.dev');
        $params = $this->cluster->params(self::newServiceId());
        $expected = 'The OpenClawInstance API (missing.clawhost.dev/v1alpha1) is not installed on this cluster';
        self::assertStringContainsString($expected, openclaw_CreateAccount($params));
        self::assertStringContainsString($expected, openclaw_TerminateAccount($params), 'no false "terminated"');
        self::assertStringContainsString($expected, openclaw_TestConnection($params)['error']);
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function invalidInputs(): array
    {
        return [
            'host name' => [['domain' => 'bad_host.example.com'], 'field spec.hostname'],
            'server type' => [['configoptions' => ['Server Type' => 'X-LARGE!']], 'field spec.serverType'],
            'location' => [['configoption2' => 'mars'], 'field spec.location'],
            'version' => [['configoption6' => 'latest'], 'field spec.openclawVersion'],
            'ssh key' => [['customfields' => ['SSH Public Keys' => 'not a key']], 'field spec.sshKeys[0]'],
            'zone outside host name' => [['configoption5' => 'other.org'], 'field spec.dns.zone'],
        ];
    }

    /**
     * @dataProvider invalidInputs
     * @param array<string, mixed> $input
     */
    #[DataProvider('invalidInputs')]
    public function testInvalidInputIsRejectedNamingTheField(array $input, string $field): void
    {
        $result = openclaw_CreateAccount($this->cluster->params(self::newServiceId(), $input));
        self::assertStringStartsWith('The Kubernetes API rejected OpenClawInstance', $result);
        self::assertStringContainsString($field, $result);
        $this->generatedToken();
    }

    /**
     * The unit fuzz test's hostile strings, now answered by the real apiserver: every answer is
     * 'success' or a bounded, readable sentence, whatever the apiserver echoes back.
     */
    public function testHostileInputsGetReadableAnswers(): void
    {
        foreach (HostileInput::strings() as $value) {
            $input = ['domain' => $value, 'configoptions' => ['Server Type' => $value, 'OpenClaw Version' => $value]];
            $params = $this->cluster->params(self::newServiceId(), $input);
            foreach (['openclaw_CreateAccount', 'openclaw_ChangePackage'] as $function) {
                $result = $function($params);
                $context = $function . ' with ' . bin2hex(substr($value, 0, 16));
                self::assertIsString($result, $context);
                self::assertNotSame('', $result, $context);
                self::assertLessThan(2500, strlen($result), $context);
                self::assertSame(1, preg_match('//u', $result), $context);
            }
        }
        $this->gatewayTokens = array_merge($this->gatewayTokens, array_column(
            WhmcsRecorder::localApi('UpdateClientProduct'),
            'servicepassword',
        ));
    }

    public function testTheWhmcsTokenIsLeastPrivilege(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        self::assertSame('success', openclaw_CreateAccount($params));
        $this->generatedToken();
        $ns = $this->cluster->namespace;
        $secret = $this->cluster->read($this->cluster->instancePath($id))['spec']['gatewayTokenSecretRef']['name'];
        $merge = 'application/merge-patch+json';
        $forbidden = [
            'read a Secret' => ['GET', $this->cluster->secretPath($secret), null, 'application/json'],
            'list Secrets' => ['GET', '/api/v1/namespaces/' . $ns . '/secrets', null, 'application/json'],
            'patch a Secret' => ['PATCH', $this->cluster->secretPath($secret), '{}', $merge],
            'delete a Secret' => ['DELETE', $this->cluster->secretPath($secret), null, 'application/json'],
            'patch status' => [
                'PATCH',
                $this->cluster->instancePath($id, '/status'),
                '{"status":{"phase":"Running"}}',
                $merge,
            ],
            'read another namespace' => [
                'GET',
                '/apis/clawhost.dev/v1alpha1/namespaces/' . $this->cluster->otherNamespace . '/openclawinstances',
                null,
                'application/json',
            ],
            'create in another namespace' => [
                'POST',
                '/api/v1/namespaces/' . $this->cluster->otherNamespace . '/secrets',
                '{"metadata":{"name":"x"}}',
                'application/json',
            ],
            'read cluster-wide' => ['GET', '/apis/clawhost.dev/v1alpha1/openclawinstances', null, 'application/json'],
        ];
        foreach ($forbidden as $what => [$method, $path, $body, $type]) {
            $response = $this->cluster->asWhmcs($method, $path, $body, $type);
            self::assertSame(403, $response->status, $what . ': ' . $response->body);
        }
        self::assertSame(
            200,
            $this->cluster->asWhmcs('GET', $this->cluster->instancePath($id))->status,
            'control: reading its instance works',
        );
    }

    private static function unrelatedCa(): string
    {
        $key = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
        $csr = openssl_csr_new(['commonName' => 'unrelated-ca'], $key);
        $certificate = openssl_csr_sign($csr, null, $key, 1);
        openssl_x509_export($certificate, $pem);
        return $pem;
    }
}
