<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * The module's actions, request by request, against an in-memory API server. The same behaviour
 * against kube-apiserver is proven by tests/Integration.
 */
final class LifecycleTest extends ModuleTestCase
{
    private const INSTANCE = '/apis/clawhost.dev/v1alpha1/namespaces/clawhost/openclawinstances/whmcs-42';
    private const SECRETS = '/api/v1/namespaces/clawhost/secrets';

    public function testCreateAppliesTheInstanceThenCreatesTheSecret(): void
    {
        self::assertSame('success', openclaw_CreateAccount(self::params()));

        [$read, $apply, $secret] = $this->transport->requests;
        self::assertSame('GET', $read->method, 'the current instance is read first, to keep its spec.env');
        self::assertSame(self::INSTANCE, $read->path);
        self::assertSame('PATCH', $apply->method);
        self::assertSame(self::INSTANCE . '?fieldManager=whmcs-openclaw&force=true', $apply->path);
        self::assertSame('application/apply-patch+yaml', $apply->contentType);
        $body = FakeTransport::body($apply);
        self::assertSame('whmcs-42.claw.example.com', $body['spec']['hostname']);
        self::assertSame(
            'whmcs-42-gateway-' . substr(hash('sha256', self::GATEWAY_TOKEN), 0, 10),
            $body['spec']['gatewayTokenSecretRef']['name'],
        );
        self::assertStringNotContainsString(
            self::GATEWAY_TOKEN,
            (string) $apply->body,
            'the token never goes into the resource',
        );

        self::assertSame('POST', $secret->method);
        self::assertSame(self::SECRETS . '?fieldManager=whmcs-openclaw', $secret->path);
        $secretBody = FakeTransport::body($secret);
        self::assertSame(base64_encode(self::GATEWAY_TOKEN), $secretBody['data']['token']);
        self::assertSame('uid-1', $secretBody['metadata']['ownerReferences'][0]['uid']);
        self::assertSame(
            [['serviceid' => 42, 'domain' => 'whmcs-42.claw.example.com']],
            WhmcsRecorder::localApi('UpdateClientProduct'),
        );
    }

    public function testCreateTwiceIsIdempotent(): void
    {
        self::assertSame('success', openclaw_CreateAccount(self::params()));
        $first = $this->api->objects;
        self::assertSame(
            'success',
            openclaw_CreateAccount(self::params()),
            'the Secret already existing (409) is fine',
        );
        self::assertSame($first, $this->api->objects);
        self::assertCount(2, $this->api->objects, 'one instance, one Secret');
    }

    public function testCreateGeneratesATokenAndStoresItInWhmcsFirst(): void
    {
        self::assertSame(
            'success',
            openclaw_CreateAccount(self::params(['password' => 'Wh1mcsPw!', 'domain' => 'bot.example.org'])),
        );
        $updates = WhmcsRecorder::localApi('UpdateClientProduct');
        self::assertCount(1, $updates);
        $token = $updates[0]['servicepassword'];
        self::assertSame(43, strlen($token));
        self::assertArrayNotHasKey('domain', $updates[0], 'a full domain is already the host name');
        $secretBody = FakeTransport::body($this->transport->requests[2]);
        self::assertSame(base64_encode($token), $secretBody['data']['token']);
        self::assertLogHasNoSecrets($token, self::CLUSTER_TOKEN);
    }

    public function testCreateStopsWhenWhmcsCannotStoreTheToken(): void
    {
        WhmcsRecorder::$localApiAnswers['UpdateClientProduct'] = [
            'result' => 'error',
            'message' => 'Service ID Not Found',
        ];
        $result = openclaw_CreateAccount(self::params(['password' => '']));
        self::assertSame('WHMCS UpdateClientProduct failed: Service ID Not Found', $result);
        self::assertSame(
            [],
            $this->transport->requests,
            'nothing is written to Kubernetes with a token WHMCS does not know',
        );
    }

    public function testCreateReportsAnInstanceStillBeingDeleted(): void
    {
        $this->api->objects[self::INSTANCE] = ['metadata' => [
            'uid' => 'old',
            'deletionTimestamp' => '2026-01-01T00:00:00Z',
        ]];
        $result = openclaw_CreateAccount(self::params());
        self::assertStringContainsString('is still being deleted', $result);
    }

    public function testCreateSurfacesOtherSecretFailures(): void
    {
        $this->useTransport(new FakeTransport(static function (HttpRequest $request): HttpResponse {
            if ($request->method === 'POST') {
                return FakeTransport::status(
                    403,
                    'Forbidden',
                    'secrets is forbidden: User "x" cannot create resource "secrets"',
                );
            }
            return FakeTransport::json(200, ['metadata' => ['uid' => 'u']]);
        }));
        $result = openclaw_CreateAccount(self::params());
        self::assertStringStartsWith('Forbidden: secrets is forbidden', $result);
        self::assertStringContainsString('whmcs-role.yaml', $result);
    }

    public function testSuspendAndUnsuspendMergePatchOnlySuspended(): void
    {
        openclaw_CreateAccount(self::params());
        $this->transport->requests = [];
        self::assertSame('success', openclaw_SuspendAccount(self::params()));
        self::assertTrue($this->api->objects[self::INSTANCE]['spec']['suspended']);
        self::assertSame('success', openclaw_UnsuspendAccount(self::params()));
        self::assertFalse($this->api->objects[self::INSTANCE]['spec']['suspended']);

        [, $suspend] = $this->transport->requests;
        self::assertSame('application/merge-patch+json', $suspend->contentType);
        self::assertSame(self::INSTANCE . '?fieldManager=whmcs-openclaw', $suspend->path);
        self::assertSame(['spec' => ['suspended' => true, 'suspendMode' => 'PowerOff']], FakeTransport::body($suspend));
    }

    public function testSuspendOfAMissingInstanceSaysSo(): void
    {
        $result = openclaw_SuspendAccount(self::params());
        self::assertSame(
            'OpenClawInstance "whmcs-42" in namespace "clawhost" does not exist. Run the Create module command first.',
            $result,
        );
    }

    public function testChangePackageReappliesAndKeepsTheTokenSecret(): void
    {
        openclaw_CreateAccount(self::params());
        $secretName = $this->api->objects[self::INSTANCE]['spec']['gatewayTokenSecretRef']['name'];
        $this->transport->requests = [];
        $params = self::params(['password' => 'changed-elsewhere', 'configoptions' => ['Server Type' => 'cx33']]);
        self::assertSame('success', openclaw_ChangePackage($params));
        [$get, $apply] = $this->transport->requests;
        self::assertSame('GET', $get->method);
        self::assertSame('cx33', FakeTransport::body($apply)['spec']['serverType']);
        self::assertSame($secretName, FakeTransport::body($apply)['spec']['gatewayTokenSecretRef']['name']);
        self::assertArrayNotHasKey('suspended', FakeTransport::body($apply)['spec']);
        self::assertCount(2, $this->transport->requests, 'no Secret is written');
    }

    public function testChangePackageNeedsAnExistingInstance(): void
    {
        self::assertStringContainsString('does not exist', openclaw_ChangePackage(self::params()));
        self::assertCount(1, $this->transport->requests, 'nothing is created by an upgrade');
    }

    public function testChangePasswordRotatesTheTokenIntoANewSecret(): void
    {
        openclaw_CreateAccount(self::params());
        $rotated = str_repeat('R', 40);
        self::assertSame('success', openclaw_ChangePassword(self::params(['password' => $rotated])));
        $ref = $this->api->objects[self::INSTANCE]['spec']['gatewayTokenSecretRef']['name'];
        self::assertSame('whmcs-42-gateway-' . substr(hash('sha256', $rotated), 0, 10), $ref);
        self::assertSame(base64_encode($rotated), $this->api->objects[self::SECRETS . '/' . $ref]['data']['token']);
        self::assertSame(
            'The gateway token (the service password) must be 32 to 512 printable characters without spaces.',
            openclaw_ChangePassword(self::params(['password' => 'weak'])),
        );
        self::assertLogHasNoSecrets($rotated);
    }

    public function testTerminateDeletesAndAMissingInstanceCountsAsTerminated(): void
    {
        openclaw_CreateAccount(self::params());
        self::assertSame('success', openclaw_TerminateAccount(self::params()));
        self::assertArrayNotHasKey(self::INSTANCE, $this->api->objects);
        self::assertSame('success', openclaw_TerminateAccount(self::params()));
        self::assertSame('PATCH', end($this->transport->requests)->method, 'a missing instance: no DELETE');
    }

    public function testTerminateWithoutTheApiInstalledIsAnError(): void
    {
        $this->useTransport(new FakeTransport(static fn (): HttpResponse => new HttpResponse(
            404,
            '404 page not found',
            'text/plain',
        )));
        self::assertStringContainsString('is not installed on this cluster', openclaw_TerminateAccount(self::params()));
    }

    /** @return array<string, array{0: string, 1: string}> */
    public static function requestButtons(): array
    {
        return [
            'reboot' => ['openclaw_reboot', 'clawhost.dev/reboot-requested-at'],
            'reinstall' => ['openclaw_reinstall', 'clawhost.dev/reinstall-requested-at'],
            'resync' => ['openclaw_resync', 'clawhost.dev/reconcile-requested-at'],
        ];
    }

    /** @dataProvider requestButtons */
    #[DataProvider('requestButtons')]
    public function testButtonsSetTheirRequestAnnotation(string $function, string $annotation): void
    {
        openclaw_CreateAccount(self::params());
        self::assertSame('success', $function(self::params()));
        $first = $this->api->objects[self::INSTANCE]['metadata']['annotations'][$annotation];
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/', $first);
        usleep(2);
        $function(self::params());
        self::assertNotSame(
            $first,
            $this->api->objects[self::INSTANCE]['metadata']['annotations'][$annotation],
            'each click is a new request',
        );
    }

    public function testRebootOfASuspendedInstanceIsRefused(): void
    {
        openclaw_CreateAccount(self::params());
        openclaw_SuspendAccount(self::params());
        self::assertStringContainsString('is suspended', openclaw_reboot(self::params()));
        self::assertArrayNotHasKey('annotations', $this->api->objects[self::INSTANCE]['metadata']);
    }

    public function testApiGroupOverrideFromEnvironment(): void
    {
        putenv('OPENCLAW_API_GROUP=staging.clawhost.dev');
        putenv('OPENCLAW_API_VERSION=v1beta1');
        openclaw_SuspendAccount(self::params());
        self::assertStringStartsWith(
            '/apis/staging.clawhost.dev/v1beta1/namespaces/clawhost/',
            $this->transport->requests[0]->path,
        );
        putenv('OPENCLAW_API_GROUP=../evil');
        self::assertSame('OPENCLAW_API_GROUP is not a valid API group name.', openclaw_SuspendAccount(self::params()));
    }

    public function testUnexpectedErrorsBecomeMessages(): void
    {
        $this->useTransport(new FakeTransport(static function (): HttpResponse {
            throw new \LogicException('boom with ' . self::CLUSTER_TOKEN);
        }));
        $result = openclaw_SuspendAccount(self::params());
        self::assertStringStartsWith('Unexpected error in the OpenClaw module (LogicException: boom with ***', $result);
        self::assertStringNotContainsString(self::CLUSTER_TOKEN, $result);
        self::assertLogHasNoSecrets(self::CLUSTER_TOKEN);
    }
}
