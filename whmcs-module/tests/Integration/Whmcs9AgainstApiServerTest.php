<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Integration;

use PHPUnit\Framework\Attributes\Group;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\CurlTransport;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;
use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Tests\Support\CountingTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeServerDirectory;
use WHMCS\Module\Server\OpenClaw\Tests\Support\IntegrationTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\RecordingServiceModel;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * The WHMCS 9 additions against the real kube-apiserver with the least-privilege WHMCS token:
 * customer credentials as create-only Secrets, the new day-2 actions, SSO, ListAccounts,
 * UsageUpdate, the cron's single LIST per namespace and multi-service orders.
 *
 * @group integration
 */
#[Group('integration')]
final class Whmcs9AgainstApiServerTest extends IntegrationTestCase
{
    private const ANTHROPIC_KEY = 'sk-ant-api03-integration-test-key-0123456789abcdef';
    private const TELEGRAM_TOKEN = '123456789:AAH-telegram-integration-token-abcdefghij';

    public function testCredentialsBecomeCreateOnlySecretsReferencedFromSpecEnv(): void
    {
        $id = self::newServiceId();
        $model = new RecordingServiceModel();
        $params = $this->cluster->params($id, ['model' => $model, 'customfields' => [
            'Model Provider' => 'anthropic|Anthropic (Claude)',
            'Model API Key' => self::ANTHROPIC_KEY,
            'Telegram Bot Token' => self::TELEGRAM_TOKEN,
            'Discord Bot Token' => '',
        ]]);
        self::assertSame('success', openclaw_CreateAccount($params));
        $this->generatedToken();
        $instance = $this->cluster->read($this->cluster->instancePath($id));
        $env = $instance['spec']['env'];
        self::assertSame(['ANTHROPIC_API_KEY', 'TELEGRAM_BOT_TOKEN'], array_column($env, 'name'));
        foreach ($env as $entry) {
            self::assertSame('value', $entry['secretKeyRef']['key']);
        }
        $encoded = (string) json_encode($instance);
        foreach ([self::ANTHROPIC_KEY, self::TELEGRAM_TOKEN] as $value) {
            self::assertStringNotContainsString($value, $encoded, 'a credential in the instance');
            self::assertStringNotContainsString(base64_encode($value), $encoded);
        }
        $anthropic = $this->cluster->read($this->cluster->secretPath($env[0]['secretKeyRef']['name']));
        self::assertSame(self::ANTHROPIC_KEY, base64_decode($anthropic['data']['value']));
        self::assertSame($instance['metadata']['uid'], $anthropic['metadata']['ownerReferences'][0]['uid']);
        self::assertSame(
            [['Model API Key' => '', 'Telegram Bot Token' => '']],
            $model->saved(),
            'the fields are emptied in WHMCS once stored',
        );
        $this->gatewayTokens = [...$this->gatewayTokens, self::ANTHROPIC_KEY, self::TELEGRAM_TOKEN];

        // Later: a new key from the client-area form makes a new Secret; the other credential stays.
        $newKey = 'sk-ant-api03-rotated-key-fedcba9876543210';
        $this->gatewayTokens[] = $newKey;
        $params['customfields'] = [];
        $params['password'] = $this->gatewayTokens[0];
        $form = ['openclaw_provider' => 'anthropic', 'openclaw_api_key' => $newKey];
        self::assertSame('success', \WHMCS\Module\Server\OpenClaw\CustomerActions::updateCredentials($params, $form));
        $env2 = $this->cluster->read($this->cluster->instancePath($id))['spec']['env'];
        self::assertSame(['ANTHROPIC_API_KEY', 'TELEGRAM_BOT_TOKEN'], array_column($env2, 'name'));
        self::assertNotSame($env[0]['secretKeyRef']['name'], $env2[0]['secretKeyRef']['name']);
        self::assertSame($env[1], $env2[1]);
        $rotated = $this->cluster->read($this->cluster->secretPath($env2[0]['secretKeyRef']['name']));
        self::assertSame($newKey, base64_decode($rotated['data']['value']));

        // Nothing of it comes back to the customer's page.
        $page = (string) json_encode(openclaw_ClientArea($params));
        self::assertStringNotContainsString($newKey, $page);
        self::assertStringContainsString('Anthropic API key', $page);
    }

    public function testTheWhmcsTokenCannotReadAnySecret(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id, ['customfields' => ['Model Provider' => 'openai',
            'Model API Key' => 'sk-proj-integration-0123456789']]);
        self::assertSame('success', openclaw_CreateAccount($params));
        $this->generatedToken();
        $this->gatewayTokens[] = 'sk-proj-integration-0123456789';
        $name = $this->cluster->read($this->cluster->instancePath($id))['spec']['env'][0]['secretKeyRef']['name'];
        $secrets = '/api/v1/namespaces/' . $this->cluster->namespace . '/secrets';
        $merge = 'application/merge-patch+json';
        foreach (
            [
                ['GET', $secrets . '/' . $name, null, 'application/json'],
                ['GET', $secrets, null, 'application/json'],
                ['GET', $secrets . '?watch=true&timeoutSeconds=1', null, 'application/json'],
                ['GET', '/api/v1/secrets', null, 'application/json'],
                ['PATCH', $secrets . '/' . $name, '{"metadata":{"labels":{"x":"y"}}}', $merge],
                ['DELETE', $secrets . '/' . $name, null, 'application/json'],
            ] as [$method, $path, $body, $type]
        ) {
            $answer = $this->cluster->asWhmcs($method, $path, $body, $type);
            self::assertSame(403, $answer->status, $method . ' ' . $path . ': ' . $answer->body);
            self::assertStringNotContainsString(base64_encode('sk-proj-integration-0123456789'), $answer->body);
        }
    }

    public function testApproveDevicesHibernateAndWakeWithReadableResults(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id, ['configoption10' => 'on']);
        self::assertSame('success', openclaw_CreateAccount($params));
        $params['password'] = $this->generatedToken();
        $this->writeStatus($id, ['phase' => 'Running', 'url' => 'https://whmcs-' . $id . '.claw.example.com/',
            'conditions' => [self::ready()]]);

        self::assertSame('success', openclaw_approvedevices($params));
        $instance = $this->cluster->read($this->cluster->instancePath($id));
        $requested = $instance['metadata']['annotations']['clawhost.dev/approve-devices-requested-at'];
        $vars = openclaw_ClientArea($params)['templateVariables'];
        self::assertSame(
            [['label' => 'Device approval', 'state' => 'pending', 'requestedAt' => $requested]],
            $vars['requests'],
        );
        $this->writeStatus($id, ['lastHandledApproveDevicesAt' => $requested]);
        $vars = openclaw_ClientArea($params)['templateVariables'];
        self::assertSame('done', $vars['requests'][0]['state'], 'the operator acted on it (status)');

        // SSO: the token only in the fragment, never in a query string.
        $sso = openclaw_ServiceSingleSignOn($params);
        self::assertTrue($sso['success'], (string) ($sso['errorMsg'] ?? ''));
        $fragment = '#token=' . rawurlencode($params['password']);
        self::assertSame('https://whmcs-' . $id . '.claw.example.com/' . $fragment, $sso['redirectTo']);
        self::assertStringNotContainsString('?', $sso['redirectTo']);

        self::assertSame('success', openclaw_hibernate($params));
        $spec = $this->cluster->read($this->cluster->instancePath($id))['spec'];
        self::assertTrue($spec['suspended']);
        self::assertSame('Hibernate', $spec['suspendMode']);
        self::assertSame('The instance is already suspended or hibernated.', openclaw_hibernate($params));
        $this->writeStatus($id, ['phase' => 'Suspended', 'billing' => ['serverType' => 'none', 'snapshotSizeGB' => 2]]);
        $vars = openclaw_ClientArea($params)['templateVariables'];
        self::assertSame('Hibernated', $vars['statusLabel']);
        self::assertContains(['label' => 'Snapshot size gb', 'value' => '2'], $vars['billing']);
        self::assertSame(['wake'], array_column($vars['actions'], 'function'));

        // A suspension for non-payment keeps it hibernated, and the customer cannot wake it meanwhile.
        self::assertSame('success', openclaw_SuspendAccount($params));
        self::assertSame('Hibernate', $this->cluster->read($this->cluster->instancePath($id))['spec']['suspendMode']);
        $suspended = $params + ['model' => new RecordingServiceModel('Suspended')];
        self::assertStringStartsWith('The service is suspended', openclaw_wake($suspended));

        // Paying keeps the customer's hibernation (billing Unsuspend only ends billing's suspension).
        self::assertSame('success', openclaw_UnsuspendAccount($params));
        self::assertTrue($this->cluster->read($this->cluster->instancePath($id))['spec']['suspended']);

        self::assertSame('success', openclaw_wake($params));
        $woken = $this->cluster->read($this->cluster->instancePath($id));
        self::assertFalse($woken['spec']['suspended']);
        self::assertArrayNotHasKey('clawhost.dev/whmcs-customer-hibernated', $woken['metadata']['annotations']);
        self::assertStringStartsWith('The instance is not hibernated by you', openclaw_wake($params));

        // Hibernated by billing (Suspend Mode Hibernate): the customer cannot wake it.
        self::assertSame('success', openclaw_SuspendAccount($params + ['configoption9' => 'Hibernate']));
        self::assertSame('Hibernate', $this->cluster->read($this->cluster->instancePath($id))['spec']['suspendMode']);
        self::assertStringStartsWith('The instance is not hibernated by you', openclaw_wake($params));
        self::assertSame('success', openclaw_UnsuspendAccount($params));
        self::assertFalse($this->cluster->read($this->cluster->instancePath($id))['spec']['suspended']);
        $params['configoption10'] = '';
        self::assertSame('This product does not let customers hibernate their instance.', openclaw_hibernate($params));
    }

    public function testListAccountsAndUsageUpdateWithOneListEach(): void
    {
        $ids = [self::newServiceId(), self::newServiceId()];
        foreach ($ids as $id) {
            self::assertSame('success', openclaw_CreateAccount($this->cluster->params($id)));
        }
        $this->writeStatus($ids[0], ['ipv4' => '203.0.113.7', 'usage' => [
            'diskUsedBytes' => 3 * 1024 ** 3,
            'diskLimitBytes' => 40 * 1024 ** 3,
            'outgoingTrafficBytes' => 512 * 1024 ** 2,
            'includedTrafficBytes' => 20 * 1024 ** 4,
        ]]);
        $server = $this->cluster->params(0);
        $directory = new FakeServerDirectory([1 => $server], [1 => [
            $ids[0] => ['dedicatedip' => '', 'assignedips' => '', 'domain' => ''],
            $ids[1] => ['dedicatedip' => '', 'assignedips' => '', 'domain' => ''],
        ]]);
        $this->countRequests($directory);

        $list = openclaw_ListAccounts($server);
        self::assertTrue($list['success'], (string) ($list['error'] ?? ''));
        $byDomain = array_column($list['accounts'], null, 'domain');
        $account = $byDomain['whmcs-' . $ids[0] . '.claw.example.com'];
        self::assertSame('whmcs-' . $ids[0], $account['username']);
        self::assertSame('cx23', $account['product']);
        self::assertSame('203.0.113.7', $account['primaryip']);
        self::assertSame('Active', $account['status']);
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/', $account['created']);
        self::assertArrayHasKey('whmcs-' . $ids[1] . '.claw.example.com', $byDomain);

        self::assertSame('success', openclaw_UsageUpdate($server + ['serverid' => 1]));
        self::assertSame(
            [$ids[0] => ['diskusage' => 3072, 'disklimit' => 40960, 'bwusage' => 512, 'bwlimit' => 20971520]],
            $directory->usage[1],
            'only what status reports; the second instance reports nothing',
        );
        self::assertSame(2, count(CountingTransport::$sent), implode("\n", CountingTransport::$sent));
        foreach (CountingTransport::$sent as $request) {
            self::assertStringStartsWith('GET /apis/clawhost.dev/v1alpha1/namespaces/' . $this->cluster->namespace
                . '/openclawinstances?labelSelector=', $request);
        }
    }

    public function testCronSyncListsEachNamespaceOnceForAnyNumberOfServersAndServices(): void
    {
        $ids = [self::newServiceId(), self::newServiceId(), self::newServiceId()];
        foreach ($ids as $id) {
            self::assertSame('success', openclaw_CreateAccount($this->cluster->params($id)));
            $this->writeStatus($id, ['ipv4' => '198.51.100.' . ($id % 200)]);
        }
        // Two WHMCS server records for the same namespace (e.g. two server groups), services spread over both.
        $server = $this->cluster->params(0);
        $empty = ['dedicatedip' => '', 'assignedips' => '', 'domain' => 'x'];
        $directory = new FakeServerDirectory(
            [1 => $server, 2 => $server],
            [1 => [$ids[0] => $empty, $ids[1] => $empty], 2 => [$ids[2] => $empty]],
        );
        $this->countRequests($directory);
        WhmcsRecorder::reset();
        $summary = hook_openclaw_sync_status([]);
        self::assertSame(['updated' => 3, 'errors' => []], $summary);
        $sent = implode(', ', CountingTransport::$sent);
        self::assertCount(1, CountingTransport::$sent, 'one LIST for the namespace: ' . $sent);
        self::assertStringContainsString('/openclawinstances?labelSelector=', CountingTransport::$sent[0]);
    }

    public function testMultiServiceOrderCreatedInAnyOrderTwiceGivesOneInstanceEach(): void
    {
        $order = [self::newServiceId(), self::newServiceId(), self::newServiceId()];
        $client = (string) random_int(1000, 9999);
        $tokens = [];
        foreach ([[2, 0, 1], [1, 2, 0]] as $round) {
            foreach ($round as $index) {
                $id = $order[$index];
                $params = $this->cluster->params($id, ['userid' => $client, 'password' => $tokens[$id] ?? '']);
                self::assertSame('success', openclaw_CreateAccount($params), 'service ' . $id);
                if (!isset($tokens[$id])) {
                    $updates = WhmcsRecorder::localApi('UpdateClientProduct');
                    $tokens[$id] = (string) end($updates)['servicepassword'];
                    $this->gatewayTokens[] = $tokens[$id];
                }
            }
        }
        $list = $this->cluster->read('/apis/clawhost.dev/v1alpha1/namespaces/' . $this->cluster->namespace
            . '/openclawinstances?labelSelector=' . rawurlencode('clawhost.dev/whmcs-client-id=' . $client));
        $names = array_map(static fn (array $item): string => $item['metadata']['name'], $list['items']);
        sort($names);
        $expected = array_map(static fn (int $id): string => 'whmcs-' . $id, $order);
        sort($expected);
        self::assertSame($expected, $names, 'one instance per service, none twice');
        foreach ($list['items'] as $item) {
            $id = (int) substr($item['metadata']['name'], 6);
            self::assertSame($id, $item['spec']['whmcs']['serviceId']);
            $secret = 'whmcs-' . $id . '-gateway-' . substr(hash('sha256', $tokens[$id]), 0, 10);
            self::assertSame($secret, $item['spec']['gatewayTokenSecretRef']['name'], 'its own token');
        }
    }

    private function countRequests(FakeServerDirectory $directory): void
    {
        CountingTransport::$sent = [];
        Runtime::use(
            static fn (ClusterSettings $settings): Transport => new CountingTransport(new CurlTransport($settings)),
            $directory,
        );
    }
}
