<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\ModuleError;

/** How a WHMCS server record becomes an API URL, token, CA and namespace, or a readable refusal. */
final class ClusterSettingsTest extends TestCase
{
    private const CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----";

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function urls(): array
    {
        return [
            'full URL' => [['serverhostname' => 'https://k8s.example.com:6443'], 'https://k8s.example.com:6443'],
            'URL without port keeps https default' => [
                ['serverhostname' => 'https://k8s.example.com'],
                'https://k8s.example.com',
            ],
            'bare host uses WHMCS port' => [
                ['serverhostname' => 'k8s.example.com', 'serverport' => '8443'],
                'https://k8s.example.com:8443',
            ],
            'bare host defaults to 6443' => [['serverhostname' => 'k8s.example.com'], 'https://k8s.example.com:6443'],
            'IP address field when hostname empty' => [
                ['serverhostname' => '', 'serverip' => '10.0.0.5'],
                'https://10.0.0.5:6443',
            ],
            'IPv6 literal' => [['serverhostname' => 'https://[fd00::1]:6443'], 'https://[fd00::1]:6443'],
            'path prefix of a proxy' => [
                ['serverhostname' => 'https://rancher.example.com/k8s/clusters/c-1/'],
                'https://rancher.example.com/k8s/clusters/c-1',
            ],
            'upper-case host' => [['serverhostname' => 'HTTPS://K8S.Example.COM:6443'], 'https://k8s.example.com:6443'],
            'surrounding spaces' => [
                ['serverhostname' => '  https://k8s.example.com:6443  '],
                'https://k8s.example.com:6443',
            ],
        ];
    }

    /**
     * @dataProvider urls
     * @param array<string, mixed> $server
     */
    #[DataProvider('urls')]
    public function testApiUrl(array $server, string $expected): void
    {
        self::assertSame($expected, ClusterSettings::fromParams($server + self::valid())->apiUrl);
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function refusals(): array
    {
        return [
            'no host' => [['serverhostname' => '', 'serverip' => ''], 'No Kubernetes API server is configured'],
            'plain http' => [['serverhostname' => 'http://k8s.example.com:6443'], 'must be reached over HTTPS'],
            'other scheme' => [['serverhostname' => 'ftp://k8s.example.com'], 'must be reached over HTTPS'],
            'credentials in URL' => [['serverhostname' => 'https://user:pw@k8s.example.com'], 'without credentials'],
            'query in URL' => [['serverhostname' => 'https://k8s.example.com/?x=1'], 'without credentials, query'],
            'spaces in host' => [['serverhostname' => 'https://k8s example.com'], 'spaces or control characters'],
            'newline in host' => [['serverhostname' => "https://k8s.example.com\nHost: evil"], 'spaces or control'],
            'port out of range' => [
                ['serverhostname' => 'k8s.example.com', 'serverport' => '70000'],
                'not a valid URL',
            ],
            'no token' => [['serverpassword' => ''], 'No ServiceAccount token is configured'],
            'token with newline' => [['serverpassword' => "abc\r\nX-Evil: 1"], 'one line of printable characters'],
            'token with space' => [['serverpassword' => 'Bearer abc'], 'one line of printable characters'],
            'no namespace' => [['serverusername' => ''], 'No namespace is configured'],
            'namespace path traversal' => [['serverusername' => '../kube-system'], 'not a valid Kubernetes namespace'],
            'namespace upper case' => [['serverusername' => 'Shop'], 'not a valid Kubernetes namespace'],
            'namespace too long' => [['serverusername' => str_repeat('a', 64)], 'not a valid Kubernetes namespace'],
            'access hash not PEM' => [
                ['serveraccesshash' => 'abc123'],
                'Access Hash must be empty or hold the cluster CA',
            ],
        ];
    }

    /**
     * @dataProvider refusals
     * @param array<string, mixed> $server
     */
    #[DataProvider('refusals')]
    public function testRefusals(array $server, string $expected): void
    {
        try {
            ClusterSettings::fromParams(array_replace(self::valid(), $server));
            self::fail('accepted');
        } catch (ModuleError $error) {
            self::assertStringContainsString($expected, $error->getMessage());
        }
    }

    public function testCaFromAccessHashIsNormalised(): void
    {
        $settings = ClusterSettings::fromParams(['serveraccesshash' => str_replace(
            "\n",
            "\r\n",
            self::CA,
        ) . "\r\n"] + self::valid());
        self::assertSame(self::CA . "\n", $settings->caPem);
    }

    public function testEmptyAccessHashMeansSystemTrust(): void
    {
        self::assertNull(ClusterSettings::fromParams(self::valid())->caPem);
    }

    public function testTokenAndNamespace(): void
    {
        $settings = ClusterSettings::fromParams(self::valid());
        self::assertSame('eyJhbGciOi.payload.sig', $settings->token);
        self::assertSame('clawhost', $settings->namespace);
    }

    public function testMessagesNeverContainTheToken(): void
    {
        try {
            ClusterSettings::fromParams(['serverpassword' => 'secret value with spaces'] + self::valid());
            self::fail('accepted');
        } catch (ModuleError $error) {
            self::assertStringNotContainsString('secret value', $error->getMessage());
        }
    }

    /** @return array<string, mixed> */
    private static function valid(): array
    {
        return [
            'serverhostname' => 'https://k8s.example.com:6443',
            'serverpassword' => 'eyJhbGciOi.payload.sig',
            'serverusername' => 'clawhost',
            'serveraccesshash' => '',
        ];
    }
}
