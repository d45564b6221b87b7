<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use PHPUnit\Framework\Assert;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\CurlTransport;
use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;

/**
 * The real API server the integration group runs against, as prepared by tests/whmcs/test_phpunit.py:
 *   K8S_SERVER, K8S_CA_FILE          the apiserver URL and its CA
 *   K8S_NAMESPACE                    where the WHMCS Role is bound
 *   K8S_TOKEN                        a token of the WHMCS ServiceAccount (whmcs-module/rbac/whmcs-role.yaml)
 *   K8S_OTHER_NAMESPACE              an existing namespace the WHMCS token has no rights in
 *   K8S_VERIFIER_TOKEN               a test-only token that may read Secrets, write status and add finalizers
 */
final class ClusterUnderTest
{
    private static ?self $instance = null;

    private function __construct(
        public readonly string $server,
        public readonly string $caPem,
        public readonly string $namespace,
        public readonly string $token,
        public readonly string $otherNamespace,
        private readonly string $verifierToken,
    ) {
    }

    public static function get(): self
    {
        if (self::$instance === null) {
            $missing = [];
            $env = [];
            $names = [
                'K8S_SERVER',
                'K8S_CA_FILE',
                'K8S_NAMESPACE',
                'K8S_TOKEN',
                'K8S_OTHER_NAMESPACE',
                'K8S_VERIFIER_TOKEN',
            ];
            foreach ($names as $name) {
                $value = getenv($name);
                if (!is_string($value) || $value === '') {
                    $missing[] = $name;
                }
                $env[$name] = (string) $value;
            }
            if ($missing !== []) {
                // Not a skip: running this group without a cluster is a setup error.
                Assert::fail('integration tests need ' . implode(
                    ', ',
                    $missing,
                ) . ' (run tests/whmcs/test_phpunit.py)');
            }
            self::$instance = new self(
                rtrim($env['K8S_SERVER'], '/'),
                (string) file_get_contents($env['K8S_CA_FILE']),
                $env['K8S_NAMESPACE'],
                $env['K8S_TOKEN'],
                $env['K8S_OTHER_NAMESPACE'],
                $env['K8S_VERIFIER_TOKEN'],
            );
        }
        return self::$instance;
    }

    /**
     * WHMCS `$params` for a service on a server record pointing at this cluster.
     *
     * @param array<string, mixed> $overrides
     * @return array<string, mixed>
     */
    public function params(int $serviceId, array $overrides = []): array
    {
        return array_replace([
            'serviceid' => (string) $serviceId,
            'userid' => '7',
            'serverid' => '1',
            'domain' => '',
            'password' => '',
            'serverhostname' => $this->server,
            'serverusername' => $this->namespace,
            'serverpassword' => $this->token,
            'serveraccesshash' => $this->caPem,
            'configoption1' => 'cx23',
            'configoption2' => 'fsn1',
            'configoption3' => 'ubuntu-24.04',
            'configoption4' => 'claw.example.com',
            'configoption7' => '',
            'configoption8' => 'Delete',
            'configoptions' => [],
        ], $overrides);
    }

    /** A raw request with the WHMCS token, to probe what it may do. */
    public function asWhmcs(
        string $method,
        string $path,
        ?string $body = null,
        string $type = 'application/json',
    ): HttpResponse {
        return $this->transport($this->token)->send(new HttpRequest($method, $path, $body, $type));
    }

    /** A request with the verifier's token (reads Secrets, writes status: what WHMCS may not). */
    public function asVerifier(
        string $method,
        string $path,
        ?string $body = null,
        string $type = 'application/json',
    ): HttpResponse {
        return $this->transport($this->verifierToken)->send(new HttpRequest($method, $path, $body, $type));
    }

    /** @return array<mixed> */
    public function read(string $path): array
    {
        $response = $this->asVerifier('GET', $path);
        Assert::assertSame(200, $response->status, $path . ': ' . $response->body);
        return $response->json() ?? [];
    }

    public function instancePath(int $serviceId, string $suffix = ''): string
    {
        return '/apis/clawhost.dev/v1alpha1/namespaces/' . $this->namespace . '/openclawinstances/whmcs-'
            . $serviceId . $suffix;
    }

    public function secretPath(string $name): string
    {
        return '/api/v1/namespaces/' . $this->namespace . '/secrets/' . $name;
    }

    private function transport(string $token): CurlTransport
    {
        return new CurlTransport(ClusterSettings::fromParams([
            'serverhostname' => $this->server,
            'serverpassword' => $token,
            'serverusername' => $this->namespace,
            'serveraccesshash' => $this->caPem,
        ]));
    }
}
