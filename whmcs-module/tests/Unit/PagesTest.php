<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeServerDirectory;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\View\InstanceStatus;

/** Test Connection, the client area and the admin service tab. */
final class PagesTest extends ModuleTestCase
{
    private const INSTANCE = '/apis/clawhost.dev/v1alpha1/namespaces/clawhost/openclawinstances/whmcs-42';

    public function testTestConnectionChecksApiAndEveryPermission(): void
    {
        $reviews = [];
        $this->useTransport(new FakeTransport(static function (HttpRequest $request) use (&$reviews): HttpResponse {
            if ($request->method === 'GET') {
                return FakeTransport::json(
                    200,
                    [
                        'kind' => 'APIResourceList',
                        'resources' => [['name' => 'openclawinstances'], ['name' => 'openclawinstances/status']],
                    ],
                );
            }
            $attributes = FakeTransport::body($request)['spec']['resourceAttributes'];
            $reviews[] = $attributes['verb'] . ' ' . $attributes['resource'] . '@' . $attributes['namespace'];
            return FakeTransport::json(201, ['status' => ['allowed' => true]]);
        }));
        self::assertSame(['success' => true, 'error' => ''], openclaw_TestConnection(self::params()));
        self::assertSame('/apis/clawhost.dev/v1alpha1', $this->transport->requests[0]->path);
        self::assertSame([
            'get openclawinstances@clawhost', 'list openclawinstances@clawhost', 'create openclawinstances@clawhost',
            'patch openclawinstances@clawhost', 'delete openclawinstances@clawhost', 'create secrets@clawhost',
        ], $reviews);
    }

    public function testTestConnectionListsMissingPermissions(): void
    {
        $this->useTransport(new FakeTransport(static function (HttpRequest $request): HttpResponse {
            if ($request->method === 'GET') {
                return FakeTransport::json(200, ['resources' => [['name' => 'openclawinstances']]]);
            }
            $verb = FakeTransport::body($request)['spec']['resourceAttributes']['verb'];
            return FakeTransport::json(201, ['status' => ['allowed' => !in_array($verb, ['delete', 'create'], true)]]);
        }));
        $result = openclaw_TestConnection(self::params());
        self::assertFalse($result['success']);
        self::assertStringContainsString(
            'may not create openclawinstances, delete openclawinstances, create secrets in namespace "clawhost"',
            $result['error'],
        );
    }

    public function testTestConnectionReportsAMissingCrd(): void
    {
        $this->useTransport(new FakeTransport(static fn (): HttpResponse => FakeTransport::status(
            404,
            'NotFound',
            'the server could not find the requested resource',
        )));
        $result = openclaw_TestConnection(self::params());
        self::assertStringContainsString('is not installed on this cluster', $result['error']);

        $this->useTransport(new FakeTransport(static fn (): HttpResponse => FakeTransport::json(
            200,
            ['resources' => []],
        )));
        self::assertStringContainsString('has no openclawinstances', openclaw_TestConnection(self::params())['error']);
    }

    public function testClientAreaOfAReadyInstance(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus();
        $page = openclaw_ClientArea(self::params());
        self::assertSame('templates/overview.tpl', $page['tabOverviewModuleOutputTemplate']);
        $vars = $page['templateVariables'];
        self::assertTrue($vars['instanceExists']);
        self::assertTrue($vars['ready']);
        self::assertSame('Ready', $vars['statusLabel']);
        self::assertSame('https://whmcs-42.claw.example.com/', $vars['url']);
        self::assertSame('203.0.113.10', $vars['ipv4']);
        self::assertSame('2001:db8::1', $vars['ipv6']);
        self::assertSame(self::GATEWAY_TOKEN, $vars['gatewayToken']);
        self::assertSame(
            ['reboot', 'approvedevices', 'backupnow', 'reinstall'],
            array_column($vars['actions'], 'function'),
        );
        self::assertTrue($vars['canOpenControlUi']);
    }

    public function testClientAreaHidesATokenTheInstanceDoesNotUse(): void
    {
        openclaw_CreateAccount(self::params());
        $vars = openclaw_ClientArea(self::params(['password' => str_repeat('x', 40)]))['templateVariables'];
        self::assertSame('', $vars['gatewayToken']);
        self::assertFalse($vars['ready']);
        self::assertSame('Setting up', $vars['statusLabel']);
        self::assertSame(['reinstall'], array_column($vars['actions'], 'function'), 'no reboot before it is ready');
        self::assertFalse($vars['canOpenControlUi']);
        self::assertSame(
            [
                ['label' => 'Server', 'state' => 'unknown'],
                ['label' => 'DNS', 'state' => 'unknown'],
                ['label' => 'OpenClaw', 'state' => 'unknown'],
            ],
            $vars['progress'],
        );
    }

    public function testClientAreaBeforeCreation(): void
    {
        $vars = openclaw_ClientArea(self::params())['templateVariables'];
        self::assertFalse($vars['instanceExists']);
    }

    public function testClientAreaErrorsAreGenericForCustomers(): void
    {
        $this->useTransport(new FakeTransport(static fn (): HttpResponse => FakeTransport::status(
            403,
            'Forbidden',
            'User "system:serviceaccount:clawhost:whmcs" cannot get',
        )));
        $page = openclaw_ClientArea(self::params());
        self::assertSame('templates/error.tpl', $page['tabOverviewModuleOutputTemplate']);
        self::assertStringNotContainsString('serviceaccount', $page['templateVariables']['usefulErrorHelper']);
    }

    public function testClientAreaLoadsServerCredentialsWhenWhmcsOmitsThem(): void
    {
        $directory = new FakeServerDirectory([1 => [
            'serverhostname' => 'https://other:6443',
            'serverpassword' => 'from-directory-token',
            'serverusername' => 'clawhost',
        ]], []);
        $seen = [];
        $transport = $this->api->transport();
        Runtime::use(static function (ClusterSettings $settings) use ($transport, &$seen): FakeTransport {
            $seen[] = $settings->apiUrl . ' ' . $settings->token;
            return $transport;
        }, $directory);
        $page = openclaw_ClientArea(self::params(['serverpassword' => '', 'serverhostname' => '']));
        self::assertSame('templates/overview.tpl', $page['tabOverviewModuleOutputTemplate']);
        self::assertCount(1, $transport->requests);
        self::assertSame(['https://other:6443 from-directory-token'], $seen);
    }

    public function testAdminTabShowsStateAndEscapesIt(): void
    {
        openclaw_CreateAccount(self::params());
        $status = self::readyStatus();
        $status['message'] = '<script>alert(1)</script>';
        $status['url'] = 'javascript:alert(1)';
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $fields = openclaw_AdminServicesTabFields(self::params());
        self::assertSame('clawhost/whmcs-42', $fields['OpenClaw Instance']);
        self::assertSame('Running / Ready: yes (operator has not processed the latest change yet)', $fields['Phase']);
        self::assertSame('4711 whmcs-42-abcd1234 cx23', $fields['Hetzner Server']);
        self::assertSame('203.0.113.10, 2001:db8::1', $fields['Addresses']);
        self::assertSame('&lt;script&gt;alert(1)&lt;/script&gt;', $fields['Last Message']);
        self::assertSame('javascript:alert(1)', $fields['URL'], 'only http(s) links are clickable');
        self::assertStringContainsString('<td>Ready</td><td>True</td><td>AllGood</td>', $fields['Conditions']);
        self::assertSame(
            '<code style="user-select: all">'
                . 'kubectl --namespace clawhost describe openclawinstances.clawhost.dev whmcs-42</code>',
            $fields['kubectl'],
        );
    }

    public function testAdminTabOfAMissingInstanceAndOfAnError(): void
    {
        self::assertStringContainsString(
            'does not exist',
            openclaw_AdminServicesTabFields(self::params())['OpenClaw Instance'],
        );
        $fields = openclaw_AdminServicesTabFields(self::params(['serverusername' => '<b>']));
        self::assertStringContainsString('&lt;b&gt;', $fields['OpenClaw Instance']);
    }

    public function testStatusIsReadDefensively(): void
    {
        $status = InstanceStatus::of([
            'status' => ['conditions' => 'garbage', 'serverId' => 'x', 'phase' => 5],
            'metadata' => 'no',
        ]);
        self::assertSame('5', $status->phase);
        self::assertNull($status->ready);
        self::assertNull($status->serverId);
        self::assertSame([], $status->conditions);
        self::assertSame('Pending', InstanceStatus::of([])->phase);
    }

    /** @return array<string, mixed> */
    private static function readyStatus(): array
    {
        return [
            'phase' => 'Running',
            'message' => 'ready',
            'url' => 'https://whmcs-42.claw.example.com/',
            'ipv4' => '203.0.113.10',
            'ipv6' => '2001:db8::1',
            'serverId' => 4711,
            'serverName' => 'whmcs-42-abcd1234',
            'serverType' => 'cx23',
            'conditions' => [
                [
                    'type' => 'Ready',
                    'status' => 'True',
                    'reason' => 'AllGood',
                    'message' => 'ok',
                    'lastTransitionTime' => '2026-01-01T00:00:00Z',
                ],
                [
                    'type' => 'ServerReady',
                    'status' => 'True',
                    'reason' => 'Running',
                    'message' => '',
                    'lastTransitionTime' => '2026-01-01T00:00:00Z',
                ],
            ],
        ];
    }
}
