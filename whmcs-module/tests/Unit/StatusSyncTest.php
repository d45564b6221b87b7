<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeServerDirectory;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;
use WHMCS\Module\Server\OpenClaw\Whmcs\StatusSync;

/** The cron hook copying observed addresses into WHMCS services. */
final class StatusSyncTest extends ModuleTestCase
{
    private const EMPTY = ['dedicatedip' => '', 'assignedips' => '', 'domain' => ''];

    /** @return array<string, array{0: array<mixed>, 1: array<int, array<string, string>>, 2: array<int, array<string, string>>}> */
    public static function plans(): array
    {
        $both = self::instance('42', ['ipv4' => '203.0.113.10', 'ipv6' => '2001:db8::1'], 'bot.example.com');
        return [
            'new addresses and domain' => [
                [$both],
                [42 => self::EMPTY],
                [42 => [
                    'dedicatedip' => '203.0.113.10',
                    'assignedips' => '2001:db8::1',
                    'domain' => 'bot.example.com',
                ]],
            ],
            'nothing changed' => [
                [$both],
                [42 => [
                    'dedicatedip' => '203.0.113.10',
                    'assignedips' => "2001:db8::1\r\n",
                    'domain' => 'bot.example.com',
                ]],
                [],
            ],
            'admin domain kept' => [
                [$both],
                [42 => ['dedicatedip' => '203.0.113.10', 'assignedips' => '2001:db8::1', 'domain' => 'custom.example']],
                [],
            ],
            'IPv6 only' => [
                [self::instance('42', ['ipv6' => '2001:db8::2'], 'h.example.com')],
                [42 => self::EMPTY],
                [42 => ['dedicatedip' => '2001:db8::2', 'domain' => 'h.example.com']],
            ],
            'no addresses yet: nothing blanked' => [
                [self::instance('42', [], '')],
                [42 => ['dedicatedip' => '198.51.100.1', 'assignedips' => 'x', 'domain' => 'd']],
                [],
            ],
            'IPv6 dropped' => [
                [self::instance('42', ['ipv4' => '203.0.113.10'], '')],
                [42 => ['dedicatedip' => '203.0.113.10', 'assignedips' => '2001:db8::1', 'domain' => 'd']],
                [42 => ['assignedips' => '']],
            ],
            'service of another server or WHMCS ignored' => [
                [self::instance('99', ['ipv4' => '203.0.113.10'], 'h')],
                [42 => self::EMPTY],
                [],
            ],
            'bad labels ignored' => [
                [self::instance('4x', ['ipv4' => '1.1.1.1'], ''), ['metadata' => 'garbage']],
                [42 => self::EMPTY],
                [],
            ],
        ];
    }

    /**
     * @dataProvider plans
     * @param list<array<mixed>> $instances
     * @param array<int, array{dedicatedip: string, assignedips: string, domain: string}> $services
     * @param array<int, array<string, string>> $expected
     */
    #[DataProvider('plans')]
    public function testPlan(array $instances, array $services, array $expected): void
    {
        self::assertSame($expected, StatusSync::plan($instances, $services));
    }

    public function testHookListsEachServerOnceAndWritesThroughLocalApi(): void
    {
        $lists = [];
        $transport = new FakeTransport(static function (HttpRequest $request) use (&$lists): HttpResponse {
            $lists[] = $request->path;
            return FakeTransport::json(
                200,
                ['items' => [self::instance('42', ['ipv4' => '203.0.113.10'], 'h.example.com')]],
            );
        });
        $broken = new FakeTransport(static fn (): HttpResponse => FakeTransport::status(
            401,
            'Unauthorized',
            'Unauthorized',
        ));
        $directory = new FakeServerDirectory(
            [
                1 => [
                    'serverhostname' => 'https://a:6443',
                    'serverpassword' => self::CLUSTER_TOKEN,
                    'serverusername' => 'shop',
                ],
                2 => [
                    'serverhostname' => 'https://b:6443',
                    'serverpassword' => 'another-token-123456',
                    'serverusername' => 'shop',
                ],
                3 => ['serverhostname' => '', 'serverpassword' => 'x', 'serverusername' => 'shop'],
            ],
            [1 => [42 => self::EMPTY, 43 => self::EMPTY]],
        );
        Runtime::use(
            static fn (ClusterSettings $s): FakeTransport => $s->apiUrl === 'https://a:6443' ? $transport : $broken,
            $directory,
        );

        $summary = hook_openclaw_sync_status([]);

        self::assertSame(
            ['/apis/clawhost.dev/v1alpha1/namespaces/shop/openclawinstances'
                . '?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dwhmcs'],
            $lists,
        );
        self::assertSame(
            [['serviceid' => 42, 'dedicatedip' => '203.0.113.10', 'domain' => 'h.example.com']],
            WhmcsRecorder::localApi('UpdateClientProduct'),
        );
        self::assertSame(1, $summary['updated']);
        self::assertCount(2, $summary['errors']);
        self::assertStringStartsWith('server 2: The Kubernetes API rejected the token', $summary['errors'][0]);
        self::assertStringStartsWith('server 3: No Kubernetes API server is configured', $summary['errors'][1]);
        self::assertStringContainsString('OpenClaw status sync: server 2', WhmcsRecorder::$activity[0]);
        self::assertLogHasNoSecrets(self::CLUSTER_TOKEN, 'another-token-123456');
    }

    public function testHookSurvivesAFailingDirectory(): void
    {
        $directory = new class implements \WHMCS\Module\Server\OpenClaw\Whmcs\ServerDirectory {
            public function servers(): array
            {
                throw new \RuntimeException('database gone');
            }
            public function server(int $serverId): ?array
            {
                return null;
            }
            public function services(int $serverId): array
            {
                return [];
            }
            public function recordUsage(int $serverId, int $serviceId, array $columns): void
            {
            }
        };
        Runtime::use(null, $directory);
        $summary = hook_openclaw_sync_status([]);
        self::assertSame(['status sync could not start: RuntimeException'], $summary['errors']);
    }

    /**
     * @param array<string, string> $status
     * @return array<mixed>
     */
    private static function instance(string $serviceId, array $status, string $hostname): array
    {
        return [
            'metadata' => [
                'name' => 'whmcs-' . $serviceId,
                'labels' => ['clawhost.dev/whmcs-service-id' => $serviceId],
            ],
            'spec' => ['hostname' => $hostname],
            'status' => $status,
        ];
    }
}
