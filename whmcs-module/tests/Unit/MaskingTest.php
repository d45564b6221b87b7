<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use WHMCS\Module\Server\OpenClaw\Kube\HttpRequest;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Kube\TransportFailure;
use WHMCS\Module\Server\OpenClaw\ModuleLog;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * Every API call reaches logModuleCall, and nothing handed to it (nor any returned message) contains
 * the cluster token or a gateway token, even when the server echoes them back.
 */
final class MaskingTest extends ModuleTestCase
{
    public function testEveryCallIsLoggedWithoutSecrets(): void
    {
        $actions = [
            'CreateAccount', 'SuspendAccount', 'UnsuspendAccount', 'ChangePackage', 'reboot', 'reinstall', 'resync',
            'ChangePassword', 'backupnow', 'TerminateAccount',
        ];
        foreach ($actions as $function) {
            self::assertSame('success', ('openclaw_' . $function)(self::params()), $function);
        }
        openclaw_ClientArea(self::params());
        openclaw_AdminServicesTabFields(self::params());

        self::assertCount(count($this->transport->requests), WhmcsRecorder::$moduleLog, 'one log entry per API call');
        foreach (WhmcsRecorder::$moduleLog as $entry) {
            self::assertSame('openclaw', $entry['module']);
            self::assertSame([], $entry['replace'], 'secrets are masked before the call, never handed over');
            self::assertMatchesRegularExpression('#^(GET|PATCH|POST|DELETE) /#', $entry['request']);
        }
        $secretPost = array_values(array_filter(
            WhmcsRecorder::$moduleLog,
            static fn (array $e): bool => str_starts_with($e['request'], 'POST /api/v1/'),
        ));
        self::assertStringContainsString(
            '"token": "***"',
            $secretPost[0]['request'],
            'the Secret is logged with its data blanked',
        );
        self::assertLogHasNoSecrets(self::CLUSTER_TOKEN, self::GATEWAY_TOKEN);
    }

    public function testGeneratedTokenIsMaskedEvenWhenTheServerEchoesIt(): void
    {
        $this->useTransport(new FakeTransport(static function (HttpRequest $request): HttpResponse {
            // A hostile or buggy server repeating the request body in an error.
            return FakeTransport::status(422, 'Invalid', 'rejected ' . $request->body, ['causes' => [
                ['field' => 'data.token', 'message' => 'echo: ' . $request->body],
            ]]);
        }));
        openclaw_CreateAccount(self::params(['password' => '']));
        $token = WhmcsRecorder::localApi('UpdateClientProduct')[0]['servicepassword'];
        $this->useTransport(new FakeTransport(static fn (HttpRequest $r): HttpResponse => FakeTransport::status(
            500,
            'InternalError',
            'echo ' . $r->body . ' ' . $token,
        )));
        $result = openclaw_CreateAccount(self::params(['password' => $token]));
        self::assertStringNotContainsString($token, $result);
        self::assertLogHasNoSecrets($token, self::CLUSTER_TOKEN);
    }

    public function testTokensInTransportErrorsAreMasked(): void
    {
        $this->useTransport(new FakeTransport(static function (): HttpResponse {
            throw new TransportFailure(7, 'proxy said Authorization: Bearer ' . self::CLUSTER_TOKEN);
        }));
        $result = openclaw_SuspendAccount(self::params());
        self::assertStringStartsWith('Cannot connect to the Kubernetes API', $result);
        self::assertStringNotContainsString(self::CLUSTER_TOKEN, $result);
        self::assertLogHasNoSecrets(self::CLUSTER_TOKEN);
    }

    public function testSecretDataIsBlankedEvenIfNotRegistered(): void
    {
        $log = new ModuleLog('Test');
        $log->record(
            "POST /api/v1/namespaces/x/secrets\n" . json_encode([
                'kind' => 'Secret',
                'data' => ['token' => base64_encode('unregistered-token')],
            ]),
            'HTTP 201',
            'ok',
        );
        self::assertStringNotContainsString(base64_encode('unregistered-token'), WhmcsRecorder::moduleLogText());
    }

    public function testMaskCoversEncodedForms(): void
    {
        $log = new ModuleLog('Test');
        $secret = 'a/b+c"d\\e==';
        $log->addSecret($secret);
        $forms = [
            $secret,
            base64_encode($secret),
            rawurlencode($secret),
            urlencode($secret),
            substr((string) json_encode($secret), 1, -1),
        ];
        foreach ($forms as $form) {
            self::assertSame('x *** y', $log->mask('x ' . $form . ' y'), $form);
        }
        $log->addSecret('abc');
        self::assertSame('abc', $log->mask('abc'), 'very short values are not treated as secrets');
    }

    public function testLongBodiesAreTruncatedInTheLog(): void
    {
        $log = new ModuleLog('Test');
        $log->record('GET /x', 'HTTP 200' . "\n" . str_repeat('z', 100000), 'ok');
        self::assertLessThan(20000, strlen(WhmcsRecorder::$moduleLog[0]['response']));
        self::assertStringEndsWith('[truncated]', WhmcsRecorder::$moduleLog[0]['response']);
    }
}
